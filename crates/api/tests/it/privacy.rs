//! Information protection through the API: pseudonymisation domains whose keys are generated,
//! sealed and never shown; pseudonyms, FF1 and tokens made with the newest key; rotation
//! keeping old tokens readable; re-identification behind a recent authentication and audited
//! with the count only; PII detection; bad input changing nothing; refusals.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use privacy::key::{KeyVersion, RootKey};
use privacy::pseudonym::{PseudonymFormat, Pseudonymizer};
use serde_json::{Value, json};
use store::{PseudonymRepository as _, UserRole};
use time::Duration;

use crate::harness::{Answer, Harness, MASTER_KEY, call, create_customer, user_key};

struct Org {
    id: String,
    owner: String,
    member_id: String,
    member: String,
}

impl Org {
    async fn new(harness: &Harness, name: &str) -> Self {
        let id = create_customer(harness, name).await;
        let lower = name.to_lowercase();
        let (_, owner) =
            user_key(harness, &id, &format!("owner@{lower}.example"), UserRole::Owner).await;
        let (member_id, member) =
            user_key(harness, &id, &format!("member@{lower}.example"), UserRole::Member).await;
        Self { id, owner, member_id, member }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.id)
    }

    async fn post(&self, harness: &Harness, rest: &str, body: Value) -> Answer {
        call(harness, Method::POST, &self.path(rest), &self.owner, Some(body)).await
    }
}

/// The root key of each version of a domain, opened from the store with the test master key.
async fn root_keys(harness: &Harness, organization_id: &str, domain: &str) -> Vec<[u8; 32]> {
    let organization_id: base::OrganizationId = organization_id.parse().unwrap();
    let mut read = harness.app.store().read().await.unwrap();
    let record = read.get_pseudonym_domain(organization_id, domain).await.unwrap().unwrap();
    let keys = read.list_pseudonym_keys(record.id).await.unwrap();
    read.commit().await.unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&MASTER_KEY).unwrap();
    keys.iter()
        .map(|key| {
            let aad = [
                b"rampart-pseudonym-key/1".as_slice(),
                record.id.as_bytes(),
                &key.version.to_be_bytes(),
            ]
            .concat();
            let (nonce, sealed) = key.sealed_key.split_at(12);
            let opened = cipher
                .decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
                .unwrap();
            assert_ne!(opened.as_slice(), &key.sealed_key[..], "stored sealed, not in the clear");
            opened.try_into().unwrap()
        })
        .collect()
}

/// Every text form of the key a response could leak.
fn key_forms(key: &[u8]) -> Vec<String> {
    let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        base64::engine::general_purpose::STANDARD.encode(key),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
        format!("{key:?}"),
    ]
}

fn assert_no_key(text: &str, keys: &[[u8; 32]]) {
    for key in keys {
        for form in key_forms(key) {
            assert!(!text.contains(&form), "a key appears in {text}");
        }
    }
}

