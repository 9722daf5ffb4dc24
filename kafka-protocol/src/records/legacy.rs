//! Legacy message sets: magic 0 (Kafka 0.8-0.9) and magic 1 (0.10) messages.
//!
//! Owns: [`LegacyMessage`] (decode with CRC-32 check, encode), compressed wrapper messages
//! (unwrapping them into inner messages with absolute offsets, and [`write_message_set`]
//! wrapping messages up again). Must not: convert to or from v2 batches (see
//! [`super::convert`]) or walk a `records` field (see [`super::set`]).
//!
//! ```text
//! MessageSet => [offset int64, messageSize int32, Message]   (messageSize = bytes of Message)
//!
//! Message =>
//!   crc         uint32   CRC-32 (IEEE) of magic .. end of value
//!   magic       int8     0 or 1
//!   attributes  int8     bits 0-2 compression codec (0 none, 1 gzip, 2 snappy, 3 lz4)
//!                        bit 3 timestamp type (magic 1 only; 1 = LogAppendTime)
//!   timestamp   int64    magic 1 only
//!   key         bytes    int32 length (-1 null), then the bytes
//!   value       bytes    int32 length (-1 null), then the bytes
//! ```
//!
//! A compressed message is a *wrapper*: its key is null and its value is a whole message set
//! of uncompressed inner messages, compressed with the wrapper's codec. For magic 0 the inner
//! offsets are absolute. For magic 1 they are relative (0, 1, ...) and the wrapper's offset
//! is the absolute offset of the last inner message, so inner absolute offset =
//! wrapper offset - last inner relative offset + inner relative offset; a LogAppendTime
//! wrapper's timestamp applies to every inner message.

use bytes::{Buf, Bytes};

use super::compression;
use super::{
    Compression, DecodeOptions, TimestampType, LOG_OVERHEAD, MAGIC_V0, MAGIC_V1, NO_TIMESTAMP,
};
use crate::error::{Error, ErrorKind, Result};

/// Bytes of a magic 0 message from crc to the value, with empty key and value.
pub const MESSAGE_OVERHEAD_V0: usize = 14;
/// Bytes of a magic 1 message from crc to the value, with empty key and value.
pub const MESSAGE_OVERHEAD_V1: usize = 22;
/// Bytes of the offset and messageSize before each message, plus a magic 0 message's own
/// overhead: the smallest legal entry of a message set.
pub const MIN_ENTRY_SIZE: usize = LOG_OVERHEAD + MESSAGE_OVERHEAD_V0;

/// One legacy message with its offset (one entry of a message set).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyMessage {
    /// The offset: absolute, or relative for the inner messages of a magic 1 wrapper as
    /// stored (after [`inner_messages`](Self::inner_messages), absolute).
    pub offset: i64,
    /// 0 or 1.
    pub magic: i8,
    /// Compression codec (bits 0-2) and timestamp type (bit 3, magic 1).
    pub attributes: i8,
    /// The timestamp (magic 1); [`NO_TIMESTAMP`] for magic 0.
    pub timestamp: i64,
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null. For a wrapper, the compressed inner message set.
    pub value: Option<Bytes>,
}

impl LegacyMessage {
    /// An uncompressed message.
    pub fn new(
        magic: i8,
        offset: i64,
        timestamp: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
    ) -> Self {
        LegacyMessage {
            offset,
            magic,
            attributes: 0,
            timestamp: if magic == MAGIC_V0 {
                NO_TIMESTAMP
            } else {
                timestamp
            },
            key,
            value,
        }
    }

