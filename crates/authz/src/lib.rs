//! Rampart's authorisation engine: the policy model, compiled to [Cedar] and evaluated
//! in-process. Pure: no I/O, no clock, no async; the store and the HTTP layer feed it.
//!
//! # Model
//!
//! - **Actions** are named `service:resource:verb`. Rampart's own form one table
//!   ([`Catalogue::rampart`]), each with a privileged flag and a description; every endpoint
//!   of the API declares one:
//!
//!   | endpoints | action |
//!   |---|---|
//!   | read / update / delete the organisation | `organizations:organization:read` / `:write` / `:delete` |
//!   | organisation settings (MFA requirement) | `organizations:settings:read` / `:write` |
//!   | list and read / create and update / delete projects | `projects:projects:read` / `:write` / `:delete` |
//!   | list users / invite, suspend, reactivate / delete | `iam:users:read` / `:write` / `:delete` |
//!   | revoke a user's sessions | `iam:sessions:revoke` |
//!   | administrator password reset | `iam:passwords:reset` |
//!   | list / create / delete applications | `iam:applications:read` / `:write` / `:delete` |
//!   | create an application's API key | `iam:api-keys:write` |
//!   | list groups and members / create, add and remove members / delete | `iam:groups:read` / `:write` / `:delete` |
//!   | policies and permission sets | `iam:policies:read` / `:write` |
//!   | access reviews | `iam:reviews:read` / `:write` |
//!   | list guests / invite and revoke guests | `iam:guests:read` / `:write` |
//!   | the authorisation check API | `iam:authorization:check` |
//!   | audit events / checkpoint / proofs / export | `audit:events:read`, `audit:checkpoints:read`, `audit:proofs:read`, `audit:export:read` |
//!   | erase a personal field of an entry | `audit:entries:erase` |
//!   | assets: read and export / write and import / delete / record a disposal | `assets:assets:read` / `:write` / `:delete` / `:dispose` |
//!   | report a device's posture | `assets:posture:report` |
//!
//!   Privileged: everything that changes IAM (users, sessions, passwords, applications, keys,
//!   groups, policies, reviews, the MFA setting), reads the audit trail's content (events,
//!   export), erases, records an asset's disposal, or deletes the organisation.
//!   Organisations add **custom actions** for their own services; the services `iam`, `audit`,
//!   `organizations`, `projects`, `authz`, `compliance`, `detection`, `detect`, `privacy`,
//!   `assets` and `vuln` are reserved ([`RESERVED_SERVICES`]).
//! - **Permission sets** bundle actions: the built-in `OrganizationManager`, `IAMManager`,
//!   `IAMReadOnly`, `AuditTrailReadOnly`, `SecurityAnalyst`, `ComplianceManager`,
//!   `AssetManager`, `DeviceReporter`, `ProjectManager`, `ReadOnly`, and an organisation's
//!   custom sets.
//! - A [`Policy`] attaches to one principal (user, group or application) and holds [`Rule`]s:
//!   permission sets × a [`Scope`] (the organisation, or some of its projects) × an optional
//!   [`Condition`] on the request context (source address in CIDR ranges, weekly UTC time
//!   window, user-agent glob, MFA, maximum authentication age). A condition whose context
//!   attribute is missing from the request does not hold.
//! - **Raw Cedar policies** ([`RawPolicy`]) let an organisation write `permit` and `forbid`
//!   directly; they must pass Cedar's strict validation against the schema below.
//! - **Built-in policies**, evaluated by Cedar like the others: `builtin:owner` grants a user
//!   whose role is owner every Rampart action on its organisation; `builtin:staff` grants the
//!   owners of the provider organisation every Rampart action on every organisation. Neither
//!   covers custom actions.
//!
//! Decisions are deny by default and a satisfied `forbid` overrides every `permit`. A
//! [`Decision`] carries Cedar's diagnostics: the determining policies (`policy:<uuid>/rule:<n>`
//! with `n` counted from 0, `raw:<uuid>`, `builtin:owner`, `builtin:staff`) and the errors.
//! [`compile`] refuses bad input whole with a [`PolicyError`] naming the place and the reason.
//!
//! # Cedar schema
//!
//! Namespace `Rampart`. Entities: `Organization { kind }`; `Project in [Organization]`;
//! `Group in [Organization]`; `User in [Group, Organization] { role, staff }` (`role` is
//! `owner`, `member`, or `guest` for an account of another organisation let in as a guest);
//! `Application in [Group, Organization]`; `Resource in [Project, Organization] { kind }` (any
//! other object, id `<kind>/<id>`). Every action applies to principals `User` and
//! `Application` and resources `Organization`, `Project` and `Resource`, with the context
//! `{ source_ip?: ipaddr, day_of_week: Long (1 = Monday), minute_of_day: Long (UTC),
//! user_agent?: String, mfa: Bool, auth_age_seconds?: Long }`. Each permission set is an action
//! group `Action::"set:<Name>"` and every Rampart action is in `Action::"all:rampart"`; raw
//! policies may use them (`action in Rampart::Action::"set:IAMReadOnly"`). The schema is built
//! per organisation, with its custom actions and sets.
//!
//! A rule compiles to one Cedar policy: `principal == User::"…"` (or `Application`, or
//! `principal in Group::"…"`), `action in Action::"set:…"` (a list for several sets),
//! `resource in Organization::"…"` or `resource in Project::"…"` (several projects: `||` in the
//! `when`), and `when` clauses for the condition. The built-ins are `permit (principal is User
//! in Organization::"…", action in Action::"all:rampart", resource in Organization::"…") when {
//! principal.role == "owner" }` and the staff one, `when { principal.staff && principal.role ==
//! "owner" }`. Raw and built-in policies pass strict validation when compiling; the rule
//! policies come in a few fixed shapes, validated by this crate's tests.
//!
//! # Slicing and caching
//!
//! Cedar evaluates every policy of the set it is given, at a few microseconds each, so a
//! decision never sees the organisation's whole set. Policies are indexed by the principal they
//! attach to (a rule by its user, application or group; a raw policy by its principal scope,
//! `principal == User::…` or `principal in Group::…`, anything else organisation-wide; the
//! owner built-in by role), by the actions their action scope admits and, for rules scoped to
//! projects, by project. A request is evaluated against its slice: the principal's own
//! policies, its groups', the organisation-wide raw ones and the built-ins its role gets,
//! keeping those that admit the action and the resource's project. Slices are built on first
//! use and cached inside the [`CompiledOrganization`], keyed by principal, organisation, role,
//! staff flag, groups, action and project (a bounded cache, emptied when full); the compiled
//! organisation is immutable and a policy change compiles a new one, so the cache is never
//! stale.
//!
//! Inside a slice the index has already decided each rule's scope: its principal, its action,
//! the organisation and its projects. The slice therefore holds rules in an evaluation form
//! reduced to their condition, the built-ins reduced to their role test, and raw policies as
//! written. A slice caches the Cedar entities that do not depend on the resource (the
//! principal, the organisation, the action with the groups its raw policies name); per request
//! only what the slice's policies read is built: the resource's entity and the context
//! attributes. A slice without any `permit` denies without evaluation (its forbids are then
//! neither evaluated nor reported).
//!
//! [`CompiledOrganization::authorize_unsliced`] evaluates every policy in its compiled form
//! against complete entities and context; a property test checks that it and
//! [`CompiledOrganization::authorize`] decide alike.
//!
//! `benches/decision.rs` measures one organisation of 10,000 principals and 1,000 policies.
//! Denials where nothing could grant cost about a microsecond; an evaluated decision costs
//! Cedar's own overhead (building the context and request, evaluating a few policies), several
//! microseconds.
//!
//! # Isolation
//!
//! A compiled organisation decides only requests on its own resources: a resource of another
//! organisation is denied before any policy is evaluated, so no policy of organisation A is
//! ever evaluated for, or grants, a resource of organisation B. A principal of another
//! organisation is evaluated against the `builtin:staff` policy alone, which only an owner of
//! the provider organisation satisfies; none of the organisation's own policies, raw ones
//! included, applies to it. The caller evaluates a request with the compiled organisation
//! that owns the resource. A guest (an account of another organisation let into this one) is
//! not such a stranger: the caller, which knows the memberships, presents it as a principal
//! of this organisation with the role `guest`, which the owner built-in never matches.
//!
//! [Cedar]: https://www.cedarpolicy.com

mod catalogue;
mod compile;
mod engine;
mod error;
mod model;
mod queries;

pub use catalogue::{
    Action, Catalogue, CustomAction, CustomPermissionSet, PermissionSet, RESERVED_SERVICES,
    parse_action_name,
};
pub use compile::{OWNER_POLICY_ID, STAFF_POLICY_ID, compile};
pub use engine::CompiledOrganization;
pub use error::PolicyError;
pub use model::{
    Condition, Context, Decision, OrganizationKind, OrganizationPolicies, OrganizationRef, Policy,
    PrincipalFacts, PrincipalRef, RawPolicy, Request, ResourceRef, Role, Rule, Scope, TimeWindow,
    Weekday,
};
pub use queries::{
    EffectivePermissions, Grant, QueryError, RawPolicyNote, Subject, Via, WhoCan, WhoCanGrant,
};
