//! The `security.txt` file (RFC 9116) the deployment publishes, and its expiry.
//!
//! The binary builds the record from configuration and refuses to start when it has problems
//! (`detect::intake::security_txt` checks it). Once running, [`App::security_txt_status`]
//! says whether it is valid, expiring (30 days or less left) or expired, for compliance
//! checks; [`App::check_security_txt_expiry`] warns once, in the log and the provider's audit
//! trail, when it enters the last 30 days.

use std::sync::atomic::{AtomicBool, Ordering};

use base::{Actor, Resource};
use detect::intake::security_txt::SecurityTxt;
use store::OrganizationRepository as _;
use time::{Duration, OffsetDateTime};

use crate::audit_trail::AuditTrail as _;
use crate::{App, AppError};

/// How long before expiry the file counts as expiring.
pub const SECURITY_TXT_WARNING: Duration = Duration::days(30);

/// The published file and whether its expiry warning was given.
#[derive(Debug, Default)]
pub(crate) struct PublishedSecurityTxt {
    pub(crate) record: Option<SecurityTxt>,
    pub(crate) warned: AtomicBool,
}

/// Where the published file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityTxtState {
    /// None configured: nothing is served.
    NotConfigured,
    Valid,
    /// 30 days or less before `Expires`.
    Expiring,
    Expired,
}

impl SecurityTxtState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Valid => "valid",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
        }
    }
}

/// The published file's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTxtStatus {
    pub state: SecurityTxtState,
    pub expires: Option<OffsetDateTime>,
}

impl App {
    /// Publish this `security.txt`. The caller has checked it (the binary refuses to start
    /// with problems).
    pub fn with_security_txt(mut self, record: SecurityTxt) -> Self {
        self.security_txt = std::sync::Arc::new(PublishedSecurityTxt {
            record: Some(record),
            warned: AtomicBool::new(false),
        });
        self
    }

    /// The file to serve, while it has not expired.
    pub fn security_txt(&self) -> Option<String> {
        let record = self.security_txt.record.as_ref()?;
        (record.expires > self.clock.now()).then(|| record.render())
    }

    /// Whether the published file is valid, expiring or expired, and when it expires.
    pub fn security_txt_status(&self) -> SecurityTxtStatus {
        let Some(record) = &self.security_txt.record else {
            return SecurityTxtStatus { state: SecurityTxtState::NotConfigured, expires: None };
        };
        let now = self.clock.now();
        let state = if record.expires <= now {
            SecurityTxtState::Expired
        } else if record.expires - now <= SECURITY_TXT_WARNING {
            SecurityTxtState::Expiring
        } else {
            SecurityTxtState::Valid
        };
        SecurityTxtStatus { state, expires: Some(record.expires) }
    }

    /// Warn once when the file is expiring or expired: a log line and an audit event on the
    /// provider organisation. True when the warning was given by this call.
    pub async fn check_security_txt_expiry(&self) -> Result<bool, AppError> {
        let status = self.security_txt_status();
        if !matches!(status.state, SecurityTxtState::Expiring | SecurityTxtState::Expired)
            || self.security_txt.warned.swap(true, Ordering::SeqCst)
        {
            return Ok(false);
        }
        let recorded = self.record_security_txt_warning(&status).await;
        if recorded.is_err() {
            // Try again on the next check.
            self.security_txt.warned.store(false, Ordering::SeqCst);
        }
        recorded?;
        tracing::warn!(state = status.state.as_str(), expires = ?status.expires,
            "security.txt expires soon: renew its Expires field in the configuration");
        Ok(true)
    }

    async fn record_security_txt_warning(
        &self,
        status: &SecurityTxtStatus,
    ) -> Result<(), AppError> {
        let mut transaction = self.store.begin().await?;
        let provider = transaction
            .provider_organization()
            .await?
            .ok_or(AppError::NotFound("provider organization"))?;
        let mut event = self.event(
            &Actor::System,
            provider.id,
            "incident.security_txt.expiring",
            Resource::kind_only("security_txt"),
        );
        event.details.insert("state".into(), status.state.as_str().into());
        if let Some(expires) = status.expires {
            event.details.insert("expires".into(), expires.unix_timestamp().into());
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }
}
