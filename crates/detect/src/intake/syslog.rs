//! Syslog messages, RFC 5424 and the older BSD format of RFC 3164, to events.
//!
//! The format is told by what follows the priority: a version digit and a
//! space mean RFC 5424, anything else RFC 3164. RFC 3164 timestamps carry no
//! year or zone: they are read as UTC in the year of the receive time (the
//! year before when that would put them more than a day in the future), and
//! a message without a valid timestamp takes the receive time, as RFC 3164
//! section 4.3.2 tells relays to do.

use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::event::{Event, EventSource};

/// Which syslog format a message was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 5424.
    Rfc5424,
    /// RFC 3164 (BSD syslog).
    Rfc3164,
}

/// One RFC 5424 structured-data element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    /// SD-ID, e.g. `timeQuality` or `origin@32473`.
    pub id: String,
    /// Parameters in order, values unescaped.
    pub params: Vec<(String, String)>,
}

/// A parsed syslog message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage {
    /// The format it was in.
    pub format: Format,
    /// Facility, 0–23.
    pub facility: u8,
    /// Severity, 0 (emergency) – 7 (debug).
    pub severity: u8,
    /// The message's own time, when it had a valid one.
    pub timestamp: Option<OffsetDateTime>,
    /// Sending host.
    pub hostname: Option<String>,
    /// APP-NAME (RFC 5424) or TAG (RFC 3164).
    pub app_name: Option<String>,
    /// PROCID (RFC 5424) or the `[pid]` after the tag (RFC 3164).
    pub proc_id: Option<String>,
    /// MSGID (RFC 5424 only).
    pub msg_id: Option<String>,
    /// Structured data (RFC 5424 only).
    pub structured_data: Vec<SdElement>,
    /// The free-form message, invalid UTF-8 replaced.
    pub message: String,
}

/// Why a line is not a syslog message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syslog byte {offset}: {reason}")]
pub struct SyslogError {
    /// 0-based byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

fn err<T>(offset: usize, reason: &'static str) -> Result<T, SyslogError> {
    Err(SyslogError { offset, reason })
}

/// Longest accepted message, bytes (RFC 5424 receivers must take 480 and
/// should take 2048; this leaves room for large structured data).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Parses one message. `received_at` dates RFC 3164 timestamps (which have no year).
pub fn parse(input: &[u8], received_at: OffsetDateTime) -> Result<SyslogMessage, SyslogError> {
    if input.len() > MAX_MESSAGE_BYTES {
        return err(MAX_MESSAGE_BYTES, "message longer than 65536 bytes");
    }
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    let input = input.strip_suffix(b"\r").unwrap_or(input);
    let (prival, rest_at) = priority(input)?;
    let (facility, severity) = (prival / 8, prival % 8);
    let rest = &input[rest_at..];
    let is_5424 = matches!(rest, [b'1'..=b'9', ..])
        && rest
            .iter()
            .take(4)
            .skip(1)
            .position(|b| *b == b' ')
            .is_some_and(|p| rest[1..=p].iter().all(u8::is_ascii_digit));
    if is_5424 {
        parse_5424(input, rest_at, facility, severity)
    } else {
        Ok(parse_3164(rest, facility, severity, received_at))
    }
}

fn priority(input: &[u8]) -> Result<(u8, usize), SyslogError> {
    if input.first() != Some(&b'<') {
        return err(0, "expected '<' opening the priority");
    }
    let digits = input[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 {
        return err(1, "priority must be 1 to 3 digits");
    }
    if input.get(1 + digits) != Some(&b'>') {
        return err(1 + digits, "expected '>' closing the priority");
    }
    if digits > 1 && input[1] == b'0' {
        return err(1, "priority has a leading zero");
    }
    let value: u16 = input[1..1 + digits].iter().fold(0, |acc, d| acc * 10 + u16::from(d - b'0'));
    match u8::try_from(value) {
        Ok(v) if v <= 191 => Ok((v, digits + 2)),
        _ => err(1, "priority is over 191"),
    }
}

/// A cursor over the RFC 5424 header fields.
struct Cursor<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The next space-delimited field; `max` printable ASCII characters.
    fn field(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], SyslogError> {
        let start = self.at;
        let len = self.input[start..].iter().take_while(|b| **b != b' ').count();
        let field = &self.input[start..start + len];
        if field.is_empty() {
            return err(start, what);
        }
        if field.len() > max {
            return err(start, "header field too long");
        }
        if !field.iter().all(|b| (33..=126).contains(b)) {
            return err(start, "header field has a character outside printable US-ASCII");
        }
        self.at = start + len;
        Ok(field)
    }

    fn space(&mut self) -> Result<(), SyslogError> {
        if self.input.get(self.at) != Some(&b' ') {
            return err(self.at, "expected a space");
        }
        self.at += 1;
        Ok(())
    }
}

fn nil_or(field: &[u8]) -> Option<String> {
    (field != b"-").then(|| String::from_utf8_lossy(field).into_owned())
}

fn parse_5424(
    input: &[u8],
    start: usize,
    facility: u8,
    severity: u8,
) -> Result<SyslogMessage, SyslogError> {
    let mut c = Cursor { input, at: start };
    let version = c.field(3, "missing version")?;
    if version != b"1" {
        return err(start, "unsupported syslog version (only 1 is defined)");
    }
    c.space()?;
    let ts_at = c.at;
    let ts = c.field(64, "missing timestamp")?;
    let timestamp = if ts == b"-" {
        None
    } else {
        let text = std::str::from_utf8(ts).unwrap_or_default();
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => return err(ts_at, "timestamp is not an RFC 3339 date-time"),
        }
    };
    c.space()?;
    let hostname = nil_or(c.field(255, "missing hostname")?);
    c.space()?;
    let app_name = nil_or(c.field(48, "missing app-name")?);
    c.space()?;
    let proc_id = nil_or(c.field(128, "missing procid")?);
    c.space()?;
    let msg_id = nil_or(c.field(32, "missing msgid")?);
    c.space()?;
    let structured_data = structured_data(&mut c)?;
    let message = match input.get(c.at) {
        None => String::new(),
        Some(b' ') => {
            let body = &input[c.at + 1..];
            let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            String::from_utf8_lossy(body).into_owned()
        }
        Some(_) => return err(c.at, "expected a space before the message"),
    };
    Ok(SyslogMessage {
        format: Format::Rfc5424,
        facility,
        severity,
        timestamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        message,
    })
}

