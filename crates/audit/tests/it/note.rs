//! Signed notes and checkpoints: round trip and every rejection.

use audit::merkle::Hash;
use audit::note::{Checkpoint, NoteError, NoteSigner, NoteVerifier, open};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

const NAME: &str = "rampart.test/audit/log";

fn checkpoint() -> Checkpoint {
    Checkpoint { origin: NAME.to_owned(), size: 20852163, root: [0xab; 32], extensions: vec![] }
}

fn signer() -> NoteSigner {
    NoteSigner::from_seed(NAME, [42; 32]).unwrap()
}

fn signed() -> String {
    signer().sign_checkpoint(&checkpoint()).unwrap()
}

#[test]
fn round_trip() {
    let s = signer();
    let note = signed();
    let body = checkpoint().to_body();
    assert_eq!(body, format!("{NAME}\n20852163\n{}\n", B64.encode([0xab; 32])));
    assert!(note.starts_with(&format!("{body}\n\u{2014} {NAME} ")));
    assert!(note.ends_with('\n'));
    let v = NoteVerifier::from_verifier_key(&s.verifier_key()).unwrap();
    assert_eq!(v.verifier_key(), s.verifier_key());
    assert_eq!(open(&note, &v, Some(NAME)).unwrap(), checkpoint());
    assert_eq!(open(&note, &v, None).unwrap(), checkpoint());
    assert_eq!(Checkpoint::parse_body(&body).unwrap(), checkpoint());

    let with_ext =
        Checkpoint { extensions: vec!["ext one".into(), "— two".into()], ..checkpoint() };
    let note = s.sign_checkpoint(&with_ext).unwrap();
    assert_eq!(open(&note, &v, Some(NAME)).unwrap(), with_ext);
}

#[test]
fn key_id_and_verifier_key_follow_the_spec() {
    let s = signer();
    let public = s.verifier().verifier_key();
    let parts: Vec<&str> = public.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3);
    let raw = B64.decode(parts[2]).unwrap();
    assert_eq!(raw.len(), 33);
    assert_eq!(raw[0], 0x01);
    let mut h = Sha256::new();
    h.update(NAME.as_bytes());
    h.update([b'\n', 0x01]);
    h.update(&raw[1..]);
    let digest: Hash = h.finalize().into();
    assert_eq!(parts[1], hex::encode(&digest[..4]));
    assert_eq!(s.key_id(), digest[..4]);
    // The signature blob is key id ‖ 64-byte signature.
    let note = signed();
    let sig_b64 = note.trim_end().rsplit(' ').next().unwrap();
    let blob = B64.decode(sig_b64).unwrap();
    assert_eq!(blob.len(), 68);
    assert_eq!(blob[..4], digest[..4]);
}

#[test]
fn generate_and_seed_round_trip() {
    let mut rng = StdRng::seed_from_u64(1);
    let a = NoteSigner::generate("example.com/log", &mut rng).unwrap();
    let b = NoteSigner::from_seed("example.com/log", a.seed()).unwrap();
    assert_eq!(a.verifier_key(), b.verifier_key());
    let c = NoteSigner::generate("example.com/log", &mut rng).unwrap();
    assert_ne!(a.verifier_key(), c.verifier_key());
    assert!(!format!("{a:?}").contains(&hex::encode(a.seed())));
}

#[test]
fn name_rules() {
    for bad in ["", "a b", "a+b", "tab\tname", "ideographic\u{3000}space", "nl\n"] {
        assert_eq!(
            NoteSigner::from_seed(bad, [1; 32]).unwrap_err(),
            NoteError::InvalidKeyName(bad.to_owned())
        );
    }
    NoteSigner::from_seed("ok.example/with-dash_and.dots/é", [1; 32]).unwrap();
}

fn verifier() -> NoteVerifier {
    signer().verifier()
}

#[test]
fn rejects_wrong_key_with_same_name() {
    let other = NoteSigner::from_seed(NAME, [43; 32]).unwrap();
    let note = other.sign_checkpoint(&checkpoint()).unwrap();
    assert!(matches!(open(&note, &verifier(), None), Err(NoteError::WrongKey { .. })));
}

