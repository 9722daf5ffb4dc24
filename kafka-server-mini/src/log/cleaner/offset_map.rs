//! The cleaner's map of key -> latest offset.
//!
//! Owns: a bounded map from a 128-bit hash of each key (two SipHash digests with different
//! prefixes; Kafka uses MD5) to the largest offset seen for it, and the last offset put.
//! Memory is bounded by `log.cleaner.dedupe.buffer.size` like Kafka's (24 bytes an entry at
//! a 0.9 load factor): once full, the cleaner stops reading dirty data there and cleans only
//! up to that offset. Must not: read files.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Bytes Kafka counts per entry (16-byte hash + 8-byte offset).
pub const ENTRY_BYTES: u64 = 24;
/// Kafka's `log.cleaner.io.buffer.load.factor`.
pub const LOAD_FACTOR: f64 = 0.9;

/// Key hash -> latest offset, bounded.
#[derive(Debug)]
pub struct OffsetMap {
    map: HashMap<(u64, u64), i64>,
    capacity: usize,
    latest_offset: i64,
}

fn digest(key: &[u8]) -> (u64, u64) {
    let mut a = DefaultHasher::new();
    0u8.hash(&mut a);
    key.hash(&mut a);
    let mut b = DefaultHasher::new();
    1u8.hash(&mut b);
    key.hash(&mut b);
    (a.finish(), b.finish())
}

impl OffsetMap {
    /// A map for a dedupe buffer of `buffer_bytes` (at least one entry).
    pub fn with_buffer_bytes(buffer_bytes: u64) -> Self {
        let capacity = ((buffer_bytes / ENTRY_BYTES) as f64 * LOAD_FACTOR) as usize;
        OffsetMap {
            map: HashMap::new(),
            capacity: capacity.max(1),
            latest_offset: -1,
        }
    }

    /// Whether another new key still fits.
    pub fn is_full(&self) -> bool {
        self.map.len() >= self.capacity
    }

    /// Records `offset` as the latest offset of `key` (offsets are put in increasing order).
    /// Returns `false`, changing nothing, when the key is new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let d = digest(key);
        if let Some(o) = self.map.get_mut(&d) {
            *o = (*o).max(offset);
        } else if self.is_full() {
            return false;
        } else {
            self.map.insert(d, offset);
        }
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// Marks `offset` as read (e.g. a batch without keys), so records up to it are covered.
    pub fn note_offset(&mut self, offset: i64) {
        self.latest_offset = self.latest_offset.max(offset);
    }

    /// The latest offset of `key`, if it was put.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(&digest(key)).copied()
    }

    /// The largest offset covered by the map (-1 when empty).
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key was put.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_offset_and_stops_when_full() {
        let mut m = OffsetMap::with_buffer_bytes(ENTRY_BYTES * 3);
        assert!(m.put(b"a", 1));
        assert!(m.put(b"b", 2));
        assert!(m.put(b"a", 5));
        assert_eq!(m.get(b"a"), Some(5));
        assert_eq!(m.get(b"c"), None);
        assert!(m.is_full(), "capacity 2 (3 entries at load factor 0.9)");
        assert!(!m.put(b"c", 6), "a new key does not fit");
        assert!(m.put(b"b", 7), "an existing key still updates");
        assert_eq!(m.latest_offset(), 7);
        assert_eq!(m.len(), 2);
    }
}
