//! The password policy, after NIST SP 800-63B revision 4 section 3.1.1 and ASVS 5.0 V6.2.
//!
//! This module owns what makes a new password acceptable, and the normalisation applied before
//! it is checked and hashed. There are no composition rules (no "one digit, one symbol"),
//! since they push people to predictable substitutions. What it checks, in order:
//!
//! 1. Length in Unicode scalar values after NFKC: at least 15 when the password is the only
//!    factor, at least 8 when the organisation enforces MFA; at most 128 by default.
//! 2. A blocklist of common and breached passwords (see [`is_blocklisted`]).
//! 3. Context words: the user's email address (and its local part), name and organisation
//!    name, case-insensitively, ignoring fragments shorter than 4 characters.
//! 4. zxcvbn's strength score, with those context words as user inputs: at least 3 of 4.
//!
//! Errors name the rule and what to do; none carries or echoes the password.
//!
//! [`is_in_range_file`] supports the optional k-anonymity check against the Pwned Passwords
//! range API: the application fetches the range for [`pwned_range_prefix`] and passes its text.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use unicode_normalization::UnicodeNormalization;
use zxcvbn::matching::patterns::MatchPattern;

/// The minimum length when a password is the only authentication factor (SP 800-63B rev 4).
pub const SINGLE_FACTOR_MIN_LENGTH: usize = 15;
/// The minimum length when the password is one factor of several.
pub const MFA_MIN_LENGTH: usize = 8;
/// The default maximum length; the policy may raise it, never lower it.
pub const DEFAULT_MAX_LENGTH: usize = 128;
/// The zxcvbn score a password needs by default (0 to 4; below 3 zxcvbn calls it too weak).
pub const DEFAULT_MIN_STRENGTH: u8 = 3;
/// Context fragments shorter than this are ignored: they would refuse too many passwords for
/// too little gain.
pub const MIN_CONTEXT_FRAGMENT: usize = 4;

/// Entries in the `passwords` crate's common-password list.
pub const PASSWORDS_CRATE_LIST_LEN: usize = 99_838;
/// Entries in zxcvbn's password frequency list.
pub const ZXCVBN_LIST_LEN: usize = 30_000;
/// Distinct entries of the two lists together, compared case-insensitively.
pub const BLOCKLIST_LEN: usize = 107_838;

/// Errors of the password policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "the password is too short: use at least {min} characters (a phrase of several unrelated words is long and easy to remember)"
    )]
    TooShort { min: usize },
    #[error("the password is too long: use at most {max} characters")]
    TooLong { max: usize },
    #[error("this password is on a list of common or breached passwords: choose a different one")]
    Blocklisted,
    #[error("the password contains your {0}: choose one that does not")]
    ContainsPersonalInfo(PersonalInfo),
    #[error(
        "the password is too easy to guess: make it longer with more unrelated words, and avoid names, dates, repeats and keyboard patterns"
    )]
    TooWeak {
        /// zxcvbn's score, 0 to 4.
        score: u8,
        required: u8,
        /// zxcvbn's advice, in English; it never quotes the password.
        suggestions: Vec<String>,
    },
    #[error("invalid password policy: {0}")]
    InvalidPolicy(&'static str),
}

/// Which context word a password contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalInfo {
    Email,
    Name,
    Organisation,
}

impl fmt::Display for PersonalInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Email => "email address",
            Self::Name => "name",
            Self::Organisation => "organisation's name",
        })
    }
}

/// What is known about the user, so that passwords built from it are refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordContext<'a> {
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub organisation: Option<&'a str>,
}

/// The policy an organisation applies to new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// In Unicode scalar values after NFKC; at least [`MFA_MIN_LENGTH`].
    pub min_length: usize,
    /// At least [`DEFAULT_MAX_LENGTH`], so that passphrases and password managers fit.
    pub max_length: usize,
    /// The lowest zxcvbn score accepted, 0 to 4.
    pub min_strength: u8,
}

impl Default for PasswordPolicy {
    /// The single-factor policy: the safe choice when nothing says MFA is enforced.
    fn default() -> Self {
        Self::single_factor()
    }
}

impl PasswordPolicy {
    /// For an organisation where the password may be the only factor.
    pub fn single_factor() -> Self {
        Self {
            min_length: SINGLE_FACTOR_MIN_LENGTH,
            max_length: DEFAULT_MAX_LENGTH,
            min_strength: DEFAULT_MIN_STRENGTH,
        }
    }

    /// For an organisation that enforces a second factor for every member.
    pub fn mfa_enforced() -> Self {
        Self { min_length: MFA_MIN_LENGTH, ..Self::single_factor() }
    }

    pub fn for_organisation(mfa_enforced: bool) -> Self {
        if mfa_enforced { Self::mfa_enforced() } else { Self::single_factor() }
    }

    pub fn validate(&self) -> Result<(), PasswordError> {
        if self.min_length < MFA_MIN_LENGTH {
            return Err(PasswordError::InvalidPolicy("the minimum length must be at least 8"));
        }
        if self.max_length < DEFAULT_MAX_LENGTH {
            return Err(PasswordError::InvalidPolicy("the maximum length must be at least 128"));
        }
        if self.min_length > self.max_length {
            return Err(PasswordError::InvalidPolicy(
                "the minimum length must not exceed the maximum",
            ));
        }
        if self.min_strength > 4 {
            return Err(PasswordError::InvalidPolicy("the strength score goes from 0 to 4"));
        }
        Ok(())
    }

