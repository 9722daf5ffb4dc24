//! Tests across the assignors: known cases (facts from Java's `AbstractStickyAssignorTest`
//! and `CooperativeStickyAssignorTest`) and property tests.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::user_data::encode_sticky_user_data;
use super::*;

pub(super) fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, Subscription> {
    list.iter()
        .map(|(m, ts)| {
            let sub = Subscription {
                topics: ts.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            };
            (m.to_string(), sub)
        })
        .collect()
}

pub(super) fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn tps(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

/// A v2+ subscription owning `owned` in `generation`.
fn owning(topics: &[&str], owned: &[(&str, i32)], generation: i32) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: tps(owned),
        generation,
        ..Default::default()
    }
}

fn set_of(a: &Assignment, member: &str) -> BTreeSet<(String, i32)> {
    a.get(member)
        .map(|m| {
            m.iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                .collect()
        })
        .unwrap_or_default()
}

fn set(list: &[(&str, i32)]) -> BTreeSet<(String, i32)> {
    tps(list).into_iter().collect()
}

fn count(a: &Assignment, member: &str) -> usize {
    set_of(a, member).len()
}

/// Partition -> members it is assigned to.
fn owners(a: &Assignment) -> BTreeMap<(String, i32), Vec<String>> {
    let mut out: BTreeMap<(String, i32), Vec<String>> = BTreeMap::new();
    for (m, topics) in a {
        for (t, ps) in topics {
            for p in ps {
                out.entry((t.clone(), *p)).or_default().push(m.clone());
            }
        }
    }
    out
}

/// Each member's assignment as its next subscription's owned partitions, one generation on.
fn next_round(
    members: &BTreeMap<String, Subscription>,
    a: &Assignment,
    generation: i32,
) -> BTreeMap<String, Subscription> {
    members
        .iter()
        .map(|(m, sub)| {
            let owned: Vec<(String, i32)> = set_of(a, m).into_iter().collect();
            let next = Subscription {
                topics: sub.topics.clone(),
                owned_partitions: owned,
                generation,
                ..Default::default()
            };
            (m.clone(), next)
        })
        .collect()
}

#[test]
fn by_name_and_protocols() {
    for name in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
        let a = by_name(name).expect("known");
        assert_eq!(a.name(), name);
        let proto = if name == "cooperative-sticky" {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        };
        assert_eq!(a.protocol(), proto);
    }
    assert!(by_name("nope").is_none());
    assert_eq!(RangeAssignor.subscription_user_data(&[], 3), None);
    assert_eq!(StickyAssignor.subscription_user_data(&[], -1), None);
    assert!(StickyAssignor
        .subscription_user_data(&tps(&[("t", 0)]), 2)
        .is_some());
    assert_eq!(
        CooperativeStickyAssignor
            .subscription_user_data(&[], 4)
            .as_deref(),
        Some(&[0u8, 0, 0, 4][..])
    );
}

#[test]
fn sticky_simple_cases() {
    let c = counts(&[("t", 3)]);
    // One consumer gets everything; a topic without metadata is ignored.
    let m = members(&[("c1", &["t", "missing"])]);
    let a = StickyAssignor.assign(&m, &c);
    assert_eq!(set_of(&a, "c1"), set(&[("t", 0), ("t", 1), ("t", 2)]));
    // No topics: empty entries for everyone.
    let a = StickyAssignor.assign(&members(&[("c1", &[]), ("c2", &[])]), &c);
    assert_eq!(a.len(), 2);
    assert!(a.values().all(|m| m.is_empty()));
    // Only subscribed topics are assigned.
    let a = StickyAssignor.assign(&m, &counts(&[("t", 3), ("other", 2)]));
    assert_eq!(count(&a, "c1"), 3);
}

#[test]
fn sticky_add_remove_consumer_one_topic() {
    // AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic.
    let c = counts(&[("t", 3)]);
    for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
        let mut m = BTreeMap::new();
        m.insert(
            "c1".to_string(),
            owning(&["t"], &[("t", 0), ("t", 1), ("t", 2)], 1),
        );
        m.insert("c2".to_string(), owning(&["t"], &[], 1));
        let a = assignor.assign(&m, &c);
        assert_eq!(set_of(&a, "c1"), set(&[("t", 0), ("t", 1)]));
        if assignor.protocol() == RebalanceProtocol::Cooperative {
            // t-2 must first be revoked by c1.
            assert_eq!(count(&a, "c2"), 0);
        } else {
            assert_eq!(set_of(&a, "c2"), set(&[("t", 2)]));
        }
        // c1 leaves; c2 gets everything.
        let mut m = BTreeMap::new();
        m.insert("c2".to_string(), owning(&["t"], &[("t", 2)], 2));
        let a = assignor.assign(&m, &c);
        assert_eq!(count(&a, "c2"), 3);
    }
}

