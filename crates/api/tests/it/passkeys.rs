//! Passkeys through the API as a browser with a software authenticator drives them:
//! registration, passwordless login, a passkey as second factor and for step-up, and every
//! forged, replayed, foreign or stale assertion refused alike.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::authenticator::{Authenticator, tamper_signature};
use crate::harness::{Answer, Harness};
use crate::identity::{PASSWORD, join, login, mailed_token, post, session};

const ORIGIN: &str = "http://rampart.test";

/// Register a new software passkey for the session `token`; returns it and the stored id.
async fn register(harness: &Harness, token: &str, name: &str) -> (Authenticator, String) {
    let mut authenticator = Authenticator::new(ORIGIN);
    let id = register_with(harness, token, name, &mut authenticator).await;
    (authenticator, id)
}

async fn register_with(
    harness: &Harness,
    token: &str,
    name: &str,
    authenticator: &mut Authenticator,
) -> String {
    let options =
        post(harness, "/v1/auth/passkeys/registration/options", Some(token), json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let credential = authenticator.register(&options.body["options"]);
    let registered = post(
        harness,
        "/v1/auth/passkeys",
        Some(token),
        json!({"ceremony": options.body["ceremony"], "name": name, "credential": credential}),
    )
    .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    registered.body["id"].as_str().unwrap().to_owned()
}

/// Passwordless login options, with or without an email.
async fn login_options(harness: &Harness, email: Option<&str>) -> Answer {
    let body = match email {
        Some(email) => json!({"email": email}),
        None => json!({}),
    };
    let options = post(harness, "/v1/auth/passkey/options", None, body).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    options
}

async fn passkey_login(harness: &Harness, ceremony: &Value, credential: &Value) -> Answer {
    post(
        harness,
        "/v1/auth/passkey/login",
        None,
        json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// Log in without a password; the answer.
async fn passwordless(harness: &Harness, authenticator: &mut Authenticator) -> Answer {
    let options = login_options(harness, None).await;
    let credential = authenticator.assert(&options.body["options"]);
    passkey_login(harness, &options.body["ceremony"], &credential).await
}

fn assert_refused(answer: &Answer) {
    answer.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(answer.body["detail"], "the passkey was not accepted", "{}", answer.body);
}

async fn audit_events(harness: &Harness, action: &str) -> Vec<Value> {
    let uri =
        format!("/v1/organizations/{}/audit/events?action={action}&limit=200", harness.provider_id);
    let events = harness.owner(Method::GET, &uri, None).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    events.body["items"].as_array().unwrap().clone()
}

/// Why the latest passwordless login was refused, as the trail says.
async fn last_refusal(harness: &Harness) -> String {
    let events = audit_events(harness, "auth.login.passkey").await;
    events[0]["reason"].as_str().unwrap_or("none").to_owned()
}

#[tokio::test]
async fn a_passkey_registers_then_logs_in_without_a_password() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;

    let options =
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({})).await;
    let public_key = &options.body["options"]["publicKey"];
    assert_eq!(public_key["rp"]["id"], "rampart.test", "{}", options.body);
    assert_eq!(public_key["user"]["name"], "ada@provider.example");
    assert_eq!(public_key["authenticatorSelection"]["userVerification"], "required");
    assert!(options.body["ceremony"].as_str().unwrap().starts_with("rampart_webauthn_"));
    let mut authenticator = Authenticator::new(ORIGIN);
    let credential = authenticator.register(&options.body["options"]);
    let registered = post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "name": "laptop", "credential": credential}),
    )
    .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    // The same registration cannot be finished twice.
    post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "credential": credential}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // Listed with names and dates only: no key, no credential id.
    let listed = harness.request(Method::GET, "/v1/auth/passkeys", Some(&token), None).await;
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let mut fields: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["created_at", "id", "last_used_at", "name"]);
    assert_eq!(items[0]["name"], "laptop");
    assert!(items[0]["last_used_at"].is_null());
    let credential_id = credential["id"].as_str().unwrap();
    assert!(!listed.body.to_string().contains(credential_id));

    // Discoverable login: no account named, the authenticator picks the passkey.
    let options = login_options(&harness, None).await;
    let public_key = &options.body["options"]["publicKey"];
    assert_eq!(public_key["rpId"], "rampart.test");
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["allowCredentials"], json!([]));
    let assertion = authenticator.assert(&options.body["options"]);
    let answer = passkey_login(&harness, &options.body["ceremony"], &assertion).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let passkey_session = answer.body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(answer.body["restricted"], false);
    let sessions =
        harness.request(Method::GET, "/v1/auth/sessions", Some(&passkey_session), None).await;
    assert_eq!(sessions.status, StatusCode::OK);
    // A passkey verifies its user: the session counts as multi-factor and may step up-gated
    // actions at once.
    assert_eq!(
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&passkey_session), json!({}))
            .await
            .status,
        StatusCode::OK
    );

    // The ceremony was used: the same answer, or a new one for it, is refused.
    assert_refused(&passkey_login(&harness, &options.body["ceremony"], &assertion).await);
    let again = authenticator.assert(&options.body["options"]);
    assert_refused(&passkey_login(&harness, &options.body["ceremony"], &again).await);

    // Naming the account lists its passkey.
    let options = login_options(&harness, Some("ADA@provider.example")).await;
    assert_eq!(
        options.body["options"]["publicKey"]["allowCredentials"],
        json!([{"type": "public-key", "id": credential_id}])
    );
    let assertion = authenticator.assert(&options.body["options"]);
    let answer = passkey_login(&harness, &options.body["ceremony"], &assertion).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let listed = harness.request(Method::GET, "/v1/auth/passkeys", Some(&token), None).await;
    assert!(listed.body[0]["last_used_at"].is_string(), "{}", listed.body);
    let logins = audit_events(&harness, "auth.login.passkey").await;
    assert_eq!(logins.iter().filter(|event| event["outcome"] == "success").count(), 2);
    assert!(logins.iter().any(|event| event["reason"] == "unknown_or_expired_ceremony"));
    let registrations = audit_events(&harness, "auth.passkey.register").await;
    assert_eq!(registrations.len(), 1);
    assert_eq!(registrations[0]["privileged"], true);
}

