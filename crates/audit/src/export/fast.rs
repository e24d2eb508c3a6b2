//! A fast path for entry lines exactly as [`super::ExportLine::entry`]
//! writes them: fixed key order, no whitespace, no escapes, canonical
//! `details`. It returns `None` for anything else, and the general serde
//! parser then decides, so this path never changes what is accepted: on
//! the lines it takes, every value is the raw text between quotes (no
//! escapes) or a plain literal, exactly what serde_json would produce.

use super::{EntryFields, Part};
use crate::export::lines::CanonicalDetails;

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
        let end = object_end(self.s)?;
        let text = self.s.get(..end)?;
        let CanonicalDetails(Ok(canonical)) = serde_json::from_str(text).ok()? else {
            return None;
        };
        if canonical != text {
            return None;
        }
        self.s = self.s.get(end..)?;
        Some(text)
    }
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

/// Length of the JSON object at the start of `s` (which must start with
/// `{`), found by tracking nesting outside strings; validity is left to
/// the parser that reads it next.
fn object_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
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
    fn object_end_skips_strings() {
        assert_eq!(object_end(r#"{"a":"}\"{","b":[1,{"c":2}]},"x""#), Some(28));
        assert_eq!(object_end("{"), None);
        assert_eq!(object_end("[]"), None);
    }
}
