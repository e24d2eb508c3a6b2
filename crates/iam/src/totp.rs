//! Time-based one-time passwords: RFC 6238 TOTP over RFC 4226 HOTP.
//!
//! This module owns the TOTP secret, the code computation, verification with a one-step skew
//! window and replay refusal (ASVS 5.0 V6.5.1), and the enrolment artefacts: the `otpauth://`
//! Key URI and an SVG QR code of it. The caller persists the secret (encrypted) and the last
//! accepted time step per user, and passes the current unix time in.

use std::fmt;

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::{EcLevel, QrCode, render::svg};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::base32;

/// RFC 4226 R6 requires at least 128 bits of shared secret.
pub const MIN_SECRET_LEN: usize = 16;
/// RFC 4226 recommends 160 bits, the SHA-1 output size.
pub const DEFAULT_SECRET_LEN: usize = 20;
/// How many time steps either side of the current one are accepted, for clock drift and the
/// time it takes a person to type the code.
pub const SKEW_STEPS: u64 = 1;

/// Errors of TOTP configuration, enrolment and verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("totp codes have 6 to 8 digits, not {digits}")]
    InvalidDigits { digits: u8 },
    #[error("the totp period must be at least one second")]
    InvalidPeriod,
    #[error("a totp secret needs at least {MIN_SECRET_LEN} bytes (128 bits), this one has {len}")]
    SecretTooShort { len: usize },
    #[error("the totp secret is not valid base32")]
    InvalidBase32,
    #[error("enter the {digits}-digit code from your authenticator app")]
    MalformedCode { digits: u8 },
    #[error("the code is wrong or has expired: enter the current code from your authenticator app")]
    InvalidCode,
    #[error("this code has already been used: wait for the next one")]
    Replayed,
    #[error("the {field} must be non-empty and must not contain a colon")]
    InvalidLabel { field: &'static str },
    #[error("the hmac implementation rejected the key")]
    KeyRejected,
    #[error("the enrolment uri cannot be drawn as a qr code: {0}")]
    QrCode(String),
}

/// The HMAC hash function. Authenticator apps support SHA-1 most widely, hence the default;
/// HOTP's truncation keeps SHA-1 sound here even though SHA-1 collisions are practical.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name the Key URI format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn mac(self, key: &[u8], message: &[u8]) -> Result<Vec<u8>, TotpError> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            key: &[u8],
            message: &[u8],
        ) -> Result<Vec<u8>, TotpError> {
            let mut mac = <M as Mac>::new_from_slice(key).map_err(|_| TotpError::KeyRejected)?;
            mac.update(message);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        match self {
            Self::Sha1 => run::<Hmac<Sha1>>(key, message),
            Self::Sha256 => run::<Hmac<Sha256>>(key, message),
            Self::Sha512 => run::<Hmac<Sha512>>(key, message),
        }
    }
}

/// TOTP parameters. Every operation validates them, so a value read back from storage cannot
/// produce codes of an unsupported shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TotpConfig {
    pub algorithm: Algorithm,
    /// 6 to 8.
    pub digits: u8,
    /// The time step in seconds (RFC 6238's X), counted from the unix epoch (T0 = 0).
    pub period: u64,
}

impl Default for TotpConfig {
    fn default() -> Self {
        Self { algorithm: Algorithm::Sha1, digits: 6, period: 30 }
    }
}

impl TotpConfig {
    pub fn validate(&self) -> Result<(), TotpError> {
        if !(6..=8).contains(&self.digits) {
            return Err(TotpError::InvalidDigits { digits: self.digits });
        }
        if self.period == 0 {
            return Err(TotpError::InvalidPeriod);
        }
        Ok(())
    }

    /// The time step that contains `now_unix`.
    pub fn step_at(&self, now_unix: u64) -> u64 {
        now_unix.checked_div(self.period).unwrap_or(0)
    }
}

/// The shared secret. Its `Debug` output is redacted so it never reaches a log line; it has no
/// serde implementation on purpose: the caller stores it encrypted, via [`TotpSecret::as_bytes`]
/// or [`TotpSecret::to_base32`].
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

/// Compared in constant time, in case a comparison ever sits on a request path.
impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for TotpSecret {}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret({} bytes, redacted)", self.0.len())
    }
}

