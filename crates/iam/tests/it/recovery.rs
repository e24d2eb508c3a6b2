use std::collections::HashSet;

use iam::recovery::{self, CODE_COUNT, CODE_SYMBOLS, RecoveryError, StoredRecoveryCode};
use time::Duration;

use crate::support::{T0, rng};

const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[test]
fn a_set_is_ten_distinct_codes_of_at_least_112_bits() {
    const { assert!(CODE_SYMBOLS * 5 >= 112, "ASVS 5.0 V6.5.2 allows a plain hash only from 112 bits") };
    let (shown, stored) = recovery::generate(&mut rng(10));
    assert_eq!(shown.len(), CODE_COUNT);
    assert_eq!(stored.len(), CODE_COUNT);
    assert_eq!(shown.iter().collect::<HashSet<_>>().len(), CODE_COUNT);
    assert_eq!(
        stored.iter().map(StoredRecoveryCode::hash_hex).collect::<HashSet<_>>().len(),
        CODE_COUNT
    );
    for code in &shown {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 6, "{code}");
        assert!(groups.iter().all(|g| g.len() == 4), "{code}");
        assert!(code.chars().filter(|c| *c != '-').all(|c| ALPHABET.contains(c)), "{code}");
    }
    assert!(stored.iter().all(|c| !c.is_used()));
    assert_eq!(recovery::remaining(&stored), CODE_COUNT);
}

#[test]
fn what_is_stored_is_a_digest_not_the_code() {
    let (shown, stored) = recovery::generate(&mut rng(11));
    for (code, stored) in shown.iter().zip(&stored) {
        let hex = stored.hash_hex();
        assert_eq!(hex.len(), 64);
        assert!(!hex.to_uppercase().contains(&code.replace('-', "")));
        let json = serde_json::to_string(stored).unwrap();
        assert!(!json.contains(&code.replace('-', "")));
    }
}

#[test]
fn each_code_redeems_once_whatever_its_formatting() {
    let (shown, mut stored) = recovery::generate(&mut rng(12));
    for (index, code) in shown.iter().enumerate() {
        // Lower case, no dashes, spaces instead, and the confusable letters for 0 and 1.
        let typed = code.to_lowercase().replace('-', " ").replace('0', "o").replace('1', "l");
        let when = T0 + Duration::minutes(i64::try_from(index).unwrap());
        assert_eq!(recovery::redeem(&typed, &mut stored, when), Ok(index));
        assert_eq!(stored[index].used_at(), Some(when));
        assert_eq!(recovery::redeem(code, &mut stored, when), Err(RecoveryError::AlreadyUsed));
        assert_eq!(recovery::remaining(&stored), CODE_COUNT - index - 1);
    }
    // The fixture did exercise the confusable mapping.
    assert!(shown.iter().any(|c| c.contains('0') || c.contains('1')));
}

#[test]
fn a_code_from_another_set_or_a_bad_shape_is_refused() {
    let (_, mut mine) = recovery::generate(&mut rng(13));
    let (theirs, _) = recovery::generate(&mut rng(14));
    assert_eq!(recovery::redeem(&theirs[0], &mut mine, T0), Err(RecoveryError::InvalidCode));
    for bad in [
        "",
        "ABCD-EFGH-JKMN",
        "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345",
        "ABCD-EFGH-JKMN-PQRS-TVWX-YZ0U",
    ] {
        assert_eq!(recovery::redeem(bad, &mut mine, T0), Err(RecoveryError::Malformed), "{bad:?}");
    }
    assert!(mine.iter().all(|c| !c.is_used()));
}

#[test]
fn an_empty_set_redeems_nothing() {
    let (shown, _) = recovery::generate(&mut rng(15));
    assert_eq!(recovery::redeem(&shown[0], &mut [], T0), Err(RecoveryError::InvalidCode));
}

#[test]
fn stored_codes_round_trip_through_their_columns_and_json() {
    let (shown, mut stored) = recovery::generate(&mut rng(16));
    recovery::redeem(&shown[3], &mut stored, T0).unwrap();
    for code in &stored {
        let rebuilt = StoredRecoveryCode::from_parts(&code.hash_hex(), code.used_at()).unwrap();
        assert_eq!(&rebuilt, code);
        let json = serde_json::to_string(code).unwrap();
        assert_eq!(&serde_json::from_str::<StoredRecoveryCode>(&json).unwrap(), code);
    }
    let mut reloaded: Vec<StoredRecoveryCode> =
        serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
    assert_eq!(recovery::redeem(&shown[3], &mut reloaded, T0), Err(RecoveryError::AlreadyUsed));
    assert_eq!(recovery::redeem(&shown[4], &mut reloaded, T0), Ok(4));
    assert_eq!(StoredRecoveryCode::from_parts("abc", None), Err(RecoveryError::InvalidStoredHash));
    assert!(serde_json::from_str::<StoredRecoveryCode>(r#"{"hash":"zz","used_at":null}"#).is_err());
}

#[test]
fn error_messages_do_not_repeat_the_code() {
    let (shown, mut stored) = recovery::generate(&mut rng(17));
    let (other, _) = recovery::generate(&mut rng(18));
    let err = recovery::redeem(&other[0], &mut stored, T0).unwrap_err();
    assert!(!err.to_string().contains(&other[0]));
    recovery::redeem(&shown[0], &mut stored, T0).unwrap();
    let err = recovery::redeem(&shown[0], &mut stored, T0).unwrap_err();
    assert!(!err.to_string().contains(&shown[0]));
}
