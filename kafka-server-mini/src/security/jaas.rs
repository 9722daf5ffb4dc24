//! The subset of JAAS config text Kafka brokers read from `sasl.jaas.config`:
//! `<LoginModule class> required key="value" key2=value2;`.

use std::collections::BTreeMap;

use crate::error::{BrokerError, Result};

/// One parsed login module entry.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct JaasConfig {
    /// The login module class.
    pub module: String,
    /// The options, in file order collapsed by key.
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // options hold passwords: names only
        f.debug_struct("JaasConfig")
            .field("module", &self.module)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JaasConfig {
    /// PLAIN users: every `user_<name>="<password>"` option.
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("user_").map(|u| (u.to_string(), v.clone())))
            .collect()
    }
}

/// Parses one JAAS entry (the trailing `;` is required, as in Kafka).
pub fn parse(text: &str) -> Result<JaasConfig> {
    let bad = |why: &str| BrokerError::Config(format!("sasl.jaas.config: {why}"));
    let text = text.trim();
    let body = text
        .strip_suffix(';')
        .ok_or_else(|| bad("must end with `;`"))?;
    let mut chars = body.char_indices().peekable();
    let mut tokens: Vec<String> = Vec::new();
    // tokens: words, `=`, quoted strings
    while let Some(&(_, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '=' {
            chars.next();
            tokens.push("=".into());
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\u{0}");
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            s.push(e);
                        }
                    }
                    c => s.push(c),
                }
            }
            if !closed {
                return Err(bad("unterminated quoted value"));
            }
            tokens.push(s);
        } else {
            let mut s = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '=' || c == '"' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            tokens.push(s);
        }
    }
    let mut it = tokens.into_iter();
    let module = it.next().ok_or_else(|| bad("no login module"))?;
    let flag = it.next().ok_or_else(|| bad("no control flag"))?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(bad(
            "control flag must be required, requisite, sufficient or optional",
        ));
    }
    let mut options = BTreeMap::new();
    let rest: Vec<String> = it.collect();
    let mut i = 0;
    while i < rest.len() {
        let (Some(k), Some(eq), Some(v)) = (rest.get(i), rest.get(i + 1), rest.get(i + 2)) else {
            return Err(bad("options must be key=value"));
        };
        if eq != "=" || k == "=" || k.starts_with('\u{0}') {
            return Err(bad("options must be key=value"));
        }
        let v = v.strip_prefix('\u{0}').unwrap_or(v);
        options.insert(k.clone(), v.to_string());
        i += 3;
    }
    Ok(JaasConfig { module, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_module() {
        let j = parse(r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a b" user_alice="alice-secret" user_bob=bob;"#)
            .expect("parse");
        assert_eq!(
            j.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        let users = j.plain_users();
        assert_eq!(users.get("alice").map(String::as_str), Some("alice-secret"));
        assert_eq!(users.get("bob").map(String::as_str), Some("bob"));
        assert_eq!(j.options.get("password").map(String::as_str), Some("a b"));
        assert!(parse("x required a=\"b\"").is_err());
        assert!(parse("x required a=;").is_err());
        assert!(parse("x maybe;").is_err());
        assert!(parse("x required a=\"b;").is_err());
    }
}
