//! Vulnerability management: advisories imported by the provider's staff, the software
//! components of each asset (from its SBOM), and findings (asset × advisory × component) with
//! severity, remediation deadline and triage state.
//!
//! - Imported advisory files are stored whole; the in-memory [`AdvisoryDatabase`] is built from
//!   all of them on first use and replaced (an `Arc` swapped under a lock) after each import,
//!   never rebuilt per request.
//! - Findings are re-matched after each SBOM import (that asset) and each advisory import
//!   (every asset of every organisation). A finding no longer found becomes `fixed`; a
//!   `fixed` finding found again reopens. One audit event per organisation records each
//!   re-match that changed something, with the ids of the findings it fixed or reopened.
//! - Severity comes from the advisories' CVSS vectors; the deadline from the severity and the
//!   organisation's deadlines (critical 7 days, high 30, medium 90, low 180 by default;
//!   unscored findings count as medium).
//! - Triage states: `open`, `in_triage`, `risk_accepted` (until an expiry at most a year
//!   ahead, approved by the actor; reopens when it expires), `not_affected` (with an OpenVEX
//!   justification) and `fixed` (set only by re-matching).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base::{Actor, OrganizationId, RequestContext, Resource};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use store::{
    AdvisorySourceRecord, AssetRepository as _, ComponentRecord, FindingRecord, SlaRecord,
    Transaction, VulnerabilityRepository as _,
};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;
use vuln::AdvisoryDatabase;
use vuln::report::{Finding, VexJustification, VexStatement, VexStatus};
use vuln::sbom::{Component, ComponentSource};

use crate::AuditTrail as _;
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

/// The default deadlines, in days: critical, high, medium, low.
pub const DEFAULT_SLA: SlaRecord =
    SlaRecord { critical_days: 7, high_days: 30, medium_days: 90, low_days: 180 };

/// Finding states.
pub const FINDING_STATES: [&str; 5] =
    ["open", "in_triage", "risk_accepted", "not_affected", "fixed"];

/// The OpenVEX justifications a `not_affected` finding may give.
pub const VEX_JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// The longest a risk may be accepted for.
pub const MAX_RISK_ACCEPTANCE_DAYS: i64 = 366;
const MAX_NAME_CHARS: usize = 255;
const MAX_NOTE_CHARS: usize = 4_000;
/// Components of one SBOM.
pub const MAX_COMPONENTS: usize = 100_000;
/// Finding ids listed in one re-match audit event, per kind of change.
const MAX_IDS_IN_EVENT: usize = 200;

/// The advisory database shared by all requests, and the lock that serialises its
/// replacement with the re-matches that use it.
#[derive(Default)]
pub(crate) struct VulnerabilityState {
    database: std::sync::RwLock<Option<Arc<AdvisoryDatabase>>>,
    matching: tokio::sync::Mutex<()>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

fn check_file_name(name: &str) -> Result<(), AppError> {
    if name.trim().is_empty() {
        return Err(invalid("name: the file name is required (?name=...)"));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "name: at most {MAX_NAME_CHARS} characters, without control characters"
        )));
    }
    Ok(())
}

fn check_note(note: &str) -> Result<(), AppError> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(format!("note: at most {MAX_NOTE_CHARS} characters")));
    }
    if note.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid("note: control characters are not allowed"));
    }
    Ok(())
}

fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The days to remediate a finding of this severity.
pub fn sla_days(sla: &SlaRecord, severity: &str) -> u32 {
    match severity {
        "critical" => sla.critical_days,
        "high" => sla.high_days,
        "low" | "none" => sla.low_days,
        _ => sla.medium_days,
    }
}

/// Whether a finding is past its deadline at `now` and still to be remediated.
pub fn is_overdue(finding: &FindingRecord, now: OffsetDateTime) -> bool {
    matches!(finding.state.as_str(), "open" | "in_triage") && finding.due_at < now
}

/// Whether a finding counts as unresolved (neither fixed nor found not to apply).
fn is_unresolved(state: &str) -> bool {
    !matches!(state, "fixed" | "not_affected")
}

/// What an advisory import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryImport {
    pub source: AdvisorySourceRecord,
    pub toolchain_skipped: u64,
    /// Each file that could not be read: (origin, message).
    pub errors: Vec<(String, String)>,
    /// Advisories in the database after the import.
    pub advisories_total: u64,
    pub rematch: RematchCounts,
}

/// Findings created, reopened and fixed by a re-match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RematchCounts {
    pub created: u64,
    pub reopened: u64,
    pub fixed: u64,
}

#[derive(Default)]
struct OrgChanges {
    counts: RematchCounts,
    reopened: Vec<String>,
    fixed: Vec<String>,
}

/// A problem with one element of an SBOM; the element was read but cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomProblem {
    pub location: String,
    pub message: String,
}

