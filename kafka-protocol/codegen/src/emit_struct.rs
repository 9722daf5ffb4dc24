//! Emits one Rust struct with its `Message`, `Decode` and `Encode` impls (decode, encode,
//! encoded_len) per spec struct; the last two are gated by the `client`/`broker` features
//! for request and response specs ([`direction_cfgs`]).

use std::collections::HashMap;
use std::fmt::Write;

use crate::naming::field_ident;
use crate::spec::{Field, FieldType, Prim, Spec, SpecKind, StructDef};
use crate::versions::Versions;

/// Everything the emitter needs to know about the spec being generated.
pub struct Ctx<'a> {
    /// The spec being generated.
    pub spec: &'a Spec,
    /// Its structs by name.
    pub structs: HashMap<&'a str, &'a StructDef>,
}

impl<'a> Ctx<'a> {
    /// The context for one spec.
    pub fn new(spec: &'a Spec) -> Self {
        let structs = spec.structs.iter().map(|s| (s.name.as_str(), s)).collect();
        Ctx { spec, structs }
    }

    fn valid(&self) -> Versions {
        self.spec.valid
    }

    fn can_be_flexible(&self) -> bool {
        !self.spec.flexible.intersect(&self.spec.valid).is_empty()
    }
}

fn prim_rust(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "bool",
        Prim::Int8 => "i8",
        Prim::Int16 => "i16",
        Prim::Uint16 => "u16",
        Prim::Int32 => "i32",
        Prim::Uint32 => "u32",
        Prim::Int64 => "i64",
        Prim::Float64 => "f64",
        Prim::Uuid => "Uuid",
        Prim::String => "StrBytes",
        Prim::Bytes => "Bytes",
        Prim::Records => "Option<Bytes>",
    }
}

fn prim_wire(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "bool",
        Prim::Int8 => "i8",
        Prim::Int16 => "i16",
        Prim::Uint16 => "u16",
        Prim::Int32 => "i32",
        Prim::Uint32 => "u32",
        Prim::Int64 => "i64",
        Prim::Float64 => "f64",
        Prim::Uuid => "uuid",
        Prim::String => "string",
        Prim::Bytes => "bytes",
        Prim::Records => "records",
    }
}

/// Whether arrays of this element type use `PrimitiveVec` (fixed-width numbers).
fn is_primitive_vec_elem(ty: &FieldType) -> bool {
    matches!(
        ty,
        FieldType::Prim(
            Prim::Int8
                | Prim::Int16
                | Prim::Uint16
                | Prim::Int32
                | Prim::Uint32
                | Prim::Int64
                | Prim::Float64
        )
    )
}

fn base_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => prim_rust(*p).to_string(),
        FieldType::Struct(n) => n.clone(),
        FieldType::Array(inner) if is_primitive_vec_elem(inner) => {
            format!("PrimitiveVec<{}>", base_type(inner))
        }
        FieldType::Array(inner) => format!("Vec<{}>", base_type(inner)),
    }
}

fn is_option(f: &Field) -> bool {
    !f.nullable.is_empty() && f.ty != FieldType::Prim(Prim::Records)
}

/// The Rust type of a field.
pub fn rust_type(f: &Field) -> String {
    let b = base_type(&f.ty);
    if is_option(f) {
        format!("Option<{b}>")
    } else {
        b
    }
}

fn wire_type_doc(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(p) => prim_wire(*p).to_string(),
        FieldType::Struct(n) => n.clone(),
        FieldType::Array(inner) => format!("[{}]", wire_type_doc(inner)),
    }
}

fn parse_int(s: &str) -> Result<i128, String> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16)
    } else {
        t.parse::<i128>()
    }
    .map_err(|e| format!("bad integer default {s:?}: {e}"))?;
    Ok(if neg { -v } else { v })
}

fn str_literal(s: &str) -> String {
    format!("{s:?}")
}

