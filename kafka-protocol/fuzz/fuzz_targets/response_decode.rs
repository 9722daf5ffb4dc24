//! Response frames (without the size prefix) through `decode_response`.
//!
//! Input: 2 bytes api key (big-endian, taken modulo the number of APIs), 2 bytes version
//! (big-endian; used as is when valid for the API, else folded into its valid range), then
//! the frame. `scripts/fuzz.sh` seeds the corpus with the golden response frames prefixed
//! this way. Same properties as `request_decode`.

#![no_main]

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_response, response_header_version, write_response};
use krafty_protocol::generated::ApiKey;
use krafty_protocol::message::Encode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, frame)) = data.split_first_chunk::<4>() else {
        return;
    };
    let key = usize::from(u16::from_be_bytes([selector[0], selector[1]])) % ApiKey::ALL.len();
    let api_key = ApiKey::ALL[key];
    let range = api_key.valid_versions();
    let raw = i16::from_be_bytes([selector[2], selector[3]]);
    let version = if range.contains(raw) {
        raw
    } else {
        let n = i32::from(range.max) - i32::from(range.min) + 1;
        (i32::from(range.min) + i32::from(raw).rem_euclid(n)) as i16
    };
    let Ok((header, body)) = decode_response(Bytes::copy_from_slice(frame), api_key, version)
    else {
        return;
    };
    let hv = response_header_version(api_key, version);
    let mut out = BytesMut::new();
    if let Err(e) = write_response(&mut out, &header, version, &body) {
        panic!("decoded {api_key:?} v{version} response does not re-encode: {e}");
    }
    assert_eq!(
        out.len() - 4,
        header.encoded_len(hv) + body.encoded_len(version),
        "encoded_len disagrees with encode for {api_key:?} v{version}"
    );
    let encoded = out.split_off(4).freeze();
    let (header2, body2) = match decode_response(encoded.clone(), api_key, version) {
        Ok(v) => v,
        Err(e) => panic!("re-encoded {api_key:?} v{version} response does not decode: {e}"),
    };
    assert_eq!(header2, header, "header changed by encode/decode");
    // NaN floats are never equal to themselves; the byte-level fixed point covers them.
    #[allow(clippy::eq_op)]
    if body == body {
        assert_eq!(body2, body, "value changed by encode/decode");
    }
    let mut out2 = BytesMut::new();
    if let Err(e) = write_response(&mut out2, &header2, version, &body2) {
        panic!("second encode failed: {e}");
    }
    assert_eq!(&out2[4..], &encoded[..], "encoding is not a fixed point");
});
