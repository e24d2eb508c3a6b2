//! The compliance registers, the evidence checks and the live annex through the API: records
//! checked against their register's schema, every change and export audited, refusals that
//! change nothing, each evaluated check passing and then failing for the right item when the
//! fact changes, and the annex in HTML, Markdown and PDF.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

struct Org {
    id: String,
    owner: String,
    owner_id: String,
    member_id: String,
    member: String,
}

impl Org {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let (owner_id, owner) =
            user_key(harness, &id, &format!("owner@{lower}.example"), UserRole::Owner).await;
        let (member_id, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        Self { id, owner, owner_id, member_id, member }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    async fn create(&self, harness: &Harness, register: &str, body: Value) -> Value {
        harness.clock.advance(Duration::seconds(1));
        let answer = call(
            harness,
            Method::POST,
            &self.path(&format!("/compliance/{register}")),
            &self.owner,
            Some(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    async fn put(&self, harness: &Harness, register: &str, id: &str, body: Value) -> Answer {
        call(
            harness,
            Method::PUT,
            &self.path(&format!("/compliance/{register}/{id}")),
            &self.owner,
            Some(body),
        )
        .await
    }

    async fn run(&self, harness: &Harness) -> Vec<Value> {
        let answer =
            call(harness, Method::POST, &self.path("/evidence/run"), &self.owner, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body.as_array().unwrap().clone()
    }
}

pub(crate) fn result<'a>(results: &'a [Value], check_id: &str) -> &'a Value {
    results
        .iter()
        .find(|result| result["check_id"] == check_id)
        .unwrap_or_else(|| panic!("no result for {check_id}: {results:?}"))
}

pub(crate) fn assert_passes(results: &[Value], check_id: &str) {
    let result = result(results, check_id);
    assert_eq!(result["passed"], true, "{result}");
    assert_eq!(result["failing"], json!([]), "{result}");
}

/// The check fails, naming exactly the item `id`.
pub(crate) fn assert_fails_for(results: &[Value], check_id: &str, id: &str) {
    let result = result(results, check_id);
    assert_eq!(result["passed"], false, "{result}");
    let failing: Vec<&str> = result["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(failing, [id], "{result}");
}

fn policy(reviewed: &str) -> Value {
    json!({"title": "Information security policy", "document": {
        "version": "3.1", "approved_by": "Board", "approved_on": "2025-01-10",
        "last_reviewed_on": reviewed}})
}

#[tokio::test]
async fn a_register_record_is_created_read_updated_listed_and_deleted_with_audit() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let before = harness.n_audit_events(&acme.id).await;
    let made = acme.create(&harness, "policies", policy("2025-09-01")).await;
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["register"], "policies");
    assert_eq!(made["document"]["version"], "3.1");
    // A policy without a review date is due a year after its last review.
    assert_eq!(made["review_due"], "2026-09-01");
    assert_eq!(made["review_overdue"], false);
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);

    let got = call(
        &harness,
        Method::GET,
        &acme.path(&format!("/compliance/policies/{id}")),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["title"], "Information security policy");

    let mut changed = policy("2024-12-01");
    changed["owner"] = json!(acme.member_id);
    changed["review_due"] = json!("2025-12-01");
    let updated = acme.put(&harness, "policies", &id, changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["owner"], acme.member_id);
    assert_eq!(updated.body["review_overdue"], true, "2025-12-01 is before 2026-03-01");
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 2);

    // The same id is not found in another register.
    let elsewhere = call(
        &harness,
        Method::GET,
        &acme.path(&format!("/compliance/risks/{id}")),
        &acme.owner,
        None,
    )
    .await;
    elsewhere.assert_problem(StatusCode::NOT_FOUND, "not_found");

