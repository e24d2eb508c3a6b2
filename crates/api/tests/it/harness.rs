//! A router on a fresh SQLite store, set up with a provider organisation and its owner's key.

use std::sync::Arc;

use api::{ApiLimits, ApiState, Metrics};
use app::{App, InitializeRequest, PasswordHasher};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base::ManualClock;
use http_body_util::BodyExt as _;
use store::{Store, StoreOptions};
use time::macros::datetime;
use tower::ServiceExt as _;

/// The master key every harness seals its secrets with, so tests can open what is stored.
pub const MASTER_KEY: [u8; 32] = [0x5a; 32];

pub struct Harness {
    pub router: Router,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<app::MemoryMailer>,
    pub webhooks: Arc<app::MemoryWebhookTransport>,
    pub owner_secret: String,
    pub provider_id: String,
    _directory: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    /// Assert this is a problem+json with that status and code.
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status.as_u16());
        assert_eq!(self.body["type"], format!("urn:rampart:problem:{code}"));
        assert!(self.body["detail"].as_str().is_some_and(|detail| !detail.is_empty()));
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_limits(ApiLimits::default()).await
    }

    pub async fn with_limits(limits: ApiLimits) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let store =
            Store::open_sqlite(&directory.path().join("rampart.db"), &StoreOptions::default())
                .await
                .unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 09:00:00 UTC)));
        let mailer = Arc::new(app::MemoryMailer::default());
        let webhooks = Arc::new(app::MemoryWebhookTransport::default());
        let app = App::new(store, clock.clone(), PasswordHasher::new(8 * 1024, 1, 1, 2).unwrap())
            .with_audit_signing("rampart", app::MasterKey::from_bytes(MASTER_KEY))
            .with_identity(
                app::SessionPolicy::default(),
                mailer.clone(),
                "http://rampart.test",
                true,
            )
            .with_notifications(webhooks.clone(), app::NotificationSettings::default());
        let done = app
            .initialize(InitializeRequest {
                organization_name: "Provider".into(),
                owner_email: "owner@provider.example".into(),
                owner_password: None,
            })
            .await
            .unwrap();
        // As the server runs: verified credentials cached; revocations must still be immediate.
        let app = app.with_api_key_cache(std::time::Duration::from_secs(60));
        app.ensure_audit_signing_key().await.unwrap();
        let state = ApiState { app: app.clone(), metrics: Arc::new(Metrics::new()) };
        Self {
            router: api::router(state, &limits),
            app,
            clock,
            mailer,
            webhooks,
            owner_secret: done.api_key.secret,
            provider_id: done.organization.id.to_string(),
            _directory: directory,
        }
    }

    /// Rebuild the router on an app that caches verified keys for a minute.
    pub fn enable_credential_cache(&mut self) {
        self.app = self.app.clone().with_api_key_cache(std::time::Duration::from_secs(60));
        let state = ApiState { app: self.app.clone(), metrics: Arc::new(Metrics::new()) };
        self.router = api::router(state, &ApiLimits::default());
    }

    /// The raw body of a GET as the owner (for text and JSON Lines answers).
    pub async fn owner_text(&self, uri: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.owner_secret))
            .body(Body::empty())
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        secret: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        self.request_from(None, method, uri, secret, body).await
    }

    /// As [`Harness::request`], from a client address as the server's connection info gives
    /// it (none: the request carries no address, as in most tests).
    pub async fn request_from(
        &self,
        address: Option<[u8; 4]>,
        method: Method,
        uri: &str,
        secret: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(address) = address {
            builder = builder.extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                address, 40000,
            ))));
        }
        if let Some(secret) = secret {
            builder = builder.header("authorization", format!("Bearer {secret}"));
        }
        let request = match body {
            Some((content_type, bytes)) => {
                builder.header("content-type", content_type).body(Body::from(bytes)).unwrap()
            }
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer { status, headers, body }
    }

    /// As the provider's owner.
    pub async fn owner(
        &self,
        method: Method,
        uri: &str,
        json: Option<serde_json::Value>,
    ) -> Answer {
        let body = json.map(|json| ("application/json", json.to_string().into_bytes()));
        self.request(method, uri, Some(&self.owner_secret), body).await
    }

    /// The number of audit entries recorded for an organisation, as a witness of state change.
    pub async fn n_audit_events(&self, organization_id: &str) -> usize {
        use store::AuditLogRepository as _;
        let mut read = self.app.store().read().await.unwrap();
        let id = organization_id.parse().unwrap();
        read.audit_size(id).await.unwrap() as usize
    }
}

/// A JSON request (or none) with a bearer secret.
pub async fn call(
    harness: &Harness,
    method: Method,
    uri: &str,
    secret: &str,
    body: Option<serde_json::Value>,
) -> Answer {
    let body = body.map(|json| ("application/json", json.to_string().into_bytes()));
    harness.request(method, uri, Some(secret), body).await
}

/// A new customer organisation, created through the API by the provider's owner; its id.
pub async fn create_customer(harness: &Harness, name: &str) -> String {
    let created = harness
        .owner(Method::POST, "/v1/organizations", Some(serde_json::json!({"name": name})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// A key for a new owner of a customer organisation, made directly in the store.
pub async fn customer_key(harness: &Harness, organization_id: &str) -> String {
    let (_, secret) =
        user_key(harness, organization_id, "customer@acme.example", store::UserRole::Owner).await;
    secret
}

/// A new active user of an organisation with an API key, made directly in the store (as an
/// administrator's tooling would); returns the user's id and the key's secret.
pub async fn user_key(
    harness: &Harness,
    organization_id: &str,
    email: &str,
    role: store::UserRole,
) -> (String, String) {
    use app::AuditTrail as _;
    use store::{ApiKeyRecord, ApiKeyRepository as _, UserRecord, UserRepository as _};
    let organization_id: base::OrganizationId = organization_id.parse().unwrap();
    let at = datetime!(2026-03-01 09:00:00 UTC);
    let seed: [u8; 10] = sha256(email)[..10].try_into().unwrap();
    let user = UserRecord {
        id: base::UserId::new(1, seed),
        organization_id,
        email: email.into(),
        display_name: email.split('@').next().unwrap().into(),
        status: store::UserStatus::Active,
        role,
        password_hash: None,
        setup_token_hash: None,
        setup_token_expires_at: None,
        created_at: at,
    };
    let secret = format!("rampart_test-{}", hex_of(&sha256(email)[..16]));
    let key = ApiKeyRecord {
        id: base::ApiKeyId::new(2, seed),
        holder: store::KeyHolder::User(user.id),
        secret_hash: sha256(&secret),
        description: "test".into(),
        created_at: at,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        default_project: None,
        revoked_at: None,
    };
    let mut transaction = harness.app.store().begin().await.unwrap();
    transaction.insert_user(&user).await.unwrap();
    transaction.insert_api_key(&key).await.unwrap();
    let event = base::AuditEvent {
        organization_id,
        time: at,
        actor: base::Actor::System,
        action: "user.create".into(),
        resource: base::Resource::new("user", user.id),
        outcome: base::Outcome::Success,
        context: base::RequestContext::default(),
        privileged: true,
        details: serde_json::Map::new(),
    };
    transaction.append_audit_event(&event).await.unwrap();
    transaction.commit().await.unwrap();
    harness.app.reload_authorization(organization_id);
    (user.id.to_string(), secret)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sha256(text: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).to_vec()
}
