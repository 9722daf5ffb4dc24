//! One record of a v2 batch and its headers.
//!
//! Owns: [`Record`] and [`RecordHeader`], their zero-copy decoder, their encoder and the
//! size arithmetic the batch builder relies on. Must not: know the batch around a record
//! (offsets and timestamps here are deltas from the batch's base offset and base timestamp).
//!
//! ```text
//! Record =>
//!   length            varint    bytes of the rest of the record
//!   attributes        int8      unused, 0
//!   timestampDelta    varlong   timestamp - batch baseTimestamp
//!   offsetDelta       varint    offset - batch baseOffset
//!   keyLength         varint    -1 for a null key
//!   key               keyLength bytes
//!   valueLength       varint    -1 for a null value
//!   value             valueLength bytes
//!   headersCount      varint
//!   headers           [Header]
//!
//! Header =>
//!   headerKeyLength   varint    never null
//!   headerKey         headerKeyLength bytes of UTF-8
//!   headerValueLength varint    -1 for a null value
//!   value             headerValueLength bytes
//! ```
//! (`varint`/`varlong` are zigzag-encoded, see [`crate::wire`].)

use bytes::{Buf, Bytes};

use crate::error::{Error, ErrorKind, Result};
use crate::wire::{
    read_varint, read_varlong, varint_len, varlong_len, zigzag32, zigzag64, StrBytes,
};

/// Smallest possible encoded record: length, attributes, timestampDelta, offsetDelta,
/// keyLength, valueLength and headersCount of one byte each.
pub const MIN_RECORD_SIZE: usize = 7;

/// A header of a record: a UTF-8 key (duplicates allowed, order kept) and an optional value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// The header key.
    pub key: StrBytes,
    /// The header value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// A header with key `key` and value `value`.
    pub fn new(key: impl Into<StrBytes>, value: Option<Bytes>) -> Self {
        RecordHeader {
            key: key.into(),
            value,
        }
    }
}

/// Anything that can be written as a record header: [`RecordHeader`], `(&str, Option<&[u8]>)`
/// and `(&str, &[u8])`. Lets the batch builder take borrowed headers without allocating.
pub trait AsRecordHeader {
    /// The header key, UTF-8.
    fn header_key(&self) -> &str;
    /// The header value; `None` is a null value.
    fn header_value(&self) -> Option<&[u8]>;
}

impl AsRecordHeader for RecordHeader {
    fn header_key(&self) -> &str {
        self.key.as_str()
    }
    fn header_value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

impl AsRecordHeader for (&str, Option<&[u8]>) {
    fn header_key(&self) -> &str {
        self.0
    }
    fn header_value(&self) -> Option<&[u8]> {
        self.1
    }
}

impl AsRecordHeader for (&str, &[u8]) {
    fn header_key(&self) -> &str {
        self.0
    }
    fn header_value(&self) -> Option<&[u8]> {
        Some(self.1)
    }
}

/// A record of a v2 batch. Decoded from [`Bytes`], its key, value and header values are
/// slices of the (decompressed) input, not copies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// Record attributes; unused by Kafka so far, 0.
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The value; `None` is a null value (a tombstone in compacted topics).
    pub value: Option<Bytes>,
    /// The headers, in wire order, duplicates kept.
    pub headers: Vec<RecordHeader>,
}

impl Record {
    /// A record with this key and value, zero deltas and no headers.
    pub fn new(key: Option<Bytes>, value: Option<Bytes>) -> Self {
        Record {
            key,
            value,
            ..Record::default()
        }
    }

    /// Decodes one record (length prefix included) from the front of `buf`, advancing it.
    /// The record's length must match its fields exactly.
    pub fn decode(buf: &mut Bytes) -> Result<Record> {
        let data: &[u8] = buf;
        let mut pos = 0usize;
        let length = varint_at(data, &mut pos).map_err(|e| ctx(e, "length"))?;
        let length = checked_len(length, data.len() - pos, "length")?;
        // Fields are read straight from the input (no intermediate slice of the record body);
        // a record whose fields do not end exactly at its declared length is rejected below,
        // whichever side it misses on.
        let start = pos;
        let record = Self::decode_body(buf, &mut pos)?;
        if pos - start != length {
            return Err(Error::new(ErrorKind::InvalidRecords(
                "record length does not match its fields",
            ))
            .context("Record", "length", 2));
        }
        buf.advance(pos);
        Ok(record)
    }

