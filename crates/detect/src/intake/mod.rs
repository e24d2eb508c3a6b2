//! Parsers for what the service takes in: NDJSON event batches, syslog lines
//! (RFC 5424 and RFC 3164), and the `security.txt` file (RFC 9116) it serves.
//! Each parser is total: any input gives a value or an error, never a panic.

pub mod ndjson;
pub mod security_txt;
pub mod syslog;
