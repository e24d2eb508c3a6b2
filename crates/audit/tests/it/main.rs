//! The crate's one integration-test binary; one module per feature.

// Test helpers outside #[test] functions fail loudly on broken fixtures;
// clippy's in-test allowances only cover the test functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compact;
mod entry;
mod export;
mod merkle_plans;
mod merkle_vectors;
mod note;
mod support;
mod tamper;
