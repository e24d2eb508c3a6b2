//! Export writing and offline verification: happy paths, erasure, previous
//! checkpoints, and one precise error per kind of damage.

use audit::export::{VerifyError, VerifyOptions, verify_export, verify_export_with};
use audit::merkle::consistency_proof_plan;
use audit::{Checkpoint, ExportLine, NoteSigner};

use crate::support::{Log, ORIGIN, signer};

fn verify(export: &str, checkpoint: &str) -> Result<audit::VerifySummary, VerifyError> {
    verify_export(export.as_bytes(), checkpoint, &signer().verifier_key(), None)
}

fn lines(export: &str) -> Vec<String> {
    export.split_inclusive('\n').map(str::to_owned).collect()
}

#[test]
fn whole_and_partial_exports_verify() {
    let log = Log::with_entries(37, 1);
    for (from, to, size) in
        [(0, 37, 37), (0, 10, 37), (5, 37, 37), (13, 29, 33), (16, 16, 20), (0, 0, 0)]
    {
        let (export, cp) = log.export(from, to, size);
        let s = verify(&export, &cp).unwrap_or_else(|e| panic!("[{from},{to}) of {size}: {e}"));
        assert_eq!(s.entries, to - from);
        assert_eq!(s.tree_size, size);
        assert_eq!(s.root, log.root_at(size));
        assert_eq!(s.first_index, (to > from).then_some(from));
        assert_eq!(s.last_index, (to > from).then(|| to - 1));
    }
    let (export, cp) = log.export(3, 9, 37);
    let s = verify(&export, &cp).unwrap();
    let text = s.to_string();
    assert!(
        text.starts_with("ok: 6 entries (indices 3..=8) in tree of size 37 with root "),
        "{text}"
    );
    assert!(!text.contains('\n'));
}

#[test]
fn erased_entries_still_verify_and_are_counted() {
    let mut log = Log::with_entries(25, 2);
    let before = log.root_at(25);
    let mut expected = 0u64;
    for e in log.entries.iter_mut().skip(4).step_by(3) {
        expected += e.erase_personal() as u64;
    }
    assert!(expected > 0);
    let (export, cp) = log.export(0, 25, 25);
    assert!(export.contains("\"erased\":true"));
    let s = verify(&export, &cp).unwrap();
    assert_eq!(s.erased_fields, expected);
    assert_eq!(s.root, before);
}

#[test]
fn previous_checkpoint_inside_the_export() {
    let log = Log::with_entries(40, 3);
    let (export, cp) = log.export(10, 30, 40);
    for size1 in [10, 11, 17, 29, 30] {
        let prev = log.checkpoint(size1);
        verify_export(export.as_bytes(), &cp, &signer().verifier_key(), Some(&prev))
            .unwrap_or_else(|e| panic!("size1 {size1}: {e}"));
    }
    // A previous checkpoint that forks from the exported history.
    let forked = Checkpoint { origin: ORIGIN.into(), size: 20, root: [9; 32], extensions: vec![] };
    let forked = signer().sign_checkpoint(&forked).unwrap();
    let err =
        verify_export(export.as_bytes(), &cp, &signer().verifier_key(), Some(&forked)).unwrap_err();
    assert!(matches!(err, VerifyError::PreviousRootMismatch { size: 20, .. }), "{err}");
}

