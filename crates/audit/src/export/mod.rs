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

mod fast;
mod lines;
mod pipeline;
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
    ENTRY_FIELDS, HEADER_FIELDS, RawDetailsValue, RawLine, RawPersonalValue, TRAILER_FIELDS, Text,
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
    /// A line exceeds the length limit.
    #[error("line {line}: longer than {max} bytes")]
    LineTooLong { line: u64, max: usize },
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
    /// A worker thread stopped without a result (it can only have panicked).
    #[error("internal error: a verification worker stopped")]
    WorkerFailed,
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
    /// Worker threads for entry checks; 0 picks the available parallelism
    /// (at most 8). Results do not depend on it.
    pub threads: usize,
}

const MAX_THREADS: usize = 8;

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
    let range = CompactRange::from_parts(0, header.from, header.left).map_err(VerifyError::Left)?;

    let ctx = pipeline::Ctx { organization_id: header.organization_id, to: header.to };
    let mut sink = pipeline::Sink {
        range,
        previous: previous.as_ref(),
        previous_checked: false,
        erased: 0,
        trailer: None,
        last_line: 1,
    };
    sink.check_previous()?;
    let workers = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        n => n,
    };
    pipeline::run(&mut reader, &ctx, &mut sink, header.from, workers)?;
    let Some(trailer) = sink.trailer.take() else {
        return Err(VerifyError::MissingTrailer { lines: sink.last_line });
    };
    let mut range = sink.range;
    let (erased, previous_checked) = (sink.erased, sink.previous_checked);

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
        erased_fields: erased,
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
    encoded: String,
}

impl EntryState {
    fn new(organization_id: Uuid) -> Self {
        Self { organization_id, leaf: Vec::with_capacity(512), encoded: String::with_capacity(700) }
    }

    /// Rebuilds the leaf from the decoded fields, compares it with the
    /// line's `leaf`, and returns the leaf hash and the number of erased
    /// personal fields.
    fn check(&mut self, f: &EntryFields<'_>, index: u64) -> Result<(Hash, u64), VerifyError> {
        let err = |field: &'static str, reason: String| VerifyError::Entry { index, field, reason };
        let time = parse_time(f.time).map_err(|e| err("time", entry_reason(e)))?;
        let actor_kind = ActorKind::parse(f.actor_kind)
            .ok_or_else(|| err("actor_kind", format!("unknown actor kind {:?}", f.actor_kind)))?;
        let outcome = Outcome::parse(f.outcome)
            .ok_or_else(|| err("outcome", format!("unknown outcome {:?}", f.outcome)))?;
        let mut commitments = [None; 4];
        let mut erased_here = 0;
        for ((slot, name), part) in
            commitments.iter_mut().zip(PersonalFieldName::ALL).zip(&f.personal)
        {
            let (c, erased) = part_commitment(part, name).map_err(|r| err(name.as_str(), r))?;
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
            actor_id: f.actor_id,
            credential: f.credential,
            action: f.action,
            resource_type: f.resource_type,
            resource_id: f.resource_id,
            outcome,
            reason: f.reason,
            request_id: f.request_id,
            privileged: f.privileged,
            personal: commitments,
        };
        self.leaf.clear();
        view.encode(&mut self.leaf).map_err(|e| match e {
            EntryError::Field { field, reason } => err(field, reason),
            other => err("leaf", other.to_string()),
        })?;
        // Encoding ours is cheaper than decoding theirs, and equivalent:
        // the decoder accepts only the one canonical encoding of each leaf.
        self.encoded.clear();
        B64.encode_string(&self.leaf, &mut self.encoded);
        if self.encoded != f.leaf {
            let given =
                B64.decode(f.leaf).map_err(|e| err("leaf", format!("not valid base64: {e}")))?;
            return Err(explain_mismatch(&given, &view, index, time));
        }
        Ok((leaf_hash(&self.leaf), erased_here))
    }
}

/// One entry line's values, from either parser.
pub(super) struct EntryFields<'a> {
    time: &'a str,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    credential: Option<&'a str>,
    action: &'a str,
    resource_type: &'a str,
    resource_id: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    request_id: Option<&'a str>,
    privileged: bool,
    /// In [`PersonalFieldName::ALL`] order.
    personal: [Part<'a>; 4],
    leaf: &'a str,
}

/// One personal field as the line states it.
pub(super) enum Part<'a> {
    Absent,
    /// Clear value (canonical JSON text for `details`) and base64 salt.
    Present {
        value: &'a str,
        salt: &'a str,
    },
    /// Base64 commitment of an erased value.
    Erased {
        commitment: &'a str,
    },
    /// Malformed, with the reason.
    Invalid(String),
}

/// The commitment a personal field contributes, and whether it is erased.
fn part_commitment(
    part: &Part<'_>,
    name: PersonalFieldName,
) -> Result<(Option<Hash>, bool), String> {
    match part {
        Part::Absent => Ok((None, false)),
        Part::Present { value, salt } => {
            let salt = decode_array::<16>(salt).ok_or("salt is not base64 of 16 bytes")?;
            Ok((Some(commit(name, &salt, value)), false))
        }
        Part::Erased { commitment } => {
            let c = decode_array::<32>(commitment).ok_or("commitment is not base64 of 32 bytes")?;
            Ok((Some(c), true))
        }
        Part::Invalid(reason) => Err(reason.clone()),
    }
}

