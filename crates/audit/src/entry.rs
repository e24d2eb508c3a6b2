//! The canonical audit entry and its leaf bytes (format version 1).
//!
//! This module owns the binary leaf encoding that goes into the Merkle tree,
//! the salted commitments that let personal fields be erased later without
//! changing the leaf, the canonical time format and the canonical JSON used
//! for `details`. The byte layout is specified in
//! `docs/design/0002-audit-log-format.md`; [`Entry::leaf_bytes`] is its
//! reference implementation and [`Entry::from_leaf_bytes`] its inverse.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use uuid::Uuid;

use crate::merkle::{Hash, leaf_hash};

/// Leaf format version written by this crate.
pub const LEAF_VERSION: u8 = 1;
/// Domain separation prefix of personal-field commitments.
const COMMITMENT_DOMAIN: &[u8] = b"rampart.audit.personal.v1\0";
/// Nesting limit for `details`, matching serde_json's parser limit so any
/// value that parsed can be canonicalised, and bounding recursion.
const MAX_JSON_DEPTH: usize = 128;

/// Errors from validating, encoding and decoding entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A field value cannot be encoded canonically.
    #[error("field {field}: {reason}")]
    Field { field: &'static str, reason: String },
    /// Leaf bytes are malformed at `offset`.
    #[error("leaf byte {offset}: {reason}")]
    Leaf { offset: usize, reason: &'static str },
    /// Leaf bytes of a format version this crate does not know.
    #[error("unsupported leaf version {0}")]
    Version(u8),
}

fn field_err(field: &'static str, reason: impl Into<String>) -> EntryError {
    EntryError::Field { field, reason: reason.into() }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A signed-in person.
    User,
    /// A machine client with its own credentials.
    Application,
    /// An operator of the service itself.
    Staff,
    /// The service acting on its own (schedulers, migrations).
    System,
}

impl ActorKind {
    /// All kinds, in code order.
    pub const ALL: [ActorKind; 4] = [Self::User, Self::Application, Self::Staff, Self::System];

    /// The export spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Application => "application",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }

    /// The leaf byte.
    pub fn code(self) -> u8 {
        match self {
            Self::User => 1,
            Self::Application => 2,
            Self::Staff => 3,
            Self::System => 4,
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The action took effect.
    Success,
    /// Authorisation refused it.
    Denied,
    /// It was allowed but failed.
    Failed,
}

impl Outcome {
    /// All outcomes, in code order.
    pub const ALL: [Outcome; 3] = [Self::Success, Self::Denied, Self::Failed];

    /// The export spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    /// The leaf byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 1,
            Self::Denied => 2,
            Self::Failed => 3,
        }
    }

    /// Inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Which personal field; fixes its commitment code and export key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonalFieldName {
    /// A human-readable actor label such as an email.
    ActorLabel,
    /// The client IP address.
    SourceIp,
    /// The client User-Agent.
    UserAgent,
    /// Free-form details, a canonical JSON object.
    Details,
}

impl PersonalFieldName {
    /// All personal fields, in leaf order.
    pub const ALL: [PersonalFieldName; 4] =
        [Self::ActorLabel, Self::SourceIp, Self::UserAgent, Self::Details];

    /// The export key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActorLabel => "actor_label",
            Self::SourceIp => "source_ip",
            Self::UserAgent => "user_agent",
            Self::Details => "details",
        }
    }

    /// The byte that domain-separates this field's commitment.
    pub fn code(self) -> u8 {
        match self {
            Self::ActorLabel => 1,
            Self::SourceIp => 2,
            Self::UserAgent => 3,
            Self::Details => 4,
        }
    }
}

/// A personal field: only its commitment is in the leaf, so the clear value
/// and salt can be deleted later (erasure) while the leaf stays the same.
#[derive(Clone, PartialEq, Eq)]
pub enum PersonalField {
    /// Not recorded; encoded in the leaf as a distinct tag with no commitment.
    Absent,
    /// Recorded: the clear value and the caller's 16 random salt bytes.
    Present { value: String, salt: [u8; 16] },
    /// Erased: only the commitment remains.
    Erased { commitment: Hash },
}

impl std::fmt::Debug for PersonalField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data must not leak through logs of Debug output.
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::Present { value, .. } => write!(f, "Present({} bytes, redacted)", value.len()),
            Self::Erased { commitment } => write!(f, "Erased({})", hex::encode(commitment)),
        }
    }
}

