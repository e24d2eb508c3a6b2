//! The JSON Lines export of one organisation's audit log and its offline,
//! streaming verifier.
//!
//! An export is a header line, one line per entry in index order, and a
//! trailer line; every line is one compact JSON object ending in `\n`. The
//! header carries the compact range of the leaves before the export, the
//! trailer the compact range after it and the signed checkpoint, so the
//! verifier can recompute the checkpoint root from the exported entries
//! alone, in memory proportional to log(tree size). The line format is
//! specified in `docs/design/0002-audit-log-format.md`.

mod lines;
mod write;

use std::fmt;
use std::io::BufRead;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use uuid::Uuid;

use crate::entry::{
    ActorKind, Entry, EntryError, LeafView, Outcome, PersonalField, PersonalFieldName, commit,
    parse_time,
};
use crate::merkle::{CompactRange, Hash, MerkleError, empty_root, leaf_hash, verify_consistency};
use crate::note::{self, Checkpoint, NoteError, NoteVerifier};
use lines::{
    ENTRY_FIELDS, HEADER_FIELDS, RawDetailsValue, RawLine, RawPersonal, RawPersonalValue,
    TRAILER_FIELDS, Text,
};
pub use write::{ExportHeader, ExportLine, ExportTrailer};

/// Export format version written in the header.
pub const EXPORT_VERSION: u64 = 1;

/// Errors of [`verify_export`]; each names the line or entry it concerns.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The verifier key string is invalid.
    #[error("verifier key: {0}")]
    VerifierKey(NoteError),
    /// The checkpoint does not open: bad signature, wrong key, unknown
    /// signer, wrong origin, malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    /// The previous checkpoint does not open with the same key and origin.
    #[error("previous checkpoint: {0}")]
    PreviousCheckpoint(NoteError),
    /// Reading failed.
    #[error("line {line}: read error: {source}")]
    Io { line: u64, source: std::io::Error },
    /// The input has no lines at all.
    #[error("export is empty: no header line")]
    Empty,
    /// The last line does not end in a newline: the file was cut.
    #[error("line {line}: truncated: the line does not end with a newline")]
    Truncated { line: u64 },
    /// A line is not UTF-8.
    #[error("line {line}: not valid utf-8")]
    Utf8 { line: u64 },
    /// A line is not a JSON object of the export format.
    #[error("line {line}: invalid json: {message}")]
    Json { line: u64, message: String },
    /// A field of a header or trailer line is missing or invalid.
    #[error("line {line}: field {field}: {reason}")]
    Field { line: u64, field: &'static str, reason: String },
    /// The first line is not a header.
    #[error("line 1: expected a header line, found {found:?}")]
    MissingHeader { found: String },
    /// A second header.
    #[error("line {line}: unexpected second header line")]
    UnexpectedHeader { line: u64 },
    /// A line of unknown type.
    #[error("line {line}: unknown line type {found:?}")]
    UnknownLineType { line: u64, found: String },
    /// The export is for another log than the checkpoint.
    #[error("header origin {header:?} does not match checkpoint origin {checkpoint:?}")]
    OriginMismatch { header: String, checkpoint: String },
    /// The header range does not fit the checkpoint's tree.
    #[error("header range [{from}, {to}) does not fit in the checkpoint's tree of size {size}")]
    RangeOutsideTree { from: u64, to: u64, size: u64 },
    /// The header's left compact range is inconsistent.
    #[error("header: left: {0}")]
    Left(MerkleError),
    /// An entry line is out of order, duplicated or skips an index.
    #[error(
        "line {line}: expected entry index {expected}, found {found} (entries must be contiguous and in order)"
    )]
    IndexMismatch { line: u64, expected: u64, found: u64 },
    /// More entries than the header announced.
    #[error("line {line}: entry {index} is past the header's to_index {to}")]
    ExtraEntry { line: u64, index: u64, to: u64 },
    /// An entry field is invalid or disagrees with the entry's leaf.
    #[error("entry {index}: field {field}: {reason}")]
    Entry { index: u64, field: &'static str, reason: String },
    /// The trailer came before all announced entries.
    #[error(
        "line {line}: trailer after entry index {next} but the header announced entries up to {to} (exclusive)"
    )]
    MissingEntries { line: u64, next: u64, to: u64 },
    /// The input ended without a trailer.
    #[error("export ends after {lines} lines without a trailer")]
    MissingTrailer { lines: u64 },
    /// Anything after the trailer.
    #[error("line {line}: data after the trailer")]
    TrailingData { line: u64 },
    /// The trailer's right compact range is inconsistent.
    #[error("trailer: right: {0}")]
    Right(MerkleError),
    /// The trailer's checkpoint does not open.
    #[error("trailer: checkpoint: {0}")]
    TrailerCheckpoint(NoteError),
    /// The trailer carries another checkpoint than the one given.
    #[error(
        "trailer checkpoint (size {trailer_size}) is not the checkpoint given (size {given_size})"
    )]
    TrailerCheckpointMismatch { trailer_size: u64, given_size: u64 },
    /// The recomputed root is not the checkpoint's: another tree, or tampering.
    #[error(
        "root computed from the export at size {size} is {computed}, the checkpoint says {expected}"
    )]
    RootMismatch { size: u64, computed: String, expected: String },
    /// The previous checkpoint is larger than the current one.
    #[error("previous checkpoint size {previous} is larger than the checkpoint size {current}")]
    PreviousNewer { previous: u64, current: u64 },
    /// The previous checkpoint's root is not the root at its size.
    #[error("previous checkpoint root at size {size} is {expected}, the export gives {computed}")]
    PreviousRootMismatch { size: u64, computed: String, expected: String },
    /// The previous checkpoint is outside the export and no proof was given.
    #[error(
        "previous checkpoint size {size} is outside the exported range [{from}, {to}]; pass a consistency proof from size {size} to {tree_size} (verify_export_with)"
    )]
    NeedConsistencyProof { size: u64, from: u64, to: u64, tree_size: u64 },
    /// The consistency proof from the previous checkpoint does not verify.
    #[error("consistency proof from size {size1} to {size2}: {source}")]
    Consistency { size1: u64, size2: u64, source: MerkleError },
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Number of entry lines.
    pub entries: u64,
    /// Checkpoint tree size.
    pub tree_size: u64,
    /// Checkpoint root, recomputed.
    pub root: Hash,
    /// Personal fields marked erased across all entries.
    pub erased_fields: u64,
    /// Index of the first entry, if any.
    pub first_index: Option<u64>,
    /// Index of the last entry, if any.
    pub last_index: Option<u64>,
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = match (self.first_index, self.last_index) {
            (Some(a), Some(b)) => format!("indices {a}..={b}"),
            _ => "no indices".to_owned(),
        };
        write!(
            f,
            "ok: {} entries ({range}) in tree of size {} with root {}, {} erased personal fields",
            self.entries,
            self.tree_size,
            B64.encode(self.root),
            self.erased_fields
        )
    }
}

