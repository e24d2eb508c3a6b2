//! Classification, records of processing and retention through the API: a scheme per
//! organisation that assets are checked against and whose levels in use cannot go, exports
//! marked from it and audited, processing activities that name only catalogued categories,
//! and retention runs that erase exactly what is past its time unless held or dry.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;

use crate::harness::{Harness, call, create_customer, user_key};

struct Org {
    id: String,
    owner: String,
    owner_email: String,
    member: String,
}

impl Org {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let owner_email = format!("owner@{lower}.example");
        let (_, owner) = user_key(harness, &id, &owner_email, UserRole::Owner).await;
        let (_, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        Self { id, owner, owner_email, member }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    async fn send(
        &self,
        harness: &Harness,
        method: Method,
        rest: &str,
        body: Option<Value>,
    ) -> crate::harness::Answer {
        call(harness, method, &self.path(rest), &self.owner, body).await
    }
}

fn custom_scheme() -> Value {
    json!({
        "levels": [
            {"name": "Public", "tlp": "CLEAR"},
            {"name": "Internal", "tlp": "GREEN"},
            {"name": "Partners", "tlp": "AMBER+STRICT", "description": "Named partners only"},
            {"name": "Secret", "tlp": "TLP:RED"},
        ],
        "exports": {"registers.roles": "Partners", "annex": "Secret"},
    })
}

#[tokio::test]
async fn a_scheme_is_read_replaced_audited_and_checked_for_levels_in_use() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;

    let default = acme.send(&harness, Method::GET, "/classification-scheme", None).await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.body);
    let names: Vec<&str> = default.body["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Public", "Internal", "Confidential", "Restricted"]);
    assert_eq!(default.body["levels"][2]["tlp"], "TLP:AMBER");
    assert_eq!(default.body["exports"]["annex"], "Confidential");
    assert_eq!(default.body["updated_at"], Value::Null);

    // An asset at the default scheme's Confidential level.
    let asset = acme
        .send(
            &harness,
            Method::POST,
            "/assets",
            Some(json!({"kind": "server", "name": "db-1", "owner": acme.owner_email,
                "classification": "Confidential"})),
        )
        .await;
    assert_eq!(asset.status, StatusCode::CREATED, "{}", asset.body);
    assert_eq!(asset.body["classification"], "confidential");

    // A member may not replace it; bad schemes are refused; none of it changes anything.
    let before = harness.n_audit_events(&acme.id).await;
    let denied = call(
        &harness,
        Method::PUT,
        &acme.path("/classification-scheme"),
        &acme.member,
        Some(custom_scheme()),
    )
    .await;
    denied.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    for (body, field) in [
        (json!({"levels": []}), "levels"),
        (
            json!({"levels": [{"name": "A", "tlp": "RED"}, {"name": "B", "tlp": "GREEN"}]}),
            "levels[1]",
        ),
        (json!({"levels": [{"name": "A", "tlp": "PURPLE"}]}), "levels[0].tlp"),
        (json!({"levels": [{"name": "A", "tlp": "RED"}, {"name": "a", "tlp": "RED"}]}), "twice"),
        (
            json!({"levels": [{"name": "A", "tlp": "RED"}], "exports": {"annex": "B"}}),
            "exports.annex",
        ),
        (json!({"levels": [{"name": "A", "tlp": "RED"}], "exports": {"nothing": "A"}}), "nothing"),
    ] {
        let refused = acme.send(&harness, Method::PUT, "/classification-scheme", Some(body)).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{field}: {detail}");
    }
    let unknown_field = acme
        .send(
            &harness,
            Method::PUT,
            "/classification-scheme",
            Some(json!({"levels": [{"name": "A", "tlp": "RED", "colour": "red"}]})),
        )
        .await;
    unknown_field.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Confidential is used by the asset: a scheme without it is refused, naming the use.
    let in_use =
        acme.send(&harness, Method::PUT, "/classification-scheme", Some(custom_scheme())).await;
    in_use.assert_problem(StatusCode::CONFLICT, "conflict");
    let detail = in_use.body["detail"].as_str().unwrap();
    assert!(detail.contains("Confidential") && detail.contains("1 asset"), "{detail}");
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1, "only the denial is recorded");

    // Reclassified, the level can go.
    let asset_id = asset.body["id"].as_str().unwrap();
    let reclassified = acme
        .send(
            &harness,
            Method::PUT,
            &format!("/assets/{asset_id}"),
            Some(json!({"kind": "server", "name": "db-1", "owner": acme.owner_email,
                "classification": "internal"})),
        )
        .await;
    assert_eq!(reclassified.status, StatusCode::OK, "{}", reclassified.body);
    harness.clock.advance(Duration::seconds(1));
    let replaced =
        acme.send(&harness, Method::PUT, "/classification-scheme", Some(custom_scheme())).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["levels"][2]["tlp"], "TLP:AMBER+STRICT");
    assert_eq!(replaced.body["levels"][2]["description"], "Named partners only");
    assert_eq!(replaced.body["exports"]["registers.roles"], "Partners");
    assert_eq!(
        replaced.body["exports"]["registers.risks"], "Secret",
        "no Confidential: most restricted"
    );
    assert_eq!(replaced.body["exports"]["assets"], "Internal");
    let read = acme.send(&harness, Method::GET, "/classification-scheme", None).await;
    assert_eq!(read.body, replaced.body);
    let events = acme
        .send(
            &harness,
            Method::GET,
            "/audit/events?action=privacy.classification_scheme.replace",
            None,
        )
        .await;
    let event = &events.body["items"][0];
    assert_eq!(event["details"]["levels_before"][2], "Confidential (TLP:AMBER)");
    assert_eq!(event["details"]["levels"][3], "Secret (TLP:RED)");

    // Assets are checked against the new scheme.
    let unknown = acme
        .send(
            &harness,
            Method::POST,
            "/assets",
            Some(json!({"kind": "server", "name": "db-2", "owner": acme.owner_email,
                "classification": "confidential"})),
        )
        .await;
    unknown.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(
        unknown.body["detail"].as_str().unwrap().contains("public, internal, partners, secret")
    );
    let partner = acme
        .send(
            &harness,
            Method::POST,
            "/assets",
            Some(json!({"kind": "server", "name": "db-3", "owner": acme.owner_email,
                "classification": "PARTNERS"})),
        )
        .await;
    assert_eq!(partner.status, StatusCode::CREATED, "{}", partner.body);
    assert_eq!(partner.body["classification"], "partners");
}

