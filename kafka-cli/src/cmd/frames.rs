//! `kafka-cli frames`: decode one frame; check that folders of frames round-trip.
//!
//! Owns: the `frames decode` and `frames check` subcommands, the naming convention of frame
//! files (`NNNNN-<key>-v<version>.request.bin` / `.response.bin`, as in the golden frames)
//! and the detection of an optional 4-byte size prefix. All decoding and encoding is
//! kafka-protocol's [`frame`] module; this module only reads files, compares bytes and prints.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use clap::{Args, Subcommand};
use krafty_protocol::frame::{self, RequestFrame};
use krafty_protocol::generated::{ApiKey, ResponseBody, ResponseHeader};
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};

use super::CliError;
use crate::body_view;

/// Arguments of `kafka-cli frames`.
#[derive(Debug, Args)]
pub struct FramesArgs {
    /// The `frames` subcommand to run.
    #[command(subcommand)]
    pub command: FramesCommand,
}

/// The `frames` subcommands.
#[derive(Debug, Subcommand)]
pub enum FramesCommand {
    /// Decode one request or response frame and print its header and body.
    Decode(DecodeArgs),
    /// Decode and re-encode every frame file in folders of frames; compare the bytes.
    Check(CheckArgs),
}

/// Arguments of `kafka-cli frames decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The frame file: one request or response frame, without its 4-byte size prefix (as in
    /// the golden frames) or with it (detected when the first 4 bytes equal the file length - 4).
    pub file: PathBuf,
    /// The API, by key or name (3 or Metadata). A response needs it unless the file name
    /// (NNNNN-<key>-v<version>.response.bin) gives it; for a request it must match the header.
    #[arg(long, value_name = "KEY", value_parser = parse_api_key)]
    pub api_key: Option<ApiKey>,
    /// The API version. A response needs it unless the file name gives it; for a request it
    /// must match the header.
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<i16>,
    /// Decode a response frame (implied by a file name ending in .response.bin).
    #[arg(long)]
    pub response: bool,
    /// Print one JSON object (header, body, api_key, api_version, ...) on one line instead of
    /// text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `kafka-cli frames check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Folders of frame files (NNNNN-<key>-v<version>.request.bin / .response.bin), parents
    /// of such folders (searched one level down), or single frame files. Other files are
    /// skipped.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

/// Runs a `frames` subcommand.
pub fn run(args: &FramesArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        FramesCommand::Decode(args) => decode(args),
        FramesCommand::Check(args) => check(args),
    }
}

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to broker: request header and request body.
    Request,
    /// Broker to client: response header and response body.
    Response,
}

impl Direction {
    /// `"request"` or `"response"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// What a frame file name `NNNNN-<key>-v<version>.{request,response}.bin` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameName {
    /// The api key (of the request, for a response too).
    pub api_key: i16,
    /// The api version (of the request, for a response too).
    pub api_version: i16,
    /// Request or response.
    pub direction: Direction,
}

/// The usage hint for frame file names, used in messages.
const NAME_PATTERN: &str = "NNNNN-<key>-v<version>.request.bin or .response.bin";

/// Parses a frame file name `NNNNN-<key>-v<version>.request.bin` or `.response.bin`
/// (`NNNNN` any number of digits); `None` for any other name.
pub fn parse_frame_name(name: &str) -> Option<FrameName> {
    let (stem, direction) = if let Some(stem) = name.strip_suffix(".request.bin") {
        (stem, Direction::Request)
    } else if let Some(stem) = name.strip_suffix(".response.bin") {
        (stem, Direction::Response)
    } else {
        return None;
    };
    let mut parts = stem.split('-');
    let (seq, key, version) = (parts.next()?, parts.next()?, parts.next()?);
    let version = version.strip_prefix('v')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(seq) || !digits(key) || !digits(version) {
        return None;
    }
    Some(FrameName {
        api_key: key.parse().ok()?,
        api_version: version.parse().ok()?,
        direction,
    })
}

/// The frame name of a path's file name, if it follows [`parse_frame_name`]'s pattern.
fn path_frame_name(path: &Path) -> Option<FrameName> {
    path.file_name()?.to_str().and_then(parse_frame_name)
}

