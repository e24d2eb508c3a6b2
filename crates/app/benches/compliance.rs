//! Evidence and annex figures on SQLite: an organisation of 10,000 users (nine in ten with a
//! confirmed authenticator app), 5,000 assets, 200 register records and 100,000 audit events.
//! Measures one on-demand evidence run (`App::run_evidence`: gather the facts, evaluate, store
//! the results) and the rendering of the live annex in HTML, Markdown and PDF
//! (`App::render_annex`), each repeated; the goal is under 2 s for a run and a rendering.
//!
//! Run: `cargo bench -p app --bench compliance`. Knobs (environment): `BENCH_USERS` (default
//! 10,000), `BENCH_ASSETS` (5,000), `BENCH_EVENTS` (100,000), `BENCH_ROUNDS` (5),
//! `BENCH_TMPDIR` (where the database goes).

// Benchmark harness code: a broken setup should stop the run loudly, and it reads the wall clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::cast_precision_loss
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{AnnexFormat, App, AuditTrail as _, InitializeRequest, PasswordHasher, Principal};
use base::{
    Actor, AuditEvent, Credential, ManualClock, OrganizationKind, Outcome, RequestContext,
    Resource, UserId,
};
use store::{
    AssetRecord, AssetRepository as _, ComplianceRecord, ComplianceRepository as _, Criticality,
    FactorRepository as _, Lifecycle, Store, StoreOptions, TotpRecord, UserRecord,
    UserRepository as _, UserRole, UserStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn start_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_772_355_600).unwrap() // 2026-03-01 09:00 UTC
}

fn seed(n: u64) -> [u8; 10] {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes
}

