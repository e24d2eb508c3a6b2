//! Access reviews: campaigns over a scope of an organisation's policy rules, their items (one
//! per principal and rule, a snapshot of the grant taken when the item is created), the
//! decision on each item, and the cadences on which campaigns start by themselves.
//!
//! What a decision does to the policies is the application layer's business; this module
//! only records it, and refuses a second decision on an item.

use std::collections::HashMap;

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authorization::PolicyHolder;
use crate::transaction::on_backend;
use crate::{StoreError, Transaction};

/// Which rules a campaign reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewScope {
    /// Every policy rule of the organisation.
    Organization,
    /// Rules granting at least one privileged action.
    Privileged,
    /// Every rule of the provider organisation (its staff).
    Staff,
    /// Rules held by the group and by its members.
    Group(Uuid),
}

impl ReviewScope {
    /// The stored name of the scope's kind.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Privileged => "privileged",
            Self::Staff => "staff",
            Self::Group(_) => "group",
        }
    }

    pub fn group_id(self) -> Option<Uuid> {
        match self {
            Self::Group(id) => Some(id),
            _ => None,
        }
    }

    /// The scope of a stored kind; `group` needs its group.
    pub fn from_parts(kind: &str, group_id: Option<Uuid>) -> Result<Self, StoreError> {
        match (kind, group_id) {
            ("organization", None) => Ok(Self::Organization),
            ("privileged", None) => Ok(Self::Privileged),
            ("staff", None) => Ok(Self::Staff),
            ("group", Some(id)) => Ok(Self::Group(id)),
            (other, _) => Err(StoreError::Corrupt(format!("invalid review scope {other:?}"))),
        }
    }
}

/// Why a campaign exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignOrigin {
    /// Started on demand.
    Manual,
    /// Started by the organisation's schedule for its scope.
    Schedule,
    /// Opened to collect the items of group membership changes.
    Movers,
}

impl CampaignOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Movers => "movers",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "manual" => Ok(Self::Manual),
            "schedule" => Ok(Self::Schedule),
            "movers" => Ok(Self::Movers),
            other => Err(StoreError::Corrupt(format!("unknown campaign origin {other:?}"))),
        }
    }
}

/// What a reviewer decided about one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewDecision {
    /// The grant stays as it is.
    Keep,
    /// The rule was removed from its policy.
    Revoke,
    /// The rule now grants only some of its permission sets.
    Reduce,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Revoke => "revoke",
            Self::Reduce => "reduce",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "keep" => Ok(Self::Keep),
            "revoke" => Ok(Self::Revoke),
            "reduce" => Ok(Self::Reduce),
            other => Err(StoreError::Corrupt(format!("unknown review decision {other:?}"))),
        }
    }
}

/// A review campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewCampaignRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub name: String,
    pub scope: ReviewScope,
    pub origin: CampaignOrigin,
    /// The user named to decide its items, besides holders of `iam:reviews:write`.
    pub reviewer_id: Option<UserId>,
    /// Items whose principal did not act for this many days are flagged.
    pub unused_after_days: u32,
    /// The actor id of whoever started it; `None` when Rampart did.
    pub started_by: Option<String>,
    pub started_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub closed_by: Option<String>,
}

/// How far a campaign got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    pub n_items: u64,
    pub n_decided: u64,
    pub n_kept: u64,
    pub n_revoked: u64,
    pub n_reduced: u64,
    /// Items flagged as unused when they were created.
    pub n_unused: u64,
}

/// The decision taken on an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDecisionRecord {
    pub decision: ReviewDecision,
    /// For a reduction: the permission sets the rule kept (JSON array).
    pub permission_sets: Option<String>,
    pub justification: String,
    /// The actor id of the reviewer.
    pub decided_by: Option<String>,
    pub decided_at: OffsetDateTime,
}

