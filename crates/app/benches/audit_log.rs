//! Audit log figures, end to end on SQLite (WAL, `synchronous = FULL`, a file on local disk):
//!
//! 1. durable append rate through `AuditTrail::append_audit_events`, one commit per batch of
//!    1, 100, 1,000 and 10,000 events (goal ≥ 50,000 entries/s with group commit);
//! 2. inclusion-proof latency at 10,000,000 entries through `App::audit_inclusion_proof`
//!    (goal p99 < 100 µs; on SQLite it reads the full tiles it has seen from memory and the
//!    others through the direct tile reader), beside a plain read of the same tiles through
//!    the sqlx pool (the path PostgreSQL takes), for comparison;
//! 3. offline verification of a 1,000,000-entry export with `audit::export::verify_export`
//!    (goal < 3 s).
//!
//! Run: `cargo bench -p app --bench audit_log`. Knobs (environment): `BENCH_AUDIT_ENTRIES`
//! (tree size of part 2, default 10,000,000), `BENCH_EXPORT_ENTRIES` (part 3, default
//! 1,000,000), `BENCH_APPEND_EVENTS` (per batch size in part 1, default 100,000; batch 1 runs
//! at most 2,000 or 30 s), `BENCH_PROOF_QUERIES` (per kind, default 5,000),
//! `BENCH_PROOF_BUDGET_SECS` (time box per kind of proof query, default 90),
//! `BENCH_BUILD_BUDGET_SECS` (real-path budget of the part 2 build, default 900), `BENCH_PARTS`
//! (which parts to run, default `123`), `BENCH_TMPDIR` (where the databases go;
//! default the system temp dir), `BENCH_COMMIT` (the commit to print when the sources are not
//! a git checkout). Temp directories are removed at the end of each part.

// Benchmark harness code: a broken setup should stop the run loudly, and it reads the wall clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::cast_precision_loss
)]

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{App, AuditTrail as _, InitializeRequest, PasswordHasher, Principal};
use audit::merkle::{
    CompactRange, Hash, NodeId, compact_range_node_ids, inclusion_proof_plan, leaf_hash, root_plan,
    verify_inclusion,
};
use audit::tiles::{Tile, TileId};
use base::{
    Actor, ApiKeyId, AuditEvent, Credential, ManualClock, OrganizationId, OrganizationKind,
    Outcome, RequestContext, Resource, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use store::{
    AuditEntryRow, AuditLogRepository as _, OrganizationRepository as _, Store, StoreOptions,
    UserRole,
};
use time::OffsetDateTime;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn start_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_772_355_600).unwrap() // 2026-03-01 09:00 UTC
}

/// A fresh database with a provider organisation, its owner and a signing key.
struct Bench {
    directory: Option<tempfile::TempDir>,
    path: PathBuf,
    store: Store,
    app: App,
    principal: Principal,
    org: OrganizationId,
}

impl Bench {
    async fn open(label: &str) -> Self {
        let directory = match std::env::var_os("BENCH_TMPDIR") {
            Some(base) => tempfile::Builder::new().prefix(label).tempdir_in(base),
            None => tempfile::Builder::new().prefix(label).tempdir(),
        }
        .unwrap();
        let path = directory.path().join("rampart.db");
        let store = Store::open_sqlite(&path, &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(start_time()));
        // Configured as the server is by default: caches bounded at 2 s.
        let app = App::new(store.clone(), clock, PasswordHasher::owasp_default())
            .with_api_key_cache(Duration::from_secs(2));
        let done = app
            .initialize(InitializeRequest {
                organization_name: "Provider".into(),
                owner_email: "owner@provider.example".into(),
                owner_password: None,
            })
            .await
            .unwrap();
        app.ensure_audit_signing_key().await.unwrap();
        let org = done.organization.id;
        let principal = Principal {
            actor: Actor::User {
                user_id: done.owner_id,
                organization_id: org,
                is_staff: true,
                label: done.owner_email.clone(),
                credential: Credential::ApiKey { id: done.api_key.id },
            },
            subject: app::Subject::User(done.owner_id),
            organization_id: org,
            organization_kind: OrganizationKind::Provider,
            role: UserRole::Owner,
            session: None,
        };
        Self { directory: Some(directory), path, store, app, principal, org }
    }

    async fn size(&self) -> u64 {
        let mut read = self.store.read_latest().await.unwrap();
        let size = read.audit_size(self.org).await.unwrap();
        read.commit().await.unwrap();
        size
    }

