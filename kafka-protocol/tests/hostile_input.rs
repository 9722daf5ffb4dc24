//! Hostile input: truncated, mutated and forged frames and record batches give typed errors,
//! never panics, and never make the decoder allocate what the input cannot justify.
//!
//! - every golden frame cut at every length (a stride for large frames) is an error;
//! - golden frames with deterministic, seeded mutations never panic, and whatever still
//!   decodes re-encodes and decodes back to the same value;
//! - forged huge counts and lengths, negative lengths, overlong varints, oversized or
//!   negative frame sizes, unknown api keys and versions are the documented [`ErrorKind`]s
//!   (a forged count that reached `Vec::with_capacity` would abort the test on allocation);
//! - the encoding rules: a non-default, non-ignorable field absent in the target version is
//!   [`ErrorKind::NonIgnorableField`], an ignorable one is dropped, a null where the version
//!   does not allow one is [`ErrorKind::UnexpectedNull`];
//! - record batches: bad CRCs, lengths past the end, forged counts and compression bombs.

#![allow(clippy::unwrap_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, BytesMut};
use krafty_protocol::frame::{
    decode_request, decode_response, split_frame, write_request, write_response,
    DEFAULT_MAX_FRAME_SIZE,
};
use krafty_protocol::generated::{
    AddPartitionsToTxnResponse, ApiKey, MetadataRequest, ProduceRequest, RequestBody, ResponseBody,
};
use krafty_protocol::message::{Decode, Encode, Message};
use krafty_protocol::records::{
    write_message_set, BatchIter, Compression, DecodeOptions, LegacyMessage, RawBatch,
    RawRecordBatch, Record, RecordBatch, RecordBatchBuilder, TruncatedTail,
};
use krafty_protocol::testing::Rng;
use krafty_protocol::wire::{self, StrBytes};
use krafty_protocol::{Error, ErrorKind};

// ---------------------------------------------------------------------------------------
// Golden frames

struct Golden {
    path: PathBuf,
    api_key: ApiKey,
    version: i16,
    response: bool,
    bytes: Bytes,
}

fn golden_frames() -> Vec<Golden> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-frames");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap().to_str().unwrap();
            let (stem, response) = if let Some(s) = name.strip_suffix(".request.bin") {
                (s, false)
            } else if let Some(s) = name.strip_suffix(".response.bin") {
                (s, true)
            } else {
                continue;
            };
            let mut parts = stem.split('-');
            let _seq = parts.next();
            let key: i16 = parts.next().unwrap().parse().unwrap();
            let version: i16 = parts
                .next()
                .unwrap()
                .strip_prefix('v')
                .unwrap()
                .parse()
                .unwrap();
            out.push(Golden {
                api_key: ApiKey::from_i16(key).unwrap(),
                version,
                response,
                bytes: Bytes::from(std::fs::read(&path).unwrap()),
                path,
            });
        }
    }
    assert!(
        out.len() >= 600,
        "expected the ~606 golden frames, found {}",
        out.len()
    );
    out
}

/// Decodes `frame` as `g` says (request or response of its api key and version); whatever
/// decodes must re-encode, decode back to an equal value and re-encode to the same bytes.
fn decode_and_check(g: &Golden, frame: Bytes) -> Result<(), Error> {
    if g.response {
        let (h, b) = decode_response(frame, g.api_key, g.version)?;
        let mut out = BytesMut::new();
        write_response(&mut out, &h, g.version, &b).expect("a decoded response re-encodes");
        let encoded = out.split_off(4).freeze();
        let (h2, b2) = decode_response(encoded.clone(), g.api_key, g.version)
            .expect("a re-encoded response decodes");
        assert_eq!(h2, h);
        #[allow(clippy::eq_op)]
        if b == b {
            assert_eq!(b2, b, "value changed by encode/decode");
        }
        let mut again = BytesMut::new();
        write_response(&mut again, &h2, g.version, &b2).unwrap();
        assert_eq!(&again[4..], &encoded[..], "encoding is not a fixed point");
    } else {
        let f = decode_request(frame)?;
        let mut out = BytesMut::new();
        write_request(&mut out, &f.header, &f.body).expect("a decoded request re-encodes");
        let encoded = out.split_off(4).freeze();
        let f2 = decode_request(encoded.clone()).expect("a re-encoded request decodes");
        #[allow(clippy::eq_op)]
        if f == f {
            assert_eq!(f2, f, "value changed by encode/decode");
        }
        let mut again = BytesMut::new();
        write_request(&mut again, &f2.header, &f2.body).unwrap();
        assert_eq!(&again[4..], &encoded[..], "encoding is not a fixed point");
    }
    Ok(())
}