#[tokio::test]
async fn options_for_an_unknown_address_look_like_those_for_a_known_one() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let (mut authenticator, _) = register(&harness, &token, "laptop").await;

    let shape = |answer: &Answer| {
        let public_key = answer.body["options"]["publicKey"].as_object().unwrap();
        let mut keys: Vec<String> = public_key.keys().cloned().collect();
        keys.sort_unstable();
        let allowed = public_key["allowCredentials"].as_array().unwrap().clone();
        let id_lengths: Vec<usize> =
            allowed.iter().map(|entry| entry["id"].as_str().unwrap().len()).collect();
        (answer.status, keys, id_lengths)
    };
    let known = login_options(&harness, Some("ada@provider.example")).await;
    let unknown = login_options(&harness, Some("nobody@provider.example")).await;
    assert_eq!(shape(&known), shape(&unknown));
    // Stable per address, so asking twice reveals nothing either.
    let twice = login_options(&harness, Some("nobody@provider.example")).await;
    assert_eq!(
        unknown.body["options"]["publicKey"]["allowCredentials"],
        twice.body["options"]["publicKey"]["allowCredentials"]
    );

    // A real passkey cannot finish a ceremony started for an unknown address.
    let assertion = authenticator.assert(&unknown.body["options"]);
    assert_refused(&passkey_login(&harness, &unknown.body["ceremony"], &assertion).await);
}

