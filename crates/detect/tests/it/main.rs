//! Integration tests of the detection crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod builtin_rules;
mod common;
mod conformance;
mod engine;
mod geoip;