#[test]
fn sticky_quota_cases_from_java() {
    let s = StickyAssignor;
    let both = ["topic1", "topic2"];
    // testConsumerOwningMinQuotaExpectedMaxQuota.
    let mut m = BTreeMap::new();
    m.insert(
        "consumer1".into(),
        owning(&both, &[("topic1", 0), ("topic2", 1)], 1),
    );
    m.insert(
        "consumer2".into(),
        owning(&both, &[("topic1", 1), ("topic2", 2)], 1),
    );
    let a = s.assign(&m, &counts(&[("topic1", 2), ("topic2", 3)]));
    assert_eq!(
        set_of(&a, "consumer1"),
        set(&[("topic1", 0), ("topic2", 1), ("topic2", 0)])
    );
    assert_eq!(
        set_of(&a, "consumer2"),
        set(&[("topic1", 1), ("topic2", 2)])
    );

    // testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers: both owners hold the
    // max quota but only one may keep it; the other gives one partition to consumer3.
    // (Java visits members in HashMap order and so picks consumer2 to keep two; we visit
    // them sorted, so consumer1 keeps two.)
    let mut m = BTreeMap::new();
    m.insert(
        "consumer1".into(),
        owning(&both, &[("topic1", 0), ("topic2", 0)], 1),
    );
    m.insert(
        "consumer2".into(),
        owning(&both, &[("topic1", 1), ("topic2", 1)], 1),
    );
    m.insert("consumer3".into(), owning(&both, &[], 1));
    let c = counts(&[("topic1", 2), ("topic2", 2)]);
    let a = s.assign(&m, &c);
    assert_eq!(
        set_of(&a, "consumer1"),
        set(&[("topic1", 0), ("topic2", 0)])
    );
    assert_eq!(set_of(&a, "consumer2"), set(&[("topic1", 1)]));
    assert_eq!(set_of(&a, "consumer3"), set(&[("topic2", 1)]));
    // Cooperative: topic2-1 moves from consumer2 to consumer3, so it waits a round.
    let a = CooperativeStickyAssignor.assign(&m, &c);
    assert_eq!(set_of(&a, "consumer2"), set(&[("topic1", 1)]));
    assert_eq!(count(&a, "consumer3"), 0);
    let a = CooperativeStickyAssignor.assign(&next_round(&m, &a, 2), &c);
    assert_eq!(set_of(&a, "consumer3"), set(&[("topic2", 1)]));

    // testAllConsumersAreUnderMinQuota.
    let mut m = BTreeMap::new();
    m.insert("consumer1".into(), owning(&both, &[("topic1", 0)], 1));
    m.insert("consumer2".into(), owning(&both, &[("topic1", 1)], 1));
    m.insert("consumer3".into(), owning(&both, &[], 1));
    let c = counts(&[("topic1", 2), ("topic2", 3)]);
    for a in [s.assign(&m, &c), CooperativeStickyAssignor.assign(&m, &c)] {
        assert_eq!(
            set_of(&a, "consumer1"),
            set(&[("topic1", 0), ("topic2", 1)])
        );
        assert_eq!(
            set_of(&a, "consumer2"),
            set(&[("topic1", 1), ("topic2", 2)])
        );
        assert_eq!(set_of(&a, "consumer3"), set(&[("topic2", 0)]));
    }

    // testAllConsumersReachExpectedQuotaAndAreConsideredFilled.
    let mut m = BTreeMap::new();
    m.insert("consumer1".into(), owning(&["t"], &[("t", 0), ("t", 1)], 1));
    m.insert("consumer2".into(), owning(&["t"], &[("t", 2)], 1));
    m.insert("consumer3".into(), owning(&["t"], &[], 1));
    let a = s.assign(&m, &counts(&[("t", 4)]));
    assert_eq!(set_of(&a, "consumer1"), set(&[("t", 0), ("t", 1)]));
    assert_eq!(set_of(&a, "consumer2"), set(&[("t", 2)]));
    assert_eq!(set_of(&a, "consumer3"), set(&[("t", 3)]));
}

