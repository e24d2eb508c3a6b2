//! Masking of production extracts into test extracts.
//!
//! Formats: PostgreSQL plain dumps (`COPY … FROM stdin` blocks in text format and
//! `INSERT INTO … (cols) VALUES …` statements; everything else passes through unchanged),
//! CSV with a header row, and JSON Lines (fields by dotted path). Rules come from a TOML file
//! ([`MaskingRules::from_toml`], format in [`rules`]).
//!
//! * **Consistency.** `hmac`, `ff1`, `fake` and `date_shift` (per value) are keyed by the key,
//!   the rule's parameters and the value, never by the column: the same value gets the same
//!   output in every table and file of a run and across runs with the same key, so foreign
//!   keys and joins still match (see [`Rule::is_join_safe`]).
//! * **Deny by default.** A column without a rule is sampled (its first `sample_rows` values)
//!   and scanned by [`crate::pii`]; if it looks personal the run fails with the table, the
//!   column and the detector's evidence (kinds and counts, never values). A column without a
//!   rule that does not look personal is copied and listed as "unruled, kept".
//! * **No partial output.** [`mask_to_path`] writes to a temporary file next to the
//!   destination and renames it at the end; [`mask_to_writer_spooled`] (and
//!   [`mask_to_stdout`]) spool to a temporary file and copy it out only on success.
//! * **Errors name the line** of the input, the table and the column; they never quote a
//!   value.

mod csv;
mod engine;
mod jsonl;
pub mod rules;
mod sql;

use std::fmt;
use std::io::{self, BufRead, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use self::rules::{MaskingRules, Rule, RulesError};
use crate::key::{KeyError, RootKey};
use crate::pii::ColumnVerdict;

/// The format of an extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// A PostgreSQL plain-SQL dump (`pg_dump --format=plain`).
    PostgresDump,
    /// CSV with a header row; `table` is the name rules use for this file.
    Csv {
        /// Table name used in selectors.
        table: String,
    },
    /// JSON Lines, one object per line; `table` is the name rules use for this file.
    JsonLines {
        /// Table name used in selectors.
        table: String,
    },
}

/// The key of a masking run.
#[derive(Debug, Clone)]
pub struct MaskingKey {
    root: RootKey,
}

impl MaskingKey {
    /// Reads a key file: 32 raw bytes, or 64 hexadecimal characters and an optional newline.
    pub fn from_file_bytes(content: &[u8]) -> Result<Self, MaskError> {
        Ok(Self { root: RootKey::from_file_bytes(content)? })
    }

    /// A key from a root key.
    pub fn from_root(root: RootKey) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &RootKey {
        &self.root
    }
}

/// Progress of a run, reported every few thousand rows and at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Data rows processed (COPY rows, INSERT tuples, CSV records, JSON lines).
    pub rows: u64,
    /// Input bytes consumed.
    pub bytes: u64,
}

/// Per column of a run: which rule applied and how many values it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSummary {
    /// Table (or file) name.
    pub table: String,
    /// Column name or field path.
    pub column: String,
    /// Rule name, or `unruled, kept`.
    pub rule: String,
    /// The selector of the rules file that matched.
    pub selector: Option<String>,
    /// Values seen (nulls included).
    pub values: u64,
    /// Values changed by the rule.
    pub masked: u64,
    /// Nulls seen (always kept).
    pub nulls: u64,
}

/// A column without a rule that looks personal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalColumn {
    /// Table (or file) name.
    pub table: String,
    /// Column name or field path.
    pub column: String,
    /// The detector's verdict on the sample: kinds and counts, never values.
    pub verdict: ColumnVerdict,
}

