//! Compression codecs of record batches and legacy wrapper messages.
//!
//! Owns: [`compress`] and [`decompress`] for every [`Compression`] codec, and the rule that
//! every decompressor is bounded: output is produced in chunks and decompression stops with
//! [`ErrorKind::DecompressedTooLarge`] as soon as it would pass the caller's limit. No
//! decompressor allocates from a length field of the input beyond that limit. Must not: know
//! batches or records (the callers hand in the compressed bytes).
//!
//! Formats, as Apache Kafka's Java client writes and reads them:
//!
//! - gzip (`gzip`): RFC 1952, any number of members.
//! - snappy (`snappy`): written in snappy-java's xerial framing; raw snappy and the
//!   official snappy framing format are read too.
//! - lz4 (`lz4`): the LZ4 frame format with 64 KiB independent blocks; frames whose header
//!   checksum covers the magic number too (magic 0 messages, KAFKA-3160) are accepted.
//! - zstd (`zstd`): standard zstd frames.
//!
//! Each codec is behind the crate feature of its name (all on by default). A codec that was
//! left out is [`ErrorKind::CompressionDisabled`] when compressing or decompressing;
//! [`Compression::is_enabled`] tells beforehand.

#[cfg(feature = "gzip")]
pub mod gzip;
#[cfg(feature = "lz4")]
pub mod lz4;
#[cfg(feature = "snappy")]
pub mod snappy;
#[cfg(feature = "zstd")]
pub mod zstd;

#[cfg(any(feature = "gzip", feature = "snappy", feature = "zstd"))]
use std::io::Read;

use bytes::Bytes;

use super::Compression;
#[cfg(feature = "lz4")]
use super::MAGIC_V0;
use crate::error::{Error, ErrorKind, Result};

/// Compresses `data` with `codec`, as the Java client would for a v2 batch or a magic 1
/// wrapper. [`Compression::None`] returns a copy.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::compress(data),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(data),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => Ok(lz4::compress(data, false)),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(data),
        #[allow(unreachable_patterns)]
        disabled => Err(disabled_error(disabled)),
    }
}

/// Compresses `data` for a message of the given `magic`: like [`compress`], except that lz4
/// for magic 0 writes the frame header checksum the way Kafka before 0.10 computed it (over
/// the magic number too), which is what magic-0 readers expect.
pub fn compress_for_magic(codec: Compression, magic: i8, data: &[u8]) -> Result<Vec<u8>> {
    #[cfg(feature = "lz4")]
    if codec == Compression::Lz4 && magic == MAGIC_V0 {
        return Ok(lz4::compress(data, true));
    }
    #[cfg(not(feature = "lz4"))]
    let _ = magic;
    compress(codec, data)
}

/// Decompresses `data` compressed with `codec`, producing at most `limit` bytes; more is
/// [`ErrorKind::DecompressedTooLarge`]. [`Compression::None`] returns a copy (still bounded).
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Bytes> {
    let out = match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(too_large(limit));
            }
            data.to_vec()
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompress(data, limit)?,
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(data, limit)?,
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompress(data, limit)?,
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(data, limit)?,
        #[allow(unreachable_patterns)]
        disabled => return Err(disabled_error(disabled)),
    };
    Ok(Bytes::from(out))
}

/// The error for a codec whose crate feature is off.
#[cold]
#[allow(dead_code)] // unused when every codec is built in
fn disabled_error(codec: Compression) -> Error {
    Error::new(ErrorKind::CompressionDisabled(codec.name()))
}

/// The error for output past `limit`.
#[cold]
pub(crate) fn too_large(limit: usize) -> Error {
    Error::new(ErrorKind::DecompressedTooLarge { limit })
}

/// A [`ErrorKind::Compression`] error naming the codec.
#[cold]
#[cfg(any(
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]
pub(crate) fn codec_error(codec: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Compression(format!("{codec}: {why}")))
}

/// Reads a streaming decoder to its end, keeping at most `limit` bytes: reads are bounded by
/// `limit + 1`, so a bomb stops after one byte too many rather than when memory runs out.
/// `size_hint` (typically a few times the compressed size) only sizes the first allocation,
/// and is itself capped by the limit.
#[cfg(any(feature = "gzip", feature = "snappy", feature = "zstd"))]
pub(crate) fn read_bounded<R: Read>(
    codec: &str,
    reader: R,
    limit: usize,
    size_hint: usize,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint.min(limit).min(1 << 20));
    let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(bound)
        .read_to_end(&mut out)
        .map_err(|e| codec_error(codec, e))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ ((i / 1000) as u8))
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in ALL {
            for len in [0usize, 1, 100, 65_535, 65_536, 65_537, 300_000] {
                let data = sample(len);
                let packed = compress(codec, &data).unwrap();
                let unpacked = decompress(codec, &packed, 1 << 20).unwrap();
                assert_eq!(&unpacked[..], &data[..], "{codec:?} len {len}");
            }
        }
    }

    #[test]
    fn every_codec_enforces_the_limit() {
        let data = vec![0u8; 2 << 20];
        for codec in ALL {
            let packed = compress(codec, &data).unwrap();
            let err = decompress(codec, &packed, 1 << 20).unwrap_err();
            assert_eq!(
                err.kind(),
                &ErrorKind::DecompressedTooLarge { limit: 1 << 20 },
                "{codec:?}"
            );
            // Exactly at the limit is fine.
            assert_eq!(decompress(codec, &packed, 2 << 20).unwrap().len(), 2 << 20);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage: Vec<u8> = (0..512u32).map(|i| (i * 7919 % 256) as u8).collect();
        for codec in ALL[1..].iter().copied() {
            for len in 0..64 {
                let _ = decompress(codec, &garbage[..len], 1 << 16);
            }
            assert!(decompress(codec, &garbage, 1 << 16).is_err(), "{codec:?}");
        }
    }

    #[test]
    fn truncated_compressed_data_is_an_error() {
        let data = sample(100_000);
        for codec in ALL[1..].iter().copied() {
            let packed = compress(codec, &data).unwrap();
            for cut in [1, packed.len() / 2, packed.len() - 1] {
                assert!(
                    decompress(codec, &packed[..cut], 1 << 20).is_err(),
                    "{codec:?} cut at {cut}"
                );
            }
        }
    }
}
