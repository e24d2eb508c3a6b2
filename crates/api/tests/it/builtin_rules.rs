//! The built-in detection rules fire on the events Rampart really records: an owner invited,
//! a privileged grant, a request from outside a policy's address range. Each case goes through
//! the real router, then one detection pass over the organisation's trail.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use store::UserRole;
use tower::ServiceExt as _;

use crate::harness::{Harness, call, create_customer, user_key};

const OWNER_ADDED: &str = "Rampart Organisation Owner Added";
const PRIVILEGED_GRANT: &str = "Rampart Privileged Permission Granted";
const OUTSIDE_RANGE: &str = "Rampart Access Attempt Outside a Policy's Address Range";

async fn titles(harness: &Harness, organization_id: &str, secret: &str) -> Vec<String> {
    harness.app.run_detection_once().await.unwrap();
    let path = format!("/v1/organizations/{organization_id}/alerts");
    let answer = call(harness, Method::GET, &path, secret, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["title"].as_str().unwrap().to_owned())
        .collect()
}

/// A GET as `secret` from `address` (what the server's connection info would say).
async fn get_from(harness: &Harness, uri: &str, secret: &str, address: &str) -> StatusCode {
    let peer: SocketAddr = format!("{address}:40000").parse().unwrap();
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {secret}"))
        .extension(ConnectInfo(peer))
        .body(Body::empty())
        .unwrap();
    harness.router.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn inviting_an_owner_raises_the_owner_added_alert_and_a_member_does_not() {
    let harness = Harness::new().await;
    let org = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &org, "owner@acme.example", UserRole::Owner).await;
    let invitations = format!("/v1/organizations/{org}/invitations");
    let member = json!({"email": "member@acme.example", "role": "member"});
    let answer = call(&harness, Method::POST, &invitations, &owner, Some(member)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert!(!titles(&harness, &org, &owner).await.contains(&OWNER_ADDED.to_owned()));

    let second_owner = json!({"email": "second@acme.example", "role": "owner"});
    let answer = call(&harness, Method::POST, &invitations, &owner, Some(second_owner)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let titles = titles(&harness, &org, &owner).await;
    assert_eq!(titles.iter().filter(|title| *title == OWNER_ADDED).count(), 1, "{titles:?}");
}

#[tokio::test]
async fn an_address_limited_policy_grants_inside_and_an_attempt_outside_raises_an_alert() {
    let harness = Harness::new().await;
    let org = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &org, "owner@acme.example", UserRole::Owner).await;
    let (member_id, member) =
        user_key(&harness, &org, "member@acme.example", UserRole::Member).await;
    let policy = json!({
        "principal": {"type": "user", "id": member_id},
        "rules": [{"permission_sets": ["ProjectManager"], "scope": "organization",
                   "condition": {"source_ip": ["10.0.0.0/8"]}}],
    });
    let policies = format!("/v1/organizations/{org}/policies");
    let answer = call(&harness, Method::POST, &policies, &owner, Some(policy)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    // Every change of authorisation is privileged.
    let after_grant = titles(&harness, &org, &owner).await;
    assert!(after_grant.contains(&PRIVILEGED_GRANT.to_owned()), "{after_grant:?}");
    assert!(!after_grant.contains(&OUTSIDE_RANGE.to_owned()));

    let projects = format!("/v1/organizations/{org}/projects");
    assert_eq!(get_from(&harness, &projects, &member, "10.1.2.3").await, StatusCode::OK);
    assert!(!titles(&harness, &org, &owner).await.contains(&OUTSIDE_RANGE.to_owned()));

    assert_eq!(get_from(&harness, &projects, &member, "192.0.2.7").await, StatusCode::FORBIDDEN);
    let titles = titles(&harness, &org, &owner).await;
    assert!(titles.contains(&OUTSIDE_RANGE.to_owned()), "{titles:?}");

    // The trail says why: the denial names the address condition.
    let trail = format!("/v1/organizations/{org}/audit/events?limit=100");
    let answer = call(&harness, Method::GET, &trail, &owner, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let entries: Vec<&Value> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry.to_string().contains("source_ip_outside_policy_ranges"))
        .collect();
    assert_eq!(entries.len(), 1, "{:#}", answer.body);
}

#[tokio::test]
async fn a_denial_without_an_address_condition_is_not_an_address_alert() {
    let harness = Harness::new().await;
    let org = create_customer(&harness, "Acme").await;
    let (_, owner) = user_key(&harness, &org, "owner@acme.example", UserRole::Owner).await;
    let (_, member) = user_key(&harness, &org, "member@acme.example", UserRole::Member).await;
    let projects = format!("/v1/organizations/{org}/projects");
    assert_eq!(get_from(&harness, &projects, &member, "192.0.2.7").await, StatusCode::FORBIDDEN);
    assert!(!titles(&harness, &org, &owner).await.contains(&OUTSIDE_RANGE.to_owned()));
}