    /// Reads the fields at `*at` of `buf` with a slice cursor (one-byte varints inline,
    /// no reference-count traffic while parsing), then takes the key, value and header
    /// slices of `buf`; `at` ends after the record. `buf` itself does not move.
    fn decode_body(buf: &Bytes, at: &mut usize) -> Result<Record> {
        let data: &[u8] = buf;
        let mut pos = *at;
        let Some(&attributes) = data.get(pos) else {
            return Err(ctx(truncated(1, 0), "attributes"));
        };
        pos += 1;
        let timestamp_delta = varlong_at(data, &mut pos).map_err(|e| ctx(e, "timestampDelta"))?;
        let offset_delta = varint_at(data, &mut pos).map_err(|e| ctx(e, "offsetDelta"))?;
        let key = nullable_at(data, &mut pos, "key")?;
        let value = nullable_at(data, &mut pos, "value")?;
        let count = varint_at(data, &mut pos).map_err(|e| ctx(e, "headersCount"))?;
        if count < 0 {
            return Err(ctx(
                Error::new(ErrorKind::NegativeLength(i64::from(count))),
                "headersCount",
            ));
        }
        // Each header takes at least 2 bytes, so the input bounds the allocation.
        let mut headers = Vec::with_capacity((count as usize).min((data.len() - pos) / 2));
        for _ in 0..count {
            let key_len = varint_at(data, &mut pos).map_err(|e| ctx(e, "headerKeyLength"))?;
            let key_len = checked_len(key_len, data.len() - pos, "headerKeyLength")?;
            let key_range = pos..pos + key_len;
            let key_bytes = &data[key_range.clone()];
            // Header keys are nearly always ASCII: a word-at-a-time check, then full UTF-8
            // validation only for the rest.
            if !key_bytes.is_ascii() && std::str::from_utf8(key_bytes).is_err() {
                return Err(ctx(Error::new(ErrorKind::InvalidUtf8), "headerKey"));
            }
            pos += key_len;
            let value = nullable_at(data, &mut pos, "headerValue")?;
            headers.push(RecordHeader {
                key: StrBytes::from_validated(buf.slice(key_range)),
                value: value.map(|r| buf.slice(r)),
            });
        }
        let record = Record {
            attributes: attributes as i8,
            timestamp_delta,
            offset_delta,
            key: key.map(|r| buf.slice(r)),
            value: value.map(|r| buf.slice(r)),
            headers,
        };
        *at = pos;
        Ok(record)
    }

    /// Appends the encoded record (length prefix included) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        write_record(
            out,
            self.attributes,
            self.timestamp_delta,
            self.offset_delta,
            self.key.as_deref(),
            self.value.as_deref(),
            &self.headers,
        )
    }

    /// Bytes [`encode`](Self::encode) appends (length prefix included).
    pub fn encoded_len(&self) -> usize {
        let body = body_len(
            self.timestamp_delta,
            self.offset_delta,
            self.key.as_deref(),
            self.value.as_deref(),
            &self.headers,
        );
        varint_len(i32::try_from(body).unwrap_or(i32::MAX)) + body
    }
}

/// Reads a zigzag varint at `*pos` of `data`, advancing `pos`: a one-byte value inline,
/// longer ones through [`read_varint`] (same errors).
#[inline(always)]
fn varint_at(data: &[u8], pos: &mut usize) -> Result<i32> {
    if let Some(&b) = data.get(*pos) {
        if b & 0x80 == 0 {
            *pos += 1;
            return Ok(i32::from(b >> 1) ^ -i32::from(b & 1));
        }
    }
    varint_slow(data, pos)
}

#[inline(never)]
fn varint_slow(data: &[u8], pos: &mut usize) -> Result<i32> {
    let mut rest = data.get(*pos..).unwrap_or_default();
    let before = rest.len();
    let v = read_varint(&mut rest)?;
    *pos += before - rest.len();
    Ok(v)
}

/// Reads a zigzag varlong at `*pos` of `data`, advancing `pos` (see [`varint_at`]).
#[inline(always)]
fn varlong_at(data: &[u8], pos: &mut usize) -> Result<i64> {
    if let Some(&b) = data.get(*pos) {
        if b & 0x80 == 0 {
            *pos += 1;
            return Ok(i64::from(b >> 1) ^ -i64::from(b & 1));
        }
    }
    let mut rest = data.get(*pos..).unwrap_or_default();
    let before = rest.len();
    let v = read_varlong(&mut rest)?;
    *pos += before - rest.len();
    Ok(v)
}

