//! Recovery codes: the look-up secrets a user keeps for when the second factor is lost.
//!
//! This module owns their generation, their stored form and their redemption. A set is
//! [`CODE_COUNT`] codes of [`CODE_SYMBOLS`] symbols from Crockford's base32 alphabet, shown as
//! six groups of four (`7K2M-…`). That is 5 bits a symbol, 120 bits a code.
//!
//! Why 120 bits rather than a shorter code: ASVS 5.0 V6.5.2 and SP 800-63B allow a plain
//! one-way hash for look-up secrets of at least 112 bits, and require a salted password hash
//! below that. At 120 bits an offline search of a leaked SHA-256 digest costs about 2^119
//! hashes on average, out of reach of any attacker, so a slow hash would buy nothing and
//! would make each redemption (which checks every code) cost ten password hashes. Online
//! guessing is bounded by the login throttle long before the entropy matters.
//!
//! The alphabet leaves out I, L, O and U; on input, O reads as 0 and I or L as 1, so the
//! characters people confuse when copying from paper cannot cause a failure.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use time::OffsetDateTime;

/// How many codes a set holds.
pub const CODE_COUNT: usize = 10;
/// Symbols in one code (5 bits each).
pub const CODE_SYMBOLS: usize = 24;
/// Symbols between dashes when a code is shown.
pub const GROUP_SIZE: usize = 4;

// The plain hash below is only acceptable from 112 bits (ASVS 5.0 V6.5.2).
const _: () = assert!(CODE_SYMBOLS * 5 >= 112);

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Domain separation, so a digest here can never be confused with one made elsewhere from the
/// same text.
const HASH_CONTEXT: &[u8] = b"rampart.iam.recovery-code.v1\0";

/// Errors of recovery-code storage and redemption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    #[error("a recovery code has {CODE_SYMBOLS} letters and digits: check what you typed")]
    Malformed,
    #[error("this recovery code is not valid for your account")]
    InvalidCode,
    #[error("this recovery code has already been used: use another one")]
    AlreadyUsed,
    #[error("the stored recovery code hash is not 64 hexadecimal characters")]
    InvalidStoredHash,
}

/// One code as the application stores it: its SHA-256 digest and when it was redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecoveryCode {
    #[serde(with = "hex_digest")]
    hash: [u8; 32],
    used_at: Option<OffsetDateTime>,
}

impl StoredRecoveryCode {
    /// Rebuilds a stored code from its persisted columns.
    pub fn from_parts(
        hash_hex: &str,
        used_at: Option<OffsetDateTime>,
    ) -> Result<Self, RecoveryError> {
        let mut hash = [0_u8; 32];
        hex::decode_to_slice(hash_hex, &mut hash).map_err(|_| RecoveryError::InvalidStoredHash)?;
        Ok(Self { hash, used_at })
    }

    /// The digest as lower-case hex, for storage.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    pub fn used_at(&self) -> Option<OffsetDateTime> {
        self.used_at
    }

    pub fn is_used(&self) -> bool {
        self.used_at.is_some()
    }
}

/// A fresh set: the codes to show the user once (formatted with dashes) and what to store.
/// The two vectors are in the same order.
pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> (Vec<String>, Vec<StoredRecoveryCode>) {
    let mut shown = Vec::with_capacity(CODE_COUNT);
    let mut stored = Vec::with_capacity(CODE_COUNT);
    for _ in 0..CODE_COUNT {
        let mut raw = [0_u8; CODE_SYMBOLS];
        rng.fill_bytes(&mut raw);
        // 256 is a multiple of 32, so masking to 5 bits keeps every symbol equally likely.
        let symbols: Vec<u8> = raw.iter().map(|b| ALPHABET[usize::from(b & 0x1F)]).collect();
        stored.push(StoredRecoveryCode { hash: digest(&symbols), used_at: None });
        shown.push(format_groups(&symbols));
    }
    (shown, stored)
}

/// How many codes of a set are still unused.
pub fn remaining(codes: &[StoredRecoveryCode]) -> usize {
    codes.iter().filter(|c| !c.is_used()).count()
}

/// Redeems `presented` against the user's set: on success marks that code used at `now` and
/// returns its index, which the caller persists. Case, spaces and dashes do not matter.
///
/// Every stored code is compared in constant time and none is skipped, so timing reveals
/// neither which code matched nor whether one did.
pub fn redeem(
    presented: &str,
    codes: &mut [StoredRecoveryCode],
    now: OffsetDateTime,
) -> Result<usize, RecoveryError> {
    let symbols = normalize(presented).ok_or(RecoveryError::Malformed)?;
    let candidate = digest(&symbols);

    let mut found = Choice::from(0);
    let mut found_index = 0_u64;
    let mut found_used = Choice::from(0);
    for (index, code) in codes.iter().enumerate() {
        let matches = code.hash.ct_eq(&candidate) & !found;
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        found_index.conditional_assign(&index, matches);
        found_used.conditional_assign(&Choice::from(u8::from(code.is_used())), matches);
        found |= matches;
    }
    if !bool::from(found) {
        return Err(RecoveryError::InvalidCode);
    }
    if bool::from(found_used) {
        return Err(RecoveryError::AlreadyUsed);
    }
    let index = usize::try_from(found_index).map_err(|_| RecoveryError::InvalidCode)?;
    let code = codes.get_mut(index).ok_or(RecoveryError::InvalidCode)?;
    code.used_at = Some(now);
    Ok(index)
}

/// Upper-cases, drops spaces and dashes, reads O as 0 and I or L as 1, and checks the length
/// and alphabet.
fn normalize(presented: &str) -> Option<Vec<u8>> {
    let mut symbols = Vec::with_capacity(CODE_SYMBOLS);
    for c in presented.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        let byte = u8::try_from(c).ok()?;
        if !ALPHABET.contains(&byte) {
            return None;
        }
        symbols.push(byte);
        if symbols.len() > CODE_SYMBOLS {
            return None;
        }
    }
    (symbols.len() == CODE_SYMBOLS).then_some(symbols)
}

fn digest(symbols: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(HASH_CONTEXT);
    hasher.update(symbols);
    hasher.finalize().into()
}

fn format_groups(symbols: &[u8]) -> String {
    symbols
        .chunks(GROUP_SIZE)
        .map(|group| group.iter().map(|&b| char::from(b)).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Serialises the digest as a hex string rather than an array of 32 numbers.
mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(
        hash: &[u8; 32],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(hash))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut hash = [0_u8; 32];
        hex::decode_to_slice(&text, &mut hash).map_err(D::Error::custom)?;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_maps_confusable_letters() {
        let typed = "oooo-iiii-llll-0000-1111-abcd";
        assert_eq!(normalize(typed).as_deref(), Some(&b"00001111111100001111ABCD"[..]));
    }

    #[test]
    fn normalize_refuses_wrong_length_and_foreign_symbols() {
        assert_eq!(normalize("ABCD-EFGH"), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2"), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN-PQRS-TVWX-YZ0U"), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN-PQRS-TVWX-YZ0É"), None);
    }
}
