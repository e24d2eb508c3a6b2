//! PostgreSQL plain-SQL dumps: `COPY … FROM stdin;` blocks in text format and
//! `INSERT INTO … (columns) VALUES …;` statements are masked; every other line is copied
//! unchanged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Write};

use super::engine::{Action, Masked, Masker, TablePlan};
use super::{MaskError, Tracker};

pub(crate) fn mask_dump<R: BufRead, W: Write>(
    masker: &mut Masker,
    mut reader: R,
    writer: &mut W,
    tracker: &mut Tracker<'_>,
) -> Result<(), MaskError> {
    let mut line = Vec::with_capacity(4096);
    let mut line_no: u64 = 0;
    let mut insert_plans: HashMap<Vec<u8>, TablePlan> = HashMap::new();
    let mut buffers = Buffers::default();
    let mut dollar = DollarQuotes::default();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        tracker.bytes += n as u64;
        if line_no == 1 && line.starts_with(b"PGDMP") {
            return Err(MaskError::parse(
                1,
                "this is a custom-format (binary) pg_dump archive; convert it with pg_restore -f - or dump with --format=plain",
            ));
        }
        if dollar.inside() {
            // Inside a dollar-quoted body (a function, a DO block): never data.
            dollar.scan(&line);
            writer.write_all(&line)?;
        } else if line.starts_with(b"COPY ") {
            writer.write_all(&line)?;
            let (table, columns) = parse_copy_header(&line, line_no)?;
            let plan = masker.plan(&table, &columns, line_no)?;
            copy_block(masker, &plan, &mut reader, writer, tracker, &mut line_no, &mut buffers)?;
        } else if starts_with_ignore_case(&line, b"INSERT INTO ") {
            let start_line = line_no;
            let mut statement = std::mem::take(&mut line);
            let end = read_statement(&mut reader, &mut statement, &mut line_no, tracker)?;
            insert_statement(
                masker,
                &mut insert_plans,
                &statement,
                end,
                start_line,
                writer,
                tracker,
                &mut buffers,
            )?;
            line = statement;
        } else {
            dollar.scan(&line);
            writer.write_all(&line)?;
        }
    }
}

/// Tracks dollar-quoted strings (`$$ … $$`, `$body$ … $body$`) across the lines that are
/// copied unchanged, so that an `INSERT INTO` or `COPY` line inside a function body is not
/// taken for data.
#[derive(Default)]
struct DollarQuotes {
    open: Option<Vec<u8>>,
}

impl DollarQuotes {
    fn inside(&self) -> bool {
        self.open.is_some()
    }

