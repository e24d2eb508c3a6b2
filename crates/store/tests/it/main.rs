#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]
mod access_reviews;
mod assets;
mod authorization;
mod backends;
mod compliance;
mod conformance;
mod detection;
mod events;
mod identity;
mod pseudonyms;
mod vulnerabilities;
