//! Handlers: extract, call one use case, map the result. Request and response types live here,
//! apart from the domain types.

pub mod access_reviews;
pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod authorization;
pub mod compliance;
pub mod compliance_evidence;
pub mod detection;
pub mod events;
pub mod guests;
pub mod health;
pub mod incidents;
pub mod information_protection;
pub mod notifications;
pub mod organizations;
pub mod passkeys;
pub mod principals;
pub mod privacy;
pub mod projects;
pub mod public_reports;
pub mod setup;
pub mod users;
pub mod vulnerabilities;

use axum::Json;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::problem::{ApiError, Problem};

/// The header that carries an answer's classification marking.
pub const CLASSIFICATION_HEADER: HeaderName = HeaderName::from_static("rampart-classification");

/// A JSON answer marked with its classification in the `Rampart-Classification` header, for
/// answers whose schema has no room for a marking field.
pub fn marked_json(marking: &app::ExportMarking, body: impl Serialize) -> Response {
    ([(CLASSIFICATION_HEADER, marking.header_value())], Json(body)).into_response()
}

/// Cursor pagination.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

impl ListQuery {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50)
    }

    pub fn cursor<T: std::str::FromStr<Err = base::IdParseError>>(
        &self,
    ) -> Result<Option<T>, ApiError> {
        self.after
            .as_deref()
            .map(|after| {
                after.parse::<T>().map_err(|error| {
                    ApiError::from(Problem::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "invalid_input",
                        format!("invalid cursor: {error}"),
                    ))
                })
            })
            .transpose()
    }
}
