//! The traits the generated types implement, and [`VersionRange`].
//!
//! Owns: the shape of the codec API (`decode`, `encode`, `encoded_len` per version) and the
//! request/response pairing. Must not: hold any message-specific code (that is generated).

use bytes::{Buf, BufMut};

use crate::error::Result;
use crate::generated::ApiKey;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive.
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` is in the range.
    #[inline]
    pub fn contains(&self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// The versions of the range, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = i16> {
        self.min..=self.max
    }

    /// The overlap of two ranges, if any.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let r = VersionRange {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        };
        (r.min <= r.max).then_some(r)
    }
}

/// A wire message or nested struct: its spec name and versions. Its codec is in [`Decode`]
/// and [`Encode`].
///
/// Which of the two a generated type implements depends on the crate features: headers and
/// data schemas always implement both; requests implement [`Encode`] with feature `client`
/// and [`Decode`] with feature `broker`, responses the reverse.
pub trait Message: Sized + Default {
    /// The spec name of the type (`ProduceRequest`, `TopicProduceData`, ...).
    const NAME: &'static str;
    /// The versions of the message the type belongs to.
    const VERSIONS: VersionRange;
}

/// Decoding of a [`Message`] from any of its versions.
///
/// Decoding from [`bytes::Bytes`] makes strings, bytes and records zero-copy slices of the
/// input. Decoding never panics and never allocates more than the input justifies.
pub trait Decode: Message {
    /// Decodes a value of `version` from `buf`.
    fn decode<B: Buf>(buf: &mut B, version: i16) -> Result<Self>;
}

/// Encoding of a [`Message`] to any of its versions.
///
/// Encoding fails (rather than silently dropping data) when a field absent in the target
/// version holds a non-default value and the spec does not mark it ignorable.
pub trait Encode: Message {
    /// Encodes the value as `version` into `buf`.
    fn encode<B: BufMut>(&self, buf: &mut B, version: i16) -> Result<()>;

    /// The number of bytes [`Encode::encode`] writes for `version`.
    fn encoded_len(&self, version: i16) -> usize;
}

/// A request body: knows its API and its response type.
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The response body type.
    type Response: Response;
}

/// A response body: knows its API and its request type.
pub trait Response: Message {
    /// The API this response belongs to.
    const API_KEY: ApiKey;
    /// The request body type.
    type Request: Message;
}

/// A request a client can send: it encodes, and its response decodes. With feature `client`
/// every generated request is one.
pub trait ClientRequest: Request<Response: Decode> + Encode {}

impl<T: Request<Response: Decode> + Encode> ClientRequest for T {}
