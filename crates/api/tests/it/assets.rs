//! The asset inventory through the API: owners, the lifecycle and disposal, filters, CSV
//! import (all or nothing, per-line errors, dry run) and export (marked, audited, safe to
//! open), device posture from a fleet key, end-of-support warnings, and refusals.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;

use crate::harness::{Harness, call, create_customer, user_key};

struct Org {
    id: String,
    owner: String,
    owner_email: String,
    owner_id: String,
    member_id: String,
    member: String,
}

impl Org {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let owner_email = format!("owner@{lower}.example");
        let (owner_id, owner) = user_key(harness, &id, &owner_email, UserRole::Owner).await;
        let (member_id, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        Self { id, owner, owner_email, owner_id, member_id, member }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    /// Create an asset a second after the previous one, so that lists have one order.
    async fn create(&self, harness: &Harness, body: Value) -> Value {
        harness.clock.advance(Duration::seconds(1));
        let answer =
            call(harness, Method::POST, &self.path("/assets"), &self.owner, Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    async fn put(&self, harness: &Harness, id: &str, body: Value) -> crate::harness::Answer {
        call(harness, Method::PUT, &self.path(&format!("/assets/{id}")), &self.owner, Some(body))
            .await
    }
}

fn laptop(owner: &str) -> Value {
    json!({
        "external_id": "LT-001", "kind": "workstation", "name": "Laptop of Ada",
        "owner": owner, "classification": "confidential", "criticality": "medium",
        "location": "Paris", "end_of_support": "2026-05-01", "tags": ["staff", "macos"],
    })
}

#[tokio::test]
async fn an_asset_needs_an_owner_of_its_organisation() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Other").await;
    let before = harness.n_audit_events(&acme.id).await;
    for (owner, expected) in [
        ("", "owner: required"),
        ("nobody@acme.example", "not a user of the organization"),
        ("owner@other.example", "not a user of the organization"),
        (other.member_id.as_str(), "not a user of the organization"),
    ] {
        let answer = call(
            &harness,
            Method::POST,
            &acme.path("/assets"),
            &acme.owner,
            Some(json!({"kind": "server", "name": "db-1", "owner": owner})),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    for (body, expected) in [
        (json!({"kind": "toaster", "name": "x", "owner": acme.owner_email}), "kind: unknown"),
        (json!({"kind": "server", "name": " ", "owner": acme.owner_email}), "name: required"),
        (
            json!({"kind": "server", "name": "x", "owner": acme.owner_email, "classification": "secret"}),
            "classification: unknown",
        ),
        (
            json!({"kind": "server", "name": "x", "owner": acme.owner_email, "lifecycle": "disposed"}),
            "disposal record",
        ),
        (
            json!({"kind": "server", "name": "x", "owner": acme.owner_email, "end_of_support": "01/05/2026"}),
            "YYYY-MM-DD",
        ),
        (
            json!({"kind": "server", "name": "x", "owner": acme.owner_email,
                   "relations": [{"type": "stores_data", "data_category": "User Email"}]}),
            "relations[0]",
        ),
        (
            json!({"kind": "server", "name": "x", "owner": acme.owner_email,
                   "relations": [{"type": "runs_on", "asset_id": "0190f1e2-0000-7000-8000-000000000000"}]}),
            "not in the organization",
        ),
    ] {
        let answer =
            call(&harness, Method::POST, &acme.path("/assets"), &acme.owner, Some(body)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    assert_eq!(harness.n_audit_events(&acme.id).await, before, "bad input changed nothing");

    let made = acme.create(&harness, laptop(&acme.owner_email)).await;
    assert_eq!(made["owner"], acme.owner_id, "the owner is resolved from the email");
    assert_eq!(made["lifecycle"], "in_service");
    assert_eq!(made["tags"], json!(["staff", "macos"]));
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1, "the creation is audited");
    // The external id is unique in the organisation.
    call(
        &harness,
        Method::POST,
        &acme.path("/assets"),
        &acme.owner,
        Some(laptop(&acme.owner_email)),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn the_lifecycle_ends_with_a_witnessed_disposal_that_is_final() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let made = acme.create(&harness, laptop(&acme.owner_email)).await;
    let id = made["id"].as_str().unwrap();
    let dispose_path = acme.path(&format!("/assets/{id}/disposal"));
    let disposal = json!({
        "method": "purge", "performed_on": "2026-02-27", "performer": "Erasure Co",
        "witness": "Grace (IT)", "certificate_ref": "CERT-2026-0042",
    });
    // Only a retired asset can be disposed of.
    call(&harness, Method::POST, &dispose_path, &acme.owner, Some(disposal.clone()))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    // in_service → planned goes backwards.
    let mut body = laptop(&acme.owner_email);
    body["lifecycle"] = "planned".into();
    let answer = acme.put(&harness, id, body.clone()).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("cannot go from in_service"));
    body["lifecycle"] = "retired".into();
    let answer = acme.put(&harness, id, body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["lifecycle"], "retired");

    for (field, value, expected) in [
        ("method", json!("shred"), "method: unknown"),
        ("performed_on", json!("2026-03-02"), "ahead of time"),
        ("witness", json!("Erasure Co"), "someone other than the performer"),
        ("certificate_ref", json!(""), "certificate_ref: required"),
    ] {
        let mut bad = disposal.clone();
        bad[field] = value;
        let answer = call(&harness, Method::POST, &dispose_path, &acme.owner, Some(bad)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    let done =
        call(&harness, Method::POST, &dispose_path, &acme.owner, Some(disposal.clone())).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.body["lifecycle"], "disposed");
    assert_eq!(done.body["disposal"]["method"], "purge");
    assert_eq!(done.body["disposal"]["certificate_ref"], "CERT-2026-0042");
    let read =
        call(&harness, Method::GET, &acme.path(&format!("/assets/{id}")), &acme.owner, None).await;
    assert_eq!(read.body["disposal"]["witness"], "Grace (IT)");

    // Final: no second record, no change, no deletion.
    call(&harness, Method::POST, &dispose_path, &acme.owner, Some(disposal))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    acme.put(&harness, id, body).await.assert_problem(StatusCode::CONFLICT, "conflict");
    call(&harness, Method::DELETE, &acme.path(&format!("/assets/{id}")), &acme.owner, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    // The disposal is a privileged audit event.
    let events = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=asset.dispose"),
        &acme.owner,
        None,
    )
    .await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.body);
    assert_eq!(items[0]["privileged"], true);
}

#[tokio::test]
async fn lists_filter_and_relations_hold_deletion_back() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let host = acme
        .create(
            &harness,
            json!({"kind": "server", "name": "host-1", "owner": acme.owner_email,
                   "criticality": "critical", "end_of_support": "2026-04-15"}),
        )
        .await;
    let host_id = host["id"].as_str().unwrap();
    let db = acme
        .create(
            &harness,
            json!({"kind": "database", "name": "customers-db", "owner": acme.member_id,
                   "relations": [{"type": "runs_on", "asset_id": host_id},
                                 {"type": "stores_data", "data_category": "user.contact.email"}]}),
        )
        .await;
    acme.create(&harness, laptop(&acme.owner_email)).await;
    let names = |answer: &crate::harness::Answer| -> Vec<String> {
        answer.body.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().into()).collect()
    };
    for (query, expected) in [
        ("", vec!["host-1", "customers-db", "Laptop of Ada"]),
        ("?kind=database", vec!["customers-db"]),
        ("?criticality=critical", vec!["host-1"]),
        ("?tag=macos", vec!["Laptop of Ada"]),
        ("?q=DB", vec!["customers-db"]),
        (&format!("?owner={}", acme.member_id), vec!["customers-db"]),
        // 2026-03-01 today: the laptop's support ended in May, the host's in mid-April.
        ("?end_of_support_within_days=45", vec!["host-1"]),
        ("?end_of_support_within_days=90", vec!["host-1", "Laptop of Ada"]),
    ] {
        let answer =
            call(&harness, Method::GET, &acme.path(&format!("/assets{query}")), &acme.owner, None)
                .await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
        assert_eq!(names(&answer), expected, "{query}");
    }
    call(&harness, Method::GET, &acme.path("/assets?lifecycle=gone"), &acme.owner, None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let answer = call(
        &harness,
        Method::DELETE,
        &acme.path(&format!("/assets/{host_id}")),
        &acme.owner,
        None,
    )
    .await;
    answer.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(answer.body["detail"].as_str().unwrap().contains("customers-db"));
    let db_id = db["id"].as_str().unwrap();
    let gone =
        call(&harness, Method::DELETE, &acme.path(&format!("/assets/{db_id}")), &acme.owner, None)
            .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let gone = call(
        &harness,
        Method::DELETE,
        &acme.path(&format!("/assets/{host_id}")),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
}

async fn import(harness: &Harness, org: &Org, csv: &str, dry_run: bool) -> crate::harness::Answer {
    let uri = org.path(&format!("/assets/import?dry_run={dry_run}"));
    harness.request(Method::POST, &uri, Some(&org.owner), Some(("text/csv", csv.into()))).await
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_export_round_trips() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let good = format!(
        "external_id,kind,name,owner,criticality,tags,end_of_support\n\
         SRV-1,server,web-1,{owner},high,prod;eu,2027-01-31\n\
         SRV-2,server,web-2,{owner},low,,\n",
        owner = acme.owner_email
    );
    let bad = format!(
        "{good}SRV-3,server,web-3,nobody@acme.example,low,,\n\
         SRV-4,fridge,web-4,{owner},low,,\n\
         SRV-1,server,dup,{owner},low,,\n\
         SRV-5,server,web-5\n",
        owner = acme.owner_email
    );
    let before = harness.n_audit_events(&acme.id).await;
    let answer = import(&harness, &acme, &bad, false).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.body);
    let errors: Vec<(u64, String)> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["error"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        errors.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
        [4, 5, 6, 7],
        "{errors:?}"
    );
    assert!(errors[0].1.contains("owner:"));
    assert!(errors[1].1.contains("kind: unknown"));
    assert!(errors[2].1.contains("already on line 2"));
    assert!(errors[3].1.contains("fields; the header has 7"));
    assert_eq!(answer.body["created"], 0);
    let listed = call(&harness, Method::GET, &acme.path("/assets"), &acme.owner, None).await;
    assert_eq!(listed.body, json!([]), "nothing was written");
    assert_eq!(harness.n_audit_events(&acme.id).await, before);

    let dry = import(&harness, &acme, &good, true).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!((dry.body["dry_run"].clone(), dry.body["created"].clone()), (json!(true), json!(2)));
    let listed = call(&harness, Method::GET, &acme.path("/assets"), &acme.owner, None).await;
    assert_eq!(listed.body, json!([]), "a dry run writes nothing");

    let done = import(&harness, &acme, &good, false).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["created"], 2);
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1, "one event per import");

    // A formula in a name is neutralised on export; the export is marked and audited.
    let renamed = good.replace("web-2", "=cmd|' /C calc'!A0");
    let again = import(&harness, &acme, &renamed, false).await;
    assert_eq!(
        (again.body["updated"].clone(), again.body["unchanged"].clone()),
        (json!(1), json!(1))
    );
    let answer =
        harness.request(Method::GET, &acme.path("/assets/export"), Some(&acme.owner), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["rampart-classification"], "INTERNAL (TLP:GREEN)");
    let text = answer.body.as_str().unwrap().to_owned();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("# classification: INTERNAL (TLP:GREEN)"));
    assert!(lines.next().unwrap().starts_with("id,external_id,kind,name"));
    assert!(text.contains("'=cmd|"), "{text}");
    assert!(text.contains(&acme.owner_email), "owners are exported by email");
    let events = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=asset.export"),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 1);

    // The export imports back as it is (the formula guard aside).
    let clean = text.replace("'=cmd|", "=cmd|");
    let round = import(&harness, &acme, &clean, false).await;
    assert_eq!(round.status, StatusCode::OK, "{}", round.body);
    assert_eq!(
        (round.body["unchanged"].clone(), round.body["created"].clone()),
        (json!(2), json!(0))
    );
}

#[tokio::test]
async fn a_fleet_key_reports_posture_and_stale_devices_fail() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let laptop_id =
        acme.create(&harness, laptop(&acme.owner_email)).await["id"].as_str().unwrap().to_owned();
    let mut second = laptop(&acme.owner_email);
    second["external_id"] = "LT-002".into();
    second["name"] = "Laptop of Grace".into();
    let silent_id = acme.create(&harness, second).await["id"].as_str().unwrap().to_owned();
    let server_id = acme
        .create(&harness, json!({"kind": "server", "name": "s", "owner": acme.owner_email}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A fleet application holding only DeviceReporter.
    let application = call(
        &harness,
        Method::POST,
        &acme.path("/applications"),
        &acme.owner,
        Some(json!({"name": "fleet"})),
    )
    .await;
    let app_id = application.body["id"].as_str().unwrap().to_owned();
    let key = call(
        &harness,
        Method::POST,
        &acme.path(&format!("/applications/{app_id}/api-keys")),
        &acme.owner,
        Some(json!({"description": "osquery fleet"})),
    )
    .await;
    let fleet = key.body["secret"].as_str().unwrap().to_owned();
    let policy = call(
        &harness,
        Method::POST,
        &acme.path("/policies"),
        &acme.owner,
        Some(json!({"principal": {"type": "application", "id": app_id},
                    "rules": [{"permission_sets": ["DeviceReporter"], "scope": "organization"}]})),
    )
    .await;
    assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);

    let report = json!({
        "disk_encryption": [{"name": "/dev/disk3s1", "encrypted": "1"}],
        "screenlock": [{"enabled": "1", "grace_period": "1200"}],
        "alf": [{"global_state": "1"}],
        "mdm": [{"enrolled": "true"}],
        "os_version": [{"name": "macOS", "version": "15.1"}],
        "rampart_posture": [{"antivirus": true, "automatic_updates": true}],
    });
    let posture_path = acme.path(&format!("/assets/{laptop_id}/posture"));
    let answer = call(&harness, Method::POST, &posture_path, &fleet, Some(report.clone())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["compliant"], false);
    assert_eq!(answer.body["failures"][0]["requirement"], "screen_lock");
    assert_eq!(answer.body["n_reports"], 1);

    // The organisation allows 30 minutes: compliant now.
    let mut policy =
        call(&harness, Method::GET, &acme.path("/posture-policy"), &acme.owner, None).await.body;
    assert_eq!(policy["max_screen_lock_seconds"], 900, "the annex's baseline by default");
    policy["max_screen_lock_seconds"] = 1800.into();
    let set =
        call(&harness, Method::PUT, &acme.path("/posture-policy"), &acme.owner, Some(policy)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let answer = call(&harness, Method::POST, &posture_path, &fleet, Some(report.clone())).await;
    assert_eq!(answer.body["compliant"], true, "{}", answer.body);
    assert_eq!(answer.body["n_reports"], 2);

    // The fleet key reports and does nothing else; posture is for devices only.
    call(&harness, Method::GET, &acme.path("/assets"), &fleet, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    call(
        &harness,
        Method::POST,
        &acme.path(&format!("/assets/{server_id}/posture")),
        &fleet,
        Some(report.clone()),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    call(&harness, Method::POST, &posture_path, &fleet, Some(json!({"mdm": "yes"})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    let devices = |answer: crate::harness::Answer| -> Vec<(String, bool, String)> {
        answer
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["asset_id"].as_str().unwrap().to_owned(),
                    d["compliant"].as_bool().unwrap(),
                    d["failures"][0]["reason"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let now = devices(
        call(&harness, Method::GET, &acme.path("/device-posture"), &acme.owner, None).await,
    );
    assert_eq!(
        now,
        [
            (laptop_id.clone(), true, String::new()),
            (silent_id.clone(), false, "never reported".into())
        ]
    );
    harness.clock.advance(Duration::days(8));
    let later = devices(
        call(&harness, Method::GET, &acme.path("/device-posture"), &acme.owner, None).await,
    );
    assert_eq!(later[0], (laptop_id, false, "no report for more than 7 days".into()));
}

#[tokio::test]
async fn end_of_support_warnings_are_recorded_once_per_threshold() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    // 2026-03-01 today.
    acme.create(
        &harness,
        json!({"kind": "server", "name": "old", "owner": acme.owner_email, "end_of_support": "2026-03-20"}),
    )
    .await;
    acme.create(
        &harness,
        json!({"kind": "server", "name": "new", "owner": acme.owner_email, "end_of_support": "2027-12-31"}),
    )
    .await;
    assert_eq!(harness.app.warn_end_of_support().await.unwrap(), 1, "only the one within 90 days");
    assert_eq!(harness.app.warn_end_of_support().await.unwrap(), 0, "once per threshold");
    harness.clock.advance(Duration::days(14));
    assert_eq!(harness.app.warn_end_of_support().await.unwrap(), 1, "7 days left: the next one");
    let events = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=asset.end_of_support.approaching"),
        &acme.owner,
        None,
    )
    .await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
}

#[tokio::test]
async fn members_without_a_policy_see_nothing() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let made = acme.create(&harness, laptop(&acme.owner_email)).await;
    let id = made["id"].as_str().unwrap();
    for (method, path, body) in [
        (Method::GET, acme.path("/assets"), None),
        (Method::GET, acme.path(&format!("/assets/{id}")), None),
        (Method::POST, acme.path("/assets"), Some(laptop(&acme.owner_email))),
        (Method::PUT, acme.path(&format!("/assets/{id}")), Some(laptop(&acme.owner_email))),
        (Method::DELETE, acme.path(&format!("/assets/{id}")), None),
        (Method::GET, acme.path("/assets/export"), None),
        (Method::GET, acme.path("/device-posture"), None),
        (Method::PUT, acme.path("/posture-policy"), Some(json!({}))),
    ] {
        call(&harness, method.clone(), &path, &acme.member, body)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
}
