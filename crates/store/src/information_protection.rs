//! Information protection: each organisation's classification scheme, its catalogue of
//! personal data categories, its retention rules and legal holds, the record of every
//! retention run, and the sweeps that apply retention to Rampart's own data.
//!
//! A retention target is one variant of [`RetentionTarget`] and one sweep function here
//! (`sweep_*`), which counts what is past its time and, when asked, erases it in the caller's
//! transaction. Adding a target is one more variant and one more sweep. Closed incidents are
//! the exception: their personal fields live in the case document the application owns, so
//! the application erases them (`app::incidents`) with the store's plain incident calls.

use base::{OrganizationId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::transaction::on_backend;
use crate::{StoreError, Transaction, UserRepository as _, UserStatus};

/// An organisation's classification scheme, as the JSON document the application validates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationSchemeRecord {
    pub organization_id: OrganizationId,
    pub document: String,
    pub updated_at: OffsetDateTime,
}

/// One category of personal data in an organisation's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCategoryRecord {
    pub organization_id: OrganizationId,
    /// Dotted path, `user.contact.email`.
    pub path: String,
    pub description: String,
    /// A level of the organisation's scheme, lowercase.
    pub classification: String,
    /// A special category of GDPR Article 9.
    pub special_category: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The data of Rampart's own that retention rules apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetentionTarget {
    /// The source IP address and user agent kept with each login session.
    SessionNetwork,
    /// The personal data (email, name, password hash) of suspended accounts, people who left.
    FormerUsers,
    /// The erasable personal fields of audit entries (the leaves are kept).
    AuditPersonal,
    /// Events sent to detection (`POST …/events`, syslog) that detection has evaluated.
    IngestedEvents,
    /// What people wrote in public reports (body and contact), once triaged.
    PublicReports,
    /// The personal fields of closed incidents (owner, assignees, description, notes); the
    /// facts of the case and its Article 33 record stay. The case document is the
    /// application's, so its sweep is the application's too.
    ClosedIncidents,
}

impl RetentionTarget {
    pub const ALL: [Self; 6] = [
        Self::SessionNetwork,
        Self::FormerUsers,
        Self::AuditPersonal,
        Self::IngestedEvents,
        Self::PublicReports,
        Self::ClosedIncidents,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SessionNetwork => "session_network",
            Self::FormerUsers => "former_users",
            Self::AuditPersonal => "audit_personal",
            Self::IngestedEvents => "ingested_events",
            Self::PublicReports => "public_reports",
            Self::ClosedIncidents => "closed_incidents",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|target| target.as_str() == text)
    }

    /// The triggers whose date the target keeps.
    pub const fn triggers(self) -> &'static [RetentionTrigger] {
        match self {
            Self::SessionNetwork | Self::FormerUsers | Self::ClosedIncidents => {
                &[RetentionTrigger::Creation, RetentionTrigger::LastActivity]
            }
            Self::AuditPersonal => &[RetentionTrigger::Creation, RetentionTrigger::EventDate],
            Self::IngestedEvents | Self::PublicReports => &[RetentionTrigger::Creation],
        }
    }
}

/// What starts a retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionTrigger {
    /// When the data was created.
    Creation,
    /// The last activity of its subject (a session's last request, an account's last login).
    LastActivity,
    /// The end of the contract it was collected for.
    EndOfContract,
    /// The date of the event it records.
    EventDate,
}

impl RetentionTrigger {
    pub const ALL: [Self; 4] =
        [Self::Creation, Self::LastActivity, Self::EndOfContract, Self::EventDate];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Creation => "creation",
            Self::LastActivity => "last_activity",
            Self::EndOfContract => "end_of_contract",
            Self::EventDate => "event_date",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|trigger| trigger.as_str() == text)
    }
}

/// A retention rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRuleRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    /// The data category (catalogue path) the rule is for.
    pub data_category: String,
    pub target: String,
    pub trigger: String,
    pub duration_days: u32,
    /// `delete`, `anonymise`, `pseudonymise` or `review`.
    pub action: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A legal hold on a target: while it is not released, no rule acts on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHoldRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub target: String,
    pub reason: String,
    pub placed_at: OffsetDateTime,
    pub released_at: Option<OffsetDateTime>,
}