/// Reads a varint length at `*pos`, then skips that many bytes: their range, or `None` for
/// -1 (null).
#[inline(always)]
fn nullable_at(
    data: &[u8],
    pos: &mut usize,
    field: &'static str,
) -> Result<Option<std::ops::Range<usize>>> {
    let len = varint_at(data, pos).map_err(|e| ctx(e, field))?;
    if len == -1 {
        return Ok(None);
    }
    let len = checked_len(len, data.len() - *pos, field)?;
    let range = *pos..*pos + len;
    *pos += len;
    Ok(Some(range))
}

/// A decoded length as `usize`, checked non-negative and within `remaining`.
#[inline]
fn checked_len(len: i32, remaining: usize, field: &'static str) -> Result<usize> {
    let Ok(n) = usize::try_from(len) else {
        return Err(ctx(
            Error::new(ErrorKind::NegativeLength(i64::from(len))),
            field,
        ));
    };
    if n > remaining {
        return Err(ctx(
            Error::new(ErrorKind::LengthExceedsInput {
                length: n as u64,
                remaining,
            }),
            field,
        ));
    }
    Ok(n)
}

#[cold]
fn ctx(e: Error, field: &'static str) -> Error {
    e.context("Record", field, 2)
}

#[cold]
fn truncated(needed: usize, remaining: usize) -> Error {
    Error::new(ErrorKind::Truncated { needed, remaining })
}

/// Bytes of a nullable varint-prefixed field.
#[inline(always)]
fn field_len(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => 1,
        Some(b) => varint_len(b.len() as i32) + b.len(),
    }
}

/// Bytes of a record after its length prefix. Lengths above `i32::MAX` are not checked
/// here (see [`write_record`]).
#[inline(always)]
pub(crate) fn body_len<H: AsRecordHeader>(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> usize {
    let mut len = 1
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + field_len(key)
        + field_len(value)
        + varint_len(headers.len() as i32);
    for h in headers {
        len += field_len(Some(h.header_key().as_bytes())) + field_len(h.header_value());
    }
    len
}

/// Appends one encoded record to `out`: the hot path of the batch builder.
///
/// Records without headers whose fields are small (every varint at most 4 bytes: deltas
/// below 2^27, key below 1 MiB, value below 64 MiB) take a fast path: the varints are packed
/// in registers, which also yields the record length without a separate size computation,
/// and are stored as whole words; key and value are copied once. Anything else takes the
/// general path.
#[inline(always)]
pub(crate) fn write_record<H: AsRecordHeader>(
    out: &mut Vec<u8>,
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> Result<()> {
    let timestamp = zigzag64(timestamp_delta);
    let offset = zigzag32(offset_delta);
    let key_len = key.map_or(0, <[u8]>::len);
    let value_len = value.map_or(0, <[u8]>::len);
    if !(headers.is_empty()
        && timestamp < FAST_4
        && offset < FAST_4
        && key_len < 1 << 20
        && value_len < 1 << 26)
    {
        return write_record_general(
            out,
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        );
    }
    // Lengths are below 2^26 here, so the casts are exact.
    let (packed_key, key_bytes) = pack_uvarint4(key.map_or(1, |_| zigzag32(key_len as i32)));
    let (packed_value, value_bytes) =
        pack_uvarint4(value.map_or(1, |_| zigzag32(value_len as i32)));
    let (packed_timestamp, timestamp_bytes) = pack_uvarint4(timestamp);
    let (packed_offset, offset_bytes) = pack_uvarint4(offset);
    // attributes + varints + key + value + headersCount (0): below 2^27.
    let body =
        1 + timestamp_bytes + offset_bytes + key_bytes + key_len + value_bytes + value_len + 1;
    let (packed_length, length_bytes) = pack_uvarint4(zigzag32(body as i32));
    out.reserve(length_bytes + body + PREFIX_SLACK);
    // The prefix (length, attributes, timestampDelta, offsetDelta, keyLength; at most 16
    // bytes) is written as 4-byte words into zeroed slack, which is then cut back; key and
    // value are copied straight in. No byte is written twice except the few zeros.
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_SLACK]);
    if let Some(dst) = out.get_mut(start..) {
        store(dst, 0, &(packed_length as u32).to_le_bytes());
        let mut at = length_bytes;
        store(dst, at, &[attributes as u8]);
        at += 1;
        store(dst, at, &(packed_timestamp as u32).to_le_bytes());
        at += timestamp_bytes;
        store(dst, at, &(packed_offset as u32).to_le_bytes());
        at += offset_bytes;
        store(dst, at, &(packed_key as u32).to_le_bytes());
        at += key_bytes;
        out.truncate(start + at);
    }
    if let Some(k) = key {
        out.extend_from_slice(k);
    }
    let at = out.len();
    out.extend_from_slice(&(packed_value as u32).to_le_bytes());
    out.truncate(at + value_bytes);
    if let Some(v) = value {
        out.extend_from_slice(v);
    }
    out.push(0);
    Ok(())
}