/// One principal's rule under review, as it was when the item was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItemRecord {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub organization_id: OrganizationId,
    /// Who holds the rule.
    pub principal: PolicyHolder,
    pub policy_id: Uuid,
    /// The rule's position in its policy when the item was created.
    pub rule_index: u32,
    /// The rule's JSON when the item was created.
    pub rule: String,
    /// Whether the rule grants a privileged action.
    pub privileged: bool,
    /// When the policy was created, and by whom (an actor id).
    pub granted_at: OffsetDateTime,
    pub granted_by: Option<String>,
    pub policy_updated_at: OffsetDateTime,
    /// The newest successful audit entry of the principal (of a group: of its members).
    pub last_activity_at: Option<OffsetDateTime>,
    /// Not used within the campaign's window, or never: a least-privilege hint.
    pub unused: bool,
    /// Why the item was added, when not by the campaign's start (a membership change).
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub decision: Option<ItemDecisionRecord>,
}

/// A cadence on which an organisation's campaigns of one scope start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewScheduleRecord {
    pub organization_id: OrganizationId,
    /// Organisation, privileged or staff.
    pub scope: ReviewScope,
    pub cadence_days: u32,
    pub due_in_days: u32,
    pub last_started_at: Option<OffsetDateTime>,
    /// How many campaigns the schedule started.
    pub n_runs: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

type CampaignRow = (
    Uuid,
    Uuid,
    String,
    String,
    Option<Uuid>,
    String,
    Option<Uuid>,
    i64,
    Option<String>,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<String>,
);

const CAMPAIGN_COLUMNS: &str = "id, organization_id, name, scope, scope_group_id, origin, \
                                reviewer_id, unused_after_days, started_by, started_at, due_at, \
                                closed_at, closed_by";

fn campaign_of(row: CampaignRow) -> Result<ReviewCampaignRecord, StoreError> {
    let (
        id,
        organization_id,
        name,
        scope,
        scope_group_id,
        origin,
        reviewer_id,
        unused_after_days,
        started_by,
        started_at,
        due_at,
        closed_at,
        closed_by,
    ) = row;
    Ok(ReviewCampaignRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        name,
        scope: ReviewScope::from_parts(&scope, scope_group_id)?,
        origin: CampaignOrigin::parse(&origin)?,
        reviewer_id: reviewer_id.map(UserId::from_uuid),
        unused_after_days: to_u32(unused_after_days)?,
        started_by,
        started_at,
        due_at,
        closed_at,
        closed_by,
    })
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    campaign_id: Uuid,
    organization_id: Uuid,
    principal_kind: String,
    principal_id: Uuid,
    policy_id: Uuid,
    rule_index: i64,
    rule: String,
    privileged: bool,
    granted_at: OffsetDateTime,
    granted_by: Option<String>,
    policy_updated_at: OffsetDateTime,
    last_activity_at: Option<OffsetDateTime>,
    unused: bool,
    reason: Option<String>,
    created_at: OffsetDateTime,
    decision: Option<String>,
    permission_sets: Option<String>,
    justification: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<OffsetDateTime>,
}

const ITEM_COLUMNS: &str = "id, campaign_id, organization_id, principal_kind, principal_id, \
                            policy_id, rule_index, rule, privileged, granted_at, granted_by, \
                            policy_updated_at, last_activity_at, unused, reason, created_at, \
                            decision, permission_sets, justification, decided_by, decided_at";

fn item_of(row: ItemRow) -> Result<ReviewItemRecord, StoreError> {
    let decision = match (row.decision, row.justification, row.decided_at) {
        (Some(decision), Some(justification), Some(decided_at)) => Some(ItemDecisionRecord {
            decision: ReviewDecision::parse(&decision)?,
            permission_sets: row.permission_sets,
            justification,
            decided_by: row.decided_by,
            decided_at,
        }),
        (None, _, _) => None,
        _ => return Err(StoreError::Corrupt(format!("review item {} is half decided", row.id))),
    };
    Ok(ReviewItemRecord {
        id: row.id,
        campaign_id: row.campaign_id,
        organization_id: OrganizationId::from_uuid(row.organization_id),
        principal: PolicyHolder::from_parts(&row.principal_kind, row.principal_id)?,
        policy_id: row.policy_id,
        rule_index: to_u32(row.rule_index)?,
        rule: row.rule,
        privileged: row.privileged,
        granted_at: row.granted_at,
        granted_by: row.granted_by,
        policy_updated_at: row.policy_updated_at,
        last_activity_at: row.last_activity_at,
        unused: row.unused,
        reason: row.reason,
        created_at: row.created_at,
        decision,
    })
}

