//! The broker-wide memory pool for what requests decompress or convert.
//!
//! Owns: [`MemoryPool`], a byte budget (`request.memory.budget.bytes`) shared by every
//! request: a Produce reserves what it may decompress or up-convert *before* allocating
//! it, and gives it back when done. A reservation that does not fit fails at once (the
//! request's partition gets RECORD_LIST_TOO_LARGE) instead of waiting, so a hostile client
//! cannot make the broker allocate more than the budget in total, whatever its requests
//! claim. Must not: know about records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A shared byte budget.
#[derive(Debug)]
pub struct MemoryPool {
    capacity: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
}

impl MemoryPool {
    /// A pool of `capacity` bytes.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(MemoryPool {
            capacity,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// The budget in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// Reserves `bytes`, or `None` when they do not fit.
    pub fn try_reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        let mut cur = self.used.load(Ordering::Acquire);
        loop {
            let next = cur.checked_add(bytes).filter(|n| *n <= self.capacity)?;
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::AcqRel);
                    return Some(Reservation {
                        pool: self.clone(),
                        bytes,
                    });
                }
                Err(seen) => cur = seen,
            }
        }
    }

    /// Reserves everything still free (at most `max`), possibly 0 bytes.
    pub fn reserve_up_to(self: &Arc<Self>, max: usize) -> Reservation {
        loop {
            let free = self.capacity.saturating_sub(self.used()).min(max);
            if let Some(r) = self.try_reserve(free) {
                return r;
            }
        }
    }
}

/// Bytes reserved from a [`MemoryPool`], given back on drop.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<MemoryPool>,
    bytes: usize,
}

impl Reservation {
    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Gives back everything above `bytes`.
    pub fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.bytes {
            self.pool
                .used
                .fetch_sub(self.bytes - bytes, Ordering::AcqRel);
            self.bytes = bytes;
        }
    }

    /// Moves `other`'s bytes into this reservation.
    pub fn absorb(&mut self, mut other: Reservation) {
        self.bytes += other.bytes;
        other.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.pool.used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_given_back() {
        let pool = MemoryPool::new(100);
        let a = pool.try_reserve(60).unwrap();
        assert!(pool.try_reserve(41).is_none());
        let mut b = pool.reserve_up_to(1000);
        assert_eq!(b.bytes(), 40);
        b.shrink_to(10);
        assert_eq!(pool.used(), 70);
        drop(a);
        let c = pool.try_reserve(90).unwrap();
        let mut d = pool.try_reserve(0).unwrap();
        d.absorb(c);
        drop(b);
        assert_eq!(pool.used(), 90);
        drop(d);
        assert_eq!((pool.used(), pool.peak()), (0, 100));
    }
}