/// The Rust expression of a field's default value.
pub fn default_expr(f: &Field) -> Result<String, String> {
    let d = f.default.as_deref();
    let opt = is_option(f);
    let wrap = |e: String| if opt { format!("Some({e})") } else { e };
    Ok(match &f.ty {
        FieldType::Prim(p) => match p {
            Prim::Bool => match d {
                None => "false".into(),
                Some(v) if v == "true" || v == "false" => v.to_string(),
                Some(v) => return Err(format!("{}: bool default {v:?}", f.name)),
            },
            Prim::Int8 | Prim::Int16 | Prim::Uint16 | Prim::Int32 | Prim::Uint32 | Prim::Int64 => {
                let v = match d {
                    None | Some("") => 0,
                    Some(v) => parse_int(v)?,
                };
                let ty = prim_rust(*p);
                format!("{v}_{ty}")
            }
            Prim::Float64 => match d {
                None | Some("") => "0.0".into(),
                Some(v) => {
                    let x: f64 = v.parse().map_err(|e| format!("{}: {e}", f.name))?;
                    format!("{x:?}_f64")
                }
            },
            Prim::Uuid => "Uuid::ZERO".into(),
            Prim::String => match d {
                Some("null") if opt => "None".into(),
                None | Some("") => wrap("StrBytes::from_static_str(\"\")".into()),
                Some(v) => wrap(format!("StrBytes::from_static_str({})", str_literal(v))),
            },
            Prim::Bytes => match d {
                Some("null") if opt => "None".into(),
                _ => wrap("Bytes::new()".into()),
            },
            Prim::Records => "None".into(),
        },
        FieldType::Struct(n) => {
            if opt {
                "None".into()
            } else {
                format!("{n}::default()")
            }
        }
        FieldType::Array(inner) => match d {
            Some("null") if opt => "None".into(),
            _ if is_primitive_vec_elem(inner) => wrap("PrimitiveVec::new()".into()),
            _ => wrap("Vec::new()".into()),
        },
    })
}

/// A condition that is true when the field holds a value other than its default.
fn not_default(f: &Field, val: &str) -> Result<String, String> {
    let d = default_expr(f)?;
    Ok(match (&f.ty, is_option(f)) {
        (FieldType::Array(_), false) => format!("!{val}.is_empty()"),
        (FieldType::Array(_), true) if d == "None" => format!("{val}.is_some()"),
        (FieldType::Array(_), true) => format!("{val}.as_ref().map_or(true, |v| !v.is_empty())"),
        (FieldType::Prim(Prim::Float64), _) => format!("{val}.to_bits() != ({d}).to_bits()"),
        _ => format!("{val} != {d}"),
    })
}

fn min_size_of(ctx: &Ctx, ty: &FieldType, depth: usize) -> usize {
    match ty {
        FieldType::Prim(p) => p.fixed_size().unwrap_or(1),
        FieldType::Array(_) => 1,
        FieldType::Struct(n) => {
            if depth > 8 {
                return 1;
            }
            let Some(s) = ctx.structs.get(n.as_str()) else {
                return 1;
            };
            let valid = ctx.valid();
            let mut best = usize::MAX;
            for v in valid.min..=valid.max {
                let mut sum = usize::from(ctx.spec.flexible.contains(v));
                for f in &s.fields {
                    if f.versions.contains(v) && !f.tagged.contains(v) {
                        sum += if is_option(f) {
                            1
                        } else {
                            min_size_of(ctx, &f.ty, depth + 1)
                        };
                    }
                }
                best = best.min(sum);
            }
            best.max(1)
        }
    }
}

/// The compact flag expression for a field: the message's `flexible`, or a per-field override.
fn compact_expr(ctx: &Ctx, f: &Field, tagged: bool) -> String {
    if tagged {
        return "true".into();
    }
    match &f.flexible {
        Some(v) => v.condition(&ctx.valid()),
        None => "flexible".into(),
    }
}

/// Condition for "null is allowed here", evaluated where the field is known to be present.
fn nullable_cond(ctx: &Ctx, f: &Field) -> String {
    let present = f.versions.intersect(&ctx.valid());
    if present.is_empty() {
        return f.nullable.condition(&ctx.valid());
    }
    f.nullable.condition(&present)
}

fn if_else(cond: &str, a: &str, b: &str) -> String {
    match cond {
        "true" => a.to_string(),
        "false" => b.to_string(),
        c => format!("if {c} {{ {a} }} else {{ {b} }}"),
    }
}

