//! Shared fixtures.

use rand::{SeedableRng, rngs::StdRng};
use time::OffsetDateTime;
use time::macros::datetime;

/// A seeded CSPRNG, so failures reproduce.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub const T0: OffsetDateTime = datetime!(2026-03-01 09:00:00 UTC);
