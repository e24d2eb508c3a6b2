//! Guests through the API as clients drive them: a host invites an account of another
//! organisation, the mailed link is accepted signed in as that account, the guest holds only
//! what the host's policies grant, and revocation, leaving, expiry and suspension at home end
//! it at once, each in the host's trail.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{Answer, Harness, call, create_customer, user_key};

const PASSWORD: &str = "correct horse battery staple";

/// Two customer organisations: the guests' home and the host, with its owner's key.
struct World {
    home: String,
    host: String,
    host_owner: String,
}

async fn world(harness: &Harness) -> World {
    let home = create_customer(harness, "Acme").await;
    let host = create_customer(harness, "Hosting").await;
    let (_, host_owner) =
        user_key(harness, &host, "owner@hosting.example", store::UserRole::Owner).await;
    World { home, host, host_owner }
}

async fn post(harness: &Harness, uri: &str, secret: Option<&str>, value: Value) -> Answer {
    let body = Some(("application/json", value.to_string().into_bytes()));
    harness.request(Method::POST, uri, secret, body).await
}

fn last_token(harness: &Harness, email: &str, prefix: &str) -> String {
    let mail = harness.mailer.sent().into_iter().rev().find(|mail| mail.to == email).unwrap();
    mail.body.split('"').find(|part| part.starts_with(prefix)).unwrap().to_owned()
}

