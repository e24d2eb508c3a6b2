//! The live annex as one self-contained HTML page: inline styles, no scripts, no external
//! resources (the Content-Security-Policy says so too), every value escaped.

use std::fmt::Write as _;

use super::{LiveAnnex, LiveCheck, LiveMeasure, omitted_items_note, thousands};
use crate::escape::html as esc;
use crate::evidence::Status;

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}\
header,footer{border:1px solid #888;padding:.4rem .8rem;font-size:.85rem;background:#f4f4f4}\
.status{display:inline-block;padding:0 .4rem;border-radius:.2rem;font-weight:bold;font-size:.85rem}\
.pass{background:#d8f0d8;color:#145214}.fail{background:#f8d7d7;color:#7a1111}.not-evidenced{background:#eee;color:#444}\
.summary{font-style:italic}ul.failing{font-size:.9rem}code{font-size:.85rem}";

fn class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::NotEvidenced => "not-evidenced",
    }
}

fn badge(status: Status) -> String {
    format!("<span class=\"status {}\">{}</span>", class(status), status.as_str().to_uppercase())
}

/// Renders the live annex as a self-contained HTML document.
pub fn render_html(annex: &LiveAnnex) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let marking = esc(&annex.marking_line());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"classification\" content=\"{}\">\n<meta name=\"tlp\" content=\"{}\">\n\
         <meta name=\"generated\" content=\"{}\">\n<meta name=\"audit-checkpoint\" content=\"{} {}\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>{marking}</header>\n<main>\n<h1>{}</h1>\n",
        esc(&annex.marking.classification),
        esc(&annex.marking.tlp_label),
        esc(&annex.generated_at_text),
        annex.marking.checkpoint.tree_size,
        esc(&annex.marking.checkpoint.root_hash_hex.to_ascii_lowercase()),
        esc(annex.title),
        esc(annex.title),
    );
    let totals = annex.totals;
    let _ = writeln!(
        out,
        "<p>Live status of every measure: {} pass, {} fail, {} not evidenced.</p>",
        totals.pass, totals.fail, totals.not_evidenced
    );
    for section in &annex.sections {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n<p class=\"summary\">{}</p>",
            esc(section.id),
            esc(section.heading),
            esc(section.summary)
        );
        for measure in &section.measures {
            write_measure(&mut out, measure);
        }
        out.push_str("</section>\n");
    }
    let _ = write!(out, "</main>\n<footer>{marking}</footer>\n</body>\n</html>\n");
    out
}

fn write_measure(out: &mut String, measure: &LiveMeasure) {
    let _ = writeln!(out, "<article id=\"{}\">", esc(measure.id));
    if let Some(heading) = measure.heading {
        let _ = writeln!(out, "<h3>{}</h3>", esc(heading));
    }
    let _ = writeln!(
        out,
        "<p>{}</p>\n<p>Status: {} · measure <code>{}</code> · ISO/IEC 27001:2022 Annex A: {}</p>\n<ul class=\"checks\">",
        esc(measure.summary),
        badge(measure.status),
        esc(measure.id),
        esc(&measure.controls.join(", "))
    );
    for check in &measure.checks {
        write_check(out, check);
    }
    out.push_str("</ul>\n");
    if !measure.manual_evidence.is_empty() {
        out.push_str("<p>Manual evidence:</p>\n<ul class=\"manual\">\n");
        for evidence in &measure.manual_evidence {
            let expiry = evidence
                .expires_on
                .as_ref()
                .map_or_else(|| "no expiry".to_owned(), |date| format!("expires {date}"));
            let state = if evidence.current { "current" } else { "not current" };
            let _ = writeln!(
                out,
                "<li>{} — {} — observed {}, {}, {state}</li>",
                esc(&evidence.description),
                esc(&evidence.location),
                esc(&evidence.observed_on),
                esc(&expiry)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</article>\n");
}

fn write_check(out: &mut String, check: &LiveCheck) {
    let _ = write!(
        out,
        "<li>{} <code>{}</code> {}",
        badge(check.status),
        esc(check.id),
        esc(check.statement)
    );
    match &check.result {
        None => {
            let _ = write!(out, " — no result yet (runs {})", esc(check.cadence));
        }
        Some(result) => {
            let stale = if result.stale { " (stale)" } else { "" };
            let _ = write!(
                out,
                " — ran <time datetime=\"{0}\">{0}</time>{stale}, {1} item(s) examined, {2} failing",
                esc(&result.ran_at_text),
                thousands(result.population),
                thousands(result.failing_total)
            );
            for figure in &result.figures {
                let _ = write!(out, "; {}: {}", esc(&figure.name), esc(&figure.value));
            }
            if !result.failing_shown.is_empty() {
                out.push_str("\n<ul class=\"failing\">\n");
                for item in &result.failing_shown {
                    let _ = writeln!(
                        out,
                        "<li>{} (<code>{}</code>): {}</li>",
                        esc(&item.label),
                        esc(&item.id),
                        esc(&item.reason)
                    );
                }
                if let Some(note) = omitted_items_note(result) {
                    let _ = writeln!(out, "<li>{}</li>", esc(&note));
                }
                out.push_str("</ul>");
            }
        }
    }
    out.push_str("</li>\n");
}
