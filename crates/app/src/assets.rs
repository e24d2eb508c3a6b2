//! The asset inventory: every asset, physical or virtual, with the user responsible for it,
//! its classification and criticality, where it is in its life, and how it ended.
//!
//! - An asset always has an owner, a user of its organisation; a custodian is optional.
//! - Lifecycle: planned → in service ⇄ maintenance → retired → disposed. Reaching *disposed*
//!   takes a disposal record (NIST SP 800-88 method, date, performer, witness, certificate)
//!   and is final; the record is evidence and cannot be changed.
//! - End of support: the daily pass ([`App::warn_end_of_support`]) records a warning event
//!   90, 30 and 7 days ahead, once per threshold.
//! - CSV import is all or nothing: every line is checked first, errors are reported per line
//!   and nothing is written unless all lines are valid (or it is a dry run). Lines match
//!   existing assets on `external_id`.
//! - Every change, import and export is an audit event.

use std::collections::{BTreeMap, HashMap, HashSet};

use base::{OrganizationId, RequestContext, Resource, UserId};
use serde::{Deserialize, Serialize};
use store::{
    AssetRecord, AssetRepository as _, Criticality, DisposalMethod, DisposalRecord, Lifecycle,
    Transaction, UserRepository as _, UserStatus,
};
use time::Date;
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

/// The kinds of asset the inventory knows.
pub const ASSET_KINDS: [&str; 10] = [
    "server",
    "virtual_machine",
    "container_image",
    "application",
    "saas_service",
    "database",
    "network_device",
    "workstation",
    "mobile_device",
    "site",
];

/// Warnings are recorded this many days before the end of support.
pub const END_OF_SUPPORT_WARNINGS: [u32; 3] = [90, 30, 7];

const MAX_TEXT_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 4_000;
const MAX_TAGS: usize = 32;
const MAX_RELATIONS: usize = 64;
/// Lines of one CSV import.
pub const MAX_IMPORT_LINES: usize = 10_000;

/// How an asset relates to another asset or to a category of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    /// `runs_on`, `depends_on` (another asset) or `stores_data` (a data category such as
    /// `user.contact.email`).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_category: Option<String>,
}

/// An asset as a client describes it; everything is checked by [`App::create_asset`] and
/// [`App::update_asset`], which name the field that is wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AssetInput {
    pub external_id: Option<String>,
    pub kind: String,
    pub name: String,
    pub description: String,
    /// The owner's user id or email address.
    pub owner: String,
    /// The custodian's user id or email address.
    pub custodian: Option<String>,
    /// A classification level; `internal` when absent.
    pub classification: Option<String>,
    /// `low`, `medium`, `high` or `critical`; `medium` when absent.
    pub criticality: Option<String>,
    pub location: String,
    /// `planned`, `in_service`, `maintenance` or `retired`; `in_service` when absent.
    /// `disposed` is reached only through a disposal record.
    pub lifecycle: Option<String>,
    /// `YYYY-MM-DD`.
    pub end_of_support: Option<String>,
    pub tags: Vec<String>,
    pub relations: Vec<Relation>,
}

/// An asset with its parsed tags and relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetView {
    pub asset: AssetRecord,
    pub tags: Vec<String>,
    pub relations: Vec<Relation>,
    /// Days until the end of support (negative once past), when it has one.
    pub end_of_support_in_days: Option<i64>,
}

/// Which assets to list; every field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    pub kind: Option<String>,
    pub lifecycle: Option<Lifecycle>,
    pub criticality: Option<Criticality>,
    pub classification: Option<String>,
    pub owner: Option<UserId>,
    pub tag: Option<String>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// End of support within this many days (or already past).
    pub end_of_support_within_days: Option<u32>,
}

/// How a retired asset was erased or destroyed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisposalInput {
    /// `clear`, `purge` or `destroy` (NIST SP 800-88).
    pub method: String,
    /// `YYYY-MM-DD`.
    pub performed_on: String,
    pub performer: String,
    pub witness: String,
    pub certificate_ref: String,
    #[serde(default)]
    pub notes: String,
}

/// One line of a CSV import that could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub error: String,
}

/// What an import did, or would do on a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub lines: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// When not empty, nothing was written.
    pub errors: Vec<LineError>,
}

/// The CSV columns, in export order. Import needs `kind`, `name` and `owner`; the others
/// may be absent from the header.
pub const CSV_COLUMNS: [&str; 13] = [
    "id",
    "external_id",
    "kind",
    "name",
    "description",
    "owner",
    "custodian",
    "classification",
    "criticality",
    "location",
    "lifecycle",
    "end_of_support",
    "tags",
];

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

