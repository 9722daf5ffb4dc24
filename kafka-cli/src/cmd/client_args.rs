//! Arguments and helpers shared by the commands that talk to a cluster (`produce`,
//! `consume`, `topics`, `groups`).
//!
//! Owns: [`ClientArgs`] (`--bootstrap` and repeated `-X key=value` client settings with the
//! Java client's names), the `key=value` parser, applying settings to a client config with a
//! clear error, the tokio runtime the commands run on, and turning client errors into
//! [`CliError`] messages. Must not: print anything to stdout.

use std::future::Future;

use clap::Args;
use krafty_client::{AdminConfig, ConfigError};

use super::CliError;

/// `--bootstrap` and `-X key=value`, shared by every command that talks to a cluster.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The brokers to bootstrap from: HOST:PORT[,HOST:PORT...].
    #[arg(
        long,
        short = 'b',
        visible_alias = "bootstrap-server",
        value_name = "HOST:PORT[,...]"
    )]
    pub bootstrap: String,
    /// A client setting by its Java-client name (`-X linger.ms=10`); repeatable. Unknown
    /// keys and malformed values are errors.
    #[arg(
        short = 'X',
        id = "client_setting",
        value_name = "KEY=VALUE",
        value_parser = parse_key_value
    )]
    pub settings: Vec<(String, String)>,
}

/// Parses `key=value` (the value may contain `=`; the key may not be empty).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// Applies `settings` in order with `set` (a client config's `set`), naming the offending
/// `-X` option in the error.
pub fn apply_settings<T>(
    cfg: &mut T,
    settings: &[(String, String)],
    mut set: impl FnMut(&mut T, &str, &str) -> Result<(), ConfigError>,
) -> Result<(), CliError> {
    for (k, v) in settings {
        set(cfg, k, v).map_err(|e| {
            let shown = if is_secret(k) {
                "<redacted>"
            } else {
                v.as_str()
            };
            CliError::msg(format!("-X {k}={shown}: {e}"))
        })?;
    }
    Ok(())
}

/// Whether the setting `key` holds a secret (passwords, private keys, JAAS options) whose
/// value must not appear in messages.
pub fn is_secret(key: &str) -> bool {
    key.contains("password") || key == "sasl.jaas.config" || key == "ssl.keystore.key"
}

impl ClientArgs {
    /// The admin client's config: `bootstrap.servers` then every `-X` setting.
    pub fn admin_config(&self) -> Result<AdminConfig, CliError> {
        let mut cfg = AdminConfig::new(&self.bootstrap)
            .map_err(|e| CliError::msg(format!("--bootstrap {}: {e}", self.bootstrap)))?;
        apply_settings(&mut cfg, &self.settings, |c, k, v| c.set(k, v).map(|_| ()))?;
        Ok(cfg)
    }

    /// A `--bootstrap` error message for a config constructor's error.
    pub fn bootstrap_error(&self, e: ConfigError) -> CliError {
        CliError::msg(format!("--bootstrap {}: {e}", self.bootstrap))
    }
}

/// Runs `fut` to completion on a new multi-threaded tokio runtime.
pub fn block_on<T>(fut: impl Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(fut)
}

/// A client error as a message saying what was being done.
pub fn client_error(what: impl std::fmt::Display, e: krafty_client::Error) -> CliError {
    CliError::msg(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_pairs() {
        assert_eq!(
            parse_key_value("linger.ms=10"),
            Ok(("linger.ms".to_string(), "10".to_string()))
        );
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }
}
