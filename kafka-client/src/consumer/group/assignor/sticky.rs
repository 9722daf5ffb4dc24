//! The sticky assignment algorithm shared by `sticky` and `cooperative-sticky` (Java's
//! `AbstractStickyAssignor`, without rack awareness), and Java's eager `StickyAssignor`.
//!
//! Owns: resolving who owned what before the rebalance (the higher generation wins a
//! partition claimed twice; a tie in the highest generation leaves it unowned), the
//! constrained builder used when every member subscribes to the same topics (each member
//! keeps its owned partitions up to its quota, the rest is dealt round-robin to members
//! under quota) and the general builder otherwise (keep owned partitions, give the rest to
//! the least loaded eligible member, then move partitions while that improves balance,
//! preferring moves back to a previous owner and never bouncing a partition back and
//! forth). Must not: know about protocol bytes beyond reading the sticky user data.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;

use super::user_data::{decode_sticky_user_data, encode_sticky_user_data, MemberData};
use super::{Assignment, Assignor, Subscription};

/// A partition: (topic index, partition index).
pub(crate) type Tp = (usize, i32);

/// One member as the sticky algorithm sees it.
pub(crate) struct StickyMember<'a> {
    /// The subscribed topics.
    pub(crate) topics: &'a [String],
    /// What it owned before, and in which generation.
    pub(crate) data: MemberData,
}

/// The result of the sticky algorithm, in index space.
pub(crate) struct StickyOutcome {
    /// Member ids, sorted (the index space of `assignment` and `owner`).
    pub(crate) members: Vec<String>,
    /// Topic names, sorted (the index space of [`Tp`]).
    pub(crate) topics: Vec<String>,
    /// Per member, its target partitions.
    pub(crate) assignment: Vec<Vec<Tp>>,
    /// Who owns each partition now, after generation conflicts are resolved.
    pub(crate) owner: HashMap<Tp, usize>,
    /// Partitions claimed by several members of the same, highest, generation.
    pub(crate) contested: HashSet<Tp>,
}

impl StickyOutcome {
    /// The per-member assignment with names, partitions sorted.
    pub(crate) fn into_assignment(self) -> Assignment {
        let mut out = Assignment::new();
        for (m, parts) in self.members.iter().zip(self.assignment) {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in parts {
                if let Some(name) = self.topics.get(t) {
                    by_topic.entry(name.clone()).or_default().push(p);
                }
            }
            for ps in by_topic.values_mut() {
                ps.sort_unstable();
            }
            out.insert(m.clone(), by_topic);
        }
        out
    }
}