#[tokio::test]
async fn domains_pseudonymise_tokenise_rotate_and_never_show_their_keys() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let mut answers: Vec<String> = Vec::new();

    let created =
        acme.post(&harness, "/pseudonymization-domains", json!({"name": "customers"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["current_key_version"], 1);
    assert_eq!(created.body["key_versions"].as_array().unwrap().len(), 1);
    answers.push(created.body.to_string());
    let other = acme.post(&harness, "/pseudonymization-domains", json!({"name": "staff"})).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);

    // HMAC pseudonyms: deterministic, versioned, and the HMAC of the stored key.
    let values = json!(["ada@example.org", "grace@example.org", "ada@example.org"]);
    let hmac = acme
        .post(&harness, "/pseudonymize", json!({"domain": "customers", "values": values}))
        .await;
    assert_eq!(hmac.status, StatusCode::OK, "{}", hmac.body);
    answers.push(hmac.body.to_string());
    let outputs: Vec<String> = serde_json::from_value(hmac.body["outputs"].clone()).unwrap();
    assert_eq!(outputs[0], outputs[2]);
    assert_ne!(outputs[0], outputs[1]);
    let keys = root_keys(&harness, &acme.id, "customers").await;
    let root = RootKey::from_bytes(&keys[0]).unwrap();
    let format = PseudonymFormat { with_version: true, ..PseudonymFormat::default() };
    let expected = Pseudonymizer::new(&root, KeyVersion(1), "customers", format).unwrap();
    assert_eq!(outputs[0], expected.pseudonymize(b"ada@example.org"));
    assert!(outputs[0].starts_with("v1:") && outputs[0].len() == 3 + 32, "{}", outputs[0]);
    let staff = acme
        .post(&harness, "/pseudonymize", json!({"domain": "staff", "values": ["ada@example.org"]}))
        .await;
    assert_ne!(staff.body["outputs"][0], outputs[0].as_str(), "domains do not join");
    let short = acme
        .post(
            &harness,
            "/pseudonymize",
            json!({"domain": "customers", "encoding": "base32", "length": 12, "values": ["x"]}),
        )
        .await;
    assert_eq!(short.status, StatusCode::OK, "{}", short.body);
    assert_eq!(short.body["outputs"][0].as_str().unwrap().len(), 3 + 12);

    // FF1 keeps the shape; a card keeps a valid check digit.
    let ff1 = acme
        .post(
            &harness,
            "/pseudonymize",
            json!({"domain": "customers", "method": "ff1", "format": "card",
                   "keep_leading_digits": 6, "values": ["4111 1111 1111 1111"]}),
        )
        .await;
    assert_eq!(ff1.status, StatusCode::OK, "{}", ff1.body);
    let card = ff1.body["outputs"][0].as_str().unwrap();
    assert!(card.starts_with("4111 11") && card.len() == 19, "{card}");
    assert_ne!(card, "4111 1111 1111 1111");
    let digits: Vec<u8> = card.bytes().filter(u8::is_ascii_digit).collect();
    assert!(privacy::checksum::luhn_valid(&digits), "{card}");
    answers.push(ff1.body.to_string());

    // Tokens from key version 1, then a rotation: new tokens are version 2, both read back.
    let tokens_v1 = acme
        .post(
            &harness,
            "/pseudonymize",
            json!({"domain": "customers", "method": "token", "values": ["Ada Lovelace", "é"]}),
        )
        .await;
    assert_eq!(tokens_v1.status, StatusCode::OK, "{}", tokens_v1.body);
    answers.push(tokens_v1.body.to_string());
    let rotated =
        acme.post(&harness, "/pseudonymization-domains/customers/rotate-key", json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.body["current_key_version"], 2);
    assert_eq!(rotated.body["key_versions"].as_array().unwrap().len(), 2);
    answers.push(rotated.body.to_string());
    let tokens_v2 = acme
        .post(
            &harness,
            "/pseudonymize",
            json!({"domain": "customers", "method": "token", "values": ["Grace Hopper"]}),
        )
        .await;
    assert_eq!(tokens_v2.body["key_version"], 2);
    let token_v1 = tokens_v1.body["outputs"][0].as_str().unwrap();
    let token_v2 = tokens_v2.body["outputs"][0].as_str().unwrap();
    assert!(token_v1.starts_with("tok1_") && token_v2.starts_with("tok2_"));
    let back = acme
        .post(
            &harness,
            "/reidentify",
            json!({"domain": "customers", "tokens": [token_v2, token_v1, tokens_v1.body["outputs"][1]]}),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["values"], json!(["Grace Hopper", "Ada Lovelace", "é"]));
    let elsewhere =
        acme.post(&harness, "/reidentify", json!({"domain": "staff", "tokens": [token_v1]})).await;
    elsewhere.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(!elsewhere.body.to_string().contains(token_v1));

    let listed =
        call(&harness, Method::GET, &acme.path("/pseudonymization-domains"), &acme.owner, None)
            .await;
    assert_eq!(listed.status, StatusCode::OK);
    let names: Vec<&str> =
        listed.body.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["customers", "staff"]);
    answers.push(listed.body.to_string());

    // The audit trail: counts, never values or tokens; re-identification marked privileged.
    let events =
        call(&harness, Method::GET, &acme.path("/audit/events?limit=100"), &acme.owner, None).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    let trail = events.body.to_string();
    assert!(trail.contains("privacy.reidentify") && trail.contains("privacy.domain.rotate_key"));
    for secret in
        ["Ada Lovelace", "Grace Hopper", "ada@example.org", token_v1, "4111 1111 1111 1111"]
    {
        assert!(!trail.contains(secret), "{secret} in the audit trail");
    }
    answers.push(trail);

    let mut all_keys = root_keys(&harness, &acme.id, "customers").await;
    all_keys.extend(root_keys(&harness, &acme.id, "staff").await);
    assert_eq!(all_keys.len(), 3);
    for answer in &answers {
        assert_no_key(answer, &all_keys);
    }
}

