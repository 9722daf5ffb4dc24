//! The committed `kafka-protocol/src/generated/` is exactly what the generator writes from
//! the spec folder. Skips (with a printed reason) when the spec folder is absent.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn read_tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// The spec folder is missing: with `CI=true` (anything but `false`/`0`) the test fails
/// with the reason (a freshness check that skips in CI proves nothing); outside CI it
/// prints `SKIP ...` and the caller returns.
fn specs_missing(reason: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"));
    if ci {
        panic!("missing with CI=true (CI never passes by skipping): {reason}");
    }
    eprintln!("SKIP {reason} (with CI=true this fails)");
}

#[test]
fn generated_code_is_up_to_date() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs = std::env::var_os("KAFKA_MESSAGE_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/kafka-message-specs"));
    if !specs.join("clients").is_dir() {
        specs_missing(&format!(
            "generated_code_is_up_to_date: spec folder {} not found (set KAFKA_MESSAGE_SPECS)",
            specs.display()
        ));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("generated");
    let files = krafty_codegen::generate(&specs).unwrap();
    krafty_codegen::write_all(&out, &files).unwrap();
    let fresh = read_tree(&out);
    let committed = read_tree(&manifest.join("../src/generated"));
    let missing: Vec<_> = fresh
        .keys()
        .filter(|k| !committed.contains_key(*k))
        .collect();
    let extra: Vec<_> = committed
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .collect();
    let changed: Vec<_> = fresh
        .iter()
        .filter(|(k, v)| committed.get(*k).is_some_and(|c| c != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "kafka-protocol/src/generated is stale; run `cargo run -p krafty-codegen`.\n\
         missing: {missing:?}\nextra: {extra:?}\nchanged: {changed:?}"
    );
    eprintln!("{} generated files up to date", fresh.len());
}

#[test]
fn a_flat_kafka_checkout_folder_works_too() {
    // A Kafka checkout keeps the client specs flat in
    // clients/src/main/resources/common/message; the generator accepts such a folder.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flat = manifest.join("../../../shared/kafka-message-specs/clients");
    if !flat.is_dir() {
        specs_missing(&format!(
            "a_flat_kafka_checkout_folder_works_too: {} not found",
            flat.display()
        ));
        return;
    }
    let files = krafty_codegen::generate(&flat).unwrap();
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(names.contains(&"produce_request.rs".to_string()));
    assert!(names.contains(&"api_key.rs".to_string()));
    assert!(!names.iter().any(|n| n.starts_with("group_coordinator")));
}
