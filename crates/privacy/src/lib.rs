//! Rampart's privacy engine: keyed pseudonyms, format-preserving encryption, reversible
//! tokens, PII detection, fake data, masking of production extracts and classification
//! markings. Pure: no database, no network, no clock.

pub mod checksum;
pub mod encoding;
pub mod fpe;
pub mod key;
pub mod pseudonym;
pub mod token;
