//! Router tests: requests go through the real router with `oneshot`, on a temporary SQLite
//! store, and every bad input must answer a 4xx problem and change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod access_reviews;
mod assets;
mod audit;
mod authenticator;
mod authorization;
mod bad_input;
mod builtin_rules;
mod compliance;
mod compliance_evidence;
mod detection;
mod events;
mod guests;
mod harness;
mod identity;
mod incidents;
mod information_protection;
mod notifications;
mod organizations;
mod passkeys;
mod password_age;
mod principals;
mod privacy;
mod provider_checks;
mod rules_directory;
mod syslog;
mod vulnerabilities;