fn parse_date(field: &str, text: &str) -> Result<Date, AppError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), format)
        .map_err(|_| invalid(format!("{field}: expected a date as YYYY-MM-DD; got {text:?}")))
}

fn format_date(date: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(format).unwrap_or_else(|_| date.to_string())
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), AppError> {
    if required && value.trim().is_empty() {
        return Err(invalid(format!("{field}: required")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!("{field}: at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(format!("{field}: control characters are not allowed")));
    }
    Ok(())
}

/// Resolves owners and custodians (ids or emails) to active users of one organisation,
/// asking the store once per distinct reference.
struct Members {
    organization_id: OrganizationId,
    known: HashMap<String, Result<UserId, String>>,
    /// The organisation's classification scheme, read once.
    scheme: Option<crate::OrganizationScheme>,
}

impl Members {
    fn new(organization_id: OrganizationId) -> Self {
        Self { organization_id, known: HashMap::new(), scheme: None }
    }

    /// The stored form of a classification level, checked against the organisation's scheme.
    async fn classification(
        &mut self,
        transaction: &mut Transaction,
        level: Option<&str>,
    ) -> Result<String, AppError> {
        if self.scheme.is_none() {
            self.scheme =
                Some(crate::classification::load_scheme(transaction, self.organization_id).await?);
        }
        let Some(scheme) = &self.scheme else {
            return Err(AppError::Internal("classification scheme not loaded".into()));
        };
        match level.map(str::trim).filter(|level| !level.is_empty()) {
            None => Ok(scheme.default_key()),
            Some(level) => scheme.key_of(level).ok_or_else(|| {
                invalid(format!(
                    "classification: unknown level {level:?}; expected one of {}",
                    scheme.names()
                ))
            }),
        }
    }

    async fn resolve(
        &mut self,
        transaction: &mut Transaction,
        field: &str,
        reference: &str,
    ) -> Result<UserId, AppError> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(invalid(format!("{field}: required (a user id or email)")));
        }
        if !self.known.contains_key(reference) {
            let user = match reference.parse::<UserId>() {
                Ok(id) => transaction.get_user(id).await?,
                Err(_) => transaction.find_user_by_email(&reference.to_lowercase()).await?,
            };
            let outcome = match user {
                Some(user)
                    if user.organization_id == self.organization_id
                        && user.status == UserStatus::Active =>
                {
                    Ok(user.id)
                }
                Some(user) if user.organization_id == self.organization_id => {
                    Err(format!("{reference:?} is not an active user"))
                }
                _ => Err(format!("{reference:?} is not a user of the organization")),
            };
            self.known.insert(reference.to_owned(), outcome);
        }
        match self.known.get(reference) {
            Some(Ok(id)) => Ok(*id),
            Some(Err(reason)) => Err(invalid(format!("{field}: {reason}"))),
            None => Err(AppError::Internal("member cache lost an entry".into())),
        }
    }
}

/// The checked form of an [`AssetInput`].
struct CheckedAsset {
    external_id: Option<String>,
    kind: String,
    name: String,
    description: String,
    owner_id: UserId,
    custodian_id: Option<UserId>,
    classification: String,
    criticality: Criticality,
    location: String,
    lifecycle: Lifecycle,
    end_of_support: Option<Date>,
    tags: Vec<String>,
    relations: Vec<Relation>,
}

async fn check_input(
    transaction: &mut Transaction,
    members: &mut Members,
    input: &AssetInput,
) -> Result<CheckedAsset, AppError> {
    let external_id =
        input.external_id.as_deref().map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned);
    if let Some(id) = &external_id {
        check_text("external_id", id, MAX_TEXT_CHARS, true)?;
    }
    let kind = input.kind.trim();
    if !ASSET_KINDS.contains(&kind) {
        return Err(invalid(format!(
            "kind: unknown kind {kind:?}; expected one of {}",
            ASSET_KINDS.join(", ")
        )));
    }
    check_text("name", &input.name, MAX_TEXT_CHARS, true)?;
    check_text("description", &input.description, MAX_DESCRIPTION_CHARS, false)?;
    check_text("location", &input.location, MAX_TEXT_CHARS, false)?;
    let classification =
        members.classification(transaction, input.classification.as_deref()).await?;
    let criticality_text = input.criticality.as_deref().unwrap_or("medium").trim();
    let criticality = Criticality::parse(criticality_text).ok_or_else(|| {
        invalid(format!(
            "criticality: unknown {criticality_text:?}; expected low, medium, high or critical"
        ))
    })?;
    let lifecycle_text = input.lifecycle.as_deref().unwrap_or("in_service").trim();
    let lifecycle = match Lifecycle::parse(lifecycle_text) {
        Some(Lifecycle::Disposed) => {
            return Err(invalid(
                "lifecycle: an asset becomes disposed only with a disposal record \
                 (POST …/assets/{id}/disposal)",
            ));
        }
        Some(lifecycle) => lifecycle,
        None => {
            return Err(invalid(format!(
                "lifecycle: unknown state {lifecycle_text:?}; expected planned, in_service, \
                 maintenance or retired"
            )));
        }
    };
    let end_of_support = input
        .end_of_support
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .map(|text| parse_date("end_of_support", text))
        .transpose()?;
    let mut tags: Vec<String> = Vec::new();
    for tag in &input.tags {
        let tag = tag.trim();
        check_text("tags", tag, 64, true)?;
        if !tags.iter().any(|known| known == tag) {
            tags.push(tag.to_owned());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!("tags: at most {MAX_TAGS}")));
    }
    if input.relations.len() > MAX_RELATIONS {
        return Err(invalid(format!("relations: at most {MAX_RELATIONS}")));
    }
    for (index, relation) in input.relations.iter().enumerate() {
        let field = format!("relations[{index}]");
        match (relation.kind.as_str(), &relation.asset_id, &relation.data_category) {
            ("runs_on" | "depends_on", Some(_), None) => {}
            ("stores_data", None, Some(category)) => check_data_category(&field, category)?,
            ("runs_on" | "depends_on", _, _) => {
                return Err(invalid(format!("{field}: {} needs asset_id only", relation.kind)));
            }
            ("stores_data", _, _) => {
                return Err(invalid(format!("{field}: stores_data needs data_category only")));
            }
            (other, _, _) => {
                return Err(invalid(format!(
                    "{field}: unknown type {other:?}; expected runs_on, depends_on or stores_data"
                )));
            }
        }
    }
    let owner_id = members.resolve(transaction, "owner", &input.owner).await?;
    let custodian_id = match input.custodian.as_deref().filter(|text| !text.trim().is_empty()) {
        Some(reference) => Some(members.resolve(transaction, "custodian", reference).await?),
        None => None,
    };
    Ok(CheckedAsset {
        external_id,
        kind: kind.to_owned(),
        name: input.name.trim().to_owned(),
        description: input.description.clone(),
        owner_id,
        custodian_id,
        classification,
        criticality,
        location: input.location.trim().to_owned(),
        lifecycle,
        end_of_support,
        tags,
        relations: input.relations.clone(),
    })
}

