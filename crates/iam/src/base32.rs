//! RFC 4648 base32 (the standard alphabet), as authenticator apps expect TOTP secrets.

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encodes without `=` padding: the Key URI format omits it.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol((buffer >> bits) & 0x1F));
        }
        // Only the low `bits` bits are still pending; dropping the rest keeps the shift in range.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(symbol((buffer << (5 - bits)) & 0x1F));
    }
    out
}

fn symbol(index: u16) -> char {
    char::from(ALPHABET[usize::from(index & 0x1F)])
}

/// Decodes case-insensitively, ignoring spaces, dashes and trailing `=` padding, since people
/// copy secrets by hand in groups. `None` on any other character or on leftover bits that are
/// not zero (a truncated or mistyped secret).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches(|c: char| c == '=' || c.is_whitespace());
    let mut out = Vec::with_capacity(trimmed.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for c in trimmed.chars() {
        if c == ' ' || c == '-' {
            continue;
        }
        let value = value_of(c)?;
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xFF).ok()?);
        }
        buffer &= (1 << bits) - 1;
    }
    // A valid encoding leaves fewer than 5 bits, all zero.
    if bits >= 5 || buffer != 0 {
        return None;
    }
    Some(out)
}

fn value_of(c: char) -> Option<u8> {
    let upper = c.to_ascii_uppercase();
    let byte = u8::try_from(upper).ok()?;
    ALPHABET.iter().position(|&a| a == byte).and_then(|p| u8::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    // RFC 4648 section 10, padding stripped.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn decode_is_lenient_about_case_padding_and_grouping() {
        assert_eq!(decode("mzxw6ytboi======").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(decode("MZXW 6YTB-OI").as_deref(), Some(&b"foobar"[..]));
    }

    #[test]
    fn decode_refuses_foreign_symbols_and_dirty_tails() {
        assert_eq!(decode("MZXW1"), None);
        assert_eq!(decode("MZ!"), None);
        // "MZ" is "f"; "M3" leaves non-zero bits behind.
        assert_eq!(decode("M3"), None);
        // A single symbol cannot hold a byte.
        assert_eq!(decode("M"), None);
    }
}