/// What an SBOM import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomImport {
    /// The format detected (`Cargo.lock`, `CycloneDX JSON`, ...).
    pub format: String,
    pub components: u64,
    pub replaced: u64,
    pub problems: Vec<SbomProblem>,
    pub rematch: RematchCounts,
}

/// A finding as answered, with its parsed lists and whether it is overdue.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingView {
    pub finding: FindingRecord,
    pub aliases: Vec<String>,
    pub fixed_versions: Vec<String>,
    pub overdue: bool,
}

/// Which findings to list; every field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub state: Option<String>,
    pub severity: Option<String>,
    pub asset_id: Option<Uuid>,
    pub overdue: Option<bool>,
}

/// A requested change of a finding's state.
#[derive(Debug, Clone, Default)]
pub struct StateChange {
    pub state: String,
    /// Required for `not_affected`: one of [`VEX_JUSTIFICATIONS`].
    pub justification: Option<String>,
    /// Required for `risk_accepted`: when the acceptance ends.
    pub expires_at: Option<OffsetDateTime>,
    pub note: String,
}

/// Unresolved findings at the end of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendPoint {
    pub date: Date,
    pub open: u64,
}

/// A component as matched: `ecosystem/name@version`, source kind and location.
type ComponentKey = (String, String, Option<String>);
/// A finding's identity: asset, advisory, component.
type FindingKey = (Uuid, String, String);
/// What a match wants stored: the organisation, the component's package URL, the finding.
type WantedFinding = (OrganizationId, Option<String>, Finding);

fn component_key(component: &ComponentRecord) -> String {
    format!("{}/{}@{}", component.ecosystem, component.name, component.version)
}

fn vuln_component(record: &ComponentRecord) -> Component {
    let source = match (record.source_kind.as_str(), record.source_location.clone()) {
        ("other_registry", Some(url)) => ComponentSource::OtherRegistry(url),
        ("path", Some(path)) => ComponentSource::Path(path),
        ("git", Some(url)) => ComponentSource::Git(url),
        _ => ComponentSource::Registry,
    };
    Component {
        ecosystem: vuln::Ecosystem::from_osv(&record.ecosystem),
        name: record.name.clone(),
        version: record.version.clone(),
        purl: record.purl.as_deref().and_then(|purl| vuln::purl::PackageUrl::parse(purl).ok()),
        source,
        location: record.location.clone(),
    }
}

fn source_parts(source: &ComponentSource) -> (&'static str, Option<String>) {
    match source {
        ComponentSource::Registry => ("registry", None),
        ComponentSource::OtherRegistry(url) => ("other_registry", Some(url.clone())),
        ComponentSource::Path(path) => ("path", Some(path.clone())),
        ComponentSource::Git(url) => ("git", Some(url.clone())),
    }
}

/// The matches of one component, computed once per distinct component.
fn findings_of(database: &AdvisoryDatabase, record: &ComponentRecord) -> Vec<Finding> {
    let component = vuln_component(record);
    match vuln::matching::match_component(database, &component) {
        Ok(matches) => matches
            .vulnerabilities
            .iter()
            .map(|matched| Finding::from_match(&component, matched))
            .collect(),
        // Its version was reported as a problem at import; it cannot be matched.
        Err(_) => Vec::new(),
    }
}

impl App {
    fn current_database(&self) -> Result<Option<Arc<AdvisoryDatabase>>, AppError> {
        let guard = self
            .vulnerabilities
            .database
            .read()
            .map_err(|_| AppError::Internal("advisory database lock poisoned".into()))?;
        Ok(guard.clone())
    }

    fn swap_database(&self, database: Arc<AdvisoryDatabase>) -> Result<(), AppError> {
        let mut guard = self
            .vulnerabilities
            .database
            .write()
            .map_err(|_| AppError::Internal("advisory database lock poisoned".into()))?;
        *guard = Some(database);
        Ok(())
    }

    /// The advisory database, built from the stored sources on first use; the caller holds
    /// the matching lock.
    async fn database_locked(&self) -> Result<Arc<AdvisoryDatabase>, AppError> {
        if let Some(database) = self.current_database()? {
            return Ok(database);
        }
        let mut read = self.store.read().await?;
        let sources = read.advisory_source_contents().await?;
        read.commit().await?;
        let database = tokio::task::spawn_blocking(move || {
            let mut database = AdvisoryDatabase::new();
            for (name, content) in &sources {
                database.load_bytes(name, content);
            }
            database
        })
        .await
        .map_err(|error| AppError::Internal(format!("advisory load failed: {error}")))?;
        let database = Arc::new(database);
        self.swap_database(Arc::clone(&database))?;
        Ok(database)
    }

