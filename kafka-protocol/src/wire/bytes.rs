//! BYTES, NULLABLE_BYTES, COMPACT_BYTES, COMPACT_NULLABLE_BYTES (also the framing of RECORDS).
//!
//! ```text
//! BYTES                     int32 N >= 0, then N bytes (N = -1: null, nullable only)
//! COMPACT_BYTES             uvarint N+1,   then N bytes (0: null, nullable only)
//! ```

use bytes::{Buf, BufMut, Bytes};

use super::{need, read_i32, read_uvarint32, uvarint_len, write_uvarint};
use crate::error::{Error, ErrorKind, Result};

/// Reads nullable bytes, compact (flexible versions) or classic. Zero-copy from `Bytes`.
#[inline]
pub fn read_nullable_bytes<B: Buf>(buf: &mut B, compact: bool) -> Result<Option<Bytes>> {
    let len: usize = if compact {
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
    need(buf, len)?;
    Ok(Some(buf.copy_to_bytes(len)))
}

/// Reads non-nullable bytes; a null is [`ErrorKind::UnexpectedNull`].
#[inline]
pub fn read_bytes<B: Buf>(buf: &mut B, compact: bool) -> Result<Bytes> {
    read_nullable_bytes(buf, compact)?.ok_or_else(|| Error::new(ErrorKind::UnexpectedNull))
}

/// Writes nullable bytes.
#[inline]
pub fn write_nullable_bytes<B: BufMut>(buf: &mut B, b: Option<&[u8]>, compact: bool) -> Result<()> {
    match b {
        None if compact => buf.put_u8(0),
        None => buf.put_i32(-1),
        Some(b) => write_bytes(buf, b, compact)?,
    }
    Ok(())
}

/// Writes non-nullable bytes.
#[inline]
pub fn write_bytes<B: BufMut>(buf: &mut B, b: &[u8], compact: bool) -> Result<()> {
    if compact {
        write_uvarint(buf, b.len() as u64 + 1);
    } else {
        let len = i32::try_from(b.len())
            .map_err(|_| Error::new(ErrorKind::ValueTooLarge(b.len() as u64)))?;
        buf.put_i32(len);
    }
    buf.put_slice(b);
    Ok(())
}

/// Encoded size of bytes.
#[inline]
pub fn bytes_len(b: &[u8], compact: bool) -> usize {
    if compact {
        uvarint_len(b.len() as u64 + 1) + b.len()
    } else {
        4 + b.len()
    }
}

/// Encoded size of nullable bytes.
#[inline]
pub fn nullable_bytes_len(b: Option<&[u8]>, compact: bool) -> usize {
    match b {
        None if compact => 1,
        None => 4,
        Some(b) => bytes_len(b, compact),
    }
}