type ScheduleRow =
    (Uuid, String, i64, i64, Option<OffsetDateTime>, i64, OffsetDateTime, OffsetDateTime);

const SCHEDULE_COLUMNS: &str = "organization_id, scope, cadence_days, due_in_days, \
                                last_started_at, n_runs, created_at, updated_at";

fn schedule_of(row: ScheduleRow) -> Result<ReviewScheduleRecord, StoreError> {
    let (
        organization_id,
        scope,
        cadence_days,
        due_in_days,
        last_started_at,
        n_runs,
        created,
        updated,
    ) = row;
    Ok(ReviewScheduleRecord {
        organization_id: OrganizationId::from_uuid(organization_id),
        scope: ReviewScope::from_parts(&scope, None)?,
        cadence_days: to_u32(cadence_days)?,
        due_in_days: to_u32(due_in_days)?,
        last_started_at,
        n_runs: to_u64(n_runs)?,
        created_at: created,
        updated_at: updated,
    })
}

fn to_u32(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} is out of range")))
}

fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} is out of range")))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// How many items one multi-row INSERT carries (SQLite allows 32,766 bound values).
const ITEMS_PER_STATEMENT: usize = 1_000;

/// How many actor ids one activity query asks about.
const ACTORS_PER_QUERY: usize = 500;

