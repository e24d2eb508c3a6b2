//! Access reviews through the API: what a campaign snapshots (grant, granter, last use, the
//! unused flag), its scopes, decisions that change access from the next request, the named
//! reviewer, overdue campaigns, membership changes, schedules, and bad input that changes
//! nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use time::Duration;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

/// A customer organisation with an owner and two members without policies.
struct Customer {
    id: String,
    owner_id: String,
    owner: String,
    alice_id: String,
    alice: String,
    bob_id: String,
    bob: String,
}

impl Customer {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let (owner_id, owner) =
            user_key(harness, &id, &format!("owner@{lower}.example"), UserRole::Owner).await;
        let (alice_id, alice) =
            user_key(harness, &id, &format!("alice@{lower}.example"), UserRole::Member).await;
        let (bob_id, bob) =
            user_key(harness, &id, &format!("bob@{lower}.example"), UserRole::Member).await;
        Self { id, owner_id, owner, alice_id, alice, bob_id, bob }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    /// A policy of organisation-wide rules, one per list of permission sets; its id.
    async fn grant(&self, harness: &Harness, principal: Value, rules: &[&[&str]]) -> String {
        let rules: Vec<Value> = rules
            .iter()
            .map(|sets| json!({"permission_sets": sets, "scope": "organization"}))
            .collect();
        let answer = call(
            harness,
            Method::POST,
            &self.path("/policies"),
            &self.owner,
            Some(json!({"principal": principal, "rules": rules})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    async fn group(&self, harness: &Harness, name: &str) -> String {
        let answer = call(
            harness,
            Method::POST,
            &self.path("/groups"),
            &self.owner,
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    async fn add_member(&self, harness: &Harness, group: &str, user_id: &str) {
        let answer = call(
            harness,
            Method::POST,
            &self.path(&format!("/groups/{group}/members")),
            &self.owner,
            Some(json!({"member": format!("user:{user_id}")})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    }

    /// Start a campaign as the owner; its JSON.
    async fn start(&self, harness: &Harness, body: Value) -> Value {
        let answer =
            call(harness, Method::POST, &self.path("/access-reviews"), &self.owner, Some(body))
                .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    /// A campaign with its items, as the owner.
    async fn campaign(&self, harness: &Harness, id: &str) -> Value {
        let answer = call(
            harness,
            Method::GET,
            &self.path(&format!("/access-reviews/{id}")),
            &self.owner,
            None,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    async fn decide(
        &self,
        harness: &Harness,
        secret: &str,
        campaign: &str,
        item: &str,
        body: Value,
    ) -> Answer {
        call(
            harness,
            Method::POST,
            &self.path(&format!("/access-reviews/{campaign}/items/{item}/decision")),
            secret,
            Some(body),
        )
        .await
    }

    async fn status_of(&self, harness: &Harness, secret: &str, rest: &str) -> StatusCode {
        call(harness, Method::GET, &self.path(rest), secret, None).await.status
    }
}

fn user(id: &str) -> Value {
    json!({"type": "user", "id": id})
}

/// The items of a campaign about this principal, by rule index.
fn items_of<'a>(campaign: &'a Value, principal: &Value) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = campaign["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| &item["principal"] == principal)
        .collect();
    items.sort_by_key(|item| item["rule_index"].as_u64());
    items
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

const NOW: &str = "2026-03-01T09:00:00Z";

#[tokio::test]
async fn an_organization_campaign_lists_each_rule_with_its_grant_and_use() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let alice_policy =
        acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"], &["IAMReadOnly"]]).await;
    let bob_policy = acme.grant(&harness, user(&acme.bob_id), &[&["ReadOnly"]]).await;
    // Alice acts (a project), bob never does.
    harness.clock.advance(Duration::days(1));
    let made = call(
        &harness,
        Method::POST,
        &acme.path("/projects"),
        &acme.alice,
        Some(json!({"name": "web"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);

    let before = harness.n_audit_events(&acme.id).await;
    let started = acme.start(&harness, json!({"name": "Q1", "scope": "organization"})).await;
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 1);
    assert_eq!(started["status"], "open");
    assert_eq!(started["origin"], "manual");
    assert_eq!(started["scope"], "organization");
    assert_eq!(started["started_by"], acme.owner_id.as_str());
    assert_eq!(started["due_at"], "2026-03-16T09:00:00Z");
    assert_eq!(started["unused_after_days"], 90);
    assert_eq!(started["counts"]["items"], 3);
    assert_eq!(started["counts"]["pending"], 3);
    assert_eq!(started["counts"]["unused"], 1);

    let campaign = acme.campaign(&harness, &id_of(&started)).await;
    assert_eq!(campaign["items"].as_array().unwrap().len(), 3);
    let alice = items_of(&campaign, &user(&acme.alice_id));
    assert_eq!(alice.len(), 2);
    for (index, (item, sets)) in alice.iter().zip(["ProjectManager", "IAMReadOnly"]).enumerate() {
        assert_eq!(item["policy_id"], alice_policy.as_str());
        assert_eq!(item["rule_index"], index);
        assert_eq!(item["rule"], json!({"permission_sets": [sets], "scope": "organization"}));
        assert_eq!(item["granted_at"], NOW);
        assert_eq!(item["granted_by"], acme.owner_id.as_str());
        assert_eq!(item["last_activity_at"], "2026-03-02T09:00:00Z");
        assert_eq!(item["unused"], false);
        assert_eq!(item["privileged"], false);
        assert_eq!(item["state"], "pending");
        assert_eq!(item["overdue"], false);
        assert_eq!(item["decision"], Value::Null);
    }
    let bob = items_of(&campaign, &user(&acme.bob_id));
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["policy_id"], bob_policy.as_str());
    assert_eq!(bob[0]["last_activity_at"], Value::Null);
    assert_eq!(bob[0]["unused"], true);

    // After 45 days without use, a 30-day window flags alice's rules, a 60-day one does not;
    // after 90, the default window does.
    harness.clock.advance(Duration::days(45));
    let short = acme
        .start(&harness, json!({"name": "short", "scope": "organization", "unused_after_days": 30}))
        .await;
    assert_eq!(short["counts"]["unused"], 3);
    let long = acme
        .start(&harness, json!({"name": "long", "scope": "organization", "unused_after_days": 60}))
        .await;
    assert_eq!(long["counts"]["unused"], 1);
    harness.clock.advance(Duration::days(44));
    let later = acme.start(&harness, json!({"name": "Q2", "scope": "organization"})).await;
    assert_eq!(later["counts"]["unused"], 1);
    harness.clock.advance(Duration::days(1));
    let later = acme.start(&harness, json!({"name": "Q3", "scope": "organization"})).await;
    assert_eq!(later["counts"]["unused"], 3);

    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<&str> =
        listed.body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 5);
    assert!(names.contains(&"Q1") && names.contains(&"long"), "{names:?}");

    // The evidence of the start.
    let trail = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=iam.review.start"),
        &acme.owner,
        None,
    )
    .await;
    let first = trail.body["items"].as_array().unwrap().last().unwrap();
    assert_eq!(first["resource"]["id"], started["id"]);
    assert_eq!(first["privileged"], true);
    assert_eq!(first["details"]["items"], 3);
    assert_eq!(first["details"]["scope"], "organization");
}

#[tokio::test]
async fn a_privileged_campaign_holds_only_privileged_rules() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"], &["ReadOnly", "IAMManager"]])
        .await;
    // A custom action the organisation marks privileged makes its set privileged.
    let defined = call(
        &harness,
        Method::POST,
        &acme.path("/actions"),
        &acme.owner,
        Some(json!({"name": "billing:invoices:refund", "privileged": true})),
    )
    .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.body);
    let set = call(
        &harness,
        Method::PUT,
        &acme.path("/permission-sets/Refunds"),
        &acme.owner,
        Some(json!({"actions": ["billing:invoices:refund"]})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    acme.grant(&harness, user(&acme.bob_id), &[&["Refunds"], &["IAMReadOnly"]]).await;

    let started = acme.start(&harness, json!({"name": "admins", "scope": "privileged"})).await;
    assert_eq!(started["scope"], "privileged");
    let campaign = acme.campaign(&harness, &id_of(&started)).await;
    let items = campaign["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|item| item["privileged"] == true));
    let alice = items_of(&campaign, &user(&acme.alice_id));
    assert_eq!(alice[0]["rule_index"], 1);
    assert_eq!(alice[0]["rule"]["permission_sets"], json!(["ReadOnly", "IAMManager"]));
    let bob = items_of(&campaign, &user(&acme.bob_id));
    assert_eq!(bob[0]["rule"]["permission_sets"], json!(["Refunds"]));

    // The whole organisation has the four rules, marked.
    let all = acme.start(&harness, json!({"name": "all", "scope": "organization"})).await;
    let campaign = acme.campaign(&harness, &id_of(&all)).await;
    let privileged: Vec<bool> = items_of(&campaign, &user(&acme.alice_id))
        .iter()
        .map(|item| item["privileged"].as_bool().unwrap())
        .collect();
    assert_eq!(privileged, [false, true]);
}

#[tokio::test]
async fn a_group_campaign_covers_the_group_and_its_members() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let ops = acme.group(&harness, "ops").await;
    let other = acme.group(&harness, "other").await;
    acme.add_member(&harness, &ops, &acme.alice_id).await;
    acme.grant(&harness, json!({"type": "group", "id": ops}), &[&["ProjectManager"]]).await;
    acme.grant(&harness, json!({"type": "group", "id": other}), &[&["ReadOnly"]]).await;
    acme.grant(&harness, user(&acme.alice_id), &[&["IAMReadOnly"]]).await;
    acme.grant(&harness, user(&acme.bob_id), &[&["IAMReadOnly"]]).await;
    harness.clock.advance(Duration::hours(5));
    let made = call(
        &harness,
        Method::POST,
        &acme.path("/projects"),
        &acme.alice,
        Some(json!({"name": "ops-tools"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);

    let started =
        acme.start(&harness, json!({"name": "ops", "scope": {"group": ops.clone()}})).await;
    assert_eq!(started["scope"], json!({"group": ops.clone()}));
    let campaign = acme.campaign(&harness, &id_of(&started)).await;
    assert_eq!(campaign["items"].as_array().unwrap().len(), 2, "{}", campaign["items"]);
    let group_items = items_of(&campaign, &json!({"type": "group", "id": ops}));
    assert_eq!(group_items.len(), 1);
    // A group was last used when its newest member acted.
    assert_eq!(group_items[0]["last_activity_at"], "2026-03-01T14:00:00Z");
    assert_eq!(group_items[0]["unused"], false);
    assert_eq!(items_of(&campaign, &user(&acme.alice_id)).len(), 1);
    assert!(items_of(&campaign, &user(&acme.bob_id)).is_empty());

    // A group without members was never used.
    let started = acme.start(&harness, json!({"name": "other", "scope": {"group": other}})).await;
    assert_eq!(started["counts"]["items"], 1);
    assert_eq!(started["counts"]["unused"], 1);
}

#[tokio::test]
async fn revoking_cuts_access_on_the_next_request() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let policy =
        acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"], &["IAMReadOnly"]]).await;
    let started = acme.start(&harness, json!({"name": "Q1", "scope": "organization"})).await;
    let campaign_id = id_of(&started);
    let campaign = acme.campaign(&harness, &campaign_id).await;
    let items = items_of(&campaign, &user(&acme.alice_id));
    let (projects_item, users_item) = (id_of(items[0]), id_of(items[1]));
    assert_eq!(acme.status_of(&harness, &acme.alice, "/projects").await, StatusCode::OK);

    let before = harness.n_audit_events(&acme.id).await;
    let revoked = acme
        .decide(
            &harness,
            &acme.owner,
            &campaign_id,
            &projects_item,
            json!({"decision": "revoke", "justification": "left the web team"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["state"], "revoked");
    assert_eq!(revoked.body["decision"]["decision"], "revoke");
    assert_eq!(revoked.body["decision"]["justification"], "left the web team");
    assert_eq!(revoked.body["decision"]["decided_by"], acme.owner_id.as_str());
    // The decision and the policy change, both recorded.
    assert_eq!(harness.n_audit_events(&acme.id).await, before + 2);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/projects").await, StatusCode::FORBIDDEN);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/users").await, StatusCode::OK);
    let view = call(&harness, Method::GET, &acme.path("/authorization"), &acme.owner, None).await;
    assert_eq!(
        view.body["policies"][0]["rules"],
        json!([{"permission_sets": ["IAMReadOnly"], "scope": "organization"}])
    );

    // The other rule moved up in its policy: its item is still the same rule, and revoking
    // the last rule deletes the policy. The campaign closes with its last decision.
    let revoked = acme
        .decide(
            &harness,
            &acme.owner,
            &campaign_id,
            &users_item,
            json!({"decision": "revoke", "justification": "no longer administers users"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/users").await, StatusCode::FORBIDDEN);
    let view = call(&harness, Method::GET, &acme.path("/authorization"), &acme.owner, None).await;
    assert_eq!(view.body["policies"], json!([]), "policy {policy} should be gone");
    let campaign = acme.campaign(&harness, &campaign_id).await;
    assert_eq!(campaign["status"], "closed");
    assert_eq!(campaign["closed_by"], acme.owner_id.as_str());
    assert_eq!(campaign["counts"]["revoked"], 2);
    assert_eq!(campaign["counts"]["pending"], 0);

    // Evidence: who decided what, when, why.
    let trail = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=iam.review."),
        &acme.owner,
        None,
    )
    .await;
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["iam.review.close", "iam.review.decide", "iam.review.decide", "iam.review.start"]
    );
    let decided = &trail.body["items"][1];
    assert_eq!(decided["actor"]["id"], acme.owner_id.as_str());
    assert_eq!(decided["resource"]["id"], users_item.as_str());
    assert_eq!(decided["details"]["decision"], "revoke");
    assert_eq!(decided["details"]["justification"], "no longer administers users");
    assert_eq!(decided["details"]["principal"], format!("user:{}", acme.alice_id));
    assert_eq!(decided["details"]["policy"], policy.as_str());
    assert_eq!(decided["details"]["rule_index"], 0);
    let deleted = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=iam.policy.delete"),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(deleted.body["items"][0]["resource"]["id"], policy.as_str());
    assert_eq!(deleted.body["items"][0]["details"]["access_review_item"], users_item.as_str());
}

#[tokio::test]
async fn reducing_narrows_access_and_keeping_leaves_it() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager", "IAMReadOnly"]]).await;
    acme.grant(&harness, user(&acme.bob_id), &[&["ProjectManager"]]).await;
    let started = acme.start(&harness, json!({"name": "Q1", "scope": "organization"})).await;
    let campaign_id = id_of(&started);
    let campaign = acme.campaign(&harness, &campaign_id).await;
    let alice_item = id_of(items_of(&campaign, &user(&acme.alice_id))[0]);
    let bob_item = id_of(items_of(&campaign, &user(&acme.bob_id))[0]);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/projects").await, StatusCode::OK);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/users").await, StatusCode::OK);

    let reduced = acme
        .decide(
            &harness,
            &acme.owner,
            &campaign_id,
            &alice_item,
            json!({
                "decision": "reduce",
                "justification": "reads users only",
                "permission_sets": ["IAMReadOnly"],
            }),
        )
        .await;
    assert_eq!(reduced.status, StatusCode::OK, "{}", reduced.body);
    assert_eq!(reduced.body["state"], "reduced");
    assert_eq!(reduced.body["decision"]["permission_sets"], json!(["IAMReadOnly"]));
    assert_eq!(acme.status_of(&harness, &acme.alice, "/projects").await, StatusCode::FORBIDDEN);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/users").await, StatusCode::OK);

    let kept = acme
        .decide(
            &harness,
            &acme.owner,
            &campaign_id,
            &bob_item,
            json!({"decision": "keep", "justification": "runs the releases"}),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(kept.body["state"], "kept");
    assert_eq!(acme.status_of(&harness, &acme.bob, "/projects").await, StatusCode::OK);

    let campaign = acme.campaign(&harness, &campaign_id).await;
    assert_eq!(campaign["status"], "closed");
    assert_eq!(campaign["counts"]["kept"], 1);
    assert_eq!(campaign["counts"]["reduced"], 1);
    assert_eq!(campaign["counts"]["decided"], 2);

    // Deciding twice is a conflict and changes nothing.
    let before = harness.n_audit_events(&acme.id).await;
    let again = acme
        .decide(
            &harness,
            &acme.owner,
            &campaign_id,
            &bob_item,
            json!({"decision": "revoke", "justification": "changed my mind"}),
        )
        .await;
    again.assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
    assert_eq!(acme.status_of(&harness, &acme.bob, "/projects").await, StatusCode::OK);
}

#[tokio::test]
async fn a_named_reviewer_decides_only_in_their_campaign() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let (carol_id, carol) =
        user_key(&harness, &acme.id, "carol@acme.example", UserRole::Member).await;
    acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"]]).await;
    acme.grant(&harness, user(&carol_id), &[&["ProjectManager"]]).await;
    let named = acme
        .start(&harness, json!({"name": "by carol", "scope": "organization", "reviewer": carol_id}))
        .await;
    assert_eq!(named["reviewer"], carol_id.as_str());
    let unnamed = acme.start(&harness, json!({"name": "by owners", "scope": "organization"})).await;
    let (named_id, unnamed_id) = (id_of(&named), id_of(&unnamed));
    let named_campaign = acme.campaign(&harness, &named_id).await;
    let unnamed_campaign = acme.campaign(&harness, &unnamed_id).await;
    let alice_in_named = id_of(items_of(&named_campaign, &user(&acme.alice_id))[0]);
    let carol_in_named = id_of(items_of(&named_campaign, &user(&carol_id))[0]);
    let alice_in_unnamed = id_of(items_of(&unnamed_campaign, &user(&acme.alice_id))[0]);

    // Carol holds no review action: she reads and decides her campaign only.
    let path = acme.path(&format!("/access-reviews/{named_id}"));
    let seen = call(&harness, Method::GET, &path, &carol, None).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    call(&harness, Method::GET, &acme.path(&format!("/access-reviews/{unnamed_id}")), &carol, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    call(&harness, Method::GET, &acme.path("/access-reviews"), &carol, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let decision = json!({"decision": "keep", "justification": "maintains the site"});
    acme.decide(&harness, &carol, &unnamed_id, &alice_in_unnamed, decision.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // An item of her campaign under another campaign's path is not found.
    acme.decide(&harness, &acme.owner, &unnamed_id, &alice_in_named, decision.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Nobody reviews their own access.
    acme.decide(&harness, &carol, &named_id, &carol_in_named, decision.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let decided = acme.decide(&harness, &carol, &named_id, &alice_in_named, decision).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    assert_eq!(decided.body["decision"]["decided_by"], carol_id.as_str());
    let trail = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=iam.review.decide"),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(trail.body["items"][0]["details"]["as"], "named_reviewer");
    assert_eq!(trail.body["items"][0]["actor"]["id"], carol_id.as_str());

    // The owner decides in any campaign, holding iam:reviews:write.
    let decided = acme
        .decide(
            &harness,
            &acme.owner,
            &named_id,
            &carol_in_named,
            json!({"decision": "keep", "justification": "maintains the site"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);

    // A closed campaign takes no more decisions, even from its reviewer.
    let closed = call(
        &harness,
        Method::POST,
        &acme.path(&format!("/access-reviews/{named_id}/close")),
        &carol,
        None,
    )
    .await;
    closed.assert_problem(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn overdue_campaigns_and_items_are_flagged() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"]]).await;
    acme.grant(&harness, user(&acme.bob_id), &[&["ProjectManager"]]).await;
    let soon = acme
        .start(&harness, json!({"name": "soon", "scope": "organization", "due_in_days": 3}))
        .await;
    let later = acme.start(&harness, json!({"name": "later", "scope": "organization"})).await;
    assert_eq!(soon["due_at"], "2026-03-04T09:00:00Z");
    let soon_id = id_of(&soon);
    let campaign = acme.campaign(&harness, &soon_id).await;
    let alice_item = id_of(items_of(&campaign, &user(&acme.alice_id))[0]);
    let decided = acme
        .decide(
            &harness,
            &acme.owner,
            &soon_id,
            &alice_item,
            json!({"decision": "keep", "justification": "needed"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let overdue_list = acme.path("/access-reviews?overdue=true");
    let listed = call(&harness, Method::GET, &overdue_list, &acme.owner, None).await;
    assert_eq!(listed.body, json!([]));

    harness.clock.advance(Duration::days(4));
    let listed = call(&harness, Method::GET, &overdue_list, &acme.owner, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let overdue = listed.body.as_array().unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], soon_id.as_str());
    assert_eq!(overdue[0]["overdue"], true);
    assert_eq!(overdue[0]["counts"]["pending"], 1);
    let campaign = acme.campaign(&harness, &soon_id).await;
    assert_eq!(campaign["overdue"], true);
    assert_eq!(items_of(&campaign, &user(&acme.alice_id))[0]["overdue"], false);
    assert_eq!(items_of(&campaign, &user(&acme.bob_id))[0]["overdue"], true);
    let all = call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    let later_listed = all.body.as_array().unwrap().iter().find(|c| c["id"] == later["id"]);
    assert_eq!(later_listed.unwrap()["overdue"], false);

    // Closing ends the overdue state; the close is recorded with what was left.
    let closed = call(
        &harness,
        Method::POST,
        &acme.path(&format!("/access-reviews/{soon_id}/close")),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["overdue"], false);
    let listed = call(&harness, Method::GET, &overdue_list, &acme.owner, None).await;
    assert_eq!(listed.body, json!([]));
    let trail = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=iam.review.close"),
        &acme.owner,
        None,
    )
    .await;
    let close = &trail.body["items"][0]["details"];
    assert_eq!(close["undecided"], 1);
    assert_eq!(close["kept"], 1);
    assert_eq!(close["overdue"], true);
}

#[tokio::test]
async fn a_group_membership_change_puts_the_member_up_for_review() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let policy = acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"]]).await;
    let ops = acme.group(&harness, "ops").await;
    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    assert_eq!(listed.body, json!([]));

    acme.add_member(&harness, &ops, &acme.alice_id).await;
    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    let campaigns = listed.body.as_array().unwrap();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    assert_eq!(campaigns[0]["origin"], "movers");
    assert_eq!(campaigns[0]["scope"], "organization");
    assert_eq!(campaigns[0]["due_at"], "2026-03-15T09:00:00Z");
    assert_eq!(campaigns[0]["counts"]["items"], 1);
    let movers_id = id_of(&campaigns[0]);
    let campaign = acme.campaign(&harness, &movers_id).await;
    let item = items_of(&campaign, &user(&acme.alice_id))[0];
    assert_eq!(item["policy_id"], policy.as_str());
    assert_eq!(item["reason"], format!("added to group {ops}"));
    let trail = call(
        &harness,
        Method::GET,
        &acme.path("/audit/events?action=group.member.add"),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(trail.body["items"][0]["details"]["access_review"], movers_id.as_str());
    assert_eq!(trail.body["items"][0]["details"]["review_items"], 1);

    // Moving back while the item is pending asks nothing new; bob holds nothing himself.
    let removed = call(
        &harness,
        Method::DELETE,
        &acme.path(&format!("/groups/{ops}/members/user:{}", acme.alice_id)),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    acme.add_member(&harness, &ops, &acme.bob_id).await;
    assert_eq!(acme.campaign(&harness, &movers_id).await["counts"]["items"], 1);

    // Once decided (the campaign closes), the next move opens a new movers campaign.
    let decided = acme
        .decide(
            &harness,
            &acme.owner,
            &movers_id,
            &id_of(item),
            json!({"decision": "keep", "justification": "same job"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    acme.add_member(&harness, &ops, &acme.alice_id).await;
    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    let campaigns = listed.body.as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
    assert_eq!(campaigns.iter().filter(|c| c["status"] == "open").count(), 1);
}

#[tokio::test]
async fn a_schedule_starts_a_campaign_when_due() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    acme.grant(&harness, user(&acme.alice_id), &[&["IAMManager"], &["ProjectManager"]]).await;
    let schedules = acme.path("/access-review-schedules");
    let put = call(
        &harness,
        Method::PUT,
        &format!("{schedules}/privileged"),
        &acme.owner,
        Some(json!({"cadence_days": 90})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["scope"], "privileged");
    assert_eq!(put.body["due_in_days"], 14);
    assert_eq!(put.body["next_start_at"], NOW);
    let put = call(
        &harness,
        Method::PUT,
        &format!("{schedules}/organization"),
        &acme.owner,
        Some(json!({"cadence_days": 365, "due_in_days": 30})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);

    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 2);
    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 0);
    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    let campaigns = listed.body.as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
    assert!(campaigns.iter().all(|c| c["origin"] == "schedule" && c["started_by"].is_null()));
    let privileged = campaigns.iter().find(|c| c["scope"] == "privileged").unwrap();
    assert_eq!(privileged["counts"]["items"], 1);
    assert_eq!(privileged["due_at"], "2026-03-15T09:00:00Z");
    let organization = campaigns.iter().find(|c| c["scope"] == "organization").unwrap();
    assert_eq!(organization["counts"]["items"], 2);
    assert_eq!(organization["due_at"], "2026-03-31T09:00:00Z");

    let listed = call(&harness, Method::GET, &schedules, &acme.owner, None).await;
    let privileged = listed.body.as_array().unwrap().iter().find(|s| s["scope"] == "privileged");
    assert_eq!(privileged.unwrap()["last_started_at"], NOW);
    assert_eq!(privileged.unwrap()["next_start_at"], "2026-05-30T09:00:00Z");

    // A quarter later, the privileged review starts again; the yearly one waits.
    harness.clock.advance(Duration::days(89));
    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 0);
    harness.clock.advance(Duration::days(1));
    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 1);
    let listed =
        call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.owner, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    assert_eq!(listed.body[0]["scope"], "privileged");

    // Deleted, it starts nothing more.
    let deleted =
        call(&harness, Method::DELETE, &format!("{schedules}/privileged"), &acme.owner, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    harness.clock.advance(Duration::days(200));
    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 0);
    harness.clock.advance(Duration::days(80));
    assert_eq!(harness.app.start_due_reviews().await.unwrap(), 1);

    // The summary a compliance report reads.
    let principal = harness.app.authenticate_api_key(&acme.owner, None).await.unwrap();
    let summary = harness
        .app
        .access_review_summary(&principal, acme.id.parse().unwrap(), &Default::default())
        .await
        .unwrap();
    assert_eq!(summary.campaigns.len(), 4);
    assert_eq!(summary.totals.n_items, 6);
    assert_eq!(summary.n_overdue, 3);
    assert_eq!(summary.schedules.len(), 1);
}

#[tokio::test]
async fn staff_reviews_exist_only_in_the_provider_organization() {
    let harness = Harness::new().await;
    let provider = &harness.provider_id;
    let (staff_id, _) =
        user_key(&harness, provider, "ops@provider.example", UserRole::Member).await;
    let granted = harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{provider}/policies"),
            Some(json!({
                "principal": user(&staff_id),
                "rules": [{"permission_sets": ["SecurityAnalyst"], "scope": "organization"}],
            })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let started = harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{provider}/access-reviews"),
            Some(json!({"name": "staff", "scope": "staff"})),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.body["counts"]["items"], 1);
    let put = harness
        .owner(
            Method::PUT,
            &format!("/v1/organizations/{provider}/access-review-schedules/staff"),
            Some(json!({"cadence_days": 180})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);

    let acme = Customer::new(&harness, "Acme").await;
    let before = harness.n_audit_events(&acme.id).await;
    call(
        &harness,
        Method::POST,
        &acme.path("/access-reviews"),
        &acme.owner,
        Some(json!({"name": "staff", "scope": "staff"})),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    call(
        &harness,
        Method::PUT,
        &acme.path("/access-review-schedules/staff"),
        &acme.owner,
        Some(json!({"cadence_days": 180})),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
}

#[tokio::test]
async fn a_stale_item_cannot_be_decided() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let policy = acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager"]]).await;
    let started = acme.start(&harness, json!({"name": "Q1", "scope": "organization"})).await;
    let campaign_id = id_of(&started);
    let campaign = acme.campaign(&harness, &campaign_id).await;
    let item = id_of(items_of(&campaign, &user(&acme.alice_id))[0]);
    let replaced = call(
        &harness,
        Method::PUT,
        &acme.path(&format!("/policies/{policy}")),
        &acme.owner,
        Some(json!({"rules": [{"permission_sets": ["IAMReadOnly"], "scope": "organization"}]})),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let campaign = acme.campaign(&harness, &campaign_id).await;
    assert_eq!(items_of(&campaign, &user(&acme.alice_id))[0]["state"], "stale");

    let before = harness.n_audit_events(&acme.id).await;
    for decision in [
        json!({"decision": "keep", "justification": "x"}),
        json!({"decision": "revoke", "justification": "x"}),
    ] {
        let answer = acme.decide(&harness, &acme.owner, &campaign_id, &item, decision).await;
        answer.assert_problem(StatusCode::CONFLICT, "conflict");
        assert!(answer.body["detail"].as_str().unwrap().contains("refresh"), "{}", answer.body);
    }
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
    assert_eq!(acme.status_of(&harness, &acme.alice, "/users").await, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    let beta = Customer::new(&harness, "Beta").await;
    acme.grant(&harness, user(&acme.alice_id), &[&["ProjectManager", "IAMReadOnly"]]).await;
    beta.grant(&harness, user(&beta.alice_id), &[&["ProjectManager"]]).await;
    let first = acme.start(&harness, json!({"name": "first", "scope": "organization"})).await;
    let second = acme.start(&harness, json!({"name": "second", "scope": "organization"})).await;
    let beta_campaign =
        beta.start(&harness, json!({"name": "beta", "scope": "organization"})).await;
    let (first_id, second_id) = (id_of(&first), id_of(&second));
    let first_campaign = acme.campaign(&harness, &first_id).await;
    let item = id_of(items_of(&first_campaign, &user(&acme.alice_id))[0]);
    let suspended = call(
        &harness,
        Method::POST,
        &acme.path(&format!("/users/{}/suspend", acme.bob_id)),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(suspended.status, StatusCode::NO_CONTENT, "{}", suspended.body);

    let before = harness.n_audit_events(&acme.id).await;
    let before_beta = harness.n_audit_events(&beta.id).await;
    let starts = acme.path("/access-reviews");
    let bad_starts = [
        (json!({"name": "x", "scope": "everything"}), StatusCode::BAD_REQUEST),
        (json!({"name": "x", "scope": {"group": "not-a-uuid"}}), StatusCode::BAD_REQUEST),
        (json!({"name": "x", "scope": {"project": uuid::Uuid::nil()}}), StatusCode::BAD_REQUEST),
        (json!({"name": "x", "scope": 3}), StatusCode::BAD_REQUEST),
        (json!({"name": "x"}), StatusCode::BAD_REQUEST),
        (json!({"name": "x", "scope": {"group": uuid::Uuid::nil()}}), StatusCode::NOT_FOUND),
        (json!({"name": "", "scope": "organization"}), StatusCode::BAD_REQUEST),
        (json!({"scope": "organization"}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "x", "scope": "organization", "reviewer": uuid::Uuid::nil()}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "scope": "organization", "reviewer": beta.alice_id}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "scope": "organization", "reviewer": acme.bob_id}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "scope": "organization", "reviewer": "carol"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"name": "x", "scope": "organization", "due_in_days": 0}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "x", "scope": "organization", "due_in_days": 366}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"name": "x", "scope": "organization", "due_in_days": -3}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "x", "scope": "organization", "unused_after_days": 0}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "scope": "organization", "unused_after_days": 3651}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in bad_starts {
        let answer = call(&harness, Method::POST, &starts, &acme.owner, Some(body.clone())).await;
        let code = if status == StatusCode::NOT_FOUND { "not_found" } else { "invalid_input" };
        answer.assert_problem(status, code);
        assert!(answer.status != StatusCode::CREATED, "{body}");
    }
    call(
        &harness,
        Method::POST,
        &starts,
        &acme.owner,
        Some(json!({"name": "x", "scope": "organization", "extra": 1})),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    let bad_decisions = [
        json!({"decision": "maybe", "justification": "x"}),
        json!({"decision": "keep"}),
        json!({"decision": "keep", "justification": "   "}),
        json!({"decision": "keep", "justification": "x".repeat(1001)}),
        json!({"justification": "x"}),
        json!({"decision": "keep", "justification": "x", "permission_sets": ["IAMReadOnly"]}),
        json!({"decision": "reduce", "justification": "x"}),
        json!({"decision": "reduce", "justification": "x", "permission_sets": []}),
        json!({"decision": "reduce", "justification": "x", "permission_sets": ["IAMManager"]}),
        json!({
            "decision": "reduce",
            "justification": "x",
            "permission_sets": ["ProjectManager", "IAMReadOnly"],
        }),
        json!({
            "decision": "reduce",
            "justification": "x",
            "permission_sets": ["IAMReadOnly", "IAMReadOnly"],
        }),
    ];
    for body in bad_decisions {
        let answer = acme.decide(&harness, &acme.owner, &first_id, &item, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}: {}", answer.body);
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    let keep = json!({"decision": "keep", "justification": "needed"});
    // The item under another campaign, another organisation, or ids that do not exist.
    acme.decide(&harness, &acme.owner, &second_id, &item, keep.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    beta.decide(&harness, &beta.owner, &first_id, &item, keep.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    acme.decide(&harness, &acme.owner, &id_of(&beta_campaign), &item, keep.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let nil = uuid::Uuid::nil().to_string();
    acme.decide(&harness, &acme.owner, &first_id, &nil, keep.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    acme.decide(&harness, &acme.owner, "not-a-uuid", &item, keep.clone())
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    call(&harness, Method::GET, &acme.path(&format!("/access-reviews/{nil}")), &acme.owner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    call(
        &harness,
        Method::POST,
        &acme.path(&format!("/access-reviews/{nil}/close")),
        &acme.owner,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    call(&harness, Method::GET, &acme.path("/access-reviews?overdue=perhaps"), &acme.owner, None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    let schedules = acme.path("/access-review-schedules");
    let bad_schedules = [
        ("group", json!({"cadence_days": 90}), StatusCode::BAD_REQUEST),
        ("weekly", json!({"cadence_days": 90}), StatusCode::BAD_REQUEST),
        ("privileged", json!({}), StatusCode::BAD_REQUEST),
        ("privileged", json!({"cadence_days": 0}), StatusCode::BAD_REQUEST),
        ("privileged", json!({"cadence_days": 3651}), StatusCode::BAD_REQUEST),
        ("privileged", json!({"cadence_days": 90, "due_in_days": 0}), StatusCode::BAD_REQUEST),
        ("privileged", json!({"cadence_days": 90, "due_in_days": 400}), StatusCode::BAD_REQUEST),
    ];
    for (scope, body, status) in bad_schedules {
        let uri = format!("{schedules}/{scope}");
        call(&harness, Method::PUT, &uri, &acme.owner, Some(body))
            .await
            .assert_problem(status, "invalid_input");
    }
    call(&harness, Method::DELETE, &format!("{schedules}/privileged"), &acme.owner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let listed = call(&harness, Method::GET, &schedules, &acme.owner, None).await;
    assert_eq!(listed.body, json!([]));

    assert_eq!(harness.n_audit_events(&acme.id).await, before);
    assert_eq!(harness.n_audit_events(&beta.id).await, before_beta);
    let listed = call(&harness, Method::GET, &starts, &acme.owner, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    let campaign = acme.campaign(&harness, &first_id).await;
    assert_eq!(campaign["counts"]["decided"], 0);

    // Closing twice: the second is a conflict that records nothing.
    let close = acme.path(&format!("/access-reviews/{first_id}/close"));
    let closed = call(&harness, Method::POST, &close, &acme.owner, None).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let before = harness.n_audit_events(&acme.id).await;
    call(&harness, Method::POST, &close, &acme.owner, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    acme.decide(&harness, &acme.owner, &first_id, &item, keep)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(harness.n_audit_events(&acme.id).await, before);
}

#[tokio::test]
async fn members_without_the_review_actions_are_refused() {
    let harness = Harness::new().await;
    let acme = Customer::new(&harness, "Acme").await;
    acme.grant(&harness, user(&acme.bob_id), &[&["IAMReadOnly"]]).await;
    let started = acme.start(&harness, json!({"name": "Q1", "scope": "organization"})).await;
    let campaign_id = id_of(&started);
    let campaign = acme.campaign(&harness, &campaign_id).await;
    let item = id_of(items_of(&campaign, &user(&acme.bob_id))[0]);

    // Alice holds nothing; bob reads reviews but may not change them.
    let decision = json!({"decision": "revoke", "justification": "x"});
    for secret in [&acme.alice, &acme.bob] {
        call(
            &harness,
            Method::POST,
            &acme.path("/access-reviews"),
            secret,
            Some(json!({"name": "x", "scope": "organization"})),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        acme.decide(&harness, secret, &campaign_id, &item, decision.clone())
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        call(
            &harness,
            Method::PUT,
            &acme.path("/access-review-schedules/organization"),
            secret,
            Some(json!({"cadence_days": 365})),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    call(&harness, Method::GET, &acme.path("/access-reviews"), &acme.alice, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(acme.status_of(&harness, &acme.bob, "/access-reviews").await, StatusCode::OK);
    assert_eq!(
        acme.status_of(&harness, &acme.bob, &format!("/access-reviews/{campaign_id}")).await,
        StatusCode::OK
    );
    assert_eq!(
        acme.status_of(&harness, &acme.bob, "/access-review-schedules").await,
        StatusCode::OK
    );
}
