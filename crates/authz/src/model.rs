//! The policy model as the API takes it (JSON through serde) and the request the engine
//! decides.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalogue::{CustomAction, CustomPermissionSet};

/// Whether an organisation is the provider running Rampart or one of its customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    /// The organisation operating Rampart; its owners administer every organisation.
    Provider,
    /// A customer organisation.
    Customer,
}

impl OrganizationKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "Provider",
            Self::Customer => "Customer",
        }
    }
}

/// An organisation and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationRef {
    /// The organisation's id.
    pub id: Uuid,
    /// Provider or customer.
    pub kind: OrganizationKind,
}

/// Who a policy attaches to (and, for users and applications, who makes a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum PrincipalRef {
    /// A person.
    User(Uuid),
    /// A group of users and applications.
    Group(Uuid),
    /// A machine identity holding API keys.
    Application(Uuid),
}

impl fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "user {id}"),
            Self::Group(id) => write!(f, "group {id}"),
            Self::Application(id) => write!(f, "application {id}"),
        }
    }
}

/// Everything one organisation's authorisation depends on; [`crate::compile`] turns it into a
/// [`crate::CompiledOrganization`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPolicies {
    /// The organisation.
    pub organization: OrganizationRef,
    /// The ids of the organisation's projects; rules may be scoped only to these.
    #[serde(default)]
    pub projects: Vec<Uuid>,
    /// Actions of the organisation's own services.
    #[serde(default)]
    pub custom_actions: Vec<CustomAction>,
    /// Permission sets the organisation defines.
    #[serde(default)]
    pub custom_permission_sets: Vec<CustomPermissionSet>,
    /// Policies, each attached to one principal.
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Cedar policies written by the organisation.
    #[serde(default)]
    pub raw_policies: Vec<RawPolicy>,
}

/// Rules attached to one principal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Stable id; rules are reported as `policy:<id>/rule:<index>` (index from 0).
    pub id: Uuid,
    /// The user, group or application the policy grants to.
    pub principal: PrincipalRef,
    /// At least one rule.
    pub rules: Vec<Rule>,
}

/// Permission sets granted over a scope, under an optional condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// At least one permission set name.
    pub permission_sets: Vec<String>,
    /// Where the actions are granted.
    pub scope: Scope,
    /// When they are granted; the default is always.
    #[serde(default, skip_serializing_if = "Condition::is_unconditional")]
    pub condition: Condition,
}

/// Where a rule grants: on everything of the organisation, or within some of its projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every resource of the organisation, including the organisation itself.
    Organization,
    /// Those projects and the resources inside them; not the organisation itself.
    Projects(Vec<Uuid>),
}

/// Conditions on the request context; all given ones must hold. A condition whose context
/// attribute is missing from the request does not hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Condition {
    /// The source address must be in one of these CIDR ranges (IPv4 or IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<Vec<String>>,
    /// The request must fall in this weekly window (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
    /// The user agent must match this glob pattern (`*` matches any run of characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The session must have passed a second factor.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mfa: bool,
    /// The last authentication must be at most this many seconds old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_auth_age_seconds: Option<u32>,
}

impl Condition {
    /// No condition at all.
    pub fn is_unconditional(&self) -> bool {
        self == &Self::default()
    }
}

/// Days of the week and a span of minutes within each, in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// At least one day.
    pub days: Vec<Weekday>,
    /// First minute of the day included, 0..1440.
    pub start_minute: u16,
    /// First minute of the day excluded, greater than `start_minute`, at most 1440.
    pub end_minute: u16,
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// ISO 8601 day number: Monday is 1, Sunday 7.
    pub fn number(self) -> u8 {
        match self {
            Self::Monday => 1,
            Self::Tuesday => 2,
            Self::Wednesday => 3,
            Self::Thursday => 4,
            Self::Friday => 5,
            Self::Saturday => 6,
            Self::Sunday => 7,
        }
    }
}

/// A Cedar policy written by the organisation, validated strictly against Rampart's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Stable id; reported as `raw:<id>`.
    pub id: Uuid,
    /// Exactly one static Cedar policy (`permit` or `forbid`).
    pub text: String,
}

