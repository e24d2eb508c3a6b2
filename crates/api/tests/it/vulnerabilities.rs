//! Vulnerability management through the API: staff import advisories (OSV JSON written here,
//! and a real RustSec file when the shared data is present), customers import SBOMs into
//! assets, findings appear with the severity and deadline of their CVSS vector, go overdue as
//! time passes, move through their triage states (and are refused bad moves), are fixed when
//! a new SBOM drops the component and reopen when it comes back or a risk acceptance
//! expires; the VEX export and the trend reflect them; members without policies are refused
//! and bad files change nothing.

use axum::http::{Method, StatusCode};
use base::Clock as _;
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N";

fn osv(id: &str, package: &str, fixed: &str, vector: Option<&str>) -> Vec<u8> {
    let mut record = json!({
        "id": id,
        "modified": "2026-01-01T00:00:00Z",
        "summary": format!("flaw in {package}"),
        "aliases": [format!("CVE-{id}")],
        "affected": [{
            "package": {"ecosystem": "crates.io", "name": package},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
        }],
    });
    if let Some(vector) = vector {
        record["severity"] = json!([{"type": "CVSS_V3", "score": vector}]);
    }
    record.to_string().into_bytes()
}

fn cargo_lock(packages: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from("version = 3\n");
    for (name, version) in packages {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \
             \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ));
    }
    text.into_bytes()
}

struct Org {
    id: String,
    owner: String,
    owner_id: String,
    member: String,
    asset: String,
}

