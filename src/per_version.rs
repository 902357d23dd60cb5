//! A value worked out once per version of what it derives from (the store's generation, the
//! config's, the search index's commit) and kept until that version changes: the one way
//! the sidebar, the unshown-members answer and the search tiers are cached.

use std::sync::Mutex;

/// The last value computed and the version it was computed at.
pub struct PerVersion<V, T>(Mutex<Option<(V, T)>>);

impl<V, T> Default for PerVersion<V, T> {
    fn default() -> Self {
        PerVersion(Mutex::new(None))
    }
}

impl<V: PartialEq, T: Clone> PerVersion<V, T> {
    /// The value for `version`, computed by `compute` if the one kept is for another. The
    /// lock is held while computing: callers that arrive meanwhile wait for that one result
    /// instead of computing it again each.
    pub fn get_or_try<E>(&self, version: V, compute: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, value)) = kept.as_ref().filter(|(at, _)| *at == version) {
            return Ok(value.clone());
        }
        let value = compute()?;
        *kept = Some((version, value.clone()));
        Ok(value)
    }

    /// `get_or_try` for a computation that cannot fail.
    pub fn get_or(&self, version: V, compute: impl FnOnce() -> T) -> T {
        let value = self.get_or_try(version, || Ok::<_, std::convert::Infallible>(compute()));
        value.unwrap_or_else(|never| match never {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_computed_once_per_version_and_an_error_is_not_kept() {
        let cache: PerVersion<u64, usize> = PerVersion::default();
        let mut computed = 0;
        for version in [1, 1, 2, 2, 1] {
            cache
                .get_or_try(version, || {
                    computed += 1;
                    Ok::<_, ()>(computed)
                })
                .unwrap();
        }
        assert_eq!(computed, 3);
        assert_eq!(cache.get_or_try(3, || Err("failed")), Err("failed"));
        assert_eq!(cache.get_or_try(1, || Ok::<_, &str>(99)), Ok(3), "the last good value is kept");
    }
}
