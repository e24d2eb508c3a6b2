//! The format-independent part of a masking run: compiled rules, the per-table column plans,
//! value masking, sampling of columns without a rule, and the summary.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Date, Duration, Month};

use super::rules::{Ff1Format, Generalisation, MaskingRules, Rule, ShiftPer};
use super::{ColumnSummary, MaskError, MaskingKey, PersonalColumn, Summary};
use crate::fake::{FakeKind, Faker};
use crate::fpe::{Alphabet, CardOptions, Ff1Cipher};
use crate::key::{KeyPurpose, KeyVersion};
use crate::pii::{ColumnPolicy, Scanner, ScannerConfig};
use crate::pseudonym::Pseudonymizer;

enum Compiled {
    Keep,
    Null,
    Redact(String),
    Hmac(Pseudonymizer),
    Ff1 { cipher: Ff1Cipher, format: Ff1Format, alphabet: Alphabet, keep_leading: usize, fix: bool },
    Fake(FakeKind),
    DateShift { max_days: u32, per_row: bool },
    Generalise { to: Generalisation, width: u64, keep: usize },
}

/// What happens to one column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Copied as it is (explicit `keep`, or an unruled column whose sample is complete).
    Keep,
    /// No rule: the value is copied and, while the sample is not full, sampled.
    Sample(usize),
    /// Masked by compiled rule `rule`; `row_key` is the index of the column seeding a per-row
    /// date shift.
    Mask { rule: usize, row_key: Option<usize> },
}

/// The plan for one column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub(crate) action: Action,
    stats: usize,
}

/// The plan for one table: one entry per column, in order.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub(crate) columns: Vec<ColumnPlan>,
}

impl TablePlan {
    /// Whether every column is copied unchanged and nothing is sampled.
    pub(crate) fn all_kept(&self, masker: &Masker) -> bool {
        self.columns.iter().all(|c| match c.action {
            Action::Keep => true,
            Action::Sample(i) => masker.samples[i].done,
            Action::Mask { .. } => false,
        })
    }
}

/// The outcome of masking one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Masked {
    /// Write the original value unchanged.
    Unchanged,
    /// Write a null.
    Null,
    /// Write the text placed in the output buffer.
    Text,
}

struct Sample {
    stats: usize,
    values: Vec<String>,
    done: bool,
}

/// A masking run's state.
pub(crate) struct Masker {
    compiled: Vec<Compiled>,
    selectors: HashMap<String, usize>,
    rules: MaskingRules,
    faker: Faker,
    date_shift: Hmac<Sha256>,
    scanner: Scanner,
    policy: ColumnPolicy,
    stats: Vec<ColumnSummary>,
    stats_index: HashMap<(String, String), usize>,
    samples: Vec<Sample>,
    violations: Vec<PersonalColumn>,
    check_only: bool,
    used_selectors: std::collections::BTreeSet<String>,
}

