//! The spec model: what one JSON message spec says, resolved into structs and fields.

use std::path::Path;

use serde_json::Value;

use crate::json::strip_comments;
use crate::versions::Versions;

/// What a spec file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecKind {
    /// A request body (has an api key).
    Request,
    /// A response body (has an api key).
    Response,
    /// A request or response header.
    Header,
    /// A data schema (consumer protocol, coordinator records, ...).
    Data,
}

/// A primitive wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `bool`.
    Bool,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `uint16`.
    Uint16,
    /// `int32`.
    Int32,
    /// `uint32`.
    Uint32,
    /// `int64`.
    Int64,
    /// `float64`.
    Float64,
    /// `uuid`.
    Uuid,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `records`.
    Records,
}

impl Prim {
    fn parse(s: &str) -> Option<Prim> {
        Some(match s {
            "bool" => Prim::Bool,
            "int8" => Prim::Int8,
            "int16" => Prim::Int16,
            "uint16" => Prim::Uint16,
            "int32" => Prim::Int32,
            "uint32" => Prim::Uint32,
            "int64" => Prim::Int64,
            "float64" => Prim::Float64,
            "uuid" => Prim::Uuid,
            "string" => Prim::String,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            _ => return None,
        })
    }

    /// Fixed wire size, for the fixed-width types.
    pub fn fixed_size(self) -> Option<usize> {
        Some(match self {
            Prim::Bool | Prim::Int8 => 1,
            Prim::Int16 | Prim::Uint16 => 2,
            Prim::Int32 | Prim::Uint32 => 4,
            Prim::Int64 | Prim::Float64 => 8,
            Prim::Uuid => 16,
            _ => return None,
        })
    }
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// A primitive.
    Prim(Prim),
    /// A struct, by name.
    Struct(String),
    /// An array of primitives or structs.
    Array(Box<FieldType>),
}

/// One field of a struct.
#[derive(Debug, Clone)]
pub struct Field {
    /// Spec name (`ThrottleTimeMs`).
    pub name: String,
    /// Wire type.
    pub ty: FieldType,
    /// Versions the field exists in.
    pub versions: Versions,
    /// Versions in which it may be null.
    pub nullable: Versions,
    /// Versions in which it is a tagged field.
    pub tagged: Versions,
    /// Its tag, if tagged.
    pub tag: Option<u32>,
    /// Whether it may be dropped silently when absent in the target version.
    pub ignorable: bool,
    /// The spec default, as written.
    pub default: Option<String>,
    /// The spec description.
    pub about: String,
    /// A per-field override of the message's flexible versions (e.g. the header's ClientId).
    pub flexible: Option<Versions>,
    /// Whether it is the key of a keyed array.
    pub map_key: bool,
}

/// A struct: the message itself, an inline nested struct or a common struct.
#[derive(Debug, Clone)]
pub struct StructDef {
    /// Struct name.
    pub name: String,
    /// Fields in wire order.
    pub fields: Vec<Field>,
    /// The description of the field that declares it.
    pub about: String,
}

/// One parsed spec file.
#[derive(Debug, Clone)]
pub struct Spec {
    /// File name.
    pub file: String,
    /// Spec subfolder (`clients`, ...).
    pub subdir: String,
    /// Message name.
    pub name: String,
    /// What it describes.
    pub kind: SpecKind,
    /// Api key, for requests and responses.
    pub api_key: Option<i16>,
    /// `validVersions`.
    pub valid: Versions,
    /// `flexibleVersions`.
    pub flexible: Versions,
    /// `listeners`.
    pub listeners: Vec<String>,
    /// The version-history comments.
    pub doc: Vec<String>,
    /// The top-level struct first, then every nested and common struct.
    pub structs: Vec<StructDef>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn versions_field(v: &Value, key: &str) -> Result<Option<Versions>, String> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Versions::parse(s).map(Some),
        Some(other) => Err(format!("{key} is not a string: {other}")),
    }
}

fn parse_type(s: &str) -> FieldType {
    if let Some(inner) = s.strip_prefix("[]") {
        return FieldType::Array(Box::new(parse_type(inner)));
    }
    match Prim::parse(s) {
        Some(p) => FieldType::Prim(p),
        None => FieldType::Struct(s.to_string()),
    }
}

