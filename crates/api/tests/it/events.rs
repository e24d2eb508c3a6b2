//! Event intake through the API: an application's key holding `EventSender` sends NDJSON
//! batches; bad and oversize lines are reported by number while the rest is stored; an
//! oversize batch and a full intake are refused whole; stored events are searched by time and
//! field; an event that matches a loaded rule raises an alert once, also after a restart; the
//! retention purge removes expired events.

use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

const NDJSON: &str = "application/x-ndjson";

struct Org {
    id: String,
    owner: String,
    sender: String,
}

impl Org {
    /// A customer organisation with an owner and an application holding `EventSender`.
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let email = format!("owner@{}.example", name.to_lowercase());
        let (_, owner) = user_key(harness, &id, &email, UserRole::Owner).await;
        let path = |rest: &str| format!("/v1/organizations/{id}{rest}");
        let application = call(
            harness,
            Method::POST,
            &path("/applications"),
            &owner,
            Some(json!({"name": "shipper"})),
        )
        .await;
        let app_id = application.body["id"].as_str().unwrap().to_owned();
        let key = call(
            harness,
            Method::POST,
            &path(&format!("/applications/{app_id}/api-keys")),
            &owner,
            Some(json!({"description": "log shipper"})),
        )
        .await;
        let sender = key.body["secret"].as_str().unwrap().to_owned();
        let policy = call(
            harness,
            Method::POST,
            &path("/policies"),
            &owner,
            Some(json!({"principal": {"type": "application", "id": app_id},
                        "rules": [{"permission_sets": ["EventSender"], "scope": "organization"}]})),
        )
        .await;
        assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
        Self { id, owner, sender }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }
}

async fn send(harness: &Harness, org: &Org, query: &str, body: &str) -> Answer {
    let uri = org.path(&format!("/events{query}"));
    harness
        .request(Method::POST, &uri, Some(&org.sender), Some((NDJSON, body.as_bytes().to_vec())))
        .await
}

async fn search(harness: &Harness, org: &Org, query: &str) -> Answer {
    call(harness, Method::GET, &org.path(&format!("/events{query}")), &org.owner, None).await
}

/// A Sysmon process creation record in the `evtx_dump` JSON shape.
fn sysmon_process(command_line: &str, at: &str) -> String {
    json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "ws-17",
            "TimeCreated": {"#attributes": {"SystemTime": at}}
        },
        "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": command_line}
    }})
    .to_string()
}

const TEST_RULE: &str = r"
title: Test Shadow Copy Deletion
id: 0b8f6c5e-51a4-4c63-9d4e-6a3f2f0d7a11
status: test
author: Rampart tests
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains|all:
            - 'vssadmin'
            - 'delete shadows'
    condition: selection
level: high
tags:
    - attack.impact
    - attack.t1490
";

