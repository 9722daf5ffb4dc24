//! lz4 (codec id 3): the LZ4 frame format, framed by hand, blocks via `lz4_flex`.
//!
//! Owns: Kafka's lz4 framing (what `KafkaLZ4BlockOutputStream` writes and
//! `KafkaLZ4BlockInputStream` reads) and its header-checksum quirk. The frame is parsed here
//! rather than by `lz4_flex`'s frame decoder because that decoder rejects the quirky header
//! checksum, and so that every block is decompressed within the caller's limit.
//!
//! ```text
//! frame       magic u32 LE 0x184D2204
//!             FLG u8: bits 7-6 version (01), bit 5 block independence, bit 4 block
//!                     checksum, bit 3 content size, bit 2 content checksum, bit 1 reserved,
//!                     bit 0 dictionary id
//!             BD u8:  bits 6-4 block max size (4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB)
//!             content size u64 LE      (if FLG bit 3)
//!             dictionary id u32 LE     (if FLG bit 0; not supported)
//!             HC u8: (xxh32(FLG..end of descriptor, seed 0) >> 8) & 0xff
//!                    Kafka < 0.10 (magic 0 messages, KAFKA-3160) hashed from the magic
//!                    number instead; both are accepted
//! blocks      size u32 LE: 0 ends the blocks; high bit set = stored uncompressed
//!             size bytes of data (an lz4 block, or the raw bytes)
//!             xxh32 of the data u32 LE (if FLG bit 4)
//! trailer     xxh32 of the frame's content u32 LE (if FLG bit 2)
//! ```
//!
//! Kafka writes FLG 0x60 (version 1, independent blocks, no checksums), BD 0x40 (64 KiB);
//! this encoder does the same. Skippable frames are skipped; several frames are concatenated.

use super::{codec_error, too_large};
use crate::error::{Error, ErrorKind, Result};

/// The LZ4 frame magic number.
pub const FRAME_MAGIC: u32 = 0x184D_2204;
/// Uncompressed bytes per block written by Kafka (BD 0x40).
pub const BLOCK_SIZE: usize = 64 * 1024;
/// FLG of Kafka's frames: version 01, independent blocks.
const KAFKA_FLG: u8 = 0x60;
/// BD of Kafka's frames: 64 KiB blocks.
const KAFKA_BD: u8 = 0x40;
/// Window of linked (dependent) blocks.
const WINDOW: usize = 64 * 1024;

const FLG_VERSION_MASK: u8 = 0xc0;
const FLG_VERSION_01: u8 = 0x40;
const FLG_BLOCK_INDEPENDENCE: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_RESERVED: u8 = 0x02;
const FLG_DICT_ID: u8 = 0x01;
const BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;