fn parse_fields(
    list: &Value,
    out_structs: &mut Vec<StructDef>,
    ctx: &str,
) -> Result<Vec<Field>, String> {
    let arr = list
        .as_array()
        .ok_or_else(|| format!("{ctx}: fields is not an array"))?;
    let mut fields = Vec::new();
    for f in arr {
        let name = str_field(f, "name")
            .ok_or_else(|| format!("{ctx}: field without name"))?
            .to_string();
        let ty_s = str_field(f, "type").ok_or_else(|| format!("{ctx}.{name}: no type"))?;
        let ty = parse_type(ty_s);
        // A tagged field without "versions" exists in its tagged versions.
        let versions = match versions_field(f, "versions")? {
            Some(v) => v,
            None => versions_field(f, "taggedVersions")?
                .ok_or_else(|| format!("{ctx}.{name}: no versions"))?,
        };
        let tag = f.get("tag").and_then(Value::as_u64).map(|t| t as u32);
        let default = match f.get("default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Null) => Some("null".into()),
            Some(other) => return Err(format!("{ctx}.{name}: odd default {other}")),
        };
        let about = str_field(f, "about").unwrap_or("").to_string();
        if let Some(sub) = f.get("fields") {
            let sname = match &ty {
                FieldType::Struct(n) => n.clone(),
                FieldType::Array(inner) => match &**inner {
                    FieldType::Struct(n) => n.clone(),
                    _ => return Err(format!("{ctx}.{name}: fields on a primitive array")),
                },
                FieldType::Prim(_) => return Err(format!("{ctx}.{name}: fields on a primitive")),
            };
            let sfields = parse_fields(sub, out_structs, &sname)?;
            out_structs.push(StructDef {
                name: sname,
                fields: sfields,
                about: about.clone(),
            });
        }
        fields.push(Field {
            name,
            ty,
            versions,
            nullable: versions_field(f, "nullableVersions")?.unwrap_or(Versions::NONE),
            tagged: versions_field(f, "taggedVersions")?.unwrap_or(Versions::NONE),
            tag,
            ignorable: f.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
            default,
            about,
            flexible: versions_field(f, "flexibleVersions")?,
            map_key: f.get("mapKey").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(fields)
}

/// Parses one spec file.
pub fn parse_spec(path: &Path, subdir: &str) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (json, doc) = strip_comments(&text);
    let v: Value = serde_json::from_str(&json).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = str_field(&v, "name")
        .ok_or_else(|| format!("{}: no name", path.display()))?
        .to_string();
    let kind = match str_field(&v, "type") {
        Some("request") => SpecKind::Request,
        Some("response") => SpecKind::Response,
        Some("header") => SpecKind::Header,
        Some("data") => SpecKind::Data,
        other => return Err(format!("{name}: unknown spec type {other:?}")),
    };
    let valid =
        versions_field(&v, "validVersions")?.ok_or_else(|| format!("{name}: no validVersions"))?;
    let flexible = versions_field(&v, "flexibleVersions")?.unwrap_or(Versions::NONE);
    let listeners = v
        .get("listeners")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut structs = Vec::new();
    let top_fields = parse_fields(
        v.get("fields")
            .ok_or_else(|| format!("{name}: no fields"))?,
        &mut structs,
        &name,
    )?;
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = str_field(c, "name")
                .ok_or_else(|| format!("{name}: common struct without name"))?
                .to_string();
            let fields = parse_fields(
                c.get("fields")
                    .ok_or_else(|| format!("{cname}: no fields"))?,
                &mut structs,
                &cname,
            )?;
            structs.push(StructDef {
                name: cname,
                fields,
                about: String::new(),
            });
        }
    }
    structs.insert(
        0,
        StructDef {
            name: name.clone(),
            fields: top_fields,
            about: String::new(),
        },
    );
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(Spec {
        file,
        subdir: subdir.to_string(),
        name,
        kind,
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid,
        flexible,
        listeners,
        doc,
        structs,
    })
}
