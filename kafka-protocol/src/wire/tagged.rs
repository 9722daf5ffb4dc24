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
pub fn read_unknown_tagged<B: Buf>(
    buf: &mut B,
    tag: u32,
    size: usize,
) -> Result<UnknownTaggedField> {
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

/// The tagged-field section of a struct, beyond its known fields: unknown tags (kept
/// byte-exact) and which known tags were on the wire.
///
/// A known tagged field is written when its value differs from the default, **or** when it
/// was present in the decoded input (some peers send defaults explicitly), so decoding and
/// re-encoding reproduces the input. Equality compares only the unknown tags: presence is
/// an encoding detail, not part of the value.
#[derive(Debug, Clone, Default)]
pub struct TaggedFields {
    /// Tags this codec does not know, in wire order.
    pub unknown: Vec<UnknownTaggedField>,
    /// Bit `t` is set when known tag `t` (< 64) was present in the decoded input.
    pub present: u64,
}

impl TaggedFields {
    /// Whether known tag `tag` was present in the decoded input.
    #[inline]
    pub fn is_present(&self, tag: u32) -> bool {
        tag < 64 && self.present & (1u64 << tag) != 0
    }

    /// Records that known tag `tag` was present in the input.
    #[inline]
    pub fn mark_present(&mut self, tag: u32) {
        if tag < 64 {
            self.present |= 1u64 << tag;
        }
    }
}

impl PartialEq for TaggedFields {
    fn eq(&self, other: &Self) -> bool {
        self.unknown == other.unknown
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for UnknownTaggedField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("UnknownTaggedField", 2)?;
        st.serialize_field("tag", &self.tag)?;
        st.serialize_field("data", &self.data)?;
        st.end()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TaggedFields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.unknown.serialize(s)
    }
}
