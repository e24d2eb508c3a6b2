//! One call from file bytes to findings: what `rampart vuln scan` runs.

use crate::advisory::AdvisoryDatabase;
use crate::matching::{MatchIssue, match_component};
use crate::report::Finding;
use crate::sbom::{Component, InventoryNote, SbomError, SbomFormat, detect_and_parse};
use crate::version::VersionError;

/// A component that could not be matched, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComponentProblem {
    /// The component's location in the input.
    pub location: String,
    pub name: String,
    pub version: String,
    pub problem: String,
}

/// Everything a scan produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScanOutcome {
    /// The detected format; `None` when the input was not recognised.
    pub format: Option<SbomFormat>,
    /// The input could not be read at all (unrecognised or malformed): no components.
    pub input_error: Option<SbomError>,
    pub components: Vec<Component>,
    pub notes: Vec<InventoryNote>,
    pub findings: Vec<Finding>,
    /// Components whose version does not parse in their ecosystem, and advisories that could
    /// not be evaluated for a component.
    pub problems: Vec<ComponentProblem>,
}

/// Detects the format of `bytes`, reads the components and matches each against `db`.
pub fn scan(file_name: &str, bytes: &[u8], db: &AdvisoryDatabase) -> ScanOutcome {
    let inventory = match detect_and_parse(file_name, bytes) {
        Ok(inventory) => inventory,
        Err(error) => {
            return ScanOutcome {
                format: error.format,
                input_error: Some(error),
                components: Vec::new(),
                notes: Vec::new(),
                findings: Vec::new(),
                problems: Vec::new(),
            };
        }
    };
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let problem = |c: &Component, text: String| ComponentProblem {
        location: c.location.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        problem: text,
    };
    for component in &inventory.components {
        match match_component(db, component) {
            Ok(matches) => {
                findings.extend(
                    matches.vulnerabilities.iter().map(|m| Finding::from_match(component, m)),
                );
                problems.extend(matches.issues.into_iter().map(
                    |MatchIssue { advisory_id, message }| {
                        problem(
                            component,
                            format!("advisory {advisory_id} not evaluated: {message}"),
                        )
                    },
                ));
            }
            Err(VersionError { reason, .. }) => {
                problems.push(problem(component, format!("unparsable version: {reason}")));
            }
        }
    }
    ScanOutcome {
        format: Some(inventory.format),
        input_error: None,
        components: inventory.components,
        notes: inventory.notes,
        findings,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::LoadReport;

    fn database() -> AdvisoryDatabase {
        let mut db = AdvisoryDatabase::new();
        let mut report = LoadReport::default();
        let record = br#"{"id": "GHSA-test-0001", "aliases": ["CVE-2099-0001"], "summary": "demo flaw",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "crates.io", "name": "demo"},
              "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}]}"#;
        let advisory = crate::advisory::parse_osv_json(record, "test.json").unwrap();
        db.insert(advisory, &mut report);
        db
    }

    const LOCK: &str = "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"1.1.0\"\n\
        source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
        [[package]]\nname = \"demo\"\nversion = \"1.0.0\"\nsource = \"git+https://example.invalid/demo#abc\"\n\n\
        [[package]]\nname = \"demo\"\nversion = \"not-semver\"\n\
        source = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

    #[test]
    fn findings_problems_and_unmatched_sources() {
        let outcome = scan("Cargo.lock", LOCK.as_bytes(), &database());
        assert_eq!(outcome.format, Some(SbomFormat::CargoLock));
        assert_eq!(outcome.components.len(), 3);
        assert_eq!(outcome.findings.len(), 1, "the git-sourced demo is not matched");
        let finding = &outcome.findings[0];
        assert_eq!(
            (finding.id.as_str(), finding.component.version.as_str()),
            ("GHSA-test-0001", "1.1.0")
        );
        assert_eq!(finding.aliases, ["CVE-2099-0001"]);
        assert_eq!(finding.severity, crate::cvss::Severity::Critical);
        assert_eq!(finding.fixed_versions, ["1.2.0"]);
        assert_eq!(outcome.problems.len(), 1);
        assert_eq!(outcome.problems[0].version, "not-semver");
        assert!(outcome.problems[0].location.starts_with("package[2]"));
    }

    #[test]
    fn unreadable_input_is_reported_not_scanned() {
        let outcome = scan("Cargo.lock", b"[[package]\n", &database());
        let error = outcome.input_error.unwrap();
        assert_eq!(error.format, Some(SbomFormat::CargoLock));
        assert!(outcome.components.is_empty() && outcome.findings.is_empty());
        assert!(scan("photo.png", b"\x89PNG", &database()).input_error.is_some());
    }
}
