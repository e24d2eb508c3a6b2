//! `security.txt` (RFC 9116): rendering the file a deployment serves at
//! `/.well-known/security.txt`, and checking one.
//!
//! Checked: at least one `Contact` (a `mailto:`, `tel:` or `https:` URI);
//! exactly one `Expires`, an RFC 3339 time in the future and less than a year
//! ahead (the RFC recommends under a year, so a forgotten file goes stale);
//! `Preferred-Languages` at most once, a comma-separated list of language
//! tags; the other URI fields (`Encryption`, `Policy`, `Canonical`,
//! `Acknowledgments`, `Hiring`) absolute URIs, with `https` for web addresses;
//! no value with a line break (it would forge another field). OpenPGP-signed
//! files are not read.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The fields of a `security.txt` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTxt {
    /// Where to report vulnerabilities; at least one.
    pub contact: Vec<String>,
    /// When the file's content stops being valid.
    pub expires: OffsetDateTime,
    /// Keys to encrypt reports with.
    pub encryption: Vec<String>,
    /// The vulnerability disclosure policy.
    pub policy: Vec<String>,
    /// Languages reports are read in, e.g. `en`, `fr`.
    pub preferred_languages: Vec<String>,
    /// Where this file is published.
    pub canonical: Vec<String>,
    /// Where reporters are thanked.
    pub acknowledgments: Vec<String>,
    /// Security job openings.
    pub hiring: Vec<String>,
}

/// One problem in a file or a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct Problem {
    /// 1-based line, when reading a file.
    pub line: Option<usize>,
    /// The field concerned.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn problem(line: Option<usize>, field: &str, reason: impl Into<String>) -> Problem {
    Problem { line, field: field.to_owned(), reason: reason.into() }
}

/// Longest accepted file, bytes.
pub const MAX_FILE_BYTES: usize = 32 * 1024;