impl fmt::Display for PersonalColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.table, self.column, self.verdict)
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Data rows processed.
    pub rows: u64,
    /// Input bytes consumed.
    pub bytes: u64,
    /// One entry per table and column, in order of first appearance.
    pub columns: Vec<ColumnSummary>,
    /// Columns without a rule that look personal (non-empty only in check mode: otherwise
    /// the run fails).
    pub personal_columns_without_rule: Vec<PersonalColumn>,
    /// Selectors of the rules file that matched no column (often a typo).
    pub unused_rules: Vec<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} rows, {} bytes", self.rows, self.bytes)?;
        for c in &self.columns {
            writeln!(
                f,
                "  {}.{}: {} ({} of {} values masked, {} null)",
                c.table, c.column, c.rule, c.masked, c.values, c.nulls
            )?;
        }
        for p in &self.personal_columns_without_rule {
            writeln!(f, "  personal column without a rule: {p}")?;
        }
        for s in &self.unused_rules {
            writeln!(f, "  rule matched no column: {s}")?;
        }
        Ok(())
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum MaskError {
    /// The key file is unusable.
    #[error("key file: {0}")]
    Key(#[from] KeyError),
    /// The rules file is invalid.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// Reading the input or writing the output failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The input is malformed.
    #[error("input line {line}: {message}")]
    Parse {
        /// 1-based input line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A value cannot be masked by its rule (the value itself is not shown).
    #[error("input line {line}: {table}.{column} ({rule}): {reason}")]
    Value {
        /// 1-based input line.
        line: u64,
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// Rule.
        rule: String,
        /// Why.
        reason: String,
    },
    /// Columns without a rule look personal.
    #[error("{} column(s) without a rule look personal: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PersonalColumns(Vec<PersonalColumn>),
    /// The PII detector could not be built (a defect of this crate, not of the input).
    #[error("the PII detector could not be built: {0}")]
    Detector(#[from] crate::pii::ScannerError),
    /// The destination cannot be written.
    #[error("output {path}: {source}")]
    Output {
        /// The destination.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl MaskError {
    pub(crate) fn parse(line: u64, message: impl Into<String>) -> Self {
        MaskError::Parse { line, message: message.into() }
    }
}

/// Reports progress every this many rows.
const PROGRESS_EVERY: u64 = 4096;

/// Counts rows and bytes and calls the progress callback.
pub(crate) struct Tracker<'p> {
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    callback: &'p mut dyn FnMut(Progress),
}

impl Tracker<'_> {
    pub(crate) fn row(&mut self) {
        self.rows += 1;
        if self.rows.is_multiple_of(PROGRESS_EVERY) {
            (self.callback)(Progress { rows: self.rows, bytes: self.bytes });
        }
    }
}

/// Masks `reader` into `writer`. On error the writer may hold partial output: use
/// [`mask_to_path`] or [`mask_to_writer_spooled`] to never expose it.
pub fn mask_stream<R: BufRead, W: Write>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    writer: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, MaskError> {
    run(format, rules, key, reader, writer, progress, false)
}

/// Check mode: runs every rule and the detector, writes nothing, and reports personal columns
/// without a rule in the summary instead of failing on the first one. Malformed input and
/// values a rule cannot mask still fail.
pub fn check_stream<R: BufRead>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, MaskError> {
    run(format, rules, key, reader, io::sink(), progress, true)
}

fn run<R: BufRead, W: Write>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    writer: W,
    progress: &mut dyn FnMut(Progress),
    check_only: bool,
) -> Result<Summary, MaskError> {
    let mut masker = engine::Masker::new(rules, key, check_only)?;
    let mut writer = BufWriter::with_capacity(1 << 18, writer);
    let mut tracker = Tracker { rows: 0, bytes: 0, callback: progress };
    match format {
        Format::PostgresDump => sql::mask_dump(&mut masker, reader, &mut writer, &mut tracker)?,
        Format::Csv { table } => {
            csv::mask_csv(&mut masker, table, reader, &mut writer, &mut tracker)?
        }
        Format::JsonLines { table } => {
            jsonl::mask_jsonl(&mut masker, table, reader, &mut writer, &mut tracker)?
        }
    }
    writer.flush()?;
    let (rows, bytes) = (tracker.rows, tracker.bytes);
    (tracker.callback)(Progress { rows, bytes });
    masker.finish(rows, bytes)
}

/// Masks `reader` into the file `destination`, atomically: the output is written to a
/// temporary file in the same directory and renamed over `destination` only when the whole
/// run succeeded. On failure no file is left behind.
pub fn mask_to_path<R: BufRead>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    destination: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, MaskError> {
    let output_error = |source| MaskError::Output { path: destination.to_owned(), source };
    let directory = match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".rampart-mask-")
        .tempfile_in(&directory)
        .map_err(output_error)?;
    let summary = mask_stream(format, rules, key, reader, temporary.as_file_mut(), progress)?;
    temporary.as_file().sync_all().map_err(output_error)?;
    temporary.persist(destination).map_err(|e| output_error(e.error))?;
    Ok(summary)
}

/// Masks `reader` into `out` through a spool file (in `spool_directory`, or the system's
/// temporary directory): `out` receives nothing unless the whole run succeeded.
pub fn mask_to_writer_spooled<R: BufRead, W: Write>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    mut out: W,
    spool_directory: Option<&Path>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, MaskError> {
    let mut spool = match spool_directory {
        Some(dir) => tempfile::tempfile_in(dir)?,
        None => tempfile::tempfile()?,
    };
    let summary = mask_stream(format, rules, key, reader, &mut spool, progress)?;
    spool.rewind()?;
    io::copy(&mut spool, &mut out)?;
    out.flush()?;
    Ok(summary)
}

/// [`mask_to_writer_spooled`] to the process's standard output.
pub fn mask_to_stdout<R: BufRead>(
    format: &Format,
    rules: &MaskingRules,
    key: &MaskingKey,
    reader: R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, MaskError> {
    mask_to_writer_spooled(format, rules, key, reader, io::stdout().lock(), None, progress)
}
