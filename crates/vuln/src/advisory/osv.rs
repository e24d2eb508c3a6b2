//! OSV records (<https://ossf.github.io/osv-schema/>) in JSON or YAML.

use serde::Deserialize;

use super::{Advisory, AdvisoryFormat, Affected, AffectedRule, OsvRange, RangeEvent, RangeKind};
use crate::ecosystem::Ecosystem;

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
    #[serde(default)]
    affected: Option<Vec<OsvAffected>>,
    #[serde(default)]
    references: Option<Vec<OsvReference>>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Option<Vec<OsvRawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct OsvRawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<OsvRawEvent>,
}

#[derive(Deserialize)]
struct OsvRawEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// Parses one OSV record in JSON.
pub fn parse_osv_json(bytes: &[u8], origin: &str) -> Result<Advisory, String> {
    let record: OsvRecord = serde_json::from_slice(bytes)
        .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
    convert(record, origin)
}

/// Parses one OSV record in YAML.
pub fn parse_osv_yaml(bytes: &[u8], origin: &str) -> Result<Advisory, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let record: OsvRecord = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    convert(record, origin)
}

fn convert(record: OsvRecord, origin: &str) -> Result<Advisory, String> {
    if record.id.trim().is_empty() {
        return Err("`id` is empty".into());
    }
    let mut cvss_vectors: Vec<String> = Vec::new();
    let mut push_severity = |list: Option<Vec<OsvSeverity>>| {
        for s in list.unwrap_or_default() {
            let is_cvss = s.kind.starts_with("CVSS_V3") || s.kind == "CVSS_V4";
            if is_cvss && !cvss_vectors.contains(&s.score) {
                cvss_vectors.push(s.score);
            }
        }
    };
    push_severity(record.severity);
    let mut affected = Vec::new();
    for (i, entry) in record.affected.unwrap_or_default().into_iter().enumerate() {
        push_severity(entry.severity);
        let Some(package) = entry.package else {
            continue; // affected entries without a package describe non-package software
        };
        if package.name.is_empty() {
            return Err(format!("affected[{i}].package.name is empty"));
        }
        let mut ranges = Vec::new();
        for (j, range) in entry.ranges.unwrap_or_default().into_iter().enumerate() {
            let kind = match range.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => RangeKind::Other(other.to_owned()),
            };
            let mut events = Vec::new();
            for (k, e) in range.events.into_iter().enumerate() {
                let event = match (e.introduced, e.fixed, e.last_affected, e.limit) {
                    (Some(v), None, None, None) => RangeEvent::Introduced(v),
                    (None, Some(v), None, None) => RangeEvent::Fixed(v),
                    (None, None, Some(v), None) => RangeEvent::LastAffected(v),
                    (None, None, None, Some(v)) => RangeEvent::Limit(v),
                    _ => {
                        return Err(format!(
                            "affected[{i}].ranges[{j}].events[{k}] must hold exactly one of introduced, fixed, last_affected, limit"
                        ));
                    }
                };
                events.push(event);
            }
            ranges.push(OsvRange { kind, events });
        }
        affected.push(Affected {
            ecosystem: Ecosystem::from_osv(&package.ecosystem),
            name: package.name,
            rule: AffectedRule::Osv { ranges, versions: entry.versions.unwrap_or_default() },
        });
    }
    let summary = record.summary.unwrap_or_default();
    let details = record.details.unwrap_or_default();
    Ok(Advisory {
        id: record.id,
        aliases: record.aliases.unwrap_or_default(),
        summary: if summary.is_empty() { first_sentence(&details) } else { summary },
        details,
        cvss_vectors,
        informational: None,
        withdrawn: record.withdrawn,
        published: record.published,
        modified: record.modified,
        references: record
            .references
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.url)
            .collect(),
        affected,
        format: AdvisoryFormat::Osv,
        origin: origin.to_owned(),
    })
}

/// A summary for records that have only `details`: its first line, shortened.
fn first_sentence(details: &str) -> String {
    let line = details.lines().next().unwrap_or("").trim();
    if line.chars().count() <= 120 {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(117).collect();
        format!("{cut}...")
    }
}