#[test]
fn rejects_unknown_signer() {
    let other = NoteSigner::from_seed("someone.else/log", [42; 32]).unwrap();
    let note = other.sign_checkpoint(&checkpoint()).unwrap();
    let err = open(&note, &verifier(), None).unwrap_err();
    assert_eq!(
        err,
        NoteError::UnknownSigner { expected: NAME.into(), found: "someone.else/log".into() }
    );
}

#[test]
fn ignores_unknown_signatures_next_to_a_good_one() {
    let other = NoteSigner::from_seed("witness.example/w1", [9; 32]).unwrap();
    let extra = other.sign_checkpoint(&checkpoint()).unwrap();
    let extra_line = extra.lines().last().unwrap();
    let note = format!("{}{extra_line}\n", signed());
    assert_eq!(open(&note, &verifier(), None).unwrap(), checkpoint());
}

#[test]
fn rejects_bad_signature() {
    let note = signed();
    let sig_b64 = note.trim_end().rsplit(' ').next().unwrap();
    let mut blob = B64.decode(sig_b64).unwrap();
    blob[10] ^= 1;
    let tampered = note.replace(sig_b64, &B64.encode(&blob));
    assert!(matches!(open(&tampered, &verifier(), None), Err(NoteError::BadSignature { .. })));
    // A changed body with the original signature.
    let tampered = note.replace("20852163", "20852164");
    assert!(matches!(open(&tampered, &verifier(), None), Err(NoteError::BadSignature { .. })));
    // A bad signature from the known key is fatal even next to a good one.
    let good_line = note.lines().last().unwrap().to_owned();
    let bad_line = good_line.replace(sig_b64, &B64.encode(&blob));
    let both = format!("{}{}\n", note, bad_line);
    assert!(matches!(open(&both, &verifier(), None), Err(NoteError::BadSignature { .. })));
    let _ = good_line;
}

#[test]
fn rejects_wrong_origin() {
    let err = open(&signed(), &verifier(), Some("rampart.test/audit/other")).unwrap_err();
    assert_eq!(
        err,
        NoteError::OriginMismatch {
            expected: "rampart.test/audit/other".into(),
            found: NAME.into()
        }
    );
}

/// Signs an arbitrary body so body-level errors are reached after the
/// signature check passes.
fn signed_text(body: &str) -> String {
    signer().sign(body).unwrap()
}

#[test]
fn rejects_unparsable_size_and_root() {
    let root = B64.encode([1u8; 32]);
    for size in ["012", "-1", "1a", "", "18446744073709551616", " 1", "+1"] {
        let note = signed_text(&format!("{NAME}\n{size}\n{root}\n"));
        assert_eq!(
            open(&note, &verifier(), None),
            Err(NoteError::InvalidSize(size.into())),
            "{size}"
        );
    }
    let short = B64.encode([1u8; 31]);
    let mut noncanonical = root.clone();
    noncanonical.replace_range(42..43, "F"); // last char carries 2 unused bits
    for bad_root in [short.as_str(), "not base64!", noncanonical.as_str(), ""] {
        let note = signed_text(&format!("{NAME}\n5\n{bad_root}\n"));
        assert_eq!(open(&note, &verifier(), None), Err(NoteError::InvalidRoot(bad_root.into())));
    }
    let note = signed_text(&format!("{NAME}\n5\n"));
    assert_eq!(open(&note, &verifier(), None), Err(NoteError::TooFewLines(2)));
    let note = signed_text(&format!("\n5\n{root}\n"));
    assert_eq!(open(&note, &verifier(), None), Err(NoteError::EmptyOrigin));
    let note = signed_text(&format!("{NAME}\n5\n{root}\n\next\n"));
    assert_eq!(open(&note, &verifier(), None), Err(NoteError::InvalidExtension(1)));
}

