//! Framing: the 4-byte size prefix, request and response headers, header-version rules,
//! and whole-request / whole-response encode and decode.
//!
//! ```text
//! Frame            => Size Payload
//!   Size           int32, bytes of Payload (checked against a limit before any allocation)
//! Request payload  => RequestHeader Body
//!   RequestHeader  v0: api_key int16, api_version int16, correlation_id int32
//!                  v1: v0 + client_id nullable string (always classic, never compact)
//!                  v2: v1 + tagged fields             (flexible request versions)
//! Response payload => ResponseHeader Body
//!   ResponseHeader v0: correlation_id int32
//!                  v1: v0 + tagged fields             (flexible response versions)
//! ```
//! Header versions follow Apache Kafka: a request of a flexible version uses header v2,
//! otherwise v1 (ControlledShutdown v0 alone uses v0); a response of a flexible version uses
//! header v1, otherwise v0, **except ApiVersions, whose responses always use v0** so that a
//! client can read the error of a version the broker does not support.
//!
//! The functions here work on frames **without** the size prefix, except
//! [`split_frame`] (which strips it) and the `write_*` functions (which add it).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{Error, ErrorKind, Result};
#[cfg(any(feature = "client", feature = "broker"))]
use crate::generated::ResponseBody;
use crate::generated::{ApiKey, RequestBody, RequestHeader, ResponseHeader};
use crate::message::{Decode, Encode, Request, Response};
use crate::wire::StrBytes;

/// Apache Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// The request header version for a request of `api_key` at `api_version`.
pub fn request_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    if api_key == ApiKey::ControlledShutdown && api_version == 0 {
        return 0;
    }
    match api_key.request_flexible_min() {
        Some(min) if api_version >= min => 2,
        _ => 1,
    }
}

/// The response header version for a response of `api_key` at `api_version`.
pub fn response_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        return 0;
    }
    match api_key.response_flexible_min() {
        Some(min) if api_version >= min => 1,
        _ => 0,
    }
}

/// Takes one complete frame off the front of a stream buffer, without its size prefix.
///
/// Returns `Ok(None)` while the frame is incomplete (reserving room for it only after its
/// size passed the limit). A negative size or one above `max_size` is
/// [`ErrorKind::FrameTooLarge`]: the connection should be closed.
pub fn split_frame(buf: &mut BytesMut, max_size: usize) -> Result<Option<BytesMut>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size as usize > max_size {
        return Err(Error::new(ErrorKind::FrameTooLarge {
            size: i64::from(size),
            max: max_size,
        }));
    }
    let total = 4 + size as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(4);
    Ok(Some(frame))
}

/// The api key, api version and correlation id at the start of a request frame, read
/// without decoding anything else (a broker answers unknown APIs with these).
pub fn peek_request_header(frame: &[u8]) -> Result<(i16, i16, i32)> {
    if frame.len() < 8 {
        return Err(Error::new(ErrorKind::Truncated {
            needed: 8,
            remaining: frame.len(),
        })
        .context("RequestHeader", "", -1));
    }
    Ok((
        i16::from_be_bytes([frame[0], frame[1]]),
        i16::from_be_bytes([frame[2], frame[3]]),
        i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    ))
}

/// A decoded request: its header and body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    /// The request header (api key, version, correlation id, client id).
    pub header: RequestHeader,
    /// The body.
    pub body: RequestBody,
}

impl RequestFrame {
    /// The API of the request.
    pub fn api_key(&self) -> ApiKey {
        self.body.api_key()
    }
}

#[cfg(feature = "broker")]
/// Decodes a request frame (without its size prefix). Bytes left over after the body are
/// [`ErrorKind::TrailingBytes`]; a broker wants [`decode_request_lenient`].
pub fn decode_request(frame: Bytes) -> Result<RequestFrame> {
    let (req, trailing) = decode_request_lenient(frame)?;
    if trailing > 0 {
        return Err(Error::new(ErrorKind::TrailingBytes(trailing)).context(
            req.api_key().name(),
            "",
            req.header.request_api_version,
        ));
    }
    Ok(req)
}

#[cfg(feature = "broker")]
/// Decodes a request frame (without its size prefix) as Apache Kafka's broker does:
/// bytes left after the body are ignored (librdkafka 2.x pads some Metadata v12 requests with
/// three bytes after the tagged fields) and their count is returned beside the request.
pub fn decode_request_lenient(mut frame: Bytes) -> Result<(RequestFrame, usize)> {
    let (key, version, _) = peek_request_header(&frame)?;
    let api_key = ApiKey::from_i16(key).ok_or_else(|| {
        Error::new(ErrorKind::UnknownApiKey(key)).context("RequestHeader", "request_api_key", -1)
    })?;
    if !api_key.valid_versions().contains(version) {
        return Err(Error::new(ErrorKind::UnsupportedVersion).context(
            api_key.name(),
            "request_api_version",
            version,
        ));
    }
    let header = RequestHeader::decode(&mut frame, request_header_version(api_key, version))?;
    let body = RequestBody::decode(api_key, &mut frame, version)?;
    Ok((RequestFrame { header, body }, frame.len()))
}

