//! Authorisation through the policy engine: deny by default, policies on users, groups and
//! applications, organisation and project scopes, conditions, raw Cedar `forbid`, the owner's
//! built-in policy, the check API and its queries, and every endpoint refusing a principal
//! without its action.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use store::UserRole;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

/// A customer organisation with an owner and a member (no policy); returns
/// (organisation id, owner secret, member id, member secret).
async fn customer(harness: &Harness, name: &str) -> (String, String, String, String) {
    let org = create_customer(harness, name).await;
    let lower = name.to_lowercase();
    let (_, owner) =
        user_key(harness, &org, &format!("owner@{lower}.example"), UserRole::Owner).await;
    let (member_id, member) =
        user_key(harness, &org, &format!("member@{lower}.example"), UserRole::Member).await;
    (org, owner, member_id, member)
}

async fn grant(
    harness: &Harness,
    org: &str,
    owner: &str,
    principal: Value,
    rules: Value,
) -> String {
    let answer = call(
        harness,
        Method::POST,
        &format!("/v1/organizations/{org}/policies"),
        owner,
        Some(json!({"principal": principal, "rules": rules})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

fn org_wide(sets: &[&str]) -> Value {
    json!([{"permission_sets": sets, "scope": "organization"}])
}

#[tokio::test]
async fn a_member_holds_nothing_until_a_policy_grants_it_and_loses_it_when_deleted() {
    let harness = Harness::new().await;
    let (org, owner, member_id, member) = customer(&harness, "Acme").await;
    let projects = format!("/v1/organizations/{org}/projects");

    call(&harness, Method::GET, &projects, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // The refusal is evidence, under the action's catalogue name.
    let trail = call(
        &harness,
        Method::GET,
        &format!("/v1/organizations/{org}/audit/events?outcome=denied"),
        &owner,
        None,
    )
    .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    assert_eq!(trail.body["items"][0]["action"], "projects:projects:read");
    assert_eq!(trail.body["items"][0]["actor"]["id"], member_id.as_str());

    let policy = grant(
        &harness,
        &org,
        &owner,
        json!({"type": "user", "id": member_id}),
        org_wide(&["ProjectManager"]),
    )
    .await;
    assert_eq!(call(&harness, Method::GET, &projects, &member, None).await.status, StatusCode::OK);
    let made = call(&harness, Method::POST, &projects, &member, Some(json!({"name": "web"}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    // ProjectManager does not reach IAM.
    call(&harness, Method::GET, &format!("/v1/organizations/{org}/users"), &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let deleted = call(
        &harness,
        Method::DELETE,
        &format!("/v1/organizations/{org}/policies/{policy}"),
        &owner,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    call(&harness, Method::GET, &projects, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_policy_on_a_group_reaches_its_members_while_they_are_members() {
    let harness = Harness::new().await;
    let (org, owner, member_id, member) = customer(&harness, "Acme").await;
    let group = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{org}/groups"),
        &owner,
        Some(json!({"name": "auditors"})),
    )
    .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    grant(
        &harness,
        &org,
        &owner,
        json!({"type": "group", "id": group_id}),
        org_wide(&["IAMReadOnly"]),
    )
    .await;
    let users = format!("/v1/organizations/{org}/users");
    call(&harness, Method::GET, &users, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let members = format!("/v1/organizations/{org}/groups/{group_id}/members");
    let added = call(
        &harness,
        Method::POST,
        &members,
        &owner,
        Some(json!({"member": format!("user:{member_id}")})),
    )
    .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    assert_eq!(call(&harness, Method::GET, &users, &member, None).await.status, StatusCode::OK);

    let removed =
        call(&harness, Method::DELETE, &format!("{members}/user:{member_id}"), &owner, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    call(&harness, Method::GET, &users, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn an_application_acts_by_its_policy() {
    let harness = Harness::new().await;
    let (org, owner, _, _) = customer(&harness, "Acme").await;
    let base = format!("/v1/organizations/{org}");
    let app = call(
        &harness,
        Method::POST,
        &format!("{base}/applications"),
        &owner,
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(app.status, StatusCode::CREATED, "{}", app.body);
    let app_id = app.body["id"].as_str().unwrap().to_owned();
    let key = call(
        &harness,
        Method::POST,
        &format!("{base}/applications/{app_id}/api-keys"),
        &owner,
        Some(json!({"description": "deploys"})),
    )
    .await;
    let secret = key.body["secret"].as_str().unwrap().to_owned();
    call(&harness, Method::GET, &format!("{base}/projects"), &secret, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    grant(
        &harness,
        &org,
        &owner,
        json!({"type": "application", "id": app_id}),
        org_wide(&["ProjectManager"]),
    )
    .await;
    let made = call(
        &harness,
        Method::POST,
        &format!("{base}/projects"),
        &secret,
        Some(json!({"name": "api"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
}

#[tokio::test]
async fn a_project_scoped_rule_grants_that_project_only() {
    let harness = Harness::new().await;
    let (org, owner, member_id, member) = customer(&harness, "Acme").await;
    let projects = format!("/v1/organizations/{org}/projects");
    let mut ids = Vec::new();
    for name in ["alpha", "beta"] {
        let made =
            call(&harness, Method::POST, &projects, &owner, Some(json!({"name": name}))).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        ids.push(made.body["id"].as_str().unwrap().to_owned());
    }
    grant(
        &harness,
        &org,
        &owner,
        json!({"type": "user", "id": member_id}),
        json!([{"permission_sets": ["ProjectManager"], "scope": {"projects": [ids[0]]}}]),
    )
    .await;
    assert_eq!(
        call(&harness, Method::GET, &format!("{projects}/{}", ids[0]), &member, None).await.status,
        StatusCode::OK
    );
    let renamed = call(
        &harness,
        Method::PATCH,
        &format!("{projects}/{}", ids[0]),
        &member,
        Some(json!({"name": "alpha-2"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    call(&harness, Method::GET, &format!("{projects}/{}", ids[1]), &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Listing and creating are organisation-level actions.
    call(&harness, Method::GET, &projects, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    call(&harness, Method::POST, &projects, &member, Some(json!({"name": "gamma"})))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // A project was deleted from under a rule: refused until the rule changes.
    let deleted =
        call(&harness, Method::DELETE, &format!("{projects}/{}", ids[0]), &owner, None).await;
    deleted.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn a_raw_forbid_overrides_a_permit_and_bad_cedar_is_refused_with_the_validator_message() {
    let harness = Harness::new().await;
    let (org, owner, member_id, member) = customer(&harness, "Acme").await;
    grant(
        &harness,
        &org,
        &owner,
        json!({"type": "user", "id": member_id}),
        org_wide(&["ProjectManager"]),
    )
    .await;
    let projects = format!("/v1/organizations/{org}/projects");
    let made =
        call(&harness, Method::POST, &projects, &member, Some(json!({"name": "keep"}))).await;
    let project = made.body["id"].as_str().unwrap().to_owned();

    let cedar = format!("/v1/organizations/{org}/cedar-policies");
    let text = format!(
        "forbid(principal == Rampart::User::\"{member_id}\", \
         action == Rampart::Action::\"projects:projects:delete\", resource);"
    );
    let created = call(&harness, Method::POST, &cedar, &owner, Some(json!({"text": text}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let refused =
        call(&harness, Method::DELETE, &format!("{projects}/{project}"), &member, None).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(call(&harness, Method::GET, &projects, &member, None).await.status, StatusCode::OK);

    let before = harness.n_audit_events(&org).await;
    for (text, needle) in [
        ("permit(principal, action, resource) when { context.nope };", "nope"),
        (
            "permit(principal, action == Rampart::Action::\"no:such:action\", resource);",
            "no:such:action",
        ),
        ("this is not cedar", "parse"),
    ] {
        let answer =
            call(&harness, Method::POST, &cedar, &owner, Some(json!({"text": text}))).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        let detail = answer.body["detail"].as_str().unwrap_or_default().to_lowercase();
        assert!(detail.contains(needle), "{text}: {detail}");
    }
    assert_eq!(harness.n_audit_events(&org).await, before, "nothing stored");
}

#[tokio::test]
async fn owners_hold_everything_by_a_built_in_policy_and_cannot_lock_themselves_out() {
    let harness = Harness::new().await;
    let (org, owner, _, _) = customer(&harness, "Acme").await;
    let owner_id = {
        let users =
            call(&harness, Method::GET, &format!("/v1/organizations/{org}/users"), &owner, None)
                .await;
        users.body["items"].as_array().unwrap().iter().find(|user| user["role"] == "owner").unwrap()
            ["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let effective = call(
        &harness,
        Method::GET,
        &format!("/v1/principals/{owner_id}/effective-permissions"),
        &owner,
        None,
    )
    .await;
    assert_eq!(effective.status, StatusCode::OK, "{}", effective.body);
    let grants = effective.body["grants"].as_array().unwrap();
    assert!(grants.iter().any(|grant| grant["policy"] == "builtin:owner"), "{}", effective.body);

    // A forbid that would take IAM from every owner is refused, nothing stored.
    let before = harness.n_audit_events(&org).await;
    let text = "forbid(principal, action == Rampart::Action::\"iam:policies:write\", resource);";
    call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{org}/cedar-policies"),
        &owner,
        Some(json!({"text": text})),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&org).await, before);
}

#[tokio::test]
async fn bad_policies_are_refused_with_a_clear_message_and_nothing_stored() {
    let harness = Harness::new().await;
    let (org, owner, member_id, _) = customer(&harness, "Acme").await;
    let (other_org, ..) = customer(&harness, "Other").await;
    let other_project = {
        let made = harness
            .owner(
                Method::POST,
                &format!("/v1/organizations/{other_org}/projects"),
                Some(json!({"name": "x"})),
            )
            .await;
        made.body["id"].as_str().unwrap().to_owned()
    };
    let user = json!({"type": "user", "id": member_id});
    let cases = [
        (
            json!({"principal": user, "rules": [{"permission_sets": ["NoSuchSet"], "scope": "organization"}]}),
            "NoSuchSet",
        ),
        (
            json!({"principal": user, "rules": [{"permission_sets": ["ProjectManager"], "scope": {"projects": [other_project]}}]}),
            "project",
        ),
        (
            json!({"principal": user, "rules": [{"permission_sets": ["ProjectManager"], "scope": "organization", "condition": {"source_ip": ["10.0.0.0/33"]}}]}),
            "10.0.0.0/33",
        ),
        (
            json!({"principal": user, "rules": [{"permission_sets": ["ProjectManager"], "scope": "organization", "condition": {"time_window": {"days": ["monday"], "start_minute": 600, "end_minute": 500}}}]}),
            "window",
        ),
        (json!({"principal": user, "rules": []}), "rule"),
        (
            json!({"principal": {"type": "user", "id": "0190a5e2-7c3b-7d4e-8f00-112233445566"}, "rules": [{"permission_sets": ["ProjectManager"], "scope": "organization"}]}),
            "not a principal",
        ),
    ];
    let before = harness.n_audit_events(&org).await;
    for (body, needle) in cases {
        let answer = call(
            &harness,
            Method::POST,
            &format!("/v1/organizations/{org}/policies"),
            &owner,
            Some(body.clone()),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        let detail = answer.body["detail"].as_str().unwrap_or_default().to_lowercase();
        assert!(detail.contains(&needle.to_lowercase()), "{body}: {detail}");
    }
    let unknown_action = call(
        &harness,
        Method::PUT,
        &format!("/v1/organizations/{org}/permission-sets/Deployers"),
        &owner,
        Some(json!({"actions": ["instances:servers:deploy"]})),
    )
    .await;
    unknown_action.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let reserved = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{org}/actions"),
        &owner,
        Some(json!({"name": "iam:users:impersonate"})),
    )
    .await;
    reserved.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(harness.n_audit_events(&org).await, before, "nothing stored");

    // Defined first, the same action and set are accepted and usable in a rule.
    let defined = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{org}/actions"),
        &owner,
        Some(json!({"name": "instances:servers:deploy", "privileged": true})),
    )
    .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.body);
    let set = call(
        &harness,
        Method::PUT,
        &format!("/v1/organizations/{org}/permission-sets/Deployers"),
        &owner,
        Some(json!({"actions": ["instances:servers:deploy"]})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    grant(&harness, &org, &owner, user, org_wide(&["Deployers"])).await;
}

/// Ask the check API one question as `caller`.
async fn check(harness: &Harness, caller: &str, question: Value) -> Answer {
    call(harness, Method::POST, "/v1/authorize", caller, Some(question)).await
}

#[tokio::test]
async fn the_check_api_evaluates_each_condition_kind_and_a_missing_attribute_refuses() {
    let harness = Harness::new().await;
    let (org, owner, _, _) = customer(&harness, "Acme").await;
    // The caller: an application holding iam:authorization:check (in IAMManager).
    let base = format!("/v1/organizations/{org}");
    let app = call(
        &harness,
        Method::POST,
        &format!("{base}/applications"),
        &owner,
        Some(json!({"name": "gateway"})),
    )
    .await;
    let app_id = app.body["id"].as_str().unwrap().to_owned();
    let key = call(
        &harness,
        Method::POST,
        &format!("{base}/applications/{app_id}/api-keys"),
        &owner,
        Some(json!({})),
    )
    .await;
    let caller = key.body["secret"].as_str().unwrap().to_owned();

    let monday_10 = "2026-03-02T10:00:00Z";
    let conditions = [
        (
            "ip",
            json!({"source_ip": ["10.0.0.0/8", "2001:db8::/32"]}),
            json!({"source_ip": "10.1.2.3"}),
            json!({"source_ip": "192.168.1.1"}),
        ),
        (
            "ip6",
            json!({"source_ip": ["2001:db8::/32"]}),
            json!({"source_ip": "2001:db8::1"}),
            json!({"source_ip": "2001:db9::1"}),
        ),
        (
            "window",
            json!({"time_window": {"days": ["monday", "friday"], "start_minute": 540, "end_minute": 1080}}),
            json!({"time": monday_10}),
            json!({"time": "2026-03-07T10:00:00Z"}),
        ),
        (
            "agent",
            json!({"user_agent": "rampart-cli/*"}),
            json!({"user_agent": "rampart-cli/1.2"}),
            json!({"user_agent": "curl/8.0"}),
        ),
        ("mfa", json!({"mfa": true}), json!({"mfa": true}), json!({"mfa": false})),
        (
            "age",
            json!({"max_auth_age_seconds": 300}),
            json!({"time": monday_10, "authenticated_at": "2026-03-02T09:58:00Z"}),
            json!({"time": monday_10, "authenticated_at": "2026-03-02T08:00:00Z"}),
        ),
    ];
    let mut users = Vec::new();
    for (name, condition, ..) in &conditions {
        let (user_id, _) =
            user_key(&harness, &org, &format!("{name}@acme.example"), UserRole::Member).await;
        grant(
            &harness,
            &org,
            &owner,
            json!({"type": "user", "id": user_id}),
            json!([{"permission_sets": ["ProjectManager"], "scope": "organization", "condition": condition}]),
        )
        .await;
        users.push(user_id);
    }
    // Without a policy for the caller: refused.
    let question = |user: &str, context: &Value| {
        json!({
            "principal": {"type": "user", "id": user},
            "action": "projects:projects:read",
            "resource": {"organization": org},
            "context": context,
        })
    };
    check(&harness, &caller, question(&users[0], &json!({})))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    grant(
        &harness,
        &org,
        &owner,
        json!({"type": "application", "id": app_id}),
        org_wide(&["IAMManager"]),
    )
    .await;

    for ((name, _, allowed, refused), user) in conditions.iter().zip(&users) {
        let yes = check(&harness, &caller, question(user, allowed)).await;
        assert_eq!(yes.status, StatusCode::OK, "{}", yes.body);
        assert_eq!(yes.body["decision"], "allow", "{name}: {}", yes.body);
        assert!(!yes.body["determining_policies"].as_array().unwrap().is_empty());
        let no = check(&harness, &caller, question(user, refused)).await;
        assert_eq!(no.body["decision"], "deny", "{name}: {}", no.body);
        if *name != "mfa" {
            let missing = check(&harness, &caller, question(user, &json!({}))).await;
            assert_eq!(
                missing.body["decision"], "deny",
                "{name} without its attribute: {}",
                missing.body
            );
        }
    }

    // The batch form answers in order; who-can names the grants.
    let batch = call(
        &harness,
        Method::POST,
        "/v1/authorize/batch",
        &caller,
        Some(json!({"requests": [question(&users[4], &json!({"mfa": true})), question(&users[4], &json!({}))]})),
    )
    .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let decisions: Vec<&str> = batch.body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|decision| decision["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "deny"]);
    let too_many: Vec<Value> = (0..1_001).map(|_| question(&users[4], &json!({}))).collect();
    call(
        &harness,
        Method::POST,
        "/v1/authorize/batch",
        &caller,
        Some(json!({"requests": too_many})),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let who = call(
        &harness,
        Method::POST,
        "/v1/authorize/who-can",
        &caller,
        Some(json!({"action": "projects:projects:read", "resource": {"organization": org}})),
    )
    .await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.body);
    let grants = who.body["grants"].as_array().unwrap();
    for user in &users {
        assert!(
            grants.iter().any(|grant| grant["subject"]["principal"]["id"] == user.as_str()),
            "{user} missing from {}",
            who.body
        );
    }
}

#[tokio::test]
async fn no_policy_of_one_customer_reaches_another() {
    let harness = Harness::new().await;
    let (acme, acme_owner, ..) = customer(&harness, "Acme").await;
    let (globex, _, globex_member_id, globex_member) = customer(&harness, "Globex").await;
    // Acme's owner cannot grant a Globex user anything, nor act in Globex.
    let answer = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{acme}/policies"),
        &acme_owner,
        Some(json!({"principal": {"type": "user", "id": globex_member_id}, "rules": org_wide(&["ProjectManager"])})),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    call(&harness, Method::GET, &format!("/v1/organizations/{globex}/projects"), &acme_owner, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    call(
        &harness,
        Method::GET,
        &format!("/v1/organizations/{acme}/projects"),
        &globex_member,
        None,
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // An organisation-wide raw permit in Acme grants nothing to Globex's people.
    let created = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{acme}/cedar-policies"),
        &acme_owner,
        Some(json!({"text": "permit(principal, action, resource);"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    call(
        &harness,
        Method::GET,
        &format!("/v1/organizations/{acme}/projects"),
        &globex_member,
        None,
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn every_organization_endpoint_refuses_a_member_without_its_action() {
    let harness = Harness::new().await;
    let (org, owner, member_id, member) = customer(&harness, "Acme").await;
    let base = format!("/v1/organizations/{org}");
    let made = call(
        &harness,
        Method::POST,
        &format!("{base}/projects"),
        &owner,
        Some(json!({"name": "p"})),
    )
    .await;
    let project = made.body["id"].as_str().unwrap().to_owned();
    let group =
        call(&harness, Method::POST, &format!("{base}/groups"), &owner, Some(json!({"name": "g"})))
            .await;
    let group = group.body["id"].as_str().unwrap().to_owned();
    let app = call(
        &harness,
        Method::POST,
        &format!("{base}/applications"),
        &owner,
        Some(json!({"name": "a"})),
    )
    .await;
    let app = app.body["id"].as_str().unwrap().to_owned();
    let policy = grant(
        &harness,
        &org,
        &owner,
        json!({"type": "group", "id": group}),
        org_wide(&["IAMReadOnly"]),
    )
    .await;
    let some_id = "0190a5e2-7c3b-7d4e-8f00-112233445566";
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, base.clone(), None),
        (Method::PATCH, base.clone(), Some(json!({"name": "Renamed"}))),
        (Method::PATCH, base.clone(), Some(json!({"mfa_required": true}))),
        (Method::DELETE, base.clone(), None),
        (Method::GET, format!("{base}/projects"), None),
        (Method::POST, format!("{base}/projects"), Some(json!({"name": "q"}))),
        (Method::GET, format!("{base}/projects/{project}"), None),
        (Method::PATCH, format!("{base}/projects/{project}"), Some(json!({"name": "r"}))),
        (Method::DELETE, format!("{base}/projects/{project}"), None),
        (Method::GET, format!("{base}/users"), None),
        (Method::POST, format!("{base}/invitations"), Some(json!({"email": "new@acme.example"}))),
        (Method::POST, format!("{base}/users/{member_id}/suspend"), None),
        (Method::POST, format!("{base}/users/{member_id}/reactivate"), None),
        (Method::DELETE, format!("{base}/users/{member_id}"), None),
        (Method::DELETE, format!("{base}/users/{member_id}/sessions"), None),
        (Method::POST, format!("{base}/users/{member_id}/password-reset"), None),
        (Method::GET, format!("{base}/applications"), None),
        (Method::POST, format!("{base}/applications"), Some(json!({"name": "b"}))),
        (Method::DELETE, format!("{base}/applications/{app}"), None),
        (Method::POST, format!("{base}/applications/{app}/api-keys"), Some(json!({}))),
        (Method::GET, format!("{base}/groups"), None),
        (Method::POST, format!("{base}/groups"), Some(json!({"name": "h"}))),
        (Method::DELETE, format!("{base}/groups/{group}"), None),
        (Method::GET, format!("{base}/groups/{group}/members"), None),
        (
            Method::POST,
            format!("{base}/groups/{group}/members"),
            Some(json!({"member": format!("application:{app}")})),
        ),
        (Method::DELETE, format!("{base}/groups/{group}/members/application:{app}"), None),
        (Method::GET, format!("{base}/audit/events"), None),
        (Method::GET, format!("{base}/audit/checkpoint"), None),
        (Method::GET, format!("{base}/audit/proof/inclusion?index=0&size=1"), None),
        (Method::GET, format!("{base}/audit/proof/consistency?from=1&to=1"), None),
        (Method::GET, format!("{base}/audit/export"), None),
        (Method::POST, format!("{base}/audit/entries/0/erase"), None),
        (Method::GET, format!("{base}/authorization"), None),
        (
            Method::POST,
            format!("{base}/policies"),
            Some(
                json!({"principal": {"type": "user", "id": member_id}, "rules": org_wide(&["IAMManager"])}),
            ),
        ),
        (
            Method::PUT,
            format!("{base}/policies/{policy}"),
            Some(json!({"rules": org_wide(&["IAMManager"])})),
        ),
        (Method::DELETE, format!("{base}/policies/{policy}"), None),
        (
            Method::POST,
            format!("{base}/cedar-policies"),
            Some(json!({"text": "permit(principal, action, resource);"})),
        ),
        (Method::DELETE, format!("{base}/cedar-policies/{some_id}"), None),
        (Method::POST, format!("{base}/actions"), Some(json!({"name": "instances:servers:read"}))),
        (Method::DELETE, format!("{base}/actions/instances:servers:read"), None),
        (
            Method::PUT,
            format!("{base}/permission-sets/Readers"),
            Some(json!({"actions": ["iam:users:read"]})),
        ),
        (Method::DELETE, format!("{base}/permission-sets/Readers"), None),
        (
            Method::POST,
            "/v1/authorize".to_owned(),
            Some(
                json!({"principal": {"type": "user", "id": member_id}, "action": "iam:users:read", "resource": {"organization": org}}),
            ),
        ),
        (
            Method::POST,
            "/v1/authorize/who-can".to_owned(),
            Some(json!({"action": "iam:users:read", "resource": {"organization": org}})),
        ),
        (Method::GET, format!("/v1/principals/{member_id}/effective-permissions"), None),
    ];
    let before = harness.n_audit_events(&org).await;
    for (method, uri, body) in &endpoints {
        let answer = call(&harness, method.clone(), uri, &member, body.clone()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", answer.body);
    }
    // Each refusal is recorded; nothing else changed.
    assert_eq!(harness.n_audit_events(&org).await, before + endpoints.len());
}

mod arbitrary_policies {
    use super::*;
    use proptest::prelude::*;

    fn permission_set() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("ProjectManager")),
            Just(json!("IAMReadOnly")),
            Just(json!("NoSuchSet")),
            ".{0,12}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
        ]
    }

    fn scope() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("organization")),
            Just(json!("projects")),
            prop::collection::vec("[0-9a-f-]{0,36}", 0..3).prop_map(|ids| json!({"projects": ids})),
            ".{0,12}".prop_map(Value::from),
        ]
    }

    fn condition() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!({})),
            prop::collection::vec("[0-9a-f.:/]{0,20}", 0..3).prop_map(|cidrs| json!({"source_ip": cidrs})),
            (any::<i32>(), any::<i32>(), prop::collection::vec("[a-z]{0,9}", 0..3)).prop_map(
                |(start, end, days)| json!({"time_window": {"days": days, "start_minute": start, "end_minute": end}})
            ),
            ".{0,30}".prop_map(|pattern| json!({"user_agent": pattern})),
            any::<i64>().prop_map(|age| json!({"max_auth_age_seconds": age})),
            any::<bool>().prop_map(|mfa| json!({"mfa": mfa})),
            ".{0,8}".prop_map(|key| json!({key: 1})),
        ]
    }

    fn rules() -> impl Strategy<Value = Value> {
        prop::collection::vec(
            (prop::collection::vec(permission_set(), 0..3), scope(), condition()).prop_map(
                |(sets, scope, condition)| {
                    json!({"permission_sets": sets, "scope": scope, "condition": condition})
                },
            ),
            0..3,
        )
        .prop_map(Value::from)
    }

    fn cedar_text() -> impl Strategy<Value = String> {
        let valid =
            "forbid(principal, action == Rampart::Action::\"projects:projects:delete\", resource);";
        prop_oneof![
            Just(valid.to_owned()),
            (0..valid.len(), ".{0,3}").prop_map(move |(at, insert)| {
                let mut text = valid.to_owned();
                let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.insert_str(at, &insert);
                text
            }),
            ".{0,80}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the rules, a policy is created (one more audit entry) or refused with a
        /// 4xx problem and nothing stored; never a 5xx.
        #[test]
        fn any_policy_is_created_or_refused_cleanly(rules in rules(), text in cedar_text()) {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let harness = Harness::new().await;
                let org = harness.provider_id.clone();
                let (member_id, _) =
                    user_key(&harness, &org, "someone@provider.example", UserRole::Member).await;
                for (uri, body) in [
                    (
                        format!("/v1/organizations/{org}/policies"),
                        json!({"principal": {"type": "user", "id": member_id}, "rules": rules}),
                    ),
                    (format!("/v1/organizations/{org}/cedar-policies"), json!({"text": text})),
                ] {
                    let before = harness.n_audit_events(&org).await;
                    let answer = harness.owner(Method::POST, &uri, Some(body.clone())).await;
                    let after = harness.n_audit_events(&org).await;
                    if answer.status == StatusCode::CREATED {
                        assert_eq!(after, before + 1, "{body}");
                    } else {
                        assert!(answer.status.is_client_error(), "{body}: {} {}", answer.status, answer.body);
                        assert_eq!(answer.headers["content-type"], "application/problem+json");
                        assert_eq!(after, before, "{body}: nothing stored");
                    }
                }
            });
        }
    }
}

/// A change made by another replica (straight into the shared store, with its audit event)
/// applies here once the cache bound has passed: the entry is checked against the
/// organisation's audit tree size and reloaded because it grew.
#[tokio::test]
async fn a_change_made_elsewhere_applies_within_the_cache_bound() {
    use app::AuditTrail as _;
    use store::AuthorizationRepository as _;

    let harness = Harness::new().await;
    let (org, _, member_id, member) = customer(&harness, "Acme").await;
    let projects = format!("/v1/organizations/{org}/projects");
    call(&harness, Method::GET, &projects, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let organization_id: base::OrganizationId = org.parse().unwrap();
    let at = base::Clock::now(harness.clock.as_ref());
    let mut transaction = harness.app.store().begin().await.unwrap();
    let policy = store::PolicyRecord {
        id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042),
        organization_id,
        holder: store::PolicyHolder::User(member_id.parse().unwrap()),
        description: String::new(),
        rules: org_wide(&["ProjectManager"]).to_string(),
        created_by: None,
        created_at: at,
        updated_at: at,
    };
    transaction.insert_policy(&policy).await.unwrap();
    let event = base::AuditEvent {
        organization_id,
        time: at,
        actor: base::Actor::System,
        action: "iam.policy.create".into(),
        resource: base::Resource::new("policy", policy.id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: true,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();

    // Within the bound (60 s in the harness), this node still decides from its entry.
    harness.clock.advance(time::Duration::seconds(30));
    call(&harness, Method::GET, &projects, &member, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Past it, the entry is checked, found stale and reloaded.
    harness.clock.advance(time::Duration::seconds(31));
    let answer = call(&harness, Method::GET, &projects, &member, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
