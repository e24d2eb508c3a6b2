//! Format-preserving encryption with NIST SP 800-38G FF1 (AES), through the `fpe` crate.
//!
//! * [`Ff1Cipher::encrypt_numerals`] is plain FF1 over numerals of a radix (the NIST samples
//!   are checked through it).
//! * [`Ff1Cipher::encrypt_shaped`] keeps the shape of a value: characters that are not
//!   encrypted (separators, punctuation, non-ASCII) stay where they are. With
//!   [`Alphabet::Digits`] the digits are encrypted with radix-10 FF1 and letters are kept. With
//!   [`Alphabet::Alphanumeric`] every ASCII letter and digit is encrypted *and keeps its class*:
//!   a digit stays a digit, an uppercase letter an uppercase letter, a lowercase letter a
//!   lowercase letter. The value is read as a mixed-radix number (10 or 26 per position),
//!   encrypted with radix-2 FF1 over the smallest sufficient bit width and cycle-walked back
//!   into range, which is a permutation of the value space, so it decrypts exactly.
//! * [`Ff1Cipher::encrypt_card`], [`Ff1Cipher::encrypt_iban`] and
//!   [`Ff1Cipher::encrypt_phone`] apply this to payment cards (optional Luhn regeneration),
//!   IBANs (optional check-digit regeneration) and phone numbers (leading digits kept).
//!
//! FF1 needs at least a million possible values: fewer than 6 digits, or an alphanumeric value
//! whose value space is under 10^6, is refused ([`FpeError::TooShort`]).

use aes::{Aes128, Aes192, Aes256};
use fpe::ff1::{FF1, FlexibleNumeralString, NumeralStringError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::checksum::{iban_check_digits, luhn_check_digit};
use crate::key::{KeyPurpose, RootKey};

/// Smallest value space FF1 accepts (NIST SP 800-38G Rev. 1).
const MIN_DOMAIN: u128 = 1_000_000;
/// Smallest bit width accepted for radix 2 (2^20 >= 10^6).
const MIN_BITS: u32 = 20;

/// Which characters of a value are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// ASCII digits only; every other character is kept in place.
    Digits,
    /// ASCII letters and digits, each keeping its class and case; other characters kept.
    Alphanumeric,
}

/// Errors of format-preserving encryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FpeError {
    /// The raw key is not an AES key length.
    #[error("an FF1 key is 16, 24 or 32 bytes, got {0}")]
    KeyLength(usize),
    /// The radix is outside 2..=65536 or a numeral is not below the radix.
    #[error("numerals do not fit radix {0}")]
    InvalidForRadix(u32),
    /// Too few characters to encrypt.
    #[error(
        "too few characters to encrypt with FF1: {got} possible values, at least 1000000 needed"
    )]
    TooShort {
        /// The number of possible values of the encrypted part (saturated).
        got: u128,
    },
    /// The encrypted part is longer than this implementation handles.
    #[error("value too long for format-preserving encryption ({chars} characters to encrypt)")]
    TooLong {
        /// Characters that would be encrypted.
        chars: usize,
    },
    /// A character outside the alphabet given to [`Ff1Cipher::encrypt_text`].
    #[error("character {character:?} at position {position} is not in the alphabet")]
    NotInAlphabet {
        /// The character.
        character: char,
        /// Its position, in characters.
        position: usize,
    },
    /// The text does not look like what the helper expects (an IBAN, a card number…).
    #[error("not a valid {what}: {reason}")]
    Malformed {
        /// What was expected.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl From<NumeralStringError> for FpeError {
    fn from(e: NumeralStringError) -> Self {
        match e {
            NumeralStringError::InvalidForRadix(r) => FpeError::InvalidForRadix(r),
            NumeralStringError::TooLong { ns_len, .. } => FpeError::TooLong { chars: ns_len },
            NumeralStringError::TooShort { .. } => FpeError::TooShort { got: 0 },
        }
    }
}

/// Options for payment card numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardOptions {
    /// Leading digits kept as they are (6 or 8 keep the issuer identification number).
    pub keep_leading_digits: usize,
    /// Replace the last digit with a valid Luhn check digit after encryption (decryption does
    /// the same, so a number with a valid check digit round-trips exactly).
    pub fix_luhn: bool,
}

