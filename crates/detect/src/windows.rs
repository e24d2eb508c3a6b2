//! Windows event log records in the JSON shape `evtx_dump` writes
//! (`{"Event": {"System": {...}, "EventData": {...}}}`), mapped to [`Event`]s
//! that SigmaHQ's Windows rules can evaluate.
//!
//! The mapping is event-side: SigmaHQ rules name the `EventData` members
//! directly (`Image`, `CommandLine`, `TargetObject`), so the record's
//! `EventData` (or the single child of `UserData`) is lifted to the top level,
//! next to these `System` members: `EventID`, `Channel`, `Computer`,
//! `Provider_Name`, `Level`, `Task`, `Opcode`, `Keywords`, `EventRecordID`,
//! `Version`, and `UserID` (from `Security`). A member name with spaces
//! (`Threat Name`, as Windows Defender writes them) is also given without
//! them (`ThreatName`), the spelling Sigma rules use. The channel gives the Sigma
//! `service`, and the channel with the event id gives the `category`
//! (Sysmon event 1 is `process_creation`, 13 is `registry_set` and
//! `registry_event`, and so on: see [`source_for`]).

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::event::{Event, EventSource};

/// Why a record could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowsEventError {
    /// The text is not JSON.
    #[error("record {record}: invalid JSON at line {line}, column {column}: {reason}")]
    Json {
        /// 1-based position of the record in the text.
        record: usize,
        /// Line of the error in the text.
        line: usize,
        /// Column of the error in the text.
        column: usize,
        /// The parser's message.
        reason: String,
    },
    /// A member the mapping needs is missing or has the wrong type.
    #[error("{path}: {reason}")]
    Shape {
        /// The element path, e.g. `Event.System.TimeCreated`.
        path: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// System members copied to the top level, as (source member, field name).
const SYSTEM_FIELDS: &[(&str, &str)] = &[
    ("EventID", "EventID"),
    ("Channel", "Channel"),
    ("Computer", "Computer"),
    ("Level", "Level"),
    ("Task", "Task"),
    ("Opcode", "Opcode"),
    ("Keywords", "Keywords"),
    ("EventRecordID", "EventRecordID"),
    ("Version", "Version"),
];

/// Channel name → Sigma `service`.
const CHANNEL_SERVICES: &[(&str, &str)] = &[
    ("Security", "security"),
    ("System", "system"),
    ("Application", "application"),
    ("Microsoft-Windows-Sysmon/Operational", "sysmon"),
    ("Windows PowerShell", "powershell-classic"),
    ("Microsoft-Windows-PowerShell/Operational", "powershell"),
    ("PowerShellCore/Operational", "powershell"),
    ("Microsoft-Windows-TaskScheduler/Operational", "taskscheduler"),
    ("Microsoft-Windows-WMI-Activity/Operational", "wmi"),
    ("Microsoft-Windows-Windows Defender/Operational", "windefend"),
    ("Microsoft-Windows-Bits-Client/Operational", "bits-client"),
    ("Microsoft-Windows-DNS-Client/Operational", "dns-client"),
    ("Microsoft-Windows-CodeIntegrity/Operational", "codeintegrity-operational"),
    ("Microsoft-Windows-NTLM/Operational", "ntlm"),
    ("Microsoft-Windows-SMBClient/Security", "smbclient-security"),
    ("Microsoft-Windows-AppXDeploymentServer/Operational", "appxdeployment-server"),
    ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall", "firewall-as"),
    (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "terminalservices-localsessionmanager",
    ),
    ("Microsoft-Windows-DriverFrameworks-UserMode/Operational", "driver-framework"),
    ("Microsoft-Windows-Shell-Core/Operational", "shell-core"),
    ("Microsoft-Windows-OpenSSH/Operational", "openssh"),
    ("Microsoft-Windows-LSA/Operational", "lsa-server"),
];

/// Sysmon event id → Sigma categories.
fn sysmon_categories(event_id: u64) -> &'static [&'static str] {
    match event_id {
        1 => &["process_creation"],
        2 => &["file_change"],
        3 => &["network_connection"],
        5 => &["process_termination"],
        6 => &["driver_load"],
        7 => &["image_load"],
        8 => &["create_remote_thread"],
        9 => &["raw_access_thread"],
        10 => &["process_access"],
        11 => &["file_event"],
        12 => &["registry_add", "registry_delete", "registry_event"],
        13 => &["registry_set", "registry_event"],
        14 => &["registry_rename", "registry_event"],
        15 => &["create_stream_hash"],
        17 | 18 => &["pipe_created"],
        19..=21 => &["wmi_event"],
        22 => &["dns_query"],
        23 | 26 => &["file_delete"],
        24 => &["clipboard_capture"],
        25 => &["process_tampering"],
        27 => &["file_block_executable"],
        28 => &["file_block_shredding"],
        29 => &["file_executable_detected"],
        _ => &[],
    }
}

