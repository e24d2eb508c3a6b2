//! Rampart's identity and authentication domain, to OWASP ASVS 5.0 level 2 (V6, V7) and
//! NIST SP 800-63B revision 4.
//!
//! - [`totp`]: RFC 6238 time-based one-time passwords over RFC 4226 HOTP, the `otpauth://`
//!   enrolment URI and its QR code.
//! - [`recovery`]: single-use recovery codes, shown once and stored as hashes.
//! - [`password`]: the password policy (length, blocklist, context words, strength) and the
//!   Pwned Passwords range-file check.
//! - [`throttle`]: login throttling per account and per source address.
//! - [`session`]: session idle and absolute lifetimes and step-up recency.
//!
//! Everything here is pure: no I/O, no clock (times are parameters) and no ambient randomness
//! (callers pass a cryptographic RNG). The application layer persists the values these types
//! hold and calls back in with them.

mod base32;
pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod totp;