/// Runs `decode_and_check`, turning a panic into a failure message naming the input.
fn no_panic(g: &Golden, frame: &Bytes, what: &str) -> Result<(), Error> {
    match catch_unwind(AssertUnwindSafe(|| decode_and_check(g, frame.clone()))) {
        Ok(r) => r,
        Err(_) => panic!(
            "PANIC decoding {} ({what}); input ({} bytes): {}",
            g.path.display(),
            frame.len(),
            hex(frame)
        ),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The cut lengths tried for a frame of `len` bytes: all of them for small frames; for large
/// ones the first and last 256 bytes plus 512 evenly spread cuts, to stay fast in debug.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 1024 {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..256).chain(len - 256..len).collect();
    v.extend((0..512).map(|i| 256 + i * (len - 512) / 512));
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn every_truncated_golden_frame_is_an_error() {
    let mut tried = 0usize;
    for g in golden_frames() {
        match no_panic(&g, &g.bytes, "whole frame") {
            Ok(()) => {}
            // Frames the Java 4.0.2 client sent at versions newer than the specs are refused
            // whole (golden_frames.rs checks that); their cuts prove nothing more.
            Err(e) if e.kind() == &ErrorKind::UnsupportedVersion => continue,
            Err(e) => panic!("{}: {e}", g.path.display()),
        }
        for cut in cuts(g.bytes.len()) {
            let part = g.bytes.slice(..cut);
            let r = no_panic(&g, &part, &format!("cut at {cut}"));
            assert!(
                r.is_err(),
                "{} cut at {cut} of {} decoded",
                g.path.display(),
                g.bytes.len()
            );
            tried += 1;
        }
    }
    eprintln!("{tried} truncated frames rejected");
}

/// A few mutations per frame, seeded so any failure reproduces.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const I32S: [i32; 7] = [
        i32::MAX,
        -1,
        -2,
        i32::MIN,
        0x0001_0000,
        0x00ff_ffff,
        1 << 30,
    ];
    const I16S: [i16; 5] = [i16::MAX, -1, -2, i16::MIN, 0x7f00];
    const VARINTS: [&[u8]; 5] = [
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
        &[0x80, 0x80, 0x80, 0x80, 0x10],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[0xfe, 0xff, 0xff, 0xff, 0x07],
        &[0x80],
    ];
    let mut v = input.to_vec();
    if v.is_empty() {
        return v;
    }
    let n = 1 + rng.below(3);
    for _ in 0..n {
        let len = v.len().max(1);
        let at = rng.below(len as u64) as usize;
        match rng.below(8) {
            0 => {
                if let Some(b) = v.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                if let Some(b) = v.get_mut(at) {
                    *b = rng.next_u64() as u8;
                }
            }
            2 => {
                let x = I32S[rng.below(I32S.len() as u64) as usize].to_be_bytes();
                for (i, b) in x.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            3 => {
                let x = I16S[rng.below(I16S.len() as u64) as usize].to_be_bytes();
                for (i, b) in x.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            4 => {
                let x = VARINTS[rng.below(VARINTS.len() as u64) as usize];
                for (i, b) in x.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            5 => {
                let end = (at + 1 + rng.below(16) as usize).min(v.len());
                v.drain(at..end);
            }
            6 => {
                let end = (at + 1 + rng.below(16) as usize).min(v.len());
                let chunk: Vec<u8> = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
            _ => {
                let k = 1 + rng.below(8) as usize;
                let junk: Vec<u8> = (0..k).map(|_| rng.next_u64() as u8).collect();
                v.splice(at..at, junk);
            }
        }
    }
    v
}

#[test]
fn mutated_golden_frames_never_panic() {
    const PER_FRAME: u64 = 64;
    let (mut ok, mut err) = (0usize, 0usize);
    for (i, g) in golden_frames().iter().enumerate() {
        for j in 0..PER_FRAME {
            let mut rng = Rng::new((i as u64) << 32 | j);
            let frame = Bytes::from(mutate(&mut rng, &g.bytes));
            match no_panic(g, &frame, &format!("mutation seed {i}<<32|{j}")) {
                Ok(()) => ok += 1,
                Err(_) => err += 1,
            }
        }
    }
    eprintln!("mutated frames: {ok} decoded (and round-tripped), {err} rejected");
    assert!(err > ok, "most mutations should be rejected");
}

// ---------------------------------------------------------------------------------------
// Forged counts and lengths

/// A request frame (no size prefix): header v1 (classic) or v2 (flexible, with an empty
/// tagged-field section), null client id, then `body`.
fn request(key: i16, version: i16, flexible: bool, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(key);
    b.put_i16(version);
    b.put_i32(7);
    b.put_i16(-1);
    if flexible {
        b.put_u8(0);
    }
    b.put_slice(body);
    b.freeze()
}

fn kind_of(frame: Bytes) -> ErrorKind {
    decode_request(frame).unwrap_err().kind().clone()
}

#[test]
fn forged_huge_array_counts_are_rejected_before_allocating() {
    // Metadata v1: topics count 0x7fffffff. Allocating room for that many topics would need
    // hundreds of GiB and abort the test.
    let e = decode_request(request(3, 1, false, &[0x7f, 0xff, 0xff, 0xff])).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::LengthExceedsInput {
            length: 0x7fff_ffff,
            remaining: 0
        }
    );
    assert_eq!(
        (e.message(), e.field(), e.version()),
        ("MetadataRequest", "topics", 1)
    );

    // Same with some bytes after the count: still far too few for the elements.
    let mut body = vec![0x7f, 0xff, 0xff, 0xff];
    body.extend_from_slice(&[0u8; 4096]);
    assert!(matches!(
        kind_of(request(3, 1, false, &body)),
        ErrorKind::LengthExceedsInput {
            length: 0x7fff_ffff,
            ..
        }
    ));

    // A count the bytes could hold at one byte per element, but not at two (a v1 topic is
    // an empty name at least): the topics that fit decode, then the input runs out.
    let mut body = 100i32.to_be_bytes().to_vec();
    body.extend_from_slice(&[0u8; 150]);
    assert!(matches!(
        kind_of(request(3, 1, false, &body)),
        ErrorKind::Truncated { .. } | ErrorKind::LengthExceedsInput { .. }
    ));

    // Metadata v9 (flexible): compact array length uvarint 2^32 does not fit 32 bits ...
    assert_eq!(
        kind_of(request(3, 9, true, &[0x80, 0x80, 0x80, 0x80, 0x10])),
        ErrorKind::VarintTooLong
    );
    // ... and 0xffffffff (count 0xfffffffe) exceeds the input.
    assert!(matches!(
        kind_of(request(3, 9, true, &[0xff, 0xff, 0xff, 0xff, 0x0f])),
        ErrorKind::LengthExceedsInput {
            length: 0xffff_fffe,
            ..
        }
    ));
    // Produce v3: topic_data count i32::MAX.
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id null
    body.extend_from_slice(&1i16.to_be_bytes()); // acks
    body.extend_from_slice(&1000i32.to_be_bytes()); // timeout
    body.extend_from_slice(&i32::MAX.to_be_bytes()); // topic_data count
    assert!(matches!(
        kind_of(request(0, 3, false, &body)),
        ErrorKind::LengthExceedsInput { .. }
    ));
}

/// Peak virtual memory of this process in KiB (Linux), which a `Vec::with_capacity` raises
/// even when the memory is never touched.
#[cfg(target_os = "linux")]
fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmPeak:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A count that passes the `count * min_size <= remaining` check must still not reserve
/// more than the input can justify. `MetadataRequest.topics` is read with `min_size` 1 while
/// a `MetadataRequestTopic` is 80 bytes in memory, so a 32 MiB frame of `0xff` with a topic
/// count of 32 Mi made `wire::read_array` reserve 32 Mi x 80 B = 2.5 GiB before the first
/// topic failed to decode (a 100 MiB frame, the default limit, reserves 8 GiB: an abort on
/// a host with less memory).
#[cfg(target_os = "linux")]
#[test]
fn array_capacity_is_bounded_by_the_input() {
    const N: usize = 32 << 20;
    let mut body = Vec::with_capacity(N + 4);
    body.extend_from_slice(&(N as i32).to_be_bytes());
    body.resize(N + 4, 0xff); // first topic name length -1: null, not allowed before v10
    let frame = request(3, 1, false, &body);
    drop(body);
    let before = vm_peak_kib();
    let e = decode_request(frame).unwrap_err();
    let grown_mib = (vm_peak_kib() - before) / 1024;
    assert_eq!(e.kind(), &ErrorKind::UnexpectedNull, "{e}");
    assert!(
        grown_mib < 512,
        "decoding a 32 MiB frame raised peak memory by {grown_mib} MiB \
         (Vec::with_capacity(count) in wire::read_array trusts count * min_size <= remaining \
         with min_size 1 for MetadataRequest.topics)"
    );
}

#[test]
fn negative_lengths_other_than_null_are_rejected() {
    // Metadata v1 topics count -2 (-1 is null, allowed in v1+).
    assert_eq!(
        kind_of(request(3, 1, false, &(-2i32).to_be_bytes())),
        ErrorKind::NegativeLength(-2)
    );
    assert_eq!(
        kind_of(request(3, 1, false, &i32::MIN.to_be_bytes())),
        ErrorKind::NegativeLength(i64::from(i32::MIN))
    );
    // Metadata v0: a null topics array is not allowed.
    assert_eq!(
        kind_of(request(3, 0, false, &(-1i32).to_be_bytes())),
        ErrorKind::UnexpectedNull
    );
    // Metadata v4: one topic whose (non-nullable) name has length -2, then -1.
    let mut body = 1i32.to_be_bytes().to_vec();
    body.extend_from_slice(&(-2i16).to_be_bytes());
    assert_eq!(
        kind_of(request(3, 4, false, &body)),
        ErrorKind::NegativeLength(-2)
    );
    let mut body = 1i32.to_be_bytes().to_vec();
    body.extend_from_slice(&(-1i16).to_be_bytes());
    body.push(1);
    assert_eq!(
        kind_of(request(3, 4, false, &body)),
        ErrorKind::UnexpectedNull
    );
    // SaslAuthenticate v0: auth_bytes length -2 and -1 (bytes, not nullable).
    assert_eq!(
        kind_of(request(36, 0, false, &(-2i32).to_be_bytes())),
        ErrorKind::NegativeLength(-2)
    );
    assert_eq!(
        kind_of(request(36, 0, false, &(-1i32).to_be_bytes())),
        ErrorKind::UnexpectedNull
    );
}

#[test]
fn forged_huge_string_and_bytes_lengths_are_rejected() {
    // FindCoordinator v0: key string length 32767 with 3 bytes behind it.
    assert_eq!(
        kind_of(request(10, 0, false, &[0x7f, 0xff, b'a', b'b', b'c'])),
        ErrorKind::Truncated {
            needed: 0x7fff,
            remaining: 3
        }
    );
    // FindCoordinator v3 (flexible): compact string length 0xffffffff - 1.
    assert_eq!(
        kind_of(request(10, 3, true, &[0xff, 0xff, 0xff, 0xff, 0x0f, b'a'])),
        ErrorKind::Truncated {
            needed: 0xffff_fffe,
            remaining: 1
        }
    );
    // SaslAuthenticate v0: auth_bytes length i32::MAX.
    assert_eq!(
        kind_of(request(36, 0, false, &i32::MAX.to_be_bytes())),
        ErrorKind::Truncated {
            needed: i32::MAX as usize,
            remaining: 0
        }
    );
    // Produce v3: one topic, one partition, records length i32::MAX.
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i16).to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&1000i32.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.push(b't');
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // partition index
    body.extend_from_slice(&i32::MAX.to_be_bytes()); // records length
    body.extend_from_slice(&[0u8; 64]);
    let e = decode_request(request(0, 3, false, &body)).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Truncated { needed, .. } if *needed == i32::MAX as usize)
    );
    assert_eq!(e.field(), "records");
    // A string that is not UTF-8.
    assert_eq!(
        kind_of(request(10, 0, false, &[0x00, 0x02, 0xc3, 0x28])),
        ErrorKind::InvalidUtf8
    );
}

