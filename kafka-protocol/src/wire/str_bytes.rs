//! [`StrBytes`]: an immutable UTF-8 string backed by [`Bytes`], so decoded strings share the
//! input buffer instead of being copied.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};

/// An immutable, cheaply clonable UTF-8 string stored in [`Bytes`].
///
/// Decoding a string field from a `Bytes` input slices the input instead of copying it.
/// Dereferences to `&str`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StrBytes(Bytes);

impl StrBytes {
    /// Wraps bytes that must be valid UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(StrBytes(bytes)),
            Err(_) => Err(Error::new(ErrorKind::InvalidUtf8)),
        }
    }

    /// Wraps bytes the caller has already checked to be UTF-8 (the record decoder checks
    /// header keys on the slice it parses). Were they not, [`as_str`](Self::as_str) would
    /// give an empty string, never undefined behaviour.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        StrBytes(bytes)
    }

    /// A string from a `&'static str`, without copying.
    pub const fn from_static_str(s: &'static str) -> Self {
        StrBytes(Bytes::from_static(s.as_bytes()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // Safe-code fallback: every constructor validated UTF-8, so this never fails;
        // an empty string is returned rather than panicking if that invariant were broken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Consumes the string, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for StrBytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for StrBytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for StrBytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for StrBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<&'static str> for StrBytes {
    fn from(s: &'static str) -> Self {
        StrBytes::from_static_str(s)
    }
}

impl From<String> for StrBytes {
    fn from(s: String) -> Self {
        StrBytes(Bytes::from(s))
    }
}

impl From<&String> for StrBytes {
    fn from(s: &String) -> Self {
        StrBytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for StrBytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for StrBytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for StrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for StrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for StrBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
