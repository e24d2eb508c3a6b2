//! Scan results: [`Finding`]s, the `--fail-on` gate ([`FailPolicy`]), and renderings as a
//! text table, JSON, SARIF 2.1.0 and OpenVEX.

mod sarif;
mod table;
mod vex;

pub use sarif::render_sarif;
pub use table::render_table;
pub use vex::{VexError, VexJustification, VexStatement, VexStatus, render_openvex};

use std::str::FromStr;

use crate::advisory::{Advisory, Informational};
use crate::cvss::{CvssScore, Severity, score_vector};
use crate::matching::VulnerabilityMatch;
use crate::sbom::Component;

/// One vulnerability (or informational advisory) affecting one component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub component: Component,
    /// The primary advisory id (the ecosystem's own when there is one).
    pub id: String,
    /// Every other identifier: the primary's aliases and the merged advisories' ids and aliases.
    pub aliases: Vec<String>,
    pub summary: String,
    /// The highest severity among the scored CVSS vectors; `unknown` when none is scored.
    pub severity: Severity,
    /// The CVSS vector that gave the severity.
    pub cvss: Option<CvssScore>,
    /// For RustSec informational advisories (unmaintained, unsound, notice).
    pub informational: Option<Informational>,
    /// Versions (or requirements, for RustSec) that fix it.
    pub fixed_versions: Vec<String>,
    pub references: Vec<String>,
}

impl Finding {
    /// Builds the finding for one merged vulnerability match.
    pub fn from_match(component: &Component, matched: &VulnerabilityMatch<'_>) -> Self {
        let (primary, primary_affected) = matched.primary();
        let mut aliases: Vec<String> = Vec::new();
        let mut add = |id: &str| {
            if id != primary.id && !aliases.iter().any(|a| a == id) {
                aliases.push(id.to_owned());
            }
        };
        for (advisory, _) in &matched.advisories {
            advisory.all_ids().for_each(&mut add);
        }
        let cvss = matched
            .advisories
            .iter()
            .flat_map(|(a, _)| a.cvss_vectors.iter())
            .filter_map(|v| score_vector(v).ok())
            .max_by(|a, b| a.base_score.total_cmp(&b.base_score));
        let mut fixed_versions = Advisory::fixed_versions(primary_affected);
        fixed_versions.dedup();
        let summary = matched
            .advisories
            .iter()
            .map(|(a, _)| a.summary.as_str())
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .to_owned();
        Finding {
            component: component.clone(),
            id: primary.id.clone(),
            aliases,
            summary,
            severity: cvss.as_ref().map_or(Severity::Unknown, |c| c.severity),
            cvss,
            informational: primary.informational.clone(),
            fixed_versions,
            references: primary.references.clone(),
        }
    }

    /// Whether this is a RustSec informational advisory rather than a vulnerability.
    pub fn is_informational(&self) -> bool {
        self.informational.is_some()
    }
}

/// What an unscored vulnerability does to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSeverity {
    /// An unscored vulnerability fails the gate (the cautious default: no score is not no risk).
    Fail,
    /// Unscored vulnerabilities never fail the gate.
    Ignore,
}

/// The `--fail-on` gate: fail when a vulnerability is at or above the threshold.
/// Informational advisories never fail it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FailPolicy {
    pub threshold: Severity,
    pub unknown: UnknownSeverity,
}

impl FailPolicy {
    /// A policy at `threshold` treating unscored vulnerabilities as failing.
    pub fn at(threshold: Severity) -> Self {
        Self { threshold, unknown: UnknownSeverity::Fail }
    }

    /// Whether this finding alone fails the gate.
    pub fn fails_on(&self, finding: &Finding) -> bool {
        if finding.is_informational() {
            return false;
        }
        match finding.severity {
            Severity::Unknown => self.unknown == UnknownSeverity::Fail,
            severity => severity >= self.threshold,
        }
    }

    /// The findings that fail the gate.
    pub fn failing<'a>(&self, findings: &'a [Finding]) -> Vec<&'a Finding> {
        findings.iter().filter(|f| self.fails_on(f)).collect()
    }
}

impl FromStr for FailPolicy {
    type Err = String;
    /// `low`, `medium`, `high` or `critical`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<Severity>()? {
            t @ (Severity::Low | Severity::Medium | Severity::High | Severity::Critical) => {
                Ok(Self::at(t))
            }
            other => {
                Err(format!("`{other}` is not a threshold: expected low, medium, high or critical"))
            }
        }
    }
}

/// Renders findings as a JSON array (the [`Finding`] fields, component included).
pub fn render_json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(findings).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystem::Ecosystem;
    use crate::sbom::ComponentSource;

    pub(crate) fn finding(
        id: &str,
        severity: Severity,
        informational: Option<Informational>,
    ) -> Finding {
        Finding {
            component: Component {
                ecosystem: Ecosystem::CratesIo,
                name: "demo".into(),
                version: "1.0.0".into(),
                purl: None,
                source: ComponentSource::Registry,
                location: "package[0]".into(),
            },
            id: id.into(),
            aliases: vec!["CVE-2099-0001".into()],
            summary: "Demo | pipe".into(),
            severity,
            cvss: None,
            informational,
            fixed_versions: vec![">= 1.0.1".into()],
            references: vec![],
        }
    }

    #[test]
    fn gate_compares_severity_and_treats_unknown_explicitly() {
        let high: FailPolicy = "high".parse().unwrap();
        assert!(high.fails_on(&finding("A", Severity::Critical, None)));
        assert!(high.fails_on(&finding("A", Severity::High, None)));
        assert!(!high.fails_on(&finding("A", Severity::Medium, None)));
        assert!(high.fails_on(&finding("A", Severity::Unknown, None)));
        let lenient = FailPolicy { unknown: UnknownSeverity::Ignore, ..high };
        assert!(!lenient.fails_on(&finding("A", Severity::Unknown, None)));
        assert!(!high.fails_on(&finding("A", Severity::Critical, Some(Informational::Unsound))));
        assert!("none".parse::<FailPolicy>().is_err());
        assert!("urgent".parse::<FailPolicy>().is_err());
    }

    #[test]
    fn json_lists_every_finding() {
        let findings =
            vec![finding("A-1", Severity::High, None), finding("A-2", Severity::Low, None)];
        let value: serde_json::Value = serde_json::from_str(&render_json(&findings)).unwrap();
        let ids: Vec<&str> =
            value.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["A-1", "A-2"]);
        assert_eq!(value[0]["severity"], "high");
        assert_eq!(value[0]["component"]["name"], "demo");
    }
}
