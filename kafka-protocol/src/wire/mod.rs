//! Wire primitives of the Kafka protocol: the building blocks every generated message
//! and the record-batch code are written with.
//!
//! Owns: reading and writing fixed-width integers, varints, (compact, nullable) strings and
//! bytes, array length prefixes, UUIDs and tagged-field sections, and the bounds checks that
//! keep decoding safe on hostile input. Must not: know any message or do any I/O.
//!
//! Every reader checks its length against the bytes left **before** it allocates, so a
//! forged length can never make the decoder reserve more memory than the input justifies.
//! Readers are generic over [`Buf`](::bytes::Buf); decoding from [`Bytes`](::bytes::Bytes) makes every string
//! and bytes field a zero-copy slice of the input.
//!
//! Classic (non-flexible) versus compact (flexible-version) forms:
//!
//! ```text
//! STRING            int16 length N (>= 0), N bytes of UTF-8       NULLABLE: N = -1 is null
//! COMPACT_STRING    uvarint N+1, N bytes of UTF-8                 COMPACT_NULLABLE: 0 is null
//! BYTES             int32 length N, N bytes                       NULLABLE: N = -1 is null
//! COMPACT_BYTES     uvarint N+1, N bytes                          COMPACT_NULLABLE: 0 is null
//! ARRAY             int32 count N, N elements                     NULLABLE: N = -1 is null
//! COMPACT_ARRAY     uvarint N+1, N elements                       COMPACT_NULLABLE: 0 is null
//! TAGGED_FIELDS     uvarint count, count x (uvarint tag, uvarint size, size bytes)
//! ```

mod array;
mod bytes;
mod fixed;
mod primitive_vec;
mod str_bytes;
mod string;
mod tagged;
mod uuid;
mod varint;

pub use self::array::{
    array_len_len, read_array_len, read_f64_array, read_i16_array, read_i32_array, read_i64_array,
    read_i8_array, read_u16_array, read_u32_array, write_array_len,
};
pub use self::bytes::{
    bytes_len, nullable_bytes_len, read_bytes, read_nullable_bytes, write_bytes,
    write_nullable_bytes,
};
pub use self::fixed::*;
pub use self::primitive_vec::PrimitiveVec;
pub use self::str_bytes::StrBytes;
pub use self::string::{
    nullable_string_len, read_nullable_string, read_string, string_len, write_nullable_string,
    write_string,
};
pub use self::tagged::{
    read_unknown_tagged, write_unknown_tagged, TaggedFields, UnknownTaggedField,
};
pub use self::uuid::{read_uuid, write_uuid, Uuid};
pub use self::varint::*;

use crate::error::{Error, ErrorKind, Result};

/// Fails with [`ErrorKind::Truncated`] unless `n` bytes are left.
#[inline(always)]
pub fn need<B: ::bytes::Buf>(buf: &B, n: usize) -> Result<()> {
    if buf.remaining() < n {
        return Err(Error::new(ErrorKind::Truncated {
            needed: n,
            remaining: buf.remaining(),
        }));
    }
    Ok(())
}

/// Reads an array whose elements `elem` decodes; `None` is a null array.
///
/// `min_size` is the fewest bytes one element can take: a count whose elements could not
/// fit in the bytes left is rejected before the vector is allocated, and the capacity
/// reserved up front is bounded by the bytes left, whatever the count says.
#[inline]
pub fn read_array<B: ::bytes::Buf, T>(
    buf: &mut B,
    compact: bool,
    min_size: usize,
    mut elem: impl FnMut(&mut B) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(n) = read_array_len(buf, compact)? else {
        return Ok(None);
    };
    if n.saturating_mul(min_size) > buf.remaining() {
        return Err(Error::new(ErrorKind::LengthExceedsInput {
            length: n as u64,
            remaining: buf.remaining(),
        }));
    }
    // Reserve no more memory than the bytes left: an element may be far larger in memory
    // than on the wire, so a forged count must not reserve `n` of them up front. The vector
    // grows as elements really decode (each consuming input).
    let cap = n.min(buf.remaining() / std::mem::size_of::<T>().max(1));
    let mut v = Vec::with_capacity(cap);
    for _ in 0..n {
        v.push(elem(buf)?);
    }
    Ok(Some(v))
}

/// Unwraps a value that must not be null here, or fails with [`ErrorKind::UnexpectedNull`].
#[inline(always)]
pub fn non_null<T>(v: Option<T>) -> Result<T> {
    match v {
        Some(v) => Ok(v),
        None => Err(Error::new(ErrorKind::UnexpectedNull)),
    }
}

/// Fails with [`ErrorKind::TrailingBytes`] unless `buf` is fully consumed.
#[inline]
pub fn expect_end<B: ::bytes::Buf>(buf: &B) -> Result<()> {
    match buf.remaining() {
        0 => Ok(()),
        n => Err(Error::new(ErrorKind::TrailingBytes(n))),
    }
}