#[test]
fn forged_tagged_fields_are_rejected() {
    // Metadata v9 body: topics null, allow_auto_topic_creation, include_cluster_...,
    // include_topic_..., then the tagged-field section.
    let prefix = [0x00, 0x01, 0x00, 0x00];
    // One unknown tag whose size is 0xffffffff.
    let mut body = prefix.to_vec();
    body.extend_from_slice(&[0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xaa]);
    assert!(matches!(
        kind_of(request(3, 9, true, &body)),
        ErrorKind::Truncated {
            needed: 0xffff_ffff,
            remaining: 1
        }
    ));
    // A tag count of 0xffffffff with nothing behind it.
    let mut body = prefix.to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        kind_of(request(3, 9, true, &body)),
        ErrorKind::Truncated { .. }
    ));
    // An overlong tag count varint.
    let mut body = prefix.to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(
        kind_of(request(3, 9, true, &body)),
        ErrorKind::VarintTooLong
    );
    // An overlong varint in the request header's tagged fields.
    let mut b = BytesMut::new();
    b.put_slice(&[0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff]);
    b.put_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(kind_of(b.freeze()), ErrorKind::VarintTooLong);
}

#[test]
fn wire_readers_check_lengths_before_allocating() {
    // read_array never calls the element decoder (nor allocates) for an impossible count.
    let input = [&i32::MAX.to_be_bytes()[..], &[0u8; 16]].concat();
    let r = wire::read_array(
        &mut &input[..],
        false,
        1,
        |_| -> krafty_protocol::Result<u8> { panic!("element decoded") },
    );
    assert!(matches!(
        r.unwrap_err().kind(),
        ErrorKind::LengthExceedsInput {
            length: 0x7fff_ffff,
            remaining: 16
        }
    ));
    let input = [&8i32.to_be_bytes()[..], &[0u8; 16]].concat();
    let r = wire::read_array(
        &mut &input[..],
        false,
        4,
        |_| -> krafty_protocol::Result<u8> { panic!("element decoded") },
    );
    assert!(matches!(
        r.unwrap_err().kind(),
        ErrorKind::LengthExceedsInput {
            length: 8,
            remaining: 16
        }
    ));
    assert_eq!(
        wire::read_array_len(&mut &(-3i32).to_be_bytes()[..], false)
            .unwrap_err()
            .kind(),
        &ErrorKind::NegativeLength(-3)
    );
    assert_eq!(wire::read_array_len(&mut &[0u8][..], true).unwrap(), None);
    assert_eq!(
        wire::read_nullable_string(&mut &[0xff, 0xfe][..], false)
            .unwrap_err()
            .kind(),
        &ErrorKind::NegativeLength(-2)
    );
    assert_eq!(
        wire::read_nullable_bytes(&mut &[0xff, 0xff, 0xff, 0xfe][..], false)
            .unwrap_err()
            .kind(),
        &ErrorKind::NegativeLength(-2)
    );
    assert!(matches!(
        wire::read_bytes(&mut &[0x80, 0x80, 0x80, 0x80, 0x08][..], true)
            .unwrap_err()
            .kind(),
        ErrorKind::Truncated {
            needed: 0x7fff_ffff,
            remaining: 0
        }
    ));
    assert!(matches!(
        wire::read_unknown_tagged(&mut &[1u8, 2, 3][..], 9, usize::MAX)
            .unwrap_err()
            .kind(),
        ErrorKind::Truncated { .. }
    ));
}

