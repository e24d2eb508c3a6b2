//! Access reviews: the periodic review of who holds which rights.
//!
//! A campaign takes a snapshot of the policy rules in its scope (the organisation, one group
//! and its members, privileged rules only, or the provider's staff): one item per principal
//! and rule, with when and by whom the policy was granted and when the principal last acted.
//! Reviewers keep, revoke or reduce each rule with a justification; a revocation or reduction
//! changes the policy in the decision's transaction, under the same validation as any policy
//! change, and applies from the next request. Campaigns start on demand, on an
//! organisation's cadence ([`App::start_due_reviews`]), or when a member joins or leaves a
//! group (the organisation's open "movers" campaign collects those items).
//!
//! Every start, decision and close is a privileged audit event carrying what an auditor
//! needs: who reviewed what, when, the outcome and its justification.

use std::collections::{BTreeSet, HashMap, HashSet};

use authz::Catalogue;
use base::{
    Actor, AuditEvent, GroupId, OrganizationId, OrganizationKind, RequestContext, Resource, UserId,
};
use store::{
    AccessReviewRepository as _, AuthorizationRepository as _, CampaignCounts, CampaignOrigin,
    GroupMember, ItemDecisionRecord, OrganizationRepository as _, PolicyHolder,
    PrincipalRepository as _, ReviewCampaignRecord, ReviewDecision, ReviewItemRecord,
    ReviewScheduleRecord, ReviewScope, Transaction, UserRepository as _, UserStatus,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::authorization::{CATALOGUE, OwnersKeepIam, organization_policies};
use crate::secrets::new_id;
use crate::{App, AppError, Principal, Subject};

/// Days between a campaign's start and its due date, unless the starter says otherwise.
pub const DEFAULT_DUE_IN_DAYS: u32 = 14;
/// Items whose principal did not act for this many days are flagged, unless the starter says
/// otherwise.
pub const DEFAULT_UNUSED_AFTER_DAYS: u32 = 90;
const MAX_DUE_IN_DAYS: u32 = 365;
const MAX_UNUSED_AFTER_DAYS: u32 = 3650;
const MAX_CADENCE_DAYS: u32 = 3650;
const MAX_JUSTIFICATION_CHARS: usize = 1000;
const MAX_NAME_CHARS: usize = 200;

/// A campaign to start on demand.
#[derive(Debug, Clone)]
pub struct StartReview {
    pub name: String,
    pub scope: ReviewScope,
    /// A user of the organisation who may decide the items without `iam:reviews:write`.
    pub reviewer: Option<UserId>,
    /// 1 to 365; [`DEFAULT_DUE_IN_DAYS`] when absent.
    pub due_in_days: Option<u32>,
    /// 1 to 3650; [`DEFAULT_UNUSED_AFTER_DAYS`] when absent.
    pub unused_after_days: Option<u32>,
}

/// What a reviewer decides about one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemDecision {
    Keep,
    /// Remove the rule from its policy (the policy goes with its last rule).
    Revoke,
    /// Keep only these of the rule's permission sets (a non-empty, strict subset).
    Reduce(Vec<String>),
}

/// A reviewer's answer on one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    pub decision: ItemDecision,
    /// Why, 1 to 1000 characters.
    pub justification: String,
}

/// A campaign and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSummary {
    pub campaign: ReviewCampaignRecord,
    pub counts: CampaignCounts,
    /// Still open after its due date.
    pub overdue: bool,
}

impl CampaignSummary {
    pub fn is_open(&self) -> bool {
        self.campaign.closed_at.is_none()
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Awaiting a decision.
    Pending,
    /// Awaiting a decision, but its policy no longer holds the rule as it was reviewed: it
    /// cannot be decided; a new campaign reviews the current rule.
    Stale,
    Kept,
    Revoked,
    Reduced,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Stale => "stale",
            Self::Kept => "kept",
            Self::Revoked => "revoked",
            Self::Reduced => "reduced",
        }
    }
}

/// An item and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    pub item: ReviewItemRecord,
    pub state: ItemState,
    /// Undecided in a campaign past its due date.
    pub overdue: bool,
    /// The principal is a guest (an account of another organisation) of the organisation now,
    /// with the end of its membership if it has one.
    pub guest: Option<GuestMark>,
}

/// A guest's membership, as a review shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestMark {
    pub expires_at: Option<OffsetDateTime>,
}

/// The organisation's current guests, to mark the items of their rules.
async fn guest_marks(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    now: OffsetDateTime,
) -> Result<HashMap<Uuid, GuestMark>, AppError> {
    Ok(store::GuestRepository::list_guest_memberships(transaction, organization_id)
        .await?
        .into_iter()
        .filter(|membership| membership.is_open_at(now))
        .map(|membership| {
            (*membership.user_id.as_uuid(), GuestMark { expires_at: membership.expires_at })
        })
        .collect())
}

fn guest_mark(guests: &HashMap<Uuid, GuestMark>, holder: PolicyHolder) -> Option<GuestMark> {
    match holder {
        PolicyHolder::User(id) => guests.get(&id).copied(),
        PolicyHolder::Group(_) | PolicyHolder::Application(_) => None,
    }
}

/// A campaign with its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignView {
    pub summary: CampaignSummary,
    pub items: Vec<ItemView>,
}

/// A schedule and when it next starts a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleView {
    pub schedule: ReviewScheduleRecord,
    pub next_start_at: OffsetDateTime,
}

