//! Engine behaviour: logsource routing, correlation on event time, bounded
//! state, pipelines, and load reporting.

use std::path::PathBuf;

use detect::{DetectionKind, Engine, EngineConfig, Event, EventSource, RuleSet};
use serde_json::json;
use time::OffsetDateTime;

fn rules(yaml: &str) -> RuleSet {
    RuleSet::from_sources([(PathBuf::from("test.yml"), yaml.to_owned())])
}

fn event(source: EventSource, at: i64, fields: serde_json::Value) -> Event {
    let serde_json::Value::Object(map) = fields else { panic!("fields must be an object") };
    Event::new(source, OffsetDateTime::from_unix_timestamp(1_800_000_000 + at).unwrap(), map)
}

const ROUTING_RULES: &str = r#"
title: Windows process whoami
id: r-proc
logsource: {product: windows, category: process_creation}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
---
title: Any windows whoami
id: r-windows
logsource: {product: windows}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
---
title: Linux whoami
id: r-linux
logsource: {product: linux, category: process_creation}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
---
title: Security service whoami
id: r-security
logsource: {product: windows, service: security}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
---
title: Registry event
id: r-registry-event
logsource: {product: windows, category: registry_event}
detection: {sel: {TargetObject|contains: Run}, condition: sel}
level: low
---
title: Registry set
id: r-registry-set
logsource: {product: windows, category: registry_set}
detection: {sel: {TargetObject|contains: Run}, condition: sel}
level: low
"#;

fn fired(engine: &Engine, e: &Event) -> Vec<String> {
    let mut ids: Vec<String> = engine.matches(e).into_iter().filter_map(|d| d.rule_id).collect();
    ids.sort();
    ids
}

#[test]
fn events_reach_only_the_rules_of_their_logsource_and_wider() {
    let set = rules(ROUTING_RULES);
    assert!(set.report().failed.is_empty(), "{:?}", set.report());
    let engine = Engine::new(&set, &EngineConfig::default());
    assert_eq!(engine.detection_rule_count(), 6);
    assert_eq!(engine.correlation_rule_count(), 0);
    let fields = json!({"CommandLine": "cmd /c whoami", "TargetObject": "HKLM\\...\\Run\\x"});
    let sysmon = EventSource::new("windows", Some("sysmon")).with_category("process_creation");
    assert_eq!(fired(&engine, &event(sysmon, 0, fields.clone())), ["r-proc", "r-windows"]);
    let security = EventSource::new("windows", Some("security")).with_category("process_creation");
    assert_eq!(
        fired(&engine, &event(security, 0, fields.clone())),
        ["r-proc", "r-security", "r-windows"]
    );
    let linux = EventSource::new("linux", None).with_category("process_creation");
    assert_eq!(fired(&engine, &event(linux, 0, fields.clone())), ["r-linux"]);
    // An event with several categories reaches the rules of each, once.
    let registry = EventSource::new("windows", Some("sysmon"))
        .with_category("registry_set")
        .with_category("registry_event");
    assert_eq!(
        fired(&engine, &event(registry, 0, fields.clone())),
        ["r-registry-event", "r-registry-set", "r-windows"]
    );
    // No logsource: only rules that name nothing would match; these all do.
    assert!(fired(&engine, &event(EventSource::default(), 0, fields)).is_empty());
}

#[test]
fn logsource_case_does_not_matter_and_a_category_named_twice_is_evaluated_once() {
    let mixed_case = r#"---
title: Mixed-case logsource
id: r-mixed
logsource: {product: Windows, service: Sysmon, category: Process_Creation}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
"#;
    let set = rules(&format!("{ROUTING_RULES}{mixed_case}"));
    let engine = Engine::new(&set, &EngineConfig::default());
    let fields = json!({"CommandLine": "cmd /c whoami"});
    let source = EventSource::new("WINDOWS", Some("sysmon"))
        .with_category("process_creation")
        .with_category("PROCESS_CREATION");
    assert_eq!(
        fired(&engine, &event(source, 0, fields.clone())),
        ["r-mixed", "r-proc", "r-windows"]
    );
    let security = EventSource::new("windows", Some("security")).with_category("process_creation");
    assert_eq!(fired(&engine, &event(security, 0, fields)), ["r-proc", "r-security", "r-windows"]);
}

const CORRELATION: &str = r#"
title: Failure
id: fail
name: fail
logsource: {product: test}
detection: {sel: {status: failure}, condition: sel}
level: informational
---
title: Many failures
id: many
author: Tester
tags: [attack.credential-access, attack.t1110]
correlation:
    type: event_count
    rules: [fail]
    group-by: [user]
    timespan: 60s
    condition: {gte: 3}
level: high
"#;

