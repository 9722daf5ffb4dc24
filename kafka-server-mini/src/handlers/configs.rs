//! DescribeConfigs (key 32), versions 0-4: topic configs (derived from the broker's log
//! settings; per-topic overrides are not supported yet) and broker configs (the keys of
//! [`crate::config::KEYS`]).

use kafka_protocol::generated::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::generated::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::wire::StrBytes;

use super::Ctx;
use crate::config::{BrokerConfig, KEYS};
use crate::error::code;
use crate::net::Pending;

/// Resource type of topics.
const TOPIC: i8 = 2;
/// Resource type of brokers.
const BROKER: i8 = 4;
/// Config source: a static broker config (set with `--set`).
const STATIC_BROKER_CONFIG: i8 = 4;
/// Config source: the default.
const DEFAULT_CONFIG: i8 = 5;
/// Config types (Kafka's `ConfigType`).
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;

/// `(topic config, broker key it comes from or "", fixed value, config type)`.
const TOPIC_CONFIGS: &[(&str, &str, &str, i8)] = &[
    ("cleanup.policy", "", "delete", TYPE_STRING),
    ("compression.type", "", "producer", TYPE_STRING),
    (
        "flush.messages",
        "log.flush.interval.messages",
        "",
        TYPE_LONG,
    ),
    (
        "index.interval.bytes",
        "log.index.interval.bytes",
        "",
        TYPE_INT,
    ),
    ("max.message.bytes", "message.max.bytes", "", TYPE_INT),
    (
        "message.timestamp.type",
        "log.message.timestamp.type",
        "",
        TYPE_STRING,
    ),
    ("min.insync.replicas", "", "1", TYPE_INT),
    ("retention.bytes", "log.retention.bytes", "", TYPE_LONG),
    ("retention.ms", "log.retention.ms", "", TYPE_LONG),
    ("segment.bytes", "log.segment.bytes", "", TYPE_INT),
    ("segment.ms", "log.roll.ms", "", TYPE_LONG),
];

fn broker_type(key: &str) -> i8 {
    match key {
        "advertised.listeners" | "log.message.timestamp.type" => TYPE_STRING,
        "auto.create.topics.enable" => TYPE_BOOLEAN,
        "node.id"
        | "num.partitions"
        | "message.max.bytes"
        | "socket.request.max.bytes"
        | "log.segment.bytes"
        | "log.index.interval.bytes"
        | "group.initial.rebalance.delay.ms"
        | "group.min.session.timeout.ms"
        | "group.max.session.timeout.ms" => TYPE_INT,
        _ => TYPE_LONG,
    }
}

fn entry(
    version: i16,
    name: &str,
    value: String,
    default: bool,
    read_only: bool,
    config_type: i8,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult {
        name: StrBytes::from(name.to_string()),
        value: Some(StrBytes::from(value)),
        read_only,
        is_default: version == 0 && default,
        config_source: if version >= 1 {
            if default {
                DEFAULT_CONFIG
            } else {
                STATIC_BROKER_CONFIG
            }
        } else {
            -1
        },
        config_type: if version >= 3 { config_type } else { 0 },
        ..Default::default()
    }
}

fn broker_value(c: &BrokerConfig, key: &str) -> (String, bool) {
    let value = c.get(key).unwrap_or_default();
    let default = KEYS.iter().any(|(k, d)| *k == key && *d == value);
    (value, default)
}

/// Answers DescribeConfigs.
pub fn describe_configs(ctx: &Ctx, req: DescribeConfigsRequest) -> Pending {
    let v = ctx.version;
    let c = &ctx.state.config;
    let results = req
        .resources
        .iter()
        .map(|r| {
            let wanted = |name: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_ref() == name))
            };
            let mut res = DescribeConfigsResult {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            match r.resource_type {
                TOPIC if ctx.state.topic(&r.resource_name).is_some() => {
                    res.configs = TOPIC_CONFIGS
                        .iter()
                        .filter(|(name, ..)| wanted(name))
                        .map(|(name, key, fixed, ty)| {
                            if key.is_empty() {
                                entry(v, name, (*fixed).to_string(), true, false, *ty)
                            } else {
                                let (value, default) = broker_value(c, key);
                                entry(v, name, value, default, false, *ty)
                            }
                        })
                        .collect();
                }
                TOPIC => {
                    res.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                    res.error_message =
                        Some(StrBytes::from("This server does not host this topic."));
                }
                BROKER
                    if r.resource_name.is_empty()
                        || r.resource_name.as_ref() == c.node_id.to_string() =>
                {
                    res.configs = KEYS
                        .iter()
                        .filter(|(k, _)| wanted(k))
                        .map(|(k, _)| {
                            let (value, default) = broker_value(c, k);
                            entry(v, k, value, default, true, broker_type(k))
                        })
                        .collect();
                }
                _ => {
                    res.error_code = code::INVALID_REQUEST;
                    res.error_message = Some(StrBytes::from("Unsupported resource type or name."));
                }
            }
            res
        })
        .collect();
    ctx.ready(&DescribeConfigsResponse {
        results,
        ..Default::default()
    })
}
