//! Incidents through the API: the life cycle along the NIST phases with its timeline and audit
//! entries, illegal transitions refused, the Article 33 clock and its notices, SEV1 closing
//! only with a review, the CSIRT permission set; and the public side: security.txt, report
//! intake with its caps and rate limits, escaping, the reporter's status and the triage queue.

use std::net::SocketAddr;
use std::sync::Arc;

use api::{ApiLimits, ApiState, Metrics};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;
use time::macros::datetime;
use tower::ServiceExt as _;

use crate::harness::{Answer, Harness, call, user_key};

async fn open(harness: &Harness, body: Value) -> Value {
    let answer = harness.owner(Method::POST, "/v1/incidents", Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

async fn advance(harness: &Harness, id: &str, status: &str) -> Answer {
    harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/status"),
            Some(json!({"status": status, "note": format!("now {status}")})),
        )
        .await
}

async fn get(harness: &Harness, id: &str) -> Value {
    let answer = harness.owner(Method::GET, &format!("/v1/incidents/{id}"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// The actions of the provider's latest audit entries (up to 200) that start with `incident.`.
async fn audit_actions(harness: &Harness) -> Vec<String> {
    let uri = format!(
        "/v1/organizations/{}/audit/events?action=incident.&limit=200",
        harness.provider_id
    );
    let answer = harness.owner(Method::GET, &uri, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap().to_owned())
        .collect()
}

/// An alert on the provider's trail, stored as detection would.
async fn provider_alert(harness: &Harness, level: &str) -> String {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::DetectionRepository as _;
    let organization_id: base::OrganizationId = harness.provider_id.parse().unwrap();
    let now = harness.clock.now();
    let alert = store::AlertRecord {
        id: uuid::Uuid::new_v4(),
        organization_id,
        rule_id: "test-rule".into(),
        title: "Brute force on the login".into(),
        level: level.into(),
        tags: vec![],
        author: "Rampart".into(),
        group_key: String::new(),
        event_refs: vec![],
        summary: serde_json::Map::new(),
        first_seen: now,
        last_seen: now,
        count: 1,
        state: store::AlertState::New,
        resolution: None,
        assignee: None,
        acknowledged_by: None,
        acknowledged_at: None,
        closed_by: None,
        closed_at: None,
        comment: String::new(),
    };
    let mut transaction = harness.app.store().begin().await.unwrap();
    transaction.insert_alert(&alert).await.unwrap();
    let event = base::AuditEvent {
        organization_id,
        time: now,
        actor: base::Actor::System,
        action: "detect.alert.raise".into(),
        resource: base::Resource::new("alert", alert.id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: false,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();
    alert.id.to_string()
}

fn review() -> Value {
    json!({
        "causes": ["an API key leaked in a public repository"],
        "lessons": ["scan repositories for secrets"],
        "actions": [{"description": "enable secret scanning", "owner": "ana", "due": "2026-04-01"}]
    })
}

#[tokio::test]
async fn an_incident_runs_from_an_alert_to_closure_with_every_change_on_its_timeline() {
    let harness = Harness::new().await;
    let alert_id = provider_alert(&harness, "high").await;
    let incident = open(
        &harness,
        json!({
            "title": "Credential stuffing on the console",
            "severity": "SEV3",
            "alerts": [{"organization_id": harness.provider_id, "alert_id": alert_id}],
            "assets": ["console"],
        }),
    )
    .await;
    let id = incident["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["status"], "detected");
    assert_eq!(incident["next_status"], "analysing");
    assert_eq!(incident["origin"], "alert");
    assert_eq!(incident["alerts"][0]["alert_id"], alert_id);
    assert_eq!(incident["article_33_clock"]["state"], "not_started");

    let task = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/tasks"),
            Some(json!({"title": "Reset the exposed passwords", "assignee": "ana",
                "due": "2026-03-02"})),
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    let task_id = task.body["tasks"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(task.body["tasks"][0]["done"], false);
    let done = harness
        .owner(
            Method::PATCH,
            &format!("/v1/incidents/{id}/tasks/{task_id}"),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["tasks"][0]["done"], true);
    let owner = harness
        .owner(
            Method::PATCH,
            &format!("/v1/incidents/{id}"),
            Some(json!({"owner": "ana", "organizations": [harness.provider_id]})),
        )
        .await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    assert_eq!(owner.body["owner"], "ana");

    for status in ["analysing", "contained", "eradicated", "recovered", "closed"] {
        harness.clock.advance(Duration::minutes(10));
        let answer = advance(&harness, &id, status).await;
        assert_eq!(answer.status, StatusCode::OK, "{status}: {}", answer.body);
        assert_eq!(answer.body["status"], status);
    }
    let closed = get(&harness, &id).await;
    assert_eq!(closed["next_status"], Value::Null);
    let kinds: Vec<&str> = closed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "open",
            "task.add",
            "task.update",
            "update",
            "status",
            "status",
            "status",
            "status",
            "status"
        ]
    );
    assert_eq!(closed["timeline"][8]["detail"]["to"], "closed");
    assert!(closed["timeline"][0]["actor"].as_str().unwrap().contains(':'));
    let actions = audit_actions(&harness).await;
    assert_eq!(actions.iter().filter(|a| *a == "incident.status").count(), 5);
    assert!(actions.contains(&"incident.open".to_owned()));
    assert!(actions.contains(&"incident.task.add".to_owned()));

    // Closed is final, and a closed case takes no more changes.
    let again = advance(&harness, &id, "closed").await;
    again.assert_problem(StatusCode::CONFLICT, "conflict");
    let late_task = harness
        .owner(Method::POST, &format!("/v1/incidents/{id}/tasks"), Some(json!({"title": "x"})))
        .await;
    late_task.assert_problem(StatusCode::CONFLICT, "conflict");
    let listed = harness.owner(Method::GET, "/v1/incidents?status=closed", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn illegal_transitions_and_bad_input_are_refused_and_change_nothing() {
    let harness = Harness::new().await;
    let incident = open(&harness, json!({"title": "Suspicious export", "severity": "SEV4"})).await;
    let id = incident["id"].as_str().unwrap().to_owned();
    let before = harness.n_audit_events(&harness.provider_id).await;

    let skip = advance(&harness, &id, "contained").await;
    skip.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(skip.body["detail"].as_str().unwrap().contains("analysing"), "{}", skip.body);
    let unknown = advance(&harness, &id, "solved").await;
    unknown.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let backwards = advance(&harness, &id, "detected").await;
    backwards.assert_problem(StatusCode::CONFLICT, "conflict");
    let bad_severity = harness
        .owner(Method::PATCH, &format!("/v1/incidents/{id}"), Some(json!({"severity": "SEV9"})))
        .await;
    bad_severity.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let long_title =
        harness.owner(Method::POST, "/v1/incidents", Some(json!({"title": "x".repeat(201)}))).await;
    long_title.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let no_title = harness.owner(Method::POST, "/v1/incidents", Some(json!({}))).await;
    no_title.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let unknown_alert = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/alerts"),
            Some(json!({"organization_id": harness.provider_id,
                "alert_id": "0190f0a0-0000-7000-8000-000000000000"})),
        )
        .await;
    unknown_alert.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let future_breach = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/breach"),
            Some(json!({"aware_at": "2026-03-05T09:00:00Z"})),
        )
        .await;
    future_breach.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let no_breach = harness
        .owner(
            Method::PUT,
            &format!("/v1/incidents/{id}/article-34"),
            Some(json!({"state": "not_required", "reason": "encrypted"})),
        )
        .await;
    no_breach.assert_problem(StatusCode::CONFLICT, "conflict");
    let missing = harness
        .owner(Method::GET, "/v1/incidents/0190f0a0-0000-7000-8000-000000000000", None)
        .await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");

    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before);
    let unchanged = get(&harness, &id).await;
    assert_eq!(unchanged["status"], "detected");
    assert_eq!(unchanged["severity"], "SEV4");
    assert_eq!(unchanged["timeline"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_breach_shows_its_72_hour_deadline_and_raises_each_notice_once() {
    let harness = Harness::new().await;
    let incident =
        open(&harness, json!({"title": "Customer data exposed", "severity": "SEV2"})).await;
    let id = incident["id"].as_str().unwrap().to_owned();
    // Aware two hours ago (09:00 - 2h = 07:00): the deadline is three days later, 07:00.
    let breach = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/breach"),
            Some(json!({"aware_at": "2026-03-01T07:00:00Z"})),
        )
        .await;
    assert_eq!(breach.status, StatusCode::OK, "{}", breach.body);
    let clock = &breach.body["article_33_clock"];
    assert_eq!(breach.body["personal_data_breach"], true);
    assert_eq!(clock["state"], "running");
    assert_eq!(clock["aware_at"], "2026-03-01T07:00:00Z");
    assert_eq!(clock["deadline"], "2026-03-04T07:00:00Z");
    assert_eq!(clock["remaining_seconds"], 70 * 3600);

    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 0, "70 hours left");
    // 23 hours left: the 24-hour notice, once.
    harness.clock.set(datetime!(2026-03-03 08:00:00 UTC));
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 1);
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 0, "raised once");
    assert_eq!(get(&harness, &id).await["article_33_clock"]["state"], "due_soon");
    // 5 hours left: the 6-hour notice, once.
    harness.clock.set(datetime!(2026-03-04 02:00:00 UTC));
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 1);
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 0);
    // Past the deadline: overdue, once.
    harness.clock.set(datetime!(2026-03-04 08:00:00 UTC));
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 1);
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 0);
    let overdue = get(&harness, &id).await;
    assert_eq!(overdue["article_33_clock"]["state"], "overdue");
    assert_eq!(overdue["article_33_clock"]["remaining_seconds"], -3600);
    let actions = audit_actions(&harness).await;
    assert_eq!(actions.iter().filter(|a| *a == "incident.article33.due_soon").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "incident.article33.overdue").count(), 1);
    let kinds: Vec<String> = overdue["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.iter().filter(|k| k.starts_with("article33.")).count(), 3);

    // A late notification without a reason for the delay is incomplete.
    let mut notification = json!({
        "authority": "CNIL",
        "submitted_at": "2026-03-04T08:00:00Z",
        "nature": "unauthorised access to customer accounts",
        "data_subject_categories": ["customers"],
        "approx_data_subjects": 120,
        "record_categories": ["email addresses"],
        "approx_records": 120,
        "contact": "dpo@provider.example",
        "likely_consequences": "phishing",
        "measures": "passwords reset, keys revoked",
    });
    let incomplete = harness
        .owner(Method::PUT, &format!("/v1/incidents/{id}/article-33"), Some(notification.clone()))
        .await;
    incomplete.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(incomplete.body["detail"].as_str().unwrap().contains("delay_reason"));
    notification["delay_reason"] = json!("the scope took forensics to establish");
    let notified = harness
        .owner(Method::PUT, &format!("/v1/incidents/{id}/article-33"), Some(notification))
        .await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.body);
    assert_eq!(notified.body["article_33_clock"]["state"], "notified");
    assert_eq!(notified.body["article_33_clock"]["late"], true);
    assert_eq!(notified.body["article_33"]["authority"], "CNIL");
    harness.clock.advance(Duration::days(1));
    assert_eq!(harness.app.check_incident_deadlines().await.unwrap(), 0, "the clock stopped");

    let customer = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/customer-notifications"),
            Some(json!({"organization_id": harness.provider_id,
                "notified_at": "2026-03-04T09:00:00Z", "channel": "email"})),
        )
        .await;
    assert_eq!(customer.status, StatusCode::OK, "{}", customer.body);
    assert_eq!(customer.body["customer_notifications"][0]["channel"], "email");
    let article_34 = harness
        .owner(
            Method::PUT,
            &format!("/v1/incidents/{id}/article-34"),
            Some(json!({"state": "required", "communicated_at": "2026-03-04T10:00:00Z",
                "channel": "email", "subjects_notified": 120})),
        )
        .await;
    assert_eq!(article_34.status, StatusCode::OK, "{}", article_34.body);
    assert_eq!(article_34.body["article_34"]["state"], "required");
    assert_eq!(article_34.body["article_34"]["subjects_notified"], 120);
}

