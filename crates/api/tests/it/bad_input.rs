//! Every bad input answers a 4xx problem naming the problem, and changes nothing.

use api::ApiLimits;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

/// A fingerprint of all state a bad request could have touched.
async fn state(harness: &Harness, organization_id: &str) -> (serde_json::Value, usize, usize) {
    let organizations = harness.owner(Method::GET, "/v1/organizations", None).await.body;
    let projects_uri = format!("/v1/organizations/{organization_id}/projects");
    let projects = harness.owner(Method::GET, &projects_uri, None).await;
    let n_projects = projects.body["items"].as_array().map_or(0, Vec::len);
    (organizations, n_projects, harness.n_audit_events(organization_id).await)
}

async fn acme(harness: &Harness) -> String {
    let created =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/organizations/{id}/projects");
    harness.owner(Method::POST, &uri, Some(json!({"name": "web"}))).await;
    id
}

#[tokio::test]
async fn bad_bodies_are_refused_without_a_change() {
    let harness =
        Harness::with_limits(ApiLimits { max_body_bytes: 1024, ..ApiLimits::default() }).await;
    let id = acme(&harness).await;
    let before = state(&harness, &id).await;
    let secret = harness.owner_secret.clone();
    let uri = format!("/v1/organizations/{id}/projects");
    let post = |content_type: &'static str, body: Vec<u8>| {
        let (uri, secret) = (uri.clone(), secret.clone());
        let harness = &harness;
        async move {
            harness.request(Method::POST, &uri, Some(&secret), Some((content_type, body))).await
        }
    };

    post("application/json", b"{\"name\": ".to_vec())
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_json");
    post("application/json", b"[1, 2]".to_vec())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let unknown = post("application/json", br#"{"name": "x", "owner": "me"}"#.to_vec()).await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(unknown.body["detail"].as_str().unwrap().contains("unknown field `owner`"));
    post("text/plain", br#"{"name": "x"}"#.to_vec())
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let oversize = json!({"name": "x".repeat(4096)}).to_string().into_bytes();
    post("application/json", oversize)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    post("application/json", br#"{"name": "   "}"#.to_vec())
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post("application/json", json!({"name": "y".repeat(101)}).to_string().into_bytes())
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post("application/json", br#"{"name": "a\u0000b"}"#.to_vec())
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    post("application/json", vec![0xff, 0xfe, b'{'])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_json");

    assert_eq!(state(&harness, &id).await, before);
}

#[tokio::test]
async fn bad_ids_cursors_and_limits_are_named() {
    let harness = Harness::new().await;
    let id = acme(&harness).await;
    let before = state(&harness, &id).await;

    let answer = harness.owner(Method::GET, "/v1/organizations/42", None).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("`42`"));
    harness
        .owner(Method::DELETE, &format!("/v1/organizations/{id}/projects/not-a-uuid"), None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::GET, "/v1/organizations?after=zzz", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::GET, "/v1/organizations?limit=0", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::GET, "/v1/organizations?limit=-3", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    harness
        .owner(Method::GET, "/v1/organizations?colour=red", None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    let missing = "01900000-0000-7000-8000-000000000000";
    harness
        .owner(Method::GET, &format!("/v1/organizations/{missing}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    harness
        .owner(Method::PUT, "/v1/organizations", None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    assert_eq!(state(&harness, &id).await, before);
}

#[tokio::test]
async fn conflicts_are_refused_without_a_change() {
    let harness = Harness::new().await;
    let id = acme(&harness).await;
    let before = state(&harness, &id).await;

    let duplicate =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "ACME"}))).await;
    duplicate.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(duplicate.body["detail"].as_str().unwrap().contains("already exists"));
    harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{id}/projects"),
            Some(json!({"name": "Web"})),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    let non_empty = harness.owner(Method::DELETE, &format!("/v1/organizations/{id}"), None).await;
    non_empty.assert_problem(StatusCode::CONFLICT, "conflict");
    assert!(non_empty.body["detail"].as_str().unwrap().contains("still holds projects"));
    let provider = format!("/v1/organizations/{}", harness.provider_id);
    harness
        .owner(Method::DELETE, &provider, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");

    assert_eq!(state(&harness, &id).await, before);
}

#[tokio::test]
async fn a_setup_token_that_does_not_exist_is_refused() {
    let harness = Harness::new().await;
    let body = json!({"token": "rampart_setup_nope", "password": "correct horse battery staple"});
    let answer = harness
        .request(
            Method::POST,
            "/v1/setup",
            None,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "invalid_input");
    assert!(answer.body["detail"].as_str().unwrap().contains("setup token"));
}

mod arbitrary_bodies {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,120}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("(name|x|.{0,8})", inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever the body, the answer is 201 (and one more organisation) or a 4xx problem
        /// (and nothing changed); never a 5xx.
        #[test]
        fn any_body_is_created_or_refused_cleanly(
            body in prop_oneof![
                json_value().prop_map(|value| value.to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 0..200),
            ]
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let harness = Harness::new().await;
                let count = |answer: crate::harness::Answer| answer.body["items"].as_array().map_or(0, Vec::len);
                let before = count(harness.owner(Method::GET, "/v1/organizations", None).await);
                let answer = harness
                    .request(Method::POST, "/v1/organizations", Some(&harness.owner_secret), Some(("application/json", body)))
                    .await;
                let after = count(harness.owner(Method::GET, "/v1/organizations", None).await);
                if answer.status == StatusCode::CREATED {
                    assert_eq!(after, before + 1);
                } else {
                    assert!(answer.status.is_client_error(), "{} {}", answer.status, answer.body);
                    assert_eq!(answer.headers["content-type"], "application/problem+json");
                    assert_eq!(after, before);
                }
            });
        }
    }
}