/// One retention run, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRunRecord {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub ran_at: OffsetDateTime,
    pub dry_run: bool,
    /// A user or application id, or `system`.
    pub actor: String,
    /// What each rule found and did, as JSON.
    pub outcome: String,
}

const CATEGORY_TAKEN: &str = "the catalogue already has a data category with this path";

/// Storage of classification schemes, data categories and retention.
#[allow(async_fn_in_trait, reason = "implemented only on the concrete Transaction type")]
pub trait InformationProtectionRepository {
    async fn get_classification_scheme(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<ClassificationSchemeRecord>, StoreError>;
    /// Insert or replace the organisation's scheme.
    async fn put_classification_scheme(
        &mut self,
        scheme: &ClassificationSchemeRecord,
    ) -> Result<(), StoreError>;
    /// How many of the organisation's assets carry the level (lowercase name).
    async fn count_assets_classified(
        &mut self,
        organization_id: OrganizationId,
        level: &str,
    ) -> Result<u64, StoreError>;
    /// How many of the organisation's data categories carry the level (lowercase name).
    async fn count_data_categories_classified(
        &mut self,
        organization_id: OrganizationId,
        level: &str,
    ) -> Result<u64, StoreError>;

    async fn insert_data_category(
        &mut self,
        category: &DataCategoryRecord,
    ) -> Result<(), StoreError>;
    /// Replace a category's description, level and flag; false when it does not exist.
    async fn update_data_category(
        &mut self,
        category: &DataCategoryRecord,
    ) -> Result<bool, StoreError>;
    async fn delete_data_category(
        &mut self,
        organization_id: OrganizationId,
        path: &str,
    ) -> Result<bool, StoreError>;
    async fn get_data_category(
        &mut self,
        organization_id: OrganizationId,
        path: &str,
    ) -> Result<Option<DataCategoryRecord>, StoreError>;
    /// The organisation's catalogue, by path.
    async fn list_data_categories(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DataCategoryRecord>, StoreError>;

    async fn insert_retention_rule(&mut self, rule: &RetentionRuleRecord)
    -> Result<(), StoreError>;
    async fn delete_retention_rule(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    /// The organisation's rules, oldest first.
    async fn list_retention_rules(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<RetentionRuleRecord>, StoreError>;
    /// The organisations that have at least one retention rule.
    async fn organizations_with_retention_rules(
        &mut self,
    ) -> Result<Vec<OrganizationId>, StoreError>;

    async fn insert_legal_hold(&mut self, hold: &LegalHoldRecord) -> Result<(), StoreError>;
    /// Release a hold still in force; false when there is none of this id.
    async fn release_legal_hold(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The organisation's holds, released ones included, oldest first.
    async fn list_legal_holds(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<LegalHoldRecord>, StoreError>;

    async fn insert_retention_run(&mut self, run: &RetentionRunRecord) -> Result<(), StoreError>;
    /// The organisation's runs, newest first, at most `limit`.
    async fn list_retention_runs(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<RetentionRunRecord>, StoreError>;

    /// Count what of `target` in the organisation is past `cutoff` (measured from `trigger`)
    /// and, when `apply`, erase it. Returns the count; `None` when the target does not keep
    /// the date that trigger needs.
    async fn retention_sweep(
        &mut self,
        organization_id: OrganizationId,
        target: RetentionTarget,
        trigger: RetentionTrigger,
        cutoff: OffsetDateTime,
        apply: bool,
    ) -> Result<Option<u64>, StoreError>;
}

type CategoryRow = (Uuid, String, String, String, bool, OffsetDateTime, OffsetDateTime);

fn category_of(
    (organization_id, path, description, classification, special_category, created_at, updated_at): CategoryRow,
) -> DataCategoryRecord {
    DataCategoryRecord {
        organization_id: OrganizationId::from_uuid(organization_id),
        path,
        description,
        classification,
        special_category,
        created_at,
        updated_at,
    }
}

macro_rules! category_columns {
    () => {
        "organization_id, path, description, classification, special_category, created_at, \
         updated_at"
    };
}

type RuleRow = (Uuid, Uuid, String, String, String, i64, String, OffsetDateTime, OffsetDateTime);

fn rule_of(row: RuleRow) -> Result<RetentionRuleRecord, StoreError> {
    let (id, organization_id, data_category, target, trigger, days, action, created, updated) = row;
    Ok(RetentionRuleRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        data_category,
        target,
        trigger,
        duration_days: u32::try_from(days)
            .map_err(|_| StoreError::Corrupt(format!("retention duration {days}")))?,
        action,
        created_at: created,
        updated_at: updated,
    })
}

type HoldRow = (Uuid, Uuid, String, String, OffsetDateTime, Option<OffsetDateTime>);

fn hold_of(
    (id, organization_id, target, reason, placed_at, released_at): HoldRow,
) -> LegalHoldRecord {
    LegalHoldRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        target,
        reason,
        placed_at,
        released_at,
    }
}

type RunRow = (Uuid, Uuid, OffsetDateTime, bool, String, String);

fn run_of((id, organization_id, ran_at, dry_run, actor, outcome): RunRow) -> RetentionRunRecord {
    RetentionRunRecord {
        id,
        organization_id: OrganizationId::from_uuid(organization_id),
        ran_at,
        dry_run,
        actor,
        outcome,
    }
}

fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl InformationProtectionRepository for Transaction {
    async fn get_classification_scheme(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Option<ClassificationSchemeRecord>, StoreError> {
        let sql = "SELECT document, updated_at FROM classification_schemes \
                   WHERE organization_id = $1";
        let row: Option<(String, OffsetDateTime)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).bind(organization_id.as_uuid()).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(document, updated_at)| ClassificationSchemeRecord {
            organization_id,
            document,
            updated_at,
        }))
    }

    async fn put_classification_scheme(
        &mut self,
        scheme: &ClassificationSchemeRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO classification_schemes (organization_id, document, updated_at) \
                   VALUES ($1, $2, $3) ON CONFLICT (organization_id) \
                   DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(scheme.organization_id.as_uuid())
            .bind(&scheme.document)
            .bind(scheme.updated_at)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn count_assets_classified(
        &mut self,
        organization_id: OrganizationId,
        level: &str,
    ) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM assets WHERE organization_id = $1 \
                   AND LOWER(classification) = $2";
        let (n,): (i64,) = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(level.to_lowercase())
            .fetch_one(&mut *c)
            .await)?;
        Ok(count_of(n))
    }

    async fn count_data_categories_classified(
        &mut self,
        organization_id: OrganizationId,
        level: &str,
    ) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM data_categories WHERE organization_id = $1 \
                   AND classification = $2";
        let (n,): (i64,) = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(level.to_lowercase())
            .fetch_one(&mut *c)
            .await)?;
        Ok(count_of(n))
    }

