//! Questions about the policies rather than about one request: what a principal may do, who may
//! do something, and whether the owners keep control of IAM.

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::compile::{CompiledRaw, OWNER_POLICY_ID, STAFF_POLICY_ID, SliceOwner};
use crate::engine::CompiledOrganization;
use crate::error::PolicyError;
use crate::model::{
    Condition, Context, PrincipalFacts, PrincipalRef, Request, ResourceRef, Role, Scope,
};

/// How a grant reaches a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Via {
    /// A policy attached to the principal itself.
    Direct,
    /// A policy attached to one of its groups.
    Group(Uuid),
    /// A built-in policy (owner or staff).
    BuiltIn,
}

/// One rule that grants a principal something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The rule's id as decisions report it (`policy:<uuid>/rule:<n>`, `builtin:owner`, …).
    pub policy: String,
    /// Directly, through a group, or built in.
    pub via: Via,
    /// The permission sets the rule names (empty for built-ins).
    pub permission_sets: Vec<String>,
    /// The actions they hold, sorted.
    pub actions: Vec<String>,
    /// Where.
    pub scope: Scope,
    /// Under which condition (unconditional when empty).
    pub condition: Condition,
}

/// A raw Cedar policy that may take part in decisions; its conditions are not analysed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RawPolicyNote {
    /// `raw:<uuid>`.
    pub policy: String,
    /// `forbid` rather than `permit`.
    pub forbid: bool,
}

/// What a principal may do in this organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EffectivePermissions {
    /// The rules that apply to the principal, directly, through its groups, or built in.
    pub grants: Vec<Grant>,
    /// Raw Cedar policies evaluated for the principal, which may grant or forbid more.
    pub raw_policies: Vec<RawPolicyNote>,
    /// A sentence for people when raw policies may change the picture.
    pub note: Option<String>,
}

/// Who a grant of [`WhoCan`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "principal", rename_all = "snake_case")]
pub enum Subject {
    /// A user, application or group with a policy.
    Principal(PrincipalRef),
    /// Every owner of this organisation (the built-in owner policy).
    Owners,
    /// Every owner of the provider organisation (the built-in staff policy).
    ProviderOwners,
}

/// One way an action on a resource is granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WhoCanGrant {
    /// Who.
    pub subject: Subject,
    /// The granting rule's id.
    pub policy: String,
    /// `None` when unconditional.
    pub condition: Option<Condition>,
}

/// Who may perform an action on a resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WhoCan {
    /// The grants, built-ins first, then rules in policy order.
    pub grants: Vec<WhoCanGrant>,
    /// Raw Cedar policies whose action scope admits the action.
    pub raw_policies: Vec<RawPolicyNote>,
    /// A sentence for people when raw policies may change the picture.
    pub note: Option<String>,
}

/// A query that cannot be answered as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The action is in no catalogue of this organisation.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// The resource is another organisation's.
    #[error("the resource belongs to organisation {resource}, not to {organization}")]
    ForeignResource {
        /// The resource's organisation.
        resource: Uuid,
        /// This organisation.
        organization: Uuid,
    },
    /// The resource names a project the organisation does not have.
    #[error("project {0} is not a project of this organisation")]
    UnknownProject(Uuid),
}

fn note(raws: &[RawPolicyNote]) -> Option<String> {
    if raws.is_empty() {
        return None;
    }
    let forbids = raws.iter().filter(|r| r.forbid).count();
    Some(format!(
        "{} raw Cedar polic{} may also apply ({} forbid); their conditions are not analysed here, use authorize for a definite answer",
        raws.len(),
        if raws.len() == 1 { "y" } else { "ies" },
        forbids
    ))
}

fn raw_note(raw: &CompiledRaw) -> RawPolicyNote {
    RawPolicyNote { policy: raw.id.clone(), forbid: raw.forbid }
}

impl CompiledOrganization {
    fn builtin_grant(&self, id: &str) -> Grant {
        Grant {
            policy: id.to_owned(),
            via: Via::BuiltIn,
            permission_sets: Vec::new(),
            actions: self.catalogue.builtin_action_names().map(str::to_owned).collect(),
            scope: Scope::Organization,
            condition: Condition::default(),
        }
    }