/// The Sigma logsource of a record from `channel` with `event_id`.
///
/// Unknown channels still get `product: windows` with no service, so rules
/// that only name the product evaluate them and no service rule does.
pub fn source_for(channel: &str, event_id: u64) -> EventSource {
    let service = CHANNEL_SERVICES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(channel))
        .map(|(_, s)| *s);
    let mut source = EventSource::new("windows", service);
    let categories: &[&str] = match (service, event_id) {
        (Some("sysmon"), id) => sysmon_categories(id),
        (Some("security"), 4688) => &["process_creation"],
        (Some("powershell"), 4103) => &["ps_module"],
        (Some("powershell"), 4104) => &["ps_script"],
        (Some("powershell-classic"), 400) => &["ps_classic_start"],
        (Some("powershell-classic"), 600) => &["ps_classic_provider_start"],
        (Some("powershell-classic"), 800) => &["ps_classic_script"],
        (Some("dns-client"), 3008) => &["dns_query"],
        _ => &[],
    };
    source.categories = categories.iter().map(|c| (*c).to_owned()).collect();
    source
}

/// Whether a channel has a known service mapping.
pub fn is_supported_channel(channel: &str) -> bool {
    CHANNEL_SERVICES.iter().any(|(name, _)| name.eq_ignore_ascii_case(channel))
}

/// Maps one parsed record.
pub fn from_evtx_json(record: &Value) -> Result<Event, WindowsEventError> {
    from_evtx_value(record.clone())
}

/// Maps one parsed record, moving its values rather than copying them (ingestion owns the
/// record it has just parsed, and the event data is most of it).
pub fn from_evtx_value(mut record: Value) -> Result<Event, WindowsEventError> {
    let event = record
        .get_mut("Event")
        .and_then(Value::as_object_mut)
        .ok_or(WindowsEventError::Shape { path: "Event", reason: "missing or not an object" })?;
    let (data, user_data) = (event.remove("EventData"), event.remove("UserData"));
    let system = event.get("System").and_then(Value::as_object).map(SystemMembers::of).ok_or(
        WindowsEventError::Shape { path: "Event.System", reason: "missing or not an object" },
    )?;
    let members = |element: Option<Value>| match element {
        Some(Value::Object(members)) => members.into_iter().collect(),
        _ => Vec::new(),
    };
    let data = members(data);
    // UserData wraps its members in one element named after the event.
    let user = match user_data {
        Some(Value::Object(children)) => {
            children.into_iter().flat_map(|(_, child)| members(Some(child))).collect()
        }
        _ => Vec::new(),
    };
    map_parts(system, data, user)
}

/// Whether a parsed JSON object has the `evtx_dump` shape (`{"Event": {"System": {…}}}`),
/// which [`from_evtx_value`] maps.
pub fn is_evtx_record(object: &Map<String, Value>) -> bool {
    object.get("Event").and_then(|event| event.get("System")).is_some_and(Value::is_object)
}