/// Runs the sticky algorithm over `members` (member id -> subscription and previous
/// ownership) and the partition counts of the topics.
pub(crate) fn sticky_assign(
    members: &BTreeMap<String, StickyMember<'_>>,
    partition_counts: &BTreeMap<String, i32>,
) -> StickyOutcome {
    let ids: Vec<String> = members.keys().cloned().collect();
    // Topics with partitions that someone subscribes to.
    let topics: Vec<(String, i32)> = partition_counts
        .iter()
        .filter(|(t, &n)| n > 0 && members.values().any(|m| m.topics.contains(t)))
        .map(|(t, &n)| (t.clone(), n))
        .collect();
    let topic_index: HashMap<&str, usize> = topics
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (t.as_str(), i))
        .collect();
    let counts: Vec<i32> = topics.iter().map(|(_, n)| *n).collect();
    let subscribed: Vec<Vec<usize>> = members
        .values()
        .map(|m| {
            let set: BTreeSet<usize> = m
                .topics
                .iter()
                .filter_map(|t| topic_index.get(t.as_str()).copied())
                .collect();
            set.into_iter().collect()
        })
        .collect();
    let all_equal = {
        let mut sets = members
            .values()
            .map(|m| m.topics.iter().collect::<BTreeSet<_>>());
        match sets.next() {
            Some(first) => sets.all(|s| s == first),
            None => true,
        }
    };

    // Resolve ownership: per partition, the single claimant of the highest generation.
    let max_generation = members
        .values()
        .map(|m| m.data.generation)
        .max()
        .unwrap_or(-1)
        .max(-1);
    let mut claims: BTreeMap<Tp, Vec<(usize, i32)>> = BTreeMap::new();
    let mut claim_order: Vec<Vec<Tp>> = vec![Vec::new(); ids.len()];
    for (m, member) in members.values().enumerate() {
        let mut seen = HashSet::new();
        for (topic, p) in &member.data.partitions {
            let Some(&t) = topic_index.get(topic.as_str()) else {
                continue;
            };
            if *p < 0 || *p >= counts[t] || !seen.insert((t, *p)) {
                continue;
            }
            claims
                .entry((t, *p))
                .or_default()
                .push((m, member.data.generation));
            claim_order[m].push((t, *p));
        }
    }
    let mut owner: HashMap<Tp, usize> = HashMap::new();
    let mut contested = HashSet::new();
    for (tp, claimants) in &claims {
        let top = claimants.iter().map(|(_, g)| *g).max().unwrap_or(-1);
        let mut at_top = claimants.iter().filter(|(_, g)| *g == top);
        match (at_top.next(), at_top.next()) {
            (Some((m, _)), None) => {
                owner.insert(*tp, *m);
            }
            _ => {
                contested.insert(*tp);
            }
        }
    }
    let owned: Vec<Vec<Tp>> = claim_order
        .iter()
        .enumerate()
        .map(|(m, tps)| {
            tps.iter()
                .copied()
                .filter(|tp| owner.get(tp) == Some(&m))
                .collect()
        })
        .collect();

    let assignment = if all_equal {
        constrained(&owned, &counts)
    } else {
        // Previous owners from older generations, to move partitions back to them.
        let mut prev: HashMap<Tp, (usize, i32)> = HashMap::new();
        for (m, member) in members.values().enumerate() {
            let g = member.data.generation;
            if g >= max_generation {
                continue;
            }
            for (topic, p) in &member.data.partitions {
                let Some(&t) = topic_index.get(topic.as_str()) else {
                    continue;
                };
                match prev.get(&(t, *p)) {
                    Some((_, pg)) if *pg >= g => {}
                    _ => {
                        prev.insert((t, *p), (m, g));
                    }
                }
            }
        }
        General::new(&counts, subscribed, owned, prev).build()
    };
    StickyOutcome {
        members: ids,
        topics: topics.into_iter().map(|(t, _)| t).collect(),
        assignment,
        owner,
        contested,
    }
}

/// Java's `ConstrainedAssignmentBuilder`: every member subscribes to every topic.
fn constrained(owned: &[Vec<Tp>], counts: &[i32]) -> Vec<Vec<Tp>> {
    let n = owned.len();
    let mut assignment: Vec<Vec<Tp>> = vec![Vec::new(); n];
    if n == 0 {
        return assignment;
    }
    let total: usize = counts.iter().map(|&c| c.max(0) as usize).sum();
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let expected_over = total % n;
    let mut current_over = 0usize;
    let mut under: Vec<usize> = Vec::new();
    let mut exact: Vec<usize> = Vec::new();
    let mut assigned: HashSet<Tp> = HashSet::new();

    for (m, tps) in owned.iter().enumerate() {
        let mut tps = tps.clone();
        tps.sort_by_key(|&(t, p)| (p, t));
        let keep = if tps.len() < min_quota {
            under.push(m);
            tps.len()
        } else if tps.len() >= max_quota && current_over < expected_over {
            current_over += 1;
            if current_over == expected_over {
                exact.clear();
            }
            max_quota
        } else {
            if current_over < expected_over {
                exact.push(m);
            }
            min_quota
        };
        for tp in tps.into_iter().take(keep) {
            assigned.insert(tp);
            assignment[m].push(tp);
        }
    }

    under.sort_unstable();
    exact.sort_unstable();
    let mut exact: std::collections::VecDeque<usize> = exact.into();
    let mut pos = 0usize;
    for (t, &count) in counts.iter().enumerate() {
        for p in 0..count.max(0) {
            if assigned.contains(&(t, p)) {
                continue;
            }
            let (m, from_under) = if pos < under.len() {
                pos += 1;
                (under[pos - 1], true)
            } else if !under.is_empty() {
                pos = 1;
                (under[0], true)
            } else if let Some(m) = exact.pop_front() {
                (m, false)
            } else {
                // Cannot happen (the quotas add up to the total); stay total anyway.
                let least = (0..n)
                    .min_by_key(|&m| (assignment[m].len(), m))
                    .unwrap_or(0);
                (least, false)
            };
            assignment[m].push((t, p));
            let len = assignment[m].len();
            if len == min_quota && from_under {
                pos -= 1;
                under.remove(pos);
                exact.push_back(m);
            }
        }
    }
    assignment
}