#[test]
fn previous_checkpoint_outside_the_export_needs_a_proof() {
    let log = Log::with_entries(40, 4);
    let (export, cp) = log.export(10, 30, 40);
    let key = signer().verifier_key();
    for size1 in [0u64, 3, 9, 31, 40] {
        let prev = log.checkpoint(size1);
        let err = verify_export(export.as_bytes(), &cp, &key, Some(&prev)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "previous checkpoint size {size1} is outside the exported range [10, 30]; pass a consistency proof from size {size1} to 40 (verify_export_with)"
            )
        );
        let proof = if size1 == 0 {
            vec![]
        } else {
            consistency_proof_plan(size1, 40)
                .unwrap()
                .assemble(|id| log.nodes.get(&id).copied())
                .unwrap()
        };
        let options = VerifyOptions {
            previous_checkpoint: Some(&prev),
            consistency_proof: Some(&proof),
            expected_origin: Some(ORIGIN),
            ..VerifyOptions::default()
        };
        verify_export_with(export.as_bytes(), &cp, &key, &options)
            .unwrap_or_else(|e| panic!("size1 {size1}: {e}"));
        if size1 > 0 && size1 < 40 {
            let mut bad = proof.clone();
            bad[0][0] ^= 1;
            let options = VerifyOptions { consistency_proof: Some(&bad), ..options };
            let err = verify_export_with(export.as_bytes(), &cp, &key, &options).unwrap_err();
            assert!(matches!(err, VerifyError::Consistency { .. }), "{err}");
        }
    }
    let newer = Log::with_entries(41, 4).checkpoint(41);
    let err = verify_export(export.as_bytes(), &cp, &key, Some(&newer)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "previous checkpoint size 41 is larger than the checkpoint size 40"
    );
}

#[test]
fn checkpoint_errors_are_distinct() {
    let log = Log::with_entries(12, 5);
    let (export, cp) = log.export(0, 12, 12);
    let other = NoteSigner::from_seed(ORIGIN, [8; 32]).unwrap();
    let err = verify_export(export.as_bytes(), &cp, &other.verifier_key(), None).unwrap_err();
    assert!(err.to_string().starts_with("checkpoint: signed by "), "{err}");

    let options =
        VerifyOptions { expected_origin: Some("rampart.test/other"), ..Default::default() };
    let err =
        verify_export_with(export.as_bytes(), &cp, &signer().verifier_key(), &options).unwrap_err();
    assert!(err.to_string().starts_with("checkpoint: checkpoint origin "), "{err}");

    // A checkpoint of another tree with the same size, validly signed.
    let other_tree = Log::with_entries(12, 99);
    let other_cp = other_tree.checkpoint(12);
    let err = verify(&export, &other_cp).unwrap_err();
    assert!(matches!(err, VerifyError::TrailerCheckpointMismatch { .. }), "{err}");
    // Same, with the trailer swapped too: the recomputed root disagrees.
    let swapped = export
        .replace(&serde_json::to_string(&cp).unwrap(), &serde_json::to_string(&other_cp).unwrap());
    let err = verify(&swapped, &other_cp).unwrap_err();
    assert!(matches!(err, VerifyError::RootMismatch { size: 12, .. }), "{err}");

    // A checkpoint of another log (origin) signed by the same key.
    let foreign = Checkpoint {
        origin: "rampart.test/audit/elsewhere".into(),
        size: 12,
        root: log.root_at(12),
        extensions: vec![],
    };
    let foreign = signer().sign_checkpoint(&foreign).unwrap();
    let err = verify(&export, &foreign).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "header origin \"{ORIGIN}\" does not match checkpoint origin \"rampart.test/audit/elsewhere\""
        )
    );
}