    /// Database, WAL and shared-memory files, in bytes.
    fn disk_bytes(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
            })
            .sum()
    }

    async fn close(mut self) {
        self.store.close().await;
        if let Some(directory) = self.directory.take() {
            directory.close().unwrap();
        }
    }
}

/// Realistic events: a user acting with an API key, every personal field present.
struct Events {
    org: OrganizationId,
    users: Vec<(UserId, String, ApiKeyId)>,
}

const ACTIONS: [(&str, &str); 6] = [
    ("project.create", "project"),
    ("project.update", "project"),
    ("secret.read", "secret"),
    ("iam.user.update", "user"),
    ("api_key.create", "api_key"),
    ("organization.read", "organization"),
];

const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "rampart-cli/0.1.0 (linux; x86_64)",
    "curl/8.5.0",
];

impl Events {
    fn new(org: OrganizationId) -> Self {
        let mut rng = StdRng::seed_from_u64(7);
        let users = (0..500u64)
            .map(|n| {
                let user = UserId::new(1_772_355_600_000 + n, rng.r#gen());
                let key = ApiKeyId::new(1_772_355_600_000 + n, rng.r#gen());
                (user, format!("user{n}.lastname@customer-{}.example", n % 37), key)
            })
            .collect();
        Self { org, users }
    }

    fn event(&self, i: u64) -> AuditEvent {
        let (user_id, label, key) = &self.users[(i % self.users.len() as u64) as usize];
        let (action, kind) = ACTIONS[(i % ACTIONS.len() as u64) as usize];
        let mut details = serde_json::Map::new();
        details.insert("name".into(), format!("{kind}-{}", i % 1_000).into());
        details
            .insert("role".into(), (if i.is_multiple_of(3) { "admin" } else { "member" }).into());
        details.insert("attempt".into(), (i % 5).into());
        let outcome = if i.is_multiple_of(17) {
            Outcome::Denied { reason: "not_a_member".into() }
        } else {
            Outcome::Success
        };
        AuditEvent {
            organization_id: self.org,
            time: start_time() + Duration::from_micros(i * 1_234),
            actor: Actor::User {
                user_id: *user_id,
                organization_id: self.org,
                is_staff: false,
                label: label.clone(),
                credential: Credential::ApiKey { id: *key },
            },
            action: action.to_owned(),
            resource: Resource::new(kind, format!("{kind}_{:012}", (i * 7) % 100_000)),
            outcome,
            context: RequestContext {
                source_ip: Some(IpAddr::V4(Ipv4Addr::from(0xCB00_7100 | (i as u32 % 250)))),
                user_agent: Some(AGENTS[(i % 3) as usize].to_owned()),
                request_id: Some(format!("req_{i:016x}")),
            },
            privileged: i.is_multiple_of(11),
            details,
        }
    }
}

/// Time spent per phase of the append transactions.
#[derive(Default, Clone, Copy)]
struct Split {
    begin: Duration,
    append: Duration,
    commit: Duration,
    transactions: u32,
}

impl Split {
    fn per_transaction(&self) -> String {
        let n = self.transactions.max(1);
        format!(
            "per transaction: BEGIN IMMEDIATE {:.2} ms, append_audit_events {:.2} ms, COMMIT {:.2} ms",
            micros(self.begin / n) / 1e3,
            micros(self.append / n) / 1e3,
            micros(self.commit / n) / 1e3
        )
    }
}

/// Append `events` in transactions of `batch`, each committed, stopping after `limit`; returns
/// how many were appended, the wall time (event construction excluded) and its split.
async fn append(
    bench: &Bench,
    events: &[AuditEvent],
    batch: usize,
    limit: Option<Duration>,
) -> (u64, Duration, Split) {
    let started = Instant::now();
    let mut split = Split::default();
    let mut done = 0u64;
    for chunk in events.chunks(batch) {
        let t = Instant::now();
        let mut transaction = bench.store.begin().await.unwrap();
        let t1 = Instant::now();
        transaction.append_audit_events(chunk).await.unwrap();
        let t2 = Instant::now();
        transaction.commit().await.unwrap();
        let t3 = Instant::now();
        split.begin += t1 - t;
        split.append += t2 - t1;
        split.commit += t3 - t2;
        split.transactions += 1;
        done += chunk.len() as u64;
        if limit.is_some_and(|limit| started.elapsed() > limit) {
            break;
        }
    }
    (done, started.elapsed(), split)
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency in the unit that suits it.
fn show(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// p50, p99, max and mean of samples.
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration, Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap().max(1);
    (at(0.50), at(0.99), samples[samples.len() - 1], mean)
}

struct Summary {
    lines: Vec<String>,
}

impl Summary {
    fn add(&mut self, line: String) {
        println!("  > {line}");
        self.lines.push(line);
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

/// Fetch nodes the way the app does: one statement reading the tiles that hold them.
async fn fetch(bench: &Bench, nodes: &[NodeId]) -> HashMap<NodeId, Hash> {
    let mut read = bench.store.read_latest().await.unwrap();
    let found = app::fetch_audit_nodes(&mut read, bench.org, nodes).await.unwrap();
    read.commit().await.unwrap();
    found
}

/// Mean time of `f` over `n` runs (after one untimed run).
async fn mean_of(n: u32, mut f: impl AsyncFnMut()) -> Duration {
    f().await;
    let t = Instant::now();
    for _ in 0..n {
        f().await;
    }
    t.elapsed() / n
}

// ---------------------------------------------------------------------------------------------
// 1. Durable append rate

async fn append_rate(summary: &mut Summary) {
    println!("\n== 1. Durable append rate (SQLite WAL, synchronous=FULL, one commit per batch)");
    let n_events = env_u64("BENCH_APPEND_EVENTS", 100_000).max(10_000);
    let bench = Bench::open("rampart-bench-append").await;
    println!("   database: {}", bench.path.display());
    let events = Events::new(bench.org);
    // The tree already holds the bootstrap's events; then a warm-up of 1,000.
    let base = bench.size().await;
    let warm: Vec<AuditEvent> = (0..1_000).map(|i| events.event(i)).collect();
    append(&bench, &warm, 100, None).await;
    let mut next = 1_000u64;
    for batch in [1usize, 100, 1_000, 10_000] {
        let (n, limit) = if batch == 1 {
            (n_events.min(2_000), Some(Duration::from_secs(30)))
        } else {
            (n_events, None)
        };
        let list: Vec<AuditEvent> = (next..next + n).map(|i| events.event(i)).collect();
        let (done, elapsed, split) = append(&bench, &list, batch, limit).await;
        next += done;
        let r = rate(done, elapsed);
        println!(
            "   batch {batch:>5}: {done:>6} events in {:>7.3} s = {r:>8.0} entries/s; {}",
            elapsed.as_secs_f64(),
            split.per_transaction()
        );
        let goal = if batch == 1 {
            "no goal (one durable commit per event)".to_owned()
        } else {
            format!("goal >= 50,000/s: {}", verdict(r >= 50_000.0))
        };
        summary.add(format!("append, batch {batch:>5}: {r:>8.0} entries/s   {goal}"));
    }
    let size = bench.size().await;
    assert_eq!(size, base + next, "tree size after the appends");
    println!(
        "   tree size {size}, database {:.1} MiB ({:.0} bytes/entry)",
        mib(bench.disk_bytes()),
        bench.disk_bytes() as f64 / size as f64
    );
    // Where an append transaction's time goes at this size: the right edge's tiles it reads.
    let edge = compact_range_node_ids(0, size);
    let tiles = TileId::covering(&edge).len();
    let frontier = mean_of(20, async || {
        fetch(&bench, &edge).await;
    })
    .await;
    println!(
        "   frontier read at size {size} ({} nodes in {tiles} tiles): {:.3} ms",
        edge.len(),
        millis(frontier),
    );
    summary.add(format!(
        "append diagnostics: frontier read {:.3} ms per transaction at {size} entries ({tiles} \
         tiles)",
        millis(frontier),
    ));
    bench.close().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Inclusion proofs at 10M entries

/// Continue the tree with synthetic entries: leaf bytes = the index (8 bytes, big-endian), no
/// personal data; nodes from `CompactRange::append` over their leaf hashes, from the real
/// tree's frontier kept in memory, stored with the store's own `reserve_audit_indices` +
/// `insert_audit_entries`.
async fn build_synthetic(bench: &Bench, from: u64, to: u64, batch: u64) -> Duration {
    let started = Instant::now();
    let edge = compact_range_node_ids(0, from);
    let found = fetch(bench, &edge).await;
    let hashes = edge.iter().map(|node| found[node]).collect();
    let mut tree = CompactRange::from_parts(0, from, hashes).unwrap();
    // The edge's tiles, kept in memory from here on.
    let mut tiles: HashMap<TileId, Tile> = HashMap::new();
    let mut read = bench.store.read_latest().await.unwrap();
    let keys: Vec<(u8, u64)> =
        TileId::covering(&edge).iter().map(|id| (id.level, id.index)).collect();
    for ((level, index), bytes) in read.audit_tiles(bench.org, &keys).await.unwrap() {
        tiles.insert(TileId { level, index }, Tile::from_bytes(&bytes).unwrap());
    }
    read.commit().await.unwrap();
    let time = start_time();
    let mut next = from;
    while next < to {
        let n = batch.min(to - next);
        let mut transaction = bench.store.begin().await.unwrap();
        let first = transaction.reserve_audit_indices(bench.org, n).await.unwrap();
        assert_eq!(first, next);
        let mut rows = Vec::with_capacity(n as usize);
        let mut changed = std::collections::BTreeSet::new();
        for index in next..next + n {
            let leaf = index.to_be_bytes().to_vec();
            tree.append(leaf_hash(&leaf), &mut |node: NodeId, hash| {
                let id = TileId::of(node);
                tiles.entry(id).or_default().push(id, node, hash).unwrap();
                changed.insert(id);
            })
            .unwrap();
            rows.push(AuditEntryRow {
                organization_id: bench.org,
                index,
                time,
                actor_id: None,
                action: "bench.synthetic".into(),
                resource_kind: "bench".into(),
                resource_id: None,
                outcome: "success".into(),
                privileged: false,
                leaf,
                personal: serde_json::Map::new(),
            });
        }
        let written: Vec<((u8, u64), Vec<u8>)> =
            changed.iter().map(|id| ((id.level, id.index), tiles[id].to_bytes())).collect();
        transaction.insert_audit_entries(&rows, &written).await.unwrap();
        transaction.commit().await.unwrap();
        // Full tiles never change again.
        tiles.retain(|_, tile| tile.width() < audit::tiles::TILE_WIDTH);
        next += n;
    }
    started.elapsed()
}

/// Build `target` entries through `append_audit_events` in batches of 10,000; after 500,000
/// entries, project the whole build from how the per-batch time grows, and when it would
/// exceed `budget` (or the build overruns it) finish with [`build_synthetic`].
async fn build_tree(bench: &Bench, target: u64, budget: Duration) -> String {
    const BATCH: u64 = 10_000;
    let events = Events::new(bench.org);
    let base = bench.size().await; // the bootstrap's own events
    let started = Instant::now();
    let mut next = base;
    let mut batches: Vec<(u64, Duration)> = Vec::new();
    let mut decided = false;
    while next < target {
        let n = BATCH.min(target - next);
        let list: Vec<AuditEvent> = (next..next + n).map(|i| events.event(i)).collect();
        let t = Instant::now();
        append(bench, &list, list.len(), None).await;
        batches.push((next, t.elapsed()));
        next += n;
        if !decided && batches.len() >= 50 && next < target {
            decided = true;
            let mean = |window: &[(u64, Duration)]| {
                let k = window.len() as f64;
                let at = window.iter().map(|(s, _)| *s as f64).sum::<f64>() / k;
                let secs = window.iter().map(|(_, d)| d.as_secs_f64()).sum::<f64>() / k;
                (at, secs)
            };
            let (n1, t1) = mean(&batches[..10]);
            let (n2, t2) = mean(&batches[batches.len() - 10..]);
            let slope = ((t2 - t1) / (n2 - n1)).max(0.0);
            let mut projected = started.elapsed().as_secs_f64();
            let mut at = next;
            while at < target {
                projected += t2 + slope * (at as f64 - n2);
                at += BATCH;
            }
            println!(
                "   real path: first {} entries in {:.1} s; per 10,000-entry transaction \
                 {:.0} ms at {:.0}k entries, {:.0} ms at {:.0}k; projected build of {target} \
                 (that growth continuing linearly): {:.1} min",
                next - base,
                started.elapsed().as_secs_f64(),
                t1 * 1e3,
                n1 / 1e3,
                t2 * 1e3,
                n2 / 1e3,
                projected / 60.0
            );
            if projected > budget.as_secs_f64() {
                break;
            }
        }
        if started.elapsed() > budget && next < target {
            println!(
                "   real path: {} entries after {:.1} s, over the budget",
                next - base,
                started.elapsed().as_secs_f64()
            );
            break;
        }
    }
    let real = started.elapsed();
    let (first_ms, last_ms) = (
        millis(batches.first().map_or(Duration::ZERO, |b| b.1)),
        millis(batches.last().map_or(Duration::ZERO, |b| b.1)),
    );
    if next == target {
        return format!(
            "built through append_audit_events (batches of {BATCH}) in {:.1} s = {:.0} \
             entries/s ({first_ms:.0} ms first batch, {last_ms:.0} ms last)",
            real.as_secs_f64(),
            rate(next - base, real)
        );
    }
    println!(
        "   SHORTCUT: building {target} entries through the real path would take more than \
         {:.0} min on this machine. Entries {next}..{target} are synthetic: leaf bytes = the \
         index as 8 big-endian bytes (no personal data), leaf hash = SHA-256(0x00 || leaf); \
         every complete node comes from audit::merkle::CompactRange::append continuing the real \
         tree's frontier (kept in memory, so no frontier read per transaction) and is written \
         with the store's reserve_audit_indices + insert_audit_entries, {} entries per \
         transaction: same tables, indexes and tiles; event conversion, salts and the \
         per-transaction frontier read are skipped, and the entry rows are smaller.",
        budget.as_secs_f64() / 60.0,
        BATCH * 5
    );
    let synthetic = build_synthetic(bench, next, target, BATCH * 5).await;
    format!(
        "{} real entries ({:.1} s, {:.0}/s; {first_ms:.0} ms first batch, {last_ms:.0} ms last) \
         + {} synthetic ({:.1} s, {:.0}/s)",
        next - base,
        real.as_secs_f64(),
        rate(next - base, real),
        target - next,
        synthetic.as_secs_f64(),
        rate(target - next, synthetic)
    )
}

/// Latencies of one kind of query: at most `want` samples after up to 200 warm-up queries
/// (or a tenth of the budget), within `budget`.
async fn measure(
    indices: &[u64],
    want: usize,
    budget: Duration,
    mut query: impl AsyncFnMut(usize, u64) -> Duration,
) -> (Vec<Duration>, usize) {
    let started = Instant::now();
    let mut samples = Vec::with_capacity(want);
    let mut warm = 0;
    for (n, &index) in indices.iter().enumerate() {
        let elapsed = query(n, index).await;
        if samples.is_empty() && warm < 200 && started.elapsed() < budget / 10 {
            warm += 1;
            continue;
        }
        samples.push(elapsed);
        if samples.len() >= want || started.elapsed() > budget {
            break;
        }
    }
    (samples, warm)
}

async fn proof_latency(summary: &mut Summary) {
    let target = env_u64("BENCH_AUDIT_ENTRIES", 10_000_000).max(20_000);
    let budget = Duration::from_secs(env_u64("BENCH_BUILD_BUDGET_SECS", 900));
    let queries = env_u64("BENCH_PROOF_QUERIES", 5_000).max(2_000) as usize;
    let query_budget = Duration::from_secs(env_u64("BENCH_PROOF_BUDGET_SECS", 90));
    println!("\n== 2. Inclusion proofs at {target} entries");
    let bench = Bench::open("rampart-bench-proofs").await;
    println!("   database: {}", bench.path.display());
    let note = build_tree(&bench, target, budget).await;
    let size = bench.size().await;
    assert_eq!(size, target);
    let gib = mib(bench.disk_bytes()) / 1024.0;
    println!("   {note}");
    println!(
        "   database {gib:.2} GiB ({:.0} bytes/entry)",
        bench.disk_bytes() as f64 / size as f64
    );
    summary.add(format!("proof tree of {size}: {note}; database {gib:.2} GiB"));

    // The root, from stored nodes, to check proofs against.
    let plan = root_plan(size);
    let found = fetch(&bench, &plan.node_ids()).await;
    let root = plan.assemble(|id| found.get(&id).copied()).unwrap()[0];
    let check = async |index: u64, proof: &[Hash]| {
        let leaf = fetch(&bench, &[NodeId::new(0, index)]).await[&NodeId::new(0, index)];
        verify_inclusion(index, size, &leaf, proof, &root).unwrap();
    };

    let mut rng = StdRng::seed_from_u64(42);
    let indices: Vec<u64> = (0..queries + 200).map(|_| rng.gen_range(0..size)).collect();
    let context = RequestContext::default();
    let mut results = Vec::new();

    // (a) for comparison, no cache and the sqlx pool: a pooled connection, the plan, one
    // query for every tile, assembly.
    let (samples, warm) = measure(&indices, queries, query_budget, async |n, index| {
        let t = Instant::now();
        let plan = inclusion_proof_plan(index, size).unwrap();
        let found = fetch(&bench, &plan.node_ids()).await;
        let proof = plan.assemble(|id| found.get(&id).copied()).unwrap();
        let elapsed = t.elapsed();
        if n < 20 {
            check(index, &proof).await;
        }
        elapsed
    })
    .await;
    results.push(("(a) sqlx pool, no cache (comparison)", samples, warm));
    // (b) the use case: authorisation (cached organisation), the tiles not in memory read
    // through the direct reader, the proof.
    let (samples, warm) = measure(&indices, queries, query_budget, async |n, index| {
        let t = Instant::now();
        let proof = bench
            .app
            .audit_inclusion_proof(&bench.principal, bench.org, index, size, &context)
            .await
            .unwrap();
        let elapsed = t.elapsed();
        if n < 20 {
            check(index, &proof).await;
        }
        elapsed
    })
    .await;
    results.push(("(b) App::audit_inclusion_proof", samples, warm));
    let plans = indices.iter().take(200).map(|&i| inclusion_proof_plan(i, size).unwrap());
    let (min_nodes, max_nodes, max_tiles) = plans.fold((usize::MAX, 0, 0), |(lo, hi, t), plan| {
        let nodes = plan.node_ids();
        (lo.min(nodes.len()), hi.max(nodes.len()), t.max(TileId::covering(&nodes).len()))
    });
    println!(
        "   random (index, size={size}) queries, up to {queries} of each kind after a warm-up, \
         at most {:.0} s per kind; the first 20 of each verified against the root; a plan \
         needs {min_nodes}..{max_nodes} stored nodes, in at most {max_tiles} tiles",
        query_budget.as_secs_f64()
    );
    for (label, mut samples, warm) in results {
        let (p50, p99, max, mean) = percentiles(&mut samples);
        let short = if samples.len() < queries {
            format!(" (ONLY {} queries fit the time budget)", samples.len())
        } else {
            String::new()
        };
        println!(
            "   {label:<48}: p50 {:>9}  p99 {:>9}  max {:>9}  mean {:>9}; {} queries after \
             {warm} warm-up{short}",
            show(p50),
            show(p99),
            show(max),
            show(mean),
            samples.len()
        );
        let goal = if label.starts_with("(a)") {
            "(no goal: the path without cache and reader)".to_owned()
        } else {
            format!("goal p99 < 100 µs: {}", verdict(p99 < Duration::from_micros(100)))
        };
        summary.add(format!(
            "proof {label}: p50 {}, p99 {} ({} queries{})   {goal}",
            show(p50),
            show(p99),
            samples.len(),
            if short.is_empty() { "" } else { ", time-boxed" }
        ));
    }

    // Per-statement costs of the use case, for the breakdown.
    let authorize = mean_of(500, async || {
        let mut read = bench.store.read_latest().await.unwrap();
        read.get_organization(bench.org).await.unwrap();
        read.commit().await.unwrap();
    })
    .await;
    let snapshot = mean_of(500, async || {
        let mut read = bench.store.read().await.unwrap();
        read.audit_size(bench.org).await.unwrap();
        read.commit().await.unwrap();
    })
    .await;
    let point = mean_of(500, async || {
        fetch(&bench, &[NodeId::new(0, size / 2)]).await;
    })
    .await;
    println!(
        "   statement costs: authorisation read (acquire + get_organization) {:.1} µs; \
         read transaction BEGIN + audit_size + COMMIT {:.1} µs; one tile read (acquire + \
         query + parse) {:.1} µs",
        micros(authorize),
        micros(snapshot),
        micros(point)
    );
    summary.add(format!(
        "proof statement costs: authorisation read {:.1} µs, BEGIN+audit_size+COMMIT {:.1} µs, \
         one tile read {:.1} µs",
        micros(authorize),
        micros(snapshot),
        micros(point)
    ));
    bench.close().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Offline verification of an export

async fn export_verification(summary: &mut Summary) {
    let target = env_u64("BENCH_EXPORT_ENTRIES", 1_000_000).max(1_000);
    println!("\n== 3. Offline verification of a {target}-entry export");
    let bench = Bench::open("rampart-bench-export").await;
    let events = Events::new(bench.org);
    let base = bench.size().await;
    let started = Instant::now();
    let mut next = base;
    while next < target {
        let n = 10_000.min(target - next);
        let list: Vec<AuditEvent> = (next..next + n).map(|i| events.event(i)).collect();
        append(&bench, &list, list.len(), None).await;
        next += n;
    }
    println!(
        "   log of {target} entries built through append_audit_events (batches of 10,000) in \
         {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The export as the API streams it: header, pages of 1,000 entry lines, trailer.
    let started = Instant::now();
    let context = RequestContext::default();
    let export =
        bench.app.audit_export(&bench.principal, bench.org, None, None, &context).await.unwrap();
    let file_path = bench.path.with_file_name("export.jsonl");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file_path).unwrap());
    out.write_all(export.header.as_bytes()).unwrap();
    let mut from = export.from_index;
    while from < export.to_index {
        let to = (from + 1_000).min(export.to_index);
        let lines = bench.app.audit_export_lines(export.organization_id, from, to).await.unwrap();
        out.write_all(lines.as_bytes()).unwrap();
        from = to;
    }
    out.write_all(export.trailer.as_bytes()).unwrap();
    out.into_inner().unwrap().sync_all().unwrap();
    let file_size = std::fs::metadata(&file_path).unwrap().len();
    let n_entries = export.to_index - export.from_index;
    println!(
        "   export of {n_entries} entries (audit_export + audit_export_lines by 1,000) written \
         in {:.1} s: {:.1} MiB ({:.0} bytes/line)",
        started.elapsed().as_secs_f64(),
        mib(file_size),
        file_size as f64 / (n_entries + 2) as f64
    );

    let trailer: serde_json::Value = serde_json::from_str(export.trailer.trim_end()).unwrap();
    let checkpoint = trailer["checkpoint"].as_str().unwrap().to_owned();
    let keys = bench.app.audit_verifier_keys().await.unwrap();
    let verifier_key = keys.iter().find(|(_, active)| *active).unwrap().0.clone();

    let mut times = Vec::new();
    for _ in 0..3 {
        let file = std::fs::File::open(&file_path).unwrap();
        let t = Instant::now();
        let result =
            audit::export::verify_export(BufReader::new(file), &checkpoint, &verifier_key, None)
                .unwrap();
        times.push(t.elapsed());
        assert_eq!(result.entries, n_entries);
        assert_eq!(result.tree_size, n_entries);
    }
    let first = times[0];
    times.sort_unstable();
    println!(
        "   verify_export (file in the page cache, default threads): first {:.2} s, median of 3 \
         {:.2} s, best {:.2} s = {:.0} entries/s",
        first.as_secs_f64(),
        times[1].as_secs_f64(),
        times[0].as_secs_f64(),
        rate(n_entries, times[1])
    );
    summary.add(format!(
        "verify {n_entries}-entry export ({:.0} MiB): {:.2} s (median of 3; first {:.2} s)   \
         goal < 3 s: {}",
        mib(file_size),
        times[1].as_secs_f64(),
        first.as_secs_f64(),
        verdict(times[1] < Duration::from_secs(3))
    ));
    std::fs::remove_file(&file_path).unwrap();
    bench.close().await;
}

// ---------------------------------------------------------------------------------------------

mod support;
use support::machine;

fn main() {
    let total = Instant::now();
    let (nproc, cpu, commit, load) = machine();
    println!("Rampart audit log benchmark: {nproc} CPUs ({cpu}), commit {commit}, load {load}");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut summary = Summary { lines: Vec::new() };
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "123".into());
    runtime.block_on(async {
        if parts.contains('1') {
            append_rate(&mut summary).await;
        }
        if parts.contains('2') {
            proof_latency(&mut summary).await;
        }
        if parts.contains('3') {
            export_verification(&mut summary).await;
        }
    });
    let (_, _, _, load_end) = machine();
    println!("\n==== Summary: audit log benchmark ====");
    println!("machine: nproc {nproc}, {cpu}; load average at start {load}, at end {load_end}");
    println!("commit:  {commit}");
    println!("store:   SQLite file on local disk, WAL, synchronous=FULL (every commit durable)");
    for line in &summary.lines {
        println!("{line}");
    }
    println!("total runtime {:.1} min", total.elapsed().as_secs_f64() / 60.0);
}
