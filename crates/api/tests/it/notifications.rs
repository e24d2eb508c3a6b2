//! Notifications of alerts through the API, with in-memory transports: channels are created,
//! listed (never with their secret), changed and deleted; a new high alert is delivered to the
//! channels whose level it reaches, signed with the secret shown at creation, a lower one is
//! not, a disabled channel gets nothing; failures are retried with backoff under one delivery
//! id and given up after the last attempt, and every outcome is in the delivery log; what is
//! queued survives a restart.

use axum::http::{Method, StatusCode};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::detection::{BRUTE_FORCE, Org, fail_logins};
use crate::harness::{Harness, call};

const BRUTE_FORCE_RULE: &str = "bd336282-a2db-4df6-b78b-6a2a6ac61317";

async fn create_channel(harness: &Harness, org: &Org, body: Value) -> Value {
    let answer =
        call(harness, Method::POST, &org.path("/notification-channels"), &org.owner, Some(body))
            .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

async fn deliveries(harness: &Harness, org: &Org) -> Vec<Value> {
    let answer =
        call(harness, Method::GET, &org.path("/notification-deliveries"), &org.owner, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body.as_array().unwrap().clone()
}

/// Check `Rampart-Signature: t=<unix>,v1=<hex>` against the secret, independently of Rampart.
fn assert_signed(signature: &str, body: &[u8], secret: &str) {
    let (timestamp, mac) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("malformed signature {signature:?}"));
    let mut expected = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).unwrap();
    expected.update(format!("{timestamp}.").as_bytes());
    expected.update(body);
    expected.verify_slice(&hex::decode(mac).unwrap()).expect("the signature verifies");
    // A different secret does not verify.
    let mut other = <Hmac<Sha256>>::new_from_slice(b"another secret").unwrap();
    other.update(format!("{timestamp}.").as_bytes());
    other.update(body);
    assert!(other.verify_slice(&hex::decode(mac).unwrap()).is_err());
}

