//! Request frames (without the size prefix) through `decode_request`.
//!
//! Never panics; whatever decodes must re-encode (with `encoded_len` agreeing with what
//! `encode` writes) and decode again to an equal value whose encoding is the same bytes.
//! Input bytes need not re-encode identically (non-minimal varints, reordered tags, ...),
//! but a value's encoding must be a fixed point.

#![no_main]

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_request, request_header_version, write_request};
use krafty_protocol::message::Encode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    let version = frame.header.request_api_version;
    let hv = request_header_version(frame.api_key(), version);
    let mut out = BytesMut::new();
    if let Err(e) = write_request(&mut out, &frame.header, &frame.body) {
        panic!(
            "decoded {:?} v{version} does not re-encode: {e}",
            frame.api_key()
        );
    }
    assert_eq!(
        out.len() - 4,
        frame.header.encoded_len(hv) + frame.body.encoded_len(version),
        "encoded_len disagrees with encode for {:?} v{version}",
        frame.api_key()
    );
    let encoded = out.split_off(4).freeze();
    let again = match decode_request(encoded.clone()) {
        Ok(f) => f,
        Err(e) => panic!(
            "re-encoded {:?} v{version} does not decode: {e}",
            frame.api_key()
        ),
    };
    // NaN floats (e.g. client quota values) are never equal to themselves; for those the
    // byte-level fixed point below is the check.
    #[allow(clippy::eq_op)]
    if frame == frame {
        assert_eq!(again, frame, "value changed by encode/decode");
    }
    let mut out2 = BytesMut::new();
    if let Err(e) = write_request(&mut out2, &again.header, &again.body) {
        panic!("second encode failed: {e}");
    }
    assert_eq!(&out2[4..], &encoded[..], "encoding is not a fixed point");
});
