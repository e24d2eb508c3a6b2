//! PII detection by patterns and validation: no model, no network.
//!
//! # Design
//!
//! One pass of one multi-pattern regular expression (`regex-automata`, Unicode off, so it runs
//! as a lazy DFA over bytes) finds *candidates*; only candidates are validated (checksums,
//! lengths, country tables). The pattern that matched tells which validators to run. Context
//! words (an Aho-Corasick automaton) are searched only when a candidate needs them, and the
//! optional name dictionary is a second Aho-Corasick pass.
//!
//! # Confidence
//!
//! Each finding carries a [`Basis`] and a score derived from it, in this order:
//! a validated checksum ([`Basis::Checksum`], 0.95) > a validated pattern without checksum
//! ([`Basis::Pattern`], 0.70) > a weak pattern reported only because a context word is near
//! ([`Basis::Context`], 0.50) > a dictionary name ([`Basis::Dictionary`], 0.30).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};

use crate::checksum::{iban_remainder, luhn_valid, mod97_of_digits};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number (international with a known country code, or French/UK national).
    Phone,
    /// An IBAN with a valid mod-97 checksum and its country's length.
    Iban,
    /// A payment card number: Luhn and a known issuer range.
    PaymentCard,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A French social security number (NIR) with a valid key.
    FrenchNir,
    /// A French company number (SIREN, Luhn).
    Siren,
    /// A French establishment number (SIRET, Luhn or the La Poste rule).
    Siret,
    /// An EU VAT identification number.
    EuVat,
    /// A passport-like number next to a context word.
    Passport,
    /// A date next to a birth context word.
    DateOfBirth,
    /// A name from the configured dictionary.
    PersonName,
}

impl PiiKind {
    /// A stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Iban => "iban",
            PiiKind::PaymentCard => "payment_card",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::FrenchNir => "french_nir",
            PiiKind::Siren => "siren",
            PiiKind::Siret => "siret",
            PiiKind::EuVat => "eu_vat",
            PiiKind::Passport => "passport",
            PiiKind::DateOfBirth => "date_of_birth",
            PiiKind::PersonName => "person_name",
        }
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a finding was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A name from the dictionary.
    Dictionary,
    /// A weak pattern confirmed by a context word nearby.
    Context,
    /// A pattern validated structurally (no checksum exists or none applies).
    Pattern,
    /// A pattern whose checksum validated.
    Checksum,
}

impl Basis {
    /// The confidence score of this basis, in 0..=1.
    pub fn score(self) -> f32 {
        match self {
            Basis::Checksum => 0.95,
            Basis::Pattern => 0.70,
            Basis::Context => 0.50,
            Basis::Dictionary => 0.30,
        }
    }
}

/// One detected piece of personal data. The value itself is not copied: `span` points into
/// the scanned text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub kind: PiiKind,
    /// Byte range in the scanned text.
    pub span: std::ops::Range<usize>,
    /// Why it was reported.
    pub basis: Basis,
    /// Confidence, from [`Basis::score`].
    pub confidence: f32,
}

