//! Array length prefixes: ARRAY (int32 count, -1 null) and COMPACT_ARRAY (uvarint count+1,
//! 0 null). Elements are written by the caller.
//!
//! As in Apache Kafka, a count larger than the bytes left is rejected before anything is
//! allocated: every element takes at least one byte in any real message.

use bytes::{Buf, BufMut};

use super::primitive_vec::INLINE;
use super::{read_i32, read_uvarint32, uvarint_len, write_uvarint, PrimitiveVec};
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

macro_rules! fixed_array {
    ($name:ident, $ty:ty, $n:expr, $get:ident) => {
        #[doc = concat!("Reads an array of `", stringify!($ty), "` in one pass over the input; `None` is a null array.")]
        #[inline]
        pub fn $name<B: Buf>(buf: &mut B, compact: bool) -> Result<Option<PrimitiveVec<$ty>>> {
            let Some(n) = read_array_len(buf, compact)? else {
                return Ok(None);
            };
            let bytes = n.saturating_mul($n);
            if bytes > buf.remaining() {
                return Err(Error::new(ErrorKind::LengthExceedsInput {
                    length: n as u64,
                    remaining: buf.remaining(),
                }));
            }
            if n <= INLINE {
                // Short arrays (replica lists, ISRs): fill the inline storage directly.
                let mut items = [<$ty>::default(); INLINE];
                match buf.chunk().get(..bytes) {
                    Some(all) => {
                        for (slot, c) in items.iter_mut().zip(all.chunks_exact($n)) {
                            let mut a = [0u8; $n];
                            a.copy_from_slice(c);
                            *slot = <$ty>::from_be_bytes(a);
                        }
                        buf.advance(bytes);
                    }
                    None => {
                        for slot in items.iter_mut().take(n) {
                            *slot = buf.$get();
                        }
                    }
                }
                return Ok(Some(PrimitiveVec::Inline {
                    len: n as u8,
                    items,
                }));
            }
            let mut v = PrimitiveVec::with_capacity(n);
            match buf.chunk().get(..bytes) {
                Some(all) => {
                    for c in all.chunks_exact($n) {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        v.push(<$ty>::from_be_bytes(a));
                    }
                    buf.advance(bytes);
                }
                None => {
                    for _ in 0..n {
                        v.push(buf.$get());
                    }
                }
            }
            Ok(Some(v))
        }
    };
}

fixed_array!(read_i8_array, i8, 1, get_i8);
fixed_array!(read_i16_array, i16, 2, get_i16);
fixed_array!(read_u16_array, u16, 2, get_u16);
fixed_array!(read_i32_array, i32, 4, get_i32);
fixed_array!(read_u32_array, u32, 4, get_u32);
fixed_array!(read_i64_array, i64, 8, get_i64);
fixed_array!(read_f64_array, f64, 8, get_f64);