    /// Decodes one message-set entry (offset, messageSize, message) from the front of `buf`,
    /// advancing it; checks the CRC-32 when `verify_crc`. Key and value are slices of `buf`.
    pub fn decode(buf: &mut Bytes, verify_crc: bool) -> Result<Self> {
        if buf.len() < LOG_OVERHEAD {
            return Err(err(
                ErrorKind::Truncated {
                    needed: LOG_OVERHEAD,
                    remaining: buf.len(),
                },
                "messageSize",
            ));
        }
        let offset = buf.get_i64();
        let size = buf.get_i32();
        let size = usize::try_from(size)
            .map_err(|_| err(ErrorKind::NegativeLength(i64::from(size)), "messageSize"))?;
        if size < MESSAGE_OVERHEAD_V0 {
            return Err(err(
                ErrorKind::InvalidRecords("message smaller than its header"),
                "messageSize",
            ));
        }
        if size > buf.len() {
            return Err(err(
                ErrorKind::Truncated {
                    needed: size,
                    remaining: buf.len(),
                },
                "messageSize",
            ));
        }
        let mut body = buf.split_to(size);
        let stored_crc = body.get_u32();
        if verify_crc {
            let computed = crc32fast::hash(&body);
            if computed != stored_crc {
                return Err(err(
                    ErrorKind::CrcMismatch {
                        stored: stored_crc,
                        computed,
                    },
                    "crc",
                ));
            }
        }
        let magic = body.get_i8();
        let attributes = body.get_i8();
        let timestamp = match magic {
            MAGIC_V0 => NO_TIMESTAMP,
            MAGIC_V1 => {
                if body.len() < 8 {
                    return Err(err(
                        ErrorKind::Truncated {
                            needed: 8,
                            remaining: body.len(),
                        },
                        "timestamp",
                    ));
                }
                body.get_i64()
            }
            _ => {
                return Err(err(
                    ErrorKind::InvalidRecords("legacy message magic is not 0 or 1"),
                    "magic",
                ))
            }
        };
        let key = read_legacy_bytes(&mut body, "key")?;
        let value = read_legacy_bytes(&mut body, "value")?;
        if !body.is_empty() {
            return Err(err(ErrorKind::TrailingBytes(body.len()), "value"));
        }
        Ok(LegacyMessage {
            offset,
            magic,
            attributes,
            timestamp,
            key,
            value,
        })
    }

    /// Appends the encoded entry (offset, messageSize, message with its CRC-32) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        write_message(
            out,
            self.offset,
            self.magic,
            self.attributes,
            self.timestamp,
            self.key.as_deref(),
            self.value.as_deref(),
        )
    }

    /// Bytes [`encode`](Self::encode) appends.
    pub fn encoded_len(&self) -> usize {
        entry_len(self.magic, self.key.as_deref(), self.value.as_deref())
    }

    /// The compression codec; a wrapper message has one, an ordinary message has none.
    pub fn compression(&self) -> Result<Compression> {
        Compression::from_attributes(i16::from(self.attributes))
    }

    /// Whether this is a compressed wrapper message.
    pub fn is_wrapper(&self) -> bool {
        (self.attributes as u8) & Compression::ATTRIBUTE_MASK != 0
    }

    /// The timestamp type (always CreateTime for magic 0, which has no timestamps).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic == MAGIC_V0 {
            TimestampType::CreateTime
        } else {
            TimestampType::from_attributes(i16::from(self.attributes))
        }
    }

    /// The messages this entry stands for, with absolute offsets: itself when uncompressed,
    /// the decompressed inner messages of a wrapper (their CRCs checked when
    /// `opts.verify_crc`, decompression bounded by `opts.max_decompressed_bytes`). Inner
    /// messages must be uncompressed and of the wrapper's magic.
    pub fn inner_messages(&self, opts: &DecodeOptions) -> Result<Vec<LegacyMessage>> {
        let codec = self
            .compression()
            .map_err(|e| e.context("LegacyMessage", "attributes", self.magic.into()))?;
        if codec == Compression::None {
            return Ok(vec![self.clone()]);
        }
        let Some(value) = self.value.as_deref() else {
            return Err(err(
                ErrorKind::InvalidRecords("compressed wrapper message with a null value"),
                "value",
            ));
        };
        let mut inner = compression::decompress(codec, value, opts.max_decompressed_bytes)
            .map_err(|e| e.context("LegacyMessage", "value", self.magic.into()))?;
        let mut messages = Vec::with_capacity(inner.len() / (LOG_OVERHEAD + MESSAGE_OVERHEAD_V1));
        while !inner.is_empty() {
            let message = LegacyMessage::decode(&mut inner, opts.verify_crc)?;
            if message.is_wrapper() {
                return Err(err(
                    ErrorKind::InvalidRecords("compressed message inside a compressed wrapper"),
                    "attributes",
                ));
            }
            if message.magic != self.magic {
                return Err(err(
                    ErrorKind::InvalidRecords("inner message magic differs from the wrapper's"),
                    "magic",
                ));
            }
            messages.push(message);
        }
        if self.magic == MAGIC_V1 {
            let last_relative = messages.last().map_or(0, |m| m.offset);
            let base = self.offset.checked_sub(last_relative).ok_or_else(|| {
                err(
                    ErrorKind::InvalidRecords("inner offsets overflow"),
                    "offset",
                )
            })?;
            let log_append_time = self.timestamp_type() == TimestampType::LogAppendTime;
            for message in &mut messages {
                message.offset = base.checked_add(message.offset).ok_or_else(|| {
                    err(
                        ErrorKind::InvalidRecords("inner offsets overflow"),
                        "offset",
                    )
                })?;
                if log_append_time {
                    message.timestamp = self.timestamp;
                    message.attributes |= TimestampType::ATTRIBUTE_BIT as i8;
                }
            }
        }
        Ok(messages)
    }
}

