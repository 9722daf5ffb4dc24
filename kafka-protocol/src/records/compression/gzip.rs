//! gzip (codec id 1): RFC 1952 via `flate2`.
//!
//! Owns: gzip compression at the default level (6, as `java.util.zip.GZIPOutputStream`) and
//! bounded decompression of one or more concatenated gzip members.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{codec_error, read_bounded};
use crate::error::Result;

/// gzip-compresses `data` into one member.
pub fn compress(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::default(),
    );
    encoder
        .write_all(data)
        .map_err(|e| codec_error("gzip", e))?;
    encoder.finish().map_err(|e| codec_error("gzip", e))
}

/// Decompresses gzip `data` (every member), producing at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    read_bounded(
        "gzip",
        MultiGzDecoder::new(data),
        limit,
        data.len().saturating_mul(4),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// 200 MB of zeros, gzip'd (about 200 KB), must fail fast with a 1 MB limit.
    #[test]
    fn decompression_bomb_is_refused() {
        let chunk = vec![0u8; 1 << 20];
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..200 {
            encoder.write_all(&chunk).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let started = std::time::Instant::now();
        let err = decompress(&bomb, 1 << 20).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::DecompressedTooLarge { limit: 1 << 20 }
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn concatenated_members_are_read() {
        let mut both = compress(b"hello ").unwrap();
        both.extend(compress(b"world").unwrap());
        assert_eq!(decompress(&both, 100).unwrap(), b"hello world");
    }
}
