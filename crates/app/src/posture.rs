//! Workstation posture: the facts read from a device's report and the organisation's policy
//! over them.
//!
//! Devices report the rows of osquery's standard tables as JSON, one key per table, each an
//! array of rows whose values are strings or numbers (what `osqueryi --json` prints):
//! `disk_encryption` and `bitlocker_info` (disk encryption), `screenlock` (automatic lock),
//! `os_version`, `windows_security_center` and `windows_security_products` (antivirus,
//! firewall, automatic updates), `alf` (the macOS firewall), `software_update` (pending
//! updates) and `mdm` (enrolment). Platforms those tables do not cover can send a
//! `rampart_posture` table with the same fact names as [`PostureFacts`].
//!
//! A fact the report does not establish is unknown, and an unknown fact fails the policy: a
//! device proves its posture, it is not presumed compliant.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a report established; `None` is "not reported".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureFacts {
    pub disk_encrypted: Option<bool>,
    /// Seconds of inactivity before the screen locks; `None` when unknown or never.
    pub screen_lock_seconds: Option<u64>,
    pub screen_lock_enabled: Option<bool>,
    pub antivirus: Option<bool>,
    pub firewall: Option<bool>,
    pub automatic_updates: Option<bool>,
    pub pending_updates: Option<u64>,
    pub mdm_enrolled: Option<bool>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
}

/// The largest report accepted, in tables and rows per table.
const MAX_TABLES: usize = 64;
const MAX_ROWS: usize = 1_000;

