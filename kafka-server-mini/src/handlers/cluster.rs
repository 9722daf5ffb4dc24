//! DescribeCluster (key 60), versions 0-1: this node is the whole cluster.

use krafty_protocol::generated::describe_cluster_response::DescribeClusterBroker;
use krafty_protocol::generated::{DescribeClusterRequest, DescribeClusterResponse};
use krafty_protocol::wire::StrBytes;

use super::Ctx;
use crate::net::Pending;

/// Answers DescribeCluster.
pub fn describe_cluster(ctx: &Ctx, _req: DescribeClusterRequest) -> Pending {
    let s = &ctx.state;
    ctx.ready(&DescribeClusterResponse {
        cluster_id: StrBytes::from(s.cluster_id.clone()),
        controller_id: s.config.node_id,
        endpoint_type: 1,
        brokers: vec![DescribeClusterBroker {
            broker_id: s.config.node_id,
            host: StrBytes::from(ctx.listener.advertised.0.clone()),
            port: ctx.listener.advertised.1,
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    })
}