/// Parses one `evtx_dump` record and maps it in the same pass: the `EventData` (and
/// `UserData`) members are read straight into a list and then into the event's fields, and
/// of `System` only the members the mapping reads are built (the others, `Execution` and
/// `Correlation` among them, are skipped), with no tree of the whole record built, moved
/// out of and dropped. The result is what [`from_evtx_value`] gives for the parsed record,
/// fields in the same order.
///
/// Only a text starting with `{"Event"`, an object whose one member is `Event` holding
/// `System` (an object), takes this path, its members in any order but each once. Anything
/// else, invalid JSON included, is `None`, for the generic parser to read (and to report,
/// with its position).
pub fn parse_evtx_record(text: &str) -> Option<Result<Event, WindowsEventError>> {
    if !text.trim_start().starts_with("{\"Event\"") {
        return None;
    }
    let mut parts = RecordParts::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut deserializer, TopVisitor(&mut parts))
        .and_then(|()| deserializer.end())
        .ok()?;
    Some(map_parts(parts.system?, parts.data, parts.user))
}

/// The event of a record from its `System` element and its lifted members, in the order
/// [`from_evtx_value`] lifts them: `EventData`'s, then those of `UserData`'s children.
fn map_parts(
    system: SystemMembers,
    data: Vec<(String, Value)>,
    user: Vec<(String, Value)>,
) -> Result<Event, WindowsEventError> {
    let (event_id, channel, time) = system_facts(&system)?;
    // One spare member: ingestion notes where it stored an event that matched a rule
    // (`metadata`), which would otherwise grow the map of every such event.
    let mut fields = Map::with_capacity(SYSTEM_FIELDS.len() + 3 + data.len() + user.len());
    insert_system_fields(system, &mut fields);
    for (name, value) in data.into_iter().chain(user) {
        lift_member(name, value, &mut fields);
    }
    Ok(Event { source: source_for(&channel, event_id), time, fields: Value::Object(fields) })
}

/// The time, event id and channel of a record, from its `System` element, or why not.
fn system_facts(
    system: &SystemMembers,
) -> Result<(u64, String, OffsetDateTime), WindowsEventError> {
    let event_id = match system.field("EventID").map(text_of) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or(WindowsEventError::Shape {
        path: "Event.System.EventID",
        reason: "missing or not a non-negative integer",
    })?;
    let channel = system.field("Channel").and_then(Value::as_str).unwrap_or_default().to_owned();
    let time = system
        .attribute(TIME_CREATED)
        .and_then(Value::as_str)
        .ok_or(WindowsEventError::Shape {
            path: "Event.System.TimeCreated",
            reason: "missing SystemTime attribute",
        })
        .and_then(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| WindowsEventError::Shape {
                path: "Event.System.TimeCreated",
                reason: "SystemTime is not an RFC 3339 time",
            })
        })?;
    Ok((event_id, channel, time))
}

/// The `System` members copied to the top level, in their order.
fn insert_system_fields(system: SystemMembers, fields: &mut Map<String, Value>) {
    let [provider, user, _] = system.attributes;
    for ((_, name), value) in SYSTEM_FIELDS.iter().zip(system.values) {
        if let Some(value) = value {
            fields.insert((*name).to_owned(), into_text(value));
        }
    }
    if let Some(name) = provider {
        fields.insert("Provider_Name".to_owned(), name);
    }
    if let Some(user) = user {
        fields.insert("UserID".to_owned(), user);
    }
}

/// The `System` elements of which the mapping reads one attribute, as (element, attribute).
const SYSTEM_ATTRIBUTES: [(&str, &str); 3] =
    [("Provider", "Name"), ("Security", "UserID"), ("TimeCreated", "SystemTime")];
/// Where [`SYSTEM_ATTRIBUTES`] has `TimeCreated`.
const TIME_CREATED: usize = 2;

