//! Classification schemes: ordered levels, each mapped to a TLP 2.0 label, and the markings
//! that carry a level on exported data (CSV line, JSON field, HTML banner, Markdown line).
//!
//! The default scheme is Public (TLP:CLEAR) < Internal (TLP:GREEN) < Confidential
//! (TLP:AMBER) < Restricted (TLP:RED). A scheme read from TOML lists its levels from least to
//! most restricted:
//!
//! ```toml
//! [[level]]
//! name = "Public"
//! tlp = "CLEAR"
//!
//! [[level]]
//! name = "Partners"
//! tlp = "AMBER+STRICT"
//! description = "Shared with named partner organisations only"
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Traffic Light Protocol 2.0 label, from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlpLabel {
    /// TLP:CLEAR — no limit on disclosure.
    #[serde(rename = "CLEAR")]
    Clear,
    /// TLP:GREEN — the community.
    #[serde(rename = "GREEN")]
    Green,
    /// TLP:AMBER — the organisation and its clients, need to know.
    #[serde(rename = "AMBER")]
    Amber,
    /// TLP:AMBER+STRICT — the organisation only.
    #[serde(rename = "AMBER+STRICT")]
    AmberStrict,
    /// TLP:RED — named recipients only.
    #[serde(rename = "RED")]
    Red,
}

impl fmt::Display for TlpLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlpLabel::Clear => "TLP:CLEAR",
            TlpLabel::Green => "TLP:GREEN",
            TlpLabel::Amber => "TLP:AMBER",
            TlpLabel::AmberStrict => "TLP:AMBER+STRICT",
            TlpLabel::Red => "TLP:RED",
        })
    }
}

impl TlpLabel {
    fn css_suffix(self) -> &'static str {
        match self {
            TlpLabel::Clear => "clear",
            TlpLabel::Green => "green",
            TlpLabel::Amber => "amber",
            TlpLabel::AmberStrict => "amber-strict",
            TlpLabel::Red => "red",
        }
    }
}

/// One level of a scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Display name, unique in the scheme (case-insensitively).
    pub name: String,
    /// The TLP label.
    pub tlp: TlpLabel,
    /// Optional explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The position of a level in its scheme: a higher rank is more restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rank(pub usize);

/// An invalid scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("classification scheme, line {line}: {message}")]
pub struct SchemeError {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// An ordered classification scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassificationScheme {
    levels: Vec<Level>,
}

