//! Rampart's use cases. Each public method of [`App`] is one use case: it authorises the
//! principal, runs one store transaction holding the state change and its audit event, and
//! returns domain values. Nothing here knows HTTP, reads the environment or the wall clock.

mod access_reviews;
mod api_keys;
mod assets;
mod audit_keys;
mod audit_log;
mod audit_tile_cache;
mod audit_trail;
mod authorization;
mod backups;
mod bootstrap;
mod classification;
mod compliance;
mod compliance_evidence;
mod compliance_live;
mod credential_cache;
mod detection;
mod error;
mod event_intake;
mod factors;
mod fresh_events;
mod guests;
mod incidents;
mod mailer;
mod notifications;
mod organizations;
mod passkeys;
mod password_age;
mod passwords;
mod policies;
mod posture;
mod principal;
mod principals;
mod privacy_service;
mod projects;
mod public_reports;
mod records_of_processing;
mod retention;
mod rule_directory;
mod secrets;
mod security_txt;
mod sessions;
mod signup;
mod syslog_intake;
mod throttling;
mod users;
mod vulnerabilities;

use std::sync::Arc;

use base::Clock;
use store::Store;

pub use access_reviews::{
    AccessReviewSummary, CampaignSummary, CampaignView, DEFAULT_DUE_IN_DAYS,
    DEFAULT_UNUSED_AFTER_DAYS, DecisionInput, GuestMark, ItemDecision, ItemState, ItemView,
    ScheduleView, StartReview,
};
pub use api_keys::{ApiKeyRequest, IssuedApiKey};
pub use assets::{
    ASSET_KINDS, AssetFilter, AssetInput, AssetView, CSV_COLUMNS, DisposalInput, ImportReport,
    LineError, Relation,
};
pub use audit_keys::MasterKey;
pub use audit_log::{AuditExport, AuditPage, IntegrityFailure};
pub use audit_trail::{AuditTrail, fetch_nodes as fetch_audit_nodes, move_audit_nodes_to_tiles};
pub use backups::RestoreTestReport;
pub use bootstrap::{Bootstrap, Initialization, InitializeRequest, SetupCompleted};
pub use classification::{
    EXPORT_KINDS, ExportMarking, LevelInput, MAX_CLASSIFICATION_LEVELS, OrganizationScheme,
    SchemeInput, register_export_kind,
};
pub use compliance::{
    AnnexFormat, ChangesFormat, RISK_MATRIX_SIZE, RecordInput, RecordView, RegisterKind,
    RenderedAnnex,
};
pub use compliance_evidence::{
    EvidenceFile, EvidenceInput, MAX_EVIDENCE_BYTES, ManualEvidenceView, PolicyAcknowledgement,
    PolicyAcknowledgements, RiskAssessment, RiskLevel, RiskMatrix, RiskRating, RiskThresholds,
    TrustFormat,
};
pub use detect::incident::{Sev as IncidentSeverity, Status as IncidentStatus};
pub use detect::intake::security_txt::SecurityTxt;
pub use detection::{
    AlertClose, DetectionPass, MAX_ALERTS_PER_PAGE, RuleNoiseView, RulesView, run_detection_every,
};
pub use error::AppError;
pub use event_intake::{
    EventDetectionPass, EventPage, EventSearch, EventView, IngestReport, IntakeSettings,
    IntakeSource, MAX_EVENT_MATCHES, MAX_EVENTS_PER_PAGE, MAX_EVENTS_SCANNED,
    run_event_detection_every,
};
pub use factors::TotpEnrolment;
pub use guests::{Belonging, GuestView, MyOrganization};
pub use incidents::{
    AlertLink, Article33Record, Article34Record, ClockView, CustomerNotification, IncidentDocument,
    IncidentPatch, IncidentTask, IncidentView, MAX_INCIDENT_ITEMS, MAX_INCIDENT_TEXT,
    MAX_INCIDENT_TITLE, MAX_INCIDENTS_PER_PAGE, NewIncident, ReviewActionRecord, ReviewRecord,
    TaskInput, TaskPatch, TimelineEntry, parse_severity, parse_status,
};
pub use mailer::{Email, MailFuture, Mailer, MemoryMailer};
pub use notifications::{
    CreatedNotificationChannel, MAX_CHANNEL_NAME, MAX_CHANNEL_RECIPIENTS, MAX_DELIVERIES_PER_PAGE,
    MAX_NOTIFICATION_CHANNELS, MAX_WEBHOOK_URL, MemoryWebhookTransport, NotificationChannelInput,
    NotificationChannelPatch, NotificationChannelView, NotificationPass, NotificationSettings,
    WebhookFuture, WebhookRequest, WebhookTransport, run_notifications_every, webhook_signature,
};
pub use organizations::Page;
pub use passkeys::{MAX_PASSKEY_NAME_CHARS, PasskeyChallenge, PasskeyView, RelyingParty};
pub use password_age::MAX_PASSWORD_AGE_DAYS;
pub use passwords::{PasswordHasher, Peppers, check_new_password};
pub use policies::{
    AccessQuestion, AuthorizationView, MAX_CHECKS_PER_REQUEST, PolicyInput, QuestionContext,
    policy_principal,
};
pub use posture::{DEVICE_KINDS, DevicePosture, PostureFacts, PostureFailure, PosturePolicy};
pub use principal::{Principal, SessionFacts, Subject};
pub use principals::{member_text, parse_member};
pub use privacy_service::{
    Ff1Format, MAX_COLUMN_SAMPLES, MAX_PII_SCAN_BYTES, MAX_PSEUDONYM_BATCH,
    MAX_PSEUDONYM_VALUE_BYTES, PseudonymDomainView, PseudonymMethod, Pseudonymized,
    check_domain_name,
};
pub use public_reports::{
    MAX_REPORT_BODY_BYTES, MAX_REPORT_CONTACT_BYTES, MAX_REPORT_SUBJECT_BYTES,
    MAX_REPORTS_PER_PAGE, OversizedField, ReportInput, ReportLimits, ReportReceipt, ReportStatus,
    oversized_report_field,
};
pub use records_of_processing::{
    DataCategoryInput, LegalBasis, MAX_DATA_CATEGORIES, ProcessingDocument, Transfer,
    TransferSafeguard, check_category_path,
};
pub use retention::{
    MAX_RETENTION_DAYS, MAX_RETENTION_RULES, MAX_RETENTION_RUNS, RETENTION_ACTIONS,
    RetentionRuleInput, RetentionRunView, RuleOutcome,
};
pub use rule_directory::{RuleDirectory, watch_rules_directory};
pub use security_txt::{SECURITY_TXT_WARNING, SecurityTxtState, SecurityTxtStatus};
pub use sessions::{LoginOutcome, NewSession, SecondFactor, SessionPolicy, csrf_token_for};
pub use syslog_intake::{FramingError, SyslogListener, SyslogSettings, SyslogStats, next_frame};
pub use vulnerabilities::{
    AdvisoryImport, DEFAULT_SLA, FINDING_STATES, FindingFilter, FindingView, RematchCounts,
    SbomImport, SbomProblem, StateChange, TrendPoint, VEX_JUSTIFICATIONS,
};

