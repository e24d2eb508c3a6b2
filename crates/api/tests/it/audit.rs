//! The audit log through the API: entries for every change, proofs that verify against the
//! signed checkpoint, exports that verify offline, erasure, and the integrity check.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use crate::harness::Harness;

async fn public_key(harness: &Harness) -> String {
    let (status, key) = harness.owner_text("/v1/audit/public-key").await;
    assert_eq!(status, StatusCode::OK);
    key.trim().to_owned()
}

fn hash(text: &serde_json::Value) -> [u8; 32] {
    BASE64.decode(text.as_str().unwrap()).unwrap().try_into().unwrap()
}

#[tokio::test]
async fn every_change_and_refusal_is_an_entry_and_reading_the_log_is_one_too() {
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let projects = format!("/v1/organizations/{provider}/projects");
    harness.owner(Method::POST, &projects, Some(json!({"name": "web"}))).await;
    harness.owner(Method::POST, &projects, Some(json!({"name": "WEB"}))).await; // conflict: no entry

    let events = harness
        .owner(Method::GET, &format!("/v1/organizations/{provider}/audit/events"), None)
        .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    let items = events.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|item| item["action"].as_str().unwrap()).collect();
    // Newest first: the read itself, the project, the key rotation, then init's three.
    assert_eq!(
        actions,
        [
            "audit.events.read",
            "project.create",
            "audit.signing_key.rotate",
            "api_key.create",
            "user.create",
            "organization.create"
        ]
    );
    let read = &items[0];
    assert_eq!(read["privileged"], true);
    assert_eq!(read["actor"]["kind"], "staff");
    assert!(read["actor"]["credential"].as_str().unwrap().starts_with("api_key:"));
    assert_eq!(read["actor"]["label"], "owner@provider.example");
    assert_eq!(items[1]["details"]["name"], "web");

    let filtered = harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{provider}/audit/events?action=project.&limit=1"),
            None,
        )
        .await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);
    let privileged = harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{provider}/audit/events?privileged=false"),
            None,
        )
        .await;
    assert!(
        privileged.body["items"].as_array().unwrap().iter().all(|item| item["privileged"] == false)
    );
    harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{provider}/audit/events?outcome=maybe&colour=1"),
            None,
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

/// RFC 9162's tree hash of leaf hashes, written from its definition (section 2.1.1).
fn rfc_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if let [leaf] = leaves {
        return *leaf;
    }
    let split = leaves.len().next_power_of_two() / 2;
    audit::merkle::node_hash(&rfc_root(&leaves[..split]), &rfc_root(&leaves[split..]))
}

/// Proofs are served from full tiles kept in memory once read: past 1,024 entries both tile
/// levels have full tiles, and every proof, first read or cached, must verify.
#[tokio::test]
async fn proofs_from_cached_tiles_verify_at_every_index_and_size() {
    use app::AuditTrail as _;
    use base::Clock as _;
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let key = audit::NoteVerifier::from_verifier_key(&public_key(&harness).await).unwrap();
    let base = format!("/v1/organizations/{provider}/audit");
    let events: Vec<base::AuditEvent> = (0..2_100)
        .map(|n| base::AuditEvent {
            organization_id: provider.parse().unwrap(),
            time: harness.clock.now(),
            actor: base::Actor::System,
            action: "test.fill".into(),
            resource: base::Resource::new("item", n),
            outcome: base::Outcome::Success,
            context: base::RequestContext::default(),
            privileged: false,
            details: serde_json::Map::new(),
        })
        .collect();
    let mut transaction = harness.app.store().begin().await.unwrap();
    transaction.append_audit_events(&events).await.unwrap();
    transaction.commit().await.unwrap();

    let export = harness.owner_text(&format!("{base}/export")).await.1;
    let mut leaves = Vec::new();
    for line in export.lines().filter(|line| line.contains("\"type\":\"entry\"")) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        leaves.push(audit::merkle::leaf_hash(
            &BASE64.decode(line["leaf"].as_str().unwrap()).unwrap(),
        ));
    }
    let (_, note) = harness.owner_text(&format!("{base}/checkpoint")).await;
    let checkpoint = audit::note::open(&note, &key, None).unwrap();
    assert_eq!(leaves.len() as u64, checkpoint.size);
    // Sizes on and off tile boundaries; each index twice, so the second is answered from
    // the tiles the first kept.
    for size in [33, 1_024, 1_057, 2_048, checkpoint.size] {
        let root = rfc_root(&leaves[..size as usize]);
        for index in (0..size).step_by(37).chain([size - 1]) {
            for round in 0..2 {
                let answer = harness
                    .owner(
                        Method::GET,
                        &format!("{base}/proof/inclusion?index={index}&size={size}"),
                        None,
                    )
                    .await;
                let proof: Vec<[u8; 32]> =
                    answer.body["proof"].as_array().unwrap().iter().map(hash).collect();
                audit::merkle::verify_inclusion(
                    index,
                    size,
                    &leaves[index as usize],
                    &proof,
                    &root,
                )
                .unwrap_or_else(|error| panic!("entry {index} of {size}, round {round}: {error}"));
            }
        }
    }
}

