//! The TOM annex: its structure as Rust data, and a parser for the annex text.
//!
//! The structure (sections, sub-sections, the measures they promise, stable ids) lives in the
//! crate so that the service needs no file at run time. The summaries are our own one-line
//! restatements of each promise. [`parse_annex_text`] reads an annex text (the reference copy is
//! read only by tests) so that a test can prove the structure follows the reference heading by
//! heading.

use crate::error::ReportError;

/// The annex's document title.
pub const ANNEX_TITLE: &str = "Technical and Organizational Measures";

/// One top-level section of the annex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnexSection {
    /// Stable id, e.g. `governance`.
    pub id: &'static str,
    /// The heading exactly as the annex spells it.
    pub heading: &'static str,
    /// What the section promises, in one line of our own words.
    pub summary: &'static str,
    /// The measures the section promises, in annex order. Empty for the introduction.
    pub measures: &'static [AnnexMeasure],
}

/// One measure: a sub-section of the annex, or the body of a section that has no sub-sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnexMeasure {
    /// Stable id, `<section id>.<measure>`, e.g. `asset.inventory`.
    pub id: &'static str,
    /// The sub-section heading exactly as the annex spells it; `None` when the measure is the
    /// body of its section.
    pub heading: Option<&'static str>,
    /// What is promised, in one line of our own words.
    pub summary: &'static str,
}

impl AnnexSection {
    /// Whether the section groups sub-sections (its heading is followed directly by theirs).
    pub fn has_subsections(&self) -> bool {
        self.measures.iter().any(|measure| measure.heading.is_some())
    }
}

const fn measure(
    id: &'static str,
    heading: Option<&'static str>,
    summary: &'static str,
) -> AnnexMeasure {
    AnnexMeasure { id, heading, summary }
}