#[tokio::test]
async fn bad_input_answers_a_problem_and_changes_nothing() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let created =
        acme.post(&harness, "/pseudonymization-domains", json!({"name": "customers"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let before = harness.n_audit_events(&acme.id).await;
    let many: Vec<String> = (0..1_001).map(|n| n.to_string()).collect();
    let long = "x".repeat(4_097);
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        ("/pseudonymization-domains", json!({"name": ""}), StatusCode::BAD_REQUEST),
        ("/pseudonymization-domains", json!({"name": "Customers"}), StatusCode::BAD_REQUEST),
        ("/pseudonymization-domains", json!({"name": "a b"}), StatusCode::BAD_REQUEST),
        ("/pseudonymization-domains", json!({"name": "x".repeat(65)}), StatusCode::BAD_REQUEST),
        ("/pseudonymization-domains", json!({"name": "customers"}), StatusCode::CONFLICT),
        (
            "/pseudonymization-domains",
            json!({"name": "ok", "key": "00"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/pseudonymization-domains/nope/rotate-key", json!({}), StatusCode::NOT_FOUND),
        ("/pseudonymize", json!({"domain": "nope", "values": ["a"]}), StatusCode::NOT_FOUND),
        ("/pseudonymize", json!({"domain": "customers", "values": []}), StatusCode::BAD_REQUEST),
        ("/pseudonymize", json!({"domain": "customers", "values": many}), StatusCode::BAD_REQUEST),
        (
            "/pseudonymize",
            json!({"domain": "customers", "values": [long]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "method": "md5", "values": ["a"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "length": 4, "values": ["a"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "encoding": "rot13", "values": ["a"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "method": "ff1", "values": ["123456"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "method": "ff1", "format": "digits", "values": ["12345"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "method": "ff1", "format": "iban", "values": ["not an iban"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/pseudonymize",
            json!({"domain": "customers", "method": "token", "length": 8, "values": ["a"]}),
            StatusCode::BAD_REQUEST,
        ),
        ("/reidentify", json!({"domain": "customers", "tokens": []}), StatusCode::BAD_REQUEST),
        (
            "/reidentify",
            json!({"domain": "customers", "tokens": ["hello"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/reidentify",
            json!({"domain": "customers", "tokens": ["tok9_AAAAAAAAAAAAAAAAAAAAAAAA"]}),
            StatusCode::BAD_REQUEST,
        ),
        ("/reidentify", json!({"domain": "nope", "tokens": ["tok1_AAAA"]}), StatusCode::NOT_FOUND),
        ("/pii/scan", json!({"text": "y".repeat(256 * 1024 + 1)}), StatusCode::BAD_REQUEST),
        ("/pii/scan", json!({"txt": "a"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("/pii/columns", json!({"samples": vec!["a"; 1_001]}), StatusCode::BAD_REQUEST),
        ("/pii/columns", json!({"samples": "a"}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (path, body, status) in cases {
        let answer = acme.post(&harness, path, body.clone()).await;
        let code = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            _ => "invalid_input",
        };
        assert_eq!(answer.status, status, "{path} {body}: {}", answer.body);
        answer.assert_problem(status, code);
    }
    assert_eq!(harness.n_audit_events(&acme.id).await, before, "bad input changed nothing");
    let listed =
        call(&harness, Method::GET, &acme.path("/pseudonymization-domains"), &acme.owner, None)
            .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["current_key_version"], 1);
}

#[tokio::test]
async fn members_without_a_policy_are_refused_and_other_organisations_are_out_of_reach() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let other = Org::new(&harness, "Other").await;
    let created =
        acme.post(&harness, "/pseudonymization-domains", json!({"name": "customers"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = acme
        .post(
            &harness,
            "/pseudonymize",
            json!({"domain": "customers", "method": "token", "values": ["v"]}),
        )
        .await
        .body["outputs"][0]
        .clone();
    let requests: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/pseudonymization-domains", None),
        (Method::POST, "/pseudonymization-domains", Some(json!({"name": "mine"}))),
        (Method::POST, "/pseudonymization-domains/customers/rotate-key", Some(json!({}))),
        (Method::POST, "/pseudonymize", Some(json!({"domain": "customers", "values": ["v"]}))),
        (Method::POST, "/reidentify", Some(json!({"domain": "customers", "tokens": [token]}))),
        (Method::POST, "/pii/scan", Some(json!({"text": "ada@example.org"}))),
        (Method::POST, "/pii/columns", Some(json!({"samples": ["ada@example.org"]}))),
    ];
    for (method, path, body) in requests {
        for secret in [&acme.member, &other.owner] {
            let answer =
                call(&harness, method.clone(), &acme.path(path), secret, body.clone()).await;
            answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
            assert!(!answer.body.to_string().contains("\"v\""), "{}", answer.body);
        }
    }
    let listed =
        call(&harness, Method::GET, &acme.path("/pseudonymization-domains"), &acme.owner, None)
            .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["current_key_version"], 1);

    // A PrivacyOfficer policy lets the member in, re-identification included (API keys
    // cannot step up; their use is audited).
    let policy = acme
        .post(
            &harness,
            "/policies",
            json!({"principal": {"type": "user", "id": acme.member_id},
                   "rules": [{"permission_sets": ["PrivacyOfficer"], "scope": "organization"}]}),
        )
        .await;
    assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
    let back = call(
        &harness,
        Method::POST,
        &acme.path("/reidentify"),
        &acme.member,
        Some(json!({"domain": "customers", "tokens": [token]})),
    )
    .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["values"], json!(["v"]));
}

#[tokio::test]
async fn reidentification_from_a_session_needs_a_recent_authentication() {
    const PASSWORD: &str = "correct horse battery staple";
    let harness = Harness::new().await;
    let provider = format!("/v1/organizations/{}", harness.provider_id);
    let invited = harness
        .owner(
            Method::POST,
            &format!("{provider}/invitations"),
            Some(json!({"email": "dpo@provider.example", "role": "owner"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let mail = harness
        .mailer
        .sent()
        .into_iter()
        .rev()
        .find(|mail| mail.to == "dpo@provider.example")
        .unwrap();
    let invitation =
        mail.body.split('"').find(|part| part.starts_with("rampart_invite_")).unwrap().to_owned();
    let body = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    let accepted = harness
        .request(
            Method::POST,
            "/v1/auth/invitations/accept",
            None,
            body(json!({"token": invitation, "password": PASSWORD, "display_name": "Dpo"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let login = harness
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            body(json!({"email": "dpo@provider.example", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let session = login.body["session_token"].as_str().unwrap().to_owned();

    let domain = harness
        .owner(
            Method::POST,
            &format!("{provider}/pseudonymization-domains"),
            Some(json!({"name": "staff"})),
        )
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.body);
    let made = harness
        .owner(
            Method::POST,
            &format!("{provider}/pseudonymize"),
            Some(json!({"domain": "staff", "method": "token", "values": ["Ada"]})),
        )
        .await;
    let reidentify = json!({"domain": "staff", "tokens": [made.body["outputs"][0]]});

    harness.clock.advance(Duration::minutes(11));
    let before = harness.n_audit_events(&harness.provider_id).await;
    let stale = call(
        &harness,
        Method::POST,
        &format!("{provider}/reidentify"),
        &session,
        Some(reidentify.clone()),
    )
    .await;
    stale.assert_problem(StatusCode::FORBIDDEN, "step_up_required");
    assert!(!stale.body.to_string().contains("Ada"));
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before);
    let stepped = call(
        &harness,
        Method::POST,
        "/v1/auth/step-up",
        &session,
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(stepped.status, StatusCode::NO_CONTENT, "{}", stepped.body);
    let fresh =
        call(&harness, Method::POST, &format!("{provider}/reidentify"), &session, Some(reidentify))
            .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["values"], json!(["Ada"]));
}

#[tokio::test]
async fn pii_scans_give_spans_and_column_verdicts_without_values() {
    let harness = Harness::new().await;
    let acme = Org::new(&harness, "Acme").await;
    let text = "Write to ada@example.org, IBAN FR76 3000 6000 0112 3456 7890 189.";
    let scan = acme.post(&harness, "/pii/scan", json!({"text": text})).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    let findings = scan.body["findings"].as_array().unwrap();
    let spans: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|finding| {
            let start = finding["start"].as_u64().unwrap() as usize;
            let end = finding["end"].as_u64().unwrap() as usize;
            (
                finding["kind"].as_str().unwrap(),
                finding["basis"].as_str().unwrap(),
                &text[start..end],
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("email", "pattern", "ada@example.org"),
            ("iban", "checksum", "FR76 3000 6000 0112 3456 7890 189")
        ]
    );
    assert!(!scan.body.to_string().contains("ada@example.org"), "values are not echoed");
    assert!((findings[1]["confidence"].as_f64().unwrap() - 0.95).abs() < 1e-6);

    let empty = acme.post(&harness, "/pii/scan", json!({"text": "nothing personal here"})).await;
    assert_eq!(empty.body["findings"], json!([]));

    let emails = acme
        .post(
            &harness,
            "/pii/columns",
            json!({"column_name": "contact", "samples": ["ada@example.org", "", "grace@example.org", "n/a"]}),
        )
        .await;
    assert_eq!(emails.status, StatusCode::OK, "{}", emails.body);
    assert_eq!(
        emails.body,
        json!({"personal": true, "non_empty": 3, "matching": 2,
               "evidence": [{"kind": "email", "samples": 2}]})
    );
    let dates = ["1980-03-12", "1975-11-02"];
    let birth = acme
        .post(&harness, "/pii/columns", json!({"column_name": "birth_date", "samples": dates}))
        .await;
    assert_eq!(birth.body["personal"], true, "{}", birth.body);
    let created = acme
        .post(&harness, "/pii/columns", json!({"column_name": "created_on", "samples": dates}))
        .await;
    assert_eq!(created.body["personal"], false, "{}", created.body);
    assert!(!birth.body.to_string().contains("1980"));
}
