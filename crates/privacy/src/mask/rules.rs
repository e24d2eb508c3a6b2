//! The masking rules file (TOML): parsing and validation with line numbers.
//!
//! ```toml
//! [settings]
//! sample_rows = 100        # values sampled per column without a rule (default 100)
//! personal_share = 0.3     # share of sampled non-empty values with a finding that makes a
//!                          # column personal (default 0.3)
//! key_version = 1          # carried by `hmac` outputs with `versioned = true` (default 1)
//!
//! [columns]
//! "public.customers.id"         = { rule = "keep" }
//! "public.customers.email"      = { rule = "fake", kind = "email" }
//! "public.customers.national_id"= { rule = "hmac", domain = "person", encoding = "base32", length = 20 }
//! "public.customers.iban"       = { rule = "ff1", format = "iban", fix_checksum = true }
//! "public.customers.notes"      = { rule = "redact", value = "[removed]" }
//! "public.customers.birth_date" = { rule = "date_shift", max_days = 30 }
//! "public.visits.visited_on"    = { rule = "date_shift", max_days = 30, per = "row", row_key = "customer_id" }
//! "*.postcode"                  = { rule = "generalise", to = "prefix", keep = 2 }
//! ```
//!
//! A selector is `table.column`, where the table may be schema-qualified (`public.users`) or
//! `*` (any table). For CSV and JSON Lines the table is the name given to the run and the
//! column the header name or the dotted field path (`user.address.city`). Lookup order:
//! `schema.table.column`, then `table.column`, then `*.column`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::encoding::Encoding;
use crate::fake::FakeKind;
use crate::fpe::Alphabet;
use crate::pseudonym::{MIN_LENGTH, PseudonymFormat};

/// Default number of values sampled per column without a rule.
pub const DEFAULT_SAMPLE_ROWS: usize = 100;
/// Default share of sampled values with a finding that makes a column personal.
pub const DEFAULT_PERSONAL_SHARE: f64 = 0.3;

/// An error in the rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("masking rules, line {line}: {message}")]
pub struct RulesError {
    /// 1-based line of the offending entry (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What to do with a column.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Keep the value as it is (must be explicit for a column that looks personal).
    Keep {},
    /// Replace by NULL (SQL), an empty field (CSV) or `null` (JSON).
    Null {},
    /// Replace by a fixed string.
    Redact {
        /// The replacement.
        #[serde(default = "default_redaction")]
        value: String,
    },
    /// Keyed pseudonym (HMAC-SHA-256 under the domain key). Join-safe within a domain.
    Hmac {
        /// Pseudonymisation domain: columns sharing a domain (and format) join.
        #[serde(default = "default_domain")]
        domain: String,
        /// Output encoding.
        #[serde(default = "default_encoding")]
        encoding: Encoding,
        /// Output length in characters.
        #[serde(default = "default_hmac_length")]
        length: usize,
        /// Prefix the output with the key version (`v1:`).
        #[serde(default)]
        versioned: bool,
    },
    /// FF1 format-preserving encryption. Join-safe within a domain.
    Ff1 {
        /// Key domain.
        #[serde(default = "default_domain")]
        domain: String,
        /// `shaped` (any text), `card`, `iban` or `phone`.
        #[serde(default)]
        format: Ff1Format,
        /// Characters encrypted by the `shaped` format.
        #[serde(default = "default_alphabet")]
        alphabet: Alphabet,
        /// Leading digits kept (card: issuer prefix, phone: country code).
        #[serde(default)]
        keep_leading: usize,
        /// Recompute the Luhn digit (card) or the check digits (IBAN).
        #[serde(default)]
        fix_checksum: bool,
    },
    /// A realistic fake value chosen from the key and the value. Join-safe for one kind.
    Fake {
        /// The kind of value.
        kind: FakeKind,
    },
    /// Moves a date (`YYYY-MM-DD`, with any time part kept) by a deterministic number of days
    /// in `-max_days..=max_days`, never 0.
    DateShift {
        /// Largest shift, 1..=3650.
        max_days: u32,
        /// `value`: the shift depends on the date itself (join-safe: equal dates stay equal);
        /// `row`: on the value of `row_key` in the same row (intervals within an entity kept).
        #[serde(default)]
        per: ShiftPer,
        /// Column whose value seeds a per-row shift.
        #[serde(default)]
        row_key: Option<String>,
    },
    /// Coarsens a value.
    #[serde(alias = "generalize")]
    Generalise {
        /// `year` and `month` (dates become the first day of the period), `bucket` (numbers
        /// become the lower bound of their `width` bucket) or `prefix` (the first `keep`
        /// characters).
        to: Generalisation,
        /// Bucket width.
        #[serde(default)]
        width: Option<u64>,
        /// Characters kept by `prefix`.
        #[serde(default)]
        keep: Option<usize>,
    },
}