impl Default for ClassificationScheme {
    fn default() -> Self {
        let level = |name: &str, tlp| Level { name: name.to_owned(), tlp, description: None };
        Self {
            levels: vec![
                level("Public", TlpLabel::Clear),
                level("Internal", TlpLabel::Green),
                level("Confidential", TlpLabel::Amber),
                level("Restricted", TlpLabel::Red),
            ],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemeFile {
    level: Vec<toml::Spanned<Level>>,
}

impl ClassificationScheme {
    /// Parses a scheme: levels from least to most restricted, non-empty names without control
    /// characters, unique names, TLP labels never less restrictive than the level below.
    pub fn from_toml(source: &str) -> Result<Self, SchemeError> {
        let line_of = |offset: usize| {
            source.as_bytes()[..offset.min(source.len())].iter().filter(|&&b| b == b'\n').count()
                + 1
        };
        let file: SchemeFile = toml::from_str(source).map_err(|e| SchemeError {
            line: e.span().map(|s| line_of(s.start)).unwrap_or(0),
            message: e.message().to_owned(),
        })?;
        if file.level.is_empty() {
            return Err(SchemeError {
                line: 0,
                message: "a scheme needs at least one level".into(),
            });
        }
        let mut levels: Vec<Level> = Vec::with_capacity(file.level.len());
        for spanned in file.level {
            let line = line_of(spanned.span().start);
            let level = spanned.into_inner();
            check_next_level(&levels, &level).map_err(|message| SchemeError { line, message })?;
            levels.push(level);
        }
        Ok(Self { levels })
    }

    /// A scheme from levels listed least restricted first, with the checks of
    /// [`ClassificationScheme::from_toml`]; an error's `line` is the 1-based position of the
    /// offending level.
    pub fn from_levels(levels: Vec<Level>) -> Result<Self, SchemeError> {
        if levels.is_empty() {
            return Err(SchemeError {
                line: 0,
                message: "a scheme needs at least one level".into(),
            });
        }
        let mut checked: Vec<Level> = Vec::with_capacity(levels.len());
        for (index, level) in levels.into_iter().enumerate() {
            check_next_level(&checked, &level)
                .map_err(|message| SchemeError { line: index + 1, message })?;
            checked.push(level);
        }
        Ok(Self { levels: checked })
    }

    /// The levels, least restricted first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The rank of the level named `name` (case-insensitive).
    pub fn rank(&self, name: &str) -> Option<Rank> {
        self.levels.iter().position(|l| l.name.eq_ignore_ascii_case(name)).map(Rank)
    }

    /// The level at `rank`.
    pub fn level(&self, rank: Rank) -> Option<&Level> {
        self.levels.get(rank.0)
    }

    /// The most restricted of the given ranks (the level of data combined from them).
    pub fn combine(&self, ranks: impl IntoIterator<Item = Rank>) -> Option<Rank> {
        ranks.into_iter().max()
    }

    /// A first line for a CSV export: `# Classification: Confidential (TLP:AMBER)`. Readers
    /// must skip it before the header.
    pub fn csv_marking_line(&self, rank: Rank) -> Option<String> {
        let level = self.level(rank)?;
        Some(format!("# Classification: {} ({})", level.name, level.tlp))
    }

    /// A JSON metadata value: `{"level": "Confidential", "rank": 2, "tlp": "TLP:AMBER"}`.
    pub fn json_metadata(&self, rank: Rank) -> Option<serde_json::Value> {
        let level = self.level(rank)?;
        Some(
            serde_json::json!({ "level": level.name, "rank": rank.0, "tlp": level.tlp.to_string() }),
        )
    }

    /// An HTML banner (use it as header and footer), with the name escaped.
    pub fn html_banner(&self, rank: Rank) -> Option<String> {
        let level = self.level(rank)?;
        Some(format!(
            "<div class=\"classification classification-{}\" role=\"note\">{} &#8212; {}</div>",
            level.tlp.css_suffix(),
            escape_html(&level.name.to_uppercase()),
            escape_html(&level.tlp.to_string()),
        ))
    }

    /// A Markdown line: `**Classification: Confidential — TLP:AMBER**`, with Markdown
    /// punctuation in the name escaped.
    pub fn markdown_line(&self, rank: Rank) -> Option<String> {
        let level = self.level(rank)?;
        Some(format!("**Classification: {} \u{2014} {}**", escape_markdown(&level.name), level.tlp))
    }
}

/// Whether `level` may follow `below` (the levels already accepted, least restricted first).
fn check_next_level(below: &[Level], level: &Level) -> Result<(), String> {
    if level.name.trim().is_empty() || level.name.chars().any(char::is_control) {
        return Err("a level name must be non-empty and hold no control characters".into());
    }
    if below.iter().any(|l| l.name.eq_ignore_ascii_case(&level.name)) {
        return Err(format!("level {:?} is defined twice", level.name));
    }
    if let Some(previous) = below.last()
        && level.tlp < previous.tlp
    {
        return Err(format!(
            "level {:?} ({}) is listed above {:?} ({}) but its TLP label is less restrictive",
            level.name, level.tlp, previous.name, previous.tlp
        ));
    }
    Ok(())
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '<'
                | '>'
                | '('
                | ')'
                | '#'
                | '+'
                | '-'
                | '.'
                | '!'
                | '|'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_scheme_order_and_markings() {
        let scheme = ClassificationScheme::default();
        let public = scheme.rank("public").unwrap();
        let confidential = scheme.rank("Confidential").unwrap();
        assert!(public < confidential);
        assert_eq!(scheme.combine([public, confidential]), Some(confidential));
        assert_eq!(scheme.level(confidential).unwrap().tlp, TlpLabel::Amber);
        assert_eq!(
            scheme.csv_marking_line(confidential).unwrap(),
            "# Classification: Confidential (TLP:AMBER)"
        );
        assert_eq!(
            scheme.markdown_line(public).unwrap(),
            "**Classification: Public \u{2014} TLP:CLEAR**"
        );
        assert_eq!(
            scheme.json_metadata(confidential).unwrap(),
            serde_json::json!({"level": "Confidential", "rank": 2, "tlp": "TLP:AMBER"})
        );
        assert_eq!(
            scheme.html_banner(scheme.rank("Restricted").unwrap()).unwrap(),
            "<div class=\"classification classification-red\" role=\"note\">RESTRICTED &#8212; TLP:RED</div>"
        );
        assert_eq!(scheme.csv_marking_line(Rank(9)), None);
    }

    #[test]
    fn toml_scheme_with_amber_strict_and_escaping() {
        let scheme = ClassificationScheme::from_toml(
            "[[level]]\nname = \"Open\"\ntlp = \"CLEAR\"\n\n[[level]]\nname = \"<Partners> & *co*\"\ntlp = \"AMBER+STRICT\"\n",
        )
        .unwrap();
        let partners = scheme.rank("<partners> & *co*").unwrap();
        assert_eq!(scheme.level(partners).unwrap().tlp, TlpLabel::AmberStrict);
        let html = scheme.html_banner(partners).unwrap();
        assert!(
            html.contains("&lt;PARTNERS&gt; &amp; *CO*")
                && html.contains("classification-amber-strict"),
            "{html}"
        );
        assert!(scheme.markdown_line(partners).unwrap().contains("\\<Partners\\> & \\*co\\*"));
    }

    #[test]
    fn invalid_schemes_name_the_line() {
        let err = ClassificationScheme::from_toml(
            "[[level]]\nname = \"A\"\ntlp = \"RED\"\n[[level]]\nname = \"B\"\ntlp = \"GREEN\"\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        let err = ClassificationScheme::from_toml(
            "[[level]]\nname = \"A\"\ntlp = \"CLEAR\"\n[[level]]\nname = \"a\"\ntlp = \"RED\"\n",
        )
        .unwrap_err();
        assert!(err.message.contains("twice"));
        let err = ClassificationScheme::from_toml("[[level]]\nname = \"A\"\ntlp = \"PURPLE\"\n")
            .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(ClassificationScheme::from_toml("").is_err());
    }

    proptest! {
        #[test]
        fn html_banner_never_carries_markup(name in "[^\\p{Cc}]{1,30}") {
            let source = format!("[[level]]\nname = {}\ntlp = \"GREEN\"\n", toml::Value::String(name.clone()));
            if let Ok(scheme) = ClassificationScheme::from_toml(&source) {
                let html = scheme.html_banner(Rank(0)).unwrap();
                let inner = html.trim_start_matches(|c| c != '>').trim_start_matches('>');
                let inner = inner.trim_end_matches("</div>");
                prop_assert!(!inner.contains('<') && !inner.contains('>') && !inner.contains('"'));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = ClassificationScheme::from_toml(&text);
        }
    }
}