fn event(org: base::OrganizationId, i: u64) -> AuditEvent {
    AuditEvent {
        organization_id: org,
        time: start_time(),
        actor: Actor::System,
        action: "bench.seed".into(),
        resource: Resource::new("bench", i),
        outcome: Outcome::Success,
        context: RequestContext::default(),
        privileged: false,
        details: serde_json::Map::new(),
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let n_users = env_u64("BENCH_USERS", 10_000);
    let n_assets = env_u64("BENCH_ASSETS", 5_000);
    let n_events = env_u64("BENCH_EVENTS", 100_000);
    let rounds = env_u64("BENCH_ROUNDS", 5).max(1);
    let (nproc, cpu, commit, load) = support::machine();
    println!("compliance bench: {nproc} cores, {cpu}, commit {commit}, load {load}");

    let directory = match std::env::var_os("BENCH_TMPDIR") {
        Some(base) => tempfile::Builder::new().prefix("compliance").tempdir_in(base),
        None => tempfile::Builder::new().prefix("compliance").tempdir(),
    }
    .unwrap();
    let store = Store::open_sqlite(&directory.path().join("rampart.db"), &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let app = App::new(store.clone(), clock, PasswordHasher::owasp_default());
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

    let seeding = Instant::now();
    let mut users = Vec::new();
    let mut transaction = store.begin().await.unwrap();
    for n in 0..n_users {
        let user = UserRecord {
            id: UserId::new(1_772_355_600_000 + n, seed(n)),
            organization_id: org,
            email: format!("user{n}@provider.example"),
            display_name: format!("User {n}"),
            status: if n % 50 == 0 { UserStatus::Suspended } else { UserStatus::Active },
            role: if n % 20 == 0 { UserRole::Owner } else { UserRole::Member },
            password_hash: None,
            setup_token_hash: None,
            setup_token_expires_at: None,
            created_at: start_time(),
        };
        transaction.insert_user(&user).await.unwrap();
        if n % 10 != 0 {
            let totp = TotpRecord {
                user_id: user.id,
                sealed_seed: vec![0; 48],
                created_at: start_time(),
                confirmed_at: None,
                last_step: None,
            };
            transaction.put_pending_totp(&totp).await.unwrap();
            transaction.confirm_totp(user.id, start_time(), 1).await.unwrap();
        }
        users.push(user.id);
    }
    for n in 0..n_assets {
        let asset = AssetRecord {
            id: Uuid::from_u128(u128::from(n) + 1),
            organization_id: org,
            external_id: None,
            kind: "server".into(),
            name: format!("host-{n}"),
            description: String::new(),
            owner_id: users[(n as usize * 7) % users.len()],
            custodian_id: None,
            classification: "internal".into(),
            criticality: Criticality::Medium,
            location: "Paris".into(),
            lifecycle: Lifecycle::InService,
            end_of_support: None,
            tags: "[]".into(),
            relations: "[]".into(),
            end_of_support_warned_days: None,
            created_at: start_time(),
            updated_at: start_time(),
        };
        transaction.insert_asset(&asset).await.unwrap();
    }
    let documents = [
        ("policies", r#"{"version":"1","last_reviewed_on":"2025-09-01"}"#.to_owned()),
        ("roles", r#"{"responsibilities":"r","holder":"someone"}"#.to_owned()),
        (
            "people",
            r#"{"nda_signed_on":"2024-01-01","it_charter_accepted_on":"2024-01-01","trainings":["2025-06-01"]}"#
                .to_owned(),
        ),
        (
            "subprocessors",
            r#"{"service":"s","data_categories":["d"],"countries":["FR"],"transfer_mechanism":"adequacy","criticality":"high","last_reviewed_on":"2025-06-01","public":false}"#
                .to_owned(),
        ),
    ];
    for n in 0..200u64 {
        let (register, document) = &documents[(n % 4) as usize];
        let record = ComplianceRecord {
            id: Uuid::from_u128(1_000_000 + u128::from(n)),
            organization_id: org,
            register: (*register).to_owned(),
            title: format!("{register} {n}"),
            owner_id: None,
            review_due: None,
            document: document.clone(),
            created_at: start_time(),
            updated_at: start_time(),
        };
        transaction.insert_compliance_record(&record).await.unwrap();
    }
    transaction.append_audit_event(&event(org, 0)).await.unwrap();
    transaction.commit().await.unwrap();
    let events: Vec<AuditEvent> = (1..n_events).map(|i| event(org, i)).collect();
    for chunk in events.chunks(10_000) {
        let mut transaction = store.begin().await.unwrap();
        transaction.append_audit_events(chunk).await.unwrap();
        transaction.commit().await.unwrap();
    }
    app.sign_pending_checkpoints().await.unwrap();
    println!(
        "seeded {n_users} users, {n_assets} assets, 200 register records, {n_events} audit events in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let context = RequestContext::default();
    let mut runs = Vec::new();
    let mut renders: Vec<(AnnexFormat, Vec<Duration>, usize)> =
        [AnnexFormat::Html, AnnexFormat::Markdown, AnnexFormat::Pdf]
            .into_iter()
            .map(|format| (format, Vec::new(), 0))
            .collect();
    for _ in 0..rounds {
        let started = Instant::now();
        let results = app.run_evidence(&principal, org, &context).await.unwrap();
        runs.push(started.elapsed());
        assert!(
            results.iter().any(|result| result.check_id == "iam.privileged_mfa" && !result.passed)
        );
        for (format, times, size) in &mut renders {
            let started = Instant::now();
            let annex = app.render_annex(&principal, org, *format, &context).await.unwrap();
            times.push(started.elapsed());
            *size = annex.body.len();
        }
    }
    let run = median(runs);
    println!("evidence run (gather, evaluate, store): median {:.1} ms over {rounds}", millis(run));
    let mut slowest = Duration::ZERO;
    for (format, times, size) in renders {
        let time = median(times);
        slowest = slowest.max(time);
        println!("annex {format:?}: median {:.1} ms, {size} bytes", millis(time));
    }
    println!("run + slowest rendering: {:.1} ms (goal < 2,000 ms)", millis(run + slowest));
    store.close().await;
}