/// The FF1 helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ff1Format {
    /// Any text: the alphabet's characters are encrypted, the rest kept in place.
    #[default]
    Shaped,
    /// Payment card number.
    Card,
    /// IBAN (country kept).
    Iban,
    /// Phone number (`keep_leading` digits kept).
    Phone,
}

/// What seeds a date shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftPer {
    /// The date itself.
    #[default]
    Value,
    /// The value of another column of the row.
    Row,
}

/// Generalisation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generalisation {
    /// `YYYY-01-01`.
    Year,
    /// `YYYY-MM-01`.
    Month,
    /// Lower bound of the bucket of `width`.
    Bucket,
    /// The first `keep` characters.
    Prefix,
}

fn default_redaction() -> String {
    "REDACTED".to_owned()
}
fn default_domain() -> String {
    "default".to_owned()
}
fn default_encoding() -> Encoding {
    Encoding::Hex
}
fn default_hmac_length() -> usize {
    16
}
fn default_alphabet() -> Alphabet {
    Alphabet::Digits
}

impl Rule {
    /// The rule's name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Keep {} => "keep",
            Rule::Null {} => "null",
            Rule::Redact { .. } => "redact",
            Rule::Hmac { .. } => "hmac",
            Rule::Ff1 { .. } => "ff1",
            Rule::Fake { .. } => "fake",
            Rule::DateShift { .. } => "date_shift",
            Rule::Generalise { .. } => "generalise",
        }
    }

    /// Whether equal inputs give equal outputs in every table and file and across runs with
    /// the same key, so that joins on the masked column still match.
    pub fn is_join_safe(&self) -> bool {
        match self {
            Rule::Keep {} | Rule::Hmac { .. } | Rule::Ff1 { .. } | Rule::Fake { .. } => true,
            Rule::DateShift { per, .. } => *per == ShiftPer::Value,
            // Constant or coarsened outputs: deterministic, but distinct inputs merge.
            Rule::Null {} | Rule::Redact { .. } | Rule::Generalise { .. } => false,
        }
    }

    pub(crate) fn pseudonym_format(&self) -> Option<PseudonymFormat> {
        match self {
            Rule::Hmac { encoding, length, versioned, .. } => Some(PseudonymFormat {
                encoding: *encoding,
                length: Some(*length),
                with_version: *versioned,
            }),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Rule::Hmac { domain, encoding, length, .. } => {
                let max = encoding.full_length(32);
                if domain.is_empty() {
                    return Err("hmac: domain must not be empty".into());
                }
                if !(MIN_LENGTH..=max).contains(length) {
                    return Err(format!(
                        "hmac: length must be in {MIN_LENGTH}..={max} for this encoding"
                    ));
                }
            }
            Rule::Ff1 { domain, format, keep_leading, fix_checksum, .. } => {
                if domain.is_empty() {
                    return Err("ff1: domain must not be empty".into());
                }
                if *fix_checksum && !matches!(format, Ff1Format::Card | Ff1Format::Iban) {
                    return Err(
                        "ff1: fix_checksum applies to format = \"card\" or \"iban\" only".into()
                    );
                }
                if *keep_leading > 0 && matches!(format, Ff1Format::Iban | Ff1Format::Shaped) {
                    return Err(
                        "ff1: keep_leading applies to format = \"card\" or \"phone\" only".into()
                    );
                }
            }
            Rule::DateShift { max_days, per, row_key } => {
                if !(1..=3650).contains(max_days) {
                    return Err("date_shift: max_days must be in 1..=3650".into());
                }
                match (per, row_key) {
                    (ShiftPer::Row, None) => {
                        return Err("date_shift: per = \"row\" needs row_key".into());
                    }
                    (ShiftPer::Value, Some(_)) => {
                        return Err("date_shift: row_key is only used with per = \"row\"".into());
                    }
                    _ => {}
                }
            }
            Rule::Generalise { to, width, keep } => match to {
                Generalisation::Bucket if width.is_none_or(|w| w == 0) => {
                    return Err("generalise: to = \"bucket\" needs width >= 1".into());
                }
                Generalisation::Prefix if keep.is_none() => {
                    return Err("generalise: to = \"prefix\" needs keep".into());
                }
                Generalisation::Year | Generalisation::Month
                    if width.is_some() || keep.is_some() =>
                {
                    return Err("generalise: width and keep do not apply to dates".into());
                }
                _ => {}
            },
            Rule::Keep {} | Rule::Null {} | Rule::Redact { .. } | Rule::Fake { .. } => {}
        }
        Ok(())
    }
}

