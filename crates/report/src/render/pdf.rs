//! The live annex as PDF, written with `pdf-writer` and the standard Helvetica fonts (nothing
//! embedded, nothing external). Line wrapping uses the Helvetica advance widths; pagination
//! keeps a heading with the lines after it. Every page carries the marking in its header and
//! footer, and the document information dictionary carries it too.

use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use time::UtcOffset;

use super::{LiveAnnex, LiveCheck, LiveMeasure, omitted_items_note, thousands};
use crate::evidence::Status;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN_LEFT: f32 = 56.0;
const MARGIN_RIGHT: f32 = 56.0;
const BODY_TOP: f32 = PAGE_HEIGHT - 78.0;
const BODY_BOTTOM: f32 = 64.0;
const TEXT_WIDTH: f32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

#[derive(Debug, Clone, Copy)]
struct Colour(f32, f32, f32);

const BLACK: Colour = Colour(0.0, 0.0, 0.0);
const GREY: Colour = Colour(0.35, 0.35, 0.35);

fn status_colour(status: Status) -> Colour {
    match status {
        Status::Pass => Colour(0.08, 0.45, 0.08),
        Status::Fail => Colour(0.65, 0.05, 0.05),
        Status::NotEvidenced => GREY,
    }
}

/// One laid-out line of text.
#[derive(Debug, Clone)]
struct Line {
    weight: Weight,
    size: f32,
    indent: f32,
    colour: Colour,
    /// Extra space above the line.
    space_before: f32,
    /// Start a new page unless this line and two more fit.
    keep_with_next: bool,
    text: Vec<u8>,
}

/// Builds the document's lines paragraph by paragraph.
#[derive(Default)]
struct Flow {
    lines: Vec<Line>,
}

struct Paragraph {
    weight: Weight,
    size: f32,
    indent: f32,
    colour: Colour,
    space_before: f32,
    keep_with_next: bool,
}

impl Paragraph {
    const fn body(indent: f32) -> Self {
        Self {
            weight: Weight::Regular,
            size: 9.5,
            indent,
            colour: BLACK,
            space_before: 0.0,
            keep_with_next: false,
        }
    }
}

impl Flow {
    fn push(&mut self, style: &Paragraph, text: &str) {
        let width = TEXT_WIDTH - style.indent;
        for (index, wrapped) in wrap(text, style.weight, style.size, width).into_iter().enumerate()
        {
            self.lines.push(Line {
                weight: style.weight,
                size: style.size,
                // Continuation lines of a list item hang under its text.
                indent: style.indent
                    + if index > 0 && text.starts_with("• ") { 8.0 } else { 0.0 },
                colour: style.colour,
                space_before: if index == 0 { style.space_before } else { 0.0 },
                keep_with_next: style.keep_with_next,
                text: wrapped,
            });
        }
    }
}

/// Renders the live annex as a PDF document.
pub fn render_pdf(annex: &LiveAnnex) -> Vec<u8> {
    let mut flow = Flow::default();
    flow.push(
        &Paragraph {
            weight: Weight::Bold,
            size: 18.0,
            indent: 0.0,
            colour: BLACK,
            space_before: 0.0,
            keep_with_next: true,
        },
        annex.title,
    );
    flow.push(
        &Paragraph { space_before: 4.0, ..Paragraph::body(0.0) },
        &format!(
            "Live status of every measure: {} pass, {} fail, {} not evidenced.",
            annex.totals.pass, annex.totals.fail, annex.totals.not_evidenced
        ),
    );
    for section in &annex.sections {
        flow.push(
            &Paragraph {
                weight: Weight::Bold,
                size: 14.0,
                indent: 0.0,
                colour: BLACK,
                space_before: 14.0,
                keep_with_next: true,
            },
            section.heading,
        );
        flow.push(&Paragraph { colour: GREY, ..Paragraph::body(0.0) }, section.summary);
        for measure in &section.measures {
            push_measure(&mut flow, measure);
        }
    }
    assemble(annex, &paginate(flow.lines))
}