/// Storage of access reviews.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait AccessReviewRepository {
    async fn insert_review_campaign(
        &mut self,
        campaign: &ReviewCampaignRecord,
    ) -> Result<(), StoreError>;
    async fn get_review_campaign(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ReviewCampaignRecord>, StoreError>;
    /// The organisation's campaigns, newest first, with their counts.
    async fn list_review_campaigns(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(ReviewCampaignRecord, CampaignCounts)>, StoreError>;
    /// The counts of one campaign.
    async fn review_campaign_counts(
        &mut self,
        campaign_id: Uuid,
    ) -> Result<CampaignCounts, StoreError>;
    /// The organisation's open campaign collecting membership changes, if any.
    async fn open_movers_campaign(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<ReviewCampaignRecord>, StoreError>;
    /// Close an open campaign; false when it was already closed (or does not exist).
    async fn close_review_campaign(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
        closed_at: OffsetDateTime,
        closed_by: Option<&str>,
    ) -> Result<bool, StoreError>;
    async fn insert_review_items(&mut self, items: &[ReviewItemRecord]) -> Result<(), StoreError>;
    /// A campaign's items, in creation order.
    async fn review_items(
        &mut self,
        campaign_id: Uuid,
    ) -> Result<Vec<ReviewItemRecord>, StoreError>;
    /// One item of a campaign.
    async fn get_review_item(
        &mut self,
        campaign_id: Uuid,
        id: Uuid,
    ) -> Result<Option<ReviewItemRecord>, StoreError>;
    /// Record the decision on an undecided item; false when it was already decided.
    async fn decide_review_item(
        &mut self,
        campaign_id: Uuid,
        id: Uuid,
        decision: &ItemDecisionRecord,
    ) -> Result<bool, StoreError>;
    /// How many items of a campaign await a decision.
    async fn n_undecided_review_items(&mut self, campaign_id: Uuid) -> Result<u64, StoreError>;
    /// When each of these actors (audit actor ids) last acted successfully, in any
    /// organisation's trail; actors who never did are absent.
    async fn last_activity(
        &mut self,
        actor_ids: &[String],
    ) -> Result<HashMap<String, OffsetDateTime>, StoreError>;
    /// Create a schedule, or change the cadence and due delay of an existing one (its runs
    /// are kept).
    async fn put_review_schedule(
        &mut self,
        schedule: &ReviewScheduleRecord,
    ) -> Result<ReviewScheduleRecord, StoreError>;
    async fn list_review_schedules(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ReviewScheduleRecord>, StoreError>;
    /// Every organisation's schedules.
    async fn all_review_schedules(&mut self) -> Result<Vec<ReviewScheduleRecord>, StoreError>;
    async fn delete_review_schedule(
        &mut self,
        organization_id: OrganizationId,
        scope: ReviewScope,
    ) -> Result<(), StoreError>;
    /// Record that a schedule started a campaign, provided it has run `n_runs` times so far:
    /// false when another run came first.
    async fn record_review_schedule_run(
        &mut self,
        organization_id: OrganizationId,
        scope: ReviewScope,
        n_runs: u64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

impl AccessReviewRepository for Transaction {
    async fn insert_review_campaign(
        &mut self,
        campaign: &ReviewCampaignRecord,
    ) -> Result<(), StoreError> {
        let sql = concat!(
            "INSERT INTO access_review_campaigns (id, organization_id, name, scope, ",
            "scope_group_id, origin, reviewer_id, unused_after_days, started_by, started_at, ",
            "due_at, closed_at, closed_by) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(campaign.id)
            .bind(campaign.organization_id.as_uuid())
            .bind(&campaign.name)
            .bind(campaign.scope.kind())
            .bind(campaign.scope.group_id())
            .bind(campaign.origin.as_str())
            .bind(campaign.reviewer_id.map(|id| *id.as_uuid()))
            .bind(i64::from(campaign.unused_after_days))
            .bind(&campaign.started_by)
            .bind(campaign.started_at)
            .bind(campaign.due_at)
            .bind(campaign.closed_at)
            .bind(&campaign.closed_by)
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(|error| StoreError::from_write(error, "a campaign with this id already exists"))
    }

    async fn get_review_campaign(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<Option<ReviewCampaignRecord>, StoreError> {
        let row: Option<CampaignRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns WHERE id = "
            ));
            query.push_bind(id).push(" AND organization_id = ").push_bind(organization_id.as_uuid());
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        row.map(campaign_of).transpose()
    }

    async fn list_review_campaigns(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<(ReviewCampaignRecord, CampaignCounts)>, StoreError> {
        let rows: Vec<CampaignRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY id DESC");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        let mut counts = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "{COUNTS_SELECT} WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" GROUP BY campaign_id");
            query.build_query_as::<CountsRow>().fetch_all(&mut *c).await
        })?
        .into_iter()
        .map(counts_of)
        .collect::<Result<HashMap<_, _>, _>>()?;
        rows.into_iter()
            .map(|row| {
                let campaign = campaign_of(row)?;
                let counts = counts.remove(&campaign.id).unwrap_or_default();
                Ok((campaign, counts))
            })
            .collect()
    }

    async fn review_campaign_counts(
        &mut self,
        campaign_id: Uuid,
    ) -> Result<CampaignCounts, StoreError> {
        let rows = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!("{COUNTS_SELECT} WHERE campaign_id = "));
            query.push_bind(campaign_id).push(" GROUP BY campaign_id");
            query.build_query_as::<CountsRow>().fetch_all(&mut *c).await
        })?;
        Ok(rows
            .into_iter()
            .next()
            .map(counts_of)
            .transpose()?
            .map(|(_, counts)| counts)
            .unwrap_or_default())
    }

    async fn open_movers_campaign(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<ReviewCampaignRecord>, StoreError> {
        let row: Option<CampaignRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns WHERE organization_id = "
            ));
            query
                .push_bind(organization_id.as_uuid())
                .push(" AND origin = 'movers' AND closed_at IS NULL ORDER BY id DESC LIMIT 1");
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        row.map(campaign_of).transpose()
    }

    async fn close_review_campaign(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
        closed_at: OffsetDateTime,
        closed_by: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE access_review_campaigns SET closed_at = $1, closed_by = $2 \
                   WHERE id = $3 AND organization_id = $4 AND closed_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(closed_at)
            .bind(closed_by)
            .bind(id)
            .bind(organization_id.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn insert_review_items(&mut self, items: &[ReviewItemRecord]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        on_backend!(self.change()?, c => {
            for chunk in items.chunks(ITEMS_PER_STATEMENT) {
                let mut query = sqlx::QueryBuilder::new(format!(
                    "INSERT INTO access_review_items ({ITEM_COLUMNS}) "
                ));
                query.push_values(chunk, |mut row, item| {
                    let (kind, principal_id) = item.principal.parts();
                    let decision = item.decision.as_ref();
                    row.push_bind(item.id)
                        .push_bind(item.campaign_id)
                        .push_bind(*item.organization_id.as_uuid())
                        .push_bind(kind)
                        .push_bind(principal_id)
                        .push_bind(item.policy_id)
                        .push_bind(i64::from(item.rule_index))
                        .push_bind(item.rule.clone())
                        .push_bind(item.privileged)
                        .push_bind(item.granted_at)
                        .push_bind(item.granted_by.clone())
                        .push_bind(item.policy_updated_at)
                        .push_bind(item.last_activity_at)
                        .push_bind(item.unused)
                        .push_bind(item.reason.clone())
                        .push_bind(item.created_at)
                        .push_bind(decision.map(|decision| decision.decision.as_str()))
                        .push_bind(decision.and_then(|decision| decision.permission_sets.clone()))
                        .push_bind(decision.map(|decision| decision.justification.clone()))
                        .push_bind(decision.and_then(|decision| decision.decided_by.clone()))
                        .push_bind(decision.map(|decision| decision.decided_at));
                });
                query
                    .build()
                    .execute(&mut *c)
                    .await
                    .map_err(|error| {
                        StoreError::from_write(error, "a review item with this id already exists")
                    })?;
            }
            Ok::<(), StoreError>(())
        })
    }

    async fn review_items(
        &mut self,
        campaign_id: Uuid,
    ) -> Result<Vec<ReviewItemRecord>, StoreError> {
        let rows: Vec<ItemRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {ITEM_COLUMNS} FROM access_review_items WHERE campaign_id = "
            ));
            query.push_bind(campaign_id).push(" ORDER BY id");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(item_of).collect()
    }

    async fn get_review_item(
        &mut self,
        campaign_id: Uuid,
        id: Uuid,
    ) -> Result<Option<ReviewItemRecord>, StoreError> {
        let row: Option<ItemRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {ITEM_COLUMNS} FROM access_review_items WHERE id = "
            ));
            query.push_bind(id).push(" AND campaign_id = ").push_bind(campaign_id);
            query.build_query_as().fetch_optional(&mut *c).await
        })?;
        row.map(item_of).transpose()
    }

    async fn decide_review_item(
        &mut self,
        campaign_id: Uuid,
        id: Uuid,
        decision: &ItemDecisionRecord,
    ) -> Result<bool, StoreError> {
        let sql = concat!(
            "UPDATE access_review_items SET decision = $1, permission_sets = $2, ",
            "justification = $3, decided_by = $4, decided_at = $5 ",
            "WHERE id = $6 AND campaign_id = $7 AND decision IS NULL"
        );
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(decision.decision.as_str())
            .bind(&decision.permission_sets)
            .bind(&decision.justification)
            .bind(&decision.decided_by)
            .bind(decision.decided_at)
            .bind(id)
            .bind(campaign_id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn n_undecided_review_items(&mut self, campaign_id: Uuid) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM access_review_items \
                   WHERE campaign_id = $1 AND decision IS NULL";
        let (n,): (i64,) = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(campaign_id).fetch_one(&mut *c).await)?;
        to_u64(n)
    }

    async fn last_activity(
        &mut self,
        actor_ids: &[String],
    ) -> Result<HashMap<String, OffsetDateTime>, StoreError> {
        let mut newest: HashMap<String, OffsetDateTime> = HashMap::new();
        for chunk in actor_ids.chunks(ACTORS_PER_QUERY) {
            // The newest success of each actor in each organisation's trail, kept by the
            // appends; the newest of those here (times compared in Rust, not as stored text).
            let rows: Vec<(String, OffsetDateTime)> = on_backend!(self.connection(), c => {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT actor_id, last_time FROM audit_actor_activity WHERE actor_id IN (",
                );
                let mut separated = query.separated(", ");
                for actor_id in chunk {
                    separated.push_bind(actor_id.clone());
                }
                query.push(")");
                query.build_query_as().fetch_all(&mut *c).await
            })?;
            for (actor_id, time) in rows {
                let entry = newest.entry(actor_id).or_insert(time);
                if time > *entry {
                    *entry = time;
                }
            }
        }
        Ok(newest)
    }

    async fn put_review_schedule(
        &mut self,
        schedule: &ReviewScheduleRecord,
    ) -> Result<ReviewScheduleRecord, StoreError> {
        let sql = concat!(
            "INSERT INTO access_review_schedules (organization_id, scope, cadence_days, ",
            "due_in_days, last_started_at, n_runs, created_at, updated_at) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ",
            "ON CONFLICT (organization_id, scope) DO UPDATE SET ",
            "cadence_days = excluded.cadence_days, due_in_days = excluded.due_in_days, ",
            "updated_at = excluded.updated_at ",
            "RETURNING organization_id, scope, cadence_days, due_in_days, last_started_at, ",
            "n_runs, created_at, updated_at"
        );
        let row: ScheduleRow = on_backend!(self.change()?, c => sqlx::query_as(sql)
            .bind(schedule.organization_id.as_uuid())
            .bind(schedule.scope.kind())
            .bind(i64::from(schedule.cadence_days))
            .bind(i64::from(schedule.due_in_days))
            .bind(schedule.last_started_at)
            .bind(to_i64(schedule.n_runs))
            .bind(schedule.created_at)
            .bind(schedule.updated_at)
            .fetch_one(&mut *c)
            .await)?;
        schedule_of(row)
    }

    async fn list_review_schedules(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<ReviewScheduleRecord>, StoreError> {
        let rows: Vec<ScheduleRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM access_review_schedules WHERE organization_id = "
            ));
            query.push_bind(organization_id.as_uuid()).push(" ORDER BY scope");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(schedule_of).collect()
    }

    async fn all_review_schedules(&mut self) -> Result<Vec<ReviewScheduleRecord>, StoreError> {
        let rows: Vec<ScheduleRow> = on_backend!(self.connection(), c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM access_review_schedules"
            ));
            query.push(" ORDER BY organization_id, scope");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(schedule_of).collect()
    }

    async fn delete_review_schedule(
        &mut self,
        organization_id: OrganizationId,
        scope: ReviewScope,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM access_review_schedules WHERE organization_id = $1 AND scope = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(scope.kind())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if n_rows == 0 { Err(StoreError::NotFound("access review schedule")) } else { Ok(()) }
    }

    async fn record_review_schedule_run(
        &mut self,
        organization_id: OrganizationId,
        scope: ReviewScope,
        n_runs: u64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE access_review_schedules SET last_started_at = $1, n_runs = n_runs + 1 \
                   WHERE organization_id = $2 AND scope = $3 AND n_runs = $4";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(organization_id.as_uuid())
            .bind(scope.kind())
            .bind(to_i64(n_runs))
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }
}

