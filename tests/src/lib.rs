//! Cross-crate integration tests live in `tests/tests/`.
//!
//! The README's Rust code blocks are compiled (and, unless marked `no_run`, run) as doc tests
//! of this crate, so they cannot drift from the code.

/// The README, whose Rust blocks are this crate's doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
