//! Root keys, key versions and the derivation of one sub-key per purpose and domain.
//!
//! Every keyed operation of the crate (pseudonyms, FF1, tokens, fake data, date shifts) uses a
//! key derived from one [`RootKey`] with HKDF-SHA-256 (RFC 5869). The HKDF `info` names the
//! purpose and the domain, so two domains (or two purposes) never share a key: a pseudonym made
//! in the `customers` domain cannot be joined with one made in the `employees` domain.

use std::fmt;

use hkdf::Hkdf;
use hmac::Hmac;
use hmac::digest::KeyInit;
use hmac::digest::generic_array::GenericArray;
use sha2::Sha256;
use zeroize::Zeroize;

/// Length in bytes of a root key.
pub const ROOT_KEY_LEN: usize = 32;

/// A key version: the output of a versioned operation can carry it so that the service knows
/// which key to use after a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(pub u32);

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// What a derived key is used for. Part of the HKDF `info`, so that a key derived for one
/// purpose is never the key of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// HMAC-SHA-256 pseudonyms.
    Pseudonym,
    /// FF1 format-preserving encryption.
    Ff1,
    /// AES-SIV reversible tokens.
    Token,
    /// Selection of fake values.
    Fake,
    /// Deterministic date shifts.
    DateShift,
}

impl KeyPurpose {
    fn label(self) -> &'static str {
        match self {
            KeyPurpose::Pseudonym => "pseudonym",
            KeyPurpose::Ff1 => "ff1",
            KeyPurpose::Token => "token",
            KeyPurpose::Fake => "fake",
            KeyPurpose::DateShift => "date-shift",
        }
    }
}

/// Errors about key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key material does not have the expected length.
    #[error("a root key is {ROOT_KEY_LEN} bytes (or {} hexadecimal characters), got {got} bytes", ROOT_KEY_LEN * 2)]
    WrongLength {
        /// The length received, in bytes.
        got: usize,
    },
    /// A hexadecimal key file holds a character that is not a hexadecimal digit.
    #[error("the key file is not valid hexadecimal at byte {offset}")]
    BadHex {
        /// Offset of the first offending byte.
        offset: usize,
    },
    /// Every byte of the key is the same: a placeholder, not a key.
    #[error("the key is degenerate (all {ROOT_KEY_LEN} bytes are equal)")]
    Degenerate,
}

/// A 256-bit root key. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct RootKey {
    bytes: [u8; ROOT_KEY_LEN],
}

impl Drop for RootKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

impl RootKey {
    /// A root key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; ROOT_KEY_LEN] =
            bytes.try_into().map_err(|_| KeyError::WrongLength { got: bytes.len() })?;
        if array.iter().all(|&b| b == array[0]) {
            return Err(KeyError::Degenerate);
        }
        Ok(Self { bytes: array })
    }

    /// A root key read from the content of a key file: either exactly 32 raw bytes, or 64
    /// hexadecimal characters optionally followed by one line ending (`\n` or `\r\n`).
    pub fn from_file_bytes(content: &[u8]) -> Result<Self, KeyError> {
        let trimmed = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        if trimmed.len() == ROOT_KEY_LEN * 2 {
            if let Some(offset) = trimmed.iter().position(|b| !b.is_ascii_hexdigit()) {
                return Err(KeyError::BadHex { offset });
            }
            let mut bytes = [0u8; ROOT_KEY_LEN];
            hex::decode_to_slice(trimmed, &mut bytes)
                .map_err(|_| KeyError::BadHex { offset: 0 })?;
            let key = Self::from_bytes(&bytes);
            bytes.zeroize();
            return key;
        }
        if content.len() == ROOT_KEY_LEN {
            return Self::from_bytes(content);
        }
        Err(KeyError::WrongLength { got: trimmed.len() })
    }

    /// Derives `N` bytes of key material for `purpose` in `domain` (HKDF-SHA-256, no salt,
    /// `info = "rampart-privacy/1/" || purpose || 0x00 || domain`).
    pub fn derive<const N: usize>(&self, purpose: KeyPurpose, domain: &str) -> DerivedKey<N> {
        let hkdf = Hkdf::<Sha256>::new(None, &self.bytes);
        let mut out = [0u8; N];
        let info: [&[u8]; 4] =
            [b"rampart-privacy/1/", purpose.label().as_bytes(), &[0], domain.as_bytes()];
        // N is at most 255 * 32 bytes for every caller of this crate; a longer request is a
        // programming error that leaves the output zeroed, which the tests would catch.
        let _ = hkdf.expand_multi_info(&info, &mut out);
        DerivedKey { bytes: out }
    }
}

/// Key material derived from a [`RootKey`]. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct DerivedKey<const N: usize> {
    bytes: [u8; N],
}

impl<const N: usize> Drop for DerivedKey<N> {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl<const N: usize> DerivedKey<N> {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.bytes
    }
}

impl DerivedKey<64> {
    /// An HMAC-SHA-256 state keyed with these 64 bytes (one SHA-256 block, so the key is used
    /// as is, without hashing).
    pub fn hmac_sha256(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&self.bytes))
    }
}

impl<const N: usize> fmt::Debug for DerivedKey<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivedKey<{N}>(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RootKey {
        RootKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn file_bytes_accept_raw_and_hex() {
        let raw: Vec<u8> = (0u8..32).collect();
        let hex_text = format!("{}\n", hex::encode(&raw));
        let a = RootKey::from_file_bytes(&raw).unwrap();
        let b = RootKey::from_file_bytes(hex_text.as_bytes()).unwrap();
        assert_eq!(a.bytes, b.bytes);
    }

    #[test]
    fn file_bytes_reject_short_long_and_bad_hex() {
        assert_eq!(
            RootKey::from_file_bytes(&[1; 31]).err(),
            Some(KeyError::WrongLength { got: 31 })
        );
        assert_eq!(
            RootKey::from_file_bytes(&[1; 33]).err(),
            Some(KeyError::WrongLength { got: 33 })
        );
        let mut bad = hex::encode([7u8; 32]).into_bytes();
        bad[10] = b'g';
        assert_eq!(RootKey::from_file_bytes(&bad).err(), Some(KeyError::BadHex { offset: 10 }));
        assert_eq!(RootKey::from_file_bytes(&[9; 32]).err(), Some(KeyError::Degenerate));
    }

    #[test]
    fn derivation_separates_purposes_and_domains() {
        let k = key();
        let a: DerivedKey<32> = k.derive(KeyPurpose::Pseudonym, "customers");
        let b: DerivedKey<32> = k.derive(KeyPurpose::Pseudonym, "employees");
        let c: DerivedKey<32> = k.derive(KeyPurpose::Ff1, "customers");
        let again: DerivedKey<32> = k.derive(KeyPurpose::Pseudonym, "customers");
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
        assert_eq!(a.as_bytes(), again.as_bytes());
        assert_ne!(a.as_bytes(), &[0u8; 32]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_key_files_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if RootKey::from_file_bytes(&bytes).is_ok() {
                // Only 32 raw bytes, or 64 hex digits and a line ending, are keys.
                proptest::prop_assert!(bytes.len() == 32 || (64..=66).contains(&bytes.len()));
            }
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", key()), "RootKey(<redacted>)");
    }
}