/// The annex, section by section, in document order.
pub static ANNEX_SECTIONS: &[AnnexSection] = &[
    AnnexSection {
        id: "context",
        heading: "Context",
        summary: "Why the annex exists, which documents it complements, and what stays the customer's responsibility.",
        measures: &[],
    },
    AnnexSection {
        id: "governance",
        heading: "Gouvernance",
        summary: "Security is steered by a written policy and named roles.",
        measures: &[
            measure(
                "governance.policy",
                Some("Information security policy"),
                "A security policy exists and is reviewed yearly and after significant change.",
            ),
            measure(
                "governance.roles",
                Some("Roles and responsibilities"),
                "An ISMS run on risk management, with documented security roles and a data protection officer.",
            ),
        ],
    },
    AnnexSection {
        id: "audits",
        heading: "Audits and certifications",
        summary: "Security is checked by audits and attested by certifications.",
        measures: &[
            measure(
                "audits.programme",
                Some("Audits"),
                "Internal and external audits take place at least yearly; customers may audit under the DPA.",
            ),
            measure(
                "audits.certifications",
                Some("Certificates and certifications"),
                "Certifications held are published and certificates are available on request.",
            ),
        ],
    },
    AnnexSection {
        id: "personnel",
        heading: "Personnel security",
        summary: "Staff are bound to confidentiality and kept trained.",
        measures: &[
            measure(
                "personnel.confidentiality",
                Some("Confidentiality"),
                "Every staff member is bound by a non-disclosure agreement and an IT usage charter.",
            ),
            measure(
                "personnel.training",
                Some("Awareness and training"),
                "Security and data protection training at hiring, refreshed at least every two years.",
            ),
        ],
    },
    AnnexSection {
        id: "asset",
        heading: "Asset management",
        summary: "Assets are known, owned, protected in use and retired safely.",
        measures: &[
            measure(
                "asset.inventory",
                Some("Inventory and knowledge of assets"),
                "Every physical and virtual asset is inventoried and has a responsible owner.",
            ),
            measure(
                "asset.workplace",
                Some("Workplace security"),
                "Workstations are managed, encrypted, patched, locked when idle and protected against malware.",
            ),
            measure(
                "asset.end_of_life",
                Some("End of asset life"),
                "Unmaintained software is retired and disposed media are securely erased or destroyed.",
            ),
        ],
    },
    AnnexSection {
        id: "information",
        heading: "Information protection",
        summary: "Information is labelled, exchanged safely, kept no longer than needed and masked where possible.",
        measures: &[
            measure(
                "information.classification",
                Some("Classification and marking of information"),
                "Every document carries a confidentiality level.",
            ),
            measure(
                "information.transfer",
                Some("Transfer of information"),
                "Only approved tools carry internal information; external transfers are encrypted and under NDA.",
            ),
            measure(
                "information.retention",
                Some("Retention period and deletion of information"),
                "Personal data no longer needed is deleted or anonymised.",
            ),
            measure(
                "information.masking",
                Some("Data masking"),
                "Pseudonymisation separates identities from sensitive attributes where possible.",
            ),
            measure(
                "information.test_data",
                Some("Test data"),
                "Production personal data is never copied to less protected test environments.",
            ),
        ],
    },
    AnnexSection {
        id: "physical",
        heading: "Physical security",
        summary: "Premises and data centres are access-controlled, watched and protected against environmental threats.",
        measures: &[measure(
            "physical.premises",
            None,
            "Badge access by profile, logged entries, escorted visitors, video at entrances, fire and utility protection, supervised maintenance.",
        )],
    },
    AnnexSection {
        id: "systems",
        heading: "Systems and network security",
        summary: "Systems and networks are reached through strong authentication and kept apart, changed under control and tested.",
        measures: &[
            measure(
                "systems.authentication",
                Some("Secure authentication"),
                "Zero-trust access, strong passwords and a second factor on privileged accounts.",
            ),
            measure(
                "systems.privileged_rights",
                Some("System security"),
                "Privileged rights are restricted and every use is traced.",
            ),
            measure(
                "systems.network",
                Some("Network security"),
                "Networks are segmented and only authorised staff administer network equipment.",
            ),
            measure(
                "systems.exchanges",
                Some("Security of exchanges"),
                "Mail is authenticated against spoofing and sensitive file shares are end-to-end encrypted.",
            ),
            measure(
                "systems.change",
                Some("Change management"),
                "Changes follow a documented procedure; customer-impacting changes are published.",
            ),
            measure(
                "systems.intrusion_tests",
                Some("Supervision of audit tests"),
                "Intrusion tests on production have a defined scope and minimal tester knowledge, without customer impact.",
            ),
        ],
    },
    AnnexSection {
        id: "privacy_by_design",
        heading: "Data protection by design and by default",
        summary: "Security and privacy are built into development from planning to operation.",
        measures: &[
            measure(
                "privacy_by_design.lifecycle",
                Some("Secure Development Lifecycle"),
                "Risk analysis at planning, secure coding at design, acceptance testing before release, log monitoring in operation.",
            ),
            measure(
                "privacy_by_design.secure_coding",
                Some("Secure coding"),
                "Web protections follow OWASP ASVS and static analysis runs on all suitable code.",
            ),
            measure(
                "privacy_by_design.impact_assessment",
                Some("Impact analyzes"),
                "A DPIA is carried out for every processing likely to be high risk.",
            ),
        ],
    },
    AnnexSection {
        id: "staff_iam",
        heading: "Identity and access management for Scaleway staff",
        summary: "Staff identities are central, least-privileged, reviewed and revoked on departure.",
        measures: &[measure(
            "staff_iam.access",
            None,
            "Least privilege, periodic access reviews across the account life cycle, no shared accounts without need, central identities, logged access, full revocation for leavers.",
        )],
    },
    AnnexSection {
        id: "customer_iam",
        heading: "Customer identity and access management",
        summary: "Customers get the means to secure access to their own resources.",
        measures: &[measure(
            "customer_iam.controls",
            None,
            "Password complexity, state-of-the-art password storage, optional MFA, fine-grained permissions, logged privileged use.",
        )],
    },
    AnnexSection {
        id: "monitoring",
        heading: "Monitoring of services and infrastructures",
        summary: "Services are watched for security incidents, critical asset failures and fraud.",
        measures: &[measure(
            "monitoring.detection",
            None,
            "A SIEM detects incidents; critical assets are monitored; fraud is detected.",
        )],
    },
    AnnexSection {
        id: "vulnerability",
        heading: "Threat and vulnerability management",
        summary: "Threat intelligence is gathered and vulnerabilities are found continuously.",
        measures: &[measure(
            "vulnerability.management",
            None,
            "An internal CSIRT and external CERT relations feed threat intelligence; scanners find vulnerabilities on company assets.",
        )],
    },
    AnnexSection {
        id: "continuity",
        heading: "Business continuity",
        summary: "Critical operations can be restored and capacity is planned.",
        measures: &[measure(
            "continuity.plan",
            None,
            "A continuity plan, restoration procedures for critical operations, regular backups, redundancy and capacity monitoring.",
        )],
    },
    AnnexSection {
        id: "subprocessors",
        heading: "Security of relations with sub-processors",
        summary: "Sub-processors are held to an equivalent level of security.",
        measures: &[measure(
            "subprocessors.assurance",
            None,
            "Security checked before contracting and re-checked at renewal or every two years for critical ones; transfer safeguards; an inventory of contracts.",
        )],
    },
    AnnexSection {
        id: "incidents",
        heading: "Management of events related to information security",
        summary: "Security events are reported, detected, handled by a dedicated team and learnt from.",
        measures: &[measure(
            "incidents.response",
            None,
            "Internal and external reporting channels, a SOC, a dedicated CSIRT and continuous improvement of the response.",
        )],
    },
];

