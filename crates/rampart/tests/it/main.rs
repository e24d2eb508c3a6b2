//! End-to-end tests: the real `rampart` binary, on a temporary data directory (and on a fresh
//! PostgreSQL database when `RAMPART_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod audit;
mod backup;
mod cli;
mod crash;
mod identity;
mod notifications;
mod offline_tools;
mod server;
mod testkit;