/// Compresses `data` into one LZ4 frame with 64 KiB independent blocks, as Kafka does.
/// `broken_header_checksum` writes the header checksum over the magic number too, as Kafka
/// did for magic 0 messages.
pub fn compress(data: &[u8], broken_header_checksum: bool) -> Vec<u8> {
    let blocks = data.len().div_ceil(BLOCK_SIZE);
    let mut out = Vec::with_capacity(
        7 + 4 + blocks * 4 + lz4_flex::block::get_maximum_output_size(data.len()),
    );
    out.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
    out.push(KAFKA_FLG);
    out.push(KAFKA_BD);
    out.push(header_checksum(&out, broken_header_checksum));
    for block in data.chunks(BLOCK_SIZE) {
        let start = out.len();
        out.resize(
            start + 4 + lz4_flex::block::get_maximum_output_size(block.len()),
            0,
        );
        let dst = out.get_mut(start + 4..).unwrap_or_default();
        let size = match lz4_flex::block::compress_into(block, dst) {
            Ok(n) if n < block.len() => {
                out.truncate(start + 4 + n);
                n as u32
            }
            // Incompressible (or, never in practice, a too-small buffer): store it.
            _ => {
                out.truncate(start + 4);
                out.extend_from_slice(block);
                block.len() as u32 | BLOCK_UNCOMPRESSED
            }
        };
        if let Some(slot) = out.get_mut(start..start + 4) {
            slot.copy_from_slice(&size.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// Decompresses one or more LZ4 frames, producing at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut input = Input(data);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit).min(1 << 20));
    if data.is_empty() {
        return Err(codec_error("lz4", "empty input"));
    }
    while !input.0.is_empty() {
        let magic = input.u32_le()?;
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let len = input.u32_le()? as usize;
            input.take(len)?;
            continue;
        }
        if magic != FRAME_MAGIC {
            return Err(codec_error("lz4", format!("bad frame magic {magic:#010x}")));
        }
        decompress_frame(&mut input, &mut out, limit)?;
    }
    Ok(out)
}

/// Decompresses one frame after its magic number, appending to `out`.
fn decompress_frame(input: &mut Input<'_>, out: &mut Vec<u8>, limit: usize) -> Result<()> {
    let descriptor_start = input.0;
    let flg = input.u8()?;
    let bd = input.u8()?;
    if flg & FLG_VERSION_MASK != FLG_VERSION_01 || flg & FLG_RESERVED != 0 || bd & 0x8f != 0 {
        return Err(codec_error("lz4", "unsupported frame descriptor"));
    }
    if flg & FLG_DICT_ID != 0 {
        return Err(codec_error("lz4", "dictionary ids are not supported"));
    }
    let block_max = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(codec_error("lz4", "invalid block max size")),
    };
    if flg & FLG_CONTENT_SIZE != 0 {
        input.take(8)?;
    }
    let descriptor_len = descriptor_start.len() - input.0.len();
    let descriptor = descriptor_start.get(..descriptor_len).unwrap_or_default();
    let hc = input.u8()?;
    if hc != descriptor_checksum(descriptor) && hc != quirky_descriptor_checksum(descriptor) {
        return Err(codec_error("lz4", "frame header checksum mismatch"));
    }

    let frame_start = out.len();
    let independent = flg & FLG_BLOCK_INDEPENDENCE != 0;
    loop {
        let size = input.u32_le()?;
        if size == 0 {
            break;
        }
        let stored = size & BLOCK_UNCOMPRESSED != 0;
        let len = (size & !BLOCK_UNCOMPRESSED) as usize;
        if len > block_max {
            return Err(codec_error("lz4", "block larger than the block max size"));
        }
        let block = input.take(len)?;
        if flg & FLG_BLOCK_CHECKSUM != 0 {
            let stored_sum = input.u32_le()?;
            if stored_sum != xxh32(block, 0) {
                return Err(codec_error("lz4", "block checksum mismatch"));
            }
        }
        let room = limit.saturating_sub(out.len());
        if stored {
            if len > room {
                return Err(too_large(limit));
            }
            out.extend_from_slice(block);
            continue;
        }
        let capacity = block_max.min(room);
        let start = out.len();
        out.resize(start + capacity, 0);
        let (before, dst) = out.split_at_mut(start);
        let result = if independent {
            lz4_flex::block::decompress_into(block, dst)
        } else {
            let dict_from = start.saturating_sub(WINDOW).max(frame_start);
            let dict = before.get(dict_from..).unwrap_or_default();
            lz4_flex::block::decompress_into_with_dict(block, dst, dict)
        };
        match result {
            Ok(n) => out.truncate(start + n),
            Err(lz4_flex::block::DecompressError::OutputTooSmall { .. })
                if capacity < block_max =>
            {
                return Err(too_large(limit))
            }
            Err(e) => return Err(codec_error("lz4", e)),
        }
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let stored_sum = input.u32_le()?;
        let content = out.get(frame_start..).unwrap_or_default();
        if stored_sum != xxh32(content, 0) {
            return Err(codec_error("lz4", "content checksum mismatch"));
        }
    }
    Ok(())
}

/// The header checksum byte after the frame header written so far (`header` = magic + FLG +
/// BD [+ content size]); `broken` hashes the magic number too, as Kafka < 0.10 did.
fn header_checksum(header: &[u8], broken: bool) -> u8 {
    let hashed = if broken {
        header
    } else {
        header.get(4..).unwrap_or_default()
    };
    (xxh32(hashed, 0) >> 8) as u8
}

/// The correct header checksum of a frame descriptor (FLG through dictionary id).
fn descriptor_checksum(descriptor: &[u8]) -> u8 {
    (xxh32(descriptor, 0) >> 8) as u8
}

/// The KAFKA-3160 header checksum: the descriptor hashed together with the magic number.
fn quirky_descriptor_checksum(descriptor: &[u8]) -> u8 {
    let mut header = Vec::with_capacity(4 + descriptor.len());
    header.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
    header.extend_from_slice(descriptor);
    (xxh32(&header, 0) >> 8) as u8
}

/// A cursor over the compressed input with bounds-checked reads.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::new(ErrorKind::Truncated {
                needed: n,
                remaining: self.0.len(),
            })
            .context("lz4", "frame", -1));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u32_le(&mut self) -> Result<u32> {
        let bytes = self.take(4)?;
        Ok(read_u32_le(bytes))
    }
}

