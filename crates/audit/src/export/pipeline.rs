//! The entry-line stage of verification: lines are read in batches on the
//! caller's thread, checked on worker threads (parsing, leaf rebuilding and
//! leaf hashing are independent per line), and their leaf hashes are folded
//! into the compact range strictly in file order, so errors are reported
//! exactly as a sequential pass would report them. At most
//! `IN_FLIGHT_PER_WORKER` batches per worker exist at once, which bounds
//! memory regardless of the export's size.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use uuid::Uuid;

use super::lines::RawLine;
use super::{EntryState, TrailerInfo, VerifyError, fast, parse_line, raw_entry_fields};
use crate::merkle::{CompactRange, Hash};
use crate::note::Checkpoint;

/// Bytes per batch (about 250 lines of a typical export).
const BATCH_BYTES: usize = 256 * 1024;
/// Bytes copied from the reader per step.
const CHUNK: usize = 64 * 1024;
/// Longest accepted line; bounds memory against a file with no newlines.
pub(super) const MAX_LINE: usize = 64 * 1024 * 1024;
const IN_FLIGHT_PER_WORKER: u64 = 3;

/// What every line check needs to know about the export.
pub(super) struct Ctx {
    pub(super) organization_id: Uuid,
    pub(super) to: u64,
}

/// Whole consecutive lines copied out of the reader; splitting them is
/// left to the workers so the reading thread only copies and counts.
struct Batch {
    seq: u64,
    first_line: u64,
    first_index: u64,
    /// Complete lines, each ending in `\n`.
    data: Vec<u8>,
    lines: u64,
    /// A read error, overlong or truncated line just after the last line.
    tail: Option<VerifyError>,
    eof: bool,
}

/// The checked form of a batch, folded in by [`Sink::accept`].
struct Outcome {
    seq: u64,
    first_line: u64,
    lines: u64,
    had_tail: bool,
    hashes: Vec<Hash>,
    erased: u64,
    trailer: Option<TrailerInfo>,
    error: Option<VerifyError>,
    /// The batch's buffer, handed back for reuse.
    spare: Vec<u8>,
}

/// Reads about [`BATCH_BYTES`] of whole lines into `buf` (a recycled
/// buffer). `carry` holds the start of a line left over from the previous
/// batch and receives the new leftover.
fn read_batch<R: BufRead>(
    reader: &mut R,
    carry: &mut Vec<u8>,
    buf: Vec<u8>,
    seq: u64,
    first_line: u64,
    first_index: u64,
) -> Batch {
    let mut data = buf;
    data.clear();
    data.reserve(BATCH_BYTES + CHUNK);
    data.extend_from_slice(carry);
    carry.clear();
    // The carry never holds a newline, so the batch has none yet.
    let mut last_newline: Option<usize> = None;
    let mut eof = false;
    let mut failure = None;
    while data.len() < BATCH_BYTES || last_newline.is_none() {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                failure = Some(source);
                eof = true;
                break;
            }
        };
        if buf.is_empty() {
            eof = true;
            break;
        }
        let take = buf.len().min(CHUNK);
        let start = data.len();
        data.extend_from_slice(buf.get(..take).unwrap_or_default());
        reader.consume(take);
        if let Some(p) = data.get(start..).and_then(|new| new.iter().rposition(|&b| b == b'\n')) {
            last_newline = Some(start + p);
        }
        if data.len() - last_newline.map_or(0, |p| p + 1) > MAX_LINE {
            eof = true;
            break;
        }
    }
    let split = last_newline.map_or(0, |p| p + 1);
    carry.extend_from_slice(data.get(split..).unwrap_or_default());
    data.truncate(split);
    let lines = count_newlines(&data);
    let line = first_line + lines;
    let tail = match failure {
        Some(source) => Some(VerifyError::Io { line, source }),
        None if carry.len() > MAX_LINE => Some(VerifyError::LineTooLong { line, max: MAX_LINE }),
        None if eof && !carry.is_empty() => Some(VerifyError::Truncated { line }),
        None => None,
    };
    Batch { seq, first_line, first_index, data, lines, tail, eof }
}

