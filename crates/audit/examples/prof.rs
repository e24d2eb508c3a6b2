#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use audit::entry::canonical_time;
use audit::merkle::{CompactRange, leaf_hash};
use audit::{
    ActorKind, Checkpoint, Entry, ExportHeader, ExportLine, ExportTrailer, NoteSigner, Outcome,
    PersonalField,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::BufRead;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;
const ORIGIN: &str = "rampart.bench/audit/org";
const ENTRIES: u64 = 1_000_000;
const TREE: u64 = 10_000_000;

fn entry(org: Uuid, index: u64, rng: &mut StdRng) -> Entry {
    let mut salt = || rng.r#gen::<[u8; 16]>();
    let (s1, s2, s3, s4) = (salt(), salt(), salt(), salt());
    let time = OffsetDateTime::from_unix_timestamp(1_717_000_000).unwrap()
        + Duration::from_micros(index * 1_234);
    let details = serde_json::json!({"ip_country": "DE", "role": "admin", "attempt": index % 5});
    let mut e = Entry {
        organization_id: org,
        index,
        time: canonical_time(time),
        actor_kind: ActorKind::User,
        actor_id: Some(format!("usr_{:08}", index % 5000)),
        credential: Some("session".to_owned()),
        action: "iam.user.update".to_owned(),
        resource_type: "user".to_owned(),
        resource_id: Some(format!("usr_{:08}", (index * 7) % 5000)),
        outcome: if index.is_multiple_of(17) { Outcome::Denied } else { Outcome::Success },
        reason: index.is_multiple_of(17).then(|| "missing permission iam.user.update".to_owned()),
        request_id: Some(format!("req_{index:016x}")),
        privileged: index.is_multiple_of(11),
        actor_label: PersonalField::present(format!("user{}@example.com", index % 5000), s1),
        source_ip: PersonalField::present("203.0.113.42", s2),
        user_agent: PersonalField::present("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", s3),
        details: PersonalField::details(&details, s4).unwrap(),
    };
    if index.is_multiple_of(10) {
        e.erase_personal();
    }
    e
}

/// The whole export as one buffer, plus its checkpoint and verifier key.
fn build_export() -> (Vec<u8>, String, String) {
    let org = Uuid::from_u128(0x0192_a1b2_c3d4_7e5f_8a9b_0c1d_2e3f_4a5b);
    let signer = NoteSigner::from_seed(ORIGIN, [1; 32]).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut range = CompactRange::new_empty(0);
    let mut body = Vec::with_capacity(ENTRIES as usize * 900);
    for i in 0..ENTRIES {
        let e = entry(org, i, &mut rng);
        let line = ExportLine::entry(&e).unwrap();
        range.append(leaf_hash(&e.leaf_bytes().unwrap()), &mut |_, _| {}).unwrap();
        body.extend_from_slice(line.as_str().as_bytes());
    }
    let cp = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: ENTRIES,
        root: range.root().unwrap(),
        extensions: vec![],
    };
    let note = signer.sign_checkpoint(&cp).unwrap();
    let header = ExportHeader {
        organization_id: org,
        origin: ORIGIN.to_owned(),
        from_index: 0,
        to_index: ENTRIES,
        left: vec![],
    };
    let mut out = header.to_line().into_bytes();
    out.extend_from_slice(&body);
    out.extend_from_slice(
        ExportTrailer { right: vec![], checkpoint: note.clone() }.to_line().as_bytes(),
    );
    (out, note, signer.verifier_key())
}

fn main() {
    let path = "/tmp/audit-1m.jsonl";
    let (export, note, key) = if std::path::Path::new(path).exists() {
        let e = std::fs::read(path).unwrap();
        let meta = std::fs::read_to_string("/tmp/audit-1m.meta").unwrap();
        let (n, k) = meta.split_once("\n@@\n").unwrap();
        (e, n.to_owned(), k.to_owned())
    } else {
        let (e, n, k) = build_export();
        std::fs::write(path, &e).unwrap();
        std::fs::write("/tmp/audit-1m.meta", format!("{n}\n@@\n{k}")).unwrap();
        (e, n, k)
    };
    println!("bytes {}", export.len());
    let t = Instant::now();
    let mut buf = Vec::new();
    let mut r = &export[..];
    let mut n = 0;
    while r.read_until(b'\n', &mut buf).unwrap() > 0 {
        n += 1;
        buf.clear();
    }
    println!("read lines {n}: {:?}", t.elapsed());
    let t = Instant::now();
    let mut r = &export[..];
    while r.read_until(b'\n', &mut buf).unwrap() > 0 {
        let v: serde::de::IgnoredAny = serde_json::from_slice(&buf).unwrap();
        std::hint::black_box(v);
        buf.clear();
    }
    println!("parse ignored: {:?}", t.elapsed());
    let cpu = || {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
    };
    for threads in [1usize, 2, 2, 3] {
        let c0 = cpu();
        let t = Instant::now();
        let opts = audit::VerifyOptions { threads, ..Default::default() };
        let s = audit::verify_export_with(&export[..], &note, &key, &opts).unwrap();
        println!(
            "threads {threads}: wall {:?} cpu {:.2}s entries {}",
            t.elapsed(),
            cpu() - c0,
            s.entries
        );
    }
    let _ = Duration::ZERO;
}