/// A little-endian u32 from the first 4 bytes of `b` (0 if shorter; callers pass 4).
fn read_u32_le(b: &[u8]) -> u32 {
    b.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b))
}

const PRIME1: u32 = 2_654_435_761;
const PRIME2: u32 = 2_246_822_519;
const PRIME3: u32 = 3_266_489_917;
const PRIME4: u32 = 668_265_263;
const PRIME5: u32 = 374_761_393;

/// xxHash32 of `data`, the checksum of the LZ4 frame format.
pub fn xxh32(data: &[u8], seed: u32) -> u32 {
    #[inline(always)]
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(PRIME2))
            .rotate_left(13)
            .wrapping_mul(PRIME1)
    }
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(PRIME1).wrapping_add(PRIME2),
            seed.wrapping_add(PRIME2),
            seed,
            seed.wrapping_sub(PRIME1),
        ];
        let mut stripes = data.chunks_exact(16);
        for stripe in &mut stripes {
            for (i, lane) in stripe.chunks_exact(4).enumerate() {
                if let Some(acc) = v.get_mut(i) {
                    *acc = round(*acc, read_u32_le(lane));
                }
            }
        }
        rest = stripes.remainder();
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(PRIME5)
    };
    h = h.wrapping_add(data.len() as u32);
    let mut words = rest.chunks_exact(4);
    for word in &mut words {
        h = h
            .wrapping_add(read_u32_le(word).wrapping_mul(PRIME3))
            .rotate_left(17)
            .wrapping_mul(PRIME4);
    }
    for &byte in words.remainder() {
        h = h
            .wrapping_add(u32::from(byte).wrapping_mul(PRIME5))
            .rotate_left(11)
            .wrapping_mul(PRIME1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(PRIME2);
    h ^= h >> 13;
    h = h.wrapping_mul(PRIME3);
    h ^ (h >> 16)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn xxh32_reference_values() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    #[test]
    fn kafka_frame_layout() {
        let frame = compress(b"hello hello hello hello", false);
        assert_eq!(&frame[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(frame[4], 0x60);
        assert_eq!(frame[5], 0x40);
        // The well-known correct HC for FLG 0x60 BD 0x40 is 0x82.
        assert_eq!(frame[6], 0x82);
        assert_eq!(&frame[frame.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn old_header_checksum_quirk_is_accepted() {
        let data = b"magic zero lz4 magic zero lz4 magic zero lz4".to_vec();
        let quirky = compress(&data, true);
        let correct = compress(&data, false);
        assert_ne!(quirky[6], correct[6], "the quirk changes the checksum byte");
        assert_eq!(&quirky[7..], &correct[7..]);
        assert_eq!(decompress(&quirky, 1000).unwrap(), data);
        assert_eq!(decompress(&correct, 1000).unwrap(), data);
        let mut wrong = correct.clone();
        wrong[6] ^= 0x55;
        assert!(decompress(&wrong, 1000).is_err());
    }

    /// Frames written by `lz4_flex`'s own frame encoder (linked blocks, checksums, content
    /// size) decode here, which also cross-checks the hand-written xxh32.
    #[test]
    fn reads_standard_frames_with_all_options() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect();
        for (independent, checksums) in [(true, false), (false, true), (false, false)] {
            let mut info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .content_checksum(checksums)
                .block_checksums(checksums)
                .content_size(Some(data.len() as u64));
            info = info.block_mode(if independent {
                lz4_flex::frame::BlockMode::Independent
            } else {
                lz4_flex::frame::BlockMode::Linked
            });
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&data).unwrap();
            let frame = enc.finish().unwrap();
            assert_eq!(decompress(&frame, 1 << 20).unwrap(), data);
            let mut corrupt = frame.clone();
            let last_data = corrupt.len() - 10;
            corrupt[last_data] ^= 1;
            assert!(decompress(&corrupt, 1 << 20).is_err() || !checksums);
        }
    }

    #[test]
    fn our_frames_read_by_lz4_flex() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        let frame = compress(&data, false);
        let mut dec = lz4_flex::frame::FrameDecoder::new(&frame[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut dec, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn bomb_and_oversized_blocks() {
        let frame = compress(&vec![0u8; 10 << 20], false);
        assert_eq!(
            decompress(&frame, 1 << 20).unwrap_err().kind(),
            &ErrorKind::DecompressedTooLarge { limit: 1 << 20 }
        );
        // A block claiming more than the 64 KiB block max.
        let mut bad = frame[..7].to_vec();
        bad.extend_from_slice(&(0x0002_0000u32).to_le_bytes());
        bad.extend_from_slice(&[0; 16]);
        assert!(decompress(&bad, usize::MAX).is_err());
    }
}