/// Tracks partition movements during one general assignment, so that a partition does not
/// move back and forth between two members of the same topic (Java's
/// `PartitionMovements`).
#[derive(Default)]
struct Movements {
    /// Partition -> (first source, current destination).
    moved: HashMap<Tp, (usize, usize)>,
    /// Topic -> (source, destination) -> partitions.
    by_topic: HashMap<usize, BTreeMap<(usize, usize), BTreeSet<Tp>>>,
}

impl Movements {
    fn remove_record(&mut self, tp: Tp) -> Option<(usize, usize)> {
        let pair = self.moved.remove(&tp)?;
        if let Some(topic) = self.by_topic.get_mut(&tp.0) {
            if let Some(set) = topic.get_mut(&pair) {
                set.remove(&tp);
                if set.is_empty() {
                    topic.remove(&pair);
                }
            }
            if topic.is_empty() {
                self.by_topic.remove(&tp.0);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, tp: Tp, pair: (usize, usize)) {
        self.moved.insert(tp, pair);
        self.by_topic
            .entry(tp.0)
            .or_default()
            .entry(pair)
            .or_default()
            .insert(tp);
    }

    fn record_move(&mut self, tp: Tp, from: usize, to: usize) {
        match self.remove_record(tp) {
            Some((src, _)) => {
                if src != to {
                    self.add_record(tp, (src, to));
                }
            }
            None => self.add_record(tp, (from, to)),
        }
    }

    /// The partition to actually move when `tp` should go from `from` to `to`: one that
    /// earlier moved the opposite way, if any, so the two movements cancel out.
    fn actual_to_move(&self, tp: Tp, from: usize, to: usize) -> Tp {
        let Some(topic) = self.by_topic.get(&tp.0) else {
            return tp;
        };
        let from = self.moved.get(&tp).map_or(from, |(src, _)| *src);
        topic
            .get(&(to, from))
            .and_then(|set| set.iter().next().copied())
            .unwrap_or(tp)
    }
}

/// Java's `GeneralAssignmentBuilder`: members subscribe to different topics.
struct General<'a> {
    counts: &'a [i32],
    /// Topic -> members subscribed to it (sorted).
    topic_members: Vec<Vec<usize>>,
    /// Member -> subscribed topics (sorted).
    member_topics: Vec<Vec<usize>>,
    /// Member -> partitions; `None` while the member is set aside as fixed.
    current: Vec<Option<Vec<Tp>>>,
    owner: HashMap<Tp, usize>,
    /// The balancing members by (partition count, member).
    sorted: BTreeSet<(usize, usize)>,
    prev: HashMap<Tp, (usize, i32)>,
    movements: Movements,
    revocation_required: bool,
}

impl<'a> General<'a> {
    fn new(
        counts: &'a [i32],
        member_topics: Vec<Vec<usize>>,
        owned: Vec<Vec<Tp>>,
        prev: HashMap<Tp, (usize, i32)>,
    ) -> Self {
        let mut topic_members = vec![Vec::new(); counts.len()];
        for (m, topics) in member_topics.iter().enumerate() {
            for &t in topics {
                topic_members[t].push(m);
            }
        }
        let mut revocation_required = false;
        let mut owner = HashMap::new();
        let mut current = Vec::with_capacity(owned.len());
        for (m, tps) in owned.into_iter().enumerate() {
            let mut keep = Vec::new();
            for tp in tps {
                if member_topics[m].binary_search(&tp.0).is_ok() {
                    owner.insert(tp, m);
                    keep.push(tp);
                } else {
                    revocation_required = true;
                }
            }
            current.push(Some(keep));
        }
        General {
            counts,
            topic_members,
            member_topics,
            current,
            owner,
            sorted: BTreeSet::new(),
            prev,
            movements: Movements::default(),
            revocation_required,
        }
    }