impl PersonalField {
    /// A present string field.
    pub fn present(value: impl Into<String>, salt: [u8; 16]) -> Self {
        Self::Present { value: value.into(), salt }
    }

    /// A present `details` field from a JSON object, canonicalised.
    pub fn details(value: &serde_json::Value, salt: [u8; 16]) -> Result<Self, EntryError> {
        if !value.is_object() {
            return Err(field_err("details", "is not a json object"));
        }
        Ok(Self::Present { value: canonical_json(value)?, salt })
    }

    /// The commitment the leaf holds for this field, `None` when absent.
    pub fn commitment(&self, name: PersonalFieldName) -> Option<Hash> {
        match self {
            Self::Absent => None,
            Self::Present { value, salt } => Some(commit(name, salt, value)),
            Self::Erased { commitment } => Some(*commitment),
        }
    }

    /// True once erased.
    pub fn is_erased(&self) -> bool {
        matches!(self, Self::Erased { .. })
    }
}

/// `SHA-256("rampart.audit.personal.v1" ‖ 0x00 ‖ field code ‖ salt ‖ value)`.
/// The value comes last and everything before it has a fixed length, so no
/// length prefix is needed.
pub fn commit(name: PersonalFieldName, salt: &[u8; 16], value: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update([name.code()]);
    h.update(salt);
    h.update(value.as_bytes());
    h.finalize().into()
}

/// One audit entry: the decoded form of one leaf plus the clear personal
/// values (while they are not erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The tenant whose log holds the entry.
    pub organization_id: Uuid,
    /// Position in that log; equals the Merkle leaf index.
    pub index: u64,
    /// When it happened; microsecond precision (see [`canonical_time`]).
    pub time: OffsetDateTime,
    /// Kind of actor.
    pub actor_kind: ActorKind,
    /// Actor id within its kind.
    pub actor_id: Option<String>,
    /// Credential used, e.g. `session`, `api_key:<id>`, `token`.
    pub credential: Option<String>,
    /// Dotted action name, e.g. `iam.user.create`.
    pub action: String,
    /// Type of the resource acted on.
    pub resource_type: String,
    /// Id of the resource acted on.
    pub resource_id: Option<String>,
    /// Result of the action.
    pub outcome: Outcome,
    /// Why it was denied or failed.
    pub reason: Option<String>,
    /// Correlation id of the request.
    pub request_id: Option<String>,
    /// Whether elevated rights were used.
    pub privileged: bool,
    /// Personal: human-readable actor label (e.g. an email).
    pub actor_label: PersonalField,
    /// Personal: client IP.
    pub source_ip: PersonalField,
    /// Personal: client User-Agent.
    pub user_agent: PersonalField,
    /// Personal: canonical JSON object with extra details.
    pub details: PersonalField,
}

impl Entry {
    /// The personal fields in leaf order.
    pub fn personal_fields(&self) -> [(PersonalFieldName, &PersonalField); 4] {
        [
            (PersonalFieldName::ActorLabel, &self.actor_label),
            (PersonalFieldName::SourceIp, &self.source_ip),
            (PersonalFieldName::UserAgent, &self.user_agent),
            (PersonalFieldName::Details, &self.details),
        ]
    }

    fn personal_fields_mut(&mut self) -> [&mut PersonalField; 4] {
        [&mut self.actor_label, &mut self.source_ip, &mut self.user_agent, &mut self.details]
    }

    /// Checks that the entry has a canonical encoding: microsecond time in
    /// years 0000–9999, string lengths below 2^32, and `details` (when
    /// present) a JSON object in canonical form.
    pub fn validate(&self) -> Result<(), EntryError> {
        time_to_micros(self.time)?;
        if let PersonalField::Present { value, .. } = &self.details {
            check_canonical_details(value)?;
        }
        Ok(())
    }