#[test]
fn overlong_varints_are_rejected() {
    let r32 = |b: &[u8]| wire::read_uvarint32(&mut &b[..]).map_err(|e| e.kind().clone());
    let r64 = |b: &[u8]| wire::read_uvarint64(&mut &b[..]).map_err(|e| e.kind().clone());
    // 32-bit: five bytes at most, and the fifth carries 4 bits.
    assert_eq!(r32(&[0xff, 0xff, 0xff, 0xff, 0x0f]), Ok(u32::MAX));
    assert_eq!(
        r32(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
        Err(ErrorKind::VarintTooLong)
    );
    assert_eq!(
        r32(&[0x80, 0x80, 0x80, 0x80, 0x10]),
        Err(ErrorKind::VarintTooLong)
    );
    assert_eq!(r32(&[0x80; 6]), Err(ErrorKind::VarintTooLong));
    assert_eq!(r32(&[0x80; 64]), Err(ErrorKind::VarintTooLong));
    assert!(matches!(
        r32(&[0x80, 0x80]),
        Err(ErrorKind::Truncated { .. })
    ));
    assert!(matches!(r32(&[]), Err(ErrorKind::Truncated { .. })));
    // 64-bit: ten bytes at most, and the tenth carries 1 bit.
    let mut max = vec![0xff; 9];
    max.push(0x01);
    assert_eq!(r64(&max), Ok(u64::MAX));
    let mut over = vec![0xff; 9];
    over.push(0x02);
    assert_eq!(r64(&over), Err(ErrorKind::VarintTooLong));
    assert_eq!(r64(&[0x80; 11]), Err(ErrorKind::VarintTooLong));
    assert_eq!(r64(&[0xff; 64]), Err(ErrorKind::VarintTooLong));
    // Zigzag readers inherit the checks.
    assert_eq!(
        wire::read_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0x7f][..])
            .unwrap_err()
            .kind(),
        &ErrorKind::VarintTooLong
    );
    assert_eq!(
        wire::read_varlong(&mut &[0xff; 11][..]).unwrap_err().kind(),
        &ErrorKind::VarintTooLong
    );
}

