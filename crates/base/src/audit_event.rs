//! The record of one thing that happened: what the application layer emits for every state
//! change and every sensitive access, and what the audit log commits to.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Actor, OrganizationId};

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused by authorisation; `reason` is a stable code.
    Denied {
        reason: String,
    },
    /// Attempted and failed (bad credential, conflict, …); `reason` is a stable code.
    Failed {
        reason: String,
    },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied { .. } => "denied",
            Self::Failed { .. } => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Success => None,
            Self::Denied { reason } | Self::Failed { reason } => Some(reason),
        }
    }
}

/// What an action was done to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// A stable type name: `organization`, `project`, `api_key`, …
    pub kind: String,
    pub id: Option<String>,
}

impl Resource {
    pub fn new(kind: &str, id: impl ToString) -> Self {
        Self { kind: kind.to_owned(), id: Some(id.to_string()) }
    }

    pub fn kind_only(kind: &str) -> Self {
        Self { kind: kind.to_owned(), id: None }
    }
}

/// Where a request came from. Source IP and user agent are personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// One audited event. Every state change writes exactly one, in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// The organisation whose log records the event.
    pub organization_id: OrganizationId,
    pub time: OffsetDateTime,
    pub actor: Actor,
    /// A stable dotted name: `organization.create`, `auth.login.password`, …
    pub action: String,
    pub resource: Resource,
    pub outcome: Outcome,
    pub context: RequestContext,
    /// True for a use of privileged rights.
    pub privileged: bool,
    /// Action-specific facts (a JSON object); may hold personal data.
    pub details: serde_json::Map<String, serde_json::Value>,
}