/// Run settings.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Values sampled per column without a rule.
    #[serde(default = "default_sample_rows")]
    pub sample_rows: usize,
    /// Share of sampled non-empty values with a finding that makes a column personal.
    #[serde(default = "default_personal_share")]
    pub personal_share: f64,
    /// Key version carried by versioned outputs.
    #[serde(default = "default_key_version")]
    pub key_version: u32,
}

fn default_sample_rows() -> usize {
    DEFAULT_SAMPLE_ROWS
}
fn default_personal_share() -> f64 {
    DEFAULT_PERSONAL_SHARE
}
fn default_key_version() -> u32 {
    1
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sample_rows: DEFAULT_SAMPLE_ROWS,
            personal_share: DEFAULT_PERSONAL_SHARE,
            key_version: 1,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    settings: Option<toml::Spanned<Settings>>,
    #[serde(default)]
    columns: BTreeMap<String, toml::Spanned<Rule>>,
}

/// A validated set of masking rules.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskingRules {
    /// Run settings.
    pub settings: Settings,
    /// Rules by selector.
    pub columns: BTreeMap<String, Rule>,
}

fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl MaskingRules {
    /// Parses and validates a rules file.
    pub fn from_toml(source: &str) -> Result<Self, RulesError> {
        let file: RulesFile = toml::from_str(source).map_err(|e| RulesError {
            line: e.span().map(|s| line_of(source, s.start)).unwrap_or(0),
            message: e.message().to_owned(),
        })?;
        let settings = match file.settings {
            Some(spanned) => {
                let line = line_of(source, spanned.span().start);
                let settings = spanned.into_inner();
                if settings.sample_rows == 0 {
                    return Err(RulesError {
                        line,
                        message: "settings.sample_rows must be at least 1".into(),
                    });
                }
                if !(settings.personal_share > 0.0 && settings.personal_share <= 1.0) {
                    return Err(RulesError {
                        line,
                        message: "settings.personal_share must be in (0, 1]".into(),
                    });
                }
                settings
            }
            None => Settings::default(),
        };
        let mut columns = BTreeMap::new();
        for (selector, spanned) in file.columns {
            let line = line_of(source, spanned.span().start);
            let problem = validate_selector(&selector);
            if let Some(message) = problem {
                return Err(RulesError {
                    line,
                    message: format!("selector {selector:?}: {message}"),
                });
            }
            let rule = spanned.into_inner();
            rule.validate().map_err(|message| RulesError {
                line,
                message: format!("{selector}: {message}"),
            })?;
            columns.insert(selector, rule);
        }
        Ok(Self { settings, columns })
    }

    /// The rule for `column` of `table` (`schema.table` or `table`): exact selector, then
    /// without the schema, then `*.column`. Returns the selector that matched.
    pub fn lookup(&self, table: &str, column: &str) -> Option<(&str, &Rule)> {
        let mut key = String::with_capacity(table.len() + column.len() + 1);
        let mut try_key = |t: &str| {
            key.clear();
            key.push_str(t);
            key.push('.');
            key.push_str(column);
            self.columns.get_key_value(key.as_str()).map(|(k, r)| (k.as_str(), r))
        };
        if let Some(found) = try_key(table) {
            return Some(found);
        }
        if let Some((_, bare)) = table.split_once('.')
            && let Some(found) = try_key(bare)
        {
            return Some(found);
        }
        try_key("*")
    }
}