#[test]
fn split_frame_rejects_huge_and_negative_sizes_without_reserving() {
    let huge = 200 * 1024 * 1024i32;
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(huge);
    buf.put_slice(&[0u8; 16]);
    let cap = buf.capacity();
    let e = split_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::FrameTooLarge {
            size: i64::from(huge),
            max: DEFAULT_MAX_FRAME_SIZE
        }
    );
    assert_eq!(buf.capacity(), cap, "nothing reserved for a rejected frame");
    assert_eq!(buf.len(), 20, "nothing consumed");

    for size in [-1i32, -2, i32::MIN] {
        let mut buf = BytesMut::new();
        buf.put_i32(size);
        assert_eq!(
            split_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap_err()
                .kind(),
            &ErrorKind::FrameTooLarge {
                size: i64::from(size),
                max: DEFAULT_MAX_FRAME_SIZE
            }
        );
    }
    // One byte over a configured limit; the limit itself is fine (incomplete: None).
    let mut buf = BytesMut::new();
    buf.put_i32(1025);
    assert!(split_frame(&mut buf, 1024).is_err());
    let mut buf = BytesMut::new();
    buf.put_i32(1024);
    assert!(split_frame(&mut buf, 1024).unwrap().is_none());
    // Fewer than 4 bytes: incomplete, whatever they are.
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff][..]);
    assert!(split_frame(&mut buf, 1024).unwrap().is_none());
}

#[test]
fn unknown_api_keys_and_versions_are_typed_errors() {
    for key in [88i16, 1000, -1, i16::MIN, i16::MAX] {
        assert_eq!(
            kind_of(request(key, 0, false, &[])),
            ErrorKind::UnknownApiKey(key)
        );
    }
    for (key, version) in [(0i16, 12i16), (0, -1), (3, 13), (18, 5), (18, i16::MAX)] {
        let e = decode_request(request(key, version, false, &[0u8; 32])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UnsupportedVersion, "{key} v{version}");
        assert_eq!(e.version(), version);
    }
    // Too short for a request header at all.
    assert!(matches!(
        kind_of(Bytes::from_static(&[0, 3, 0])),
        ErrorKind::Truncated { needed: 8, .. }
    ));
    // Responses: the body of a version the API does not have.
    let frame = Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(
        decode_response(frame.clone(), ApiKey::Produce, 12)
            .unwrap_err()
            .kind(),
        &ErrorKind::UnsupportedVersion
    );
    assert_eq!(
        decode_response(frame, ApiKey::Metadata, -1)
            .unwrap_err()
            .kind(),
        &ErrorKind::UnsupportedVersion
    );
    // Bodies and typed messages too.
    assert_eq!(
        RequestBody::decode(ApiKey::Fetch, &mut &[0u8; 64][..], 99)
            .unwrap_err()
            .kind(),
        &ErrorKind::UnsupportedVersion
    );
    assert_eq!(
        ProduceRequest::default()
            .encode(&mut Vec::new(), 12)
            .unwrap_err()
            .kind(),
        &ErrorKind::UnsupportedVersion
    );
}

#[test]
fn trailing_bytes_after_a_frame_are_rejected() {
    // ApiVersions v0 request: an empty body, then one stray byte.
    assert_eq!(
        kind_of(request(18, 0, false, &[0])),
        ErrorKind::TrailingBytes(1)
    );
    let frame = Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xee]);
    assert!(decode_response(frame, ApiKey::Heartbeat, 0).is_err());
}

