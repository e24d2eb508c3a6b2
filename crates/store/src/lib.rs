//! Rampart's storage. Only this crate contains SQL.
//!
//! One [`Store`] serves either the embedded SQLite database (the default) or PostgreSQL. Work is
//! done inside a [`Transaction`]; each aggregate has one repository trait implemented on it,
//! with one implementation per backend (`sqlite/`, `postgres/`). A transaction that changed
//! state refuses to commit unless it also recorded an audit event: the invariant "nothing
//! changes unlogged" is enforced here, not left to each caller's memory.
//!
//! A bound `LIMIT` is written `LIMIT CAST($n AS BIGINT)`. When the limit is a bare parameter,
//! SQLite reads its value while planning, so it prepares the statement again every time the
//! value is bound, which is every execution: a cached statement cost as much as a new one.

mod access_reviews;
mod api_keys;
mod assets;
mod audit_log;
mod authorization;
mod backup;
mod compliance;
mod compliance_evidence;
mod detection;
mod error;
mod events;
mod factors;
mod guests;
mod incidents;
mod information_protection;
mod invitations;
mod notifications;
mod organizations;
mod passkeys;
mod password_policies;
mod principals;
mod projects;
mod pseudonyms;
mod records;
mod sessions;
mod store;
mod tile_reader;
mod transaction;
mod users;
mod vulnerabilities;

pub use access_reviews::{
    AccessReviewRepository, CampaignCounts, CampaignOrigin, ItemDecisionRecord,
    ReviewCampaignRecord, ReviewDecision, ReviewItemRecord, ReviewScheduleRecord, ReviewScope,
};
pub use api_keys::ApiKeyRepository;
pub use assets::{
    AssetRecord, AssetRepository, Criticality, DevicePostureRecord, DisposalMethod, DisposalRecord,
    Lifecycle,
};
pub use audit_log::{
    AuditEntryRow, AuditFilter, AuditLogRepository, CheckpointRow, NodeKey, SigningKeyRow, TileKey,
};
pub use authorization::{
    AuthorizationRepository, AuthorizationSettings, CustomActionRecord, PermissionSetRecord,
    PolicyHolder, PolicyRecord, RawPolicyRecord,
};
pub use backup::{RowCounts, TableFrame};
pub use compliance::{ComplianceRecord, ComplianceRepository, EvidenceResultRecord};
pub use compliance_evidence::{
    ComplianceEvidenceRepository, ManualEvidenceRecord, PolicyAcknowledgementRecord,
};
pub use detection::{
    AlertCount, AlertRecord, AlertResolution, AlertState, DetectionRepository, OpenAlert,
    OpenAlertsWanted,
};
pub use error::StoreError;
pub use events::{EventRepository, EventWindow, NewEvent, StoredEvent};
pub use factors::FactorRepository;
pub use guests::{GuestInvitationRecord, GuestMembershipRecord, GuestRepository};
pub use incidents::{
    DeliveryRecord, IncidentRecord, IncidentRepository, PublicReportRecord, TimelineRecord,
};
pub use information_protection::{
    ClassificationSchemeRecord, DataCategoryRecord, InformationProtectionRepository,
    LegalHoldRecord, RetentionRuleRecord, RetentionRunRecord, RetentionTarget, RetentionTrigger,
};
pub use invitations::{InvitationRepository, PasswordResetRepository, ThrottleRepository};
pub use notifications::{
    NotificationChannelRecord, NotificationRepository, QueuedNotificationRecord,
};
pub use organizations::OrganizationRepository;
pub use passkeys::{CeremonyPurpose, CeremonyRecord, PasskeyRecord, PasskeyRepository};
pub use password_policies::PasswordPolicyRepository;
pub use principals::PrincipalRepository;
pub use projects::ProjectRepository;
pub use pseudonyms::{PseudonymDomainRecord, PseudonymKeyRecord, PseudonymRepository};
pub use records::{
    ApiKeyRecord, ApplicationRecord, AuthenticatedHolder, AuthenticatedKey, AuthenticatedSession,
    GroupMember, GroupRecord, InvitationRecord, KeyHolder, PasswordSignIn, SessionRecord,
    SignInFacts, StoredThrottle, TotpRecord, UserRecord, UserRole, UserStatus,
};
pub use sessions::SessionRepository;
pub use store::{Backend, PoolStatus, Store, StoreOptions};
pub use tile_reader::SqliteTileReader;
pub use transaction::Transaction;
pub use users::UserRepository;
pub use vulnerabilities::{
    AdvisorySourceRecord, ComponentRecord, FindingRecord, SlaRecord, VulnerabilityRepository,
};

#[cfg(test)]
mod conventions {
    /// No statement binds a bare `LIMIT` (see the crate documentation).
    #[test]
    fn no_limit_is_a_bare_parameter() {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        for entry in std::fs::read_dir(source).unwrap() {
            let path = entry.unwrap().path();
            // Whitespace collapsed, so that a limit bound on the next line is seen too.
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            // Spelt in parts so that this file does not match itself.
            for pattern in [concat!("LIMIT ", "$"), concat!("LIMIT ", "\")")] {
                assert!(!text.contains(pattern), "{}: a bare {pattern}", path.display());
            }
            checked += 1;
        }
        assert!(checked > 20, "only {checked} files read");
    }
}
