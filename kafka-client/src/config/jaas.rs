//! `sasl.jaas.config` as the Java client reads it: one login module entry,
//! `<class> <flag> key=value ... ;`, values bare or in double quotes.
//!
//! Owns: [`JaasConfig`] (the module and its options) and its parser. Must not: decide
//! what the options mean for a mechanism (see `config::security`).

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// The login modules of Kafka this client understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginModule {
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    Plain,
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    Scram,
    /// `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule`.
    OAuthBearer,
}

/// One parsed `sasl.jaas.config` entry. `Debug` hides every option value whose key
/// names a secret (`password`, `token`, `secret`).
#[derive(Clone, PartialEq, Eq)]
pub struct JaasConfig {
    /// The login module class.
    pub module: LoginModule,
    /// The control flag (`required`, `requisite`, `sufficient`, `optional`).
    pub flag: String,
    /// The options, `key=value`.
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options: BTreeMap<&str, &str> = self
            .options
            .iter()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = ["password", "token", "secret"]
                    .iter()
                    .any(|s| lower.contains(s));
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("JaasConfig")
            .field("module", &self.module)
            .field("flag", &self.flag)
            .field("options", &options)
            .finish()
    }
}

fn invalid(reason: impl Into<String>) -> ConfigError {
    // The value is never echoed: it holds passwords.
    ConfigError::InvalidValue {
        key: "sasl.jaas.config".to_string(),
        value: "<redacted>".to_string(),
        reason: reason.into(),
    }
}

/// Splits the text into tokens: words, quoted strings (with `\` escapes), `=` and `;`.
fn tokens(text: &str) -> Result<Vec<(bool, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '=' || c == ';' {
            chars.next();
            out.push((false, c.to_string()));
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(invalid("unterminated quoted value")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err(invalid("unterminated quoted value")),
                    },
                    Some(ch) => s.push(ch),
                }
            }
            out.push((true, s));
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '=' || ch == ';' || ch == '"' {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push((false, s));
        }
    }
    Ok(out)
}

impl JaasConfig {
    /// Parses one login module entry, as Kafka's `JaasConfig` does for
    /// `sasl.jaas.config` (exactly one entry, terminated by `;`).
    pub fn parse(text: &str) -> Result<JaasConfig, ConfigError> {
        let toks = tokens(text)?;
        let mut it = toks.into_iter();
        let class = match it.next() {
            Some((false, c)) if c != "=" && c != ";" => c,
            _ => return Err(invalid("expected a login module class name")),
        };
        let module = match class.rsplit('.').next().unwrap_or_default() {
            "PlainLoginModule" => LoginModule::Plain,
            "ScramLoginModule" => LoginModule::Scram,
            "OAuthBearerLoginModule" => LoginModule::OAuthBearer,
            _ => {
                return Err(invalid(format!(
                    "login module `{class}` is not supported (PlainLoginModule, \
                     ScramLoginModule, OAuthBearerLoginModule)"
                )))
            }
        };
        let flag = match it.next() {
            Some((false, f))
                if ["required", "requisite", "sufficient", "optional"]
                    .contains(&f.to_ascii_lowercase().as_str()) =>
            {
                f.to_ascii_lowercase()
            }
            _ => {
                return Err(invalid(
                    "expected a control flag (required, requisite, sufficient, optional) \
                     after the login module",
                ))
            }
        };
        let mut options = BTreeMap::new();
        loop {
            match it.next() {
                Some((false, s)) if s == ";" => break,
                Some((false, key)) if key != "=" => {
                    match it.next() {
                        Some((false, eq)) if eq == "=" => {}
                        _ => return Err(invalid(format!("expected `=` after option `{key}`"))),
                    }
                    let value = match it.next() {
                        Some((true, v)) => v,
                        Some((false, v)) if v != "=" && v != ";" => v,
                        _ => return Err(invalid(format!("option `{key}` has no value"))),
                    };
                    options.insert(key, value);
                }
                None => return Err(invalid("the entry must end with `;`")),
                _ => return Err(invalid("expected `key=value` options")),
            }
        }
        if it.next().is_some() {
            return Err(invalid(
                "sasl.jaas.config must hold exactly one login module entry",
            ));
        }
        Ok(JaasConfig {
            module,
            flag,
            options,
        })
    }

    /// The option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_scram_and_oauth_modules() {
        let j = JaasConfig::parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";"#,
        );
        let j = j.map_err(|e| e.to_string());
        assert_eq!(j.as_ref().map(|j| j.module), Ok(LoginModule::Plain));
        assert_eq!(
            j.as_ref().ok().and_then(|j| j.option("username")),
            Some("alice")
        );
        assert_eq!(
            j.as_ref().ok().and_then(|j| j.option("password")),
            Some("alice-secret")
        );
        let j = JaasConfig::parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob password=\"p\\\"w=;x\" ;",
        )
        .map_err(|e| e.to_string());
        assert_eq!(j.as_ref().map(|j| j.module), Ok(LoginModule::Scram));
        assert_eq!(
            j.as_ref().ok().and_then(|j| j.option("username")),
            Some("bob")
        );
        assert_eq!(
            j.as_ref().ok().and_then(|j| j.option("password")),
            Some("p\"w=;x")
        );
        let j = JaasConfig::parse(
            r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";"#,
        )
        .map_err(|e| e.to_string());
        assert_eq!(j.as_ref().map(|j| j.module), Ok(LoginModule::OAuthBearer));
        assert_eq!(
            j.as_ref()
                .ok()
                .and_then(|j| j.option("unsecuredLoginStringClaim_sub")),
            Some("alice")
        );
    }

    #[test]
    fn refuses_malformed_entries_without_echoing_secrets() {
        for bad in [
            "",
            "org.apache.kafka.common.security.plain.PlainLoginModule",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\"",
            "org.apache.kafka.common.security.plain.PlainLoginModule maybe username=\"a\";",
            "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"topsecret;",
            "org.apache.kafka.common.security.plain.PlainLoginModule required password=;",
            "com.example.KerberosLoginModule required;",
            "org.apache.kafka.common.security.plain.PlainLoginModule required; x required;",
        ] {
            match JaasConfig::parse(bad) {
                Err(e) => assert!(!e.to_string().contains("topsecret"), "{e}"),
                Ok(j) => panic!("accepted {bad:?}: {j:?}"),
            }
        }
    }

    #[test]
    fn debug_hides_passwords() {
        let j = JaasConfig::parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="topsecret";"#,
        );
        let shown = format!("{j:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }
}
