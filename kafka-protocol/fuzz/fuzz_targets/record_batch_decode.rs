//! A `records` field (v2 record batches and legacy magic 0/1 message sets) through
//! `BatchIter`, every batch's records (decompressed within a small limit), control markers,
//! legacy wrappers, and up/down conversion.
//!
//! Input: 1 flags byte (bit 0: verify CRCs, bit 1: a truncated tail is an error), then the
//! records bytes. `scripts/fuzz.sh` seeds the corpus with the records of the golden
//! Produce requests and Fetch responses, prefixed with `0x00` (CRCs not checked, so that
//! mutations get past them).
//!
//! Never panics. A v2 batch that decodes must re-encode and decode back to an equal batch.

#![no_main]

use bytes::Bytes;
use krafty_protocol::records::{
    down_convert, legacy_to_batch, up_convert, BatchIter, Compression, ControlRecordType,
    DecodeOptions, EndTxnMarker, RawBatch, RawRecordBatch, RecordBatch, TruncatedTail,
};
use libfuzzer_sys::fuzz_target;

/// Small, so that a compression bomb is found quickly and cannot exhaust memory.
const MAX_DECOMPRESSED: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, records)) = data.split_first() else {
        return;
    };
    let opts = DecodeOptions::default()
        .with_max_decompressed_bytes(MAX_DECOMPRESSED)
        .with_verify_crc(flags & 1 != 0)
        .with_truncated_tail(if flags & 2 != 0 {
            TruncatedTail::Error
        } else {
            TruncatedTail::Stop
        });
    let records = Bytes::copy_from_slice(records);

    let mut iter = BatchIter::new(records.clone(), opts);
    for entry in iter.by_ref() {
        let Ok(entry) = entry else { break };
        let _ = entry.magic();
        let _ = entry.last_offset();
        match entry {
            RawBatch::V2(raw) => v2_batch(&raw, &opts),
            RawBatch::Legacy(message) => {
                let _ = message.timestamp_type();
                if let Ok(inner) = message.inner_messages(&opts) {
                    let _ = legacy_to_batch(&inner, Compression::None);
                }
            }
        }
    }
    let _ = iter.truncated_tail();

    let _ = up_convert(&records, Compression::None, &opts);
    let _ = down_convert(&records, 1, &opts);

    // The same bytes as one batch, without the iterator's length checks.
    let mut buf = records;
    let _ = RecordBatch::decode(&mut buf, &opts);
});

fn v2_batch(raw: &RawRecordBatch, opts: &DecodeOptions) {
    let header = raw.header();
    let _ = header.compression();
    let _ = header.delete_horizon_ms();
    let _ = raw.validate();
    if let Ok(records) = raw.records(opts) {
        for record in records {
            let Ok(record) = record else { break };
            if header.is_control() {
                let _ = ControlRecordType::of(&record);
                let _ = EndTxnMarker::from_record(&record);
            }
        }
    }
    let Ok(batch) = raw.decode(opts) else {
        return;
    };
    let _ = batch.last_offset();
    let _ = batch.next_offset();
    for record in &batch.records {
        let _ = batch.offset_of(record);
        let _ = batch.timestamp_of(record);
    }
    // Whatever decodes re-encodes (recompressed with the batch's codec) and decodes back.
    let bytes = match batch.to_bytes() {
        Ok(b) => b,
        Err(e) => panic!("decoded batch does not re-encode: {e}"),
    };
    let strict = opts
        .with_verify_crc(true)
        .with_max_decompressed_bytes(usize::MAX);
    let again = match RawRecordBatch::new(bytes).and_then(|b| b.decode(&strict)) {
        Ok(b) => b,
        Err(e) => panic!("re-encoded batch does not decode: {e}"),
    };
    assert_eq!(again, batch, "batch changed by encode/decode");
}
