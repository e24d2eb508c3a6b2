//! Changing one's password, and an organisation's maximum password age: a password older than
//! the maximum no longer signs in until it is reset.

use axum::http::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::harness::Harness;
use crate::identity::{PASSWORD, join, login, mailed_token, post, session};

async fn change(
    harness: &Harness,
    secret: &str,
    current: &str,
    new: &str,
) -> crate::harness::Answer {
    harness
        .request(
            Method::PUT,
            "/v1/auth/password",
            Some(secret),
            Some((
                "application/json",
                json!({"current_password": current, "new_password": new}).to_string().into_bytes(),
            )),
        )
        .await
}

#[tokio::test]
async fn a_password_changes_with_the_current_one_and_ends_the_other_sessions() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let here = session(&harness, "ada@provider.example").await;
    let elsewhere = session(&harness, "ada@provider.example").await;
    let new_password = "a completely different passphrase";

    let wrong = change(&harness, &here, "not the password at all", new_password).await;
    wrong.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(wrong.body["detail"].as_str().unwrap().starts_with("current_password"));
    let weak = change(&harness, &here, PASSWORD, "short").await;
    weak.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(weak.body["detail"].as_str().unwrap().starts_with("new_password"), "{}", weak.body);
    let with_key = change(&harness, &harness.owner_secret, PASSWORD, new_password).await;
    with_key.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    let done = change(&harness, &here, PASSWORD, new_password).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let sessions = |secret: String| {
        let harness = &harness;
        async move {
            harness.request(Method::GET, "/v1/auth/sessions", Some(&secret), None).await.status
        }
    };
    assert_eq!(sessions(here.clone()).await, StatusCode::OK, "this session stays");
    assert_eq!(sessions(elsewhere).await, StatusCode::UNAUTHORIZED, "the others end");
    assert_eq!(
        login(&harness, "ada@provider.example", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&harness, "ada@provider.example", new_password).await.status, StatusCode::OK);

    // A change needs a recent authentication.
    harness.clock.advance(Duration::minutes(11));
    let stale = change(&harness, &here, new_password, PASSWORD).await;
    stale.assert_problem(StatusCode::FORBIDDEN, "step_up_required");
    let uri = format!(
        "/v1/organizations/{}/audit/events?action=auth.password.change",
        harness.provider_id
    );
    let events = harness.owner(Method::GET, &uri, None).await;
    assert_eq!(events.body["items"][0]["details"]["sessions_ended"], 1, "{}", events.body);
    assert_eq!(events.body["items"][0]["privileged"], true);
}

#[tokio::test]
async fn a_password_older_than_the_organizations_maximum_signs_in_only_once_reset() {
    let harness = Harness::new().await;
    let policy = format!("/v1/organizations/{}/password-policy", harness.provider_id);
    let unset = harness.owner(Method::GET, &policy, None).await;
    assert_eq!(unset.body, json!({"max_age_days": null}), "off by default");
    for bad in [json!({"max_age_days": 0}), json!({"max_age_days": 3651})] {
        let refused = harness.owner(Method::PUT, &policy, Some(bad)).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    }
    let set = harness.owner(Method::PUT, &policy, Some(json!({"max_age_days": 90}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(harness.owner(Method::GET, &policy, None).await.body["max_age_days"], 90);

    join(&harness, "ada@provider.example").await;
    harness.clock.advance(Duration::days(89));
    assert_eq!(login(&harness, "ada@provider.example", PASSWORD).await.status, StatusCode::OK);
    harness.clock.advance(Duration::days(2));
    let expired = login(&harness, "ada@provider.example", PASSWORD).await;
    expired.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert!(expired.body["detail"].as_str().unwrap().contains("password-reset"));
    // A wrong password still gets the ordinary answer: the expiry shows only to the owner.
    let wrong = login(&harness, "ada@provider.example", "a wrong but long passphrase").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    post(&harness, "/v1/auth/password-reset", None, json!({"email": "ada@provider.example"})).await;
    let token = mailed_token(&harness, "ada@provider.example", "rampart_reset_");
    let new_password = "a completely different passphrase";
    let reset = post(
        &harness,
        "/v1/auth/password-reset/complete",
        None,
        json!({"token": token, "password": new_password}),
    )
    .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    assert_eq!(login(&harness, "ada@provider.example", new_password).await.status, StatusCode::OK);

    // Removing the maximum lets old passwords in again; both changes are audited.
    let cleared = harness.owner(Method::PUT, &policy, Some(json!({"max_age_days": null}))).await;
    assert_eq!(cleared.body["max_age_days"], serde_json::Value::Null);
    let uri = format!(
        "/v1/organizations/{}/audit/events?action=organization.password_policy.update",
        harness.provider_id
    );
    let events = harness.owner(Method::GET, &uri, None).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 2, "{}", events.body);
    let uri = format!(
        "/v1/organizations/{}/audit/events?action=auth.login.password",
        harness.provider_id
    );
    let logins = harness.owner(Method::GET, &uri, None).await;
    assert!(logins.body.to_string().contains("password_expired"), "{}", logins.body);
}