impl Org {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let owner_email = format!("owner@{lower}.example");
        let (owner_id, owner) = user_key(harness, &id, &owner_email, UserRole::Owner).await;
        let (_, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        let created = call(
            harness,
            Method::POST,
            &format!("/v1/organizations/{id}/assets"),
            &owner,
            Some(json!({"kind": "application", "name": "billing", "owner": owner_email})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let asset = created.body["id"].as_str().unwrap().to_owned();
        Self { id, owner, owner_id, member, asset }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    async fn sbom_as(&self, harness: &Harness, secret: &str, name: &str, body: Vec<u8>) -> Answer {
        let uri = self.path(&format!("/assets/{}/sbom?name={name}", self.asset));
        harness
            .request(Method::POST, &uri, Some(secret), Some(("application/octet-stream", body)))
            .await
    }

    async fn sbom(&self, harness: &Harness, name: &str, body: Vec<u8>) -> Answer {
        self.sbom_as(harness, &self.owner, name, body).await
    }

    async fn get(&self, harness: &Harness, rest: &str) -> Answer {
        call(harness, Method::GET, &self.path(rest), &self.owner, None).await
    }

    async fn findings(&self, harness: &Harness, query: &str) -> Vec<Value> {
        let answer = self.get(harness, &format!("/findings{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body.as_array().unwrap().clone()
    }

    async fn set_state(&self, harness: &Harness, finding: &str, body: Value) -> Answer {
        let uri = self.path(&format!("/findings/{finding}/state"));
        call(harness, Method::POST, &uri, &self.owner, Some(body)).await
    }
}

async fn import_as(harness: &Harness, secret: &str, name: &str, body: Vec<u8>) -> Answer {
    let uri = format!("/v1/advisories?name={name}");
    harness
        .request(Method::POST, &uri, Some(secret), Some(("application/octet-stream", body)))
        .await
}

async fn import(harness: &Harness, name: &str, body: Vec<u8>) -> Answer {
    import_as(harness, &harness.owner_secret, name, body).await
}

fn at(text: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text.as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn advisories_are_imported_by_staff_and_bad_files_change_nothing() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let provider_before = harness.n_audit_events(&harness.provider_id).await;

    // Customers may not import advisories nor list them, whatever their role.
    let refused = import_as(&harness, &acme.owner, "a.json", osv("T-1", "x", "1.0.0", None)).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let refused = call(&harness, Method::GET, "/v1/advisories", &acme.owner, None).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");

    for (name, body, expected) in [
        ("a.json", Vec::new(), "empty"),
        ("", osv("T-1", "x", "1.0.0", None), "name"),
        ("a.txt", osv("T-1", "x", "1.0.0", None), "no advisory"),
        ("a.json", b"{\"id\": ".to_vec(), "a.json"),
        ("bundle.zip", b"not a zip".to_vec(), "no advisory"),
    ] {
        let answer = import(&harness, name, body).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, provider_before);
    let listed = harness.owner(Method::GET, "/v1/advisories", None).await;
    assert_eq!(listed.body, json!([]), "nothing was stored");

    let done = import(&harness, "t1.json", osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL))).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.body["loaded"], 1);
    assert_eq!(done.body["errors"], json!([]));
    assert_eq!(done.body["advisories_total"], 1);
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, provider_before + 1);
    let again =
        import(&harness, "copy.json", osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL))).await;
    again.assert_problem(StatusCode::CONFLICT, "conflict");

    let listed = harness.owner(Method::GET, "/v1/advisories", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let sources = listed.body.as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["name"], "t1.json");
    assert_eq!(sources[0]["loaded"], 1);
    assert_eq!(sources[0]["sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn findings_follow_sboms_advisories_deadlines_and_triage() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let import_time = harness.clock.now();
    let done = import(&harness, "t1.json", osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL))).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);

    // An SBOM with the vulnerable crate, a safe version of another, a git crate and a
    // version that does not parse: the last two are reported, not skipped.
    let mut lock = String::from_utf8(cargo_lock(&[
        ("demo-vuln", "1.0.0"),
        ("demo-high", "2.0.0"),
        ("safe", "1.2.0"),
        ("weird", "not.a.version"),
    ]))
    .unwrap();
    lock.push_str("\n[[package]]\nname = \"forked\"\nversion = \"0.1.0\"\nsource = \"git+https://example.test/forked#abc\"\n");
    let answer = acme.sbom(&harness, "Cargo.lock", lock.clone().into_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["format"], "Cargo.lock");
    assert_eq!(answer.body["components"], 5);
    assert_eq!(answer.body["findings"]["created"], 1);
    let problems = answer.body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p["message"].as_str().unwrap().contains("unparsable version")));
    assert!(problems.iter().any(|p| p["location"].as_str().unwrap().contains("forked")));
    let components = acme.get(&harness, &format!("/assets/{}/components", acme.asset)).await;
    let components = components.body.as_array().unwrap();
    assert_eq!(components.len(), 5);
    assert_eq!(components[0]["purl"], "pkg:cargo/demo-vuln@1.0.0");
    assert!(components[3]["problem"].as_str().unwrap().contains("unparsable version"));
    assert_eq!(components[4]["source"], "git");

    // The finding: critical from its vector, due in 7 days.
    let findings = acme.findings(&harness, "").await;
    assert_eq!(findings.len(), 1);
    let critical = findings[0].clone();
    assert_eq!(critical["advisory_id"], "T-1");
    assert_eq!(critical["component"], "crates.io/demo-vuln@1.0.0");
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["cvss_score"], 9.8);
    assert_eq!(critical["fixed_versions"], json!(["1.2.0"]));
    assert_eq!(critical["state"], "open");
    assert_eq!(at(&critical["due_at"]), import_time + Duration::days(7));
    assert_eq!(critical["overdue"], false);
    let id = critical["id"].as_str().unwrap().to_owned();
    assert!(acme.findings(&harness, "?overdue=true").await.is_empty());

    // A second advisory matches the asset already there: high, 30 days. An unscored one
    // counts as medium: 90 days.
    let done = import(&harness, "t2.json", osv("T-2", "demo-high", "2.1.0", Some(HIGH))).await;
    assert_eq!(done.body["findings"]["created"], 1, "{}", done.body);
    let done = import(&harness, "t3.json", osv("T-3", "safe", "1.3.0", None)).await;
    assert_eq!(done.body["findings"]["created"], 1, "{}", done.body);
    let high = acme.findings(&harness, "?severity=high").await;
    assert_eq!(high.len(), 1);
    assert_eq!(at(&high[0]["due_at"]), harness.clock.now() + Duration::days(30));
    let unknown = acme.findings(&harness, "?severity=unknown").await;
    assert_eq!(at(&unknown[0]["due_at"]), harness.clock.now() + Duration::days(90));

    // Eight days on, the critical one is overdue.
    harness.clock.advance(Duration::days(8));
    let overdue = acme.findings(&harness, "?overdue=true").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], id.as_str());

    // Refused moves change nothing.
    let before = harness.n_audit_events(&acme.id).await;
    let in_a_year = (harness.clock.now() + Duration::days(400)).format(&Rfc3339).unwrap();
    let yesterday = (harness.clock.now() - Duration::days(1)).format(&Rfc3339).unwrap();
    for (body, status, expected) in [
        (json!({"state": "closed"}), StatusCode::BAD_REQUEST, "state: unknown"),
        (json!({"state": "fixed"}), StatusCode::BAD_REQUEST, "fixed is set"),
        (json!({"state": "not_affected"}), StatusCode::BAD_REQUEST, "justification: required"),
        (
            json!({"state": "not_affected", "justification": "trust_me"}),
            StatusCode::BAD_REQUEST,
            "justification: unknown",
        ),
        (json!({"state": "risk_accepted"}), StatusCode::BAD_REQUEST, "expires_at: required"),
        (
            json!({"state": "risk_accepted", "expires_at": in_a_year}),
            StatusCode::BAD_REQUEST,
            "at most a year",
        ),
        (
            json!({"state": "risk_accepted", "expires_at": yesterday}),
            StatusCode::BAD_REQUEST,
            "future",
        ),
        (
            json!({"state": "in_triage", "justification": "component_not_present"}),
            StatusCode::BAD_REQUEST,
            "only for not_affected",
        ),
        (json!({"state": "open"}), StatusCode::CONFLICT, "already open"),
    ] {
        let answer = acme.set_state(&harness, &id, body).await;
        let code = if status == StatusCode::CONFLICT { "conflict" } else { "invalid_input" };
        answer.assert_problem(status, code);
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    let missing = acme
        .set_state(&harness, "0190f1e2-0000-7000-8000-000000000000", json!({"state": "in_triage"}))
        .await;
    missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(harness.n_audit_events(&acme.id).await, before, "refusals changed nothing");

    // Triage, then accept the risk for ten days: the approver is the actor.
    let answer = acme.set_state(&harness, &id, json!({"state": "in_triage"})).await;
    assert_eq!(answer.body["state"], "in_triage", "{}", answer.body);
    assert_eq!(answer.body["overdue"], true, "in triage past the deadline is overdue");
    let until = harness.clock.now() + Duration::days(10);
    let answer = acme
        .set_state(
            &harness,
            &id,
            json!({"state": "risk_accepted", "expires_at": until.format(&Rfc3339).unwrap(),
                   "note": "WAF rule in place"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["state"], "risk_accepted");
    assert_eq!(answer.body["approved_by"], acme.owner_id.as_str());
    assert_eq!(answer.body["note"], "WAF rule in place");
    assert_eq!(answer.body["overdue"], false, "an accepted risk is not overdue");
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 2, "each change audited");

    // When the acceptance expires the finding reopens, by the system, audited.
    harness.clock.advance(Duration::days(11));
    let reopened = acme.get(&harness, &format!("/findings/{id}")).await;
    assert_eq!(reopened.body["state"], "open", "{}", reopened.body);
    assert_eq!(reopened.body["risk_expires_at"], Value::Null);
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 3);

    // not_affected with a justification.
    let not_affected = unknown[0]["id"].as_str().unwrap().to_owned();
    let answer = acme
        .set_state(
            &harness,
            &not_affected,
            json!({"state": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["justification"], "vulnerable_code_not_in_execute_path");

    // A new SBOM without demo-vuln fixes its finding; a fixed finding cannot be moved.
    harness.clock.advance(Duration::days(1));
    let updated = cargo_lock(&[("demo-vuln", "1.2.0"), ("demo-high", "2.0.0"), ("safe", "1.2.0")]);
    let answer = acme.sbom(&harness, "Cargo.lock", updated).await;
    assert_eq!(answer.body["findings"]["fixed"], 1, "{}", answer.body);
    assert_eq!(answer.body["replaced"], 5);
    let fixed = acme.get(&harness, &format!("/findings/{id}")).await;
    assert_eq!(fixed.body["state"], "fixed");
    assert!(fixed.body["resolved_at"].is_string());
    let refused = acme.set_state(&harness, &id, json!({"state": "in_triage"})).await;
    refused.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(acme.findings(&harness, "?state=fixed").await.len(), 1);

    // The trend: none before the first day, three from the first day (the SBOM and the
    // advisory imports), two once one was found not to apply, one after the fix.
    let trend = acme.get(&harness, "/vulnerabilities/trend?days=25").await;
    assert_eq!(trend.status, StatusCode::OK, "{}", trend.body);
    let counts: Vec<u64> =
        trend.body.as_array().unwrap().iter().map(|p| p["open"].as_u64().unwrap()).collect();
    assert_eq!(counts.len(), 25);
    assert_eq!(counts[..4], [0, 0, 0, 0], "{counts:?}");
    assert_eq!(counts[4], 3, "{counts:?}");
    assert_eq!(counts[23], 2, "{counts:?}");
    assert_eq!(counts[24], 1, "{counts:?}");

    // VEX: one statement per finding, with its status.
    let vex = acme.get(&harness, "/vulnerabilities/vex").await;
    assert_eq!(vex.status, StatusCode::OK, "{}", vex.body);
    assert_eq!(vex.body["@context"], "https://openvex.dev/ns/v0.2.0");
    let statements = vex.body["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    let status_of = |name: &str| {
        statements.iter().find(|s| s["vulnerability"]["name"] == name).unwrap().clone()
    };
    assert_eq!(status_of("T-1")["status"], "fixed");
    assert_eq!(status_of("T-1")["products"][0]["@id"], "pkg:cargo/demo-vuln@1.0.0");
    assert_eq!(status_of("T-2")["status"], "affected");
    assert!(status_of("T-2")["action_statement"].as_str().unwrap().contains("2.1.0"));
    assert_eq!(status_of("T-3")["status"], "not_affected");
    assert_eq!(status_of("T-3")["justification"], "vulnerable_code_not_in_execute_path");

    // The component comes back: the fixed finding reopens.
    let answer = acme.sbom(&harness, "Cargo.lock", lock.into_bytes()).await;
    assert_eq!(answer.body["findings"]["reopened"], 1, "{}", answer.body);
    let back = acme.get(&harness, &format!("/findings/{id}")).await;
    assert_eq!(back.body["state"], "open");
    assert_eq!(back.body["resolved_at"], Value::Null);
}

#[tokio::test]
async fn deadlines_can_be_overridden_per_organisation() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let first_seen = harness.clock.now();
    import(&harness, "t1.json", osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL))).await;
    acme.sbom(&harness, "Cargo.lock", cargo_lock(&[("demo-vuln", "1.0.0")])).await;
    let sla = acme.get(&harness, "/vulnerability-sla").await;
    assert_eq!(
        sla.body,
        json!({"critical_days": 7, "high_days": 30, "medium_days": 90, "low_days": 180})
    );
    let before = harness.n_audit_events(&acme.id).await;
    for (body, status) in [
        (
            json!({"critical_days": 0, "high_days": 30, "medium_days": 90, "low_days": 180}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"critical_days": 3, "high_days": 30, "medium_days": 90, "low_days": 99999}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"critical_days": 3, "high_days": 30, "medium_days": 90}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let uri = acme.path("/vulnerability-sla");
        let answer = call(&harness, Method::PUT, &uri, &acme.owner, Some(body)).await;
        answer.assert_problem(status, "invalid_input");
    }
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
    let body = json!({"critical_days": 2, "high_days": 20, "medium_days": 60, "low_days": 120});
    let answer = call(
        &harness,
        Method::PUT,
        &acme.path("/vulnerability-sla"),
        &acme.owner,
        Some(body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);
    assert_eq!(acme.get(&harness, "/vulnerability-sla").await.body, body);
    let findings = acme.findings(&harness, "").await;
    assert_eq!(at(&findings[0]["due_at"]), first_seen + Duration::days(2));
    harness.clock.advance(Duration::days(3));
    assert_eq!(acme.findings(&harness, "?overdue=true").await.len(), 1);
}

