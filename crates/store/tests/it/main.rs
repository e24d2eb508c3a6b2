#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]
mod access_reviews;
mod assets;
mod authorization;
mod backends;
mod compliance;
mod compliance_evidence;
mod conformance;
mod detection;
mod events;
mod guests;
mod identity;
mod incidents;
mod information_protection;
mod notifications;
mod passkeys;
mod pseudonyms;
mod vulnerabilities;
