//! Alert notifications end to end: the real binary, configured with SMTP in clear text to a
//! loopback relay and with private webhook targets allowed, notifies the high alert twenty
//! wrong passwords raise to a local HTTP receiver (a Slack-compatible JSON body whose signature verifies with the secret shown
//! at creation) and, through a tiny SMTP server written here, by email; both deliveries are
//! in the log.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::testkit::{BINARY, Instance, Server, client};

/// An HTTP receiver on loopback: every POST to `/hook` is handed over with its headers.
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{address}/hook"), receiver)
}

/// Just enough SMTP (RFC 5321) to take messages: greeting, EHLO, MAIL, RCPT, DATA, QUIT. Each
/// message is handed over as (recipients, data).
async fn smtp_server() -> (u16, mpsc::UnboundedReceiver<(Vec<String>, String)>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let sender = sender.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test.local ESMTP\r\n").await.unwrap();
                let mut recipients = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" | "HELO" => "250 test.local\r\n".to_owned(),
                        "MAIL" | "RSET" | "NOOP" => "250 OK\r\n".to_owned(),
                        "RCPT" => {
                            let address = line.split(['<', '>']).nth(1).unwrap_or("").to_owned();
                            recipients.push(address);
                            "250 OK\r\n".to_owned()
                        }
                        "DATA" => {
                            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                                data.push('\n');
                            }
                            let _ = sender.send((std::mem::take(&mut recipients), data));
                            "250 queued\r\n".to_owned()
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => "502 not implemented\r\n".to_owned(),
                    };
                    write.write_all(answer.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, receiver)
}

async fn next_within<T>(receiver: &mut mpsc::UnboundedReceiver<T>, seconds: u64) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), receiver.recv())
        .await
        .expect("nothing arrived in time")
        .expect("the receiver stopped")
}

fn verify(signature: &str, body: &[u8], secret: &str) {
    let (timestamp, mac) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("malformed signature {signature:?}"));
    #[allow(clippy::disallowed_methods, reason = "the signature's time is the wall clock's")]
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let age = now - timestamp.parse::<i64>().unwrap();
    assert!((0..120).contains(&age), "a fresh timestamp: {age} s old");
    let mut expected = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).unwrap();
    expected.update(format!("{timestamp}.").as_bytes());
    expected.update(body);
    expected.verify_slice(&hex::decode(mac).unwrap()).expect("the signature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_alert_is_posted_signed_to_a_webhook_and_mailed_over_smtp() {
    let (hook_url, mut hooks) = webhook_receiver().await;
    let (smtp_port, mut mails) = smtp_server().await;
    let instance = Instance::sqlite();
    let (provider, key) = instance.init();
    let config = instance.directory.path().join("rampart.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nmail = \"smtp\"\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
             from = \"Rampart <rampart@provider.example>\"\n\
             [notifications]\nallow_private_targets = true\nallow_http = true\nretry_seconds = 1\n"
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(BINARY);
    command
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_clear()
        .envs(instance.environment.iter().cloned());
    let server = Server::start(command);
    let http = client();
    let organization = |rest: &str| server.url(&format!("/v1/organizations/{provider}{rest}"));

    let created = http
        .post(organization("/notification-channels"))
        .bearer_auth(&key)
        .json(&json!({"name": "SOC", "kind": "webhook", "url": hook_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let created = http
        .post(organization("/notification-channels"))
        .bearer_auth(&key)
        .json(&json!({"name": "SOC mail", "kind": "email", "recipients": ["soc@provider.example"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // Twenty wrong passwords on twenty names without an account, from one address: credential
    // stuffing (ATT&CK T1110.004), high.
    for n in 0..20 {
        let answer = http
            .post(server.url("/v1/auth/login"))
            .json(&json!({"email": format!("user{n}@provider.example"),
                          "password": "not the password at all"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }

    // The webhook: Slack-compatible, signed, with the alert's facts and a delivery id. (The
    // alert on the owner `init` created may come first, when detection first ran after the
    // channel was created.)
    let guessing = |body: &[u8]| {
        let json: Value = serde_json::from_slice(body).unwrap();
        json["rampart"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tag| tag.as_str().unwrap().starts_with("attack.t1110"))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (headers, body) = loop {
        assert!(Instant::now() < deadline, "no notification of the password-guessing alert");
        let (headers, body) = next_within(&mut hooks, 60).await;
        if guessing(&body) {
            break (headers, body);
        }
    };
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap();
    assert_eq!(header("content-type"), "application/json");
    verify(header("rampart-signature"), &body, &secret);
    let body: Value = serde_json::from_slice(&body).unwrap();
    let title = body["rampart"]["title"].as_str().unwrap().to_owned();
    assert!(title.contains("Brute Force") || title.contains("Credential Stuffing"), "{body}");
    assert!(body["text"].as_str().unwrap().contains(&title), "{body}");
    assert_eq!(body["rampart"]["level"], "high");
    assert_eq!(body["rampart"]["author"], "Rampart");
    assert_eq!(body["rampart"]["organization"]["id"], provider);
    assert_eq!(body["rampart"]["delivery_id"], header("rampart-delivery"));
    let techniques = body["rampart"]["attack"].as_array().unwrap();
    assert!(techniques.iter().any(|t| t.as_str().unwrap().starts_with("T1110")), "{body}");

    // The email, through the SMTP server.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (recipients, data) = loop {
        assert!(Instant::now() < deadline, "no alert email");
        let (recipients, data) = next_within(&mut mails, 60).await;
        if recipients == ["soc@provider.example"] && data.contains(&title) {
            break (recipients, data);
        }
    };
    assert_eq!(recipients, ["soc@provider.example"]);
    assert!(data.contains("From: Rampart <rampart@provider.example>"), "{data}");
    assert!(data.contains("Rule author:   Rampart"), "{data}");

    // Both deliveries are logged.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log: Vec<Value> = http
            .get(organization("/notification-deliveries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let delivered = |channel: &str| {
            log.iter().any(|entry| entry["channel"] == channel && entry["delivered"] == true)
        };
        if delivered("webhook") && delivered("email") {
            assert!(log.iter().any(|entry| entry["target"] == "127.0.0.1"), "{log:?}");
            break;
        }
        assert!(Instant::now() < deadline, "deliveries not logged: {log:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
}