#[test]
fn sticky_generation_conflicts_from_java() {
    let two = ["topic", "topic2"];
    let claimed = [("topic", 0), ("topic", 2), ("topic2", 1)];
    let c = counts(&[("topic", 3), ("topic2", 3)]);
    // testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration / ...NoGeneration.
    for stale in [9, -1] {
        let mut m = BTreeMap::new();
        m.insert("consumer1".into(), owning(&two, &claimed, 10));
        m.insert("consumer2".into(), owning(&two, &claimed, stale));
        for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&m, &c);
            assert_eq!(set_of(&a, "consumer1"), set(&claimed));
            assert_eq!(
                set_of(&a, "consumer2"),
                set(&[("topic", 1), ("topic2", 0), ("topic2", 2)])
            );
        }
    }

    // testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumers...
    let mut m = BTreeMap::new();
    m.insert("consumer1".into(), owning(&["t"], &[("t", 0), ("t", 1)], 1));
    m.insert("consumer2".into(), owning(&["t"], &[("t", 0), ("t", 2)], 1));
    m.insert("consumer3".into(), owning(&["t"], &[], 1));
    let c = counts(&[("t", 3)]);
    let a = StickyAssignor.assign(&m, &c);
    assert_eq!(set_of(&a, "consumer1"), set(&[("t", 1)]));
    assert_eq!(set_of(&a, "consumer2"), set(&[("t", 2)]));
    assert_eq!(set_of(&a, "consumer3"), set(&[("t", 0)]));
    let a = CooperativeStickyAssignor.assign(&m, &c);
    assert_eq!(count(&a, "consumer3"), 0);

    // testEnsurePartitionsAssignedToHighestGeneration.
    let three = ["topic", "topic2", "topic3"];
    let mut m = BTreeMap::new();
    m.insert(
        "consumer1".into(),
        owning(&three, &[("topic", 0), ("topic2", 0), ("topic3", 0)], 10),
    );
    m.insert(
        "consumer2".into(),
        owning(&three, &[("topic", 1), ("topic2", 1), ("topic3", 1)], 9),
    );
    m.insert(
        "consumer3".into(),
        owning(&three, &[("topic2", 1), ("topic3", 0), ("topic3", 2)], 8),
    );
    let c = counts(&[("topic", 3), ("topic2", 3), ("topic3", 3)]);
    for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
        let a = assignor.assign(&m, &c);
        assert_eq!(
            set_of(&a, "consumer1"),
            set(&[("topic", 0), ("topic2", 0), ("topic3", 0)])
        );
        assert_eq!(
            set_of(&a, "consumer2"),
            set(&[("topic", 1), ("topic2", 1), ("topic3", 1)])
        );
        assert_eq!(
            set_of(&a, "consumer3"),
            set(&[("topic", 2), ("topic2", 2), ("topic3", 2)])
        );
    }
}

#[test]
fn sticky_no_reassignment_on_current_members_from_java() {
    // testNoReassignmentOnCurrentMembers.
    let all = ["topic", "topic1", "topic2", "topic3"];
    let mut m = BTreeMap::new();
    m.insert("consumer1".into(), owning(&all, &[], -1));
    m.insert(
        "consumer2".into(),
        owning(&all, &[("topic", 0), ("topic2", 0), ("topic1", 0)], 9),
    );
    m.insert(
        "consumer3".into(),
        owning(&all, &[("topic3", 2), ("topic2", 2), ("topic1", 1)], 8),
    );
    m.insert(
        "consumer4".into(),
        owning(&all, &[("topic3", 1), ("topic", 1), ("topic", 2)], 7),
    );
    let c = counts(&[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)]);
    for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
        let a = assignor.assign(&m, &c);
        assert_eq!(
            set_of(&a, "consumer1"),
            set(&[("topic1", 2), ("topic2", 1), ("topic3", 0)])
        );
        for other in ["consumer2", "consumer3", "consumer4"] {
            assert_eq!(set_of(&a, other).len(), 3);
            let owned: BTreeSet<_> = m[other].owned_partitions.iter().cloned().collect();
            assert_eq!(set_of(&a, other), owned);
        }
    }
}

