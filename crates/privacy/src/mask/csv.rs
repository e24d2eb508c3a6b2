//! CSV (RFC 4180) with a header row: `,` separators, `"` quoting with `""` inside quotes,
//! records ending with `\n` or `\r\n`, line breaks allowed inside quoted fields.

use std::io::{BufRead, Write};

use super::engine::{Action, Masked, Masker};
use super::{MaskError, Tracker};

struct Field {
    start: usize,
    end: usize,
    quoted: bool,
}

/// Reads one record (possibly several lines) into `record`. Returns false at end of input.
fn read_record<R: BufRead>(
    reader: &mut R,
    record: &mut Vec<u8>,
    line_no: &mut u64,
    tracker: &mut Tracker<'_>,
) -> Result<bool, MaskError> {
    record.clear();
    let start = *line_no + 1;
    let mut in_quotes = false;
    let mut scanned = 0;
    loop {
        let n = reader.read_until(b'\n', record)?;
        if n == 0 {
            if in_quotes {
                return Err(MaskError::parse(
                    start,
                    "unterminated quoted field in the CSV record starting here",
                ));
            }
            return Ok(!record.is_empty());
        }
        *line_no += 1;
        tracker.bytes += n as u64;
        for &b in &record[scanned..] {
            if b == b'"' {
                in_quotes = !in_quotes;
            }
        }
        scanned = record.len();
        if !in_quotes {
            return Ok(true);
        }
    }
}

fn split_fields(record: &[u8], fields: &mut Vec<Field>, line: u64) -> Result<(), MaskError> {
    fields.clear();
    let mut i = 0;
    loop {
        if record.get(i) == Some(&b'"') {
            let start = i;
            i += 1;
            loop {
                match record.get(i) {
                    None => return Err(MaskError::parse(line, "unterminated quoted CSV field")),
                    Some(b'"') if record.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            fields.push(Field { start, end: i, quoted: true });
            match record.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => {
                    return Err(MaskError::parse(
                        line,
                        format!("CSV field {} has text after its closing quote", fields.len()),
                    ));
                }
            }
        } else {
            let start = i;
            let end = memchr::memchr(b',', &record[i..]).map(|p| i + p).unwrap_or(record.len());
            fields.push(Field { start, end, quoted: false });
            if end == record.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

fn decode<'a>(record: &'a [u8], field: &Field, buffer: &'a mut Vec<u8>) -> &'a [u8] {
    let raw = &record[field.start..field.end];
    if !field.quoted {
        return raw;
    }
    let inner = &raw[1..raw.len() - 1];
    if memchr::memchr(b'"', inner).is_none() {
        return inner;
    }
    buffer.clear();
    let mut i = 0;
    while i < inner.len() {
        buffer.push(inner[i]);
        i += if inner[i] == b'"' { 2 } else { 1 };
    }
    buffer
}

fn write_field<W: Write>(writer: &mut W, value: &str) -> std::io::Result<()> {
    let needs_quotes = value.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || value.starts_with(' ')
        || value.ends_with(' ');
    if !needs_quotes {
        return writer.write_all(value.as_bytes());
    }
    writer.write_all(b"\"")?;
    let bytes = value.as_bytes();
    let mut from = 0;
    for q in memchr::memchr_iter(b'"', bytes) {
        writer.write_all(&bytes[from..=q])?;
        writer.write_all(b"\"")?;
        from = q + 1;
    }
    writer.write_all(&bytes[from..])?;
    writer.write_all(b"\"")
}

pub(crate) fn mask_csv<R: BufRead, W: Write>(
    masker: &mut Masker,
    table: &str,
    mut reader: R,
    writer: &mut W,
    tracker: &mut Tracker<'_>,
) -> Result<(), MaskError> {
    let mut record = Vec::with_capacity(4096);
    let mut fields = Vec::new();
    let mut line_no = 0u64;
    let mut decoded = Vec::new();
    let mut key_decoded = Vec::new();
    let mut out = String::new();
    if !read_record(&mut reader, &mut record, &mut line_no, tracker)? {
        return Ok(());
    }
    let header_end = content_len(&record);
    split_fields(&record[..header_end], &mut fields, 1)?;
    let columns = fields
        .iter()
        .map(|f| String::from_utf8(decode(&record, f, &mut decoded).to_vec()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|_| MaskError::parse(1, "the CSV header is not valid UTF-8"))?;
    writer.write_all(&record)?;
    let plan = masker.plan(table, &columns, 1)?;
    loop {
        let start_line = line_no + 1;
        if !read_record(&mut reader, &mut record, &mut line_no, tracker)? {
            return Ok(());
        }
        let end = content_len(&record);
        if end == 0 {
            writer.write_all(&record)?;
            continue;
        }
        tracker.row();
        split_fields(&record[..end], &mut fields, start_line)?;
        if fields.len() != columns.len() {
            return Err(MaskError::parse(
                start_line,
                format!("CSV record has {} fields, the header has {}", fields.len(), columns.len()),
            ));
        }
        if plan.all_kept(masker) {
            for index in 0..fields.len() {
                masker.count_unchanged(&plan, index, false);
            }
            writer.write_all(&record)?;
            continue;
        }
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                writer.write_all(b",")?;
            }
            let row_key = match plan.columns[index].action {
                Action::Mask { row_key: Some(k), .. } => Some(
                    std::str::from_utf8(decode(&record, &fields[k], &mut key_decoded)).map_err(
                        |_| MaskError::parse(start_line, "a CSV field is not valid UTF-8"),
                    )?,
                ),
                _ => None,
            };
            let value = std::str::from_utf8(decode(&record, field, &mut decoded))
                .map_err(|_| MaskError::parse(start_line, "a CSV field is not valid UTF-8"))?;
            match masker.mask(&plan, index, Some(value), row_key, start_line, &mut out)? {
                Masked::Unchanged => writer.write_all(&record[field.start..field.end])?,
                Masked::Null => {}
                Masked::Text => write_field(writer, &out)?,
            }
        }
        writer.write_all(&record[end..])?;
    }
}

/// Length of a record without its line ending.
fn content_len(record: &[u8]) -> usize {
    let mut end = record.len();
    if end > 0 && record[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && record[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}
