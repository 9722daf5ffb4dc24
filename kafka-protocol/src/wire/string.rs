//! STRING, NULLABLE_STRING, COMPACT_STRING and COMPACT_NULLABLE_STRING.
//!
//! ```text
//! STRING                    int16 N >= 0, then N bytes UTF-8 (N = -1: null, nullable only)
//! COMPACT_STRING            uvarint N+1,   then N bytes UTF-8 (0: null, nullable only)
//! ```

use bytes::{Buf, BufMut};

use super::{need, read_i16, read_uvarint32, uvarint_len, write_uvarint, StrBytes};
use crate::error::{Error, ErrorKind, Result};

/// Reads a nullable string, compact (flexible versions) or classic.
#[inline]
pub fn read_nullable_string<B: Buf>(buf: &mut B, compact: bool) -> Result<Option<StrBytes>> {
    let len: usize = if compact {
        match read_uvarint32(buf)? {
            0 => return Ok(None),
            n => (n - 1) as usize,
        }
    } else {
        match read_i16(buf)? {
            -1 => return Ok(None),
            n if n < 0 => return Err(Error::new(ErrorKind::NegativeLength(i64::from(n)))),
            n => n as usize,
        }
    };
    need(buf, len)?;
    StrBytes::from_utf8(buf.copy_to_bytes(len)).map(Some)
}

/// Reads a non-nullable string; a null is [`ErrorKind::UnexpectedNull`].
#[inline]
pub fn read_string<B: Buf>(buf: &mut B, compact: bool) -> Result<StrBytes> {
    read_nullable_string(buf, compact)?.ok_or_else(|| Error::new(ErrorKind::UnexpectedNull))
}

/// Writes a nullable string.
#[inline]
pub fn write_nullable_string<B: BufMut>(buf: &mut B, s: Option<&str>, compact: bool) -> Result<()> {
    match s {
        None if compact => buf.put_u8(0),
        None => buf.put_i16(-1),
        Some(s) => write_string(buf, s, compact)?,
    }
    Ok(())
}

/// Writes a non-nullable string; a classic string longer than 32767 bytes is an error.
#[inline]
pub fn write_string<B: BufMut>(buf: &mut B, s: &str, compact: bool) -> Result<()> {
    if compact {
        write_uvarint(buf, s.len() as u64 + 1);
    } else {
        let len = i16::try_from(s.len())
            .map_err(|_| Error::new(ErrorKind::ValueTooLarge(s.len() as u64)))?;
        buf.put_i16(len);
    }
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// Encoded size of a string.
#[inline]
pub fn string_len(s: &str, compact: bool) -> usize {
    if compact {
        uvarint_len(s.len() as u64 + 1) + s.len()
    } else {
        2 + s.len()
    }
}

/// Encoded size of a nullable string.
#[inline]
pub fn nullable_string_len(s: Option<&str>, compact: bool) -> usize {
    match s {
        None if compact => 1,
        None => 2,
        Some(s) => string_len(s, compact),
    }
}