#[test]
fn rejects_malformed_signature_lines_and_trailing_garbage() {
    let note = signed();
    let cases: Vec<(String, NoteError)> = vec![
        (
            format!("{note}garbage\n"),
            NoteError::MalformedSignatureLine {
                line: 2,
                reason: "does not start with an em dash and a space",
            },
        ),
        (format!("{note}garbage"), NoteError::MissingFinalNewline),
        (format!("{note}\n"), NoteError::MalformedSignatureLine { line: 1, reason: "missing" }),
        (
            note.replacen("\u{2014} ", "- ", 1),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "does not start with an em dash and a space",
            },
        ),
        (
            note.replacen(&format!("{NAME} "), &format!("{NAME}  "), 1),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "expected a key name and a signature separated by one space",
            },
        ),
        (
            note.trim_end().to_owned() + "!\n",
            NoteError::MalformedSignatureLine { line: 1, reason: "signature is not valid base64" },
        ),
        (note.replace("\n\n", "\n"), NoteError::MissingSignatureBlock),
        (
            note.replacen("20852163", "2085\r2163", 1),
            NoteError::ControlCharacter { offset: NAME.len() + 5, byte: b'\r' },
        ),
        (
            format!("{}\n\u{2014} {NAME} AAAA\n", note.trim_end()),
            NoteError::MalformedSignatureLine {
                line: 2,
                reason: "signature is shorter than a key id and one byte",
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(open(&text, &verifier(), None), Err(want), "{text:?}");
    }
}

#[test]
fn rejects_too_many_signatures() {
    let other = NoteSigner::from_seed("w.example/x", [3; 32]).unwrap();
    let line = other.sign_checkpoint(&checkpoint()).unwrap().lines().last().unwrap().to_owned();
    let mut note = signed();
    for _ in 0..100 {
        note.push_str(&line);
        note.push('\n');
    }
    assert_eq!(open(&note, &verifier(), None), Err(NoteError::TooManySignatures(101)));
}

#[test]
fn rejects_malformed_verifier_keys() {
    let good = signer().verifier_key();
    let parts: Vec<&str> = good.splitn(3, '+').collect();
    let other_key = NoteSigner::from_seed(NAME, [5; 32]).unwrap().verifier_key();
    let other_b64 = other_key.splitn(3, '+').nth(2).unwrap();
    let mut raw = B64.decode(parts[2]).unwrap();
    raw[0] = 0x04;
    let cases = [
        format!("{}+{}", parts[0], parts[1]),
        format!("{good}+extra"),
        format!("{}+{}+{}", parts[0], parts[1].to_uppercase(), parts[2]),
        format!("{}+1234567+{}", parts[0], parts[2]),
        format!("{}+{}+not*base64", parts[0], parts[1]),
        format!("{}+{}+{}", parts[0], parts[1], B64.encode(&raw)),
        format!("{}+{}+{}", parts[0], parts[1], other_b64),
        format!("bad name+{}+{}", parts[1], parts[2]),
    ];
    let errs: Vec<String> =
        cases.iter().map(|c| NoteVerifier::from_verifier_key(c).unwrap_err().to_string()).collect();
    assert!(errs[5].contains("unsupported key type 0x04"), "{}", errs[5]);
    assert!(errs[6].starts_with("verifier key id "), "{}", errs[6]);
}

#[test]
fn signing_refuses_invalid_texts() {
    let s = signer();
    assert_eq!(s.sign(""), Err(NoteError::EmptyText));
    assert_eq!(s.sign("no newline"), Err(NoteError::MissingFinalNewline));
    assert_eq!(s.sign("bell\u{7}\n"), Err(NoteError::ControlCharacter { offset: 4, byte: 7 }));
    let bad = Checkpoint { origin: "a\nb".into(), ..checkpoint() };
    assert_eq!(s.sign_checkpoint(&bad), Err(NoteError::OriginHasNewline));
    let bad = Checkpoint { extensions: vec![String::new()], ..checkpoint() };
    assert_eq!(s.sign_checkpoint(&bad), Err(NoteError::InvalidExtension(1)));
}
