//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The public reference data folder, or `None` (with the reason printed) when it is absent.
/// With `RAMPART_REQUIRE_SHARED_DATA=1` an absent folder fails the test instead.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    let path = root.join(sub);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RAMPART_REQUIRE_SHARED_DATA").as_deref() == Ok("1") {
        panic!("{} is missing and RAMPART_REQUIRE_SHARED_DATA=1", path.display());
    }
    println!("skipped: shared data {} is absent", path.display());
    None
}
