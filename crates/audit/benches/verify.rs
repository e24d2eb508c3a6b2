//! Export verification of a 1,000,000-entry export held in memory, and
//! proof-plan assembly against a HashMap of every complete node of a
//! 10,000,000-leaf tree.

// Benchmark harness code: a broken setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use audit::entry::canonical_time;
use audit::merkle::{
    CompactRange, Hash, NodeId, consistency_proof_plan, inclusion_proof_plan, leaf_hash,
    verify_inclusion,
};
use audit::{
    ActorKind, Checkpoint, Entry, ExportHeader, ExportLine, ExportTrailer, NoteSigner, Outcome,
    PersonalField, VerifyOptions, verify_export, verify_export_with,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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

fn bench_verify(c: &mut Criterion) {
    // Built on first use so that filtering to the other group skips it.
    let data = OnceLock::new();
    let mut group = c.benchmark_group("export");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("verify_1m_entries", |b| {
        let (export, note, key) = data.get_or_init(|| {
            let built = build_export();
            eprintln!("\nexport: {ENTRIES} entries, {} MB", built.0.len() / 1_000_000);
            built
        });
        b.iter(|| {
            let summary = verify_export(black_box(&export[..]), note, key, None).unwrap();
            assert_eq!(summary.entries, ENTRIES);
        })
    });
    group.bench_function("verify_1m_entries_one_thread", |b| {
        let (export, note, key) = data.get_or_init(build_export);
        let options = VerifyOptions { threads: 1, ..VerifyOptions::default() };
        b.iter(|| {
            let summary = verify_export_with(black_box(&export[..]), note, key, &options).unwrap();
            assert_eq!(summary.entries, ENTRIES);
        })
    });
    group.finish();
}

/// Every complete node of a 10M-leaf tree, as the store would hold them.
fn build_nodes() -> (HashMap<NodeId, Hash>, Hash) {
    let mut nodes: HashMap<NodeId, Hash> = HashMap::with_capacity(2 * TREE as usize);
    let mut range = CompactRange::new_empty(0);
    for i in 0..TREE {
        range
            .append(leaf_hash(&i.to_be_bytes()), &mut |id, h| {
                nodes.insert(id, h);
            })
            .unwrap();
    }
    let root = range.root().unwrap();
    eprintln!("\nstored nodes: {}", nodes.len());
    // The assembled proofs are real: one spot check.
    let proof = inclusion_proof_plan(1_234_567, TREE)
        .and_then(|p| p.assemble(|id| nodes.get(&id).copied()))
        .unwrap();
    let leaf = leaf_hash(&1_234_567u64.to_be_bytes());
    verify_inclusion(1_234_567, TREE, &leaf, &proof, &root).unwrap();
    (nodes, root)
}

fn bench_plans(c: &mut Criterion) {
    let data = OnceLock::new();
    let mut rng = StdRng::seed_from_u64(2);
    let mut group = c.benchmark_group("proof_plan_10m");
    group.bench_function("inclusion_plan_and_assemble", |b| {
        let (nodes, _) = data.get_or_init(build_nodes);
        b.iter(|| {
            let index = rng.gen_range(0..TREE);
            let plan = inclusion_proof_plan(index, TREE).unwrap();
            black_box(plan.assemble(|id| nodes.get(&id).copied()).unwrap())
        })
    });
    group.bench_function("consistency_plan_and_assemble", |b| {
        let (nodes, _) = data.get_or_init(build_nodes);
        b.iter(|| {
            let size1 = rng.gen_range(1..TREE);
            let plan = consistency_proof_plan(size1, TREE).unwrap();
            black_box(plan.assemble(|id| nodes.get(&id).copied()).unwrap())
        })
    });
    group.bench_function("inclusion_plan_only", |b| {
        b.iter(|| {
            black_box(inclusion_proof_plan(rng.gen_range(0..TREE), TREE).map(|p| p.node_ids()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_verify, bench_plans);
criterion_main!(benches);