/// The fields of a serde-parsed entry line, after checking that exactly
/// the entry keys are present.
fn raw_entry_fields<'r>(raw: &'r RawLine<'_>, index: u64) -> Result<EntryFields<'r>, VerifyError> {
    raw.check_fields(ENTRY_FIELDS).map_err(|(field, r)| VerifyError::Entry {
        index,
        field,
        reason: r.to_owned(),
    })?;
    let missing = || Part::Invalid("missing from personal".to_owned());
    let text_part = |v: &'r Option<Option<RawPersonalValue<'_>>>| match v {
        None => missing(),
        Some(None) => Part::Absent,
        Some(Some(v)) => to_part(&Parts::from_text(v)),
    };
    let personal = match &raw.personal {
        Some(p) => [
            text_part(&p.actor_label),
            text_part(&p.source_ip),
            text_part(&p.user_agent),
            match &p.details {
                None => missing(),
                Some(None) => Part::Absent,
                Some(Some(v)) => to_part(&Parts::from_details(v)),
            },
        ],
        // Unreachable after check_fields; kept total instead of panicking.
        None => [missing(), missing(), missing(), missing()],
    };
    Ok(EntryFields {
        time: text(&raw.time),
        actor_kind: text(&raw.actor_kind),
        actor_id: flat(&raw.actor_id),
        credential: flat(&raw.credential),
        action: text(&raw.action),
        resource_type: text(&raw.resource_type),
        resource_id: flat(&raw.resource_id),
        outcome: text(&raw.outcome),
        reason: flat(&raw.reason),
        request_id: flat(&raw.request_id),
        privileged: raw.privileged.unwrap_or_default(),
        personal,
        leaf: text(&raw.leaf),
    })
}

fn to_part<'v>(parts: &Parts<'v>) -> Part<'v> {
    match parts {
        Parts { value: Some(value), salt: Some(salt), erased: None, commitment: None } => {
            match value {
                PartValue::Text(t) => Part::Present { value: t, salt },
                PartValue::Canonical(Ok(c)) => Part::Present { value: c.as_str(), salt },
                PartValue::Canonical(Err(reason)) => Part::Invalid(reason.clone()),
            }
        }
        Parts { value: None, salt: None, erased: Some(true), commitment: Some(c) } => {
            Part::Erased { commitment: c }
        }
        _ => Part::Invalid(
            "expected {\"value\",\"salt\"} or {\"erased\":true,\"commitment\"}".to_owned(),
        ),
    }
}

/// Finds the first field where the line and the given leaf disagree.
fn explain_mismatch(
    given: &[u8],
    view: &LeafView<'_>,
    index: u64,
    time: time::OffsetDateTime,
) -> VerifyError {
    let err = |field: &'static str, reason: String| VerifyError::Entry { index, field, reason };
    let decoded = match Entry::from_leaf_bytes(given) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::canonical_time;
    use time::OffsetDateTime;

    fn entries() -> Vec<Entry> {
        let texts = ["plain", "q\"uote", "back\\slash", "nl\nx", "ctl\u{1}", "é 漢 🎉", ""];
        let mut out = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let salt = [i as u8; 16];
            let details = serde_json::json!({"k": t, "n": -(i as i64), "a": [null, true]});
            let mut e = Entry {
                organization_id: Uuid::from_u128(7),
                index: i as u64,
                time: canonical_time(OffsetDateTime::UNIX_EPOCH),
                actor_kind: ActorKind::ALL[i % 4],
                actor_id: (i % 2 == 0).then(|| (*t).to_owned()),
                credential: Some(format!("api_key:{t}")),
                action: (*t).to_owned(),
                resource_type: "r".into(),
                resource_id: None,
                outcome: Outcome::ALL[i % 3],
                reason: Some((*t).to_owned()),
                request_id: None,
                privileged: i % 2 == 1,
                actor_label: PersonalField::present(*t, salt),
                source_ip: PersonalField::Absent,
                user_agent: PersonalField::present("ua", salt),
                details: PersonalField::details(&details, salt).unwrap(),
            };
            if i == 3 {
                e.erase_personal();
            }
            out.push(e);
        }
        out
    }

    fn describe(f: &EntryFields<'_>) -> String {
        let parts: Vec<String> = f
            .personal
            .iter()
            .map(|p| match p {
                Part::Absent => "absent".to_owned(),
                Part::Present { value, salt } => format!("present {value} {salt}"),
                Part::Erased { commitment } => format!("erased {commitment}"),
                Part::Invalid(r) => format!("invalid {r}"),
            })
            .collect();
        format!(
            "{} {} {:?} {:?} {} {} {:?} {} {:?} {:?} {} {:?} {}",
            f.time,
            f.actor_kind,
            f.actor_id,
            f.credential,
            f.action,
            f.resource_type,
            f.resource_id,
            f.outcome,
            f.reason,
            f.request_id,
            f.privileged,
            parts,
            f.leaf
        )
    }

    /// On every line the fast path takes, it must read exactly what the
    /// general parser reads; lines with escapes or other layouts it leaves.
    #[test]
    fn fast_path_agrees_with_serde_path() {
        let mut taken = 0;
        for e in entries() {
            let line = ExportLine::entry(&e).unwrap().into_string();
            let text = line.trim_end_matches('\n');
            let raw = parse_line(text, 1).unwrap();
            let slow = raw_entry_fields(&raw, e.index).unwrap();
            if let Some((index, fast)) = fast::parse_entry(text) {
                taken += 1;
                assert_eq!(index, e.index);
                assert_eq!(describe(&fast), describe(&slow));
            } else {
                assert!(text.contains('\\'), "fast path refused an escape-free line: {text}");
            }
            // Same values, other spellings: the fast path must step aside.
            let spaced = text.replacen(",\"action\":", ", \"action\" :", 1);
            assert!(fast::parse_entry(&spaced).is_none());
            let reordered = text.replacen("{\"type\":\"entry\",", "{", 1).replacen(
                "}",
                ",\"type\":\"entry\"}",
                1,
            );
            assert!(fast::parse_entry(&reordered).is_none());
        }
        assert!(taken >= 2);
    }
}