#[tokio::test]
async fn a_sev1_incident_closes_only_with_a_complete_review() {
    let harness = Harness::new().await;
    let incident =
        open(&harness, json!({"title": "Production database copied", "severity": "SEV1"})).await;
    let id = incident["id"].as_str().unwrap().to_owned();
    for status in ["analysing", "contained", "eradicated", "recovered"] {
        assert_eq!(advance(&harness, &id, status).await.status, StatusCode::OK);
    }
    let refused = advance(&harness, &id, "closed").await;
    refused.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(refused.body["detail"].as_str().unwrap().contains("post-incident review"));
    let mut incomplete = review();
    incomplete["actions"][0]["owner"] = json!(" ");
    let bad_review =
        harness.owner(Method::PUT, &format!("/v1/incidents/{id}/review"), Some(incomplete)).await;
    bad_review.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(get(&harness, &id).await["status"], "recovered");

    let reviewed =
        harness.owner(Method::PUT, &format!("/v1/incidents/{id}/review"), Some(review())).await;
    assert_eq!(reviewed.status, StatusCode::OK, "{}", reviewed.body);
    assert_eq!(reviewed.body["review"]["actions"][0]["due"], "2026-04-01");
    let closed = advance(&harness, &id, "closed").await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");
}

#[tokio::test]
async fn the_csirt_permission_set_grants_incidents_and_members_without_it_are_refused() {
    let harness = Harness::new().await;
    let (member_id, member) =
        user_key(&harness, &harness.provider_id, "analyst@provider.example", UserRole::Member)
            .await;
    let refused =
        call(&harness, Method::POST, "/v1/incidents", &member, Some(json!({"title": "x"}))).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let granted = harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{}/policies", harness.provider_id),
            Some(json!({"principal": {"type": "user", "id": member_id},
                "rules": [{"permission_sets": ["IncidentResponder"], "scope": "organization"}]})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let opened =
        call(&harness, Method::POST, "/v1/incidents", &member, Some(json!({"title": "x"}))).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let listed = call(&harness, Method::GET, "/v1/incidents", &member, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
}

// The public side.

fn security_txt(expires: time::OffsetDateTime) -> detect::intake::security_txt::SecurityTxt {
    let mut record =
        detect::intake::security_txt::SecurityTxt::new("mailto:security@provider.example", expires);
    record.policy = vec!["https://provider.example/disclosure".into()];
    record.preferred_languages = vec!["en".into(), "fr".into()];
    record.canonical = vec!["https://provider.example/.well-known/security.txt".into()];
    record
}

fn rebuild(harness: &mut Harness, app: app::App) {
    harness.app = app;
    let state = ApiState { app: harness.app.clone(), metrics: Arc::new(Metrics::new()) };
    harness.router = api::router(state, &ApiLimits::default());
}

#[tokio::test]
async fn security_txt_is_served_valid_and_its_expiry_is_reported() {
    let mut harness = Harness::new().await;
    let missing = harness.request(Method::GET, "/.well-known/security.txt", None, None).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(harness.app.security_txt_status().state, app::SecurityTxtState::NotConfigured);

    let expires = datetime!(2026-06-01 00:00:00 UTC);
    let app = harness.app.clone().with_security_txt(security_txt(expires));
    rebuild(&mut harness, app);
    let (status, text) = harness.owner_text("/.well-known/security.txt").await;
    assert_eq!(status, StatusCode::OK);
    let parsed =
        detect::intake::security_txt::SecurityTxt::parse(&text, datetime!(2026-03-01 09:00:00 UTC))
            .unwrap();
    assert_eq!(parsed.contact, ["mailto:security@provider.example"]);
    assert_eq!(parsed.expires, expires);
    assert_eq!(parsed.preferred_languages, ["en", "fr"]);
    assert!(parsed.problems(datetime!(2026-03-01 09:00:00 UTC)).is_empty());
    assert_eq!(harness.app.security_txt_status().state, app::SecurityTxtState::Valid);
    assert!(!harness.app.check_security_txt_expiry().await.unwrap());

    // 30 days or less left: expiring, warned once in the trail.
    harness.clock.set(datetime!(2026-05-10 00:00:00 UTC));
    let status = harness.app.security_txt_status();
    assert_eq!(status.state, app::SecurityTxtState::Expiring);
    assert_eq!(status.expires, Some(expires));
    assert!(harness.app.check_security_txt_expiry().await.unwrap());
    assert!(!harness.app.check_security_txt_expiry().await.unwrap());
    let actions = audit_actions(&harness).await;
    assert_eq!(actions.iter().filter(|a| *a == "incident.security_txt.expiring").count(), 1);

    // Expired: no longer served.
    harness.clock.set(datetime!(2026-06-02 00:00:00 UTC));
    assert_eq!(harness.app.security_txt_status().state, app::SecurityTxtState::Expired);
    let gone = harness.request(Method::GET, "/.well-known/security.txt", None, None).await;
    gone.assert_problem(StatusCode::NOT_FOUND, "not_found");
}

/// A request from a given client address, as the server's connection info gives it.
async fn from_client(
    harness: &Harness,
    address: [u8; 4],
    method: Method,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .extension(ConnectInfo(SocketAddr::from((address, 40000))))
        .body(Body::from(body))
        .unwrap();
    let response = harness.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn report(harness: &Harness, address: [u8; 4], body: Value) -> (StatusCode, Value) {
    let (status, text) = from_client(
        harness,
        address,
        Method::POST,
        "/v1/public/reports",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_public_report_is_accepted_and_its_reference_reads_its_status() {
    let harness = Harness::new().await;
    let (status, receipt) = report(
        &harness,
        [198, 51, 100, 7],
        json!({"subject": "XSS in the login page", "body": "<script>alert(1)</script>",
            "contact": "researcher@example.org"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let reference = receipt["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("rpr_") && reference.len() > 40);
    let checked =
        harness.request(Method::GET, &format!("/v1/public/reports/{reference}"), None, None).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    assert_eq!(checked.body["state"], "received");
    let wrong =
        harness.request(Method::GET, &format!("/v1/public/reports/{reference}x"), None, None).await;
    wrong.assert_problem(StatusCode::NOT_FOUND, "not_found");

    // The queue holds the text exactly as sent; the reference itself is stored nowhere.
    let queue = harness.owner(Method::GET, "/v1/public-reports?state=new", None).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert_eq!(queue.body[0]["body"], "<script>alert(1)</script>");
    assert!(!queue.body.to_string().contains(&reference));
    let report_id = queue.body[0]["id"].as_str().unwrap().to_owned();

    let opened = harness
        .owner(
            Method::POST,
            &format!("/v1/public-reports/{report_id}/incident"),
            Some(json!({"severity": "SEV2"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["origin"], "report");
    assert_eq!(opened.body["report_id"], report_id);
    assert_eq!(opened.body["title"], "XSS in the login page");
    assert_eq!(opened.body["severity"], "SEV2");
    let linked = harness.owner(Method::GET, &format!("/v1/public-reports/{report_id}"), None).await;
    assert_eq!(linked.body["state"], "opened");
    assert_eq!(linked.body["incident_id"], opened.body["id"]);
    let twice = harness
        .owner(Method::POST, &format!("/v1/public-reports/{report_id}/dismiss"), Some(json!({})))
        .await;
    twice.assert_problem(StatusCode::CONFLICT, "conflict");
    let accepted =
        harness.request(Method::GET, &format!("/v1/public/reports/{reference}"), None, None).await;
    assert_eq!(accepted.body["state"], "accepted");

    let (_, other) =
        report(&harness, [198, 51, 100, 8], json!({"subject": "spam", "body": "buy now"})).await;
    let other_id =
        harness.owner(Method::GET, "/v1/public-reports?state=new", None).await.body[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let dismissed = harness
        .owner(
            Method::POST,
            &format!("/v1/public-reports/{other_id}/dismiss"),
            Some(json!({"note": "spam"})),
        )
        .await;
    assert_eq!(dismissed.status, StatusCode::OK, "{}", dismissed.body);
    let other_reference = other["reference"].as_str().unwrap();
    let status = harness
        .request(Method::GET, &format!("/v1/public/reports/{other_reference}"), None, None)
        .await;
    assert_eq!(status.body["state"], "dismissed");
    let actions = audit_actions(&harness).await;
    for action in ["incident.report.receive", "incident.report.open", "incident.report.dismiss"] {
        assert!(actions.contains(&action.to_owned()), "{action}");
    }
}

#[tokio::test]
async fn oversized_fields_answer_413_and_floods_answer_429_storing_nothing() {
    let mut harness = Harness::new().await;
    let app = harness.app.clone().with_report_limits(app::ReportLimits {
        per_client: 2,
        global: 3,
        window: Duration::hours(1),
    });
    rebuild(&mut harness, app);
    let before = harness.n_audit_events(&harness.provider_id).await;
    for (field, size) in [("subject", 201), ("body", 16 * 1024 + 1), ("contact", 321)] {
        let mut body = json!({"subject": "s", "body": "b"});
        body[field] = json!("x".repeat(size));
        let (status, problem) = report(&harness, [203, 0, 113, 1], body).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{field}");
        assert_eq!(problem["code"], "payload_too_large");
        assert!(problem["detail"].as_str().unwrap().contains(field));
    }
    let (status, _) = report(&harness, [203, 0, 113, 1], json!({"subject": "", "body": "b"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before);

    let ok = json!({"subject": "s", "body": "b"});
    assert_eq!(report(&harness, [203, 0, 113, 1], ok.clone()).await.0, StatusCode::CREATED);
    assert_eq!(report(&harness, [203, 0, 113, 1], ok.clone()).await.0, StatusCode::CREATED);
    let (status, problem) = report(&harness, [203, 0, 113, 1], ok.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "per client");
    assert_eq!(problem["code"], "throttled");
    assert_eq!(report(&harness, [203, 0, 113, 2], ok.clone()).await.0, StatusCode::CREATED);
    let (status, _) = report(&harness, [203, 0, 113, 3], ok.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "globally");
    let queue = harness.owner(Method::GET, "/v1/public-reports", None).await;
    assert_eq!(queue.body.as_array().unwrap().len(), 3);
    harness.clock.advance(Duration::hours(1));
    assert_eq!(report(&harness, [203, 0, 113, 3], ok).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn the_html_form_escapes_what_it_shows() {
    let harness = Harness::new().await;
    let (status, page) =
        from_client(&harness, [192, 0, 2, 9], Method::GET, "/report", "text/plain", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<form method=\"post\" action=\"/report\""));
    let form = "subject=%3Cscript%3Ealert(%27x%27)%3C%2Fscript%3E&body=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&contact=";
    let (status, page) = from_client(
        &harness,
        [192, 0, 2, 9],
        Method::POST,
        "/report",
        "application/x-www-form-urlencoded",
        form.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{page}");
    let queue = harness.owner(Method::GET, "/v1/public-reports", None).await;
    assert_eq!(queue.body[0]["subject"], "<script>alert('x')</script>");
    assert_eq!(queue.body[0]["body"], "<img src=x onerror=alert(1)>");

    let (status, page) = from_client(
        &harness,
        [192, 0, 2, 9],
        Method::POST,
        "/report",
        "application/x-www-form-urlencoded",
        format!("subject=s&body={}", "x".repeat(16 * 1024 + 1)).into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{page}");
    let (status, _) = from_client(
        &harness,
        [192, 0, 2, 9],
        Method::POST,
        "/report",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn retention_erases_closed_incidents_personal_fields_and_keeps_their_facts() {
    let harness = Harness::new().await;
    let provider = |rest: &str| format!("/v1/organizations/{}{rest}", harness.provider_id);
    let case = open(
        &harness,
        json!({"title": "Laptop stolen", "severity": "SEV3",
            "description": "Reported by Ana Lopez, who called from her home", "owner": "ana.lopez"}),
    )
    .await;
    let id = case["id"].as_str().unwrap().to_owned();
    let task = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/tasks"),
            Some(json!({"title": "Wipe the laptop", "assignee": "ana.lopez"})),
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    for status in ["analysing", "contained", "eradicated", "recovered", "closed"] {
        let answer = harness
            .owner(
                Method::POST,
                &format!("/v1/incidents/{id}/status"),
                Some(json!({"status": status, "note": "Ana Lopez confirmed"})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let still_open =
        open(&harness, json!({"title": "Phishing wave", "severity": "SEV4", "owner": "ana.lopez"}))
            .await;

    let category = harness
        .owner(
            Method::POST,
            &provider("/data-categories"),
            Some(json!({"path": "incident", "description": "People named in incident cases"})),
        )
        .await;
    assert_eq!(category.status, StatusCode::CREATED, "{}", category.body);
    let rule = harness
        .owner(
            Method::POST,
            &provider("/retention/rules"),
            Some(json!({"data_category": "incident", "target": "closed_incidents",
                "trigger": "last_activity", "duration_days": 30, "action": "anonymise"})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let before = get(&harness, &id).await;

    // Not yet past its time: nothing is due.
    let early = harness.owner(Method::POST, &provider("/retention/runs"), Some(json!({}))).await;
    assert_eq!(early.body["rules"][0]["due"], 0, "{}", early.body);

    // Past it, a dry run counts the closed case only and changes nothing.
    harness.clock.advance(Duration::days(31));
    let dry = harness
        .owner(Method::POST, &provider("/retention/runs"), Some(json!({"dry_run": true})))
        .await;
    assert_eq!(dry.body["rules"][0]["due"], 1, "{}", dry.body);
    assert_eq!(dry.body["rules"][0]["erased"], 0);
    assert_eq!(get(&harness, &id).await, before);

    let done = harness.owner(Method::POST, &provider("/retention/runs"), Some(json!({}))).await;
    assert_eq!(done.body["rules"][0]["erased"], 1, "{}", done.body);
    let after = get(&harness, &id).await;
    assert!(!after.to_string().contains("Ana"), "{after}");
    assert!(!after.to_string().contains("ana.lopez"), "{after}");
    assert_eq!(after["description"], "");
    assert_eq!(after["owner"], Value::Null);
    assert_eq!(after["tasks"][0]["assignee"], Value::Null);
    assert_eq!(before["personal_data_erased_at"], Value::Null);
    assert_eq!(after["personal_data_erased_at"], "2026-04-01T09:00:00Z");
    // The facts of the case stay.
    assert_eq!(after["title"], "Laptop stolen");
    assert_eq!(after["severity"], "SEV3");
    assert_eq!(after["status"], "closed");
    assert_eq!(after["tasks"][0]["title"], "Wipe the laptop");
    let timeline = after["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), before["timeline"].as_array().unwrap().len() + 1);
    assert_eq!(timeline.last().unwrap()["kind"], "personal_data.erase");
    assert_eq!(timeline[6]["detail"]["to"], "closed");
    assert_eq!(timeline[6]["detail"]["note"], Value::Null);

    // An open case keeps everything, and a second run finds nothing left to erase.
    assert_eq!(get(&harness, still_open["id"].as_str().unwrap()).await["owner"], "ana.lopez");
    let again = harness.owner(Method::POST, &provider("/retention/runs"), Some(json!({}))).await;
    assert_eq!(again.body["rules"][0]["due"], 0, "{}", again.body);
}