/// Checks a URI value: a scheme, no whitespace, `https` for web addresses,
/// and for `Contact` only `mailto:`, `tel:` or `https:`.
fn check_uri(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("is empty".into());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return Err(format!("{value:?} is not an absolute URI (no scheme)"));
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme || rest.is_empty() {
        return Err(format!("{value:?} is not an absolute URI"));
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "http" {
        return Err(format!("{value:?}: web URIs must use https"));
    }
    if scheme == "https" && !rest.starts_with("//") {
        return Err(format!("{value:?} has no host"));
    }
    if field == "Contact" && !matches!(scheme.as_str(), "mailto" | "tel" | "https") {
        return Err(format!("{value:?}: a contact must be a mailto:, tel: or https: URI"));
    }
    Ok(())
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl SecurityTxt {
    /// A file with one contact, an expiry and nothing else.
    pub fn new(contact: &str, expires: OffsetDateTime) -> Self {
        Self {
            contact: vec![contact.to_owned()],
            expires,
            encryption: Vec::new(),
            policy: Vec::new(),
            preferred_languages: Vec::new(),
            canonical: Vec::new(),
            acknowledgments: Vec::new(),
            hiring: Vec::new(),
        }
    }

    fn uri_fields(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("Contact", &self.contact),
            ("Encryption", &self.encryption),
            ("Acknowledgments", &self.acknowledgments),
            ("Canonical", &self.canonical),
            ("Policy", &self.policy),
            ("Hiring", &self.hiring),
        ]
    }

    /// Every problem with the record at `now`; empty when it may be served.
    pub fn problems(&self, now: OffsetDateTime) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.contact.is_empty() {
            out.push(problem(None, "Contact", "at least one is required"));
        }
        for (field, values) in self.uri_fields() {
            for value in values {
                if let Err(reason) = check_uri(field, value) {
                    out.push(problem(None, field, reason));
                }
            }
        }
        if self.expires <= now {
            out.push(problem(None, "Expires", "is in the past"));
        } else if self.expires >= now + Duration::days(365) {
            out.push(problem(None, "Expires", "must be less than a year ahead"));
        }
        for tag in &self.preferred_languages {
            if !is_language_tag(tag) {
                out.push(problem(
                    None,
                    "Preferred-Languages",
                    format!("{tag:?} is not a language tag"),
                ));
            }
        }
        out
    }

    /// Renders the file (LF line ends, fields in a fixed order). Call
    /// [`SecurityTxt::problems`] first: this renders whatever it is given.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, value: &str| {
            let _ = writeln!(out, "{name}: {value}");
        };
        for c in &self.contact {
            line(&mut out, "Contact", c);
        }
        let expires = self
            .expires
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(self.expires)
            .format(&Rfc3339)
            .unwrap_or_default();
        line(&mut out, "Expires", &expires);
        for (name, values) in &self.uri_fields()[1..] {
            for v in values.iter() {
                line(&mut out, name, v);
            }
        }
        if !self.preferred_languages.is_empty() {
            line(&mut out, "Preferred-Languages", &self.preferred_languages.join(", "));
        }
        out
    }

    /// Reads a file and checks it at `now`. All problems are returned, with
    /// line numbers where they have one.
    pub fn parse(text: &str, now: OffsetDateTime) -> Result<Self, Vec<Problem>> {
        if text.len() > MAX_FILE_BYTES {
            return Err(vec![problem(None, "file", format!("larger than {MAX_FILE_BYTES} bytes"))]);
        }
        if text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
            return Err(vec![problem(Some(1), "file", "OpenPGP-signed files are not supported")]);
        }
        let mut problems = Vec::new();
        let mut record = SecurityTxt::new("", now);
        record.contact.clear();
        let mut expires: Option<OffsetDateTime> = None;
        let mut expires_count = 0;
        let mut languages_count = 0;
        for (index, raw) in text.split('\n').enumerate() {
            let n = Some(index + 1);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let Some((name, value)) = raw.split_once(':') else {
                problems.push(problem(n, "line", "expected \"Field: value\""));
                continue;
            };
            let value = value.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                problems.push(problem(n, "line", format!("{name:?} is not a field name")));
                continue;
            }
            let list = match name.to_ascii_lowercase().as_str() {
                "contact" => Some(("Contact", &mut record.contact)),
                "encryption" => Some(("Encryption", &mut record.encryption)),
                "policy" => Some(("Policy", &mut record.policy)),
                "canonical" => Some(("Canonical", &mut record.canonical)),
                "acknowledgments" => Some(("Acknowledgments", &mut record.acknowledgments)),
                "hiring" => Some(("Hiring", &mut record.hiring)),
                "expires" => {
                    expires_count += 1;
                    match OffsetDateTime::parse(value, &Rfc3339) {
                        Ok(t) => expires = Some(t),
                        Err(_) => problems.push(problem(n, "Expires", "is not an RFC 3339 time")),
                    }
                    if expires_count > 1 {
                        problems.push(problem(n, "Expires", "must appear exactly once"));
                    }
                    None
                }
                "preferred-languages" => {
                    languages_count += 1;
                    if languages_count > 1 {
                        problems.push(problem(
                            n,
                            "Preferred-Languages",
                            "must appear at most once",
                        ));
                    }
                    record.preferred_languages =
                        value.split(',').map(|t| t.trim().to_owned()).collect();
                    None
                }
                // Unknown fields are allowed and ignored (RFC 9116 section 2.4).
                _ => None,
            };
            if let Some((field, values)) = list {
                if let Err(reason) = check_uri(field, value) {
                    problems.push(problem(n, field, reason));
                }
                values.push(value.to_owned());
            }
        }
        match expires {
            Some(t) => record.expires = t,
            None if expires_count == 0 => {
                problems.push(problem(None, "Expires", "is required"));
            }
            None => {}
        }
        // Checks on the whole record (missing contact, expiry window,
        // language tags); URI problems were already reported per line.
        for p in record.problems(now) {
            let already = problems.iter().any(|q| q.field == p.field && p.field != "Expires");
            if (p.field == "Expires" && expires.is_some()) || (p.field != "Expires" && !already) {
                problems.push(p);
            }
        }
        if problems.is_empty() { Ok(record) } else { Err(problems) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 00:00 UTC);

    fn good() -> SecurityTxt {
        let mut s = SecurityTxt::new("mailto:security@example.com", NOW + Duration::days(180));
        s.contact.push("https://example.com/report".into());
        s.encryption.push("https://example.com/pgp.asc".into());
        s.policy.push("https://example.com/disclosure".into());
        s.preferred_languages = vec!["en".into(), "fr-CA".into()];
        s.canonical.push("https://example.com/.well-known/security.txt".into());
        s
    }

    #[test]
    fn renders_and_reads_back() {
        let s = good();
        assert!(s.problems(NOW).is_empty(), "{:?}", s.problems(NOW));
        let text = s.render();
        assert!(text.starts_with("Contact: mailto:security@example.com\nContact: https://example.com/report\nExpires: 2027-05-29T00:00:00Z\n"), "{text}");
        assert!(text.contains("Preferred-Languages: en, fr-CA\n"));
        assert_eq!(SecurityTxt::parse(&text, NOW).unwrap(), s);
    }

    #[test]
    fn record_problems() {
        let mut s = good();
        s.expires = NOW - Duration::seconds(1);
        assert_eq!(s.problems(NOW)[0].reason, "is in the past");
        s.expires = NOW + Duration::days(365);
        assert_eq!(s.problems(NOW)[0].reason, "must be less than a year ahead");
        let mut s = good();
        s.contact =
            vec!["http://example.com".into(), "ftp://x".into(), "security@example.com".into()];
        let reasons: Vec<String> = s.problems(NOW).into_iter().map(|p| p.reason).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("must use https"));
        let mut s = good();
        s.contact.clear();
        assert_eq!(s.problems(NOW)[0].field, "Contact");
        let mut s = good();
        s.policy = vec!["https://example.com/a\nContact: mailto:evil@example.com".into()];
        assert!(!s.problems(NOW).is_empty(), "line breaks must be refused");
        let mut s = good();
        s.preferred_languages = vec!["english please".into()];
        assert_eq!(s.problems(NOW)[0].field, "Preferred-Languages");
    }

    #[test]
    fn file_problems_have_line_numbers() {
        let text = "# comment\nContact: mailto:a@example.com\nExpires: soon\nExpires: 2027-01-01T00:00:00Z\nPolicy: http://example.com/p\nnonsense\nPreferred-Languages: en\nPreferred-Languages: de\nX-Custom: fine\n";
        let problems = SecurityTxt::parse(text, NOW).unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            vec![
                "line 3: Expires: is not an RFC 3339 time",
                "line 4: Expires: must appear exactly once",
                "line 5: Policy: \"http://example.com/p\": web URIs must use https",
                "line 6: line: expected \"Field: value\"",
                "line 8: Preferred-Languages: must appear at most once",
            ]
        );
        let missing = SecurityTxt::parse("Policy: https://example.com/p\n", NOW).unwrap_err();
        let fields: Vec<&str> = missing.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["Expires", "Contact"]);
        assert!(SecurityTxt::parse("-----BEGIN PGP SIGNED MESSAGE-----\n", NOW).is_err());
    }

    proptest! {
        #[test]
        fn any_text_parses_or_lists_problems(text in "(?s).{0,600}") {
            if let Err(problems) = SecurityTxt::parse(&text, NOW) {
                prop_assert!(!problems.is_empty());
            }
        }

        #[test]
        fn valid_records_round_trip(
            user in "[a-z]{1,10}",
            days in 1i64..364,
            langs in proptest::collection::vec("[a-z]{2}(-[A-Z]{2})?", 0..3),
        ) {
            let mut s = SecurityTxt::new(&format!("mailto:{user}@example.com"), NOW + Duration::days(days));
            s.preferred_languages = langs;
            prop_assert!(s.problems(NOW).is_empty());
            prop_assert_eq!(SecurityTxt::parse(&s.render(), NOW).unwrap(), s);
        }
    }
}
