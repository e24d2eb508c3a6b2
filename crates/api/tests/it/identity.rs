//! Identity through the API as a client drives it: invitation, password login, sessions and
//! their expiry, lockout, TOTP and recovery codes, step-up, and suspension cutting off live
//! credentials at once.

use axum::http::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::harness::{Answer, Harness};

pub const PASSWORD: &str = "correct horse battery staple";

fn body(value: serde_json::Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

pub async fn post(
    harness: &Harness,
    uri: &str,
    secret: Option<&str>,
    value: serde_json::Value,
) -> Answer {
    harness.request(Method::POST, uri, secret, body(value)).await
}

/// Invite `email` into the provider organisation and accept; returns the new user's id.
pub async fn join(harness: &Harness, email: &str) -> String {
    let uri = format!("/v1/organizations/{}/invitations", harness.provider_id);
    let invited = harness.owner(Method::POST, &uri, Some(json!({"email": email}))).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let mail = harness.mailer.sent().into_iter().rev().find(|mail| mail.to == email).unwrap();
    let token =
        mail.body.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap().to_owned();

    let weak = post(
        harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": "short"}),
    )
    .await;
    weak.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(weak.body["detail"].as_str().unwrap().contains("at least 15"));
    let accepted = post(
        harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD, "display_name": "Ada"}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let again = post(
        harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    again.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    accepted.body["user_id"].as_str().unwrap().to_owned()
}

pub async fn login(harness: &Harness, email: &str, password: &str) -> Answer {
    post(harness, "/v1/auth/login", None, json!({"email": email, "password": password})).await
}

pub async fn session(harness: &Harness, email: &str) -> String {
    let answer = login(harness, email, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["session_token"].as_str().unwrap().to_owned()
}

async fn me(harness: &Harness, secret: &str) -> StatusCode {
    harness.request(Method::GET, "/v1/auth/sessions", Some(secret), None).await.status
}

#[tokio::test]
async fn an_invited_user_logs_in_and_uses_a_session() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let answer = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK);
    let cookie = answer.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let token = answer.body["session_token"].as_str().unwrap();
    let sessions = harness.request(Method::GET, "/v1/auth/sessions", Some(token), None).await;
    assert_eq!(sessions.body[0]["current"], true);

    assert_eq!(
        harness.request(Method::POST, "/v1/auth/logout", Some(token), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&harness, token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_look_the_same_whatever_the_reason() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let wrong_password =
        login(&harness, "ada@provider.example", "not the right password at all").await;
    let unknown = login(&harness, "nobody@provider.example", "not the right password at all").await;
    wrong_password.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!((wrong_password.status, &wrong_password.body), (unknown.status, &unknown.body));
    // Both are in the provider's trail.
    let failures = harness
        .owner(
            Method::GET,
            &format!(
                "/v1/organizations/{}/audit/events?action=auth.login&outcome=failed",
                harness.provider_id
            ),
            None,
        )
        .await;
    let reasons: Vec<&str> = failures.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["unknown_account", "wrong_password"]);
}

#[tokio::test]
async fn repeated_failures_slow_down_then_lock_the_account_until_the_lock_expires() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    for _ in 0..4 {
        login(&harness, "ada@provider.example", "wrong wrong wrong wrong").await;
    }
    // Past the free failures, the next attempt must wait: it is not even evaluated.
    let hurried = login(&harness, "ada@provider.example", PASSWORD).await;
    hurried.assert_problem(StatusCode::TOO_MANY_REQUESTS, "throttled");
    for _ in 4..10 {
        harness.clock.advance(Duration::seconds(31));
        login(&harness, "ada@provider.example", "wrong wrong wrong wrong").await;
    }
    // Locked: even the right password is refused, with the same answer as a wrong one.
    login(&harness, "ada@provider.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    harness.clock.advance(Duration::minutes(14));
    login(&harness, "ada@provider.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    harness.clock.advance(Duration::minutes(2));
    assert_eq!(login(&harness, "ada@provider.example", PASSWORD).await.status, StatusCode::OK);
    // The same delays apply to an address with no account: throttling reveals nothing.
    for _ in 0..4 {
        login(&harness, "nobody@provider.example", "wrong wrong wrong wrong").await;
    }
    login(&harness, "nobody@provider.example", "wrong wrong wrong wrong")
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "throttled");
    let locks = harness
        .owner(
            Method::GET,
            &format!(
                "/v1/organizations/{}/audit/events?action=auth.account.lock",
                harness.provider_id
            ),
            None,
        )
        .await;
    assert_eq!(locks.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_session_ends_when_idle_and_at_its_absolute_lifetime() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    harness.clock.advance(Duration::minutes(29));
    assert_eq!(me(&harness, &token).await, StatusCode::OK);
    harness.clock.advance(Duration::minutes(31));
    assert_eq!(me(&harness, &token).await, StatusCode::UNAUTHORIZED);

    let token = session(&harness, "ada@provider.example").await;
    for _ in 0..25 {
        harness.clock.advance(Duration::minutes(29));
        if me(&harness, &token).await != StatusCode::OK {
            break;
        }
    }
    // Kept busy, it still ends 12 hours after login.
    assert_eq!(me(&harness, &token).await, StatusCode::UNAUTHORIZED);
}

fn totp_from_uri(uri: &str) -> iam::totp::Totp {
    let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    let secret = iam::totp::TotpSecret::from_base32(secret).unwrap();
    iam::totp::Totp::new(secret, iam::totp::TotpConfig::default()).unwrap()
}

fn code(harness: &Harness, totp: &iam::totp::Totp) -> String {
    use base::Clock as _;
    totp.code_at(harness.clock.now().unix_timestamp() as u64).unwrap()
}

#[tokio::test]
async fn totp_and_recovery_codes_guard_the_login_and_codes_work_once() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let enrolment = harness.request(Method::POST, "/v1/auth/mfa/totp", Some(&token), None).await;
    assert_eq!(enrolment.status, StatusCode::OK, "{}", enrolment.body);
    let uri = enrolment.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Rampart:ada%40provider.example?secret="), "{uri}");
    assert!(enrolment.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let totp = totp_from_uri(uri);
    let confirmed = post(
        &harness,
        "/v1/auth/mfa/totp/confirm",
        Some(&token),
        json!({"code": code(&harness, &totp)}),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let recovery: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);

    harness.clock.advance(Duration::seconds(30));
    let first = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(first.body["mfa_required"], true, "{}", first.body);
    let mfa_token = first.body["mfa_token"].as_str().unwrap().to_owned();
    let current = code(&harness, &totp);
    let done = post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": mfa_token, "totp": current}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // The same code again (replay) and the same challenge again are refused.
    let again = login(&harness, "ada@provider.example", PASSWORD).await;
    let replay = post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": again.body["mfa_token"], "totp": current}),
    )
    .await;
    replay.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let reused = post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": mfa_token, "totp": current}),
    )
    .await;
    reused.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // A recovery code works once.
    let with_code = |mfa: serde_json::Value| json!({"mfa_token": mfa, "recovery_code": recovery[3].to_lowercase()});
    let attempt = login(&harness, "ada@provider.example", PASSWORD).await;
    let recovered =
        post(&harness, "/v1/auth/login/mfa", None, with_code(attempt.body["mfa_token"].clone()))
            .await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);
    let attempt = login(&harness, "ada@provider.example", PASSWORD).await;
    post(&harness, "/v1/auth/login/mfa", None, with_code(attempt.body["mfa_token"].clone()))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // The challenge expires.
    let attempt = login(&harness, "ada@provider.example", PASSWORD).await;
    harness.clock.advance(Duration::minutes(6));
    let late = post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": attempt.body["mfa_token"], "totp": code(&harness, &totp)}),
    )
    .await;
    late.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn sensitive_actions_need_a_recent_authentication() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    harness.clock.advance(Duration::minutes(11));
    let stale = harness.request(Method::POST, "/v1/auth/mfa/totp", Some(&token), None).await;
    stale.assert_problem(StatusCode::FORBIDDEN, "step_up_required");
    post(
        &harness,
        "/v1/auth/step-up",
        Some(&token),
        json!({"password": "wrong wrong wrong wrong"}),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let stepped =
        post(&harness, "/v1/auth/step-up", Some(&token), json!({"password": PASSWORD})).await;
    assert_eq!(stepped.status, StatusCode::NO_CONTENT, "{}", stepped.body);
    assert_eq!(
        harness.request(Method::POST, "/v1/auth/mfa/totp", Some(&token), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn suspension_cuts_off_a_live_session_and_api_key_at_once() {
    let mut harness = Harness::new().await;
    harness.enable_credential_cache();
    let user_id = join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let key = post(&harness, "/v1/api-keys", Some(&token), json!({"description": "laptop"})).await;
    let key = key.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(me(&harness, &token).await, StatusCode::OK);
    assert_eq!(me(&harness, &key).await, StatusCode::OK); // now cached

    let suspend = format!("/v1/organizations/{}/users/{user_id}/suspend", harness.provider_id);
    assert_eq!(harness.owner(Method::POST, &suspend, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&harness, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&harness, &key).await, StatusCode::UNAUTHORIZED);
    login(&harness, "ada@provider.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Reactivated, the user logs in again; the old credentials stay dead.
    let reactivate =
        format!("/v1/organizations/{}/users/{user_id}/reactivate", harness.provider_id);
    assert_eq!(harness.owner(Method::POST, &reactivate, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&harness, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&harness, &key).await, StatusCode::UNAUTHORIZED);
    session(&harness, "ada@provider.example").await;

    // Deleted: personal data erased, the trail kept.
    let delete = format!("/v1/organizations/{}/users/{user_id}", harness.provider_id);
    assert_eq!(harness.owner(Method::DELETE, &delete, None).await.status, StatusCode::NO_CONTENT);
    let users = harness
        .owner(Method::GET, &format!("/v1/organizations/{}/users", harness.provider_id), None)
        .await;
    assert!(
        users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|user| user["email"] != "ada@provider.example")
    );
    login(&harness, "ada@provider.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_cookie_session_needs_its_csrf_token_to_change_anything() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let answer = login(&harness, "ada@provider.example", PASSWORD).await;
    let token = answer.body["session_token"].as_str().unwrap();
    let csrf = answer.body["csrf_token"].as_str().unwrap();
    let request = |with_csrf: bool| {
        let mut builder = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/api-keys")
            .header("cookie", format!("theme=dark; rampart_session={token}"))
            .header("content-type", "application/json");
        if with_csrf {
            builder = builder.header("x-csrf-token", csrf);
        }
        builder.body(axum::body::Body::from("{}")).unwrap()
    };
    use tower::ServiceExt as _;
    let refused = harness.router.clone().oneshot(request(false)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let accepted = harness.router.clone().oneshot(request(true)).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn bad_identity_input_is_refused_cleanly() {
    let harness = Harness::new().await;
    let uri = format!("/v1/organizations/{}/invitations", harness.provider_id);
    harness
        .owner(Method::POST, &uri, Some(json!({"email": "not-an-email"})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::POST, &uri, Some(json!({"email": "a@b.example", "role": "god"})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::POST, &uri, Some(json!({"email": "owner@provider.example"})))
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": "rampart_invite_nope", "password": PASSWORD}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post(&harness, "/v1/auth/login", None, json!({"email": "x", "password": "y".repeat(5000)}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    post(
        &harness,
        "/v1/auth/login/mfa",
        None,
        json!({"mfa_token": "x", "totp": "1", "recovery_code": "2"}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    // API keys cannot step up or log out: they are not sessions.
    harness
        .owner(Method::POST, "/v1/auth/logout", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn staff_must_enrol_a_second_factor_after_the_grace_period() {
    let harness = Harness::new().await;
    join(&harness, "ada@provider.example").await;
    let early = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(early.body["restricted"], false);
    assert!(early.body["mfa_enrolment_due_at"].is_string(), "{}", early.body);

    harness.clock.advance(Duration::days(3));
    let late = login(&harness, "ada@provider.example", PASSWORD).await;
    assert_eq!(late.body["restricted"], true, "{}", late.body);
    let token = late.body["session_token"].as_str().unwrap().to_owned();
    harness
        .request(Method::GET, "/v1/organizations", Some(&token), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "mfa_enrolment_required");

    let enrolment = harness.request(Method::POST, "/v1/auth/mfa/totp", Some(&token), None).await;
    let totp = totp_from_uri(enrolment.body["otpauth_uri"].as_str().unwrap());
    let confirmed = post(
        &harness,
        "/v1/auth/mfa/totp/confirm",
        Some(&token),
        json!({"code": code(&harness, &totp)}),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(
        harness.request(Method::GET, "/v1/organizations", Some(&token), None).await.status,
        StatusCode::OK
    );
}

pub fn mailed_token(harness: &Harness, to: &str, prefix: &str) -> String {
    let mail = harness.mailer.sent().into_iter().rev().find(|mail| mail.to == to).unwrap();
    mail.body
        .split('"')
        .find(|part| part.starts_with(prefix))
        .unwrap_or_else(|| panic!("{}", mail.body))
        .to_owned()
}

#[tokio::test]
async fn a_customer_signs_up_verifies_the_address_then_logs_in() {
    let harness = Harness::new().await;
    let signup = json!({"organization_name": "Globex", "email": "hank@globex.example", "password": PASSWORD});
    let answer = post(&harness, "/v1/auth/signup", None, signup.clone()).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    // Not verified yet: no login.
    login(&harness, "hank@globex.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let token = mailed_token(&harness, "hank@globex.example", "rampart_verify_");
    assert_eq!(
        post(&harness, "/v1/auth/signup/verify", None, json!({"token": token})).await.status,
        StatusCode::NO_CONTENT
    );
    post(&harness, "/v1/auth/signup/verify", None, json!({"token": token}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let session = session(&harness, "hank@globex.example").await;
    let organizations =
        harness.request(Method::GET, "/v1/organizations", Some(&session), None).await;
    assert_eq!(organizations.body["items"][0]["name"], "Globex");

    // The same address again answers the same, and mails its owner instead.
    let again = post(
        &harness,
        "/v1/auth/signup",
        None,
        json!({"organization_name": "Other", "email": "hank@globex.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!((again.status, &again.body), (answer.status, &answer.body));
    assert!(harness.mailer.sent().last().unwrap().subject.contains("Sign-up attempt"));
    post(&harness, "/v1/auth/signup", None, json!({"organization_name": "Weak", "email": "w@weak.example", "password": "password123456789"}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn sign_ups_are_rate_limited_per_source_address() {
    let harness = Harness::new().await;
    let mut statuses = Vec::new();
    for n in 0..7 {
        let signup = json!({"organization_name": format!("Org {n}"), "email": format!("u{n}@x{n}.example"), "password": PASSWORD});
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/auth/signup")
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [198, 51, 100, 9],
                4000,
            ))))
            .body(axum::body::Body::from(signup.to_string()))
            .unwrap();
        use tower::ServiceExt as _;
        statuses.push(harness.router.clone().oneshot(request).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429, 429]);
}

#[tokio::test]
async fn a_password_reset_link_works_once_ends_sessions_and_keeps_mfa() {
    let harness = Harness::new().await;
    let user_id = join(&harness, "ada@provider.example").await;
    let live = session(&harness, "ada@provider.example").await;
    let unknown = post(
        &harness,
        "/v1/auth/password-reset",
        None,
        json!({"email": "nobody@provider.example"}),
    )
    .await;
    let known =
        post(&harness, "/v1/auth/password-reset", None, json!({"email": "ada@provider.example"}))
            .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let token = mailed_token(&harness, "ada@provider.example", "rampart_reset_");
    let new_password = "a completely different passphrase";
    let done = post(
        &harness,
        "/v1/auth/password-reset/complete",
        None,
        json!({"token": token, "password": new_password}),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    post(
        &harness,
        "/v1/auth/password-reset/complete",
        None,
        json!({"token": token, "password": new_password}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(me(&harness, &live).await, StatusCode::UNAUTHORIZED);
    login(&harness, "ada@provider.example", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(login(&harness, "ada@provider.example", new_password).await.status, StatusCode::OK);

    // An administrator can send the link, never choose the password; links expire.
    let uri = format!("/v1/organizations/{}/users/{user_id}/password-reset", harness.provider_id);
    assert_eq!(harness.owner(Method::POST, &uri, None).await.status, StatusCode::NO_CONTENT);
    let token = mailed_token(&harness, "ada@provider.example", "rampart_reset_");
    harness.clock.advance(Duration::minutes(31));
    post(
        &harness,
        "/v1/auth/password-reset/complete",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn keys_are_listed_without_secrets_expire_and_an_owner_ends_anyones_sessions() {
    let harness = Harness::new().await;
    let user_id = join(&harness, "ada@provider.example").await;
    let token = session(&harness, "ada@provider.example").await;
    let soon = "2026-03-02T09:00:00Z";
    let created = post(
        &harness,
        "/v1/api-keys",
        Some(&token),
        json!({"description": "ci", "expires_at": soon}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["secret"].as_str().unwrap().to_owned();
    let listed = harness.request(Method::GET, "/v1/api-keys", Some(&token), None).await;
    assert_eq!(listed.body[0]["description"], "ci");
    assert_eq!(listed.body[0]["expires_at"], soon);
    assert!(!listed.body.to_string().contains(&key), "a listing never holds a secret");
    post(&harness, "/v1/api-keys", Some(&token), json!({"expires_at": "2020-01-01T00:00:00Z"}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    harness.clock.advance(Duration::hours(25));
    assert_eq!(me(&harness, &key).await, StatusCode::UNAUTHORIZED, "expired");

    let token = session(&harness, "ada@provider.example").await;
    let uri = format!("/v1/organizations/{}/users/{user_id}/sessions", harness.provider_id);
    let ended = harness.owner(Method::DELETE, &uri, None).await;
    // Both sessions are marked ended: the live one and the one that had timed out.
    assert_eq!(ended.body["sessions_ended"], 2, "{}", ended.body);
    assert_eq!(me(&harness, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_organization_can_require_a_second_factor_of_every_member() {
    let harness = Harness::new().await;
    let acme =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    let acme_id = acme.body["id"].as_str().unwrap().to_owned();
    assert_eq!(acme.body["mfa_required"], false);
    let patched = harness
        .owner(
            Method::PATCH,
            &format!("/v1/organizations/{acme_id}"),
            Some(json!({"mfa_required": true})),
        )
        .await;
    assert_eq!(patched.body["mfa_required"], true, "{}", patched.body);
    harness
        .owner(Method::PATCH, &format!("/v1/organizations/{acme_id}"), Some(json!({})))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // A member of that organisation may choose an 8-character password (MFA is enforced) and
    // is told to enrol a second factor.
    let uri = format!("/v1/organizations/{acme_id}/invitations");
    assert_eq!(
        harness.owner(Method::POST, &uri, Some(json!({"email": "bob@acme.example"}))).await.status,
        StatusCode::CREATED
    );
    let token = mailed_token(&harness, "bob@acme.example", "rampart_invite_");
    let accepted = post(
        &harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": "Kx9#mQ2$vL7w"}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let answer = login(&harness, "bob@acme.example", "Kx9#mQ2$vL7w").await;
    assert!(answer.body["mfa_enrolment_due_at"].is_string(), "{}", answer.body);
    let trail = harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{acme_id}/audit/events?action=organization.mfa"),
            None,
        )
        .await;
    assert_eq!(trail.body["items"][0]["privileged"], true);
}

/// A GET with a bearer secret from a given client address.
async fn get_from(harness: &Harness, address: [u8; 4], uri: &str, secret: &str) -> StatusCode {
    harness.request_from(Some(address), Method::GET, uri, Some(secret), None).await.status
}

#[tokio::test]
async fn a_key_names_a_default_project_and_shows_where_it_was_last_used() {
    let harness = Harness::new().await;
    let projects = format!("/v1/organizations/{}/projects", harness.provider_id);
    let project = harness.owner(Method::POST, &projects, Some(json!({"name": "billing"}))).await;
    assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
    let project_id = project.body["id"].as_str().unwrap().to_owned();

    let created = harness
        .owner(Method::POST, "/v1/api-keys", Some(json!({"default_project": project_id})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let unknown = harness
        .owner(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"default_project": "0190a5e2-7c3b-7d4e-8f00-aabbccddeeff"})),
        )
        .await;
    unknown.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(unknown.body["detail"].as_str().unwrap().starts_with("default_project"));

    let listed = |secret: String| {
        let harness = &harness;
        async move {
            let answer = harness.request(Method::GET, "/v1/api-keys", Some(&secret), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            let access_key = secret.clone();
            answer
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|key| key["default_project"].is_string() || access_key.is_empty())
                .cloned()
                .unwrap()
        }
    };
    let key = listed(secret.clone()).await;
    assert_eq!(key["default_project"], project_id.as_str());
    assert_eq!(key["last_used_ip"], serde_json::Value::Null);

    assert_eq!(get_from(&harness, [10, 0, 0, 7], "/v1/api-keys", &secret).await, StatusCode::OK);
    assert_eq!(listed(secret.clone()).await["last_used_ip"], "10.0.0.7");
    // A new address is recorded at once, even within the minute the time is kept to.
    harness.clock.advance(Duration::seconds(5));
    assert_eq!(get_from(&harness, [192, 0, 2, 9], "/v1/api-keys", &secret).await, StatusCode::OK);
    let key = listed(secret.clone()).await;
    assert_eq!(key["last_used_ip"], "192.0.2.9");
    assert!(!key.to_string().contains(&secret));

    // Deleting the project leaves the key without a default project.
    let deleted = harness.owner(Method::DELETE, &format!("{projects}/{project_id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let answer = harness.request(Method::GET, "/v1/api-keys", Some(&secret), None).await;
    assert!(answer.body.as_array().unwrap().iter().all(|key| key["default_project"].is_null()));
}