/// An FF1 cipher under one AES key.
#[derive(Clone)]
pub struct Ff1Cipher {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Ff1Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ff1Cipher(AES-{}, <redacted>)", self.key.len() * 8)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl Ff1Cipher {
    /// An AES-256 FF1 cipher whose key is derived from `root` for `domain`.
    pub fn new(root: &RootKey, domain: &str) -> Self {
        let key = root.derive::<32>(KeyPurpose::Ff1, domain);
        Self { key: Zeroizing::new(key.as_bytes().to_vec()) }
    }

    /// An FF1 cipher under a raw AES-128, AES-192 or AES-256 key.
    pub fn from_raw_key(key: &[u8]) -> Result<Self, FpeError> {
        match key.len() {
            16 | 24 | 32 => Ok(Self { key: Zeroizing::new(key.to_vec()) }),
            other => Err(FpeError::KeyLength(other)),
        }
    }

    fn run(
        &self,
        direction: Direction,
        radix: u32,
        tweak: &[u8],
        numerals: Vec<u16>,
    ) -> Result<Vec<u16>, FpeError> {
        let input = FlexibleNumeralString::from(numerals);
        macro_rules! with_cipher {
            ($cipher:ty) => {{
                let ff1 = FF1::<$cipher>::new(&self.key, radix)
                    .map_err(|_| FpeError::InvalidForRadix(radix))?;
                match direction {
                    Direction::Encrypt => ff1.encrypt(tweak, &input)?,
                    Direction::Decrypt => ff1.decrypt(tweak, &input)?,
                }
            }};
        }
        let output = match self.key.len() {
            16 => with_cipher!(Aes128),
            24 => with_cipher!(Aes192),
            32 => with_cipher!(Aes256),
            other => return Err(FpeError::KeyLength(other)),
        };
        Ok(Vec::from(output))
    }

    /// FF1 encryption of numerals in `radix` (each below the radix).
    pub fn encrypt_numerals(
        &self,
        radix: u32,
        tweak: &[u8],
        numerals: &[u16],
    ) -> Result<Vec<u16>, FpeError> {
        self.run(Direction::Encrypt, radix, tweak, numerals.to_vec())
    }

    /// FF1 decryption of numerals in `radix`.
    pub fn decrypt_numerals(
        &self,
        radix: u32,
        tweak: &[u8],
        numerals: &[u16],
    ) -> Result<Vec<u16>, FpeError> {
        self.run(Direction::Decrypt, radix, tweak, numerals.to_vec())
    }

    /// FF1 over a text whose every character is in `alphabet` (numeral i is the i-th character
    /// of the alphabet, radix = alphabet length).
    pub fn encrypt_text(
        &self,
        alphabet: &str,
        tweak: &[u8],
        text: &str,
    ) -> Result<String, FpeError> {
        self.text(Direction::Encrypt, alphabet, tweak, text)
    }

    /// Inverse of [`Ff1Cipher::encrypt_text`].
    pub fn decrypt_text(
        &self,
        alphabet: &str,
        tweak: &[u8],
        text: &str,
    ) -> Result<String, FpeError> {
        self.text(Direction::Decrypt, alphabet, tweak, text)
    }

    fn text(
        &self,
        direction: Direction,
        alphabet: &str,
        tweak: &[u8],
        text: &str,
    ) -> Result<String, FpeError> {
        let symbols: Vec<char> = alphabet.chars().collect();
        let radix = u32::try_from(symbols.len()).map_err(|_| FpeError::InvalidForRadix(0))?;
        let numerals = text
            .chars()
            .enumerate()
            .map(|(position, character)| {
                symbols
                    .iter()
                    .position(|&s| s == character)
                    .and_then(|i| u16::try_from(i).ok())
                    .ok_or(FpeError::NotInAlphabet { character, position })
            })
            .collect::<Result<Vec<u16>, _>>()?;
        let output = self.run(direction, radix, tweak, numerals)?;
        output
            .into_iter()
            .map(|n| symbols.get(usize::from(n)).copied().ok_or(FpeError::InvalidForRadix(radix)))
            .collect()
    }

