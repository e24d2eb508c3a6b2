//! Rampart's privacy engine: keyed pseudonyms, format-preserving encryption, reversible
//! tokens, PII detection, fake data, masking of production extracts and classification
//! markings. Pure: no database, no network, no clock.

pub mod checksum;
pub mod classification;
pub mod encoding;
pub mod fake;
pub mod fpe;
pub mod key;
pub mod mask;
pub mod pii;
pub mod pseudonym;
pub mod token;
