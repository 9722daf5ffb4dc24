//! Fixed-width big-endian integers, `bool` and `float64`.
//!
//! ```text
//! INT8/INT16/INT32/INT64   two's complement, big-endian, 1/2/4/8 bytes
//! UINT16/UINT32            unsigned, big-endian, 2/4 bytes
//! FLOAT64                  IEEE 754 double, big-endian, 8 bytes
//! BOOLEAN                  one byte; 0 is false, anything else true
//! ```

use bytes::{Buf, BufMut};

use super::need;
use crate::error::Result;

macro_rules! fixed {
    ($read:ident, $write:ident, $ty:ty, $get:ident, $put:ident, $n:expr) => {
        #[doc = concat!("Reads a big-endian `", stringify!($ty), "`.")]
        #[inline(always)]
        pub fn $read<B: Buf>(buf: &mut B) -> Result<$ty> {
            need(buf, $n)?;
            Ok(buf.$get())
        }

        #[doc = concat!("Writes a big-endian `", stringify!($ty), "`.")]
        #[inline(always)]
        pub fn $write<B: BufMut>(buf: &mut B, v: $ty) {
            buf.$put(v)
        }
    };
}

fixed!(read_i8, write_i8, i8, get_i8, put_i8, 1);
fixed!(read_i16, write_i16, i16, get_i16, put_i16, 2);
fixed!(read_i32, write_i32, i32, get_i32, put_i32, 4);
fixed!(read_i64, write_i64, i64, get_i64, put_i64, 8);
fixed!(read_u16, write_u16, u16, get_u16, put_u16, 2);
fixed!(read_u32, write_u32, u32, get_u32, put_u32, 4);
fixed!(read_f64, write_f64, f64, get_f64, put_f64, 8);

/// Reads a boolean byte (0 is false, anything else true, as Kafka reads it).
#[inline(always)]
pub fn read_bool<B: Buf>(buf: &mut B) -> Result<bool> {
    need(buf, 1)?;
    Ok(buf.get_u8() != 0)
}

/// Writes a boolean as one byte, 1 or 0.
#[inline(always)]
pub fn write_bool<B: BufMut>(buf: &mut B, v: bool) {
    buf.put_u8(u8::from(v))
}