/// Zeroed bytes the fast path's prefix is written into: 16 bytes of prefix at most, the last
/// varint stored as a 4-byte word from byte 13.
const PREFIX_SLACK: usize = 20;

/// Copies `bytes` into `dst` at `at` (always in bounds for the callers above).
#[inline(always)]
fn store(dst: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = dst.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

/// The general record writer: any field sizes, headers.
#[inline(never)]
fn write_record_general<H: AsRecordHeader>(
    out: &mut Vec<u8>,
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[H],
) -> Result<()> {
    let body = body_len(timestamp_delta, offset_delta, key, value, headers);
    // Every field length is below the body length, so one check covers them all.
    let Ok(body_i32) = i32::try_from(body) else {
        return Err(
            Error::new(ErrorKind::ValueTooLarge(body as u64)).context("Record", "length", 2)
        );
    };
    out.reserve(body + 5);
    put_uvarint(out, zigzag32(body_i32));
    out.push(attributes as u8);
    put_uvarint(out, zigzag64(timestamp_delta));
    put_uvarint(out, zigzag32(offset_delta));
    put_field(out, key);
    put_field(out, value);
    put_uvarint(out, zigzag32(headers.len() as i32));
    for h in headers {
        put_field(out, Some(h.header_key().as_bytes()));
        put_field(out, h.header_value());
    }
    Ok(())
}

/// Varints below this take at most 4 bytes.
const FAST_4: u64 = 1 << 28;

/// Packs the unsigned varint of `v` (below 2^28) into the low bytes of a word, returning
/// it with its byte count (1 to 4). One and two bytes, the common sizes, are branches of
/// their own; longer ones are assembled branch-free.
#[inline(always)]
fn pack_uvarint4(v: u64) -> (u64, usize) {
    if v < 1 << 7 {
        return (v, 1);
    }
    if v < 1 << 14 {
        return ((v & 0x7f) | 0x80 | ((v >> 7) << 8), 2);
    }
    let spread =
        (v & 0x7f) | ((v << 1) & 0x7f00) | ((v << 2) & 0x7f_0000) | ((v << 3) & 0x7f00_0000);
    let bytes = 3 + usize::from(v >= 1 << 21);
    // Continuation bits on every byte but the last.
    let continuation = 0x0080_8080u64 & ((1u64 << (8 * (bytes - 1))) - 1);
    (spread | continuation, bytes)
}

/// Writes a nullable varint-prefixed field (length already checked by the caller).
#[inline(always)]
fn put_field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(1), // zigzag(-1)
        Some(b) => {
            put_uvarint(out, zigzag32(b.len() as i32));
            out.extend_from_slice(b);
        }
    }
}