#[test]
fn structural_damage_has_precise_errors() {
    let log = Log::with_entries(10, 6);
    let (export, cp) = log.export(2, 8, 10);
    let l = lines(&export);
    let join = |v: &[String]| v.concat();
    let check = |text: String, want: &str| {
        let err = verify(&text, &cp).unwrap_err().to_string();
        assert!(err.starts_with(want), "got {err:?}, want prefix {want:?}");
    };
    check(String::new(), "export is empty: no header line");
    check(
        export[..export.len() - 1].to_owned(),
        "line 8: truncated: the line does not end with a newline",
    );
    check(export[..export.len() - 40].to_owned(), "line 8: truncated");
    check(join(&l[..7]), "export ends after 7 lines without a trailer");
    check(join(&l[..4]), "export ends after 4 lines without a trailer");
    check(format!("{export}{}", l[7]), "line 9: data after the trailer");
    check(format!("{export}\n"), "line 9: data after the trailer");
    let mut v = l.clone();
    v.insert(3, "not json\n".into());
    check(join(&v), "line 4: invalid json: ");
    let mut v = l.clone();
    v.insert(3, "\n".into());
    check(join(&v), "line 4: invalid json: ");
    let mut v = l.clone();
    v.swap(2, 3);
    check(join(&v), "line 3: expected entry index 3, found 4");
    let mut v = l.clone();
    v.remove(2);
    check(join(&v), "line 3: expected entry index 3, found 4");
    let mut v = l.clone();
    v.insert(2, l[1].clone());
    check(join(&v), "line 3: expected entry index 3, found 2");
    let mut v = l.clone();
    v.remove(6);
    check(join(&v), "line 7: trailer after entry index 7 but the header announced entries up to 8");
    let mut v = l.clone();
    v.insert(7, ExportLine::entry(&log.entries[8]).unwrap().into_string());
    check(join(&v), "line 8: entry 8 is past the header's to_index 8");
    let mut v = l.clone();
    v.insert(3, l[0].clone());
    check(join(&v), "line 4: unexpected second header line");
    let mut v = l.clone();
    v.remove(0);
    check(join(&v), "line 1: expected a header line, found \"entry\"");
    let mut v = l.clone();
    v.insert(3, "{\"type\":\"comment\"}\n".into());
    check(join(&v), "line 4: unknown line type \"comment\"");
    let mut bytes = export.clone().into_bytes();
    let at = export.find("iam.").unwrap();
    bytes[at] = 0xff;
    let err = verify_export(&bytes[..], &cp, &signer().verifier_key(), None).unwrap_err();
    assert_eq!(err.to_string(), "line 2: not valid utf-8");
}

#[test]
fn field_damage_names_entry_and_field() {
    let log = Log::with_entries(10, 7);
    let (export, cp) = log.export(0, 10, 10);
    let l = lines(&export);
    let check = |line: usize, from: &str, to: &str, want: &str| {
        let mut v = l.clone();
        assert!(v[line].contains(from), "{from} not in line {line}: {}", v[line]);
        v[line] = v[line].replacen(from, to, 1);
        let err = verify(&v.concat(), &cp).unwrap_err().to_string();
        assert!(err.starts_with(want), "got {err:?}, want prefix {want:?}");
    };
    let e3 = &log.entries[3];
    let action = serde_json::to_string(&e3.action).unwrap();
    check(
        4,
        &format!("\"action\":{action}"),
        "\"action\":\"iam.other\"",
        &format!("entry 3: field action: line has \"iam.other\" but the leaf has {action}"),
    );
    check(4, "\"privileged\":", "\"privileged\":1,\"x\":", "line 5: invalid json: ");
    check(
        4,
        "\"actor_kind\":\"",
        "\"actor_kind\":\"robot",
        "entry 3: field actor_kind: unknown actor kind",
    );
    check(4, "\"time\":\"2024", "\"time\":\"2025", "entry 3: field time: line has \"2025");
    check(4, "Z\",\"actor_kind\"", "+00:00\",\"actor_kind\"", "entry 3: field time: ");
    check(
        4,
        "\"leaf\":\"A",
        "\"leaf\":\"B",
        "entry 3: field leaf: does not decode: unsupported leaf version",
    );
    check(4, "\"leaf\":\"", "\"leaf\":\"!", "entry 3: field leaf: not valid base64");
    check(
        0,
        "\"organization_id\":\"0192",
        "\"organization_id\":\"0193",
        "entry 0: field organization_id: header has ",
    );
    check(
        0,
        "\"organization_id\":\"0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "\"organization_id\":\"0192A1B2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "line 1: field organization_id: not a lowercase hyphenated uuid",
    );
    check(
        4,
        ",\"request_id\":",
        ",\"request_idx\":",
        "line 5: invalid json: unknown field `request_idx`",
    );
    // Removing a nullable field is not the same as null.
    let mut v = l.clone();
    let re = v[4].find(",\"reason\":").unwrap();
    let end = v[4][re + 1..].find(",\"").unwrap() + re + 1;
    v[4].replace_range(re..end, "");
    let err = verify(&v.concat(), &cp).unwrap_err().to_string();
    assert_eq!(err, "entry 3: field reason: missing");

    // Personal values: a changed value or salt breaks the commitment.
    let idx = (0..10)
        .find(|&i| matches!(log.entries[i].actor_label, audit::PersonalField::Present { .. }))
        .unwrap();
    check(
        idx + 1,
        "@example.com",
        "@example.org",
        &format!("entry {idx}: field actor_label: line has commitment "),
    );
    check(
        idx + 1,
        "\"actor_label\":{\"value\":",
        "\"actor_label\":{\"erased\":false,\"value\":",
        &format!("entry {idx}: field actor_label: expected"),
    );
}

