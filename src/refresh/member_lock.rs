//! Who may change a member's stored posts at a time: one thread per member, so that two of
//! its feeds finishing at once (or another member's repost flag landing on one of its posts)
//! cannot interleave a read-change-write; different members never wait for each other,
//! except for the rare two whose ids share a stripe.

use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::config::MemberId;

/// A fixed set of locks, not one per member: bounded memory at 10,000 members, and four times
/// the threads that parse at once on a large machine, so two members rarely share one.
const STRIPES: usize = 64;

static LOCKS: [Mutex<()>; STRIPES] = [const { Mutex::new(()) }; STRIPES];

/// Held while one member's posts are read, changed and written. A thread holds at most one
/// at a time (callers drop one before taking another), so there is no order to keep and no
/// deadlock.
pub struct MemberLock {
    _held: MutexGuard<'static, ()>,
}

/// Waits for `member`'s lock. A panic while it was held (a crashed parse is caught and
/// recorded on the feed) does not poison it: every write under it is a whole transaction.
pub fn lock(member: &MemberId) -> MemberLock {
    let held = LOCKS[stripe(member)].lock().unwrap_or_else(PoisonError::into_inner);
    MemberLock { _held: held }
}

fn stripe(member: &MemberId) -> usize {
    // SipHash with fixed keys: the same stripe for a member in every run.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    member.as_str().hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};

    use super::*;

    fn id(name: &str) -> MemberId {
        MemberId::parse(name).unwrap()
    }

    /// Two members whose ids fall in different stripes.
    fn two_members_apart() -> (MemberId, MemberId) {
        let first = id("member-0");
        let other = (1..).map(|i| id(&format!("member-{i}"))).find(|m| stripe(m) != stripe(&first)).unwrap();
        (first, other)
    }

    #[test]
    fn another_member_is_served_while_one_member_is_held() {
        let (held_member, other) = two_members_apart();
        let _held = lock(&held_member);
        // On another thread, so that a shared lock would block there, not here: the channel
        // then never hears back and `recv` reports it instead of hanging the test.
        let (done, heard) = mpsc::channel();
        std::thread::spawn(move || {
            let _other = lock(&other);
            done.send(()).unwrap();
        });
        assert!(heard.recv_timeout(std::time::Duration::from_secs(30)).is_ok(), "another member waited");
    }

    #[test]
    fn the_same_member_waits_until_the_holder_lets_go() {
        let member = id("wang");
        let released = Arc::new(AtomicBool::new(false));
        let held = lock(&member);
        let (started, heard_started) = mpsc::channel();
        let (waiting, seen) = (member.clone(), Arc::clone(&released));
        let waiter = std::thread::spawn(move || {
            started.send(()).unwrap();
            let _second = lock(&waiting);
            seen.load(Ordering::SeqCst)
        });
        heard_started.recv().unwrap();
        // Give a lock that does not hold every chance to let the waiter in first.
        for _ in 0..10_000 {
            std::thread::yield_now();
        }
        released.store(true, Ordering::SeqCst);
        drop(held);
        assert!(waiter.join().unwrap(), "the second holder got in while the first held the lock");
    }
}