fn elem_decode(ctx: &Ctx, ty: &FieldType, c: &str) -> String {
    match ty {
        FieldType::Prim(Prim::String) => format!("wire::read_string(buf, {c})"),
        FieldType::Prim(Prim::Bytes) => format!("wire::read_bytes(buf, {c})"),
        FieldType::Prim(p) => format!("wire::read_{}(buf)", prim_wire(*p)),
        FieldType::Struct(n) => format!("{n}::decode(buf, version)"),
        FieldType::Array(inner) => {
            let min = min_size_of(ctx, inner, 0);
            format!(
                "wire::read_array(buf, {c}, {min}, |buf| {}).and_then(wire::non_null)",
                elem_decode(ctx, inner, c)
            )
        }
    }
}

/// Expression (of the field's Rust type) decoding the field from `buf`.
fn decode_expr(ctx: &Ctx, f: &Field, c: &str) -> String {
    let nc = nullable_cond(ctx, f);
    let opt = is_option(f);
    match &f.ty {
        FieldType::Prim(p @ (Prim::String | Prim::Bytes)) => {
            let w = prim_wire(*p);
            if opt {
                if_else(
                    &nc,
                    &format!("wire::read_nullable_{w}(buf, {c})?"),
                    &format!("Some(wire::read_{w}(buf, {c})?)"),
                )
            } else {
                format!("wire::read_{w}(buf, {c})?")
            }
        }
        FieldType::Prim(Prim::Records) => if_else(
            &nc,
            &format!("wire::read_nullable_bytes(buf, {c})?"),
            &format!("Some(wire::read_bytes(buf, {c})?)"),
        ),
        FieldType::Prim(p) => format!("wire::read_{}(buf)?", prim_wire(*p)),
        FieldType::Struct(n) => {
            if opt {
                if_else(
                    &nc,
                    &format!("if wire::read_i8(buf)? < 0 {{ None }} else {{ Some({n}::decode(buf, version)?) }}"),
                    &format!("Some({n}::decode(buf, version)?)"),
                )
            } else {
                format!("{n}::decode(buf, version)?")
            }
        }
        FieldType::Array(inner) => {
            let min = min_size_of(ctx, inner, 0);
            let arr = match &**inner {
                FieldType::Prim(
                    p @ (Prim::Int8
                    | Prim::Int16
                    | Prim::Uint16
                    | Prim::Int32
                    | Prim::Uint32
                    | Prim::Int64
                    | Prim::Float64),
                ) => format!("wire::read_{}_array(buf, {c})?", prim_wire(*p)),
                _ => format!(
                    "wire::read_array(buf, {c}, {min}, |buf| {})?",
                    elem_decode(ctx, inner, c)
                ),
            };
            if opt {
                if_else(&nc, &arr, &format!("Some(wire::non_null({arr})?)"))
            } else {
                format!("wire::non_null({arr})?")
            }
        }
    }
}

fn elem_encode(ty: &FieldType, c: &str, e: &str) -> String {
    match ty {
        FieldType::Prim(Prim::String) => format!("wire::write_string(buf, {e}, {c})?;"),
        FieldType::Prim(Prim::Bytes) => format!("wire::write_bytes(buf, {e}, {c})?;"),
        FieldType::Prim(Prim::Uuid) => format!("wire::write_uuid(buf, {e});"),
        FieldType::Prim(p) => format!("wire::write_{}(buf, *{e});", prim_wire(*p)),
        FieldType::Struct(_) => format!("{e}.encode(buf, version)?;"),
        FieldType::Array(inner) => format!(
            "wire::write_array_len(buf, Some({e}.len()), {c})?; for x in {e}.iter() {{ {} }}",
            elem_encode(inner, c, "x")
        ),
    }
}