impl Masker {
    pub(crate) fn new(
        rules: &MaskingRules,
        key: &MaskingKey,
        check_only: bool,
    ) -> Result<Self, MaskError> {
        let root = key.root();
        let version = KeyVersion(rules.settings.key_version);
        let mut compiled = Vec::new();
        let mut selectors = HashMap::new();
        for (selector, rule) in &rules.columns {
            let c = match rule {
                Rule::Keep {} => Compiled::Keep,
                Rule::Null {} => Compiled::Null,
                Rule::Redact { value } => Compiled::Redact(value.clone()),
                Rule::Hmac { domain, .. } => {
                    let format = rule.pseudonym_format().unwrap_or_default();
                    let p = Pseudonymizer::new(root, version, domain, format).map_err(|e| {
                        MaskError::Rules(super::RulesError {
                            line: 0,
                            message: format!("{selector}: {e}"),
                        })
                    })?;
                    Compiled::Hmac(p)
                }
                Rule::Ff1 { domain, format, alphabet, keep_leading, fix_checksum } => {
                    Compiled::Ff1 {
                        cipher: Ff1Cipher::new(root, domain),
                        format: *format,
                        alphabet: *alphabet,
                        keep_leading: *keep_leading,
                        fix: *fix_checksum,
                    }
                }
                Rule::Fake { kind } => Compiled::Fake(*kind),
                Rule::DateShift { max_days, per, .. } => {
                    Compiled::DateShift { max_days: *max_days, per_row: *per == ShiftPer::Row }
                }
                Rule::Generalise { to, width, keep } => Compiled::Generalise {
                    to: *to,
                    width: width.unwrap_or(1),
                    keep: keep.unwrap_or(0),
                },
            };
            selectors.insert(selector.clone(), compiled.len());
            compiled.push(c);
        }
        let scanner = Scanner::new(ScannerConfig::default()).map_err(MaskError::Detector)?;
        Ok(Self {
            compiled,
            selectors,
            rules: rules.clone(),
            faker: Faker::new(root),
            date_shift: root.derive::<64>(KeyPurpose::DateShift, "").hmac_sha256(),
            scanner,
            policy: ColumnPolicy {
                min_share: rules.settings.personal_share,
                ..ColumnPolicy::default()
            },
            stats: Vec::new(),
            stats_index: HashMap::new(),
            samples: Vec::new(),
            violations: Vec::new(),
            check_only,
            used_selectors: Default::default(),
        })
    }

    pub(crate) fn rules(&self) -> &MaskingRules {
        &self.rules
    }

    /// Builds the plan of a table whose columns are `columns`. `line` is where the table's
    /// header was read (for errors).
    pub(crate) fn plan(
        &mut self,
        table: &str,
        columns: &[String],
        line: u64,
    ) -> Result<TablePlan, MaskError> {
        let mut plans = Vec::with_capacity(columns.len());
        for column in columns {
            let key = (table.to_owned(), column.clone());
            let found = self.rules.lookup(table, column).map(|(s, r)| (s.to_owned(), r.clone()));
            let stats = match self.stats_index.get(&key) {
                Some(&i) => i,
                None => {
                    let rule = found.as_ref().map(|(_, r)| r.name()).unwrap_or("unruled, kept");
                    self.stats.push(ColumnSummary {
                        table: table.to_owned(),
                        column: column.clone(),
                        rule: rule.to_owned(),
                        selector: found.as_ref().map(|(s, _)| s.clone()),
                        values: 0,
                        masked: 0,
                        nulls: 0,
                    });
                    self.stats_index.insert(key.clone(), self.stats.len() - 1);
                    self.stats.len() - 1
                }
            };
            let action = match found {
                None => {
                    let existing = self.samples.iter().position(|s| s.stats == stats);
                    match existing {
                        Some(i) => Action::Sample(i),
                        None => {
                            self.samples.push(Sample { stats, values: Vec::new(), done: false });
                            Action::Sample(self.samples.len() - 1)
                        }
                    }
                }
                Some((selector, rule)) => {
                    self.used_selectors.insert(selector.clone());
                    let index = self.selectors.get(&selector).copied().unwrap_or(0);
                    match rule {
                        Rule::Keep {} => Action::Keep,
                        Rule::DateShift { per: ShiftPer::Row, row_key: Some(row_key), .. } => {
                            let Some(position) = columns.iter().position(|c| *c == row_key) else {
                                return Err(MaskError::Parse {
                                    line,
                                    message: format!(
                                        "rule {selector}: row_key column {row_key:?} is not a column of {table}"
                                    ),
                                });
                            };
                            Action::Mask { rule: index, row_key: Some(position) }
                        }
                        _ => Action::Mask { rule: index, row_key: None },
                    }
                }
            };
            plans.push(ColumnPlan { action, stats });
        }
        Ok(TablePlan { columns: plans })
    }

    /// Whether column `column` of `plan` needs its value decoded: false when it is copied
    /// as it is (explicit `keep`, or a column without a rule whose sample is complete).
    pub(crate) fn needs_value(&self, plan: &TablePlan, column: usize) -> bool {
        match plan.columns.get(column).map(|c| c.action) {
            Some(Action::Keep) | None => false,
            Some(Action::Sample(i)) => !self.samples[i].done,
            Some(Action::Mask { .. }) => true,
        }
    }

