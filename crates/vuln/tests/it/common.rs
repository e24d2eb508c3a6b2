//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::sync::OnceLock;

use vuln::advisory::{AdvisoryDatabase, LoadReport};

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

/// A database loaded from a shared-data folder, once per test run, with its load report.
fn load_once(
    cell: &'static OnceLock<Option<(AdvisoryDatabase, LoadReport)>>,
    sub: &str,
) -> Option<&'static (AdvisoryDatabase, LoadReport)> {
    cell.get_or_init(|| {
        let root = shared_data(sub)?;
        let mut db = AdvisoryDatabase::new();
        let report = db.load_path(&root);
        Some((db, report))
    })
    .as_ref()
}

/// The PyPA advisory database (`pypa-osv/vulns`).
pub fn pypa() -> Option<&'static (AdvisoryDatabase, LoadReport)> {
    static CELL: OnceLock<Option<(AdvisoryDatabase, LoadReport)>> = OnceLock::new();
    load_once(&CELL, "pypa-osv/vulns")
}

/// The RustSec advisory database (`rustsec`).
pub fn rustsec() -> Option<&'static (AdvisoryDatabase, LoadReport)> {
    static CELL: OnceLock<Option<(AdvisoryDatabase, LoadReport)>> = OnceLock::new();
    load_once(&CELL, "rustsec")
}
/// Whether an external tool is on PATH; when it is not, prints why the test is skipped, or
/// fails when `RAMPART_REQUIRE_TOOLS=1`.
pub fn tool_available(program: &str, probe_args: &[&str]) -> bool {
    let found = std::process::Command::new(program)
        .args(probe_args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("RAMPART_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("`{program}` is not available and RAMPART_REQUIRE_TOOLS=1");
        }
        println!("skipped: `{program}` is not on PATH");
    }
    found
}