/// Optional inputs of [`verify_export_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// An earlier checkpoint of the same log that the export must extend.
    pub previous_checkpoint: Option<&'a str>,
    /// Consistency proof from the previous checkpoint's size to the
    /// checkpoint's size; needed when the previous size is outside
    /// `[from_index, to_index]`, checked whenever given.
    pub consistency_proof: Option<&'a [Hash]>,
    /// The log the caller expects; otherwise any origin the key signed.
    pub expected_origin: Option<&'a str>,
}

/// Verifies an export against a checkpoint note signed by `verifier_key`
/// and, optionally, an earlier checkpoint whose size lies inside the export.
pub fn verify_export(
    reader: impl BufRead,
    checkpoint_note: &str,
    verifier_key: &str,
    previous_checkpoint: Option<&str>,
) -> Result<VerifySummary, VerifyError> {
    let options = VerifyOptions { previous_checkpoint, ..VerifyOptions::default() };
    verify_export_with(reader, checkpoint_note, verifier_key, &options)
}

/// [`verify_export`] with all options.
pub fn verify_export_with(
    mut reader: impl BufRead,
    checkpoint_note: &str,
    verifier_key: &str,
    options: &VerifyOptions<'_>,
) -> Result<VerifySummary, VerifyError> {
    let verifier =
        NoteVerifier::from_verifier_key(verifier_key).map_err(VerifyError::VerifierKey)?;
    let checkpoint = note::open(checkpoint_note, &verifier, options.expected_origin)
        .map_err(VerifyError::Checkpoint)?;
    let previous = match options.previous_checkpoint {
        None => None,
        Some(text) => {
            let prev = note::open(text, &verifier, Some(&checkpoint.origin))
                .map_err(VerifyError::PreviousCheckpoint)?;
            if prev.size > checkpoint.size {
                return Err(VerifyError::PreviousNewer {
                    previous: prev.size,
                    current: checkpoint.size,
                });
            }
            Some(prev)
        }
    };

    let mut lines = LineReader { reader: &mut reader, buf: Vec::new(), number: 0 };
    let Some(text) = lines.next_line()? else {
        return Err(VerifyError::Empty);
    };
    let header = parse_line(text, 1)?;
    if header.kind.as_str() != "header" {
        return Err(VerifyError::MissingHeader { found: header.kind.0.into_owned() });
    }
    let header = HeaderInfo::from_raw(header)?;
    if header.origin != checkpoint.origin {
        return Err(VerifyError::OriginMismatch {
            header: header.origin,
            checkpoint: checkpoint.origin,
        });
    }
    if header.from > header.to || header.to > checkpoint.size {
        return Err(VerifyError::RangeOutsideTree {
            from: header.from,
            to: header.to,
            size: checkpoint.size,
        });
    }
    let mut range =
        CompactRange::from_parts(0, header.from, header.left).map_err(VerifyError::Left)?;

    let mut previous_checked = false;
    let mut check_previous = |range: &CompactRange| -> Result<(), VerifyError> {
        if let Some(prev) = &previous
            && prev.size == range.end()
        {
            let computed = range.root().map_err(VerifyError::Left)?;
            if computed != prev.root {
                return Err(VerifyError::PreviousRootMismatch {
                    size: prev.size,
                    computed: B64.encode(computed),
                    expected: B64.encode(prev.root),
                });
            }
            previous_checked = true;
        }
        Ok(())
    };
    check_previous(&range)?;

    let mut state = EntryState {
        organization_id: header.organization_id,
        leaf: Vec::with_capacity(512),
        given: Vec::with_capacity(512),
        erased: 0,
    };
    let mut next = header.from;
    let trailer = loop {
        let line_no = lines.number + 1;
        let Some(text) = lines.next_line()? else {
            return Err(VerifyError::MissingTrailer { lines: lines.number });
        };
        let raw = parse_line(text, line_no)?;
        match raw.kind.as_str() {
            "entry" => {
                let index = raw.index.ok_or_else(|| VerifyError::Field {
                    line: line_no,
                    field: "index",
                    reason: "missing".to_owned(),
                })?;
                if index != next {
                    if next == header.to && index >= next {
                        return Err(VerifyError::ExtraEntry {
                            line: line_no,
                            index,
                            to: header.to,
                        });
                    }
                    return Err(VerifyError::IndexMismatch {
                        line: line_no,
                        expected: next,
                        found: index,
                    });
                }
                if next == header.to {
                    return Err(VerifyError::ExtraEntry { line: line_no, index, to: header.to });
                }
                let hash = state.check(&raw, index)?;
                range.append(hash, &mut |_, _| {}).map_err(|e| VerifyError::Entry {
                    index,
                    field: "index",
                    reason: e.to_string(),
                })?;
                next += 1;
                check_previous(&range)?;
            }
            "trailer" => {
                if next != header.to {
                    return Err(VerifyError::MissingEntries { line: line_no, next, to: header.to });
                }
                break TrailerInfo::from_raw(raw, line_no)?;
            }
            "header" => return Err(VerifyError::UnexpectedHeader { line: line_no }),
            other => {
                return Err(VerifyError::UnknownLineType {
                    line: line_no,
                    found: other.to_owned(),
                });
            }
        }
    };
    if lines.next_line()?.is_some() {
        return Err(VerifyError::TrailingData { line: lines.number });
    }

    let trailer_checkpoint = note::open(&trailer.checkpoint, &verifier, Some(&checkpoint.origin))
        .map_err(VerifyError::TrailerCheckpoint)?;
    if trailer_checkpoint != checkpoint {
        return Err(VerifyError::TrailerCheckpointMismatch {
            trailer_size: trailer_checkpoint.size,
            given_size: checkpoint.size,
        });
    }
    let right = CompactRange::from_parts(header.to, checkpoint.size, trailer.right)
        .map_err(VerifyError::Right)?;
    range.extend(&right, &mut |_, _| {}).map_err(VerifyError::Right)?;
    let root = range.root().map_err(VerifyError::Right)?;
    if root != checkpoint.root {
        return Err(VerifyError::RootMismatch {
            size: checkpoint.size,
            computed: B64.encode(root),
            expected: B64.encode(checkpoint.root),
        });
    }

    if let Some(prev) = &previous {
        if let Some(proof) = options.consistency_proof {
            check_consistency(prev, &checkpoint, proof)?;
        } else if !previous_checked {
            return Err(VerifyError::NeedConsistencyProof {
                size: prev.size,
                from: header.from,
                to: header.to,
                tree_size: checkpoint.size,
            });
        }
    }

    let entries = header.to - header.from;
    Ok(VerifySummary {
        entries,
        tree_size: checkpoint.size,
        root,
        erased_fields: state.erased,
        first_index: (entries > 0).then_some(header.from),
        last_index: (entries > 0).then(|| header.to - 1),
    })
}

