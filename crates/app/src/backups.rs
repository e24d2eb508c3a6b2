//! Restore tests of Rampart's own backups, kept as evidence.
//!
//! `rampart backup restore --test` restores a backup into a scratch database, checks it, and
//! calls [`App::record_restore_test`]: the result becomes an audit event in the provider's log
//! and, when a business-continuity record is named, a dated restore test on that record (what
//! the evidence check "a restore test within 180 days" reads).

use base::{Actor, Outcome, Resource};
use store::{ComplianceRepository as _, OrganizationRepository as _};
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::compliance::{ContinuityDocument, RestoreOutcome, RestoreTest};
use crate::{App, AppError};

/// Restore tests kept on one continuity record; the oldest give way.
const MAX_RESTORE_TESTS: usize = 100;

/// What a restore test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreTestReport {
    /// The SHA-256 of the backup file (hex).
    pub backup_sha256: String,
    /// When the backup was taken (RFC 3339, from its manifest).
    pub backup_created_at: String,
    pub tables: usize,
    pub rows: u64,
    /// Why the test failed; empty when it passed.
    pub failures: Vec<String>,
    pub duration_ms: u64,
}

impl RestoreTestReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    fn notes(&self) -> String {
        let verdict = if self.passed() {
            "every table's row count matched and every audit log verified".to_owned()
        } else {
            format!("failed: {}", self.failures.join("; "))
        };
        format!(
            "rampart backup restore --test: backup {} taken {}, {} tables, {} rows restored in \
             {} ms; {verdict}",
            &self.backup_sha256[..self.backup_sha256.len().min(16)],
            self.backup_created_at,
            self.tables,
            self.rows,
            self.duration_ms,
        )
    }
}

impl App {
    /// Record a restore test run by the operator's command line (a system action, in the
    /// provider organisation's log), on `continuity_record` when one is named.
    pub async fn record_restore_test(
        &self,
        report: &RestoreTestReport,
        continuity_record: Option<Uuid>,
    ) -> Result<(), AppError> {
        let mut transaction = self.store.begin().await?;
        let provider = transaction
            .provider_organization()
            .await?
            .ok_or(AppError::NotFound("provider organization"))?
            .id;
        let resource = match continuity_record {
            Some(id) => Resource::new("compliance_record", id),
            None => Resource::new("backup", &report.backup_sha256),
        };
        let mut event = self.event(&Actor::System, provider, "continuity.restore_test", resource);
        if !report.passed() {
            event.outcome = Outcome::Failed { reason: "restore_test_failed".into() };
        }
        let details = &mut event.details;
        details.insert("backup_sha256".into(), report.backup_sha256.clone().into());
        details.insert("backup_created_at".into(), report.backup_created_at.clone().into());
        details.insert("tables".into(), report.tables.into());
        details.insert("rows".into(), report.rows.into());
        details.insert("duration_ms".into(), report.duration_ms.into());
        details.insert("failures".into(), report.failures.clone().into());

        if let Some(id) = continuity_record {
            let mut record = transaction
                .get_compliance_record(provider, id)
                .await?
                .filter(|record| record.register == "continuity")
                .ok_or(AppError::NotFound("business continuity record"))?;
            let mut document: ContinuityDocument =
                serde_json::from_str(&record.document).map_err(|error| {
                    AppError::Internal(format!("continuity record {id} does not parse: {error}"))
                })?;
            if document.restore_tests.len() >= MAX_RESTORE_TESTS {
                document.restore_tests.remove(0);
            }
            document.restore_tests.push(RestoreTest {
                tested_on: self.today(),
                result: if report.passed() {
                    RestoreOutcome::Passed
                } else {
                    RestoreOutcome::Failed
                },
                notes: report.notes(),
            });
            record.document = serde_json::to_string(&document)
                .map_err(|error| AppError::Internal(error.to_string()))?;
            record.updated_at = self.clock.now();
            transaction.update_compliance_record(&record).await?;
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }
}