/// The section with this id.
pub fn section(id: &str) -> Option<&'static AnnexSection> {
    ANNEX_SECTIONS.iter().find(|section| section.id == id)
}

/// Every measure with its section, in document order.
pub fn measures() -> impl Iterator<Item = (&'static AnnexSection, &'static AnnexMeasure)> {
    ANNEX_SECTIONS
        .iter()
        .flat_map(|section| section.measures.iter().map(move |measure| (section, measure)))
}

/// The measure with this id.
pub fn measure_by_id(id: &str) -> Option<&'static AnnexMeasure> {
    measures().map(|(_, measure)| measure).find(|measure| measure.id == id)
}

/// Every heading (section and sub-section) in document order, as the annex's contents list has
/// them.
pub fn heading_outline() -> Vec<&'static str> {
    let mut outline = Vec::new();
    for section in ANNEX_SECTIONS {
        outline.push(section.heading);
        outline.extend(section.measures.iter().filter_map(|measure| measure.heading));
    }
    outline
}

/// An annex text read by [`parse_annex_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAnnex {
    /// The first non-blank line.
    pub title: String,
    /// The entries of the contents list that follows the `Summary` line, in order.
    pub contents: Vec<String>,
    /// The body, cut at each heading of the contents list.
    pub headings: Vec<ParsedHeading>,
}

/// One heading of the annex body with the lines that follow it up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHeading {
    pub text: String,
    /// 1-based line number of the heading.
    pub line: usize,
    /// The non-blank lines under the heading (paragraphs and `- ` list items), trimmed.
    pub content: Vec<ParsedLine>,
}

/// A non-blank line of annex text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// 1-based line number.
    pub line: usize,
    pub text: String,
}

/// The line that opens the contents list.
pub const CONTENTS_MARKER: &str = "Summary";

/// Longest line accepted as a contents entry; anything longer is prose, not a heading.
const MAX_HEADING_CHARS: usize = 160;

/// Reads and parses an annex file, e.g. the reference copy a test or an operator points to.
pub fn read_annex_file(path: &std::path::Path) -> Result<ParsedAnnex, ReportError> {
    let bytes = std::fs::read(path).map_err(|error| ReportError::AnnexFile {
        path: path.display().to_string(),
        problem: error.to_string(),
    })?;
    parse_annex_bytes(&bytes)
}

