//! Detection through the API: failed logins through the real login endpoint raise the
//! brute-force alert on the organisation's trail; alerts are acknowledged and closed, feed the
//! noise report, keep no personal data; bad input and members without a policy are refused.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;

use crate::harness::{Harness, call, create_customer, user_key};

pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) owner_id: String,
    pub(crate) member: String,
}

impl Org {
    pub(crate) async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let (owner_id, owner) =
            user_key(harness, &id, &format!("owner@{lower}.example"), UserRole::Owner).await;
        let (member_id, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        set_password(harness, &owner_id).await;
        set_password(harness, &member_id).await;
        Self { id, owner, owner_id, member }
    }

    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }
}

/// Give an account a password, as accepting an invitation would.
pub(crate) async fn set_password(harness: &Harness, user_id: &str) {
    use app::AuditTrail as _;
    use base::Clock as _;
    use store::UserRepository as _;
    let user_id: base::UserId = user_id.parse().unwrap();
    let phc = app::PasswordHasher::new(8 * 1024, 1, 1, 1)
        .unwrap()
        .hash("the right password, long enough")
        .await
        .unwrap();
    let mut transaction = harness.app.store().begin().await.unwrap();
    let user = transaction.get_user(user_id).await.unwrap().unwrap();
    transaction.set_user_password(user_id, &phc).await.unwrap();
    let event = base::AuditEvent {
        organization_id: user.organization_id,
        time: harness.clock.now(),
        actor: base::Actor::System,
        action: "user.password.set".into(),
        resource: base::Resource::new("user", user_id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: false,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();
}

/// Wrong passwords through the login endpoint, 31 seconds apart (past the growing delays
/// between attempts, which answer 429 unaudited); the account locks after ten.
pub(crate) async fn fail_logins(harness: &Harness, email: &str, n: usize) {
    for _ in 0..n {
        harness.clock.advance(time::Duration::seconds(31));
        let answer = harness
            .request(
                Method::POST,
                "/v1/auth/login",
                None,
                Some((
                    "application/json",
                    json!({"email": email, "password": "not the password at all"})
                        .to_string()
                        .into_bytes(),
                )),
            )
            .await;
        assert!(answer.status.is_client_error(), "{}: {}", answer.status, answer.body);
    }
}

async fn alerts(harness: &Harness, org: &Org) -> Vec<Value> {
    let answer = call(harness, Method::GET, &org.path("/alerts"), &org.owner, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body.as_array().unwrap().clone()
}

pub(crate) const BRUTE_FORCE: &str = "Rampart Password Brute Force on One Account";

#[tokio::test]
async fn twenty_wrong_passwords_raise_the_brute_force_alert() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    fail_logins(&harness, "owner@acme.example", 20).await;
    let pass = harness.app.run_detection_once().await.unwrap();
    assert!(pass.evaluated >= 20, "{pass:?}");
    let alerts = alerts(&harness, &org).await;
    let brute: Vec<&Value> = alerts.iter().filter(|alert| alert["title"] == BRUTE_FORCE).collect();
    assert_eq!(brute.len(), 1, "one alert, the later detections counted in: {alerts:#?}");
    let alert = brute[0];
    assert_eq!(alert["level"], "high");
    assert_eq!(alert["state"], "new");
    assert_eq!(alert["author"], "Rampart");
    assert!(alert["tags"].as_array().unwrap().contains(&json!("attack.t1110.001")));
    assert_eq!(alert["group_key"], format!("user.uid={}", org.owner_id));
    assert_eq!(alert["summary"]["api.operation"], "auth.login.password");
    assert_eq!(alert["summary"]["status"], "Failure");
    assert!(!alert["events"].as_array().unwrap().is_empty());
    // The alert keeps references and identifiers, not the account's email.
    assert!(!alert.to_string().contains("owner@acme.example"), "{alert}");
    // Nine failures are below the threshold: another account stays quiet.
    fail_logins(&harness, "member@acme.example", 9).await;
    harness.app.run_detection_once().await.unwrap();
    let again = self::alerts(&harness, &org).await;
    assert_eq!(again.iter().filter(|alert| alert["title"] == BRUTE_FORCE).count(), 1);
    // Each entry is evaluated once: a second pass with nothing new does nothing.
    let idle = harness.app.run_detection_once().await.unwrap();
    assert_eq!(idle.evaluated, 0);
    assert_eq!(idle.detections, 0);
}

#[tokio::test]
async fn an_alert_is_acknowledged_then_closed_and_counted_as_noise() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    fail_logins(&harness, "owner@acme.example", 12).await;
    harness.app.run_detection_once().await.unwrap();
    let alert = alerts(&harness, &org)
        .await
        .into_iter()
        .find(|alert| alert["title"] == BRUTE_FORCE)
        .unwrap();
    let id = alert["id"].as_str().unwrap();
    let got =
        call(&harness, Method::GET, &org.path(&format!("/alerts/{id}")), &org.owner, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], id);

    let before = harness.n_audit_events(&org.id).await;
    let bad = call(
        &harness,
        Method::POST,
        &org.path(&format!("/alerts/{id}/close")),
        &org.owner,
        Some(json!({"resolution": "maybe"})),
    )
    .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let unknown_field = call(
        &harness,
        Method::POST,
        &org.path(&format!("/alerts/{id}/acknowledge")),
        &org.owner,
        Some(json!({"assignee": "x", "colour": "red"})),
    )
    .await;
    unknown_field.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let bad_state =
        call(&harness, Method::GET, &org.path("/alerts?state=open"), &org.owner, None).await;
    bad_state.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&org.id).await, before, "bad input changes nothing");

    let acknowledged = call(
        &harness,
        Method::POST,
        &org.path(&format!("/alerts/{id}/acknowledge")),
        &org.owner,
        Some(json!({"assignee": "soc@acme.example"})),
    )
    .await;
    assert_eq!(acknowledged.status, StatusCode::OK, "{}", acknowledged.body);
    assert_eq!(acknowledged.body["state"], "acknowledged");
    assert_eq!(acknowledged.body["assignee"], "soc@acme.example");
    assert_eq!(acknowledged.body["acknowledged_by"], org.owner_id);
    let twice = call(
        &harness,
        Method::POST,
        &org.path(&format!("/alerts/{id}/acknowledge")),
        &org.owner,
        Some(json!({})),
    )
    .await;
    twice.assert_problem(StatusCode::CONFLICT, "conflict");

    let closed = call(
        &harness,
        Method::POST,
        &org.path(&format!("/alerts/{id}/close")),
        &org.owner,
        Some(json!({"resolution": "false_positive", "comment": "a password manager retrying"})),
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["resolution"], "false_positive");
    assert_eq!(harness.n_audit_events(&org.id).await, before + 2, "acknowledge and close audited");

    let listed =
        call(&harness, Method::GET, &org.path("/alerts?state=closed"), &org.owner, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let noise = call(&harness, Method::GET, &org.path("/detection/noise"), &org.owner, None).await;
    assert_eq!(noise.status, StatusCode::OK, "{}", noise.body);
    let rule = noise
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["title"] == BRUTE_FORCE)
        .unwrap()
        .clone();
    assert_eq!(rule["alerts"], 1);
    assert_eq!(rule["false_positive"], 1);
    assert_eq!(rule["false_positive_ratio"], 1.0);
    assert!(rule["detections"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn members_without_a_policy_and_other_organisations_are_refused() {
    let harness = Harness::new().await;
    let org = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Globex").await;
    fail_logins(&harness, "owner@acme.example", 12).await;
    harness.app.run_detection_once().await.unwrap();
    let id = alerts(&harness, &org).await[0]["id"].as_str().unwrap().to_owned();
    let before = harness.n_audit_events(&org.id).await;
    for (secret, path, method, body) in [
        (&org.member, org.path("/alerts"), Method::GET, None),
        (&org.member, org.path("/detection/noise"), Method::GET, None),
        (&org.member, org.path(&format!("/alerts/{id}")), Method::GET, None),
        (
            &org.member,
            org.path(&format!("/alerts/{id}/close")),
            Method::POST,
            Some(json!({"resolution": "benign"})),
        ),
        (&other.owner, org.path("/alerts"), Method::GET, None),
    ] {
        let answer = call(&harness, method, &path, secret, body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}: {}", answer.body);
    }
    // Another organisation's alert is not found through one's own organisation.
    let cross =
        call(&harness, Method::GET, &other.path(&format!("/alerts/{id}")), &other.owner, None)
            .await;
    cross.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let stored =
        call(&harness, Method::GET, &org.path(&format!("/alerts/{id}")), &org.owner, None).await;
    assert_eq!(stored.body["state"], "new", "refusals changed nothing");
    assert!(harness.n_audit_events(&org.id).await >= before);
    // The rules are the provider's business.
    let rules = call(&harness, Method::GET, "/v1/detection/rules", &org.owner, None).await;
    assert_eq!(rules.status, StatusCode::FORBIDDEN, "{}", rules.body);
}

#[tokio::test]
async fn the_provider_reads_the_rules_loaded() {
    let harness = Harness::new().await;
    let answer = harness.owner(Method::GET, "/v1/detection/rules", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["loaded"], detect::RuleSet::builtin().report().loaded);
    assert!(answer.body["loaded"].as_u64().unwrap() >= 13);
    assert_eq!(answer.body["failed"], json!([]));
}
