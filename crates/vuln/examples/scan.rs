//! `cargo run --release -p vuln --example scan -- ADVISORY_DIR FILE`: load advisories from a
//! directory (OSV JSON/YAML, RustSec, zip bundles), scan one SBOM or lockfile, print the table.
//! Exits 1 when a vulnerability is found, 2 on a usage or input error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [advisories, file] = args.as_slice() else {
        eprintln!("usage: scan ADVISORY_DIR FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    // Read only the advisories of the packages in the file (package-per-directory layouts).
    let names = match vuln::sbom::detect_and_parse(file, &bytes) {
        Ok(inventory) => inventory.components.into_iter().map(|c| c.name).collect(),
        Err(_) => Vec::new(),
    };
    let mut db = vuln::AdvisoryDatabase::new();
    let load = db
        .load_path_for_packages(std::path::Path::new(advisories), names.iter().map(String::as_str));
    for error in &load.errors {
        eprintln!("advisory not loaded: {}: {}", error.origin, error.message);
    }
    let outcome = vuln::scan(file, &bytes, &db);
    if let Some(error) = &outcome.input_error {
        eprintln!("{error}");
        return ExitCode::from(2);
    }
    print!("{}", vuln::report::render_table(&outcome.findings));
    if outcome.findings.iter().any(|f| !f.is_informational()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
