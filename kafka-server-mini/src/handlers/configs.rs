//! DescribeConfigs (key 32), versions 0-4: topic configs (per-topic overrides with source
//! TOPIC_CONFIG, else derived from the broker's log settings) and broker configs (the keys
//! of [`crate::config::KEYS`]), with synonyms when asked (v1+, Kafka's order: topic override,
//! static broker value, default). AlterConfigs (key 33, versions 0-2, replaces a topic's
//! overrides) and IncrementalAlterConfigs (key 44, versions 0-1: SET / DELETE / APPEND /
//! SUBTRACT) for topics; broker resources accept no dynamic keys (INVALID_REQUEST).

use krafty_protocol::generated::alter_configs_response::AlterConfigsResourceResponse;
use krafty_protocol::generated::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use krafty_protocol::generated::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalAlterConfigsResourceResponse;
use krafty_protocol::generated::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::config::{BrokerConfig, KEYS};
use crate::error::code;
use crate::net::Pending;
use crate::topic_config::TopicConfigs;

/// Resource type of topics.
const TOPIC: i8 = 2;
/// Resource type of brokers.
const BROKER: i8 = 4;
/// Config source: a topic override.
const TOPIC_CONFIG: i8 = 1;
/// Config source: a static broker config (set with `--set`).
const STATIC_BROKER_CONFIG: i8 = 4;
/// Config source: the default.
const DEFAULT_CONFIG: i8 = 5;
/// Config types (Kafka's `ConfigType`).
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_DOUBLE: i8 = 6;

/// `(topic config, broker key it comes from or "", fixed value, config type)`.
const TOPIC_CONFIGS: &[(&str, &str, &str, i8)] = &[
    ("cleanup.policy", "log.cleanup.policy", "", TYPE_STRING),
    ("compression.type", "", "producer", TYPE_STRING),
    (
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        "",
        TYPE_LONG,
    ),
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
    (
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        "",
        TYPE_LONG,
    ),
    ("max.message.bytes", "message.max.bytes", "", TYPE_INT),
    (
        "message.timestamp.type",
        "log.message.timestamp.type",
        "",
        TYPE_STRING,
    ),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        "",
        TYPE_DOUBLE,
    ),
    (
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        "",
        TYPE_LONG,
    ),
    ("min.insync.replicas", "", "1", TYPE_INT),
    ("retention.bytes", "log.retention.bytes", "", TYPE_LONG),
    ("retention.ms", "log.retention.ms", "", TYPE_LONG),
    ("segment.bytes", "log.segment.bytes", "", TYPE_INT),
    ("segment.ms", "log.roll.ms", "", TYPE_LONG),
];

/// Kafka's broker-level synonym of a topic config whose value here is fixed (no broker key).
fn fixed_synonym(topic_config: &str) -> Option<&'static str> {
    match topic_config {
        "cleanup.policy" => Some("log.cleanup.policy"),
        "compression.type" => Some("compression.type"),
        "min.insync.replicas" => Some("min.insync.replicas"),
        _ => None,
    }
}

/// Broker keys whose Kafka default is null (Kafka derives them from `*.hours`), so Kafka
/// reports no DEFAULT_CONFIG synonym for them.
fn no_default_synonym(broker_key: &str) -> bool {
    matches!(broker_key, "log.retention.ms" | "log.roll.ms")
}

fn synonym(name: &str, value: String, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym {
        name: StrBytes::from(name.to_string()),
        value: Some(StrBytes::from(value)),
        source,
        ..Default::default()
    }
}

/// The synonyms of a broker config, most specific first, as Kafka lists them: the static
/// value when one was set, then the default.
fn broker_synonyms(c: &BrokerConfig, key: &str) -> Vec<DescribeConfigsSynonym> {
    let mut out = Vec::new();
    let (value, source) = broker_value(c, key);
    if source == STATIC_BROKER_CONFIG {
        out.push(synonym(key, value, STATIC_BROKER_CONFIG));
    }
    if !no_default_synonym(key) {
        if let Some((_, default)) = KEYS.iter().find(|(k, _)| *k == key) {
            out.push(synonym(key, (*default).to_string(), DEFAULT_CONFIG));
        }
    }
    out
}