/// Counts `\n` bytes. Byte-wide counters over 255-byte chunks cannot
/// overflow and let the compiler compare 16 or 32 bytes per instruction.
fn count_newlines(data: &[u8]) -> u64 {
    data.chunks(255)
        .map(|c| u64::from(c.iter().fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n')))))
        .sum()
}

/// Position of the first `\n`, eight bytes at a time (the classic
/// "has zero byte" test on the bytes XORed with `\n`; only the lowest
/// flagged byte is exact, which is the one used).
fn find_newline(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES << 7;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let x = u64::from_le_bytes(bytes) ^ (ONES * u64::from(b'\n'));
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == b'\n').map(|p| offset + p)
}

enum LineKind {
    Entry(Hash, u64),
    Trailer(TrailerInfo),
}

fn check_line(
    ctx: &Ctx,
    state: &mut EntryState,
    text: &str,
    line: u64,
    expected: u64,
) -> Result<LineKind, VerifyError> {
    if let Some((index, fields)) = fast::parse_entry(text) {
        check_order(ctx, line, expected, index)?;
        let (hash, erased) = state.check(&fields, index)?;
        return Ok(LineKind::Entry(hash, erased));
    }
    let raw: RawLine<'_> = parse_line(text, line)?;
    match raw.kind.as_str() {
        "entry" => {
            let index = raw.index.ok_or_else(|| VerifyError::Field {
                line,
                field: "index",
                reason: "missing".to_owned(),
            })?;
            check_order(ctx, line, expected, index)?;
            let fields = raw_entry_fields(&raw, index)?;
            let (hash, erased) = state.check(&fields, index)?;
            Ok(LineKind::Entry(hash, erased))
        }
        "trailer" => {
            if expected != ctx.to {
                return Err(VerifyError::MissingEntries { line, next: expected, to: ctx.to });
            }
            Ok(LineKind::Trailer(TrailerInfo::from_raw(raw, line)?))
        }
        "header" => Err(VerifyError::UnexpectedHeader { line }),
        other => Err(VerifyError::UnknownLineType { line, found: other.to_owned() }),
    }
}

/// Entries must hold exactly the next index, and no more than announced.
fn check_order(ctx: &Ctx, line: u64, expected: u64, index: u64) -> Result<(), VerifyError> {
    if expected == ctx.to && index >= expected {
        return Err(VerifyError::ExtraEntry { line, index, to: ctx.to });
    }
    if index != expected {
        return Err(VerifyError::IndexMismatch { line, expected, found: index });
    }
    Ok(())
}

/// Checks a batch's lines in order, stopping at the first error. Every
/// line before a non-entry line is an entry (anything else stops the
/// pass), so line `i` must hold index `first_index + i`.
fn process_batch(ctx: &Ctx, state: &mut EntryState, mut batch: Batch) -> Outcome {
    let mut out = Outcome {
        seq: batch.seq,
        first_line: batch.first_line,
        lines: batch.lines,
        had_tail: batch.tail.is_some(),
        hashes: Vec::with_capacity(batch.lines as usize),
        erased: 0,
        trailer: None,
        error: None,
        spare: Vec::new(),
    };
    check_lines(ctx, state, &batch, &mut out);
    if out.error.is_none()
        && let Some(tail) = batch.tail.take()
    {
        let line = batch.first_line + out.lines;
        out.error =
            Some(if out.trailer.is_some() { VerifyError::TrailingData { line } } else { tail });
    }
    out.spare = batch.data;
    out
}

fn check_lines(ctx: &Ctx, state: &mut EntryState, batch: &Batch, out: &mut Outcome) {
    let mut rest = batch.data.as_slice();
    for i in 0..batch.lines {
        let line = batch.first_line + i;
        if out.trailer.is_some() {
            out.error = Some(VerifyError::TrailingData { line });
            return;
        }
        let end = find_newline(rest).unwrap_or(rest.len());
        let (body, next) = rest.split_at(end);
        rest = next.get(1..).unwrap_or_default();
        let Ok(text) = std::str::from_utf8(body) else {
            out.error = Some(VerifyError::Utf8 { line });
            return;
        };
        // Saturating: a header may announce indices up to u64::MAX.
        match check_line(ctx, state, text, line, batch.first_index.saturating_add(i)) {
            Ok(LineKind::Entry(hash, erased)) => {
                out.hashes.push(hash);
                out.erased += erased;
            }
            Ok(LineKind::Trailer(t)) => out.trailer = Some(t),
            Err(e) => {
                out.error = Some(e);
                return;
            }
        }
    }
}

/// Folds checked batches into the tree state, in file order.
pub(super) struct Sink<'p> {
    pub(super) range: CompactRange,
    pub(super) previous: Option<&'p Checkpoint>,
    pub(super) previous_checked: bool,
    pub(super) erased: u64,
    pub(super) trailer: Option<TrailerInfo>,
    /// Number of the last line seen.
    pub(super) last_line: u64,
}

