//! Decision latency in one organisation of 10,000 principals and 1,000 policies, batch
//! throughput, and the time to compile that organisation.
//!
//! Besides criterion's figures, prints the median and p99 of individually timed decisions
//! (`decision median=…µs p99=…µs`), once the principals' slices are cached and for first
//! decisions that build a slice.

// Benchmark harness code: a broken setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use authz::{
    Catalogue, CompiledOrganization, Condition, Context, CustomAction, CustomPermissionSet,
    OrganizationKind, OrganizationPolicies, OrganizationRef, Policy, PrincipalFacts, PrincipalRef,
    RawPolicy, Request, ResourceRef, Role, Rule, Scope, TimeWindow, Weekday, compile,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use uuid::Uuid;

const USERS: usize = 9_000;
const APPLICATIONS: usize = 1_000;
const GROUPS: usize = 300;
const PROJECTS: usize = 50;
const POLICIES: usize = 1_000;
const REQUESTS: usize = 20_000;

fn uuid(rng: &mut StdRng) -> Uuid {
    Uuid::from_u128(rng.r#gen::<u128>() & !(0xF << 76) | (0x7 << 76))
}

struct World {
    input: OrganizationPolicies,
    principals: Vec<PrincipalFacts>,
    actions: Vec<String>,
}

const SETS: &[&str] = &[
    "OrganizationManager",
    "IAMManager",
    "IAMReadOnly",
    "AuditTrailReadOnly",
    "SecurityAnalyst",
    "ComplianceManager",
    "ProjectManager",
    "ReadOnly",
    "ServerOperator",
    "ServerReader",
];

fn condition(rng: &mut StdRng) -> Condition {
    match rng.gen_range(0..10) {
        0 => Condition {
            source_ip: Some(vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]),
            ..Condition::default()
        },
        1 => Condition {
            time_window: Some(TimeWindow {
                days: vec![
                    Weekday::Monday,
                    Weekday::Tuesday,
                    Weekday::Wednesday,
                    Weekday::Thursday,
                    Weekday::Friday,
                ],
                start_minute: 7 * 60,
                end_minute: 19 * 60,
            }),
            ..Condition::default()
        },
        2 => Condition { mfa: true, max_auth_age_seconds: Some(3600), ..Condition::default() },
        3 => Condition { user_agent: Some("Mozilla/5.0 *".into()), ..Condition::default() },
        _ => Condition::default(),
    }
}

