//! SARIF 2.1.0: one run, one rule per advisory, one result per finding.

use serde_json::{Value, json};

use super::Finding;
use crate::cvss::Severity;

/// Renders findings as a SARIF 2.1.0 log. `artifact_uri` is the scanned file as the SARIF
/// consumer should show it (a path relative to the repository root, usually).
///
/// Levels: critical and high → `error`, medium → `warning`, low, none, unknown and
/// informational advisories → `note`. Rules carry `security-severity` (the CVSS base score)
/// when it is known, which code-scanning dashboards use to rank results.
pub fn render_sarif(findings: &[Finding], artifact_uri: &str) -> String {
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for finding in findings {
        let rule_index = match rule_ids.iter().position(|id| *id == finding.id) {
            Some(i) => i,
            None => {
                rule_ids.push(&finding.id);
                let mut properties = json!({ "tags": ["security", "vulnerability"] });
                if let Some(cvss) = &finding.cvss {
                    properties["security-severity"] = json!(format!("{:.1}", cvss.base_score));
                }
                let mut rule = json!({
                    "id": finding.id,
                    "name": finding.id,
                    "shortDescription": { "text": non_empty(&finding.summary, &finding.id) },
                    "defaultConfiguration": { "level": level(finding) },
                    "properties": properties,
                });
                if let Some(url) = finding.references.first() {
                    rule["helpUri"] = json!(url);
                }
                rules.push(rule);
                rules.len() - 1
            }
        };
        let fixed = if finding.fixed_versions.is_empty() {
            "no fixed version is known".to_owned()
        } else {
            format!("fixed in {}", finding.fixed_versions.join(", "))
        };
        let mut message = format!(
            "{} {} is affected by {}",
            finding.component.name, finding.component.version, finding.id
        );
        if !finding.aliases.is_empty() {
            message.push_str(&format!(" ({})", finding.aliases.join(", ")));
        }
        message.push_str(&format!(": {}; {fixed}.", non_empty(&finding.summary, "no summary")));
        results.push(json!({
            "ruleId": finding.id,
            "ruleIndex": rule_index,
            "level": level(finding),
            "message": { "text": message },
            "locations": [{
                "physicalLocation": { "artifactLocation": { "uri": artifact_uri } },
                "logicalLocations": [{ "name": finding.component.location, "kind": "element" }],
            }],
            "partialFingerprints": {
                "rampartVuln/v1": format!("{}:{}:{}", finding.id, finding.component.name, finding.component.version),
            },
        }));
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "rampart-vuln",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

fn level(finding: &Finding) -> &'static str {
    if finding.is_informational() {
        return "note";
    }
    match finding.severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::None | Severity::Unknown => "note",
    }
}

fn non_empty<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.is_empty() { fallback } else { text }
}

#[cfg(test)]
mod tests {
    use super::super::tests::finding;
    use super::*;

    #[test]
    fn sarif_has_runs_tool_rules_and_leveled_results() {
        let findings = vec![
            finding("A-1", Severity::High, None),
            finding("A-1", Severity::High, None),
            finding("B-2", Severity::Medium, None),
            finding("C-3", Severity::Unknown, None),
        ];
        let log: Value = serde_json::from_str(&render_sarif(&findings, "Cargo.lock")).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 3, "one rule per advisory id");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        let levels: Vec<&str> = results.iter().map(|r| r["level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["error", "error", "warning", "note"]);
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            assert_eq!(
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                "Cargo.lock"
            );
        }
    }
}