fn push_measure(flow: &mut Flow, measure: &LiveMeasure) {
    if let Some(heading) = measure.heading {
        flow.push(
            &Paragraph {
                weight: Weight::Bold,
                size: 11.5,
                indent: 0.0,
                colour: BLACK,
                space_before: 9.0,
                keep_with_next: true,
            },
            heading,
        );
    }
    flow.push(
        &Paragraph { space_before: 3.0, keep_with_next: true, ..Paragraph::body(0.0) },
        measure.summary,
    );
    flow.push(
        &Paragraph {
            weight: Weight::Bold,
            colour: status_colour(measure.status),
            space_before: 2.0,
            keep_with_next: true,
            ..Paragraph::body(0.0)
        },
        &format!(
            "Status: {} - measure {} - ISO/IEC 27001:2022 Annex A: {}",
            measure.status.as_str().to_uppercase(),
            measure.id,
            measure.controls.join(", ")
        ),
    );
    for check in &measure.checks {
        push_check(flow, check);
    }
    if !measure.manual_evidence.is_empty() {
        flow.push(&Paragraph { space_before: 2.0, ..Paragraph::body(10.0) }, "Manual evidence:");
        for evidence in &measure.manual_evidence {
            let expiry = evidence
                .expires_on
                .as_ref()
                .map_or_else(|| "no expiry".to_owned(), |date| format!("expires {date}"));
            let state = if evidence.current { "current" } else { "not current" };
            flow.push(
                &Paragraph { size: 8.5, ..Paragraph::body(16.0) },
                &format!(
                    "• {} - {} - observed {}, {expiry}, {state}",
                    evidence.description, evidence.location, evidence.observed_on
                ),
            );
        }
    }
}

fn push_check(flow: &mut Flow, check: &LiveCheck) {
    let mut text =
        format!("• [{}] {} ({})", check.status.as_str().to_uppercase(), check.statement, check.id);
    match &check.result {
        None => text.push_str(&format!(" - no result yet (runs {})", check.cadence)),
        Some(result) => {
            let stale = if result.stale { " (stale)" } else { "" };
            text.push_str(&format!(
                " - ran {}{stale}, {} item(s) examined, {} failing",
                result.ran_at_text,
                thousands(result.population),
                thousands(result.failing_total)
            ));
            for figure in &result.figures {
                text.push_str(&format!("; {}: {}", figure.name, figure.value));
            }
        }
    }
    flow.push(
        &Paragraph {
            size: 9.0,
            colour: status_colour(check.status),
            space_before: 2.0,
            ..Paragraph::body(10.0)
        },
        &text,
    );
    if let Some(result) = &check.result {
        for item in &result.failing_shown {
            flow.push(
                &Paragraph { size: 8.0, ..Paragraph::body(22.0) },
                &format!("• {} ({}): {}", item.label, item.id, item.reason),
            );
        }
        if let Some(note) = omitted_items_note(result) {
            flow.push(&Paragraph { size: 8.0, colour: GREY, ..Paragraph::body(22.0) }, &note);
        }
    }
}

/// Splits lines into pages. A run of lines marked `keep_with_next` (a heading, a summary, a
/// status line) moves to a new page together with the line after it when they would not fit.
fn paginate(lines: Vec<Line>) -> Vec<Vec<(f32, Line)>> {
    let heights: Vec<f32> = lines.iter().map(|line| line.space_before + line.size * 1.3).collect();
    let keeps: Vec<bool> = lines.iter().map(|line| line.keep_with_next).collect();
    let mut pages = vec![Vec::new()];
    let mut y = BODY_TOP;
    for (index, line) in lines.into_iter().enumerate() {
        let starts_run = line.keep_with_next
            && !index
                .checked_sub(1)
                .and_then(|previous| keeps.get(previous))
                .copied()
                .unwrap_or(false);
        let needed = if starts_run {
            let run = keeps.iter().skip(index).take_while(|keep| **keep).count();
            heights.iter().skip(index).take(run + 1).sum()
        } else {
            heights.get(index).copied().unwrap_or(0.0)
        };
        let on_fresh_page = pages.last().is_some_and(Vec::is_empty);
        if y - needed < BODY_BOTTOM && !on_fresh_page {
            pages.push(Vec::new());
            y = BODY_TOP;
        }
        let space_before =
            if pages.last().is_some_and(Vec::is_empty) { 0.0 } else { line.space_before };
        y -= space_before + line.size * 1.3;
        if let Some(page) = pages.last_mut() {
            page.push((y + line.size * 0.3, line));
        }
    }
    pages
}

