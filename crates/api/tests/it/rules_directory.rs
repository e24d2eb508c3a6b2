//! A rules directory: its rules join the built-in pack; adding, changing and breaking a file
//! shows after a reload (in `GET /v1/detection/rules` and in what the engine detects); a
//! reload that cannot happen keeps the rules in use and says why; pipelines map fields.

use app::RuleDirectory;
use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::Harness;

fn rule(id: &str, title: &str, needle: &str) -> String {
    format!(
        "title: {title}\nid: {id}\nstatus: test\nauthor: Rampart tests\nlogsource:\n    \
         product: linux\n    service: auth\ndetection:\n    selection:\n        \
         message|contains: '{needle}'\n    condition: selection\nlevel: medium\n"
    )
}

const FIRST: &str = "6f0c5b3e-8d2a-4c1e-9a57-0d4b7e2f1a01";
const SECOND: &str = "6f0c5b3e-8d2a-4c1e-9a57-0d4b7e2f1a02";

async fn rules(harness: &Harness) -> Value {
    let answer = harness.owner(Method::GET, "/v1/detection/rules", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// Titles of the rules that fire on a `linux`/`auth` event with this message, through a
/// provider-side ingest and detection pass.
async fn fired(harness: &Harness, message: &str) -> Vec<String> {
    let provider = harness.provider_id.clone();
    let before: Vec<Value> = harness
        .owner(Method::GET, &format!("/v1/organizations/{provider}/alerts?limit=500"), None)
        .await
        .body
        .as_array()
        .unwrap()
        .clone();
    let line = format!("{}\n", serde_json::json!({"message": message}));
    let sent = harness
        .request(
            Method::POST,
            &format!("/v1/organizations/{provider}/events?product=linux&service=auth"),
            Some(&harness.owner_secret),
            Some(("application/x-ndjson", line.into_bytes())),
        )
        .await;
    assert_eq!(sent.body["accepted"], 1, "{}", sent.body);
    harness.app.run_event_detection_once().await.unwrap();
    let after = harness
        .owner(Method::GET, &format!("/v1/organizations/{provider}/alerts?limit=500"), None)
        .await
        .body;
    let count_of = |alerts: &[Value], id: &str| {
        alerts.iter().find(|a| a["id"] == id).and_then(|a| a["count"].as_u64()).unwrap_or(0)
    };
    after
        .as_array()
        .unwrap()
        .iter()
        .filter(|alert| {
            let id = alert["id"].as_str().unwrap();
            alert["count"].as_u64().unwrap() > count_of(&before, id)
        })
        .map(|alert| alert["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn added_changed_and_broken_rule_files_show_after_a_reload() {
    let harness = Harness::new().await;
    let builtin = rules(&harness).await["loaded"].as_u64().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let nested = directory.path().join("rules/linux/auth");
    std::fs::create_dir_all(&nested).unwrap();
    let source = RuleDirectory { dir: directory.path().to_owned(), pipeline_files: Vec::new() };

    // An empty directory: the built-in pack only.
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    assert_eq!(rules(&harness).await["loaded"].as_u64(), Some(builtin));
    assert!(!harness.app.reload_rules_directory(&source).await.unwrap(), "nothing changed");

    // Added, at any depth.
    std::fs::write(nested.join("first.yml"), rule(FIRST, "First Test Rule", "sudo: bad")).unwrap();
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    assert_eq!(rules(&harness).await["loaded"].as_u64(), Some(builtin + 1));
    assert_eq!(fired(&harness, "sudo: bad password").await, vec!["First Test Rule"]);

    // Changed: the old condition no longer fires, the new one does.
    std::fs::write(nested.join("first.yml"), rule(FIRST, "First Test Rule", "su: failure!"))
        .unwrap();
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    assert!(fired(&harness, "sudo: bad password").await.is_empty());
    assert_eq!(fired(&harness, "su: failure! for root").await, vec!["First Test Rule"]);

    // Broken: reported with its path and reason, counted; the other rules still run.
    std::fs::write(nested.join("second.yml"), rule(SECOND, "Second Test Rule", "x")).unwrap();
    std::fs::write(nested.join("broken.yaml"), "title: [unclosed\ndetection: {").unwrap();
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    let listed = rules(&harness).await;
    assert_eq!(listed["loaded"].as_u64(), Some(builtin + 2), "{listed}");
    assert_eq!(listed["n_failed"], 1, "{listed}");
    let failure = listed["failed"][0].as_str().unwrap();
    assert!(failure.contains("broken.yaml") && failure.contains("parse error"), "{failure}");
    assert_eq!(listed["reload_error"], Value::Null);
    assert_eq!(fired(&harness, "su: failure!").await, vec!["First Test Rule"]);

    // A directory that cannot be read: the rules in use stay, and the reason is shown until
    // a reload succeeds.
    let moved = directory.path().with_extension("moved");
    std::fs::rename(directory.path(), &moved).unwrap();
    let refused = harness.app.reload_rules_directory(&source).await.unwrap_err();
    assert!(refused.to_string().contains("cannot read"), "{refused}");
    let listed = rules(&harness).await;
    assert_eq!(listed["loaded"].as_u64(), Some(builtin + 2));
    assert!(listed["reload_error"].as_str().unwrap().contains("cannot read"), "{listed}");
    assert_eq!(fired(&harness, "su: failure!").await, vec!["First Test Rule"]);
    std::fs::rename(&moved, directory.path()).unwrap();
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    assert_eq!(rules(&harness).await["reload_error"], Value::Null);
}

#[tokio::test]
async fn pipelines_map_fields_and_an_invalid_one_keeps_the_rules_in_use() {
    let harness = Harness::new().await;
    let directory = tempfile::tempdir().unwrap();
    let rules_dir = directory.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("first.yml"), rule(FIRST, "First Test Rule", "oops")).unwrap();
    let pipeline = directory.path().join("ecs.yml");
    // The rule says `message`; these events carry it as `log.text`.
    std::fs::write(
        &pipeline,
        "name: test mapping\npriority: 10\ntransformations:\n  - id: message\n    \
         type: field_name_mapping\n    mapping:\n      message: log.text\n",
    )
    .unwrap();
    let source = RuleDirectory { dir: rules_dir, pipeline_files: vec![pipeline.clone()] };
    assert!(harness.app.reload_rules_directory(&source).await.unwrap());
    let provider = harness.provider_id.clone();
    let line = "{\"log\":{\"text\":\"oops, again\"}}\n";
    let sent = harness
        .request(
            Method::POST,
            &format!("/v1/organizations/{provider}/events?product=linux&service=auth"),
            Some(&harness.owner_secret),
            Some(("application/x-ndjson", line.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(sent.body["accepted"], 1);
    assert_eq!(harness.app.run_event_detection_once().await.unwrap().alerts_opened, 1);

    std::fs::write(&pipeline, "transformations: [{type: no_such_transformation}]\n").unwrap();
    let refused = harness.app.reload_rules_directory(&source).await.unwrap_err();
    assert!(refused.to_string().contains("invalid pipeline"), "{refused}");
    let listed = harness.owner(Method::GET, "/v1/detection/rules", None).await.body;
    assert!(listed["reload_error"].as_str().unwrap().contains("ecs.yml"), "{listed}");
}
