//! RustSec advisories: Markdown files opening with a fenced TOML block (the front matter),
//! followed by a `# Title` and a description.

use std::cmp::Ordering;

use serde::Deserialize;

use super::{Advisory, AdvisoryFormat, Affected, AffectedRule, Informational};
use crate::ecosystem::Ecosystem;

#[derive(Deserialize)]
struct FrontMatter {
    advisory: AdvisorySection,
    #[serde(default)]
    versions: VersionsSection,
}

#[derive(Deserialize)]
struct AdvisorySection {
    id: String,
    package: String,
    #[serde(default)]
    date: Option<toml::Value>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    cvss: Option<String>,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<toml::Value>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Deserialize, Default)]
struct VersionsSection {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// A RustSec version requirement (`">= 1.2.3, < 1.5"`, `"^0.7"`), evaluated by SemVer
/// precedence: a pre-release is compared by its place in the order, not excluded as Cargo's
/// resolver would exclude it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RustSecRequirement {
    text: String,
    #[serde(skip)]
    bounds: Vec<Bound>,
}

/// One side of an interval: `version <op> limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    op: BoundOp,
    limit: semver::Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundOp {
    AtLeast,
    Above,
    Below,
    AtMost,
}

impl RustSecRequirement {
    /// Parses a requirement with Cargo's syntax; every comparator becomes one or two bounds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let req = semver::VersionReq::parse(text.trim()).map_err(|e| format!("`{text}`: {e}"))?;
        let mut bounds = Vec::new();
        for c in &req.comparators {
            let lower = semver::Version {
                major: c.major,
                minor: c.minor.unwrap_or(0),
                patch: c.patch.unwrap_or(0),
                pre: c.pre.clone(),
                build: semver::BuildMetadata::EMPTY,
            };
            // The first version past the comparator's stated precision (`1.2` → `1.3.0`).
            let past_precision = match (c.minor, c.patch) {
                (None, _) => semver::Version::new(c.major + 1, 0, 0),
                (Some(minor), None) => semver::Version::new(c.major, minor + 1, 0),
                (Some(minor), Some(patch)) => semver::Version::new(c.major, minor, patch + 1),
            };
            let caret_upper = match (c.major, c.minor, c.patch) {
                (0, Some(0), Some(patch)) => semver::Version::new(0, 0, patch + 1),
                (0, Some(minor), _) if minor > 0 || c.patch.is_none() => {
                    semver::Version::new(0, minor + 1, 0)
                }
                (0, None, _) => semver::Version::new(1, 0, 0),
                (major, _, _) => semver::Version::new(major + 1, 0, 0),
            };
            let tilde_upper = match c.minor {
                None => semver::Version::new(c.major + 1, 0, 0),
                Some(minor) => semver::Version::new(c.major, minor + 1, 0),
            };
            use BoundOp::*;
            let mut push = |op, limit| bounds.push(Bound { op, limit });
            match c.op {
                semver::Op::Exact | semver::Op::Wildcard => {
                    if c.patch.is_some() {
                        push(AtLeast, lower.clone());
                        push(AtMost, lower);
                    } else {
                        push(AtLeast, lower);
                        push(Below, past_precision);
                    }
                }
                semver::Op::Greater => {
                    if c.patch.is_some() {
                        push(Above, lower);
                    } else {
                        push(AtLeast, past_precision);
                    }
                }
                semver::Op::GreaterEq => push(AtLeast, lower),
                semver::Op::Less => push(Below, lower),
                semver::Op::LessEq => {
                    if c.patch.is_some() {
                        push(AtMost, lower);
                    } else {
                        push(Below, past_precision);
                    }
                }
                semver::Op::Tilde => {
                    push(AtLeast, lower);
                    push(Below, tilde_upper);
                }
                semver::Op::Caret => {
                    push(AtLeast, lower);
                    push(Below, caret_upper);
                }
                _ => return Err(format!("`{text}`: unsupported operator")),
            }
        }
        Ok(Self { text: text.trim().to_owned(), bounds })
    }

    /// Whether `version` satisfies every comparator.
    pub fn matches(&self, version: &semver::Version) -> bool {
        self.bounds.iter().all(|b| {
            let order = version.cmp_precedence(&b.limit);
            match b.op {
                BoundOp::AtLeast => order != Ordering::Less,
                BoundOp::Above => order == Ordering::Greater,
                BoundOp::Below => order == Ordering::Less,
                BoundOp::AtMost => order != Ordering::Greater,
            }
        })
    }

    /// The requirement as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Parses a RustSec advisory file.
