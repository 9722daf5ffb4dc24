//! OffsetDelete (key 47), version 0: removes a group's committed offsets for partitions of
//! topics it does not consume (GROUP_SUBSCRIBED_TO_TOPIC otherwise); tombstones go to
//! `__consumer_offsets`.

use krafty_protocol::generated::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use krafty_protocol::generated::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::Ctx;
use crate::authorizer::AclOperation;
use crate::error::code;
use crate::net::Pending;

/// Answers OffsetDelete.
pub fn handle(ctx: &Ctx, req: OffsetDeleteRequest) -> Pending {
    let readable = |name: &str| ctx.topic_allowed(AclOperation::Read, name);
    let wanted: Vec<(String, i32)> = req
        .topics
        .iter()
        .filter(|t| readable(&t.name))
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    match ctx.state.groups.delete_offsets(&req.group_id, &wanted) {
        Err(error_code) => ctx.ready(&OffsetDeleteResponse {
            error_code,
            ..Default::default()
        }),
        Ok(codes) => {
            let mut codes = codes.into_iter();
            let topics = req
                .topics
                .iter()
                .map(|t| OffsetDeleteResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetDeleteResponsePartition {
                            partition_index: p.partition_index,
                            error_code: if readable(&t.name) {
                                codes.next().unwrap_or(0)
                            } else {
                                code::TOPIC_AUTHORIZATION_FAILED
                            },
                        })
                        .collect(),
                })
                .collect();
            ctx.ready(&OffsetDeleteResponse {
                topics,
                ..Default::default()
            })
        }
    }
}