/// Where a parsed annex departs from the crate's structure; empty when it follows it. Each
/// problem names the line of the annex text it is about.
///
/// Checked: the title; the contents list and the body headings against
/// [`heading_outline`], in order; a section that groups sub-sections has no text of its own;
/// every measure has text under its heading.
pub fn structure_mismatches(parsed: &ParsedAnnex) -> Vec<String> {
    let mut problems = Vec::new();
    if parsed.title != ANNEX_TITLE {
        problems.push(format!("title is {:?}, expected {ANNEX_TITLE:?}", parsed.title));
    }
    let outline = heading_outline();
    let contents: Vec<&str> = parsed.contents.iter().map(String::as_str).collect();
    if contents != outline {
        let first_difference = contents
            .iter()
            .zip(&outline)
            .position(|(found, expected)| found != expected)
            .unwrap_or(contents.len().min(outline.len()));
        problems.push(format!(
            "contents entry {} is {:?}, expected {:?}",
            first_difference + 1,
            contents.get(first_difference).copied().unwrap_or("(none)"),
            outline.get(first_difference).copied().unwrap_or("(none)")
        ));
        return problems;
    }
    let mut headings = parsed.headings.iter();
    for section in ANNEX_SECTIONS {
        let Some(section_heading) = headings.next() else { break };
        if section.has_subsections() {
            if let Some(first) = section_heading.content.first() {
                problems.push(format!(
                    "line {}: section {:?} groups sub-sections but has text of its own",
                    first.line, section.heading
                ));
            }
            for measure in section.measures {
                let Some(sub_heading) = headings.next() else { break };
                if sub_heading.content.is_empty() {
                    problems.push(format!(
                        "line {}: measure {} ({:?}) has no text",
                        sub_heading.line, measure.id, sub_heading.text
                    ));
                }
            }
        } else if section_heading.content.is_empty() {
            problems.push(format!(
                "line {}: section {:?} has no text",
                section_heading.line, section.heading
            ));
        }
    }
    problems
}

/// Reads annex bytes; see [`parse_annex_text`].
pub fn parse_annex_bytes(bytes: &[u8]) -> Result<ParsedAnnex, ReportError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| ReportError::AnnexNotUtf8 { byte_offset: error.valid_up_to() })?;
    parse_annex_text(text)
}

/// Reads an annex text laid out as the reference is: a title line, a `Summary` line, the
/// contents list (one heading a line), then the body, in which each contents entry reappears in
/// order as a heading line followed by its paragraphs and list items.
///
/// A body line is taken as a heading only when it equals the next expected contents entry, so
/// prose is never mistaken for structure. Total: any input gives a value or an error naming a
/// line.
pub fn parse_annex_text(text: &str) -> Result<ParsedAnnex, ReportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty());

    let (_, title) = lines.next().ok_or_else(|| ReportError::AnnexText {
        line: 1,
        problem: "the text is empty: expected a title line".to_owned(),
    })?;
    let title = title.to_owned();

    match lines.next() {
        Some((_, line)) if line == CONTENTS_MARKER => {}
        Some((number, line)) => {
            return Err(ReportError::AnnexText {
                line: number,
                problem: format!(
                    "expected the contents marker {CONTENTS_MARKER:?} after the title, found {:?}",
                    shorten(line)
                ),
            });
        }
        None => {
            return Err(ReportError::AnnexText {
                line: text.lines().count().max(1),
                problem: format!("the text ends after the title: expected {CONTENTS_MARKER:?}"),
            });
        }
    }

    let mut contents: Vec<(usize, String)> = Vec::new();
    let mut body_start: Option<(usize, String)> = None;
    for (number, line) in lines.by_ref() {
        if contents.first().is_some_and(|(_, first)| first == line) {
            body_start = Some((number, line.to_owned()));
            break;
        }
        if line.starts_with("- ") || line.chars().count() > MAX_HEADING_CHARS {
            return Err(ReportError::AnnexText {
                line: number,
                problem: format!(
                    "contents entry {:?} looks like prose, not a heading",
                    shorten(line)
                ),
            });
        }
        contents.push((number, line.to_owned()));
    }
    let Some((first_line, first_heading)) = body_start else {
        let problem = match contents.first() {
            None => "the contents list is empty".to_owned(),
            Some((_, first)) => format!(
                "the body never starts: the first contents entry {:?} does not reappear as a heading",
                shorten(first)
            ),
        };
        return Err(ReportError::AnnexText { line: text.lines().count().max(1), problem });
    };

    let mut headings =
        vec![ParsedHeading { text: first_heading, line: first_line, content: Vec::new() }];
    for (number, line) in lines {
        let expected = contents.get(headings.len()).map(|(_, heading)| heading.as_str());
        if expected == Some(line) {
            headings.push(ParsedHeading {
                text: line.to_owned(),
                line: number,
                content: Vec::new(),
            });
        } else if let Some(current) = headings.last_mut() {
            current.content.push(ParsedLine { line: number, text: line.to_owned() });
        }
    }
    if let Some((listed_at, missing)) = contents.get(headings.len()) {
        return Err(ReportError::AnnexText {
            line: *listed_at,
            problem: format!(
                "contents entry {:?} never appears as a heading in the body (after line {})",
                shorten(missing),
                headings.last().map_or(first_line, |heading| heading.line)
            ),
        });
    }
    Ok(ParsedAnnex {
        title,
        contents: contents.into_iter().map(|(_, heading)| heading).collect(),
        headings,
    })
}