#[tokio::test]
async fn bad_sboms_are_refused_and_change_nothing() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Other").await;
    let answer = acme.sbom(&harness, "Cargo.lock", cargo_lock(&[("ok", "1.0.0")])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let before = harness.n_audit_events(&acme.id).await;
    for (name, body, expected) in [
        ("Cargo.lock", b"version = 3\n[[package]]\nname = \"x\"\n".to_vec(), "package[0].version"),
        (
            "bom.cdx.json",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a","version":7}]}"#.to_vec(),
            "components[0].version",
        ),
        ("notes.pdf", b"%PDF-1.7".to_vec(), "malformed SBOM"),
        ("Cargo.lock", vec![0xff, 0xfe, 0x00], "not UTF-8"),
    ] {
        let answer = acme.sbom(&harness, name, body).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains(expected), "{}", answer.body);
    }
    let uri = acme.path(&format!("/assets/{}/sbom", acme.asset));
    let no_name = harness
        .request(Method::POST, &uri, Some(&acme.owner), Some(("text/plain", b"x".to_vec())))
        .await;
    no_name.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // Another organisation's asset is not found.
    let uri = acme.path(&format!("/assets/{}/sbom?name=Cargo.lock", other.asset));
    let elsewhere = harness
        .request(Method::POST, &uri, Some(&acme.owner), Some(("text/plain", cargo_lock(&[]))))
        .await;
    elsewhere.assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(harness.n_audit_events(&acme.id).await, before, "bad files changed nothing");
    let components = acme.get(&harness, &format!("/assets/{}/components", acme.asset)).await;
    assert_eq!(components.body.as_array().unwrap().len(), 1, "the previous SBOM stays");

    // An unknown ecosystem is a per-component problem, not a refusal.
    let bom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
        {"type":"library","name":"thing","version":"1.0","purl":"pkg:generic/thing@1.0"}]}"#;
    let answer = acme.sbom(&harness, "bom.cdx.json", bom.to_vec()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body["problems"][0]["message"].as_str().unwrap().contains("unknown ecosystem"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn members_without_policies_are_refused() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    import(&harness, "t1.json", osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL))).await;
    acme.sbom(&harness, "Cargo.lock", cargo_lock(&[("demo-vuln", "1.0.0")])).await;
    let id = acme.findings(&harness, "").await[0]["id"].as_str().unwrap().to_owned();
    let before = acme.findings(&harness, "").await;

    let answer = acme.sbom_as(&harness, &acme.member, "Cargo.lock", cargo_lock(&[])).await;
    answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    for (method, rest, body) in [
        (Method::GET, "/findings".to_owned(), None),
        (Method::GET, format!("/findings/{id}"), None),
        (Method::POST, format!("/findings/{id}/state"), Some(json!({"state": "in_triage"}))),
        (Method::GET, "/vulnerabilities/trend".to_owned(), None),
        (Method::GET, "/vulnerabilities/vex".to_owned(), None),
        (Method::GET, "/vulnerability-sla".to_owned(), None),
        (
            Method::PUT,
            "/vulnerability-sla".to_owned(),
            Some(json!({"critical_days": 1, "high_days": 1, "medium_days": 1, "low_days": 1})),
        ),
        (Method::GET, format!("/assets/{}/components", acme.asset), None),
    ] {
        let answer = call(&harness, method.clone(), &acme.path(&rest), &acme.member, body).await;
        answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let refused = import_as(&harness, &acme.member, "a.json", osv("T-9", "x", "1.0.0", None)).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(acme.findings(&harness, "").await, before, "nothing changed");

    // The VulnerabilityManager set grants the triage; SecurityAnalyst only reads.
    let (analyst_id, analyst) =
        user_key(&harness, &acme.id, "analyst@acme.example", UserRole::Member).await;
    let (manager_id, manager) =
        user_key(&harness, &acme.id, "manager@acme.example", UserRole::Member).await;
    for (user, set) in [(analyst_id, "SecurityAnalyst"), (manager_id, "VulnerabilityManager")] {
        let policy = call(
            &harness,
            Method::POST,
            &acme.path("/policies"),
            &acme.owner,
            Some(json!({"principal": {"type": "user", "id": user},
                        "rules": [{"permission_sets": [set], "scope": "organization"}]})),
        )
        .await;
        assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
    }
    let read = call(&harness, Method::GET, &acme.path("/findings"), &analyst, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let state = json!({"state": "in_triage"});
    let path = acme.path(&format!("/findings/{id}/state"));
    let refused = call(&harness, Method::POST, &path, &analyst, Some(state.clone())).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let allowed = call(&harness, Method::POST, &path, &manager, Some(state)).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let answer = acme.sbom_as(&harness, &manager, "Cargo.lock", cargo_lock(&[])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn a_real_rustsec_advisory_is_matched() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/rustsec/crates/smallvec/RUSTSEC-2021-0003.md");
    let Ok(content) = std::fs::read(&path) else {
        assert!(
            std::env::var("RAMPART_REQUIRE_SHARED_DATA").as_deref() != Ok("1"),
            "RAMPART_REQUIRE_SHARED_DATA=1 but {} is missing",
            path.display()
        );
        println!("skipped: {} is absent", path.display());
        return;
    };
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let done = import(&harness, "RUSTSEC-2021-0003.md", content).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.body["loaded"], 1);
    let answer = acme
        .sbom(&harness, "Cargo.lock", cargo_lock(&[("smallvec", "1.6.0"), ("serde", "1.0.0")]))
        .await;
    assert_eq!(answer.body["findings"]["created"], 1, "{}", answer.body);
    let finding = &acme.findings(&harness, "").await[0];
    assert_eq!(finding["advisory_id"], "RUSTSEC-2021-0003");
    assert_eq!(finding["severity"], "critical");
    assert!(finding["aliases"].as_array().unwrap().contains(&json!("CVE-2021-25900")));
    // 1.6.1 is patched.
    let answer = acme.sbom(&harness, "Cargo.lock", cargo_lock(&[("smallvec", "1.6.1")])).await;
    assert_eq!(answer.body["findings"]["fixed"], 1, "{}", answer.body);
}

mod arbitrary_files {
    use super::*;
    use proptest::prelude::*;

    /// Valid files with bytes flipped or cut, and plain noise.
    fn file() -> impl Strategy<Value = Vec<u8>> {
        let seeds = vec![
            cargo_lock(&[("demo-vuln", "1.0.0"), ("safe", "2.0.0")]),
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"a","version":"1.0","purl":"pkg:cargo/a@1.0"}]}"#.to_vec(),
            osv("T-1", "demo-vuln", "1.2.0", Some(CRITICAL)),
        ];
        prop_oneof![
            (prop::sample::select(seeds), any::<prop::sample::Index>(), any::<u8>(), 0..2_usize)
                .prop_map(|(mut bytes, index, byte, cut)| {
                    let at = index.index(bytes.len());
                    if cut == 0 {
                        bytes[at] = byte
                    } else {
                        bytes.truncate(at)
                    }
                    bytes
                }),
            prop::collection::vec(any::<u8>(), 0..300),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the file, an SBOM import and an advisory import answer success or a 4xx
        /// problem that changed nothing; never a 5xx.
        #[test]
        fn any_file_is_taken_or_refused_cleanly(
            body in file(),
            sbom_name in prop::sample::select(vec!["Cargo.lock", "bom.cdx.json", "requirements.txt", "package-lock.json", "status"]),
            advisory_name in prop::sample::select(vec!["a.json", "a.yaml", "RUSTSEC-2020-0001.md", "b.zip"]),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let harness = Harness::new().await;
                let acme = Org::new(&harness, "Acme").await;
                let before = harness.n_audit_events(&acme.id).await;
                let answer = acme.sbom(&harness, sbom_name, body.clone()).await;
                if answer.status == StatusCode::OK {
                    assert!(harness.n_audit_events(&acme.id).await > before);
                } else {
                    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
                    assert_eq!(harness.n_audit_events(&acme.id).await, before);
                }
                let before = harness.n_audit_events(&harness.provider_id).await;
                let answer = import(&harness, advisory_name, body).await;
                if answer.status == StatusCode::CREATED {
                    assert!(harness.n_audit_events(&harness.provider_id).await > before);
                } else {
                    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
                    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before);
                }
            });
        }
    }
}