#[cfg(feature = "client")]
/// Decodes a response frame (without its size prefix) to a request of `api_key` at
/// `api_version`.
pub fn decode_response(
    mut frame: Bytes,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(ResponseHeader, ResponseBody)> {
    let header = ResponseHeader::decode(&mut frame, response_header_version(api_key, api_version))?;
    let body = ResponseBody::decode(api_key, &mut frame, api_version)?;
    crate::wire::expect_end(&frame).map_err(|e| e.context(api_key.name(), "", api_version))?;
    Ok((header, body))
}

/// Decodes a typed response frame (without its size prefix) at `api_version`.
pub fn decode_typed_response<R: Response + Decode>(
    mut frame: Bytes,
    api_version: i16,
) -> Result<(ResponseHeader, R)> {
    let header =
        ResponseHeader::decode(&mut frame, response_header_version(R::API_KEY, api_version))?;
    let body = R::decode(&mut frame, api_version)?;
    crate::wire::expect_end(&frame).map_err(|e| e.context(R::NAME, "", api_version))?;
    Ok((header, body))
}

fn write_sized(
    out: &mut BytesMut,
    len: usize,
    body: impl FnOnce(&mut BytesMut) -> Result<()>,
) -> Result<()> {
    let size = i32::try_from(len).map_err(|_| Error::new(ErrorKind::ValueTooLarge(len as u64)))?;
    out.reserve(4 + len);
    out.put_i32(size);
    let start = out.len();
    body(out)?;
    debug_assert_eq!(out.len() - start, len, "encoded_len disagrees with encode");
    Ok(())
}

#[cfg(feature = "client")]
/// Appends a whole request (size prefix, header, body) to `out`. The header's api key and
/// version must match the body; its version decides the header layout.
pub fn write_request(out: &mut BytesMut, header: &RequestHeader, body: &RequestBody) -> Result<()> {
    let api_key = body.api_key();
    let version = header.request_api_version;
    if header.request_api_key != api_key.key() {
        return Err(
            Error::new(ErrorKind::UnknownApiKey(header.request_api_key)).context(
                "RequestHeader",
                "request_api_key",
                version,
            ),
        );
    }
    let hv = request_header_version(api_key, version);
    let len = header.encoded_len(hv) + body.encoded_len(version);
    write_sized(out, len, |out| {
        header.encode(out, hv)?;
        body.encode(out, version)
    })
}

/// Appends a whole typed request to `out`: size prefix, a header built from the arguments,
/// and the body at `version`.
pub fn write_typed_request<R: Request + Encode>(
    out: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&StrBytes>,
    version: i16,
    body: &R,
) -> Result<()> {
    let header = RequestHeader {
        request_api_key: R::API_KEY.key(),
        request_api_version: version,
        correlation_id,
        client_id: client_id.cloned(),
        ..Default::default()
    };
    let hv = request_header_version(R::API_KEY, version);
    let len = header.encoded_len(hv) + body.encoded_len(version);
    write_sized(out, len, |out| {
        header.encode(out, hv)?;
        body.encode(out, version)
    })
}

#[cfg(feature = "broker")]
/// Appends a whole response (size prefix, header, body) to `out`, for a request of
/// `api_version`.
pub fn write_response(
    out: &mut BytesMut,
    header: &ResponseHeader,
    api_version: i16,
    body: &ResponseBody,
) -> Result<()> {
    let hv = response_header_version(body.api_key(), api_version);
    let len = header.encoded_len(hv) + body.encoded_len(api_version);
    write_sized(out, len, |out| {
        header.encode(out, hv)?;
        body.encode(out, api_version)
    })
}

/// Appends a whole typed response to `out`.
pub fn write_typed_response<R: Response + Encode>(
    out: &mut BytesMut,
    correlation_id: i32,
    api_version: i16,
    body: &R,
) -> Result<()> {
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    let hv = response_header_version(R::API_KEY, api_version);
    let len = header.encoded_len(hv) + body.encoded_len(api_version);
    write_sized(out, len, |out| {
        header.encode(out, hv)?;
        body.encode(out, api_version)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generated::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn header_versions_follow_kafka() {
        assert_eq!(request_header_version(ApiKey::Produce, 8), 1);
        assert_eq!(request_header_version(ApiKey::Produce, 9), 2);
        assert_eq!(request_header_version(ApiKey::ControlledShutdown, 0), 0);
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(response_header_version(ApiKey::Metadata, 8), 0);
    }

    #[test]
    fn split_frame_checks_size_before_allocating() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0][..]);
        assert!(matches!(
            split_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap_err()
                .kind(),
            ErrorKind::FrameTooLarge { .. }
        ));
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(split_frame(&mut buf, 1024).is_err());
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 7][..]);
        assert!(split_frame(&mut buf, 1024).unwrap().is_none());
        buf.put_u8(8);
        assert_eq!(&split_frame(&mut buf, 1024).unwrap().unwrap()[..], &[7, 8]);
        assert!(buf.is_empty());
    }

    #[test]
    fn typed_request_round_trip() {
        let mut out = BytesMut::new();
        let req = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let id = StrBytes::from_static_str("me");
        write_typed_request(&mut out, 7, Some(&id), 12, &req).unwrap();
        let frame = split_frame(&mut out, 1 << 20).unwrap().unwrap().freeze();
        let decoded = decode_request(frame).unwrap();
        assert_eq!(decoded.header.correlation_id, 7);
        assert_eq!(decoded.header.client_id.as_deref(), Some("me"));
        assert_eq!(decoded.body, RequestBody::Metadata(req));
    }

    #[test]
    fn unknown_api_and_version_are_typed_errors() {
        let frame = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        assert_eq!(
            decode_request(frame).unwrap_err().kind(),
            &ErrorKind::UnknownApiKey(0x7f00)
        );
        let mut out = BytesMut::new();
        write_typed_request(&mut out, 1, None, 3, &ApiVersionsRequest::default()).unwrap();
        let mut frame = out.split_off(4);
        frame[3] = 99; // api version 99
        assert_eq!(
            decode_request(frame.freeze()).unwrap_err().kind(),
            &ErrorKind::UnsupportedVersion
        );
    }
}