    fn scan(&mut self, line: &[u8]) {
        let mut i = 0;
        let mut in_string = false;
        while i < line.len() {
            match (&self.open, line[i]) {
                (None, b'\'') => in_string = !in_string,
                (None, b'-') if !in_string && line.get(i + 1) == Some(&b'-') => return,
                (None, b'$') if !in_string => {
                    if let Some(tag) = dollar_tag(&line[i..]) {
                        i += tag.len();
                        self.open = Some(tag.to_vec());
                        continue;
                    }
                }
                (Some(tag), b'$') if line[i..].starts_with(tag) => {
                    i += tag.len();
                    self.open = None;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// The dollar-quote tag at the start of `text` (`$$` or `$name$`), if any.
fn dollar_tag(text: &[u8]) -> Option<&[u8]> {
    let rest = text.get(1..)?;
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let end = rest.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))?;
    (rest[end] == b'$').then(|| &text[..end + 2])
}

#[derive(Default)]
struct Buffers {
    decoded: Vec<u8>,
    key_decoded: Vec<u8>,
    out: String,
    encoded: Vec<u8>,
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Parses `COPY table (col, …) FROM stdin;`.
fn parse_copy_header(line: &[u8], line_no: u64) -> Result<(String, Vec<String>), MaskError> {
    let text = trim_line_end(line);
    let mut p = Parser { s: text, i: 5 };
    let table = p
        .qualified_name()
        .ok_or_else(|| MaskError::parse(line_no, "COPY: cannot read the table name"))?;
    p.spaces();
    if !p.eat(b"(") {
        return Err(MaskError::parse(line_no, format!("COPY {table}: no column list")));
    }
    let columns = p
        .column_list()
        .ok_or_else(|| MaskError::parse(line_no, format!("COPY {table}: malformed column list")))?;
    p.spaces();
    let rest = &text[p.i..];
    if rest != b"FROM stdin;" {
        let shown = String::from_utf8_lossy(&rest[..rest.len().min(60)]).into_owned();
        return Err(MaskError::parse(
            line_no,
            format!(
                "COPY {table}: unsupported COPY form {shown:?}; only the text format `FROM stdin;` (no BINARY, CSV or other options) is supported"
            ),
        ));
    }
    Ok((table, columns))
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[allow(clippy::too_many_arguments)]
fn copy_block<R: BufRead, W: Write>(
    masker: &mut Masker,
    plan: &TablePlan,
    reader: &mut R,
    writer: &mut W,
    tracker: &mut Tracker<'_>,
    line_no: &mut u64,
    buffers: &mut Buffers,
) -> Result<(), MaskError> {
    let start = *line_no;
    let mut row = Vec::with_capacity(4096);
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(plan.columns.len());
    loop {
        row.clear();
        let n = reader.read_until(b'\n', &mut row)?;
        if n == 0 {
            return Err(MaskError::parse(
                start,
                "the COPY block starting here is not terminated by \\.",
            ));
        }
        *line_no += 1;
        tracker.bytes += n as u64;
        let content = row.strip_suffix(b"\n").unwrap_or(&row);
        if content == b"\\." {
            writer.write_all(&row)?;
            return Ok(());
        }
        tracker.row();
        fields.clear();
        let mut begin = 0;
        for tab in memchr::memchr_iter(b'\t', content) {
            fields.push((begin, tab));
            begin = tab + 1;
        }
        fields.push((begin, content.len()));
        if fields.len() != plan.columns.len() {
            return Err(MaskError::parse(
                *line_no,
                format!(
                    "COPY row has {} fields, the header names {} columns",
                    fields.len(),
                    plan.columns.len()
                ),
            ));
        }
        if plan.all_kept(masker) {
            for (index, &(a, b)) in fields.iter().enumerate() {
                masker.count_unchanged(plan, index, &content[a..b] == b"\\N");
            }
            writer.write_all(&row)?;
            continue;
        }
        for (index, &(a, b)) in fields.iter().enumerate() {
            if index > 0 {
                writer.write_all(b"\t")?;
            }
            let raw = &content[a..b];
            let action = plan.columns[index].action;
            let null = raw == b"\\N";
            if !masker.needs_value(plan, index) {
                masker.count_unchanged(plan, index, null);
                writer.write_all(raw)?;
                continue;
            }
            let row_key = match action {
                Action::Mask { row_key: Some(k), .. } => {
                    let (ka, kb) = fields[k];
                    let key_raw = &content[ka..kb];
                    if key_raw == b"\\N" {
                        None
                    } else {
                        Some(decode_copy(key_raw, &mut buffers.key_decoded, *line_no)?)
                    }
                }
                _ => None,
            };
            let value =
                if null { None } else { Some(decode_copy(raw, &mut buffers.decoded, *line_no)?) };
            let value_str = match &value {
                Some(v) => Some(utf8(v, *line_no)?),
                None => None,
            };
            let key_str = match &row_key {
                Some(v) => Some(utf8(v, *line_no)?),
                None => None,
            };
            let outcome =
                masker.mask(plan, index, value_str, key_str, *line_no, &mut buffers.out)?;
            match outcome {
                Masked::Unchanged => writer.write_all(raw)?,
                Masked::Null => writer.write_all(b"\\N")?,
                Masked::Text => {
                    let text = buffers.out.as_bytes();
                    if text.iter().all(|&b| b > 0x0d && b != b'\\') {
                        writer.write_all(text)?;
                    } else {
                        buffers.encoded.clear();
                        encode_copy(text, &mut buffers.encoded);
                        writer.write_all(&buffers.encoded)?;
                    }
                }
            }
        }
        writer.write_all(&row[content.len()..])?;
    }
}

fn utf8(bytes: &[u8], line: u64) -> Result<&str, MaskError> {
    std::str::from_utf8(bytes).map_err(|e| {
        MaskError::parse(line, format!("a value is not valid UTF-8 (byte {})", e.valid_up_to()))
    })
}

/// Decodes a field of COPY text format (backslash escapes). Borrows when there is nothing to
/// decode.
fn decode_copy<'a>(
    raw: &'a [u8],
    buffer: &'a mut Vec<u8>,
    line: u64,
) -> Result<Cow<'a, [u8]>, MaskError> {
    if memchr::memchr(b'\\', raw).is_none() {
        return Ok(Cow::Borrowed(raw));
    }
    buffer.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            buffer.push(b);
            i += 1;
            continue;
        }
        let Some(&next) = raw.get(i + 1) else {
            return Err(MaskError::parse(line, "a COPY field ends with a lone backslash"));
        };
        i += 2;
        match next {
            b'b' => buffer.push(0x08),
            b'f' => buffer.push(0x0c),
            b'n' => buffer.push(b'\n'),
            b'r' => buffer.push(b'\r'),
            b't' => buffer.push(b'\t'),
            b'v' => buffer.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(next - b'0');
                let mut taken = 0;
                while taken < 2 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                    value = value * 8 + u32::from(raw[i] - b'0');
                    i += 1;
                    taken += 1;
                }
                buffer.push((value & 0xff) as u8);
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u32;
                let mut taken = 0;
                while taken < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                    value = value * 16 + (raw[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    taken += 1;
                }
                buffer.push(value as u8);
            }
            other => buffer.push(other),
        }
    }
    Ok(Cow::Borrowed(buffer.as_slice()))
}