fn show(
    content: &mut Content,
    weight: Weight,
    size: f32,
    colour: Colour,
    x: f32,
    y: f32,
    text: &[u8],
) {
    let font = match weight {
        Weight::Regular => REGULAR,
        Weight::Bold => BOLD,
    };
    content.set_fill_rgb(colour.0, colour.1, colour.2);
    content.begin_text();
    content.set_font(font, size);
    content.next_line(x, y);
    content.show(Str(text));
    content.end_text();
}

fn assemble(annex: &LiveAnnex, pages: &[Vec<(f32, Line)>]) -> Vec<u8> {
    let catalog_id = Ref::new(1);
    let page_tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|index| Ref::new(6 + 2 * index as i32)).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(page_tree_id);
    pdf.pages(page_tree_id).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

    let marking = &annex.marking;
    let checkpoint = format!(
        "audit checkpoint: tree size {}, root {}",
        marking.checkpoint.tree_size,
        marking.checkpoint.root_hash_hex.to_ascii_lowercase()
    );
    let mut info = pdf.document_info(info_id);
    info.title(TextStr(annex.title));
    info.subject(TextStr(&format!("{} {}", marking.classification, marking.tlp_label)));
    info.keywords(TextStr(&format!(
        "{}; {}; {checkpoint}",
        marking.classification, marking.tlp_label
    )));
    info.creator(TextStr("Rampart"));
    info.producer(TextStr("Rampart report"));
    info.creation_date(pdf_date(marking.generated_at));
    info.finish();

    let classification_line = encode(&format!("{}  {}", marking.classification, marking.tlp_label));
    let generated_line = encode(&format!("Generated {}", annex.generated_at_text));
    let checkpoint_line = encode(&checkpoint);
    for (index, page) in pages.iter().enumerate() {
        let page_id = page_ids.get(index).copied().unwrap_or(page_tree_id);
        let content_id = Ref::new(page_id.get() + 1);
        let mut content = Content::new();
        // Header: classification and TLP on the left, generation time on the right.
        show(
            &mut content,
            Weight::Bold,
            9.0,
            BLACK,
            MARGIN_LEFT,
            PAGE_HEIGHT - 40.0,
            &classification_line,
        );
        let generated_x =
            PAGE_WIDTH - MARGIN_RIGHT - text_width(&generated_line, Weight::Regular, 7.5);
        show(
            &mut content,
            Weight::Regular,
            7.5,
            GREY,
            generated_x,
            PAGE_HEIGHT - 40.0,
            &generated_line,
        );
        content.set_stroke_gray(0.6);
        content.set_line_width(0.5);
        content.move_to(MARGIN_LEFT, PAGE_HEIGHT - 48.0);
        content.line_to(PAGE_WIDTH - MARGIN_RIGHT, PAGE_HEIGHT - 48.0);
        content.move_to(MARGIN_LEFT, 46.0);
        content.line_to(PAGE_WIDTH - MARGIN_RIGHT, 46.0);
        content.stroke();
        for (y, line) in page {
            show(
                &mut content,
                line.weight,
                line.size,
                line.colour,
                MARGIN_LEFT + line.indent,
                *y,
                &line.text,
            );
        }
        // Footer: classification, checkpoint and page number.
        show(&mut content, Weight::Bold, 7.5, BLACK, MARGIN_LEFT, 34.0, &classification_line);
        show(&mut content, Weight::Regular, 7.0, GREY, MARGIN_LEFT, 24.0, &checkpoint_line);
        let page_number = encode(&format!("Page {} of {}", index + 1, pages.len()));
        let number_x = PAGE_WIDTH - MARGIN_RIGHT - text_width(&page_number, Weight::Regular, 7.5);
        show(&mut content, Weight::Regular, 7.5, GREY, number_x, 34.0, &page_number);

        let mut page_writer = pdf.page(page_id);
        page_writer.parent(page_tree_id);
        page_writer.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page_writer.contents(content_id);
        let mut resources = page_writer.resources();
        resources.fonts().pair(REGULAR, regular_id).pair(BOLD, bold_id);
        resources.finish();
        page_writer.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

fn pdf_date(moment: time::OffsetDateTime) -> Date {
    let utc = moment.to_offset(UtcOffset::UTC);
    Date::new(u16::try_from(utc.year()).unwrap_or(0))
        .month(u8::from(utc.month()))
        .day(utc.day())
        .hour(utc.hour())
        .minute(utc.minute())
        .second(utc.second())
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

/// Encodes text in WinAnsiEncoding (Windows-1252), the encoding the standard fonts are
/// declared with. Characters it cannot hold become `?`; control characters become spaces.
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|character| match character {
            ' '..='~' => character as u8,
            '\u{A0}'..='\u{FF}' => character as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            c if c.is_control() || c.is_whitespace() => b' ',
            _ => b'?',
        })
        .collect()
}