    fn len(&self, m: usize) -> Option<usize> {
        self.current.get(m).and_then(|c| c.as_ref()).map(Vec::len)
    }

    fn max_size(&self, m: usize) -> usize {
        self.member_topics[m]
            .iter()
            .map(|&t| self.counts[t].max(0) as usize)
            .sum()
    }

    fn give(&mut self, m: usize, tp: Tp) {
        if let Some(Some(list)) = self.current.get_mut(m) {
            self.sorted.remove(&(list.len(), m));
            list.push(tp);
            self.sorted.insert((list.len(), m));
            self.owner.insert(tp, m);
        }
    }

    fn take(&mut self, m: usize, tp: Tp) {
        if let Some(Some(list)) = self.current.get_mut(m) {
            self.sorted.remove(&(list.len(), m));
            list.retain(|x| *x != tp);
            self.sorted.insert((list.len(), m));
        }
    }

    fn build(mut self) -> Vec<Vec<Tp>> {
        let n = self.current.len();
        if n == 0 {
            return Vec::new();
        }
        // Partitions ordered by topics with the fewest subscribers first, then by name.
        let mut topic_order: Vec<usize> = (0..self.counts.len()).collect();
        topic_order.sort_by_key(|&t| (self.topic_members[t].len(), t));
        let all: Vec<Tp> = topic_order
            .iter()
            .flat_map(|&t| (0..self.counts[t].max(0)).map(move |p| (t, p)))
            .collect();
        let unassigned: Vec<Tp> = all
            .iter()
            .copied()
            .filter(|tp| !self.owner.contains_key(tp))
            .collect();
        for m in 0..n {
            if let Some(len) = self.len(m) {
                self.sorted.insert((len, m));
            }
        }
        let initializing = self.sorted.iter().next_back().is_none_or(|(l, _)| *l == 0);

        for &tp in &unassigned {
            let target = self
                .sorted
                .iter()
                .find(|(_, m)| self.member_topics[*m].binary_search(&tp.0).is_ok())
                .map(|(_, m)| *m);
            if let Some(m) = target {
                self.give(m, tp);
            }
        }

        // Only topics with two or more subscribers can move.
        let movable = |tp: &Tp| self.topic_members[tp.0].len() >= 2;
        let reassignable: Vec<Tp> = all.iter().copied().filter(movable).collect();
        let unassigned: Vec<Tp> = unassigned.into_iter().filter(movable).collect();
        // Members that cannot gain or lose anything are set aside.
        let mut fixed = Vec::new();
        for m in 0..n {
            if !self.can_participate(m) {
                if let Some(len) = self.len(m) {
                    self.sorted.remove(&(len, m));
                }
                fixed.push((m, self.current[m].take()));
            }
        }

        let before = self.current.clone();
        let before_owner = self.owner.clone();
        if !self.revocation_required {
            self.perform_reassignments(&unassigned);
        }
        let performed = self.perform_reassignments(&reassignable);
        if !initializing && performed && balance_score(&self.current) >= balance_score(&before) {
            self.current = before;
            self.owner = before_owner;
        }
        for (m, list) in fixed {
            self.current[m] = list;
        }
        self.current
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }

    fn can_participate(&self, m: usize) -> bool {
        let Some(list) = self.current[m].as_ref() else {
            return false;
        };
        list.len() < self.max_size(m) || list.iter().any(|tp| self.topic_members[tp.0].len() >= 2)
    }