/// Encodes a value for COPY text format, as PostgreSQL's COPY TO does.
pub(crate) fn encode_copy(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0b => out.extend_from_slice(b"\\v"),
            other => out.push(other),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScanState {
    Normal,
    String { backslashes: bool },
    Identifier,
}

/// Reads lines into `statement` until its terminating `;` (outside strings and quoted
/// identifiers). Returns the index of that `;`.
fn read_statement<R: BufRead>(
    reader: &mut R,
    statement: &mut Vec<u8>,
    line_no: &mut u64,
    tracker: &mut Tracker<'_>,
) -> Result<usize, MaskError> {
    let start_line = *line_no;
    let mut state = ScanState::Normal;
    let mut i = 0;
    loop {
        while i < statement.len() {
            // Jump to the next byte that can change the state.
            let rest = &statement[i..];
            let next = match state {
                ScanState::Normal => memchr::memchr3(b'\'', b'"', b';', rest),
                ScanState::String { backslashes: true } => memchr::memchr2(b'\'', b'\\', rest),
                ScanState::String { backslashes: false } => memchr::memchr(b'\'', rest),
                ScanState::Identifier => memchr::memchr(b'"', rest),
            };
            let Some(offset) = next else {
                i = statement.len();
                break;
            };
            i += offset;
            let b = statement[i];
            match state {
                ScanState::Normal => match b {
                    b'\'' => {
                        let escaped = i > 0
                            && matches!(statement[i - 1], b'E' | b'e')
                            && (i < 2 || !is_ident_byte(statement[i - 2]));
                        state = ScanState::String { backslashes: escaped };
                    }
                    b'"' => state = ScanState::Identifier,
                    b';' => return Ok(i),
                    _ => {}
                },
                ScanState::String { backslashes } => {
                    if backslashes && b == b'\\' {
                        i += 1;
                    } else if b == b'\'' {
                        // Lines end with a newline, so a doubled quote never straddles two
                        // reads.
                        if statement.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            state = ScanState::Normal;
                        }
                    }
                }
                ScanState::Identifier => {
                    if b == b'"' {
                        state = ScanState::Normal;
                    }
                }
            }
            i += 1;
        }
        if !read_more(reader, statement, line_no, tracker)? {
            let what = match state {
                ScanState::String { .. } => {
                    "unterminated string literal in the INSERT statement starting here"
                }
                ScanState::Identifier => {
                    "unterminated quoted identifier in the INSERT statement starting here"
                }
                ScanState::Normal => "the INSERT statement starting here has no terminating ;",
            };
            return Err(MaskError::parse(start_line, what));
        }
    }
}