pub fn parse_rustsec_markdown(text: &str, origin: &str) -> Result<Advisory, String> {
    let text = text.trim_start_matches('\u{feff}');
    let body = text
        .strip_prefix("```toml")
        .ok_or("expected the file to open with a ```toml front-matter block")?;
    let end = body.find("\n```").ok_or("the ```toml front-matter block is not closed")?;
    let (front, rest) = (&body[..end], &body[end + 4..]);
    let front: FrontMatter = toml::from_str(front).map_err(|e| {
        let line = e.span().map(|s| front[..s.start].matches('\n').count() + 1);
        match line {
            // The block starts on the fence line, so its line numbers are the file's.
            Some(line) => format!("line {line}: {}", e.message()),
            None => format!("front matter: {}", e.message()),
        }
    })?;
    let a = front.advisory;
    let parse_all = |list: &[String], key: &str| -> Result<Vec<RustSecRequirement>, String> {
        list.iter()
            .enumerate()
            .map(|(i, r)| {
                RustSecRequirement::parse(r).map_err(|e| format!("versions.{key}[{i}]: {e}"))
            })
            .collect()
    };
    let patched = parse_all(&front.versions.patched, "patched")?;
    let unaffected = parse_all(&front.versions.unaffected, "unaffected")?;
    let (summary, details) = title_and_description(rest);
    let mut references: Vec<String> = a.url.into_iter().collect();
    references.extend(a.references);
    Ok(Advisory {
        id: a.id,
        aliases: a.aliases,
        summary,
        details,
        cvss_vectors: a.cvss.into_iter().collect(),
        informational: a.informational.as_deref().map(Informational::parse),
        withdrawn: a.withdrawn.map(date_text),
        published: a.date.map(date_text),
        modified: None,
        references,
        affected: vec![Affected {
            ecosystem: Ecosystem::CratesIo,
            name: a.package,
            rule: AffectedRule::RustSec { patched, unaffected },
        }],
        format: AdvisoryFormat::RustSec,
        origin: origin.to_owned(),
    })
}

/// A date written as a string (`"2021-01-01"`) or as a TOML date.
fn date_text(value: toml::Value) -> String {
    match value {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The first `# ` heading, and the text after it.
fn title_and_description(markdown: &str) -> (String, String) {
    let mut lines = markdown.lines().skip_while(|l| l.trim().is_empty());
    match lines.next() {
        Some(first) if first.starts_with("# ") => {
            let title = first.trim_start_matches('#').trim().to_owned();
            let description = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
            (title, description)
        }
        Some(first) => {
            let rest = lines.collect::<Vec<_>>().join("\n");
            (String::new(), format!("{first}\n{rest}").trim().to_owned())
        }
        None => (String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn requirement_forms_cover_the_intended_intervals() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (">= 1.2.3", &["1.2.3", "9.0.0"], &["1.2.2", "1.2.3-rc.1"]),
            ("< 0.6.0-rc1", &["0.5.9", "0.6.0-rc0"], &["0.6.0-rc1", "0.6.0"]),
            (">= 1.1, < 1.4", &["1.1.0", "1.3.99"], &["1.0.9", "1.4.0"]),
            ("^0.7.2", &["0.7.2", "0.7.9"], &["0.7.1", "0.8.0"]),
            ("^1.2", &["1.2.0", "1.9.0"], &["1.1.9", "2.0.0"]),
            ("^0.0.3", &["0.0.3"], &["0.0.4", "0.0.2"]),
            ("0.3.1", &["0.3.1", "0.3.5"], &["0.4.0", "0.3.0"]),
            ("=0.3.1", &["0.3.1"], &["0.3.2"]),
            ("> 1.0", &["1.1.0"], &["1.0.5"]),
            ("<= 2.1", &["2.1.9"], &["2.2.0"]),
            ("~1.2.3", &["1.2.9"], &["1.3.0", "1.2.2"]),
        ];
        for (text, inside, outside) in cases {
            let req = RustSecRequirement::parse(text).unwrap();
            for version in *inside {
                assert!(req.matches(&v(version)), "{version} should satisfy {text}");
            }
            for version in *outside {
                assert!(!req.matches(&v(version)), "{version} should not satisfy {text}");
            }
        }
    }

    #[test]
    fn parses_front_matter_title_and_versions() {
        let text = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"demo\"\ndate = \"2099-01-02\"\n\
                    aliases = [\"CVE-2099-1\"]\ninformational = \"unsound\"\n\n[versions]\npatched = [\">= 1.0.1\"]\n\
                    unaffected = [\"< 0.5\"]\n```\n\n# Demo is unsound\n\nBody text.\n";
        let advisory = parse_rustsec_markdown(text, "demo.md").unwrap();
        assert_eq!(advisory.id, "RUSTSEC-2099-0001");
        assert_eq!(advisory.summary, "Demo is unsound");
        assert_eq!(advisory.details, "Body text.");
        assert_eq!(advisory.informational, Some(Informational::Unsound));
        assert_eq!(advisory.published.as_deref(), Some("2099-01-02"));
        let AffectedRule::RustSec { patched, unaffected } = &advisory.affected[0].rule else {
            panic!("RustSec rule expected");
        };
        assert_eq!(patched[0].text(), ">= 1.0.1");
        assert!(unaffected[0].matches(&v("0.4.0")));
    }

    #[test]
    fn malformed_front_matter_names_the_line() {
        let text = "```toml\n[advisory]\nid = \"X\"\npackage = \n```\n";
        let err = parse_rustsec_markdown(text, "x.md").unwrap_err();
        assert!(err.starts_with("line 4:"), "{err}");
        assert!(parse_rustsec_markdown("# no front matter", "x.md").is_err());
        let bad_req = "```toml\n[advisory]\nid = \"X\"\npackage = \"p\"\n[versions]\npatched = [\">= one\"]\n```\n";
        let err = parse_rustsec_markdown(bad_req, "x.md").unwrap_err();
        assert!(err.contains("versions.patched[0]"), "{err}");
    }
}