/// Statements encoding the field's value `val` into `buf`.
fn encode_stmt(ctx: &Ctx, f: &Field, c: &str, val: &str) -> String {
    let nc = nullable_cond(ctx, f);
    let opt = is_option(f);
    let null_err = "return Err(Error::new(ErrorKind::UnexpectedNull))";
    match &f.ty {
        FieldType::Prim(p @ (Prim::String | Prim::Bytes)) => {
            let w = prim_wire(*p);
            if opt {
                if_else(
                    &nc,
                    &format!("wire::write_nullable_{w}(buf, {val}.as_deref(), {c})?;"),
                    &format!("wire::write_{w}(buf, wire::non_null({val}.as_deref())?, {c})?;"),
                )
            } else {
                format!("wire::write_{w}(buf, &{val}, {c})?;")
            }
        }
        FieldType::Prim(Prim::Records) => if_else(
            &nc,
            &format!("wire::write_nullable_bytes(buf, {val}.as_deref(), {c})?;"),
            &format!("wire::write_bytes(buf, wire::non_null({val}.as_deref())?, {c})?;"),
        ),
        FieldType::Prim(Prim::Uuid) => format!("wire::write_uuid(buf, &{val});"),
        FieldType::Prim(p) => format!("wire::write_{}(buf, {val});", prim_wire(*p)),
        FieldType::Struct(_) => {
            if opt {
                if_else(
                    &nc,
                    &format!("match &{val} {{ None => wire::write_i8(buf, -1), Some(s) => {{ wire::write_i8(buf, 1); s.encode(buf, version)?; }} }}"),
                    &format!("wire::non_null({val}.as_ref())?.encode(buf, version)?;"),
                )
            } else {
                format!("{val}.encode(buf, version)?;")
            }
        }
        FieldType::Array(inner) => {
            let body = format!(
                "wire::write_array_len(buf, Some(v.len()), {c})?; for x in v.iter() {{ {} }}",
                elem_encode(inner, c, "x")
            );
            if opt {
                let none = if_else(
                    &nc,
                    &format!("wire::write_array_len(buf, None, {c})?;"),
                    &format!("{null_err};"),
                );
                format!("match &{val} {{ None => {{ {none} }} Some(v) => {{ {body} }} }}")
            } else {
                format!("{{ let v = &{val}; {body} }}")
            }
        }
    }
}

fn elem_len(ty: &FieldType, c: &str, e: &str) -> String {
    match ty {
        FieldType::Prim(Prim::String) => format!("wire::string_len({e}, {c})"),
        FieldType::Prim(Prim::Bytes) => format!("wire::bytes_len({e}, {c})"),
        FieldType::Prim(p) => format!("{}", p.fixed_size().unwrap_or(0)),
        FieldType::Struct(_) => format!("{e}.encoded_len(version)"),
        FieldType::Array(inner) => format!(
            "wire::array_len_len(Some({e}.len()), {c}) + {e}.iter().map(|x| {}).sum::<usize>()",
            elem_len(inner, c, "x")
        ),
    }
}

/// Expression (usize) of the encoded size of the field's value `val`.
fn len_expr(ctx: &Ctx, f: &Field, c: &str, val: &str) -> String {
    let nc = nullable_cond(ctx, f);
    let opt = is_option(f);
    match &f.ty {
        FieldType::Prim(p @ (Prim::String | Prim::Bytes)) => {
            let w = prim_wire(*p);
            if opt {
                format!("wire::nullable_{w}_len({val}.as_deref(), {c})")
            } else {
                format!("wire::{w}_len(&{val}, {c})")
            }
        }
        FieldType::Prim(Prim::Records) => {
            format!("wire::nullable_bytes_len({val}.as_deref(), {c})")
        }
        FieldType::Prim(p) => format!("{}", p.fixed_size().unwrap_or(0)),
        FieldType::Struct(_) => {
            if opt {
                if_else(
                    &nc,
                    &format!("{val}.as_ref().map_or(1, |s| 1 + s.encoded_len(version))"),
                    &format!("{val}.as_ref().map_or(0, |s| s.encoded_len(version))"),
                )
            } else {
                format!("{val}.encoded_len(version)")
            }
        }
        FieldType::Array(inner) => {
            let fixed = match &**inner {
                FieldType::Prim(p) => p.fixed_size(),
                _ => None,
            };
            let body = match fixed {
                Some(n) => format!("wire::array_len_len(Some(v.len()), {c}) + v.len() * {n}"),
                None => format!(
                    "wire::array_len_len(Some(v.len()), {c}) + v.iter().map(|x| {}).sum::<usize>()",
                    elem_len(inner, c, "x")
                ),
            };
            if opt {
                format!(
                    "match &{val} {{ None => wire::array_len_len(None, {c}), Some(v) => {body} }}"
                )
            } else {
                format!("{{ let v = &{val}; {body} }}")
            }
        }
    }
}

fn doc_lines(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {}", escape_doc(line.trim_end()));
        }
    }
}