#[test]
fn correlations_use_event_time_and_report_the_group() {
    let set = rules(CORRELATION);
    let mut engine = Engine::new(&set, &EngineConfig::default());
    let src = EventSource::new("test", None);
    let fail = |at, user: &str| event(src.clone(), at, json!({"status": "failure", "user": user}));
    // Three failures 40 s apart span 80 s: no firing.
    let mut out = Vec::new();
    for at in [0, 40, 80] {
        out.extend(engine.evaluate(&fail(at, "bob")));
    }
    assert!(out.iter().all(|d| d.title != "Many failures"));
    // A fourth at 90 s makes three within 60 s (40, 80, 90).
    let fourth = engine.evaluate(&fail(90, "bob"));
    let correlation = fourth.iter().find(|d| d.title == "Many failures").expect("fires");
    match &correlation.kind {
        DetectionKind::Correlation { group_key, value, timespan_secs } => {
            assert_eq!(group_key, &vec![("user".to_owned(), "bob".to_owned())]);
            assert!(*value >= 3.0);
            assert_eq!(*timespan_secs, 60);
        }
        other => panic!("expected a correlation, got {other:?}"),
    }
    assert_eq!(correlation.author.as_deref(), Some("Tester"));
    assert_eq!(correlation.level.as_deref(), Some("high"));
    assert_eq!(correlation.attack_techniques(), vec!["T1110".to_owned()]);
    assert_eq!(correlation.event["user"], "bob");
    // Another user is counted apart.
    assert!(engine.evaluate(&fail(91, "carol")).iter().all(|d| d.title != "Many failures"));
}

#[test]
fn correlation_state_is_bounded() {
    let set = rules(CORRELATION);
    let config = EngineConfig { max_state_entries: 50, ..EngineConfig::default() };
    let mut engine = Engine::new(&set, &config);
    let src = EventSource::new("test", None);
    for i in 0..1_000 {
        engine.evaluate(&event(
            src.clone(),
            i,
            json!({"status": "failure", "user": format!("u{i}")}),
        ));
        assert!(engine.state_entries() <= 50, "state grew to {}", engine.state_entries());
    }
    engine.evict_expired(OffsetDateTime::from_unix_timestamp(1_800_000_000 + 10_000).unwrap());
    assert_eq!(engine.state_entries(), 0);
}

#[test]
fn pipelines_map_field_names() {
    let set = rules(
        r#"
title: Generic user rule
id: generic
logsource: {product: test}
detection: {sel: {User: admin}, condition: sel}
level: low
"#,
    );
    let pipeline = detect::parse_pipeline(
        r#"
name: test mapping
priority: 10
transformations:
  - id: user_field
    type: field_name_mapping
    mapping:
      User: actor.user.name
"#,
    )
    .unwrap();
    let src = EventSource::new("test", None);
    let nested = event(src.clone(), 0, json!({"actor": {"user": {"name": "admin"}}}));
    let flat = event(src, 0, json!({"User": "admin"}));
    let plain = Engine::new(&set, &EngineConfig::default());
    assert_eq!(fired(&plain, &flat), ["generic"]);
    assert!(fired(&plain, &nested).is_empty());
    let mapped =
        Engine::new(&set, &EngineConfig { pipelines: vec![pipeline], ..EngineConfig::default() });
    assert_eq!(fired(&mapped, &nested), ["generic"]);
    assert!(fired(&mapped, &flat).is_empty());
}

#[test]
fn load_report_lists_every_refusal_with_a_reason() {
    let set = RuleSet::from_sources([
        (PathBuf::from("bad-yaml.yml"), "title: [unclosed".to_owned()),
        (
            PathBuf::from("deprecated.yml"),
            "title: Old\nid: old\nstatus: deprecated\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n".to_owned(),
        ),
        (
            PathBuf::from("bad-condition.yml"),
            "title: Broken\nid: broken\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s and nothing}\n".to_owned(),
        ),
        (
            PathBuf::from("orphan.yml"),
            "title: Orphan\nid: orphan\ncorrelation: {type: event_count, rules: [missing], group-by: [a], timespan: 1m, condition: {gte: 2}}\n".to_owned(),
        ),
        (
            PathBuf::from("good.yml"),
            "title: Good\nid: good\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n".to_owned(),
        ),
    ]);
    assert_eq!(set.report().loaded, 1);
    assert_eq!(set.len(), 1);
    let failed: Vec<(String, Option<String>)> = set
        .report()
        .failed
        .iter()
        .map(|f| (f.path.display().to_string(), f.rule.clone()))
        .collect();
    assert_eq!(failed.len(), 4, "{:#?}", set.report().failed);
    assert!(failed.contains(&("bad-yaml.yml".into(), None)));
    assert!(failed.contains(&("deprecated.yml".into(), Some("old".into()))));
    assert!(failed.iter().any(|(p, _)| p == "bad-condition.yml"));
    assert!(failed.contains(&("orphan.yml".into(), Some("orphan".into()))));
    let orphan = set.report().failed.iter().find(|f| f.path.ends_with("orphan.yml")).unwrap();
    assert!(orphan.reason.contains("missing"), "{}", orphan.reason);
    assert!(set.report().failed.iter().all(|f| !f.reason.is_empty()));
}

