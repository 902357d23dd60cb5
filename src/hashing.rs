//! The one hash planet uses for ids, content hashes, ETags and message ids: SHA-256 of
//! length-prefixed parts, shortened to 128 bits of hex.

use sha2::{Digest, Sha256};

/// A short hex digest of the parts, separated so that ("ab","c") and ("a","bc") differ.
pub fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn parts_are_separated_so_that_moving_a_boundary_changes_the_digest() {
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_eq!(digest(&["ab", "c"]).len(), 32);
    }
}
