//! Array length prefixes: ARRAY (int32 count, -1 null) and COMPACT_ARRAY (uvarint count+1,
//! 0 null). Elements are written by the caller.
//!
//! As in Apache Kafka, a count larger than the bytes left is rejected before anything is
//! allocated: every element takes at least one byte in any real message.

use bytes::{Buf, BufMut};

use super::{read_i32, read_uvarint32, uvarint_len, write_uvarint};
use crate::error::{Error, ErrorKind, Result};

/// Reads an array count; `None` is a null array. Fails when the count exceeds the bytes left.
#[inline]
pub fn read_array_len<B: Buf>(buf: &mut B, compact: bool) -> Result<Option<usize>> {
    let n: usize = if compact {
        match read_uvarint32(buf)? {
            0 => return Ok(None),
            n => (n - 1) as usize,
        }
    } else {
        match read_i32(buf)? {
            -1 => return Ok(None),
            n if n < 0 => return Err(Error::new(ErrorKind::NegativeLength(i64::from(n)))),
            n => n as usize,
        }
    };
    if n > buf.remaining() {
        return Err(Error::new(ErrorKind::LengthExceedsInput {
            length: n as u64,
            remaining: buf.remaining(),
        }));
    }
    Ok(Some(n))
}

/// Writes an array count; `None` writes a null array.
#[inline]
pub fn write_array_len<B: BufMut>(buf: &mut B, n: Option<usize>, compact: bool) -> Result<()> {
    match n {
        None if compact => buf.put_u8(0),
        None => buf.put_i32(-1),
        Some(n) if compact => write_uvarint(buf, n as u64 + 1),
        Some(n) => {
            let n = i32::try_from(n).map_err(|_| Error::new(ErrorKind::ValueTooLarge(n as u64)))?;
            buf.put_i32(n)
        }
    }
    Ok(())
}

/// Encoded size of an array count.
#[inline]
pub fn array_len_len(n: Option<usize>, compact: bool) -> usize {
    match n {
        None if compact => 1,
        Some(n) if compact => uvarint_len(n as u64 + 1),
        _ => 4,
    }
}
