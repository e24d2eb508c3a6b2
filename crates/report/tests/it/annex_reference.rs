//! The annex structure against the reference annex text, and the parser's totality.

use proptest::prelude::*;
use report::annex::{
    self, ANNEX_SECTIONS, ANNEX_TITLE, parse_annex_bytes, parse_annex_text, read_annex_file,
    structure_mismatches,
};

use crate::support::{read_shared, shared_folder};

#[test]
fn structure_follows_the_reference_annex_heading_by_heading() {
    let Some(bytes) = read_shared("reference/tom-annex.txt") else { return };
    let parsed = parse_annex_bytes(&bytes).expect("the reference annex parses");
    assert_eq!(parsed.title, ANNEX_TITLE);

    let outline = annex::heading_outline();
    assert_eq!(parsed.contents, outline, "contents list differs from the crate's outline");
    let body: Vec<&str> = parsed.headings.iter().map(|heading| heading.text.as_str()).collect();
    assert_eq!(body, outline, "body headings differ from the crate's outline");

    // Section shape: a grouping heading is followed directly by its first sub-heading, and every
    // measure heading (or the section heading of a one-measure section) has text under it.
    let mut headings = parsed.headings.iter();
    for section in ANNEX_SECTIONS {
        let section_heading = headings.next().expect("one heading per section");
        assert_eq!(section_heading.text, section.heading);
        if section.has_subsections() {
            assert!(
                section_heading.content.is_empty(),
                "section {:?} (line {}) groups sub-sections but has its own text",
                section.heading,
                section_heading.line
            );
            for measure in section.measures {
                let sub_heading = headings.next().expect("one heading per sub-section");
                assert_eq!(Some(sub_heading.text.as_str()), measure.heading);
                assert!(
                    !sub_heading.content.is_empty(),
                    "measure {} (line {}) has no text in the reference",
                    measure.id,
                    sub_heading.line
                );
            }
        } else {
            assert!(
                !section_heading.content.is_empty(),
                "section {:?} (line {}) has no text in the reference",
                section.heading,
                section_heading.line
            );
        }
    }
    assert!(headings.next().is_none());
}

#[test]
fn the_reference_annex_shows_no_mismatch_and_edits_to_it_are_located() {
    let Some(bytes) = read_shared("reference/tom-annex.txt") else { return };
    let parsed = read_annex_file(&shared_folder().join("reference/tom-annex.txt")).unwrap();
    assert_eq!(structure_mismatches(&parsed), Vec::<String>::new());
    let text = String::from_utf8(bytes).unwrap();

    // A paragraph slipped under a grouping heading (in the body, not the contents list) is
    // reported at its line.
    let grouping = "\nGouvernance\n\nInformation security policy\n";
    let at = text.rfind(grouping).unwrap();
    let mut grouped = text.clone();
    grouped.replace_range(
        at..at + grouping.len(),
        "\nGouvernance\n\nA new paragraph.\n\nInformation security policy\n",
    );
    let line = grouped.lines().position(|line| line == "A new paragraph.").unwrap() + 1;
    let problems = structure_mismatches(&parse_annex_text(&grouped).unwrap());
    assert_eq!(
        problems,
        [format!(
            "line {line}: section \"Gouvernance\" groups sub-sections but has text of its own"
        )]
    );

    // A renamed sub-section is reported at its contents position.
    let renamed = text.replace("Test data", "Test datasets");
    let problems = structure_mismatches(&parse_annex_text(&renamed).unwrap());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("\"Test datasets\", expected \"Test data\""), "{problems:?}");

    assert!(matches!(
        read_annex_file(&shared_folder().join("reference/no-such-file.txt")),
        Err(report::ReportError::AnnexFile { .. })
    ));
}

/// An annex text built from a title, headings and paragraphs, laid out like the reference.
fn lay_out(title: &str, sections: &[(String, Vec<String>)]) -> String {
    let mut text = format!("\n{title}\n\nSummary\n\n");
    for (heading, _) in sections {
        text.push_str(heading);
        text.push_str("\n\n");
    }
    for (heading, paragraphs) in sections {
        text.push_str(heading);
        text.push_str("\n\n");
        for paragraph in paragraphs {
            text.push_str(paragraph);
            text.push_str("\n\n");
        }
    }
    text
}

fn arbitrary_sections() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    prop::collection::vec(
        (
            "[A-Z][a-z]{1,12}( [a-z]{1,8}){0,4}",
            prop::collection::vec("[a-z ]{0,30}[0-9][a-z ,]{0,40}\\.", 0..4),
        ),
        1..12,
    )
    .prop_map(|sections| {
        sections
            .into_iter()
            .enumerate()
            .map(|(index, (heading, paragraphs))| (format!("{heading} {index}"), paragraphs))
            .collect()
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_give_a_value_or_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_annex_bytes(&bytes);
    }

    #[test]
    fn arbitrary_lines_give_a_value_or_an_error_never_a_panic(lines in prop::collection::vec("(Summary|Context|- [a-z]{0,5}|[A-Za-z ]{0,10}|)", 0..40)) {
        let _ = parse_annex_text(&lines.join("\n"));
    }

    #[test]
    fn laid_out_annexes_parse_back_to_what_was_laid_out(title in "[A-Z][a-z]{2,20}", sections in arbitrary_sections()) {
        let parsed = parse_annex_text(&lay_out(&title, &sections)).expect("a laid-out annex parses");
        prop_assert_eq!(parsed.title, title);
        let headings: Vec<String> = sections.iter().map(|(heading, _)| heading.clone()).collect();
        prop_assert_eq!(&parsed.contents, &headings);
        for (parsed_heading, (heading, paragraphs)) in parsed.headings.iter().zip(&sections) {
            prop_assert_eq!(&parsed_heading.text, heading);
            let content: Vec<String> = parsed_heading.content.iter().map(|line| line.text.clone()).collect();
            let expected: Vec<String> = paragraphs.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
            prop_assert_eq!(content, expected);
        }
    }

    #[test]
    fn dropping_a_body_heading_is_reported_at_its_contents_line(sections in arbitrary_sections(), pick in any::<prop::sample::Index>()) {
        prop_assume!(sections.len() >= 2);
        let missing = 1 + pick.index(sections.len() - 1);
        let text = lay_out("Title", &sections);
        let body_heading_at = text.rmatch_indices(&format!("\n{}\n", sections[missing].0)).next().expect("laid out").0;
        let mut broken = text.clone();
        broken.replace_range(body_heading_at + 1..body_heading_at + 1 + sections[missing].0.len(), "removed.");
        let error = parse_annex_text(&broken).expect_err("a missing heading is an error");
        // Title on line 2, "Summary" on line 4, contents entries every other line from 6.
        let expected_line = 6 + 2 * missing;
        prop_assert!(matches!(error, report::ReportError::AnnexText { line, .. } if line == expected_line), "{error}");
    }
}