fn structured_data(c: &mut Cursor<'_>) -> Result<Vec<SdElement>, SyslogError> {
    let input = c.input;
    match input.get(c.at) {
        Some(b'-') => {
            c.at += 1;
            return Ok(Vec::new());
        }
        Some(b'[') => {}
        _ => return err(c.at, "expected '-' or '[' starting structured data"),
    }
    let mut elements = Vec::new();
    while input.get(c.at) == Some(&b'[') {
        c.at += 1;
        let id = sd_name(c, 32, "missing SD-ID")?;
        let mut params = Vec::new();
        loop {
            match input.get(c.at) {
                Some(b']') => {
                    c.at += 1;
                    break;
                }
                Some(b' ') => {
                    c.at += 1;
                    let name = sd_name(c, 32, "missing parameter name")?;
                    if input.get(c.at) != Some(&b'=') {
                        return err(c.at, "expected '=' after a parameter name");
                    }
                    c.at += 1;
                    if input.get(c.at) != Some(&b'"') {
                        return err(c.at, "expected '\"' opening a parameter value");
                    }
                    c.at += 1;
                    let mut value = Vec::new();
                    loop {
                        match input.get(c.at) {
                            None => return err(c.at, "unterminated parameter value"),
                            Some(b'"') => {
                                c.at += 1;
                                break;
                            }
                            Some(b'\\')
                                if matches!(input.get(c.at + 1), Some(b'"' | b'\\' | b']')) =>
                            {
                                value.push(input[c.at + 1]);
                                c.at += 2;
                            }
                            Some(b) => {
                                value.push(*b);
                                c.at += 1;
                            }
                        }
                    }
                    params.push((name, String::from_utf8_lossy(&value).into_owned()));
                }
                None => return err(c.at, "unterminated structured-data element"),
                Some(_) => return err(c.at, "expected ' ' or ']' in a structured-data element"),
            }
        }
        elements.push(SdElement { id, params });
    }
    Ok(elements)
}