    /// The exact bytes of the Merkle leaf (format version 1).
    pub fn leaf_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.validate()?;
        let mut out = Vec::with_capacity(256);
        self.view()?.encode(&mut out)?;
        Ok(out)
    }

    /// `leaf_hash(leaf_bytes)`.
    pub fn leaf_hash(&self) -> Result<Hash, EntryError> {
        Ok(leaf_hash(&self.leaf_bytes()?))
    }

    /// Replaces every present personal value by its commitment; returns how
    /// many fields were erased now. The leaf bytes do not change.
    pub fn erase_personal(&mut self) -> usize {
        let names = PersonalFieldName::ALL;
        let mut erased = 0;
        for (name, field) in names.into_iter().zip(self.personal_fields_mut()) {
            if let PersonalField::Present { value, salt } = field {
                let commitment = commit(name, salt, value);
                *field = PersonalField::Erased { commitment };
                erased += 1;
            }
        }
        erased
    }

    /// Decodes leaf bytes. Personal fields come back as `Erased` (the leaf
    /// only holds commitments) or `Absent`.
    pub fn from_leaf_bytes(bytes: &[u8]) -> Result<Entry, EntryError> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8()?;
        if version != LEAF_VERSION {
            return Err(EntryError::Version(version));
        }
        let organization_id = Uuid::from_bytes(r.array::<16>()?);
        let index = u64::from_be_bytes(r.array::<8>()?);
        let at = r.pos;
        let micros = i64::from_be_bytes(r.array::<8>()?);
        let time = micros_to_time(micros)
            .ok_or(EntryError::Leaf { offset: at, reason: "time out of range" })?;
        let at = r.pos;
        let actor_kind = ActorKind::from_code(r.u8()?)
            .ok_or(EntryError::Leaf { offset: at, reason: "unknown actor kind" })?;
        let actor_id = r.opt_str()?;
        let credential = r.opt_str()?;
        let action = r.str()?;
        let resource_type = r.str()?;
        let resource_id = r.opt_str()?;
        let at = r.pos;
        let outcome = Outcome::from_code(r.u8()?)
            .ok_or(EntryError::Leaf { offset: at, reason: "unknown outcome" })?;
        let reason = r.opt_str()?;
        let request_id = r.opt_str()?;
        let at = r.pos;
        let privileged = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(EntryError::Leaf { offset: at, reason: "privileged is not 0 or 1" }),
        };
        let mut personal = [
            PersonalField::Absent,
            PersonalField::Absent,
            PersonalField::Absent,
            PersonalField::Absent,
        ];
        for slot in &mut personal {
            let at = r.pos;
            *slot = match r.u8()? {
                0 => PersonalField::Absent,
                1 => PersonalField::Erased { commitment: r.array::<32>()? },
                _ => {
                    return Err(EntryError::Leaf {
                        offset: at,
                        reason: "personal tag is not 0 or 1",
                    });
                }
            };
        }
        if r.pos != bytes.len() {
            return Err(EntryError::Leaf { offset: r.pos, reason: "trailing bytes" });
        }
        let [actor_label, source_ip, user_agent, details] = personal;
        Ok(Entry {
            organization_id,
            index,
            time,
            actor_kind,
            actor_id,
            credential,
            action,
            resource_type,
            resource_id,
            outcome,
            reason,
            request_id,
            privileged,
            actor_label,
            source_ip,
            user_agent,
            details,
        })
    }

    pub(crate) fn view(&self) -> Result<LeafView<'_>, EntryError> {
        Ok(LeafView {
            organization_id: self.organization_id,
            index: self.index,
            time_micros: time_to_micros(self.time)?,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            credential: self.credential.as_deref(),
            action: &self.action,
            resource_type: &self.resource_type,
            resource_id: self.resource_id.as_deref(),
            outcome: self.outcome,
            reason: self.reason.as_deref(),
            request_id: self.request_id.as_deref(),
            privileged: self.privileged,
            personal: [
                self.actor_label.commitment(PersonalFieldName::ActorLabel),
                self.source_ip.commitment(PersonalFieldName::SourceIp),
                self.user_agent.commitment(PersonalFieldName::UserAgent),
                self.details.commitment(PersonalFieldName::Details),
            ],
        })
    }

    /// The first field (in leaf order) where the leaf-visible content of
    /// `self` and `other` differ; personal fields compare by commitment.
    /// `None` when both would encode to the same leaf.
    pub fn first_difference(&self, other: &Entry) -> Option<FieldDifference> {
        fn cmp<T: PartialEq + std::fmt::Debug>(
            field: &'static str,
            a: &T,
            b: &T,
        ) -> Option<FieldDifference> {
            (a != b).then(|| FieldDifference {
                field,
                left: format!("{a:?}"),
                right: format!("{b:?}"),
            })
        }
        let time = |t: OffsetDateTime| format_time(t).unwrap_or_else(|e| e.to_string());
        cmp("organization_id", &self.organization_id, &other.organization_id)
            .or_else(|| cmp("index", &self.index, &other.index))
            .or_else(|| cmp("time", &time(self.time), &time(other.time)))
            .or_else(|| cmp("actor_kind", &self.actor_kind.as_str(), &other.actor_kind.as_str()))
            .or_else(|| cmp("actor_id", &self.actor_id, &other.actor_id))
            .or_else(|| cmp("credential", &self.credential, &other.credential))
            .or_else(|| cmp("action", &self.action, &other.action))
            .or_else(|| cmp("resource_type", &self.resource_type, &other.resource_type))
            .or_else(|| cmp("resource_id", &self.resource_id, &other.resource_id))
            .or_else(|| cmp("outcome", &self.outcome.as_str(), &other.outcome.as_str()))
            .or_else(|| cmp("reason", &self.reason, &other.reason))
            .or_else(|| cmp("request_id", &self.request_id, &other.request_id))
            .or_else(|| cmp("privileged", &self.privileged, &other.privileged))
            .or_else(|| {
                let show = |c: Option<Hash>| match c {
                    None => "absent".to_owned(),
                    Some(c) => format!("commitment {}", hex::encode(c)),
                };
                self.personal_fields().into_iter().zip(other.personal_fields()).find_map(
                    |((name, a), (_, b))| {
                        let (ca, cb) = (a.commitment(name), b.commitment(name));
                        (ca != cb).then(|| FieldDifference {
                            field: name.as_str(),
                            left: show(ca),
                            right: show(cb),
                        })
                    },
                )
            })
    }
}

