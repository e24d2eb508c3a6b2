//! Severity from CVSS vectors: base score and qualitative rating for CVSS v3.0, v3.1 and v4.0.
//!
//! Scores are computed by the `cvss` crate (the RustSec project's implementation of the
//! FIRST specifications' formulas: v3.x round-up arithmetic, v4.0 macro-vector lookup and
//! interpolation). This module maps them to Rampart's [`Severity`] scale.

use std::fmt;
use std::str::FromStr;

/// A qualitative severity, ordered from least to most severe. `Unknown` is for advisories that
/// carry no score; it is deliberately not ordered among the others (see
/// [`crate::report::FailPolicy`] for how a gate treats it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No score is known.
    Unknown,
    /// CVSS 0.0.
    None,
    /// CVSS 0.1–3.9.
    Low,
    /// CVSS 4.0–6.9.
    Medium,
    /// CVSS 7.0–8.9.
    High,
    /// CVSS 9.0–10.0.
    Critical,
}

impl Severity {
    /// The rating of a base score, by the CVSS v3.1/v4.0 qualitative scale.
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score > 0.0 {
            Self::Low
        } else {
            Self::None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "unknown" => Ok(Self::Unknown),
            "none" => Ok(Self::None),
            "low" => Ok(Self::Low),
            "medium" | "moderate" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            other => {
                Err(format!("unknown severity `{other}`: expected low, medium, high or critical"))
            }
        }
    }
}

/// The CVSS version of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CvssVersion {
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "3.1")]
    V3_1,
    #[serde(rename = "4.0")]
    V4_0,
}

/// A scored CVSS vector.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CvssScore {
    pub version: CvssVersion,
    /// The vector as given.
    pub vector: String,
    /// The base score (v4.0: the score of the metrics present, CVSS-B when only base metrics).
    pub base_score: f64,
    pub severity: Severity,
}

/// A vector that is not a valid CVSS v3.x or v4.0 vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS vector `{vector}`: {reason}")]
pub struct CvssError {
    pub vector: String,
    pub reason: String,
}

/// Scores a CVSS v3.0, v3.1 or v4.0 vector string (`CVSS:3.1/AV:N/...`, `CVSS:4.0/AV:N/...`).
pub fn score_vector(vector: &str) -> Result<CvssScore, CvssError> {
    let error = |reason: String| CvssError { vector: vector.to_owned(), reason };
    let trimmed = vector.trim();
    let required: &[&str] = if trimmed.starts_with("CVSS:4.0/") {
        &["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"]
    } else {
        &["AV", "AC", "PR", "UI", "S", "C", "I", "A"]
    };
    let present: Vec<&str> =
        trimmed.split('/').skip(1).filter_map(|m| m.split(':').next()).collect();
    if let Some(missing) = required.iter().find(|m| !present.contains(m)) {
        return Err(error(format!("the base metric `{missing}` is missing")));
    }
    let (version, base_score) = if trimmed.starts_with("CVSS:3.0/")
        || trimmed.starts_with("CVSS:3.1/")
    {
        let parsed = cvss::v3::Vector::from_str(trimmed).map_err(|e| error(e.to_string()))?;
        let version =
            if trimmed.starts_with("CVSS:3.0/") { CvssVersion::V3_0 } else { CvssVersion::V3_1 };
        (version, parsed.base_score().value())
    } else if trimmed.starts_with("CVSS:4.0/") {
        let parsed = cvss::v4::Vector::from_str(trimmed).map_err(|e| error(e.to_string()))?;
        (CvssVersion::V4_0, parsed.score().value())
    } else {
        return Err(error("expected a `CVSS:3.0/`, `CVSS:3.1/` or `CVSS:4.0/` prefix".into()));
    };
    Ok(CvssScore {
        version,
        vector: trimmed.to_owned(),
        base_score,
        severity: Severity::from_score(base_score),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn score(vector: &str) -> (f64, Severity) {
        let s = score_vector(vector).unwrap();
        (s.base_score, s.severity)
    }

    /// Examples from the CVSS v3.1 specification's "Examples" document (FIRST), with the
    /// base scores published there.
    #[test]
    fn cvss_v3_1_specification_examples() {
        // CVE-2014-6271 (GNU Bash "Shellshock"): 9.8.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            (9.8, Severity::Critical)
        );
        // CVE-2014-0160 (Heartbleed): 7.5.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"), (7.5, Severity::High));
        // CVE-2013-1937 (phpMyAdmin reflected XSS): 6.1.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), (6.1, Severity::Medium));
        // CVE-2014-3566 (POODLE): 3.1.
        assert_eq!(score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"), (3.1, Severity::Low));
        // CVE-2012-1516 (VMware guest to host): 9.9.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H"),
            (9.9, Severity::Critical)
        );
        // A local, low-privilege, full-impact vector: 7.8.
        assert_eq!(score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"), (7.8, Severity::High));
        // No impact at all: 0.0.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), (0.0, Severity::None));
        // RUSTSEC-2016-0002's CVSS 3.0 vector: 4.8.
        assert_eq!(
            score_vector("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N").unwrap().base_score,
            4.8
        );
    }

    /// CVSS v4.0 scores as published by FIRST's v4.0 calculator for these base vectors.
    #[test]
    fn cvss_v4_0_examples() {
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            (9.3, Severity::Critical)
        );
        assert_eq!(
            score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            (8.5, Severity::High)
        );
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
            (0.0, Severity::None)
        );
    }

    #[test]
    fn malformed_vectors_are_errors() {
        for bad in [
            "",
            "AV:N/AC:L",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:2.0/AV:N",
            "CVSS:3.1/AV:N",
        ] {
            assert!(score_vector(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn severity_scale_boundaries() {
        assert_eq!(Severity::from_score(0.1), Severity::Low);
        assert_eq!(Severity::from_score(3.9), Severity::Low);
        assert_eq!(Severity::from_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_score(6.9), Severity::Medium);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(8.9), Severity::High);
        assert_eq!(Severity::from_score(9.0), Severity::Critical);
        assert_eq!("Moderate".parse::<Severity>(), Ok(Severity::Medium));
        assert!("severe".parse::<Severity>().is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_vectors_never_panic(tail in "[A-Z:/a-z0-9]{0,80}") {
            for prefix in ["CVSS:3.1/", "CVSS:4.0/", ""] {
                if let Ok(s) = score_vector(&format!("{prefix}{tail}")) {
                    prop_assert!((0.0..=10.0).contains(&s.base_score));
                }
            }
        }
    }
}
