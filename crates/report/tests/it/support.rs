//! Shared helpers: where the shared reference material lives, and the skip-or-fail rule.

use std::path::PathBuf;

/// The project's shared folder, beside the repository.
pub fn shared_folder() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
}

/// Reads a file of the shared folder. `None` (after printing why) when it is absent, unless
/// `RAMPART_REQUIRE_SHARED_DATA=1`, in which case its absence fails the test.
pub fn read_shared(relative: &str) -> Option<Vec<u8>> {
    let path = shared_folder().join(relative);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            if std::env::var("RAMPART_REQUIRE_SHARED_DATA").as_deref() == Ok("1") {
                panic!("{} is required (RAMPART_REQUIRE_SHARED_DATA=1): {error}", path.display());
            }
            eprintln!("skipped: {} is not readable ({error})", path.display());
            None
        }
    }
}

/// Whether an external program is on the PATH; when it is not, prints why the caller skips,
/// or fails when `RAMPART_REQUIRE_TOOLS=1`.
pub fn tool_available(program: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|folder| folder.join(program).is_file())
    });
    if !found {
        if std::env::var("RAMPART_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{program} is required (RAMPART_REQUIRE_TOOLS=1) but is not on the PATH");
        }
        eprintln!("skipped: {program} is not on the PATH (Debian package poppler-utils)");
    }
    found
}