/// Spec prose as rustdoc Markdown: square brackets are escaped (`Array[0]` is not an
/// intra-doc link) and bare URLs become autolinks.
fn escape_doc(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.starts_with("http://") || word.starts_with("https://") {
            let url = word.trim_end_matches(['.', ',', ';', ')']);
            let _ = write!(out, "<{url}>{}", &word[url.len()..]);
        } else {
            out.push_str(&word.replace('[', "\\[").replace(']', "\\]"));
        }
    }
    out
}

fn grammar(ctx: &Ctx, s: &StructDef) -> String {
    let mut rows = Vec::new();
    for f in &s.fields {
        let mut t = wire_type_doc(&f.ty);
        if !f.nullable.is_empty() {
            t = format!("nullable {t}");
        }
        let mut ver = f.versions.display();
        if let Some(tag) = f.tag {
            ver = format!("{ver}, tag {tag} in {}", f.tagged.display());
        }
        if !f.nullable.is_empty() {
            ver = format!("{ver}, null in {}", f.nullable.display());
        }
        rows.push((field_ident(&f.name), t, ver));
    }
    let w1 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut g = format!("{} (versions {}) =>\n", s.name, ctx.valid().display());
    for (n, t, v) in rows {
        let _ = writeln!(g, "  {n:<w1$}  {t:<w2$}  {v}");
    }
    if ctx.can_be_flexible() {
        let _ = writeln!(
            g,
            "  tagged fields in flexible versions ({})",
            ctx.spec.flexible.intersect(&ctx.valid()).display()
        );
    }
    g
}