/// Where two entries' leaves differ: the field and both renderings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDifference {
    /// Field name as in the export.
    pub field: &'static str,
    /// The first entry's value.
    pub left: String,
    /// The second entry's value.
    pub right: String,
}

/// Borrowed leaf content: what the encoder needs, shared by [`Entry`] and
/// the export verifier so both produce bytes through one code path.
pub(crate) struct LeafView<'a> {
    pub(crate) organization_id: Uuid,
    pub(crate) index: u64,
    pub(crate) time_micros: i64,
    pub(crate) actor_kind: ActorKind,
    pub(crate) actor_id: Option<&'a str>,
    pub(crate) credential: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) resource_type: &'a str,
    pub(crate) resource_id: Option<&'a str>,
    pub(crate) outcome: Outcome,
    pub(crate) reason: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) privileged: bool,
    pub(crate) personal: [Option<Hash>; 4],
}

impl LeafView<'_> {
    /// Appends the version-1 leaf bytes to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EntryError> {
        out.push(LEAF_VERSION);
        out.extend_from_slice(self.organization_id.as_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.time_micros.to_be_bytes());
        out.push(self.actor_kind.code());
        put_opt_str(out, "actor_id", self.actor_id)?;
        put_opt_str(out, "credential", self.credential)?;
        put_str(out, "action", self.action)?;
        put_str(out, "resource_type", self.resource_type)?;
        put_opt_str(out, "resource_id", self.resource_id)?;
        out.push(self.outcome.code());
        put_opt_str(out, "reason", self.reason)?;
        put_opt_str(out, "request_id", self.request_id)?;
        out.push(u8::from(self.privileged));
        for c in &self.personal {
            match c {
                None => out.push(0),
                Some(c) => {
                    out.push(1);
                    out.extend_from_slice(c);
                }
            }
        }
        Ok(())
    }
}

fn put_str(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), EntryError> {
    let len = u32::try_from(s.len()).map_err(|_| field_err(field, "longer than 2^32 - 1 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_opt_str(out: &mut Vec<u8>, field: &'static str, s: Option<&str>) -> Result<(), EntryError> {
    match s {
        None => {
            out.push(0);
            Ok(())
        }
        Some(s) => {
            out.push(1);
            put_str(out, field, s)
        }
    }
}

/// Bounds-checked reader over leaf bytes, reporting the failing offset.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], EntryError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.bytes.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(EntryError::Leaf { offset: self.pos, reason: "truncated" }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let at = self.pos;
        self.take(N)?.try_into().map_err(|_| EntryError::Leaf { offset: at, reason: "truncated" })
    }

    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.array::<1>()?[0])
    }

    fn str(&mut self) -> Result<String, EntryError> {
        let len = u32::from_be_bytes(self.array::<4>()?) as usize;
        let at = self.pos;
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| EntryError::Leaf { offset: at, reason: "string is not utf-8" })
    }

    fn opt_str(&mut self) -> Result<Option<String>, EntryError> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(EntryError::Leaf { offset: at, reason: "option tag is not 0 or 1" }),
        }
    }
}

