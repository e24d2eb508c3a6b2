//! Vulnerability advisories: the model, the OSV and RustSec readers, and the in-memory
//! [`AdvisoryDatabase`] indexed by (ecosystem, normalised package name).

mod database;
mod osv;
mod rustsec;

pub use database::{AdvisoryDatabase, LoadError, LoadReport};
pub use osv::{parse_osv_json, parse_osv_yaml};
pub use rustsec::{RustSecRequirement, parse_rustsec_markdown};

use crate::ecosystem::Ecosystem;

/// Where an advisory was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvisoryFormat {
    /// An OSV record (JSON or YAML).
    Osv,
    /// A RustSec advisory (Markdown with TOML front matter).
    RustSec,
}

/// A RustSec informational advisory's kind: not a vulnerability, but worth a warning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Informational {
    Unmaintained,
    Unsound,
    Notice,
    Other(String),
}

impl Informational {
    fn parse(text: &str) -> Self {
        match text {
            "unmaintained" => Self::Unmaintained,
            "unsound" => Self::Unsound,
            "notice" => Self::Notice,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Unmaintained => "unmaintained",
            Self::Unsound => "unsound",
            Self::Notice => "notice",
            Self::Other(s) => s,
        }
    }
}

/// One advisory, whatever its source format.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Advisory {
    /// `RUSTSEC-2021-0078`, `PYSEC-2021-9`, `GHSA-...`.
    pub id: String,
    /// Other identifiers of the same vulnerability (CVE, GHSA, ...).
    pub aliases: Vec<String>,
    /// One-line summary (RustSec: the Markdown title).
    pub summary: String,
    /// Longer description.
    pub details: String,
    /// CVSS vectors given by the advisory (v3.x or v4.0 vector strings).
    pub cvss_vectors: Vec<String>,
    /// Set for RustSec informational advisories.
    pub informational: Option<Informational>,
    /// Set when the advisory was withdrawn (such advisories are not loaded into a database).
    pub withdrawn: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// The packages affected and how.
    pub affected: Vec<Affected>,
    pub format: AdvisoryFormat,
    /// The file (or archive member) it was read from.
    pub origin: String,
}

/// One affected package of an advisory.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Affected {
    pub ecosystem: Ecosystem,
    /// The package name as the advisory writes it.
    pub name: String,
    pub rule: AffectedRule,
}

/// How to decide whether a version is affected.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AffectedRule {
    /// OSV: affected if listed in `versions` or inside one of the `ranges`.
    Osv { ranges: Vec<OsvRange>, versions: Vec<String> },
    /// RustSec: affected unless matched by a `patched` or an `unaffected` requirement.
    RustSec { patched: Vec<RustSecRequirement>, unaffected: Vec<RustSecRequirement> },
}

/// An OSV range's type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    Other(String),
}

/// An OSV range: a type and its events.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OsvRange {
    pub kind: RangeKind,
    pub events: Vec<RangeEvent>,
}

/// An OSV range event. `Introduced("0")` means "from the first version".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Advisory {
    /// The versions that fix it, as the advisory states them (OSV `fixed` events; RustSec
    /// `patched` requirements), for one affected entry.
    pub fn fixed_versions(affected: &Affected) -> Vec<String> {
        match &affected.rule {
            AffectedRule::Osv { ranges, .. } => ranges
                .iter()
                .flat_map(|r| r.events.iter())
                .filter_map(|e| match e {
                    RangeEvent::Fixed(v) => Some(v.clone()),
                    _ => None,
                })
                .collect(),
            AffectedRule::RustSec { patched, .. } => {
                patched.iter().map(|r| r.text().to_owned()).collect()
            }
        }
    }

    /// The identifier followed by the aliases.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}