fn read_more<R: BufRead>(
    reader: &mut R,
    statement: &mut Vec<u8>,
    line_no: &mut u64,
    tracker: &mut Tracker<'_>,
) -> Result<bool, MaskError> {
    let n = reader.read_until(b'\n', statement)?;
    if n == 0 {
        return Ok(false);
    }
    *line_no += 1;
    tracker.bytes += n as u64;
    Ok(true)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// A literal of an INSERT statement.
enum Literal {
    Null,
    /// Raw text of a number or keyword (true, false, DEFAULT).
    Bare,
    /// A string literal between `start` and `end` (quotes excluded), with backslash escapes
    /// when it was written `E'…'`. Decoded only when its column needs the value.
    Quoted {
        start: usize,
        end: usize,
        backslashes: bool,
    },
}

/// The value of a literal: `None` for NULL, the text of a bare literal, or the decoded string.
fn literal_value<'a>(
    body: &'a [u8],
    literal: &Literal,
    a: usize,
    b: usize,
    buffer: &'a mut Vec<u8>,
) -> Result<Option<&'a str>, String> {
    let bytes: &[u8] = match *literal {
        Literal::Null => return Ok(None),
        Literal::Bare => &body[a..b],
        Literal::Quoted { start, end, backslashes } => {
            let raw = &body[start..end];
            if !backslashes && memchr::memchr(b'\'', raw).is_none() {
                raw
            } else {
                decode_string(raw, backslashes, buffer)?;
                buffer.as_slice()
            }
        }
    };
    std::str::from_utf8(bytes).map(Some).map_err(|_| "a value is not valid UTF-8".to_owned())
}