#[tokio::test]
async fn inclusion_and_consistency_proofs_verify_against_signed_checkpoints() {
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let key = audit::NoteVerifier::from_verifier_key(&public_key(&harness).await).unwrap();
    let base = format!("/v1/organizations/{provider}/audit");

    let (_, first_note) = harness.owner_text(&format!("{base}/checkpoint")).await;
    let first = audit::note::open(&first_note, &key, None).unwrap();
    assert_eq!(first.origin, format!("rampart/audit/{provider}"));
    for name in ["a", "b", "c"] {
        harness
            .owner(
                Method::POST,
                &format!("/v1/organizations/{provider}/projects"),
                Some(json!({"name": name})),
            )
            .await;
    }
    let (_, second_note) = harness.owner_text(&format!("{base}/checkpoint")).await;
    let second = audit::note::open(&second_note, &key, None).unwrap();
    assert_eq!(second.size, first.size + 3);

    // Each entry is in the signed tree.
    let export = harness.owner_text(&format!("{base}/export?to_index={}", second.size)).await.1;
    for line in export.lines().filter(|line| line.contains("\"type\":\"entry\"")) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let index = line["index"].as_u64().unwrap();
        let leaf = BASE64.decode(line["leaf"].as_str().unwrap()).unwrap();
        let proof = harness
            .owner(
                Method::GET,
                &format!("{base}/proof/inclusion?index={index}&size={}", second.size),
                None,
            )
            .await;
        let proof: Vec<[u8; 32]> =
            proof.body["proof"].as_array().unwrap().iter().map(hash).collect();
        audit::merkle::verify_inclusion(
            index,
            second.size,
            &audit::merkle::leaf_hash(&leaf),
            &proof,
            &second.root,
        )
        .unwrap_or_else(|error| panic!("entry {index}: {error}"));
    }
    let consistency = harness
        .owner(
            Method::GET,
            &format!("{base}/proof/consistency?from={}&to={}", first.size, second.size),
            None,
        )
        .await;
    let proof: Vec<[u8; 32]> =
        consistency.body["proof"].as_array().unwrap().iter().map(hash).collect();
    audit::merkle::verify_consistency(first.size, second.size, &proof, &first.root, &second.root)
        .unwrap();

    harness
        .owner(Method::GET, &format!("{base}/proof/inclusion?index=5&size=5000"), None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::GET, &format!("{base}/proof/consistency?from=0&to=1"), None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn an_export_verifies_offline_and_still_does_after_erasure() {
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let key = public_key(&harness).await;
    let base = format!("/v1/organizations/{provider}/audit");
    harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{provider}/projects"),
            Some(json!({"name": "p"})),
        )
        .await;

    let (status, export) = harness.owner_text(&format!("{base}/export")).await;
    assert_eq!(status, StatusCode::OK);
    let checkpoint = trailer_checkpoint(&export);
    let summary = audit::export::verify_export(export.as_bytes(), &checkpoint, &key, None).unwrap();
    assert_eq!(summary.erased_fields, 0);

    // Erase the personal fields of the project's entry (it holds the owner's email).
    let events =
        harness.owner(Method::GET, &format!("{base}/events?action=project.create"), None).await;
    let index = events.body["items"][0]["index"].as_u64().unwrap();
    let erased = harness.owner(Method::POST, &format!("{base}/entries/{index}/erase"), None).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert!(erased.body["erased_fields"].as_u64().unwrap() >= 1);

    let (_, after) = harness.owner_text(&format!("{base}/export")).await;
    let summary = audit::export::verify_export(
        after.as_bytes(),
        &trailer_checkpoint(&after),
        &key,
        Some(&checkpoint),
    )
    .unwrap();
    assert!(summary.erased_fields >= 1);
    let line = after.lines().find(|line| line.contains(&format!("\"index\":{index},"))).unwrap();
    assert!(!line.contains("owner@provider.example"), "{line}");
    let events =
        harness.owner(Method::GET, &format!("{base}/events?action=project.create"), None).await;
    assert!(events.body["items"][0]["actor"]["label"].is_null());
    assert!(!events.body["items"][0]["erased"].as_array().unwrap().is_empty());

    // A partial export carries the left and right edges of the tree and verifies too.
    let (_, partial) = harness.owner_text(&format!("{base}/export?from_index=2&to_index=4")).await;
    audit::export::verify_export(partial.as_bytes(), &trailer_checkpoint(&partial), &key, None)
        .unwrap();
    harness
        .owner(Method::GET, &format!("{base}/export?from_index=9&to_index=3"), None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn the_integrity_check_finds_a_rewritten_entry_and_records_the_failure() {
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    harness.app.sign_pending_checkpoints().await.unwrap();
    assert!(harness.app.check_audit_integrity(1_000).await.unwrap().is_empty());

    // Rewrite an entry's leaf behind the application's back.
    let store::Store::Sqlite { pool, .. } = harness.app.store() else { unreachable!() };
    sqlx::query("UPDATE audit_entries SET leaf = CAST(leaf || x'00' AS BLOB) WHERE idx = 1")
        .execute(pool)
        .await
        .unwrap();
    let failures = harness.app.check_audit_integrity(1_000).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].reason.contains("entry 1"), "{}", failures[0].reason);

    let events = harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{provider}/audit/events?action=audit.integrity"),
            None,
        )
        .await;
    assert_eq!(events.body["items"][0]["outcome"], "failed");
    assert_eq!(events.body["items"][0]["reason"], "integrity_check_failed");
}

