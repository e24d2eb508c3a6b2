//! Newline-delimited JSON batches of events.
//!
//! A bad line never stops the batch: it is reported with its 1-based line
//! number and the rest is still read. Only a batch over the batch cap is
//! refused as a whole, before any line is read.

use serde_json::{Map, Value};

use crate::event::Event;
use crate::windows::{self, WindowsEventError};

/// Size limits of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted line (one event), bytes, without its line ending.
    pub max_event_bytes: usize,
    /// Largest accepted batch, bytes.
    pub max_batch_bytes: usize,
    /// Most events accepted in one batch; lines past it are reported.
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_event_bytes: 64 * 1024, max_batch_bytes: 8 * 1024 * 1024, max_events: 10_000 }
    }
}

/// Why a line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Longer than [`Limits::max_event_bytes`].
    #[error("event is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Line size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("not valid UTF-8 at byte {0}")]
    Utf8(usize),
    /// Not JSON.
    #[error("invalid JSON at column {column}: {reason}")]
    Json {
        /// 1-based column in the line.
        column: usize,
        /// The parser's message.
        reason: String,
    },
    /// JSON, but not an object.
    #[error("event must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// Past [`Limits::max_events`].
    #[error("batch already holds the maximum of {0} events")]
    TooManyEvents(usize),
}

/// A problem with one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: LineProblem,
}

/// The batch as a whole is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Larger than [`Limits::max_batch_bytes`].
    #[error("batch is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Batch size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// A parsed batch: the accepted events with their line numbers, and the
/// problems, in line order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch<'a> {
    /// The accepted lines, in order.
    pub events: Vec<Accepted<'a>>,
    /// Lines not accepted.
    pub errors: Vec<LineError>,
}

/// An accepted line: where it is, its text and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The line as received, without its line ending.
    pub text: &'a str,
    /// What the line holds.
    pub parsed: ParsedLine,
}