    let listed =
        call(&harness, Method::GET, &acme.path("/compliance/policies"), &acme.owner, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let risks =
        call(&harness, Method::GET, &acme.path("/compliance/risks"), &acme.owner, None).await;
    assert_eq!(risks.body, json!([]));

    let deleted = call(
        &harness,
        Method::DELETE,
        &acme.path(&format!("/compliance/policies/{id}")),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 3);
    let gone = call(
        &harness,
        Method::GET,
        &acme.path(&format!("/compliance/policies/{id}")),
        &acme.owner,
        None,
    )
    .await;
    gone.assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn bad_records_are_refused_with_the_field_named_and_change_nothing() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Other").await;
    let risk = json!({"threat": "ransomware", "vulnerability": "unpatched hosts",
        "likelihood": 2, "impact": 5, "treatment": "reduce", "controls": ["8.8"],
        "residual_likelihood": 2, "residual_impact": 3});
    let with = |field: &str, value: Value| {
        let mut document = risk.clone();
        document[field] = value;
        json!({"title": "Ransomware", "document": document})
    };
    let before = harness.n_audit_events(&acme.id).await;
    for (register, body, expected) in [
        ("risks", json!({"title": "", "document": risk}), "title: required"),
        (
            "risks",
            with("likelihood", json!(6)),
            "document.likelihood: 6 is outside the risk matrix (1 to 5)",
        ),
        ("risks", with("treatment", json!("ignore")), "unknown variant"),
        ("risks", with("controls", json!([])), "document.controls"),
        ("risks", with("residual_likelihood", json!(4)), "residual risk exceeds"),
        ("risks", with("extra", json!(1)), "unknown field"),
        (
            "risks",
            json!({"title": "R", "document": risk, "owner": other.owner_id}),
            "not an active user",
        ),
        ("risks", json!({"title": "R", "document": risk, "review_due": "next year"}), "review_due"),
        (
            "policies",
            json!({"title": "P", "document": {"version": "1", "last_reviewed_on": "2025-13-01"}}),
            "document",
        ),
        (
            "applicability",
            json!({"title": "A", "document": {"control_id": "9.9", "applicable": true, "status": "planned", "justification": "x"}}),
            "not an Annex A control",
        ),
        (
            "applicability",
            json!({"title": "A", "document": {"control_id": "5.1", "applicable": false, "status": "planned", "justification": "x"}}),
            "excluded control",
        ),
        (
            "dpias",
            json!({"title": "D", "document": {"context": "c", "principles": "p", "risks": []}}),
            "the three risks",
        ),
        (
            "subprocessors",
            json!({"title": "S", "document": {"service": "mail", "data_categories": ["email"], "countries": ["usa"], "transfer_mechanism": "none", "criticality": "high"}}),
            "ISO 3166-1",
        ),
        (
            "changes",
            json!({"title": "C", "document": {"description": "d", "risk": "low", "window_starts_at": "2026-03-02T10:00:00Z", "window_ends_at": "2026-03-02T09:00:00Z", "rollback_plan": "r"}}),
            "window_ends_at",
        ),
    ] {
        let answer = call(
            &harness,
            Method::POST,
            &acme.path(&format!("/compliance/{register}")),
            &acme.owner,
            Some(body),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(
            answer.body["detail"].as_str().unwrap().contains(expected),
            "{expected}: {}",
            answer.body
        );
    }
    let unknown = call(
        &harness,
        Method::POST,
        &acme.path("/compliance/secrets"),
        &acme.owner,
        Some(json!({})),
    )
    .await;
    unknown.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let bad_format =
        call(&harness, Method::GET, "/v1/report/tom?format=docx", &acme.owner, None).await;
    bad_format.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let unknown_check = call(
        &harness,
        Method::GET,
        &acme.path("/evidence/no.such.check/history"),
        &acme.owner,
        None,
    )
    .await;
    unknown_check.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(harness.n_audit_events(&acme.id).await, before, "refusals change nothing");
    let listed =
        call(&harness, Method::GET, &acme.path("/compliance/risks"), &acme.owner, None).await;
    assert_eq!(listed.body, json!([]));
}

#[tokio::test]
async fn members_without_a_policy_and_other_organisations_are_refused() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Other").await;
    let made = acme.create(&harness, "policies", policy("2025-09-01")).await;
    let id = made["id"].as_str().unwrap();
    for secret in [&acme.member, &other.owner] {
        for (method, path, body) in [
            (Method::GET, acme.path("/compliance/policies"), None),
            (Method::POST, acme.path("/compliance/policies"), Some(policy("2025-09-01"))),
            (
                Method::PUT,
                acme.path(&format!("/compliance/policies/{id}")),
                Some(policy("2025-10-01")),
            ),
            (Method::DELETE, acme.path(&format!("/compliance/policies/{id}")), None),
            (Method::GET, acme.path("/compliance/policies/export"), None),
            (Method::POST, acme.path("/evidence/run"), None),
            (Method::GET, acme.path("/evidence"), None),
            (Method::GET, acme.path("/report/tom"), None),
        ] {
            let answer = call(&harness, method.clone(), &path, secret, body).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}: {}", answer.body);
        }
    }
    let listed =
        call(&harness, Method::GET, &acme.path("/compliance/policies"), &acme.owner, None).await;
    assert_eq!(listed.body[0]["document"]["last_reviewed_on"], "2025-09-01", "nothing changed");
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "nothing created or deleted");

    // A member granted ComplianceManager may work on the registers.
    let grant = call(
        &harness,
        Method::POST,
        &acme.path("/policies"),
        &acme.owner,
        Some(json!({
        "principal": {"type": "user", "id": acme.member_id},
        "rules": [{"permission_sets": ["ComplianceManager"], "scope": "organization"}]})),
    )
    .await;
    assert_eq!(grant.status, StatusCode::CREATED, "{}", grant.body);
    let allowed =
        call(&harness, Method::GET, &acme.path("/compliance/policies"), &acme.member, None).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
}