/// A data category is a dotted path of lowercase words, such as `user.contact.email`.
fn check_data_category(field: &str, category: &str) -> Result<(), AppError> {
    let valid = !category.is_empty()
        && category.len() <= 128
        && category.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field}: data_category must be a dotted path of lowercase words such as \
             user.contact.email; got {category:?}"
        )))
    }
}

fn json_text<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|error| AppError::Internal(error.to_string()))
}

fn view_of(asset: AssetRecord, today: Date) -> AssetView {
    let tags = serde_json::from_str(&asset.tags).unwrap_or_default();
    let relations = serde_json::from_str(&asset.relations).unwrap_or_default();
    let end_of_support_in_days = asset.end_of_support.map(|date| (date - today).whole_days());
    AssetView { asset, tags, relations, end_of_support_in_days }
}

fn matches(view: &AssetView, filter: &AssetFilter) -> bool {
    let asset = &view.asset;
    filter.kind.as_deref().is_none_or(|kind| asset.kind == kind)
        && filter.lifecycle.is_none_or(|lifecycle| asset.lifecycle == lifecycle)
        && filter.criticality.is_none_or(|criticality| asset.criticality == criticality)
        && filter.classification.as_deref().is_none_or(|level| asset.classification == level)
        && filter.owner.is_none_or(|owner| asset.owner_id == owner)
        && filter.tag.as_deref().is_none_or(|tag| view.tags.iter().any(|known| known == tag))
        && filter
            .name_contains
            .as_deref()
            .is_none_or(|needle| asset.name.to_lowercase().contains(&needle.to_lowercase()))
        && filter.end_of_support_within_days.is_none_or(|days| {
            view.end_of_support_in_days.is_some_and(|left| left <= i64::from(days))
        })
}

/// What changed between two versions of an asset, for the audit event.
fn changed_fields(before: &AssetRecord, after: &AssetRecord) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut note = |field: &'static str, changed: bool| {
        if changed {
            fields.push(field);
        }
    };
    note("external_id", before.external_id != after.external_id);
    note("kind", before.kind != after.kind);
    note("name", before.name != after.name);
    note("description", before.description != after.description);
    note("owner", before.owner_id != after.owner_id);
    note("custodian", before.custodian_id != after.custodian_id);
    note("classification", before.classification != after.classification);
    note("criticality", before.criticality != after.criticality);
    note("location", before.location != after.location);
    note("lifecycle", before.lifecycle != after.lifecycle);
    note("end_of_support", before.end_of_support != after.end_of_support);
    note("tags", before.tags != after.tags);
    note("relations", before.relations != after.relations);
    fields
}

