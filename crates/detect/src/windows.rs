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
    let system =
        event.get("System").and_then(Value::as_object).ok_or(WindowsEventError::Shape {
            path: "Event.System",
            reason: "missing or not an object",
        })?;
    let mut fields = Map::new();
    for (member, name) in SYSTEM_FIELDS {
        if let Some(value) = system.get(*member) {
            fields.insert((*name).to_owned(), text_of(value).clone());
        }
    }
    if let Some(name) = system.get("Provider").and_then(|p| attribute(p, "Name")) {
        fields.insert("Provider_Name".to_owned(), name.clone());
    }
    if let Some(user) = system.get("Security").and_then(|p| attribute(p, "UserID")) {
        fields.insert("UserID".to_owned(), user.clone());
    }
    let event_id = match fields.get("EventID") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or(WindowsEventError::Shape {
        path: "Event.System.EventID",
        reason: "missing or not a non-negative integer",
    })?;
    let channel = system.get("Channel").and_then(Value::as_str).unwrap_or_default().to_owned();
    let time = system
        .get("TimeCreated")
        .and_then(|t| attribute(t, "SystemTime"))
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
    if let Some(data) = data {
        lift_members(data, &mut fields);
    }
    if let Some(Value::Object(user_data)) = user_data {
        // UserData wraps its members in one element named after the event.
        for (_, child) in user_data {
            lift_members(child, &mut fields);
        }
    }
    Ok(Event { source: source_for(&channel, event_id), time, fields: Value::Object(fields) })
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

fn lift_members(data: Value, fields: &mut Map<String, Value>) {
    let Value::Object(members) = data else { return };
    for (name, value) in members {
        if name == "#attributes" {
            continue;
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

    proptest! {
        #[test]
        fn any_text_maps_or_fails_cleanly(text in "(?s).{0,400}") {
            let _ = parse_evtx_json_stream(&text);
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