/// Whether `raw` starts with a 4-byte big-endian size prefix equal to the bytes after it.
pub fn has_size_prefix(raw: &[u8]) -> bool {
    match raw.get(..4).map(<[u8; 4]>::try_from) {
        Some(Ok(prefix)) => u32::from_be_bytes(prefix) as usize == raw.len() - 4,
        _ => false,
    }
}

/// Parses `--api-key`: a number (`3`) or an API name in any case (`Metadata`, `metadata`).
pub fn parse_api_key(s: &str) -> Result<ApiKey, String> {
    if let Ok(key) = s.parse::<i16>() {
        return ApiKey::from_i16(key).ok_or_else(|| format!("unknown api key {key}"));
    }
    ApiKey::ALL
        .iter()
        .copied()
        .find(|k| k.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown API {s:?}: give an api key number or a name like Metadata"))
}

/// The offset of the first byte where `a` and `b` differ (the shorter length when one is a
/// prefix of the other), or `None` when they are equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(at) => Some(at),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

/// A decoded frame.
enum Decoded {
    /// A request: header and body.
    Request(RequestFrame),
    /// A response: header and body.
    Response(ResponseHeader, ResponseBody),
}

/// How the size prefix question was settled for `frames decode`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SizePrefix {
    /// The first 4 bytes are not a size prefix.
    Absent,
    /// The first 4 bytes equal the length of the rest and were stripped.
    Stripped,
    /// The first 4 bytes equal the length of the rest, but the frame decodes only with them.
    LookalikeKept,
}

impl SizePrefix {
    fn describe(self) -> &'static str {
        match self {
            SizePrefix::Absent => "no size prefix",
            SizePrefix::Stripped => "4-byte size prefix detected and stripped",
            SizePrefix::LookalikeKept => {
                "no size prefix (the first 4 bytes equal the length - 4, but the frame only \
                 decodes with them)"
            }
        }
    }
}

/// The API and version a response is decoded with, and where they came from.
struct ResponseTarget {
    api_key: ApiKey,
    api_version: i16,
    source: &'static str,
}

/// Works out the API and version of a response from the flags, then the file name.
fn response_target(args: &DecodeArgs, name: Option<FrameName>) -> Result<ResponseTarget, CliError> {
    let missing = || {
        CliError::msg(format!(
            "cannot tell which API {} is a response to: pass --api-key and --api-version, or \
             name the file NNNNN-<key>-v<version>.response.bin",
            args.file.display()
        ))
    };
    let api_key = match (args.api_key, name) {
        (Some(key), _) => key,
        (None, Some(n)) => ApiKey::from_i16(n.api_key).ok_or_else(|| {
            CliError::msg(format!(
                "unknown api key {} in the file name of {}",
                n.api_key,
                args.file.display()
            ))
        })?,
        (None, None) => return Err(missing()),
    };
    let api_version = match (args.api_version, name) {
        (Some(v), _) => v,
        (None, Some(n)) => n.api_version,
        (None, None) => return Err(missing()),
    };
    let source = match (args.api_key.is_some(), args.api_version.is_some()) {
        (true, true) => "from --api-key and --api-version",
        (false, false) => "from the file name",
        (true, false) => "from --api-key and the file name",
        (false, true) => "from the file name and --api-version",
    };
    let range = api_key.valid_versions();
    if !range.contains(api_version) {
        return Err(CliError::msg(format!(
            "{} (api key {}) has no version {api_version}; its versions are {}-{}",
            api_key.name(),
            api_key.key(),
            range.min,
            range.max
        )));
    }
    Ok(ResponseTarget {
        api_key,
        api_version,
        source,
    })
}

/// Checks `--api-key` / `--api-version` against a request header, and warns when the file
/// name disagrees with it.
fn validate_request(
    args: &DecodeArgs,
    name: Option<FrameName>,
    req: &RequestFrame,
) -> Result<(), CliError> {
    let (key, version) = (req.header.request_api_key, req.header.request_api_version);
    if let Some(flag) = args.api_key.filter(|k| k.key() != key) {
        return Err(CliError::msg(format!(
            "--api-key {} ({}) does not match the request header's api key {key} ({})",
            flag.key(),
            flag.name(),
            req.api_key().name()
        )));
    }
    if let Some(flag) = args.api_version.filter(|&v| v != version) {
        return Err(CliError::msg(format!(
            "--api-version {flag} does not match the request header's api version {version}"
        )));
    }
    if let Some(n) = name.filter(|n| (n.api_key, n.api_version) != (key, version)) {
        eprintln!(
            "kafka-cli: warning: the file name says api key {} v{}, the header says api key \
             {key} v{version}; using the header",
            n.api_key, n.api_version
        );
    }
    Ok(())
}