/// Emits one struct, its `Default`, its `Message` impl and its (feature-gated) `Decode` and
/// `Encode` impls.
pub fn emit_struct(ctx: &Ctx, s: &StructDef, top: bool, out: &mut String) -> Result<(), String> {
    let spec = ctx.spec;
    let valid = ctx.valid();
    let flex = ctx.can_be_flexible();
    // Doc.
    if top {
        let kind = match spec.kind {
            SpecKind::Request => format!("Request body of api key {}", spec.api_key.unwrap_or(-1)),
            SpecKind::Response => {
                format!("Response body of api key {}", spec.api_key.unwrap_or(-1))
            }
            SpecKind::Header => "A protocol header".to_string(),
            SpecKind::Data => "A data schema".to_string(),
        };
        let _ = writeln!(
            out,
            "/// {} `{}`: {kind}, versions {}, flexible versions {}.",
            s.name,
            spec.file,
            valid.display(),
            spec.flexible.display()
        );
        if !spec.doc.is_empty() {
            out.push_str("///\n");
            doc_lines(out, &spec.doc.join("\n"));
        }
    } else if s.about.is_empty() {
        let _ = writeln!(out, "/// {} (part of {}).", s.name, spec.name);
    } else {
        doc_lines(out, &s.about);
    }
    out.push_str("///\n/// Wire grammar:\n///\n/// ```text\n");
    for l in grammar(ctx, s).lines() {
        let _ = writeln!(out, "/// {l}");
    }
    out.push_str("/// ```\n");
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\n#[cfg_attr(feature = \"serde\", derive(serde::Serialize))]\npub struct {} {{",
        s.name
    );
    for f in &s.fields {
        let about = if f.about.is_empty() {
            f.name.clone()
        } else {
            f.about.clone()
        };
        doc_lines(out, &about);
        let mut meta = format!("Versions {}", f.versions.display());
        if !f.nullable.is_empty() {
            meta.push_str(&format!("; nullable in {}", f.nullable.display()));
        }
        if let Some(t) = f.tag {
            meta.push_str(&format!("; tag {t} in {}", f.tagged.display()));
        }
        if f.ignorable {
            meta.push_str("; ignorable");
        }
        if f.map_key {
            meta.push_str("; map key");
        }
        let _ = writeln!(out, "///\n/// {meta}.");
        let _ = writeln!(out, "pub {}: {},", field_ident(&f.name), rust_type(f));
    }
    if flex {
        out.push_str(
            "/// Unknown tagged fields (kept byte-exact) and which known tags were on the wire.\n",
        );
        out.push_str("pub tagged_fields: TaggedFields,\n");
    }
    out.push_str("}\n\n");

    // Default.
    let _ = writeln!(
        out,
        "impl Default for {} {{\n fn default() -> Self {{ Self {{",
        s.name
    );
    for f in &s.fields {
        let _ = writeln!(out, "{}: {},", field_ident(&f.name), default_expr(f)?);
    }
    if flex {
        out.push_str("tagged_fields: TaggedFields::default(),\n");
    }
    out.push_str("} } }\n\n");

    // Partition fields.
    let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
    tagged.sort_by_key(|f| f.tag);
    let flex_cond = spec.flexible.condition(&valid);

    // decode
    let mut dec = String::new();
    let _ = writeln!(dec, "let flexible = {flex_cond};");
    // Each field is decoded straight into a local (no default built and then dropped), in
    // wire order; the struct is assembled at the end.
    let local = |f: &Field| format!("f_{}", crate::naming::snake_case(&f.name));
    for f in &s.fields {
        let id = field_ident(&f.name);
        let reg = regular_cond(ctx, f);
        let tagged_somewhere = f.tag.is_some() && f.tagged.condition(&valid) != "false";
        let m = if tagged_somewhere { "mut " } else { "" };
        let c = compact_expr(ctx, f, false);
        let init = match reg.as_str() {
            "false" => default_expr(f)?,
            "true" => format!("{{ *field = \"{id}\"; {} }}", decode_expr(ctx, f, &c)),
            r => format!(
                "if {r} {{ *field = \"{id}\"; {} }} else {{ {} }}",
                decode_expr(ctx, f, &c),
                default_expr(f)?
            ),
        };
        let _ = writeln!(dec, "let {m}{} = {init};", local(f));
    }
    if flex {
        dec.push_str("let mut tagged_fields = TaggedFields::default();\n");
    }
    if flex {
        let mut arms = String::new();
        for f in &tagged {
            let id = field_ident(&f.name);
            let tc = f.tagged.condition(&valid);
            if tc == "false" {
                continue;
            }
            let guard = if tc == "true" {
                String::new()
            } else {
                format!(" if {tc}")
            };
            let e = decode_expr(ctx, f, "true");
            let _ = writeln!(
                arms,
                "{}{guard} => {{ *field = \"{id}\"; tagged_fields.mark_present({}); wire::need(buf, size)?; let mut sub = buf.copy_to_bytes(size); {{ let buf = &mut sub; {} = {e}; }} wire::expect_end(&sub)?; }}",
                f.tag.unwrap_or(0),
                f.tag.unwrap_or(0),
                local(f)
            );
        }
        let _ = writeln!(
            dec,
            "if flexible {{ *field = \"_tagged_fields\"; let n = wire::read_uvarint32(buf)?; for _ in 0..n {{ let tag = wire::read_uvarint32(buf)?; let size = wire::read_uvarint32(buf)? as usize; match tag {{ {arms} _ => tagged_fields.unknown.push(wire::read_unknown_tagged(buf, tag, size)?), }} }} }}"
        );
    }
    dec.push_str("Ok(Self {\n");
    for f in &s.fields {
        let _ = writeln!(dec, "{}: {},", field_ident(&f.name), local(f));
    }
    if flex {
        dec.push_str("tagged_fields,\n");
    }
    dec.push_str("})\n");

    // encode
    let mut enc = String::new();
    let _ = writeln!(enc, "let flexible = {flex_cond};");
    for f in &s.fields {
        let id = field_ident(&f.name);
        let val = format!("self.{id}");
        let reg = regular_cond(ctx, f);
        let tc = if f.tag.is_some() {
            f.tagged.condition(&valid)
        } else {
            "false".into()
        };
        if reg != "false" {
            let c = compact_expr(ctx, f, false);
            let st = encode_stmt(ctx, f, &c, &val);
            let stmt = format!("*field = \"{id}\"; {st}");
            if reg == "true" {
                enc.push_str(&stmt);
                enc.push('\n');
            } else {
                let _ = writeln!(enc, "if {reg} {{ {stmt} }}");
            }
        }
        if !f.ignorable && reg != "true" && tc != "true" {
            let absent = match (reg.as_str(), tc.as_str()) {
                ("false", "false") => "true".to_string(),
                ("false", t) => format!("!({t})"),
                (r, "false") => format!("!({r})"),
                (r, t) => format!("!({r} || {t})"),
            };
            let nd = not_default(f, &val)?;
            let _ = writeln!(
                enc,
                "if {absent} && {nd} {{ *field = \"{id}\"; return Err(Error::new(ErrorKind::NonIgnorableField)); }}"
            );
        }
    }
    let mut len = String::new();
    let _ = writeln!(len, "let flexible = {flex_cond};\nlet mut n = 0usize;");
    for f in &s.fields {
        let id = field_ident(&f.name);
        let reg = regular_cond(ctx, f);
        if reg == "false" {
            continue;
        }
        let c = compact_expr(ctx, f, false);
        let e = len_expr(ctx, f, &c, &format!("self.{id}"));
        len.push_str(&wrap_if(&reg, &format!("n += {e};")));
    }
    if flex {
        let mut count = String::from("let mut n_tagged = self.tagged_fields.unknown.len();\n");
        let mut write =
            String::from("let mut unknown = self.tagged_fields.unknown.iter().peekable();\n");
        let mut tlen = String::from(
            "n += self.tagged_fields.unknown.iter().map(|u| u.encoded_len()).sum::<usize>();\n",
        );
        for f in &tagged {
            let id = field_ident(&f.name);
            let tag = f.tag.unwrap_or(0);
            let tc = f.tagged.condition(&valid);
            if tc == "false" {
                continue;
            }
            let val = format!("self.{id}");
            let nd = format!(
                "({} || self.tagged_fields.is_present({tag}))",
                not_default(f, &val)?
            );
            let cond = if tc == "true" {
                nd.clone()
            } else {
                format!("{tc} && {nd}")
            };
            let l = len_expr(ctx, f, "true", &val);
            let st = encode_stmt(ctx, f, "true", &val);
            let _ = writeln!(count, "if {cond} {{ n_tagged += 1; }}");
            if tag > 0 {
                let _ = writeln!(
                    write,
                    "while let Some(u) = unknown.next_if(|u| u.tag < {tag}) {{ wire::write_unknown_tagged(buf, u); }}"
                );
            }
            let _ = writeln!(
                write,
                "if {cond} {{ *field = \"{id}\"; let size = {l}; wire::write_uvarint(buf, {tag}); wire::write_uvarint(buf, size as u64); {st} }}"
            );
            let _ = writeln!(
                tlen,
                "if {cond} {{ let size = {l}; n += wire::uvarint_len({tag}) + wire::uvarint_len(size as u64) + size; }}"
            );
        }
        write.push_str("for u in unknown { wire::write_unknown_tagged(buf, u); }\n");
        let _ = writeln!(
            enc,
            "if flexible {{ *field = \"_tagged_fields\"; {count} wire::write_uvarint(buf, n_tagged as u64); {write} }}"
        );
        let _ = writeln!(
            len,
            "if flexible {{ {count} n += wire::uvarint_len(n_tagged as u64); {tlen} }}"
        );
    }
    enc.push_str("Ok(())\n");
    len.push_str("n\n");

    emit_random(ctx, s, out);

    let check = if top {
        "if !Self::VERSIONS.contains(version) { return Err(Error::new(ErrorKind::UnsupportedVersion).context(Self::NAME, \"\", version)); }\n"
    } else {
        ""
    };
    let (enc_cfg, dec_cfg) = direction_cfgs(spec.kind);
    let _ = writeln!(
        out,
        "impl Message for {name} {{
    const NAME: &'static str = \"{name}\";
    const VERSIONS: VersionRange = VersionRange {{ min: {vmin}, max: {vmax} }};
}}

