//! The audit events every change records, numbered per organisation.

use std::net::IpAddr;

use base::{
    Actor, AuditEvent, Credential, OrganizationId, Outcome, RequestContext, Resource, UserId,
};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::StoredAuditEvent;
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// The stored JSON form of an event: every field, so that the event reads back whole.
#[derive(Serialize, Deserialize)]
struct EventDocument {
    actor: ActorDocument,
    outcome: Outcome,
    source_ip: Option<IpAddr>,
    user_agent: Option<String>,
    request_id: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ActorDocument {
    User {
        user_id: Uuid,
        organization_id: Uuid,
        is_staff: bool,
        label: String,
        credential: Credential,
    },
    System,
}

impl From<&Actor> for ActorDocument {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::User { user_id, organization_id, is_staff, label, credential } => Self::User {
                user_id: *user_id.as_uuid(),
                organization_id: *organization_id.as_uuid(),
                is_staff: *is_staff,
                label: label.clone(),
                credential: *credential,
            },
            Actor::System => Self::System,
        }
    }
}

impl From<ActorDocument> for Actor {
    fn from(document: ActorDocument) -> Self {
        match document {
            ActorDocument::User { user_id, organization_id, is_staff, label, credential } => {
                Self::User {
                    user_id: UserId::from_uuid(user_id),
                    organization_id: OrganizationId::from_uuid(organization_id),
                    is_staff,
                    label,
                    credential,
                }
            }
            ActorDocument::System => Self::System,
        }
    }
}

type EventRow = (i64, OffsetDateTime, String, String, Option<String>, bool, Json<EventDocument>);

/// Storage of audit events.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AuditEventRepository {
    /// Append an event to its organisation's trail; returns its sequence number (from 1).
    async fn append_audit_event(&mut self, event: &AuditEvent) -> Result<i64, StoreError>;
    /// The newest events of an organisation first, those before `before` when given.
    async fn list_audit_events(
        &mut self,
        organization_id: OrganizationId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredAuditEvent>, StoreError>;
}

impl AuditEventRepository for Transaction {
    async fn append_audit_event(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        let bump = "INSERT INTO audit_heads (organization_id, size) VALUES ($1, 1) \
                    ON CONFLICT (organization_id) DO UPDATE SET size = audit_heads.size + 1 \
                    RETURNING size";
        let insert = "INSERT INTO audit_events (organization_id, sequence, time, actor_kind, \
                      actor_id, action, resource_kind, resource_id, outcome, privileged, event) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let document = Json(EventDocument {
            actor: ActorDocument::from(&event.actor),
            outcome: event.outcome.clone(),
            source_ip: event.context.source_ip,
            user_agent: event.context.user_agent.clone(),
            request_id: event.context.request_id.clone(),
            details: event.details.clone(),
        });
        let organization = event.organization_id.as_uuid();
        let sequence = on_backend!(self.record_audit_event()?, c => {
            let (sequence,): (i64,) =
                sqlx::query_as(bump).bind(organization).fetch_one(&mut *c).await?;
            sqlx::query(insert)
                .bind(organization)
                .bind(sequence)
                .bind(event.time)
                .bind(event.actor.kind().as_str())
                .bind(event.actor.id())
                .bind(&event.action)
                .bind(&event.resource.kind)
                .bind(&event.resource.id)
                .bind(event.outcome.as_str())
                .bind(event.privileged)
                .bind(&document)
                .execute(&mut *c)
                .await?;
            Ok::<i64, sqlx::Error>(sequence)
        })?;
        Ok(sequence)
    }

    async fn list_audit_events(
        &mut self,
        organization_id: OrganizationId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let sql = "SELECT sequence, time, action, resource_kind, resource_id, privileged, event \
                   FROM audit_events WHERE organization_id = $1 AND sequence < $2 \
                   ORDER BY sequence DESC LIMIT $3";
        let rows: Vec<EventRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(sequence, time, action, resource_kind, resource_id, privileged, document)| {
                let Json(document) = document;
                StoredAuditEvent {
                    sequence,
                    event: AuditEvent {
                        organization_id,
                        time,
                        actor: document.actor.into(),
                        action,
                        resource: Resource { kind: resource_kind, id: resource_id },
                        outcome: document.outcome,
                        context: RequestContext {
                            source_ip: document.source_ip,
                            user_agent: document.user_agent,
                            request_id: document.request_id,
                        },
                        privileged,
                        details: document.details,
                    },
                }
            })
            .collect())
    }
}