    fn is_balanced(&self) -> bool {
        let (Some((min, _)), Some((max, _))) = (self.sorted.first(), self.sorted.last()) else {
            return true;
        };
        if *min + 1 >= *max {
            return true;
        }
        for &(len, m) in &self.sorted {
            if len == self.max_size(m) {
                continue;
            }
            for &t in &self.member_topics[m] {
                for p in 0..self.counts[t].max(0) {
                    if let Some(&o) = self.owner.get(&(t, p)) {
                        // A partition of another member with two or more partitions more.
                        if o != m && self.len(o).is_some_and(|ol| len + 1 < ol) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    fn perform_reassignments(&mut self, partitions: &[Tp]) -> bool {
        let mut performed = false;
        // Java loops until nothing moves; bound it so odd inputs cannot spin forever.
        let mut rounds = partitions.len() * self.current.len() + 8;
        loop {
            let mut modified = false;
            for &tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(&m) = self.owner.get(&tp) else {
                    continue;
                };
                let Some(len) = self.len(m) else {
                    continue;
                };
                if let Some(&(prev, _)) = self.prev.get(&tp) {
                    let eligible =
                        prev != m && self.member_topics[prev].binary_search(&tp.0).is_ok();
                    if eligible && self.len(prev).is_some_and(|pl| len > pl + 1) {
                        self.reassign(tp, prev);
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                let better = self.topic_members[tp.0]
                    .iter()
                    .any(|&o| self.len(o).is_some_and(|ol| len > ol + 1));
                if better {
                    let target = self
                        .sorted
                        .iter()
                        .find(|(_, o)| self.member_topics[*o].binary_search(&tp.0).is_ok())
                        .map(|(_, o)| *o);
                    if let Some(to) = target {
                        self.reassign(tp, to);
                        performed = true;
                        modified = true;
                    }
                }
            }
            rounds = rounds.saturating_sub(1);
            if !modified || rounds == 0 {
                return performed;
            }
        }
    }

    fn reassign(&mut self, tp: Tp, to: usize) {
        let Some(&from) = self.owner.get(&tp) else {
            return;
        };
        let actual = self.movements.actual_to_move(tp, from, to);
        let Some(&old) = self.owner.get(&actual) else {
            return;
        };
        if old == to {
            return;
        }
        self.movements.record_move(actual, old, to);
        self.take(old, actual);
        self.give(to, actual);
    }
}

/// Sum over all member pairs of the difference of their partition counts (0: perfectly
/// even).
fn balance_score(current: &[Option<Vec<Tp>>]) -> usize {
    let sizes: Vec<usize> = current.iter().flatten().map(Vec::len).collect();
    let mut score = 0;
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i + 1..] {
            score += a.abs_diff(*b);
        }
    }
    score
}

/// Java's eager `StickyAssignor` (`sticky`): a balanced assignment that keeps as many
/// previously owned partitions as possible. Previous ownership comes from the
/// `StickyAssignorUserData` in each subscription's user data, as in Java (eager members
/// send no owned partitions); a member without user data is taken at its
/// `owned_partitions` and `generation`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StickyAssignor;

impl StickyAssignor {
    fn member_data(sub: &Subscription) -> MemberData {
        match &sub.user_data {
            Some(data) if !data.is_empty() => decode_sticky_user_data(data),
            _ => MemberData {
                partitions: sub.owned_partitions.clone(),
                generation: sub.generation,
            },
        }
    }
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &'static str {
        "sticky"
    }

    /// `StickyAssignorUserData` V1 (previous assignment and generation), as Java writes it;
    /// none before the first assignment.
    fn subscription_user_data(&self, owned: &[(String, i32)], generation: i32) -> Option<Bytes> {
        if owned.is_empty() && generation < 0 {
            return None;
        }
        Some(encode_sticky_user_data(owned, generation))
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
        sticky_assign(&input, partition_counts).into_assignment()
    }
}