/// Writes `messages` as a message set of the given `magic` (0 or 1), compressed into one
/// wrapper message when `compression` is not none. Offsets are taken from the messages
/// (absolute); a magic 1 wrapper stores them relative to the first message and carries the
/// last message's offset and the largest timestamp. Each message's magic is replaced by
/// `magic` (magic 0 drops timestamps). zstd needs magic 2 and is an error here.
pub fn write_message_set(
    out: &mut Vec<u8>,
    magic: i8,
    compression: Compression,
    messages: &[LegacyMessage],
) -> Result<()> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(err(
            ErrorKind::InvalidRecords("legacy magic must be 0 or 1"),
            "magic",
        ));
    }
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(());
    };
    let plain_attributes = |m: &LegacyMessage| {
        let keep = if magic == MAGIC_V1 {
            TimestampType::ATTRIBUTE_BIT as i8
        } else {
            0
        };
        m.attributes & keep
    };
    if compression == Compression::None {
        for m in messages {
            write_message(
                out,
                m.offset,
                magic,
                plain_attributes(m),
                m.timestamp,
                m.key.as_deref(),
                m.value.as_deref(),
            )?;
        }
        return Ok(());
    }
    if compression == Compression::Zstd {
        return Err(err(
            ErrorKind::InvalidRecords("zstd compression needs magic 2"),
            "attributes",
        ));
    }
    let inner_len: usize = messages
        .iter()
        .map(|m| entry_len(magic, m.key.as_deref(), m.value.as_deref()))
        .sum();
    let mut inner = Vec::with_capacity(inner_len);
    for m in messages {
        let offset = if magic == MAGIC_V1 {
            m.offset.wrapping_sub(first.offset)
        } else {
            m.offset
        };
        write_message(
            &mut inner,
            offset,
            magic,
            plain_attributes(m),
            m.timestamp,
            m.key.as_deref(),
            m.value.as_deref(),
        )?;
    }
    let packed = compression::compress_for_magic(compression, magic, &inner)?;
    let log_append_time =
        magic == MAGIC_V1 && first.timestamp_type() == TimestampType::LogAppendTime;
    let attributes = compression.id() as i8
        | if log_append_time {
            TimestampType::ATTRIBUTE_BIT as i8
        } else {
            0
        };
    let timestamp = messages
        .iter()
        .map(|m| m.timestamp)
        .max()
        .unwrap_or(NO_TIMESTAMP);
    write_message(
        out,
        last.offset,
        magic,
        attributes,
        timestamp,
        None,
        Some(&packed),
    )
}

/// Bytes of one message-set entry.
fn entry_len(magic: i8, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    let overhead = if magic == MAGIC_V0 {
        MESSAGE_OVERHEAD_V0
    } else {
        MESSAGE_OVERHEAD_V1
    };
    LOG_OVERHEAD + overhead + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len)
}

/// Appends one entry: offset, messageSize, crc, magic, attributes, [timestamp], key, value.
fn write_message(
    out: &mut Vec<u8>,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<()> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(err(
            ErrorKind::InvalidRecords("legacy magic must be 0 or 1"),
            "magic",
        ));
    }
    let total = entry_len(magic, key, value);
    let size = i32::try_from(total - LOG_OVERHEAD)
        .map_err(|_| err(ErrorKind::ValueTooLarge(total as u64), "messageSize"))?;
    out.reserve(total);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == MAGIC_V1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                // Bounded by the messageSize check above.
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    let crc = crc32fast::hash(out.get(crc_at + 4..).unwrap_or_default());
    if let Some(slot) = out.get_mut(crc_at..crc_at + 4) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

