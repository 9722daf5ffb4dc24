//! Topic and broker configs: DescribeConfigs, IncrementalAlterConfigs and the legacy
//! AlterConfigs. Broker resources go to that broker (only it knows its dynamic and static
//! configs); topic resources to any broker (as the Java client, which picks the least
//! loaded node; KRaft brokers forward changes to the controller).

use krafty_protocol::generated::describe_configs_request::DescribeConfigsResource;
use krafty_protocol::generated::incremental_alter_configs_request::{
    AlterConfigsResource as IncrementalResource, AlterableConfig as IncrementalConfig,
};
use krafty_protocol::generated::{
    alter_configs_request, AlterConfigsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};
use krafty_protocol::wire::StrBytes;

use super::{check, Admin};
use crate::error::{Error, Result};
use crate::net::Connection;

/// Kafka's resource type of topics.
const RESOURCE_TOPIC: i8 = 2;
/// Kafka's resource type of brokers.
const RESOURCE_BROKER: i8 = 4;
/// Kafka's config source `DEFAULT_CONFIG`.
pub const SOURCE_DEFAULT_CONFIG: i8 = 5;

/// Something that has configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker, by id.
    Broker(i32),
}

impl ConfigResource {
    fn resource_type(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => RESOURCE_TOPIC,
            ConfigResource::Broker(_) => RESOURCE_BROKER,
        }
    }

    fn name(&self) -> String {
        match self {
            ConfigResource::Topic(t) => t.clone(),
            ConfigResource::Broker(id) => id.to_string(),
        }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigResource::Topic(t) => write!(f, "topic `{t}`"),
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
        }
    }
}

/// One config of a resource, as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config's name (`retention.ms`).
    pub name: String,
    /// Its value (`None` for sensitive configs and unset values).
    pub value: Option<String>,
    /// Whether it cannot be changed.
    pub read_only: bool,
    /// Whether the value is the default (source `DEFAULT_CONFIG`).
    pub is_default: bool,
    /// Whether the value is sensitive (then it is not shown).
    pub is_sensitive: bool,
    /// Kafka's config source: 1 dynamic topic config, 2 dynamic broker config, 3 dynamic
    /// default broker config, 4 static broker config, 5 default, 6 dynamic broker logger
    /// config, -1 unknown (version 0 responses).
    pub source: i8,
}

/// One change of [`Admin::incremental_alter_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets `name` to `value`.
    Set(String, String),
    /// Removes the override of `name` (back to its default).
    Delete(String),
}

impl Admin {
    /// The broker a request about `resource` goes to.
    async fn config_broker(&self, resource: &ConfigResource) -> Result<Connection> {
        match resource {
            ConfigResource::Broker(id) => self.broker(*id).await,
            ConfigResource::Topic(_) => self.pool().any().await,
        }
    }

    /// Every config of `resource` (DescribeConfigs).
    pub async fn describe_configs(&self, resource: ConfigResource) -> Result<Vec<ConfigEntry>> {
        let conn = self.config_broker(&resource).await?;
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: resource.resource_type(),
                resource_name: StrBytes::from(resource.name()),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: false,
            include_documentation: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        let name = resource.name();
        let result = resp
            .results
            .iter()
            .find(|r| {
                r.resource_type == resource.resource_type() && r.resource_name == name.as_str()
            })
            .or_else(|| resp.results.first().filter(|_| resp.results.len() == 1))
            .ok_or_else(|| {
                Error::InvalidResponse(format!("DescribeConfigs: no result for {resource}"))
            })?;
        check(
            result.error_code,
            result.error_message.as_ref(),
            format!("DescribeConfigs {resource}"),
        )?;
        Ok(result
            .configs
            .iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.as_ref().map(|v| v.to_string()),
                read_only: c.read_only,
                is_default: c.is_default || c.config_source == SOURCE_DEFAULT_CONFIG,
                is_sensitive: c.is_sensitive,
                source: c.config_source,
            })
            .collect())
    }

    /// Sets or deletes configs of `resource`, leaving the others as they are
    /// (IncrementalAlterConfigs).
    pub async fn incremental_alter_configs(
        &self,
        resource: ConfigResource,
        ops: &[AlterConfigOp],
    ) -> Result<()> {
        let conn = self.config_broker(&resource).await?;
        let req = IncrementalAlterConfigsRequest {
            resources: vec![IncrementalResource {
                resource_type: resource.resource_type(),
                resource_name: StrBytes::from(resource.name()),
                configs: ops
                    .iter()
                    .map(|op| match op {
                        AlterConfigOp::Set(k, v) => IncrementalConfig {
                            name: StrBytes::from(k.clone()),
                            config_operation: 0,
                            value: Some(StrBytes::from(v.clone())),
                            ..Default::default()
                        },
                        AlterConfigOp::Delete(k) => IncrementalConfig {
                            name: StrBytes::from(k.clone()),
                            config_operation: 1,
                            value: None,
                            ..Default::default()
                        },
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        let r = resp.responses.first().ok_or_else(|| {
            Error::InvalidResponse(format!("IncrementalAlterConfigs: no result for {resource}"))
        })?;
        check(
            r.error_code,
            r.error_message.as_ref(),
            format!("IncrementalAlterConfigs {resource}"),
        )
    }

    /// Replaces every dynamic config of `resource` with `configs` (the legacy AlterConfigs:
    /// configs not listed go back to their defaults).
    pub async fn alter_configs(
        &self,
        resource: ConfigResource,
        configs: &[(String, String)],
    ) -> Result<()> {
        let conn = self.config_broker(&resource).await?;
        let req = AlterConfigsRequest {
            resources: vec![alter_configs_request::AlterConfigsResource {
                resource_type: resource.resource_type(),
                resource_name: StrBytes::from(resource.name()),
                configs: configs
                    .iter()
                    .map(|(k, v)| alter_configs_request::AlterableConfig {
                        name: StrBytes::from(k.clone()),
                        value: Some(StrBytes::from(v.clone())),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        let r = resp.responses.first().ok_or_else(|| {
            Error::InvalidResponse(format!("AlterConfigs: no result for {resource}"))
        })?;
        check(
            r.error_code,
            r.error_message.as_ref(),
            format!("AlterConfigs {resource}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_have_kafka_types_and_names() {
        let t = ConfigResource::Topic("orders".into());
        assert_eq!((t.resource_type(), t.name()), (2, "orders".to_string()));
        let b = ConfigResource::Broker(7);
        assert_eq!((b.resource_type(), b.name()), (4, "7".to_string()));
        assert_eq!(b.to_string(), "broker 7");
    }
}