/// Candidate patterns, in priority order (leftmost-first: at one position the earlier wins).
const PATTERNS: [(Candidate, &str); 9] = [
    (Candidate::Email, r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+\b"),
    (
        Candidate::Iban,
        r"\b[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b",
    ),
    (
        Candidate::Vat,
        r"\b(?:AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI) ?[0-9A-Z+*]{8,12}\b",
    ),
    (
        Candidate::Nir,
        r"\b[12378] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}\b",
    ),
    (
        Candidate::Date,
        r"(?i)\b(?:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}(?:er)? (?:janvier|f(?:e|\xC3\xA9)vrier|mars|avril|mai|juin|juillet|ao(?:u|\xC3\xBB)t|septembre|octobre|novembre|d(?:e|\xC3\xA9)cembre|january|february|march|april|may|june|july|august|september|october|november|december) (?:19|20)[0-9]{2})\b",
    ),
    (Candidate::Digits, r"(?:\+|\b)[0-9](?:[ .\-]?[0-9]){5,18}\b"),
    (Candidate::Ipv4, r"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b"),
    (Candidate::Ipv6, r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*"),
    (Candidate::Passport, r"\b(?:[0-9]{2}[A-Z]{2}[0-9]{5}|[A-Z]{1,2}[0-9]{6,8})\b"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Email,
    Iban,
    Vat,
    Nir,
    Date,
    Digits,
    Ipv4,
    Ipv6,
    Passport,
}

/// Context words, lowercase ASCII (matched ASCII-case-insensitively), and what they confirm.
const CONTEXT_WORDS: &[(&str, PiiKind)] = &[
    ("passport", PiiKind::Passport),
    ("passeport", PiiKind::Passport),
    ("reisepass", PiiKind::Passport),
    ("pasaporte", PiiKind::Passport),
    ("passaporto", PiiKind::Passport),
    ("paspoort", PiiKind::Passport),
    ("date of birth", PiiKind::DateOfBirth),
    ("birth date", PiiKind::DateOfBirth),
    ("birthdate", PiiKind::DateOfBirth),
    ("birth_date", PiiKind::DateOfBirth),
    ("birthday", PiiKind::DateOfBirth),
    ("born on", PiiKind::DateOfBirth),
    ("born", PiiKind::DateOfBirth),
    ("dob", PiiKind::DateOfBirth),
    ("n\u{e9} le", PiiKind::DateOfBirth),
    ("n\u{e9}e le", PiiKind::DateOfBirth),
    ("ne le", PiiKind::DateOfBirth),
    ("nee le", PiiKind::DateOfBirth),
    ("date de naissance", PiiKind::DateOfBirth),
    ("naissance", PiiKind::DateOfBirth),
    ("geboren", PiiKind::DateOfBirth),
    ("geburtsdatum", PiiKind::DateOfBirth),
    ("fecha de nacimiento", PiiKind::DateOfBirth),
    ("data di nascita", PiiKind::DateOfBirth),
];

/// How far before a candidate (in bytes) a context word counts.
const CONTEXT_WINDOW: usize = 48;

/// Configuration of a [`Scanner`].
#[derive(Debug, Clone, Default)]
pub struct ScannerConfig {
    /// Names to report as [`PiiKind::PersonName`] when they appear as whole words
    /// (case-sensitive).
    pub names: Vec<String>,
}

/// A compiled PII scanner. Build once, share freely (it is `Send + Sync`).
#[derive(Debug)]
pub struct Scanner {
    candidates: Regex,
    context: AhoCorasick,
    names: Option<AhoCorasick>,
}

/// Errors building a scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// A pattern failed to compile (a bug in this crate).
    #[error("a detection pattern failed to compile: {0}")]
    Pattern(String),
    /// The name dictionary failed to compile.
    #[error("the name dictionary failed to compile: {0}")]
    Dictionary(String),
}

static DEFAULT_SCANNER: LazyLock<Result<Scanner, String>> =
    LazyLock::new(|| Scanner::new(ScannerConfig::default()).map_err(|e| e.to_string()));

/// Scans `text` with the default scanner (no name dictionary). Findings are ordered by start.
pub fn scan_text(text: &str) -> Vec<Finding> {
    match &*DEFAULT_SCANNER {
        Ok(scanner) => scanner.scan_text(text),
        // The patterns are constants compiled by every test run; this arm is unreachable in
        // practice. `classify_column` fails safe instead (see below).
        Err(_) => Vec::new(),
    }
}

/// Classifies a column from samples with the default scanner and [`ColumnPolicy::default`].
pub fn classify_column(samples: &[&str]) -> ColumnVerdict {
    match &*DEFAULT_SCANNER {
        Ok(scanner) => scanner.classify_column(None, samples, &ColumnPolicy::default()),
        // Fail safe: without a scanner, every column is treated as personal.
        Err(_) => ColumnVerdict { personal: true, ..ColumnVerdict::default() },
    }
}

impl Scanner {
    /// Compiles a scanner.
    pub fn new(config: ScannerConfig) -> Result<Self, ScannerError> {
        let patterns: Vec<&str> = PATTERNS.iter().map(|(_, p)| *p).collect();
        // A large lazy-DFA cache: with the default one, mixed text made the DFA clear its cache
        // often enough to fall back to the (much slower) NFA simulation.
        let candidates = Regex::builder()
            .configure(Regex::config().hybrid_cache_capacity(32 << 20))
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&patterns)
            .map_err(|e| ScannerError::Pattern(e.to_string()))?;
        let context = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(CONTEXT_WORDS.iter().map(|(w, _)| *w))
            .map_err(|e| ScannerError::Pattern(e.to_string()))?;
        let names = if config.names.iter().any(|n| !n.is_empty()) {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(config.names.iter().filter(|n| !n.is_empty()))
                    .map_err(|e| ScannerError::Dictionary(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Self { candidates, context, names })
    }

    /// All findings in `text`, ordered by start offset, never overlapping.
    pub fn scan_text(&self, text: &str) -> Vec<Finding> {
        self.scan_with_context(text, None)
    }

    /// Like [`Scanner::scan_text`], with an extra context (e.g. a column name) that counts as
    /// if it stood right before the text.
    pub fn scan_with_context(&self, text: &str, extra_context: Option<&str>) -> Vec<Finding> {
        let bytes = text.as_bytes();
        let mut findings = Vec::new();
        // Context words are searched once, and only if a candidate needs them.
        let mut context: Option<Vec<(usize, PiiKind)>> = None;
        let extra: Vec<PiiKind> = extra_context.map(|c| self.context_kinds(c)).unwrap_or_default();
        for m in self.candidates.find_iter(bytes) {
            let candidate = PATTERNS.get(m.pattern().as_usize()).map(|(c, _)| *c);
            let Some(candidate) = candidate else { continue };
            let slice = &bytes[m.start()..m.end()];
            let validated = match candidate {
                Candidate::Email => {
                    validate_email(slice).then_some((PiiKind::Email, Basis::Pattern))
                }
                Candidate::Iban => validate_iban(slice).then_some((PiiKind::Iban, Basis::Checksum)),
                Candidate::Vat => validate_vat(slice).map(|basis| (PiiKind::EuVat, basis)),
                // A 15-digit run that is not a NIR may be a card (American Express).
                Candidate::Nir if validate_nir(slice) => {
                    Some((PiiKind::FrenchNir, Basis::Checksum))
                }
                Candidate::Nir => classify_digits(slice),
                Candidate::Digits => classify_digits(slice),
                Candidate::Ipv4 => validate_ipv4(slice).then_some((PiiKind::Ipv4, Basis::Pattern)),
                Candidate::Ipv6 => validate_ipv6(slice).then_some((PiiKind::Ipv6, Basis::Pattern)),
                Candidate::Date | Candidate::Passport => None,
            };
            let found = match validated {
                Some(found) => Some(found),
                None => {
                    let needed = match candidate {
                        Candidate::Date => Some(PiiKind::DateOfBirth),
                        Candidate::Passport => Some(PiiKind::Passport),
                        // Nine digits failing every check may still be a passport number.
                        Candidate::Digits if digit_count(slice) == 9 => Some(PiiKind::Passport),
                        _ => None,
                    };
                    needed.and_then(|kind| {
                        let near = extra.contains(&kind) || {
                            // Context words ordered by end offset: look only at those ending
                            // in the window before the candidate.
                            let words =
                                context.get_or_insert_with(|| self.context_positions(bytes));
                            let from =
                                words.partition_point(|&(end, _)| end + CONTEXT_WINDOW < m.start());
                            words[from..]
                                .iter()
                                .take_while(|&&(end, _)| end <= m.start())
                                .any(|&(_, k)| k == kind)
                        };
                        near.then_some((kind, Basis::Context))
                    })
                }
            };
            if let Some((kind, basis)) = found {
                findings.push(Finding {
                    kind,
                    span: m.start()..m.end(),
                    basis,
                    confidence: basis.score(),
                });
            }
        }
        if let Some(names) = &self.names {
            let mut extra_findings = Vec::new();
            for m in names.find_iter(bytes) {
                let before_ok = m.start() == 0 || !is_word_byte(bytes[m.start() - 1]);
                let after_ok = m.end() == bytes.len() || !is_word_byte(bytes[m.end()]);
                let overlaps =
                    findings.iter().any(|f| f.span.start < m.end() && m.start() < f.span.end);
                if before_ok && after_ok && !overlaps {
                    extra_findings.push(Finding {
                        kind: PiiKind::PersonName,
                        span: m.start()..m.end(),
                        basis: Basis::Dictionary,
                        confidence: Basis::Dictionary.score(),
                    });
                }
            }
            if !extra_findings.is_empty() {
                findings.extend(extra_findings);
                findings.sort_by_key(|f| f.span.start);
            }
        }
        findings
    }

    /// End offsets and kinds of the context words in `bytes`, ordered by end offset.
    fn context_positions(&self, bytes: &[u8]) -> Vec<(usize, PiiKind)> {
        // Non-overlapping leftmost-longest matches come in order of start, hence of end.
        self.context
            .find_iter(bytes)
            .filter_map(|m| CONTEXT_WORDS.get(m.pattern().as_usize()).map(|(_, k)| (m.end(), *k)))
            .collect()
    }

    fn context_kinds(&self, text: &str) -> Vec<PiiKind> {
        self.context_positions(text.as_bytes()).into_iter().map(|(_, k)| k).collect()
    }

    /// Classifies a column from samples of its values: personal when at least
    /// `policy.min_share` of the non-empty samples hold a finding of confidence at least
    /// `policy.min_confidence`. The column name, when given, counts as context (a `birth_date`
    /// column makes its dates dates of birth). The verdict holds kinds and counts, never values.
    pub fn classify_column(
        &self,
        column_name: Option<&str>,
        samples: &[&str],
        policy: &ColumnPolicy,
    ) -> ColumnVerdict {
        let mut verdict = ColumnVerdict::default();
        let mut counts: BTreeMap<PiiKind, usize> = BTreeMap::new();
        for sample in samples {
            if sample.trim().is_empty() {
                continue;
            }
            verdict.non_empty += 1;
            let findings = self.scan_with_context(sample, column_name);
            let mut matched = false;
            let mut kinds_here: Vec<PiiKind> = Vec::new();
            for f in findings.iter().filter(|f| f.confidence >= policy.min_confidence) {
                matched = true;
                if !kinds_here.contains(&f.kind) {
                    kinds_here.push(f.kind);
                }
            }
            for kind in kinds_here {
                *counts.entry(kind).or_default() += 1;
            }
            if matched {
                verdict.matching += 1;
            }
        }
        verdict.evidence =
            counts.into_iter().map(|(kind, samples)| KindCount { kind, samples }).collect();
        verdict.personal = verdict.non_empty > 0
            && (verdict.matching as f64) >= policy.min_share * (verdict.non_empty as f64);
        verdict
    }
}

/// When a column counts as personal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnPolicy {
    /// Share of non-empty samples that must hold a finding (0..=1).
    pub min_share: f64,
    /// Findings below this confidence are ignored.
    pub min_confidence: f32,
}

impl Default for ColumnPolicy {
    fn default() -> Self {
        Self { min_share: 0.3, min_confidence: Basis::Context.score() }
    }
}

/// How many samples held a finding of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    /// The kind.
    pub kind: PiiKind,
    /// Number of samples holding at least one finding of this kind.
    pub samples: usize,
}

/// The verdict on a column: evidence is kinds and counts, never values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnVerdict {
    /// Whether the column looks personal.
    pub personal: bool,
    /// Non-empty samples examined.
    pub non_empty: usize,
    /// Samples holding at least one finding.
    pub matching: usize,
    /// Kinds found, with the number of samples holding each.
    pub evidence: Vec<KindCount>,
}