#[tokio::test]
async fn a_good_batch_is_stored_audited_and_searchable() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let audit_before = harness.n_audit_events(&org.id).await;
    let body = [
        json!({"time": 1_772_355_600_000_i64, "user": {"name": "ada"}, "action": "login"}),
        json!({"@timestamp": "2026-03-01T10:05:00Z", "user": {"name": "bob"}, "action": "login"}),
        json!({"user": {"name": "ada"}, "action": "logout"}),
    ]
    .iter()
    .map(|event| format!("{event}\n"))
    .collect::<String>();
    let answer = send(&harness, &org, "?product=linux&service=auth", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["accepted"], 3);
    assert_eq!(answer.body["rejected"], 0);
    assert_eq!(
        (answer.body["first_seq"].clone(), answer.body["end_seq"].clone()),
        (0.into(), 3.into())
    );
    assert_eq!(
        harness.n_audit_events(&org.id).await,
        audit_before + 1,
        "one audit event per batch"
    );

    // All, newest first; the event without a time of its own has the reception time.
    let all = search(&harness, &org, "").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let seqs: Vec<u64> =
        all.body["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 1, 0]);
    assert_eq!(all.body["events"][0]["time"], "2026-03-01T09:00:00Z");
    assert_eq!(all.body["events"][2]["time"], "2026-03-01T09:00:00Z");
    assert_eq!(all.body["events"][1]["time"], "2026-03-01T10:05:00Z");
    assert_eq!(all.body["events"][1]["product"], "linux");
    assert_eq!(all.body["events"][1]["service"], "auth");
    assert_eq!(all.body["events"][1]["fields"]["user"]["name"], "bob");

    // By field (dotted path) and value, by several conditions, by time range.
    let ada = search(&harness, &org, "?match=user.name%3Dada").await;
    let seqs: Vec<u64> =
        ada.body["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 0]);
    let both = search(&harness, &org, "?match=user.name%3Dada&match=action%3Dlogin").await;
    assert_eq!(both.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(both.body["events"][0]["seq"], 0);
    let late = search(&harness, &org, "?from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z").await;
    assert_eq!(late.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(late.body["events"][0]["seq"], 1);
    let paged = search(&harness, &org, "?limit=2").await;
    assert_eq!(paged.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(paged.body["next_before"], 1);
    let rest = search(&harness, &org, "?limit=2&before=1").await;
    assert_eq!(rest.body["events"][0]["seq"], 0);
    assert_eq!(rest.body["next_before"], Value::Null);

    // Bad searches.
    for query in [
        "?from=yesterday",
        "?limit=0",
        "?limit=501",
        "?match=novalue",
        "?colour=red",
        "?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
        "?before=x",
        "?limit=1&limit=2",
    ] {
        search(&harness, &org, query)
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    // The sender may send, not read; nobody outside the organisation may do either.
    let read_as_sender = call(&harness, Method::GET, &org.path("/events"), &org.sender, None).await;
    read_as_sender.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let other = Org::new(&harness, "Globex").await;
    let cross = harness
        .request(
            Method::POST,
            &org.path("/events"),
            Some(&other.sender),
            Some((NDJSON, b"{}\n".to_vec())),
        )
        .await;
    assert!(
        matches!(cross.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        cross.body
    );
    assert_eq!(search(&harness, &org, "").await.body["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_and_oversize_lines_are_reported_by_number_and_the_rest_is_stored() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(70 * 1024));
    let body = format!(
        "{{\"n\":1}}\nnot json\n[1,2]\n{{\"n\":4}}\n\n{big}\n{{\"Event\":{{\"System\":{{}}}}}}\n{{\"n\":8}}\n"
    );
    let answer = send(&harness, &org, "", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["accepted"], 3);
    assert_eq!(answer.body["rejected"], 4);
    let problems = answer.body["problems"].as_array().unwrap();
    let lines: Vec<u64> = problems.iter().map(|p| p["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 3, 6, 7]);
    assert!(problems[0]["reason"].as_str().unwrap().contains("invalid JSON"), "{}", answer.body);
    assert!(problems[1]["reason"].as_str().unwrap().contains("JSON object"));
    assert!(problems[2]["reason"].as_str().unwrap().contains("over the 65536-byte limit"));
    assert!(problems[3]["reason"].as_str().unwrap().contains("Windows event"));
    let stored = search(&harness, &org, "").await;
    let ns: Vec<i64> = stored.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fields"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![8, 4, 1]);

    // Only bad lines: reported, nothing stored, nothing audited.
    let audit_before = harness.n_audit_events(&org.id).await;
    let answer = send(&harness, &org, "", "nope\n").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        (answer.body["accepted"].clone(), answer.body["rejected"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(harness.n_audit_events(&org.id).await, audit_before);

    // A batch over the limit, a wrong media type and a bad logsource are refused whole.
    let huge = "{\"n\":0}\n".repeat(4 * 1024 * 1024 / 8 + 1);
    send(&harness, &org, "", &huge)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let json_body = harness
        .request(
            Method::POST,
            &org.path("/events"),
            Some(&org.sender),
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    json_body.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for query in ["?product=Linux", "?product=rampart", "?service=a%20b", "?colour=red"] {
        send(&harness, &org, query, "{\"n\":9}\n")
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    let unauthenticated = harness
        .request(Method::POST, &org.path("/events"), None, Some((NDJSON, b"{}\n".to_vec())))
        .await;
    unauthenticated.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(search(&harness, &org, "").await.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(harness.n_audit_events(&org.id).await, audit_before);
}

#[tokio::test]
async fn a_full_intake_answers_429_with_retry_after_and_stores_nothing() {
    let mut harness = Harness::new().await;
    let settings = app::IntakeSettings {
        max_backlog: 4,
        retry_after_seconds: 3,
        ..app::IntakeSettings::default()
    };
    harness.app = harness.app.clone().with_event_intake(settings);
    harness.router = api::router(
        api::ApiState {
            app: harness.app.clone(),
            metrics: std::sync::Arc::new(api::Metrics::new()),
        },
        &api::ApiLimits::default(),
    );
    let org = Org::new(&harness, "Acme").await;
    let three = "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n";
    assert_eq!(send(&harness, &org, "", three).await.body["accepted"], 3);
    let audit_before = harness.n_audit_events(&org.id).await;
    let full = send(&harness, &org, "", "{\"n\":4}\n{\"n\":5}\n").await;
    full.assert_problem(StatusCode::TOO_MANY_REQUESTS, "throttled");
    assert_eq!(full.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
    assert_eq!(search(&harness, &org, "").await.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(harness.n_audit_events(&org.id).await, audit_before);
    // One more still fits; once the rules have caught up there is room again.
    assert_eq!(send(&harness, &org, "", "{\"n\":4}\n").await.body["accepted"], 1);
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!(pass.evaluated, 4);
    let answer = send(&harness, &org, "", "{\"n\":5}\n{\"n\":6}\n").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["first_seq"], 4);
}

#[tokio::test]
async fn an_event_matching_a_loaded_rule_raises_one_alert_once_even_after_a_restart() {
    let harness = Harness::new().await;
    let loaded =
        detect::RuleSet::from_sources([(PathBuf::from("local/shadow.yml"), TEST_RULE.to_owned())]);
    assert_eq!(loaded.report().loaded, 1, "{:?}", loaded.report().failed);
    harness.app.set_detection_rules(detect::RuleSet::builtin().merged(&loaded)).await;
    let org = Org::new(&harness, "Acme").await;
    let body = format!(
        "{}\n{}\n",
        sysmon_process("C:\\Windows\\system32\\cmd.exe /c dir", "2026-03-01T08:59:00Z"),
        sysmon_process("vssadmin.exe Delete Shadows /All /Quiet", "2026-03-01T08:59:30Z"),
    );
    let answer = send(&harness, &org, "", &body).await;
    assert_eq!(answer.body["accepted"], 2, "{}", answer.body);
    // Windows records are routed by channel and event id.
    let stored = search(
        &harness,
        &org,
        "?match=CommandLine%3Dvssadmin.exe%20Delete%20Shadows%20%2FAll%20%2FQuiet",
    )
    .await;
    assert_eq!(stored.body["events"].as_array().unwrap().len(), 1, "{}", stored.body);
    assert_eq!(stored.body["events"][0]["product"], "windows");
    assert_eq!(stored.body["events"][0]["service"], "sysmon");
    assert_eq!(stored.body["events"][0]["categories"], json!(["process_creation"]));
    assert_eq!(stored.body["events"][0]["time"], "2026-03-01T08:59:30Z");

    let alerts = call(&harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    assert_eq!(alerts.body.as_array().unwrap().len(), 0, "nothing before detection runs");
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!((pass.evaluated, pass.alerts_opened), (2, 1));
    let alerts = call(&harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    let list = alerts.body.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", alerts.body);
    assert_eq!(list[0]["title"], "Test Shadow Copy Deletion");
    assert_eq!(list[0]["author"], "Rampart tests");
    assert_eq!(list[0]["level"], "high");
    assert_eq!(list[0]["count"], 1);
    assert_eq!(list[0]["events"], json!([format!("event:{}:1", org.id)]));
    assert_eq!(list[0]["first_seen"], "2026-03-01T08:59:30Z");

    // Evaluated once: another pass, or a restarted service on the same store, sees nothing.
    assert_eq!(harness.app.run_event_detection_once().await.unwrap().evaluated, 0);
    let restarted = app::App::new(
        harness.app.store().clone(),
        harness.clock.clone(),
        app::PasswordHasher::new(8 * 1024, 1, 1, 1).unwrap(),
    );
    restarted.set_detection_rules(detect::RuleSet::builtin().merged(&loaded)).await;
    assert_eq!(restarted.run_event_detection_once().await.unwrap().evaluated, 0);
    // A new matching event is counted into the open alert.
    send(
        &harness,
        &org,
        "",
        &format!("{}\n", sysmon_process("vssadmin delete shadows", "2026-03-01T09:10:00Z")),
    )
    .await;
    assert_eq!(restarted.run_event_detection_once().await.unwrap().evaluated, 1);
    let alerts = call(&harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    assert_eq!(alerts.body[0]["count"], 2, "{}", alerts.body);
    assert_eq!(alerts.body.as_array().unwrap().len(), 1);
}

const LINUX_RULE: &str = r"
title: Test Repeated Sudo Failure
id: 6d1c2b0a-8e0f-4c1e-9a55-3b7d9f1e2c44
status: test
author: Rampart tests
logsource:
    product: linux
    service: auth
detection:
    selection:
        action: sudo_failed
    condition: selection
level: medium
";

/// Ingest one mixed batch into a fresh service and return its alerts after one detection
/// pass, from the batch held in memory (`from_store`: false) or, as after a restart, from
/// the store; organisation ids are replaced by `ORG` so two services can be compared.
async fn alerts_after_one_pass(from_store: bool) -> Vec<Value> {
    let harness = Harness::new().await;
    let rules = detect::RuleSet::from_sources([
        (PathBuf::from("local/shadow.yml"), TEST_RULE.to_owned()),
        (PathBuf::from("local/sudo.yml"), LINUX_RULE.to_owned()),
    ]);
    assert_eq!(rules.report().loaded, 2, "{:?}", rules.report().failed);
    let rules = detect::RuleSet::builtin().merged(&rules);
    harness.app.set_detection_rules(rules.clone()).await;
    let org = Org::new(&harness, "Acme").await;
    let windows = [
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T08:50:00Z"),
        sysmon_process("C:\\Windows\\system32\\cmd.exe /c dir", "2026-03-01T08:51:00Z"),
        sysmon_process("vssadmin.exe Delete Shadows /Quiet", "2026-03-01T08:52:00Z"),
    ];
    let answer = send(&harness, &org, "", &(windows.join("\n") + "\n")).await;
    assert_eq!(answer.body["accepted"], 3, "{}", answer.body);
    let linux = [
        json!({"action": "sudo_failed", "user": "ana", "time": 1_772_355_000_000_i64}),
        json!({"action": "login", "user": "ana", "time": 1_772_355_010_000_i64}),
        json!({"action": "sudo_failed", "user": "bo", "@timestamp": "2026-03-01T08:55:00Z"}),
    ];
    let body: String = linux.iter().map(|event| format!("{event}\n")).collect();
    let answer = send(&harness, &org, "?product=linux&service=auth", &body).await;
    assert_eq!(answer.body["accepted"], 3, "{}", answer.body);

    let pass = if from_store {
        let restarted = app::App::new(
            harness.app.store().clone(),
            harness.clock.clone(),
            app::PasswordHasher::new(8 * 1024, 1, 1, 1).unwrap(),
        );
        restarted.set_detection_rules(rules).await;
        restarted.run_event_detection_once().await.unwrap()
    } else {
        harness.app.run_event_detection_once().await.unwrap()
    };
    assert_eq!((pass.evaluated, pass.unreadable), (6, 0));
    let alerts = call(&harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    let text = alerts.body.to_string().replace(&org.id, "ORG");
    let mut alerts: Vec<Value> =
        serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone();
    for alert in &mut alerts {
        let alert = alert.as_object_mut().unwrap();
        alert.remove("id");
    }
    alerts.sort_by_key(|alert| alert["title"].as_str().unwrap_or_default().to_owned());
    alerts
}

/// Ingested batches are evaluated from memory when the pass finds them there; the rules must
/// see exactly what they would read back from the store.
#[tokio::test]
async fn events_evaluated_from_memory_raise_the_alerts_the_stored_events_raise() {
    let from_memory = alerts_after_one_pass(false).await;
    let from_store = alerts_after_one_pass(true).await;
    let titles: Vec<&str> = from_memory.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Test Repeated Sudo Failure", "Test Shadow Copy Deletion"]);
    assert_eq!(from_memory[0]["count"], 2);
    assert_eq!(from_memory[1]["count"], 2);
    assert_eq!(from_memory[1]["events"], json!(["event:ORG:0", "event:ORG:2"]));
    assert_eq!(from_memory, from_store);
}

/// The organisation's alerts as (first sighting, count), in time order.
async fn alert_counts(harness: &Harness, org: &Org) -> Vec<(String, u64)> {
    let alerts = call(harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    let mut counts: Vec<(String, u64)> = alerts
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["first_seen"].as_str().unwrap().to_owned(), a["count"].as_u64().unwrap()))
        .collect();
    counts.sort();
    counts
}

/// Events out of time order: a detection counts into the open alert whose window (an hour
/// from its first sighting) covers its time, and starts one of its own when none does.
#[tokio::test]
async fn a_pass_counts_each_detection_into_the_alert_whose_window_covers_it() {
    let harness = Harness::new().await;
    let loaded =
        detect::RuleSet::from_sources([(PathBuf::from("local/shadow.yml"), TEST_RULE.to_owned())]);
    harness.app.set_detection_rules(detect::RuleSet::builtin().merged(&loaded)).await;
    let org = Org::new(&harness, "Acme").await;
    let body = [
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T09:00:00Z"),
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T08:00:00Z"),
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T09:50:00Z"),
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T08:30:00Z"),
    ]
    .join("\n");
    assert_eq!(send(&harness, &org, "", &body).await.body["accepted"], 4);
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!((pass.evaluated, pass.detections, pass.alerts_opened), (4, 4, 2));
    assert_eq!(
        alert_counts(&harness, &org).await,
        [("2026-03-01T08:00:00Z".to_owned(), 2), ("2026-03-01T09:00:00Z".to_owned(), 2)]
    );
    // A later pass reads the open alerts back from the store and does the same.
    let body = [
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T08:59:00Z"),
        sysmon_process("vssadmin delete shadows /all", "2026-03-01T11:00:00Z"),
    ]
    .join("\n");
    assert_eq!(send(&harness, &org, "", &body).await.body["accepted"], 2);
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!((pass.detections, pass.alerts_opened), (2, 1));
    assert_eq!(
        alert_counts(&harness, &org).await,
        [
            ("2026-03-01T08:00:00Z".to_owned(), 3),
            ("2026-03-01T09:00:00Z".to_owned(), 2),
            ("2026-03-01T11:00:00Z".to_owned(), 1)
        ]
    );

    // Each pass that counted into alerts says so once in the trail, with each alert's new
    // count and the detections the pass added to it.
    let alerts = call(&harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    let id_seen_at = |at: &str| {
        let alerts = alerts.body.as_array().unwrap();
        alerts.iter().find(|a| a["first_seen"] == at).unwrap()["id"].clone()
    };
    let (eight, nine) = (id_seen_at("2026-03-01T08:00:00Z"), id_seen_at("2026-03-01T09:00:00Z"));
    let uri = org.path("/audit/events?action=detect.alert.count");
    let trail = call(&harness, Method::GET, &uri, &org.owner, None).await;
    let passes = trail.body["items"].as_array().unwrap();
    assert_eq!(passes.len(), 2, "{}", trail.body);
    let (second, first) = (&passes[0], &passes[1]);
    assert_eq!(first["resource"], json!({"kind": "detection_pass", "id": "events:0..4"}));
    assert_eq!(second["resource"], json!({"kind": "detection_pass", "id": "events:4..6"}));
    let mut counted = first["details"]["alerts"].as_array().unwrap().clone();
    counted.sort_by_key(|alert| alert["id"].as_str().unwrap().to_owned());
    let mut expected = vec![
        json!({"id": eight, "count": 2, "added": 1}),
        json!({"id": nine, "count": 2, "added": 1}),
    ];
    expected.sort_by_key(|alert| alert["id"].as_str().unwrap().to_owned());
    assert_eq!(counted, expected);
    assert_eq!(second["details"]["alerts"], json!([{"id": eight, "count": 3, "added": 1}]));
}

/// A rule and group with more open alerts than a pass looks at (the newest 32 whose window
/// can cover its detections): a late event still counts into the oldest alert, whose window
/// covers it, rather than open a duplicate.
#[tokio::test]
async fn a_late_event_counts_into_an_old_alert_behind_many_newer_ones() {
    let harness = Harness::new().await;
    let loaded =
        detect::RuleSet::from_sources([(PathBuf::from("local/shadow.yml"), TEST_RULE.to_owned())]);
    harness.app.set_detection_rules(detect::RuleSet::builtin().merged(&loaded)).await;
    let org = Org::new(&harness, "Acme").await;
    // Forty alerts, two hours apart: each event opens its own.
    let start = time::macros::datetime!(2026-03-01 0:00 UTC);
    let at = |offset: time::Duration| {
        (start + offset).format(&time::format_description::well_known::Rfc3339).unwrap()
    };
    let body: Vec<String> = (0..40)
        .map(|n| sysmon_process("vssadmin delete shadows /all", &at(time::Duration::hours(2 * n))))
        .collect();
    assert_eq!(send(&harness, &org, "", &body.join("\n")).await.body["accepted"], 40);
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!((pass.detections, pass.alerts_opened), (40, 40));
    // Then, in another pass, one event in the first alert's window and one in the last's.
    let late = [
        sysmon_process("vssadmin delete shadows /all", &at(time::Duration::minutes(30))),
        sysmon_process(
            "vssadmin delete shadows /all",
            &at(time::Duration::hours(78) + time::Duration::minutes(5)),
        ),
    ];
    assert_eq!(send(&harness, &org, "", &late.join("\n")).await.body["accepted"], 2);
    let pass = harness.app.run_event_detection_once().await.unwrap();
    assert_eq!((pass.detections, pass.alerts_opened), (2, 0));
    let counts = alert_counts(&harness, &org).await;
    assert_eq!(counts.len(), 40);
    assert_eq!(counts[0], (at(time::Duration::ZERO), 2), "the oldest alert");
    assert_eq!(counts[39], (at(time::Duration::hours(78)), 2), "the newest alert");
    assert!(counts[1..39].iter().all(|(_, count)| *count == 1), "{counts:?}");
}

#[tokio::test]
async fn the_retention_purge_removes_expired_events_with_an_audit_event() {
    let mut harness = Harness::new().await;
    let settings = app::IntakeSettings {
        retention: time::Duration::days(7),
        ..app::IntakeSettings::default()
    };
    harness.app = harness.app.clone().with_event_intake(settings);
    harness.router = api::router(
        api::ApiState {
            app: harness.app.clone(),
            metrics: std::sync::Arc::new(api::Metrics::new()),
        },
        &api::ApiLimits::default(),
    );
    let org = Org::new(&harness, "Acme").await;
    send(&harness, &org, "", "{\"n\":1}\n{\"n\":2}\n").await;
    harness.clock.advance(time::Duration::days(5));
    send(&harness, &org, "", "{\"n\":3}\n").await;
    assert_eq!(harness.app.purge_expired_events().await.unwrap(), 0, "nothing is 7 days old yet");
    harness.clock.advance(time::Duration::days(3));
    let audit_before = harness.n_audit_events(&org.id).await;
    assert_eq!(harness.app.purge_expired_events().await.unwrap(), 2);
    assert_eq!(harness.n_audit_events(&org.id).await, audit_before + 1);
    let left = search(&harness, &org, "").await;
    let ns: Vec<i64> = left.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fields"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![3]);
    // Purged events that the rules had not seen yet are simply gone; detection goes on.
    assert_eq!(harness.app.run_event_detection_once().await.unwrap().evaluated, 1);
}
