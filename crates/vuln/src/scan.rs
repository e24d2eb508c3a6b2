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