/// `frames decode`.
fn decode(args: &DecodeArgs) -> Result<ExitCode, CliError> {
    let path = &args.file;
    let raw = fs::read(path)
        .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))?;
    let raw = Bytes::from(raw);
    let name = path_frame_name(path);
    let direction = match name {
        _ if args.response => Direction::Response,
        Some(n) => n.direction,
        None => Direction::Request,
    };
    let target = match direction {
        Direction::Response => Some(response_target(args, name)?),
        Direction::Request => None,
    };

    let attempt = |frame: Bytes| -> krafty_protocol::Result<Decoded> {
        match &target {
            Some(t) => frame::decode_response(frame, t.api_key, t.api_version)
                .map(|(header, body)| Decoded::Response(header, body)),
            None => frame::decode_request(frame).map(Decoded::Request),
        }
    };
    let what = match &target {
        Some(t) => format!("a {} v{} response", t.api_key.name(), t.api_version),
        None => "a request".to_string(),
    };
    // Nothing said this is a request: it was only the default.
    let hint = if target.is_none() && name.is_none() {
        "\n(if the file is a response, pass --response with --api-key and --api-version)"
    } else {
        ""
    };
    let (decoded, prefix) = if has_size_prefix(&raw) {
        match attempt(raw.slice(4..)) {
            Ok(d) => (d, SizePrefix::Stripped),
            Err(e) => match attempt(raw.clone()) {
                Ok(d) => (d, SizePrefix::LookalikeKept),
                Err(_) => {
                    return Err(CliError::msg(format!(
                        "cannot decode {} as {what} (after stripping its 4-byte size prefix): \
                         {e}{hint}",
                        path.display()
                    )))
                }
            },
        }
    } else {
        let d = attempt(raw.clone()).map_err(|e| {
            CliError::msg(format!(
                "cannot decode {} as {what}: {e}{hint}",
                path.display()
            ))
        })?;
        (d, SizePrefix::Absent)
    };
    if let Decoded::Request(req) = &decoded {
        validate_request(args, name, req)?;
    }

    let mut out = io::stdout().lock();
    if args.json {
        print_json(&mut out, path, prefix, &decoded, target.as_ref())?;
    } else {
        print_text(&mut out, path, raw.len(), prefix, &decoded, target.as_ref())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The text output of `frames decode`: a file line, a header line, then the body.
fn print_text(
    out: &mut impl Write,
    path: &Path,
    len: usize,
    prefix: SizePrefix,
    decoded: &Decoded,
    target: Option<&ResponseTarget>,
) -> Result<(), CliError> {
    writeln!(
        out,
        "{}: {len} bytes, {}",
        path.display(),
        prefix.describe()
    )?;
    match (decoded, target) {
        (Decoded::Request(req), _) => {
            let h = &req.header;
            let api = req.api_key();
            let client_id = match &h.client_id {
                Some(id) => format!("{:?}", &**id),
                None => "null".to_string(),
            };
            writeln!(
                out,
                "{} request: api key {}, version {}, header v{}, correlation id {}, client id {}",
                api.name(),
                api.key(),
                h.request_api_version,
                frame::request_header_version(api, h.request_api_version),
                h.correlation_id,
                client_id
            )?;
            if !h.tagged_fields.unknown.is_empty() {
                writeln!(out, "header tagged fields: {:?}", h.tagged_fields.unknown)?;
            }
            writeln!(out, "{:#?}", body_view::request_debug(&req.body))?;
        }
        (Decoded::Response(h, body), Some(t)) => {
            writeln!(
                out,
                "{} response: api key {}, version {} ({}), header v{}, correlation id {}",
                t.api_key.name(),
                t.api_key.key(),
                t.api_version,
                t.source,
                frame::response_header_version(t.api_key, t.api_version),
                h.correlation_id
            )?;
            if !h.tagged_fields.unknown.is_empty() {
                writeln!(out, "header tagged fields: {:?}", h.tagged_fields.unknown)?;
            }
            writeln!(out, "{:#?}", body_view::response_debug(body))?;
        }
        (Decoded::Response(..), None) => {
            return Err(CliError::msg("internal error: a response without its API"));
        }
    }
    Ok(())
}

/// The JSON output of `frames decode`: one object on one line.
#[derive(Serialize)]
struct JsonFrame<'a> {
    /// The file decoded.
    file: String,
    /// `"request"` or `"response"`.
    direction: &'static str,
    /// Whether a 4-byte size prefix was detected and stripped.
    size_prefix: bool,
    api_key: i16,
    api_name: &'static str,
    api_version: i16,
    header_version: i16,
    /// The request or response header (serialized by kafka-protocol's `serde` feature).
    header: Box<RawValue>,
    /// The body's message (the same, without the API tag).
    body: Box<RawValue>,
    /// For a response: where the api key and version came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_source: Option<&'a str>,
}

