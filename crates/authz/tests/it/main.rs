//! The crate's one integration-test binary; one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;
mod conditions;
mod decisions;
mod errors;
mod isolation;
mod queries;
mod reference;
