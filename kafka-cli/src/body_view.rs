//! Views of request and response bodies: the message inside, as `Debug` or as JSON.
//!
//! Owns: printing the message inside a [`RequestBody`] or [`ResponseBody`] without the API
//! tag. The JSON comes from kafka-protocol's `serde` feature (the body enums serialize
//! untagged, as the message inside), kept as [`RawValue`] so that fields stay in spec order.
//! Shared by every subcommand that prints bodies.

use std::fmt::Debug;

use krafty_protocol::generated::{RequestBody, ResponseBody};
use serde_json::value::{to_raw_value, RawValue};

/// The message inside a request body, for `{:#?}` printing.
pub fn request_debug(body: &RequestBody) -> &dyn Debug {
    body.message_debug()
}

/// The message inside a response body, for `{:#?}` printing.
pub fn response_debug(body: &ResponseBody) -> &dyn Debug {
    body.message_debug()
}

/// The message inside a request body as JSON: its fields in spec order, without the API tag.
pub fn request_json(body: &RequestBody) -> serde_json::Result<Box<RawValue>> {
    to_raw_value(body)
}

/// The message inside a response body as JSON: its fields in spec order, without the API tag.
pub fn response_json(body: &ResponseBody) -> serde_json::Result<Box<RawValue>> {
    to_raw_value(body)
}