/// The role of a member in its organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds every Rampart action on the organisation (the built-in owner policy).
    Owner,
    /// Holds what policies grant.
    Member,
    /// An account of another organisation let in as a guest: holds what policies grant, never
    /// the owner built-in. Policies reach guests one by one (`principal == User::"…"`) or all
    /// of them (`principal.role == "guest"` in a Cedar policy).
    Guest,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
            Self::Guest => "guest",
        }
    }
}

/// What the caller knows of the principal making a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalFacts {
    /// A user or an application (a group never makes a request).
    pub principal: PrincipalRef,
    /// The organisation the principal belongs to.
    pub organization_id: Uuid,
    /// Owner or member of that organisation, or guest in it (then `organization_id` is the
    /// host organisation's).
    pub role: Role,
    /// The groups the principal is a member of.
    #[serde(default)]
    pub groups: Vec<Uuid>,
    /// The principal belongs to the provider organisation. The engine takes the caller's word
    /// for it: with the owner role it opens every organisation (the staff built-in).
    #[serde(default)]
    pub staff: bool,
}

/// What a request acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ResourceRef {
    /// The organisation itself (its settings, members, audit trail, policies…).
    Organization(Uuid),
    /// A project.
    Project {
        /// The project's organisation.
        organization: Uuid,
        /// The project.
        project: Uuid,
    },
    /// Anything else, e.g. a customer's server, inside a project or at organisation level.
    Object {
        /// The object's organisation.
        organization: Uuid,
        /// Its project, if any.
        project: Option<Uuid>,
        /// A free-form type, e.g. `server`.
        kind: String,
        /// The object's id within its kind.
        id: String,
    },
}

impl ResourceRef {
    /// The organisation the resource belongs to.
    pub fn organization(&self) -> Uuid {
        match self {
            Self::Organization(id) => *id,
            Self::Project { organization, .. } | Self::Object { organization, .. } => *organization,
        }
    }

    /// The project the resource is (in), if any.
    pub fn project(&self) -> Option<Uuid> {
        match self {
            Self::Organization(_) => None,
            Self::Project { project, .. } => Some(*project),
            Self::Object { project, .. } => *project,
        }
    }
}

/// The request context conditions are evaluated against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The client's address, if known. IPv4-mapped IPv6 addresses count as IPv4.
    pub source_ip: Option<IpAddr>,
    /// The time of the request (any offset; windows are evaluated in UTC).
    pub now: OffsetDateTime,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The session passed a second factor.
    pub mfa: bool,
    /// When the principal last authenticated (password or factor), if known.
    pub authenticated_at: Option<OffsetDateTime>,
}

impl Context {
    /// A context with only a time: no address, no user agent, no MFA, no authentication time.
    pub fn at(now: OffsetDateTime) -> Self {
        Self { source_ip: None, now, user_agent: None, mfa: false, authenticated_at: None }
    }
}

/// One authorisation question.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Who asks.
    pub principal: &'a PrincipalFacts,
    /// `service:resource:verb`.
    pub action: &'a str,
    /// On what.
    pub resource: &'a ResourceRef,
    /// In which circumstances.
    pub context: &'a Context,
}

/// The answer to a [`Request`], with Cedar's diagnostics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The policies that determined the decision, sorted: the satisfied permits when allowed,
    /// the satisfied forbids when denied by one, none when nothing granted (including when
    /// nothing could: then forbids are not evaluated).
    pub determining_policies: Vec<String>,
    /// Evaluation errors (a policy that errs is skipped) and refusals before evaluation.
    pub errors: Vec<String>,
    /// Denied with nothing granted, while a permit that applies limits the source address and
    /// the request came from outside all its ranges: an attempt from outside the allowed
    /// addresses.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_address_ranges: bool,
}

impl Decision {
    pub(crate) fn nothing_granted() -> Self {
        Self {
            allowed: false,
            determining_policies: Vec::new(),
            errors: Vec::new(),
            outside_address_ranges: false,
        }
    }

    pub(crate) fn deny_with(error: String) -> Self {
        Self {
            allowed: false,
            determining_policies: Vec::new(),
            errors: vec![error],
            outside_address_ranges: false,
        }
    }
}