// ---------------------------------------------------------------------------------------
// Encoding rules

fn encode<M: Message + Encode + Decode>(m: &M, version: i16) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    m.encode(&mut out, version)?;
    assert_eq!(out.len(), m.encoded_len(version));
    Ok(out)
}

#[test]
fn non_ignorable_fields_absent_in_the_version_fail_to_encode() {
    // ProduceRequest.transactional_id: versions 3+, not ignorable.
    let req = ProduceRequest {
        transactional_id: Some(StrBytes::from_static_str("tx-1")),
        acks: -1,
        timeout_ms: 30_000,
        ..Default::default()
    };
    let e = encode(&req, 2).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NonIgnorableField);
    assert_eq!(
        (e.message(), e.field(), e.version()),
        ("ProduceRequest", "transactional_id", 2)
    );
    assert!(encode(&req, 3).is_ok());
    // The default (null) is fine at v2.
    let plain = ProduceRequest {
        transactional_id: None,
        ..req.clone()
    };
    assert!(encode(&plain, 2).is_ok());
    // Through the frame writer too.
    let mut out = BytesMut::new();
    let e = krafty_protocol::frame::write_typed_request(&mut out, 1, None, 2, &req).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NonIgnorableField);

    // MetadataRequest.allow_auto_topic_creation: versions 4+, default true, not ignorable.
    let meta = MetadataRequest {
        topics: Some(Vec::new()),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let e = encode(&meta, 3).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NonIgnorableField);
    assert_eq!(e.field(), "allow_auto_topic_creation");
    assert!(encode(&meta, 4).is_ok());
    // include_cluster_authorized_operations exists in 8-10 only.
    let meta = MetadataRequest {
        topics: None,
        include_cluster_authorized_operations: true,
        ..Default::default()
    };
    assert!(encode(&meta, 10).is_ok());
    assert_eq!(
        encode(&meta, 11).unwrap_err().kind(),
        &ErrorKind::NonIgnorableField
    );
    assert_eq!(
        encode(&meta, 7).unwrap_err().kind(),
        &ErrorKind::NonIgnorableField
    );
}

#[test]
fn ignorable_fields_absent_in_the_version_are_dropped() {
    // AddPartitionsToTxnResponse.error_code: versions 4+, ignorable.
    let with = AddPartitionsToTxnResponse {
        throttle_time_ms: 5,
        error_code: 42,
        ..Default::default()
    };
    let without = AddPartitionsToTxnResponse {
        error_code: 0,
        ..with.clone()
    };
    let a = encode(&with, 3).unwrap();
    assert_eq!(
        a,
        encode(&without, 3).unwrap(),
        "error_code silently dropped at v3"
    );
    let back = AddPartitionsToTxnResponse::decode(&mut &a[..], 3).unwrap();
    assert_eq!(back, without);
    // At v4 it is written.
    let b = encode(&with, 4).unwrap();
    assert_eq!(
        AddPartitionsToTxnResponse::decode(&mut &b[..], 4).unwrap(),
        with
    );
    // Through the response frame writer.
    let mut out = BytesMut::new();
    write_response(
        &mut out,
        &Default::default(),
        3,
        &ResponseBody::AddPartitionsToTxn(with),
    )
    .unwrap();
}

#[test]
fn null_where_the_version_does_not_allow_it_fails_to_encode() {
    // MetadataRequest.topics: nullable in 1+ only.
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let e = encode(&all, 0).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnexpectedNull);
    assert_eq!((e.message(), e.field()), ("MetadataRequest", "topics"));
    for v in 1..=12 {
        assert!(encode(&all, v).is_ok(), "v{v}");
    }
}

// ---------------------------------------------------------------------------------------
// Record batches

fn batch(compression: Compression, values: &[&[u8]]) -> Bytes {
    let mut b = RecordBatchBuilder::new(compression).base_offset(10);
    for (i, v) in values.iter().enumerate() {
        b.append(1_700_000_000_000 + i as i64, Some(b"key"), Some(v))
            .unwrap();
    }
    b.finish().unwrap()
}

fn records_kind(raw: &RawRecordBatch, opts: &DecodeOptions) -> ErrorKind {
    match raw.records(opts) {
        Err(e) => e.kind().clone(),
        Ok(iter) => iter
            .filter_map(Result::err)
            .next()
            .expect("an error")
            .kind()
            .clone(),
    }
}