impl Sink<'_> {
    /// Checks the previous checkpoint when the range has reached its size.
    pub(super) fn check_previous(&mut self) -> Result<(), VerifyError> {
        if let Some(prev) = self.previous
            && prev.size == self.range.end()
        {
            let computed = self.range.root().map_err(VerifyError::Left)?;
            if computed != prev.root {
                return Err(VerifyError::PreviousRootMismatch {
                    size: prev.size,
                    computed: B64.encode(computed),
                    expected: B64.encode(prev.root),
                });
            }
            self.previous_checked = true;
        }
        Ok(())
    }

    fn accept(&mut self, o: Outcome) -> Result<(), VerifyError> {
        if self.trailer.is_some() && (o.lines > 0 || o.had_tail) {
            return Err(VerifyError::TrailingData { line: o.first_line });
        }
        self.last_line = self.last_line.max(o.first_line + o.lines - 1);
        for hash in o.hashes {
            let index = self.range.end();
            self.range.append(hash, &mut |_, _| {}).map_err(|e| VerifyError::Entry {
                index,
                field: "index",
                reason: e.to_string(),
            })?;
            self.check_previous()?;
        }
        self.erased += o.erased;
        if let Some(e) = o.error {
            return Err(e);
        }
        if o.trailer.is_some() {
            self.trailer = o.trailer;
        }
        Ok(())
    }
}

/// Verifies every line after the header, with `workers` threads (inline
/// when 1, or when the rest of the export fits in one batch).
pub(super) fn run<R: BufRead>(
    reader: &mut R,
    ctx: &Ctx,
    sink: &mut Sink<'_>,
    from: u64,
    workers: usize,
) -> Result<(), VerifyError> {
    let mut carry = Vec::new();
    let first = read_batch(reader, &mut carry, Vec::new(), 0, 2, from);
    if workers <= 1 || first.eof {
        let mut state = EntryState::new(ctx.organization_id);
        let mut batch = first;
        loop {
            let (eof, seq) = (batch.eof, batch.seq);
            let (line, index) = next_position(&batch);
            let mut outcome = process_batch(ctx, &mut state, batch);
            let spare = std::mem::take(&mut outcome.spare);
            sink.accept(outcome)?;
            if eof {
                return Ok(());
            }
            batch = read_batch(reader, &mut carry, spare, seq + 1, line, index);
        }
    }
    std::thread::scope(|scope| {
        let (out_tx, out_rx) = mpsc::channel::<Outcome>();
        let mut jobs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::channel::<Batch>();
            let out_tx = out_tx.clone();
            scope.spawn(move || {
                let mut state = EntryState::new(ctx.organization_id);
                for batch in rx {
                    // The receiver is gone once verification stopped early.
                    if out_tx.send(process_batch(ctx, &mut state, batch)).is_err() {
                        break;
                    }
                }
            });
            jobs.push(tx);
        }
        drop(out_tx);
        let limit = IN_FLIGHT_PER_WORKER * workers as u64;
        let mut pending: BTreeMap<u64, Outcome> = BTreeMap::new();
        let (mut sent, mut done) = (0u64, 0u64);
        let mut next = Some(first);
        let mut spares: Vec<Vec<u8>> = Vec::new();
        loop {
            while sent - done < limit
                && let Some(batch) = next.take()
            {
                if !batch.eof {
                    let (line, index) = next_position(&batch);
                    let buf = spares.pop().unwrap_or_default();
                    next = Some(read_batch(reader, &mut carry, buf, batch.seq + 1, line, index));
                }
                let worker = jobs.get((batch.seq % workers as u64) as usize);
                if worker.is_none_or(|w| w.send(batch).is_err()) {
                    return Err(VerifyError::WorkerFailed);
                }
                sent += 1;
            }
            if done == sent {
                return Ok(());
            }
            let mut outcome = out_rx.recv().map_err(|_| VerifyError::WorkerFailed)?;
            spares.push(std::mem::take(&mut outcome.spare));
            pending.insert(outcome.seq, outcome);
            while let Some(o) = pending.remove(&done) {
                done += 1;
                sink.accept(o)?;
            }
        }
    })
}

/// Line number and expected entry index just after `batch`.
fn next_position(batch: &Batch) -> (u64, u64) {
    (batch.first_line + batch.lines, batch.first_index.saturating_add(batch.lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_newline_matches_naive_search() {
        let mut data = vec![b'a'; 40];
        for at in 0..40 {
            for extra in [None, Some(at + 3), Some(at + 9)] {
                let mut d = data.clone();
                d[at] = b'\n';
                if let Some(e) = extra.filter(|&e| e < d.len()) {
                    d[e] = b'\n';
                }
                for start in 0..d.len() {
                    let s = &d[start..];
                    assert_eq!(find_newline(s), s.iter().position(|&b| b == b'\n'));
                }
            }
        }
        data.clear();
        assert_eq!(find_newline(&data), None);
        let many: Vec<u8> = (0..2000).map(|i| if i % 3 == 0 { b'\n' } else { b'x' }).collect();
        assert_eq!(count_newlines(&many), 667);
        assert_eq!(count_newlines(&[b'\n'; 1000]), 1000);
        // Bytes that differ from '\n' by one bit, or wrap in the subtraction.
        let tricky = [0x0b, 0x08, 0x8a, 0x0a ^ 0x80, 0x00, 0xff, 0x09, 0x0a];
        assert_eq!(find_newline(&tricky), Some(7));
    }
}