/// Read the facts out of an osquery-shaped report; a report that is not an object of arrays
/// of objects is refused with the path of what is wrong.
pub fn facts_of_report(report: &Value) -> Result<PostureFacts, String> {
    let tables = report.as_object().ok_or("the report must be a JSON object of tables")?;
    if tables.len() > MAX_TABLES {
        return Err(format!("the report has {} tables; at most {MAX_TABLES}", tables.len()));
    }
    for (name, rows) in tables {
        let rows = rows.as_array().ok_or_else(|| format!("{name}: must be an array of rows"))?;
        if rows.len() > MAX_ROWS {
            return Err(format!("{name}: {} rows; at most {MAX_ROWS}", rows.len()));
        }
        if let Some(index) = rows.iter().position(|row| !row.is_object()) {
            return Err(format!("{name}[{index}]: must be an object"));
        }
    }
    let rows = |table: &str| -> Vec<&Map<String, Value>> {
        tables
            .get(table)
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let mut facts = PostureFacts::default();

    // Disk encryption: every listed volume must be encrypted.
    let disks = rows("disk_encryption");
    let bitlocker = rows("bitlocker_info");
    if !disks.is_empty() {
        facts.disk_encrypted =
            Some(disks.iter().all(|row| flag(row.get("encrypted")) == Some(true)));
    } else if !bitlocker.is_empty() {
        facts.disk_encrypted =
            Some(bitlocker.iter().all(|row| number(row.get("protection_status")) == Some(1)));
    }

    if let Some(row) = rows("screenlock").first() {
        let enabled = flag(row.get("enabled"));
        facts.screen_lock_enabled = enabled;
        if enabled == Some(true) {
            facts.screen_lock_seconds = number(row.get("grace_period"));
        }
    }

    if let Some(row) = rows("os_version").first() {
        facts.os_name = text(row.get("name"));
        facts.os_version = text(row.get("version"));
    }

    if let Some(row) = rows("windows_security_center").first() {
        let good = |column: &str| text(row.get(column)).map(|value| value == "Good");
        facts.antivirus = good("antivirus");
        facts.firewall = good("firewall");
        facts.automatic_updates = good("autoupdate");
    }
    let products = rows("windows_security_products");
    let product_on = |kind: &str| {
        let of_kind: Vec<_> = products
            .iter()
            .filter(|row| text(row.get("type")).is_some_and(|value| value == kind))
            .collect();
        (!of_kind.is_empty())
            .then(|| of_kind.iter().any(|row| text(row.get("state")).is_some_and(|s| s == "On")))
    };
    facts.antivirus = facts.antivirus.or_else(|| product_on("Antivirus"));
    facts.firewall = facts.firewall.or_else(|| product_on("Firewall"));
    if let Some(row) = rows("alf").first() {
        facts.firewall = number(row.get("global_state")).map(|state| state >= 1);
    }
    if let Some(row) = rows("software_update").first() {
        facts.pending_updates =
            number(row.get("software_update_required")).map(|required| u64::from(required > 0));
    }
    if let Some(row) = rows("mdm").first() {
        facts.mdm_enrolled = flag(row.get("enrolled"));
    }

    // The explicit table wins over what was inferred.
    if let Some(row) = rows("rampart_posture").first() {
        let explicit: PostureFacts = serde_json::from_value(Value::Object((*row).clone()))
            .map_err(|error| format!("rampart_posture[0]: {error}"))?;
        merge(&mut facts, explicit);
    }
    Ok(facts)
}

fn merge(facts: &mut PostureFacts, explicit: PostureFacts) {
    macro_rules! take {
        ($($field:ident),*) => { $( if explicit.$field.is_some() { facts.$field = explicit.$field; } )* };
    }
    take!(
        disk_encrypted,
        screen_lock_seconds,
        screen_lock_enabled,
        antivirus,
        firewall,
        automatic_updates,
        pending_updates,
        mdm_enrolled,
        os_name,
        os_version
    );
}

/// osquery prints integers as strings (`"1"`) and booleans as `"1"`/`"0"` or
/// `"true"`/`"false"` depending on the table; accept all of those.
fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => number.as_i64().map(|n| n != 0),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The baseline every workstation must meet; the default is the annex's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosturePolicy {
    #[serde(default = "yes")]
    pub require_disk_encryption: bool,
    /// The screen must lock after at most this many seconds of inactivity.
    #[serde(default = "default_screen_lock")]
    pub max_screen_lock_seconds: Option<u64>,
    #[serde(default = "yes")]
    pub require_antivirus: bool,
    #[serde(default = "yes")]
    pub require_firewall: bool,
    #[serde(default = "yes")]
    pub require_automatic_updates: bool,
    /// At most this many pending updates; `None` to not check.
    #[serde(default)]
    pub max_pending_updates: Option<u64>,
    #[serde(default = "yes")]
    pub require_mdm: bool,
    /// A device with no report for this many days fails every requirement.
    #[serde(default = "default_stale_days")]
    pub stale_after_days: u32,
}

fn yes() -> bool {
    true
}

fn default_screen_lock() -> Option<u64> {
    Some(900)
}

fn default_stale_days() -> u32 {
    7
}

impl Default for PosturePolicy {
    fn default() -> Self {
        Self {
            require_disk_encryption: true,
            max_screen_lock_seconds: default_screen_lock(),
            require_antivirus: true,
            require_firewall: true,
            require_automatic_updates: true,
            max_pending_updates: None,
            require_mdm: true,
            stale_after_days: default_stale_days(),
        }
    }
}

/// One requirement a device did not meet, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureFailure {
    pub requirement: &'static str,
    pub reason: String,
}

