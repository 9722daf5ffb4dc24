//! The consumer's group metadata a transactional producer sends with its offsets (KIP-447):
//! the coordinator fences a commit from a member that is no longer in the group.
//!
//! Owns: [`ConsumerGroupMetadata`]. Must not: do I/O.

/// Group id, generation, member id and static instance id of a consumer, as Java's
/// `ConsumerGroupMetadata`; pass it to
/// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation of the group the member last joined (-1: none).
    pub generation_id: i32,
    /// The member id the coordinator gave (empty: none).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata of a consumer outside any generation: the coordinator then checks only
    /// the group id (Java's `new ConsumerGroupMetadata(groupId)`).
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
