use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn the_owner_manages_organizations_and_projects_end_to_end() {
    let harness = Harness::new().await;
    let created =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["kind"], "customer");
    let id = created.body["id"].as_str().unwrap().to_owned();

    let read = harness.owner(Method::GET, &format!("/v1/organizations/{id}"), None).await;
    assert_eq!((read.status, &read.body["name"]), (StatusCode::OK, &json!("Acme")));

    let renamed = harness
        .owner(Method::PATCH, &format!("/v1/organizations/{id}"), Some(json!({"name": "Acme SA"})))
        .await;
    assert_eq!(renamed.body["name"], "Acme SA");

    let project = harness
        .owner(
            Method::POST,
            &format!("/v1/organizations/{id}/projects"),
            Some(json!({"name": "web"})),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED);
    let project_id = project.body["id"].as_str().unwrap().to_owned();
    let listed =
        harness.owner(Method::GET, &format!("/v1/organizations/{id}/projects"), None).await;
    assert_eq!(listed.body["items"][0]["id"], project_id.as_str());

    let project_uri = format!("/v1/organizations/{id}/projects/{project_id}");
    assert_eq!(
        harness.owner(Method::DELETE, &project_uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    let organization_uri = format!("/v1/organizations/{id}");
    assert_eq!(
        harness.owner(Method::DELETE, &organization_uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    harness
        .owner(Method::GET, &organization_uri, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // create, rename, project create, project delete, delete: one event each.
    assert_eq!(harness.n_audit_events(&id).await, 5);
}

#[tokio::test]
async fn lists_are_paginated_with_a_cursor() {
    let harness = Harness::new().await;
    for name in ["a", "b", "c"] {
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": name}))).await;
    }
    let first = harness.owner(Method::GET, "/v1/organizations?limit=2", None).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = harness
        .owner(Method::GET, &format!("/v1/organizations?limit=2&after={cursor}"), None)
        .await;
    assert!(second.body["next_cursor"].is_null());
    // Ids made in the same millisecond sort randomly, so check the pages cover all, once.
    let mut names: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|page| page.body["items"].as_array().unwrap().clone())
        .map(|organization| organization["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Provider", "a", "b", "c"]);
}

#[tokio::test]
async fn api_keys_work_in_both_headers_and_unknown_keys_are_refused() {
    let harness = Harness::new().await;
    let uri = format!("/v1/organizations/{}", harness.provider_id);
    let request = axum::http::Request::builder()
        .uri(&uri)
        .header("x-auth-token", &harness.owner_secret)
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt as _;
    let response = harness.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let forged = format!("{}x", harness.owner_secret);
    let answer = harness.request(Method::GET, &uri, Some(&forged), None).await;
    answer.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(answer.headers.get("www-authenticate").unwrap(), "Bearer");
    harness
        .request(Method::GET, &uri, None, None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_customer_cannot_reach_another_organization_and_the_refusal_is_recorded() {
    let harness = Harness::new().await;
    let acme =
        harness.owner(Method::POST, "/v1/organizations", Some(json!({"name": "Acme"}))).await;
    let acme_id = acme.body["id"].as_str().unwrap();
    // A customer principal: the provider owner's key cannot make one yet, so use the store.
    let secret = crate::harness::customer_key(&harness, acme_id).await;
    let provider_uri = format!("/v1/organizations/{}", harness.provider_id);
    let before = harness.n_audit_events(&harness.provider_id).await;
    harness
        .request(Method::GET, &provider_uri, Some(&secret), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(harness.n_audit_events(&harness.provider_id).await, before + 1);
    let own = harness
        .request(Method::GET, &format!("/v1/organizations/{acme_id}"), Some(&secret), None)
        .await;
    assert_eq!(own.status, StatusCode::OK);
    let listed = harness.request(Method::GET, "/v1/organizations", Some(&secret), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let create = harness
        .request(
            Method::POST,
            "/v1/organizations",
            Some(&secret),
            Some(("application/json", br#"{"name":"x"}"#.to_vec())),
        )
        .await;
    create.assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let harness = Harness::new().await;
    let request = axum::http::Request::builder()
        .uri("/healthz")
        .header("x-request-id", "trace-42")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt as _;
    let response = harness.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let answer = harness.request(Method::GET, "/nowhere", None, None).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let generated = answer.headers["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36);
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    assert!(answer.headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let harness = Harness::new().await;
    assert_eq!(harness.request(Method::GET, "/readyz", None, None).await.status, StatusCode::OK);
    let openapi = harness.request(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(openapi.body["openapi"], "3.1.0");
    assert!(openapi.body["paths"]["/v1/organizations/{id}"]["get"].is_object());
    harness.owner(Method::GET, "/v1/organizations", None).await;
    let metrics = harness.request(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"rampart_http_requests_total{method="GET",route="/v1/organizations",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("rampart_http_request_duration_seconds_bucket"));
    // The configured 8 for reads, and SQLite's connection for writes.
    assert!(text.contains("rampart_store_pool_max_connections 9"), "{text}");
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_even_when_cached() {
    let mut harness = Harness::new().await;
    // The server's configuration caches verified keys; revocation must still be immediate.
    harness.enable_credential_cache();
    let created =
        harness.owner(Method::POST, "/v1/api-keys", Some(json!({"description": "ci"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["access_key"].as_str().unwrap().to_owned();
    let uri = format!("/v1/organizations/{}", harness.provider_id);
    assert_eq!(
        harness.request(Method::GET, &uri, Some(&secret), None).await.status,
        StatusCode::OK
    );

    let revoked =
        harness.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&secret), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    harness
        .request(Method::GET, &uri, Some(&secret), None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // Someone else's key, or an unknown one, is simply not found.
    harness
        .owner(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}