#[tokio::test]
async fn a_high_alert_reaches_matching_channels_signed_and_nothing_else() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let hook_url = "https://hooks.acme.example/services/T0/B0/abcdef";
    let high = create_channel(
        &harness,
        &org,
        json!({"name": "SOC chat", "kind": "webhook", "url": hook_url}),
    )
    .await;
    let secret = high["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rampart_whsec_"), "{secret}");
    assert_eq!(high["min_level"], "high");
    assert_eq!(high["enabled"], true);
    assert_eq!(high["url"], "https://hooks.acme.example/…");
    let critical = create_channel(
        &harness,
        &org,
        json!({"name": "Pager", "kind": "webhook", "url": "https://pager.acme.example/x",
               "min_level": "critical"}),
    )
    .await;
    let disabled = create_channel(
        &harness,
        &org,
        json!({"name": "Old", "kind": "webhook", "url": "https://old.acme.example/x",
               "enabled": false}),
    )
    .await;
    let email = create_channel(
        &harness,
        &org,
        json!({"name": "SOC mail", "kind": "email", "recipients": ["soc@acme.example"],
               "min_level": "medium"}),
    )
    .await;
    assert_eq!(email["secret"], Value::Null);
    assert_eq!(email["recipients"], json!(["soc@acme.example"]));

    // No listing or reading ever shows a secret, nor a webhook URL's path.
    let list =
        call(&harness, Method::GET, &org.path("/notification-channels"), &org.owner, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body.as_array().unwrap().len(), 4);
    let one_path = format!("/notification-channels/{}", high["id"].as_str().unwrap());
    let one = call(&harness, Method::GET, &org.path(&one_path), &org.owner, None).await;
    for answer in [&list.body, &one.body] {
        let text = answer.to_string();
        for secret in
            [&high, &critical, &disabled].map(|channel| channel["secret"].as_str().unwrap())
        {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(!text.contains("abcdef") && !text.contains("\"secret\""), "{text}");
    }

    fail_logins(&harness, "owner@acme.example", 20).await;
    harness.app.run_detection_once().await.unwrap();
    let pass = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!((pass.delivered, pass.retried, pass.given_up), (2, 0, 0), "{pass:?}");

    // One webhook request: the high channel's, not the critical nor the disabled one's.
    let sent = harness.webhooks.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let request = &sent[0];
    assert_eq!(request.url, hook_url);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_signed(request.header("rampart-signature").unwrap(), &request.body, &secret);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.contains(BRUTE_FORCE) && text.contains("Acme"), "{text}");
    assert!(text.contains("author: Rampart"), "the rule's author is shown: {text}");
    let alert = &body["rampart"];
    assert_eq!(alert["rule_id"], BRUTE_FORCE_RULE);
    assert_eq!(alert["title"], BRUTE_FORCE);
    assert_eq!(alert["level"], "high");
    assert_eq!(alert["author"], "Rampart");
    assert!(alert["tags"].as_array().unwrap().contains(&json!("attack.t1110.001")));
    assert_eq!(alert["attack"], json!(["T1110.001"]));
    assert_eq!(alert["organization"]["id"], org.id);
    assert_eq!(alert["organization"]["name"], "Acme");
    assert_eq!(alert["group_key"], format!("user.uid={}", org.owner_id));
    assert!(alert["time"].as_str().unwrap().starts_with("2026-03-01T"));
    let alert_id = alert["alert_id"].as_str().unwrap();
    assert_eq!(
        alert["link"],
        format!("http://rampart.test/v1/organizations/{}/alerts/{alert_id}", org.id)
    );
    assert_eq!(request.header("rampart-delivery"), alert["delivery_id"].as_str());
    assert!(!body.to_string().contains("owner@acme.example"), "no personal data: {body}");

    // The email channel (medium and above) got it too, with the same facts.
    let mail = harness.mailer.sent().into_iter().find(|mail| mail.to == "soc@acme.example");
    let mail = mail.expect("the alert was mailed");
    assert!(mail.subject.contains(BRUTE_FORCE) && mail.subject.contains("[HIGH]"), "{mail:?}");
    assert!(mail.body.contains("Rule author:   Rampart"), "{}", mail.body);
    assert!(mail.body.contains("T1110.001") && mail.body.contains(alert_id), "{}", mail.body);

    // Both are in the delivery log, once.
    let log = deliveries(&harness, &org).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert!(log.iter().all(|delivery| delivery["delivered"] == true && delivery["attempts"] == 1));
    let targets: Vec<&str> =
        log.iter().map(|delivery| delivery["target"].as_str().unwrap()).collect();
    assert!(targets.contains(&"hooks.acme.example") && targets.contains(&"soc@acme.example"));
    let webhook_delivery = log.iter().find(|delivery| delivery["channel"] == "webhook").unwrap();
    assert_eq!(webhook_delivery["id"], alert["delivery_id"]);
    assert_eq!(webhook_delivery["alert_id"], alert_id);

    // More failures are counted into the open alert: nobody is notified again.
    fail_logins(&harness, "owner@acme.example", 3).await;
    harness.app.run_detection_once().await.unwrap();
    let idle = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!((idle.delivered, idle.retried, idle.given_up), (0, 0, 0));
    assert_eq!(harness.webhooks.sent().len(), 1);
    assert_eq!(deliveries(&harness, &org).await.len(), 2);
}

