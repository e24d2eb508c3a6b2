//! Integration tests of the report crate: one binary, one module per public module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod annex_reference;
mod evidence;
mod iso27001;
mod public;
mod render;
mod support;
