use iam::totp::{self, Algorithm, Totp, TotpConfig, TotpError, TotpSecret};
use proptest::prelude::*;

use crate::support::rng;

const SHA1_SEED: &[u8] = b"12345678901234567890";
const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

fn totp(seed: &[u8], algorithm: Algorithm, digits: u8) -> Totp {
    let config = TotpConfig { algorithm, digits, period: 30 };
    Totp::new(TotpSecret::from_bytes(seed.to_vec()).unwrap(), config).unwrap()
}

#[test]
fn rfc6238_appendix_b_vectors() {
    // (unix time, SHA-1, SHA-256, SHA-512), 8 digits, 30 s steps.
    let vectors: [(u64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];
    let sha1 = totp(SHA1_SEED, Algorithm::Sha1, 8);
    let sha256 = totp(SHA256_SEED, Algorithm::Sha256, 8);
    let sha512 = totp(SHA512_SEED, Algorithm::Sha512, 8);
    for (time, expected1, expected256, expected512) in vectors {
        assert_eq!(sha1.code_at(time).unwrap(), expected1, "SHA-1 at {time}");
        assert_eq!(sha256.code_at(time).unwrap(), expected256, "SHA-256 at {time}");
        assert_eq!(sha512.code_at(time).unwrap(), expected512, "SHA-512 at {time}");
        // And each verifies at its own time.
        let step = time / 30;
        assert_eq!(sha1.verify(expected1, time, None), Ok(step));
        assert_eq!(sha256.verify(expected256, time, None), Ok(step));
        assert_eq!(sha512.verify(expected512, time, None), Ok(step));
    }
}

#[test]
fn rfc4226_appendix_d_hotp_vectors() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        let counter = u64::try_from(counter).unwrap();
        assert_eq!(totp::hotp(SHA1_SEED, counter, Algorithm::Sha1, 6).unwrap(), *code);
    }
}

#[test]
fn hotp_refuses_unsupported_digit_counts() {
    assert_eq!(
        totp::hotp(SHA1_SEED, 0, Algorithm::Sha1, 5),
        Err(TotpError::InvalidDigits { digits: 5 })
    );
    assert_eq!(
        totp::hotp(SHA1_SEED, 0, Algorithm::Sha1, 9),
        Err(TotpError::InvalidDigits { digits: 9 })
    );
}

#[test]
fn config_is_validated() {
    let secret = TotpSecret::from_bytes(SHA1_SEED.to_vec()).unwrap();
    let bad_digits = TotpConfig { digits: 10, ..TotpConfig::default() };
    assert_eq!(Totp::new(secret.clone(), bad_digits), Err(TotpError::InvalidDigits { digits: 10 }));
    let bad_period = TotpConfig { period: 0, ..TotpConfig::default() };
    assert_eq!(Totp::new(secret, bad_period), Err(TotpError::InvalidPeriod));
    assert_eq!(
        TotpConfig::default(),
        TotpConfig { algorithm: Algorithm::Sha1, digits: 6, period: 30 }
    );
}

#[test]
fn secrets_are_random_long_enough_and_round_trip_through_base32() {
    let mut rng = rng(1);
    let a = TotpSecret::generate(&mut rng);
    let b = TotpSecret::generate(&mut rng);
    assert_eq!(a.as_bytes().len(), 20);
    assert_ne!(a, b);
    let encoded = a.to_base32();
    assert_eq!(encoded.len(), 32);
    assert!(!encoded.contains('='));
    assert_eq!(TotpSecret::from_base32(&encoded).unwrap(), a);
    assert_eq!(TotpSecret::from_base32(&encoded.to_lowercase()).unwrap(), a);
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap().as_bytes(),
        SHA1_SEED
    );
    assert_eq!(TotpSecret::from_base32("not base32!"), Err(TotpError::InvalidBase32));
    assert_eq!(TotpSecret::from_bytes(vec![0; 15]), Err(TotpError::SecretTooShort { len: 15 }));
    assert!(!format!("{a:?}").contains(&encoded));
}

#[test]
fn one_step_of_skew_is_accepted_either_way_and_two_are_not() {
    let t = totp(SHA1_SEED, Algorithm::Sha1, 6);
    let now = 1_700_000_000_u64;
    let step = now / 30;
    let at = |s: u64| t.code_at_step(s).unwrap();
    assert_eq!(t.verify(&at(step - 1), now, None), Ok(step - 1));
    assert_eq!(t.verify(&at(step), now, None), Ok(step));
    assert_eq!(t.verify(&at(step + 1), now, None), Ok(step + 1));
    assert_eq!(t.verify(&at(step - 2), now, None), Err(TotpError::InvalidCode));
    assert_eq!(t.verify(&at(step + 2), now, None), Err(TotpError::InvalidCode));
}

#[test]
fn step_boundaries_follow_the_period() {
    let t = totp(SHA1_SEED, Algorithm::Sha1, 6);
    // 59 is the last second of step 1; 60 starts step 2, where step 0's code is out of reach.
    assert_eq!(t.verify(&t.code_at_step(0).unwrap(), 59, None), Ok(0));
    assert_eq!(t.verify(&t.code_at_step(0).unwrap(), 60, None), Err(TotpError::InvalidCode));
    // Near the epoch there is no step before 0, and nothing underflows.
    assert_eq!(t.verify(&t.code_at_step(0).unwrap(), 0, None), Ok(0));
}

