//! Text encodings of digests: lowercase hexadecimal, RFC 4648 base32 (lowercase, no padding)
//! and RFC 4648 base64url (no padding).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How a digest is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Lowercase hexadecimal: 4 bits per character.
    Hex,
    /// RFC 4648 base32 alphabet in lowercase, no padding: 5 bits per character.
    Base32,
    /// RFC 4648 base64url, no padding: 6 bits per character.
    Base64Url,
}

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl Encoding {
    /// Bits of the digest carried by one output character.
    pub fn bits_per_char(self) -> usize {
        match self {
            Encoding::Hex => 4,
            Encoding::Base32 => 5,
            Encoding::Base64Url => 6,
        }
    }

    /// The number of characters that encode all of `bytes` bytes.
    pub fn full_length(self, bytes: usize) -> usize {
        (bytes * 8).div_ceil(self.bits_per_char())
    }

    /// Appends the encoding of `bytes` to `out`.
    pub fn encode_into(self, bytes: &[u8], out: &mut String) {
        match self {
            Encoding::Hex => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for &b in bytes {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
            }
            Encoding::Base32 => {
                let mut buffer: u32 = 0;
                let mut bits = 0u32;
                for &b in bytes {
                    buffer = (buffer << 8) | u32::from(b);
                    bits += 8;
                    while bits >= 5 {
                        bits -= 5;
                        out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 31) as usize]));
                    }
                }
                if bits > 0 {
                    out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
                }
            }
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode_string(bytes, out),
        }
    }

    /// The encoding of `bytes`.
    pub fn encode(self, bytes: &[u8]) -> String {
        let mut out = String::with_capacity(self.full_length(bytes.len()));
        self.encode_into(bytes, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_base32_test_vectors() {
        // RFC 4648 section 10, lowercased and without padding.
        let cases = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (input, expected) in cases {
            assert_eq!(Encoding::Base32.encode(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn hex_and_base64url() {
        assert_eq!(Encoding::Hex.encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(Encoding::Base64Url.encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(Encoding::Hex.full_length(32), 64);
        assert_eq!(Encoding::Base32.full_length(32), 52);
        assert_eq!(Encoding::Base64Url.full_length(32), 43);
    }
}