    async fn insert_data_category(
        &mut self,
        category: &DataCategoryRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO data_categories (organization_id, path, description, \
                   classification, special_category, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(category.organization_id.as_uuid())
            .bind(&category.path)
            .bind(&category.description)
            .bind(&category.classification)
            .bind(category.special_category)
            .bind(category.created_at)
            .bind(category.updated_at)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|error| StoreError::from_write(error, CATEGORY_TAKEN))
    }

    async fn update_data_category(
        &mut self,
        category: &DataCategoryRecord,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE data_categories SET description = $1, classification = $2, \
                   special_category = $3, updated_at = $4 WHERE organization_id = $5 AND path = $6";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(&category.description)
            .bind(&category.classification)
            .bind(category.special_category)
            .bind(category.updated_at)
            .bind(category.organization_id.as_uuid())
            .bind(&category.path)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn delete_data_category(
        &mut self,
        organization_id: OrganizationId,
        path: &str,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM data_categories WHERE organization_id = $1 AND path = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(path)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn get_data_category(
        &mut self,
        organization_id: OrganizationId,
        path: &str,
    ) -> Result<Option<DataCategoryRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            category_columns!(),
            " FROM data_categories WHERE organization_id = $1 AND path = $2"
        );
        let row: Option<CategoryRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(path)
            .fetch_optional(&mut *c)
            .await)?;
        Ok(row.map(category_of))
    }

    async fn list_data_categories(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<DataCategoryRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            category_columns!(),
            " FROM data_categories WHERE organization_id = $1 ORDER BY path"
        );
        let rows: Vec<CategoryRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(category_of).collect())
    }

    async fn insert_retention_rule(
        &mut self,
        rule: &RetentionRuleRecord,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO retention_rules (id, organization_id, data_category, target, \
                   trigger_kind, duration_days, end_action, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(rule.id)
            .bind(rule.organization_id.as_uuid())
            .bind(&rule.data_category)
            .bind(&rule.target)
            .bind(&rule.trigger)
            .bind(i64::from(rule.duration_days))
            .bind(&rule.action)
            .bind(rule.created_at)
            .bind(rule.updated_at)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn delete_retention_rule(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM retention_rules WHERE organization_id = $1 AND id = $2";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(organization_id.as_uuid())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn list_retention_rules(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<RetentionRuleRecord>, StoreError> {
        let sql = "SELECT id, organization_id, data_category, target, trigger_kind, \
                   duration_days, end_action, created_at, updated_at FROM retention_rules \
                   WHERE organization_id = $1 ORDER BY id";
        let rows: Vec<RuleRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(rule_of).collect()
    }

    async fn organizations_with_retention_rules(
        &mut self,
    ) -> Result<Vec<OrganizationId>, StoreError> {
        let sql = "SELECT DISTINCT organization_id FROM retention_rules ORDER BY organization_id";
        let rows: Vec<(Uuid,)> = on_backend!(self.connection(), c =>
            sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(id,)| OrganizationId::from_uuid(id)).collect())
    }

    async fn insert_legal_hold(&mut self, hold: &LegalHoldRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO legal_holds (id, organization_id, target, reason, placed_at, \
                   released_at) VALUES ($1, $2, $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(hold.id)
            .bind(hold.organization_id.as_uuid())
            .bind(&hold.target)
            .bind(&hold.reason)
            .bind(hold.placed_at)
            .bind(hold.released_at)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn release_legal_hold(
        &mut self,
        organization_id: OrganizationId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE legal_holds SET released_at = $1 WHERE organization_id = $2 \
                   AND id = $3 AND released_at IS NULL";
        let n_rows = on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(at)
            .bind(organization_id.as_uuid())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(n_rows == 1)
    }

    async fn list_legal_holds(
        &mut self,
        organization_id: OrganizationId,
    ) -> Result<Vec<LegalHoldRecord>, StoreError> {
        let sql = "SELECT id, organization_id, target, reason, placed_at, released_at \
                   FROM legal_holds WHERE organization_id = $1 ORDER BY id";
        let rows: Vec<HoldRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(hold_of).collect())
    }

    async fn insert_retention_run(&mut self, run: &RetentionRunRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO retention_runs (id, organization_id, ran_at, dry_run, actor, \
                   outcome) VALUES ($1, $2, $3, $4, $5, $6)";
        on_backend!(self.change()?, c => sqlx::query(sql)
            .bind(run.id)
            .bind(run.organization_id.as_uuid())
            .bind(run.ran_at)
            .bind(run.dry_run)
            .bind(&run.actor)
            .bind(&run.outcome)
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn list_retention_runs(
        &mut self,
        organization_id: OrganizationId,
        limit: u32,
    ) -> Result<Vec<RetentionRunRecord>, StoreError> {
        let sql = "SELECT id, organization_id, ran_at, dry_run, actor, outcome \
                   FROM retention_runs WHERE organization_id = $1 \
                   ORDER BY ran_at DESC, id DESC LIMIT CAST($2 AS BIGINT)";
        let rows: Vec<RunRow> = on_backend!(self.connection(), c => sqlx::query_as(sql)
            .bind(organization_id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows.into_iter().map(run_of).collect())
    }

    async fn retention_sweep(
        &mut self,
        organization_id: OrganizationId,
        target: RetentionTarget,
        trigger: RetentionTrigger,
        cutoff: OffsetDateTime,
        apply: bool,
    ) -> Result<Option<u64>, StoreError> {
        match target {
            RetentionTarget::SessionNetwork => {
                sweep_session_network(self, organization_id, trigger, cutoff, apply).await
            }
            RetentionTarget::FormerUsers => {
                sweep_former_users(self, organization_id, trigger, cutoff, apply).await
            }
            RetentionTarget::AuditPersonal => {
                sweep_audit_personal(self, organization_id, trigger, cutoff, apply).await
            }
            RetentionTarget::IngestedEvents if trigger == RetentionTrigger::Creation => {
                sweep_ingested_events(self, organization_id, cutoff, apply).await
            }
            RetentionTarget::PublicReports if trigger == RetentionTrigger::Creation => {
                sweep_public_reports(self, organization_id, cutoff, apply).await
            }
            RetentionTarget::IngestedEvents
            | RetentionTarget::PublicReports
            | RetentionTarget::ClosedIncidents => Ok(None),
        }
    }
}

/// Count what `count` selects (bound to the organisation, then the cutoff) and, when asked,
/// run `change` with the same bindings in the caller's transaction.
async fn count_then_change<T>(
    transaction: &mut Transaction,
    (count, change): (&'static str, &'static str),
    organization_id: OrganizationId,
    cutoff: T,
    apply: bool,
) -> Result<Option<u64>, StoreError>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + Copy
        + Send
        + 'static,
{
    let (n,): (i64,) = on_backend!(transaction.connection(), c => sqlx::query_as(count)
        .bind(organization_id.as_uuid())
        .bind(cutoff)
        .fetch_one(&mut *c)
        .await)?;
    if apply && n > 0 {
        on_backend!(transaction.change()?, c => sqlx::query(change)
            .bind(organization_id.as_uuid())
            .bind(cutoff)
            .execute(&mut *c)
            .await
            .map(drop))?;
    }
    Ok(Some(count_of(n)))
}

/// Ingested events received before the cutoff and already evaluated by detection (an event
/// detection has not reached yet is kept: deleting it would skip it). Events are kept and
/// deleted by the batch they arrived in: a batch goes once detection has evaluated it whole.
async fn sweep_ingested_events(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    cutoff: OffsetDateTime,
    apply: bool,
) -> Result<Option<u64>, StoreError> {
    macro_rules! evaluated_before {
        () => {
            " FROM event_batches WHERE organization_id = $1 AND received_us < $2 AND end_seq <= \
             COALESCE((SELECT next_seq FROM event_detection_cursors WHERE organization_id = $1), 0)"
        };
    }
    let cutoff_us = i64::try_from(cutoff.unix_timestamp_nanos() / 1000)
        .map_err(|_| StoreError::Corrupt(format!("time {cutoff} is out of range")))?;
    let statements = (
        concat!(
            "SELECT CAST(COALESCE(SUM(end_seq - first_seq), 0) AS BIGINT)",
            evaluated_before!()
        ),
        concat!("DELETE", evaluated_before!()),
    );
    count_then_change(transaction, statements, organization_id, cutoff_us, apply).await
}

/// What the public wrote in reports received before the cutoff and already triaged: the
/// body and the contact are erased; the subject, dates, state and incident link stay.
async fn sweep_public_reports(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    cutoff: OffsetDateTime,
    apply: bool,
) -> Result<Option<u64>, StoreError> {
    macro_rules! triaged_before {
        () => {
            " WHERE organization_id = $1 AND received_at < $2 AND state <> 'new' \
             AND (body <> '' OR contact <> '')"
        };
    }
    let statements = (
        concat!("SELECT COUNT(*) FROM public_reports", triaged_before!()),
        concat!("UPDATE public_reports SET body = '', contact = ''", triaged_before!()),
    );
    count_then_change(transaction, statements, organization_id, cutoff, apply).await
}

/// Sessions' source IP and user agent, from the session's creation or its last request.
async fn sweep_session_network(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    trigger: RetentionTrigger,
    cutoff: OffsetDateTime,
    apply: bool,
) -> Result<Option<u64>, StoreError> {
    macro_rules! session_filter {
        ($column:literal) => {
            concat!(
                " WHERE (source_ip IS NOT NULL OR user_agent IS NOT NULL) AND ",
                $column,
                " < $2 AND user_id IN (SELECT id FROM users WHERE organization_id = $1)"
            )
        };
    }
    let statements = match trigger {
        RetentionTrigger::Creation => (
            concat!("SELECT COUNT(*) FROM sessions", session_filter!("created_at")),
            concat!(
                "UPDATE sessions SET source_ip = NULL, user_agent = NULL",
                session_filter!("created_at")
            ),
        ),
        RetentionTrigger::LastActivity => (
            concat!("SELECT COUNT(*) FROM sessions", session_filter!("last_seen_at")),
            concat!(
                "UPDATE sessions SET source_ip = NULL, user_agent = NULL",
                session_filter!("last_seen_at")
            ),
        ),
        RetentionTrigger::EndOfContract | RetentionTrigger::EventDate => return Ok(None),
    };
    count_then_change(transaction, statements, organization_id, cutoff, apply).await
}

/// Suspended accounts (people who left) whose last activity (latest session request, or the
/// account's creation without any) is before the cutoff: their personal data is replaced by
/// placeholders, as on deletion, and the account is marked deleted.
async fn sweep_former_users(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    trigger: RetentionTrigger,
    cutoff: OffsetDateTime,
    apply: bool,
) -> Result<Option<u64>, StoreError> {
    let sql = match trigger {
        RetentionTrigger::LastActivity => {
            "SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.status = 'suspended' \
             AND COALESCE((SELECT MAX(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id), \
             u.created_at) < $2 ORDER BY u.id"
        }
        RetentionTrigger::Creation => {
            "SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.status = 'suspended' \
             AND u.created_at < $2 ORDER BY u.id"
        }
        RetentionTrigger::EndOfContract | RetentionTrigger::EventDate => return Ok(None),
    };
    let rows: Vec<(Uuid,)> = on_backend!(transaction.connection(), c => sqlx::query_as(sql)
        .bind(organization_id.as_uuid())
        .bind(cutoff)
        .fetch_all(&mut *c)
        .await)?;
    if apply {
        for (id,) in &rows {
            let user_id = UserId::from_uuid(*id);
            transaction.erase_user_personal_data(user_id).await?;
            transaction.set_user_status(user_id, UserStatus::Deleted).await?;
        }
    }
    Ok(Some(rows.len() as u64))
}

/// The erasable personal fields of audit entries, from the entry's time. Erasure is the same
/// as the audit log's per-entry erasure: the clear values go, the leaf (which commits only to
/// salted hashes) stays, so the log still verifies.
async fn sweep_audit_personal(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    trigger: RetentionTrigger,
    cutoff: OffsetDateTime,
    apply: bool,
) -> Result<Option<u64>, StoreError> {
    if !matches!(trigger, RetentionTrigger::EventDate | RetentionTrigger::Creation) {
        return Ok(None);
    }
    let count = "SELECT COUNT(*) FROM audit_entries \
                 WHERE organization_id = $1 AND time < $2 AND personal <> '{}'";
    let update = "UPDATE audit_entries SET personal = '{}' \
                  WHERE organization_id = $1 AND time < $2 AND personal <> '{}'";
    let (n,): (i64,) = on_backend!(transaction.connection(), c => sqlx::query_as(count)
        .bind(organization_id.as_uuid())
        .bind(cutoff)
        .fetch_one(&mut *c)
        .await)?;
    if apply && n > 0 {
        on_backend!(transaction.change()?, c => sqlx::query(update)
            .bind(organization_id.as_uuid())
            .bind(cutoff)
            .execute(&mut *c)
            .await
            .map(drop))?;
    }
    Ok(Some(count_of(n)))
}
