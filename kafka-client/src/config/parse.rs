//! Parsing of configuration string values into typed values, with typed errors.
//!
//! Owns: the value grammar (integers with ranges, booleans, lists, enums). Must not: know
//! which key means what.

use std::time::Duration;

use crate::error::ConfigError;

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// An integer in `min..=max`.
pub(crate) fn int(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "expected an integer"))?;
    if v < min || v > max {
        return Err(invalid(
            key,
            value,
            format!("expected a value in {min}..={max}"),
        ));
    }
    Ok(v)
}

/// A non-negative integer that fits `usize` and `i32` (sizes in bytes, counts).
pub(crate) fn size(key: &str, value: &str, min: i64) -> Result<usize, ConfigError> {
    let v = int(key, value, min, i64::from(i32::MAX))?;
    usize::try_from(v).map_err(|_| invalid(key, value, "out of range"))
}

/// A duration in milliseconds (`i32` range as Kafka's int configs, or `i64` for longs).
pub(crate) fn millis(key: &str, value: &str, max: i64) -> Result<Duration, ConfigError> {
    let v = int(key, value, 0, max)?;
    Ok(Duration::from_millis(v.unsigned_abs()))
}

/// `true` or `false` (case-insensitive, as Kafka's ConfigDef).
pub(crate) fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, value, "expected true or false")),
    }
}

/// A comma-separated list with empty items dropped; at least one item.
pub(crate) fn list(key: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    let items: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if items.is_empty() {
        return Err(invalid(
            key,
            value,
            "expected a non-empty comma-separated list",
        ));
    }
    Ok(items)
}

/// One of `choices` (case-insensitive); returns its index.
pub(crate) fn choice(key: &str, value: &str, choices: &[&str]) -> Result<usize, ConfigError> {
    let v = value.trim().to_ascii_lowercase();
    choices.iter().position(|c| *c == v).ok_or_else(|| {
        invalid(
            key,
            value,
            format!("expected one of {}", choices.join(", ")),
        )
    })
}

/// A `host:port` address.
pub(crate) fn host_port(key: &str, value: &str) -> Result<(String, u16), ConfigError> {
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, value, "expected host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(key, value, "expected a port number after ':'"))?;
    if host.is_empty() {
        return Err(invalid(key, value, "empty host"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}
