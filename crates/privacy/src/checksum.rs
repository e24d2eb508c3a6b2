//! Check-digit algorithms shared by the detectors and the format-preserving helpers.

/// Whether the ASCII digits of `digits` pass the Luhn (mod 10) check. Bytes that are not ASCII
/// digits make the check fail; an empty input fails.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    luhn_sum(digits, false).is_multiple_of(10)
}

/// The Luhn check digit to append to the ASCII digits `payload`.
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum = luhn_sum(payload, true);
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// The Luhn sum of `digits`; when `doubling_last` the rightmost digit is doubled (it is the
/// payload of a number whose check digit is still to be appended).
fn luhn_sum(digits: &[u8], doubling_last: bool) -> u32 {
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if (i % 2 == 0) == doubling_last {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum
}

/// The remainder modulo 97 of the decimal number written by the ASCII digits of `digits`, or
/// `None` if a byte is not a digit.
pub fn mod97_of_digits(digits: &[u8]) -> Option<u32> {
    let mut rem = 0u32;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        rem = (rem * 10 + u32::from(b - b'0')) % 97;
    }
    Some(rem)
}

/// The IBAN mod-97 remainder (ISO 13616 / ISO 7064) of a compact IBAN (no spaces): the first
/// four characters are moved to the end and letters become 10..=35. `None` on a character that
/// is neither an ASCII digit nor an ASCII uppercase letter.
pub fn iban_remainder(compact: &[u8]) -> Option<u32> {
    if compact.len() < 4 {
        return None;
    }
    let rotated = compact[4..].iter().chain(&compact[..4]);
    let mut rem = 0u32;
    for &b in rotated {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return None,
        }
    }
    Some(rem)
}

/// The two IBAN check digits for a compact IBAN whose check digits (positions 2 and 3) are
/// ignored.
pub fn iban_check_digits(compact: &[u8]) -> Option<[u8; 2]> {
    if compact.len() < 5 {
        return None;
    }
    let mut probe = compact.to_vec();
    probe[2] = b'0';
    probe[3] = b'0';
    let check = 98 - iban_remainder(&probe)?;
    Some([b'0' + (check / 10) as u8, b'0' + (check % 10) as u8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn luhn_known_numbers() {
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert!(luhn_valid(b"4111111111111111"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"4111a11111111111"));
        assert_eq!(luhn_check_digit(b"7992739871"), b'3');
    }

    #[test]
    fn iban_known_numbers() {
        assert_eq!(iban_remainder(b"GB82WEST12345698765432"), Some(1));
        assert_eq!(iban_remainder(b"FR1420041010050500013M02606"), Some(1));
        assert_eq!(iban_remainder(b"GB82WEST12345698765433").map(|r| r == 1), Some(false));
        assert_eq!(iban_check_digits(b"GB00WEST12345698765432"), Some(*b"82"));
        assert_eq!(iban_remainder(b"gb82"), None);
    }

    proptest! {
        #[test]
        fn appended_luhn_digit_validates(payload in "[0-9]{1,30}") {
            let mut number = payload.clone().into_bytes();
            number.push(luhn_check_digit(payload.as_bytes()));
            prop_assert!(luhn_valid(&number));
            // Changing any single digit breaks the check.
            let last = number.len() - 1;
            number[last] = b'0' + (number[last] - b'0' + 1) % 10;
            prop_assert!(!luhn_valid(&number));
        }

        #[test]
        fn computed_iban_check_digits_validate(country in "[A-Z]{2}", bban in "[0-9A-Z]{10,30}") {
            let mut iban = format!("{country}00{bban}").into_bytes();
            let check = iban_check_digits(&iban).unwrap();
            iban[2] = check[0];
            iban[3] = check[1];
            prop_assert_eq!(iban_remainder(&iban), Some(1));
        }
    }
}