#[test]
fn rule_sets_are_shared_not_copied() {
    let set = RuleSet::builtin();
    let copy = set.clone();
    let merged = set.merged(&rules(CORRELATION));
    assert_eq!(merged.len(), set.len() + 2);
    assert_eq!(copy.len(), set.len());
    // Two engines from one set evaluate independently.
    let mut a = Engine::new(&merged, &EngineConfig::default());
    let b = Engine::new(&merged, &EngineConfig::default());
    let src = EventSource::new("test", None);
    for at in 0..3 {
        a.evaluate(&event(src.clone(), at, json!({"status": "failure", "user": "x"})));
    }
    assert!(a.state_entries() > 0);
    assert_eq!(b.state_entries(), 0);
}

mod routing_property {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn source_strategy() -> impl Strategy<Value = EventSource> {
        (
            prop::option::of(prop::sample::select(vec!["windows", "Windows", "linux"])),
            prop::option::of(prop::sample::select(vec!["sysmon", "security", "SECURITY"])),
            prop::sample::subsequence(
                vec!["process_creation", "registry_set", "registry_event", "image_load"],
                0..=3,
            ),
        )
            .prop_map(|(product, service, categories)| EventSource {
                product: product.map(str::to_owned),
                service: service.map(str::to_owned),
                categories: categories.into_iter().map(str::to_owned).collect(),
            })
    }

    proptest! {
        /// Routing returns exactly what a full scan of every rule returns,
        /// kept to the rules whose logsource accepts the event.
        #[test]
        fn routing_equals_full_scan_filtered_by_logsource(
            source in source_strategy(),
            command in prop::sample::select(vec!["cmd /c whoami", "notepad.exe", ""]),
            key in prop::sample::select(vec!["HKLM\\Run\\x", "HKCU\\Other"]),
        ) {
            let set = rules(ROUTING_RULES);
            let routed = Engine::new(&set, &EngineConfig::default());
            let mut bare = rsigma_eval::Engine::new();
            bare.add_collection(&set.sigma_collection()).unwrap();
            let fields = json!({"CommandLine": command, "TargetObject": key});
            let expected: BTreeSet<String> = bare
                .evaluate(&rsigma_eval::JsonEvent::borrow(&fields))
                .into_iter()
                .filter_map(|r| r.header.rule_id)
                .filter(|id| set.info(id).is_some_and(|i| i.logsource.accepts(&source)))
                .collect();
            let got: BTreeSet<String> = fired(&routed, &event(source.clone(), 0, fields)).into_iter().collect();
            prop_assert_eq!(got, expected, "source {:?}", source);
        }
    }
}

#[test]
fn engines_move_between_threads_and_rule_sets_are_shared() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Engine>();
    send_sync::<RuleSet>();
    send_sync::<detect::Detection>();
}

#[test]
fn owned_evaluation_shares_the_event_and_prepares_it_only_on_a_match() {
    let mut engine = Engine::new(&rules(ROUTING_RULES), &EngineConfig::default());
    let windows = EventSource::new("windows", None).with_category("process_creation");
    let matching = event(windows.clone(), 0, json!({"CommandLine": "cmd /c whoami"}));
    let copied = engine.evaluate(&matching);
    let mut prepared = 0;
    let owned = engine.evaluate_owned(matching.clone(), |fields| {
        prepared += 1;
        fields["stored_as"] = json!("event:1");
    });
    assert_eq!(prepared, 1, "once for the event, whatever the number of rules");
    assert_eq!(owned.len(), 2, "r-proc and r-windows");
    assert_eq!(owned.len(), copied.len());
    assert!(std::sync::Arc::ptr_eq(&owned[0].event, &owned[1].event), "one event, shared");
    assert_eq!(owned[0].event["stored_as"], "event:1");
    assert_eq!(owned[0].event["CommandLine"], "cmd /c whoami");
    assert!(copied[0].event.get("stored_as").is_none(), "evaluate keeps the event as given");
    assert_eq!(owned[0].time, matching.time);

    let benign = event(windows, 1, json!({"CommandLine": "cmd /c dir"}));
    let none = engine.evaluate_owned(benign, |_| prepared += 1);
    assert!(none.is_empty());
    assert_eq!(prepared, 1, "not run when nothing matched");
}