#[test]
fn sticky_new_member_moves_minimum() {
    // Three members own two partitions each of six; a fourth joins: exactly one moves.
    let mut m = BTreeMap::new();
    m.insert("a".into(), owning(&["t"], &[("t", 0), ("t", 1)], 3));
    m.insert("b".into(), owning(&["t"], &[("t", 2), ("t", 3)], 3));
    m.insert("c".into(), owning(&["t"], &[("t", 4), ("t", 5)], 3));
    m.insert("d".into(), owning(&["t"], &[], -1));
    let a = StickyAssignor.assign(&m, &counts(&[("t", 6)]));
    assert_eq!(count(&a, "d"), 1);
    let kept: usize = ["a", "b", "c"]
        .iter()
        .map(|x| {
            let owned: BTreeSet<_> = m[*x].owned_partitions.iter().cloned().collect();
            set_of(&a, x).intersection(&owned).count()
        })
        .sum();
    assert_eq!(kept, 5);
    // A member leaves: only its partitions move.
    m.remove("d");
    m.remove("b");
    let a = StickyAssignor.assign(&m, &counts(&[("t", 6)]));
    assert_eq!(count(&a, "a"), 3);
    assert_eq!(count(&a, "c"), 3);
    assert!(set(&[("t", 0), ("t", 1)]).is_subset(&set_of(&a, "a")));
    assert!(set(&[("t", 4), ("t", 5)]).is_subset(&set_of(&a, "c")));
}

#[test]
fn sticky_reads_java_user_data() {
    // An eager Java StickyAssignor member: empty owned partitions, ownership in user data.
    let mut m = BTreeMap::new();
    for (id, parts) in [("a", [0, 1]), ("b", [2, 3])] {
        let owned: Vec<(String, i32)> = parts.iter().map(|p| ("t".to_string(), *p)).collect();
        m.insert(
            id.to_string(),
            Subscription {
                topics: vec!["t".into()],
                user_data: Some(encode_sticky_user_data(&owned, 4)),
                ..Default::default()
            },
        );
    }
    m.insert("c".into(), owning(&["t"], &[], -1));
    let a = StickyAssignor.assign(&m, &counts(&[("t", 4)]));
    assert!(set_of(&a, "a").contains(&("t".to_string(), 0)));
    assert!(set_of(&a, "b").contains(&("t".to_string(), 2)));
    assert_eq!(count(&a, "a") + count(&a, "b"), 3);
    assert_eq!(count(&a, "c"), 1);
}

#[test]
fn cooperative_reads_generation_from_user_data_of_old_subscriptions() {
    // A v1 subscription (no generation field) from a Java member: generation in user data.
    let mut m = BTreeMap::new();
    let mut old = owning(&["t"], &[("t", 0)], -1);
    old.user_data = Some(Bytes::from_static(&[0, 0, 0, 7]));
    m.insert("a".into(), old);
    m.insert("b".into(), owning(&["t"], &[("t", 0)], 6));
    let a = CooperativeStickyAssignor.assign(&m, &counts(&[("t", 2)]));
    // a's generation 7 beats b's 6: a keeps t-0, b gets t-1 (which nobody owns).
    assert_eq!(set_of(&a, "a"), set(&[("t", 0)]));
    assert_eq!(set_of(&a, "b"), set(&[("t", 1)]));
}

#[test]
fn general_case_mixed_subscriptions() {
    // AbstractStickyAssignorTest.testMultipleConsumersMixedTopicSubscriptions: topic1 (3
    // partitions) for consumer1 and consumer3, topic2 (2) for consumer2 only.
    let m = members(&[
        ("consumer1", &["topic1"]),
        ("consumer2", &["topic1", "topic2"]),
        ("consumer3", &["topic1"]),
    ]);
    let a = StickyAssignor.assign(&m, &counts(&[("topic1", 3), ("topic2", 2)]));
    assert_eq!(
        set_of(&a, "consumer1"),
        set(&[("topic1", 0), ("topic1", 2)])
    );
    assert_eq!(
        set_of(&a, "consumer2"),
        set(&[("topic2", 0), ("topic2", 1)])
    );
    assert_eq!(set_of(&a, "consumer3"), set(&[("topic1", 1)]));
}