/// Decodes the inside of a string literal: `''` is a quote; with `backslashes`, the escapes of
/// PostgreSQL's `E'…'` strings.
fn decode_string(raw: &[u8], backslashes: bool, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        match b {
            b'\'' => {
                out.push(b'\'');
                i += 1;
            }
            b'\\' if backslashes => {
                let Some(&next) = raw.get(i) else {
                    return Err("unterminated string literal".into());
                };
                i += 1;
                match next {
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'0'..=b'7' => {
                        let mut value = u32::from(next - b'0');
                        let mut taken = 0;
                        while taken < 2 && raw.get(i).is_some_and(|c| (b'0'..=b'7').contains(c)) {
                            value = value * 8 + u32::from(raw[i] - b'0');
                            i += 1;
                            taken += 1;
                        }
                        out.push((value & 0xff) as u8);
                    }
                    b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let mut value = 0u32;
                        let mut taken = 0;
                        while taken < 2 && raw.get(i).is_some_and(u8::is_ascii_hexdigit) {
                            value = value * 16 + (raw[i] as char).to_digit(16).unwrap_or(0);
                            i += 1;
                            taken += 1;
                        }
                        out.push(value as u8);
                    }
                    b'u' | b'U' => {
                        return Err(
                            "unicode escapes (\\u, \\U) in E'' strings are not supported".into()
                        );
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_statement<W: Write>(
    masker: &mut Masker,
    plans: &mut HashMap<Vec<u8>, TablePlan>,
    statement: &[u8],
    end: usize,
    start_line: u64,
    writer: &mut W,
    tracker: &mut Tracker<'_>,
    buffers: &mut Buffers,
) -> Result<(), MaskError> {
    // Line numbers of positions, counted incrementally: rows are visited in order.
    let mut counted = (0usize, start_line);
    let mut line_at = |pos: usize| {
        let pos = pos.min(statement.len());
        if pos < counted.0 {
            counted = (0, start_line);
        }
        counted.1 += memchr::memchr_iter(b'\n', &statement[counted.0..pos]).count() as u64;
        counted.0 = pos;
        counted.1
    };
    let body = &statement[..end];
    let mut p = Parser { s: body, i: "INSERT INTO ".len() };
    let table = p
        .qualified_name()
        .ok_or_else(|| MaskError::parse(start_line, "INSERT: cannot read the table name"))?;
    p.spaces();
    if !p.eat(b"(") {
        return Err(MaskError::parse(
            start_line,
            format!("INSERT INTO {table} has no column list; dump with --column-inserts"),
        ));
    }
    let columns_start = p.i;
    let columns = p.column_list().ok_or_else(|| {
        MaskError::parse(start_line, format!("INSERT INTO {table}: malformed column list"))
    })?;
    let plan_key = [table.as_bytes(), b"\0", &body[columns_start..p.i]].concat();
    if !plans.contains_key(&plan_key) {
        let plan = masker.plan(&table, &columns, start_line)?;
        plans.insert(plan_key.clone(), plan);
    }
    let Some(plan) = plans.get(&plan_key) else { return Ok(()) };
    p.spaces();
    if p.eat_keyword(b"OVERRIDING") {
        p.spaces();
        if !(p.eat_keyword(b"SYSTEM") || p.eat_keyword(b"USER")) {
            return Err(MaskError::parse(
                line_at(p.i),
                "INSERT: expected OVERRIDING SYSTEM|USER VALUE",
            ));
        }
        p.spaces();
        if !p.eat_keyword(b"VALUE") {
            return Err(MaskError::parse(line_at(p.i), "INSERT: expected VALUE after OVERRIDING"));
        }
        p.spaces();
    }
    if !p.eat_keyword(b"VALUES") {
        return Err(MaskError::parse(
            line_at(p.i),
            format!("INSERT INTO {table}: expected VALUES"),
        ));
    }
    // Values: (literal, ...), (...). Replacements are (start, end, Masked, text).
    let mut copied_up_to = 0;
    let mut literals: Vec<(usize, usize, Literal)> = Vec::with_capacity(columns.len());
    loop {
        p.spaces();
        if !p.eat(b"(") {
            return Err(MaskError::parse(
                line_at(p.i),
                format!("INSERT INTO {table}: expected ( before a row of values"),
            ));
        }
        literals.clear();
        loop {
            p.spaces();
            let lit_start = p.i;
            let literal = p.literal().map_err(|m| {
                MaskError::parse(line_at(lit_start), format!("INSERT INTO {table}: {m}"))
            })?;
            let lit_end = p.i;
            p.cast_suffix();
            literals.push((lit_start, lit_end, literal));
            p.spaces();
            if p.eat(b",") {
                continue;
            }
            if p.eat(b")") {
                break;
            }
            return Err(MaskError::parse(
                line_at(p.i),
                format!("INSERT INTO {table}: expected , or ) after a value"),
            ));
        }
        let row_line = line_at(literals.first().map(|l| l.0).unwrap_or(p.i));
        if literals.len() != columns.len() {
            return Err(MaskError::parse(
                row_line,
                format!(
                    "INSERT INTO {table}: {} values for {} columns",
                    literals.len(),
                    columns.len()
                ),
            ));
        }
        tracker.row();
        for index in 0..literals.len() {
            let (a, b, ref literal) = literals[index];
            if !masker.needs_value(plan, index) {
                masker.count_unchanged(plan, index, matches!(literal, Literal::Null));
                continue;
            }
            let value = literal_value(body, literal, a, b, &mut buffers.decoded)
                .map_err(|m| MaskError::parse(row_line, format!("INSERT INTO {table}: {m}")))?;
            let row_key = match plan.columns[index].action {
                Action::Mask { row_key: Some(k), .. } => {
                    let (ka, kb, ref key_literal) = literals[k];
                    literal_value(body, key_literal, ka, kb, &mut buffers.key_decoded).map_err(
                        |m| MaskError::parse(row_line, format!("INSERT INTO {table}: {m}")),
                    )?
                }
                _ => None,
            };
            let outcome = masker.mask(plan, index, value, row_key, row_line, &mut buffers.out)?;
            match outcome {
                Masked::Unchanged => {}
                Masked::Null => {
                    writer.write_all(&body[copied_up_to..a])?;
                    writer.write_all(b"NULL")?;
                    copied_up_to = b;
                }
                Masked::Text => {
                    writer.write_all(&body[copied_up_to..a])?;
                    writer.write_all(b"'")?;
                    let text = buffers.out.as_bytes();
                    let mut from = 0;
                    for q in memchr::memchr_iter(b'\'', text) {
                        writer.write_all(&text[from..=q])?;
                        writer.write_all(b"'")?;
                        from = q + 1;
                    }
                    writer.write_all(&text[from..])?;
                    writer.write_all(b"'")?;
                    copied_up_to = b;
                }
            }
        }
        p.spaces();
        if p.eat(b",") {
            continue;
        }
        break;
    }
    // Anything left before the `;` (e.g. ON CONFLICT DO NOTHING) is copied as it is.
    writer.write_all(&statement[copied_up_to..])?;
    Ok(())
}

/// A small cursor over a statement.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn spaces(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, token: &[u8]) -> bool {
        if self.s[self.i..].starts_with(token) {
            self.i += token.len();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, word: &[u8]) -> bool {
        let end = self.i + word.len();
        if end <= self.s.len()
            && self.s[self.i..end].eq_ignore_ascii_case(word)
            && self.s.get(end).is_none_or(|&b| !is_ident_byte(b))
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    /// An identifier, quoted (`"a""b"`) or bare.
    fn identifier(&mut self) -> Option<String> {
        if self.s.get(self.i) == Some(&b'"') {
            let mut out = Vec::new();
            self.i += 1;
            loop {
                let &b = self.s.get(self.i)?;
                self.i += 1;
                if b == b'"' {
                    if self.s.get(self.i) == Some(&b'"') {
                        out.push(b'"');
                        self.i += 1;
                    } else {
                        return String::from_utf8(out).ok();
                    }
                } else {
                    out.push(b);
                }
            }
        }
        let start = self.i;
        while self.i < self.s.len() && is_ident_byte(self.s[self.i]) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// `schema.table` (each part bare or quoted), joined with a dot.
    fn qualified_name(&mut self) -> Option<String> {
        let mut name = self.identifier()?;
        while self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            name.push('.');
            name.push_str(&self.identifier()?);
        }
        Some(name)
    }

    /// `a, "b", c)` — after the opening parenthesis, through the closing one.
    fn column_list(&mut self) -> Option<Vec<String>> {
        let mut columns = Vec::new();
        loop {
            self.spaces();
            columns.push(self.identifier()?);
            self.spaces();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b")") {
                return Some(columns);
            }
            return None;
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        let rest = &self.s[self.i..];
        let Some(&first) = rest.first() else { return Err("unexpected end of statement".into()) };
        if first == b'\'' {
            self.i += 1;
            return self.skip_string(false);
        }
        if matches!(first, b'E' | b'e') && rest.get(1) == Some(&b'\'') {
            self.i += 2;
            return self.skip_string(true);
        }
        if self.eat_keyword(b"NULL") {
            return Ok(Literal::Null);
        }
        if self.eat_keyword(b"true") || self.eat_keyword(b"false") || self.eat_keyword(b"DEFAULT") {
            return Ok(Literal::Bare);
        }
        let start = self.i;
        if matches!(first, b'-' | b'+') {
            self.i += 1;
        }
        let digits_start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.') {
            self.i += 1;
        }
        if self.i > digits_start {
            if self.i < self.s.len() && matches!(self.s[self.i], b'e' | b'E') {
                self.i += 1;
                if self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+') {
                    self.i += 1;
                }
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
            }
            return Ok(Literal::Bare);
        }
        self.i = start;
        Err("unsupported value syntax (only literals, NULL, true, false and DEFAULT are understood)".into())
    }

    /// Skips the rest of a string literal after its opening quote.
    fn skip_string(&mut self, backslashes: bool) -> Result<Literal, String> {
        let start = self.i;
        loop {
            let found = if backslashes {
                memchr::memchr2(b'\'', b'\\', &self.s[self.i..])
            } else {
                memchr::memchr(b'\'', &self.s[self.i..])
            };
            let Some(offset) = found else { return Err("unterminated string literal".into()) };
            self.i += offset;
            if self.s[self.i] == b'\\' {
                self.i += 2;
                continue;
            }
            if self.s.get(self.i + 1) == Some(&b'\'') {
                self.i += 2;
                continue;
            }
            let end = self.i;
            self.i += 1;
            return Ok(Literal::Quoted { start, end, backslashes });
        }
    }

    /// Skips a `::type` cast after a literal (types may hold spaces, dots, quotes, brackets
    /// and parenthesised modifiers).
    fn cast_suffix(&mut self) {
        if !self.s[self.i..].starts_with(b"::") {
            return;
        }
        self.i += 2;
        let mut depth = 0usize;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'(' => depth += 1,
                b')' if depth == 0 => return,
                b')' => depth -= 1,
                b',' if depth == 0 => return,
                _ => {}
            }
            self.i += 1;
        }
    }
}