/// Writes an unsigned varint byte by byte (no temporary buffer: copying one out would stall
/// on store forwarding, and a `memcpy` call costs more than the two or three pushes).
#[inline(always)]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            attributes: 0,
            timestamp_delta: -5,
            offset_delta: 300,
            key: Some(Bytes::from_static(b"key-1")),
            value: None,
            headers: vec![
                RecordHeader::new("dup", Some(Bytes::from_static(b"a"))),
                RecordHeader::new("other", None),
                RecordHeader::new("dup", Some(Bytes::from_static(b""))),
            ],
        }
    }

    #[test]
    fn round_trip_keeps_header_order_duplicates_and_nulls() {
        let record = sample();
        let mut out = Vec::new();
        record.encode(&mut out).unwrap();
        assert_eq!(out.len(), record.encoded_len());
        let mut buf = Bytes::from(out);
        let back = Record::decode(&mut buf).unwrap();
        assert!(buf.is_empty());
        assert_eq!(back, record);
        assert_eq!(back.headers[0].key, "dup");
        assert_eq!(back.headers[2].key, "dup");
        assert_eq!(back.headers[1].value, None);
        assert_eq!(back.headers[2].value.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn decoding_does_not_copy() {
        let mut out = Vec::new();
        sample().encode(&mut out).unwrap();
        let input = Bytes::from(out);
        let range = input.as_ptr_range();
        let back = Record::decode(&mut input.clone()).unwrap();
        let key = back.key.unwrap();
        assert!(range.contains(&key.as_ptr()), "key is a slice of the input");
        let header_value = back.headers[0].value.clone().unwrap();
        assert!(range.contains(&header_value.as_ptr()));
    }

    #[test]
    fn known_encoding() {
        // Kafka's DefaultRecord for key "k", value "v", offsetDelta 1, timestampDelta 2,
        // no headers: length 8, attributes 0, ts 2 -> 4, offset 1 -> 2, key len 1 -> 2 'k',
        // value len 1 -> 2 'v', 0 headers.
        let record = Record {
            timestamp_delta: 2,
            offset_delta: 1,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            ..Record::default()
        };
        let mut out = Vec::new();
        record.encode(&mut out).unwrap();
        assert_eq!(out, [16, 0, 4, 2, 2, b'k', 2, b'v', 0]);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut out = Vec::new();
        sample().encode(&mut out).unwrap();
        for cut in 0..out.len() {
            assert!(Record::decode(&mut Bytes::copy_from_slice(&out[..cut])).is_err());
        }
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // Negative key length -2, header count of 2^30, wrong record length.
        let cases: [&[u8]; 4] = [
            &[8, 0, 0, 0, 3, 0, 0, 0],
            &[18, 0, 0, 0, 1, 1, 0x80, 0x80, 0x80, 0x08],
            &[14, 0, 0, 0, 1, 1, 2, 1, b'k', 1, 0, 0, 0, 0],
            &[4, 0, 0, 0, 1, 1, 0],
        ];
        for case in cases {
            assert!(
                Record::decode(&mut Bytes::copy_from_slice(case)).is_err(),
                "{case:?}"
            );
        }
        // Invalid UTF-8 in a header key.
        let bad_utf8 = [18, 0, 0, 0, 1, 1, 2, 2, 0xff, 1];
        assert_eq!(
            Record::decode(&mut Bytes::copy_from_slice(&bad_utf8))
                .unwrap_err()
                .kind(),
            &ErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn non_ascii_header_keys_and_back_to_back_records_decode() {
        let first = Record {
            key: Some(Bytes::from_static(b"k")),
            headers: vec![RecordHeader::new(
                "clé-ключ-鍵",
                Some(Bytes::from_static(b"x")),
            )],
            ..Record::default()
        };
        let second = Record {
            offset_delta: 200,
            value: Some(Bytes::from(vec![9u8; 300])),
            headers: vec![RecordHeader::new("plain", None)],
            ..Record::default()
        };
        let mut out = Vec::new();
        first.encode(&mut out).unwrap();
        second.encode(&mut out).unwrap();
        let mut buf = Bytes::from(out);
        assert_eq!(Record::decode(&mut buf).unwrap(), first);
        assert_eq!(Record::decode(&mut buf).unwrap(), second);
        assert!(buf.is_empty());
    }

    #[test]
    fn fast_and_slow_paths_agree() {
        let big = vec![7u8; 3 << 20];
        for (ts, offset, key_len) in [
            (0i64, 0i32, 0usize),
            (-1, 1, 5),
            (1 << 27, 1 << 26, (1 << 20) - 1),
            (1 << 40, 0, 3),
            (i64::MIN, i32::MAX, 1 << 20),
            (5, -7, 3 << 20),
        ] {
            let key = &big[..key_len];
            let record = Record {
                attributes: 0,
                timestamp_delta: ts,
                offset_delta: offset,
                key: Some(Bytes::copy_from_slice(key)),
                value: Some(Bytes::from_static(b"v")),
                headers: Vec::new(),
            };
            let mut out = Vec::new();
            record.encode(&mut out).unwrap();
            let back = Record::decode(&mut Bytes::from(out.clone())).unwrap();
            assert_eq!(back, record);
            assert_eq!(out.len(), record.encoded_len());
        }
    }

    #[test]
    fn packed_varints_match_the_reference() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
        ] {
            let (packed, n) = pack_uvarint4(v);
            let mut reference = Vec::new();
            crate::wire::write_uvarint(&mut reference, v);
            assert_eq!(&packed.to_le_bytes()[..n], &reference[..], "{v}");
            assert_eq!(packed >> (8 * n), 0);
        }
    }

    #[test]
    fn varints_of_every_width() {
        for v in [0u64, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut fast = Vec::new();
            put_uvarint(&mut fast, v);
            let mut reference = Vec::new();
            crate::wire::write_uvarint(&mut reference, v);
            assert_eq!(fast, reference);
        }
    }
}