    /// Counts a value copied without decoding (see [`Masker::needs_value`]).
    pub(crate) fn count_unchanged(&mut self, plan: &TablePlan, column: usize, null: bool) {
        if let Some(c) = plan.columns.get(column) {
            let stats = &mut self.stats[c.stats];
            stats.values += 1;
            stats.nulls += u64::from(null);
        }
    }

    /// Masks one value of column `column` of `plan`. `value` is `None` for a null; `row_key`
    /// is the original value of the row's seeding column when the plan asks for one.
    pub(crate) fn mask(
        &mut self,
        plan: &TablePlan,
        column: usize,
        value: Option<&str>,
        row_key: Option<&str>,
        line: u64,
        out: &mut String,
    ) -> Result<Masked, MaskError> {
        let Some(column_plan) = plan.columns.get(column) else { return Ok(Masked::Unchanged) };
        let stats = &mut self.stats[column_plan.stats];
        stats.values += 1;
        let Some(value) = value else {
            stats.nulls += 1;
            return Ok(Masked::Unchanged);
        };
        match column_plan.action {
            Action::Keep => Ok(Masked::Unchanged),
            Action::Sample(i) => {
                self.sample(i, value)?;
                Ok(Masked::Unchanged)
            }
            Action::Mask { rule, .. } => {
                out.clear();
                let result = self.apply(rule, value, row_key, out);
                match result {
                    Ok(masked) => {
                        if masked != Masked::Unchanged {
                            self.stats[column_plan.stats].masked += 1;
                        }
                        Ok(masked)
                    }
                    Err(reason) => {
                        let s = &self.stats[column_plan.stats];
                        Err(MaskError::Value {
                            line,
                            table: s.table.clone(),
                            column: s.column.clone(),
                            rule: s.rule.clone(),
                            reason,
                        })
                    }
                }
            }
        }
    }

    fn sample(&mut self, index: usize, value: &str) -> Result<(), MaskError> {
        let limit = self.rules.settings.sample_rows;
        let sample = &mut self.samples[index];
        if sample.done {
            return Ok(());
        }
        sample.values.push(value.to_owned());
        if sample.values.len() >= limit {
            self.decide(index)?;
        }
        Ok(())
    }

    fn decide(&mut self, index: usize) -> Result<(), MaskError> {
        let sample = &mut self.samples[index];
        if sample.done {
            return Ok(());
        }
        sample.done = true;
        let values = std::mem::take(&mut sample.values);
        let stats = &self.stats[sample.stats];
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let verdict = self.scanner.classify_column(Some(&stats.column), &refs, &self.policy);
        if verdict.personal {
            let violation = PersonalColumn {
                table: stats.table.clone(),
                column: stats.column.clone(),
                verdict,
            };
            self.violations.push(violation);
            if !self.check_only {
                return Err(MaskError::PersonalColumns(self.violations.clone()));
            }
        }
        Ok(())
    }