#[tokio::test]
async fn every_export_is_marked_from_the_scheme_and_audited() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let role = acme
        .send(
            &harness,
            Method::POST,
            "/compliance/roles",
            Some(json!({"title": "CISO", "document": {"responsibilities": "Runs the ISMS"}})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let put =
        acme.send(&harness, Method::PUT, "/classification-scheme", Some(custom_scheme())).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    acme.send(
        &harness,
        Method::POST,
        "/assets",
        Some(json!({"kind": "server", "name": "db-1", "owner": acme.owner_email,
            "classification": "partners"})),
    )
    .await;

    // Register CSV.
    let before = harness.n_audit_events(&acme.id).await;
    let csv = acme.send(&harness, Method::GET, "/compliance/roles/export", None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["rampart-classification"], "PARTNERS (TLP:AMBER+STRICT)");
    assert!(
        csv.body.as_str().unwrap().starts_with("# classification: PARTNERS (TLP:AMBER+STRICT)\n")
    );
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);

    // Register JSON.
    let json = acme.send(&harness, Method::GET, "/compliance/roles/export.json", None).await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.body);
    assert_eq!(json.headers["rampart-classification"], "PARTNERS (TLP:AMBER+STRICT)");
    assert_eq!(
        json.body["classification"],
        json!({"level": "Partners", "tlp": "TLP:AMBER+STRICT", "rank": 2})
    );
    assert_eq!(json.body["register"], "roles");
    assert_eq!(json.body["records"][0]["title"], "CISO");
    assert_eq!(json.body["records"][0]["document"]["responsibilities"], "Runs the ISMS");
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 2);
    let missing = acme.send(&harness, Method::GET, "/compliance/nothing/export.json", None).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let denied = call(
        &harness,
        Method::GET,
        &acme.path("/compliance/roles/export.json"),
        &acme.member,
        None,
    )
    .await;
    denied.assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Assets CSV: as restricted as its most restricted row.
    let assets = acme.send(&harness, Method::GET, "/assets/export", None).await;
    assert_eq!(assets.headers["rampart-classification"], "PARTNERS (TLP:AMBER+STRICT)");

    // The annex: banner and header from the scheme, and the rendering is audited.
    let before = harness.n_audit_events(&acme.id).await;
    let annex = acme.send(&harness, Method::GET, "/report/tom?format=markdown", None).await;
    assert_eq!(annex.status, StatusCode::OK, "{}", annex.body);
    assert_eq!(annex.headers["rampart-classification"], "Secret (TLP:RED)");
    assert!(annex.body.as_str().unwrap().contains("TLP:RED"));
    assert!(annex.body.as_str().unwrap().contains("Secret"));
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);
    let events = acme
        .send(&harness, Method::GET, "/audit/events?action=compliance.annex.export", None)
        .await;
    assert_eq!(events.body["items"][0]["details"]["classification"], "SECRET (TLP:RED)");
    assert_eq!(events.body["items"][0]["details"]["format"], "markdown");

    // OpenVEX keeps its schema: the marking is in the header; the export is audited.
    let before = harness.n_audit_events(&acme.id).await;
    let vex = acme.send(&harness, Method::GET, "/vulnerabilities/vex", None).await;
    assert_eq!(vex.status, StatusCode::OK, "{}", vex.body);
    assert_eq!(vex.headers["rampart-classification"], "SECRET (TLP:RED)");
    assert_eq!(vex.body["@context"], "https://openvex.dev/ns/v0.2.0");
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);

    // The audit log export (JSON Lines, verifiable as is) carries the marking in its header.
    let uri = format!("/v1/organizations/{}/audit/export", harness.provider_id);
    let trail = harness.owner(Method::GET, &uri, None).await;
    assert_eq!(trail.status, StatusCode::OK);
    assert_eq!(trail.headers["rampart-classification"], "CONFIDENTIAL (TLP:AMBER)");
}

