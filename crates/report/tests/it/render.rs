//! Rendering of the live annex in Markdown, HTML and PDF.

use proptest::prelude::*;
use report::annex::{self, ANNEX_SECTIONS};
use report::evidence::*;
use report::render::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::tool_available;

const NOW: OffsetDateTime = datetime!(2026-06-15 12:00 UTC);
const ROOT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const INJECTION: &str =
    "<script>alert('x')</script><img src=x onerror=alert(1)>[link](javascript:alert(2))";

fn marking() -> DocumentMarking {
    DocumentMarking {
        classification: "Confidential".to_owned(),
        tlp_label: "TLP:AMBER".to_owned(),
        generated_at: NOW,
        checkpoint: AuditCheckpoint { tree_size: 48_213, root_hash_hex: ROOT.to_owned() },
    }
}

fn account(id: &str, label: &str, mfa: bool) -> AccountFact {
    AccountFact {
        id: id.to_owned(),
        label: label.to_owned(),
        active: true,
        privileged: true,
        mfa_enrolled: mfa,
        shared: false,
        shared_exception_approved: false,
        last_used_at: Some(NOW - Duration::days(1)),
    }
}

/// Privileged MFA fails for an account whose label is an injection attempt; asset owners fail
/// for 10,000 assets; policy reviews pass; physical security has manual evidence.
fn evidence() -> (Vec<CheckResult>, Vec<ManualEvidence>) {
    let accounts = vec![account("acc-1", "Alice", true), account("acc-2", INJECTION, false)];
    let assets: Vec<AssetFact> = (0..10_000)
        .map(|index| AssetFact {
            id: format!("asset-{index}"),
            label: format!("server {index}"),
            owner: None,
            disposed_at: None,
            erasure_record: None,
        })
        .collect();
    let policies = vec![DatedRecordFact {
        id: "pol-1".to_owned(),
        label: "Security policy".to_owned(),
        last_at: Some(NOW - Duration::days(30)),
    }];
    let results = vec![
        check_privileged_mfa(&accounts, NOW - Duration::minutes(10)),
        check_asset_owners(&assets, NOW - Duration::hours(2)),
        check_policy_reviews(&policies, NOW - Duration::days(3)),
    ];
    let manual = vec![ManualEvidence {
        id: "m-1".to_owned(),
        measure_id: "physical.premises".to_owned(),
        description: "Data centre certificate".to_owned(),
        location: EvidenceLocation::Link { url: "https://example.org/dc-cert".to_owned() },
        observed_at: NOW - Duration::days(20),
        expires_at: Some(NOW + Duration::days(345)),
    }];
    (results, manual)
}

fn live() -> LiveAnnex {
    let (results, manual) = evidence();
    LiveAnnex::build(&results, &manual, marking(), &RenderOptions::default()).unwrap()
}

fn headings() -> Vec<&'static str> {
    annex::heading_outline()
}

/// The text shown by each `Tj` operator of an uncompressed PDF written by this crate, decoded
/// from WinAnsiEncoding (literal strings with backslash escapes, or hex strings).
fn pdf_text_lines(pdf: &[u8]) -> Vec<String> {
    let decode = |bytes: &[u8]| -> String {
        bytes
            .iter()
            .map(|&byte| match byte {
                0x85 => '…',
                0x95 => '•',
                0x96 => '–',
                0x97 => '—',
                other => char::from(other),
            })
            .collect()
    };
    let mut lines = Vec::new();
    for raw_line in pdf.split(|&byte| byte == b'\n') {
        let Some(operand) = raw_line.strip_suffix(b" Tj") else { continue };
        if let Some(hex) = operand.strip_prefix(b"<").and_then(|rest| rest.strip_suffix(b">")) {
            let bytes: Vec<u8> = hex
                .chunks(2)
                .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
                .collect();
            lines.push(decode(&bytes));
        } else if let Some(literal) =
            operand.strip_prefix(b"(").and_then(|rest| rest.strip_suffix(b")"))
        {
            let mut bytes = Vec::new();
            let mut escaped = false;
            for &byte in literal {
                if escaped || byte != b'\\' {
                    bytes.push(byte);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            lines.push(decode(&bytes));
        }
    }
    lines
}

fn measure<'a>(annex: &'a LiveAnnex, id: &str) -> &'a LiveMeasure {
    annex
        .sections
        .iter()
        .flat_map(|section| &section.measures)
        .find(|measure| measure.id == id)
        .unwrap()
}

