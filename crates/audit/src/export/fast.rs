//! A fast path for entry lines exactly as [`super::ExportLine::entry`]
//! writes them: fixed key order, no whitespace, no escapes, canonical
//! `details`. It returns `None` for anything else, and the general serde
//! parser then decides, so this path never changes what is accepted: on
//! the lines it takes, every value is the raw text between quotes (no
//! escapes) or a plain literal, exactly what serde_json would produce.

use super::{EntryFields, Part};

/// Parses a canonical entry line into its index and fields.
pub(super) fn parse_entry(line: &str) -> Option<(u64, EntryFields<'_>)> {
    let mut c = Cursor { s: line };
    c.lit("{\"type\":\"entry\",\"index\":")?;
    let index = c.number()?;
    c.lit(",\"time\":")?;
    let time = c.string()?;
    c.lit(",\"actor_kind\":")?;
    let actor_kind = c.string()?;
    c.lit(",\"actor_id\":")?;
    let actor_id = c.nullable()?;
    c.lit(",\"credential\":")?;
    let credential = c.nullable()?;
    c.lit(",\"action\":")?;
    let action = c.string()?;
    c.lit(",\"resource_type\":")?;
    let resource_type = c.string()?;
    c.lit(",\"resource_id\":")?;
    let resource_id = c.nullable()?;
    c.lit(",\"outcome\":")?;
    let outcome = c.string()?;
    c.lit(",\"reason\":")?;
    let reason = c.nullable()?;
    c.lit(",\"request_id\":")?;
    let request_id = c.nullable()?;
    c.lit(",\"privileged\":")?;
    let privileged = if c.lit("true").is_some() {
        true
    } else {
        c.lit("false")?;
        false
    };
    c.lit(",\"personal\":{\"actor_label\":")?;
    let actor_label = c.personal(false)?;
    c.lit(",\"source_ip\":")?;
    let source_ip = c.personal(false)?;
    c.lit(",\"user_agent\":")?;
    let user_agent = c.personal(false)?;
    c.lit(",\"details\":")?;
    let details = c.personal(true)?;
    c.lit("},\"leaf\":")?;
    let leaf = c.string()?;
    c.lit("}")?;
    if !c.s.is_empty() {
        return None;
    }
    let fields = EntryFields {
        time,
        actor_kind,
        actor_id,
        credential,
        action,
        resource_type,
        resource_id,
        outcome,
        reason,
        request_id,
        privileged,
        personal: [actor_label, source_ip, user_agent, details],
        leaf,
    };
    Some((index, fields))
}

struct Cursor<'a> {
    s: &'a str,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, lit: &str) -> Option<()> {
        self.s = self.s.strip_prefix(lit)?;
        Some(())
    }

    /// A JSON string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.s.strip_prefix('"')?;
        let end = find_special(rest.as_bytes())?;
        if rest.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        let value = rest.get(..end)?;
        self.s = rest.get(end + 1..)?;
        Some(value)
    }

    fn nullable(&mut self) -> Option<Option<&'a str>> {
        if self.lit("null").is_some() { Some(None) } else { self.string().map(Some) }
    }

    /// A decimal u64 as JSON writes it: no sign, no leading zeros.
    fn number(&mut self) -> Option<u64> {
        let len = self.s.bytes().take_while(u8::is_ascii_digit).count();
        let digits = self.s.get(..len)?;
        if digits.is_empty() || (len > 1 && digits.starts_with('0')) {
            return None;
        }
        let n = digits.parse().ok()?;
        self.s = self.s.get(len..)?;
        Some(n)
    }

    fn personal(&mut self, details: bool) -> Option<Part<'a>> {
        if self.lit("null").is_some() {
            return Some(Part::Absent);
        }
        if self.lit("{\"erased\":true,\"commitment\":").is_some() {
            let commitment = self.string()?;
            self.lit("}")?;
            return Some(Part::Erased { commitment });
        }
        self.lit("{\"value\":")?;
        let value = if details { self.canonical_object()? } else { self.string()? };
        self.lit(",\"salt\":")?;
        let salt = self.string()?;
        self.lit("}")?;
        Some(Part::Present { value, salt })
    }

    /// A JSON object that is already in canonical form, borrowed as is.
    fn canonical_object(&mut self) -> Option<&'a str> {
        if !self.s.starts_with('{') {
            return None;
        }
        let end = canonical_value(self.s.as_bytes(), 0, 0)?;
        let text = self.s.get(..end)?;
        self.s = self.s.get(end..)?;
        Some(text)
    }
}

/// Deepest nesting the fast path checks; deeper values take the general
/// path, which applies the canonical form's own limit.
const MAX_DEPTH: usize = 100;

