//! A small time-bounded cache. The webhook route keeps each project's routing facts here so a
//! burst of events costs one D1 read per isolate per TTL instead of one per event; every entry
//! is dropped after the TTL, so a change made elsewhere is seen within that bound.

use std::collections::HashMap;

pub struct TtlCache<V> {
    ttl_ms: i64,
    capacity: usize,
    entries: HashMap<String, (i64, V)>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: i64, capacity: usize) -> Self {
        Self {
            ttl_ms,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The value stored under `key` if it is younger than the TTL at `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(stored_at, _)| now_ms - stored_at < self.ttl_ms)
            .map(|(_, value)| value.clone())
    }

    /// Stores `value`; when full, expired entries go first, then the oldest one.
    pub fn insert(&mut self, key: &str, value: V, now_ms: i64) {
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            let ttl = self.ttl_ms;
            self.entries
                .retain(|_, (stored_at, _)| now_ms - *stored_at < ttl);
            if self.entries.len() >= self.capacity {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (stored_at, _))| *stored_at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(key.to_owned(), (now_ms, value));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_fresh_entries_and_drops_them_at_the_ttl() {
        let mut cache = TtlCache::new(5_000, 8);
        cache.insert("k", 1, 1_000);
        assert_eq!(cache.get("k", 1_000), Some(1));
        assert_eq!(cache.get("k", 5_999), Some(1));
        assert_eq!(cache.get("k", 6_000), None);
        assert_eq!(cache.get("other", 1_000), None);
    }

    #[test]
    fn reinserting_restarts_the_ttl() {
        let mut cache = TtlCache::new(5_000, 8);
        cache.insert("k", 1, 0);
        cache.insert("k", 2, 4_000);
        assert_eq!(cache.get("k", 8_000), Some(2));
    }

    #[test]
    fn a_full_cache_evicts_expired_entries_then_the_oldest() {
        let mut cache = TtlCache::new(1_000, 2);
        cache.insert("a", 1, 0);
        cache.insert("b", 2, 500);
        cache.insert("c", 3, 1_200); // "a" has expired: it goes, "b" stays
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b", 1_200), Some(2));
        cache.insert("d", 4, 1_300); // nothing expired: the oldest ("b") goes
        assert_eq!(cache.get("b", 1_300), None);
        assert_eq!(cache.get("c", 1_300), Some(3));
        assert_eq!(cache.get("d", 1_300), Some(4));
    }

    #[test]
    fn remove_and_clear_forget_entries() {
        let mut cache = TtlCache::new(1_000, 4);
        cache.insert("a", 1, 0);
        cache.insert("b", 2, 0);
        cache.remove("a");
        assert_eq!(cache.get("a", 0), None);
        assert_eq!(cache.get("b", 0), Some(2));
        cache.clear();
        assert!(cache.is_empty());
    }
}
