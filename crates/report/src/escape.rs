//! Escaping of untrusted text for the output formats. Labels, reasons and names come from the
//! service's stores and may hold anything, so every format escapes them in one place.

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
    fn csv_quotes_and_neutralises_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
