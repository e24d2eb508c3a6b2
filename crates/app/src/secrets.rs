//! Random secrets and their stored form. Secrets are 256-bit CSPRNG values shown once; only
//! their SHA-256 is stored (they are high-entropy, so a fast hash is enough), and comparisons
//! are constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

/// A fresh secret with a readable prefix, so that secret scanners can spot a leaked one.
pub(crate) fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn hashes_match(stored: &[u8], presented: &[u8]) -> bool {
    stored.ct_eq(presented).into()
}

/// Random bytes for a UUIDv7.
pub(crate) fn id_randomness() -> [u8; 10] {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A new time-ordered (version 7) id.
pub(crate) fn new_id(now: time::OffsetDateTime) -> uuid::Uuid {
    let millis = crate::api_keys::unix_millis(now);
    uuid::Builder::from_unix_timestamp_millis(millis, &id_randomness()).into_uuid()
}
