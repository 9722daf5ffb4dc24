//! Property tests: random valid requests and responses of any API and version round-trip
//! through encode and decode (whole frames included), and the wire primitives round-trip
//! any value.
//!
//! Message values come from the generated `testing::Random` impls seeded by proptest, so a
//! failure shrinks to a small (api, version, seed) triple that reproduces it.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{
    decode_request, decode_response, request_header_version, split_frame, write_request,
    write_response, DEFAULT_MAX_FRAME_SIZE,
};
use krafty_protocol::generated::{
    ApiKey, RequestBody, RequestHeader, ResponseBody, ResponseHeader,
};
use krafty_protocol::testing::Rng;
use krafty_protocol::wire::{self, StrBytes};
use proptest::prelude::*;

/// The api key at `index` and a version of it chosen by `offset`.
fn api_and_version(index: usize, offset: u16) -> (ApiKey, i16) {
    let api = ApiKey::ALL[index % ApiKey::ALL.len()];
    let range = api.valid_versions();
    let n = (i32::from(range.max) - i32::from(range.min) + 1) as u16;
    (api, range.min + (offset % n) as i16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bodies_round_trip(index in 0..ApiKey::ALL.len(), offset in any::<u16>(), seed in any::<u64>()) {
        let (api, version) = api_and_version(index, offset);
        let mut rng = Rng::new(seed);

        let req = RequestBody::random(api, &mut rng, version);
        let mut out = BytesMut::new();
        req.encode(&mut out, version).unwrap();
        prop_assert_eq!(out.len(), req.encoded_len(version), "{:?} v{} request len", api, version);
        let bytes = out.freeze();
        let mut cursor = bytes.clone();
        let back = RequestBody::decode(api, &mut cursor, version).unwrap();
        prop_assert!(cursor.is_empty(), "request decode left bytes");
        prop_assert_eq!(&back, &req);
        let mut again = BytesMut::new();
        back.encode(&mut again, version).unwrap();
        prop_assert_eq!(again.freeze(), bytes);

        let resp = ResponseBody::random(api, &mut rng, version);
        let mut out = BytesMut::new();
        resp.encode(&mut out, version).unwrap();
        prop_assert_eq!(out.len(), resp.encoded_len(version), "{:?} v{} response len", api, version);
        let bytes = out.freeze();
        let mut cursor = bytes.clone();
        let back = ResponseBody::decode(api, &mut cursor, version).unwrap();
        prop_assert!(cursor.is_empty(), "response decode left bytes");
        prop_assert_eq!(&back, &resp);
        let mut again = BytesMut::new();
        back.encode(&mut again, version).unwrap();
        prop_assert_eq!(again.freeze(), bytes);
    }

    #[test]
    fn random_frames_round_trip(
        index in 0..ApiKey::ALL.len(),
        offset in any::<u16>(),
        seed in any::<u64>(),
        correlation_id in any::<i32>(),
        client_id in proptest::option::of("\\PC{0,40}"),
    ) {
        let (api, version) = api_and_version(index, offset);
        let mut rng = Rng::new(seed);
        let header = RequestHeader {
            request_api_key: api.key(),
            request_api_version: version,
            correlation_id,
            client_id: client_id.map(StrBytes::from),
            ..Default::default()
        };
        let body = RequestBody::random(api, &mut rng, version);
        let mut stream = BytesMut::new();
        write_request(&mut stream, &header, &body).unwrap();
        let frame = split_frame(&mut stream, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
        prop_assert!(stream.is_empty());
        let decoded = decode_request(frame.freeze()).unwrap();
        let mut expected = header.clone();
        if request_header_version(api, version) == 0 {
            // Header v0 (ControlledShutdown v0) has no client id: the ignorable field is
            // dropped on encode and decodes as its default.
            expected.client_id = RequestHeader::default().client_id;
        }
        prop_assert_eq!(&decoded.header, &expected);
        prop_assert_eq!(&decoded.body, &body);

        let rheader = ResponseHeader { correlation_id, ..Default::default() };
        let rbody = ResponseBody::random(api, &mut rng, version);
        let mut stream = BytesMut::new();
        write_response(&mut stream, &rheader, version, &rbody).unwrap();
        let frame = split_frame(&mut stream, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
        let (h, b) = decode_response(frame.freeze(), api, version).unwrap();
        prop_assert_eq!(h, rheader);
        prop_assert_eq!(b, rbody);
    }

    #[test]
    fn uvarint32_round_trips(v in any::<u32>()) {
        let mut out = Vec::new();
        wire::write_uvarint(&mut out, u64::from(v));
        prop_assert_eq!(out.len(), wire::uvarint_len(u64::from(v)));
        prop_assert!(out.len() <= 5);
        let mut cursor = &out[..];
        prop_assert_eq!(wire::read_uvarint32(&mut cursor).unwrap(), v);
        prop_assert!(cursor.is_empty());
        prop_assert_eq!(wire::read_uvarint64(&mut &out[..]).unwrap(), u64::from(v));
    }

    #[test]
    fn uvarint64_round_trips(v in any::<u64>()) {
        let mut out = Vec::new();
        wire::write_uvarint(&mut out, v);
        prop_assert_eq!(out.len(), wire::uvarint_len(v));
        prop_assert!(out.len() <= 10);
        let mut cursor = &out[..];
        prop_assert_eq!(wire::read_uvarint64(&mut cursor).unwrap(), v);
        prop_assert!(cursor.is_empty());
        // Too wide for the 32-bit reader exactly when it does not fit 32 bits.
        prop_assert_eq!(wire::read_uvarint32(&mut &out[..]).is_ok(), v <= u64::from(u32::MAX));
    }

    #[test]
    fn varint_round_trips(v in any::<i32>()) {
        let mut out = Vec::new();
        wire::write_varint(&mut out, v);
        prop_assert_eq!(out.len(), wire::varint_len(v));
        let mut cursor = &out[..];
        prop_assert_eq!(wire::read_varint(&mut cursor).unwrap(), v);
        prop_assert!(cursor.is_empty());
        // A varint is a varlong of the same value.
        prop_assert_eq!(wire::read_varlong(&mut &out[..]).unwrap(), i64::from(v));
    }

    #[test]
    fn varlong_round_trips(v in any::<i64>()) {
        let mut out = Vec::new();
        wire::write_varlong(&mut out, v);
        prop_assert_eq!(out.len(), wire::varlong_len(v));
        let mut cursor = &out[..];
        prop_assert_eq!(wire::read_varlong(&mut cursor).unwrap(), v);
        prop_assert!(cursor.is_empty());
    }

    #[test]
    fn varint_readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut c = &bytes[..];
        if wire::read_uvarint32(&mut c).is_ok() {
            prop_assert!(bytes.len() - c.len() <= 5);
        }
        let mut c = &bytes[..];
        if wire::read_uvarint64(&mut c).is_ok() {
            prop_assert!(bytes.len() - c.len() <= 10);
        }
        let _ = wire::read_varint(&mut &bytes[..]);
        let _ = wire::read_varlong(&mut &bytes[..]);
    }

    #[test]
    fn strings_round_trip(s in "\\PC*", nullable in any::<bool>()) {
        for compact in [false, true] {
            let mut out = Vec::new();
            wire::write_string(&mut out, &s, compact).unwrap();
            prop_assert_eq!(out.len(), wire::string_len(&s, compact));
            let mut cursor = Bytes::from(out);
            let back = if nullable {
                wire::read_nullable_string(&mut cursor, compact).unwrap().unwrap()
            } else {
                wire::read_string(&mut cursor, compact).unwrap()
            };
            prop_assert_eq!(back.as_str(), s.as_str());
            prop_assert!(cursor.is_empty());
        }
    }

    #[test]
    fn arbitrary_unicode_strings_round_trip(
        chars in proptest::collection::vec(any::<char>(), 0..300),
        null in any::<bool>(),
    ) {
        let s: String = chars.into_iter().collect();
        let value = (!null).then_some(s.as_str());
        for compact in [false, true] {
            let mut out = Vec::new();
            wire::write_nullable_string(&mut out, value, compact).unwrap();
            prop_assert_eq!(out.len(), wire::nullable_string_len(value, compact));
            let mut cursor = Bytes::from(out);
            let back = wire::read_nullable_string(&mut cursor, compact).unwrap();
            prop_assert_eq!(back.as_deref(), value);
            prop_assert!(cursor.is_empty());
        }
    }

    #[test]
    fn classic_strings_over_i16_are_refused(extra in 0usize..64) {
        let s = "x".repeat(i16::MAX as usize + 1 + extra);
        prop_assert!(wire::write_string(&mut Vec::new(), &s, false).is_err());
        let mut out = Vec::new();
        wire::write_string(&mut out, &s, true).unwrap();
        prop_assert_eq!(wire::read_string(&mut Bytes::from(out), true).unwrap().len(), s.len());
    }

    #[test]
    fn bytes_round_trip(b in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))) {
        for compact in [false, true] {
            let mut out = Vec::new();
            wire::write_nullable_bytes(&mut out, b.as_deref(), compact).unwrap();
            prop_assert_eq!(out.len(), wire::nullable_bytes_len(b.as_deref(), compact));
            let mut cursor = Bytes::from(out);
            let back = wire::read_nullable_bytes(&mut cursor, compact).unwrap();
            prop_assert_eq!(back.as_deref(), b.as_deref());
            prop_assert!(cursor.is_empty());
        }
    }

    #[test]
    fn string_and_bytes_readers_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        compact in any::<bool>(),
    ) {
        let _ = wire::read_nullable_string(&mut Bytes::from(bytes.clone()), compact);
        let _ = wire::read_nullable_bytes(&mut Bytes::from(bytes.clone()), compact);
        let _ = wire::read_array_len(&mut &bytes[..], compact);
        let _ = wire::read_uuid(&mut &bytes[..]);
    }
}
