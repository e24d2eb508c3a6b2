//! Leaf format: golden bytes, round trip, erasure, canonical JSON and time.

use audit::entry::{
    EntryError, FieldDifference, canonical_json, canonical_time, commit, format_time, parse_time,
};
use audit::merkle::leaf_hash;
use audit::{ActorKind, Entry, Outcome, PersonalField, PersonalFieldName};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{org, sample_entry};

/// A fixed entry whose leaf bytes are pinned below: any format drift fails.
pub fn fixed_entry() -> Entry {
    Entry {
        organization_id: Uuid::parse_str("0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap(),
        index: 42,
        time: datetime!(2024-05-01 12:34:56.789012 UTC),
        actor_kind: ActorKind::User,
        actor_id: Some("u-1".into()),
        credential: Some("api_key:k9".into()),
        action: "iam.user.create".into(),
        resource_type: "user".into(),
        resource_id: None,
        outcome: Outcome::Denied,
        reason: Some("no".into()),
        request_id: None,
        privileged: true,
        actor_label: PersonalField::present("alice@example.com", [0x11; 16]),
        source_ip: PersonalField::Absent,
        user_agent: PersonalField::present("curl/8", [0x22; 16]),
        details: PersonalField::details(&serde_json::json!({"b": [1, "x"], "a": null}), [0x33; 16])
            .unwrap(),
    }
}

const GOLDEN_PREFIX: &str = concat!(
    "01",                               // version
    "0192a1b2c3d47e5f8a9b0c1d2e3f4a5b", // organization_id
    "000000000000002a",                 // index 42
    "00061763b6d3a614",                 // time: µs since epoch, i64 BE
    "01",                               // actor_kind user
    "01",
    "00000003",
    "752d31", // actor_id Some("u-1")
    "01",
    "0000000a",
    "6170695f6b65793a6b39", // credential
    "0000000f",
    "69616d2e757365722e637265617465", // action
    "00000004",
    "75736572", // resource_type
    "00",       // resource_id None
    "02",       // outcome denied
    "01",
    "00000002",
    "6e6f", // reason
    "00",   // request_id None
    "01",   // privileged
);

#[test]
fn golden_leaf_bytes() {
    let e = fixed_entry();
    let leaf = e.leaf_bytes().unwrap();
    let hex = hex::encode(&leaf);
    assert!(hex.starts_with(GOLDEN_PREFIX), "{hex}");
    // Personal part: tag, then commitment recomputed by hand from the doc.
    let by_hand = |code: u8, salt: [u8; 16], value: &str| {
        let mut h = Sha256::new();
        h.update(b"rampart.audit.personal.v1\0");
        h.update([code]);
        h.update(salt);
        h.update(value.as_bytes());
        hex::encode(h.finalize())
    };
    let personal = format!(
        concat!("01{}", "00" /* source_ip absent */, "01{}", "01{}"),
        by_hand(1, [0x11; 16], "alice@example.com"),
        by_hand(3, [0x22; 16], "curl/8"),
        by_hand(4, [0x33; 16], r#"{"a":null,"b":[1,"x"]}"#),
    );
    assert_eq!(&hex[GOLDEN_PREFIX.len()..], personal);
    // The whole leaf hash, pinned.
    assert_eq!(hex::encode(leaf_hash(&leaf)), GOLDEN_LEAF_HASH);
}

const GOLDEN_LEAF_HASH: &str = "de3a7b5409930d250dab192d50307e06c5119f4ec383b7e3bc44723bbf1a5463";

#[test]
fn time_field_is_micros_since_epoch() {
    let t = datetime!(2024-05-01 12:34:56.789012 UTC);
    assert_eq!((t.unix_timestamp_nanos() / 1000) as i64, 0x00061763b6d3a614);
}

#[test]
fn decode_round_trip_and_erasure() {
    let mut rng = StdRng::seed_from_u64(3);
    for i in 0..200 {
        let mut e = sample_entry(org(), i, &mut rng);
        let leaf = e.leaf_bytes().unwrap();
        let decoded = Entry::from_leaf_bytes(&leaf).unwrap();
        assert_eq!(decoded.leaf_bytes().unwrap(), leaf);
        assert_eq!(e.first_difference(&decoded), None);
        let present = e
            .personal_fields()
            .iter()
            .filter(|(_, f)| matches!(f, PersonalField::Present { .. }))
            .count();
        assert_eq!(e.erase_personal(), present);
        assert_eq!(e.erase_personal(), 0);
        assert_eq!(e.leaf_bytes().unwrap(), leaf, "erasure must not change the leaf");
        assert_eq!(e, decoded, "an erased entry is exactly what the leaf holds");
    }
}

#[test]
fn first_difference_names_the_field() {
    let a = fixed_entry();
    let mut b = a.clone();
    b.reason = Some("yes".into());
    assert_eq!(
        a.first_difference(&b),
        Some(FieldDifference {
            field: "reason",
            left: "Some(\"no\")".into(),
            right: "Some(\"yes\")".into()
        })
    );
    let mut c = a.clone();
    c.user_agent = PersonalField::present("curl/9", [0x22; 16]);
    assert_eq!(a.first_difference(&c).unwrap().field, "user_agent");
}

#[test]
fn absent_and_empty_and_erased_are_distinct() {
    let base = fixed_entry();
    let mut empty = base.clone();
    empty.source_ip = PersonalField::present("", [0; 16]);
    assert_ne!(base.leaf_bytes().unwrap(), empty.leaf_bytes().unwrap());
    let mut none = base.clone();
    none.reason = None;
    let mut blank = base.clone();
    blank.reason = Some(String::new());
    assert_ne!(none.leaf_bytes().unwrap(), blank.leaf_bytes().unwrap());
    // Same value and salt in two fields commit differently (domain separation).
    assert_ne!(
        commit(PersonalFieldName::ActorLabel, &[1; 16], "x"),
        commit(PersonalFieldName::SourceIp, &[1; 16], "x")
    );
}

#[test]
fn leaf_decoding_rejects_malformed_bytes() {
    let leaf = fixed_entry().leaf_bytes().unwrap();
    assert_eq!(Entry::from_leaf_bytes(&[2]), Err(EntryError::Version(2)));
    assert_eq!(
        Entry::from_leaf_bytes(&leaf[..leaf.len() - 1]),
        Err(EntryError::Leaf { offset: leaf.len() - 32, reason: "truncated" })
    );
    let mut extra = leaf.clone();
    extra.push(0);
    assert_eq!(
        Entry::from_leaf_bytes(&extra),
        Err(EntryError::Leaf { offset: leaf.len(), reason: "trailing bytes" })
    );
    let mut bad_kind = leaf.clone();
    bad_kind[33] = 9;
    assert_eq!(
        Entry::from_leaf_bytes(&bad_kind),
        Err(EntryError::Leaf { offset: 33, reason: "unknown actor kind" })
    );
    let mut bad_tag = leaf.clone();
    bad_tag[34] = 2;
    assert_eq!(
        Entry::from_leaf_bytes(&bad_tag),
        Err(EntryError::Leaf { offset: 34, reason: "option tag is not 0 or 1" })
    );
}

#[test]
fn canonical_json_rules() {
    let v = serde_json::json!({"b": {"z": 1, "y": [true, false, null]}, "a": "é\"\n\u{1}", "B": -3, "é": 0});
    assert_eq!(
        canonical_json(&v).unwrap(),
        r#"{"B":-3,"a":"é\"\n\u0001","b":{"y":[true,false,null],"z":1},"é":0}"#
    );
    let float = serde_json::json!({"x": 1.5});
    assert_eq!(
        canonical_json(&float).unwrap_err().to_string(),
        "field details: number 1.5 is not an integer"
    );
    assert!(PersonalField::details(&serde_json::json!([1]), [0; 16]).is_err());
    let mut e = fixed_entry();
    e.details = PersonalField::present(r#"{"b":1, "a":2}"#, [0; 16]);
    assert_eq!(
        e.leaf_bytes().unwrap_err().to_string(),
        "field details: is not in canonical form (sorted keys, no whitespace)"
    );
}

#[test]
fn time_is_canonical() {
    let t = datetime!(2024-05-01 12:34:56.789012345 UTC);
    let mut e = fixed_entry();
    e.time = t;
    assert_eq!(
        e.leaf_bytes().unwrap_err().to_string(),
        "field time: has sub-microsecond precision; use canonical_time"
    );
    e.time = canonical_time(t);
    e.leaf_bytes().unwrap();
    // Another offset for the same instant encodes identically.
    let mut f = fixed_entry();
    f.time = datetime!(2024-05-01 14:34:56.789012 +02:00);
    assert_eq!(f.leaf_bytes().unwrap(), fixed_entry().leaf_bytes().unwrap());
    assert_eq!(format_time(f.time).unwrap(), "2024-05-01T12:34:56.789012Z");
    for bad in [
        "2024-05-01T12:34:56.789Z",
        "2024-05-01T12:34:56.789012+00:00",
        "2024-05-01t12:34:56.789012Z",
        "2024-02-30T12:34:56.789012Z",
        "2024-05-01T24:00:00.000000Z",
        "2024-05-01T12:34:60.000000Z",
        "+024-05-01T12:34:56.789012Z",
    ] {
        assert!(parse_time(bad).is_err(), "{bad}");
    }
    let mut far = fixed_entry();
    far.time = datetime!(-0001-01-01 00:00:00 UTC);
    assert_eq!(
        far.leaf_bytes().unwrap_err().to_string(),
        "field time: year -1 is outside 0000-9999"
    );
}

#[test]
fn debug_redacts_personal_values() {
    let e = fixed_entry();
    let s = format!("{e:?}");
    assert!(!s.contains("alice@example.com"), "{s}");
    assert!(s.contains("Present(17 bytes, redacted)"));
}