// ---- property tests ----

/// A random group: partition counts, per member its topics and owned partitions.
#[derive(Debug, Clone)]
struct Group {
    counts: BTreeMap<String, i32>,
    members: BTreeMap<String, Subscription>,
}

fn topic_name(i: usize) -> String {
    format!("t{i}")
}

fn group_strategy(same_topics: bool) -> impl Strategy<Value = Group> {
    (1usize..=8, prop::collection::vec(1i32..=16, 1..=4)).prop_flat_map(move |(n, parts)| {
        let topics = parts.len();
        let total: usize = parts.iter().map(|&p| p as usize).sum();
        (
            Just(parts),
            prop::collection::vec(1u32..(1u32 << topics), n),
            // Per partition: an optional claimant (index into members), generation.
            prop::collection::vec((prop::option::of(0..n), 0i32..3), total),
            prop::collection::vec(prop::option::of((0..n, 0i32..3)), total),
        )
            .prop_map(move |(parts, masks, claims, second)| {
                let counts: BTreeMap<String, i32> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| (topic_name(i), p))
                    .collect();
                let mut members: BTreeMap<String, Subscription> = BTreeMap::new();
                let all: Vec<(String, i32)> = parts
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &p)| (0..p).map(move |q| (topic_name(i), q)))
                    .collect();
                for (m, mask) in masks.iter().enumerate() {
                    let topics = (0..parts.len())
                        .filter(|i| same_topics || mask & (1 << i) != 0)
                        .map(topic_name)
                        .collect();
                    members.insert(
                        format!("m{m}"),
                        Subscription {
                            topics,
                            generation: -1,
                            ..Default::default()
                        },
                    );
                }
                let ids: Vec<String> = members.keys().cloned().collect();
                for (tp, ((first, g), extra)) in all.iter().zip(claims.iter().zip(&second)) {
                    for (owner, gen) in first.map(|o| (o, *g)).into_iter().chain(*extra) {
                        if let Some(sub) = members.get_mut(&ids[owner]) {
                            if !sub.owned_partitions.contains(tp) {
                                sub.owned_partitions.push(tp.clone());
                            }
                            sub.generation = sub.generation.max(gen);
                        }
                    }
                }
                Group { counts, members }
            })
    })
}

/// Every partition of a subscribed topic goes to exactly one subscriber (at most one when
/// `partial`); nothing else is assigned; every member has an entry.
fn check_valid(g: &Group, a: &Assignment, partial: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), g.members.len());
    let owners = owners(a);
    for ((t, p), ms) in &owners {
        prop_assert_eq!(ms.len(), 1, "{}-{} assigned to {:?}", t, p, ms);
        prop_assert!(
            g.members[&ms[0]].topics.contains(t),
            "{} not subscribed to {}",
            ms[0],
            t
        );
        prop_assert!(*p >= 0 && *p < g.counts[t]);
    }
    if !partial {
        for (t, &n) in &g.counts {
            if g.members.values().any(|s| s.topics.contains(t)) {
                for p in 0..n {
                    prop_assert!(
                        owners.contains_key(&(t.clone(), p)),
                        "{}-{} unassigned",
                        t,
                        p
                    );
                }
            }
        }
    }
    Ok(())
}

fn check_counts_within_one(a: &Assignment) -> Result<(), TestCaseError> {
    let sizes: Vec<usize> = a.keys().map(|m| count(a, m)).collect();
    let (min, max) = (sizes.iter().min(), sizes.iter().max());
    if let (Some(min), Some(max)) = (min, max) {
        prop_assert!(max - min <= 1, "unbalanced: {:?}", sizes);
    }
    Ok(())
}

/// Java's balance criterion: no partition could move to a member with at least two fewer
/// partitions that subscribes to its topic.
fn check_java_balanced(g: &Group, a: &Assignment) -> Result<(), TestCaseError> {
    let owners = owners(a);
    for (m, sub) in &g.members {
        let mine = count(a, m);
        for t in &sub.topics {
            let Some(&n) = g.counts.get(t) else { continue };
            for p in 0..n {
                if let Some(o) = owners.get(&(t.clone(), p)) {
                    let theirs = count(a, &o[0]);
                    prop_assert!(
                        mine + 1 >= theirs,
                        "{}-{} could move from {} ({}) to {} ({})",
                        t,
                        p,
                        o[0],
                        theirs,
                        m,
                        mine
                    );
                }
            }
        }
    }
    Ok(())
}

