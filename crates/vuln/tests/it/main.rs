//! Integration tests of the `vuln` crate: conformance suites over the public reference data,
//! format fixtures, and agreement with `cargo audit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod advisories;
mod cargo_audit;
mod common;
mod purl_conformance;
mod pypa;
mod sbom;