impl std::fmt::Display for ColumnVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} samples matched", self.matching, self.non_empty)?;
        for (i, e) in self.evidence.iter().enumerate() {
            f.write_str(if i == 0 { " (" } else { ", " })?;
            write!(f, "{}: {}", e.kind, e.samples)?;
        }
        if !self.evidence.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn digit_count(slice: &[u8]) -> usize {
    slice.iter().filter(|b| b.is_ascii_digit()).count()
}

fn compact_upper(slice: &[u8]) -> Vec<u8> {
    slice.iter().filter(|&&b| b != b' ').map(u8::to_ascii_uppercase).collect()
}

/// E-mail structure: local part 1..=64 without leading, trailing or double dots; domain
/// labels 1..=63 not starting or ending with a dash; a top-level domain of letters.
pub fn validate_email(slice: &[u8]) -> bool {
    let Some(at) = slice.iter().position(|&b| b == b'@') else { return false };
    let (local, domain) = (&slice[..at], &slice[at + 1..]);
    if local.is_empty() || local.len() > 64 || slice.len() > 254 {
        return false;
    }
    if local[0] == b'.' || local[local.len() - 1] == b'.' || local.windows(2).any(|w| w == b"..") {
        return false;
    }
    let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels
        .iter()
        .all(|l| !l.is_empty() && l.len() <= 63 && l[0] != b'-' && l[l.len() - 1] != b'-');
    let tld = labels[labels.len() - 1];
    labels_ok && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)
}