/// An organisation's access reviews and their outcomes, as evidence for a compliance report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReviewSummary {
    pub organization_id: OrganizationId,
    pub generated_at: OffsetDateTime,
    /// Newest first.
    pub campaigns: Vec<CampaignSummary>,
    /// The sum of every campaign's counts.
    pub totals: CampaignCounts,
    pub n_open: u64,
    pub n_overdue: u64,
    pub schedules: Vec<ScheduleView>,
}

/// Which rules a snapshot takes.
#[derive(Debug, Clone, Copy)]
enum Selection {
    Scope(ReviewScope),
    /// The rules one principal holds itself (a membership change).
    Holder(PolicyHolder),
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn days_in(value: Option<u32>, default: u32, max: u32, what: &str) -> Result<u32, AppError> {
    check_days(value.unwrap_or(default), max, what)
}

fn check_days(value: u32, max: u32, what: &str) -> Result<u32, AppError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::InvalidInput(format!("{what}: between 1 and {max} days; got {value}")))
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let n_chars = name.chars().count();
    if n_chars == 0 || n_chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::InvalidInput(format!(
            "name: 1 to {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(name.to_owned())
}

fn check_justification(justification: &str) -> Result<String, AppError> {
    let justification = justification.trim();
    let n_chars = justification.chars().count();
    if n_chars == 0
        || n_chars > MAX_JUSTIFICATION_CHARS
        || justification.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::InvalidInput(format!(
            "justification: required, 1 to {MAX_JUSTIFICATION_CHARS} characters, no control \
             characters but line breaks"
        )));
    }
    Ok(justification.to_owned())
}

/// The JSON text of a parsed value (stored rules and reduced sets).
fn json_text<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|error| AppError::Internal(format!("json: {error}")))
}

fn parse_rule(text: &str) -> Result<authz::Rule, AppError> {
    serde_json::from_str(text)
        .map_err(|error| AppError::Internal(format!("stored review rule does not parse: {error}")))
}

fn parse_rules(policy: &store::PolicyRecord) -> Result<Vec<authz::Rule>, AppError> {
    serde_json::from_str(&policy.rules).map_err(|error| {
        AppError::Internal(format!("stored policy {} does not parse: {error}", policy.id))
    })
}

/// Whether any permission set of the rule holds a privileged action.
fn is_privileged(catalogue: &Catalogue, rule: &authz::Rule) -> bool {
    rule.permission_sets.iter().any(|name| {
        catalogue
            .permission_set(name)
            .is_some_and(|set| set.actions.iter().any(|action| catalogue.is_privileged(action)))
    })
}

/// Where the reviewed rule now is in its policy: at its index, or else the only equal rule
/// (an earlier rule was removed); `None` when the policy no longer holds it.
fn find_rule(rules: &[authz::Rule], index: u32, reviewed: &authz::Rule) -> Option<usize> {
    let at = usize::try_from(index).ok()?;
    if rules.get(at) == Some(reviewed) {
        return Some(at);
    }
    let mut equal = rules.iter().enumerate().filter(|(_, rule)| *rule == reviewed);
    match (equal.next(), equal.next()) {
        (Some((at, _)), None) => Some(at),
        _ => None,
    }
}

/// The permission sets a reduction keeps, in the rule's order: a non-empty strict subset of
/// the rule's.
fn reduced_sets(rule: &authz::Rule, sets: &[String]) -> Result<Vec<String>, AppError> {
    if let Some(unknown) = sets.iter().find(|set| !rule.permission_sets.contains(*set)) {
        return Err(AppError::InvalidInput(format!(
            "permission_sets: {unknown:?} is not one of the rule's permission sets ({})",
            rule.permission_sets.join(", ")
        )));
    }
    if sets.len() >= rule.permission_sets.len() {
        return Err(AppError::InvalidInput(
            "permission_sets: a reduction leaves out at least one of the rule's permission \
             sets; to keep them all, decide keep"
                .into(),
        ));
    }
    Ok(rule.permission_sets.iter().filter(|set| sets.contains(set)).cloned().collect())
}

/// Apply a decision to the rule at `at` of `policy`; returns the audit action of the policy
/// change, if any (a revocation of its last rule deletes the policy).
async fn change_policy(
    transaction: &mut Transaction,
    policy: &mut store::PolicyRecord,
    at: usize,
    decision: ReviewDecision,
    kept_sets: Option<&[String]>,
    now: OffsetDateTime,
) -> Result<Option<&'static str>, AppError> {
    let mut rules = parse_rules(policy)?;
    if at >= rules.len() {
        return Err(stale_conflict());
    }
    match (decision, kept_sets) {
        (ReviewDecision::Keep, _) => return Ok(None),
        (ReviewDecision::Revoke, _) => {
            rules.remove(at);
            if rules.is_empty() {
                transaction.delete_policy(policy.organization_id, policy.id).await?;
                return Ok(Some("iam.policy.delete"));
            }
        }
        (ReviewDecision::Reduce, Some(sets)) => {
            if let Some(rule) = rules.get_mut(at) {
                rule.permission_sets = sets.to_vec();
            }
        }
        (ReviewDecision::Reduce, None) => {
            return Err(AppError::Internal("a reduction without permission sets".into()));
        }
    }
    policy.rules = json_text(&rules)?;
    policy.updated_at = now;
    transaction.update_policy(policy).await?;
    Ok(Some("iam.policy.update"))
}