/// Advance widths, in thousandths of the font size, of Helvetica and Helvetica-Bold for the
/// printable ASCII range (from the fonts' published metrics).
const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

fn byte_width(byte: u8, weight: Weight) -> u16 {
    let table = match weight {
        Weight::Regular => &HELVETICA_ASCII,
        Weight::Bold => &HELVETICA_BOLD_ASCII,
    };
    match byte {
        0x20..=0x7E => table.get(usize::from(byte - 0x20)).copied().unwrap_or(1000),
        0x95 => 350,
        // Outside ASCII assume the widest letters, so a wrapped line can only come out short.
        _ => 1000,
    }
}

fn text_width(encoded: &[u8], weight: Weight, size: f32) -> f32 {
    let thousandths: u32 = encoded.iter().map(|&byte| u32::from(byte_width(byte, weight))).sum();
    thousandths as f32 * size / 1000.0
}

/// Greedy word wrap to `width` points; a word longer than a line is cut between characters.
fn wrap(text: &str, weight: Weight, size: f32, width: f32) -> Vec<Vec<u8>> {
    let encoded = encode(text);
    let space = text_width(b" ", weight, size);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut current_width = 0.0_f32;
    for word in encoded.split(|&byte| byte == b' ').filter(|word| !word.is_empty()) {
        let word_width = text_width(word, weight, size);
        let gap = if current.is_empty() { 0.0 } else { space };
        if current_width + gap + word_width <= width {
            if !current.is_empty() {
                current.push(b' ');
            }
            current.extend_from_slice(word);
            current_width += gap + word_width;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
            current_width = 0.0;
        }
        for &byte in word {
            let byte_points = f32::from(byte_width(byte, weight)) * size / 1000.0;
            if current_width + byte_points > width && !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                current_width = 0.0;
            }
            current.push(byte);
            current_width += byte_points;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_the_width_and_keep_every_word() {
        let text = "The quick brown fox jumps over the lazy dog again and again, ".repeat(12);
        let lines = wrap(&text, Weight::Regular, 10.0, 200.0);
        assert!(lines.len() > 5);
        for line in &lines {
            assert!(text_width(line, Weight::Regular, 10.0) <= 200.0);
        }
        let rejoined: Vec<u8> = lines.join(&b' ');
        let expected: Vec<u8> = encode(text.trim_end());
        assert_eq!(rejoined, expected);
    }

    #[test]
    fn an_overlong_word_is_cut_between_characters() {
        let word = "x".repeat(400);
        let lines = wrap(&word, Weight::Bold, 12.0, 100.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|line| text_width(line, Weight::Bold, 12.0) <= 100.0));
        assert_eq!(lines.concat().len(), 400);
    }

    fn line(text: &str, keep_with_next: bool) -> Line {
        Line {
            weight: Weight::Regular,
            size: 10.0,
            indent: 0.0,
            colour: BLACK,
            space_before: 0.0,
            keep_with_next,
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn pages_stay_inside_the_body_and_keep_headings_with_what_follows() {
        let per_page = ((BODY_TOP - BODY_BOTTOM) / 13.0) as usize;
        // Leave room for three lines, then a three-line heading run and its first body line:
        // the run and that line need four, so the heading must open the next page.
        let mut lines: Vec<Line> = (0..per_page - 3).map(|_| line("body", false)).collect();
        lines.extend([line("heading", true), line("summary", true), line("status", true)]);
        lines.extend((0..5).map(|_| line("check", false)));
        let pages = paginate(lines);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].len(), per_page - 3);
        assert_eq!(pages[1][0].1.text, b"heading");
        for (y, _) in pages.iter().flatten() {
            assert!(*y >= BODY_BOTTOM && *y <= BODY_TOP);
        }
    }

    #[test]
    fn encoding_maps_latin_and_typography_and_replaces_the_rest() {
        assert_eq!(encode("é–…"), vec![0xE9, 0x96, 0x85]);
        assert_eq!(encode("日\n"), vec![b'?', b' ']);
    }
}