fn check_consistency(
    prev: &Checkpoint,
    current: &Checkpoint,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    let err = |source| VerifyError::Consistency { size1: prev.size, size2: current.size, source };
    if prev.size == 0 {
        // Every tree extends the empty one; only the empty root is checked.
        if !proof.is_empty() {
            return Err(err(MerkleError::ProofLength { expected: 0, got: proof.len() }));
        }
        if prev.root != empty_root() {
            return Err(err(MerkleError::ConsistencyRoot1Mismatch));
        }
        return Ok(());
    }
    verify_consistency(prev.size, current.size, proof, &prev.root, &current.root).map_err(err)
}

/// Reads `\n`-terminated lines into one reused buffer.
struct LineReader<'r, R: BufRead> {
    reader: &'r mut R,
    buf: Vec<u8>,
    number: u64,
}

impl<R: BufRead> LineReader<'_, R> {
    /// The next line without its newline, `None` at end of input.
    fn next_line(&mut self) -> Result<Option<&str>, VerifyError> {
        self.buf.clear();
        let line = self.number + 1;
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| VerifyError::Io { line, source })?;
        if n == 0 {
            return Ok(None);
        }
        self.number = line;
        let Some(body) = self.buf.strip_suffix(b"\n") else {
            return Err(VerifyError::Truncated { line });
        };
        std::str::from_utf8(body).map(Some).map_err(|_| VerifyError::Utf8 { line })
    }
}