    /// Encrypts the characters of `value` selected by `alphabet`, keeping every other
    /// character (and, for letters, the case) in place.
    pub fn encrypt_shaped(
        &self,
        alphabet: Alphabet,
        tweak: &[u8],
        value: &str,
    ) -> Result<String, FpeError> {
        self.shaped(Direction::Encrypt, alphabet, tweak, value, 0)
    }

    /// Inverse of [`Ff1Cipher::encrypt_shaped`].
    pub fn decrypt_shaped(
        &self,
        alphabet: Alphabet,
        tweak: &[u8],
        value: &str,
    ) -> Result<String, FpeError> {
        self.shaped(Direction::Decrypt, alphabet, tweak, value, 0)
    }

    /// Encrypts the digits of a phone number, keeping the first `keep_leading_digits` digits
    /// (e.g. the country code) and every separator, `+` and parenthesis.
    pub fn encrypt_phone(
        &self,
        tweak: &[u8],
        value: &str,
        keep_leading_digits: usize,
    ) -> Result<String, FpeError> {
        self.shaped(Direction::Encrypt, Alphabet::Digits, tweak, value, keep_leading_digits)
    }

    /// Inverse of [`Ff1Cipher::encrypt_phone`].
    pub fn decrypt_phone(
        &self,
        tweak: &[u8],
        value: &str,
        keep_leading_digits: usize,
    ) -> Result<String, FpeError> {
        self.shaped(Direction::Decrypt, Alphabet::Digits, tweak, value, keep_leading_digits)
    }

    /// Encrypts a payment card number (digits, optionally grouped by spaces or dashes).
    pub fn encrypt_card(
        &self,
        tweak: &[u8],
        value: &str,
        options: CardOptions,
    ) -> Result<String, FpeError> {
        self.card(Direction::Encrypt, tweak, value, options)
    }

    /// Inverse of [`Ff1Cipher::encrypt_card`].
    pub fn decrypt_card(
        &self,
        tweak: &[u8],
        value: &str,
        options: CardOptions,
    ) -> Result<String, FpeError> {
        self.card(Direction::Decrypt, tweak, value, options)
    }

    fn card(
        &self,
        direction: Direction,
        tweak: &[u8],
        value: &str,
        options: CardOptions,
    ) -> Result<String, FpeError> {
        if !value.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-') {
            return Err(FpeError::Malformed {
                what: "card number",
                reason: "only digits, spaces and dashes are allowed",
            });
        }
        let digit_count = value.bytes().filter(u8::is_ascii_digit).count();
        if !(12..=19).contains(&digit_count) {
            return Err(FpeError::Malformed {
                what: "card number",
                reason: "a card number has 12 to 19 digits",
            });
        }
        if !options.fix_luhn {
            return self.shaped(
                direction,
                Alphabet::Digits,
                tweak,
                value,
                options.keep_leading_digits,
            );
        }
        // Encrypt every digit but the last, then recompute the check digit.
        let last = value.rfind(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let mut out = self.shaped(
            direction,
            Alphabet::Digits,
            tweak,
            &value[..last],
            options.keep_leading_digits,
        )?;
        let digits: Vec<u8> = out.bytes().filter(u8::is_ascii_digit).collect();
        out.push(char::from(luhn_check_digit(&digits)));
        out.push_str(&value[last + 1..]);
        Ok(out)
    }

    /// Encrypts an IBAN (compact or grouped by spaces): the country code is kept, the digits of
    /// the BBAN are encrypted (its letters are kept), and the check digits are either kept or,
    /// with `fix_check_digits`, recomputed so that the result passes the mod-97 check
    /// (decryption recomputes them too, so a valid IBAN round-trips exactly).
    pub fn encrypt_iban(
        &self,
        tweak: &[u8],
        value: &str,
        fix_check_digits: bool,
    ) -> Result<String, FpeError> {
        self.iban(Direction::Encrypt, tweak, value, fix_check_digits)
    }