impl PosturePolicy {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=365).contains(&self.stale_after_days) {
            return Err(format!(
                "stale_after_days: between 1 and 365; got {}",
                self.stale_after_days
            ));
        }
        Ok(())
    }

    /// The requirements the facts fail; empty when the device is compliant. A stale report
    /// fails as a whole.
    pub fn evaluate(&self, facts: &PostureFacts, stale: bool) -> Vec<PostureFailure> {
        let mut failures = Vec::new();
        let mut fail = |requirement: &'static str, reason: String| {
            failures.push(PostureFailure { requirement, reason });
        };
        if stale {
            fail("fresh_report", format!("no report for more than {} days", self.stale_after_days));
            return failures;
        }
        let mut require = |required: bool, requirement: &'static str, fact: Option<bool>| {
            if required && fact != Some(true) {
                let reason = match fact {
                    None => "not reported".to_owned(),
                    Some(_) => "off".to_owned(),
                };
                fail(requirement, reason);
            }
        };
        require(self.require_disk_encryption, "disk_encryption", facts.disk_encrypted);
        require(self.require_antivirus, "antivirus", facts.antivirus);
        require(self.require_firewall, "firewall", facts.firewall);
        require(self.require_automatic_updates, "automatic_updates", facts.automatic_updates);
        require(self.require_mdm, "mdm_enrolment", facts.mdm_enrolled);
        if let Some(max) = self.max_screen_lock_seconds {
            match (facts.screen_lock_enabled, facts.screen_lock_seconds) {
                (Some(false), _) => fail("screen_lock", "automatic lock is off".into()),
                (_, Some(seconds)) if seconds > max => {
                    fail("screen_lock", format!("locks after {seconds} s; at most {max} s allowed"))
                }
                (_, Some(_)) => {}
                (_, None) => fail("screen_lock", "not reported".into()),
            }
        }
        if let Some(max) = self.max_pending_updates {
            match facts.pending_updates {
                Some(pending) if pending > max => {
                    fail("pending_updates", format!("{pending} pending; at most {max}"));
                }
                Some(_) => {}
                None => fail("pending_updates", "not reported".into()),
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compliant_mac() -> Value {
        json!({
            "disk_encryption": [{"name": "/dev/disk1s1", "encrypted": "1", "type": "APFS"}],
            "screenlock": [{"enabled": "1", "grace_period": "300"}],
            "os_version": [{"name": "macOS", "version": "15.1"}],
            "alf": [{"global_state": "1"}],
            "mdm": [{"enrolled": "true"}],
            "rampart_posture": [{"antivirus": true, "automatic_updates": true}],
        })
    }

    #[test]
    fn a_compliant_mac_passes_the_default_policy() {
        let facts = facts_of_report(&compliant_mac()).unwrap();
        assert_eq!(facts.disk_encrypted, Some(true));
        assert_eq!(facts.screen_lock_seconds, Some(300));
        assert_eq!(facts.firewall, Some(true));
        assert_eq!(facts.os_name.as_deref(), Some("macOS"));
        assert_eq!(PosturePolicy::default().evaluate(&facts, false), vec![]);
    }

    #[test]
    fn each_missing_control_fails_its_requirement() {
        let mut report = compliant_mac();
        report["disk_encryption"] =
            json!([{"name": "a", "encrypted": "1"}, {"name": "b", "encrypted": "0"}]);
        report["screenlock"] = json!([{"enabled": "1", "grace_period": "3600"}]);
        report.as_object_mut().unwrap().remove("mdm");
        let facts = facts_of_report(&report).unwrap();
        let failed: Vec<_> = PosturePolicy::default()
            .evaluate(&facts, false)
            .into_iter()
            .map(|failure| failure.requirement)
            .collect();
        assert_eq!(failed, ["disk_encryption", "mdm_enrolment", "screen_lock"]);
    }

    #[test]
    fn windows_security_center_and_bitlocker_are_read() {
        let report = json!({
            "bitlocker_info": [{"drive_letter": "C:", "protection_status": 1}],
            "windows_security_center": [{"firewall": "Good", "autoupdate": "Poor", "antivirus": "Good"}],
        });
        let facts = facts_of_report(&report).unwrap();
        assert_eq!(facts.disk_encrypted, Some(true));
        assert_eq!(facts.firewall, Some(true));
        assert_eq!(facts.antivirus, Some(true));
        assert_eq!(facts.automatic_updates, Some(false));
    }

    #[test]
    fn a_stale_report_fails_as_a_whole() {
        let facts = facts_of_report(&compliant_mac()).unwrap();
        let failures = PosturePolicy::default().evaluate(&facts, true);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].requirement, "fresh_report");
    }

    #[test]
    fn malformed_reports_name_what_is_wrong() {
        assert!(facts_of_report(&json!([])).unwrap_err().contains("object of tables"));
        assert_eq!(
            facts_of_report(&json!({"mdm": {}})).unwrap_err(),
            "mdm: must be an array of rows"
        );
        assert_eq!(facts_of_report(&json!({"mdm": [1]})).unwrap_err(), "mdm[0]: must be an object");
        assert!(
            facts_of_report(&json!({"rampart_posture": [{"antivirus": "maybe"}]}))
                .unwrap_err()
                .starts_with("rampart_posture[0]:")
        );
    }

    #[test]
    fn an_empty_report_proves_nothing() {
        let facts = facts_of_report(&json!({})).unwrap();
        let failures = PosturePolicy::default().evaluate(&facts, false);
        assert_eq!(failures.len(), 6, "{failures:?}");
        assert!(failures.iter().all(|failure| failure.reason == "not reported"));
    }
}

