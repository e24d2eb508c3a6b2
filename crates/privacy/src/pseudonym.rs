//! Keyed deterministic pseudonyms: HMAC-SHA-256 under a key per pseudonymisation domain,
//! truncated and encoded as configured.
//!
//! The same value in the same domain under the same key always gives the same pseudonym, so
//! pseudonymised tables still join. Two domains use two keys derived from the root key
//! ([`crate::key::RootKey::derive`]), so pseudonyms of two domains cannot be joined. A
//! pseudonym is one-way: there is no function to get the value back (use [`crate::token`] for
//! that).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::encoding::Encoding;
use crate::key::{KeyPurpose, KeyVersion, RootKey};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted pseudonym, in characters. Shorter outputs collide too easily to keep joins
/// correct (8 hexadecimal characters are 32 bits: a collision is likely after ~65,000 values).
pub const MIN_LENGTH: usize = 8;

/// How a pseudonym is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymFormat {
    /// The text encoding of the digest.
    pub encoding: Encoding,
    /// Number of characters kept (the digest is truncated). `None` keeps the whole digest.
    pub length: Option<usize>,
    /// Whether the output starts with the key version, as `v3:`.
    pub with_version: bool,
}

impl Default for PseudonymFormat {
    fn default() -> Self {
        Self { encoding: Encoding::Hex, length: Some(32), with_version: false }
    }
}

/// Errors of pseudonym configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PseudonymError {
    /// The requested length is outside what the encoding of a 256-bit digest allows.
    #[error("pseudonym length {length} is out of range {MIN_LENGTH}..={max} for {encoding:?}")]
    LengthOutOfRange {
        /// The requested length.
        length: usize,
        /// The longest possible output for the encoding.
        max: usize,
        /// The encoding.
        encoding: Encoding,
    },
    /// An empty domain name.
    #[error("a pseudonymisation domain needs a non-empty name")]
    EmptyDomain,
}

/// Makes pseudonyms for one domain with one key version.
#[derive(Clone)]
pub struct Pseudonymizer {
    /// HMAC state already keyed: cloning it saves hashing the key for every value.
    keyed: HmacSha256,
    format: PseudonymFormat,
    version: KeyVersion,
    length: usize,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("format", &self.format)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Pseudonymizer {
    /// A pseudonymizer for `domain`, keyed by the HKDF derivation of `root` for this domain.
    pub fn new(
        root: &RootKey,
        version: KeyVersion,
        domain: &str,
        format: PseudonymFormat,
    ) -> Result<Self, PseudonymError> {
        if domain.is_empty() {
            return Err(PseudonymError::EmptyDomain);
        }
        let max = format.encoding.full_length(32);
        let length = format.length.unwrap_or(max);
        if !(MIN_LENGTH..=max).contains(&length) {
            return Err(PseudonymError::LengthOutOfRange {
                length,
                max,
                encoding: format.encoding,
            });
        }
        let keyed = root.derive::<64>(KeyPurpose::Pseudonym, domain).hmac_sha256();
        Ok(Self { keyed, format, version, length })
    }

    /// The raw 32-byte HMAC-SHA-256 of `value` under the domain key.
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// Appends the pseudonym of `value` to `out`.
    pub fn pseudonymize_into(&self, value: &[u8], out: &mut String) {
        let digest = self.digest(value);
        if self.format.with_version {
            out.push_str(&self.version.to_string());
            out.push(':');
        }
        let needed_bytes = (self.length * self.format.encoding.bits_per_char()).div_ceil(8);
        let start = out.len();
        self.format.encoding.encode_into(&digest[..needed_bytes.min(32)], out);
        out.truncate(start + self.length);
    }

    /// The pseudonym of `value`.
    pub fn pseudonymize(&self, value: &[u8]) -> String {
        let mut out = String::with_capacity(self.length + 12);
        self.pseudonymize_into(value, &mut out);
        out
    }

    /// The key version this pseudonymizer uses.
    pub fn version(&self) -> KeyVersion {
        self.version
    }
}

/// Splits a versioned pseudonym (`v3:abcd…`) into its key version and pseudonym; `None` when
/// the text carries no version.
pub fn split_version(pseudonym: &str) -> Option<(KeyVersion, &str)> {
    let rest = pseudonym.strip_prefix('v')?;
    let (number, body) = rest.split_once(':')?;
    if number.is_empty() || number.len() > 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok().map(|n| (KeyVersion(n), body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn root(seed: u8) -> RootKey {
        RootKey::from_bytes(
            &(0u8..32).map(|i| i.wrapping_mul(seed).wrapping_add(1)).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn make(domain: &str, format: PseudonymFormat) -> Pseudonymizer {
        Pseudonymizer::new(&root(7), KeyVersion(1), domain, format).unwrap()
    }

    #[test]
    fn digest_is_hmac_sha256_under_the_derived_domain_key() {
        let root = root(7);
        let p = Pseudonymizer::new(&root, KeyVersion(1), "customers", PseudonymFormat::default())
            .unwrap();
        let key = root.derive::<64>(KeyPurpose::Pseudonym, "customers");
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(b"alice@example.com");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(p.digest(b"alice@example.com"), expected);
        assert_eq!(p.pseudonymize(b"alice@example.com"), hex::encode(expected)[..32]);
    }

    #[test]
    fn lengths_encodings_and_version_prefix() {
        for (encoding, length) in
            [(Encoding::Hex, 8), (Encoding::Base32, 13), (Encoding::Base64Url, 43)]
        {
            let format = PseudonymFormat { encoding, length: Some(length), with_version: true };
            let out = make("d", format).pseudonymize(b"x");
            let (version, body) = split_version(&out).unwrap();
            assert_eq!(version, KeyVersion(1));
            assert_eq!(body.len(), length);
            let full = make("d", PseudonymFormat { length: None, with_version: false, ..format })
                .pseudonymize(b"x");
            assert!(full.starts_with(body), "{full} / {body}");
        }
    }

    #[test]
    fn rejects_out_of_range_lengths_and_empty_domain() {
        let too_long =
            PseudonymFormat { encoding: Encoding::Hex, length: Some(65), with_version: false };
        assert!(matches!(
            Pseudonymizer::new(&root(7), KeyVersion(1), "d", too_long),
            Err(PseudonymError::LengthOutOfRange { max: 64, .. })
        ));
        let too_short = PseudonymFormat { length: Some(7), ..too_long };
        assert!(Pseudonymizer::new(&root(7), KeyVersion(1), "d", too_short).is_err());
        assert_eq!(
            Pseudonymizer::new(&root(7), KeyVersion(1), "", PseudonymFormat::default())
                .unwrap_err(),
            PseudonymError::EmptyDomain
        );
    }

    #[test]
    fn split_version_rejects_unversioned_text() {
        assert_eq!(split_version("abcdef"), None);
        assert_eq!(split_version("v:abc"), None);
        assert_eq!(split_version("vx1:abc"), None);
        assert_eq!(split_version("v12:abc"), Some((KeyVersion(12), "abc")));
    }

    proptest! {
        #[test]
        fn deterministic_and_domain_separated(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let a = make("customers", PseudonymFormat::default());
            let b = make("employees", PseudonymFormat::default());
            prop_assert_eq!(a.pseudonymize(&value), a.pseudonymize(&value));
            prop_assert_ne!(a.pseudonymize(&value), b.pseudonymize(&value));
            let other_key = Pseudonymizer::new(&root(11), KeyVersion(2), "customers", PseudonymFormat::default()).unwrap();
            prop_assert_ne!(a.pseudonymize(&value), other_key.pseudonymize(&value));
        }
    }
}
