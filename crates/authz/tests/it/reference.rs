//! The sliced, cached evaluation gives the answers of the plain one: every compiled policy,
//! scope included, against complete entities and context (`authorize_unsliced`).

use std::net::IpAddr;

use authz::{
    Condition, Context, CustomAction, CustomPermissionSet, OrganizationPolicies, PrincipalFacts,
    PrincipalRef, RawPolicy, Request, ResourceRef, Role, Rule, Scope, TimeWindow, Weekday,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::*;

const PROJECTS: [u128; 3] = [P1, P2, 13];

fn users() -> Vec<Uuid> {
    (0..5).map(|n| id(200 + n)).collect()
}
fn applications() -> Vec<Uuid> {
    (0..2).map(|n| id(300 + n)).collect()
}
fn groups() -> Vec<Uuid> {
    (0..4).map(|n| id(400 + n)).collect()
}

fn principal() -> impl Strategy<Value = PrincipalRef> {
    prop_oneof![
        select(users()).prop_map(PrincipalRef::User),
        select(groups()).prop_map(PrincipalRef::Group),
        select(applications()).prop_map(PrincipalRef::Application),
    ]
}

const DAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

fn condition() -> impl Strategy<Value = Condition> {
    let ip = proptest::option::weighted(
        0.25,
        subsequence(vec!["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"], 1..=2),
    );
    let window = proptest::option::weighted(
        0.25,
        (subsequence(DAYS.to_vec(), 1..=7), select(vec![(0, 720), (480, 1080), (600, 1440)])),
    );
    let agent = proptest::option::weighted(0.2, select(vec!["Mozilla/*", "*bot*", "curl/*"]));
    let age = proptest::option::weighted(0.2, select(vec![60u32, 3600]));
    (ip, window, agent, proptest::bool::weighted(0.25), age).prop_map(
        |(ip, window, agent, mfa, age)| Condition {
            source_ip: ip.map(|l| l.into_iter().map(str::to_owned).collect()),
            time_window: window.map(|(days, (start_minute, end_minute))| TimeWindow {
                days,
                start_minute,
                end_minute,
            }),
            user_agent: agent.map(str::to_owned),
            mfa,
            max_auth_age_seconds: age,
        },
    )
}

fn rule() -> impl Strategy<Value = Rule> {
    let sets = subsequence(
        vec![
            "IAMReadOnly",
            "IAMManager",
            "ProjectManager",
            "AuditTrailReadOnly",
            "Servers",
            "ReadOnly",
        ],
        1..=2,
    );
    let scope = prop_oneof![
        Just(Scope::Organization),
        subsequence(PROJECTS.iter().map(|p| id(*p)).collect::<Vec<_>>(), 1..=2)
            .prop_map(Scope::Projects),
    ];
    (sets, scope, condition()).prop_map(|(sets, scope, condition)| Rule {
        permission_sets: sets.into_iter().map(str::to_owned).collect(),
        scope,
        condition,
    })
}

fn raw_text() -> impl Strategy<Value = String> {
    let (u, g, p, org) = (users()[0], groups()[1], id(P2), id(ORG));
    prop_oneof![
        Just(r#"forbid (principal, action, resource) when { context has user_agent && context.user_agent like "*bot*" };"#.to_owned()),
        Just(format!(r#"permit (principal in Rampart::Group::"{g}", action in Rampart::Action::"set:ReadOnly", resource) when {{ context.mfa }};"#)),
        Just(format!(r#"forbid (principal == Rampart::User::"{u}", action, resource in Rampart::Project::"{p}");"#)),
        Just(r#"permit (principal, action == Rampart::Action::"instances:servers:read", resource is Rampart::Resource) when { resource.kind == "server" };"#.to_owned()),
        Just(format!(r#"permit (principal, action, resource) when {{ principal in Rampart::Group::"{g}" && action in Rampart::Action::"set:AuditTrailReadOnly" }};"#)),
        Just(r#"forbid (principal, action in Rampart::Action::"all:rampart", resource) unless { context.mfa || context.day_of_week >= 6 };"#.to_owned()),
        Just(format!(r#"permit (principal is Rampart::User, action, resource in Rampart::Organization::"{org}") when {{ principal.role == "owner" && context has auth_age_seconds && context.auth_age_seconds < 300 }};"#)),
        Just(r#"forbid (principal, action, resource) when { context has source_ip && context.source_ip.isInRange(ip("192.0.2.0/24")) };"#.to_owned()),
        Just(r#"permit (principal, action in [Rampart::Action::"set:IAMReadOnly", Rampart::Action::"iam:groups:write"], resource) when { resource in Rampart::Organization::"00000000-0000-0000-0000-000000000000" || context.minute_of_day < 600 };"#.to_owned()),
    ]
}

fn organization() -> impl Strategy<Value = OrganizationPolicies> {
    let policies =
        proptest::collection::vec((principal(), proptest::collection::vec(rule(), 1..=3)), 0..=10);
    let raws = proptest::collection::vec(raw_text(), 0..=4);
    (policies, raws).prop_map(|(policies, raws)| {
        let mut input = customer();
        input.projects = PROJECTS.iter().map(|p| id(*p)).collect();
        input.custom_actions.push(CustomAction {
            name: "instances:servers:read".into(),
            description: String::new(),
            privileged: false,
        });
        input.custom_permission_sets.push(CustomPermissionSet {
            name: "Servers".into(),
            description: String::new(),
            actions: vec!["instances:servers:read".into(), "projects:projects:read".into()],
        });
        input.policies = policies
            .into_iter()
            .enumerate()
            .map(|(n, (principal, rules))| policy(1000 + n as u128, principal, rules))
            .collect();
        input.raw_policies = raws
            .into_iter()
            .enumerate()
            .map(|(n, text)| RawPolicy { id: id(2000 + n as u128), text })
            .collect();
        input
    })
}

fn facts() -> impl Strategy<Value = PrincipalFacts> {
    let who = prop_oneof![
        3 => select(users()).prop_map(PrincipalRef::User),
        1 => select(applications()).prop_map(PrincipalRef::Application),
    ];
    let org = prop_oneof![5 => Just(id(ORG)), 1 => Just(id(600))];
    let role = prop_oneof![Just(Role::Member), Just(Role::Owner)];
    (who, org, role, subsequence(groups(), 0..=3), proptest::bool::weighted(0.2)).prop_map(
        |(principal, organization_id, role, groups, staff)| PrincipalFacts {
            principal,
            organization_id,
            role,
            groups,
            staff,
        },
    )
}

fn resource() -> impl Strategy<Value = ResourceRef> {
    let project = select(PROJECTS.to_vec()).prop_map(id);
    prop_oneof![
        Just(org_resource()),
        project.clone().prop_map(|p| ResourceRef::Project { organization: id(ORG), project: p }),
        (proptest::option::of(project), select(vec!["server", "report"])).prop_map(
            |(project, kind)| ResourceRef::Object {
                organization: id(ORG),
                project,
                kind: kind.to_owned(),
                id: "r-1".to_owned(),
            }
        ),
    ]
}

fn context() -> impl Strategy<Value = Context> {
    let ip = proptest::option::of(select(vec![
        "10.1.1.1",
        "192.0.2.5",
        "2001:db8::5",
        "8.8.8.8",
        "::ffff:10.2.2.2",
        "::ffff:192.0.2.9",
    ]));
    let agent = proptest::option::of(select(vec!["Mozilla/5.0", "somebot/1", "curl/8"]));
    let age = proptest::option::of(select(vec![10i64, 1000, 10_000]));
    (ip, 0i64..7 * 24 * 60, agent, any::<bool>(), age).prop_map(|(ip, minute, agent, mfa, age)| {
        let now =
            OffsetDateTime::from_unix_timestamp(1_704_067_200).unwrap() + Duration::minutes(minute);
        Context {
            source_ip: ip.map(|i| i.parse::<IpAddr>().unwrap()),
            now,
            user_agent: agent.map(str::to_owned),
            mfa,
            authenticated_at: age.map(|a| now - Duration::seconds(a)),
        }
    })
}

fn action() -> impl Strategy<Value = String> {
    let mut names: Vec<String> =
        authz::Catalogue::rampart().actions().map(|a| a.name.clone()).collect();
    names.push("instances:servers:read".into());
    select(names)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sliced_decisions_match_the_plain_evaluation(
        input in organization(),
        requests in proptest::collection::vec((facts(), action(), resource(), context()), 1..=40),
    ) {
        let compiled = build(&input);
        // Twice: the second pass answers from the caches.
        for _ in 0..2 {
            for (who, action, resource, context) in &requests {
                let request = Request { principal: who, action, resource, context };
                let sliced = compiled.authorize(&request);
                let plain = compiled.authorize_unsliced(&request);
                prop_assert_eq!(sliced.allowed, plain.allowed, "{:?}\n{:?}\n{:?}", request, sliced, plain);
                prop_assert_eq!(&sliced.errors, &plain.errors);
                if sliced.allowed || !sliced.determining_policies.is_empty() {
                    prop_assert_eq!(&sliced.determining_policies, &plain.determining_policies);
                }
            }
        }
    }
}
