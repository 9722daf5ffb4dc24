//! zstd (codec id 4): standard zstd frames via the `zstd` crate.
//!
//! Owns: zstd compression at level 3 (Kafka's default `compression.zstd.level`) and bounded
//! streaming decompression. The decoder's window is capped too, so a frame header cannot make
//! it reserve more than the limit needs (at least 4 MiB, the window of a streaming level-3
//! encoder that did not know its input size, at most 128 MiB, zstd's own default cap).

use super::{codec_error, read_bounded};
use crate::error::Result;

/// The zstd level Kafka producers use by default.
pub const DEFAULT_LEVEL: i32 = 3;

/// zstd-compresses `data` at [`DEFAULT_LEVEL`] into one frame.
pub fn compress(data: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(data, DEFAULT_LEVEL).map_err(|e| codec_error("zstd", e))
}

/// Decompresses zstd `data` (one or more frames), producing at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut decoder =
        zstd::stream::read::Decoder::with_buffer(data).map_err(|e| codec_error("zstd", e))?;
    decoder
        .window_log_max(window_log_max(limit))
        .map_err(|e| codec_error("zstd", e))?;
    read_bounded("zstd", decoder, limit, data.len().saturating_mul(4))
}

/// log2 of the largest window a frame may ask for, given the output limit.
fn window_log_max(limit: usize) -> u32 {
    let needed = usize::BITS - limit.leading_zeros();
    needed.clamp(22, 27)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn window_cap_follows_the_limit() {
        assert_eq!(window_log_max(0), 22);
        assert_eq!(window_log_max(64 << 20), 27);
        assert_eq!(window_log_max(usize::MAX), 27);
    }

    #[test]
    fn concatenated_frames_are_read() {
        let mut both = compress(b"hello ").unwrap();
        both.extend(compress(b"world").unwrap());
        assert_eq!(decompress(&both, 100).unwrap(), b"hello world");
    }
}