fn sd_name(c: &mut Cursor<'_>, max: usize, what: &'static str) -> Result<String, SyslogError> {
    let start = c.at;
    let len = c.input[start..]
        .iter()
        .take_while(|b| (33..=126).contains(*b) && !matches!(b, b'=' | b' ' | b']' | b'"'))
        .count();
    if len == 0 {
        return err(start, what);
    }
    if len > max {
        return err(start, "structured-data name longer than 32 characters");
    }
    c.at += len;
    Ok(String::from_utf8_lossy(&c.input[start..start + len]).into_owned())
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Mmm dd hh:mm:ss` (15 bytes, day space-padded) in the receive year.
fn bsd_timestamp(text: &[u8], received_at: OffsetDateTime) -> Option<OffsetDateTime> {
    if text.len() < 15 || text[3] != b' ' || text[6] != b' ' || text[9] != b':' || text[12] != b':'
    {
        return None;
    }
    let month_index = MONTHS.iter().position(|m| m.as_slice() == &text[..3])?;
    let month = Month::try_from(u8::try_from(month_index + 1).ok()?).ok()?;
    let number = |s: &[u8]| -> Option<u8> {
        let s: Vec<u8> = s.iter().copied().filter(|b| *b != b' ').collect();
        if s.is_empty() || s.len() > 2 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0u8, |acc, d| acc * 10 + (d - b'0')))
    };
    let day = number(&text[4..6])?;
    let time = Time::from_hms(number(&text[7..9])?, number(&text[10..12])?, number(&text[13..15])?)
        .ok()?;
    let at_year = |year: i32| {
        Date::from_calendar_date(year, month, day).ok().map(|d| d.with_time(time).assume_utc())
    };
    let year = received_at.year();
    match at_year(year) {
        Some(t) if t <= received_at + Duration::days(1) => Some(t),
        _ => at_year(year - 1),
    }
}

fn parse_3164(
    rest: &[u8],
    facility: u8,
    severity: u8,
    received_at: OffsetDateTime,
) -> SyslogMessage {
    let mut message = SyslogMessage {
        format: Format::Rfc3164,
        facility,
        severity,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: Vec::new(),
        message: String::new(),
    };
    let mut body = rest;
    if let Some(t) = bsd_timestamp(rest, received_at)
        && rest.get(15) == Some(&b' ')
    {
        message.timestamp = Some(t);
        body = &rest[16..];
        let host_len = body.iter().take_while(|b| **b != b' ').count();
        if host_len > 0 && host_len < body.len() {
            message.hostname = Some(String::from_utf8_lossy(&body[..host_len]).into_owned());
            body = &body[host_len + 1..];
        }
    }
    // TAG: up to 32 alphanumerics (and a few separators), then "[pid]" and/or ':'.
    let tag_len = body
        .iter()
        .take(32)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        .count();
    if tag_len > 0 {
        let after = &body[tag_len..];
        let (proc_id, after) = match after.strip_prefix(b"[") {
            Some(inner) => match inner.iter().position(|b| *b == b']') {
                Some(end) => (Some(&inner[..end]), &inner[end + 1..]),
                None => (None, after),
            },
            None => (None, after),
        };
        if let Some(text) = after.strip_prefix(b":") {
            message.app_name = Some(String::from_utf8_lossy(&body[..tag_len]).into_owned());
            message.proc_id = proc_id.map(|p| String::from_utf8_lossy(p).into_owned());
            body = text.strip_prefix(b" ").unwrap_or(text);
        }
    }
    message.message = String::from_utf8_lossy(body).into_owned();
    message
}

impl SyslogMessage {
    /// The message as an event with Sigma logsource `service: syslog` and the
    /// given product (e.g. `linux`). Fields: `facility`, `severity`,
    /// `hostname`, `app_name`, `proc_id`, `msg_id`, `message`, and
    /// `sd.<SD-ID>.<name>` for structured data. The event time is the
    /// message's own, or `received_at` without one.
    pub fn to_event(&self, product: Option<&str>, received_at: OffsetDateTime) -> Event {
        let mut fields = Map::new();
        fields.insert("facility".into(), json!(self.facility));
        fields.insert("severity".into(), json!(self.severity));
        for (name, value) in [
            ("hostname", &self.hostname),
            ("app_name", &self.app_name),
            ("proc_id", &self.proc_id),
            ("msg_id", &self.msg_id),
        ] {
            if let Some(v) = value {
                fields.insert(name.into(), json!(v));
            }
        }
        fields.insert("message".into(), json!(self.message));
        if !self.structured_data.is_empty() {
            let mut sd = Map::new();
            for element in &self.structured_data {
                let params: Map<String, Value> =
                    element.params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                sd.insert(element.id.clone(), Value::Object(params));
            }
            fields.insert("sd".into(), Value::Object(sd));
        }
        let source = EventSource {
            product: product.map(str::to_owned),
            service: Some("syslog".into()),
            categories: Vec::new(),
        };
        Event::new(source, self.timestamp.unwrap_or(received_at), fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 12:00 UTC);

    #[test]
    fn rfc5424_examples() {
        // The RFC's own examples, section 6.5.
        let m = parse(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8", NOW).unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc5424, 4, 2));
        assert_eq!(m.timestamp, Some(datetime!(2003-10-11 22:14:15.003 UTC)));
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.proc_id, None);
        assert_eq!(m.msg_id.as_deref(), Some("ID47"));
        assert_eq!(m.message, "'su root' failed for lonvick on /dev/pts/8");

        let m = parse(br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#, NOW).unwrap();
        assert_eq!(m.structured_data.len(), 2);
        assert_eq!(m.structured_data[0].id, "exampleSDID@32473");
        assert_eq!(m.structured_data[0].params[1], ("eventSource".into(), "Application".into()));
        assert_eq!(m.structured_data[1].params, vec![("class".into(), "high".into())]);
        assert_eq!(m.message, "");

        let m = parse(br#"<13>1 - - - - - [a x="q\"uote\]d\\"] hi"#, NOW).unwrap();
        assert_eq!(m.structured_data[0].params[0].1, r#"q"uote]d\"#);
        assert_eq!(m.message, "hi");
        assert_eq!(m.timestamp, None);
    }

    #[test]
    fn rfc5424_errors_point_at_the_problem() {
        assert_eq!(parse(b"34>1", NOW).unwrap_err().offset, 0);
        assert_eq!(parse(b"<192>1 - - - - - -", NOW).unwrap_err().reason, "priority is over 191");
        assert_eq!(
            parse(b"<034>1 - - - - - -", NOW).unwrap_err().reason,
            "priority has a leading zero"
        );
        let e = parse(b"<34>1 2003-13-11T22:14:15Z h a p m -", NOW).unwrap_err();
        assert_eq!((e.offset, e.reason), (6, "timestamp is not an RFC 3339 date-time"));
        let e = parse(b"<34>1 - h a p m [x y=\"unterminated", NOW).unwrap_err();
        assert_eq!(e.reason, "unterminated parameter value");
        let e = parse(b"<34>2 - h a p m -", NOW).unwrap_err();
        assert_eq!(e.reason, "unsupported syslog version (only 1 is defined)");
        assert!(parse(b"<34>1 - h a p m -x", NOW).is_err());
    }

    #[test]
    fn rfc3164_examples() {
        let m = parse(
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            NOW,
        )
        .unwrap();
        assert_eq!(m.format, Format::Rfc3164);
        // October is after March: the previous year.
        assert_eq!(m.timestamp, Some(datetime!(2025-10-11 22:14:15 UTC)));
        assert_eq!(m.hostname.as_deref(), Some("mymachine"));
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.message, "'su root' failed for lonvick on /dev/pts/8");

        let m =
            parse(b"<38>Mar  2 11:59:00 host sshd[4242]: Accepted publickey for git", NOW).unwrap();
        assert_eq!(m.timestamp, Some(datetime!(2026-03-02 11:59:00 UTC)));
        assert_eq!(m.proc_id.as_deref(), Some("4242"));
        assert_eq!(m.app_name.as_deref(), Some("sshd"));

        // No timestamp: the whole rest is the message; the event takes the receive time.
        let m = parse(b"<13>Use the BFG!", NOW).unwrap();
        assert_eq!(m.timestamp, None);
        assert_eq!(m.message, "Use the BFG!");
        let event = m.to_event(Some("linux"), NOW);
        assert_eq!(event.time, NOW);
        assert_eq!(event.fields["message"], "Use the BFG!");
        assert_eq!(event.source.service.as_deref(), Some("syslog"));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&input, NOW);
            let mut prefixed = b"<34>".to_vec();
            prefixed.extend_from_slice(&input);
            if let Ok(m) = parse(&prefixed, NOW) {
                prop_assert!(m.facility <= 23 && m.severity <= 7);
            }
            let mut prefixed = b"<34>1 ".to_vec();
            prefixed.extend_from_slice(&input);
            let _ = parse(&prefixed, NOW);
        }

        #[test]
        fn any_priority_round_trips(prival in 0u8..=191, msg in "[ -~]{0,40}") {
            let m = parse(format!("<{prival}>1 - host app 12 ID - {msg}").as_bytes(), NOW).unwrap();
            prop_assert_eq!(m.facility * 8 + m.severity, prival);
            prop_assert_eq!(m.message, msg);
        }
    }
}