#[tokio::test]
async fn a_medium_alert_reaches_only_channels_that_want_medium() {
    let harness = Harness::new().await;
    let provider = Org {
        id: harness.provider_id.clone(),
        owner: harness.owner_secret.clone(),
        owner_id: String::new(),
        member: String::new(),
    };
    // The set-up's own entries (the owner created) are evaluated before any channel exists.
    harness.app.run_detection_once().await.unwrap();
    create_channel(
        &harness,
        &provider,
        json!({"name": "High", "kind": "webhook", "url": "https://hooks.provider.example/h"}),
    )
    .await;
    create_channel(
        &harness,
        &provider,
        json!({"name": "Everything", "kind": "email", "recipients": ["soc@provider.example"],
               "min_level": "low"}),
    )
    .await;
    // Staff reading the audit events raises the medium "unusual principal" alert.
    let read =
        call(&harness, Method::GET, &provider.path("/audit/events"), &provider.owner, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    harness.app.run_detection_once().await.unwrap();
    let alerts =
        call(&harness, Method::GET, &provider.path("/alerts"), &provider.owner, None).await;
    let medium = alerts.body.as_array().unwrap().iter().filter(|alert| alert["level"] == "medium");
    assert_eq!(medium.count(), 1, "{}", alerts.body);
    let pass = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!(pass.delivered, 1, "{pass:?}");
    assert!(harness.webhooks.sent().is_empty(), "the high channel is not told of a medium alert");
    let mails = harness.mailer.sent();
    assert!(
        mails
            .iter()
            .any(|mail| mail.to == "soc@provider.example" && mail.subject.contains("[MEDIUM]"))
    );
}

#[tokio::test]
async fn failures_are_retried_with_backoff_under_one_delivery_id_then_given_up() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    create_channel(
        &harness,
        &org,
        json!({"name": "SOC", "kind": "webhook", "url": "https://hooks.acme.example/x"}),
    )
    .await;

    // One failure, then delivered on the second attempt, 30 seconds later.
    harness.webhooks.fail_next(1);
    fail_logins(&harness, "owner@acme.example", 20).await;
    harness.app.run_detection_once().await.unwrap();
    let first = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!((first.delivered, first.retried), (0, 1), "{first:?}");
    assert!(deliveries(&harness, &org).await.is_empty(), "nothing logged before the outcome");
    harness.clock.advance(time::Duration::seconds(29));
    let early = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!(early, app::NotificationPass::default(), "not due before the backoff");
    harness.clock.advance(time::Duration::seconds(1));
    let second = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!(second.delivered, 1, "{second:?}");
    let sent = harness.webhooks.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("rampart-delivery"), sent[1].header("rampart-delivery"));
    assert_eq!(sent[0].body, sent[1].body, "the same notification, resent");
    let log = deliveries(&harness, &org).await;
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["delivered"].clone(), log[0]["attempts"].clone()), (json!(true), json!(2)));
    assert_eq!(log[0]["id"].as_str(), sent[0].header("rampart-delivery"));

    // Always failing: three attempts (30 s, then 60 s apart), then given up and logged.
    harness.webhooks.fail_next(10);
    fail_logins(&harness, "member@acme.example", 20).await;
    harness.app.run_detection_once().await.unwrap();
    assert_eq!(harness.app.dispatch_notifications_once().await.unwrap().retried, 1);
    harness.clock.advance(time::Duration::seconds(30));
    assert_eq!(harness.app.dispatch_notifications_once().await.unwrap().retried, 1);
    harness.clock.advance(time::Duration::seconds(59));
    assert_eq!(
        harness.app.dispatch_notifications_once().await.unwrap(),
        app::NotificationPass::default()
    );
    harness.clock.advance(time::Duration::seconds(1));
    let last = harness.app.dispatch_notifications_once().await.unwrap();
    assert_eq!((last.delivered, last.given_up), (0, 1), "{last:?}");
    assert_eq!(harness.webhooks.sent().len(), 5);
    let log = deliveries(&harness, &org).await;
    assert_eq!(log.len(), 2);
    let given_up = &log[0];
    assert_eq!(given_up["delivered"], false);
    assert_eq!(given_up["attempts"], 3);
    assert_eq!(given_up["last_error"], "the receiver answered 503");
    // Nothing is left to send.
    harness.clock.advance(time::Duration::hours(1));
    assert_eq!(
        harness.app.dispatch_notifications_once().await.unwrap(),
        app::NotificationPass::default()
    );

    // Both outcomes are in the organisation's audit trail.
    let events = call(
        &harness,
        Method::GET,
        &org.path("/audit/events?action=detect.notification."),
        &org.owner,
        None,
    )
    .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["detect.notification.give_up", "detect.notification.deliver"]);
}

