//! Escaping of untrusted text for the output formats. Labels, reasons and names come from the
//! service's stores and may hold anything, so every format escapes them in one place.

/// Characters XML 1.0 forbids outright (most C0 controls) become U+FFFD so that the output stays
/// well-formed whatever the input held.
fn is_forbidden_in_xml(character: char) -> bool {
    matches!(character, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Escapes text for HTML element content and for double- or single-quoted attribute values.
pub(crate) fn html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c if is_forbidden_in_xml(c) => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// XML escaping is the same set as HTML here; the Atom feed uses it.
pub(crate) fn xml(text: &str) -> String {
    html(text)
}

/// Escapes text for inline Markdown: every character that could start markup is
/// backslash-escaped, and line breaks become spaces so one value cannot open a new block.
pub(crate) fn markdown_inline(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    let mut only_digits_so_far = true;
    for (index, character) in text.chars().enumerate() {
        // `-`, `+` and `.` are markup only where a list item could start: first, or after a
        // run of digits at the start (`1.`).
        let list_marker = matches!(character, '-' | '+') && index == 0
            || character == '.' && only_digits_so_far && index > 0;
        only_digits_so_far &= character.is_ascii_digit();
        match character {
            '-' | '+' | '.' if !list_marker => escaped.push(character),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '<' | '>' | '~' | '&' => {
                escaped.push('\\');
                escaped.push(character);
            }
            '\r' | '\n' | '\t' => escaped.push(' '),
            c if c.is_control() => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Quotes one CSV field (RFC 4180). A field that a spreadsheet would run as a formula
/// (leading `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with an apostrophe first.
pub(crate) fn csv_field(text: &str) -> String {
    let neutralised = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if neutralised.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutralised.replace('"', "\"\""))
    } else {
        neutralised
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(html("nul\u{0}here"), "nul\u{FFFD}here");
    }

    #[test]
    fn markdown_escapes_link_and_heading_syntax() {
        assert_eq!(markdown_inline("[x](javascript:y)"), "\\[x\\]\\(javascript:y\\)");
        assert_eq!(markdown_inline("a\n# b"), "a \\# b");
        assert_eq!(markdown_inline("- 2026-06-15 v1.2"), "\\- 2026-06-15 v1.2");
        assert_eq!(markdown_inline("12. x"), "12\\. x");
    }

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