{dec_cfg}impl {name} {{
    #[inline]
    fn decode_fields<B: Buf>(buf: &mut B, version: i16, field: &mut &'static str) -> Result<Self> {{
        {dec}
    }}
}}

{dec_cfg}impl Decode for {name} {{
    fn decode<B: Buf>(buf: &mut B, version: i16) -> Result<Self> {{
        {check}let mut field = \"\";
        Self::decode_fields(buf, version, &mut field).map_err(|e| e.context(Self::NAME, field, version))
    }}
}}

{enc_cfg}impl {name} {{
    #[inline]
    fn encode_fields<B: BufMut>(&self, buf: &mut B, version: i16, field: &mut &'static str) -> Result<()> {{
        {enc}
    }}
}}

{enc_cfg}impl Encode for {name} {{
    fn encode<B: BufMut>(&self, buf: &mut B, version: i16) -> Result<()> {{
        {check}let mut field = \"\";
        self.encode_fields(buf, version, &mut field).map_err(|e| e.context(Self::NAME, field, version))
    }}

    fn encoded_len(&self, version: i16) -> usize {{
        {len}
    }}
}}
",
        name = s.name,
        vmin = valid.min,
        vmax = valid.max,
    );
    Ok(())
}

/// The `#[cfg]` lines (each ending in a newline, or empty) of the `Encode` and `Decode`
/// impls of a spec's structs: a client encodes requests and decodes responses (feature
/// `client`), a broker the reverse (feature `broker`); headers and data schemas are always
/// both.
pub fn direction_cfgs(kind: SpecKind) -> (&'static str, &'static str) {
    const CLIENT: &str = "#[cfg(feature = \"client\")]\n";
    const BROKER: &str = "#[cfg(feature = \"broker\")]\n";
    match kind {
        SpecKind::Request => (CLIENT, BROKER),
        SpecKind::Response => (BROKER, CLIENT),
        SpecKind::Header | SpecKind::Data => ("", ""),
    }
}

