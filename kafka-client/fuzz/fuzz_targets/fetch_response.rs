//! Fetch response frames through the consumer's fetch-response path: the frame is decoded
//! (`decode_response`, Fetch at a version from the input), then every partition's records
//! go through `decode_fetched_partition` as the consumer's fetcher hands them over, with
//! and without read_committed filtering. Any outcome but a panic is fine: a malformed
//! response must be an error for that partition.
//!
//! Input: 2 bytes version (big-endian, folded into Fetch's valid range), 8 bytes fetch
//! offset, then the response frame (without the size prefix). `scripts/fuzz.sh` seeds the
//! corpus with the golden Fetch responses prefixed this way.

#![no_main]

use bytes::Bytes;
use krafty_client::consumer::decode_fetched_partition;
use krafty_protocol::frame::decode_response;
use krafty_protocol::generated::ApiKey;
use krafty_protocol::generated::ResponseBody;
use krafty_protocol::records::DecodeOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, frame)) = data.split_first_chunk::<10>() else {
        return;
    };
    let range = ApiKey::Fetch.valid_versions();
    let raw = i16::from_be_bytes([selector[0], selector[1]]);
    let n = i32::from(range.max) - i32::from(range.min) + 1;
    let version = (i32::from(range.min) + i32::from(raw).rem_euclid(n)) as i16;
    let mut off = [0u8; 8];
    off.copy_from_slice(&selector[2..10]);
    let from_offset = i64::from_be_bytes(off);
    let Ok((_, body)) = decode_response(Bytes::copy_from_slice(frame), ApiKey::Fetch, version)
    else {
        return;
    };
    let ResponseBody::Fetch(resp) = body else {
        return;
    };
    // small enough that a bomb stops quickly
    let opts = DecodeOptions::default().with_max_decompressed_bytes(8 << 20);
    for t in &resp.responses {
        for p in &t.partitions {
            let Some(records) = p.records.clone() else {
                continue;
            };
            let aborted: Vec<(i64, i64)> = p
                .aborted_transactions
                .iter()
                .flatten()
                .map(|a| (a.producer_id, a.first_offset))
                .collect();
            for filter in [None, Some(aborted.clone())] {
                if let Ok((out, next)) = decode_fetched_partition(
                    "t",
                    p.partition_index,
                    records.clone(),
                    from_offset,
                    filter,
                    &opts,
                ) {
                    // what the consumer hands out is at or after the fetch offset
                    assert!(out.iter().all(|r| r.offset >= from_offset));
                    if let Some(next) = next {
                        assert!(next >= from_offset);
                    }
                }
            }
        }
    }
});
