//! Identity against the real binary: an invitation delivered to the mail outbox, accepted,
//! then a password login whose session works and is refused after logout.

use crate::testkit::{Instance, client};

#[tokio::test]
async fn an_invitation_from_the_outbox_leads_to_a_working_session() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
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
    assert!(mail.starts_with("To: ada@provider.example\r\n"), "{mail}");
    let token = mail.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap();

    let password = "correct horse battery staple";
    let accepted = http
        .post(server.url("/v1/auth/invitations/accept"))
        .json(&serde_json::json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 201);
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