#[test]
fn record_batch_with_bad_crc_is_rejected() {
    let good = batch(Compression::None, &[b"one", b"two", b"three"]);
    let raw = RawRecordBatch::new(good.clone()).unwrap();
    assert!(raw.validate().is_ok());
    assert_eq!(
        raw.decode(&DecodeOptions::default()).unwrap().records.len(),
        3
    );

    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let raw = RawRecordBatch::new(Bytes::from(bad)).unwrap();
    assert!(matches!(
        raw.validate().unwrap_err().kind(),
        ErrorKind::CrcMismatch { .. }
    ));
    assert!(matches!(
        records_kind(&raw, &DecodeOptions::default()),
        ErrorKind::CrcMismatch { .. }
    ));
    let mut iter = BatchIter::new(raw.as_bytes().clone(), DecodeOptions::default());
    match iter.next().unwrap().unwrap() {
        RawBatch::V2(b) => assert!(b.decode(&DecodeOptions::default()).is_err()),
        RawBatch::Legacy(_) => panic!("not legacy"),
    }

    // Legacy messages: the CRC-32 is checked while iterating.
    let mut out = Vec::new();
    let msg = LegacyMessage::new(1, 0, 1, None, Some(Bytes::from_static(b"value")));
    write_message_set(&mut out, 1, Compression::None, &[msg]).unwrap();
    let last = out.len() - 1;
    out[last] ^= 0x40;
    let r: Vec<_> = BatchIter::new(Bytes::from(out), DecodeOptions::default()).collect();
    assert!(matches!(
        r[0].as_ref().unwrap_err().kind(),
        ErrorKind::CrcMismatch { .. }
    ));
}

#[test]
fn record_batch_length_past_the_end_is_rejected() {
    let good = batch(Compression::None, &[b"one", b"two"]);
    for forged in [i32::MAX, good.len() as i32 - 12 + 1, 1 << 20] {
        let mut bad = good.to_vec();
        bad[8..12].copy_from_slice(&forged.to_be_bytes());
        let bad = Bytes::from(bad);
        // Iterating: a truncated tail (quietly, or as an error by policy).
        let mut lenient = BatchIter::new(bad.clone(), DecodeOptions::default());
        assert!(lenient.next().is_none());
        assert_eq!(lenient.truncated_tail(), Some(bad.len()));
        let strict = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
        let r: Vec<_> = BatchIter::new(bad.clone(), strict).collect();
        assert_eq!(r.len(), 1);
        assert!(matches!(
            r[0].as_ref().unwrap_err().kind(),
            ErrorKind::Truncated { .. }
        ));
        // One batch: its length must match the bytes.
        assert!(RawRecordBatch::new(bad.clone()).is_err());
        assert!(matches!(
            RecordBatch::decode(&mut bad.clone(), &DecodeOptions::default())
                .unwrap_err()
                .kind(),
            ErrorKind::Truncated { .. }
        ));
    }
    // Negative and too-small lengths are corruption, not truncation.
    for forged in [-1i32, i32::MIN, 0, 13] {
        let mut bad = good.to_vec();
        bad[8..12].copy_from_slice(&forged.to_be_bytes());
        let r: Vec<_> = BatchIter::new(Bytes::from(bad), DecodeOptions::default()).collect();
        assert_eq!(r.len(), 1, "length {forged}");
        assert!(r[0].is_err(), "length {forged}");
    }
    // Cut anywhere: never a panic; a strict iterator reports an error.
    let strict = DecodeOptions::default().with_truncated_tail(TruncatedTail::Error);
    for cut in 1..good.len() {
        let part = good.slice(..cut);
        assert!(
            BatchIter::new(part.clone(), strict).any(|r| r.is_err()),
            "cut {cut}"
        );
        assert!(RecordBatch::decode(&mut part.clone(), &DecodeOptions::default()).is_err());
    }
}

#[test]
fn forged_record_counts_do_not_allocate() {
    let good = batch(Compression::None, &[b"one", b"two"]);
    let no_crc = DecodeOptions::default().with_verify_crc(false);
    for count in [i32::MAX, 3, 1 << 24] {
        let mut bad = good.to_vec();
        bad[57..61].copy_from_slice(&count.to_be_bytes());
        let raw = RawRecordBatch::new(Bytes::from(bad)).unwrap();
        // A Vec<Record> of i32::MAX records would need hundreds of GiB: this would abort.
        assert!(raw.decode(&no_crc).is_err(), "count {count}");
    }
    // Fewer records than the count claims leaves trailing bytes: an error too.
    let mut bad = good.to_vec();
    bad[57..61].copy_from_slice(&1i32.to_be_bytes());
    let raw = RawRecordBatch::new(Bytes::from(bad)).unwrap();
    assert!(matches!(
        records_kind(&raw, &no_crc),
        ErrorKind::TrailingBytes(_)
    ));
    // A negative count.
    let mut bad = good.to_vec();
    bad[57..61].copy_from_slice(&(-5i32).to_be_bytes());
    let r = RawRecordBatch::new(Bytes::from(bad)).and_then(|b| b.decode(&no_crc));
    assert!(r.is_err());
}

/// One record with the given body after its length prefix.
fn record_bytes(body: &[u8]) -> Bytes {
    let mut out = Vec::new();
    wire::write_varint(&mut out, body.len() as i32);
    out.extend_from_slice(body);
    Bytes::from(out)
}

