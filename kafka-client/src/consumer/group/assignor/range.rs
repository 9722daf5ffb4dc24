//! Java's `RangeAssignor` (`range`).

use std::collections::BTreeMap;

use super::{empty_assignment, member_order, Assignment, Assignor, Subscription};

/// Java's `RangeAssignor`: per topic, the sorted subscribers get consecutive ranges; the
/// first `partitions % consumers` get one extra.
#[derive(Debug, Default, Clone, Copy)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        members: &BTreeMap<String, Subscription>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> Assignment {
        let mut out = empty_assignment(members);
        for (topic, &count) in partition_counts {
            let subscribers: Vec<&String> = member_order(members)
                .into_iter()
                .filter(|m| {
                    members
                        .get(*m)
                        .is_some_and(|sub| sub.topics.contains(topic))
                })
                .collect();
            if subscribers.is_empty() || count <= 0 {
                continue;
            }
            let n = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
            let per = count / n;
            let extra = count % n;
            for (i, member) in subscribers.into_iter().enumerate() {
                let i = i32::try_from(i).unwrap_or(i32::MAX);
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                if len > 0 {
                    if let Some(m) = out.get_mut(member) {
                        m.insert(topic.clone(), (start..start + len).collect());
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
    fn range_matches_java() {
        // Java RangeAssignorTest: two consumers, two topics of 3 partitions.
        let m = members(&[("c0", &["t1", "t2"]), ("c1", &["t1", "t2"])]);
        let a = RangeAssignor.assign(&m, &counts(&[("t1", 3), ("t2", 3)]));
        assert_eq!(a["c0"]["t1"], vec![0, 1]);
        assert_eq!(a["c1"]["t1"], vec![2]);
        assert_eq!(a["c0"]["t2"], vec![0, 1]);
        assert_eq!(a["c1"]["t2"], vec![2]);
        let m = members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        let a = RangeAssignor.assign(&m, &counts(&[("t", 2)]));
        assert_eq!(a["a"]["t"], vec![0]);
        assert_eq!(a["b"]["t"], vec![1]);
        assert!(!a["c"].contains_key("t"));
    }

    #[test]
    fn static_members_come_first_by_instance_id() {
        // Java's MemberInfo order: static members by instance id, then the others by id
        let mut m = members(&[("a-dyn", &["t"]), ("m-2", &["t"]), ("z-1", &["t"])]);
        if let Some(s) = m.get_mut("z-1") {
            s.group_instance_id = Some("inst-1".into());
        }
        if let Some(s) = m.get_mut("m-2") {
            s.group_instance_id = Some("inst-2".into());
        }
        let a = RangeAssignor.assign(&m, &counts(&[("t", 3)]));
        assert_eq!(a["z-1"]["t"], vec![0]);
        assert_eq!(a["m-2"]["t"], vec![1]);
        assert_eq!(a["a-dyn"]["t"], vec![2]);
    }
}