/// A balanced, valid assignment of everything to members subscribed to all topics.
fn balanced_start(n: usize, counts: &BTreeMap<String, i32>) -> BTreeMap<String, Subscription> {
    let topics: Vec<String> = counts.keys().cloned().collect();
    let m = (0..n)
        .map(|i| {
            let sub = Subscription {
                topics: topics.clone(),
                ..Default::default()
            };
            (format!("m{i}"), sub)
        })
        .collect();
    let a = RoundRobinAssignor.assign(&m, counts);
    next_round(&m, &a, 5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn all_assignors_are_valid(g in group_strategy(false)) {
        for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor, &StickyAssignor] {
            let a = assignor.assign(&g.members, &g.counts);
            check_valid(&g, &a, false)?;
            prop_assert_eq!(&a, &assignor.assign(&g.members, &g.counts));
        }
        let a = StickyAssignor.assign(&g.members, &g.counts);
        check_java_balanced(&g, &a)?;
    }

    #[test]
    fn identical_subscriptions_are_balanced(g in group_strategy(true)) {
        for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor, &StickyAssignor] {
            let a = assignor.assign(&g.members, &g.counts);
            check_valid(&g, &a, false)?;
            if assignor.name() != "range" || g.counts.len() == 1 {
                check_counts_within_one(&a)?;
            }
        }
    }

    #[test]
    fn cooperative_is_safe_and_completes(g in group_strategy(false)) {
        let a = CooperativeStickyAssignor.assign(&g.members, &g.counts);
        prop_assert_eq!(&a, &CooperativeStickyAssignor.assign(&g.members, &g.counts));
        check_valid(&g, &a, true)?;
        // Nothing is given to a member while another member still claims it, unless the
        // member claims it too in a newer generation (the older claim is void).
        for (m, sub) in &g.members {
            for tp in set_of(&a, m) {
                for (other, osub) in &g.members {
                    let newer = sub.owned_partitions.contains(&tp)
                        && sub.generation > osub.generation;
                    prop_assert!(
                        other == m || newer || !osub.owned_partitions.contains(&tp),
                        "{:?} given to {} but owned by {}", tp, m, other
                    );
                }
            }
        }
        // Owners revoke what they lost and rejoin; a few follow-up rounds complete it.
        let mut members = next_round(&g.members, &a, 10);
        let mut done = false;
        for round in 0..4 {
            let next = CooperativeStickyAssignor.assign(&members, &g.counts);
            let step = Group { counts: g.counts.clone(), members: members.clone() };
            check_valid(&step, &next, true)?;
            let complete = check_valid(&step, &next, false).is_ok();
            members = next_round(&members, &next, 11 + round);
            if complete {
                done = true;
                break;
            }
        }
        prop_assert!(done, "cooperative rebalances did not converge");
    }

    #[test]
    fn cooperative_identical_subscriptions_complete_in_one_follow_up(
        g in group_strategy(true),
    ) {
        let a = CooperativeStickyAssignor.assign(&g.members, &g.counts);
        let members = next_round(&g.members, &a, 10);
        let b = CooperativeStickyAssignor.assign(&members, &g.counts);
        let step = Group { counts: g.counts.clone(), members };
        check_valid(&step, &b, false)?;
        check_counts_within_one(&b)?;
        // The follow-up round only adds: nothing already held is taken away.
        for m in step.members.keys() {
            prop_assert!(set_of(&a, m).is_subset(&set_of(&b, m)));
        }
    }

    #[test]
    fn sticky_output_is_stable(g in group_strategy(false)) {
        // Fed back as the owned partitions of the next generation, a sticky assignment is
        // kept as it is (nothing moves when nothing changed).
        for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let mut a = assignor.assign(&g.members, &g.counts);
            let mut members = next_round(&g.members, &a, 10);
            if assignor.protocol() == RebalanceProtocol::Cooperative {
                // Let the cooperative rounds finish first.
                for round in 0..4 {
                    a = assignor.assign(&members, &g.counts);
                    members = next_round(&members, &a, 11 + round);
                }
            }
            let again = assignor.assign(&members, &g.counts);
            prop_assert_eq!(&again, &a);
        }
    }

    #[test]
    fn sticky_member_added_moves_minimum(
        n in 1usize..=7,
        parts in prop::collection::vec(1i32..=16, 1..=4),
    ) {
        let counts: BTreeMap<String, i32> =
            parts.iter().enumerate().map(|(i, &p)| (topic_name(i), p)).collect();
        let total: usize = parts.iter().map(|&p| p as usize).sum();
        let mut members = balanced_start(n, &counts);
        let topics = counts.keys().cloned().collect();
        members.insert("new".into(), Subscription { topics, ..Default::default() });
        let g = Group { counts: counts.clone(), members: members.clone() };
        for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&members, &counts);
            let moved: usize = members
                .iter()
                .filter(|(m, _)| m.as_str() != "new")
                .map(|(m, sub)| {
                    let owned: BTreeSet<_> = sub.owned_partitions.iter().cloned().collect();
                    owned.difference(&set_of(&a, m)).count()
                })
                .sum();
            if assignor.protocol() == RebalanceProtocol::Eager {
                check_valid(&g, &a, false)?;
                check_counts_within_one(&a)?;
                prop_assert_eq!(count(&a, "new"), total / (n + 1));
                prop_assert_eq!(moved, total / (n + 1));
            } else {
                // Revoked now, assigned to the new member in the follow-up round.
                prop_assert_eq!(count(&a, "new"), 0);
                prop_assert_eq!(moved, total / (n + 1));
            }
        }
    }

    #[test]
    fn sticky_member_removed_moves_only_its_partitions(
        n in 2usize..=8,
        parts in prop::collection::vec(1i32..=16, 1..=4),
        leaver in 0usize..8,
    ) {
        let counts: BTreeMap<String, i32> =
            parts.iter().enumerate().map(|(i, &p)| (topic_name(i), p)).collect();
        let mut members = balanced_start(n, &counts);
        members.remove(&format!("m{}", leaver % n));
        let g = Group { counts: counts.clone(), members: members.clone() };
        for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&members, &counts);
            check_valid(&g, &a, false)?;
            check_counts_within_one(&a)?;
            for (m, sub) in &members {
                let owned: BTreeSet<_> = sub.owned_partitions.iter().cloned().collect();
                prop_assert!(owned.is_subset(&set_of(&a, m)), "{} lost a partition", m);
            }
        }
    }

    #[test]
    fn sticky_keeps_a_valid_balanced_assignment(
        n in 1usize..=8,
        parts in prop::collection::vec(1i32..=16, 1..=4),
    ) {
        let counts: BTreeMap<String, i32> =
            parts.iter().enumerate().map(|(i, &p)| (topic_name(i), p)).collect();
        let members = balanced_start(n, &counts);
        for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&members, &counts);
            for (m, sub) in &members {
                let owned: BTreeSet<_> = sub.owned_partitions.iter().cloned().collect();
                prop_assert_eq!(&owned, &set_of(&a, m));
            }
        }
    }

    #[test]
    fn subscription_bytes_round_trip(
        topics in prop::collection::vec("[a-z]{1,8}", 0..4),
        owned in prop::collection::vec(("[a-z]{1,8}", 0i32..100), 0..6),
        generation in -1i32..1000,
        user_data in prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
    ) {
        let sub = Subscription {
            topics,
            owned_partitions: owned,
            generation,
            group_instance_id: None,
            user_data: user_data.map(Bytes::from),
        };
        let back = decode_subscription_full(encode_subscription_full(&sub).expect("encode"))
            .expect("decode");
        prop_assert_eq!(&back.topics, &sub.topics);
        prop_assert_eq!(back.generation, sub.generation);
        prop_assert_eq!(&back.user_data, &sub.user_data);
        let a: BTreeSet<_> = back.owned_partitions.iter().collect();
        let b: BTreeSet<_> = sub.owned_partitions.iter().collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn decoders_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_subscription_full(Bytes::from(data.clone()));
        let _ = decode_assignment(Bytes::from(data.clone()));
        let _ = super::user_data::decode_sticky_user_data(&data);
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Subscription {
            topics: vec!["t".into()],
            user_data: Some(Bytes::from(data)),
            ..Default::default()
        });
        let a = StickyAssignor.assign(&m, &counts(&[("t", 2)]));
        prop_assert_eq!(count(&a, "a"), 2);
    }
}
