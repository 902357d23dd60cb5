//! Connections held per client, so that one address cannot take a fair share of the accept
//! loop's slots and more. A client is its address as `rate_limit::client_key` sees it (an
//! IPv6 client by its /64); the table holds one counter per client with a connection open,
//! so it is never larger than the connection cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open connections per client, each at most `limit`.
pub struct ClientSlots {
    limit: usize,
    held: Mutex<HashMap<String, usize>>,
}

/// One connection's place in its client's count, given back when dropped.
pub struct ClientSlot {
    table: Arc<ClientSlots>,
    key: String,
}

impl ClientSlots {
    pub fn new(limit: usize) -> Arc<ClientSlots> {
        Arc::new(ClientSlots { limit: limit.max(1), held: Mutex::default() })
    }

    /// A slot for one more connection of `key`, or `None` when it holds `limit` already.
    pub fn try_take(self: &Arc<Self>, key: String) -> Option<ClientSlot> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot { table: Arc::clone(self), key })
    }

    /// Connections `key` holds now.
    #[cfg(test)]
    pub fn held_by(&self, key: &str) -> usize {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(key).copied().unwrap_or(0)
    }

    /// Clients with a connection open.
    #[cfg(test)]
    pub fn clients(&self) -> usize {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.table.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_at_its_limit_gets_no_slot_and_others_still_do() {
        let slots = ClientSlots::new(2);
        let first = slots.try_take("203.0.113.7".into()).unwrap();
        let _second = slots.try_take("203.0.113.7".into()).unwrap();
        assert!(slots.try_take("203.0.113.7".into()).is_none());
        assert!(slots.try_take("198.51.100.1".into()).is_some());
        drop(first);
        assert_eq!(slots.held_by("203.0.113.7"), 1);
        assert!(slots.try_take("203.0.113.7".into()).is_some());
    }

    #[test]
    fn a_client_whose_connections_all_closed_leaves_the_table() {
        let slots = ClientSlots::new(3);
        let slot = slots.try_take("2001:db8::/64".into()).unwrap();
        assert_eq!(slots.clients(), 1);
        drop(slot);
        assert_eq!(slots.clients(), 0);
    }
}