impl TotpSecret {
    /// A fresh random secret of [`DEFAULT_SECRET_LEN`] bytes.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = vec![0_u8; DEFAULT_SECRET_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(TotpError::SecretTooShort { len: bytes.len() });
        }
        Ok(Self(bytes))
    }

    /// Accepts any case, spaces, dashes and `=` padding, as people copy secrets by hand.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        Self::from_bytes(base32::decode(text).ok_or(TotpError::InvalidBase32)?)
    }

    /// Upper-case base32 without padding, as the Key URI format wants it.
    pub fn to_base32(&self) -> String {
        base32::encode(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 4226 HOTP: the `digits`-digit code for `counter`, zero-padded.
pub fn hotp(
    key: &[u8],
    counter: u64,
    algorithm: Algorithm,
    digits: u8,
) -> Result<String, TotpError> {
    if !(6..=8).contains(&digits) {
        return Err(TotpError::InvalidDigits { digits });
    }
    let mac = algorithm.mac(key, &counter.to_be_bytes())?;
    // Dynamic truncation (RFC 4226 section 5.3): the low nibble of the last byte picks a
    // four-byte window; the top bit is masked so the value reads the same signed or unsigned.
    let last = mac.last().copied().ok_or(TotpError::KeyRejected)?;
    let offset = usize::from(last & 0x0F);
    let window: [u8; 4] = mac
        .get(offset..offset + 4)
        .and_then(|w| w.try_into().ok())
        .ok_or(TotpError::KeyRejected)?;
    let binary = u32::from_be_bytes(window) & 0x7FFF_FFFF;
    let code = binary % 10_u32.pow(u32::from(digits));
    Ok(format!("{code:0width$}", width = usize::from(digits)))
}

/// A TOTP credential: a secret with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totp {
    secret: TotpSecret,
    config: TotpConfig,
}

/// RFC 3986 unreserved characters stay as they are; everything else in a label or parameter
/// is percent-encoded (a space becomes `%20`, never `+`, which authenticator apps would show).
const URI_COMPONENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl Totp {
    pub fn new(secret: TotpSecret, config: TotpConfig) -> Result<Self, TotpError> {
        config.validate()?;
        Ok(Self { secret, config })
    }

    /// A new credential with a fresh secret and default parameters (SHA-1, 6 digits, 30 s).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self { secret: TotpSecret::generate(rng), config: TotpConfig::default() }
    }

    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    pub fn config(&self) -> TotpConfig {
        self.config
    }

    pub fn step_at(&self, now_unix: u64) -> u64 {
        self.config.step_at(now_unix)
    }

    pub fn code_at_step(&self, step: u64) -> Result<String, TotpError> {
        hotp(self.secret.as_bytes(), step, self.config.algorithm, self.config.digits)
    }

    pub fn code_at(&self, now_unix: u64) -> Result<String, TotpError> {
        self.code_at_step(self.step_at(now_unix))
    }

    /// Checks `code` against the steps `now - 1`, `now` and `now + 1` and returns the step it
    /// matched, which the caller stores as the new `last_used_step`. A step at or before
    /// `last_used_step` is refused as a replay, so each code works once and codes older than
    /// the last one used never work again.
    ///
    /// Every candidate is computed and compared in constant time, whatever matches, so the
    /// response time says nothing about which step or digits were right. Spaces inside the
    /// code are ignored (apps show "123 456").
    pub fn verify(
        &self,
        code: &str,
        now_unix: u64,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let digits = self.config.digits;
        let presented: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if presented.len() != usize::from(digits) || !presented.iter().all(u8::is_ascii_digit) {
            return Err(TotpError::MalformedCode { digits });
        }

        let current = self.step_at(now_unix);
        let candidates =
            [current.checked_sub(SKEW_STEPS), Some(current), current.checked_add(SKEW_STEPS)];
        let mut accepted = Choice::from(0);
        let mut accepted_step = 0_u64;
        let mut replayed = Choice::from(0);
        for step in candidates.into_iter().flatten() {
            let expected = self.code_at_step(step)?;
            let matches = expected.as_bytes().ct_eq(&presented);
            // Freshness depends only on public counters, not on the code, so branching is fine.
            let fresh = Choice::from(u8::from(last_used_step.is_none_or(|last| step > last)));
            // Take the earliest fresh match: it advances `last_used_step` the least, so a
            // legitimate later code is not burnt by a (one in a million) collision.
            let take = matches & fresh & !accepted;
            accepted_step.conditional_assign(&step, take);
            accepted |= take;
            replayed |= matches & !fresh;
        }
        if bool::from(accepted) {
            Ok(accepted_step)
        } else if bool::from(replayed) {
            Err(TotpError::Replayed)
        } else {
            Err(TotpError::InvalidCode)
        }
    }

    /// The Key URI (`otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=…&digits=…&period=…`)
    /// that authenticator apps import. Neither part of the label may contain a colon, which
    /// separates them; both are percent-encoded per RFC 3986.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> Result<String, TotpError> {
        check_label_part(issuer, "issuer")?;
        check_label_part(account, "account name")?;
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        Ok(format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={algorithm}&digits={digits}&period={period}",
            secret = self.secret.to_base32(),
            algorithm = self.config.algorithm.as_str(),
            digits = self.config.digits,
            period = self.config.period,
        ))
    }

    /// An SVG image of a QR code holding [`Totp::provisioning_uri`], at least 256 pixels
    /// square with the standard quiet zone. Error correction level M tolerates the glare and
    /// blur of a phone camera pointed at a screen.
    pub fn qr_svg(&self, issuer: &str, account: &str) -> Result<String, TotpError> {
        let uri = self.provisioning_uri(issuer, account)?;
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
            .map_err(|e| TotpError::QrCode(e.to_string()))?;
        Ok(code
            .render::<svg::Color<'_>>()
            .min_dimensions(256, 256)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build())
    }
}

fn check_label_part(part: &str, field: &'static str) -> Result<(), TotpError> {
    if part.trim().is_empty() || part.contains(':') {
        return Err(TotpError::InvalidLabel { field });
    }
    Ok(())
}

/// Verifies with the default parameters (SHA-1, 6 digits, 30 s); see [`Totp::verify`].
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now_unix: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    Totp { secret: secret.clone(), config: TotpConfig::default() }.verify(
        code,
        now_unix,
        last_used_step,
    )
}
