//! Tagged fields that this codec does not know, kept byte-exact.
//!
//! ```text
//! TAGGED_FIELDS   uvarint count, then count x { uvarint tag, uvarint size, size bytes }
//!                 tags in strictly ascending order
//! ```
//! Known tags are decoded by the generated code into named fields; every other tag lands in
//! an [`UnknownTaggedField`] and is written back unchanged, in tag order.

use bytes::{Buf, BufMut, Bytes};

use super::{need, uvarint_len, write_uvarint};
use crate::error::Result;

/// A tagged field whose tag this codec does not know; re-encoded exactly as received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnknownTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's raw bytes.
    pub data: Bytes,
}

impl UnknownTaggedField {
    /// Encoded size including tag and size prefixes.
    pub fn encoded_len(&self) -> usize {
        uvarint_len(u64::from(self.tag)) + uvarint_len(self.data.len() as u64) + self.data.len()
    }
}

/// Reads the `size` bytes of an unknown tag's value.
#[inline]
pub fn read_unknown_tagged<B: Buf>(buf: &mut B, tag: u32, size: usize) -> Result<UnknownTaggedField> {
    need(buf, size)?;
    Ok(UnknownTaggedField {
        tag,
        data: buf.copy_to_bytes(size),
    })
}

/// Writes one unknown tagged field.
#[inline]
pub fn write_unknown_tagged<B: BufMut>(buf: &mut B, f: &UnknownTaggedField) {
    write_uvarint(buf, u64::from(f.tag));
    write_uvarint(buf, f.data.len() as u64);
    buf.put_slice(&f.data);
}
