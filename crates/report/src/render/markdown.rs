//! The live annex as Markdown (CommonMark). Text that comes from the service (labels, reasons,
//! figures, marking) is escaped; the annex's own headings and statements are the crate's data.

use std::fmt::Write as _;

use super::{LiveAnnex, LiveCheck, LiveMeasure, omitted_items_note, thousands};
use crate::escape::markdown_inline as esc;
use crate::evidence::Status;

fn badge(status: Status) -> &'static str {
    match status {
        Status::Pass => "**PASS**",
        Status::Fail => "**FAIL**",
        Status::NotEvidenced => "**NOT EVIDENCED**",
    }
}

/// Renders the live annex as Markdown, with the marking above and below the content.
pub fn render_markdown(annex: &LiveAnnex) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let marking = esc(&annex.marking_line());
    let _ = writeln!(out, "> {marking}\n");
    let _ = writeln!(out, "# {}\n", annex.title);
    let totals = annex.totals;
    let _ = writeln!(
        out,
        "Live status of every measure: {} pass, {} fail, {} not evidenced.\n",
        totals.pass, totals.fail, totals.not_evidenced
    );
    for section in &annex.sections {
        let _ = writeln!(out, "## {}\n", section.heading);
        let _ = writeln!(out, "*{}*\n", section.summary);
        for measure in &section.measures {
            write_measure(&mut out, measure);
        }
    }
    let _ = writeln!(out, "---\n\n> {marking}");
    out
}

fn write_measure(out: &mut String, measure: &LiveMeasure) {
    if let Some(heading) = measure.heading {
        let _ = writeln!(out, "### {heading}\n");
    }
    let _ = writeln!(out, "{}\n", measure.summary);
    let _ = writeln!(
        out,
        "Status: {} · measure `{}` · ISO/IEC 27001:2022 Annex A: {}\n",
        badge(measure.status),
        measure.id,
        measure.controls.join(", ")
    );
    for check in &measure.checks {
        write_check(out, check);
    }
    if !measure.checks.is_empty() {
        out.push('\n');
    }
    if !measure.manual_evidence.is_empty() {
        let _ = writeln!(out, "Manual evidence:\n");
        for evidence in &measure.manual_evidence {
            let expiry = evidence
                .expires_on
                .as_ref()
                .map_or_else(|| "no expiry".to_owned(), |date| format!("expires {date}"));
            let state = if evidence.current { "current" } else { "not current" };
            let _ = writeln!(
                out,
                "- {} — {} — observed {}, {}, {state}",
                esc(&evidence.description),
                esc(&evidence.location),
                evidence.observed_on,
                expiry
            );
        }
        out.push('\n');
    }
}

fn write_check(out: &mut String, check: &LiveCheck) {
    let _ = write!(out, "- {} `{}` {}", badge(check.status), check.id, check.statement);
    match &check.result {
        None => {
            let _ = writeln!(out, " — no result yet (runs {})", check.cadence);
        }
        Some(result) => {
            let stale = if result.stale { " (stale)" } else { "" };
            let _ = write!(
                out,
                " — ran {}{stale}, {} item(s) examined, {} failing",
                result.ran_at_text,
                thousands(result.population),
                thousands(result.failing_total)
            );
            for figure in &result.figures {
                let _ = write!(out, "; {}: {}", esc(&figure.name), esc(&figure.value));
            }
            out.push('\n');
            for item in &result.failing_shown {
                let _ = writeln!(
                    out,
                    "  - {} ({}): {}",
                    esc(&item.label),
                    esc(&item.id),
                    esc(&item.reason)
                );
            }
            if let Some(note) = omitted_items_note(result) {
                let _ = writeln!(out, "  - {}", esc(&note));
            }
        }
    }
}