#[test]
fn forged_record_fields_are_rejected() {
    // attributes, timestamp delta 0, offset delta 0, key null (-1), value null (-1), then a
    // header count of i32::MAX with nothing behind it.
    let mut body = vec![0u8, 0, 0, 1, 1];
    wire::write_varint(&mut body, i32::MAX);
    let e = Record::decode(&mut record_bytes(&body)).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Truncated { .. } | ErrorKind::LengthExceedsInput { .. }
    ));
    // A negative header count.
    let mut body = vec![0u8, 0, 0, 1, 1];
    wire::write_varint(&mut body, -3);
    assert_eq!(
        Record::decode(&mut record_bytes(&body)).unwrap_err().kind(),
        &ErrorKind::NegativeLength(-3)
    );
    // A key length of i32::MAX, and one of -2.
    for len in [i32::MAX, -2] {
        let mut body = vec![0u8, 0, 0];
        wire::write_varint(&mut body, len);
        body.extend_from_slice(b"abc");
        assert!(
            Record::decode(&mut record_bytes(&body)).is_err(),
            "key length {len}"
        );
    }
    // A record length past the end, negative, and an overlong varint.
    let mut buf = Vec::new();
    wire::write_varint(&mut buf, 1000);
    buf.extend_from_slice(&[0u8; 10]);
    assert!(Record::decode(&mut Bytes::from(buf)).is_err());
    let mut buf = Vec::new();
    wire::write_varint(&mut buf, -7);
    assert!(Record::decode(&mut Bytes::from(buf)).is_err());
    assert_eq!(
        Record::decode(&mut Bytes::from_static(&[0xff; 12]))
            .unwrap_err()
            .kind(),
        &ErrorKind::VarintTooLong
    );
    // A record whose fields end before its length: trailing bytes inside the record.
    let body = [0u8, 0, 0, 1, 1, 0, 0xaa];
    assert!(Record::decode(&mut record_bytes(&body)).is_err());
}

#[test]
fn compression_bombs_stop_at_the_limit() {
    const LIMIT: usize = 64 * 1024;
    let zeros = vec![0u8; 1 << 20];
    let opts = DecodeOptions::default().with_max_decompressed_bytes(LIMIT);
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bomb = batch(codec, &[&zeros]);
        assert!(
            bomb.len() < 128 << 10,
            "{codec:?} compresses 1 MiB of zeros"
        );
        let raw = RawRecordBatch::new(bomb.clone()).unwrap();
        assert_eq!(
            records_kind(&raw, &opts),
            ErrorKind::DecompressedTooLarge { limit: LIMIT },
            "{codec:?}"
        );
        // Within a generous limit it decodes.
        let big = DecodeOptions::default().with_max_decompressed_bytes(2 << 20);
        assert_eq!(
            raw.decode(&big).unwrap().records[0].value.as_deref(),
            Some(&zeros[..])
        );
    }
    // Legacy wrapper messages around 1 MiB of zeros.
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        let mut out = Vec::new();
        let msg = LegacyMessage::new(1, 0, 1, None, Some(Bytes::from(zeros.clone())));
        write_message_set(&mut out, 1, codec, &[msg]).unwrap();
        let mut iter = BatchIter::new(Bytes::from(out), opts);
        let RawBatch::Legacy(wrapper) = iter.next().unwrap().unwrap() else {
            panic!("legacy entry expected");
        };
        assert_eq!(
            wrapper.inner_messages(&opts).unwrap_err().kind(),
            &ErrorKind::DecompressedTooLarge { limit: LIMIT },
            "{codec:?}"
        );
    }
    // Garbage where compressed data should be is an error, not a panic.
    let good = batch(Compression::Gzip, &[b"a", b"b"]);
    let no_crc = DecodeOptions::default().with_verify_crc(false);
    for codec in 1u8..=7 {
        let mut bad = good.to_vec();
        bad[22] = (bad[22] & !0x07) | codec;
        for b in bad.iter_mut().skip(61) {
            *b = 0x5a;
        }
        let raw = RawRecordBatch::new(Bytes::from(bad)).unwrap();
        assert!(raw.decode(&no_crc).is_err(), "codec {codec}");
    }
}

#[test]
fn mutated_record_batches_never_panic() {
    let mut inputs = Vec::new();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        inputs.push(batch(codec, &[b"one", b"two", &[7u8; 300]]));
    }
    for codec in [Compression::None, Compression::Gzip, Compression::Lz4] {
        let mut out = Vec::new();
        let msgs = [
            LegacyMessage::new(1, 0, 5, None, Some(Bytes::from_static(b"a"))),
            LegacyMessage::new(1, 1, 6, Some(Bytes::from_static(b"k")), None),
        ];
        write_message_set(&mut out, 1, codec, &msgs).unwrap();
        inputs.push(Bytes::from(out));
    }
    let opts = DecodeOptions::default()
        .with_verify_crc(false)
        .with_max_decompressed_bytes(64 * 1024);
    for (i, input) in inputs.iter().enumerate() {
        for j in 0..300u64 {
            let mut rng = Rng::new((i as u64) << 32 | j);
            let bytes = Bytes::from(mutate(&mut rng, input));
            let r = catch_unwind(AssertUnwindSafe(|| {
                for entry in BatchIter::new(bytes.clone(), opts) {
                    match entry {
                        Ok(RawBatch::V2(raw)) => {
                            let _ = raw.decode(&opts);
                        }
                        Ok(RawBatch::Legacy(m)) => {
                            let _ = m.inner_messages(&opts);
                        }
                        Err(_) => break,
                    }
                }
            }));
            assert!(r.is_ok(), "PANIC on records input {}", hex(&bytes));
        }
    }
}