#[tokio::test]
async fn reports_lists_and_privacy_answers_carry_their_marking() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let mut scheme = custom_scheme();
    scheme["exports"] = json!({
        "vulnerabilities": "Internal",
        "detection_reports": "Partners",
        "privacy_answers": "Partners",
        "reidentification": "Secret",
        "data_categories": "Public",
        "retention_runs": "Internal",
    });
    let put = acme.send(&harness, Method::PUT, "/classification-scheme", Some(scheme)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    const PARTNERS: &str = "PARTNERS (TLP:AMBER+STRICT)";

    // Reports are marked and recorded as exports.
    for (path, marking, action) in [
        ("/vulnerabilities/trend?days=7", "INTERNAL (TLP:GREEN)", "vulnerability.trend.export"),
        ("/detection/noise", PARTNERS, "detection.noise.export"),
    ] {
        let before = harness.n_audit_events(&acme.id).await;
        let answer = acme.send(&harness, Method::GET, path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert!(answer.body.is_array(), "{path}: the schema is unchanged");
        assert_eq!(answer.headers["rampart-classification"], marking, "{path}");
        assert_eq!(harness.n_audit_events(&acme.id).await, before + 1, "{path}");
        let events =
            acme.send(&harness, Method::GET, &format!("/audit/events?action={action}"), None).await;
        assert_eq!(events.body["items"][0]["details"]["classification"], marking, "{path}");
    }

    // Lists that are evidence carry their level; check results carry the annex's (Secret:
    // the scheme has no Confidential, so the most restricted level).
    for (method, path, marking) in [
        (Method::GET, "/data-categories", "PUBLIC (TLP:CLEAR)"),
        (Method::GET, "/retention/runs", "INTERNAL (TLP:GREEN)"),
        (Method::POST, "/evidence/run", "SECRET (TLP:RED)"),
        (Method::GET, "/evidence", "SECRET (TLP:RED)"),
    ] {
        let answer = acme.send(&harness, method, path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_eq!(answer.headers["rampart-classification"], marking, "{path}");
    }

    // Privacy answers: what the detector found, pseudonyms, and, most restricted, values
    // brought back from tokens.
    for (path, body) in [
        ("/pii/scan", json!({"text": "Write to ada@example.org"})),
        ("/pii/columns", json!({"samples": ["ada@example.org", "grace@example.org"]})),
    ] {
        let answer = acme.send(&harness, Method::POST, path, Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_eq!(answer.headers["rampart-classification"], PARTNERS, "{path}");
    }
    let domain = acme
        .send(&harness, Method::POST, "/pseudonymization-domains", Some(json!({"name": "crm"})))
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.body);
    let tokens = acme
        .send(
            &harness,
            Method::POST,
            "/pseudonymize",
            Some(json!({"domain": "crm", "method": "token", "values": ["Ada Lovelace"]})),
        )
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.headers["rampart-classification"], PARTNERS);
    let back = acme
        .send(
            &harness,
            Method::POST,
            "/reidentify",
            Some(json!({"domain": "crm", "tokens": [tokens.body["outputs"][0]]})),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["values"], json!(["Ada Lovelace"]));
    assert_eq!(back.headers["rampart-classification"], "SECRET (TLP:RED)");
}

#[tokio::test]
async fn processing_activities_name_catalogued_categories_and_assets() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;

    let category = |path: &str, extra: Value| {
        let mut body = json!({"path": path, "description": format!("{path} data")});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let orphan = acme
        .send(&harness, Method::POST, "/data-categories", Some(category("user.contact", json!({}))))
        .await;
    orphan.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(orphan.body["detail"].as_str().unwrap().contains("\"user\""));
    for (path, extra) in [
        ("user", json!({})),
        ("user.contact", json!({"classification": "confidential"})),
        ("user.contact.email", json!({})),
        ("user.health", json!({"classification": "restricted", "special_category": true})),
    ] {
        let created = acme
            .send(&harness, Method::POST, "/data-categories", Some(category(path, extra)))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let duplicate = acme
        .send(&harness, Method::POST, "/data-categories", Some(category("user", json!({}))))
        .await;
    duplicate.assert_problem(StatusCode::CONFLICT, "conflict");
    for bad in
        [category("User.Name", json!({})), category("user.x", json!({"classification": "top"}))]
    {
        let refused = acme.send(&harness, Method::POST, "/data-categories", Some(bad)).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    let listed = acme.send(&harness, Method::GET, "/data-categories", None).await;
    let paths: Vec<&str> =
        listed.body.as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["user", "user.contact", "user.contact.email", "user.health"]);
    assert_eq!(listed.body[0]["classification"], "internal");
    assert_eq!(listed.body[3]["special_category"], true);
    let health = acme.send(&harness, Method::GET, "/data-categories/user.health", None).await;
    assert_eq!(health.body["classification"], "restricted");

    let asset = acme
        .send(
            &harness,
            Method::POST,
            "/assets",
            Some(json!({"kind": "server", "name": "crm", "owner": acme.owner_email})),
        )
        .await;
    let asset_id = asset.body["id"].as_str().unwrap().to_owned();
    let activity = |categories: Value, assets: Value| {
        json!({"title": "Customer accounts", "document": {
            "purpose": "Run the customer accounts",
            "legal_basis": "contract",
            "data_subjects": ["customers"],
            "data_categories": categories,
            "recipients": ["support team"],
            "transfers": [{"country": "US", "mechanism": "standard_contractual_clauses"}],
            "sub_processors": ["Mailer Inc."],
            "supporting_assets": assets,
            "retention": "3 years after the end of the contract",
            "security_measures": ["encryption at rest"],
            "dpia_needed": true,
        }})
    };
    let before = harness.n_audit_events(&acme.id).await;
    for (body, field) in [
        (activity(json!(["user.phone"]), json!([])), "data_categories[0]"),
        (
            activity(json!(["user.contact.email"]), json!([uuid::Uuid::nil()])),
            "supporting_assets[0]",
        ),
    ] {
        let refused = acme.send(&harness, Method::POST, "/compliance/processing", Some(body)).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(refused.body["detail"].as_str().unwrap().contains(field), "{}", refused.body);
    }
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
    let created = acme
        .send(
            &harness,
            Method::POST,
            "/compliance/processing",
            Some(activity(json!(["user.contact.email", "user.health"]), json!([asset_id]))),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["document"]["transfers"][0]["mechanism"],
        "standard_contractual_clauses"
    );

    // A category in use, or with children, cannot be deleted.
    let used = acme.send(&harness, Method::DELETE, "/data-categories/user.health", None).await;
    used.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(used.body["detail"].as_str().unwrap().contains("Customer accounts"));
    let parent = acme.send(&harness, Method::DELETE, "/data-categories/user.contact", None).await;
    parent.assert_problem(StatusCode::CONFLICT, "conflict");
    let record_id = created.body["id"].as_str().unwrap();
    let deleted = acme
        .send(&harness, Method::DELETE, &format!("/compliance/processing/{record_id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = acme.send(&harness, Method::DELETE, "/data-categories/user.health", None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let missing = acme.send(&harness, Method::GET, "/data-categories/user.health", None).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");

    // The register exports as marked JSON and CSV.
    let second = acme
        .send(
            &harness,
            Method::POST,
            "/compliance/processing",
            Some(activity(json!(["user.contact.email"]), json!([]))),
        )
        .await;
    let second_id = second.body["id"].as_str().unwrap().to_owned();
    let json = acme.send(&harness, Method::GET, "/compliance/processing/export.json", None).await;
    assert_eq!(json.body["classification"]["level"], "Confidential");
    assert_eq!(json.body["records"][0]["document"]["legal_basis"], "contract");
    let csv = acme.send(&harness, Method::GET, "/compliance/processing/export", None).await;
    assert_eq!(csv.headers["rampart-classification"], "CONFIDENTIAL (TLP:AMBER)");

    // An activity that needs a DPIA fails the evidence check until its DPIA is done.
    let run = acme.send(&harness, Method::POST, "/evidence/run", None).await;
    let results = run.body.as_array().unwrap().clone();
    crate::compliance::assert_fails_for(&results, "privacy.dpia_high_risk", &second_id);
    let mut done = activity(json!(["user.contact.email"]), json!([]));
    done["document"]["dpia_done"] = json!(true);
    let updated = acme
        .send(&harness, Method::PUT, &format!("/compliance/processing/{second_id}"), Some(done))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let run = acme.send(&harness, Method::POST, "/evidence/run", None).await;
    crate::compliance::assert_passes(run.body.as_array().unwrap(), "privacy.dpia_high_risk");
}

/// Sessions with a source IP, last seen `days` days before now, made directly in the store.
async fn sessions_seen(harness: &Harness, owner_email: &str, days: &[i64]) {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::{SessionRepository as _, UserRepository as _};
    let now = harness.clock.now();
    let mut transaction = harness.app.store().begin().await.unwrap();
    let user = transaction.find_user_by_email(owner_email).await.unwrap().unwrap();
    for (n, days) in days.iter().enumerate() {
        let session = store::SessionRecord {
            id: uuid::Uuid::from_u128(0x5e55_0000 + n as u128),
            user_id: user.id,
            token_hash: vec![n as u8 + 1; 32],
            created_at: now - Duration::days(*days),
            last_seen_at: now - Duration::days(*days),
            authenticated_at: now - Duration::days(*days),
            mfa_at: None,
            source_ip: Some(format!("198.51.100.{n}")),
            user_agent: Some("curl/8".into()),
            restricted: false,
            ended_at: None,
        };
        transaction.insert_session(&session).await.unwrap();
    }
    let event = base::AuditEvent {
        organization_id: user.organization_id,
        time: now,
        actor: base::Actor::System,
        action: "session.create".into(),
        resource: base::Resource::new("user", user.id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: false,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();
}

async fn session_ips(harness: &Harness, owner_email: &str) -> Vec<Option<String>> {
    use store::{SessionRepository as _, UserRepository as _};
    let mut read = harness.app.store().read().await.unwrap();
    let user = read.find_user_by_email(owner_email).await.unwrap().unwrap();
    let mut sessions = read.list_sessions(user.id).await.unwrap();
    sessions.sort_by_key(|session| session.id);
    sessions.into_iter().map(|session| session.source_ip).collect()
}

#[tokio::test]
async fn retention_erases_what_is_past_its_time_unless_dry_or_held_and_records_each_run() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    acme.send(
        &harness,
        Method::POST,
        "/data-categories",
        Some(json!({"path": "network", "description": "Connection data"})),
    )
    .await;
    sessions_seen(&harness, &acme.owner_email, &[100, 40, 5]).await;

    // Bad rules are refused.
    for (body, field) in [
        (
            json!({"data_category": "nothing", "target": "session_network", "trigger": "last_activity",
            "duration_days": 30, "action": "delete"}),
            "data_category",
        ),
        (
            json!({"data_category": "network", "target": "mailboxes", "trigger": "last_activity",
            "duration_days": 30, "action": "delete"}),
            "target",
        ),
        (
            json!({"data_category": "network", "target": "session_network", "trigger": "event_date",
            "duration_days": 30, "action": "delete"}),
            "trigger",
        ),
        (
            json!({"data_category": "network", "target": "session_network", "trigger": "last_activity",
            "duration_days": 30, "action": "pseudonymise"}),
            "action",
        ),
        (
            json!({"data_category": "network", "target": "session_network", "trigger": "last_activity",
            "duration_days": 99_999, "action": "delete"}),
            "duration_days",
        ),
    ] {
        let refused = acme.send(&harness, Method::POST, "/retention/rules", Some(body)).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(refused.body["detail"].as_str().unwrap().starts_with(field), "{}", refused.body);
    }
    let rule = acme
        .send(
            &harness,
            Method::POST,
            "/retention/rules",
            Some(json!({"data_category": "network", "target": "session_network",
                "trigger": "last_activity", "duration_days": 30, "action": "anonymise"})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let all_ips = session_ips(&harness, &acme.owner_email).await;
    assert!(all_ips.iter().all(Option::is_some));

    // A dry run reports and changes nothing.
    let dry =
        acme.send(&harness, Method::POST, "/retention/runs", Some(json!({"dry_run": true}))).await;
    assert_eq!(dry.status, StatusCode::CREATED, "{}", dry.body);
    assert_eq!(dry.body["dry_run"], true);
    assert_eq!(dry.body["rules"][0]["due"], 2);
    assert_eq!(dry.body["rules"][0]["erased"], 0);
    assert_eq!(session_ips(&harness, &acme.owner_email).await, all_ips);

    // A legal hold stops it, and is itself recorded.
    let hold = acme
        .send(
            &harness,
            Method::POST,
            "/retention/holds",
            Some(json!({"target": "session_network", "reason": "Litigation 2026-14"})),
        )
        .await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.body);
    let hold_id = hold.body["id"].as_str().unwrap().to_owned();
    harness.clock.advance(Duration::seconds(1));
    let held = acme.send(&harness, Method::POST, "/retention/runs", Some(json!({}))).await;
    assert_eq!(held.body["rules"][0]["due"], 2);
    assert_eq!(held.body["rules"][0]["erased"], 0);
    assert_eq!(held.body["rules"][0]["held_by"], json!([hold_id]));
    assert_eq!(session_ips(&harness, &acme.owner_email).await, all_ips);
    let events = acme
        .send(&harness, Method::GET, "/audit/events?action=privacy.legal_hold.place", None)
        .await;
    assert_eq!(events.body["items"][0]["details"]["reason"], "Litigation 2026-14");
    assert_eq!(events.body["items"][0]["privileged"], true);

    // Released, the run erases exactly the two sessions older than 30 days.
    let released = acme
        .send(&harness, Method::POST, &format!("/retention/holds/{hold_id}/release"), None)
        .await;
    assert_eq!(released.status, StatusCode::NO_CONTENT);
    let again = acme
        .send(&harness, Method::POST, &format!("/retention/holds/{hold_id}/release"), None)
        .await;
    again.assert_problem(StatusCode::NOT_FOUND, "not_found");
    harness.clock.advance(Duration::seconds(1));
    let done =
        acme.send(&harness, Method::POST, "/retention/runs", Some(json!({"dry_run": false}))).await;
    assert_eq!(done.body["rules"][0]["erased"], 2, "{}", done.body);
    let ips = session_ips(&harness, &acme.owner_email).await;
    assert_eq!(ips, vec![None, None, all_ips[2].clone()]);

    // Every run is evidence: listed newest first with who ran it, and audited.
    let runs = acme.send(&harness, Method::GET, "/retention/runs", None).await;
    let runs = runs.body.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(
        runs.iter().map(|run| run["dry_run"].as_bool().unwrap()).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert!(runs[0]["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(runs[0]["rules"][0]["erased"], 2);
    let events =
        acme.send(&harness, Method::GET, "/audit/events?action=privacy.retention.run", None).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 3);

    // The daily run applies the rules as the system and finds nothing more.
    harness.clock.advance(Duration::seconds(1));
    assert_eq!(harness.app.run_daily_retention().await.unwrap(), 1);
    let runs = acme.send(&harness, Method::GET, "/retention/runs", None).await;
    assert_eq!(runs.body[0]["actor"], "system");
    assert_eq!(runs.body[0]["rules"][0]["due"], 0);

    // A member may not run retention, nor place holds.
    let denied =
        call(&harness, Method::POST, &acme.path("/retention/runs"), &acme.member, Some(json!({})))
            .await;
    denied.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let rule_id = rule.body["id"].as_str().unwrap();
    let removed =
        acme.send(&harness, Method::DELETE, &format!("/retention/rules/{rule_id}"), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let rules = acme.send(&harness, Method::GET, "/retention/rules", None).await;
    assert_eq!(rules.body, json!([]));
}