/// What the mapping reads of a record's `System` element, each as the element last gave it
/// (as a parsed object keeps the last of a repeated name): the [`SYSTEM_FIELDS`] members,
/// and the [`SYSTEM_ATTRIBUTES`] attributes. The rest is not kept.
#[derive(Default)]
struct SystemMembers {
    values: [Option<Value>; SYSTEM_FIELDS.len()],
    attributes: [Option<Value>; SYSTEM_ATTRIBUTES.len()],
}

/// Where a `System` member is kept.
#[derive(Debug, Clone, Copy)]
enum SystemSlot {
    /// Its value, in [`SystemMembers::values`].
    Field(usize),
    /// One of its attributes, in [`SystemMembers::attributes`].
    Attribute(usize),
}

impl SystemMembers {
    /// Where the member `name` is kept, if the mapping reads it.
    fn slot(name: &str) -> Option<SystemSlot> {
        if let Some(index) = SYSTEM_FIELDS.iter().position(|(member, _)| *member == name) {
            return Some(SystemSlot::Field(index));
        }
        SYSTEM_ATTRIBUTES
            .iter()
            .position(|(element, _)| *element == name)
            .map(SystemSlot::Attribute)
    }

    /// From a parsed `System` element.
    fn of(system: &Map<String, Value>) -> Self {
        let mut members = Self::default();
        for (name, value) in system {
            match Self::slot(name) {
                Some(SystemSlot::Field(index)) => members.values[index] = Some(value.clone()),
                Some(SystemSlot::Attribute(index)) => {
                    members.attributes[index] =
                        attribute(value, SYSTEM_ATTRIBUTES[index].1).cloned();
                }
                None => {}
            }
        }
        members
    }

    fn field(&self, name: &str) -> Option<&Value> {
        match Self::slot(name)? {
            SystemSlot::Field(index) => self.values[index].as_ref(),
            SystemSlot::Attribute(_) => None,
        }
    }

    fn attribute(&self, index: usize) -> Option<&Value> {
        self.attributes[index].as_ref()
    }
}

/// One member of `EventData` (or of a child of `UserData`) lifted to the top level.
fn lift_member(name: String, value: Value, fields: &mut Map<String, Value>) {
    if name == "#attributes" {
        return;
    }
    let value = into_text(value);
    // Some providers (Windows Defender) render member names with spaces
    // ("Threat Name"); Sigma rules name them without ("ThreatName").
    if name.contains(' ') {
        let compact: String = name.chars().filter(|c| *c != ' ').collect();
        fields.entry(compact).or_insert_with(|| value.clone());
    }
    fields.insert(name, value);
}

/// What one pass keeps of a record: its `System` element and the members to lift.
#[derive(Default)]
struct RecordParts {
    system: Option<SystemMembers>,
    data: Vec<(String, Value)>,
    user: Vec<(String, Value)>,
}

/// Not a record this pass reads: the generic parser takes over.
fn other_layout<E: serde::de::Error>() -> E {
    E::custom("not an evtx_dump record")
}

struct TopVisitor<'r>(&'r mut RecordParts);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an evtx_dump record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == "Event" => map.next_value_seed(EventSeed(self.0))?,
            _ => return Err(other_layout()),
        }
        match map.next_key::<IgnoredAny>()? {
            None => Ok(()),
            Some(_) => Err(other_layout()),
        }
    }
}