#[test]
fn statuses_follow_the_evidence() {
    let annex = live();
    assert_eq!(annex.sections.len(), ANNEX_SECTIONS.len());
    assert_eq!(measure(&annex, "systems.authentication").status, Status::Fail);
    assert_eq!(measure(&annex, "asset.inventory").status, Status::Fail);
    assert_eq!(measure(&annex, "governance.policy").status, Status::Pass);
    assert_eq!(measure(&annex, "physical.premises").status, Status::Pass);
    assert_eq!(measure(&annex, "continuity.plan").status, Status::NotEvidenced);
    let measures = annex::measures().count();
    assert_eq!(annex.totals.pass + annex.totals.fail + annex.totals.not_evidenced, measures);
    assert_eq!((annex.totals.pass, annex.totals.fail), (2, 3), "{:?}", annex.totals);
}

#[test]
fn the_latest_result_decides_and_stale_results_decide_nothing() {
    let (mut results, manual) = evidence();
    // A later passing MFA result replaces the failing one.
    results
        .push(check_privileged_mfa(&[account("acc-1", "Alice", true)], NOW - Duration::minutes(1)));
    // A result from after the generation time is ignored.
    results.push(check_policy_reviews(
        &[DatedRecordFact { id: "p".to_owned(), label: "p".to_owned(), last_at: None }],
        NOW + Duration::hours(1),
    ));
    let annex = LiveAnnex::build(&results, &manual, marking(), &RenderOptions::default()).unwrap();
    assert_eq!(measure(&annex, "systems.authentication").status, Status::Pass);
    assert_eq!(measure(&annex, "governance.policy").status, Status::Pass);

    let stale = vec![check_privileged_mfa(&[account("a", "a", false)], NOW - Duration::hours(3))];
    let annex = LiveAnnex::build(&stale, &[], marking(), &RenderOptions::default()).unwrap();
    let authentication = measure(&annex, "systems.authentication");
    assert_eq!(authentication.status, Status::NotEvidenced);
    let check = authentication.checks.iter().find(|check| check.id == ids::PRIVILEGED_MFA).unwrap();
    assert!(check.result.as_ref().unwrap().stale);
    assert!(render_markdown(&annex).contains("(stale)"));
}

#[test]
fn bad_inputs_are_refused_with_their_location() {
    let (results, manual) = evidence();
    let options = RenderOptions::default();
    let error = LiveAnnex::build(
        &results,
        &manual,
        DocumentMarking { tlp_label: "TLP:WHITE".to_owned(), ..marking() },
        &options,
    )
    .unwrap_err();
    assert!(error.to_string().contains("marking.tlp_label"), "{error}");
    let bad_root = DocumentMarking {
        checkpoint: AuditCheckpoint { tree_size: 1, root_hash_hex: "xyz".to_owned() },
        ..marking()
    };
    let error = LiveAnnex::build(&results, &manual, bad_root, &options).unwrap_err();
    assert!(error.to_string().contains("root_hash_hex"), "{error}");
    let mut lying = results.clone();
    lying[0].passed = true;
    let error = LiveAnnex::build(&lying, &manual, marking(), &options).unwrap_err();
    assert!(error.to_string().contains(ids::PRIVILEGED_MFA), "{error}");
    let mut unknown = results;
    unknown[0].check_id = "no.such.check".to_owned();
    assert!(LiveAnnex::build(&unknown, &manual, marking(), &options).is_err());
}

#[test]
fn every_heading_appears_in_order_in_markdown_and_html() {
    let annex = live();
    let markdown = render_markdown(&annex);
    // Every Markdown heading stands apart from the block before it.
    let lines: Vec<&str> = markdown.lines().collect();
    for (index, line) in lines.iter().enumerate().skip(1) {
        if line.starts_with('#') {
            assert_eq!(lines[index - 1], "", "no blank line before {line:?}");
        }
    }
    let html = render_html(&annex);
    let mut markdown_from = 0;
    let mut html_from = 0;
    for heading in headings() {
        let position =
            markdown[markdown_from..].find(&format!("# {heading}\n")).unwrap_or_else(|| {
                panic!("Markdown lacks heading {heading:?} after byte {markdown_from}")
            });
        markdown_from += position + 1;
        let position = html[html_from..]
            .find(&format!(">{heading}</h"))
            .unwrap_or_else(|| panic!("HTML lacks heading {heading:?} after byte {html_from}"));
        html_from += position + 1;
    }
}

#[test]
fn every_heading_appears_in_the_pdf() {
    let pdf = render_pdf(&live());
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    let lines = pdf_text_lines(&pdf);
    let mut from = 0;
    for heading in headings() {
        let position = lines[from..]
            .iter()
            .position(|line| line == heading)
            .unwrap_or_else(|| panic!("PDF lacks heading {heading:?} as a line of its own"));
        from += position + 1;
    }
}