    async fn sla_of(
        transaction: &mut Transaction,
        organization_id: OrganizationId,
    ) -> Result<SlaRecord, AppError> {
        Ok(transaction.get_sla(organization_id).await?.unwrap_or(DEFAULT_SLA))
    }

    /// Match components against the database and bring the findings in line: new ones
    /// created, vanished ones fixed, fixed ones found again reopened. `asset_id` limits the
    /// pass to one asset; without it every asset of every organisation is matched.
    async fn rematch(
        &self,
        transaction: &mut Transaction,
        database: &AdvisoryDatabase,
        asset_id: Option<Uuid>,
    ) -> Result<BTreeMap<OrganizationId, OrgChanges>, AppError> {
        let now = self.clock.now();
        let (components, existing) = match asset_id {
            Some(asset_id) => (
                transaction.list_components(asset_id).await?,
                transaction.list_asset_findings(asset_id).await?,
            ),
            None => (transaction.all_components().await?, transaction.all_findings().await?),
        };
        // Each distinct component is matched once, however many assets hold it.
        let mut matched: HashMap<ComponentKey, Vec<Finding>> = HashMap::new();
        let mut wanted: HashMap<FindingKey, WantedFinding> = HashMap::new();
        for component in components.iter().filter(|component| component.problem.is_none()) {
            let key = component_key(component);
            let cache_key =
                (key.clone(), component.source_kind.clone(), component.source_location.clone());
            let found =
                matched.entry(cache_key).or_insert_with(|| findings_of(database, component));
            for finding in found.iter() {
                wanted.insert(
                    (component.asset_id, finding.id.clone(), key.clone()),
                    (component.organization_id, component.purl.clone(), finding.clone()),
                );
            }
        }
        let mut slas: HashMap<OrganizationId, SlaRecord> = HashMap::new();
        let mut changes: BTreeMap<OrganizationId, OrgChanges> = BTreeMap::new();
        for mut record in existing {
            let key = (record.asset_id, record.advisory_id.clone(), record.component.clone());
            let changed = match wanted.remove(&key) {
                Some((_, purl, finding)) => {
                    let mut changed = refresh(&mut record, purl, &finding);
                    if record.state == "fixed" {
                        let sla = match slas.get(&record.organization_id) {
                            Some(sla) => *sla,
                            None => {
                                let sla = Self::sla_of(transaction, record.organization_id).await?;
                                slas.insert(record.organization_id, sla);
                                sla
                            }
                        };
                        record.state = "open".to_owned();
                        record.resolved_at = None;
                        record.justification = None;
                        record.due_at =
                            now + Duration::days(i64::from(sla_days(&sla, &record.severity)));
                        let entry = changes.entry(record.organization_id).or_default();
                        entry.counts.reopened += 1;
                        entry.reopened.push(record.id.to_string());
                        changed = true;
                    }
                    if changed || asset_id.is_some() {
                        record.last_seen_at = now;
                    }
                    changed || asset_id.is_some()
                }
                None if record.state != "fixed" => {
                    record.state = "fixed".to_owned();
                    record.resolved_at = Some(now);
                    let entry = changes.entry(record.organization_id).or_default();
                    entry.counts.fixed += 1;
                    entry.fixed.push(record.id.to_string());
                    true
                }
                None => false,
            };
            if changed {
                record.updated_at = now;
                transaction.update_finding(&record).await?;
            }
        }
        let mut created = Vec::with_capacity(wanted.len());
        let mut wanted: Vec<_> = wanted.into_iter().collect();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        for ((asset_id, advisory_id, component), (organization_id, purl, finding)) in wanted {
            let sla = match slas.get(&organization_id) {
                Some(sla) => *sla,
                None => {
                    let sla = Self::sla_of(transaction, organization_id).await?;
                    slas.insert(organization_id, sla);
                    sla
                }
            };
            let severity = finding.severity.as_str().to_owned();
            let due_at = now + Duration::days(i64::from(sla_days(&sla, &severity)));
            let mut record = FindingRecord {
                id: new_id(now),
                organization_id,
                asset_id,
                advisory_id,
                component,
                purl: None,
                aliases: String::new(),
                summary: String::new(),
                severity,
                cvss_score: None,
                cvss_vector: None,
                fixed_versions: String::new(),
                state: "open".to_owned(),
                justification: None,
                note: String::new(),
                risk_expires_at: None,
                approved_by: None,
                first_seen_at: now,
                last_seen_at: now,
                resolved_at: None,
                due_at,
                updated_at: now,
            };
            refresh(&mut record, purl, &finding);
            changes.entry(organization_id).or_default().counts.created += 1;
            created.push(record);
        }
        transaction.insert_findings(&created).await?;
        Ok(changes)
    }

