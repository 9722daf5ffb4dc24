//! Reading the spec files: JSON with `//` comments.

/// Splits a spec file into its JSON (comments blanked out) and the comment lines found
/// inside the top-level object before its `"fields"` key (the version history, used as
/// the message's documentation).
pub fn strip_comments(text: &str) -> (String, Vec<String>) {
    let mut json = String::with_capacity(text.len());
    let mut doc = Vec::new();
    let mut depth = 0i32;
    let mut seen_fields = false;
    for line in text.lines() {
        let mut in_str = false;
        let mut escaped = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if in_str {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_str = false;
                }
            } else if c == b'"' {
                in_str = true;
            } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
                cut = i;
                break;
            } else if c == b'{' || c == b'[' {
                depth += 1;
            } else if c == b'}' || c == b']' {
                depth -= 1;
            }
            i += 1;
        }
        let code = &line[..cut];
        if code.contains("\"fields\"") && depth >= 1 {
            seen_fields = true;
        }
        if cut < line.len() && depth == 1 && !seen_fields && code.trim().is_empty() {
            let text = line[cut + 2..].trim_end();
            doc.push(text.strip_prefix(' ').unwrap_or(text).to_string());
        }
        json.push_str(code);
        json.push('\n');
    }
    // Trim blank lines at both ends of the doc.
    while doc.first().is_some_and(|l| l.trim().is_empty()) {
        doc.remove(0);
    }
    while doc.last().is_some_and(|l| l.trim().is_empty()) {
        doc.pop();
    }
    (json, doc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_slashes_in_strings() {
        let (json, doc) =
            strip_comments("// license\n{\n  // Version 1 adds X.\n  \"a\": \"http://x\", // c\n  \"fields\": []\n}\n");
        assert!(json.contains("\"http://x\""));
        assert!(!json.contains("// c"));
        assert_eq!(doc, vec!["Version 1 adds X.".to_string()]);
    }
}
