//! # krafty-codegen
//!
//! Reads Apache Kafka's JSON message specs (a folder with `clients/`,
//! `group-coordinator/` and `transaction-coordinator/`, or a Kafka checkout's
//! `clients/src/main/resources/common/message`) and writes the Rust of
//! `kafka-protocol/src/generated/`: one file per spec, the module tree, the `ApiKey` enum and
//! the request/response body enums. Pipeline: JSON with comments ([`json`]) -> spec model
//! ([`spec`]) -> Rust text ([`emit_struct`], [`emit_api`]) -> `rustfmt`.

pub mod emit_api;
pub mod emit_struct;
pub mod json;
pub mod naming;
pub mod spec;
pub mod versions;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use spec::{parse_spec, Spec, SpecKind};

/// The spec subfolders read, with the module each becomes (`None`: the root module).
const FOLDERS: &[(&str, Option<&str>)] = &[
    ("clients", None),
    ("group-coordinator", Some("group_coordinator")),
    ("transaction-coordinator", Some("transaction_coordinator")),
];

fn read_folder(dir: &Path, subdir: &str) -> Result<Vec<Spec>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_spec(p, subdir)).collect()
}

/// Generates every file, as (path relative to the output folder, formatted Rust).
///
/// `spec_dir` is either a folder holding `clients/` (and optionally `group-coordinator/`
/// and `transaction-coordinator/`), or a flat folder of specs such as a Kafka checkout's
/// `clients/src/main/resources/common/message`.
pub fn generate(spec_dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files = Vec::new();
    let mut groups: Vec<(Option<&str>, Vec<Spec>)> = Vec::new();
    if spec_dir.join("clients").is_dir() {
        for (sub, module) in FOLDERS {
            let d = spec_dir.join(sub);
            if d.is_dir() {
                groups.push((*module, read_folder(&d, sub)?));
            }
        }
    } else {
        groups.push((None, read_folder(spec_dir, "clients")?));
    }
    let mut submods = Vec::new();
    for (module, specs) in &groups {
        for s in specs {
            let rel = match module {
                Some(m) => PathBuf::from(m).join(format!("{}.rs", emit_api::module_name(s))),
                None => PathBuf::from(format!("{}.rs", emit_api::module_name(s))),
            };
            files.push((rel, emit_api::emit_spec(s)?));
        }
        if let Some(m) = module {
            let refs: Vec<&Spec> = specs.iter().collect();
            let doc = format!("Record schemas from the spec folder `{m}`.");
            files.push((
                PathBuf::from(m).join("mod.rs"),
                emit_api::emit_mod(&doc, &refs, &[], &[]),
            ));
            submods.push(*m);
        }
    }
    let root: &Vec<Spec> = groups
        .iter()
        .find(|(m, _)| m.is_none())
        .map(|(_, s)| s)
        .ok_or("no clients specs found")?;
    files.push((PathBuf::from("api_key.rs"), emit_api::emit_api_key(root)?));
    files.push((PathBuf::from("body.rs"), emit_api::emit_bodies(root)?));
    let mut refs: Vec<&Spec> = root.iter().collect();
    refs.sort_by_key(|s| (s.kind != SpecKind::Header, s.name.clone()));
    let sub_docs: Vec<(&str, &str)> = submods
        .iter()
        .map(|m| {
            (
                *m,
                if *m == "group_coordinator" {
                    "`__consumer_offsets` record keys and values."
                } else {
                    "`__transaction_state` record keys and values."
                },
            )
        })
        .collect();
    let mut mod_rs = emit_api::emit_mod(
        "Message types generated from Apache Kafka's JSON message specs. Never edit by hand.",
        &refs,
        &[
            ("api_key", "The `ApiKey` enum."),
            ("body", "Request and response bodies of any API."),
        ],
        &sub_docs,
    );
    mod_rs.push_str("pub use api_key::ApiKey;\npub use body::{RequestBody, ResponseBody};\n");
    files.push((PathBuf::from("mod.rs"), mod_rs));
    files
        .into_iter()
        .map(|(p, text)| rustfmt(&text).map(|t| (p, t)))
        .collect()
}

/// Formats Rust source with `rustfmt` (edition 2021).
pub fn rustfmt(src: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no rustfmt stdin")?;
    let input = src.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked".to_string())?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// Writes the generated files into `out_dir`, removing stale `.rs` files there.
pub fn write_all(out_dir: &Path, files: &[(PathBuf, String)]) -> Result<(), String> {
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    }
    for (rel, text) in files {
        let p = out_dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}