/// A member of `organization` with a password, invited by the provider's owner; its id.
async fn member(harness: &Harness, organization: &str, email: &str) -> String {
    let uri = format!("/v1/organizations/{organization}/invitations");
    let invited = harness.owner(Method::POST, &uri, Some(json!({"email": email}))).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let token = last_token(harness, email, "rampart_invite_");
    let accepted = post(
        harness,
        "/v1/auth/invitations/accept",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    accepted.body["user_id"].as_str().unwrap().to_owned()
}

async fn session(harness: &Harness, email: &str) -> String {
    let answer =
        post(harness, "/v1/auth/login", None, json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["session_token"].as_str().unwrap().to_owned()
}

async fn invite(harness: &Harness, world: &World, email: &str, expires_at: Option<&str>) -> Answer {
    let mut body = json!({"email": email});
    if let Some(at) = expires_at {
        body["expires_at"] = json!(at);
    }
    let uri = format!("/v1/organizations/{}/guests", world.host);
    call(harness, Method::POST, &uri, &world.host_owner, Some(body)).await
}

/// Invite `email` into the host and accept with `session`; returns the acceptance.
async fn invite_and_accept(harness: &Harness, world: &World, email: &str, session: &str) -> Answer {
    let invited = invite(harness, world, email, None).await;
    assert_eq!(invited.status, StatusCode::ACCEPTED, "{}", invited.body);
    let token = last_token(harness, email, "rampart_guest_");
    post(harness, "/v1/guest-invitations/accept", Some(session), json!({"token": token})).await
}

async fn status(harness: &Harness, method: Method, uri: &str, secret: &str) -> StatusCode {
    let body = (method == Method::POST).then(|| json!({"name": "Intruder"}));
    call(harness, method, uri, secret, body).await.status
}

async fn grant(harness: &Harness, world: &World, user_id: &str, sets: &[&str]) {
    let answer = call(
        harness,
        Method::POST,
        &format!("/v1/organizations/{}/policies", world.host),
        &world.host_owner,
        Some(json!({
            "principal": {"type": "user", "id": user_id},
            "rules": [{"permission_sets": sets, "scope": "organization"}],
        })),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

/// The actions of the host's trail that start with `iam.guest.`, oldest first.
async fn guest_trail(harness: &Harness, world: &World) -> Vec<(String, String)> {
    let uri = format!("/v1/organizations/{}/audit/events?limit=200", world.host);
    let events = call(harness, Method::GET, &uri, &world.host_owner, None).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    let found: Vec<(String, String)> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["action"].as_str().is_some_and(|a| a.starts_with("iam.guest.")))
        .map(|item| {
            let outcome = item["outcome"].as_str().unwrap_or_default().to_owned();
            (item["action"].as_str().unwrap().to_owned(), outcome)
        })
        .collect();
    found
}

fn actions(trail: &[(String, String)]) -> Vec<&str> {
    let mut actions: Vec<&str> = trail.iter().map(|(action, _)| action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[tokio::test]
async fn a_guest_holds_only_what_the_host_grants_until_revoked() {
    let mut harness = Harness::new().await;
    harness.enable_credential_cache();
    let world = world(&harness).await;
    let ada_id = member(&harness, &world.home, "ada@acme.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let key = post(&harness, "/v1/api-keys", Some(&ada), json!({"description": "laptop"})).await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let key = key.body["secret"].as_str().unwrap().to_owned();
    let projects = format!("/v1/organizations/{}/projects", world.host);
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::FORBIDDEN);

    let invited = invite(&harness, &world, "ada@acme.example", None).await;
    assert_eq!(invited.status, StatusCode::ACCEPTED, "{}", invited.body);
    assert!(invited.body["invitation_expires_at"].is_string());
    let token = last_token(&harness, "ada@acme.example", "rampart_guest_");
    // Accepting takes a signed-in session, not a key.
    post(&harness, "/v1/guest-invitations/accept", Some(&key), json!({"token": token}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    post(&harness, "/v1/guest-invitations/accept", None, json!({"token": token}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let accepted =
        post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": token})).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["organization_id"], world.host.as_str());
    assert_eq!(accepted.body["user_id"], ada_id.as_str());

    // Her organisations: home first, then the host as a guest.
    let mine = call(&harness, Method::GET, "/v1/me/organizations", &ada, None).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let items = mine.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", mine.body);
    assert_eq!(
        (items[0]["id"].as_str(), items[0]["relation"].as_str()),
        (Some(world.home.as_str()), Some("home"))
    );
    assert_eq!(
        (items[1]["id"].as_str(), items[1]["role"].as_str()),
        (Some(world.host.as_str()), Some("guest"))
    );

    // A guest holds nothing until a policy grants it.
    for secret in [&ada, &key] {
        assert_eq!(status(&harness, Method::GET, &projects, secret).await, StatusCode::FORBIDDEN);
    }
    grant(&harness, &world, &ada_id, &["ReadOnly"]).await;
    for secret in [&ada, &key] {
        assert_eq!(status(&harness, Method::GET, &projects, secret).await, StatusCode::OK);
        assert_eq!(status(&harness, Method::POST, &projects, secret).await, StatusCode::FORBIDDEN);
    }
    // Other services asking the host's check API get the same answers.
    for (action, decision) in
        [("projects:projects:read", "allow"), ("projects:projects:write", "deny")]
    {
        let asked = call(
            &harness,
            Method::POST,
            "/v1/authorize",
            &world.host_owner,
            Some(json!({
                "principal": {"type": "user", "id": ada_id},
                "action": action,
                "resource": {"organization": world.host},
            })),
        )
        .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        assert_eq!(asked.body["decision"], decision, "{}", asked.body);
    }
    // The host lists her, marked as a guest.
    let uri = format!("/v1/organizations/{}/guests", world.host);
    let guests = call(&harness, Method::GET, &uri, &world.host_owner, None).await;
    assert_eq!(guests.status, StatusCode::OK, "{}", guests.body);
    assert_eq!(guests.body["items"][0]["user_id"], ada_id.as_str());
    assert_eq!(guests.body["items"][0]["role"], "guest");
    assert_eq!(guests.body["items"][0]["home_organization_id"], world.home.as_str());
    assert_eq!(guests.body["items"][0]["email"], "ada@acme.example");

    // An access review of the host shows her rule, marked as a guest's.
    let uri = format!("/v1/organizations/{}/access-reviews", world.host);
    let started = call(
        &harness,
        Method::POST,
        &uri,
        &world.host_owner,
        Some(json!({"name": "Guests", "scope": "organization"})),
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let campaign = started.body["id"].as_str().unwrap();
    let review =
        call(&harness, Method::GET, &format!("{uri}/{campaign}"), &world.host_owner, None).await;
    let item = review.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["principal"]["id"] == ada_id.as_str())
        .unwrap();
    assert_eq!(item["guest"], true, "{item}");

    // Revocation cuts the live session and the cached key at once; home is untouched.
    let uri = format!("/v1/organizations/{}/guests/{ada_id}", world.host);
    let revoked = call(&harness, Method::DELETE, &uri, &world.host_owner, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    for secret in [&ada, &key] {
        assert_eq!(status(&harness, Method::GET, &projects, secret).await, StatusCode::FORBIDDEN);
        let mine = call(&harness, Method::GET, "/v1/me/organizations", secret, None).await;
        assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    }
    let uri = format!("/v1/organizations/{}/guests/{ada_id}", world.host);
    call(&harness, Method::DELETE, &uri, &world.host_owner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    let trail = guest_trail(&harness, &world).await;
    assert_eq!(actions(&trail), ["iam.guest.accept", "iam.guest.invite", "iam.guest.revoke"]);
    assert!(trail.iter().all(|(_, outcome)| outcome == "success"), "{trail:?}");
}

#[tokio::test]
async fn suspension_at_home_ends_every_guest_membership() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    let ada_id = member(&harness, &world.home, "ada@acme.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let accepted = invite_and_accept(&harness, &world, "ada@acme.example", &ada).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    grant(&harness, &world, &ada_id, &["ReadOnly"]).await;
    let projects = format!("/v1/organizations/{}/projects", world.host);
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::OK);

    let uri = format!("/v1/organizations/{}/users/{ada_id}/suspend", world.home);
    assert_eq!(harness.owner(Method::POST, &uri, None).await.status, StatusCode::NO_CONTENT);
    let uri = format!("/v1/organizations/{}/guests", world.host);
    let guests = call(&harness, Method::GET, &uri, &world.host_owner, None).await;
    assert_eq!(guests.body["items"], json!([]));
    let trail = guest_trail(&harness, &world).await;
    assert!(trail.iter().any(|(action, _)| action == "iam.guest.revoke"), "{trail:?}");

    // Reactivated at home, she is not a guest any more, nor holds the old grant.
    let uri = format!("/v1/organizations/{}/users/{ada_id}/reactivate", world.home);
    assert_eq!(harness.owner(Method::POST, &uri, None).await.status, StatusCode::NO_CONTENT);
    let ada = session(&harness, "ada@acme.example").await;
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::FORBIDDEN);
    let mine = call(&harness, Method::GET, "/v1/me/organizations", &ada, None).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_invitation_works_once_for_its_account_and_for_72_hours() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    member(&harness, &world.home, "ada@acme.example").await;
    member(&harness, &world.home, "bob@acme.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let bob = session(&harness, "bob@acme.example").await;

    let invited = invite(&harness, &world, "ada@acme.example", None).await;
    assert_eq!(invited.status, StatusCode::ACCEPTED);
    let token = last_token(&harness, "ada@acme.example", "rampart_guest_");
    // Someone else's link.
    post(&harness, "/v1/guest-invitations/accept", Some(&bob), json!({"token": token}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let accepted =
        post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": token})).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    // Used.
    post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": token}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": "rampart_guest_x"}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    // Expired.
    let invited = invite(&harness, &world, "bob@acme.example", None).await;
    assert_eq!(invited.status, StatusCode::ACCEPTED);
    let token = last_token(&harness, "bob@acme.example", "rampart_guest_");
    harness.clock.advance(Duration::hours(73));
    let bob = session(&harness, "bob@acme.example").await;
    post(&harness, "/v1/guest-invitations/accept", Some(&bob), json!({"token": token}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");

    let trail = guest_trail(&harness, &world).await;
    assert!(
        trail.iter().any(|(action, outcome)| action == "iam.guest.accept" && outcome == "denied"),
        "{trail:?}"
    );
}

#[tokio::test]
async fn invitations_refuse_members_and_guests_and_say_nothing_of_strangers() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    member(&harness, &world.home, "ada@acme.example").await;
    member(&harness, &world.host, "carol@hosting.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let n_mails = harness.mailer.sent().len();

    let stranger = invite(&harness, &world, "nobody@nowhere.example", None).await;
    let known = invite(&harness, &world, "ada@acme.example", None).await;
    assert_eq!((stranger.status, known.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(stranger.body["invitation_expires_at"], known.body["invitation_expires_at"]);
    // Only the existing account got a link.
    assert_eq!(harness.mailer.sent().len(), n_mails + 1);

    invite(&harness, &world, "carol@hosting.example", None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    let token = last_token(&harness, "ada@acme.example", "rampart_guest_");
    let accepted =
        post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": token})).await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    invite(&harness, &world, "ada@acme.example", None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    invite(&harness, &world, "not an address", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    invite(&harness, &world, "ada@acme.example", Some("2020-01-01T00:00:00Z"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn a_guest_cannot_invite_even_when_granted_iam() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    let ada_id = member(&harness, &world.home, "ada@acme.example").await;
    member(&harness, &world.home, "bob@acme.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let accepted = invite_and_accept(&harness, &world, "ada@acme.example", &ada).await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    grant(&harness, &world, &ada_id, &["IAMManager"]).await;
    // Granted reads work…
    let uri = format!("/v1/organizations/{}/guests", world.host);
    assert_eq!(call(&harness, Method::GET, &uri, &ada, None).await.status, StatusCode::OK);
    // …but never an invitation, of a guest or of a member.
    post(&harness, &uri, Some(&ada), json!({"email": "bob@acme.example"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let uri = format!("/v1/organizations/{}/invitations", world.host);
    post(&harness, &uri, Some(&ada), json!({"email": "new@hosting.example"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let trail = guest_trail(&harness, &world).await;
    assert_eq!(actions(&trail), ["iam.guest.accept", "iam.guest.invite"]);
}

#[tokio::test]
async fn an_outsider_is_refused_everywhere_in_another_organization() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    let (_, outsider) =
        user_key(&harness, &world.home, "owner@acme.example", store::UserRole::Owner).await;
    let host = &world.host;
    for (method, uri) in [
        (Method::GET, format!("/v1/organizations/{host}")),
        (Method::GET, format!("/v1/organizations/{host}/projects")),
        (Method::POST, format!("/v1/organizations/{host}/projects")),
        (Method::GET, format!("/v1/organizations/{host}/users")),
        (Method::GET, format!("/v1/organizations/{host}/guests")),
        (Method::GET, format!("/v1/organizations/{host}/authorization")),
        (Method::GET, format!("/v1/organizations/{host}/audit/events")),
        (Method::GET, format!("/v1/organizations/{host}/access-reviews")),
    ] {
        let answer = call(
            &harness,
            method.clone(),
            &uri,
            &outsider,
            (method == Method::POST).then(|| json!({"name": "Intruder"})),
        )
        .await;
        answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    post(
        &harness,
        &format!("/v1/organizations/{host}/guests"),
        Some(&outsider),
        json!({"email": "owner@acme.example"}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Leaving an organisation one is not a guest of.
    call(&harness, Method::DELETE, &format!("/v1/me/organizations/{host}"), &outsider, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_guest_leaves_and_a_membership_expires() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    let ada_id = member(&harness, &world.home, "ada@acme.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let accepted = invite_and_accept(&harness, &world, "ada@acme.example", &ada).await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    grant(&harness, &world, &ada_id, &["ReadOnly"]).await;
    let projects = format!("/v1/organizations/{}/projects", world.host);
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::OK);
    // Her own organisation cannot be left.
    call(&harness, Method::DELETE, &format!("/v1/me/organizations/{}", world.home), &ada, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    let left =
        call(&harness, Method::DELETE, &format!("/v1/me/organizations/{}", world.host), &ada, None)
            .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::FORBIDDEN);

    // Invited again, for a day.
    let invited = invite(&harness, &world, "ada@acme.example", Some("2026-03-02T09:00:00Z")).await;
    assert_eq!(invited.status, StatusCode::ACCEPTED, "{}", invited.body);
    let token = last_token(&harness, "ada@acme.example", "rampart_guest_");
    let accepted =
        post(&harness, "/v1/guest-invitations/accept", Some(&ada), json!({"token": token})).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["expires_at"], "2026-03-02T09:00:00Z");
    // The old grant went with the old membership.
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::FORBIDDEN);
    grant(&harness, &world, &ada_id, &["ReadOnly"]).await;
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::OK);
    let uri = format!("/v1/organizations/{}/guests", world.host);
    let guests = call(&harness, Method::GET, &uri, &world.host_owner, None).await;
    assert_eq!(guests.body["items"][0]["expires_at"], "2026-03-02T09:00:00Z");

    // Past its expiry, it grants nothing, even before the sweep records its end.
    harness.clock.advance(Duration::days(1) + Duration::minutes(1));
    let ada = session(&harness, "ada@acme.example").await;
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::FORBIDDEN);
    assert_eq!(harness.app.expire_guests().await.unwrap(), 1);
    assert_eq!(harness.app.expire_guests().await.unwrap(), 0);
    let trail = guest_trail(&harness, &world).await;
    assert_eq!(
        actions(&trail),
        ["iam.guest.accept", "iam.guest.expire", "iam.guest.invite", "iam.guest.leave"]
    );
}

#[tokio::test]
async fn a_cedar_policy_grants_every_guest_and_only_guests() {
    let harness = Harness::new().await;
    let world = world(&harness).await;
    member(&harness, &world.home, "ada@acme.example").await;
    member(&harness, &world.home, "bob@acme.example").await;
    member(&harness, &world.host, "carol@hosting.example").await;
    let ada = session(&harness, "ada@acme.example").await;
    let bob = session(&harness, "bob@acme.example").await;
    let carol = session(&harness, "carol@hosting.example").await;
    for (email, secret) in [("ada@acme.example", &ada), ("bob@acme.example", &bob)] {
        let accepted = invite_and_accept(&harness, &world, email, secret).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    }
    let text = r#"permit (principal is Rampart::User, action == Rampart::Action::"projects:projects:read", resource) when { principal.role == "guest" };"#;
    let created = call(
        &harness,
        Method::POST,
        &format!("/v1/organizations/{}/cedar-policies", world.host),
        &world.host_owner,
        Some(json!({"text": text})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let projects = format!("/v1/organizations/{}/projects", world.host);
    assert_eq!(status(&harness, Method::GET, &projects, &ada).await, StatusCode::OK);
    assert_eq!(status(&harness, Method::GET, &projects, &bob).await, StatusCode::OK);
    assert_eq!(status(&harness, Method::POST, &projects, &bob).await, StatusCode::FORBIDDEN);
    // A member of the host is no guest.
    assert_eq!(status(&harness, Method::GET, &projects, &carol).await, StatusCode::FORBIDDEN);
    // Nor is anyone in their home organisation.
    let home_projects = format!("/v1/organizations/{}/projects", world.home);
    assert_eq!(status(&harness, Method::GET, &home_projects, &ada).await, StatusCode::FORBIDDEN);
}
