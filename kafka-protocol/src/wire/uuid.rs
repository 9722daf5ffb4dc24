//! UUID: 16 bytes, most significant 64 bits first.

use std::fmt;

use bytes::{Buf, BufMut};

use super::need;
use crate::error::Result;

/// A Kafka UUID (topic ids, directory ids). `Uuid::ZERO` is Kafka's "no id".
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID.
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// The UUID as one 128-bit integer.
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// A UUID from one 128-bit integer.
    pub fn from_u128(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15]
        )
    }
}

/// Reads a UUID.
#[inline]
pub fn read_uuid<B: Buf>(buf: &mut B) -> Result<Uuid> {
    need(buf, 16)?;
    let mut out = [0u8; 16];
    buf.copy_to_slice(&mut out);
    Ok(Uuid(out))
}

/// Writes a UUID.
#[inline]
pub fn write_uuid<B: BufMut>(buf: &mut B, v: &Uuid) {
    buf.put_slice(&v.0)
}

#[cfg(feature = "serde")]
impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