fn validate_selector(selector: &str) -> Option<&'static str> {
    let Some((table, column)) = selector.split_once('.') else {
        return Some("a selector is table.column (the table may be schema.table or *)");
    };
    if table.is_empty() || column.is_empty() || selector.ends_with('.') {
        return Some("empty table or column name");
    }
    if selector.contains("..") {
        return Some("empty name between dots");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_rule() {
        let rules = MaskingRules::from_toml(
            r#"
[settings]
sample_rows = 50

[columns]
"public.customers.id" = { rule = "keep" }
"public.customers.email" = { rule = "fake", kind = "email" }
"public.customers.nid" = { rule = "hmac", domain = "person", encoding = "base32", length = 20, versioned = true }
"public.customers.iban" = { rule = "ff1", format = "iban", fix_checksum = true }
"public.customers.notes" = { rule = "redact" }
"public.customers.phone" = { rule = "null" }
"public.customers.dob" = { rule = "date_shift", max_days = 30 }
"public.visits.at" = { rule = "date_shift", max_days = 5, per = "row", row_key = "customer_id" }
"*.postcode" = { rule = "generalize", to = "prefix", keep = 2 }
"#,
        )
        .unwrap();
        assert_eq!(rules.settings.sample_rows, 50);
        assert_eq!(rules.columns.len(), 9);
        assert_eq!(
            rules.lookup("public.customers", "notes").map(|(_, r)| r.name()),
            Some("redact")
        );
        assert_eq!(rules.lookup("customers", "notes"), None);
        assert_eq!(rules.lookup("other.addresses", "postcode").map(|(s, _)| s), Some("*.postcode"));
        assert!(
            matches!(rules.lookup("public.customers", "notes"), Some((_, Rule::Redact { value })) if value == "REDACTED")
        );
    }

    #[test]
    fn errors_carry_the_line() {
        let err = MaskingRules::from_toml(
            "[columns]\n\"t.a\" = { rule = \"keep\" }\n\"t.b\" = { rule = \"shred\" }\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        let err = MaskingRules::from_toml("[columns]\n\"t.a\" = { rule = \"keep\" }\n\n\"t.b\" = { rule = \"hmac\", length = 4 }\n").unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.message.contains("t.b"));
        let err =
            MaskingRules::from_toml("[columns]\nnocolumn = { rule = \"keep\" }\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = MaskingRules::from_toml("[columns]\n\"t.a\" = { rule = \"keep\", extra = 1 }\n")
            .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        let err = MaskingRules::from_toml(
            "[columns]\n\"t.a\" = { rule = \"date_shift\", max_days = 3, per = \"row\" }\n",
        )
        .unwrap_err();
        assert!(err.message.contains("row_key"), "{err}");
        let err = MaskingRules::from_toml("[settings]\npersonal_share = 2.0\n").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        let err = MaskingRules::from_toml("[columns\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = MaskingRules::from_toml(&text);
        }

        #[test]
        fn arbitrary_column_entries_never_panic(selector in "[a-z.*]{0,12}", body in "[a-z_ =\"0-9,.]{0,60}") {
            let _ = MaskingRules::from_toml(&format!("[columns]\n\"{selector}\" = {{ {body} }}\n"));
        }
    }

    #[test]
    fn join_safety_is_documented_per_rule() {
        assert!(Rule::Fake { kind: FakeKind::Email }.is_join_safe());
        assert!(!Rule::Redact { value: "x".into() }.is_join_safe());
        assert!(
            !Rule::DateShift { max_days: 3, per: ShiftPer::Row, row_key: Some("id".into()) }
                .is_join_safe()
        );
    }
}