#[tokio::test]
async fn a_passkey_is_the_second_factor_of_a_password_login_and_steps_up() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let (mut authenticator, _) = register(&harness, &token, "phone").await;

    let answer = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(answer.body["mfa_required"], true, "{}", answer.body);
    assert_eq!(answer.body["methods"], json!(["webauthn"]));
    let mfa_token = answer.body["mfa_token"].as_str().unwrap().to_owned();
    let options = post(
        &harness,
        "/v1/auth/login/mfa/webauthn/options",
        None,
        json!({"mfa_token": mfa_token}),
    )
    .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let allowed = &options.body["options"]["publicKey"]["allowCredentials"];
    assert_eq!(allowed[0]["id"], b64url(&authenticator.credential_id));
    let assertion = authenticator.assert(&options.body["options"]);
    let finished = post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": mfa_token, "webauthn": assertion}),
    )
    .await;
    assert_eq!(finished.status, StatusCode::OK, "{}", finished.body);
    let token = finished.body["session_token"].as_str().unwrap().to_owned();
    // The mfa_token and its ceremony were used once.
    post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": mfa_token, "webauthn": assertion}),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    post(&harness, "/v1/auth/login/mfa/webauthn/options", None, json!({"mfa_token": mfa_token}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // The password alone no longer steps up: the passkey is a second factor.
    harness.clock.advance(Duration::minutes(11));
    post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "step_up_required");
    post(&harness, "/v1/auth/step-up", Some(&token), json!({"password": PASSWORD}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // The passkey alone does.
    let options =
        post(&harness, "/v1/auth/step-up/webauthn/options", Some(&token), json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let assertion = authenticator.assert(&options.body["options"]);
    let stepped = post(
        &harness,
        "/v1/auth/step-up",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "webauthn": assertion}),
    )
    .await;
    assert_eq!(stepped.status, StatusCode::NO_CONTENT, "{}", stepped.body);
    assert_eq!(
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let step_ups = audit_events(&harness, "auth.step_up").await;
    assert!(step_ups.iter().any(|event| event["details"]["passkey"].is_string()));
}

#[tokio::test]
async fn forged_foreign_and_stale_assertions_are_refused_alike() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    join(&harness, "bob@provider.example").await;
    let ada = session(&harness, "ada@provider.example").await;
    let bob = session(&harness, "bob@provider.example").await;
    let (mut ada_key, _) = register(&harness, &ada, "ada's").await;
    let (mut bob_key, _) = register(&harness, &bob, "bob's").await;

    // Signed for another origin (a phishing site relaying the challenge).
    ada_key.origin = "http://rampart.test.evil.example".into();
    assert_refused(&passwordless(&harness, &mut ada_key).await);
    assert_eq!(last_refusal(&harness).await, "invalid_assertion");
    ada_key.origin = ORIGIN.into();

    // A flipped bit in the signature.
    let options = login_options(&harness, None).await;
    let mut tampered = ada_key.assert(&options.body["options"]);
    tamper_signature(&mut tampered);
    let answer = passkey_login(&harness, &options.body["ceremony"], &tampered).await;
    assert_refused(&answer);
    assert_eq!(last_refusal(&harness).await, "invalid_assertion");
    // The same assertion untouched would have been accepted, had its ceremony not been used.
    let options = login_options(&harness, None).await;
    assert_eq!(
        passkey_login(
            &harness,
            &options.body["ceremony"],
            &ada_key.assert(&options.body["options"])
        )
        .await
        .status,
        StatusCode::OK
    );

    // An unknown credential.
    assert_refused(&passwordless(&harness, &mut Authenticator::new(ORIGIN)).await);
    assert_eq!(last_refusal(&harness).await, "unknown_passkey");

    // A user handle that is not the passkey's owner.
    let options = login_options(&harness, None).await;
    let handle = ada_key.user_handle.replace(bob_key.user_handle.clone().unwrap());
    let swapped = ada_key.assert(&options.body["options"]);
    ada_key.user_handle = handle;
    assert_refused(&passkey_login(&harness, &options.body["ceremony"], &swapped).await);
    assert_eq!(last_refusal(&harness).await, "user_handle_mismatch");

    // Expired: the ceremony lives 5 minutes.
    let options = login_options(&harness, None).await;
    harness.clock.advance(Duration::minutes(5));
    let late = ada_key.assert(&options.body["options"]);
    assert_refused(&passkey_login(&harness, &options.body["ceremony"], &late).await);
    assert_eq!(last_refusal(&harness).await, "unknown_or_expired_ceremony");

    // Another account's passkey as Ada's second factor: Bob's key answers Ada's challenge.
    let answer = login(&harness, "ada@provider.example", PASSWORD).await;
    let mfa_token = answer.body["mfa_token"].as_str().unwrap().to_owned();
    let options = post(
        &harness,
        "/v1/auth/login/mfa/webauthn/options",
        None,
        json!({"mfa_token": mfa_token}),
    )
    .await;
    let foreign = bob_key.assert(&options.body["options"]);
    post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": mfa_token, "webauthn": foreign}),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let mfa_failures = audit_events(&harness, "auth.login.mfa").await;
    assert!(
        mfa_failures.iter().any(|event| event["reason"] == "passkey_of_another_account"),
        "{mfa_failures:?}"
    );

    // A counter that goes backwards: a cloned key. Refused and flagged.
    assert_eq!(passwordless(&harness, &mut bob_key).await.status, StatusCode::OK);
    bob_key.counter -= 2;
    assert_refused(&passwordless(&harness, &mut bob_key).await);
    assert_eq!(last_refusal(&harness).await, "counter_regression");
    let logins = audit_events(&harness, "auth.login.passkey").await;
    let reasons: Vec<&str> = logins.iter().filter_map(|event| event["reason"].as_str()).collect();
    for reason in [
        "invalid_assertion",
        "unknown_passkey",
        "user_handle_mismatch",
        "unknown_or_expired_ceremony",
        "counter_regression",
    ] {
        assert!(reasons.contains(&reason), "{reason} not in {reasons:?}");
    }
    let cloned = logins.iter().find(|event| event["reason"] == "counter_regression").unwrap();
    assert_eq!(cloned["privileged"], true);
    // The real key, used in order, still works.
    bob_key.counter += 5;
    assert_eq!(passwordless(&harness, &mut bob_key).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_suspended_users_passkey_is_refused() {
    let harness = Harness::new().await;
    let user_id = join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let (mut authenticator, _) = register(&harness, &token, "laptop").await;
    assert_eq!(passwordless(&harness, &mut authenticator).await.status, StatusCode::OK);

    let suspend = format!("/v1/organizations/{}/users/{user_id}/suspend", harness.provider_id);
    assert_eq!(harness.owner(Method::POST, &suspend, None).await.status, StatusCode::NO_CONTENT);
    assert_refused(&passwordless(&harness, &mut authenticator).await);
    assert_eq!(last_refusal(&harness).await, "account_not_active");

    let reactivate =
        format!("/v1/organizations/{}/users/{user_id}/reactivate", harness.provider_id);
    assert_eq!(harness.owner(Method::POST, &reactivate, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(passwordless(&harness, &mut authenticator).await.status, StatusCode::OK);

    // Deleted: its passkeys go with it.
    let delete = format!("/v1/organizations/{}/users/{user_id}", harness.provider_id);
    assert_eq!(harness.owner(Method::DELETE, &delete, None).await.status, StatusCode::NO_CONTENT);
    assert_refused(&passwordless(&harness, &mut authenticator).await);
}

#[tokio::test]
async fn the_last_factor_stays_where_mfa_is_mandatory_and_passkeys_can_replace_the_password() {
    let harness = Harness::new().await;
    // Staff: MFA is mandatory.
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let (_, first) = register(&harness, &token, "laptop").await;
    let refused = harness
        .request(Method::DELETE, &format!("/v1/auth/passkeys/{first}"), Some(&token), None)
        .await;
    refused.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(
        refused.body["detail"].as_str().unwrap().contains("MFA is mandatory"),
        "{}",
        refused.body
    );
    let (_, second) = register(&harness, &token, "phone").await;
    let renamed = harness
        .request(
            Method::PATCH,
            &format!("/v1/auth/passkeys/{second}"),
            Some(&token),
            Some(("application/json", json!({"name": "old phone"}).to_string().into_bytes())),
        )
        .await;
    assert_eq!(renamed.body["name"], "old phone", "{}", renamed.body);
    assert_eq!(
        harness
            .request(Method::DELETE, &format!("/v1/auth/passkeys/{first}"), Some(&token), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    harness
        .request(Method::DELETE, &format!("/v1/auth/passkeys/{first}"), Some(&token), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let deletions = audit_events(&harness, "auth.passkey.delete").await;
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0]["privileged"], true);

    // A member of a customer organisation (MFA optional) goes passkey-only.
    let acme =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    let acme_id = acme.body["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/organizations/{acme_id}/invitations");
    harness.owner(Method::POST, &uri, Some(json!({"email": "bob@acme.example"}))).await;
    let invitation = mailed_token(&harness, "bob@acme.example", "rampart_invite_");
    let accepted = post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": invitation, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let bob = session(&harness, "bob@acme.example").await;
    harness
        .request(Method::DELETE, "/v1/auth/password", Some(&bob), None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    let (mut bob_key, bob_passkey) = register(&harness, &bob, "laptop").await;
    // With a passkey enrolled, its session needs the passkey to step up.
    let options = post(&harness, "/v1/auth/step-up/webauthn/options", Some(&bob), json!({})).await;
    let assertion = bob_key.assert(&options.body["options"]);
    let stepped = post(
        &harness,
        "/v1/auth/step-up",
        Some(&bob),
        json!({"ceremony": options.body["ceremony"], "webauthn": assertion}),
    )
    .await;
    assert_eq!(stepped.status, StatusCode::NO_CONTENT, "{}", stepped.body);
    assert_eq!(
        harness.request(Method::DELETE, "/v1/auth/password", Some(&bob), None).await.status,
        StatusCode::NO_CONTENT
    );
    login(&harness, "bob@acme.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(passwordless(&harness, &mut bob_key).await.status, StatusCode::OK);
    let last = harness
        .request(Method::DELETE, &format!("/v1/auth/passkeys/{bob_passkey}"), Some(&bob), None)
        .await;
    last.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(last.body["detail"].as_str().unwrap().contains("without a password"), "{}", last.body);
}

#[tokio::test]
async fn bad_passkey_input_is_refused_cleanly() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let options =
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({})).await;
    let ceremony = options.body["ceremony"].clone();
    let mut authenticator = Authenticator::new(ORIGIN);
    let credential = authenticator.register(&options.body["options"]);

    // Not a credential at all.
    let answer = post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": ceremony, "credential": {"id": 3}}),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("WebAuthn registration"));
    // A credential whose attestation is garbage: refused, and the ceremony is spent.
    let mut garbage = credential.clone();
    garbage["response"]["attestationObject"] = json!("AAAA");
    let answer = post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": ceremony, "credential": garbage}),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("the passkey was refused"));
    post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // Registered from a wrong origin.
    let options =
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({})).await;
    let mut elsewhere = Authenticator::new("https://evil.example");
    let credential = elsewhere.register(&options.body["options"]);
    post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "credential": credential}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // Expired registration.
    let options =
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({})).await;
    let credential = authenticator.register(&options.body["options"]);
    harness.clock.advance(Duration::minutes(6));
    post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "credential": credential}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // Too long a name.
    let token = session(&harness, "ada@provider.example").await;
    let options =
        post(&harness, "/v1/auth/passkeys/registration/options", Some(&token), json!({})).await;
    let credential = authenticator.register(&options.body["options"]);
    post(
        &harness,
        "/v1/auth/passkeys",
        Some(&token),
        json!({"ceremony": options.body["ceremony"], "name": "x".repeat(65), "credential": credential}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // Login: a malformed credential is a 400 that names the field; malformed JSON too.
    let options = login_options(&harness, None).await;
    let answer = passkey_login(&harness, &options.body["ceremony"], &json!("nope")).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("WebAuthn assertion"));
    harness
        .request(
            Method::POST,
            "/v1/auth/passkey/login",
            None,
            Some(("application/json", b"{\"ceremony\": ".to_vec())),
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_json");
    post(&harness, "/v1/auth/passkey/options", None, json!({"user": "ada"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Two factors at once.
    post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": "x", "totp": "123456", "webauthn": {}}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // A step-up passkey without its ceremony.
    post(&harness, "/v1/auth/step-up", Some(&token), json!({"webauthn": {}}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // API keys do not register passkeys.
    harness
        .owner(Method::POST, "/v1/auth/passkeys/registration/options", Some(json!({})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn registering_a_passkey_lifts_the_mandatory_mfa_restriction() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    harness.clock.advance(Duration::days(3));
    let late = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(late.body["restricted"], true, "{}", late.body);
    let token = late.body["session_token"].as_str().unwrap().to_owned();
    harness
        .request(Method::GET, "/v1/organizations", Some(&token), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "mfa_enrolment_required");
    let (mut authenticator, _) = register(&harness, &token, "laptop").await;
    assert_eq!(
        harness.request(Method::GET, "/v1/organizations", Some(&token), None).await.status,
        StatusCode::OK
    );
    // Later logins: password then passkey, or the passkey alone, and never restricted.
    let answer = passwordless(&harness, &mut authenticator).await;
    assert_eq!(answer.body["restricted"], false, "{}", answer.body);
    assert!(answer.body.get("mfa_enrolment_due_at").is_none(), "{}", answer.body);
}

/// `POST /v1/auth/passkey/options` from a given client address.
async fn options_from(harness: &Harness, address: [u8; 4]) -> StatusCode {
    let body = json!({"email": "nobody@provider.example"}).to_string().into_bytes();
    harness
        .request_from(
            Some(address),
            Method::POST,
            "/v1/auth/passkey/options",
            None,
            Some(("application/json", body)),
        )
        .await
        .status
}

#[tokio::test]
async fn passwordless_options_draw_on_the_addresss_login_bucket() {
    let harness = Harness::new().await;
    let mut answered = Vec::new();
    for _ in 0..40 {
        answered.push(options_from(&harness, [203, 0, 113, 5]).await);
    }
    let first_refusal = answered.iter().position(|status| *status == StatusCode::TOO_MANY_REQUESTS);
    assert!(first_refusal.is_some_and(|n| n >= 10), "{answered:?}");
    assert!(answered[..first_refusal.unwrap()].iter().all(|status| *status == StatusCode::OK));
    assert_eq!(options_from(&harness, [203, 0, 113, 6]).await, StatusCode::OK, "another address");
}

async fn invitation_options(harness: &Harness, token: &str, display_name: &str) -> Answer {
    post(
        harness,
        "/v1/auth/invitations/passkey/options",
        None,
        json!({"token": token, "display_name": display_name}),
    )
    .await
}

async fn accept_with_passkey(harness: &Harness, token: &str, credential: &Value) -> Answer {
    post(
        harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "passkey": {"name": "phone", "credential": credential}}),
    )
    .await
}

#[tokio::test]
async fn an_invitation_is_accepted_with_a_passkey_and_no_password() {
    let harness = Harness::new().await;
    let email = "grace@provider.example";
    let uri = format!("/v1/organizations/{}/invitations", harness.provider_id);
    let invited = harness.owner(Method::POST, &uri, Some(json!({"email": email}))).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let token = mailed_token(&harness, email, "rampart_invite_");

    // A passkey the relying party refuses (another origin) uses up its registration and
    // leaves nothing behind: no account, and the invitation still open.
    let options = invitation_options(&harness, &token, "Grace").await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let mut impostor = Authenticator::new("https://elsewhere.example");
    let refused =
        accept_with_passkey(&harness, &token, &impostor.register(&options.body["options"])).await;
    refused.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(refused.body["detail"].as_str().unwrap().contains("the passkey was refused"));
    let mut authenticator = Authenticator::new(ORIGIN);
    let stale =
        accept_with_passkey(&harness, &token, &authenticator.register(&options.body["options"]))
            .await;
    stale.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(stale.body["detail"].as_str().unwrap().contains("ask for the options again"));
    let users_uri = format!("/v1/organizations/{}/users?limit=100", harness.provider_id);
    let users = harness.owner(Method::GET, &users_uri, None).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    assert!(!users.body.to_string().contains(email), "no account yet: {}", users.body);

    // Options name the invited address; asking again replaces the earlier ones.
    let first = invitation_options(&harness, &token, "Grace").await;
    let options = invitation_options(&harness, &token, "Grace").await;
    let public_key = &options.body["options"]["publicKey"];
    assert_eq!(public_key["user"]["name"], email, "{}", options.body);
    assert_eq!(public_key["user"]["displayName"], "Grace");
    assert_eq!(public_key["authenticatorSelection"]["userVerification"], "required");
    let replaced =
        accept_with_passkey(&harness, &token, &authenticator.register(&first.body["options"]))
            .await;
    replaced.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // Exactly one of a password and a passkey; a display name goes with the options.
    let options = invitation_options(&harness, &token, "Grace").await;
    authenticator.transports = vec!["hybrid", "carrier-pigeon", "internal", "hybrid"];
    let credential = authenticator.register(&options.body["options"]);
    let both = post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD, "passkey": {"credential": credential}}),
    )
    .await;
    both.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let named = post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "display_name": "G", "passkey": {"credential": credential}}),
    )
    .await;
    named.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let neither =
        post(&harness, "/v1/auth/invitations/accept", None, json!({"token": token})).await;
    neither.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // Garbage in place of the credential is refused before the registration is touched.
    for bad in [json!(null), json!("x"), json!({"id": "AAAA"}), json!({"response": [7]})] {
        let answer = accept_with_passkey(&harness, &token, &bad).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
        assert!(answer.body["detail"].as_str().unwrap().contains("not a WebAuthn registration"));
    }

    let accepted = accept_with_passkey(&harness, &token, &credential).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["email"], email);
    let user_id = accepted.body["user_id"].as_str().unwrap().to_owned();

    // The invitation is used up, for either kind of acceptance.
    invitation_options(&harness, &token, "Grace")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // No password: a password login fails like any other.
    let by_password = login(&harness, email, PASSWORD).await;
    assert_eq!(by_password.status, StatusCode::UNAUTHORIZED, "{}", by_password.body);

    // The passkey signs in, as a full (multi-factor) session, though MFA is mandatory here.
    let answer = passwordless(&harness, &mut authenticator).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["restricted"], false);
    let session = answer.body["session_token"].as_str().unwrap().to_owned();
    let listed = harness.request(Method::GET, "/v1/auth/passkeys", Some(&session), None).await;
    assert_eq!(listed.body[0]["name"], "phone", "{}", listed.body);

    // Options naming the account hand back the transports reported at registration: known
    // names only, each once, in the client's order.
    let options = login_options(&harness, Some(email)).await;
    let allowed = &options.body["options"]["publicKey"]["allowCredentials"];
    assert_eq!(allowed[0]["transports"], json!(["hybrid", "internal"]), "{allowed}");

    // The only way into the account stays.
    let id = listed.body[0]["id"].as_str().unwrap();
    harness
        .request(Method::DELETE, &format!("/v1/auth/passkeys/{id}"), Some(&session), None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");

    let created = audit_events(&harness, "user.create").await;
    let created = created.iter().find(|event| event["resource"]["id"] == user_id.as_str());
    let created = created.unwrap_or_else(|| panic!("no user.create for {user_id}"));
    assert_eq!(created["details"]["credential"], "passkey", "{created}");
    let registered = audit_events(&harness, "auth.passkey.register").await;
    assert!(
        registered.iter().any(|event| event["actor"]["id"] == user_id.as_str()),
        "{registered:?}"
    );
}

#[tokio::test]
async fn decoy_credentials_claim_the_transports_real_clients_report() {
    let harness = Harness::new().await;
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..40 {
        let options = login_options(&harness, Some(&format!("nobody{n}@provider.example"))).await;
        let entry = &options.body["options"]["publicKey"]["allowCredentials"][0];
        let transports = entry.get("transports").cloned().unwrap_or(json!([]));
        for name in transports.as_array().unwrap() {
            assert!(
                ["hybrid", "internal", "nfc", "usb"].contains(&name.as_str().unwrap()),
                "{entry}"
            );
        }
        seen.insert(transports.to_string());
    }
    assert!(seen.len() >= 4, "decoys should vary by address: {seen:?}");
}