#[tokio::test]
async fn channels_are_changed_and_deleted_with_audit_entries_and_checked_input() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let channel = create_channel(
        &harness,
        &org,
        json!({"name": "SOC", "kind": "webhook", "url": "https://hooks.acme.example/x"}),
    )
    .await;
    let path = org.path(&format!("/notification-channels/{}", channel["id"].as_str().unwrap()));
    // Disabled: a new alert queues nothing for it.
    let patched =
        call(&harness, Method::PATCH, &path, &org.owner, Some(json!({"enabled": false}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    assert!(patched.body.get("secret").is_none());
    fail_logins(&harness, "owner@acme.example", 20).await;
    harness.app.run_detection_once().await.unwrap();
    assert_eq!(
        harness.app.dispatch_notifications_once().await.unwrap(),
        app::NotificationPass::default()
    );
    assert!(harness.webhooks.sent().is_empty());

    let patch = json!({"enabled": true, "min_level": "critical", "name": "Pager",
                       "url": "https://pager.acme.example/y"});
    let patched = call(&harness, Method::PATCH, &path, &org.owner, Some(patch)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["url"], "https://pager.acme.example/…");
    assert_eq!(patched.body["min_level"], "critical");

    // Bad input answers 400 and changes nothing.
    let before = harness.n_audit_events(&org.id).await;
    let channels = org.path("/notification-channels");
    for body in [
        json!({"name": "x", "kind": "webhook", "url": "http://hooks.acme.example/x"}),
        json!({"name": "x", "kind": "webhook", "url": "not a url"}),
        json!({"name": "x", "kind": "webhook"}),
        json!({"name": "x", "kind": "pigeon", "url": "https://hooks.acme.example/x"}),
        json!({"name": "", "kind": "webhook", "url": "https://hooks.acme.example/x"}),
        json!({"name": "x".repeat(101), "kind": "webhook", "url": "https://hooks.acme.example/x"}),
        json!({"name": "x", "kind": "webhook", "url": format!("https://hooks.acme.example/{}", "a".repeat(2100))}),
        json!({"name": "x", "kind": "email", "recipients": []}),
        json!({"name": "x", "kind": "email", "recipients": ["soc@acme.example\r\nBcc: x@y.z"]}),
        json!({"name": "x", "kind": "email", "recipients": ["soc@acme.example"], "min_level": "severe"}),
    ] {
        let answer = call(&harness, Method::POST, &channels, &org.owner, Some(body)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    // A secret cannot be chosen: unknown fields are refused.
    let chosen = json!({"name": "x", "kind": "webhook", "url": "https://hooks.acme.example/x",
                        "secret": "mine"});
    let answer = call(&harness, Method::POST, &channels, &org.owner, Some(chosen)).await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let answer =
        call(&harness, Method::PATCH, &path, &org.owner, Some(json!({"recipients": ["a@b.c"]})))
            .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let answer = call(
        &harness,
        Method::GET,
        &org.path("/notification-deliveries?limit=0"),
        &org.owner,
        None,
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&org.id).await, before);

    // A member without a policy may neither read nor manage channels.
    for (method, uri) in [(Method::GET, channels.clone()), (Method::DELETE, path.clone())] {
        let answer = call(&harness, method, &uri, &org.member, None).await;
        answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }

    // At most 20 channels.
    for n in 1..20 {
        create_channel(
            &harness,
            &org,
            json!({"name": format!("c{n}"), "kind": "email", "recipients": ["soc@acme.example"]}),
        )
        .await;
    }
    let answer = call(
        &harness,
        Method::POST,
        &channels,
        &org.owner,
        Some(json!({"name": "c21", "kind": "email", "recipients": ["soc@acme.example"]})),
    )
    .await;
    answer.assert_problem(StatusCode::CONFLICT, "conflict");

    let deleted = call(&harness, Method::DELETE, &path, &org.owner, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let again = call(&harness, Method::DELETE, &path, &org.owner, None).await;
    again.assert_problem(StatusCode::NOT_FOUND, "not_found");

    let events = call(
        &harness,
        Method::GET,
        &org.path("/audit/events?action=detect.notification_channel."),
        &org.owner,
        None,
    )
    .await;
    let items = events.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|item| item["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"detect.notification_channel.delete"));
    assert_eq!(
        actions.iter().filter(|action| **action == "detect.notification_channel.update").count(),
        2
    );
    assert_eq!(
        actions.iter().filter(|action| **action == "detect.notification_channel.create").count(),
        20
    );
    assert!(items.iter().all(|item| item["privileged"] == true));
    assert!(!events.body.to_string().contains("rampart_whsec_"), "no secret in the trail");
}

#[tokio::test]
async fn queued_notifications_survive_a_restart() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let channel = create_channel(
        &harness,
        &org,
        json!({"name": "SOC", "kind": "webhook", "url": "https://hooks.acme.example/x"}),
    )
    .await;
    fail_logins(&harness, "owner@acme.example", 20).await;
    harness.app.run_detection_once().await.unwrap();
    // The process stops before its dispatcher ran: another one on the same database (and the
    // same master key) delivers what was queued, signed with the same secret.
    let transport = std::sync::Arc::new(app::MemoryWebhookTransport::default());
    let restarted = app::App::new(
        harness.app.store().clone(),
        harness.clock.clone(),
        app::PasswordHasher::new(8 * 1024, 1, 1, 1).unwrap(),
    )
    .with_audit_signing("rampart", app::MasterKey::from_bytes(crate::harness::MASTER_KEY))
    .with_notifications(transport.clone(), app::NotificationSettings::default());
    let pass = restarted.dispatch_notifications_once().await.unwrap();
    assert_eq!(pass.delivered, 1, "{pass:?}");
    let sent = transport.sent();
    assert_eq!(sent.len(), 1);
    let secret = channel["secret"].as_str().unwrap();
    assert_signed(sent[0].header("rampart-signature").unwrap(), &sent[0].body, secret);
    // Delivered once: the first process finds nothing left to send.
    assert_eq!(
        harness.app.dispatch_notifications_once().await.unwrap(),
        app::NotificationPass::default()
    );
    assert!(harness.webhooks.sent().is_empty());
    assert_eq!(deliveries(&harness, &org).await.len(), 1);
}

#[tokio::test]
async fn managing_channels_from_a_session_needs_a_recent_authentication() {
    const PASSWORD: &str = "correct horse battery staple";
    let harness = Harness::new().await;
    let provider = format!("/v1/organizations/{}", harness.provider_id);
    let invited = harness
        .owner(
            Method::POST,
            &format!("{provider}/invitations"),
            Some(json!({"email": "soc@provider.example", "role": "owner"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let mail =
        harness.mailer.sent().into_iter().rev().find(|mail| mail.to == "soc@provider.example");
    let mail = mail.unwrap();
    let invitation =
        mail.body.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap().to_owned();
    let body = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    let accepted = harness
        .request(
            Method::POST,
            "/v1/auth/invitations/accept",
            None,
            body(json!({"token": invitation, "password": PASSWORD, "display_name": "Soc"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let login = harness
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            body(json!({"email": "soc@provider.example", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let session = login.body["session_token"].as_str().unwrap().to_owned();
    let channels = format!("{provider}/notification-channels");
    let channel =
        json!({"name": "SOC", "kind": "webhook", "url": "https://hooks.provider.example/x"});

    harness.clock.advance(time::Duration::minutes(11));
    let before = harness.n_audit_events(&harness.provider_id).await;
    let stale = call(&harness, Method::POST, &channels, &session, Some(channel.clone())).await;
    stale.assert_problem(StatusCode::FORBIDDEN, "step_up_required");
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before);
    // Reading needs no step-up.
    let read = call(&harness, Method::GET, &channels, &session, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body, json!([]));
    let stepped = call(
        &harness,
        Method::POST,
        "/v1/auth/step-up",
        &session,
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(stepped.status, StatusCode::NO_CONTENT, "{}", stepped.body);
    let fresh = call(&harness, Method::POST, &channels, &session, Some(channel)).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
}
