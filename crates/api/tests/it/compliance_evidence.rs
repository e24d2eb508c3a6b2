//! Live checks from every store, policy acknowledgements, the risk matrix, manual evidence and
//! the public trust page, through the real router.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;

use crate::compliance::{assert_fails_for, assert_passes, enrol_mfa, result};
use crate::harness::{Answer, Harness, call, create_customer, user_key};

struct Org {
    id: String,
    owner: String,
}

impl Org {
    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    async fn send(
        &self,
        harness: &Harness,
        method: Method,
        rest: &str,
        body: Option<Value>,
    ) -> Answer {
        call(harness, method, &self.path(rest), &self.owner, body).await
    }

    /// Add a register record; its id.
    async fn create(&self, harness: &Harness, register: &str, body: Value) -> String {
        let answer =
            self.send(harness, Method::POST, &format!("/compliance/{register}"), Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    async fn put(&self, harness: &Harness, register: &str, id: &str, body: Value) {
        let answer = self
            .send(harness, Method::PUT, &format!("/compliance/{register}/{id}"), Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    async fn run(&self, harness: &Harness) -> Vec<Value> {
        let answer = self.send(harness, Method::POST, "/evidence/run", None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body.as_array().unwrap().clone()
    }
}

async fn acknowledge(harness: &Harness, org: &Org, secret: &str, policy_id: &str) -> Answer {
    call(
        harness,
        Method::POST,
        &org.path(&format!("/policy-acknowledgements/{policy_id}")),
        secret,
        None,
    )
    .await
}

fn policy(version: &str) -> Value {
    json!({"title": "Information security policy", "document": {
        "version": version, "approved_by": "Board", "approved_on": "2025-01-10",
        "last_reviewed_on": "2025-09-01"}})
}

fn risk(residual: (u8, u8), personal_data: bool, dpia: Option<&str>) -> Value {
    json!({"title": "Customer data leak", "document": {
        "threat": "exfiltration", "vulnerability": "over-broad access", "likelihood": 4,
        "impact": 4, "treatment": "reduce", "controls": ["8.5"],
        "residual_likelihood": residual.0, "residual_impact": residual.1,
        "personal_data": personal_data, "dpia": dpia}})
}

fn dpia(validated: bool) -> Value {
    let risk = |kind: &str| {
        json!({"kind": kind, "impacts": "i", "threats": "t", "sources": "s", "measures": "m",
            "severity": 3, "likelihood": 2})
    };
    json!({"title": "Customer analytics", "document": {
        "context": "usage analytics", "principles": "minimisation",
        "risks": [risk("illegitimate_access"), risk("unwanted_modification"),
            risk("disappearance")],
        "dpo_validated_on": if validated { json!("2026-02-01") } else { Value::Null }}})
}

fn subprocessor(name: &str, dpa: bool) -> Value {
    json!({"title": name, "document": {
        "service": "transactional email", "purpose": "sends sign-in and billing mail",
        "data_categories": ["e-mail address"], "countries": ["FR"],
        "transfer_mechanism": "adequacy", "criticality": "high",
        "last_reviewed_on": "2025-05-01", "contract_signed_on": "2024-01-01",
        "dpa_signed_on": if dpa { json!("2024-01-01") } else { Value::Null }, "public": true}})
}

fn change(risk: &str, approved_by: Option<&str>) -> Value {
    json!({"title": format!("{risk} change"), "document": {
        "description": "database upgrade", "risk": risk, "approved_by": approved_by,
        "window_starts_at": "2026-03-10T22:00:00Z", "window_ends_at": "2026-03-10T23:00:00Z",
        "rollback_plan": "restore snapshot", "customer_impact": "10 minutes read-only",
        "published": true}})
}

async fn insert_finding(harness: &Harness, organization_id: &str, asset_id: &str) -> String {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::VulnerabilityRepository as _;
    let now = harness.clock.now();
    let finding = store::FindingRecord {
        id: uuid::Uuid::new_v4(),
        organization_id: organization_id.parse().unwrap(),
        asset_id: asset_id.parse().unwrap(),
        advisory_id: "RUSTSEC-2026-0001".into(),
        component: "crates.io/hyper@0.14.0".into(),
        purl: None,
        aliases: "[]".into(),
        summary: "request smuggling".into(),
        severity: "high".into(),
        cvss_score: None,
        cvss_vector: None,
        fixed_versions: "[]".into(),
        state: "open".into(),
        justification: None,
        note: String::new(),
        risk_expires_at: None,
        approved_by: None,
        first_seen_at: now,
        last_seen_at: now,
        resolved_at: None,
        due_at: now + Duration::days(30),
        updated_at: now,
    };
    let mut transaction = harness.app.store().begin().await.unwrap();
    transaction.insert_findings(std::slice::from_ref(&finding)).await.unwrap();
    transaction
        .append_audit_event(&system_event(organization_id, "vuln.finding.open", now))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    finding.id.to_string()
}

async fn insert_alert(harness: &Harness, organization_id: &str) -> String {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::DetectionRepository as _;
    let now = harness.clock.now();
    let alert = store::AlertRecord {
        id: uuid::Uuid::new_v4(),
        organization_id: organization_id.parse().unwrap(),
        rule_id: "brute-force".into(),
        title: "Password spraying".into(),
        level: "high".into(),
        tags: Vec::new(),
        author: "Rampart".into(),
        group_key: String::new(),
        event_refs: Vec::new(),
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
    transaction
        .append_audit_event(&system_event(organization_id, "detect.alert.raise", now))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    alert.id.to_string()
}

fn system_event(organization_id: &str, action: &str, at: time::OffsetDateTime) -> base::AuditEvent {
    base::AuditEvent {
        organization_id: organization_id.parse().unwrap(),
        time: at,
        actor: base::Actor::System,
        action: action.into(),
        resource: base::Resource::new("organization", organization_id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: false,
        details: serde_json::Map::new(),
    }
}

fn mac_report(encrypted: bool) -> Value {
    json!({
        "disk_encryption": [{"name": "/dev/disk1s1", "encrypted": if encrypted { "1" } else { "0" },
            "type": "APFS"}],
        "screenlock": [{"enabled": "1", "grace_period": "300"}],
        "os_version": [{"name": "macOS", "version": "15.1"}],
        "alf": [{"global_state": "1"}],
        "mdm": [{"enrolled": "true"}],
        "rampart_posture": [{"antivirus": true, "automatic_updates": true}],
    })
}

async fn asset(harness: &Harness, org: &Org, body: Value) -> String {
    let answer = org.send(harness, Method::POST, "/assets", Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

/// The checks added to the registers' own: each passes on a sound organisation, then fails
/// naming exactly the item whose fact changed.
const LIVE_CHECKS: [&str; 18] = [
    "iam.no_shared_accounts",
    "iam.dormant_privileged_accounts",
    "iam.access_reviews",
    "iam.leaver_accounts_suspended",
    "asset.device_posture",
    "asset.unsupported_software",
    "vulnerability.sla",
    "incidents.alert_triage",
    "governance.policy_acknowledgements",
    "governance.risk_treatment",
    "governance.register_reviews",
    "governance.statement_of_applicability",
    "privacy.dpia_high_risk",
    "privacy.dpia_validated",
    "audits.findings_closed",
    "audits.certificates_valid",
    "subprocessors.agreements_signed",
    "systems.change_approval",
];

#[tokio::test]
async fn at_least_thirty_checks_run_from_live_data_and_each_fails_for_the_right_item() {
    let harness = Harness::new().await;
    let id = create_customer(&harness, "Acme").await;
    let (owner_id, owner) = user_key(&harness, &id, "owner@acme.example", UserRole::Owner).await;
    let acme = Org { id: id.clone(), owner };
    let (root_id, root) = user_key(&harness, &id, "root@acme.example", UserRole::Owner).await;
    let (member_id, member) =
        user_key(&harness, &id, "member@acme.example", UserRole::Member).await;
    let (carol_id, _) = user_key(&harness, &id, "carol@acme.example", UserRole::Member).await;
    enrol_mfa(&harness, &id, &owner_id).await;
    enrol_mfa(&harness, &id, &root_id).await;
    let suspended =
        acme.send(&harness, Method::POST, &format!("/users/{carol_id}/suspend"), None).await;
    assert!(suspended.status.is_success(), "{}", suspended.body);

    // Assets: a server with a finding, a workstation reporting its posture, an appliance
    // whose support ends in a month.
    let server =
        asset(&harness, &acme, json!({"kind": "server", "name": "db-1", "owner": member_id})).await;
    let laptop = asset(
        &harness,
        &acme,
        json!({"kind": "workstation", "name": "laptop-7", "owner": member_id}),
    )
    .await;
    let firewall = asset(
        &harness,
        &acme,
        json!({"kind": "network_device", "name": "fw-1", "owner": member_id,
            "end_of_support": "2026-04-01"}),
    )
    .await;
    let reported = acme
        .send(&harness, Method::POST, &format!("/assets/{laptop}/posture"), Some(mac_report(true)))
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    let finding_id = insert_finding(&harness, &id, &server).await;
    let alert_id = insert_alert(&harness, &id).await;
    let schedule = acme
        .send(
            &harness,
            Method::PUT,
            "/access-review-schedules/organization",
            Some(json!({"cadence_days": 30, "due_in_days": 7})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::OK, "{}", schedule.body);

    // Registers.
    let policy_id = acme.create(&harness, "policies", policy("3.1")).await;
    acme.create(
        &harness,
        "roles",
        json!({"title": "CISO", "document": {"responsibilities": "Runs the ISMS", "holder": "Ada"}}),
    )
    .await;
    let ada = json!({"title": "Ada", "document": {"user_id": member_id,
        "nda_signed_on": "2024-01-02", "it_charter_accepted_on": "2024-01-02",
        "trainings": ["2025-06-01"]}});
    acme.create(&harness, "people", ada.clone()).await;
    acme.create(
        &harness,
        "people",
        json!({"title": "Carol", "document": {"user_id": carol_id,
            "nda_signed_on": "2023-01-02", "it_charter_accepted_on": "2023-01-02",
            "trainings": ["2025-11-01"], "departed_at": "2026-02-01T17:00:00Z",
            "access_revoked_at": "2026-02-01T18:00:00Z"}}),
    )
    .await;
    let audit_id = acme
        .create(
            &harness,
            "audits",
            json!({"title": "ISO 27001 surveillance", "document": {
                "kind": "external", "scope": "the whole service", "starts_on": "2025-10-01",
                "ends_on": "2025-10-03", "findings": [{"title": "Old firewall rules",
                "corrective_action": "quarterly rule review", "due_on": "2026-04-01"}]}}),
        )
        .await;
    acme.create(
        &harness,
        "audits",
        json!({"title": "Pentest 2026", "document": {
            "kind": "intrusion_test", "scope": "public API", "testers_briefing": "grey box",
            "scope_shared_at": "2026-02-01T09:00:00Z", "starts_on": "2026-02-10"}}),
    )
    .await;
    let certificate_id = acme
        .create(
            &harness,
            "certifications",
            json!({"title": "ISO/IEC 27001", "document": {"standard": "ISO/IEC 27001:2022",
                "issuer": "Cert & Co", "valid_until": "2026-04-01", "scope": "hosting"}}),
        )
        .await;
    acme.create(&harness, "subprocessors", subprocessor("Mailer", true)).await;
    acme.create(&harness, "changes", change("medium", Some("CAB"))).await;
    acme.create(
        &harness,
        "continuity",
        json!({"title": "Customer database", "document": {
            "rto_minutes": 240, "rpo_minutes": 15, "procedure": "restore from WAL archive",
            "restore_tests": [{"tested_on": "2026-01-15", "result": "passed"}]}}),
    )
    .await;
    let dpia_id = acme.create(&harness, "dpias", dpia(true)).await;
    let risk_id = acme.create(&harness, "risks", risk((1, 2), true, Some(&dpia_id))).await;
    let mut soa_ids = Vec::new();
    for control in report::iso27001::CONTROLS {
        soa_ids.push(
            acme.create(
                &harness,
                "applicability",
                json!({"title": control.id, "document": {"control_id": control.id,
                    "applicable": true, "status": "implemented", "justification": "in scope"}}),
            )
            .await,
        );
    }
    for secret in [&acme.owner, &root, &member] {
        let answer = acknowledge(&harness, &acme, secret, &policy_id).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    let results = acme.run(&harness).await;
    assert!(results.len() >= 30, "{} checks ran: {results:?}", results.len());
    for result in &results {
        assert_eq!(result["passed"], true, "{result}");
        let definition = report::evidence::check_definition(result["check_id"].as_str().unwrap());
        let definition = definition.unwrap();
        assert!(!definition.measures.is_empty() && !definition.controls.is_empty());
    }
    for check in LIVE_CHECKS {
        assert_passes(&results, check);
    }
    assert_eq!(result(&results, "governance.statement_of_applicability")["population"], 93);
    assert_eq!(result(&results, "governance.policy_acknowledgements")["population"], 3);

    // Change one fact behind each check, time standing still.
    let ada_twin = acme
        .create(
            &harness,
            "people",
            json!({"title": "Ada's colleague", "document": {"user_id": member_id,
                "nda_signed_on": "2024-01-02", "it_charter_accepted_on": "2024-01-02",
                "trainings": ["2025-06-01"]}}),
        )
        .await;
    let _ = ada_twin;
    let (dave_id, dave) = user_key(&harness, &id, "dave@acme.example", UserRole::Member).await;
    let dave_person = acme
        .create(
            &harness,
            "people",
            json!({"title": "Dave", "document": {"user_id": dave_id,
                "nda_signed_on": "2023-01-02", "it_charter_accepted_on": "2023-01-02",
                "trainings": ["2025-11-01"], "departed_at": "2026-02-27T17:00:00Z",
                "access_revoked_at": "2026-02-27T18:00:00Z"}}),
        )
        .await;
    acme.put(&harness, "policies", &policy_id, policy("3.2")).await;
    for secret in [&acme.owner, &root, &dave] {
        let answer = acknowledge(&harness, &acme, secret, &policy_id).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["version"], "3.2");
    }
    acme.put(
        &harness,
        "risks",
        &risk_id,
        json!({"title": "Customer data leak", "document": {
        "threat": "exfiltration", "vulnerability": "over-broad access", "likelihood": 4,
        "impact": 4, "treatment": "accept", "residual_likelihood": 4, "residual_impact": 4,
        "personal_data": true, "dpia": dpia_id}}),
    )
    .await;
    let unassessed = acme.create(&harness, "risks", risk((1, 1), true, None)).await;
    let overdue_role = acme
        .create(
            &harness,
            "roles",
            json!({"title": "DPO", "review_due": "2026-01-31",
                "document": {"responsibilities": "Data protection", "holder": "Eve"}}),
        )
        .await;
    let removed = acme
        .send(&harness, Method::DELETE, &format!("/compliance/applicability/{}", soa_ids[3]), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let unsigned_sub =
        acme.create(&harness, "subprocessors", subprocessor("Analytics", false)).await;
    let unvalidated = acme.create(&harness, "dpias", dpia(false)).await;
    let unapproved = acme.create(&harness, "changes", change("high", None)).await;
    let reported = acme
        .send(&harness, Method::POST, &format!("/assets/{laptop}/posture"), Some(mac_report(false)))
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);

    let results = acme.run(&harness).await;
    assert_fails_for(&results, "iam.no_shared_accounts", &member_id);
    assert_fails_for(&results, "iam.leaver_accounts_suspended", &dave_person);
    assert_fails_for(&results, "governance.policy_acknowledgements", &member_id);
    assert_fails_for(&results, "governance.risk_treatment", &risk_id);
    assert_fails_for(&results, "privacy.dpia_high_risk", &unassessed);
    assert_fails_for(&results, "governance.register_reviews", &overdue_role);
    assert_fails_for(
        &results,
        "governance.statement_of_applicability",
        report::iso27001::CONTROLS[3].id,
    );
    assert_fails_for(&results, "subprocessors.agreements_signed", &unsigned_sub);
    assert_fails_for(&results, "privacy.dpia_validated", &unvalidated);
    assert_fails_for(&results, "systems.change_approval", &unapproved);
    assert_fails_for(&results, "asset.device_posture", &laptop);
    let reason = result(&results, "governance.policy_acknowledgements")["failing"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("v3.2"), "{reason}");
    for check in [
        "iam.dormant_privileged_accounts",
        "iam.access_reviews",
        "asset.unsupported_software",
        "vulnerability.sla",
        "incidents.alert_triage",
        "audits.findings_closed",
        "audits.certificates_valid",
    ] {
        assert_passes(&results, check);
    }

    // A hundred days later: the review schedule, the firewall's support, the finding's
    // deadline, the alert's hour, the audit finding and the certificate have all run out, and
    // the second owner has not acted since.
    harness.clock.advance(Duration::days(100));
    acme.run(&harness).await;
    let results = acme.run(&harness).await;
    assert_fails_for(&results, "iam.dormant_privileged_accounts", &root_id);
    assert_fails_for(&results, "iam.access_reviews", "schedule:organization");
    assert_fails_for(&results, "asset.unsupported_software", &firewall);
    assert_fails_for(&results, "vulnerability.sla", &finding_id);
    assert_fails_for(&results, "incidents.alert_triage", &alert_id);
    assert_fails_for(&results, "audits.findings_closed", &format!("{audit_id}#0"));
    assert_fails_for(&results, "audits.certificates_valid", &certificate_id);

    // Every run is history.
    let history =
        acme.send(&harness, Method::GET, "/evidence/governance.risk_treatment/history", None).await;
    assert_eq!(history.body.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn staff_acknowledge_the_current_version_and_a_new_version_resets_it() {
    let harness = Harness::new().await;
    let id = create_customer(&harness, "Acme").await;
    let (owner_id, owner) = user_key(&harness, &id, "owner@acme.example", UserRole::Owner).await;
    let (member_id, member) =
        user_key(&harness, &id, "member@acme.example", UserRole::Member).await;
    let acme = Org { id: id.clone(), owner };
    let policy_id = acme.create(&harness, "policies", policy("1.0")).await;

    let before = harness.n_audit_events(&id).await;
    let answer = acknowledge(&harness, &acme, &member, &policy_id).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["user_id"], member_id);
    assert_eq!(answer.body["version"], "1.0");
    assert_eq!(harness.n_audit_events(&id).await, before + 1, "audited");
    let again = acknowledge(&harness, &acme, &member, &policy_id).await;
    assert_eq!(again.body["acknowledged_at"], answer.body["acknowledged_at"]);
    assert_eq!(harness.n_audit_events(&id).await, before + 1, "a repeat changes nothing");

    let status = acme
        .send(&harness, Method::GET, &format!("/policy-acknowledgements/{policy_id}"), None)
        .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(status.body["acknowledged"][0]["user_id"], member_id);
    assert_eq!(status.body["pending"].as_array().unwrap().len(), 1);
    assert_eq!(status.body["pending"][0]["user_id"], owner_id);

    // A new version: nobody has acknowledged it yet.
    acme.put(&harness, "policies", &policy_id, policy("2.0")).await;
    let status = acme
        .send(&harness, Method::GET, &format!("/policy-acknowledgements/{policy_id}"), None)
        .await;
    assert_eq!(status.body["version"], "2.0");
    assert_eq!(status.body["acknowledged"], json!([]));
    assert_eq!(status.body["pending"].as_array().unwrap().len(), 2);

    // Refusals change nothing: another organisation's member, an unknown policy, a record
    // of another register, and a member reading the list without a policy.
    let other = create_customer(&harness, "Other").await;
    let (_, stranger) = user_key(&harness, &other, "x@other.example", UserRole::Owner).await;
    let before = harness.n_audit_events(&id).await;
    acknowledge(&harness, &acme, &stranger, &policy_id)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    acknowledge(&harness, &acme, &member, &uuid::Uuid::new_v4().to_string())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let role_id = acme
        .create(&harness, "roles", json!({"title": "CISO", "document": {"responsibilities": "r"}}))
        .await;
    acknowledge(&harness, &acme, &member, &role_id)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(harness.n_audit_events(&id).await, before + 1, "only the role was recorded");
    call(
        &harness,
        Method::GET,
        &acme.path(&format!("/policy-acknowledgements/{policy_id}")),
        &member,
        None,
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn risks_are_rated_and_checked_on_the_organisations_matrix() {
    let harness = Harness::new().await;
    let id = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &id, "owner@acme.example", UserRole::Owner).await;
    let acme = Org { id: id.clone(), owner };

    let matrix = acme.send(&harness, Method::GET, "/risk-matrix", None).await;
    assert_eq!(matrix.status, StatusCode::OK);
    assert_eq!(matrix.body["likelihood"].as_array().unwrap().len(), 5);
    assert_eq!(matrix.body["thresholds"], json!({"medium": 5, "high": 10, "critical": 16}));

    let risk_id = acme.create(&harness, "risks", risk((2, 2), false, None)).await;
    let view =
        acme.send(&harness, Method::GET, &format!("/compliance/risks/{risk_id}"), None).await;
    assert_eq!(view.body["risk_assessment"]["inherent"]["score"], 16);
    assert_eq!(view.body["risk_assessment"]["inherent"]["level"], "critical");
    assert_eq!(view.body["risk_assessment"]["inherent"]["likelihood_label"], "Likely");
    assert_eq!(view.body["risk_assessment"]["residual"]["level"], "low");

    // Outside the default matrix: refused, nothing written.
    let before = harness.n_audit_events(&id).await;
    let mut big = risk((1, 1), false, None);
    big["document"]["likelihood"] = json!(6);
    acme.send(&harness, Method::POST, "/compliance/risks", Some(big.clone()))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // Bad matrices.
    for bad in [
        json!({"likelihood": ["a"], "impact": ["x", "y"],
            "thresholds": {"medium": 2, "high": 3, "critical": 4}}),
        json!({"likelihood": ["a", "b"], "impact": ["x", "y"],
            "thresholds": {"medium": 2, "high": 3, "critical": 5}}),
        json!({"likelihood": ["a", "A"], "impact": ["x", "y"],
            "thresholds": {"medium": 2, "high": 3, "critical": 4}}),
    ] {
        acme.send(&harness, Method::PUT, "/risk-matrix", Some(bad))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    acme.send(
        &harness,
        Method::PUT,
        "/risk-matrix",
        Some(json!({"likelihood": ["a", "b"], "impact": ["x", "y"], "thresholds": {"medium": 2}})),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // A 3 × 3 matrix would leave the recorded 4 × 4 risk outside it.
    let small = json!({"likelihood": ["Low", "Medium", "High"], "impact": ["Low", "Medium", "High"],
        "thresholds": {"medium": 3, "high": 6, "critical": 9}});
    acme.send(&harness, Method::PUT, "/risk-matrix", Some(small))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(harness.n_audit_events(&id).await, before);

    // A 6 × 6 matrix: the 6 now fits, and levels follow the new thresholds.
    let labels: Vec<String> = (1..=6).map(|n| format!("L{n}")).collect();
    let six = json!({"likelihood": labels, "impact": labels,
        "thresholds": {"medium": 8, "high": 17, "critical": 30}});
    let set = acme.send(&harness, Method::PUT, "/risk-matrix", Some(six)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(harness.n_audit_events(&id).await, before + 1, "audited");
    let created = acme.send(&harness, Method::POST, "/compliance/risks", Some(big)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["risk_assessment"]["inherent"]["score"], 24);
    assert_eq!(created.body["risk_assessment"]["inherent"]["level"], "high");
    // The first risk is re-rated on the new matrix: 16 is now medium.
    let list = acme.send(&harness, Method::GET, "/compliance/risks", None).await;
    let first = list.body.as_array().unwrap().iter().find(|risk| risk["id"] == risk_id).unwrap();
    assert_eq!(first["risk_assessment"]["inherent"]["level"], "medium");

    // The export carries the levels.
    let (status, csv) = {
        let answer = acme.send(&harness, Method::GET, "/compliance/risks/export", None).await;
        (answer.status, answer.body.as_str().unwrap().to_owned())
    };
    assert_eq!(status, StatusCode::OK);
    let mut lines = csv.lines().skip(1);
    assert_eq!(
        lines.next(),
        Some(
            "id,title,owner,review_due,updated_at,document,inherent_score,inherent_level,\
             residual_score,residual_level"
        )
    );
    let row = lines.find(|line| line.starts_with(&risk_id)).unwrap();
    assert!(row.ends_with(",16,medium,4,low"), "{csv}");
    assert!(lines.chain(csv.lines()).any(|line| line.ends_with(",24,high,1,low")), "{csv}");
}

#[tokio::test]
async fn manual_evidence_is_stored_hashed_shown_in_the_annex_and_never_served_as_html() {
    let harness = Harness::new().await;
    let id = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &id, "owner@acme.example", UserRole::Owner).await;
    let (_, member) = user_key(&harness, &id, "member@acme.example", UserRole::Member).await;
    let acme = Org { id: id.clone(), owner: owner.clone() };

    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let upload = harness
        .request(
            Method::POST,
            &acme.path(
                "/manual-evidence/files?title=Fire%20extinguisher%20inspection&measure_id=physical.premises\
                 &control_id=7.5&file_name=inspection.html&observed_on=2026-02-20&expires_on=2027-02-20",
            ),
            Some(&owner),
            Some(("application/octet-stream", html.clone())),
        )
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.body);
    let file_id = upload.body["id"].as_str().unwrap().to_owned();
    let sha256: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&html).iter().map(|byte| format!("{byte:02x}")).collect()
    };
    assert_eq!(upload.body["sha256"], sha256);
    assert_eq!(upload.body["media_type"], "text/plain; charset=utf-8");
    assert_eq!(upload.body["size"], html.len());
    assert_eq!(upload.body["kind"], "file");
    assert_eq!(upload.body["stale"], false);
    assert!(upload.body["added_by"].as_str().is_some());

    let link = acme
        .send(
            &harness,
            Method::POST,
            "/manual-evidence",
            Some(json!({"title": "Badge access review", "measure_id": "physical.premises",
                "url": "https://intranet.example/badges", "observed_on": "2026-01-10",
                "expires_on": "2026-03-01"})),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    assert_eq!(link.body["stale"], true, "expired today");
    let link_id = link.body["id"].as_str().unwrap().to_owned();

    let download = harness
        .request(
            Method::GET,
            &acme.path(&format!("/manual-evidence/{file_id}/content")),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    let header = |name: &str| download.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert!(header("content-disposition").starts_with("attachment;"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("rampart-sha256"), sha256);
    assert_eq!(download.body.as_str().unwrap().as_bytes(), html.as_slice());

    // Shown in the annex next to its measure.
    acme.run(&harness).await;
    let annex = harness
        .request(Method::GET, &acme.path("/report/tom?format=markdown"), Some(&owner), None)
        .await;
    let annex = annex.body.as_str().unwrap().to_owned();
    assert!(annex.contains("Fire extinguisher inspection"), "{annex}");
    assert!(annex.contains(&sha256[..16]), "{annex}");

    // Update and delete, audited; refusals change nothing.
    let before = harness.n_audit_events(&id).await;
    for (body, field) in [
        (
            json!({"title": "x", "measure_id": "nope", "url": "https://a.example", "observed_on": "2026-01-01"}),
            "measure_id",
        ),
        (
            json!({"title": "x", "measure_id": "physical.premises", "url": "http://a.example", "observed_on": "2026-01-01"}),
            "url",
        ),
        (
            json!({"title": "x", "measure_id": "physical.premises", "url": "https://a.example", "observed_on": "2027-01-01"}),
            "observed_on",
        ),
        (
            json!({"title": "x", "measure_id": "physical.premises", "url": "https://a.example", "observed_on": "2026-01-01", "expires_on": "2025-01-01"}),
            "expires_on",
        ),
        (
            json!({"title": "x", "measure_id": "physical.premises", "observed_on": "2026-01-01"}),
            "url",
        ),
        (
            json!({"title": "x", "measure_id": "physical.premises", "url": "https://a.example", "observed_on": "2026-01-01", "check_id": "no.such"}),
            "check_id",
        ),
    ] {
        let answer = acme.send(&harness, Method::POST, "/manual-evidence", Some(body)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(field), "{}", answer.body);
    }
    harness
        .request(
            Method::POST,
            &acme.path("/manual-evidence/files?title=x&measure_id=physical.premises&file_name=../x&observed_on=2026-01-01"),
            Some(&owner),
            Some(("application/octet-stream", b"%PDF-1.7".to_vec())),
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&id).await, before);
    call(&harness, Method::GET, &acme.path("/manual-evidence"), &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // The refusal itself is recorded as a denied access.
    let before = harness.n_audit_events(&id).await;

    let updated = acme
        .send(
            &harness,
            Method::PUT,
            &format!("/manual-evidence/{link_id}"),
            Some(json!({"title": "Badge access review Q1", "measure_id": "physical.premises",
                "url": "https://intranet.example/badges", "observed_on": "2026-02-28"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["stale"], false);
    let deleted =
        acme.send(&harness, Method::DELETE, &format!("/manual-evidence/{file_id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let list = acme.send(&harness, Method::GET, "/manual-evidence", None).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["title"], "Badge access review Q1");
    assert_eq!(harness.n_audit_events(&id).await, before + 2);
    acme.send(&harness, Method::GET, &format!("/manual-evidence/{file_id}/content"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_evidence_file_over_the_body_limit_is_refused() {
    let harness = Harness::with_limits(api::ApiLimits {
        max_body_bytes: 4 * 1024,
        ..api::ApiLimits::default()
    })
    .await;
    let id = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &id, "owner@acme.example", UserRole::Owner).await;
    let before = harness.n_audit_events(&id).await;
    harness
        .request(
            Method::POST,
            &format!(
                "/v1/organizations/{id}/manual-evidence/files?title=x&measure_id=physical.premises\
                 &file_name=big.pdf&observed_on=2026-01-01"
            ),
            Some(&owner),
            Some(("application/octet-stream", vec![b'a'; 8 * 1024])),
        )
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(harness.n_audit_events(&id).await, before);
}

#[tokio::test]
async fn the_trust_page_shows_only_public_current_facts_escaped() {
    let harness = Harness::new().await;
    let provider = Org { id: harness.provider_id.clone(), owner: harness.owner_secret.clone() };
    provider
        .create(
            &harness,
            "certifications",
            json!({"title": "ISO", "owner": "owner@provider.example", "document": {
                "standard": "ISO/IEC 27001:2022", "issuer": "Cert <&> Co",
                "valid_until": "2027-01-31", "scope": "hosting <script>x</script>"}}),
        )
        .await;
    provider
        .create(
            &harness,
            "certifications",
            json!({"title": "Old", "document": {"standard": "Expired scheme", "issuer": "Someone",
                "valid_until": "2026-01-31"}}),
        )
        .await;
    provider.create(&harness, "subprocessors", subprocessor("Mailer <b>", true)).await;
    let mut private = subprocessor("Internal analytics", true);
    private["document"]["public"] = json!(false);
    provider.create(&harness, "subprocessors", private).await;

    let json_page = harness.request(Method::GET, "/trust.json", None, None).await;
    assert_eq!(json_page.status, StatusCode::OK);
    let body = &json_page.body;
    assert_eq!(body["certifications"].as_array().unwrap().len(), 1);
    assert_eq!(body["certifications"][0]["issuer"], "Cert <&> Co");
    assert_eq!(body["certifications"][0]["valid_until"], "2027-01-31");
    assert_eq!(body["subprocessors"].as_array().unwrap().len(), 1);
    assert_eq!(body["subprocessors"][0]["countries"], json!(["FR"]));
    assert_eq!(body["subprocessors"][0]["transfer_mechanism"], "adequacy");
    assert_eq!(body["subprocessors"][0]["data_categories"], json!(["e-mail address"]));
    assert_eq!(body["security_txt"], "/.well-known/security.txt");
    let text = body.to_string();
    assert!(!text.contains("owner@provider.example") && !text.contains("Internal analytics"));
    assert!(!text.contains("last_reviewed") && !text.contains("criticality"));

    let page = harness.request(Method::GET, "/trust", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'")
    );
    let html = page.body.as_str().unwrap();
    assert!(html.contains("Cert &lt;&amp;&gt; Co"), "{html}");
    assert!(html.contains("hosting &lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
    assert!(html.contains("href=\"/.well-known/security.txt\""), "{html}");
    assert!(html.contains("href=\"/changes\""), "{html}");
    assert!(!html.contains("Expired scheme") && !html.contains("Internal analytics"));
    assert!(!html.contains("owner@provider.example"));
}
