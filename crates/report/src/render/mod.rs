//! The live annex: every section of the annex in order, each measure followed by its live
//! status, the checks behind it with their figures, dates and failing items, and the manual
//! evidence. [`LiveAnnex::build`] validates the inputs and decides every status once; the
//! Markdown, HTML and PDF renderers only lay out what it decided, so the three formats cannot
//! disagree.

mod html;
mod markdown;
mod pdf;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::annex::{ANNEX_SECTIONS, ANNEX_TITLE};
use crate::error::ReportError;
use crate::evidence::{self, CheckResult, FailingItem, Figure, ManualEvidence, Status};
use crate::iso27001;

pub use html::render_html;
pub use markdown::render_markdown;
pub use pdf::render_pdf;

/// The TLP 2.0 labels a document may carry.
pub const TLP_LABELS: &[&str] =
    &["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];

/// The audit log checkpoint the evidence was computed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub tree_size: u64,
    /// Root hash, lowercase or uppercase hex (64 digits: SHA-256).
    pub root_hash_hex: String,
}

/// How every rendered document is marked, in its header, footer and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMarking {
    /// The classification level, e.g. `Confidential`.
    pub classification: String,
    /// One of [`TLP_LABELS`].
    pub tlp_label: String,
    pub generated_at: OffsetDateTime,
    pub checkpoint: AuditCheckpoint,
}

/// Rendering choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Failing items listed per check; the rest are counted. The full list belongs in the
    /// evidence export, not in a document meant to be read.
    pub max_failing_items_per_check: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { max_failing_items_per_check: 25 }
    }
}

/// The annex with its live evidence, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAnnex {
    pub title: &'static str,
    pub marking: DocumentMarking,
    /// `generated_at` in RFC 3339.
    pub generated_at_text: String,
    pub sections: Vec<LiveSection>,
    pub totals: StatusTotals,
}