/// Devices are the assets of these kinds.
pub const DEVICE_KINDS: [&str; 2] = ["workstation", "mobile_device"];

/// A device's standing against the organisation's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevicePosture {
    pub asset_id: uuid::Uuid,
    pub name: String,
    pub owner_id: base::UserId,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reported_at: Option<time::OffsetDateTime>,
    pub n_reports: u64,
    pub facts: PostureFacts,
    pub compliant: bool,
    pub failures: Vec<PostureFailure>,
}

mod use_cases {
    use base::{OrganizationId, RequestContext, Resource};
    use serde_json::Value;
    use store::{AssetRepository as _, Lifecycle};
    use time::Duration;
    use uuid::Uuid;

    use super::{DEVICE_KINDS, DevicePosture, PostureFacts, PostureFailure, PosturePolicy};
    use crate::AuditTrail as _;
    use crate::{App, AppError, Principal};

    fn policy_of(stored: Option<String>) -> Result<PosturePolicy, AppError> {
        stored.map_or_else(
            || Ok(PosturePolicy::default()),
            |text| {
                serde_json::from_str(&text).map_err(|error| {
                    AppError::Internal(format!("stored posture policy does not parse: {error}"))
                })
            },
        )
    }

    impl App {
        /// Record a device's report (osquery-shaped JSON, see the module documentation) and
        /// return its standing. The caller needs `assets:posture:report`: a device's or a
        /// fleet's API key.
        pub async fn report_device_posture(
            &self,
            principal: &Principal,
            organization_id: OrganizationId,
            asset_id: Uuid,
            report: &Value,
            context: &RequestContext,
        ) -> Result<DevicePosture, AppError> {
            let facts = super::facts_of_report(report).map_err(AppError::InvalidInput)?;
            self.authorize_in(principal, organization_id, "assets:posture:report", context).await?;
            let now = self.clock.now();
            let mut transaction = self.store.begin().await?;
            let asset = transaction
                .get_asset(organization_id, asset_id)
                .await?
                .ok_or(AppError::NotFound("asset"))?;
            if !DEVICE_KINDS.contains(&asset.kind.as_str()) {
                return Err(AppError::InvalidInput(format!(
                    "asset {asset_id} is a {}; posture is reported for workstations and mobile \
                     devices",
                    asset.kind
                )));
            }
            if matches!(asset.lifecycle, Lifecycle::Retired | Lifecycle::Disposed) {
                return Err(AppError::Conflict(format!(
                    "asset {asset_id} is {}; it no longer reports",
                    asset.lifecycle.as_str()
                )));
            }
            let policy = policy_of(transaction.get_posture_policy(organization_id).await?)?;
            let facts_text = serde_json::to_string(&facts)
                .map_err(|error| AppError::Internal(error.to_string()))?;
            let n_reports =
                transaction.put_device_posture(asset_id, organization_id, now, &facts_text).await?;
            let failures = policy.evaluate(&facts, false);
            let mut event = self.success_event(
                principal,
                organization_id,
                "asset.posture.report",
                Resource::new("asset", asset_id),
                context,
            );
            event.details.insert("compliant".into(), failures.is_empty().into());
            let failed: Vec<&str> = failures.iter().map(|failure| failure.requirement).collect();
            event.details.insert("failed".into(), failed.into());
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
            Ok(DevicePosture {
                asset_id,
                name: asset.name,
                owner_id: asset.owner_id,
                reported_at: Some(now),
                n_reports,
                facts,
                compliant: failures.is_empty(),
                failures,
            })
        }