/// Prints the JSON output of `frames decode`.
fn print_json(
    out: &mut impl Write,
    path: &Path,
    prefix: SizePrefix,
    decoded: &Decoded,
    target: Option<&ResponseTarget>,
) -> Result<(), CliError> {
    let json_err = |e: serde_json::Error| CliError::msg(format!("cannot convert to JSON: {e}"));
    let file = path.display().to_string();
    let size_prefix = prefix == SizePrefix::Stripped;
    let json = match (decoded, target) {
        (Decoded::Request(req), _) => {
            let api = req.api_key();
            let version = req.header.request_api_version;
            JsonFrame {
                file,
                direction: Direction::Request.as_str(),
                size_prefix,
                api_key: api.key(),
                api_name: api.name(),
                api_version: version,
                header_version: frame::request_header_version(api, version),
                header: to_raw_value(&req.header).map_err(json_err)?,
                body: body_view::request_json(&req.body).map_err(json_err)?,
                api_source: None,
            }
        }
        (Decoded::Response(header, body), Some(t)) => JsonFrame {
            file,
            direction: Direction::Response.as_str(),
            size_prefix,
            api_key: t.api_key.key(),
            api_name: t.api_key.name(),
            api_version: t.api_version,
            header_version: frame::response_header_version(t.api_key, t.api_version),
            header: to_raw_value(header).map_err(json_err)?,
            body: body_view::response_json(body).map_err(json_err)?,
            api_source: Some(t.source),
        },
        (Decoded::Response(..), None) => {
            return Err(CliError::msg("internal error: a response without its API"));
        }
    };
    let line = serde_json::to_string(&json).map_err(json_err)?;
    writeln!(out, "{line}")?;
    Ok(())
}