#[tokio::test]
async fn a_register_exports_as_marked_audited_csv_safe_to_open() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    acme.create(
        &harness,
        "roles",
        json!({"title": "=HYPERLINK(\"x\")", "owner": acme.owner_id,
        "document": {"responsibilities": "Runs the ISMS", "holder": "Ada"}}),
    )
    .await;
    let before = harness.n_audit_events(&acme.id).await;
    let answer = harness
        .request(Method::GET, &acme.path("/compliance/roles/export"), Some(&acme.owner), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["rampart-classification"], "CONFIDENTIAL (TLP:AMBER)");
    let text = answer.body.as_str().unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("# classification: CONFIDENTIAL (TLP:AMBER)"));
    assert_eq!(lines.next(), Some("id,title,owner,review_due,updated_at,document"));
    let row = lines.next().unwrap();
    assert!(row.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{row}");
    assert!(row.contains(&acme.owner_id));
    assert!(row.contains("Runs the ISMS"));
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1, "the export is audited");
}

/// Enrol a confirmed authenticator app for a user, directly in the store.
pub(crate) async fn enrol_mfa(harness: &Harness, organization_id: &str, user_id: &str) {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::FactorRepository as _;
    let user_id: base::UserId = user_id.parse().unwrap();
    let at = harness.clock.now();
    let mut transaction = harness.app.store().begin().await.unwrap();
    transaction
        .put_pending_totp(&store::TotpRecord {
            user_id,
            sealed_seed: vec![0; 48],
            created_at: at,
            confirmed_at: None,
            last_step: None,
        })
        .await
        .unwrap();
    transaction.confirm_totp(user_id, at, 1).await.unwrap();
    let event = base::AuditEvent {
        organization_id: organization_id.parse().unwrap(),
        time: at,
        actor: base::Actor::System,
        action: "user.mfa.enrol".into(),
        resource: base::Resource::new("user", user_id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: true,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();
}

#[tokio::test]
async fn each_check_passes_then_fails_for_the_right_item_when_the_fact_changes() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    enrol_mfa(&harness, &acme.id, &acme.owner_id).await;

    let asset = call(
        &harness,
        Method::POST,
        &acme.path("/assets"),
        &acme.owner,
        Some(json!({
        "kind": "server", "name": "db-1", "owner": acme.member_id})),
    )
    .await;
    assert_eq!(asset.status, StatusCode::CREATED, "{}", asset.body);
    let asset_id = asset.body["id"].as_str().unwrap().to_owned();
    let policy_id = acme.create(&harness, "policies", policy("2025-09-01")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let role_id = acme
        .create(
            &harness,
            "roles",
            json!({"title": "CISO",
        "document": {"responsibilities": "Runs the ISMS", "holder": "Ada"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let person = |trained: &str| {
        json!({"title": "Ada", "document": {"user_id": acme.member_id,
        "nda_signed_on": "2024-01-02", "it_charter_accepted_on": "2024-01-02",
        "trainings": ["2024-06-01", trained]}})
    };
    let person_id = acme.create(&harness, "people", person("2025-06-01")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.create(
        &harness,
        "people",
        json!({"title": "Bob", "document": {
        "nda_signed_on": "2023-01-02", "it_charter_accepted_on": "2023-01-02",
        "trainings": ["2025-11-01"], "departed_at": "2026-02-01T17:00:00Z",
        "access_revoked_at": "2026-02-01T18:00:00Z"}}),
    )
    .await;
    let sub_id = acme
        .create(
            &harness,
            "subprocessors",
            json!({"title": "Mailer", "document": {
        "service": "transactional email", "data_categories": ["user.contact.email"],
        "countries": ["FR"], "transfer_mechanism": "adequacy", "criticality": "high",
        "last_reviewed_on": "2025-05-01", "public": true}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = |impact: Value, published: bool| {
        json!({"title": "Database upgrade", "document": {
        "description": "PostgreSQL 17", "risk": "medium", "approved_by": "CAB",
        "window_starts_at": "2026-03-10T22:00:00Z", "window_ends_at": "2026-03-10T23:00:00Z",
        "rollback_plan": "restore snapshot", "customer_impact": impact, "published": published}})
    };
    let change_id =
        acme.create(&harness, "changes", change(json!("10 minutes read-only"), true)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    acme.create(
        &harness,
        "audits",
        json!({"title": "ISO 27001 surveillance", "document": {
        "kind": "external", "scope": "the whole service", "starts_on": "2025-10-01",
        "ends_on": "2025-10-03", "findings": [{"title": "Old firewall rules",
        "corrective_action": "quarterly rule review", "owner": "Ada", "due_on": "2026-01-31"}]}}),
    )
    .await;
    let pentest_id = acme
        .create(
            &harness,
            "audits",
            json!({"title": "Pentest 2026", "document": {
        "kind": "intrusion_test", "scope": "public API", "testers_briefing": "grey box, staging",
        "scope_shared_at": "2026-02-01T09:00:00Z", "starts_on": "2026-02-10"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.create(
        &harness,
        "continuity",
        json!({"title": "Customer database", "document": {
        "rto_minutes": 240, "rpo_minutes": 15, "procedure": "restore from WAL archive",
        "restore_tests": [{"tested_on": "2026-01-15", "result": "passed"}]}}),
    )
    .await;

    let results = acme.run(&harness).await;
    for check in [
        "iam.privileged_mfa",
        "asset.owner",
        "governance.policy_review",
        "governance.roles_assigned",
        "personnel.training",
        "personnel.agreements",
        "iam.leaver_revocation",
        "subprocessors.critical_review",
        "subprocessors.transfer_safeguards",
        "systems.changes_published",
        "audits.held",
        "systems.intrusion_test_scope",
        "continuity.restore_test",
        "audit.log_checkpoint",
    ] {
        assert_passes(&results, check);
    }
    assert_eq!(result(&results, "iam.privileged_mfa")["population"], 1);
    for not_evidenced in
        ["vulnerability.sla", "incidents.breach_notification", "incidents.security_txt"]
    {
        assert!(
            results.iter().all(|result| result["check_id"] != not_evidenced),
            "{not_evidenced}"
        );
    }

    // Change one fact behind each check.
    let (second_owner_id, _) =
        user_key(&harness, &acme.id, "root@acme.example", UserRole::Owner).await;
    let suspended = call(
        &harness,
        Method::POST,
        &acme.path(&format!("/users/{}/suspend", acme.member_id)),
        &acme.owner,
        None,
    )
    .await;
    assert!(suspended.status.is_success(), "{}", suspended.body);
    let vacant = acme
        .put(
            &harness,
            "roles",
            &role_id,
            json!({"title": "CISO",
        "document": {"responsibilities": "Runs the ISMS", "holder": null}}),
        )
        .await;
    assert_eq!(vacant.status, StatusCode::OK, "{}", vacant.body);
    let unsigned = acme
        .put(
            &harness,
            "people",
            &person_id,
            json!({"title": "Ada", "document": {
        "user_id": acme.member_id, "nda_signed_on": "2024-01-02", "trainings": ["2025-06-01"]}}),
        )
        .await;
    assert_eq!(unsigned.status, StatusCode::OK);
    let leaver_id = acme
        .create(
            &harness,
            "people",
            json!({"title": "Carol", "document": {
        "nda_signed_on": "2023-01-02", "it_charter_accepted_on": "2023-01-02",
        "trainings": ["2025-11-01"], "departed_at": "2026-02-20T17:00:00Z"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let us_sub_id = acme
        .create(
            &harness,
            "subprocessors",
            json!({"title": "Analytics", "document": {
        "service": "analytics", "data_categories": ["usage"], "countries": ["US"],
        "transfer_mechanism": "none", "criticality": "low"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hidden = acme
        .put(&harness, "changes", &change_id, change(json!("10 minutes read-only"), false))
        .await;
    assert_eq!(hidden.status, StatusCode::OK);
    let unscoped = acme
        .put(
            &harness,
            "audits",
            &pentest_id,
            json!({"title": "Pentest 2026", "document": {
        "kind": "intrusion_test", "scope": "public API", "starts_on": "2026-02-10"}}),
        )
        .await;
    assert_eq!(unscoped.status, StatusCode::OK);

    let results = acme.run(&harness).await;
    assert_fails_for(&results, "iam.privileged_mfa", &second_owner_id);
    assert_fails_for(&results, "asset.owner", &asset_id);
    assert_fails_for(&results, "governance.roles_assigned", &role_id);
    assert_fails_for(&results, "personnel.agreements", &person_id);
    assert_fails_for(&results, "iam.leaver_revocation", &leaver_id);
    assert_fails_for(&results, "subprocessors.transfer_safeguards", &us_sub_id);
    assert_fails_for(&results, "systems.changes_published", &change_id);
    assert_fails_for(&results, "systems.intrusion_test_scope", &pentest_id);
    assert_passes(&results, "governance.policy_review");
    assert_passes(&results, "personnel.training");
    assert_passes(&results, "audit.log_checkpoint");

    // Time passes: the policy's yearly review, the training and the sub-processor review
    // fall overdue, and the audit and restore test grow old.
    harness.clock.advance(Duration::days(800));
    let results = acme.run(&harness).await;
    assert_fails_for(&results, "governance.policy_review", &policy_id);
    assert_fails_for(&results, "personnel.training", &person_id);
    assert_fails_for(&results, "subprocessors.critical_review", &sub_id);
    assert_eq!(result(&results, "audits.held")["passed"], false);
    assert_eq!(result(&results, "continuity.restore_test")["passed"], false);

    // History keeps every run, newest first; the latest view is the last run.
    let history =
        call(&harness, Method::GET, &acme.path("/evidence/asset.owner/history"), &acme.owner, None)
            .await;
    let history = history.body.as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["passed"], true);
    assert_eq!(history[0]["passed"], false);
    assert!(history[0]["ran_at"].as_str() > history[2]["ran_at"].as_str());
    let latest = call(&harness, Method::GET, &acme.path("/evidence"), &acme.owner, None).await;
    let mut latest = latest.body.as_array().unwrap().clone();
    let mut results = results;
    let by_check = |a: &Value, b: &Value| a["check_id"].as_str().cmp(&b["check_id"].as_str());
    latest.sort_by(by_check);
    results.sort_by(by_check);
    assert_eq!(latest, results);
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_live_annex_renders_in_three_formats_with_every_heading_and_its_marking() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    acme.create(&harness, "policies", policy("2025-09-01")).await;
    acme.run(&harness).await;

    let html = harness
        .request(Method::GET, &acme.path("/report/tom?format=html"), Some(&acme.owner), None)
        .await;
    assert_eq!(html.status, StatusCode::OK);
    assert_eq!(html.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(html.headers["rampart-classification"], "Confidential (TLP:AMBER)");
    assert_eq!(
        html.headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    let checkpoint = html.headers["rampart-audit-checkpoint"].to_str().unwrap().to_owned();
    let (size, root) = checkpoint.split_once(' ').unwrap();
    assert!(size.parse::<u64>().unwrap() > 0);
    assert_eq!(root.len(), 64);
    let html_text = unescape_html(html.body.as_str().unwrap());
    assert!(html_text.contains(root), "the checkpoint's root is in the document");
    assert!(html_text.contains("Confidential"));

    let markdown = harness
        .request(Method::GET, "/v1/report/tom?format=markdown", Some(&acme.owner), None)
        .await;
    assert_eq!(markdown.status, StatusCode::OK);
    assert_eq!(markdown.headers["content-type"], "text/markdown; charset=utf-8");
    let markdown_text = markdown.body.as_str().unwrap().replace('\\', "");
    // Rendering the HTML was an audited export: the Markdown carries the checkpoint after it.
    let markdown_checkpoint = markdown.headers["rampart-audit-checkpoint"].to_str().unwrap();
    let (_, markdown_root) = markdown_checkpoint.split_once(' ').unwrap();
    assert!(markdown_text.contains(markdown_root));
    for heading in report::annex::heading_outline() {
        assert!(html_text.contains(heading), "HTML lacks {heading:?}");
        assert!(markdown_text.contains(heading), "Markdown lacks {heading:?}");
    }
    assert!(markdown_text.contains("governance.policy_review"));

    let pdf = harness
        .request(Method::GET, &acme.path("/report/tom?format=pdf"), Some(&acme.owner), None)
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let bytes = pdf_bytes(&harness, &acme).await;
    assert!(bytes.starts_with(b"%PDF-"));
    render_with_pdftoppm(&bytes);
}

async fn pdf_bytes(harness: &Harness, acme: &Org) -> Vec<u8> {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let request = axum::http::Request::builder()
        .uri(acme.path("/report/tom?format=pdf"))
        .header("authorization", format!("Bearer {}", acme.owner))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = harness.router.clone().oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap().to_bytes().to_vec()
}

/// When poppler's `pdftoppm` is installed, the PDF must render to an image.
fn render_with_pdftoppm(bytes: &[u8]) {
    let Ok(version) = std::process::Command::new("pdftoppm").arg("-v").output() else {
        eprintln!("pdftoppm not installed; PDF rendering not checked");
        return;
    };
    let _ = version;
    let directory = tempfile::tempdir().unwrap();
    let input = directory.path().join("annex.pdf");
    std::fs::write(&input, bytes).unwrap();
    let output = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "30", "-f", "1", "-l", "1"])
        .arg(&input)
        .arg(directory.path().join("page"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let pages = std::fs::read_dir(directory.path())
        .unwrap()
        .filter(|entry| {
            entry.as_ref().unwrap().path().extension().is_some_and(|extension| extension == "png")
        })
        .count();
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn the_public_changes_page_and_feed_list_only_published_customer_impacting_changes() {
    let harness = Harness::new().await;
    let provider = format!("/v1/organizations/{}/compliance/changes", harness.provider_id);
    let change = |title: &str, impact: Value, published: bool| {
        json!({"title": title, "document": {
        "description": "d", "risk": "low", "window_starts_at": "2026-03-10T22:00:00Z",
        "window_ends_at": "2026-03-10T23:00:00Z", "rollback_plan": "r",
        "customer_impact": impact, "published": published}})
    };
    let mut ids = Vec::new();
    for (title, impact, published) in [
        ("Maintenance <b>window</b>", json!("API read-only for 10 minutes"), true),
        ("Unpublished upgrade", json!("short outage"), false),
        ("Internal rotation", Value::Null, true),
    ] {
        harness.clock.advance(Duration::seconds(1));
        let made =
            harness.owner(Method::POST, &provider, Some(change(title, impact, published))).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        ids.push(made.body["id"].as_str().unwrap().to_owned());
    }
    let page = harness.request(Method::GET, "/changes", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let page = page.body.as_str().unwrap();
    assert!(page.contains("Maintenance &lt;b&gt;window&lt;/b&gt;"), "escaped: {page}");
    assert!(page.contains("API read-only for 10 minutes"));
    assert!(!page.contains("Unpublished upgrade"));
    assert!(!page.contains("Internal rotation"));

    let feed = harness.request(Method::GET, "/changes.atom", None, None).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(feed.headers["content-type"], "application/atom+xml; charset=utf-8");
    let feed = feed.body.as_str().unwrap();
    assert!(feed.starts_with("<?xml"), "{feed}");
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    assert!(feed.contains(&format!("urn:uuid:{}", ids[0])));
    assert!(!feed.contains(&ids[1]) && !feed.contains(&ids[2]));
}
