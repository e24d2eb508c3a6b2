//! Integration tests of the privacy crate through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod mask_dump;
mod mask_properties;
