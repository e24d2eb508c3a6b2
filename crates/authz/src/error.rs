//! Why a set of policies was refused.

use uuid::Uuid;

/// A reason to refuse an organisation's policies (or a change to them). Nothing is compiled
/// when one is returned.
///
/// `location` fields name where the fault is, e.g. `policy 0190… rule 2`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An action name that is in neither Rampart's catalogue nor the organisation's.
    #[error("unknown action `{action}` in {location}")]
    UnknownAction {
        /// The name as given.
        action: String,
        /// Where it was named.
        location: String,
    },
    /// A permission set that is neither built in nor defined by the organisation.
    #[error("unknown permission set `{name}` in {location}")]
    UnknownPermissionSet {
        /// The name as given.
        name: String,
        /// Where it was named.
        location: String,
    },
    /// A custom action name that is not `service:resource:verb`.
    #[error("invalid action name `{action}`: {reason}")]
    InvalidActionName {
        /// The name as given.
        action: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A custom action in one of Rampart's own services.
    #[error(
        "custom action `{action}` uses the reserved service `{service}`; custom actions belong to the organisation's own services"
    )]
    ReservedService {
        /// The name as given.
        action: String,
        /// The reserved service.
        service: String,
    },
    /// A custom permission set name that is not valid.
    #[error("invalid permission set name `{name}`: {reason}")]
    InvalidPermissionSetName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A custom permission set with no action.
    #[error("permission set `{name}` has no action")]
    EmptyPermissionSet {
        /// The set's name.
        name: String,
    },
    /// Two definitions with one name or id.
    #[error("duplicate {what} `{name}`")]
    Duplicate {
        /// What is duplicated: `action`, `permission set`, `policy`, `raw policy`.
        what: &'static str,
        /// The repeated name or id.
        name: String,
    },
    /// A policy or rule that is structurally incomplete (no rule, no permission set, empty
    /// project list, a group as a request principal…).
    #[error("{location}: {reason}")]
    InvalidPolicy {
        /// Where.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule scoped to a project the organisation does not have.
    #[error("project {project} in {location} is not a project of organisation {organization}")]
    ProjectOutsideOrganization {
        /// The project named by the rule.
        project: Uuid,
        /// The organisation whose policies these are.
        organization: Uuid,
        /// Where it was named.
        location: String,
    },
    /// A source-address range that is not a valid CIDR.
    #[error("invalid CIDR `{cidr}` in {location}: {reason}")]
    InvalidCidr {
        /// The range as given.
        cidr: String,
        /// Where.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A time window that selects no time or does not parse.
    #[error("invalid time window in {location}: {reason}")]
    InvalidTimeWindow {
        /// Where.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A user-agent glob pattern that cannot be used.
    #[error("invalid user-agent pattern in {location}: {reason}")]
    InvalidUserAgentPattern {
        /// Where.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A maximum authentication age that is zero.
    #[error("invalid maximum authentication age in {location}: {reason}")]
    InvalidMaxAuthAge {
        /// Where.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A raw Cedar policy that does not parse (or is a template, or several policies).
    #[error("raw Cedar policy {id} does not parse: {message}")]
    CedarParse {
        /// The raw policy's id.
        id: Uuid,
        /// Cedar's parser messages.
        message: String,
    },
    /// A raw Cedar policy that fails strict validation against Rampart's schema.
    #[error("raw Cedar policy {id} fails validation against the schema: {message}")]
    CedarValidation {
        /// The raw policy's id.
        id: Uuid,
        /// Cedar's validator messages.
        message: String,
    },
    /// The change would leave no owner able to write the organisation's policies.
    #[error(
        "no owner of organisation {organization} would be able to manage IAM (`iam:policies:write` on the organisation)"
    )]
    NoOwnerCanManageIam {
        /// The organisation.
        organization: Uuid,
    },
    /// A fault of this crate (a generated policy or the schema failed to build); a bug.
    #[error("internal error compiling policies: {0}")]
    Internal(String),
}