/// The synonyms of a topic config (DescribeConfigs with `include_synonyms`): the topic
/// override, then the broker config it falls back to (Kafka's `DYNAMIC_TOPIC_CONFIG`,
/// `STATIC_BROKER_CONFIG`, `DEFAULT_CONFIG` order).
fn topic_synonyms(
    c: &BrokerConfig,
    name: &str,
    broker_key: &str,
    fixed: &str,
    override_value: Option<&String>,
) -> Vec<DescribeConfigsSynonym> {
    let mut out = Vec::new();
    if let Some(v) = override_value {
        out.push(synonym(name, v.clone(), TOPIC_CONFIG));
    }
    if !broker_key.is_empty() {
        out.extend(broker_synonyms(c, broker_key));
    } else if let Some(key) = fixed_synonym(name) {
        out.push(synonym(key, fixed.to_string(), DEFAULT_CONFIG));
    }
    out
}

fn broker_type(key: &str) -> i8 {
    match key {
        "advertised.listeners"
        | "log.message.timestamp.type"
        | "log.cleanup.policy"
        | "authorizer.class.name"
        | "super.users" => TYPE_STRING,
        "auto.create.topics.enable" | "log.cleaner.enable" | "allow.everyone.if.no.acl.found" => {
            TYPE_BOOLEAN
        }
        "log.cleaner.min.cleanable.ratio" => TYPE_DOUBLE,
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
    source: i8,
    read_only: bool,
    config_type: i8,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult {
        name: StrBytes::from(name.to_string()),
        value: Some(StrBytes::from(value)),
        read_only,
        is_default: version == 0 && source == DEFAULT_CONFIG,
        config_source: if version >= 1 { source } else { -1 },
        config_type: if version >= 3 { config_type } else { 0 },
        ..Default::default()
    }
}

fn broker_value(c: &BrokerConfig, key: &str) -> (String, i8) {
    let value = c.get(key).unwrap_or_default();
    let default = KEYS.iter().any(|(k, d)| *k == key && *d == value);
    (
        value,
        if default {
            DEFAULT_CONFIG
        } else {
            STATIC_BROKER_CONFIG
        },
    )
}

/// The effective value of a topic config without overrides: (value, source).
fn topic_default(c: &BrokerConfig, name: &str) -> Option<(String, i8)> {
    let (_, key, fixed, _) = TOPIC_CONFIGS.iter().find(|(n, ..)| *n == name)?;
    Some(if key.is_empty() {
        ((*fixed).to_string(), DEFAULT_CONFIG)
    } else {
        broker_value(c, key)
    })
}

/// Answers DescribeConfigs.
pub fn describe_configs(ctx: &Ctx, req: DescribeConfigsRequest) -> Pending {
    let v = ctx.version;
    let c = &ctx.state.config;
    // Synonyms exist from v1; v0 has no field for them.
    let synonyms = v >= 1 && req.include_synonyms;
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
                TOPIC if !ctx.topic_allowed(AclOperation::DescribeConfigs, &r.resource_name) => {
                    res.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                    res.error_message = Some(StrBytes::from("Topic authorization failed."));
                }
                BROKER if !ctx.cluster_allowed(AclOperation::DescribeConfigs) => {
                    res.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
                    res.error_message = Some(StrBytes::from("Cluster authorization failed."));
                }
                TOPIC if ctx.state.topic(&r.resource_name).is_some() => {
                    let overrides = ctx
                        .state
                        .topic(&r.resource_name)
                        .map(|t| t.configs())
                        .unwrap_or_default();
                    res.configs = TOPIC_CONFIGS
                        .iter()
                        .filter(|(name, ..)| wanted(name))
                        .map(|(name, key, fixed, ty)| {
                            let (value, source) = match overrides.get(*name) {
                                Some(o) => (o.clone(), TOPIC_CONFIG),
                                None => topic_default(c, name).unwrap_or_default(),
                            };
                            let mut e = entry(v, name, value, source, false, *ty);
                            if synonyms {
                                e.synonyms =
                                    topic_synonyms(c, name, key, fixed, overrides.get(*name));
                            }
                            e
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
                            let (value, source) = broker_value(c, k);
                            let mut e = entry(v, k, value, source, true, broker_type(k));
                            if synonyms {
                                e.synonyms = broker_synonyms(c, k);
                            }
                            e
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

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

type Outcome = Result<(), (i16, String)>;

/// Checks a resource and returns the topic's current overrides.
fn target(ctx: &Ctx, resource_type: i8, name: &str) -> Result<TopicConfigs, (i16, String)> {
    match resource_type {
        TOPIC if !ctx.topic_allowed(AclOperation::AlterConfigs, name) => Err((
            code::TOPIC_AUTHORIZATION_FAILED,
            "Topic authorization failed.".to_string(),
        )),
        BROKER if !ctx.cluster_allowed(AclOperation::AlterConfigs) => Err((
            code::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.".to_string(),
        )),
        TOPIC => ctx.state.topic(name).map(|t| t.configs()).ok_or_else(|| {
            (
                code::UNKNOWN_TOPIC_OR_PARTITION,
                "This server does not host this topic.".to_string(),
            )
        }),
        BROKER => Err((
            code::INVALID_REQUEST,
            "Dynamic broker configs are not supported by this broker; set them at startup."
                .to_string(),
        )),
        _ => Err((
            code::INVALID_REQUEST,
            format!("Unsupported resource type {resource_type}."),
        )),
    }
}

fn check(name: &str, value: &str) -> Outcome {
    crate::topic_config::validate(name, value).map_err(|m| (code::INVALID_CONFIG, m))
}

fn commit(ctx: &Ctx, name: &str, configs: TopicConfigs, validate_only: bool) -> Outcome {
    if validate_only {
        return Ok(());
    }
    ctx.state.set_topic_configs(name, configs).map_err(|e| {
        tracing::error!(topic = name, error = %e, "could not store topic configs");
        (
            code::UNKNOWN_SERVER_ERROR,
            "Could not store topic configs.".to_string(),
        )
    })
}

fn split(outcome: Outcome) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (code::NONE, None),
        Err((c, m)) => (c, Some(StrBytes::from(m))),
    }
}

/// Answers AlterConfigs: the given configs replace the topic's overrides.
pub fn alter_configs(ctx: &Ctx, req: AlterConfigsRequest) -> Pending {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = target(ctx, r.resource_type, &r.resource_name).and_then(|_| {
                let mut next = TopicConfigs::new();
                for c in &r.configs {
                    match &c.value {
                        Some(v) => {
                            check(&c.name, v)?;
                            next.insert(c.name.to_string(), v.to_string());
                        }
                        // a null value leaves the config at its default
                        None if crate::topic_config::OVERRIDABLE.contains(&c.name.as_ref()) => {}
                        None => {
                            return Err((
                                code::INVALID_CONFIG,
                                format!("Unknown topic config name: {}", c.name.as_ref()),
                            ))
                        }
                    }
                }
                commit(ctx, &r.resource_name, next, req.validate_only)
            });
            let (error_code, error_message) = split(outcome);
            AlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&AlterConfigsResponse {
        responses,
        ..Default::default()
    })
}

/// Answers IncrementalAlterConfigs.
pub fn incremental_alter_configs(ctx: &Ctx, req: IncrementalAlterConfigsRequest) -> Pending {
    let c = &ctx.state.config;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = target(ctx, r.resource_type, &r.resource_name).and_then(|mut next| {
                for a in &r.configs {
                    let name = a.name.as_ref();
                    if !crate::topic_config::OVERRIDABLE.contains(&name) {
                        return Err((
                            code::INVALID_CONFIG,
                            format!("Unknown topic config name: {name}"),
                        ));
                    }
                    let value = a.value.as_deref().unwrap_or("");
                    match a.config_operation {
                        OP_SET => {
                            check(name, value)?;
                            next.insert(name.to_string(), value.to_string());
                        }
                        OP_DELETE => {
                            next.remove(name);
                        }
                        OP_APPEND | OP_SUBTRACT => {
                            if !crate::topic_config::is_list(name) {
                                return Err((
                                    code::INVALID_CONFIG,
                                    format!("Config value append/subtract is not allowed for config key: {name}"),
                                ));
                            }
                            let current = next
                                .get(name)
                                .cloned()
                                .or_else(|| topic_default(c, name).map(|d| d.0))
                                .unwrap_or_default();
                            let mut items: Vec<String> = current
                                .split(',')
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty())
                                .collect();
                            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                                if a.config_operation == OP_APPEND {
                                    if !items.iter().any(|i| i == item) {
                                        items.push(item.to_string());
                                    }
                                } else {
                                    items.retain(|i| i != item);
                                }
                            }
                            let joined = items.join(",");
                            check(name, &joined)?;
                            next.insert(name.to_string(), joined);
                        }
                        op => {
                            return Err((
                                code::INVALID_REQUEST,
                                format!("Unknown config operation {op}."),
                            ))
                        }
                    }
                }
                commit(ctx, &r.resource_name, next, req.validate_only)
            });
            let (error_code, error_message) = split(outcome);
            IncrementalAlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            }
        })
        .collect();
    ctx.ready(&IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    })
}
