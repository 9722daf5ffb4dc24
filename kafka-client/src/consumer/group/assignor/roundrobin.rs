//! Java's `RoundRobinAssignor` (`roundrobin`).

use std::collections::{BTreeMap, BTreeSet};

use super::{empty_assignment, member_order, Assignment, Assignor, Subscription};

/// Java's `RoundRobinAssignor`: all partitions sorted by topic then index, dealt to the
/// sorted members in turn, skipping members not subscribed to the partition's topic.
#[derive(Debug, Default, Clone, Copy)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &BTreeMap<String, Subscription>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment {
        let mut out = empty_assignment(members);
        let ids: Vec<&String> = member_order(members);
        if ids.is_empty() {
            return out;
        }
        let subscribed: BTreeSet<&String> = members.values().flat_map(|s| &s.topics).collect();
        let mut next = 0usize;
        for (topic, &count) in partition_counts {
            if !subscribed.contains(topic) {
                continue;
            }
            for p in 0..count.max(0) {
                for _ in 0..ids.len() {
                    let member = ids[next % ids.len()];
                    next += 1;
                    if members
                        .get(member)
                        .is_some_and(|s| s.topics.contains(topic))
                    {
                        if let Some(m) = out.get_mut(member) {
                            m.entry(topic.clone()).or_default().push(p);
                        }
                        break;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{counts, members};
    use super::*;

    #[test]
    fn roundrobin_matches_java() {
        let m = members(&[("c0", &["t1", "t2"]), ("c1", &["t1", "t2"])]);
        let a = RoundRobinAssignor.assign(&m, &counts(&[("t1", 3), ("t2", 3)]));
        assert_eq!(a["c0"]["t1"], vec![0, 2]);
        assert_eq!(a["c0"]["t2"], vec![1]);
        assert_eq!(a["c1"]["t1"], vec![1]);
        assert_eq!(a["c1"]["t2"], vec![0, 2]);
        // Members with different subscriptions.
        let m = members(&[("c0", &["t1"]), ("c1", &["t1", "t2"])]);
        let a = RoundRobinAssignor.assign(&m, &counts(&[("t1", 2), ("t2", 2)]));
        assert_eq!(a["c0"]["t1"], vec![0]);
        assert_eq!(a["c1"]["t1"], vec![1]);
        assert_eq!(a["c1"]["t2"], vec![0, 1]);
    }
}
