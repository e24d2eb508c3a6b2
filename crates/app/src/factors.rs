//! Second factors: TOTP (seed sealed with the master key, each code accepted once) and
//! recovery codes (hashed, single use). Enrolling, removing and regenerating need a recent
//! authentication.

use base::{RequestContext, UserId};
use iam::recovery::StoredRecoveryCode;
use iam::totp::{Totp, TotpConfig, TotpSecret};
use store::{FactorRepository, SessionRepository, TotpRecord, UserRecord};

use crate::AuditTrail as _;
use crate::sessions::SecondFactor;
use crate::{App, AppError, Principal};

/// What an authenticator app needs to enrol.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub otpauth_uri: String,
    pub qr_svg: String,
}

const TOTP_ISSUER: &str = "Rampart";

fn unix_seconds(at: time::OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp()).unwrap_or(0)
}

fn associated(user_id: UserId) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

impl App {
    pub(crate) async fn has_confirmed_totp(&self, user_id: UserId) -> Result<bool, AppError> {
        let mut read = self.store.read_latest().await?;
        let totp = read.get_totp(user_id).await?;
        read.commit().await?;
        Ok(totp.is_some_and(|totp| totp.confirmed_at.is_some()))
    }

    fn totp_of(&self, record: &TotpRecord) -> Result<Totp, AppError> {
        let seed = self.audit.master_key.open(&record.sealed_seed, &associated(record.user_id))?;
        let secret = TotpSecret::from_bytes(seed)
            .map_err(|error| AppError::Internal(format!("totp seed: {error}")))?;
        Totp::new(secret, TotpConfig::default())
            .map_err(|error| AppError::Internal(format!("totp: {error}")))
    }

    /// Start enrolling an authenticator app; confirm with a first code.
    pub async fn enrol_totp(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<TotpEnrolment, AppError> {
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        if self.has_confirmed_totp(user.id).await? {
            return Err(AppError::Conflict(
                "an authenticator app is already enrolled; remove it first".into(),
            ));
        }
        let totp = Totp::generate(&mut rand::rngs::OsRng);
        let enrolment = TotpEnrolment {
            otpauth_uri: totp
                .provisioning_uri(TOTP_ISSUER, &user.email)
                .map_err(|error| AppError::InvalidInput(error.to_string()))?,
            qr_svg: totp
                .qr_svg(TOTP_ISSUER, &user.email)
                .map_err(|error| AppError::Internal(error.to_string()))?,
        };
        let record = TotpRecord {
            user_id: user.id,
            sealed_seed: self
                .audit
                .master_key
                .seal(totp.secret().as_bytes(), &associated(user.id))?,
            created_at: self.clock.now(),
            confirmed_at: None,
            last_step: None,
        };
        let mut transaction = self.store.begin().await?;
        transaction.put_pending_totp(&record).await?;
        let event = self.user_event(&user, "auth.mfa.totp.enrol", context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(enrolment)
    }

    /// Confirm the enrolment with a code from the app; returns the 10 recovery codes, shown
    /// this once.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        context: &RequestContext,
    ) -> Result<Vec<String>, AppError> {
        let user = self.active_user(principal.user_id()?).await?;
        let mut transaction = self.store.begin().await?;
        let record = transaction
            .get_totp(user.id)
            .await?
            .filter(|record| record.confirmed_at.is_none())
            .ok_or(AppError::NotFound("pending authenticator enrolment"))?;
        let now = self.clock.now();
        let step = self
            .totp_of(&record)?
            .verify(code, unix_seconds(now), None)
            .map_err(|error| AppError::InvalidInput(format!("authenticator code: {error}")))?;
        transaction.confirm_totp(user.id, now, step).await?;
        if let Some(session) = &principal.session {
            // Proving the new factor counts as a fresh MFA, and lifts a mandatory-MFA restriction.
            transaction.unrestrict_session(session.id, now).await?;
        }
        let shown = self.store_new_recovery_codes(&mut transaction, user.id).await?;
        let mut event = self.user_event(&user, "auth.mfa.totp.confirm", context);
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        if let Some(session) = &principal.session {
            self.credentials.evict_session(session.id);
        }
        Ok(shown)
    }

    /// Remove the authenticator app and the recovery codes.
    pub async fn remove_totp(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        let mut transaction = self.store.begin().await?;
        transaction.delete_totp(user.id).await?;
        transaction.replace_recovery_codes(user.id, &[]).await?;
        let mut event = self.user_event(&user, "auth.mfa.remove", context);
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Replace the recovery codes; the new ones are shown this once.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<Vec<String>, AppError> {
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        if !self.has_confirmed_totp(user.id).await? {
            return Err(AppError::Conflict("enrol an authenticator app first".into()));
        }
        let mut transaction = self.store.begin().await?;
        let shown = self.store_new_recovery_codes(&mut transaction, user.id).await?;
        let event = self.user_event(&user, "auth.mfa.recovery_codes.regenerate", context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(shown)
    }

    async fn store_new_recovery_codes(
        &self,
        transaction: &mut store::Transaction,
        user_id: UserId,
    ) -> Result<Vec<String>, AppError> {
        let (shown, stored) = iam::recovery::generate(&mut rand::rngs::OsRng);
        let hashes: Vec<Vec<u8>> = stored
            .iter()
            .map(|code| {
                hex_decode(&code.hash_hex())
                    .ok_or_else(|| AppError::Internal("recovery code hash".into()))
            })
            .collect::<Result<_, _>>()?;
        transaction.replace_recovery_codes(user_id, &hashes).await?;
        Ok(shown)
    }

    /// Check a second factor of `user`, consuming it (a TOTP step, a recovery code).
    pub(crate) async fn verify_second_factor(
        &self,
        user: &UserRecord,
        factor: &SecondFactor,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let refused = || AppError::Unauthenticated;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        match factor {
            SecondFactor::Totp(code) => {
                let record = transaction
                    .get_totp(user.id)
                    .await?
                    .filter(|record| record.confirmed_at.is_some())
                    .ok_or_else(refused)?;
                let step = self
                    .totp_of(&record)?
                    .verify(code, unix_seconds(now), record.last_step)
                    .map_err(|_| refused())?;
                // The conditional update is the replay guard across concurrent logins.
                if !transaction.advance_totp_step(user.id, step).await? {
                    return Err(refused());
                }
                transaction.commit().await?;
            }
            // Passkeys are checked against their ceremony before this point.
            SecondFactor::Passkey { .. } => return Err(refused()),
            SecondFactor::RecoveryCode(code) => {
                let hashes = transaction.unused_recovery_codes(user.id).await?;
                let mut stored: Vec<StoredRecoveryCode> = hashes
                    .iter()
                    .filter_map(|hash| {
                        StoredRecoveryCode::from_parts(&hex::encode(hash), None).ok()
                    })
                    .collect();
                let index = iam::recovery::redeem(code, &mut stored, now).map_err(|_| refused())?;
                let hash = hashes.get(index).ok_or_else(refused)?;
                if !transaction.use_recovery_code(user.id, hash, now).await? {
                    return Err(refused());
                }
                let mut event = self.user_event(user, "auth.mfa.recovery_code.use", context);
                event.details.insert("remaining".into(), (hashes.len() - 1).into());
                transaction.append_audit_event(&event).await?;
                transaction.commit().await?;
            }
        }
        Ok(())
    }
}