    /// Inverse of [`Ff1Cipher::encrypt_iban`].
    pub fn decrypt_iban(
        &self,
        tweak: &[u8],
        value: &str,
        fix_check_digits: bool,
    ) -> Result<String, FpeError> {
        self.iban(Direction::Decrypt, tweak, value, fix_check_digits)
    }

    fn iban(
        &self,
        direction: Direction,
        tweak: &[u8],
        value: &str,
        fix: bool,
    ) -> Result<String, FpeError> {
        let bytes = value.as_bytes();
        let malformed = |reason| FpeError::Malformed { what: "IBAN", reason };
        if bytes.len() < 5
            || !bytes[..2].iter().all(u8::is_ascii_uppercase)
            || !bytes[2..4].iter().all(u8::is_ascii_digit)
        {
            return Err(malformed("an IBAN starts with two capital letters and two check digits"));
        }
        if !bytes[4..].iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || *b == b' ') {
            return Err(malformed(
                "the account part holds only digits, capital letters and spaces",
            ));
        }
        let bban = self.shaped(direction, Alphabet::Digits, tweak, &value[4..], 0)?;
        let mut out = String::with_capacity(value.len());
        out.push_str(&value[..4]);
        out.push_str(&bban);
        if fix {
            let compact: Vec<u8> = out.bytes().filter(|&b| b != b' ').collect();
            let check = iban_check_digits(&compact).ok_or(malformed("bad characters"))?;
            out.replace_range(
                2..4,
                std::str::from_utf8(&check).map_err(|_| malformed("bad check digits"))?,
            );
        }
        Ok(out)
    }

    fn shaped(
        &self,
        direction: Direction,
        alphabet: Alphabet,
        tweak: &[u8],
        value: &str,
        keep_leading: usize,
    ) -> Result<String, FpeError> {
        let selected = |b: u8| match alphabet {
            Alphabet::Digits => b.is_ascii_digit(),
            Alphabet::Alphanumeric => b.is_ascii_alphanumeric(),
        };
        // Byte positions of the encrypted characters (all ASCII, so one byte each).
        let positions: Vec<usize> = value
            .bytes()
            .enumerate()
            .filter(|&(_, b)| selected(b))
            .map(|(i, _)| i)
            .skip(keep_leading)
            .collect();
        let mut out = value.as_bytes().to_vec();
        match alphabet {
            Alphabet::Digits => {
                let numerals: Vec<u16> =
                    positions.iter().map(|&i| u16::from(out[i] - b'0')).collect();
                if numerals.len() < 6 {
                    return Err(FpeError::TooShort {
                        got: 10u128.saturating_pow(numerals.len() as u32),
                    });
                }
                let result = self.run(direction, 10, tweak, numerals)?;
                for (&i, n) in positions.iter().zip(result) {
                    out[i] = b'0' + n as u8;
                }
            }
            Alphabet::Alphanumeric => {
                let classes: Vec<CharClass> =
                    positions.iter().map(|&i| CharClass::of(out[i])).collect();
                let digits: Vec<u128> =
                    positions.iter().zip(&classes).map(|(&i, c)| c.value(out[i])).collect();
                let result = self.mixed_radix(direction, tweak, &classes, &digits)?;
                for ((&i, class), d) in positions.iter().zip(&classes).zip(result) {
                    out[i] = class.symbol(d);
                }
            }
        }
        String::from_utf8(out)
            .map_err(|_| FpeError::Malformed { what: "text", reason: "not UTF-8" })
    }

    /// Encrypts a mixed-radix number by FF1 with radix 2 over `bits` bits and cycle walking.
    fn mixed_radix(
        &self,
        direction: Direction,
        tweak: &[u8],
        classes: &[CharClass],
        digits: &[u128],
    ) -> Result<Vec<u128>, FpeError> {
        let mut space: u128 = 1;
        for class in classes {
            space = space
                .checked_mul(class.radix())
                .ok_or(FpeError::TooLong { chars: classes.len() })?;
        }
        if space < MIN_DOMAIN {
            return Err(FpeError::TooShort { got: space });
        }
        let mut number: u128 = 0;
        for (class, &d) in classes.iter().zip(digits) {
            number = number * class.radix() + d;
        }
        let bits = (128 - (space - 1).leading_zeros()).max(MIN_BITS);
        // Cycle walking: repeat until the result is inside the space again. Since FF1 is a
        // permutation of [0, 2^bits) and space > 2^(bits-1) (or bits = 20 and space >= 10^6),
        // fewer than two rounds are needed on average.
        loop {
            let numerals: Vec<u16> = (0..bits).rev().map(|b| ((number >> b) & 1) as u16).collect();
            let result = self.run(direction, 2, tweak, numerals)?;
            number = result.iter().fold(0u128, |acc, &bit| (acc << 1) | u128::from(bit));
            if number < space {
                break;
            }
        }
        let mut out = vec![0u128; classes.len()];
        for (slot, class) in out.iter_mut().zip(classes).rev() {
            *slot = number % class.radix();
            number /= class.radix();
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
enum CharClass {
    Digit,
    Upper,
    Lower,
}

impl CharClass {
    fn of(b: u8) -> Self {
        if b.is_ascii_digit() {
            CharClass::Digit
        } else if b.is_ascii_uppercase() {
            CharClass::Upper
        } else {
            CharClass::Lower
        }
    }
    fn radix(self) -> u128 {
        match self {
            CharClass::Digit => 10,
            CharClass::Upper | CharClass::Lower => 26,
        }
    }
    fn value(self, b: u8) -> u128 {
        u128::from(match self {
            CharClass::Digit => b - b'0',
            CharClass::Upper => b - b'A',
            CharClass::Lower => b - b'a',
        })
    }
    fn symbol(self, d: u128) -> u8 {
        let d = d as u8;
        match self {
            CharClass::Digit => b'0' + d,
            CharClass::Upper => b'A' + d,
            CharClass::Lower => b'a' + d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::{iban_remainder, luhn_valid};
    use proptest::prelude::*;

    const K128: &str = "2B7E151628AED2A6ABF7158809CF4F3C";
    const K192: &str = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
    const K256: &str = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
    const RADIX10: &str = "0123456789";
    const RADIX36: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// The nine FF1 samples published by NIST for SP 800-38G (AES-128, -192, -256; radix 10
    /// and 36; with and without tweak).
    #[test]
    fn nist_sp800_38g_ff1_samples() {
        let samples = [
            (K128, RADIX10, "", "0123456789", "2433477484"),
            (K128, RADIX10, "39383736353433323130", "0123456789", "6124200773"),
            (K128, RADIX36, "3737373770717273373737", "0123456789abcdefghi", "a9tv40mll9kdu509eum"),
            (K192, RADIX10, "", "0123456789", "2830668132"),
            (K192, RADIX10, "39383736353433323130", "0123456789", "2496655549"),
            (K192, RADIX36, "3737373770717273373737", "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"),
            (K256, RADIX10, "", "0123456789", "6657667009"),
            (K256, RADIX10, "39383736353433323130", "0123456789", "1001623463"),
            (K256, RADIX36, "3737373770717273373737", "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
        ];
        for (i, (key, alphabet, tweak, plain, cipher)) in samples.into_iter().enumerate() {
            let ff1 = Ff1Cipher::from_raw_key(&hex::decode(key).unwrap()).unwrap();
            let tweak = hex::decode(tweak).unwrap();
            assert_eq!(
                ff1.encrypt_text(alphabet, &tweak, plain).unwrap(),
                cipher,
                "sample {}",
                i + 1
            );
            assert_eq!(
                ff1.decrypt_text(alphabet, &tweak, cipher).unwrap(),
                plain,
                "sample {}",
                i + 1
            );
        }
    }

    fn cipher() -> Ff1Cipher {
        Ff1Cipher::new(
            &RootKey::from_bytes(&[3u8; 31].iter().chain(&[4]).copied().collect::<Vec<_>>())
                .unwrap(),
            "cards",
        )
    }

    #[test]
    fn raw_key_length_and_alphabet_errors() {
        assert_eq!(Ff1Cipher::from_raw_key(&[0; 15]).unwrap_err(), FpeError::KeyLength(15));
        let ff1 = cipher();
        assert!(matches!(
            ff1.encrypt_text(RADIX10, b"", "01234x6789"),
            Err(FpeError::NotInAlphabet { character: 'x', position: 5 })
        ));
        assert!(matches!(
            ff1.encrypt_shaped(Alphabet::Digits, b"", "12-345"),
            Err(FpeError::TooShort { .. })
        ));
        assert!(matches!(
            ff1.encrypt_shaped(Alphabet::Alphanumeric, b"", "ab1"),
            Err(FpeError::TooShort { .. })
        ));
    }

    #[test]
    fn shape_is_kept() {
        let ff1 = cipher();
        let out = ff1.encrypt_shaped(Alphabet::Alphanumeric, b"", "AB-12cd/ef 9Z").unwrap();
        assert_ne!(out, "AB-12cd/ef 9Z");
        let shape = |s: &str| {
            s.bytes()
                .map(|b| match CharClass::of(b) {
                    _ if !b.is_ascii_alphanumeric() => b,
                    CharClass::Digit => b'9',
                    CharClass::Upper => b'A',
                    CharClass::Lower => b'a',
                })
                .collect::<Vec<u8>>()
        };
        assert_eq!(shape(&out), shape("AB-12cd/ef 9Z"));
        let phone = ff1.encrypt_phone(b"", "+33 6 12 34 56 78", 2).unwrap();
        assert!(phone.starts_with("+33 "), "{phone}");
        assert_eq!(phone.len(), "+33 6 12 34 56 78".len());
    }

    #[test]
    fn card_luhn_and_iban_check_digits_are_regenerated() {
        let ff1 = cipher();
        let options = CardOptions { keep_leading_digits: 6, fix_luhn: true };
        let card = "4111 1111 1111 1111";
        let out = ff1.encrypt_card(b"", card, options).unwrap();
        assert!(out.starts_with("4111 11"));
        assert_ne!(out, card);
        let digits: Vec<u8> = out.bytes().filter(u8::is_ascii_digit).collect();
        assert!(luhn_valid(&digits), "{out}");
        assert_eq!(ff1.decrypt_card(b"", &out, options).unwrap(), card);

        let iban = "FR14 2004 1010 0505 0001 3M02 606";
        let out = ff1.encrypt_iban(b"", iban, true).unwrap();
        assert!(out.starts_with("FR"));
        assert_ne!(out, iban);
        let compact: Vec<u8> = out.bytes().filter(|&b| b != b' ').collect();
        assert_eq!(iban_remainder(&compact), Some(1), "{out}");
        assert_eq!(ff1.decrypt_iban(b"", &out, true).unwrap(), iban);
        assert!(ff1.encrypt_iban(b"", "fr14 2004", true).is_err());
    }

    proptest! {
        #[test]
        fn digits_round_trip(value in "[0-9]{6,40}", tweak in proptest::collection::vec(any::<u8>(), 0..8)) {
            let ff1 = cipher();
            let enc = ff1.encrypt_shaped(Alphabet::Digits, &tweak, &value).unwrap();
            prop_assert_eq!(enc.len(), value.len());
            prop_assert!(enc.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(ff1.decrypt_shaped(Alphabet::Digits, &tweak, &enc).unwrap(), value);
        }

        #[test]
        fn alphanumeric_round_trip(value in "[0-9A-Za-z -]{0,24}") {
            let ff1 = cipher();
            match ff1.encrypt_shaped(Alphabet::Alphanumeric, b"t", &value) {
                Ok(enc) => prop_assert_eq!(ff1.decrypt_shaped(Alphabet::Alphanumeric, b"t", &enc).unwrap(), value),
                Err(FpeError::TooShort { got }) => prop_assert!(got < 1_000_000),
                Err(FpeError::TooLong { .. }) => prop_assert!(value.len() > 20),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn numerals_round_trip(radix in 2u32..=62, len in 20usize..40, seed in any::<u64>()) {
            let ff1 = cipher();
            let numerals: Vec<u16> = (0..len).map(|i| ((seed >> (i % 60)) as u32 % radix) as u16).collect();
            let enc = ff1.encrypt_numerals(radix, b"", &numerals).unwrap();
            prop_assert_eq!(ff1.decrypt_numerals(radix, b"", &enc).unwrap(), numerals);
        }
    }
}
