//! The crate's one integration-test binary; one module per feature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod password;
mod recovery;
mod session;
mod support;
mod throttle;
mod totp;
