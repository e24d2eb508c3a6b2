//! Applications hold API keys and act as themselves; groups hold users and applications, and
//! every membership change is in the trail.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn an_application_acts_with_its_own_key_until_it_is_deleted() {
    let harness = Harness::new().await;
    let base = format!("/v1/organizations/{}", harness.provider_id);
    let created = harness
        .owner(
            Method::POST,
            &format!("{base}/applications"),
            Some(json!({"name": "Billing", "description": "invoices"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let application_id = created.body["id"].as_str().unwrap().to_owned();
    harness
        .owner(Method::POST, &format!("{base}/applications"), Some(json!({"name": "billing"})))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    let key = harness
        .owner(
            Method::POST,
            &format!("{base}/applications/{application_id}/api-keys"),
            Some(json!({"description": "prod"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let secret = key.body["secret"].as_str().unwrap().to_owned();

    // Deny by default: the application holds what a policy grants it, nothing more.
    harness
        .request(Method::GET, &base, Some(&secret), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let policy = harness
        .owner(
            Method::POST,
            &format!("{base}/policies"),
            Some(json!({
                "principal": {"type": "application", "id": application_id},
                "rules": [{"permission_sets": ["OrganizationManager"], "scope": "organization"}],
            })),
        )
        .await;
    assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
    // It reads its organisation; it cannot mint keys or sessions for itself.
    let read = harness.request(Method::GET, &base, Some(&secret), None).await;
    assert_eq!(read.status, StatusCode::OK);
    let body = Some(("application/json", b"{}".to_vec()));
    harness
        .request(Method::POST, "/v1/api-keys", Some(&secret), body)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let project = harness
        .request(
            Method::POST,
            &format!("{base}/projects"),
            Some(&secret),
            Some(("application/json", br#"{"name":"made-by-app"}"#.to_vec())),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED);
    let trail = harness
        .owner(Method::GET, &format!("{base}/audit/events?action=project.create"), None)
        .await;
    let actor = &trail.body["items"][0]["actor"];
    assert_eq!(
        (actor["kind"].as_str(), actor["id"].as_str(), actor["label"].as_str()),
        (Some("application"), Some(application_id.as_str()), Some("Billing"))
    );

    let listed = harness.owner(Method::GET, &format!("{base}/applications"), None).await;
    assert_eq!(listed.body[0]["name"], "Billing");
    assert_eq!(
        harness
            .owner(Method::DELETE, &format!("{base}/applications/{application_id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    harness
        .request(Method::GET, &base, Some(&secret), None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn group_membership_changes_are_audited_and_confined_to_the_organization() {
    let harness = Harness::new().await;
    let base = format!("/v1/organizations/{}", harness.provider_id);
    let group =
        harness.owner(Method::POST, &format!("{base}/groups"), Some(json!({"name": "Ops"}))).await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    let application = harness
        .owner(Method::POST, &format!("{base}/applications"), Some(json!({"name": "Deployer"})))
        .await;
    let member = format!("application:{}", application.body["id"].as_str().unwrap());
    let members_uri = format!("{base}/groups/{group_id}/members");

    assert_eq!(
        harness.owner(Method::POST, &members_uri, Some(json!({"member": member}))).await.status,
        StatusCode::NO_CONTENT
    );
    harness
        .owner(Method::POST, &members_uri, Some(json!({"member": member})))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    harness
        .owner(Method::POST, &members_uri, Some(json!({"member": "robot:1"})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let stranger = "user:01900000-0000-7000-8000-000000000000";
    harness
        .owner(Method::POST, &members_uri, Some(json!({"member": stranger})))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let listed = harness.owner(Method::GET, &members_uri, None).await;
    assert_eq!(listed.body, json!([member]));

    let removed = harness.owner(Method::DELETE, &format!("{members_uri}/{member}"), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let trail = harness
        .owner(Method::GET, &format!("{base}/audit/events?action=group.member."), None)
        .await;
    let actions: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["group.member.remove", "group.member.add"]);
    assert_eq!(trail.body["items"][0]["details"]["member"], member.as_str());
    assert_eq!(
        harness.owner(Method::DELETE, &format!("{base}/groups/{group_id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
}
