//! Writing export lines: compact JSON in a fixed key order, built by hand
//! so the output is byte-for-byte stable and cannot fail.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use uuid::Uuid;

use super::EXPORT_VERSION;
use crate::entry::{
    Entry, EntryError, PersonalField, PersonalFieldName, format_time, write_json_string,
};
use crate::merkle::Hash;

/// Header of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    /// Organisation whose log this is; applies to every entry.
    pub organization_id: Uuid,
    /// The log's checkpoint origin.
    pub origin: String,
    /// Index of the first exported entry.
    pub from_index: u64,
    /// One past the last exported entry.
    pub to_index: u64,
    /// Compact range `[0, from_index)`: hashes of
    /// `compact_range_node_ids(0, from_index)`.
    pub left: Vec<Hash>,
}

impl ExportHeader {
    /// The header line, with its newline.
    pub fn to_line(&self) -> String {
        let mut s = String::with_capacity(160 + 48 * self.left.len());
        s.push_str("{\"type\":\"header\",\"version\":");
        s.push_str(&EXPORT_VERSION.to_string());
        s.push_str(",\"organization_id\":\"");
        s.push_str(self.organization_id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        s.push_str("\",\"origin\":");
        write_json_string(&self.origin, &mut s);
        s.push_str(",\"from_index\":");
        s.push_str(&self.from_index.to_string());
        s.push_str(",\"to_index\":");
        s.push_str(&self.to_index.to_string());
        s.push_str(",\"left\":");
        push_hashes(&mut s, &self.left);
        s.push_str("}\n");
        s
    }
}

/// Trailer of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTrailer {
    /// Compact range `[to_index, checkpoint size)`.
    pub right: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl ExportTrailer {
    /// The trailer line, with its newline.
    pub fn to_line(&self) -> String {
        let mut s = String::with_capacity(64 + 48 * self.right.len() + self.checkpoint.len());
        s.push_str("{\"type\":\"trailer\",\"right\":");
        push_hashes(&mut s, &self.right);
        s.push_str(",\"checkpoint\":");
        write_json_string(&self.checkpoint, &mut s);
        s.push_str("}\n");
        s
    }
}

fn push_hashes(s: &mut String, hashes: &[Hash]) {
    s.push('[');
    for (i, h) in hashes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        B64.encode_string(h, s);
        s.push('"');
    }
    s.push(']');
}

/// One line of an export, newline included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLine(String);

impl ExportLine {
    /// The header line.
    pub fn header(header: &ExportHeader) -> Self {
        Self(header.to_line())
    }

    /// The trailer line.
    pub fn trailer(trailer: &ExportTrailer) -> Self {
        Self(trailer.to_line())
    }

    /// The line of one entry. The entry's organisation must be the header's.
    pub fn entry(entry: &Entry) -> Result<Self, EntryError> {
        let leaf = entry.leaf_bytes()?;
        let mut s = String::with_capacity(256 + leaf.len() * 4 / 3);
        s.push_str("{\"type\":\"entry\",\"index\":");
        s.push_str(&entry.index.to_string());
        s.push_str(",\"time\":\"");
        s.push_str(&format_time(entry.time)?);
        s.push_str("\",\"actor_kind\":\"");
        s.push_str(entry.actor_kind.as_str());
        s.push_str("\",\"actor_id\":");
        push_opt(&mut s, entry.actor_id.as_deref());
        s.push_str(",\"credential\":");
        push_opt(&mut s, entry.credential.as_deref());
        s.push_str(",\"action\":");
        write_json_string(&entry.action, &mut s);
        s.push_str(",\"resource_type\":");
        write_json_string(&entry.resource_type, &mut s);
        s.push_str(",\"resource_id\":");
        push_opt(&mut s, entry.resource_id.as_deref());
        s.push_str(",\"outcome\":\"");
        s.push_str(entry.outcome.as_str());
        s.push_str("\",\"reason\":");
        push_opt(&mut s, entry.reason.as_deref());
        s.push_str(",\"request_id\":");
        push_opt(&mut s, entry.request_id.as_deref());
        s.push_str(",\"privileged\":");
        s.push_str(if entry.privileged { "true" } else { "false" });
        s.push_str(",\"personal\":{");
        for (i, (name, field)) in entry.personal_fields().into_iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('"');
            s.push_str(name.as_str());
            s.push_str("\":");
            match field {
                PersonalField::Absent => s.push_str("null"),
                PersonalField::Present { value, salt } => {
                    s.push_str("{\"value\":");
                    if name == PersonalFieldName::Details {
                        // Validated canonical JSON by leaf_bytes above, so it
                        // is embedded as the object itself.
                        s.push_str(value);
                    } else {
                        write_json_string(value, &mut s);
                    }
                    s.push_str(",\"salt\":\"");
                    B64.encode_string(salt, &mut s);
                    s.push_str("\"}");
                }
                PersonalField::Erased { commitment } => {
                    s.push_str("{\"erased\":true,\"commitment\":\"");
                    B64.encode_string(commitment, &mut s);
                    s.push_str("\"}");
                }
            }
        }
        s.push_str("},\"leaf\":\"");
        B64.encode_string(&leaf, &mut s);
        s.push_str("\"}\n");
        Ok(Self(s))
    }

    /// The line text, newline included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The line text, newline included.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ExportLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn push_opt(s: &mut String, v: Option<&str>) {
    match v {
        None => s.push_str("null"),
        Some(v) => write_json_string(v, s),
    }
}