    /// Checks a new password. The caller then hashes [`normalize`]`(password)`, and normalises
    /// the same way at every login, so that equivalent spellings of a password verify.
    pub fn check(
        &self,
        password: &str,
        context: &PasswordContext<'_>,
    ) -> Result<(), PasswordError> {
        self.validate()?;
        let normalized = normalize(password);
        let length = normalized.chars().count();
        if length < self.min_length {
            return Err(PasswordError::TooShort { min: self.min_length });
        }
        if length > self.max_length {
            return Err(PasswordError::TooLong { max: self.max_length });
        }

        let lowered = normalized.to_lowercase();
        if in_passwords_crate_list(&normalized, &lowered) {
            return Err(PasswordError::Blocklisted);
        }

        let fragments = context_fragments(context);
        if let Some((_, kind)) =
            fragments.iter().find(|(fragment, _)| lowered.contains(fragment.as_str()))
        {
            return Err(PasswordError::ContainsPersonalInfo(*kind));
        }

        let inputs: Vec<&str> = fragments.iter().map(|(fragment, _)| fragment.as_str()).collect();
        let estimate = zxcvbn::zxcvbn(&normalized, &inputs);
        if is_whole_zxcvbn_password(&estimate, &normalized) {
            return Err(PasswordError::Blocklisted);
        }
        let score = u8::from(estimate.score());
        if score < self.min_strength {
            let suggestions = estimate
                .feedback()
                .map(|feedback| feedback.suggestions().iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            return Err(PasswordError::TooWeak { score, required: self.min_strength, suggestions });
        }
        Ok(())
    }
}

/// NFKC, as SP 800-63B asks: compatibility forms (fullwidth letters, ligatures, superscripts)
/// fold to their plain equivalents, so a password typed on another keyboard still verifies.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Whether the password, after NFKC and case-insensitively, is on the blocklist: the 99,838
/// common passwords of the `passwords` crate together with the 30,000 of zxcvbn's frequency
/// list, [`BLOCKLIST_LEN`] distinct entries. Passwords built on those words with changes
/// (l33t, suffixes) are left to the strength score, which knows the same lists.
pub fn is_blocklisted(password: &str) -> bool {
    let normalized = normalize(password);
    let lowered = normalized.to_lowercase();
    in_passwords_crate_list(&normalized, &lowered)
        || is_whole_zxcvbn_password(&zxcvbn::zxcvbn(&normalized, &[]), &normalized)
}

fn in_passwords_crate_list(normalized: &str, lowered: &str) -> bool {
    // The list keeps the case it was collected in ("!QAZ1qaz"), so try the password as typed
    // and in lower case.
    passwords::analyzer::is_common_password(normalized)
        || (lowered != normalized && passwords::analyzer::is_common_password(lowered))
}

/// zxcvbn does not expose its list, but its best match sequence says when the whole password
/// is one entry of it, unreversed and without l33t substitutions.
fn is_whole_zxcvbn_password(estimate: &zxcvbn::Entropy, normalized: &str) -> bool {
    let [only] = estimate.sequence() else {
        return false;
    };
    let MatchPattern::Dictionary(pattern) = &only.pattern else {
        return false;
    };
    // The dictionary type is not re-exported; its `Default` is the password list, the one
    // variant that can be named from outside (a test pins this).
    only.i == 0
        && only.j + 1 == normalized.chars().count()
        && !pattern.reversed
        && !pattern.l33t
        && pattern.dictionary_name == Default::default()
}

/// The lower-cased context words to refuse, each with what it came from. Longer pieces come
/// first, so that an error names the most specific match.
fn context_fragments(context: &PasswordContext<'_>) -> Vec<(String, PersonalInfo)> {
    let mut fragments = Vec::new();
    let mut push = |text: &str, kind: PersonalInfo| {
        let fragment = normalize(text.trim()).to_lowercase();
        if fragment.chars().count() >= MIN_CONTEXT_FRAGMENT
            && !fragments.iter().any(|(f, _): &(String, PersonalInfo)| *f == fragment)
        {
            fragments.push((fragment, kind));
        }
    };
    let is_separator = |c: char| !c.is_alphanumeric();
    if let Some(email) = context.email {
        push(email, PersonalInfo::Email);
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        push(local, PersonalInfo::Email);
        for part in local.split(is_separator) {
            push(part, PersonalInfo::Email);
        }
    }
    for (text, kind) in
        [(context.name, PersonalInfo::Name), (context.organisation, PersonalInfo::Organisation)]
    {
        if let Some(text) = text {
            push(text, kind);
            for part in text.split(is_separator) {
                push(part, kind);
            }
        }
    }
    fragments
}

/// The first five hexadecimal characters of the SHA-1 of the NFKC password: the range to
/// request from the Pwned Passwords API, which then never sees the password or its full hash.
pub fn pwned_range_prefix(password: &str) -> String {
    let mut hex = sha1_hex(password);
    hex.truncate(5);
    hex
}

/// Whether the NFKC password's SHA-1 is listed in a Pwned Passwords range file: lines of
/// `SUFFIX:COUNT`, where SUFFIX is the 35 hex characters after the 5-character prefix.
/// Lines with a count of 0 are the API's padding and do not count; full 40-character hashes
/// are accepted too. Malformed lines are skipped.
pub fn is_in_range_file(password: &str, range_text: &str) -> bool {
    let hash = sha1_hex(password);
    let suffix = hash.get(5..).unwrap_or_default();
    range_text.lines().any(|line| {
        let Some((listed, count)) = line.trim().split_once(':') else {
            return false;
        };
        let listed = listed.trim();
        let matches = listed.eq_ignore_ascii_case(suffix) || listed.eq_ignore_ascii_case(&hash);
        matches && count.trim().parse::<u64>().map_or(true, |count| count > 0)
    })
}

fn sha1_hex(password: &str) -> String {
    hex::encode_upper(Sha1::digest(normalize(password).as_bytes()))
}
