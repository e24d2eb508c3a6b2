//! `rampart serve`: start-up, first start, the operations endpoints, shutdown, PostgreSQL.

use std::time::Duration;

use crate::testkit::{Instance, client};

#[tokio::test]
async fn init_then_serve_answers_the_operations_endpoints_and_the_api() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
    assert!(server.banner.is_empty(), "no setup banner after init: {:?}", server.banner);
    let http = client();
    for path in ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let response = http
        .get(server.url(&format!("/v1/organizations/{organization_id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "provider");
}

#[tokio::test]
async fn a_first_start_sets_itself_up_with_a_one_time_token() {
    let instance = Instance::sqlite();
    let server = instance.serve();
    let banner = server.banner.join("\n");
    let token = banner
        .split(['"', ' '])
        .find(|word| word.starts_with("rampart_setup_"))
        .unwrap_or_else(|| panic!("no setup token in {banner}"))
        .to_owned();
    let http = client();
    let setup = |password: &str| {
        http.post(server.url("/v1/setup"))
            .json(&serde_json::json!({"token": token, "password": password}))
            .send()
    };
    assert_eq!(setup("short").await.unwrap().status(), 400);
    let done = setup("correct horse battery staple").await.unwrap();
    assert_eq!(done.status(), 200);
    let done: serde_json::Value = done.json().await.unwrap();
    let secret = done["api_key"]["secret"].as_str().unwrap();
    let listed =
        http.get(server.url("/v1/organizations")).bearer_auth(secret).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    // The token works once.
    assert_eq!(setup("correct horse battery staple").await.unwrap().status(), 400);
    drop(server);

    // A second start of a set-up instance prints no token.
    let again = instance.serve();
    assert!(again.banner.is_empty(), "{:?}", again.banner);
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_cleanly() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
    let http = client();
    let url = server.url(&format!("/v1/organizations/{organization_id}/projects"));
    let mut requests = Vec::new();
    for n in 0..20 {
        let request = http
            .post(&url)
            .bearer_auth(&secret)
            .json(&serde_json::json!({"name": format!("p{n}")}));
        requests.push(tokio::spawn(request.send()));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    server.signal("TERM");
    let mut n_created = 0;
    for request in requests {
        if let Ok(Ok(response)) = request.await {
            assert_eq!(response.status(), 201);
            n_created += 1;
        }
    }
    let status = server.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");

    let server = instance.serve();
    let listed: serde_json::Value = http
        .get(server.url(&format!("/v1/organizations/{organization_id}/projects?limit=200")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), n_created);
}

#[tokio::test]
async fn serves_on_postgresql_when_given_a_postgres_url() {
    let Ok(admin_url) = std::env::var("RAMPART_TEST_POSTGRES_URL") else {
        eprintln!("RAMPART_TEST_POSTGRES_URL is not set: PostgreSQL end-to-end test skipped");
        return;
    };
    let database = format!("rampart_e2e_{}", uuid::Uuid::new_v4().simple());
    let admin =
        store::Store::open_postgres(&admin_url, &store::StoreOptions::default()).await.unwrap();
    let store::Store::Postgres(pool) = &admin else { unreachable!() };
    let create = format!("CREATE DATABASE {database}");
    sqlx::query(sqlx::AssertSqlSafe(create)).execute(pool).await.unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => panic!("RAMPART_TEST_POSTGRES_URL has no database part"),
    };

    let mut instance = Instance::sqlite();
    instance.environment.push(("RAMPART_DATABASE_URL".into(), url));
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
    let response = client()
        .get(server.url(&format!("/v1/organizations/{organization_id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!instance.database_path().exists(), "no SQLite file when PostgreSQL is configured");
    drop(server);
    let drop_database = format!("DROP DATABASE {database} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop_database)).execute(pool).await.unwrap();
}