    fn apply(
        &self,
        rule: usize,
        value: &str,
        row_key: Option<&str>,
        out: &mut String,
    ) -> Result<Masked, String> {
        let Some(compiled) = self.compiled.get(rule) else { return Ok(Masked::Unchanged) };
        // Empty strings hold nothing personal: every rule but null and redact keeps them.
        if value.is_empty() && !matches!(compiled, Compiled::Null | Compiled::Redact(_)) {
            return Ok(Masked::Unchanged);
        }
        match compiled {
            Compiled::Keep => return Ok(Masked::Unchanged),
            Compiled::Null => return Ok(Masked::Null),
            Compiled::Redact(text) => out.push_str(text),
            Compiled::Hmac(p) => p.pseudonymize_into(value.as_bytes(), out),
            Compiled::Ff1 { cipher, format, alphabet, keep_leading, fix } => {
                let tweak = b"";
                let result = match format {
                    Ff1Format::Shaped => cipher.encrypt_shaped(*alphabet, tweak, value),
                    Ff1Format::Card => cipher.encrypt_card(
                        tweak,
                        value,
                        CardOptions { keep_leading_digits: *keep_leading, fix_luhn: *fix },
                    ),
                    Ff1Format::Iban => cipher.encrypt_iban(tweak, value, *fix),
                    Ff1Format::Phone => cipher.encrypt_phone(tweak, value, *keep_leading),
                };
                out.push_str(&result.map_err(|e| e.to_string())?);
            }
            Compiled::Fake(kind) => self.faker.fake_into(*kind, value, out),
            Compiled::DateShift { max_days, per_row } => {
                let seed = if *per_row { row_key.unwrap_or("") } else { value };
                let mut mac = self.date_shift.clone();
                mac.update(if *per_row { b"row\0" } else { b"value\0" });
                mac.update(seed.as_bytes());
                let digest = mac.finalize().into_bytes();
                let word = u64::from_le_bytes([
                    digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6],
                    digest[7],
                ]);
                let magnitude = 1 + (word >> 1) % u64::from(*max_days);
                let days = if word & 1 == 0 { magnitude as i64 } else { -(magnitude as i64) };
                let (date, rest) = parse_date_prefix(value)?;
                let shifted = date
                    .checked_add(Duration::days(days))
                    .ok_or_else(|| "the shifted date is out of range".to_owned())?;
                push_date(out, shifted);
                out.push_str(rest);
            }
            Compiled::Generalise { to, width, keep } => match to {
                Generalisation::Year | Generalisation::Month => {
                    let (date, _) = parse_date_prefix(value)?;
                    let month =
                        if *to == Generalisation::Year { Month::January } else { date.month() };
                    let first = Date::from_calendar_date(date.year(), month, 1)
                        .map_err(|e| e.to_string())?;
                    push_date(out, first);
                }
                Generalisation::Bucket => bucket(value, *width, out)?,
                Generalisation::Prefix => {
                    let end =
                        value.char_indices().nth(*keep).map(|(i, _)| i).unwrap_or(value.len());
                    out.push_str(&value[..end]);
                }
            },
        }
        Ok(Masked::Text)
    }

    /// Ends the run: decides the columns whose sample did not fill, and builds the summary.
    pub(crate) fn finish(mut self, rows: u64, bytes: u64) -> Result<Summary, MaskError> {
        for i in 0..self.samples.len() {
            self.decide(i)?;
        }
        let unused_rules = self
            .rules
            .columns
            .keys()
            .filter(|s| !self.used_selectors.contains(*s))
            .cloned()
            .collect();
        Ok(Summary {
            rows,
            bytes,
            columns: self.stats,
            personal_columns_without_rule: self.violations,
            unused_rules,
        })
    }
}

fn parse_date_prefix(value: &str) -> Result<(Date, &str), String> {
    let bytes = value.as_bytes();
    let well_formed = bytes.len() >= 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| bytes[i].is_ascii_digit());
    if !well_formed {
        return Err("the value does not start with a YYYY-MM-DD date".to_owned());
    }
    let number = |range: std::ops::Range<usize>| -> u32 {
        bytes[range].iter().fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    let month =
        Month::try_from(number(5..7) as u8).map_err(|_| "the month is out of range".to_owned())?;
    let date = Date::from_calendar_date(number(0..4) as i32, month, number(8..10) as u8)
        .map_err(|_| "the date does not exist".to_owned())?;
    Ok((date, &value[10..]))
}

fn push_date(out: &mut String, date: Date) {
    use std::fmt::Write as _;
    let _ = write!(out, "{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
}

fn bucket(value: &str, width: u64, out: &mut String) -> Result<(), String> {
    use std::fmt::Write as _;
    let trimmed = value.trim();
    if let Ok(n) = trimmed.parse::<i64>() {
        let w = i64::try_from(width).map_err(|_| "bucket width too large".to_owned())?;
        let _ = write!(out, "{}", n.div_euclid(w) * w);
        return Ok(());
    }
    match trimmed.parse::<f64>() {
        Ok(x) if x.is_finite() => {
            let w = width as f64;
            let _ = write!(out, "{}", (x / w).floor() * w);
            Ok(())
        }
        _ => Err("the value is not a number".to_owned()),
    }
}