/// Error messages quote at most 60 characters of an offending line.
fn shorten(line: &str) -> String {
    const LIMIT: usize = 60;
    if line.chars().count() <= LIMIT {
        line.to_owned()
    } else {
        let mut short: String = line.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_prefixed_by_their_section() {
        let mut seen = HashSet::new();
        for section in ANNEX_SECTIONS {
            assert!(seen.insert(section.id), "duplicate id {}", section.id);
            for measure in section.measures {
                assert!(seen.insert(measure.id), "duplicate id {}", measure.id);
                assert!(measure.id.starts_with(&format!("{}.", section.id)), "{}", measure.id);
            }
        }
    }

    #[test]
    fn a_section_either_groups_sub_sections_or_is_itself_one_measure() {
        for section in ANNEX_SECTIONS {
            let with_heading = section.measures.iter().filter(|m| m.heading.is_some()).count();
            assert!(
                with_heading == section.measures.len()
                    || (with_heading == 0 && section.measures.len() <= 1),
                "section {} mixes headed and unheaded measures",
                section.id
            );
        }
    }

    #[test]
    fn lookups_find_what_the_table_holds() {
        assert_eq!(
            measure_by_id("asset.inventory").and_then(|m| m.heading),
            Some("Inventory and knowledge of assets")
        );
        assert_eq!(section("physical").map(|s| s.has_subsections()), Some(false));
        assert_eq!(section("systems").map(|s| s.has_subsections()), Some(true));
        assert!(measure_by_id("asset").is_none());
    }

    #[test]
    fn parser_reports_the_line_of_each_problem() {
        assert!(matches!(parse_annex_text(""), Err(ReportError::AnnexText { line: 1, .. })));
        assert!(matches!(
            parse_annex_text("Title\n\nContents\n"),
            Err(ReportError::AnnexText { line: 3, .. })
        ));
        assert!(matches!(
            parse_annex_text("Title\nSummary\nA\nB\nA\ntext\n"),
            Err(ReportError::AnnexText { line: 4, .. })
        ));
        assert!(matches!(
            parse_annex_bytes(b"Title\n\xff"),
            Err(ReportError::AnnexNotUtf8 { byte_offset: 6 })
        ));
    }

    #[test]
    fn parser_cuts_the_body_at_contents_headings_only() {
        let parsed =
            parse_annex_text("T\nSummary\nA\nB\nA\nB is not a heading here\nB\n- item\n").unwrap();
        assert_eq!(parsed.contents, ["A", "B"]);
        assert_eq!(parsed.headings.len(), 2);
        assert_eq!(parsed.headings[0].content[0].text, "B is not a heading here");
        assert_eq!(parsed.headings[1].line, 7);
        assert_eq!(parsed.headings[1].content[0].text, "- item");
    }
}