fn stale_conflict() -> AppError {
    AppError::Conflict(
        "the policy no longer holds this rule as it was reviewed (it changed or was deleted \
         since the item was created): refresh the campaign and review the current rule in a \
         new campaign"
            .into(),
    )
}

fn member_id(member: GroupMember) -> Uuid {
    match member {
        GroupMember::User(id) => *id.as_uuid(),
        GroupMember::Application(id) => *id.as_uuid(),
    }
}

fn holder_text(holder: PolicyHolder) -> String {
    match holder {
        PolicyHolder::User(id) => format!("user:{id}"),
        PolicyHolder::Group(id) => format!("group:{id}"),
        PolicyHolder::Application(id) => format!("application:{id}"),
    }
}

fn scope_value(scope: ReviewScope) -> serde_json::Value {
    match scope {
        ReviewScope::Group(id) => serde_json::json!({ "group": id.to_string() }),
        other => other.kind().into(),
    }
}

fn item_state(item: &ReviewItemRecord, stale: bool) -> ItemState {
    match item.decision.as_ref().map(|decision| decision.decision) {
        Some(ReviewDecision::Keep) => ItemState::Kept,
        Some(ReviewDecision::Revoke) => ItemState::Revoked,
        Some(ReviewDecision::Reduce) => ItemState::Reduced,
        None if stale => ItemState::Stale,
        None => ItemState::Pending,
    }
}

fn is_overdue(campaign: &ReviewCampaignRecord, now: OffsetDateTime) -> bool {
    campaign.closed_at.is_none() && now > campaign.due_at
}

fn add_counts(total: &mut CampaignCounts, counts: &CampaignCounts) {
    total.n_items += counts.n_items;
    total.n_decided += counts.n_decided;
    total.n_kept += counts.n_kept;
    total.n_revoked += counts.n_revoked;
    total.n_reduced += counts.n_reduced;
    total.n_unused += counts.n_unused;
}

fn next_start(schedule: &ReviewScheduleRecord) -> OffsetDateTime {
    schedule
        .last_started_at
        .map_or(schedule.created_at, |last| last + Duration::days(i64::from(schedule.cadence_days)))
}

/// Whether the principal is the campaign's named reviewer.
fn is_named_reviewer(principal: &Principal, campaign: &ReviewCampaignRecord) -> bool {
    principal.organization_id == campaign.organization_id
        && campaign.reviewer_id.is_some_and(|reviewer| principal.subject == Subject::User(reviewer))
}