impl App {
    /// Today's date (UTC) by the app's clock.
    pub(crate) fn today(&self) -> Date {
        self.clock.now().date()
    }

    /// Apply a checked input to a new or existing record.
    fn record_of(
        &self,
        organization_id: OrganizationId,
        checked: CheckedAsset,
        existing: Option<&AssetRecord>,
    ) -> Result<AssetRecord, AppError> {
        let now = self.clock.now();
        if let Some(existing) = existing {
            if existing.lifecycle == Lifecycle::Disposed {
                return Err(AppError::Conflict(
                    "the asset was disposed of; its record can no longer change".into(),
                ));
            }
            if !existing.lifecycle.can_become(checked.lifecycle) {
                return Err(invalid(format!(
                    "lifecycle: cannot go from {} to {}",
                    existing.lifecycle.as_str(),
                    checked.lifecycle.as_str()
                )));
            }
        }
        let end_of_support_warned_days = existing
            .filter(|existing| existing.end_of_support == checked.end_of_support)
            .and_then(|existing| existing.end_of_support_warned_days);
        Ok(AssetRecord {
            id: existing.map_or_else(|| new_id(now), |existing| existing.id),
            organization_id,
            external_id: checked.external_id,
            kind: checked.kind,
            name: checked.name,
            description: checked.description,
            owner_id: checked.owner_id,
            custodian_id: checked.custodian_id,
            classification: checked.classification,
            criticality: checked.criticality,
            location: checked.location,
            lifecycle: checked.lifecycle,
            end_of_support: checked.end_of_support,
            tags: json_text(&checked.tags)?,
            relations: json_text(&checked.relations)?,
            end_of_support_warned_days,
            created_at: existing.map_or(now, |existing| existing.created_at),
            updated_at: now,
        })
    }

    /// Relations must point at other assets of the same organisation.
    async fn check_relation_targets(
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        asset_id: Uuid,
        relations: &[Relation],
        also_known: &HashSet<Uuid>,
    ) -> Result<(), AppError> {
        for (index, relation) in relations.iter().enumerate() {
            let Some(target) = relation.asset_id else { continue };
            if target == asset_id {
                return Err(invalid(format!(
                    "relations[{index}]: an asset cannot relate to itself"
                )));
            }
            if !also_known.contains(&target)
                && transaction.get_asset(organization_id, target).await?.is_none()
            {
                return Err(invalid(format!(
                    "relations[{index}]: asset {target} is not in the organization"
                )));
            }
        }
        Ok(())
    }