fn parse_line(text: &str, line: u64) -> Result<RawLine<'_>, VerifyError> {
    serde_json::from_str(text).map_err(|e| VerifyError::Json { line, message: e.to_string() })
}

struct HeaderInfo {
    organization_id: Uuid,
    origin: String,
    from: u64,
    to: u64,
    left: Vec<Hash>,
}

impl HeaderInfo {
    fn from_raw(raw: RawLine<'_>) -> Result<Self, VerifyError> {
        let field =
            |field, reason: &str| VerifyError::Field { line: 1, field, reason: reason.to_owned() };
        raw.check_fields(HEADER_FIELDS).map_err(|(f, r)| field(f, r))?;
        if raw.version != Some(EXPORT_VERSION) {
            return Err(field("version", "unsupported export version"));
        }
        let organization_id = parse_uuid(text(&raw.organization_id))
            .ok_or_else(|| field("organization_id", "not a lowercase hyphenated uuid"))?;
        let left = decode_hashes(raw.left.as_deref().unwrap_or_default()).map_err(|i| {
            VerifyError::Field {
                line: 1,
                field: "left",
                reason: format!("hash {i} is not base64 of 32 bytes"),
            }
        })?;
        Ok(Self {
            organization_id,
            origin: raw.origin.map(|t| t.0.into_owned()).unwrap_or_default(),
            from: raw.from_index.unwrap_or_default(),
            to: raw.to_index.unwrap_or_default(),
            left,
        })
    }
}

struct TrailerInfo {
    right: Vec<Hash>,
    checkpoint: String,
}

impl TrailerInfo {
    fn from_raw(raw: RawLine<'_>, line: u64) -> Result<Self, VerifyError> {
        raw.check_fields(TRAILER_FIELDS).map_err(|(field, r)| VerifyError::Field {
            line,
            field,
            reason: r.to_owned(),
        })?;
        let right = decode_hashes(raw.right.as_deref().unwrap_or_default()).map_err(|i| {
            VerifyError::Field {
                line,
                field: "right",
                reason: format!("hash {i} is not base64 of 32 bytes"),
            }
        })?;
        Ok(Self { right, checkpoint: raw.checkpoint.map(|t| t.0.into_owned()).unwrap_or_default() })
    }
}