#[test]
fn untrusted_text_is_escaped_in_html_and_markdown() {
    let annex = live();
    let html = render_html(&annex);
    assert!(!html.contains("<script"), "raw script tag in HTML");
    assert!(!html.contains("<img"), "raw img tag in HTML");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("Content-Security-Policy"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "HTML must not load anything"
    );

    let markdown = render_markdown(&annex);
    assert!(!markdown.contains("[link](javascript"), "live Markdown link");
    assert!(markdown.contains("\\[link\\]\\(javascript:alert\\(2\\)\\)"));
    // Every angle bracket in the Markdown is a backslash-escaped literal.
    for (offset, _) in markdown.match_indices('<') {
        assert_eq!(&markdown[offset - 1..offset], "\\", "unescaped < at byte {offset}");
    }
}

#[test]
fn long_failing_lists_are_cut_and_counted() {
    let annex = live();
    let inventory = measure(&annex, "asset.inventory");
    let result = inventory
        .checks
        .iter()
        .find(|check| check.id == ids::ASSET_OWNER)
        .unwrap()
        .result
        .as_ref()
        .unwrap();
    assert_eq!(result.failing_total, 10_000);
    assert_eq!(result.failing_shown.len(), RenderOptions::default().max_failing_items_per_check);
    let pdf_text = pdf_text_lines(&render_pdf(&annex)).join("\n");
    for document in [render_markdown(&annex), render_html(&annex), pdf_text] {
        assert!(
            document.contains("9,975 more failing item"),
            "missing count in {}",
            &document[..60]
        );
        assert!(document.contains("asset-24") && !document.contains("asset-25)"));
    }
}

#[test]
fn every_format_carries_the_marking() {
    let annex = live();
    let pdf_bytes = render_pdf(&annex);
    let pdf = String::from_utf8_lossy(&pdf_bytes).into_owned();
    let pdf_text = pdf_text_lines(&pdf_bytes);
    for document in [render_markdown(&annex), render_html(&annex), pdf_text.join("\n")] {
        for needle in ["Confidential", "TLP:AMBER", "2026-06-15T12:00:00Z", "tree size 48213", ROOT]
        {
            assert!(document.contains(needle), "marking {needle:?} missing");
        }
    }
    // Header and footer of every page, and the document information dictionary.
    let pages = page_count(&pdf);
    assert!(pages >= 2, "expected several pages, got {pages}");
    assert_eq!(pdf.matches("(Confidential  TLP:AMBER) Tj").count(), 2 * pages);
    assert_eq!(
        pdf.matches(&format!("(audit checkpoint: tree size 48213, root {ROOT}) Tj")).count(),
        pages
    );
    assert!(pdf.contains(&format!("(Page {pages} of {pages}) Tj")));
    assert!(pdf.contains("/Subject (Confidential TLP:AMBER)"));
    assert!(pdf.contains("/CreationDate (D:20260615120000"));
}

/// The page count of the page tree.
fn page_count(pdf: &str) -> usize {
    let marker = "/Count ";
    let start = pdf.find(marker).unwrap() + marker.len();
    pdf[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

#[test]
fn the_pdf_renders_to_a_page_image() {
    if !tool_available("pdftoppm") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let pdf_path = folder.path().join("annex.pdf");
    std::fs::write(&pdf_path, render_pdf(&live())).unwrap();
    let output = std::process::Command::new("pdftoppm")
        .args(["-r", "20", "-f", "1", "-l", "2", "-png"])
        .arg(&pdf_path)
        .arg(folder.path().join("page"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pdftoppm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "pdftoppm complained: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let images: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".png"))
        .collect();
    assert_eq!(images.len(), 2, "one image per requested page");
    for image in images {
        let bytes = std::fs::read(image.path()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn html_structure_does_not_depend_on_label_content(label in ".{0,40}", reason in ".{0,40}") {
        let build = |label: &str, reason: &str| {
            let mut result = check_privileged_mfa(&[account("x", label, false)], NOW);
            result.failing[0].reason = reason.to_owned();
            LiveAnnex::build(&[result], &[], marking(), &RenderOptions::default()).unwrap()
        };
        let tags = |html: &str| html.matches('<').count();
        prop_assert_eq!(tags(&render_html(&build(&label, &reason))), tags(&render_html(&build("x", "y"))));
        let lines = |markdown: &str| markdown.lines().count();
        prop_assert_eq!(lines(&render_markdown(&build(&label, &reason))), lines(&render_markdown(&build("x", "y"))));
        let pdf = render_pdf(&build(&label, &reason));
        prop_assert!(pdf.starts_with(b"%PDF-"));
    }
}