    pub async fn create_asset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: &AssetInput,
        context: &RequestContext,
    ) -> Result<AssetView, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let mut members = Members::new(organization_id);
        let checked = check_input(&mut transaction, &mut members, input).await?;
        let asset = self.record_of(organization_id, checked, None)?;
        let relations: Vec<Relation> = serde_json::from_str(&asset.relations).unwrap_or_default();
        Self::check_relation_targets(
            &mut transaction,
            organization_id,
            asset.id,
            &relations,
            &HashSet::new(),
        )
        .await?;
        transaction.insert_asset(&asset).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.create",
            Resource::new("asset", asset.id),
            context,
        );
        event.details.insert("kind".into(), asset.kind.clone().into());
        event.details.insert("owner".into(), asset.owner_id.to_string().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(view_of(asset, self.today()))
    }

    /// Replace an asset's description; a lifecycle change must follow the lifecycle.
    pub async fn update_asset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        input: &AssetInput,
        context: &RequestContext,
    ) -> Result<AssetView, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let existing =
            transaction.get_asset(organization_id, id).await?.ok_or(AppError::NotFound("asset"))?;
        let mut members = Members::new(organization_id);
        let checked = check_input(&mut transaction, &mut members, input).await?;
        let asset = self.record_of(organization_id, checked, Some(&existing))?;
        let relations: Vec<Relation> = serde_json::from_str(&asset.relations).unwrap_or_default();
        Self::check_relation_targets(
            &mut transaction,
            organization_id,
            id,
            &relations,
            &HashSet::new(),
        )
        .await?;
        let changed = changed_fields(&existing, &asset);
        if !changed.is_empty() {
            transaction.update_asset(&asset).await?;
            let mut event = self.success_event(
                principal,
                organization_id,
                "asset.update",
                Resource::new("asset", id),
                context,
            );
            event.details.insert("changed".into(), changed.clone().into());
            if existing.lifecycle != asset.lifecycle {
                event.details.insert("lifecycle_from".into(), existing.lifecycle.as_str().into());
                event.details.insert("lifecycle_to".into(), asset.lifecycle.as_str().into());
            }
            transaction.append_audit_event(&event).await?;
        }
        transaction.commit().await?;
        Ok(view_of(if changed.is_empty() { existing } else { asset }, self.today()))
    }

    /// Delete an asset recorded by mistake. Assets that reached the end of their life stay
    /// as evidence, and an asset others depend on must be unlinked first.
    pub async fn delete_asset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:delete", context).await?;
        let mut transaction = self.store.begin().await?;
        let existing =
            transaction.get_asset(organization_id, id).await?.ok_or(AppError::NotFound("asset"))?;
        if existing.lifecycle == Lifecycle::Disposed {
            return Err(AppError::Conflict(
                "a disposed asset is kept with its disposal record as evidence".into(),
            ));
        }
        let assets = transaction.list_assets(organization_id).await?;
        let today = self.today();
        if let Some(dependent) = assets
            .into_iter()
            .map(|asset| view_of(asset, today))
            .find(|view| view.relations.iter().any(|relation| relation.asset_id == Some(id)))
        {
            return Err(AppError::Conflict(format!(
                "asset {} ({}) relates to this asset; remove that relation first",
                dependent.asset.id, dependent.asset.name
            )));
        }
        transaction.delete_asset(organization_id, id).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.delete",
            Resource::new("asset", id),
            context,
        );
        event.details.insert("name".into(), existing.name.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn get_asset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(AssetView, Option<DisposalRecord>), AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
        let mut read = self.store.read().await?;
        let asset =
            read.get_asset(organization_id, id).await?.ok_or(AppError::NotFound("asset"))?;
        let disposal = if asset.lifecycle == Lifecycle::Disposed {
            read.list_disposals(organization_id)
                .await?
                .into_iter()
                .find(|disposal| disposal.asset_id == id)
        } else {
            None
        };
        read.commit().await?;
        Ok((view_of(asset, self.today()), disposal))
    }

    pub async fn list_assets(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        filter: &AssetFilter,
        context: &RequestContext,
    ) -> Result<Vec<AssetView>, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
        let mut read = self.store.read().await?;
        let assets = read.list_assets(organization_id).await?;
        read.commit().await?;
        let today = self.today();
        Ok(assets
            .into_iter()
            .map(|asset| view_of(asset, today))
            .filter(|view| matches(view, filter))
            .collect())
    }

    /// Record how a retired asset was sanitised and mark it disposed of. Privileged: the
    /// record is the evidence of secure erasure.
    pub async fn dispose_asset(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        input: &DisposalInput,
        context: &RequestContext,
    ) -> Result<(AssetView, DisposalRecord), AppError> {
        let method = DisposalMethod::parse(input.method.trim()).ok_or_else(|| {
            invalid(format!(
                "method: unknown {:?}; expected clear, purge or destroy (NIST SP 800-88)",
                input.method
            ))
        })?;
        let performed_on = parse_date("performed_on", &input.performed_on)?;
        if performed_on > self.today() {
            return Err(invalid("performed_on: a disposal cannot be recorded ahead of time"));
        }
        check_text("performer", &input.performer, MAX_TEXT_CHARS, true)?;
        check_text("witness", &input.witness, MAX_TEXT_CHARS, true)?;
        check_text("certificate_ref", &input.certificate_ref, MAX_TEXT_CHARS, true)?;
        check_text("notes", &input.notes, MAX_DESCRIPTION_CHARS, false)?;
        if input.performer.trim() == input.witness.trim() {
            return Err(invalid("witness: must be someone other than the performer"));
        }
        self.authorize_in(principal, organization_id, "assets:assets:dispose", context).await?;
        let mut transaction = self.store.begin().await?;
        let existing =
            transaction.get_asset(organization_id, id).await?.ok_or(AppError::NotFound("asset"))?;
        if existing.lifecycle != Lifecycle::Retired {
            return Err(AppError::Conflict(format!(
                "only a retired asset can be disposed of; this one is {}",
                existing.lifecycle.as_str()
            )));
        }
        let now = self.clock.now();
        let disposal = DisposalRecord {
            asset_id: id,
            organization_id,
            method,
            performed_on,
            performer: input.performer.trim().to_owned(),
            witness: input.witness.trim().to_owned(),
            certificate_ref: input.certificate_ref.trim().to_owned(),
            notes: input.notes.clone(),
            recorded_by: principal.actor.id(),
            recorded_at: now,
        };
        transaction.insert_disposal(&disposal).await?;
        let asset = AssetRecord { lifecycle: Lifecycle::Disposed, updated_at: now, ..existing };
        transaction.update_asset(&asset).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.dispose",
            Resource::new("asset", id),
            context,
        );
        event.privileged = true;
        event.details.insert("method".into(), method.as_str().into());
        event.details.insert("performed_on".into(), format_date(performed_on).into());
        event.details.insert("certificate_ref".into(), disposal.certificate_ref.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok((view_of(asset, self.today()), disposal))
    }

    pub async fn list_disposals(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<DisposalRecord>, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
        let mut read = self.store.read().await?;
        let disposals = read.list_disposals(organization_id).await?;
        read.commit().await?;
        Ok(disposals)
    }

    /// Import assets from CSV: all lines or none. Lines with an `external_id` (or `id`)
    /// that matches an existing asset update it; the others create assets.
    pub async fn import_assets_csv(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        csv_text: &str,
        dry_run: bool,
        context: &RequestContext,
    ) -> Result<ImportReport, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:write", context).await?;
        let rows = parse_csv(csv_text)?;
        let mut report = ImportReport { dry_run, ..ImportReport::default() };
        let mut transaction = self.store.begin().await?;
        let existing = transaction.list_assets(organization_id).await?;
        let by_id: HashMap<Uuid, &AssetRecord> =
            existing.iter().map(|asset| (asset.id, asset)).collect();
        let by_external: HashMap<&str, &AssetRecord> = existing
            .iter()
            .filter_map(|asset| asset.external_id.as_deref().map(|id| (id, asset)))
            .collect();
        let mut members = Members::new(organization_id);
        let mut planned: Vec<(u64, AssetRecord, bool)> = Vec::new();
        let mut seen_external: HashMap<String, u64> = HashMap::new();
        let mut known_ids: HashSet<Uuid> = by_id.keys().copied().collect();
        for (line, row) in rows {
            report.lines += 1;
            let outcome: Result<(AssetRecord, Option<&AssetRecord>), AppError> = async {
                let (id, input) = row?;
                let target = match (id, input.external_id.as_deref().map(str::trim)) {
                    (Some(id), _) => Some(
                        *by_id
                            .get(&id)
                            .ok_or_else(|| invalid(format!("id: no asset {id} to update")))?,
                    ),
                    (None, Some(external)) if !external.is_empty() => {
                        by_external.get(external).copied()
                    }
                    _ => None,
                };
                let checked = check_input(&mut transaction, &mut members, &input).await?;
                let record = self.record_of(organization_id, checked, target)?;
                Ok((record, target))
            }
            .await;
            match outcome {
                Ok((record, target)) => {
                    if let Some(external) = &record.external_id
                        && let Some(first) = seen_external.insert(external.clone(), line)
                    {
                        report.errors.push(LineError {
                            line,
                            error: format!("external_id: {external:?} already on line {first}"),
                        });
                        continue;
                    }
                    known_ids.insert(record.id);
                    match target {
                        Some(before) if changed_fields(before, &record).is_empty() => {
                            report.unchanged += 1;
                        }
                        Some(_) => planned.push((line, record, false)),
                        None => planned.push((line, record, true)),
                    }
                }
                Err(AppError::InvalidInput(error)) | Err(AppError::Conflict(error)) => {
                    report.errors.push(LineError { line, error });
                }
                Err(other) => return Err(other),
            }
        }
        for (line, record, _) in &planned {
            let relations: Vec<Relation> =
                serde_json::from_str(&record.relations).unwrap_or_default();
            if let Err(AppError::InvalidInput(error)) = Self::check_relation_targets(
                &mut transaction,
                organization_id,
                record.id,
                &relations,
                &known_ids,
            )
            .await
            {
                report.errors.push(LineError { line: *line, error });
            }
        }
        report.errors.sort_by_key(|error| error.line);
        for (_, _, is_new) in &planned {
            if *is_new {
                report.created += 1;
            } else {
                report.updated += 1;
            }
        }
        if dry_run || !report.errors.is_empty() {
            transaction.rollback().await?;
            if !report.errors.is_empty() {
                report.created = 0;
                report.updated = 0;
            }
            return Ok(report);
        }
        for (_, record, is_new) in &planned {
            if *is_new {
                transaction.insert_asset(record).await?;
            } else {
                transaction.update_asset(record).await?;
            }
        }
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.import",
            Resource::new("organization", organization_id),
            context,
        );
        event.details.insert("created".into(), report.created.into());
        event.details.insert("updated".into(), report.updated.into());
        event.details.insert("lines".into(), report.lines.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(report)
    }

    /// The organisation's assets as CSV (the columns of [`CSV_COLUMNS`]; owners by email),
    /// preceded by a comment line with the export's classification. The export is audited.
    pub async fn export_assets_csv(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        filter: &AssetFilter,
        context: &RequestContext,
    ) -> Result<String, AppError> {
        let views = self.list_assets(principal, organization_id, filter, context).await?;
        let mut transaction = self.store.begin().await?;
        let mut emails: HashMap<UserId, String> = HashMap::new();
        for view in &views {
            for id in [Some(view.asset.owner_id), view.asset.custodian_id].into_iter().flatten() {
                if let std::collections::hash_map::Entry::Vacant(entry) = emails.entry(id) {
                    let email = transaction.get_user(id).await?.map(|user| user.email);
                    entry.insert(email.unwrap_or_else(|| id.to_string()));
                }
            }
        }
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let csv_error = |error: csv::Error| AppError::Internal(format!("csv: {error}"));
        writer.write_record(CSV_COLUMNS).map_err(csv_error)?;
        for view in &views {
            let asset = &view.asset;
            let email =
                |id: Option<UserId>| id.and_then(|id| emails.get(&id).cloned()).unwrap_or_default();
            writer
                .write_record([
                    asset.id.to_string(),
                    asset.external_id.clone().unwrap_or_default(),
                    asset.kind.clone(),
                    csv_safe(&asset.name),
                    csv_safe(&asset.description),
                    email(Some(asset.owner_id)),
                    email(asset.custodian_id),
                    asset.classification.clone(),
                    asset.criticality.as_str().to_owned(),
                    csv_safe(&asset.location),
                    asset.lifecycle.as_str().to_owned(),
                    asset.end_of_support.map(format_date).unwrap_or_default(),
                    view.tags.join(";"),
                ])
                .map_err(csv_error)?;
        }
        let body = writer.into_inner().map_err(|error| AppError::Internal(error.to_string()))?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.export",
            Resource::new("organization", organization_id),
            context,
        );
        let scheme = crate::classification::load_scheme(&mut transaction, organization_id).await?;
        let floor = views.iter().filter_map(|view| scheme.rank(&view.asset.classification)).max();
        let marking = scheme.marking("assets", floor);
        event.details.insert("rows".into(), views.len().into());
        event.details.insert("format".into(), "csv".into());
        event.details.insert("classification".into(), marking.header_value().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        let mut out = marking.csv_line();
        out.push_str(&String::from_utf8_lossy(&body));
        Ok(out)
    }

    /// Record a warning for each asset whose end of support is 90, 30 or 7 days away (or
    /// past), once per threshold. Returns how many warnings were recorded.
    pub async fn warn_end_of_support(&self) -> Result<usize, AppError> {
        let today = self.today();
        let mut read = self.store.read().await?;
        let assets = read.assets_with_end_of_support().await?;
        read.commit().await?;
        let mut n_warned = 0;
        for asset in assets {
            let Some(date) = asset.end_of_support else { continue };
            let left = (date - today).whole_days();
            let Some(threshold) = END_OF_SUPPORT_WARNINGS
                .iter()
                .copied()
                .filter(|days| left <= i64::from(*days))
                .min()
            else {
                continue;
            };
            let mut transaction = self.store.begin().await?;
            if !transaction.mark_end_of_support_warned(asset.id, threshold).await? {
                transaction.rollback().await?;
                continue;
            }
            let mut event = self.event(
                &base::Actor::System,
                asset.organization_id,
                "asset.end_of_support.approaching",
                Resource::new("asset", asset.id),
            );
            event.details.insert("end_of_support".into(), format_date(date).into());
            event.details.insert("days_left".into(), left.into());
            event.details.insert("owner".into(), asset.owner_id.to_string().into());
            event.details.insert("criticality".into(), asset.criticality.as_str().into());
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
            n_warned += 1;
        }
        Ok(n_warned)
    }
}

/// Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as a formula;
/// exported text is prefixed with a quote so that opening an export runs nothing.
fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

type CsvRow = Result<(Option<Uuid>, AssetInput), AppError>;

/// Parse the CSV: a header naming the columns (in any order; `kind`, `name` and `owner`
/// required), then one asset per line. Lines starting with `#` are comments.
fn parse_csv(text: &str) -> Result<Vec<(u64, CsvRow)>, AppError> {
    // Comment lines are skipped by hand: the reader's own comment support leaves them out of
    // its line count, and errors must name the line an editor shows.
    // Leading comments (an export's marking) come before the header.
    let mut body = text;
    let mut n_leading = 0u64;
    while body.starts_with('#') {
        body = body.split_once('\n').map_or("", |(_, rest)| rest);
        n_leading += 1;
    }
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(body.as_bytes());
    let header = reader
        .headers()
        .map_err(|error| invalid(format!("csv header: {error}")))?
        .iter()
        .map(str::to_lowercase)
        .collect::<Vec<_>>();
    let mut columns: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, name) in header.iter().enumerate() {
        let known = CSV_COLUMNS.iter().find(|column| **column == name).ok_or_else(|| {
            invalid(format!(
                "csv header: unknown column {name:?}; expected some of {}",
                CSV_COLUMNS.join(", ")
            ))
        })?;
        if columns.insert(known, index).is_some() {
            return Err(invalid(format!("csv header: column {name:?} appears twice")));
        }
    }
    for required in ["kind", "name", "owner"] {
        if !columns.contains_key(required) {
            return Err(invalid(format!("csv header: the {required:?} column is required")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        if let Ok(record) = &record
            && record.get(0).is_some_and(|first| first.starts_with('#'))
        {
            continue;
        }
        let line = record
            .as_ref()
            .ok()
            .and_then(|record| record.position())
            .map_or(rows.len() as u64 + 2, csv::Position::line)
            + n_leading;
        if rows.len() >= MAX_IMPORT_LINES {
            return Err(invalid(format!(
                "csv: more than {MAX_IMPORT_LINES} lines; split the file"
            )));
        }
        let row = record.map_err(|error| invalid(format!("csv: {error}"))).and_then(|record| {
            if record.len() != header.len() {
                return Err(invalid(format!(
                    "{} fields; the header has {}",
                    record.len(),
                    header.len()
                )));
            }
            let field = |name: &str| {
                columns.get(name).and_then(|index| record.get(*index)).unwrap_or("").to_owned()
            };
            let optional = |name: &str| Some(field(name)).filter(|value| !value.is_empty());
            let id = optional("id")
                .map(|id| {
                    id.parse::<Uuid>().map_err(|_| invalid(format!("id: {id:?} is not an id")))
                })
                .transpose()?;
            let tags = field("tags")
                .split(';')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect();
            Ok((
                id,
                AssetInput {
                    external_id: optional("external_id"),
                    kind: field("kind"),
                    name: field("name"),
                    description: field("description"),
                    owner: field("owner"),
                    custodian: optional("custodian"),
                    classification: optional("classification"),
                    criticality: optional("criticality"),
                    location: field("location"),
                    lifecycle: optional("lifecycle"),
                    end_of_support: optional("end_of_support"),
                    tags,
                    relations: Vec::new(),
                },
            ))
        });
        rows.push((line, row));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_keep_their_line_numbers_and_errors() {
        let text = "# classification: INTERNAL (TLP:GREEN)\n\
                    kind,name,owner,tags\n\
                    server,web-1,a@example.com,prod;eu\n\
                    # a comment\n\
                    server,web-2\n\
                    \"server\",\"multi\nline\",b@example.com,\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows.len(), 3);
        let (line, first) = &rows[0];
        assert_eq!(*line, 3);
        let (_, input) = first.as_ref().unwrap();
        assert_eq!(input.tags, ["prod", "eu"]);
        assert_eq!(rows[1].0, 5);
        assert!(rows[1].1.as_ref().unwrap_err().to_string().contains("2 fields"));
        assert_eq!(rows[2].0, 6);
        assert_eq!(rows[2].1.as_ref().unwrap().1.name, "multi\nline");
    }

    #[test]
    fn csv_headers_are_checked() {
        let error = parse_csv("kind,name\nserver,a\n").unwrap_err().to_string();
        assert!(error.contains("\"owner\" column is required"), "{error}");
        let error = parse_csv("kind,name,owner,colour\n").unwrap_err().to_string();
        assert!(error.contains("unknown column \"colour\""), "{error}");
        let error = parse_csv("kind,name,owner,name\n").unwrap_err().to_string();
        assert!(error.contains("appears twice"), "{error}");
    }

    #[test]
    fn exported_text_cannot_run_as_a_formula() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("@SUM(1)"), "'@SUM(1)");
        assert_eq!(csv_safe("web-1"), "web-1");
    }

    #[test]
    fn data_categories_are_dotted_lowercase_paths() {
        assert!(check_data_category("f", "user.contact.email").is_ok());
        assert!(check_data_category("f", "user..email").is_err());
        assert!(check_data_category("f", "User.Email").is_err());
        assert!(check_data_category("f", "").is_err());
    }

    proptest::proptest! {
        #[test]
        fn csv_parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse_csv(&text);
        }
    }
}