/// The application: the store, the clock and the shared services use cases need.
#[derive(Clone)]
pub struct App {
    store: Store,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    credentials: Arc<credential_cache::CredentialCache>,
    audit: Arc<audit_log::AuditState>,
    identity: Arc<IdentityState>,
    /// The WebAuthn relying party; `None` when passkeys are not enabled.
    passkeys: Option<Arc<passkeys::RelyingParty>>,
    authorization: Arc<authorization::AuthorizationCache>,
    vulnerabilities: Arc<vulnerabilities::VulnerabilityState>,
    detection: Arc<detection::DetectionState>,
    reports: Arc<public_reports::ReportThrottle>,
    security_txt: Arc<security_txt::PublishedSecurityTxt>,
    intake: Arc<event_intake::IntakeState>,
    rule_reload: Arc<rule_directory::ReloadState>,
    notifications: Arc<notifications::NotificationState>,
}

/// Identity settings and the values computed once for them.
struct IdentityState {
    policy: SessionPolicy,
    mailer: Arc<dyn Mailer>,
    /// Where links in emails point (the console or API base URL).
    public_url: String,
    dummy_hash: tokio::sync::OnceCell<String>,
    ip_buckets: throttling::IpBuckets,
    signup_open: bool,
    signup_buckets:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, iam::throttle::IpBucket>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl App {
    /// An application with no credential cache: every request checks its key in the store.
    pub fn new(store: Store, clock: Arc<dyn Clock>, passwords: PasswordHasher) -> Self {
        let credentials = Arc::new(credential_cache::CredentialCache::new(time::Duration::ZERO));
        let audit = Arc::new(audit_log::AuditState::new("rampart", MasterKey::generate(), &store));
        let identity = Arc::new(IdentityState {
            policy: SessionPolicy::default(),
            mailer: Arc::new(MemoryMailer::default()),
            public_url: "http://127.0.0.1:8080".to_owned(),
            dummy_hash: tokio::sync::OnceCell::new(),
            ip_buckets: throttling::IpBuckets::default(),
            signup_open: false,
            signup_buckets: std::sync::Mutex::default(),
        });
        let authorization = Arc::default();
        let vulnerabilities = Arc::default();
        let detection = Arc::new(detection::DetectionState::new(detect::RuleSet::builtin()));
        let intake = Arc::new(event_intake::IntakeState::new(IntakeSettings::default()));
        Self {
            store,
            clock,
            passwords,
            credentials,
            audit,
            identity,
            passkeys: None,
            authorization,
            vulnerabilities,
            detection,
            reports: Arc::default(),
            security_txt: Arc::default(),
            intake,
            rule_reload: Arc::default(),
            notifications: Arc::default(),
        }
    }

    /// Session lifetimes, where mail goes, the base URL of links in it, and whether anyone
    /// may sign a customer organisation up (closed by default).
    pub fn with_identity(
        mut self,
        policy: SessionPolicy,
        mailer: Arc<dyn Mailer>,
        public_url: &str,
        signup_open: bool,
    ) -> Self {
        self.identity = Arc::new(IdentityState {
            policy,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            dummy_hash: tokio::sync::OnceCell::new(),
            ip_buckets: throttling::IpBuckets::default(),
            signup_open,
            signup_buckets: std::sync::Mutex::default(),
        });
        // Passkeys follow the public URL unless configured (`with_passkeys`); a URL without
        // a domain name (an IP address) leaves them off.
        self.passkeys =
            passkeys::RelyingParty::configure(public_url, None, &[]).ok().flatten().map(Arc::new);
        self
    }

    /// Name the deployment (the checkpoint signer, and the prefix of every log's origin) and
    /// give the master key that seals its signing keys.
    pub fn with_audit_signing(mut self, deployment_name: &str, master_key: MasterKey) -> Self {
        self.audit = Arc::new(audit_log::AuditState::new(deployment_name, master_key, &self.store));
        self
    }

    /// Cache verified API keys and sessions, and the organisations requests check against, for
    /// `ttl` (zero disables the caches). A change made on this node is seen at once; on other
    /// replicas within `ttl`.
    pub fn with_api_key_cache(mut self, ttl: std::time::Duration) -> Self {
        let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::ZERO);
        self.credentials = Arc::new(credential_cache::CredentialCache::new(ttl));
        self.authorization = Arc::new(authorization::AuthorizationCache::with_max_age(ttl));
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

impl App {
    /// An audit event stamped now, with success outcome and no request context; use cases
    /// fill in the rest.
    pub(crate) fn event(
        &self,
        actor: &base::Actor,
        organization_id: base::OrganizationId,
        action: &str,
        resource: base::Resource,
    ) -> base::AuditEvent {
        base::AuditEvent {
            organization_id,
            time: self.clock.now(),
            actor: actor.clone(),
            action: action.to_owned(),
            resource,
            outcome: base::Outcome::Success,
            context: base::RequestContext::default(),
            privileged: false,
            details: serde_json::Map::new(),
        }
    }
}
