//! Zero-copy parsing of export lines: the union of all line types' fields,
//! parsed once per line, and a streaming canonicaliser for `details`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::entry::{canonical_json, write_json_string};

/// A JSON string, borrowed from the line unless it contains escapes.
/// (serde's own `Cow<str>` impl always allocates.)
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl Text<'_> {
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Option<Option<T>>` that tells a missing key (`None`) from `null`
/// (`Some(None)`), so every nullable entry field must be written out.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Any export line. Which fields a line type allows is checked afterwards
/// with [`RawLine::check_fields`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLine<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Text<'a>,
    #[serde(default)]
    pub(super) version: Option<u64>,
    #[serde(default, borrow)]
    pub(super) organization_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) origin: Option<Text<'a>>,
    #[serde(default)]
    pub(super) from_index: Option<u64>,
    #[serde(default)]
    pub(super) to_index: Option<u64>,
    #[serde(default, borrow)]
    pub(super) left: Option<Vec<Text<'a>>>,
    #[serde(default)]
    pub(super) index: Option<u64>,
    #[serde(default, borrow)]
    pub(super) time: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) actor_kind: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) actor_id: Option<Option<Text<'a>>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) credential: Option<Option<Text<'a>>>,
    #[serde(default, borrow)]
    pub(super) action: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) resource_type: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) resource_id: Option<Option<Text<'a>>>,
    #[serde(default, borrow)]
    pub(super) outcome: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) reason: Option<Option<Text<'a>>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) request_id: Option<Option<Text<'a>>>,
    #[serde(default)]
    pub(super) privileged: Option<bool>,
    #[serde(default, borrow)]
    pub(super) personal: Option<RawPersonal<'a>>,
    #[serde(default, borrow)]
    pub(super) leaf: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) right: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    pub(super) checkpoint: Option<Text<'a>>,
}

/// Field names, in bit order of the presence masks below.
const NAMES: [&str; 23] = [
    "type",
    "version",
    "organization_id",
    "origin",
    "from_index",
    "to_index",
    "left",
    "index",
    "time",
    "actor_kind",
    "actor_id",
    "credential",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "reason",
    "request_id",
    "privileged",
    "personal",
    "leaf",
    "right",
    "checkpoint",
];

/// Header fields: type, version, organization_id, origin, from_index,
/// to_index, left.
pub(super) const HEADER_FIELDS: u32 = 0b111_1111;
/// Entry fields: type, then index through leaf.
pub(super) const ENTRY_FIELDS: u32 = 1 | (((1 << 21) - 1) & !((1 << 7) - 1));
/// Trailer fields: type, right, checkpoint.
pub(super) const TRAILER_FIELDS: u32 = 1 | (1 << 21) | (1 << 22);

impl RawLine<'_> {
    fn present_mask(&self) -> u32 {
        let flags = [
            true,
            self.version.is_some(),
            self.organization_id.is_some(),
            self.origin.is_some(),
            self.from_index.is_some(),
            self.to_index.is_some(),
            self.left.is_some(),
            self.index.is_some(),
            self.time.is_some(),
            self.actor_kind.is_some(),
            self.actor_id.is_some(),
            self.credential.is_some(),
            self.action.is_some(),
            self.resource_type.is_some(),
            self.resource_id.is_some(),
            self.outcome.is_some(),
            self.reason.is_some(),
            self.request_id.is_some(),
            self.privileged.is_some(),
            self.personal.is_some(),
            self.leaf.is_some(),
            self.right.is_some(),
            self.checkpoint.is_some(),
        ];
        flags.iter().enumerate().fold(0, |m, (i, &p)| m | (u32::from(p) << i))
    }

    /// The first field not allowed for this line type, else the first
    /// required one that is missing: `(field, reason)`.
    pub(super) fn check_fields(&self, allowed: u32) -> Result<(), (&'static str, &'static str)> {
        let present = self.present_mask();
        let name = |mask: u32| NAMES.get(mask.trailing_zeros() as usize).copied().unwrap_or("?");
        let extra = present & !allowed;
        if extra != 0 {
            return Err((name(extra), "not allowed in this line type"));
        }
        let missing = allowed & !present;
        if missing != 0 {
            return Err((name(missing), "missing"));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPersonal<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) actor_label: Option<Option<RawPersonalValue<'a>>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) source_ip: Option<Option<RawPersonalValue<'a>>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) user_agent: Option<Option<RawPersonalValue<'a>>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub(super) details: Option<Option<RawDetailsValue<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPersonalValue<'a> {
    #[serde(default, borrow)]
    pub(super) value: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) salt: Option<Text<'a>>,
    #[serde(default)]
    pub(super) erased: Option<bool>,
    #[serde(default, borrow)]
    pub(super) commitment: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetailsValue<'a> {
    #[serde(default)]
    pub(super) value: Option<CanonicalDetails>,
    #[serde(default, borrow)]
    pub(super) salt: Option<Text<'a>>,
    #[serde(default)]
    pub(super) erased: Option<bool>,
    #[serde(default, borrow)]
    pub(super) commitment: Option<Text<'a>>,
}

/// The canonical JSON text of a `details` value, rendered while parsing.
///
/// Values already in canonical key order (what the writer produces) are
/// rendered in one pass without building a tree; anything else (unsorted
/// or duplicate keys) goes through `serde_json::Value` and
/// [`canonical_json`]. A value that has no canonical form keeps the reason
/// as `Err`, so the caller can report it against the entry and field.
pub(super) struct CanonicalDetails(pub(super) Result<String, String>);

impl<'de> Deserialize<'de> for CanonicalDetails {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = String::new();
        let mut state = CanonState { sorted: true, problem: None };
        Canon { out: &mut out, state: &mut state }.deserialize(d)?;
        if let Some(problem) = state.problem {
            return Ok(Self(Err(problem)));
        }
        if !out.starts_with('{') {
            return Ok(Self(Err("value is not a json object".to_owned())));
        }
        if state.sorted {
            return Ok(Self(Ok(out)));
        }
        let reparsed = serde_json::from_str::<serde_json::Value>(&out)
            .map_err(|e| e.to_string())
            .and_then(|v| canonical_json(&v).map_err(|e| e.to_string()));
        Ok(Self(reparsed))
    }
}

struct CanonState {
    sorted: bool,
    problem: Option<String>,
}

/// Writes the canonical spelling of one JSON value into `out`; sorting is
/// left to the fallback, which `state.sorted = false` requests.
struct Canon<'s> {
    out: &'s mut String,
    state: &'s mut CanonState,
}

impl<'de> DeserializeSeed<'de> for Canon<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        if self.state.problem.is_none() {
            self.state.problem = Some(format!("number {v} is not an integer"));
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_json_string(v, self.out);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut first = true;
        loop {
            if !first {
                self.out.push(',');
            }
            let seed = Canon { out: &mut *self.out, state: &mut *self.state };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            first = false;
        }
        // A trailing ',' was written before the end was seen.
        if !first {
            self.out.pop();
        }
        self.out.push(']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push('{');
        let mut previous: Option<Cow<'de, str>> = None;
        let mut first = true;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if previous.as_ref().is_some_and(|p| p.as_bytes() >= key.0.as_bytes()) {
                self.state.sorted = false;
            }
            if !first {
                self.out.push(',');
            }
            first = false;
            write_json_string(&key.0, self.out);
            self.out.push(':');
            map.next_value_seed(Canon { out: &mut *self.out, state: &mut *self.state })?;
            previous = Some(key.0);
        }
        self.out.push('}');
        Ok(())
    }
}