/// `frames check`.
fn check(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let files = collect_frame_files(&args.dirs)?;
    let mut out = io::stdout().lock();
    let (mut ok, mut failed) = (0usize, 0usize);
    for (path, name) in &files {
        match check_frame(path, *name) {
            Ok(()) => ok += 1,
            Err(why) => {
                failed += 1;
                writeln!(out, "{}: {why}", path.display())?;
            }
        }
    }
    writeln!(
        out,
        "checked {} frames: {ok} ok, {failed} failed",
        files.len()
    )?;
    out.flush()?;
    if files.is_empty() {
        let dirs: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
        eprintln!(
            "kafka-cli: error: no frame files ({NAME_PATTERN}) in {}",
            dirs.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The entries of a folder, sorted by path.
fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let cannot = |e: io::Error| CliError::msg(format!("cannot read {}: {e}", dir.display()));
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(cannot)? {
        paths.push(entry.map_err(cannot)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The frame files named by the `frames check` arguments: frame files themselves, the frame
/// files in a folder, and those in its subfolders (one level down), each folder sorted.
fn collect_frame_files(args: &[PathBuf]) -> Result<Vec<(PathBuf, FrameName)>, CliError> {
    let mut found = Vec::new();
    for arg in args {
        let meta = fs::metadata(arg)
            .map_err(|e| CliError::msg(format!("cannot read {}: {e}", arg.display())))?;
        if !meta.is_dir() {
            let name = path_frame_name(arg).ok_or_else(|| {
                CliError::msg(format!(
                    "{}: not a frame file name ({NAME_PATTERN})",
                    arg.display()
                ))
            })?;
            found.push((arg.clone(), name));
            continue;
        }
        for entry in read_dir_sorted(arg)? {
            if entry.is_dir() {
                for file in read_dir_sorted(&entry)? {
                    if let Some(name) = path_frame_name(&file).filter(|_| file.is_file()) {
                        found.push((file, name));
                    }
                }
            } else if let Some(name) = path_frame_name(&entry) {
                found.push((entry, name));
            }
        }
    }
    Ok(found)
}

/// Decodes one frame file (a response with the api key and version of its file name),
/// re-encodes it and compares the bytes. `Err` says why it failed.
fn check_frame(path: &Path, name: FrameName) -> Result<(), String> {
    let raw = Bytes::from(fs::read(path).map_err(|e| format!("cannot read: {e}"))?);
    let api_key = ApiKey::from_i16(name.api_key)
        .ok_or_else(|| format!("unknown api key {} in the file name", name.api_key))?;
    let version = name.api_version;
    let mut out = BytesMut::with_capacity(raw.len() + 4);
    match name.direction {
        Direction::Request => {
            let req =
                frame::decode_request(raw.clone()).map_err(|e| format!("decode error: {e}"))?;
            let header = (req.header.request_api_key, req.header.request_api_version);
            if header != (name.api_key, version) {
                return Err(format!(
                    "the header says api key {} v{}, the file name says api key {} v{version}",
                    header.0, header.1, name.api_key
                ));
            }
            frame::write_request(&mut out, &req.header, &req.body)
        }
        Direction::Response => {
            let (header, body) = frame::decode_response(raw.clone(), api_key, version)
                .map_err(|e| format!("decode error: {e}"))?;
            frame::write_response(&mut out, &header, version, &body)
        }
    }
    .map_err(|e| format!("encode error: {e}"))?;
    // The write functions put the 4-byte size prefix first; the files have none.
    let encoded = out.get(4..).unwrap_or_default();
    let Some(at) = first_difference(&raw, encoded) else {
        return Ok(());
    };
    let byte = |b: Option<&u8>| b.map_or("end of data".to_string(), |b| format!("{b:#04x}"));
    Err(format!(
        "re-encoded bytes differ at offset {at}: file has {}, re-encoded has {} ({} bytes in \
         file, {} re-encoded)",
        byte(raw.get(at)),
        byte(encoded.get(at)),
        raw.len(),
        encoded.len()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn frame_names() {
        assert_eq!(
            parse_frame_name("00002-3-v12.request.bin"),
            Some(FrameName {
                api_key: 3,
                api_version: 12,
                direction: Direction::Request
            })
        );
        assert_eq!(
            parse_frame_name("7-18-v0.response.bin").map(|n| n.direction),
            Some(Direction::Response)
        );
        for bad in [
            "index.tsv",
            "00002-3-12.request.bin",
            "00002-3-v12.bin",
            "x-3-v12.request.bin",
            "00002-3-v12-1.request.bin",
            "00002--v12.request.bin",
            "00002-99999-v1.request.bin",
        ] {
            assert_eq!(parse_frame_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn size_prefix_detection() {
        assert!(has_size_prefix(&[0, 0, 0, 2, 7, 8]));
        assert!(has_size_prefix(&[0, 0, 0, 0]));
        assert!(!has_size_prefix(&[0, 0, 0, 3, 7, 8]));
        assert!(!has_size_prefix(&[0, 0, 0]));
        assert!(!has_size_prefix(&[]));
    }

    #[test]
    fn api_keys_by_number_or_name() {
        assert_eq!(parse_api_key("3"), Ok(ApiKey::Metadata));
        assert_eq!(parse_api_key("metadata"), Ok(ApiKey::Metadata));
        assert_eq!(parse_api_key("ApiVersions"), Ok(ApiKey::ApiVersions));
        assert!(parse_api_key("9999").is_err());
        assert!(parse_api_key("Nope").is_err());
    }

    #[test]
    fn differences() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"", b"a"), Some(0));
    }
}