    /// Append one audit event per organisation whose findings a re-match changed.
    async fn audit_rematch(
        &self,
        transaction: &mut Transaction,
        actor: &Actor,
        changes: &BTreeMap<OrganizationId, OrgChanges>,
        cause: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        for (organization_id, change) in changes {
            let mut event = self.event(
                actor,
                *organization_id,
                "vulnerability.findings.rematch",
                Resource::kind_only("vulnerability_finding"),
            );
            event.context = context.clone();
            event.details.insert("cause".into(), cause.into());
            event.details.insert("created".into(), change.counts.created.into());
            event.details.insert("reopened".into(), change.counts.reopened.into());
            event.details.insert("fixed".into(), change.counts.fixed.into());
            let ids = |ids: &[String]| -> Value {
                ids.iter().take(MAX_IDS_IN_EVENT).cloned().collect::<Vec<_>>().into()
            };
            event.details.insert("reopened_ids".into(), ids(&change.reopened));
            event.details.insert("fixed_ids".into(), ids(&change.fixed));
            transaction.append_audit_event(&event).await?;
        }
        Ok(())
    }

    /// Import an advisory file (OSV JSON or YAML, a zip bundle, a RustSec `.md`): staff
    /// holding `vuln:advisories:write` on the provider organisation may. Every asset is
    /// matched again.
    pub async fn import_advisories(
        &self,
        principal: &Principal,
        name: &str,
        content: &[u8],
        context: &RequestContext,
    ) -> Result<AdvisoryImport, AppError> {
        const ACTION: &str = "vuln:advisories:write";
        if !principal.is_staff() {
            let resource = Resource::kind_only("advisory_source");
            return Err(self
                .deny(principal, principal.organization_id, ACTION, resource, context, "not_staff")
                .await);
        }
        let provider = principal.organization_id;
        self.authorize_in(principal, provider, ACTION, context).await?;
        check_file_name(name)?;
        if content.is_empty() {
            return Err(invalid("the advisory file is empty"));
        }
        let sha256 = hex::encode(Sha256::digest(content));
        let _matching = self.vulnerabilities.matching.lock().await;
        {
            let mut read = self.store.read().await?;
            let known = read.find_advisory_source_by_sha256(&sha256).await?;
            read.commit().await?;
            if let Some(known) = known {
                return Err(AppError::Conflict(format!(
                    "this file was already imported as {:?} at {}",
                    known.name, known.imported_at
                )));
            }
        }
        let current = self.database_locked().await?;
        let owned_name = name.to_owned();
        let owned_content = content.to_vec();
        let (database, report) = tokio::task::spawn_blocking(move || {
            let mut database = AdvisoryDatabase::clone(&current);
            let report = database.load_bytes(&owned_name, &owned_content);
            (database, report)
        })
        .await
        .map_err(|error| AppError::Internal(format!("advisory load failed: {error}")))?;
        let read_any =
            report.loaded + report.withdrawn + report.duplicates + report.toolchain_skipped > 0;
        if !read_any {
            let reasons: Vec<String> = report
                .errors
                .iter()
                .take(5)
                .map(|error| format!("{}: {}", error.origin, error.message))
                .collect();
            return Err(invalid(if reasons.is_empty() {
                "the file holds no advisory".to_owned()
            } else {
                format!("no advisory could be read: {}", reasons.join("; "))
            }));
        }
        let now = self.clock.now();
        let source = AdvisorySourceRecord {
            id: new_id(now),
            name: name.to_owned(),
            sha256,
            imported_at: now,
            imported_by: principal.actor.id(),
            loaded: report.loaded as u64,
            withdrawn: report.withdrawn as u64,
            duplicates: report.duplicates as u64,
            n_errors: report.errors.len() as u64,
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_advisory_source(&source, content).await?;
        let changes = self.rematch(&mut transaction, &database, None).await?;
        let mut event = self.success_event(
            principal,
            provider,
            "vulnerability.advisories.import",
            Resource::new("advisory_source", source.id),
            context,
        );
        event.privileged = true;
        event.details.insert("name".into(), source.name.clone().into());
        event.details.insert("sha256".into(), source.sha256.clone().into());
        event.details.insert("loaded".into(), source.loaded.into());
        event.details.insert("withdrawn".into(), source.withdrawn.into());
        event.details.insert("errors".into(), source.n_errors.into());
        transaction.append_audit_event(&event).await?;
        self.audit_rematch(
            &mut transaction,
            &principal.actor,
            &changes,
            "advisory_import",
            context,
        )
        .await?;
        transaction.commit().await?;
        let advisories_total = database.len() as u64;
        self.swap_database(Arc::new(database))?;
        let mut rematch = RematchCounts::default();
        for change in changes.values() {
            rematch.created += change.counts.created;
            rematch.reopened += change.counts.reopened;
            rematch.fixed += change.counts.fixed;
        }
        Ok(AdvisoryImport {
            source,
            toolchain_skipped: report.toolchain_skipped as u64,
            errors: report.errors.into_iter().map(|error| (error.origin, error.message)).collect(),
            advisories_total,
            rematch,
        })
    }

    /// The imported advisory sources, oldest first.
    pub async fn list_advisory_sources(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<Vec<AdvisorySourceRecord>, AppError> {
        const ACTION: &str = "vuln:advisories:read";
        if !principal.is_staff() {
            let resource = Resource::kind_only("advisory_source");
            return Err(self
                .deny(principal, principal.organization_id, ACTION, resource, context, "not_staff")
                .await);
        }
        self.authorize_in(principal, principal.organization_id, ACTION, context).await?;
        let mut read = self.store.read().await?;
        let sources = read.list_advisory_sources().await?;
        read.commit().await?;
        Ok(sources)
    }

    /// Replace an asset's components with those of an SBOM or lockfile and match them.
    pub async fn import_sbom(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        asset_id: Uuid,
        name: &str,
        content: &[u8],
        context: &RequestContext,
    ) -> Result<SbomImport, AppError> {
        self.authorize_in(principal, organization_id, "assets:sboms:write", context).await?;
        check_file_name(name)?;
        let inventory = vuln::sbom::detect_and_parse(name, content)
            .map_err(|error| invalid(format!("malformed SBOM: {error}")))?;
        if inventory.components.len() > MAX_COMPONENTS {
            return Err(invalid(format!("at most {MAX_COMPONENTS} components per SBOM")));
        }
        let now = self.clock.now();
        let mut problems: Vec<SbomProblem> = inventory
            .notes
            .iter()
            .map(|note| SbomProblem {
                location: note.location.clone(),
                message: note.message.clone(),
            })
            .collect();
        let mut records = Vec::with_capacity(inventory.components.len());
        for (position, component) in inventory.components.iter().enumerate() {
            let problem = match &component.ecosystem {
                vuln::Ecosystem::Other(other) => Some(format!("unknown ecosystem {other:?}")),
                ecosystem => vuln::Version::parse(ecosystem, &component.version)
                    .err()
                    .map(|error| format!("unparsable version: {error}")),
            };
            if let Some(message) = &problem {
                problems.push(SbomProblem {
                    location: component.location.clone(),
                    message: format!("{} {}: {message}", component.name, component.version),
                });
            }
            let (source_kind, source_location) = source_parts(&component.source);
            records.push(ComponentRecord {
                id: new_id(now),
                organization_id,
                asset_id,
                ecosystem: component.ecosystem.osv_name().to_owned(),
                name: component.name.clone(),
                version: component.version.clone(),
                purl: component.purl.as_ref().map(ToString::to_string),
                source_kind: source_kind.to_owned(),
                source_location,
                location: component.location.clone(),
                problem,
                position: position as u64,
            });
        }
        let _matching = self.vulnerabilities.matching.lock().await;
        let database = self.database_locked().await?;
        let mut transaction = self.store.begin().await?;
        transaction
            .get_asset(organization_id, asset_id)
            .await?
            .ok_or(AppError::NotFound("asset"))?;
        let replaced = transaction.replace_components(asset_id, &records).await?;
        let changes = self.rematch(&mut transaction, &database, Some(asset_id)).await?;
        let counts = changes.get(&organization_id).map(|change| change.counts).unwrap_or_default();
        let mut event = self.success_event(
            principal,
            organization_id,
            "asset.sbom.import",
            Resource::new("asset", asset_id),
            context,
        );
        event.details.insert("name".into(), name.into());
        event.details.insert("format".into(), inventory.format.to_string().into());
        event.details.insert("components".into(), records.len().into());
        event.details.insert("problems".into(), problems.len().into());
        transaction.append_audit_event(&event).await?;
        self.audit_rematch(&mut transaction, &principal.actor, &changes, "sbom_import", context)
            .await?;
        transaction.commit().await?;
        Ok(SbomImport {
            format: inventory.format.to_string(),
            components: records.len() as u64,
            replaced,
            problems,
            rematch: counts,
        })
    }

    /// An asset's components, in SBOM order.
    pub async fn list_components(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        asset_id: Uuid,
        context: &RequestContext,
    ) -> Result<Vec<ComponentRecord>, AppError> {
        self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
        let mut read = self.store.read().await?;
        read.get_asset(organization_id, asset_id).await?.ok_or(AppError::NotFound("asset"))?;
        let components = read.list_components(asset_id).await?;
        read.commit().await?;
        Ok(components)
    }

    /// Reopen every risk acceptance that expired, in every organisation (one audit event per
    /// finding, by the system). Run before findings are read or changed.
    pub async fn reopen_expired_risk_acceptances(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let any_expired = !read.expired_risk_acceptances(now).await?.is_empty();
        read.commit().await?;
        if !any_expired {
            return Ok(0);
        }
        let mut transaction = self.store.begin().await?;
        let expired = transaction.expired_risk_acceptances(now).await?;
        for mut finding in expired.iter().cloned() {
            let expired_at = finding.risk_expires_at;
            finding.state = "open".to_owned();
            finding.risk_expires_at = None;
            finding.updated_at = now;
            transaction.update_finding(&finding).await?;
            let mut event = self.event(
                &Actor::System,
                finding.organization_id,
                "vulnerability.finding.state",
                Resource::new("vulnerability_finding", finding.id),
            );
            event.details.insert("from".into(), "risk_accepted".into());
            event.details.insert("to".into(), "open".into());
            event.details.insert("reason".into(), "risk_acceptance_expired".into());
            if let Some(at) = expired_at {
                event.details.insert("expired_at".into(), rfc3339(at).into());
            }
            transaction.append_audit_event(&event).await?;
        }
        transaction.commit().await?;
        Ok(expired.len() as u64)
    }

    fn view_of(&self, finding: FindingRecord) -> FindingView {
        let now = self.clock.now();
        FindingView {
            aliases: parse_list(&finding.aliases),
            fixed_versions: parse_list(&finding.fixed_versions),
            overdue: is_overdue(&finding, now),
            finding,
        }
    }

    pub async fn list_findings(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        filter: &FindingFilter,
        context: &RequestContext,
    ) -> Result<Vec<FindingView>, AppError> {
        self.authorize_in(principal, organization_id, "vuln:findings:read", context).await?;
        self.reopen_expired_risk_acceptances().await?;
        let mut read = self.store.read().await?;
        let findings = read.list_findings(organization_id).await?;
        read.commit().await?;
        Ok(findings
            .into_iter()
            .map(|finding| self.view_of(finding))
            .filter(|view| {
                let finding = &view.finding;
                filter.state.as_deref().is_none_or(|state| finding.state == state)
                    && filter
                        .severity
                        .as_deref()
                        .is_none_or(|severity| finding.severity == severity)
                    && filter.asset_id.is_none_or(|asset_id| finding.asset_id == asset_id)
                    && filter.overdue.is_none_or(|overdue| view.overdue == overdue)
            })
            .collect())
    }

    pub async fn get_finding(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<FindingView, AppError> {
        self.authorize_in(principal, organization_id, "vuln:findings:read", context).await?;
        self.reopen_expired_risk_acceptances().await?;
        let mut read = self.store.read().await?;
        let finding =
            read.get_finding(organization_id, id).await?.ok_or(AppError::NotFound("finding"))?;
        read.commit().await?;
        Ok(self.view_of(finding))
    }

    /// Move a finding to another triage state. `fixed` is set only by re-matching.
    pub async fn change_finding_state(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        change: &StateChange,
        context: &RequestContext,
    ) -> Result<FindingView, AppError> {
        let now = self.clock.now();
        let state = change.state.trim();
        if !FINDING_STATES.contains(&state) {
            return Err(invalid(format!(
                "state: unknown {state:?}; expected open, in_triage, risk_accepted or not_affected"
            )));
        }
        if state == "fixed" {
            return Err(invalid(
                "state: fixed is set when a new SBOM no longer holds the vulnerable component",
            ));
        }
        check_note(&change.note)?;
        let justification = match (state, change.justification.as_deref()) {
            ("not_affected", Some(text)) if VEX_JUSTIFICATIONS.contains(&text) => {
                Some(text.to_owned())
            }
            ("not_affected", Some(text)) => {
                return Err(invalid(format!(
                    "justification: unknown {text:?}; expected one of {}",
                    VEX_JUSTIFICATIONS.join(", ")
                )));
            }
            ("not_affected", None) => {
                return Err(invalid(format!(
                    "justification: required for not_affected; one of {}",
                    VEX_JUSTIFICATIONS.join(", ")
                )));
            }
            (_, Some(_)) => return Err(invalid("justification: only for not_affected")),
            (_, None) => None,
        };
        let risk_expires_at = match (state, change.expires_at) {
            ("risk_accepted", Some(at)) if at <= now => {
                return Err(invalid("expires_at: must be in the future"));
            }
            ("risk_accepted", Some(at)) if at > now + Duration::days(MAX_RISK_ACCEPTANCE_DAYS) => {
                return Err(invalid("expires_at: a risk is accepted for at most a year"));
            }
            ("risk_accepted", Some(at)) => Some(at),
            ("risk_accepted", None) => {
                return Err(invalid("expires_at: required for risk_accepted"));
            }
            (_, Some(_)) => return Err(invalid("expires_at: only for risk_accepted")),
            (_, None) => None,
        };
        self.authorize_in(principal, organization_id, "vuln:findings:write", context).await?;
        self.reopen_expired_risk_acceptances().await?;
        let mut transaction = self.store.begin().await?;
        let mut finding = transaction
            .get_finding(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("finding"))?;
        let from = finding.state.clone();
        if from == "fixed" {
            return Err(AppError::Conflict(
                "the finding is fixed; it reopens by itself if a new SBOM holds it again".into(),
            ));
        }
        if from == state && state != "risk_accepted" {
            return Err(AppError::Conflict(format!("the finding is already {state}")));
        }
        finding.state = state.to_owned();
        finding.justification = justification;
        finding.risk_expires_at = risk_expires_at;
        finding.approved_by = if state == "risk_accepted" { principal.actor.id() } else { None };
        finding.resolved_at = if state == "not_affected" { Some(now) } else { None };
        if !change.note.is_empty() {
            finding.note = change.note.clone();
        }
        finding.updated_at = now;
        transaction.update_finding(&finding).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "vulnerability.finding.state",
            Resource::new("vulnerability_finding", id),
            context,
        );
        event.details.insert("from".into(), from.into());
        event.details.insert("to".into(), state.into());
        event.details.insert("advisory".into(), finding.advisory_id.clone().into());
        if let Some(text) = &finding.justification {
            event.details.insert("justification".into(), text.clone().into());
        }
        if let Some(at) = finding.risk_expires_at {
            event.details.insert("expires_at".into(), rfc3339(at).into());
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(self.view_of(finding))
    }

    /// The organisation's deadlines (the defaults unless it set its own).
    pub async fn vulnerability_sla(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<SlaRecord, AppError> {
        self.authorize_in(principal, organization_id, "vuln:findings:read", context).await?;
        let mut read = self.store.read().await?;
        let sla = Self::sla_of(&mut read, organization_id).await?;
        read.commit().await?;
        Ok(sla)
    }

    /// Set the organisation's deadlines; unresolved findings get deadlines from them at once
    /// (counted from when each was first seen).
    pub async fn set_vulnerability_sla(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        sla: &SlaRecord,
        context: &RequestContext,
    ) -> Result<SlaRecord, AppError> {
        for (field, days) in [
            ("critical_days", sla.critical_days),
            ("high_days", sla.high_days),
            ("medium_days", sla.medium_days),
            ("low_days", sla.low_days),
        ] {
            if !(1..=3_650).contains(&days) {
                return Err(invalid(format!("{field}: between 1 and 3650 days")));
            }
        }
        self.authorize_in(principal, organization_id, "vuln:findings:write", context).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        transaction.put_sla(organization_id, sla, now).await?;
        let mut n_updated = 0_u64;
        for mut finding in transaction.list_findings(organization_id).await? {
            if !is_unresolved(&finding.state) {
                continue;
            }
            let due_at =
                finding.first_seen_at + Duration::days(i64::from(sla_days(sla, &finding.severity)));
            if due_at != finding.due_at {
                finding.due_at = due_at;
                finding.updated_at = now;
                transaction.update_finding(&finding).await?;
                n_updated += 1;
            }
        }
        let mut event = self.success_event(
            principal,
            organization_id,
            "vulnerability.sla.update",
            Resource::kind_only("vulnerability_sla"),
            context,
        );
        let mut days = Map::new();
        days.insert("critical".into(), sla.critical_days.into());
        days.insert("high".into(), sla.high_days.into());
        days.insert("medium".into(), sla.medium_days.into());
        days.insert("low".into(), sla.low_days.into());
        event.details.insert("days".into(), Value::Object(days));
        event.details.insert("findings_updated".into(), n_updated.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(*sla)
    }

    /// Unresolved findings at the end of each of the last `days` days (today up to now).
    pub async fn vulnerability_trend(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        days: u32,
        context: &RequestContext,
    ) -> Result<Vec<TrendPoint>, AppError> {
        if !(1..=366).contains(&days) {
            return Err(invalid("days: between 1 and 366"));
        }
        self.authorize_in(principal, organization_id, "vuln:findings:read", context).await?;
        self.reopen_expired_risk_acceptances().await?;
        let mut read = self.store.read().await?;
        let findings = read.list_findings(organization_id).await?;
        read.commit().await?;
        let now = self.clock.now();
        let today = now.date();
        Ok(trend(&findings, today, days, now))
    }

    /// The trend as a report: marked with the organisation's `vulnerabilities` level, and
    /// recorded as an export.
    pub async fn export_vulnerability_trend(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        days: u32,
        context: &RequestContext,
    ) -> Result<(Vec<TrendPoint>, crate::ExportMarking), AppError> {
        let points = self.vulnerability_trend(principal, organization_id, days, context).await?;
        let marking = self.export_marking(organization_id, "vulnerabilities", None).await?;
        self.record_export(
            principal,
            organization_id,
            "vulnerability.trend.export",
            Resource::kind_only("vulnerability_findings"),
            "json",
            points.len(),
            &marking,
            context,
        )
        .await?;
        Ok((points, marking))
    }

    /// The organisation's findings as an OpenVEX v0.2.0 document.
    pub async fn vulnerability_vex(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<String, AppError> {
        self.authorize_in(principal, organization_id, "vuln:findings:read", context).await?;
        self.reopen_expired_risk_acceptances().await?;
        let mut read = self.store.read().await?;
        let findings = read.list_findings(organization_id).await?;
        read.commit().await?;
        let now = self.clock.now();
        let statements: Vec<VexStatement> = findings.iter().map(vex_statement).collect();
        let document_id = format!("urn:rampart:vex:{organization_id}:{}", now.unix_timestamp());
        vuln::report::render_openvex(&document_id, "Rampart", &rfc3339(now), &statements)
            .map_err(|error| AppError::Internal(format!("VEX statement refused: {error}")))
    }
}

/// Bring a stored finding in line with a fresh match; true when something changed.
fn refresh(record: &mut FindingRecord, purl: Option<String>, finding: &Finding) -> bool {
    let aliases = json_list(&finding.aliases);
    let fixed_versions = json_list(&finding.fixed_versions);
    let severity = finding.severity.as_str().to_owned();
    let score = finding.cvss.as_ref().map(|cvss| cvss.base_score);
    let vector = finding.cvss.as_ref().map(|cvss| cvss.vector.clone());
    let changed = record.purl != purl
        || record.aliases != aliases
        || record.summary != finding.summary
        || record.severity != severity
        || record.cvss_score != score
        || record.cvss_vector != vector
        || record.fixed_versions != fixed_versions;
    record.purl = purl;
    record.aliases = aliases;
    record.summary = finding.summary.clone();
    record.severity = severity;
    record.cvss_score = score;
    record.cvss_vector = vector;
    record.fixed_versions = fixed_versions;
    changed
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// The count of unresolved findings at the end of each day (or `now` for today), from
/// their first-seen and resolved times.
pub fn trend(
    findings: &[FindingRecord],
    today: Date,
    days: u32,
    now: OffsetDateTime,
) -> Vec<TrendPoint> {
    let mut points = Vec::with_capacity(days as usize);
    for back in (0..i64::from(days)).rev() {
        let date = today - Duration::days(back);
        let end = if back == 0 {
            now
        } else {
            (date + Duration::days(1)).midnight().assume_utc() - Duration::nanoseconds(1)
        };
        let open = findings
            .iter()
            .filter(|finding| {
                finding.first_seen_at <= end
                    && finding.resolved_at.is_none_or(|resolved| resolved > end)
            })
            .count() as u64;
        points.push(TrendPoint { date, open });
    }
    points
}

fn vex_statement(finding: &FindingRecord) -> VexStatement {
    let product = finding
        .purl
        .clone()
        .unwrap_or_else(|| format!("urn:rampart:component:{}", finding.component));
    let fixed_versions = parse_list(&finding.fixed_versions);
    let (status, justification, action) = match finding.state.as_str() {
        "not_affected" => (
            VexStatus::NotAffected,
            finding.justification.as_deref().and_then(justification_of),
            None,
        ),
        "fixed" => (VexStatus::Fixed, None, None),
        "in_triage" => (VexStatus::UnderInvestigation, None, None),
        "risk_accepted" => (
            VexStatus::Affected,
            None,
            Some(format!(
                "Risk accepted until {}",
                finding.risk_expires_at.map(rfc3339).unwrap_or_default()
            )),
        ),
        _ => (
            VexStatus::Affected,
            None,
            Some(if fixed_versions.is_empty() {
                "No fixed version is known; remediation is tracked".to_owned()
            } else {
                format!("Update to {}", fixed_versions.join(" or "))
            }),
        ),
    };
    VexStatement {
        vulnerability: finding.advisory_id.clone(),
        products: vec![product],
        status,
        // A not_affected finding always has a justification; an impact statement covers
        // one that somehow lost it, so the document stays valid.
        impact_statement: (status == VexStatus::NotAffected && justification.is_none())
            .then(|| finding.note.clone()),
        justification,
        action_statement: action,
    }
}

fn justification_of(text: &str) -> Option<VexJustification> {
    Some(match text {
        "component_not_present" => VexJustification::ComponentNotPresent,
        "vulnerable_code_not_present" => VexJustification::VulnerableCodeNotPresent,
        "vulnerable_code_not_in_execute_path" => VexJustification::VulnerableCodeNotInExecutePath,
        "vulnerable_code_cannot_be_controlled_by_adversary" => {
            VexJustification::VulnerableCodeCannotBeControlledByAdversary
        }
        "inline_mitigations_already_exist" => VexJustification::InlineMitigationsAlreadyExist,
        _ => return None,
    })
}