/// Reads legacy BYTES: int32 length (-1 null), then the bytes, sliced from `buf`.
fn read_legacy_bytes(buf: &mut Bytes, field: &'static str) -> Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Err(err(
            ErrorKind::Truncated {
                needed: 4,
                remaining: buf.len(),
            },
            field,
        ));
    }
    let len = buf.get_i32();
    if len == -1 {
        return Ok(None);
    }
    let Ok(len) = usize::try_from(len) else {
        return Err(err(ErrorKind::NegativeLength(i64::from(len)), field));
    };
    if len > buf.len() {
        return Err(err(
            ErrorKind::LengthExceedsInput {
                length: len as u64,
                remaining: buf.len(),
            },
            field,
        ));
    }
    Ok(Some(buf.split_to(len)))
}

#[cold]
fn err(kind: ErrorKind, field: &'static str) -> Error {
    Error::new(kind).context("LegacyMessage", field, -1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn messages(magic: i8, first_offset: i64, n: usize) -> Vec<LegacyMessage> {
        (0..n)
            .map(|i| {
                LegacyMessage::new(
                    magic,
                    first_offset + i as i64,
                    1_600_000_000_000 + i as i64,
                    (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
                    (i % 4 != 0).then(|| Bytes::from(format!("value-{i}").repeat(i + 1))),
                )
            })
            .collect()
    }

    fn decode_all(mut buf: Bytes, opts: &DecodeOptions) -> Vec<LegacyMessage> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let entry = LegacyMessage::decode(&mut buf, true).unwrap();
            out.extend(entry.inner_messages(opts).unwrap());
        }
        out
    }

    #[test]
    fn uncompressed_round_trip_magic_0_and_1() {
        for magic in [MAGIC_V0, MAGIC_V1] {
            let msgs = messages(magic, 500, 7);
            let mut out = Vec::new();
            write_message_set(&mut out, magic, Compression::None, &msgs).unwrap();
            let back = decode_all(Bytes::from(out.clone()), &DecodeOptions::default());
            assert_eq!(back, msgs);
            // Encoding each message gives the same bytes.
            let mut again = Vec::new();
            for m in &back {
                m.encode(&mut again).unwrap();
            }
            assert_eq!(again, out);
            assert_eq!(back[1].encoded_len(), {
                let mut one = Vec::new();
                back[1].encode(&mut one).unwrap();
                one.len()
            });
        }
    }

    #[test]
    fn known_magic_0_encoding() {
        // offset 0, size 20, crc, magic 0, attributes 0, null key, value "abcdef"
        let mut out = Vec::new();
        LegacyMessage::new(0, 0, 0, None, Some(Bytes::from_static(b"abcdef")))
            .encode(&mut out)
            .unwrap();
        assert_eq!(&out[..12], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20]);
        assert_eq!(
            &out[16..],
            &[0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 6, b'a', b'b', b'c', b'd', b'e', b'f']
        );
        let crc = u32::from_be_bytes(out[12..16].try_into().unwrap());
        assert_eq!(crc, crc32fast::hash(&out[16..]));
    }

    #[test]
    fn compressed_wrappers_give_absolute_offsets() {
        for magic in [MAGIC_V0, MAGIC_V1] {
            for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
                let msgs = messages(magic, 1000, 5);
                let mut out = Vec::new();
                write_message_set(&mut out, magic, codec, &msgs).unwrap();
                let mut buf = Bytes::from(out);
                let wrapper = LegacyMessage::decode(&mut buf, true).unwrap();
                assert!(buf.is_empty());
                assert!(wrapper.is_wrapper());
                assert_eq!(wrapper.compression().unwrap(), codec);
                assert_eq!(wrapper.offset, 1004, "wrapper carries the last offset");
                if magic == MAGIC_V1 {
                    assert_eq!(wrapper.timestamp, 1_600_000_000_004);
                }
                let inner = wrapper.inner_messages(&DecodeOptions::default()).unwrap();
                assert_eq!(inner, msgs, "magic {magic} {codec:?}");
            }
        }
    }

    #[test]
    fn magic_0_lz4_wrapper_uses_the_old_checksum() {
        let msgs = messages(MAGIC_V0, 0, 3);
        let mut out = Vec::new();
        write_message_set(&mut out, MAGIC_V0, Compression::Lz4, &msgs).unwrap();
        let wrapper = LegacyMessage::decode(&mut Bytes::from(out), true).unwrap();
        let frame = wrapper.value.clone().unwrap();
        let correct = compression::lz4::compress(b"", false);
        assert_eq!(&frame[4..6], &correct[4..6]);
        assert_ne!(frame[6], correct[6]);
        assert_eq!(
            wrapper.inner_messages(&DecodeOptions::default()).unwrap(),
            msgs
        );
    }

    #[test]
    fn log_append_time_wrapper_sets_inner_timestamps() {
        let msgs = messages(MAGIC_V1, 0, 3);
        let mut out = Vec::new();
        write_message_set(&mut out, MAGIC_V1, Compression::Gzip, &msgs).unwrap();
        let mut wrapper = LegacyMessage::decode(&mut Bytes::from(out), true).unwrap();
        wrapper.attributes |= TimestampType::ATTRIBUTE_BIT as i8;
        wrapper.timestamp = 99;
        let inner = wrapper.inner_messages(&DecodeOptions::default()).unwrap();
        assert!(inner
            .iter()
            .all(|m| m.timestamp == 99 && m.timestamp_type() == TimestampType::LogAppendTime));
    }

    #[test]
    fn crc_mismatch_and_truncation() {
        let msgs = messages(MAGIC_V1, 0, 2);
        let mut out = Vec::new();
        write_message_set(&mut out, MAGIC_V1, Compression::None, &msgs).unwrap();
        let mut bad = out.clone();
        bad[20] ^= 1; // inside the first message's timestamp
        let e = LegacyMessage::decode(&mut Bytes::from(bad.clone()), true).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::CrcMismatch { .. }));
        assert!(LegacyMessage::decode(&mut Bytes::from(bad), false).is_ok());
        let first_len = msgs[0].encoded_len();
        for cut in 0..first_len {
            assert!(LegacyMessage::decode(&mut Bytes::copy_from_slice(&out[..cut]), true).is_err());
        }
        // Compressed: every truncation of the wrapper fails cleanly.
        let mut packed = Vec::new();
        write_message_set(&mut packed, MAGIC_V1, Compression::Snappy, &msgs).unwrap();
        for cut in 0..packed.len() {
            assert!(
                LegacyMessage::decode(&mut Bytes::copy_from_slice(&packed[..cut]), true).is_err()
            );
        }
    }

    #[test]
    fn hostile_wrappers_are_errors() {
        let opts = DecodeOptions::default();
        // Wrapper with a null value.
        let mut out = Vec::new();
        write_message(&mut out, 0, 1, 1, 0, None, None).unwrap();
        let m = LegacyMessage::decode(&mut Bytes::from(out), true).unwrap();
        assert!(m.inner_messages(&opts).is_err());
        // Wrapper whose value is garbage / a nested wrapper.
        let nested = {
            let mut inner = Vec::new();
            write_message_set(&mut inner, 1, Compression::Gzip, &messages(1, 0, 2)).unwrap();
            compression::compress(Compression::Gzip, &inner).unwrap()
        };
        for value in [&b"garbage"[..], &nested[..]] {
            let mut out = Vec::new();
            write_message(&mut out, 0, 1, 1, 0, None, Some(value)).unwrap();
            let m = LegacyMessage::decode(&mut Bytes::from(out), true).unwrap();
            assert!(m.inner_messages(&opts).is_err());
        }
        // Bad magic and bad sizes.
        let mut out = Vec::new();
        write_message(&mut out, 0, 1, 0, 0, None, None).unwrap();
        out[16] = 2;
        assert!(LegacyMessage::decode(&mut Bytes::from(out.clone()), false).is_err());
        out[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(LegacyMessage::decode(&mut Bytes::from(out), false).is_err());
        assert!(
            write_message_set(&mut Vec::new(), 1, Compression::Zstd, &messages(1, 0, 1)).is_err()
        );
    }
}