/// What an accepted line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A JSON object that is not a Windows event record.
    Object(Map<String, Value>),
    /// A Windows event record in `evtx_dump`'s shape, mapped (in one pass where its layout
    /// allows: [`windows::parse_evtx_record`]), or why it cannot be mapped.
    Windows(Result<Event, WindowsEventError>),
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a batch. Lines end with `\n` (a `\r` before it is dropped); blank
/// lines are skipped but counted.
pub fn parse_batch<'a>(input: &'a [u8], limits: &Limits) -> Result<Batch<'a>, BatchError> {
    if input.len() > limits.max_batch_bytes {
        return Err(BatchError::TooLarge { size: input.len(), limit: limits.max_batch_bytes });
    }
    let mut batch = Batch::default();
    for (index, raw) in input.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut fail = |problem| batch.errors.push(LineError { line, problem });
        if raw.len() > limits.max_event_bytes {
            fail(LineProblem::TooLarge { size: raw.len(), limit: limits.max_event_bytes });
            continue;
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                fail(LineProblem::Utf8(e.valid_up_to()));
                continue;
            }
        };
        let parsed = match windows::parse_evtx_record(text) {
            Some(mapped) => ParsedLine::Windows(mapped),
            None => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) if windows::is_evtx_record(&map) => {
                    ParsedLine::Windows(windows::from_evtx_value(Value::Object(map)))
                }
                Ok(Value::Object(map)) => ParsedLine::Object(map),
                Ok(other) => {
                    fail(LineProblem::NotAnObject(kind(&other)));
                    continue;
                }
                Err(e) => {
                    fail(LineProblem::Json { column: e.column(), reason: e.to_string() });
                    continue;
                }
            },
        };
        if batch.events.len() >= limits.max_events {
            batch
                .errors
                .push(LineError { line, problem: LineProblem::TooManyEvents(limits.max_events) });
        } else {
            batch.events.push(Accepted { line, text, parsed });
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_lines_are_reported_and_the_rest_is_read() {
        let input = b"{\"a\":1}\r\n\n[1]\n{bad\n\xff\xfe\n{\"b\":2}\n";
        let batch = parse_batch(input, &Limits::default()).unwrap();
        assert_eq!(batch.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 6]);
        assert_eq!(batch.events[1].text, "{\"b\":2}");
        assert_eq!(
            batch.events[1].parsed,
            ParsedLine::Object(serde_json::from_str("{\"b\":2}").unwrap())
        );
        let lines: Vec<usize> = batch.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert_eq!(batch.errors[0].problem, LineProblem::NotAnObject("an array"));
        assert!(matches!(batch.errors[1].problem, LineProblem::Json { .. }));
        assert_eq!(batch.errors[2].problem, LineProblem::Utf8(0));
        assert_eq!(
            batch.errors[0].to_string(),
            "line 3: event must be a JSON object, found an array"
        );
    }

    #[test]
    fn windows_records_are_mapped_as_they_are_read() {
        let record = r##"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","TimeCreated":{"#attributes":{"SystemTime":"2025-11-27T07:40:10Z"}}},"EventData":{"Image":"C:\\x.exe"}}}"##;
        let input = format!(
            "{record}\n{{\"Event\":{{\"System\":{{\"EventID\":\"x\"}}}}}}\n{{\"Event\":{{\"Other\":1}}}}\n"
        );
        let batch = parse_batch(input.as_bytes(), &Limits::default()).unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        match &batch.events[0].parsed {
            ParsedLine::Windows(Ok(event)) => {
                assert_eq!(event.fields["Image"], "C:\\x.exe");
                assert_eq!(event.source.categories, ["process_creation"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            batch.events[1].parsed,
            ParsedLine::Windows(Err(WindowsEventError::Shape { path: "Event.System.EventID", .. }))
        ));
        // No `System`: not a record, an ordinary object.
        assert!(matches!(batch.events[2].parsed, ParsedLine::Object(_)));
    }

    #[test]
    fn caps() {
        let limits = Limits { max_event_bytes: 10, max_batch_bytes: 40, max_events: 2 };
        let input = b"{\"a\":1}\n{\"long\":\"xxxxx\"}\n{}\n{}\n{}";
        let batch = parse_batch(input, &limits).unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(
            batch.errors[0],
            LineError { line: 2, problem: LineProblem::TooLarge { size: 16, limit: 10 } }
        );
        assert_eq!(batch.errors[1], LineError { line: 4, problem: LineProblem::TooManyEvents(2) });
        assert_eq!(batch.errors[2], LineError { line: 5, problem: LineProblem::TooManyEvents(2) });
        assert_eq!(batch.errors.len(), 3);
        assert_eq!(
            parse_batch(&[b' '; 41], &limits),
            Err(BatchError::TooLarge { size: 41, limit: 40 })
        );
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_batch_that_accounts_for_every_line(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let limits = Limits { max_event_bytes: 64, max_batch_bytes: 4096, max_events: 5 };
            let batch = parse_batch(&input, &limits).unwrap();
            let line_count = input.split(|b| *b == b'\n').count();
            let mut seen: Vec<usize> = batch.events.iter().map(|e| e.line).chain(batch.errors.iter().map(|e| e.line)).collect();
            seen.sort_unstable();
            let before = seen.len();
            seen.dedup();
            prop_assert_eq!(before, seen.len(), "a line reported twice");
            prop_assert!(seen.iter().all(|l| *l >= 1 && *l <= line_count));
            prop_assert!(batch.events.len() <= 5);
        }

        #[test]
        fn objects_round_trip(values in proptest::collection::vec(("[a-z]{1,5}", any::<i32>()), 0..20)) {
            let text: String = values.iter().map(|(k, v)| format!("{{\"{k}\":{v}}}\n")).collect();
            let batch = parse_batch(text.as_bytes(), &Limits::default()).unwrap();
            prop_assert!(batch.errors.is_empty());
            prop_assert_eq!(batch.events.len(), values.len());
            for (accepted, (i, (k, v))) in batch.events.iter().zip(values.iter().enumerate()) {
                prop_assert_eq!(accepted.line, i + 1);
                let ParsedLine::Object(map) = &accepted.parsed else { panic!("{accepted:?}") };
                prop_assert_eq!(map[k].as_i64(), Some(i64::from(*v)));
            }
        }
    }
}
