//! Rampart's HTTP API. Only this crate knows HTTP: handlers extract, call one use case and map
//! the result; errors are RFC 9457 problems; every response carries a request id and the
//! security headers; the OpenAPI document is generated from the handlers.

pub mod extract;
pub mod metrics;
pub mod problem;
pub mod request_id;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use metrics::Metrics;
use problem::Problem;

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// What handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub app: App,
    pub metrics: Arc<Metrics>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rampart", description = "Rampart's HTTP API"),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "organizations", description = "Tenants"),
        (name = "projects", description = "Scopes inside an organisation"),
        (name = "setup", description = "Finishing a first start"),
        (name = "api-keys", description = "The caller's own API keys"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "auth", description = "Login, sessions, second factors"),
        (name = "users", description = "Accounts and invitations"),
        (name = "principals", description = "Applications and groups"),
        (name = "authorization", description = "Policies, the check API, effective permissions"),
        (name = "access-reviews", description = "Access review campaigns, decisions and schedules"),
        (name = "privacy", description = "Pseudonymisation, re-identification, PII detection"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "vulnerabilities", description = "Advisories, SBOMs, findings, deadlines, VEX"),
        (name = "detection", description = "Alerts raised on the audit trail, noise, rules"),
        (name = "incidents", description = "Incidents, the breach clock, public reports, security.txt"),
    )
)]
struct ApiDocument;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The router and the OpenAPI document it implements.
pub fn router(state: ApiState, limits: &ApiLimits) -> Router {
    let (routes, openapi) = OpenApiRouter::with_openapi(ApiDocument::openapi())
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
        .routes(routes!(routes::health::metrics))
        .routes(routes!(routes::setup::complete))
        .routes(routes!(routes::api_keys::create, routes::api_keys::list))
        .routes(routes!(routes::api_keys::revoke))
        .routes(routes!(routes::organizations::list, routes::organizations::create))
        .routes(routes!(
            routes::organizations::get,
            routes::organizations::rename,
            routes::organizations::delete
        ))
        .routes(routes!(routes::auth::login))
        .routes(routes!(routes::auth::login_mfa))
        .routes(routes!(routes::auth::logout))
        .routes(routes!(routes::auth::sessions))
        .routes(routes!(routes::auth::end_session))
        .routes(routes!(routes::auth::step_up))
        .routes(routes!(routes::auth::enrol_totp, routes::auth::remove_totp))
        .routes(routes!(routes::auth::confirm_totp))
        .routes(routes!(routes::auth::regenerate_recovery_codes))
        .routes(routes!(routes::auth::accept_invitation))
        .routes(routes!(routes::auth::invitation_passkey_options))
        .routes(routes!(routes::auth::signup))
        .routes(routes!(routes::auth::verify_signup))
        .routes(routes!(routes::auth::request_password_reset))
        .routes(routes!(routes::auth::complete_password_reset))
        .routes(routes!(routes::passkeys::registration_options))
        .routes(routes!(routes::passkeys::register, routes::passkeys::list))
        .routes(routes!(routes::passkeys::rename, routes::passkeys::delete))
        .routes(routes!(routes::passkeys::remove_password, routes::auth::change_password))
        .routes(routes!(
            routes::organizations::password_policy,
            routes::organizations::set_password_policy
        ))
        .routes(routes!(routes::passkeys::login_options))
        .routes(routes!(routes::passkeys::login))
        .routes(routes!(routes::passkeys::second_factor_options))
        .routes(routes!(routes::passkeys::step_up_options))
        .routes(routes!(routes::users::reset_password))
        .routes(routes!(routes::users::end_sessions))
        .routes(routes!(routes::users::list))
        .routes(routes!(routes::users::invite))
        .routes(routes!(routes::users::suspend))
        .routes(routes!(routes::users::reactivate))
        .routes(routes!(routes::users::delete))
        .routes(routes!(
            routes::principals::create_application,
            routes::principals::list_applications
        ))
        .routes(routes!(routes::principals::delete_application))
        .routes(routes!(routes::principals::create_application_key))
        .routes(routes!(routes::principals::create_group, routes::principals::list_groups))
        .routes(routes!(routes::principals::delete_group))
        .routes(routes!(routes::principals::members, routes::principals::add_member))
        .routes(routes!(routes::principals::remove_member))
        .routes(routes!(routes::audit::events))
        .routes(routes!(routes::audit::checkpoint))
        .routes(routes!(routes::audit::inclusion))
        .routes(routes!(routes::audit::consistency))
        .routes(routes!(routes::audit::export))
        .routes(routes!(routes::audit::erase))
        .routes(routes!(routes::audit::public_key))
        .routes(routes!(routes::audit::public_keys))
        .routes(routes!(routes::authorization::view))
        .routes(routes!(routes::authorization::create_policy))
        .routes(routes!(
            routes::authorization::replace_policy,
            routes::authorization::delete_policy
        ))
        .routes(routes!(routes::authorization::create_cedar_policy))
        .routes(routes!(routes::authorization::delete_cedar_policy))
        .routes(routes!(routes::authorization::define_action))
        .routes(routes!(routes::authorization::delete_action))
        .routes(routes!(
            routes::authorization::put_permission_set,
            routes::authorization::delete_permission_set
        ))
        .routes(routes!(routes::authorization::authorize))
        .routes(routes!(routes::authorization::authorize_batch))
        .routes(routes!(routes::authorization::who_can))
        .routes(routes!(routes::authorization::effective_permissions))
        .routes(routes!(routes::access_reviews::start, routes::access_reviews::list))
        .routes(routes!(routes::access_reviews::get))
        .routes(routes!(routes::access_reviews::decide))
        .routes(routes!(routes::access_reviews::close))
        .routes(routes!(routes::access_reviews::list_schedules))
        .routes(routes!(
            routes::access_reviews::put_schedule,
            routes::access_reviews::delete_schedule
        ))
        .routes(routes!(routes::assets::create, routes::assets::list))
        .routes(routes!(routes::assets::get, routes::assets::replace, routes::assets::delete))
        .routes(routes!(routes::assets::dispose))
        .routes(routes!(routes::assets::import))
        .routes(routes!(routes::assets::export))
        .routes(routes!(routes::assets::report_posture))
        .routes(routes!(routes::assets::device_posture))
        .routes(routes!(routes::assets::posture_policy, routes::assets::set_posture_policy))
        .routes(routes!(routes::privacy::create_domain, routes::privacy::list_domains))
        .routes(routes!(routes::privacy::rotate_key))
        .routes(routes!(routes::privacy::pseudonymize))
        .routes(routes!(routes::privacy::reidentify))
        .routes(routes!(routes::privacy::scan))
        .routes(routes!(routes::privacy::classify_column))
        .routes(routes!(routes::detection::list_alerts))
        .routes(routes!(routes::detection::get_alert))
        .routes(routes!(routes::detection::acknowledge_alert))
        .routes(routes!(routes::detection::close_alert))
        .routes(routes!(routes::detection::noise))
        .routes(routes!(routes::detection::rules))
        .routes(routes!(
            routes::notifications::create_channel,
            routes::notifications::list_channels
        ))
        .routes(routes!(
            routes::notifications::get_channel,
            routes::notifications::update_channel,
            routes::notifications::delete_channel
        ))
        .routes(routes!(routes::notifications::list_deliveries))
        .routes(routes!(routes::compliance::create, routes::compliance::list))
        .routes(routes!(
            routes::compliance::get,
            routes::compliance::replace,
            routes::compliance::delete
        ))
        .routes(routes!(routes::compliance::export))
        .routes(routes!(routes::compliance::run_evidence))
        .routes(routes!(routes::compliance::evidence))
        .routes(routes!(routes::compliance::evidence_history))
        .routes(routes!(routes::compliance::annex))
        .routes(routes!(routes::compliance::organization_annex))
        .routes(routes!(routes::compliance::changes_page))
        .routes(routes!(routes::compliance::changes_feed))
        .routes(routes!(routes::projects::list, routes::projects::create))
        .routes(routes!(routes::projects::get, routes::projects::rename, routes::projects::delete))
        .routes(routes!(
            routes::vulnerabilities::import_advisories,
            routes::vulnerabilities::list_advisories
        ))
        .routes(routes!(routes::vulnerabilities::import_sbom))
        .routes(routes!(routes::vulnerabilities::components))
        .routes(routes!(routes::vulnerabilities::list_findings))
        .routes(routes!(routes::vulnerabilities::get_finding))
        .routes(routes!(routes::vulnerabilities::change_state))
        .routes(routes!(routes::vulnerabilities::get_sla, routes::vulnerabilities::put_sla))
        .routes(routes!(routes::vulnerabilities::trend))
        .routes(routes!(routes::vulnerabilities::vex))
        .routes(routes!(
            routes::information_protection::get_scheme,
            routes::information_protection::put_scheme
        ))
        .routes(routes!(
            routes::information_protection::create_category,
            routes::information_protection::list_categories
        ))
        .routes(routes!(
            routes::information_protection::get_category,
            routes::information_protection::replace_category,
            routes::information_protection::delete_category
        ))
        .routes(routes!(routes::information_protection::export_register_json))
        .routes(routes!(
            routes::information_protection::create_rule,
            routes::information_protection::list_rules
        ))
        .routes(routes!(routes::information_protection::delete_rule))
        .routes(routes!(
            routes::information_protection::place_hold,
            routes::information_protection::list_holds
        ))
        .routes(routes!(routes::information_protection::release_hold))
        .routes(routes!(
            routes::information_protection::run,
            routes::information_protection::list_runs
        ))
        .routes(routes!(
            routes::compliance_evidence::acknowledge_policy,
            routes::compliance_evidence::policy_acknowledgements
        ))
        .routes(routes!(
            routes::compliance_evidence::risk_matrix,
            routes::compliance_evidence::set_risk_matrix
        ))
        .routes(routes!(
            routes::compliance_evidence::add_link,
            routes::compliance_evidence::list_evidence
        ))
        .routes(routes!(routes::compliance_evidence::upload_file))
        .routes(routes!(
            routes::compliance_evidence::get_evidence,
            routes::compliance_evidence::update_evidence,
            routes::compliance_evidence::delete_evidence
        ))
        .routes(routes!(routes::compliance_evidence::download_evidence))
        .routes(routes!(routes::compliance_evidence::trust_page))
        .routes(routes!(routes::compliance_evidence::trust_json))
        .routes(routes!(routes::incidents::open, routes::incidents::list))
        .routes(routes!(routes::incidents::get, routes::incidents::update))
        .routes(routes!(routes::incidents::advance))
        .routes(routes!(routes::incidents::add_task))
        .routes(routes!(routes::incidents::update_task))
        .routes(routes!(routes::incidents::link_alert))
        .routes(routes!(routes::incidents::breach))
        .routes(routes!(routes::incidents::article_33))
        .routes(routes!(routes::incidents::customer_notification))
        .routes(routes!(routes::incidents::article_34))
        .routes(routes!(routes::incidents::review))
        .routes(routes!(routes::public_reports::security_txt))
        .routes(routes!(routes::public_reports::submit))
        .routes(routes!(routes::public_reports::status))
        .routes(routes!(routes::public_reports::form, routes::public_reports::submit_form))
        .routes(routes!(routes::public_reports::list))
        .routes(routes!(routes::public_reports::get))
        .routes(routes!(routes::public_reports::dismiss))
        .routes(routes!(routes::public_reports::open_incident))
        .routes(routes!(routes::events::ingest, routes::events::search))
        .routes(routes!(routes::guests::invite, routes::guests::list))
        .routes(routes!(routes::guests::revoke))
        .routes(routes!(routes::guests::accept))
        .routes(routes!(routes::guests::my_organizations))
        .routes(routes!(routes::guests::leave))
        .split_for_parts();
    let openapi = Arc::new(openapi);

    routes
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let openapi = Arc::clone(&openapi);
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /v1/openapi.json",
            )
        })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept this method; see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_id::track))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .layer(CatchPanicLayer::custom(|_panic| internal_error()))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

fn internal_error() -> Response {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
        .into_response()
}

/// Headers set on every response unless a handler chose otherwise.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
    (header::CACHE_CONTROL, "no-store"),
    (header::STRICT_TRANSPORT_SECURITY, "max-age=63072000"),
];

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Serve until `shutdown` resolves, then let in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
