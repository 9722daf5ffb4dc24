//! The codec operations of `codec.rs`, one at a time, for counting instructions under
//! callgrind (`scripts/bench-instructions.sh`): instruction counts do not move with the
//! load of a shared machine the way times do.
//!
//! `instructions OPERATION SIDE ITERATIONS` prepares the inputs, then runs OPERATION
//! (see [`OPERATIONS`]) ITERATIONS times with SIDE's codec (`ours` or `kafka-protocol`).
//! The script runs it with two iteration counts and divides the difference of the totals
//! by the difference of the counts, so the preparation cancels out. `instructions list`
//! prints the operations.

#![allow(missing_docs, clippy::unwrap_used)]

mod workload;

use std::hint::black_box;

use workload::*;

/// Every operation this binary runs, by name. (Compressed batch encodes are left to the
/// criterion bench: their instructions are the compression libraries', not the codec's.)
const OPERATIONS: &[&str] = &[
    "produce_v9/decode_shallow",
    "produce_v9/decode_deep",
    "produce_v9/encode",
    "metadata_v12/decode",
    "metadata_v12/encode",
    "batch_encode_1mib/none",
];

fn main() {
    // `cargo bench` passes `--bench`; only the positional arguments matter
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.first().map(String::as_str) == Some("list") {
        for op in OPERATIONS {
            println!("{op}");
        }
        return;
    }
    let [op, side, n] = args.as_slice() else {
        eprintln!("usage: instructions OPERATION (ours|kafka-protocol) ITERATIONS | list");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("ITERATIONS is a number");
    let ours = match side.as_str() {
        "ours" => true,
        "kafka-protocol" => false,
        other => panic!("unknown side {other}"),
    };
    let produce = encode(&produce_request(), 9);
    let metadata = encode(&metadata_response(), 12);
    match op.as_str() {
        "produce_v9/decode_shallow" => repeat(n, || {
            if ours {
                drop(black_box(ours_shallow(&produce)));
            } else {
                drop(black_box(kprs_shallow(&produce)));
            }
        }),
        "produce_v9/decode_deep" => repeat(n, || {
            black_box(if ours {
                ours_deep(&produce)
            } else {
                kprs_deep(&produce)
            });
        }),
        "produce_v9/encode" => {
            let (a, b) = (ours_shallow(&produce), kprs_shallow(&produce));
            repeat(n, || {
                black_box(if ours {
                    ours_encode(&a, 9, produce.len())
                } else {
                    kprs_encode(&b, 9, produce.len())
                });
            })
        }
        "metadata_v12/decode" => repeat(n, || {
            if ours {
                drop(black_box(ours_metadata(&metadata)));
            } else {
                drop(black_box(kprs_metadata(&metadata)));
            }
        }),
        "metadata_v12/encode" => {
            let (a, b) = (ours_metadata(&metadata), kprs_metadata(&metadata));
            repeat(n, || {
                black_box(if ours {
                    ours_encode(&a, 12, metadata.len())
                } else {
                    kprs_encode(&b, 12, metadata.len())
                });
            })
        }
        other => {
            let name = other
                .strip_prefix("batch_encode_1mib/")
                .unwrap_or_else(|| panic!("unknown operation {other} (try `list`)"));
            let (_, ours_c, their_c) = codecs()
                .into_iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("unknown codec {name}"));
            let count = record_count();
            let value = vec![b'x'; VALUE_LEN];
            let theirs = kprs_records(count);
            repeat(n, || {
                if ours {
                    black_box(ours_batch_encode(ours_c, &value, count));
                } else {
                    black_box(kprs_batch_encode(their_c, &theirs));
                }
            })
        }
    }
}

fn repeat(n: usize, mut f: impl FnMut()) {
    for _ in 0..n {
        f();
    }
}