struct EventSeed<'r>(&'r mut RecordParts);

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the Event element of an evtx_dump record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.0;
        let (mut data_seen, mut user_seen) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "System" => {
                    if parts.system.is_some() {
                        return Err(other_layout());
                    }
                    parts.system = Some(map.next_value_seed(SystemSeed)?);
                }
                "EventData" if !data_seen => {
                    data_seen = true;
                    map.next_value_seed(Members { into: &mut parts.data, nested: false })?;
                }
                "UserData" if !user_seen => {
                    user_seen = true;
                    map.next_value_seed(Members { into: &mut parts.user, nested: true })?;
                }
                "EventData" | "UserData" => return Err(other_layout()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A `System` element read straight into the members the mapping keeps, the others skipped
/// unbuilt. Anything but an object is not a record this pass reads.
struct SystemSeed;

impl<'de> DeserializeSeed<'de> for SystemSeed {
    type Value = SystemMembers;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<SystemMembers, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SystemSeed {
    type Value = SystemMembers;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the System element of an evtx_dump record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SystemMembers, A::Error> {
        let mut members = SystemMembers::default();
        while let Some(slot) = map.next_key_seed(SystemSlotSeed)? {
            match slot {
                Some(SystemSlot::Field(index)) => members.values[index] = Some(map.next_value()?),
                Some(SystemSlot::Attribute(index)) => {
                    let name = SYSTEM_ATTRIBUTES[index].1;
                    members.attributes[index] =
                        map.next_value_seed(AttributeOf { name, level: AttributeLevel::Element })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(members)
    }
}

/// A `System` member's name, read as the slot it is kept in (none for a member the mapping
/// does not read), without allocating it.
struct SystemSlotSeed;

impl<'de> DeserializeSeed<'de> for SystemSlotSeed {
    type Value = Option<SystemSlot>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<SystemSlot>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for SystemSlotSeed {
    type Value = Option<SystemSlot>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<SystemSlot>, E> {
        Ok(SystemMembers::slot(name))
    }
}

/// Which level of `{"#attributes": {name: value}}` an [`AttributeOf`] reads.
#[derive(Clone, Copy)]
enum AttributeLevel {
    /// The element, whose `#attributes` member holds the attribute.
    Element,
    /// Its `#attributes` object.
    Attributes,
}

/// The attribute `name` of a `System` element (`Provider`'s `Name`, say), read without
/// building the element: what `element["#attributes"][name]` gives once it is parsed, the
/// last of a repeated name, and none when either level is not an object.
struct AttributeOf {
    name: &'static str,
    level: AttributeLevel,
}

impl<'de> DeserializeSeed<'de> for AttributeOf {
    type Value = Option<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AttributeOf {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let wanted = match self.level {
            AttributeLevel::Element => "#attributes",
            AttributeLevel::Attributes => self.name,
        };
        let mut found = None;
        while let Some(is_wanted) = map.next_key_seed(NameIs(wanted))? {
            if !is_wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            found = match self.level {
                AttributeLevel::Element => map.next_value_seed(AttributeOf {
                    name: self.name,
                    level: AttributeLevel::Attributes,
                })?,
                AttributeLevel::Attributes => Some(map.next_value()?),
            };
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
}

/// Whether a member's name is the one wanted, read without allocating it.
struct NameIs(&'static str);

impl<'de> DeserializeSeed<'de> for NameIs {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameIs {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

/// The members of an element, in order, into a list: `EventData`'s own, or (`nested`) those
/// of each child of `UserData`, which wraps them in one element named after the event.
/// Anything but an object gives none, as in [`from_evtx_value`].
struct Members<'m> {
    into: &'m mut Vec<(String, Value)>,
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A name given twice: the generic parser keeps its last value in its first place,
        // which lifting the list in order matches, except for a name with spaces (its compact
        // spelling keeps the first value) and for `UserData`'s children (each would be
        // lifted). Such records take the generic path.
        let mut seen: Vec<String> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if self.nested || name.contains(' ') {
                if seen.contains(&name) {
                    return Err(other_layout());
                }
                seen.push(name.clone());
            }
            if self.nested {
                map.next_value_seed(Members { into: &mut *self.into, nested: false })?;
            } else {
                let value = map.next_value::<Value>()?;
                self.into.push((name, value));
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Parses a text holding one or more concatenated JSON records (as
/// `evtx_dump -o json` writes them) and maps each. A JSON syntax error ends
/// the stream, since the parser cannot find the next record after it.
pub fn parse_evtx_json_stream(text: &str) -> Vec<Result<Event, WindowsEventError>> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (index, item) in stream.enumerate() {
        match item {
            Ok(value) => out.push(from_evtx_json(&value)),
            Err(e) => {
                out.push(Err(WindowsEventError::Json {
                    record: index + 1,
                    line: e.line(),
                    column: e.column(),
                    reason: e.to_string(),
                }));
                break;
            }
        }
    }
    out
}

fn attribute<'a>(element: &'a Value, name: &str) -> Option<&'a Value> {
    element.get("#attributes").and_then(|a| a.get(name))
}

/// An element's text: `{"#text": v, "#attributes": …}` becomes `v`.
fn text_of(value: &Value) -> &Value {
    value.get("#text").unwrap_or(value)
}

/// As [`text_of`], taking the value.
fn into_text(value: Value) -> Value {
    match value {
        Value::Object(mut element) if element.contains_key("#text") => {
            element.remove("#text").unwrap_or(Value::Null)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn record(channel: &str, id: Value, data: Value) -> Value {
        json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                "EventID": id,
                "Channel": channel,
                "Computer": "host1",
                "TimeCreated": {"#attributes": {"SystemTime": "2025-11-27T07:40:10.165324Z"}},
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": data
        }})
    }

    #[test]
    fn sysmon_record_maps_to_flat_fields_and_categories() {
        let r = record(
            "Microsoft-Windows-Sysmon/Operational",
            json!(13),
            json!({"TargetObject": "HKLM\\Run", "Threat Name": "x", "#attributes": {"a": 1}}),
        );
        let e = from_evtx_json(&r).unwrap();
        assert_eq!(e.source.product.as_deref(), Some("windows"));
        assert_eq!(e.source.service.as_deref(), Some("sysmon"));
        assert_eq!(e.source.categories, vec!["registry_set", "registry_event"]);
        assert_eq!(e.fields["TargetObject"], "HKLM\\Run");
        assert_eq!(e.fields["ThreatName"], "x");
        assert_eq!(e.fields["Threat Name"], "x");
        assert_eq!(e.fields["EventID"], 13);
        assert_eq!(e.fields["Provider_Name"], "Microsoft-Windows-Sysmon");
        assert_eq!(e.fields["UserID"], "S-1-5-18");
        assert_eq!(e.fields["Computer"], "host1");
        assert!(e.fields.get("#attributes").is_none());
        assert_eq!(e.time.unix_timestamp(), 1_764_229_210);
    }

    #[test]
    fn event_id_with_qualifiers_and_user_data() {
        let mut r =
            record("Security", json!({"#text": 4688, "#attributes": {"Qualifiers": 0}}), json!({}));
        r["Event"]["UserData"] = json!({"Op": {"User": "alice", "Code": {"#text": "5"}}});
        let e = from_evtx_json(&r).unwrap();
        assert_eq!(e.source.service.as_deref(), Some("security"));
        assert_eq!(e.source.categories, vec!["process_creation"]);
        assert_eq!(e.fields["User"], "alice");
        assert_eq!(e.fields["Code"], "5");
    }

    #[test]
    fn unknown_channels_keep_the_product_only() {
        let e = from_evtx_json(&record("Some/Other", json!(1), json!({}))).unwrap();
        assert_eq!(
            e.source,
            EventSource { product: Some("windows".into()), service: None, categories: vec![] }
        );
        assert!(!is_supported_channel("Some/Other"));
        assert!(is_supported_channel("security"));
    }

    #[test]
    fn shape_errors_name_the_element() {
        let cases = [
            (json!([]), "Event"),
            (json!({"Event": {}}), "Event.System"),
            (json!({"Event": {"System": {"EventID": "x"}}}), "Event.System.EventID"),
            (json!({"Event": {"System": {"EventID": 1}}}), "Event.System.TimeCreated"),
        ];
        for (value, path) in cases {
            match from_evtx_json(&value) {
                Err(WindowsEventError::Shape { path: p, .. }) => assert_eq!(p, path),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn streams_of_records() {
        let one = record("Security", json!(4624), json!({"a": 1})).to_string();
        let text = format!("{one}\n{one}  {one}");
        let events = parse_evtx_json_stream(&text);
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(Result::is_ok));
        let broken = parse_evtx_json_stream(&format!("{one}\n{{broken"));
        assert_eq!(broken.len(), 2);
        assert!(matches!(broken[1], Err(WindowsEventError::Json { record: 2, line: 2, .. })));
    }

    /// The one-pass mapping of `text`, checked against parsing it then mapping the value:
    /// the same event (fields in the same order) or the same error; `Other` only for text
    /// that is not the `evtx_dump` layout. Returns whether the one pass took it.
    fn check_one_pass(text: &str) -> bool {
        let Some(mapped) = parse_evtx_record(text) else { return false };
        let value: Value = serde_json::from_str(text).expect("the one pass took invalid JSON");
        let is_record = value.as_object().is_some_and(is_evtx_record);
        assert!(is_record, "the one pass took a record the generic path would not map: {text}");
        match (mapped, from_evtx_value(value)) {
            (Ok(one), Ok(two)) => {
                assert_eq!(one, two, "{text}");
                let keys = |e: &Event| e.fields.as_object().unwrap().keys().cloned().collect();
                let (one_keys, two_keys): (Vec<String>, Vec<String>) = (keys(&one), keys(&two));
                assert_eq!(one_keys, two_keys, "{text}");
            }
            (Err(one), Err(two)) => assert_eq!(one, two, "{text}"),
            (one, two) => panic!("{text}: one pass {one:?}, two passes {two:?}"),
        }
        true
    }

    #[test]
    fn one_pass_maps_as_parsing_then_mapping_does() {
        let system = r##""System":{"Provider":{"#attributes":{"Name":"P"}},"EventID":{"#text":13,"#attributes":{"Qualifiers":0}},"Channel":"Microsoft-Windows-Sysmon/Operational","TimeCreated":{"#attributes":{"SystemTime":"2025-11-27T07:40:10.165324Z"}},"Security":{"#attributes":{"UserID":"S-1-5-18"}}}"##;
        let taken = [
            format!(
                r##"{{"Event":{{{system},"EventData":{{"TargetObject":"HKLM\\Run","Threat Name":"x","#attributes":{{"a":1}},"Code":{{"#text":"5"}}}}}}}}"##
            ),
            format!(
                r#" {{"Event":{{{system},"EventData":null,"UserData":{{"Op":{{"User":"alice","EventID":"7"}},"Other":3}}}}}} "#
            ),
            format!(
                r#"{{"Event":{{{system},"EventData":{{"a":1,"b":2,"a":3,"ThreatName":"y","Threat Name":"z"}},"Extra":[1,{{"x":2}}]}}}}"#
            ),
            r#"{"Event":{"System":{"EventID":"x"},"EventData":{"a":1}}}"#.to_owned(),
            r#"{"Event":{"System":{"EventID":1}}}"#.to_owned(),
            format!(r##"{{"Event":{{"#attributes":{{"x":1}},"EventData":{{"a":1}},{system}}}}}"##),
        ];
        for text in &taken {
            assert!(check_one_pass(text), "not taken: {text}");
        }
        let left_to_the_generic_path = [
            format!(r#"{{"Event":{{{system},"EventData":{{"a b":1,"a b":2}}}}}}"#),
            format!(r#"{{"Event":{{{system},"UserData":{{"Op":{{"a":1}},"Op":{{"b":2}}}}}}}}"#),
            format!(r#"{{"Event":{{{system},"EventData":{{}},"EventData":{{}}}}}}"#),
            format!(r#"{{"Event":{{{system}}},"More":1}}"#),
            format!(r#"{{"More":1,"Event":{{{system}}}}}"#),
            format!(r#"{{"Event":{{{system},"EventData":{{"a":1}}}}"#),
            r#"{"Event":{"System":[]}}"#.to_owned(),
            r#"{"Event":{}}"#.to_owned(),
            r#"{"Event":3}"#.to_owned(),
            r#"[{"Event":{}}]"#.to_owned(),
            r#"{"time":1,"actor":{"user":"a"}}"#.to_owned(),
        ];
        for text in &left_to_the_generic_path {
            assert!(!check_one_pass(text), "taken: {text}");
        }
    }

    fn member_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("EventID".to_owned()),
            Just("#attributes".to_owned()),
            Just("Threat Name".to_owned()),
            Just("ThreatName".to_owned()),
            Just("Image".to_owned()),
            "[a-c ]{1,3}",
        ]
    }

    fn member_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_owned()),
            any::<i32>().prop_map(|n| n.to_string()),
            "[a-z\\\\]{0,6}".prop_map(|s| Value::from(s).to_string()),
            "[a-z]{0,4}".prop_map(|s| format!(r##"{{"#text":"{s}","k":1}}"##)),
            Just("[1,{\"x\":[]}]".to_owned()),
        ]
    }

    fn object(members: Vec<(String, String)>) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    proptest! {
        #[test]
        fn any_text_maps_or_fails_cleanly(text in "(?s).{0,400}") {
            let _ = parse_evtx_json_stream(&text);
            check_one_pass(&text);
        }

        /// Records built as text (so with repeated names and any member order) map in one
        /// pass exactly as parsing then mapping maps them, or are left to the generic path.
        #[test]
        fn one_pass_and_two_passes_agree(
            system in proptest::collection::vec((prop_oneof![
                Just("EventID".to_owned()), Just("Channel".to_owned()), Just("Computer".to_owned()),
                Just("TimeCreated".to_owned()), Just("Provider".to_owned()), Just("x".to_owned()),
                Just("Security".to_owned()),
            ], prop_oneof![
                member_value(),
                Just(r##"{"#attributes":{"SystemTime":"2025-11-27T07:40:10Z","Name":"N"}}"##.to_owned()),
                // Attributes given twice, not an object, or nested where they are not read.
                Just(r##"{"#attributes":{"UserID":"S-1","Name":"A","UserID":"S-2"},"#text":1}"##.to_owned()),
                Just(r##"{"#attributes":{"Name":"N"},"#attributes":[1,{"Name":"M"}]}"##.to_owned()),
                Just(r##"{"#attributes":"Name"}"##.to_owned()),
                Just(r##"{"x":{"#attributes":{"Name":"no"}},"#attributes":{"Name":{"a":[1]},"SystemTime":"2025-11-27T07:40:10Z"}}"##.to_owned()),
                Just(r#""Security""#.to_owned()),
                Just("4688".to_owned()),
            ]), 0..6),
            data in proptest::collection::vec((member_name(), member_value()), 0..8),
            user in proptest::collection::vec((member_name(), member_value()), 0..3),
            layout in 0u8..6,
        ) {
            let system = format!(r#""System":{}"#, object(system));
            let data = format!(r#""EventData":{}"#, object(data));
            let user = format!(r#""UserData":{{"Child":{}}}"#, object(user));
            let event = match layout {
                0 => format!("{system},{data}"),
                1 => format!("{system},{user}"),
                2 => format!("{system},{data},{user}"),
                3 => format!("{data},{system}"),
                4 => format!("{system},{data},\"Rest\":1"),
                _ => system,
            };
            check_one_pass(&format!(r#"{{"Event":{{{event}}}}}"#));
        }

        #[test]
        fn any_json_shape_maps_or_fails_cleanly(
            id in prop_oneof![Just(json!(null)), any::<i64>().prop_map(|n| json!(n)), ".{0,5}".prop_map(|s| json!(s))],
            channel in ".{0,30}",
            time in ".{0,30}",
        ) {
            let value = json!({"Event": {"System": {
                "EventID": id, "Channel": channel,
                "TimeCreated": {"#attributes": {"SystemTime": time}}
            }, "EventData": {"k": "v"}}});
            if let Ok(e) = from_evtx_json(&value) {
                prop_assert_eq!(e.source.product.as_deref(), Some("windows"));
            }
        }
    }
}