/// Only the canonical lowercase hyphenated spelling is accepted, so that a
/// changed letter case cannot pass unnoticed.
fn parse_uuid(s: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(s).ok()?;
    let mut buf = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buf) == s).then_some(id)
}

/// Decodes base64 hashes; the error is the index of the first bad one.
fn decode_hashes(items: &[Text<'_>]) -> Result<Vec<Hash>, usize> {
    items.iter().enumerate().map(|(i, s)| decode_array::<32>(s.as_str()).ok_or(i)).collect()
}

fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    // Base64 of N bytes has a fixed length; checking it first keeps
    // decode_slice from ever needing more room than N.
    if s.len() != N.div_ceil(3) * 4 {
        return None;
    }
    match B64.decode_slice(s, &mut out) {
        Ok(n) if n == N => Some(out),
        _ => None,
    }
}

/// Buffers reused across entries so verification does not allocate per
/// line on the common path.
struct EntryState {
    organization_id: Uuid,
    leaf: Vec<u8>,
    given: Vec<u8>,
    erased: u64,
}

impl EntryState {
    /// Rebuilds the leaf from the decoded fields, compares it with the
    /// line's `leaf`, and returns the leaf hash.
    fn check(&mut self, raw: &RawLine<'_>, index: u64) -> Result<Hash, VerifyError> {
        let err = |field: &'static str, reason: String| VerifyError::Entry { index, field, reason };
        raw.check_fields(ENTRY_FIELDS).map_err(|(f, r)| err(f, r.to_owned()))?;
        let time_text = text(&raw.time);
        let time = parse_time(time_text).map_err(|e| err("time", entry_reason(e)))?;
        let kind_text = text(&raw.actor_kind);
        let actor_kind = ActorKind::parse(kind_text)
            .ok_or_else(|| err("actor_kind", format!("unknown actor kind {kind_text:?}")))?;
        let outcome_text = text(&raw.outcome);
        let outcome = Outcome::parse(outcome_text)
            .ok_or_else(|| err("outcome", format!("unknown outcome {outcome_text:?}")))?;
        let Some(personal) = &raw.personal else {
            return Err(err("personal", "missing".to_owned()));
        };
        let mut commitments = [None; 4];
        let mut erased_here = 0;
        for (slot, name) in commitments.iter_mut().zip(PersonalFieldName::ALL) {
            let (c, erased) =
                self.personal_commitment(personal, name).map_err(|r| err(name.as_str(), r))?;
            *slot = c;
            erased_here += u64::from(erased);
        }
        let time_micros =
            crate::entry::time_to_micros(time).map_err(|e| err("time", entry_reason(e)))?;
        let view = LeafView {
            organization_id: self.organization_id,
            index,
            time_micros,
            actor_kind,
            actor_id: flat(&raw.actor_id),
            credential: flat(&raw.credential),
            action: text(&raw.action),
            resource_type: text(&raw.resource_type),
            resource_id: flat(&raw.resource_id),
            outcome,
            reason: flat(&raw.reason),
            request_id: flat(&raw.request_id),
            privileged: raw.privileged.unwrap_or_default(),
            personal: commitments,
        };
        self.leaf.clear();
        view.encode(&mut self.leaf).map_err(|e| match e {
            EntryError::Field { field, reason } => err(field, reason),
            other => err("leaf", other.to_string()),
        })?;
        self.given.clear();
        B64.decode_vec(text(&raw.leaf), &mut self.given)
            .map_err(|e| err("leaf", format!("not valid base64: {e}")))?;
        if self.leaf != self.given {
            return Err(self.explain_mismatch(&view, index, time));
        }
        self.erased += erased_here;
        Ok(leaf_hash(&self.leaf))
    }

