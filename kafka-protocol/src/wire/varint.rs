//! Variable-length integers.
//!
//! ```text
//! UNSIGNED_VARINT   7 bits per byte, least significant group first, high bit = more follow
//!                   (at most 5 bytes for 32 bits, 10 for 64)
//! VARINT / VARLONG  zigzag-encoded signed value, (n << 1) ^ (n >> 31|63), as an unsigned varint
//! ```
//! Unsigned varints carry compact lengths and tagged-field headers; zigzag varints carry the
//! record fields inside a v2 record batch.

use bytes::{Buf, BufMut};

use crate::error::{Error, ErrorKind, Result};

/// Reads an unsigned varint of at most 64 bits.
#[inline]
pub fn read_uvarint64<B: Buf>(buf: &mut B) -> Result<u64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        if !buf.has_remaining() {
            return Err(Error::new(ErrorKind::Truncated {
                needed: 1,
                remaining: 0,
            }));
        }
        let b = buf.get_u8();
        if shift == 63 && b > 1 {
            return Err(Error::new(ErrorKind::VarintTooLong));
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift > 63 {
            return Err(Error::new(ErrorKind::VarintTooLong));
        }
    }
}

/// Reads an unsigned varint of at most 32 bits.
#[inline]
pub fn read_uvarint32<B: Buf>(buf: &mut B) -> Result<u32> {
    // Fast path: one byte.
    if let Some(&b) = buf.chunk().first() {
        if b & 0x80 == 0 {
            buf.advance(1);
            return Ok(u32::from(b));
        }
    }
    let mut value: u32 = 0;
    let mut shift = 0u32;
    loop {
        if !buf.has_remaining() {
            return Err(Error::new(ErrorKind::Truncated {
                needed: 1,
                remaining: 0,
            }));
        }
        let b = buf.get_u8();
        if shift == 28 && b > 0x0f {
            return Err(Error::new(ErrorKind::VarintTooLong));
        }
        value |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift > 28 {
            return Err(Error::new(ErrorKind::VarintTooLong));
        }
    }
}

/// Writes an unsigned varint.
#[inline]
pub fn write_uvarint<B: BufMut>(buf: &mut B, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Bytes an unsigned varint of `v` takes.
#[inline]
pub fn uvarint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a zigzag-encoded 32-bit varint.
#[inline]
pub fn read_varint<B: Buf>(buf: &mut B) -> Result<i32> {
    let u = read_uvarint32(buf)?;
    Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
}

/// Reads a zigzag-encoded 64-bit varlong.
#[inline]
pub fn read_varlong<B: Buf>(buf: &mut B) -> Result<i64> {
    let u = read_uvarint64(buf)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Zigzag-encodes a 32-bit value.
#[inline(always)]
pub fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

/// Zigzag-encodes a 64-bit value.
#[inline(always)]
pub fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Writes a zigzag-encoded 32-bit varint.
#[inline]
pub fn write_varint<B: BufMut>(buf: &mut B, v: i32) {
    write_uvarint(buf, zigzag32(v))
}

/// Writes a zigzag-encoded 64-bit varlong.
#[inline]
pub fn write_varlong<B: BufMut>(buf: &mut B, v: i64) {
    write_uvarint(buf, zigzag64(v))
}

/// Bytes a zigzag varint of `v` takes.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(zigzag32(v))
}

/// Bytes a zigzag varlong of `v` takes.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    uvarint_len(zigzag64(v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_round_trip_and_len() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_uvarint(&mut out, v);
            assert_eq!(out.len(), uvarint_len(v), "len of {v}");
            assert_eq!(read_uvarint64(&mut &out[..]).unwrap(), v);
            if v <= u32::MAX as u64 {
                assert_eq!(read_uvarint32(&mut &out[..]).unwrap() as u64, v);
            }
        }
    }

    #[test]
    fn zigzag_matches_kafka() {
        // Values from the protocol guide: 0->0, -1->1, 1->2, -2->3.
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MIN), u32::MAX as u64);
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, 1 << 40] {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            assert_eq!(read_varlong(&mut &out[..]).unwrap(), v);
            assert_eq!(out.len(), varlong_len(v));
        }
    }

    #[test]
    fn overlong_varints_are_errors() {
        let too_long = [0xffu8; 11];
        assert!(read_uvarint64(&mut &too_long[..]).is_err());
        assert!(read_uvarint32(&mut &too_long[..6]).is_err());
        assert!(read_uvarint32(&mut &[0x80u8][..]).is_err());
    }
}