/// IBAN lengths per country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// An IBAN (compact or grouped by spaces): known country, that country's length, mod 97 = 1.
pub fn validate_iban(slice: &[u8]) -> bool {
    let compact = compact_upper(slice);
    if compact.len() < 4 {
        return false;
    }
    let expected = IBAN_LENGTHS.iter().find(|(c, _)| c[..] == compact[..2]).map(|(_, l)| *l);
    expected == Some(compact.len()) && iban_remainder(&compact) == Some(1)
}

/// An EU VAT number: the country's shape, and its checksum where this module knows it
/// (BE, FR, IT, PL). Returns the basis of the validation, or `None` when invalid.
pub fn validate_vat(slice: &[u8]) -> Option<Basis> {
    let compact = compact_upper(slice);
    if compact.len() < 4 {
        return None;
    }
    let (country, body) = compact.split_at(2);
    let digits = |range: std::ops::RangeInclusive<usize>| {
        range.contains(&body.len()) && body.iter().all(u8::is_ascii_digit)
    };
    let shape_only = |ok: bool| ok.then_some(Basis::Pattern);
    match country {
        b"AT" => shape_only(
            body.len() == 9 && body[0] == b'U' && body[1..].iter().all(u8::is_ascii_digit),
        ),
        b"BE" => {
            if !(digits(10..=10) && (body[0] == b'0' || body[0] == b'1')) {
                return None;
            }
            let head = mod97_of_digits(&body[..8])?;
            let check = u32::from(body[8] - b'0') * 10 + u32::from(body[9] - b'0');
            (97 - head == check).then_some(Basis::Checksum)
        }
        b"BG" => shape_only(digits(9..=10)),
        b"CY" => shape_only(
            body.len() == 9
                && body[..8].iter().all(u8::is_ascii_digit)
                && body[8].is_ascii_uppercase(),
        ),
        b"CZ" => shape_only(digits(8..=10)),
        b"DE" | b"EE" | b"EL" | b"PT" | b"XI" => shape_only(digits(9..=9)),
        b"DK" | b"FI" | b"HU" | b"LU" | b"MT" | b"SI" => shape_only(digits(8..=8)),
        b"ES" => shape_only(
            body.len() == 9
                && body.iter().all(u8::is_ascii_alphanumeric)
                && body[1..8].iter().all(u8::is_ascii_digit)
                && !(body[0].is_ascii_digit() && body[8].is_ascii_digit()),
        ),
        b"FR" => {
            if body.len() != 11 || !body[2..].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let key = &body[..2];
            if key.iter().all(u8::is_ascii_digit) {
                let siren = mod97_of_digits(&body[2..])?;
                let expected = (12 + 3 * siren) % 97;
                let given = u32::from(key[0] - b'0') * 10 + u32::from(key[1] - b'0');
                (expected == given).then_some(Basis::Checksum)
            } else {
                shape_only(
                    key.iter().all(|b| b.is_ascii_alphanumeric() && *b != b'I' && *b != b'O'),
                )
            }
        }
        b"HR" | b"LV" => shape_only(digits(11..=11)),
        b"IE" => shape_only(
            (8..=9).contains(&body.len())
                && body[0].is_ascii_digit()
                && body[2..7].iter().all(u8::is_ascii_digit)
                && body[7..].iter().all(u8::is_ascii_uppercase),
        ),
        b"IT" => (digits(11..=11) && luhn_valid(body)).then_some(Basis::Checksum),
        b"LT" => shape_only(digits(9..=9) || digits(12..=12)),
        b"NL" => shape_only(
            body.len() == 12
                && body[..9].iter().all(u8::is_ascii_digit)
                && body[9] == b'B'
                && body[10..].iter().all(u8::is_ascii_digit),
        ),
        b"PL" => {
            if !digits(10..=10) {
                return None;
            }
            const WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
            let sum: u32 =
                body[..9].iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d - b'0') * w).sum();
            (sum % 11 == u32::from(body[9] - b'0')).then_some(Basis::Checksum)
        }
        b"RO" => shape_only(digits(2..=10)),
        b"SE" => shape_only(digits(12..=12) && body.ends_with(b"01")),
        b"SK" => shape_only(digits(10..=10)),
        _ => None,
    }
}