#[tokio::test]
async fn the_signing_key_rotates_and_old_checkpoints_stay_verifiable() {
    let harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let old_key = public_key(&harness).await;
    let (_, old_note) =
        harness.owner_text(&format!("/v1/organizations/{provider}/audit/checkpoint")).await;
    let new_key = harness.app.rotate_audit_signing_key().await.unwrap();
    assert_ne!(old_key, new_key);
    assert_eq!(public_key(&harness).await, new_key);
    let keys = harness.request(Method::GET, "/v1/audit/public-keys", None, None).await;
    assert_eq!(keys.body[0]["key"], new_key.as_str());
    assert_eq!(keys.body[1]["active"], false);
    let old =
        audit::NoteVerifier::from_verifier_key(keys.body[1]["key"].as_str().unwrap()).unwrap();
    audit::note::open(&old_note, &old, None).unwrap();
    let (_, new_note) =
        harness.owner_text(&format!("/v1/organizations/{provider}/audit/checkpoint")).await;
    let new = audit::NoteVerifier::from_verifier_key(&new_key).unwrap();
    audit::note::open(&new_note, &new, None).unwrap();
    assert!(audit::note::open(&new_note, &old, None).is_err());
}

#[tokio::test]
async fn another_organization_cannot_read_this_log() {
    let harness = Harness::new().await;
    let acme =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    let secret = crate::harness::customer_key(&harness, acme.body["id"].as_str().unwrap()).await;
    let uri = format!("/v1/organizations/{}/audit/export", harness.provider_id);
    harness
        .request(Method::GET, &uri, Some(&secret), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

fn trailer_checkpoint(export: &str) -> String {
    let trailer: serde_json::Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    assert_eq!(trailer["type"], "trailer");
    trailer["checkpoint"].as_str().unwrap().to_owned()
}
