//! snappy (codec id 2) via the `snap` crate.
//!
//! Owns: the xerial framing that snappy-java's `SnappyOutputStream` writes (and so the Java
//! client, which Kafka brokers and other clients expect), plus reading the other forms found
//! in the wild. Detection is by the first bytes:
//!
//! ```text
//! xerial    0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   8-byte magic header
//!           int32 version (1), int32 compatible version (1)
//!           then blocks: int32 compressed length N (big-endian), N bytes of raw snappy
//!           (each block holds at most 32 KiB of input; a second header may follow a block
//!           when streams were concatenated)
//! framed    0xff 0x06 0x00 0x00 "sNaPpY" ...       the official snappy framing format
//! raw       uvarint uncompressed length, then snappy elements (anything else)
//! ```

use super::{codec_error, read_bounded, too_large};
use crate::error::{Error, ErrorKind, Result};

/// The 8-byte magic header of snappy-java's xerial framing.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Bytes of the xerial header: magic, version int32, compatible version int32.
pub const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block, snappy-java's default block size.
pub const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// The stream identifier chunk that starts the official snappy framing format.
const FRAMED_MAGIC: [u8; 10] = [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];
/// Largest output one input byte of raw snappy can produce: a 3-byte copy of 64 bytes is
/// 21.3 bytes per input byte; declared lengths beyond this ratio are lies.
const MAX_RATIO: usize = 22;

/// Compresses `data` in xerial framing with 32 KiB blocks, as the Java client does.
pub fn compress(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + snap::raw::max_compress_len(data.len()));
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for block in data.chunks(XERIAL_BLOCK_SIZE) {
        let start = out.len();
        out.resize(start + 4 + snap::raw::max_compress_len(block.len()), 0);
        let dst = out.get_mut(start + 4..).unwrap_or_default();
        let n = encoder
            .compress(block, dst)
            .map_err(|e| codec_error("snappy", e))?;
        out.truncate(start + 4 + n);
        let len = i32::try_from(n).map_err(|_| codec_error("snappy", "block too large"))?;
        out.get_mut(start..start + 4)
            .unwrap_or_default()
            .copy_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

/// Decompresses xerial-framed, framed or raw snappy `data`, producing at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    if data.starts_with(&XERIAL_MAGIC) {
        decompress_xerial(data, limit)
    } else if data.starts_with(&FRAMED_MAGIC) {
        read_bounded(
            "snappy",
            snap::read::FrameDecoder::new(data),
            limit,
            data.len().saturating_mul(4),
        )
    } else {
        let mut out = Vec::new();
        decompress_raw_into(data, &mut out, limit)?;
        Ok(out)
    }
}

/// Decompresses snappy-java's xerial framing.
fn decompress_xerial(mut data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.starts_with(&XERIAL_MAGIC) {
            data = data
                .get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| truncated(XERIAL_HEADER_LEN, data.len()))?;
            continue;
        }
        let (len, rest) = data
            .split_first_chunk::<4>()
            .ok_or_else(|| truncated(4, data.len()))?;
        let len = i32::from_be_bytes(*len);
        let len = usize::try_from(len)
            .map_err(|_| Error::new(ErrorKind::NegativeLength(i64::from(len))))?;
        let block = rest.get(..len).ok_or_else(|| {
            Error::new(ErrorKind::LengthExceedsInput {
                length: len as u64,
                remaining: rest.len(),
            })
        })?;
        decompress_raw_into(block, &mut out, limit)?;
        data = rest.get(len..).unwrap_or_default();
    }
    Ok(out)
}

/// Appends the raw snappy block `block` to `out`, keeping `out` within `limit` bytes.
fn decompress_raw_into(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<()> {
    let declared = snap::raw::decompress_len(block).map_err(|e| codec_error("snappy", e))?;
    if declared > block.len().saturating_mul(MAX_RATIO) {
        return Err(codec_error(
            "snappy",
            "declared length impossible for the input",
        ));
    }
    if declared > limit.saturating_sub(out.len()) {
        return Err(too_large(limit));
    }
    let start = out.len();
    out.resize(start + declared, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let n = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(|e| codec_error("snappy", e))?;
    out.truncate(start + n);
    Ok(())
}

#[cold]
fn truncated(needed: usize, remaining: usize) -> Error {
    Error::new(ErrorKind::Truncated { needed, remaining })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn xerial_header_and_blocks() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let packed = compress(&data).unwrap();
        assert_eq!(&packed[..8], &XERIAL_MAGIC);
        assert_eq!(&packed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        // 100 000 bytes in 32 KiB blocks: 4 blocks.
        let mut blocks = 0;
        let mut rest = &packed[16..];
        while !rest.is_empty() {
            let n = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + n..];
            blocks += 1;
        }
        assert_eq!(blocks, 4);
        assert_eq!(decompress(&packed, 1 << 20).unwrap(), data);
    }

    /// A xerial stream as snappy-java writes it for "hello, hello, hello" (hand-built: header,
    /// then one block of raw snappy holding a literal and a copy).
    #[test]
    fn xerial_decode_of_a_hand_built_stream() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"hello, hello, hello")
            .unwrap();
        let mut stream = XERIAL_MAGIC.to_vec();
        stream.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        stream.extend_from_slice(&(raw.len() as i32).to_be_bytes());
        stream.extend_from_slice(&raw);
        // A concatenated second stream.
        stream.extend_from_slice(&XERIAL_MAGIC);
        stream.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        stream.extend_from_slice(&(raw.len() as i32).to_be_bytes());
        stream.extend_from_slice(&raw);
        assert_eq!(
            decompress(&stream, 100).unwrap(),
            b"hello, hello, hellohello, hello, hello"
        );
        assert!(decompress(&stream, 20).is_err());
    }

    #[test]
    fn raw_and_framed_snappy_are_read() {
        let data = b"raw snappy raw snappy raw snappy".to_vec();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw, 100).unwrap(), data);
        let mut framed = Vec::new();
        {
            use std::io::Write;
            let mut w = snap::write::FrameEncoder::new(&mut framed);
            w.write_all(&data).unwrap();
            w.flush().unwrap();
        }
        assert_eq!(decompress(&framed, 100).unwrap(), data);
        assert!(decompress(&framed, 10).is_err());
    }

    #[test]
    fn lying_length_does_not_allocate() {
        // Raw snappy declaring 2^31 bytes of output from a 6-byte input.
        let lie = [0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        assert!(decompress(&lie, usize::MAX).is_err());
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(decompress(&xerial, usize::MAX).is_err());
        xerial.truncate(16);
        xerial.extend_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(decompress(&xerial, usize::MAX).is_err());
    }
}
