//! Random valid values of every message, for property tests and fuzzing (feature
//! `testing`).
//!
//! Owns: a small deterministic RNG and the [`Random`] trait the generator implements for
//! every generated type. A value made by `Random::random(rng, version, 0)` only sets fields
//! that exist in `version`, uses null only where the version allows it, and keeps strings
//! within their wire limits, so `decode(encode(v)) == v` must hold for it.

use bytes::Bytes;

use crate::wire::{StrBytes, UnknownTaggedField};

/// A deterministic xorshift64* generator: reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value; zero is remapped).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A random value below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A random bool.
    pub fn gen_bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// A random i8.
    pub fn gen_i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    /// A random i16.
    pub fn gen_i16(&mut self) -> i16 {
        self.next_u64() as i16
    }
    /// A random u16.
    pub fn gen_u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    /// A random i32.
    pub fn gen_i32(&mut self) -> i32 {
        self.next_u64() as i32
    }
    /// A random u32.
    pub fn gen_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    /// A random i64.
    pub fn gen_i64(&mut self) -> i64 {
        self.next_u64() as i64
    }
    /// A random finite f64.
    pub fn gen_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 1e6 - 5e5
    }

    /// Sixteen random bytes.
    pub fn gen_uuid(&mut self) -> crate::wire::Uuid {
        let a = self.next_u64().to_be_bytes();
        let b = self.next_u64().to_be_bytes();
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a);
        out[8..].copy_from_slice(&b);
        crate::wire::Uuid(out)
    }

    /// A short random string, sometimes with multi-byte UTF-8.
    pub fn gen_string(&mut self) -> StrBytes {
        const ALPHABET: &[&str] = &["a", "b", "z", "0", "-", "_", ".", "é", "ß", "€", "𝄞"];
        let n = self.below(12) as usize;
        let s: String = (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect();
        StrBytes::from(s)
    }

    /// A short run of random bytes.
    pub fn gen_bytes(&mut self) -> Bytes {
        let n = self.below(40) as usize;
        Bytes::from((0..n).map(|_| self.next_u64() as u8).collect::<Vec<u8>>())
    }

    /// `Some(f())` or `None`, at random.
    pub fn maybe<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.below(4) == 0 {
            None
        } else {
            Some(f(self))
        }
    }

    /// A short vector, shorter the deeper the nesting.
    pub fn gen_vec<T>(&mut self, depth: u32, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let max = match depth {
            0 => 4,
            1 => 3,
            2 => 2,
            _ => 1,
        };
        let n = self.below(max + 1) as usize;
        (0..n).map(|_| f(self)).collect()
    }

    /// Zero to two unknown tagged fields with tags above every known one, in order.
    pub fn gen_unknown_tags(&mut self) -> Vec<UnknownTaggedField> {
        let n = self.below(3) as u32;
        (0..n)
            .map(|i| UnknownTaggedField {
                tag: 1000 + i * 7,
                data: self.gen_bytes(),
            })
            .collect()
    }
}

/// Random valid values of a generated type at a given version.
pub trait Random: Sized {
    /// A random value valid at `version`; `depth` bounds nesting.
    fn random(rng: &mut Rng, version: i16, depth: u32) -> Self;
}