#[test]
fn a_used_step_and_older_ones_are_refused_as_replays() {
    let t = totp(SHA1_SEED, Algorithm::Sha1, 6);
    let now = 1_700_000_000_u64;
    let step = now / 30;
    let code = t.code_at(now).unwrap();
    let accepted = t.verify(&code, now, None).unwrap();
    assert_eq!(accepted, step);
    assert_eq!(t.verify(&code, now, Some(accepted)), Err(TotpError::Replayed));
    assert_eq!(t.verify(&code, now + 29, Some(accepted)), Err(TotpError::Replayed));
    // An older code still inside the skew window is a replay too, once a newer one was used.
    let previous = t.code_at_step(step - 1).unwrap();
    assert_eq!(t.verify(&previous, now, Some(accepted)), Err(TotpError::Replayed));
    // The next step's code is fresh.
    let next = t.code_at_step(step + 1).unwrap();
    assert_eq!(t.verify(&next, now, Some(accepted)), Ok(step + 1));
}

#[test]
fn malformed_codes_are_refused_before_any_comparison() {
    let t = totp(SHA1_SEED, Algorithm::Sha1, 6);
    for code in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "123-456"] {
        assert_eq!(
            t.verify(code, 59, None),
            Err(TotpError::MalformedCode { digits: 6 }),
            "{code:?}"
        );
    }
    // Spaces, as authenticator apps display the code, are fine.
    let code = t.code_at(1_700_000_000).unwrap();
    let spaced = format!(" {} {} ", &code[..3], &code[3..]);
    assert!(t.verify(&spaced, 1_700_000_000, None).is_ok());
}

#[test]
fn free_function_uses_the_defaults() {
    let secret = TotpSecret::from_bytes(SHA1_SEED.to_vec()).unwrap();
    // RFC 4226 counter 1 is the 6-digit code for step 1 (times 30 to 59).
    assert_eq!(totp::verify(&secret, "287082", 45, None), Ok(1));
    assert_eq!(totp::verify(&secret, "287082", 45, Some(1)), Err(TotpError::Replayed));
}

#[test]
fn provisioning_uri_encodes_label_and_parameters() {
    let config = TotpConfig { algorithm: Algorithm::Sha256, digits: 8, period: 60 };
    let t = Totp::new(TotpSecret::from_bytes(SHA1_SEED.to_vec()).unwrap(), config).unwrap();
    let uri = t.provisioning_uri("ACME Co & Sons", "alice+mfa@example.com").unwrap();
    assert_eq!(
        uri,
        "otpauth://totp/ACME%20Co%20%26%20Sons:alice%2Bmfa%40example.com\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co%20%26%20Sons\
         &algorithm=SHA256&digits=8&period=60"
    );
    let unicode =
        Totp::generate(&mut rng(2)).provisioning_uri("Zürich Bank", "bjørn/ops?#").unwrap();
    assert!(
        unicode.starts_with("otpauth://totp/Z%C3%BCrich%20Bank:bj%C3%B8rn%2Fops%3F%23?secret=")
    );
    assert!(unicode.ends_with("&issuer=Z%C3%BCrich%20Bank&algorithm=SHA1&digits=6&period=30"));
}

#[test]
fn provisioning_uri_refuses_colons_and_empty_parts() {
    let t = Totp::generate(&mut rng(3));
    assert_eq!(
        t.provisioning_uri("Evil:Issuer", "alice"),
        Err(TotpError::InvalidLabel { field: "issuer" })
    );
    assert_eq!(
        t.provisioning_uri("ACME", "a:b"),
        Err(TotpError::InvalidLabel { field: "account name" })
    );
    assert_eq!(t.provisioning_uri(" ", "alice"), Err(TotpError::InvalidLabel { field: "issuer" }));
}

#[test]
fn qr_code_is_an_svg_image() {
    let t = Totp::generate(&mut rng(4));
    let svg = t.qr_svg("Rampart", "alice@example.com").unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<path"));
    assert!(t.qr_svg("Ram:part", "alice").is_err());
}

#[test]
fn algorithm_names_match_the_key_uri_format() {
    assert_eq!(serde_json::to_string(&Algorithm::Sha512).unwrap(), "\"SHA512\"");
    let config: TotpConfig =
        serde_json::from_str(r#"{"algorithm":"SHA256","digits":7,"period":30}"#).unwrap();
    assert_eq!(config.algorithm, Algorithm::Sha256);
}

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)]
}

proptest! {
    #[test]
    fn a_code_verifies_at_its_own_time_and_not_two_steps_away(
        seed in proptest::collection::vec(any::<u8>(), 16..64),
        algorithm in algorithms(),
        digits in 6_u8..=8,
        period in prop_oneof![Just(30_u64), Just(60), 1_u64..=300],
        now in 1_000_u64..(1_u64 << 40),
    ) {
        let config = TotpConfig { algorithm, digits, period };
        let t = Totp::new(TotpSecret::from_bytes(seed).unwrap(), config).unwrap();
        let code = t.code_at(now).unwrap();
        let step = now / period;
        prop_assert_eq!(t.verify(&code, now, None), Ok(step));
        prop_assert_eq!(t.verify(&code, now, Some(step)), Err(TotpError::Replayed));
        // Two steps later or earlier the code is refused, unless it happens to equal the code
        // of a step that is in reach (a one-in-10^digits coincidence, not an acceptance of
        // the old step).
        for other in [now + 2 * period, now - 2 * period] {
            match t.verify(&code, other, None) {
                Err(TotpError::InvalidCode) => {}
                Ok(accepted) => {
                    prop_assert_ne!(accepted, step);
                    prop_assert_eq!(t.code_at_step(accepted).unwrap(), code.clone());
                }
                Err(other_error) => prop_assert!(false, "unexpected {other_error:?}"),
            }
        }
    }
}