/// End of the JSON value starting at `at` if it is written exactly as the
/// canonical form of section 3 of the format doc would write it, with no
/// escapes at all: then canonicalising it would return the same text.
fn canonical_value(s: &[u8], at: usize, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *s.get(at)? {
        b'{' => {
            let mut at = at + 1;
            if s.get(at) == Some(&b'}') {
                return Some(at + 1);
            }
            let mut previous: Option<&[u8]> = None;
            loop {
                let key_end = plain_string(s, at)?;
                let key = s.get(at + 1..key_end - 1)?;
                // Strictly increasing raw keys: sorted and without duplicates.
                if previous.is_some_and(|p| p >= key) {
                    return None;
                }
                previous = Some(key);
                if s.get(key_end) != Some(&b':') {
                    return None;
                }
                at = canonical_value(s, key_end + 1, depth + 1)?;
                match s.get(at)? {
                    b',' => at += 1,
                    b'}' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            let mut at = at + 1;
            if s.get(at) == Some(&b']') {
                return Some(at + 1);
            }
            loop {
                at = canonical_value(s, at, depth + 1)?;
                match s.get(at)? {
                    b',' => at += 1,
                    b']' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b'"' => plain_string(s, at),
        b't' => s.get(at..at + 4).filter(|w| *w == b"true").map(|_| at + 4),
        b'f' => s.get(at..at + 5).filter(|w| *w == b"false").map(|_| at + 5),
        b'n' => s.get(at..at + 4).filter(|w| *w == b"null").map(|_| at + 4),
        _ => canonical_integer(s, at),
    }
}

/// End of a string at `at` that has no escapes or control characters.
fn plain_string(s: &[u8], at: usize) -> Option<usize> {
    if s.get(at) != Some(&b'"') {
        return None;
    }
    let body = s.get(at + 1..)?;
    let end = find_special(body)?;
    (body.get(end) == Some(&b'"')).then_some(at + 1 + end + 1)
}

/// End of an integer written as its canonical decimal within i64/u64:
/// optional '-', no leading zeros, no "-0", no fraction or exponent.
fn canonical_integer(s: &[u8], at: usize) -> Option<usize> {
    let negative = s.get(at) == Some(&b'-');
    let start = at + usize::from(negative);
    let len = s.get(start..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = std::str::from_utf8(s.get(start..start + len)?).ok()?;
    if len == 0 || (len > 1 && digits.starts_with('0')) || (negative && digits == "0") {
        return None;
    }
    if matches!(s.get(start + len), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let in_range = if negative {
        format!("-{digits}").parse::<i64>().is_ok()
    } else {
        digits.parse::<u64>().is_ok()
    };
    in_range.then_some(start + len)
}

/// Index of the first `"`, `\` or control byte, eight bytes at a time.
fn find_special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES << 7;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let w = u64::from_le_bytes(bytes);
        // Per byte: below 0x20, equal to '"', equal to '\'. Only the
        // lowest flagged byte is exact, which is the one used.
        let ctrl = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let b = w ^ (ONES * u64::from(b'\\'));
        let backslash = b.wrapping_sub(ONES) & !b;
        let found = (ctrl | quote | backslash) & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\').map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_special_matches_naive_search() {
        let special = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
        let fill = [b'a', 0x7f, 0x80, 0xff, 0x21, 0x5b, 0x5d, 0x23];
        for len in 0..24 {
            for at in 0..=len {
                for &sp in &[b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut d: Vec<u8> = (0..len).map(|i| fill[i % fill.len()]).collect();
                    if at < len {
                        d[at] = sp;
                    }
                    assert_eq!(find_special(&d), d.iter().position(|&c| special(c)), "{d:?}");
                }
            }
        }
    }

    #[test]
    fn canonical_values_match_canonical_json() {
        let cases = [
            r#"{}"#,
            r#"{"a":1}"#,
            r#"{"a":1,"b":[true,false,null,{"c":"x"}],"é":-5}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":007}"#,
            r#"{"a":18446744073709551615}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":-9223372036854775808}"#,
            r#"{"a":-9223372036854775809}"#,
            r#"{"a":"q\"x"}"#,
            r#"{"a": 1}"#,
            r#"{"a":[]}"#,
            r#"{"a":[1,]}"#,
            r#"{"A":1,"a":2,"b":{}}"#,
        ];
        for text in cases {
            let fast = canonical_value(text.as_bytes(), 0, 0) == Some(text.len());
            let general = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| crate::entry::canonical_json(&v).ok())
                .is_some_and(|c| c == text);
            // The fast check may decline canonical text, never accept other text.
            assert!(!fast || general, "{text}: fast accepted non-canonical text");
            if !text.contains('\\') {
                assert_eq!(fast, general, "{text}");
            }
        }
    }
}