/// A French NIR (15 characters, spaces allowed): sex digit 1, 2, 3, 7 or 8; department 2A/2B
/// for Corsica; key = 97 − (number mod 97), 2A counting as 19 and 2B as 18.
pub fn validate_nir(slice: &[u8]) -> bool {
    let mut compact = compact_upper(slice);
    if compact.len() != 15 {
        return false;
    }
    match &compact[5..7] {
        b"2A" => compact[5..7].copy_from_slice(b"19"),
        b"2B" => compact[5..7].copy_from_slice(b"18"),
        _ => {}
    }
    if !compact.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(number) = mod97_of_digits(&compact[..13]) else { return false };
    let key = u32::from(compact[13] - b'0') * 10 + u32::from(compact[14] - b'0');
    key == 97 - number
}

/// Whether a SIRET (14 digits) is valid: Luhn, or the La Poste rule (SIREN 356000000 and a
/// digit sum divisible by 5).
pub fn validate_siret(digits: &[u8]) -> bool {
    if digits.len() != 14 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if digits.starts_with(b"356000000") {
        let sum: u32 = digits.iter().map(|&d| u32::from(d - b'0')).sum();
        return sum.is_multiple_of(5);
    }
    luhn_valid(digits)
}

/// Whether the leading digits of a card number are in a known issuer range and its length
/// fits that network.
pub fn known_card_range(digits: &[u8]) -> bool {
    let prefix = |n: usize| -> u32 {
        digits.iter().take(n).fold(0u32, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
    };
    let len = digits.len();
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        4 => matches!(len, 13 | 16 | 19),
        5 => {
            ((51..=55).contains(&p2) && len == 16)
                || (p2 == 50 || (56..=58).contains(&p2)) && (12..=19).contains(&len)
        }
        2 => (2221..=2720).contains(&p4) && len == 16,
        3 => {
            ((p2 == 34 || p2 == 37) && len == 15)
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
                || ((p2 == 36 || p2 == 38 || p2 == 39 || (300..=305).contains(&p3))
                    && (14..=19).contains(&len))
        }
        6 => (12..=19).contains(&len),
        _ => false,
    }
}