    /// The commitment a personal field contributes, and whether it is erased.
    fn personal_commitment(
        &mut self,
        personal: &RawPersonal<'_>,
        name: PersonalFieldName,
    ) -> Result<(Option<Hash>, bool), String> {
        let parts = match name {
            PersonalFieldName::ActorLabel => {
                personal.actor_label.as_ref().map(|v| v.as_ref().map(Parts::from_text))
            }
            PersonalFieldName::SourceIp => {
                personal.source_ip.as_ref().map(|v| v.as_ref().map(Parts::from_text))
            }
            PersonalFieldName::UserAgent => {
                personal.user_agent.as_ref().map(|v| v.as_ref().map(Parts::from_text))
            }
            PersonalFieldName::Details => {
                personal.details.as_ref().map(|v| v.as_ref().map(Parts::from_details))
            }
        };
        let Some(parts) = parts else {
            return Err("missing from personal".to_owned());
        };
        let Some(parts) = parts else {
            return Ok((None, false));
        };
        match parts {
            Parts { value: Some(value), salt: Some(salt), erased: None, commitment: None } => {
                let salt = decode_array::<16>(salt).ok_or("salt is not base64 of 16 bytes")?;
                let value = match value {
                    PartValue::Text(t) => t,
                    PartValue::Canonical(c) => c.as_deref().map_err(Clone::clone)?,
                };
                Ok((Some(commit(name, &salt, value)), false))
            }
            Parts { value: None, salt: None, erased: Some(true), commitment: Some(c) } => {
                let c = decode_array::<32>(c).ok_or("commitment is not base64 of 32 bytes")?;
                Ok((Some(c), true))
            }
            _ => {
                Err("expected {\"value\",\"salt\"} or {\"erased\":true,\"commitment\"}".to_owned())
            }
        }
    }

    /// Finds the first field where the line and the given leaf disagree.
    fn explain_mismatch(
        &self,
        view: &LeafView<'_>,
        index: u64,
        time: time::OffsetDateTime,
    ) -> VerifyError {
        let err = |field: &'static str, reason: String| VerifyError::Entry { index, field, reason };
        let decoded = match Entry::from_leaf_bytes(&self.given) {
            Ok(d) => d,
            Err(e) => return err("leaf", format!("does not decode: {e}")),
        };
        let personal = |c: Option<Hash>| match c {
            None => PersonalField::Absent,
            Some(commitment) => PersonalField::Erased { commitment },
        };
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let from_line = Entry {
            organization_id: view.organization_id,
            index: view.index,
            time,
            actor_kind: view.actor_kind,
            actor_id: owned(view.actor_id),
            credential: owned(view.credential),
            action: view.action.to_owned(),
            resource_type: view.resource_type.to_owned(),
            resource_id: owned(view.resource_id),
            outcome: view.outcome,
            reason: owned(view.reason),
            request_id: owned(view.request_id),
            privileged: view.privileged,
            actor_label: personal(view.personal[0]),
            source_ip: personal(view.personal[1]),
            user_agent: personal(view.personal[2]),
            details: personal(view.personal[3]),
        };
        match from_line.first_difference(&decoded) {
            Some(d) => {
                let what = if d.field == "organization_id" { "header has" } else { "line has" };
                err(d.field, format!("{what} {} but the leaf has {}", d.left, d.right))
            }
            None => err("leaf", "is not the canonical encoding of the line's fields".to_owned()),
        }
    }
}

enum PartValue<'v> {
    Text(&'v str),
    /// Canonical `details` text, or why there is none.
    Canonical(&'v Result<String, String>),
}

struct Parts<'v> {
    value: Option<PartValue<'v>>,
    salt: Option<&'v str>,
    erased: Option<bool>,
    commitment: Option<&'v str>,
}

impl<'v> Parts<'v> {
    fn from_text(v: &'v RawPersonalValue<'_>) -> Self {
        Parts {
            value: v.value.as_ref().map(|t| PartValue::Text(t.as_str())),
            salt: v.salt.as_ref().map(Text::as_str),
            erased: v.erased,
            commitment: v.commitment.as_ref().map(Text::as_str),
        }
    }

    fn from_details(v: &'v RawDetailsValue<'_>) -> Self {
        Parts {
            value: v.value.as_ref().map(|c| PartValue::Canonical(&c.0)),
            salt: v.salt.as_ref().map(Text::as_str),
            erased: v.erased,
            commitment: v.commitment.as_ref().map(Text::as_str),
        }
    }
}

fn flat<'a>(v: &'a Option<Option<Text<'_>>>) -> Option<&'a str> {
    v.as_ref().and_then(|inner| inner.as_ref().map(Text::as_str))
}

/// A required string field; presence was checked by `check_fields`.
fn text<'a>(v: &'a Option<Text<'_>>) -> &'a str {
    v.as_ref().map(Text::as_str).unwrap_or_default()
}

/// The reason part of an entry error, without the `field x:` prefix that
/// the export error adds itself.
fn entry_reason(e: EntryError) -> String {
    match e {
        EntryError::Field { reason, .. } => reason,
        other => other.to_string(),
    }
}