fn world() -> World {
    let mut rng = StdRng::seed_from_u64(7);
    let org = uuid(&mut rng);
    let projects: Vec<Uuid> = (0..PROJECTS).map(|_| uuid(&mut rng)).collect();
    let groups: Vec<Uuid> = (0..GROUPS).map(|_| uuid(&mut rng)).collect();
    let mut principals = Vec::with_capacity(USERS + APPLICATIONS);
    for n in 0..USERS + APPLICATIONS {
        let principal = if n < USERS {
            PrincipalRef::User(uuid(&mut rng))
        } else {
            PrincipalRef::Application(uuid(&mut rng))
        };
        let count = rng.gen_range(1..=3);
        let member_of: Vec<Uuid> = groups.choose_multiple(&mut rng, count).copied().collect();
        principals.push(PrincipalFacts {
            principal,
            organization_id: org,
            role: if n < USERS && n % 100 == 0 { Role::Owner } else { Role::Member },
            groups: member_of,
            staff: false,
        });
    }

    let mut policies = Vec::with_capacity(POLICIES);
    for n in 0..POLICIES {
        // 50 % on users, 30 % on groups, 20 % on applications.
        let principal = match n % 10 {
            0..=4 => principals[rng.gen_range(0..USERS)].principal,
            5..=7 => PrincipalRef::Group(groups[rng.gen_range(0..GROUPS)]),
            _ => principals[USERS + rng.gen_range(0..APPLICATIONS)].principal,
        };
        let rules = (0..rng.gen_range(1..=3))
            .map(|_| {
                let count = rng.gen_range(1..=2);
                let sets = SETS.choose_multiple(&mut rng, count).map(|s| (*s).to_owned()).collect();
                let scope = if rng.gen_bool(0.5) {
                    Scope::Organization
                } else {
                    let count = rng.gen_range(1..=3);
                    Scope::Projects(projects.choose_multiple(&mut rng, count).copied().collect())
                };
                Rule { permission_sets: sets, scope, condition: condition(&mut rng) }
            })
            .collect();
        policies.push(Policy { id: uuid(&mut rng), principal, rules });
    }

    let raw = |rng: &mut StdRng, text: String| RawPolicy { id: uuid(rng), text };
    let some_group = groups[3];
    let some_user = principals[42].principal;
    let PrincipalRef::User(some_user) = some_user else { unreachable!() };
    let raw_policies = vec![
        raw(
            &mut rng,
            r#"forbid (principal, action in [Rampart::Action::"iam:users:delete", Rampart::Action::"organizations:organization:delete"], resource) unless { context.mfa };"#.to_owned(),
        ),
        raw(
            &mut rng,
            r#"forbid (principal, action, resource) when { context has source_ip && context.source_ip.isInRange(ip("203.0.113.0/24")) };"#.to_owned(),
        ),
        raw(
            &mut rng,
            format!(r#"permit (principal in Rampart::Group::"{some_group}", action == Rampart::Action::"audit:events:read", resource);"#),
        ),
        raw(
            &mut rng,
            format!(r#"permit (principal == Rampart::User::"{some_user}", action, resource in Rampart::Project::"{}");"#, projects[0]),
        ),
        raw(
            &mut rng,
            format!(r#"permit (principal, action == Rampart::Action::"instances:servers:read", resource in Rampart::Project::"{}") when {{ context.mfa }};"#, projects[1]),
        ),
    ];

    let custom_actions =
        ["instances:servers:read", "instances:servers:write", "instances:servers:reboot"]
            .iter()
            .map(|name| CustomAction {
                name: (*name).to_owned(),
                description: String::new(),
                privileged: name.ends_with("reboot"),
            })
            .collect();
    let custom_permission_sets = vec![
        CustomPermissionSet {
            name: "ServerReader".into(),
            description: String::new(),
            actions: vec!["instances:servers:read".into()],
        },
        CustomPermissionSet {
            name: "ServerOperator".into(),
            description: String::new(),
            actions: vec![
                "instances:servers:read".into(),
                "instances:servers:write".into(),
                "instances:servers:reboot".into(),
            ],
        },
    ];
    let input = OrganizationPolicies {
        organization: OrganizationRef { id: org, kind: OrganizationKind::Customer },
        projects,
        custom_actions,
        custom_permission_sets,
        policies,
        raw_policies,
    };
    let actions = Catalogue::rampart()
        .with_custom(&input.custom_actions, &input.custom_permission_sets)
        .unwrap()
        .actions()
        .map(|a| a.name.clone())
        .collect();
    World { input, principals, actions }
}

struct Owned {
    principal: usize,
    action: usize,
    resource: ResourceRef,
    context: Context,
}

fn requests(world: &World, count: usize, seed: u64) -> Vec<Owned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let org = world.input.organization.id;
    let base = OffsetDateTime::from_unix_timestamp(1_717_000_000).unwrap();
    (0..count)
        .map(|_| {
            let project = world.input.projects[rng.gen_range(0..PROJECTS)];
            let resource = match rng.gen_range(0..3) {
                0 => ResourceRef::Organization(org),
                1 => ResourceRef::Project { organization: org, project },
                _ => ResourceRef::Object {
                    organization: org,
                    project: Some(project),
                    kind: "server".into(),
                    id: format!("srv-{}", rng.gen_range(0..10_000)),
                },
            };
            let now = base + time::Duration::minutes(rng.gen_range(0..7 * 24 * 60));
            let context = Context {
                source_ip: Some(IpAddr::V4(Ipv4Addr::new(10, rng.r#gen(), rng.r#gen(), 1))),
                now,
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into()),
                mfa: rng.gen_bool(0.7),
                authenticated_at: Some(now - time::Duration::seconds(rng.gen_range(0..7200))),
            };
            Owned {
                principal: rng.gen_range(0..world.principals.len()),
                action: rng.gen_range(0..world.actions.len()),
                resource,
                context,
            }
        })
        .collect()
}

fn decide(compiled: &CompiledOrganization, world: &World, r: &Owned) -> bool {
    compiled
        .authorize(&Request {
            principal: &world.principals[r.principal],
            action: &world.actions[r.action],
            resource: &r.resource,
            context: &r.context,
        })
        .allowed
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn report(world: &World) {
    println!("load average before: {}", load_average());
    let start = Instant::now();
    let compiled = compile(&world.input, &Catalogue::rampart()).unwrap();
    let compile_time = start.elapsed();
    println!(
        "compile: {} policies ({} Cedar policies, {} principals) in {:.1} ms",
        world.input.policies.len(),
        compiled.policy_count(),
        world.principals.len(),
        compile_time.as_secs_f64() * 1e3
    );
    let reqs = requests(world, REQUESTS, 11);
    // First decisions: each builds its slice (distinct principals).
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&Owned> =
        reqs.iter().filter(|r| seen.insert(r.principal)).take(2_000).collect();
    let mut cold = Vec::with_capacity(firsts.len());
    for r in &firsts {
        let start = Instant::now();
        black_box(decide(&compiled, world, r));
        cold.push(start.elapsed());
    }
    cold.sort();
    // Warm every slice, then time each decision.
    for r in &reqs {
        black_box(decide(&compiled, world, r));
    }
    let mut all = Vec::with_capacity(reqs.len());
    let (mut allowed, mut forbidden, mut not_granted) = (Vec::new(), Vec::new(), Vec::new());
    for r in &reqs {
        let start = Instant::now();
        let decision = black_box(compiled.authorize(&Request {
            principal: &world.principals[r.principal],
            action: &world.actions[r.action],
            resource: &r.resource,
            context: &r.context,
        }));
        let elapsed = start.elapsed();
        all.push(elapsed);
        if decision.allowed {
            allowed.push(elapsed);
        } else if decision.determining_policies.is_empty() {
            not_granted.push(elapsed);
        } else {
            forbidden.push(elapsed);
        }
    }
    for times in [&mut all, &mut allowed, &mut forbidden, &mut not_granted] {
        times.sort();
    }
    println!(
        "decision median={:.2}µs p99={:.2}µs ({} decisions, cached slices)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.len()
    );
    for (label, times) in [
        ("allowed", &allowed),
        ("denied by a forbid", &forbidden),
        ("denied, nothing granted", &not_granted),
    ] {
        if !times.is_empty() {
            println!(
                "  {label}: {} decisions, median={:.2}µs p99={:.2}µs",
                times.len(),
                percentile(times, 0.5),
                percentile(times, 0.99)
            );
        }
    }
    println!(
        "first decision of a principal (builds its slice) median={:.2}µs p99={:.2}µs ({} principals)",
        percentile(&cold, 0.5),
        percentile(&cold, 0.99),
        cold.len()
    );
    println!("load average after: {}", load_average());
}

fn benches(c: &mut Criterion) {
    let world = world();
    report(&world);
    let compiled = compile(&world.input, &Catalogue::rampart()).unwrap();
    let reqs = requests(&world, REQUESTS, 13);
    for r in &reqs {
        black_box(decide(&compiled, &world, r));
    }

    let mut group = c.benchmark_group("decision");
    let mut next = 0;
    group.bench_function("single", |b| {
        b.iter(|| {
            next = (next + 1) % reqs.len();
            decide(&compiled, &world, &reqs[next])
        })
    });
    let batch = &reqs[..1_000];
    group.throughput(criterion::Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_1000", |b| {
        b.iter(|| batch.iter().filter(|r| decide(&compiled, &world, r)).count())
    });
    group.finish();

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("1000_policies", |b| {
        b.iter(|| compile(&world.input, &Catalogue::rampart()).unwrap())
    });
    group.finish();
}

criterion_group!(decision, benches);
criterion_main!(decision);
