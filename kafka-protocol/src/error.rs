//! The codec's one error type.
//!
//! Owns: [`ErrorKind`] (what went wrong) and [`Error`] (what went wrong plus where: the
//! message, the field and the version being decoded or encoded). Every fallible function of
//! the crate returns [`Result`]. Errors are boxed so that `Result<i32>` stays two words wide
//! on the hot decode path.

use std::fmt;

/// What went wrong while decoding or encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before a value was complete.
    Truncated {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or count prefix is negative (other than the `-1` null marker where allowed).
    NegativeLength(i64),
    /// A length or count prefix is larger than the bytes left in the input.
    LengthExceedsInput {
        /// The declared length or element count.
        length: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A null was read or written where the field is not nullable in this version.
    UnexpectedNull,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A variable-length integer is longer than its type allows.
    VarintTooLong,
    /// A value does not fit the wire type (e.g. a string longer than 32767 bytes).
    ValueTooLarge(u64),
    /// The message does not exist at this version.
    UnsupportedVersion,
    /// Encoding: a field absent in the target version holds a non-default value and is not
    /// ignorable, so encoding it would silently lose information.
    NonIgnorableField,
    /// The api key is not one this codec knows.
    UnknownApiKey(i16),
    /// A frame's size prefix is negative or above the configured limit.
    FrameTooLarge {
        /// Size the frame declared.
        size: i64,
        /// The limit in force.
        max: usize,
    },
    /// Bytes were left over after a complete frame or tagged field was decoded.
    TrailingBytes(usize),
    /// A checksum (CRC-32C of a v2 batch, CRC-32 of a legacy message) did not match.
    CrcMismatch {
        /// The checksum stored in the input.
        stored: u32,
        /// The checksum computed over the input.
        computed: u32,
    },
    /// A record batch or message set is malformed; the text says how.
    InvalidRecords(&'static str),
    /// A compression codec id this crate does not know.
    UnknownCompression(u8),
    /// Compressed data could not be decompressed or compressed.
    Compression(String),
    /// The codec (`gzip`, `snappy`, `lz4`, `zstd`) was left out of this build: the crate
    /// feature of the same name is off.
    CompressionDisabled(&'static str),
    /// Decompressed data would exceed the configured limit (a compression bomb).
    DecompressedTooLarge {
        /// The limit in force.
        limit: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    message: &'static str,
    field: &'static str,
    version: i16,
}

/// A codec error: an [`ErrorKind`] with the message, field and version where it happened.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Inner>);

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error without context; [`Error::context`] adds it as the error travels up.
    #[cold]
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            message: "",
            field: "",
            version: -1,
        }))
    }

    /// Records the message, field and version where this error happened. The innermost
    /// context wins: an error that already names a field keeps it.
    #[cold]
    #[must_use]
    pub fn context(mut self, message: &'static str, field: &'static str, version: i16) -> Self {
        if self.0.message.is_empty() {
            self.0.message = message;
            self.0.field = field;
            self.0.version = version;
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The message (struct) being decoded or encoded, or `""` when unknown.
    pub fn message(&self) -> &'static str {
        self.0.message
    }

    /// The field being decoded or encoded, or `""` when unknown.
    pub fn field(&self) -> &'static str {
        self.0.field
    }

    /// The message version, or `-1` when unknown.
    pub fn version(&self) -> i16 {
        self.0.version
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, remaining } => {
                write!(
                    f,
                    "input truncated: needed {needed} bytes, {remaining} left"
                )
            }
            ErrorKind::NegativeLength(n) => write!(f, "negative length {n}"),
            ErrorKind::LengthExceedsInput { length, remaining } => {
                write!(f, "length {length} exceeds the {remaining} bytes left")
            }
            ErrorKind::UnexpectedNull => write!(f, "null where the field is not nullable"),
            ErrorKind::InvalidUtf8 => write!(f, "string is not valid UTF-8"),
            ErrorKind::VarintTooLong => write!(f, "varint too long"),
            ErrorKind::ValueTooLarge(n) => write!(f, "value {n} too large for its wire type"),
            ErrorKind::UnsupportedVersion => write!(f, "unsupported version"),
            ErrorKind::NonIgnorableField => write!(
                f,
                "field is not in this version, holds a non-default value and is not ignorable"
            ),
            ErrorKind::UnknownApiKey(k) => write!(f, "unknown api key {k}"),
            ErrorKind::FrameTooLarge { size, max } => {
                write!(f, "frame size {size} outside 0..={max}")
            }
            ErrorKind::TrailingBytes(n) => write!(f, "{n} trailing bytes after the value"),
            ErrorKind::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "crc mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            ErrorKind::InvalidRecords(why) => write!(f, "invalid records: {why}"),
            ErrorKind::UnknownCompression(c) => write!(f, "unknown compression codec {c}"),
            ErrorKind::Compression(why) => write!(f, "compression: {why}"),
            ErrorKind::CompressionDisabled(codec) => write!(
                f,
                "compression codec {codec} is not built in (enable the crate feature `{codec}`)"
            ),
            ErrorKind::DecompressedTooLarge { limit } => {
                write!(f, "decompressed data exceeds the {limit}-byte limit")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message.is_empty() {
            write!(f, "{}", self.0.kind)
        } else {
            write!(
                f,
                "{}.{} (v{}): {}",
                self.0.message, self.0.field, self.0.version, self.0.kind
            )
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({self})")
    }
}

impl std::error::Error for Error {}
