//! Rampart's shared vocabulary: the types every other crate speaks.
//!
//! Nothing here does I/O or reads the clock. Time comes in through [`Clock`], and the
//! identifiers are UUIDv7 so that they sort by creation time.

mod actor;
mod audit_event;
mod classification;
mod clock;
mod error_code;
mod ids;
mod tenancy;

pub use actor::{Actor, ActorKind, Credential};
pub use audit_event::{AuditEvent, Outcome, RequestContext, Resource};
pub use classification::Classification;
pub use clock::{Clock, ManualClock};
pub use error_code::ErrorCode;
pub use ids::{ApiKeyId, ApplicationId, GroupId, IdParseError, OrganizationId, ProjectId, UserId};
pub use tenancy::{Name, NameError, Organization, OrganizationKind, Project};