const COUNTS_SELECT: &str = concat!(
    "SELECT campaign_id, COUNT(*), ",
    "COALESCE(SUM(CASE WHEN decision IS NOT NULL THEN 1 ELSE 0 END), 0), ",
    "COALESCE(SUM(CASE WHEN decision = 'keep' THEN 1 ELSE 0 END), 0), ",
    "COALESCE(SUM(CASE WHEN decision = 'revoke' THEN 1 ELSE 0 END), 0), ",
    "COALESCE(SUM(CASE WHEN decision = 'reduce' THEN 1 ELSE 0 END), 0), ",
    "COALESCE(SUM(CASE WHEN unused THEN 1 ELSE 0 END), 0) ",
    "FROM access_review_items"
);

type CountsRow = (Uuid, i64, i64, i64, i64, i64, i64);

fn counts_of(row: CountsRow) -> Result<(Uuid, CampaignCounts), StoreError> {
    let (campaign_id, n_items, n_decided, n_kept, n_revoked, n_reduced, n_unused) = row;
    Ok((
        campaign_id,
        CampaignCounts {
            n_items: to_u64(n_items)?,
            n_decided: to_u64(n_decided)?,
            n_kept: to_u64(n_kept)?,
            n_revoked: to_u64(n_revoked)?,
            n_reduced: to_u64(n_reduced)?,
            n_unused: to_u64(n_unused)?,
        },
    ))
}
