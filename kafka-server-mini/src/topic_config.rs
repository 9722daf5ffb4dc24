//! Per-topic config overrides: the names the broker accepts, their validation, how they map
//! onto a partition's [`LogConfig`], and their file (`topic.config` in every partition
//! directory, `key=value` lines) so they survive restarts.
//!
//! `cleanup.policy` (`delete`, `compact` or both) selects time/size retention and/or the log
//! cleaner (`log::cleaner`), tuned by `delete.retention.ms`, `min.cleanable.dirty.ratio`,
//! `min.compaction.lag.ms` and `max.compaction.lag.ms`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{BrokerError, Result};
use crate::log::LogConfig;

/// Overrides by config name.
pub type TopicConfigs = BTreeMap<String, String>;

/// The overrides file name inside each partition directory.
pub const FILE: &str = "topic.config";

/// Topic config names that may be overridden.
pub const OVERRIDABLE: &[&str] = &[
    "cleanup.policy",
    "delete.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.ms",
];

/// Whether `name` is a list-typed config (APPEND / SUBTRACT apply).
pub fn is_list(name: &str) -> bool {
    name == "cleanup.policy"
}

/// Checks one override; the error is a message for the client (INVALID_CONFIG).
pub fn validate(name: &str, value: &str) -> std::result::Result<(), String> {
    let v = value.trim();
    let long = |min: i64| match v.parse::<i64>() {
        Ok(n) if n >= min => Ok(()),
        _ => Err(format!(
            "Invalid value {v} for configuration {name}: must be a number >= {min}"
        )),
    };
    let int = |min: i64| match v.parse::<i32>() {
        Ok(n) if i64::from(n) >= min => Ok(()),
        _ => Err(format!(
            "Invalid value {v} for configuration {name}: must be an int >= {min}"
        )),
    };
    match name {
        "retention.ms" | "retention.bytes" => long(-1),
        "segment.ms" => long(1),
        "delete.retention.ms" | "min.compaction.lag.ms" => long(0),
        "max.compaction.lag.ms" => long(1),
        "min.cleanable.dirty.ratio" => match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(()),
            _ => Err(format!(
                "Invalid value {v} for configuration {name}: Value must be in [0,1]"
            )),
        },
        "segment.bytes" => int(14),
        "max.message.bytes" => int(0),
        "message.timestamp.type" => match v {
            "CreateTime" | "LogAppendTime" => Ok(()),
            _ => Err(format!("Invalid value {v} for configuration {name}: String must be one of: CreateTime, LogAppendTime")),
        },
        "cleanup.policy" => {
            let items: Vec<&str> = v.split(',').map(str::trim).collect();
            if items.is_empty() || items.iter().any(|i| !matches!(*i, "delete" | "compact")) {
                Err(format!("Invalid value {v} for configuration {name}: items must be delete or compact"))
            } else {
                Ok(())
            }
        }
        _ => Err(format!("Unknown topic config name: {name}")),
    }
}

/// Applies overrides on top of the broker's log settings.
pub fn apply(mut c: LogConfig, overrides: &TopicConfigs) -> LogConfig {
    for (k, v) in overrides {
        let v = v.trim();
        match k.as_str() {
            "retention.ms" => c.retention_ms = v.parse().unwrap_or(c.retention_ms),
            "retention.bytes" => c.retention_bytes = v.parse().unwrap_or(c.retention_bytes),
            "segment.bytes" => c.segment_bytes = v.parse().unwrap_or(c.segment_bytes),
            "segment.ms" => c.roll_ms = v.parse().unwrap_or(c.roll_ms),
            "message.timestamp.type" => c.log_append_time = v == "LogAppendTime",
            "cleanup.policy" => {
                if let Some(p) = c.cleanup.clone().with_policy(v) {
                    c.cleanup = p;
                }
            }
            "delete.retention.ms" => {
                c.cleanup.delete_retention_ms = v.parse().unwrap_or(c.cleanup.delete_retention_ms);
            }
            "min.cleanable.dirty.ratio" => {
                c.cleanup.min_cleanable_dirty_ratio =
                    v.parse().unwrap_or(c.cleanup.min_cleanable_dirty_ratio);
            }
            "min.compaction.lag.ms" => {
                c.cleanup.min_compaction_lag_ms =
                    v.parse().unwrap_or(c.cleanup.min_compaction_lag_ms);
            }
            "max.compaction.lag.ms" => {
                c.cleanup.max_compaction_lag_ms =
                    v.parse().unwrap_or(c.cleanup.max_compaction_lag_ms);
            }
            _ => {}
        }
    }
    c
}

/// Reads the overrides file in `dir`; missing is empty, unknown or invalid lines are skipped
/// with a warning.
pub fn read(dir: &Path) -> TopicConfigs {
    let mut out = TopicConfigs::new();
    let Ok(text) = std::fs::read_to_string(dir.join(FILE)) else {
        return out;
    };
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        match line.split_once('=') {
            Some((k, v)) if validate(k, v).is_ok() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => tracing::warn!(dir = %dir.display(), line, "ignoring bad topic config line"),
        }
    }
    out
}

/// Writes the overrides file in `dir` atomically.
pub fn write(dir: &Path, configs: &TopicConfigs) -> Result<()> {
    let mut text = String::new();
    for (k, v) in configs {
        text.push_str(&format!("{k}={v}\n"));
    }
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let io = |e| BrokerError::io(format!("write {}", path.display()), e);
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}
