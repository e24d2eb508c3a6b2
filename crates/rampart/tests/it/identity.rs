//! Identity against the real binary: an invitation delivered to the mail outbox, accepted,
//! then a password login whose session works and is refused after logout; passkeys bound to
//! the configured relying party.

use crate::testkit::{Instance, client};

#[tokio::test]
async fn an_invitation_from_the_outbox_leads_to_a_working_session() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
    let http = client();
    let password = "correct horse battery staple";
    invite_and_accept(
        &instance,
        &server,
        (&organization_id, &secret),
        "ada@provider.example",
        password,
    )
    .await;
    let login: serde_json::Value = http
        .post(server.url("/v1/auth/login"))
        .json(&serde_json::json!({"email": "ada@provider.example", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = login["session_token"].as_str().unwrap();
    let sessions =
        http.get(server.url("/v1/auth/sessions")).bearer_auth(session).send().await.unwrap();
    assert_eq!(sessions.status(), 200);
    let logout =
        http.post(server.url("/v1/auth/logout")).bearer_auth(session).send().await.unwrap();
    assert_eq!(logout.status(), 204);
    let after =
        http.get(server.url("/v1/auth/sessions")).bearer_auth(session).send().await.unwrap();
    assert_eq!(after.status(), 401);
}

/// Accept an invitation for `email` with `password` (the mail is the outbox's newest).
async fn invite_and_accept(
    instance: &Instance,
    server: &crate::testkit::Server,
    (organization_id, secret): (&str, &str),
    email: &str,
    password: &str,
) {
    let http = client();
    let invited = http
        .post(server.url(&format!("/v1/organizations/{organization_id}/invitations")))
        .bearer_auth(secret)
        .json(&serde_json::json!({"email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);
    let outbox = instance.directory.path().join("data").join("outbox");
    let mail = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    let mail = std::fs::read_to_string(mail).unwrap();
    let token = mail.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap();
    let accepted = http
        .post(server.url("/v1/auth/invitations/accept"))
        .json(&serde_json::json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 201, "{}", accepted.text().await.unwrap());
}

async fn login_status(server: &crate::testkit::Server, email: &str, password: &str) -> u16 {
    client()
        .post(server.url("/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_peppered_password_verifies_only_with_its_pepper_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let pepper = instance.directory.path().join("pepper");
    std::fs::write(&pepper, "p1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = instance.directory.path().join("rampart.toml");
    std::fs::write(
        &config,
        format!("[passwords]\npepper_file = {:?}\n", pepper.display().to_string()),
    )
    .unwrap();
    let with_pepper = ["serve", "--config", config.to_str().unwrap()];

    let server = crate::testkit::Server::start(instance.command(&with_pepper));
    let password = "correct horse battery staple";
    invite_and_accept(
        &instance,
        &server,
        (&organization_id, &secret),
        "ada@provider.example",
        password,
    )
    .await;
    assert_eq!(login_status(&server, "ada@provider.example", password).await, 200);
    assert_eq!(login_status(&server, "ada@provider.example", "wrong horse").await, 401);
    drop(server);

    // Without the pepper the stored hash cannot be verified: an error, never a login.
    let server = instance.serve();
    assert_eq!(login_status(&server, "ada@provider.example", password).await, 500);
    drop(server);

    // A pepper file others can read stops start-up and says what to do.
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = instance.run(&with_pepper, None);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("chmod 600"), "{message}");
}

#[tokio::test]
async fn a_password_listed_in_the_configured_breach_ranges_is_refused() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    // SHA-1("a leaked but long passphrase") = B7482266BA0826DCCCA11522F238CE084729A662.
    let ranges = instance.directory.path().join("ranges");
    std::fs::create_dir(&ranges).unwrap();
    std::fs::write(ranges.join("B7482.txt"), "266BA0826DCCCA11522F238CE084729A662:17\n").unwrap();
    let config = instance.directory.path().join("rampart.toml");
    let text = format!("[passwords]\nbreached_ranges_dir = {:?}\n", ranges.display().to_string());
    std::fs::write(&config, text).unwrap();
    let server = crate::testkit::Server::start(instance.command(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
    ]));
    let http = client();
    let invited = http
        .post(server.url(&format!("/v1/organizations/{organization_id}/invitations")))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"email": "ada@provider.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);
    let outbox = instance.directory.path().join("data").join("outbox");
    let mail = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    let mail = std::fs::read_to_string(mail).unwrap();
    let token = mail.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap();
    let accept = |password: &'static str| {
        http.post(server.url("/v1/auth/invitations/accept"))
            .json(&serde_json::json!({"token": token, "password": password}))
            .send()
    };
    let refused = accept("a leaked but long passphrase").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("breached"));
    // The invitation is still usable with a password not in the ranges.
    assert_eq!(accept("correct horse battery staple").await.unwrap().status(), 201);
}

#[tokio::test]
async fn passkeys_follow_the_configured_relying_party() {
    let http = client();
    let options = |server: &crate::testkit::Server| {
        http.post(server.url("/v1/auth/passkey/options")).json(&serde_json::json!({})).send()
    };

    // The default public URL is an address: passkeys are off, and say so.
    let instance = Instance::sqlite();
    instance.init();
    let server = instance.serve();
    let off = options(&server).await.unwrap();
    assert_eq!(off.status(), 409);
    let problem: serde_json::Value = off.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("passkeys are not enabled"), "{problem}");
    drop(server);

    let instance = Instance::sqlite();
    instance.init();
    let server = instance.serve_with_config(
        "[auth]\npublic_url = \"https://rampart.example.com\"\n\
         [passkeys]\nrp_id = \"example.com\"\n",
    );
    let on = options(&server).await.unwrap();
    assert_eq!(on.status(), 200);
    let body: serde_json::Value = on.json().await.unwrap();
    assert_eq!(body["options"]["publicKey"]["rpId"], "example.com", "{body}");

    // An origin outside the relying party stops the start with a message naming the key.
    let path = instance.directory.path().join("bad.toml");
    std::fs::write(
        &path,
        "[passkeys]\nrp_id = \"example.com\"\norigins = [\"https://evil.example\"]\n",
    )
    .unwrap();
    let output = instance.run(&["serve", "--config", &path.display().to_string()], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`passkeys`"), "{stderr}");
}