/// How many measures have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub pass: usize,
    pub fail: usize,
    pub not_evidenced: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSection {
    pub id: &'static str,
    pub heading: &'static str,
    pub summary: &'static str,
    pub measures: Vec<LiveMeasure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMeasure {
    pub id: &'static str,
    /// `None` when the measure is its section's body.
    pub heading: Option<&'static str>,
    pub summary: &'static str,
    pub controls: &'static [&'static str],
    pub status: Status,
    pub checks: Vec<LiveCheck>,
    pub manual_evidence: Vec<LiveManualEvidence>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCheck {
    pub id: &'static str,
    pub statement: &'static str,
    pub cadence: &'static str,
    pub status: Status,
    /// The latest result at generation time, if any.
    pub result: Option<LiveResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveResult {
    pub ran_at_text: String,
    /// Older than twice the check's cadence: shown, but it decides nothing.
    pub stale: bool,
    pub population: usize,
    pub failing_total: usize,
    /// The first failing items, at most `max_failing_items_per_check`.
    pub failing_shown: Vec<FailingItem>,
    pub figures: Vec<Figure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveManualEvidence {
    pub description: String,
    /// File name and SHA-256, or the link.
    pub location: String,
    pub observed_on: String,
    pub expires_on: Option<String>,
    pub current: bool,
}

fn rfc3339(moment: OffsetDateTime, location: &str) -> Result<String, ReportError> {
    moment.format(&Rfc3339).map_err(|error| ReportError::Render {
        location: location.to_owned(),
        problem: format!("timestamp cannot be written as RFC 3339: {error}"),
    })
}

impl DocumentMarking {
    fn validate(&self) -> Result<(), ReportError> {
        let fail = |location: &str, problem: &str| {
            Err(ReportError::Render { location: location.to_owned(), problem: problem.to_owned() })
        };
        if self.classification.trim().is_empty() {
            return fail("marking.classification", "the classification is blank");
        }
        if !TLP_LABELS.contains(&self.tlp_label.as_str()) {
            return fail(
                "marking.tlp_label",
                &format!("{:?} is not a TLP 2.0 label", self.tlp_label),
            );
        }
        let root = &self.checkpoint.root_hash_hex;
        if root.len() != 64 || !root.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return fail(
                "marking.checkpoint.root_hash_hex",
                "the root hash must be 64 hexadecimal digits",
            );
        }
        Ok(())
    }

    /// One line naming the classification, TLP label, generation time and checkpoint.
    pub(crate) fn line(&self, generated_at_text: &str) -> String {
        format!(
            "{} | {} | generated {} | audit checkpoint: tree size {}, root {}",
            self.classification,
            self.tlp_label,
            generated_at_text,
            self.checkpoint.tree_size,
            self.checkpoint.root_hash_hex.to_ascii_lowercase()
        )
    }
}

impl LiveAnnex {
    /// Validates the marking, every result and every piece of manual evidence, keeps the
    /// latest result of each check not later than the generation time, and decides every
    /// status at that time.
    pub fn build(
        results: &[CheckResult],
        manual_evidence: &[ManualEvidence],
        marking: DocumentMarking,
        options: &RenderOptions,
    ) -> Result<Self, ReportError> {
        marking.validate()?;
        let at = marking.generated_at;
        let generated_at_text = rfc3339(at, "marking.generated_at")?;
        for result in results {
            result.validate()?;
        }
        for evidence in manual_evidence {
            evidence.validate()?;
        }
        let latest = latest_results(results, at);

        let mut totals = StatusTotals::default();
        let mut sections = Vec::with_capacity(ANNEX_SECTIONS.len());
        for section in ANNEX_SECTIONS {
            let mut measures = Vec::with_capacity(section.measures.len());
            for measure in section.measures {
                let status = evidence::measure_status(
                    measure.id,
                    latest.iter().copied(),
                    manual_evidence,
                    at,
                );
                match status {
                    Status::Pass => totals.pass += 1,
                    Status::Fail => totals.fail += 1,
                    Status::NotEvidenced => totals.not_evidenced += 1,
                }
                let mut checks = Vec::new();
                for definition in evidence::checks_for_measure(measure.id) {
                    let result = latest.iter().find(|result| result.check_id == definition.id);
                    let live_result =
                        result.map(|result| live_result(result, at, options)).transpose()?;
                    let status = match result {
                        Some(result) if result.is_current_at(at) => {
                            if result.passed {
                                Status::Pass
                            } else {
                                Status::Fail
                            }
                        }
                        _ => Status::NotEvidenced,
                    };
                    checks.push(LiveCheck {
                        id: definition.id,
                        statement: definition.statement,
                        cadence: definition.cadence.as_str(),
                        status,
                        result: live_result,
                    });
                }
                let manual = manual_evidence
                    .iter()
                    .filter(|evidence| evidence.measure_id == measure.id)
                    .map(|evidence| live_manual(evidence, at))
                    .collect();
                measures.push(LiveMeasure {
                    id: measure.id,
                    heading: measure.heading,
                    summary: measure.summary,
                    controls: iso27001::controls_for_measure(measure.id),
                    status,
                    checks,
                    manual_evidence: manual,
                });
            }
            sections.push(LiveSection {
                id: section.id,
                heading: section.heading,
                summary: section.summary,
                measures,
            });
        }
        Ok(Self { title: ANNEX_TITLE, marking, generated_at_text, sections, totals })
    }

    /// The marking line shown in headers and footers.
    pub fn marking_line(&self) -> String {
        self.marking.line(&self.generated_at_text)
    }
}

/// The latest result of each check that ran no later than `at`.
fn latest_results(results: &[CheckResult], at: OffsetDateTime) -> Vec<&CheckResult> {
    let mut latest: Vec<&CheckResult> = Vec::new();
    for result in results.iter().filter(|result| result.ran_at <= at) {
        match latest.iter_mut().find(|kept| kept.check_id == result.check_id) {
            Some(kept) if kept.ran_at < result.ran_at => *kept = result,
            Some(_) => {}
            None => latest.push(result),
        }
    }
    latest
}

fn live_result(
    result: &CheckResult,
    at: OffsetDateTime,
    options: &RenderOptions,
) -> Result<LiveResult, ReportError> {
    Ok(LiveResult {
        ran_at_text: rfc3339(result.ran_at, &format!("result of check {}", result.check_id))?,
        stale: !result.is_current_at(at),
        population: result.population,
        failing_total: result.failing.len(),
        failing_shown: result
            .failing
            .iter()
            .take(options.max_failing_items_per_check)
            .cloned()
            .collect(),
        figures: result.figures.clone(),
    })
}

fn live_manual(evidence: &ManualEvidence, at: OffsetDateTime) -> LiveManualEvidence {
    let location = match &evidence.location {
        evidence::EvidenceLocation::File { file_name, sha256_hex } => {
            format!("file {file_name} (SHA-256 {})", sha256_hex.to_ascii_lowercase())
        }
        evidence::EvidenceLocation::Link { url } => url.clone(),
    };
    LiveManualEvidence {
        description: evidence.description.clone(),
        location,
        observed_on: evidence.observed_at.date().to_string(),
        expires_on: evidence.expires_at.map(|expires| expires.date().to_string()),
        current: evidence.is_current_at(at),
    }
}

/// `12345` → `12,345`.
pub(crate) fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// The sentence that replaces the failing items a document leaves out.
pub(crate) fn omitted_items_note(result: &LiveResult) -> Option<String> {
    let omitted = result.failing_total.saturating_sub(result.failing_shown.len());
    (omitted > 0).then(|| {
        format!(
            "… and {} more failing item(s) not listed ({} in total; the full list is in the evidence export)",
            thousands(omitted),
            thousands(result.failing_total)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