/// Scopes that need the organisation's kind or an existing group.
async fn check_scope(
    transaction: &mut Transaction,
    organization: &base::Organization,
    scope: ReviewScope,
) -> Result<(), AppError> {
    match scope {
        ReviewScope::Staff if organization.kind != OrganizationKind::Provider => {
            Err(AppError::InvalidInput(
                "scope staff: only the provider organization has staff to review".into(),
            ))
        }
        ReviewScope::Group(id) => {
            transaction
                .get_group(organization.id, GroupId::from_uuid(id))
                .await?
                .ok_or(AppError::NotFound("group"))?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The items of a new snapshot of the organisation's rules in `selection`.
async fn snapshot_items(
    transaction: &mut Transaction,
    organization: &base::Organization,
    selection: Selection,
    campaign: &ReviewCampaignRecord,
    now: OffsetDateTime,
    reason: Option<&str>,
) -> Result<Vec<ReviewItemRecord>, AppError> {
    let settings = transaction.authorization_settings(organization.id).await?;
    let input = organization_policies(organization, &settings, Vec::new())?;
    let catalogue =
        CATALOGUE.with_custom(&input.custom_actions, &input.custom_permission_sets).map_err(
            |error| AppError::Internal(format!("stored catalogue does not compile: {error}")),
        )?;
    let mut members_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (group, member) in transaction.group_memberships(organization.id).await? {
        members_of.entry(group).or_default().push(member);
    }
    let selected = |holder: PolicyHolder| match selection {
        Selection::Holder(only) => holder == only,
        Selection::Scope(ReviewScope::Group(group)) => {
            holder == PolicyHolder::Group(group)
                || members_of.get(&group).is_some_and(|members| members.contains(&holder.id()))
        }
        Selection::Scope(_) => true,
    };
    let privileged_only = matches!(selection, Selection::Scope(ReviewScope::Privileged));

    // Rules in scope, then when their principals last acted.
    let mut rules = Vec::new();
    for (record, policy) in settings.policies.iter().zip(&input.policies) {
        if !selected(record.holder) {
            continue;
        }
        for (index, rule) in policy.rules.iter().enumerate() {
            let privileged = is_privileged(&catalogue, rule);
            if privileged_only && !privileged {
                continue;
            }
            let index = u32::try_from(index)
                .map_err(|_| AppError::Internal(format!("policy {} is too long", record.id)))?;
            rules.push((record, index, json_text(rule)?, privileged));
        }
    }
    let mut actors: BTreeSet<String> = BTreeSet::new();
    for (record, ..) in &rules {
        match record.holder {
            PolicyHolder::Group(group) => {
                let members = members_of.get(&group).map(Vec::as_slice).unwrap_or_default();
                actors.extend(members.iter().map(Uuid::to_string));
            }
            holder => {
                actors.insert(holder.id().to_string());
            }
        }
    }
    let actors: Vec<String> = actors.into_iter().collect();
    let activity = transaction.last_activity(&actors).await?;
    let last_activity_of = |holder: PolicyHolder| match holder {
        PolicyHolder::Group(group) => members_of
            .get(&group)
            .into_iter()
            .flatten()
            .filter_map(|member| activity.get(&member.to_string()).copied())
            .max(),
        holder => activity.get(&holder.id().to_string()).copied(),
    };
    let unused_after = Duration::days(i64::from(campaign.unused_after_days));
    Ok(rules
        .into_iter()
        .map(|(record, rule_index, rule, privileged)| {
            let last_activity_at = last_activity_of(record.holder);
            ReviewItemRecord {
                id: new_id(now),
                campaign_id: campaign.id,
                organization_id: organization.id,
                principal: record.holder,
                policy_id: record.id,
                rule_index,
                rule,
                privileged,
                granted_at: record.created_at,
                granted_by: record.created_by.clone(),
                policy_updated_at: record.updated_at,
                last_activity_at,
                unused: last_activity_at.is_none_or(|at| now - at >= unused_after),
                reason: reason.map(str::to_owned),
                created_at: now,
                decision: None,
            }
        })
        .collect())
}

impl App {
    /// Start a campaign over a scope of the organisation's rules.
    pub async fn start_access_review(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: StartReview,
        context: &RequestContext,
    ) -> Result<CampaignSummary, AppError> {
        let name = check_name(&input.name)?;
        let due_in_days =
            days_in(input.due_in_days, DEFAULT_DUE_IN_DAYS, MAX_DUE_IN_DAYS, "due_in_days")?;
        let unused_after_days = days_in(
            input.unused_after_days,
            DEFAULT_UNUSED_AFTER_DAYS,
            MAX_UNUSED_AFTER_DAYS,
            "unused_after_days",
        )?;
        self.authorize_recently(principal, organization_id, "iam:reviews:write", context).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let organization = transaction
            .get_organization(organization_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        check_scope(&mut transaction, &organization, input.scope).await?;
        if let Some(reviewer) = input.reviewer {
            let active = transaction.get_user(reviewer).await?.is_some_and(|user| {
                user.organization_id == organization_id && user.status == UserStatus::Active
            });
            if !active {
                return Err(AppError::InvalidInput(format!(
                    "reviewer {reviewer} is not an active user of this organization"
                )));
            }
        }
        let campaign = ReviewCampaignRecord {
            id: new_id(now),
            organization_id,
            name,
            scope: input.scope,
            origin: CampaignOrigin::Manual,
            reviewer_id: input.reviewer,
            unused_after_days,
            started_by: principal.actor.id(),
            started_at: now,
            due_at: now + Duration::days(i64::from(due_in_days)),
            closed_at: None,
            closed_by: None,
        };
        let mut start = self.success_event(
            principal,
            organization_id,
            "iam.review.start",
            Resource::new("access_review", campaign.id),
            context,
        );
        let summary =
            self.open_campaign(&mut transaction, &organization, campaign, &mut start).await?;
        transaction.commit().await?;
        Ok(summary)
    }

    /// Snapshot the campaign's scope, store it with its items and record `start` (and, for a
    /// campaign with nothing to review, its close).
    async fn open_campaign(
        &self,
        transaction: &mut Transaction,
        organization: &base::Organization,
        mut campaign: ReviewCampaignRecord,
        start: &mut AuditEvent,
    ) -> Result<CampaignSummary, AppError> {
        let now = campaign.started_at;
        let selection = Selection::Scope(campaign.scope);
        let items =
            snapshot_items(transaction, organization, selection, &campaign, now, None).await?;
        if items.is_empty() {
            campaign.closed_at = Some(now);
        }
        transaction.insert_review_campaign(&campaign).await?;
        transaction.insert_review_items(&items).await?;
        let counts = CampaignCounts {
            n_items: items.len() as u64,
            n_unused: items.iter().filter(|item| item.unused).count() as u64,
            ..CampaignCounts::default()
        };
        start.privileged = true;
        let details = &mut start.details;
        details.insert("name".into(), campaign.name.clone().into());
        details.insert("scope".into(), scope_value(campaign.scope));
        details.insert("origin".into(), campaign.origin.as_str().into());
        details.insert("reviewer".into(), campaign.reviewer_id.map(|id| id.to_string()).into());
        details.insert("due_at".into(), rfc3339(campaign.due_at).into());
        details.insert("unused_after_days".into(), campaign.unused_after_days.into());
        details.insert("items".into(), counts.n_items.into());
        details.insert(
            "privileged_items".into(),
            (items.iter().filter(|item| item.privileged).count() as u64).into(),
        );
        details.insert("unused_items".into(), counts.n_unused.into());
        let mut events = vec![start.clone()];
        if campaign.closed_at.is_some() {
            let mut close = start.clone();
            close.action = "iam.review.close".into();
            close.details = serde_json::Map::new();
            close.details.insert("reason".into(), "nothing to review".into());
            close.details.insert("items".into(), 0.into());
            events.push(close);
        }
        transaction.append_audit_events(&events).await?;
        let overdue = is_overdue(&campaign, now);
        Ok(CampaignSummary { campaign, counts, overdue })
    }

    /// The organisation's campaigns, newest first; only those past their due date and still
    /// open when `overdue_only`.
    pub async fn list_access_reviews(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        overdue_only: bool,
        context: &RequestContext,
    ) -> Result<Vec<CampaignSummary>, AppError> {
        self.authorize_in(principal, organization_id, "iam:reviews:read", context).await?;
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let campaigns = read.list_review_campaigns(organization_id).await?;
        read.commit().await?;
        Ok(campaigns
            .into_iter()
            .map(|(campaign, counts)| {
                let overdue = is_overdue(&campaign, now);
                CampaignSummary { campaign, counts, overdue }
            })
            .filter(|summary| !overdue_only || summary.overdue)
            .collect())
    }

    /// The organisation's reviews, their outcomes and schedules: what a compliance report
    /// shows of "regular review of rights and access".
    pub async fn access_review_summary(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<AccessReviewSummary, AppError> {
        let campaigns =
            self.list_access_reviews(principal, organization_id, false, context).await?;
        let schedules =
            self.list_access_review_schedules(principal, organization_id, context).await?;
        let mut totals = CampaignCounts::default();
        for summary in &campaigns {
            add_counts(&mut totals, &summary.counts);
        }
        Ok(AccessReviewSummary {
            organization_id,
            generated_at: self.clock.now(),
            n_open: campaigns.iter().filter(|summary| summary.is_open()).count() as u64,
            n_overdue: campaigns.iter().filter(|summary| summary.overdue).count() as u64,
            campaigns,
            totals,
            schedules,
        })
    }

    /// Authorise reading or changing a campaign: its named reviewer may, and so may holders of
    /// `action`. An unknown campaign is reported only to those.
    async fn authorize_campaign(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        campaign: Option<&ReviewCampaignRecord>,
        action: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let named = campaign.is_some_and(|campaign| is_named_reviewer(principal, campaign));
        let change = action.ends_with(":write");
        match (named, change) {
            (true, true) => self.require_recent_authentication(principal).await,
            (true, false) => Ok(()),
            (false, true) => {
                self.authorize_recently(principal, organization_id, action, context).await
            }
            (false, false) => {
                self.authorize_in(principal, organization_id, action, context).await.map(|_| ())
            }
        }
    }

    async fn read_campaign(
        &self,
        organization_id: OrganizationId,
        campaign_id: Uuid,
    ) -> Result<Option<ReviewCampaignRecord>, AppError> {
        let mut read = self.store.read_latest().await?;
        let campaign = read.get_review_campaign(organization_id, campaign_id).await?;
        read.commit().await?;
        Ok(campaign)
    }

    /// A campaign with its items and the state of each.
    pub async fn access_review(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        campaign_id: Uuid,
        context: &RequestContext,
    ) -> Result<CampaignView, AppError> {
        let campaign = self.read_campaign(organization_id, campaign_id).await?;
        self.authorize_campaign(
            principal,
            organization_id,
            campaign.as_ref(),
            "iam:reviews:read",
            context,
        )
        .await?;
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let campaign = read
            .get_review_campaign(organization_id, campaign_id)
            .await?
            .ok_or(AppError::NotFound("access review"))?;
        let counts = read.review_campaign_counts(campaign_id).await?;
        let items = read.review_items(campaign_id).await?;
        let policies = read.authorization_settings(organization_id).await?.policies;
        let guests = guest_marks(&mut read, organization_id, now).await?;
        read.commit().await?;
        let mut current: HashMap<Uuid, Vec<authz::Rule>> = HashMap::new();
        for policy in &policies {
            current.insert(policy.id, parse_rules(policy)?);
        }
        let overdue = is_overdue(&campaign, now);
        let items = items
            .into_iter()
            .map(|item| {
                let stale = item.decision.is_none() && {
                    let reviewed = parse_rule(&item.rule)?;
                    current
                        .get(&item.policy_id)
                        .and_then(|rules| find_rule(rules, item.rule_index, &reviewed))
                        .is_none()
                };
                let state = item_state(&item, stale);
                let overdue = overdue && item.decision.is_none();
                let guest = guest_mark(&guests, item.principal);
                Ok(ItemView { item, state, overdue, guest })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(CampaignView { summary: CampaignSummary { campaign, counts, overdue }, items })
    }

    /// Decide one item. A revocation removes the rule from its policy (and the policy with its
    /// last rule); a reduction keeps only some of its permission sets. Either is refused when
    /// the policy changed since the item was created, or when it would leave no owner able to
    /// manage IAM. The campaign closes when its last item is decided.
    pub async fn decide_access_review_item(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        campaign_id: Uuid,
        item_id: Uuid,
        input: DecisionInput,
        context: &RequestContext,
    ) -> Result<ItemView, AppError> {
        let DecisionInput { decision, justification } = input;
        let justification = check_justification(&justification)?;
        if let ItemDecision::Reduce(sets) = &decision {
            let distinct: HashSet<&String> = sets.iter().collect();
            if sets.is_empty() || distinct.len() != sets.len() {
                return Err(AppError::InvalidInput(
                    "permission_sets: a reduction keeps at least one of the rule's permission \
                     sets, each named once"
                        .into(),
                ));
            }
        }
        let campaign = self.read_campaign(organization_id, campaign_id).await?;
        self.authorize_campaign(
            principal,
            organization_id,
            campaign.as_ref(),
            "iam:reviews:write",
            context,
        )
        .await?;
        let campaign = campaign.ok_or(AppError::NotFound("access review"))?;
        let mut read = self.store.read_latest().await?;
        let item = read.get_review_item(campaign_id, item_id).await?;
        read.commit().await?;
        let item = item.ok_or(AppError::NotFound("access review item"))?;

        self.refuse_self_review(principal, organization_id, &item, context).await?;

        let reviewed = parse_rule(&item.rule)?;
        let kept_sets = match &decision {
            ItemDecision::Reduce(sets) => Some(reduced_sets(&reviewed, sets)?),
            ItemDecision::Keep | ItemDecision::Revoke => None,
        };

        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let campaign = transaction
            .get_review_campaign(organization_id, campaign.id)
            .await?
            .ok_or(AppError::NotFound("access review"))?;
        if campaign.closed_at.is_some() {
            return Err(AppError::Conflict("this access review is closed".into()));
        }
        let item = transaction
            .get_review_item(campaign.id, item.id)
            .await?
            .ok_or(AppError::NotFound("access review item"))?;
        if let Some(decided) = &item.decision {
            return Err(AppError::Conflict(format!(
                "this item was already decided ({}) at {}",
                decided.decision.as_str(),
                rfc3339(decided.decided_at)
            )));
        }
        let guard = OwnersKeepIam::before(&mut transaction, organization_id).await?;
        let mut policy = transaction
            .get_policy(organization_id, item.policy_id)
            .await?
            .filter(|policy| policy.holder == item.principal)
            .ok_or_else(stale_conflict)?;
        let at = find_rule(&parse_rules(&policy)?, item.rule_index, &reviewed)
            .ok_or_else(stale_conflict)?;
        let stored = match decision {
            ItemDecision::Keep => ReviewDecision::Keep,
            ItemDecision::Revoke => ReviewDecision::Revoke,
            ItemDecision::Reduce(_) => ReviewDecision::Reduce,
        };
        let policy_event =
            change_policy(&mut transaction, &mut policy, at, stored, kept_sets.as_deref(), now)
                .await?;
        guard.check(&mut transaction).await?;
        let record = ItemDecisionRecord {
            decision: stored,
            permission_sets: kept_sets.as_ref().map(json_text).transpose()?,
            justification: justification.clone(),
            decided_by: principal.actor.id(),
            decided_at: now,
        };
        if !transaction.decide_review_item(campaign.id, item.id, &record).await? {
            return Err(AppError::Conflict("this item was already decided".into()));
        }

        let mut decided = self.success_event(
            principal,
            organization_id,
            "iam.review.decide",
            Resource::new("access_review_item", item.id),
            context,
        );
        decided.privileged = true;
        let details = &mut decided.details;
        details.insert("access_review".into(), campaign.id.to_string().into());
        details.insert("decision".into(), stored.as_str().into());
        details.insert("justification".into(), justification.into());
        details.insert(
            "as".into(),
            if is_named_reviewer(principal, &campaign) {
                "named_reviewer"
            } else {
                "reviews_write"
            }
            .into(),
        );
        details.insert("principal".into(), holder_text(item.principal).into());
        details.insert("policy".into(), item.policy_id.to_string().into());
        details.insert("rule_index".into(), u64::try_from(at).unwrap_or(u64::MAX).into());
        details.insert("rule".into(), serde_json::from_str(&item.rule).unwrap_or_default());
        details.insert("privileged".into(), item.privileged.into());
        details.insert("unused".into(), item.unused.into());
        if let Some(sets) = &kept_sets {
            details.insert("permission_sets".into(), sets.clone().into());
        }
        let mut events = vec![decided];
        if let Some(action) = policy_event {
            let mut changed = self.success_event(
                principal,
                organization_id,
                action,
                Resource::new("policy", policy.id),
                context,
            );
            changed.privileged = true;
            changed.details.insert("access_review".into(), campaign.id.to_string().into());
            changed.details.insert("access_review_item".into(), item.id.to_string().into());
            if action == "iam.policy.update" {
                changed.details.insert(
                    "rules".into(),
                    serde_json::from_str(&policy.rules).unwrap_or_default(),
                );
            }
            events.push(changed);
        }
        if transaction.n_undecided_review_items(campaign.id).await? == 0
            && transaction
                .close_review_campaign(
                    organization_id,
                    campaign.id,
                    now,
                    principal.actor.id().as_deref(),
                )
                .await?
        {
            let counts = transaction.review_campaign_counts(campaign.id).await?;
            let mut close = self.success_event(
                principal,
                organization_id,
                "iam.review.close",
                Resource::new("access_review", campaign.id),
                context,
            );
            close.privileged = true;
            close.details.insert("reason".into(), "every item decided".into());
            insert_counts(&mut close.details, &counts, 0);
            events.push(close);
        }
        transaction.append_audit_events(&events).await?;
        let item = transaction
            .get_review_item(campaign.id, item.id)
            .await?
            .ok_or(AppError::NotFound("access review item"))?;
        let guests = guest_marks(&mut transaction, organization_id, now).await?;
        transaction.commit().await?;
        if policy_event.is_some() {
            self.authorization.invalidate(organization_id);
        }
        let state = item_state(&item, false);
        let guest = guest_mark(&guests, item.principal);
        Ok(ItemView { item, state, overdue: false, guest })
    }

    /// Nobody decides about their own access, directly or through a group they are in.
    async fn refuse_self_review(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        item: &ReviewItemRecord,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let loaded = self.loaded_authorization(organization_id).await?;
        let guest = match principal.subject {
            Subject::User(id) => loaded.is_guest(*id.as_uuid(), self.clock.now()),
            Subject::Application(_) => false,
        };
        if principal.organization_id != organization_id && !guest {
            return Ok(());
        }
        let facts = self.principal_facts(principal, &loaded);
        let own = match principal.subject {
            Subject::User(id) => PolicyHolder::User(*id.as_uuid()),
            Subject::Application(id) => PolicyHolder::Application(*id.as_uuid()),
        };
        let about_self = item.principal == own
            || matches!(item.principal, PolicyHolder::Group(group) if facts.groups.contains(&group));
        if !about_self {
            return Ok(());
        }
        let resource = Resource::new("access_review_item", item.id);
        Err(self
            .deny(principal, organization_id, "iam:reviews:write", resource, context, "self_review")
            .await)
    }

    /// Close a campaign before every item is decided; undecided items stay undecided.
    pub async fn close_access_review(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        campaign_id: Uuid,
        context: &RequestContext,
    ) -> Result<CampaignSummary, AppError> {
        let campaign = self.read_campaign(organization_id, campaign_id).await?;
        self.authorize_campaign(
            principal,
            organization_id,
            campaign.as_ref(),
            "iam:reviews:write",
            context,
        )
        .await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let campaign = transaction
            .get_review_campaign(organization_id, campaign_id)
            .await?
            .ok_or(AppError::NotFound("access review"))?;
        if !transaction
            .close_review_campaign(
                organization_id,
                campaign_id,
                now,
                principal.actor.id().as_deref(),
            )
            .await?
        {
            return Err(AppError::Conflict("this access review is already closed".into()));
        }
        let counts = transaction.review_campaign_counts(campaign_id).await?;
        let undecided = transaction.n_undecided_review_items(campaign_id).await?;
        let mut close = self.success_event(
            principal,
            organization_id,
            "iam.review.close",
            Resource::new("access_review", campaign_id),
            context,
        );
        close.privileged = true;
        close.details.insert("reason".into(), "closed by a reviewer".into());
        close.details.insert("overdue".into(), is_overdue(&campaign, now).into());
        insert_counts(&mut close.details, &counts, undecided);
        transaction.append_audit_event(&close).await?;
        let campaign = ReviewCampaignRecord {
            closed_at: Some(now),
            closed_by: principal.actor.id(),
            ..campaign
        };
        transaction.commit().await?;
        Ok(CampaignSummary { campaign, counts, overdue: false })
    }

    /// Create or change the cadence of the organisation's campaigns of one scope. A new
    /// schedule starts its first campaign at the next run of [`App::start_due_reviews`], then
    /// one every `cadence_days` after the previous.
    pub async fn put_access_review_schedule(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        scope: ReviewScope,
        cadence_days: u32,
        due_in_days: Option<u32>,
        context: &RequestContext,
    ) -> Result<ScheduleView, AppError> {
        if matches!(scope, ReviewScope::Group(_)) {
            return Err(AppError::InvalidInput(
                "scope: schedules cover organization, privileged or staff".into(),
            ));
        }
        let cadence_days = check_days(cadence_days, MAX_CADENCE_DAYS, "cadence_days")?;
        let due_in_days =
            days_in(due_in_days, DEFAULT_DUE_IN_DAYS, MAX_DUE_IN_DAYS, "due_in_days")?;
        self.authorize_recently(principal, organization_id, "iam:reviews:write", context).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let organization = transaction
            .get_organization(organization_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        check_scope(&mut transaction, &organization, scope).await?;
        let schedule = transaction
            .put_review_schedule(&ReviewScheduleRecord {
                organization_id,
                scope,
                cadence_days,
                due_in_days,
                last_started_at: None,
                n_runs: 0,
                created_at: now,
                updated_at: now,
            })
            .await?;
        let next_start_at = next_start(&schedule);
        let mut event = self.success_event(
            principal,
            organization_id,
            "iam.review_schedule.put",
            Resource::new("access_review_schedule", scope.kind()),
            context,
        );
        event.privileged = true;
        event.details.insert("cadence_days".into(), cadence_days.into());
        event.details.insert("due_in_days".into(), due_in_days.into());
        event.details.insert("next_start_at".into(), rfc3339(next_start_at).into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(ScheduleView { schedule, next_start_at })
    }

    pub async fn list_access_review_schedules(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<ScheduleView>, AppError> {
        self.authorize_in(principal, organization_id, "iam:reviews:read", context).await?;
        let mut read = self.store.read().await?;
        let schedules = read.list_review_schedules(organization_id).await?;
        read.commit().await?;
        Ok(schedules
            .into_iter()
            .map(|schedule| ScheduleView { next_start_at: next_start(&schedule), schedule })
            .collect())
    }

    pub async fn delete_access_review_schedule(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        scope: ReviewScope,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_recently(principal, organization_id, "iam:reviews:write", context).await?;
        let mut transaction = self.store.begin().await?;
        transaction.delete_review_schedule(organization_id, scope).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "iam.review_schedule.delete",
            Resource::new("access_review_schedule", scope.kind()),
            context,
        );
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Start the campaigns whose schedule is due; returns how many started. Safe to run on
    /// several replicas at once: each due schedule starts one campaign. A schedule that fails
    /// is logged and retried at the next run.
    pub async fn start_due_reviews(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let schedules = read.all_review_schedules().await?;
        read.commit().await?;
        let mut n_started = 0;
        for schedule in schedules.iter().filter(|schedule| next_start(schedule) <= now) {
            match self.start_scheduled_review(schedule, now).await {
                Ok(started) => n_started += usize::from(started),
                Err(error) => tracing::error!(
                    %error,
                    organization = %schedule.organization_id,
                    scope = schedule.scope.kind(),
                    "could not start a scheduled access review"
                ),
            }
        }
        Ok(n_started)
    }

    async fn start_scheduled_review(
        &self,
        schedule: &ReviewScheduleRecord,
        now: OffsetDateTime,
    ) -> Result<bool, AppError> {
        let organization_id = schedule.organization_id;
        let mut transaction = self.store.begin().await?;
        if !transaction
            .record_review_schedule_run(organization_id, schedule.scope, schedule.n_runs, now)
            .await?
        {
            return Ok(false);
        }
        let organization = transaction
            .get_organization(organization_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        check_scope(&mut transaction, &organization, schedule.scope).await?;
        let date = now.date();
        let campaign = ReviewCampaignRecord {
            id: new_id(now),
            organization_id,
            name: format!("Scheduled {} review of {date}", schedule.scope.kind()),
            scope: schedule.scope,
            origin: CampaignOrigin::Schedule,
            reviewer_id: None,
            unused_after_days: DEFAULT_UNUSED_AFTER_DAYS,
            started_by: None,
            started_at: now,
            due_at: now + Duration::days(i64::from(schedule.due_in_days)),
            closed_at: None,
            closed_by: None,
        };
        let mut start = self.event(
            &Actor::System,
            organization_id,
            "iam.review.start",
            Resource::new("access_review", campaign.id),
        );
        start.details.insert("cadence_days".into(), schedule.cadence_days.into());
        self.open_campaign(&mut transaction, &organization, campaign, &mut start).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// A member joined or left a group (a "mover"): put the rules it holds itself up for
    /// review in the organisation's open movers campaign, opened on first need. Runs in the
    /// membership change's transaction; returns the events to record after that change's own.
    pub(crate) async fn review_mover(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        group: GroupId,
        member: GroupMember,
        added: bool,
        membership_event: &mut AuditEvent,
    ) -> Result<Vec<AuditEvent>, AppError> {
        let now = self.clock.now();
        let organization = transaction
            .get_organization(organization_id)
            .await?
            .ok_or(AppError::NotFound("organization"))?;
        let holder = match member {
            GroupMember::User(_) => PolicyHolder::User(member_id(member)),
            GroupMember::Application(_) => PolicyHolder::Application(member_id(member)),
        };
        let open = transaction.open_movers_campaign(organization_id).await?;
        let is_new = open.is_none();
        let campaign = open.unwrap_or_else(|| ReviewCampaignRecord {
            id: new_id(now),
            organization_id,
            name: "Group membership changes".into(),
            scope: ReviewScope::Organization,
            origin: CampaignOrigin::Movers,
            reviewer_id: None,
            unused_after_days: DEFAULT_UNUSED_AFTER_DAYS,
            started_by: None,
            started_at: now,
            due_at: now + Duration::days(i64::from(DEFAULT_DUE_IN_DAYS)),
            closed_at: None,
            closed_by: None,
        });
        let reason = format!("{} group {group}", if added { "added to" } else { "removed from" });
        let mut items = snapshot_items(
            transaction,
            &organization,
            Selection::Holder(holder),
            &campaign,
            now,
            Some(&reason),
        )
        .await?;
        if !is_new {
            // A rule already awaiting a decision in the campaign is not asked about twice.
            let pending: HashSet<(Uuid, String)> = transaction
                .review_items(campaign.id)
                .await?
                .into_iter()
                .filter(|item| item.decision.is_none() && item.principal == holder)
                .map(|item| (item.policy_id, item.rule))
                .collect();
            items.retain(|item| !pending.contains(&(item.policy_id, item.rule.clone())));
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        if is_new {
            transaction.insert_review_campaign(&campaign).await?;
            let mut start = self.event(
                &Actor::System,
                organization_id,
                "iam.review.start",
                Resource::new("access_review", campaign.id),
            );
            start.privileged = true;
            start.details.insert("name".into(), campaign.name.clone().into());
            start.details.insert("scope".into(), scope_value(campaign.scope));
            start.details.insert("origin".into(), campaign.origin.as_str().into());
            start.details.insert("due_at".into(), rfc3339(campaign.due_at).into());
            events.push(start);
        }
        transaction.insert_review_items(&items).await?;
        membership_event.details.insert("access_review".into(), campaign.id.to_string().into());
        membership_event.details.insert("review_items".into(), (items.len() as u64).into());
        Ok(events)
    }
}

fn insert_counts(
    details: &mut serde_json::Map<String, serde_json::Value>,
    counts: &CampaignCounts,
    undecided: u64,
) {
    details.insert("items".into(), counts.n_items.into());
    details.insert("decided".into(), counts.n_decided.into());
    details.insert("kept".into(), counts.n_kept.into());
    details.insert("revoked".into(), counts.n_revoked.into());
    details.insert("reduced".into(), counts.n_reduced.into());
    details.insert("unused".into(), counts.n_unused.into());
    details.insert("undecided".into(), undecided.into());
}
