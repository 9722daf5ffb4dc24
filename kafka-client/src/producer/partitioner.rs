//! Choosing a partition for a record.
//!
//! Owns: [`murmur2`] exactly as the Java client's `Utils.murmur2` (seed `0x9747b28c`), the
//! default keyed choice `toPositive(murmur2(key)) % numPartitions`, the built-in uniform
//! sticky choice for records without a key (KIP-480 / KIP-794: stay on one partition until
//! `batch.size` bytes were produced to it, then move to another), and the [`Partitioner`]
//! trait for custom strategies. Must not: look at metadata beyond the partition count.

use std::sync::Mutex;

/// Kafka's murmur2 hash of `data` (the Java client's `Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's `Utils.toPositive`: clears the sign bit.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The default partition of a keyed record: `toPositive(murmur2(key)) % num_partitions`.
pub fn default_partition(key: &[u8], num_partitions: i32) -> i32 {
    to_positive(murmur2(key)) % num_partitions.max(1)
}

/// A custom partitioning strategy.
pub trait Partitioner: Send + Sync + std::fmt::Debug {
    /// The partition for a record of `topic` with `key` (None: no key) among
    /// `num_partitions`; `None` leaves the choice to the built-in sticky partitioner.
    fn partition(&self, topic: &str, key: Option<&[u8]>, num_partitions: i32) -> Option<i32>;
}

/// The built-in uniform sticky partitioner for records without a key (and, with
/// `partitioner.ignore.keys`, for every record).
///
/// It sticks to one partition per topic until `batch.size` bytes were produced to it, then
/// picks another at random (different from the last when there is more than one).
#[derive(Debug)]
pub struct StickyPartitioner {
    batch_size: usize,
    state: Mutex<std::collections::HashMap<String, Sticky>>,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    bytes: usize,
}

impl StickyPartitioner {
    /// A sticky partitioner that switches after `batch_size` bytes.
    pub fn new(batch_size: usize) -> Self {
        StickyPartitioner {
            batch_size: batch_size.max(1),
            state: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The partition for the next record of `topic`, `record_bytes` long.
    pub fn partition(&self, topic: &str, num_partitions: i32, record_bytes: usize) -> i32 {
        let n = num_partitions.max(1);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state.entry(topic.to_string()).or_insert_with(|| Sticky {
            partition: random_below(n),
            bytes: 0,
        });
        if entry.partition >= n {
            entry.partition = random_below(n);
            entry.bytes = 0;
        }
        if entry.bytes >= self.batch_size {
            let previous = entry.partition;
            entry.partition = if n > 1 {
                (previous + 1 + random_below(n - 1)) % n
            } else {
                0
            };
            entry.bytes = 0;
        }
        entry.bytes += record_bytes;
        entry.partition
    }
}

/// A random number in `0..n` (n > 0), from a thread-local xorshift seeded by the clock.
fn random_below(n: i32) -> i32 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9e37_79b9_7f4a_7c15);
            t | 1
        });
    }
    let x = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    (x % u64::from(n.max(1).unsigned_abs())) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the Java client's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_java() {
        let cases: [(&str, i32); 6] = [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn keyed_partition_is_positive_modulo() {
        assert_eq!(to_positive(-1), i32::MAX);
        for key in ["a", "b", "foobar", "21", ""] {
            let p = default_partition(key.as_bytes(), 7);
            assert!((0..7).contains(&p));
            assert_eq!(p, (murmur2(key.as_bytes()) & 0x7fff_ffff) % 7);
        }
    }

    #[test]
    fn sticky_switches_after_batch_size() {
        let s = StickyPartitioner::new(100);
        let first = s.partition("t", 4, 60);
        assert_eq!(s.partition("t", 4, 60), first);
        let third = s.partition("t", 4, 60);
        assert_ne!(third, first);
        assert_eq!(s.partition("t", 4, 10), third);
        for _ in 0..100 {
            assert!((0..4).contains(&s.partition("u", 4, 1000)));
        }
        assert_eq!(s.partition("one", 1, 1000), 0);
        assert_eq!(s.partition("one", 1, 1000), 0);
    }
}
