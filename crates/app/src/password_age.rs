//! Password changes and an organisation's optional maximum password age.
//!
//! NIST SP 800-63B advises against forcing periodic changes, so no organisation has a maximum
//! by default; it exists because the annex asks it for staff. A password older than its
//! organisation's maximum no longer signs in: the login is refused with what to do (set a new
//! one through the emailed reset link), after the password was verified, so the refusal
//! reveals nothing to someone who does not know it.

use base::{OrganizationId, RequestContext, Resource};
use store::{
    OrganizationRepository as _, PasswordPolicyRepository as _, SessionRepository as _,
    SignInFacts, UserRecord, UserRepository as _,
};
use time::{Duration, OffsetDateTime};

use crate::AuditTrail as _;
use crate::{App, AppError, Principal};

/// The longest maximum age an organisation may set, days.
pub const MAX_PASSWORD_AGE_DAYS: u32 = 3650;

impl App {
    /// The organisation's maximum password age in days; none when it sets none.
    pub async fn password_max_age(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Option<u32>, AppError> {
        self.authorize_in(principal, organization_id, "organizations:organization:read", context)
            .await?;
        let mut read = self.store.read().await?;
        let days = read.password_max_age_days(organization_id).await?;
        read.commit().await?;
        Ok(days)
    }

    /// Set (or with `None`, remove) the organisation's maximum password age: owners only,
    /// with a recent authentication; a privileged audit event.
    pub async fn set_password_max_age(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        max_age_days: Option<u32>,
        context: &RequestContext,
    ) -> Result<Option<u32>, AppError> {
        if max_age_days.is_some_and(|days| !(1..=MAX_PASSWORD_AGE_DAYS).contains(&days)) {
            return Err(AppError::InvalidInput(format!(
                "max_age_days: between 1 and {MAX_PASSWORD_AGE_DAYS}, or null for no maximum"
            )));
        }
        self.authorize_in(principal, organization_id, "organizations:settings:write", context)
            .await?;
        self.require_recent_authentication(principal).await?;
        let mut transaction = self.store.begin().await?;
        transaction
            .set_password_max_age_days(organization_id, max_age_days, self.clock.now())
            .await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "organization.password_policy.update",
            Resource::new("organization", organization_id),
            context,
        );
        event.privileged = true;
        event.details.insert("max_age_days".into(), max_age_days.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(max_age_days)
    }

    /// Change the signed-in account's password: a session (not an API key) with a recent
    /// authentication, the current password, and a new one the policy accepts. The account's
    /// other sessions end; this one stays.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let Some(session) = &principal.session else {
            return Err(AppError::InvalidInput(
                "a password is changed from a session, not with an API key".into(),
            ));
        };
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        let phc = user.password_hash.clone().ok_or_else(|| {
            AppError::Conflict(
                "this account signs in with passkeys only: it has no password".into(),
            )
        })?;
        if current.chars().count() > 1024 || !self.passwords.verify(current, &phc).await? {
            return Err(AppError::InvalidInput("current_password: it is not the password".into()));
        }
        let mut read = self.store.read_latest().await?;
        let organization = read.get_organization(user.organization_id).await?;
        read.commit().await?;
        let organisation = organization.as_ref().map(|organization| organization.name.as_str());
        let mfa_enforced =
            organization.as_ref().is_some_and(|organization| organization.mfa_required);
        let name = (!user.display_name.is_empty()).then_some(user.display_name.as_str());
        self.check_password_choice(new, &user.email, name, organisation, mfa_enforced)
            .await
            .map_err(|error| match error {
                AppError::InvalidInput(message) => {
                    AppError::InvalidInput(format!("new_password: {message}"))
                }
                other => other,
            })?;
        let password_hash = self.passwords.hash(new).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        transaction.set_user_password(user.id, &password_hash).await?;
        transaction.record_password_change(user.id, now).await?;
        let n_sessions = transaction.end_other_user_sessions(user.id, session.id, now).await?;
        let mut event = self.success_event(
            principal,
            user.organization_id,
            "auth.password.change",
            Resource::new("user", user.id),
            context,
        );
        event.privileged = true;
        event.details.insert("sessions_ended".into(), n_sessions.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_user(user.id);
        Ok(())
    }
}

/// Whether the account's password is older than its organisation allows at `now`. An account
/// whose change was never recorded counts from its creation.
pub(crate) fn password_expired(
    user: &UserRecord,
    facts: &SignInFacts,
    now: OffsetDateTime,
) -> bool {
    let Some(days) = facts.password_max_age_days else { return false };
    let changed_at = facts.password_changed_at.unwrap_or(user.created_at);
    now - changed_at >= Duration::days(i64::from(days))
}