/// International dialling codes in use (ITU-T E.164 assignments, 1 to 3 digits).
fn country_code_len(digits: &[u8]) -> Option<usize> {
    const ONE: &[u32] = &[1, 7];
    const TWO: &[u32] = &[
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
        56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ];
    let value = |n: usize| -> Option<u32> {
        (digits.len() >= n)
            .then(|| digits[..n].iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    if value(1).is_some_and(|v| ONE.contains(&v)) {
        return Some(1);
    }
    if value(2).is_some_and(|v| TWO.contains(&v)) {
        return Some(2);
    }
    let three = value(3)?;
    let assigned = matches!(three,
        210..=299 | 350..=359 | 370..=389 | 420..=429 | 500..=509 | 590..=599 | 670..=692
        | 800 | 808 | 850 | 852 | 853 | 855 | 856 | 870 | 878 | 880..=888 | 960..=979 | 992..=998)
        && !matches!(three, 210 | 214 | 215 | 217 | 219 | 259 | 292..=296 | 384 | 424..=429 | 671 | 684 | 693..=699 | 969 | 978 | 979 | 990);
    assigned.then_some(3)
}

/// A phone number: `+` or `00` with a known country code and 6 to 14 more digits (15 at
/// most in all), or a French (10 digits, `0[1-9]…`) or UK (11 digits, `01`, `02`, `03`, `07`)
/// national number.
pub fn validate_phone(slice: &[u8]) -> bool {
    let digits: Vec<u8> = slice.iter().copied().filter(u8::is_ascii_digit).collect();
    let international = if slice.first() == Some(&b'+') {
        Some(&digits[..])
    } else if digits.starts_with(b"00") && slice.starts_with(b"00") {
        Some(&digits[2..])
    } else {
        None
    };
    if let Some(number) = international {
        let Some(cc) = country_code_len(number) else { return false };
        let national = number.len() - cc;
        return (6..=14).contains(&national) && number.len() <= 15;
    }
    match digits.len() {
        10 => digits[0] == b'0' && digits[1] != b'0',
        11 => digits[0] == b'0' && matches!(digits[1], b'1' | b'2' | b'3' | b'7'),
        _ => false,
    }
}

fn validate_ipv4(slice: &[u8]) -> bool {
    std::str::from_utf8(slice).ok().and_then(|s| s.parse::<Ipv4Addr>().ok()).is_some()
}

fn validate_ipv6(slice: &[u8]) -> bool {
    // The candidate may end with a colon or dot that belongs to the prose around it.
    let trimmed = slice.strip_suffix(b".").unwrap_or(slice);
    std::str::from_utf8(trimmed).ok().and_then(|s| s.parse::<Ipv6Addr>().ok()).is_some()
}

/// A run of digits with separators: card, SIRET, SIREN, phone or IPv4, in that order of
/// precedence (a leading `+` or `00` puts phone first).
fn classify_digits(slice: &[u8]) -> Option<(PiiKind, Basis)> {
    if slice.iter().filter(|&&b| b == b'.').count() == 3 && validate_ipv4(slice) {
        return Some((PiiKind::Ipv4, Basis::Pattern));
    }
    let digits: Vec<u8> = slice.iter().copied().filter(u8::is_ascii_digit).collect();
    let international = slice.first() == Some(&b'+') || slice.starts_with(b"00");
    if international {
        return validate_phone(slice).then_some((PiiKind::Phone, Basis::Pattern));
    }
    if (13..=19).contains(&digits.len()) && luhn_valid(&digits) && known_card_range(&digits) {
        return Some((PiiKind::PaymentCard, Basis::Checksum));
    }
    if digits.len() == 14 && validate_siret(&digits) {
        return Some((PiiKind::Siret, Basis::Checksum));
    }
    if digits.len() == 9 && luhn_valid(&digits) {
        return Some((PiiKind::Siren, Basis::Checksum));
    }
    validate_phone(slice).then_some((PiiKind::Phone, Basis::Pattern))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(text: &str) -> Vec<(PiiKind, &str)> {
        scan_text(text).into_iter().map(|f| (f.kind, &text[f.span])).collect()
    }

    #[test]
    fn emails() {
        assert_eq!(
            kinds("write to alice.martin@example.org today"),
            vec![(PiiKind::Email, "alice.martin@example.org")]
        );
        assert!(kinds("not an email: a..b@example.org or x@localhost").is_empty());
    }

    #[test]
    fn ibans_valid_and_invalid() {
        assert_eq!(
            kinds("IBAN FR14 2004 1010 0505 0001 3M02 606."),
            vec![(PiiKind::Iban, "FR14 2004 1010 0505 0001 3M02 606")]
        );
        assert_eq!(
            kinds("GB82WEST12345698765432"),
            vec![(PiiKind::Iban, "GB82WEST12345698765432")]
        );
        assert!(kinds("GB82WEST12345698765433").is_empty(), "bad checksum");
        assert!(kinds("GB82WEST1234569876543").is_empty(), "wrong length for GB");
    }

    #[test]
    fn payment_cards_valid_and_invalid() {
        assert_eq!(
            kinds("card 4111 1111 1111 1111 exp"),
            vec![(PiiKind::PaymentCard, "4111 1111 1111 1111")]
        );
        assert_eq!(kinds("amex 378282246310005"), vec![(PiiKind::PaymentCard, "378282246310005")]);
        assert_eq!(
            kinds("mc 5555-5555-5555-4444"),
            vec![(PiiKind::PaymentCard, "5555-5555-5555-4444")]
        );
        assert!(kinds("card 4111 1111 1111 1112").is_empty(), "Luhn fails");
        // Luhn-valid but no known issuer range (starts with 9).
        let mut payload = b"900000000000000".to_vec();
        payload.push(crate::checksum::luhn_check_digit(&payload));
        let text = String::from_utf8(payload).unwrap();
        assert!(kinds(&text).is_empty());
    }

    #[test]
    fn french_nir_including_corsica() {
        // 1 85 05 78 006 084 key: 97 - (1850578006084 mod 97).
        let base = 1850578006084u64;
        let text = format!("NIR {} {:02}", "1 85 05 78 006 084", 97 - base % 97);
        assert_eq!(kinds(&text)[0].0, PiiKind::FrenchNir);
        let wrong = format!("NIR {} {:02}", "1 85 05 78 006 084", (97 - base % 97 + 1) % 97);
        assert!(kinds(&wrong).iter().all(|(k, _)| *k != PiiKind::FrenchNir));
        // Corsica: 2A counts as 19.
        let corsica = 2_850_519_006_084u64;
        let text = format!("285052A006084{:02}", 97 - corsica % 97);
        assert_eq!(kinds(&text), vec![(PiiKind::FrenchNir, text.as_str())]);
        let text_b = format!("285052B006084{:02}", 97 - corsica % 97);
        assert!(kinds(&text_b).is_empty(), "2B counts as 18, so the 2A key is wrong");
    }

    #[test]
    fn siren_siret_and_la_poste() {
        assert_eq!(kinds("SIREN 732 829 320"), vec![(PiiKind::Siren, "732 829 320")]);
        assert!(kinds("SIREN 732 829 321").is_empty());
        assert_eq!(kinds("SIRET 73282932000074"), vec![(PiiKind::Siret, "73282932000074")]);
        assert!(kinds("SIRET 73282932000075").is_empty());
        // La Poste establishment: fails Luhn, digit sum divisible by 5.
        assert!(!luhn_valid(b"35600000049837"));
        assert_eq!(kinds("site 35600000049837"), vec![(PiiKind::Siret, "35600000049837")]);
        assert!(kinds("site 35600000049838").is_empty());
    }

    #[test]
    fn eu_vat_checksums_and_shapes() {
        assert_eq!(validate_vat(b"FR40303265045"), Some(Basis::Checksum));
        assert_eq!(validate_vat(b"FR41303265045"), None);
        assert_eq!(validate_vat(b"BE0403170701"), Some(Basis::Checksum));
        assert_eq!(validate_vat(b"BE0403170702"), None);
        assert_eq!(validate_vat(b"IT00743110157"), Some(Basis::Checksum));
        assert_eq!(validate_vat(b"IT00743110158"), None);
        assert_eq!(validate_vat(b"PL5260250274"), Some(Basis::Checksum));
        assert_eq!(validate_vat(b"PL5260250275"), None);
        assert_eq!(validate_vat(b"DE136695976"), Some(Basis::Pattern));
        assert_eq!(validate_vat(b"DE13669597"), None);
        assert_eq!(validate_vat(b"NL123456789B01"), Some(Basis::Pattern));
        assert_eq!(kinds("TVA FR40303265045"), vec![(PiiKind::EuVat, "FR40303265045")]);
    }

    #[test]
    fn phones() {
        assert_eq!(kinds("tel +33 6 12 34 56 78"), vec![(PiiKind::Phone, "+33 6 12 34 56 78")]);
        assert_eq!(kinds("tel 06.12.34.56.78"), vec![(PiiKind::Phone, "06.12.34.56.78")]);
        assert_eq!(kinds("tel 0044 20 7946 0958"), vec![(PiiKind::Phone, "0044 20 7946 0958")]);
        assert!(kinds("+999 123 456 789").is_empty(), "999 is not a country code");
        assert!(kinds("+33 12").is_empty());
        assert!(kinds("order 1234567890").is_empty(), "10 digits without a leading 0");
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(kinds("from 192.168.1.20 at"), vec![(PiiKind::Ipv4, "192.168.1.20")]);
        assert_eq!(kinds("from 10.0.0.1"), vec![(PiiKind::Ipv4, "10.0.0.1")]);
        assert!(kinds("version 300.1.2.3").is_empty());
        assert_eq!(
            kinds("peer 2001:db8::8a2e:370:7334 up"),
            vec![(PiiKind::Ipv6, "2001:db8::8a2e:370:7334")]
        );
        assert!(kinds("at 12:30:45").is_empty());
    }

    #[test]
    fn passport_and_birth_dates_need_context() {
        assert!(kinds("reference 12AB34567").is_empty());
        assert_eq!(kinds("passport no. 12AB34567"), vec![(PiiKind::Passport, "12AB34567")]);
        assert!(kinds("meeting on 12/05/1980").is_empty());
        assert_eq!(
            kinds("n\u{e9} le 12/05/1980 à Lyon"),
            vec![(PiiKind::DateOfBirth, "12/05/1980")]
        );
        assert_eq!(kinds("DOB: 1980-05-12"), vec![(PiiKind::DateOfBirth, "1980-05-12")]);
        assert_eq!(kinds("born on 3 March 1975"), vec![(PiiKind::DateOfBirth, "3 March 1975")]);
        let far = format!("passport {} 12AB34567", "x".repeat(80));
        assert!(kinds(&far).is_empty(), "context word too far away");
    }

    #[test]
    fn confidence_order() {
        let text = "alice@example.org 4111111111111111 passport 12AB34567";
        let findings = scan_text(text);
        assert_eq!(findings.len(), 3);
        assert!(findings[1].confidence > findings[0].confidence);
        assert!(findings[0].confidence > findings[2].confidence);
    }

    #[test]
    fn dictionary_names_are_whole_words() {
        let scanner =
            Scanner::new(ScannerConfig { names: vec!["Martin".into(), "Anna".into()] }).unwrap();
        let text = "Dear Anna Martin, Annabelle and Martinez";
        let found: Vec<&str> = scanner.scan_text(text).into_iter().map(|f| &text[f.span]).collect();
        assert_eq!(found, vec!["Anna", "Martin"]);
    }

    #[test]
    fn column_classification() {
        let verdict = classify_column(&["alice@example.org", "", "bob@example.net", "n/a"]);
        assert!(verdict.personal);
        assert_eq!((verdict.non_empty, verdict.matching), (3, 2));
        assert_eq!(verdict.evidence, vec![KindCount { kind: PiiKind::Email, samples: 2 }]);
        let verdict = classify_column(&["red", "green", "blue"]);
        assert!(!verdict.personal);
        let scanner = Scanner::new(ScannerConfig::default()).unwrap();
        let dates = ["1980-05-12", "1975-01-30"];
        assert!(
            !scanner.classify_column(Some("created_on"), &dates, &ColumnPolicy::default()).personal
        );
        assert!(
            scanner.classify_column(Some("birth_date"), &dates, &ColumnPolicy::default()).personal
        );
        assert!(!verdict.to_string().contains("red"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_spans_are_in_bounds(text in ".{0,200}") {
            for f in scan_text(&text) {
                prop_assert!(f.span.start < f.span.end && f.span.end <= text.len());
                prop_assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = scan_text(&text);
            let _ = validate_vat(&bytes);
            let _ = validate_nir(&bytes);
            let _ = validate_iban(&bytes);
            let _ = validate_phone(&bytes);
            let _ = validate_email(&bytes);
        }

        #[test]
        fn generated_valid_cards_are_found(body in "[0-9]{14}") {
            let mut number = format!("4{body}").into_bytes();
            number.push(crate::checksum::luhn_check_digit(&number));
            let text = format!("pay with {} now", String::from_utf8(number).unwrap());
            let found = scan_text(&text);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(found[0].kind, PiiKind::PaymentCard);
        }
    }
}