fn random_base(ty: &FieldType) -> String {
    match ty {
        FieldType::Prim(Prim::Records) => "Some(rng.gen_bytes())".into(),
        FieldType::Prim(Prim::Uuid) => "rng.gen_uuid()".into(),
        FieldType::Prim(p) => format!("rng.gen_{}()", prim_wire(*p)),
        FieldType::Struct(n) => format!("{n}::random(rng, version, depth + 1)"),
        FieldType::Array(inner) if is_primitive_vec_elem(inner) => format!(
            "rng.gen_vec(depth, |rng| {}).into_iter().collect::<PrimitiveVec<_>>()",
            random_base(inner)
        ),
        FieldType::Array(inner) => format!("rng.gen_vec(depth, |rng| {})", random_base(inner)),
    }
}

/// Emits the `Random` impl (feature `testing`) that makes random values valid at a version.
pub fn emit_random(ctx: &Ctx, s: &StructDef, out: &mut String) {
    let valid = ctx.valid();
    let mut body = String::new();
    for f in &s.fields {
        let id = field_ident(&f.name);
        let reg = regular_cond(ctx, f);
        let tc = if f.tag.is_some() {
            f.tagged.condition(&valid)
        } else {
            "false".into()
        };
        let present = match (reg.as_str(), tc.as_str()) {
            ("false", "false") => continue,
            ("true", _) | (_, "true") => "true".to_string(),
            ("false", t) => t.to_string(),
            (r, "false") => r.to_string(),
            (r, t) => format!("{r} || {t}"),
        };
        let base = random_base(&f.ty);
        let e = if f.ty == FieldType::Prim(Prim::Records) {
            if_else(
                &nullable_cond(ctx, f),
                "rng.maybe(|rng| rng.gen_bytes())",
                &base,
            )
        } else if is_option(f) {
            if_else(
                &nullable_cond(ctx, f),
                &format!("rng.maybe(|rng| {base})"),
                &format!("Some({base})"),
            )
        } else {
            base
        };
        body.push_str(&wrap_if(&present, &format!("this.{id} = {e};")));
    }
    if ctx.can_be_flexible() {
        body.push_str("if flexible { this.tagged_fields.unknown = rng.gen_unknown_tags(); }\n");
    }
    let _ = writeln!(
        out,
        "#[cfg(feature = \"testing\")]\nimpl crate::testing::Random for {name} {{\n    fn random(rng: &mut crate::testing::Rng, version: i16, depth: u32) -> Self {{\n        use crate::testing::Random;\n        let flexible = {flex};\n        let mut this = Self::default();\n        {body}\n        this\n    }}\n}}\n",
        name = s.name,
        flex = ctx.spec.flexible.condition(&valid),
    );
}

fn regular_cond(ctx: &Ctx, f: &Field) -> String {
    let valid = ctx.valid();
    let present = f.versions.intersect(&valid);
    if f.tag.is_none() || f.tagged.intersect(&valid).is_empty() {
        return f.versions.condition(&valid);
    }
    // Present but not tagged: versions minus tagged versions (tagged versions are open-ended).
    let t = f.tagged.intersect(&valid);
    let reg = crate::versions::Versions {
        min: present.min,
        max: present.max.min(t.min - 1),
    };
    reg.condition(&valid)
}

fn wrap_if(cond: &str, stmt: &str) -> String {
    match cond {
        "true" => format!("{stmt}\n"),
        "false" => String::new(),
        c => format!("if {c} {{ {stmt} }}\n"),
    }
}
