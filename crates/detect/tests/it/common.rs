//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared reference data folder, or `None` (after saying why) when it is
/// absent and not required.
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("RAMPART_REQUIRE_SHARED_DATA").as_deref() != Ok("1"),
        "RAMPART_REQUIRE_SHARED_DATA=1 but {} is missing",
        dir.display()
    );
    eprintln!("skipping: shared data folder {} is absent", dir.display());
    None
}
