//! [`PrimitiveVec`]: the type of integer and float array fields (replica lists, ISR lists,
//! partition indexes, ...), stored inline when short.
//!
//! Kafka's integer arrays are nearly always short (three replicas, a few partitions), and a
//! heap allocation per array dominated decoding of messages such as a Metadata response
//! with thousands of partitions. Up to `INLINE` (4) elements live inside the value; longer
//! arrays spill to a `Vec`. It dereferences to a slice, so reading code is the same as for a
//! `Vec`.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Elements kept inline before spilling to the heap.
pub const INLINE: usize = 4;

/// A vector of `Copy` primitives that keeps up to `INLINE` (4) elements inline.
#[derive(Clone)]
pub enum PrimitiveVec<T: Copy + Default> {
    /// Up to `INLINE` (4) elements, the first `len` of `items`.
    Inline {
        /// Number of elements used.
        len: u8,
        /// Storage; elements past `len` are unused.
        items: [T; INLINE],
    },
    /// More than `INLINE` (4) elements.
    Heap(Vec<T>),
}

impl<T: Copy + Default> PrimitiveVec<T> {
    /// An empty vector.
    pub fn new() -> Self {
        PrimitiveVec::Inline {
            len: 0,
            items: [T::default(); INLINE],
        }
    }

    /// An empty vector with room for `n` elements (inline when `n` <= `INLINE` (4)).
    pub fn with_capacity(n: usize) -> Self {
        if n <= INLINE {
            Self::new()
        } else {
            PrimitiveVec::Heap(Vec::with_capacity(n))
        }
    }

    /// Appends an element.
    #[inline]
    pub fn push(&mut self, v: T) {
        match self {
            PrimitiveVec::Inline { len, items } if (*len as usize) < INLINE => {
                items[*len as usize] = v;
                *len += 1;
            }
            PrimitiveVec::Inline { len, items } => {
                let mut heap = Vec::with_capacity(INLINE * 2);
                heap.extend_from_slice(&items[..*len as usize]);
                heap.push(v);
                *self = PrimitiveVec::Heap(heap);
            }
            PrimitiveVec::Heap(h) => h.push(v),
        }
    }

    /// The elements as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        match self {
            PrimitiveVec::Inline { len, items } => &items[..(*len as usize).min(INLINE)],
            PrimitiveVec::Heap(h) => h,
        }
    }

    /// The elements as a mutable slice.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            PrimitiveVec::Inline { len, items } => &mut items[..(*len as usize).min(INLINE)],
            PrimitiveVec::Heap(h) => h,
        }
    }
}

impl<T: Copy + Default> Default for PrimitiveVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default> Deref for PrimitiveVec<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy + Default> DerefMut for PrimitiveVec<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: Copy + Default + PartialEq> PartialEq for PrimitiveVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + Eq> Eq for PrimitiveVec<T> {}

impl<T: Copy + Default + fmt::Debug> fmt::Debug for PrimitiveVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<T: Copy + Default> From<Vec<T>> for PrimitiveVec<T> {
    fn from(v: Vec<T>) -> Self {
        if v.len() <= INLINE {
            v.into_iter().collect()
        } else {
            PrimitiveVec::Heap(v)
        }
    }
}

impl<T: Copy + Default> From<&[T]> for PrimitiveVec<T> {
    fn from(v: &[T]) -> Self {
        v.iter().copied().collect()
    }
}

impl<T: Copy + Default, const N: usize> From<[T; N]> for PrimitiveVec<T> {
    fn from(v: [T; N]) -> Self {
        v.into_iter().collect()
    }
}

impl<T: Copy + Default> FromIterator<T> for PrimitiveVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut out = Self::with_capacity(iter.size_hint().0);
        for v in iter {
            out.push(v);
        }
        out
    }
}

impl<'a, T: Copy + Default> IntoIterator for &'a PrimitiveVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

#[cfg(feature = "serde")]
impl<T: Copy + Default + serde::Serialize> serde::Serialize for PrimitiveVec<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_the_heap_and_compares_as_slices() {
        let mut v = PrimitiveVec::<i32>::new();
        for i in 0..10 {
            v.push(i);
            assert_eq!(v.len(), i as usize + 1);
            assert_eq!(v[i as usize], i);
        }
        assert!(matches!(v, PrimitiveVec::Heap(_)));
        let w: PrimitiveVec<i32> = (0..10).collect();
        assert_eq!(v, w);
        let short = PrimitiveVec::from(vec![1, 2, 3]);
        assert!(matches!(short, PrimitiveVec::Inline { len: 3, .. }));
        assert_eq!(&short[..], &[1, 2, 3]);
        assert_eq!(format!("{short:?}"), "[1, 2, 3]");
        assert_eq!(PrimitiveVec::<i64>::new(), PrimitiveVec::from(Vec::new()));
    }
}