    /// The rules that apply to a principal (directly, through its groups, built in), and the raw
    /// Cedar policies evaluated for it.
    pub fn effective_permissions(&self, facts: &PrincipalFacts) -> EffectivePermissions {
        let is_user = matches!(facts.principal, PrincipalRef::User(_));
        let staff = facts.staff && facts.role == Role::Owner && is_user;
        let mut grants = Vec::new();
        if facts.organization_id != self.organization.id {
            if staff {
                grants.push(self.builtin_grant(STAFF_POLICY_ID));
            }
            return EffectivePermissions { grants, raw_policies: Vec::new(), note: None };
        }
        if is_user && facts.role == Role::Owner {
            grants.push(self.builtin_grant(OWNER_POLICY_ID));
        }
        if staff {
            grants.push(self.builtin_grant(STAFF_POLICY_ID));
        }
        for rule in &self.rules {
            let via = match rule.principal {
                PrincipalRef::Group(g) if facts.groups.contains(&g) => Via::Group(g),
                p if p == facts.principal && !matches!(p, PrincipalRef::Group(_)) => Via::Direct,
                _ => continue,
            };
            grants.push(Grant {
                policy: rule.id.clone(),
                via,
                permission_sets: rule.permission_sets.clone(),
                actions: rule.actions.iter().cloned().collect(),
                scope: rule.scope.clone(),
                condition: rule.condition.clone(),
            });
        }
        let raw_policies: Vec<RawPolicyNote> = self
            .raws
            .iter()
            .filter(|raw| match raw.owner {
                SliceOwner::OrgWide => true,
                SliceOwner::Principal(p) => p == facts.principal,
                SliceOwner::Group(g) => facts.groups.contains(&g),
            })
            .map(raw_note)
            .collect();
        EffectivePermissions { grants, note: note(&raw_policies), raw_policies }
    }

    /// The principals, groups and built-ins whose rules grant `action` on `resource`, with the
    /// condition each grant needs, and the raw Cedar policies that may also apply.
    pub fn who_can(&self, action: &str, resource: &ResourceRef) -> Result<WhoCan, QueryError> {
        let Some(known) = self.catalogue.action(action) else {
            return Err(QueryError::UnknownAction(action.to_owned()));
        };
        if resource.organization() != self.organization.id {
            return Err(QueryError::ForeignResource {
                resource: resource.organization(),
                organization: self.organization.id,
            });
        }
        let project = resource.project();
        if let Some(p) = project
            && !self.projects.contains(&p)
        {
            return Err(QueryError::UnknownProject(p));
        }
        let mut grants = Vec::new();
        if known.builtin {
            grants.push(WhoCanGrant {
                subject: Subject::Owners,
                policy: OWNER_POLICY_ID.to_owned(),
                condition: None,
            });
            grants.push(WhoCanGrant {
                subject: Subject::ProviderOwners,
                policy: STAFF_POLICY_ID.to_owned(),
                condition: None,
            });
        }
        for rule in &self.rules {
            if !rule.actions.contains(action) {
                continue;
            }
            let covers = match &rule.scope {
                Scope::Organization => true,
                Scope::Projects(list) => project.is_some_and(|p| list.contains(&p)),
            };
            if !covers {
                continue;
            }
            grants.push(WhoCanGrant {
                subject: Subject::Principal(rule.principal),
                policy: rule.id.clone(),
                condition: (!rule.condition.is_unconditional()).then(|| rule.condition.clone()),
            });
        }
        let raw_policies: Vec<RawPolicyNote> = self
            .raws
            .iter()
            .filter(|raw| raw.actions.as_ref().is_none_or(|a| a.contains(action)))
            .map(raw_note)
            .collect();
        Ok(WhoCan { grants, note: note(&raw_policies), raw_policies })
    }

    /// Checks that at least one of `owners` can write the organisation's policies
    /// (`iam:policies:write` on the organisation), so that a change cannot lock the
    /// organisation out of its own IAM.
    ///
    /// Only members of this organisation whose role is owner count. An owner counts when the
    /// engine allows the action for a fresh MFA session (authenticated now, no source address
    /// or user agent known) at some half hour of the week: time windows in raw `forbid`
    /// policies do not lock out, but a raw `forbid` that applies unless the request comes from
    /// some address or user agent does.
    pub fn owners_can_manage_iam(&self, owners: &[PrincipalFacts]) -> Result<(), PolicyError> {
        let org = self.organization.id;
        let resource = ResourceRef::Organization(org);
        // A Monday at 00:15 UTC, then every half hour of that week.
        let monday = OffsetDateTime::from_unix_timestamp(1_704_067_200 + 15 * 60)
            .map_err(|e| PolicyError::Internal(e.to_string()))?;
        for owner in owners.iter().filter(|o| o.organization_id == org && o.role == Role::Owner) {
            for half_hour in 0..(7 * 48) {
                let now = monday + Duration::minutes(30 * half_hour);
                let context =
                    Context { mfa: true, authenticated_at: Some(now), ..Context::at(now) };
                let decision = self.authorize(&Request {
                    principal: owner,
                    action: "iam:policies:write",
                    resource: &resource,
                    context: &context,
                });
                if decision.allowed {
                    return Ok(());
                }
            }
        }
        Err(PolicyError::NoOwnerCanManageIam { organization: org })
    }
}
