//! Loading advisories: the whole RustSec and PyPA databases, zip bundles, per-file errors.

use std::io::Write;

use vuln::Ecosystem;
use vuln::advisory::AdvisoryDatabase;

use crate::common;

#[test]
fn rustsec_database_loads_without_errors() {
    let Some(root) = common::shared_data("rustsec") else { return };
    let (db, report) = common::rustsec().unwrap();
    let files = count_files(&root.join("crates"), "RUSTSEC-", ".md");
    let withdrawn_files = count_matching(&root.join("crates"), "\nwithdrawn = ");
    println!(
        "rustsec: {} loaded, {} withdrawn, {} toolchain skipped",
        report.loaded, report.withdrawn, report.toolchain_skipped
    );
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.loaded + report.withdrawn + report.duplicates, files);
    assert_eq!(report.withdrawn, withdrawn_files);
    let hyper = db.get("RUSTSEC-2016-0002").unwrap();
    assert_eq!(hyper.aliases, ["CVE-2016-10932", "GHSA-9xjr-m6f3-v5wm"]);
    assert_eq!(hyper.summary, "HTTPS MitM vulnerability due to lack of hostname verification");
    assert!(db.candidates(&Ecosystem::CratesIo, "hyper").any(|(a, _)| a.id == "RUSTSEC-2016-0002"));
}

/// Loading only the package directories an inventory names finds exactly what the full
/// database finds, from a fraction of the files.
#[test]
fn selective_load_finds_the_same_as_the_full_load() {
    let Some(root) = common::shared_data("rustsec") else { return };
    let (full, _) = common::rustsec().unwrap();
    let lockfile = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cargo-audit/old-web.Cargo.lock"
    ))
    .unwrap();
    let inventory = vuln::sbom::parse_cargo_lock(&lockfile).unwrap();
    let mut selective = AdvisoryDatabase::new();
    let report = selective
        .load_path_for_packages(&root, inventory.components.iter().map(|c| c.name.as_str()));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(selective.len() * 10 < full.len(), "{} of {}", selective.len(), full.len());
    let ids = |db: &AdvisoryDatabase| {
        let mut ids: Vec<String> =
            vuln::scan("Cargo.lock", &lockfile, db).findings.into_iter().map(|f| f.id).collect();
        ids.sort();
        ids
    };
    let found = ids(&selective);
    assert!(found.len() > 20, "{found:?}");
    assert_eq!(found, ids(full));
}

#[test]
fn pypa_database_loads_and_counts_git_ranges() {
    let Some(root) = common::shared_data("pypa-osv/vulns") else { return };
    let (db, report) = common::pypa().unwrap();
    let files = count_files(&root, "PYSEC-", ".yaml");
    println!(
        "pypa: {} loaded, {} withdrawn, unsupported ranges {:?}",
        report.loaded, report.withdrawn, report.unsupported_ranges
    );
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.loaded + report.withdrawn + report.duplicates, files);
    let git = report.unsupported_ranges.iter().find(|(k, _)| k == "GIT").map_or(0, |(_, n)| *n);
    assert!(git > 1000, "{git}");
    // PEP 503: the index finds `Django_Filer` under `django-filer`.
    assert_eq!(
        db.candidates(&Ecosystem::PyPi, "Django_Filer").count(),
        db.candidates(&Ecosystem::PyPi, "django-filer").count()
    );
}

#[test]
fn zip_bundles_and_per_file_errors() {
    let record = |id: &str| {
        format!(
            r#"{{"id": "{id}", "modified": "2024-01-01T00:00:00Z", "affected": [{{"package": {{"ecosystem": "npm", "name": "left-pad"}},
            "ranges": [{{"type": "SEMVER", "events": [{{"introduced": "0"}}, {{"fixed": "1.3.0"}}]}}]}}]}}"#
        )
    };
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("GHSA-0001.json", options).unwrap();
        zip.write_all(record("GHSA-0001").as_bytes()).unwrap();
        zip.start_file("GHSA-0002.json", options).unwrap();
        zip.write_all(b"{\"id\": ").unwrap();
        zip.start_file("README.txt", options).unwrap();
        zip.write_all(b"ignored").unwrap();
        zip.finish().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all.zip"), buffer.into_inner()).unwrap();
    std::fs::write(dir.path().join("GHSA-0003.json"), record("GHSA-0003")).unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "id: [unclosed").unwrap();
    let mut db = AdvisoryDatabase::new();
    let report = db.load_path(dir.path());
    assert_eq!(report.loaded, 2);
    assert_eq!(report.errors.len(), 2, "{:#?}", report.errors);
    assert!(report.errors.iter().any(|e| e.origin.ends_with("all.zip!GHSA-0002.json")));
    assert!(report.errors.iter().any(|e| e.origin.ends_with("broken.yaml")));
    assert_eq!(db.candidates(&Ecosystem::Npm, "left-pad").count(), 2);
    let lock = br#"{"lockfileVersion": 3, "packages": {"": {"name": "app"},
        "node_modules/left-pad": {"version": "1.2.0"}, "node_modules/x/node_modules/left-pad": {"version": "1.3.0"}}}"#;
    let outcome = vuln::scan("package-lock.json", lock, &db);
    let mut found: Vec<(&str, &str)> =
        outcome.findings.iter().map(|f| (f.id.as_str(), f.component.version.as_str())).collect();
    found.sort();
    assert_eq!(
        found,
        [("GHSA-0001", "1.2.0"), ("GHSA-0003", "1.2.0")],
        "1.3.0 is the fixed version"
    );
    let garbage = db.load_bytes("bundle.zip", b"PK\x03\x04 not really");
    assert_eq!(garbage.errors.len(), 1);
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn count_files(dir: &std::path::Path, prefix: &str, suffix: &str) -> usize {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .count()
}

fn count_matching(dir: &std::path::Path, needle: &str) -> usize {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.iter().filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(needle))).count()
}

mod totality {
    use proptest::prelude::*;
    use vuln::advisory::{parse_osv_json, parse_osv_yaml, parse_rustsec_markdown};

    proptest! {
        #[test]
        fn advisory_readers_are_total_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_osv_json(&bytes, "fuzz.json");
            let _ = parse_osv_yaml(&bytes, "fuzz.yaml");
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_rustsec_markdown(&text, "fuzz.md");
            let _ = parse_rustsec_markdown(&format!("```toml\n{text}\n```\n"), "fuzz.md");
        }

        #[test]
        fn osv_yaml_reader_is_total_on_mutated_records(position in 0usize..400, byte in any::<u8>()) {
            let record = "id: PYSEC-0000-1\naffected:\n- package:\n    name: demo\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: \"1.0\"\n  versions:\n  - \"0.9\"\naliases:\n- CVE-0000-1\n";
            let mut mutated = record.as_bytes().to_vec();
            let index = position % mutated.len();
            mutated[index] = byte;
            let _ = parse_osv_yaml(&mutated, "fuzz.yaml");
            prop_assert!(parse_osv_yaml(record.as_bytes(), "ok.yaml").is_ok());
        }
    }
}