        pub async fn posture_policy(
            &self,
            principal: &Principal,
            organization_id: OrganizationId,
            context: &RequestContext,
        ) -> Result<PosturePolicy, AppError> {
            self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
            let mut read = self.store.read().await?;
            let policy = policy_of(read.get_posture_policy(organization_id).await?)?;
            read.commit().await?;
            Ok(policy)
        }

        pub async fn set_posture_policy(
            &self,
            principal: &Principal,
            organization_id: OrganizationId,
            policy: &PosturePolicy,
            context: &RequestContext,
        ) -> Result<PosturePolicy, AppError> {
            policy.validate().map_err(AppError::InvalidInput)?;
            self.authorize_in(principal, organization_id, "assets:assets:write", context).await?;
            let text = serde_json::to_string(policy)
                .map_err(|error| AppError::Internal(error.to_string()))?;
            let mut transaction = self.store.begin().await?;
            transaction.put_posture_policy(organization_id, &text, self.clock.now()).await?;
            let mut event = self.success_event(
                principal,
                organization_id,
                "asset.posture_policy.update",
                Resource::new("posture_policy", organization_id),
                context,
            );
            if let Ok(Value::Object(fields)) = serde_json::to_value(policy) {
                event.details.insert("policy".into(), Value::Object(fields));
            }
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
            Ok(policy.clone())
        }

        /// Every device in service or in maintenance against the policy; a device that never
        /// reported, or not within the policy's `stale_after_days`, fails.
        pub async fn device_posture(
            &self,
            principal: &Principal,
            organization_id: OrganizationId,
            context: &RequestContext,
        ) -> Result<Vec<DevicePosture>, AppError> {
            self.authorize_in(principal, organization_id, "assets:assets:read", context).await?;
            let now = self.clock.now();
            let mut read = self.store.read().await?;
            let policy = policy_of(read.get_posture_policy(organization_id).await?)?;
            let assets = read.list_assets(organization_id).await?;
            let mut reports: std::collections::HashMap<Uuid, store::DevicePostureRecord> = read
                .list_device_posture(organization_id)
                .await?
                .into_iter()
                .map(|record| (record.asset_id, record))
                .collect();
            read.commit().await?;
            let stale_after = Duration::days(i64::from(policy.stale_after_days));
            Ok(assets
                .into_iter()
                .filter(|asset| DEVICE_KINDS.contains(&asset.kind.as_str()))
                .filter(|asset| {
                    matches!(asset.lifecycle, Lifecycle::InService | Lifecycle::Maintenance)
                })
                .map(|asset| {
                    let report = reports.remove(&asset.id);
                    let (facts, failures, reported_at, n_reports) = match report {
                        Some(report) => {
                            let facts: PostureFacts =
                                serde_json::from_str(&report.facts).unwrap_or_default();
                            let stale = now - report.reported_at > stale_after;
                            let failures = policy.evaluate(&facts, stale);
                            (facts, failures, Some(report.reported_at), report.n_reports)
                        }
                        None => (
                            PostureFacts::default(),
                            vec![PostureFailure {
                                requirement: "fresh_report",
                                reason: "never reported".into(),
                            }],
                            None,
                            0,
                        ),
                    };
                    DevicePosture {
                        asset_id: asset.id,
                        name: asset.name,
                        owner_id: asset.owner_id,
                        reported_at,
                        n_reports,
                        compliant: failures.is_empty(),
                        facts,
                        failures,
                    }
                })
                .collect())
        }
    }
}