/// Multi-batch exports give the same result, and the same first error, on
/// the inline path and with any number of worker threads.
#[test]
fn threads_do_not_change_results_or_errors() {
    let mut log = Log::with_entries(1100, 8);
    for e in log.entries.iter_mut().step_by(7) {
        e.erase_personal();
    }
    let (export, cp) = log.export(40, 1090, 1100);
    let l = lines(&export);
    let key = signer().verifier_key();
    let run = |text: &str, threads: usize| {
        let prev = log.checkpoint(700);
        let options =
            VerifyOptions { previous_checkpoint: Some(&prev), threads, ..Default::default() };
        verify_export_with(text.as_bytes(), &cp, &key, &options).map_err(|e| e.to_string())
    };
    let mut variants: Vec<String> = vec![export.clone()];
    // Damage at batch edges (batches hold 256 lines after the header).
    for at in [1usize, 256, 257, 258, 513, 700, 1049, 1050] {
        let mut v = l.clone();
        v[at] = v[at].replacen("\"action\":\"", "\"action\":\"x", 1);
        variants.push(v.concat());
        let mut v = l.clone();
        v.swap(at, at + 1);
        variants.push(v.concat());
        let mut v = l.clone();
        v.truncate(at);
        variants.push(v.concat());
    }
    variants.push(format!("{export}{}", l[5]));
    variants.push(export[..export.len() - 3].to_owned());
    for v in &variants {
        let inline = run(v, 1);
        assert_eq!(inline.is_ok(), v == &export, "{inline:?}");
        for threads in [2, 3, 5] {
            assert_eq!(run(v, threads), inline);
        }
    }
    let ok = run(&export, 2).unwrap();
    assert_eq!(ok.entries, 1050);
    assert_eq!(ok.erased_fields, run(&export, 1).unwrap().erased_fields);
    assert!(ok.erased_fields > 0);
}

#[test]
fn indices_near_the_top_of_u64_do_not_overflow() {
    // A header announcing the last possible leaves of a tree of 2^64 - 1,
    // followed by more lines than that: must fail cleanly, not overflow.
    let log = Log::with_entries(3, 9);
    let (export, _) = log.export(0, 3, 3);
    let l = lines(&export);
    let huge =
        Checkpoint { origin: ORIGIN.into(), size: u64::MAX, root: [3; 32], extensions: vec![] };
    let cp = signer().sign_checkpoint(&huge).unwrap();
    let left: Vec<String> = (0..63).map(|_| format!("\"{}\"", "A".repeat(43) + "=")).collect();
    let header = format!(
        "{{\"type\":\"header\",\"version\":1,\"organization_id\":\"0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\",\"origin\":\"{ORIGIN}\",\"from_index\":{},\"to_index\":{},\"left\":[{}]}}\n",
        u64::MAX - 1,
        u64::MAX,
        left.join(",")
    );
    let text = format!("{header}{}{}{}{}", l[1], l[1], l[2], l[3]);
    for threads in [1, 2] {
        let options = VerifyOptions { threads, ..Default::default() };
        let err = verify_export_with(text.as_bytes(), &cp, &signer().verifier_key(), &options)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "line 2: expected entry index {}, found 0 (entries must be contiguous and in order)",
                u64::MAX - 1
            )
        );
    }
}
