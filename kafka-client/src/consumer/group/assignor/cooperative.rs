//! Java's `CooperativeStickyAssignor` (`cooperative-sticky`, KIP-429).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::sticky::{sticky_assign, StickyMember};
use super::user_data::{decode_cooperative_user_data, encode_cooperative_user_data, MemberData};
use super::{Assignment, Assignor, RebalanceProtocol, Subscription};

/// Java's `CooperativeStickyAssignor`: the sticky assignment, minus every partition that
/// another member still owns (or that several members claim in the same generation). The
/// owner revokes such a partition after this rebalance and rejoins; the follow-up rebalance
/// assigns it. Partitions nobody owns are assigned at once.
///
/// Previous ownership is each subscription's `owned_partitions`; its generation is
/// `generation` (subscription v2+) or, for older subscriptions, the generation word Java
/// writes as this assignor's user data.
#[derive(Debug, Default, Clone, Copy)]
pub struct CooperativeStickyAssignor;

impl CooperativeStickyAssignor {
    fn member_data(sub: &Subscription) -> MemberData {
        let generation = if sub.generation >= 0 {
            sub.generation
        } else {
            sub.user_data
                .as_ref()
                .map_or(-1, |d| decode_cooperative_user_data(d))
        };
        MemberData {
            partitions: sub.owned_partitions.clone(),
            generation,
        }
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    /// The generation as one `int32`, as Java writes it (for leaders that read subscriptions
    /// older than version 2); `owned` travels in `owned_partitions` instead.
    fn subscription_user_data(&self, owned: &[(String, i32)], generation: i32) -> Option<Bytes> {
        let _ = owned;
        Some(encode_cooperative_user_data(generation))
    }

    fn assign(
        &self,
        members: &BTreeMap<String, Subscription>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment {
        let input: BTreeMap<String, StickyMember<'_>> = members
            .iter()
            .map(|(id, sub)| {
                let member = StickyMember {
                    topics: &sub.topics,
                    data: Self::member_data(sub),
                };
                (id.clone(), member)
            })
            .collect();
        let mut outcome = sticky_assign(&input, partition_counts);
        let owner = std::mem::take(&mut outcome.owner);
        let contested = std::mem::take(&mut outcome.contested);
        for (m, parts) in outcome.assignment.iter_mut().enumerate() {
            parts.retain(|tp| !contested.contains(tp) && owner.get(tp).is_none_or(|o| *o == m));
        }
        outcome.into_assignment()
    }
}
