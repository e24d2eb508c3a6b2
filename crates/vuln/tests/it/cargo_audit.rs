//! Acceptance: on real lockfiles, the RustSec advisories found equal those `cargo audit`
//! reports from the same database (vulnerabilities and informational warnings; the yanked
//! check, which needs the network, is excluded).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vuln::scan;

use crate::common;

/// (advisory id, package name, package version)
type Hit = (String, String, String);

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        dir.join("../../Cargo.lock"),
        dir.join("tests/fixtures/cargo-audit/old-web.Cargo.lock"),
        dir.join("tests/fixtures/cargo-audit/yaml-zip.Cargo.lock"),
        dir.join("tests/fixtures/cargo-audit/legacy-v1.Cargo.lock"),
    ]
}

/// cargo-audit opens its database as a git repository: a committed copy of the shared one.
fn database_as_git_repository(source: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-R")
        .arg(format!("{}/.", source.display()))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success(), "copying the advisory database failed");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(copy.path())
            .env("GIT_AUTHOR_NAME", "rampart")
            .env("GIT_AUTHOR_EMAIL", "rampart@localhost")
            .env("GIT_COMMITTER_NAME", "rampart")
            .env("GIT_COMMITTER_EMAIL", "rampart@localhost")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "advisory database snapshot"]);
    copy
}

fn cargo_audit_hits(db: &Path, lockfile: &Path) -> BTreeSet<Hit> {
    let output = Command::new("cargo")
        .args(["audit", "--no-fetch", "--no-yanked", "--stale", "--json", "--db"])
        .arg(db)
        .arg("--file")
        .arg(lockfile)
        .output()
        .unwrap();
    // Exit status 1 means "vulnerabilities found"; anything unparsable is a failure.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "cargo audit on {}: {e}\nstderr: {}",
            lockfile.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut hits = BTreeSet::new();
    let mut add = |entry: &Value| {
        if let Some(id) = entry["advisory"]["id"].as_str() {
            let package = &entry["package"];
            hits.insert((
                id.to_owned(),
                package["name"].as_str().unwrap_or_default().to_owned(),
                package["version"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    };
    for entry in report["vulnerabilities"]["list"].as_array().into_iter().flatten() {
        add(entry);
    }
    for (kind, entries) in report["warnings"].as_object().into_iter().flatten() {
        if kind == "yanked" {
            continue;
        }
        for entry in entries.as_array().into_iter().flatten() {
            add(entry);
        }
    }
    hits
}

fn rampart_hits(db: &vuln::AdvisoryDatabase, lockfile: &Path) -> BTreeSet<Hit> {
    let bytes = std::fs::read(lockfile).unwrap();
    let outcome = scan("Cargo.lock", &bytes, db);
    assert!(outcome.input_error.is_none(), "{:?}", outcome.input_error);
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let mut hits = BTreeSet::new();
    for finding in &outcome.findings {
        // Informational advisories (unmaintained, unsound, notice) are compared too: cargo
        // audit reports all three kinds as warnings.
        let ids = std::iter::once(&finding.id)
            .chain(finding.aliases.iter().filter(|a| a.starts_with("RUSTSEC-")));
        for id in ids {
            hits.insert((
                id.clone(),
                finding.component.name.clone(),
                finding.component.version.clone(),
            ));
        }
    }
    hits
}

#[test]
fn rampart_and_cargo_audit_agree_on_real_lockfiles() {
    let Some(source) = common::shared_data("rustsec") else { return };
    if !common::tool_available("cargo", &["audit", "--version"]) {
        return;
    }
    let (db, report) = common::rustsec().unwrap();
    assert!(report.errors.is_empty());
    let git_db = database_as_git_repository(&source);
    let mut total = 0;
    for lockfile in fixtures() {
        let theirs = cargo_audit_hits(git_db.path(), &lockfile);
        let ours = rampart_hits(db, &lockfile);
        println!(
            "{}: cargo audit {} findings, rampart {}",
            lockfile.display(),
            theirs.len(),
            ours.len()
        );
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        assert!(
            only_theirs.is_empty() && only_ours.is_empty(),
            "{}:\nonly cargo audit: {only_theirs:#?}\nonly rampart: {only_ours:#?}",
            lockfile.display()
        );
        total += ours.len();
    }
    assert!(total >= 20, "the fixtures should produce findings, got {total}");
}
