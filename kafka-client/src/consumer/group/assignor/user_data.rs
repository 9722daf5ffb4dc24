//! The assignor-specific `user_data` of the sticky assignors, in the old Kafka `Struct`
//! format the Java client uses (big-endian, `int16`-length strings, `int32`-length arrays).
//!
//! Owns: `StickyAssignorUserData` (eager `sticky`: the member's previous assignment and
//! generation, since its eager owned-partitions list is always empty) and the
//! `cooperative-sticky` generation word. Must not: compute assignments.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// What a member said it owned before this rebalance, and in which generation (-1: unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberData {
    /// The previously owned partitions.
    pub(crate) partitions: Vec<(String, i32)>,
    /// The generation they were owned in; -1 (Java's `DEFAULT_GENERATION`) when unknown.
    pub(crate) generation: i32,
}

/// Java's `StickyAssignor` user data, schema V1:
/// `previous_assignment: [ { topic: string, partitions: [int32] } ], generation: int32`.
/// Topics are written sorted, partitions in the order given.
pub(crate) fn encode_sticky_user_data(owned: &[(String, i32)], generation: i32) -> Bytes {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in owned {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let mut out = BytesMut::new();
    put_len(&mut out, by_topic.len());
    for (topic, parts) in &by_topic {
        let name = topic.as_bytes();
        // Topic names are at most 249 bytes; a longer one is cut rather than mis-framed.
        let len = name.len().min(i16::MAX as usize);
        out.put_i16(len as i16);
        out.put_slice(&name[..len]);
        put_len(&mut out, parts.len());
        for p in parts {
            out.put_i32(*p);
        }
    }
    out.put_i32(generation);
    out.freeze()
}

fn put_len(out: &mut BytesMut, len: usize) {
    out.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
}

/// Reads Java's `StickyAssignor` user data as Java does: schema V1 (with generation), else
/// V0 (without: generation -1), else nothing owned in generation -1.
pub(crate) fn decode_sticky_user_data(data: &[u8]) -> MemberData {
    let mut buf = data;
    if let Some(partitions) = read_previous_assignment(&mut buf) {
        if buf.remaining() >= 4 {
            return MemberData {
                partitions,
                generation: buf.get_i32(),
            };
        }
        // V0: no generation field.
        return MemberData {
            partitions,
            generation: -1,
        };
    }
    MemberData {
        partitions: Vec::new(),
        generation: -1,
    }
}

fn read_previous_assignment(buf: &mut &[u8]) -> Option<Vec<(String, i32)>> {
    let topics = read_len(buf)?;
    let mut out = Vec::new();
    for _ in 0..topics {
        if buf.remaining() < 2 {
            return None;
        }
        let len = usize::try_from(buf.get_i16()).ok()?;
        if buf.remaining() < len {
            return None;
        }
        let topic = std::str::from_utf8(&buf[..len]).ok()?.to_string();
        buf.advance(len);
        let count = read_len(buf)?;
        if buf.remaining() < count.checked_mul(4)? {
            return None;
        }
        for _ in 0..count {
            out.push((topic.clone(), buf.get_i32()));
        }
    }
    Some(out)
}

/// A non-negative `int32` array length.
fn read_len(buf: &mut &[u8]) -> Option<usize> {
    if buf.remaining() < 4 {
        return None;
    }
    usize::try_from(buf.get_i32()).ok()
}

/// Java's `CooperativeStickyAssignor` user data: the member's generation as one `int32`
/// (read only from subscriptions older than version 2, which lack `generation_id`).
pub(crate) fn encode_cooperative_user_data(generation: i32) -> Bytes {
    Bytes::copy_from_slice(&generation.to_be_bytes())
}

/// The generation in `CooperativeStickyAssignor` user data; unreadable data is generation
/// -1, as in Java.
pub(crate) fn decode_cooperative_user_data(data: &[u8]) -> i32 {
    let mut buf = data;
    if buf.remaining() >= 4 {
        buf.get_i32()
    } else {
        -1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_user_data_matches_java_bytes() {
        let owned = vec![
            ("t".to_string(), 2),
            ("s".to_string(), 0),
            ("t".to_string(), 0),
        ];
        let bytes = encode_sticky_user_data(&owned, 5);
        // StickyAssignor.serializeTopicPartitionAssignment (schema V1) of the same data.
        let expected: &[u8] = &[
            0, 0, 0, 2, // two topics
            0, 1, b's', 0, 0, 0, 1, 0, 0, 0, 0, // s: [0]
            0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, // t: [2, 0]
            0, 0, 0, 5, // generation
        ];
        assert_eq!(&bytes[..], expected);
        let back = decode_sticky_user_data(&bytes);
        assert_eq!(back.generation, 5);
        assert_eq!(
            back.partitions,
            vec![("s".into(), 0), ("t".into(), 2), ("t".into(), 0)]
        );
        // V0 (no generation).
        let v0 = &expected[..expected.len() - 4];
        let back = decode_sticky_user_data(v0);
        assert_eq!(back.generation, -1);
        assert_eq!(back.partitions.len(), 3);
        // Garbage: nothing owned.
        for bad in [
            &[0u8, 0, 0][..],
            &[0, 0, 0, 9, 0, 1],
            &[0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(
                decode_sticky_user_data(bad),
                MemberData {
                    partitions: vec![],
                    generation: -1
                }
            );
        }
        // Huge declared lengths do not allocate or panic.
        assert!(
            decode_sticky_user_data(&[0, 0, 0, 1, 0, 1, b'x', 0x7f, 0xff, 0xff, 0xff])
                .partitions
                .is_empty()
        );
    }

    #[test]
    fn cooperative_user_data() {
        assert_eq!(&encode_cooperative_user_data(3)[..], &[0, 0, 0, 3]);
        assert_eq!(decode_cooperative_user_data(&[0, 0, 0, 3]), 3);
        assert_eq!(decode_cooperative_user_data(&[0, 0]), -1);
    }
}