/// `t` in UTC, truncated to whole microseconds: the precision the leaf keeps.
pub fn canonical_time(t: OffsetDateTime) -> OffsetDateTime {
    let utc = t.to_offset(UtcOffset::UTC);
    let nanos = utc.nanosecond();
    utc.replace_nanosecond(nanos - nanos % 1000).unwrap_or(utc)
}

/// Microseconds since the Unix epoch; rejects sub-microsecond precision and
/// years outside 0000–9999 (RFC 3339 has four-digit years).
pub(crate) fn time_to_micros(t: OffsetDateTime) -> Result<i64, EntryError> {
    if !t.nanosecond().is_multiple_of(1000) {
        return Err(field_err("time", "has sub-microsecond precision; use canonical_time"));
    }
    let year = t.to_offset(UtcOffset::UTC).year();
    if !(0..=9999).contains(&year) {
        return Err(field_err("time", format!("year {year} is outside 0000-9999")));
    }
    i64::try_from(t.unix_timestamp_nanos() / 1000).map_err(|_| field_err("time", "out of range"))
}

fn micros_to_time(micros: i64) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
    (0..=9999).contains(&t.year()).then_some(t)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC: exactly six fractional digits.
pub fn format_time(t: OffsetDateTime) -> Result<String, EntryError> {
    time_to_micros(t)?;
    let t = t.to_offset(UtcOffset::UTC);
    let mut s = String::with_capacity(27);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    );
    Ok(s)
}

/// Parses exactly the form [`format_time`] writes; any other spelling of the
/// same instant is rejected so one instant has one export text.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, EntryError> {
    let bad = || field_err("time", format!("{s:?} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"));
    let b = s.as_bytes();
    if b.len() != 27 {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<u32, EntryError> {
        let mut v = 0u32;
        for &c in b.get(from..to).ok_or_else(bad)? {
            if !c.is_ascii_digit() {
                return Err(bad());
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Ok(v)
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (26, b'Z')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return Err(bad());
    }
    let year = i32::try_from(num(0, 4)?).map_err(|_| bad())?;
    let month = Month::try_from(u8::try_from(num(5, 7)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let day = u8::try_from(num(8, 10)?).map_err(|_| bad())?;
    let hour = u8::try_from(num(11, 13)?).map_err(|_| bad())?;
    let minute = u8::try_from(num(14, 16)?).map_err(|_| bad())?;
    let second = u8::try_from(num(17, 19)?).map_err(|_| bad())?;
    let micro = num(20, 26)?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let time = Time::from_hms_micro(hour, minute, second, micro).map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Canonical JSON text of `value`: object keys sorted by their UTF-8 bytes,
/// no whitespace, strings escaped minimally (see [`write_json_string`]),
/// numbers only as integers in i64/u64 range written in plain decimal.
pub fn canonical_json(value: &serde_json::Value) -> Result<String, EntryError> {
    let mut out = String::new();
    write_canonical(value, &mut out, 0)?;
    Ok(out)
}

fn write_canonical(
    value: &serde_json::Value,
    out: &mut String,
    depth: usize,
) -> Result<(), EntryError> {
    use serde_json::Value;
    if depth >= MAX_JSON_DEPTH {
        return Err(field_err("details", "nested deeper than 128 levels"));
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Floats have no agreed canonical spelling across languages, so
            // they are refused rather than risk two texts for one value.
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(field_err("details", format!("number {n} is not an integer")));
            }
        }
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out, depth + 1)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Writes `s` as a JSON string: `"` and `\` escaped with a backslash,
/// U+0008/0009/000A/000C/000D as `\b \t \n \f \r`, other characters below
/// U+0020 as `\u00xx` (lowercase hex), everything else as raw UTF-8.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

fn check_canonical_details(value: &str) -> Result<(), EntryError> {
    let parsed: serde_json::Value = serde_json::from_str(value)
        .map_err(|e| field_err("details", format!("is not json: {e}")))?;
    if !parsed.is_object() {
        return Err(field_err("details", "is not a json object"));
    }
    if canonical_json(&parsed)? != value {
        return Err(field_err("details", "is not in canonical form (sorted keys, no whitespace)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes() {
        let mut s = String::new();
        write_json_string("a\"b\\c\n\u{1}é/", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é/\"");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é/");
    }

    #[test]
    fn canonical_time_truncates() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let c = canonical_time(t);
        assert_eq!(format_time(c).unwrap(), "2023-11-14T22:13:20.123456Z");
        assert!(format_time(t).is_err());
        assert_eq!(parse_time("2023-11-14T22:13:20.123456Z").unwrap(), c);
    }
}
