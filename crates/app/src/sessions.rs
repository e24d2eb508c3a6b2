//! Password login, sessions and their lifetime, and step-up authentication.

use base::{Actor, Credential, Outcome, RequestContext, Resource};
use store::{
    AuthenticatedSession, OrganizationRepository, SessionRecord, SessionRepository, Transaction,
    UserRecord, UserRepository, UserStatus,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::api_keys::unix_millis;
use crate::password_age::password_expired;
use crate::principal::SessionFacts;
use crate::secrets::{hash_secret, id_randomness, new_secret};
use crate::throttling::{SeenThrottle, account_key};
use crate::{App, AppError, Principal};

pub(crate) const SESSION_PREFIX: &str = "rampart_session_";
const CHALLENGE_PREFIX: &str = "rampart_mfa_";
/// `last_seen_at` is written at most this often per session.
const LAST_SEEN_RESOLUTION: Duration = Duration::minutes(1);

/// A session about to be stored: its record, and the token only the client will hold.
struct SessionOpening {
    record: SessionRecord,
    token: String,
    mfa_enrolment_due_at: Option<OffsetDateTime>,
}

/// How long sessions and the steps of a login live.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// A session unused this long ends (the annex's automatic lock).
    pub idle_timeout: Duration,
    /// A session ends this long after login, used or not.
    pub absolute_lifetime: Duration,
    /// Sensitive actions need an authentication younger than this.
    pub step_up_window: Duration,
    /// Time to present the second factor after the password.
    pub mfa_challenge_lifetime: Duration,
    /// How long a new account that must use MFA may log in without one.
    pub mfa_grace_period: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(30),
            absolute_lifetime: Duration::hours(12),
            step_up_window: Duration::minutes(10),
            mfa_challenge_lifetime: Duration::minutes(5),
            mfa_grace_period: Duration::days(3),
        }
    }
}

/// A session just opened: the only moment its token exists outside the client.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub token: String,
    /// Bound to the token: cookie-authenticated writes must echo it in `X-CSRF-Token`.
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
    /// The account must enrol a second factor; set while the grace period runs, and then the
    /// session is restricted to enrolling one.
    pub mfa_enrolment_due_at: Option<OffsetDateTime>,
    pub restricted: bool,
}

/// What a correct password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Session(NewSession),
    /// A second factor is due: present it with this token.
    MfaRequired {
        mfa_token: String,
        methods: Vec<&'static str>,
    },
}

/// The second factor presented to finish a login or a step-up.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(String),
    /// A WebAuthn assertion (`navigator.credentials.get()`'s answer) for the ceremony the
    /// options were issued under: the login's `mfa_token`, or the step-up's ceremony token.
    Passkey {
        ceremony: String,
        credential: serde_json::Value,
    },
}

/// The same answer for every failed login, whatever the reason: no account enumeration.
fn invalid_credentials() -> AppError {
    AppError::Unauthenticated
}

/// The CSRF token bound to a session token.
pub fn csrf_token_for(session_token: &str) -> String {
    use base64::Engine as _;
    let digest = hash_secret(&format!("rampart.csrf.v1:{session_token}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

impl App {
    /// The PHC string verified when the account does not exist, so that an unknown email costs
    /// the same time as a wrong password.
    async fn dummy_password_hash(&self) -> Result<String, AppError> {
        let passwords = self.passwords.clone();
        self.identity
            .dummy_hash
            .get_or_try_init(|| async move { passwords.hash(&new_secret("dummy_")).await })
            .await
            .cloned()
    }

    /// Check an email and password. Unknown accounts, wrong passwords and suspended accounts
    /// get the same answer in the same time; every attempt is audited.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<LoginOutcome, AppError> {
        if password.chars().count() > 1024 || email.len() > 254 {
            return Err(invalid_credentials());
        }
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let sign_in = read.password_sign_in(&account_key(email)).await?;
        read.commit().await?;
        let throttle = SeenThrottle::parse(sign_in.throttle)?;
        self.check_throttle(&throttle.state, context, now)?;
        let Some((user, facts)) = sign_in.account.filter(|(user, _)| user.password_hash.is_some())
        else {
            let dummy = self.dummy_password_hash().await?;
            let _ = self.passwords.verify(password, &dummy).await?;
            self.fail_password_attempt(None, email, "unknown_account", throttle, context, now)
                .await?;
            return Err(invalid_credentials());
        };
        let phc = user.password_hash.clone().unwrap_or_default();
        let correct = self.passwords.verify(password, &phc).await?;
        if !correct || user.status != UserStatus::Active {
            let reason = if correct { "account_not_active" } else { "wrong_password" };
            self.fail_password_attempt(Some(&user), email, reason, throttle, context, now).await?;
            return Err(invalid_credentials());
        }
        if password_expired(&user, &facts, now) {
            self.record_login_failure(Some(&user), email, "password_expired", context).await;
            return Err(AppError::Forbidden(
                "this password is older than the organization allows: set a new one with the \
                 link POST /v1/auth/password-reset sends by mail"
                    .into(),
            ));
        }
        let rehashed = if self.passwords.needs_rehash(&phc) {
            Some(self.passwords.hash(password).await?)
        } else {
            None
        };
        let mut methods = Vec::new();
        if facts.totp_confirmed {
            methods.extend(["totp", "recovery_code"]);
        }
        if facts.has_passkey {
            methods.push("webauthn");
        }
        // The throttle's success, a rehash, the session (or the second step) and their audit
        // events commit together: one durable write per login.
        let mut transaction = self.store.begin().await?;
        self.note_login_success_in(&mut transaction, email, throttle, now).await?;
        if let Some(rehashed) = rehashed {
            transaction.set_user_password(user.id, &rehashed).await?;
            let event = self.user_event(&user, "auth.password.rehash", context);
            transaction.append_audit_event(&event).await?;
        }
        if !methods.is_empty() {
            let mfa_token = new_secret(CHALLENGE_PREFIX);
            let expires_at = now + self.identity.policy.mfa_challenge_lifetime;
            transaction
                .insert_login_challenge(&hash_secret(&mfa_token), user.id, now, expires_at)
                .await?;
            let mut event = self.user_event(&user, "auth.login.password", context);
            event.details.insert("second_factor".into(), "required".into());
            transaction.append_audit_event(&event).await?;
            transaction.commit().await?;
            return Ok(LoginOutcome::MfaRequired { mfa_token, methods });
        }
        let mandatory =
            mfa_mandatory(&user, facts.organization_kind, facts.organization_mfa_required);
        let opening = self.open(&user, false, self.mfa_enrolment_due(&user, mandatory), context);
        let session = self
            .write_session(&mut transaction, &user, opening, "auth.login.password", None, context)
            .await?;
        transaction.commit().await?;
        Ok(LoginOutcome::Session(session))
    }

    /// MFA is mandatory for the provider's staff, for every owner (privileged roles), and for
    /// every member of an organisation that requires it.
    pub(crate) async fn mfa_is_mandatory(&self, user: &UserRecord) -> Result<bool, AppError> {
        let mut read = self.store.read_latest().await?;
        let organization = read.get_organization(user.organization_id).await?;
        read.commit().await?;
        Ok(mfa_mandatory(
            user,
            organization.as_ref().map(|organization| organization.kind),
            organization.is_some_and(|organization| organization.mfa_required),
        ))
    }

    /// When an account that must use MFA has to have enrolled it (`None` when it need not).
    fn mfa_enrolment_due(&self, user: &UserRecord, mandatory: bool) -> Option<OffsetDateTime> {
        mandatory.then(|| user.created_at + self.identity.policy.mfa_grace_period)
    }

    /// Finish a login with its second factor.
    pub async fn login_second_factor(
        &self,
        mfa_token: &str,
        factor: &SecondFactor,
        context: &RequestContext,
    ) -> Result<NewSession, AppError> {
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let user_id = transaction.take_login_challenge(&hash_secret(mfa_token), now).await?;
        transaction.commit().await?;
        let Some(user_id) = user_id else { return Err(invalid_credentials()) };
        let user = self.active_user(user_id).await?;
        if let SecondFactor::Passkey { credential, .. } = factor {
            // The options were issued under the mfa_token, which is the ceremony's name.
            let passkey = self
                .verify_passkey_factor(
                    &user,
                    store::CeremonyPurpose::SecondFactor,
                    mfa_token,
                    credential,
                    context,
                )
                .await?;
            return self
                .open_session_noting(&user, true, "auth.login.mfa", Some(passkey), context)
                .await;
        }
        if let Err(error) = self.verify_second_factor(&user, factor, context).await {
            self.record_login_failure(Some(&user), &user.email, "wrong_second_factor", context)
                .await;
            return Err(error);
        }
        self.open_session(&user, true, "auth.login.mfa", context).await
    }

    pub(crate) async fn active_user(&self, user_id: base::UserId) -> Result<UserRecord, AppError> {
        let mut read = self.store.read_latest().await?;
        let user = read.get_user(user_id).await?;
        read.commit().await?;
        user.filter(|user| user.status == UserStatus::Active).ok_or_else(invalid_credentials)
    }

    pub(crate) fn user_event(
        &self,
        user: &UserRecord,
        action: &str,
        context: &RequestContext,
    ) -> base::AuditEvent {
        let actor = Actor::User {
            user_id: user.id,
            organization_id: user.organization_id,
            is_staff: false,
            label: user.email.clone(),
            credential: Credential::Session,
        };
        let mut event =
            self.event(&actor, user.organization_id, action, Resource::new("user", user.id));
        event.context = context.clone();
        event
    }

    /// Audit a failed login that does not count against the account's throttle (an expired
    /// password, a wrong second factor). An error is logged, not answered: the attempt has
    /// already failed.
    async fn record_login_failure(
        &self,
        user: Option<&UserRecord>,
        email: &str,
        reason: &str,
        context: &RequestContext,
    ) {
        let recorded = async {
            let mut transaction = self.store.begin().await?;
            self.login_failure_event_in(&mut transaction, user, email, reason, context).await?;
            transaction.commit().await.map_err(AppError::from)
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, "could not record a failed login");
        }
    }

    /// A wrong password (or an unknown or inactive account): audited and counted against the
    /// account's throttle in one transaction, with the lock it may start.
    async fn fail_password_attempt(
        &self,
        user: Option<&UserRecord>,
        email: &str,
        reason: &str,
        throttle: SeenThrottle,
        context: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let mut transaction = self.store.begin().await?;
        self.login_failure_event_in(&mut transaction, user, email, reason, context).await?;
        if self.note_login_failure_in(&mut transaction, email, throttle, now).await? {
            self.record_lock_in(&mut transaction, email, context).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn login_failure_event_in(
        &self,
        transaction: &mut Transaction,
        user: Option<&UserRecord>,
        email: &str,
        reason: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let mut event = match user {
            Some(user) => self.user_event(user, "auth.login.password", context),
            None => {
                // Attempts on no account go to the provider's trail, where the security
                // team watches for credential stuffing.
                let Some(provider) = transaction.provider_organization().await? else {
                    return Ok(());
                };
                let mut event = self.event(
                    &Actor::System,
                    provider.id,
                    "auth.login.password",
                    Resource::kind_only("user"),
                );
                event.context = context.clone();
                event.details.insert("attempted_email".into(), email.into());
                event
            }
        };
        if reason == "wrong_second_factor" {
            event.action = "auth.login.mfa".into();
        }
        event.outcome = Outcome::Failed { reason: reason.to_owned() };
        transaction.append_audit_event(&event).await?;
        Ok(())
    }

    async fn open_session(
        &self,
        user: &UserRecord,
        with_mfa: bool,
        action: &str,
        context: &RequestContext,
    ) -> Result<NewSession, AppError> {
        self.open_session_noting(user, with_mfa, action, None, context).await
    }

    /// Open a session; its audit event names the passkey used, if one was.
    pub(crate) async fn open_session_noting(
        &self,
        user: &UserRecord,
        with_mfa: bool,
        action: &str,
        passkey: Option<Uuid>,
        context: &RequestContext,
    ) -> Result<NewSession, AppError> {
        let opening = self.prepare_session(user, with_mfa, context).await?;
        let mut transaction = self.store.begin().await?;
        let session =
            self.write_session(&mut transaction, user, opening, action, passkey, context).await?;
        transaction.commit().await?;
        Ok(session)
    }

    /// A new session and its token, before anything is written; the reads it needs happen
    /// here, outside the write transaction.
    async fn prepare_session(
        &self,
        user: &UserRecord,
        with_mfa: bool,
        context: &RequestContext,
    ) -> Result<SessionOpening, AppError> {
        let due = if with_mfa {
            None
        } else {
            self.mfa_enrolment_due(user, self.mfa_is_mandatory(user).await?)
        };
        Ok(self.open(user, with_mfa, due, context))
    }

    /// A new session and its token for `user` (authenticated with a second factor when
    /// `with_mfa`), restricted to enrolling one once `mfa_enrolment_due_at` has passed.
    fn open(
        &self,
        user: &UserRecord,
        with_mfa: bool,
        mfa_enrolment_due_at: Option<OffsetDateTime>,
        context: &RequestContext,
    ) -> SessionOpening {
        let now = self.clock.now();
        let token = new_secret(SESSION_PREFIX);
        let restricted = mfa_enrolment_due_at.is_some_and(|due| now >= due);
        let record = SessionRecord {
            id: base::UserId::new(unix_millis(now), id_randomness()).as_uuid().to_owned(),
            user_id: user.id,
            token_hash: hash_secret(&token),
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            mfa_at: with_mfa.then_some(now),
            source_ip: context.source_ip.map(|ip| ip.to_string()),
            user_agent: context.user_agent.clone(),
            restricted,
            ended_at: None,
        };
        SessionOpening { record, token, mfa_enrolment_due_at }
    }

    /// Store a prepared session with its audit event, in `transaction`.
    async fn write_session(
        &self,
        transaction: &mut Transaction,
        user: &UserRecord,
        opening: SessionOpening,
        action: &str,
        passkey: Option<Uuid>,
        context: &RequestContext,
    ) -> Result<NewSession, AppError> {
        let SessionOpening { record: session, token, mfa_enrolment_due_at } = opening;
        transaction.insert_session(&session).await?;
        let mut event = self.user_event(user, action, context);
        event.details.insert("session".into(), session.id.to_string().into());
        if let Some(passkey) = passkey {
            event.details.insert("passkey".into(), passkey.to_string().into());
        }
        transaction.append_audit_event(&event).await?;
        Ok(NewSession {
            id: session.id,
            csrf_token: csrf_token_for(&token),
            token,
            expires_at: session.created_at + self.identity.policy.absolute_lifetime,
            mfa_enrolment_due_at,
            restricted: session.restricted,
        })
    }

    /// The principal behind a session token, while the session lives.
    pub async fn authenticate_session(&self, token: &str) -> Result<Principal, AppError> {
        if !token.starts_with(SESSION_PREFIX) || token.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let token_hash = hash_secret(token);
        let now = self.clock.now();
        if let Some(principal) = self.credentials.get(&token_hash, now) {
            return Ok(principal);
        }
        let mut read = self.store.read_latest().await?;
        let found = read.find_session(&token_hash).await?;
        read.commit().await?;
        let Some(AuthenticatedSession { session, user, organization_kind }) = found else {
            return Err(AppError::Unauthenticated);
        };
        let policy = &self.identity.policy;
        let alive = session.ended_at.is_none()
            && user.status == UserStatus::Active
            && now - session.last_seen_at < policy.idle_timeout
            && now - session.created_at < policy.absolute_lifetime;
        if !alive {
            return Err(AppError::Unauthenticated);
        }
        if now - session.last_seen_at >= LAST_SEEN_RESOLUTION {
            let mut transaction = self.store.begin().await?;
            transaction.touch_session(session.id, now).await?;
            transaction.commit().await?;
        }
        let is_staff = organization_kind == base::OrganizationKind::Provider;
        let principal = Principal {
            actor: Actor::User {
                user_id: user.id,
                organization_id: user.organization_id,
                is_staff,
                label: user.email.clone(),
                credential: Credential::Session,
            },
            subject: crate::Subject::User(user.id),
            organization_id: user.organization_id,
            organization_kind,
            role: user.role,
            session: Some(SessionFacts {
                id: session.id,
                authenticated_at: session.authenticated_at,
                mfa_at: session.mfa_at,
                restricted: session.restricted,
            }),
        };
        // Cached no longer than the session can live without being seen again.
        let deadline =
            (session.created_at + policy.absolute_lifetime).min(now + policy.idle_timeout);
        self.credentials.put(token_hash, principal.clone(), now, Some(deadline));
        Ok(principal)
    }

    /// Refuse a sensitive action unless the principal authenticated recently (with its second
    /// factor when it has one). API keys are non-interactive credentials: they cannot step up,
    /// and their use is audited instead.
    pub(crate) async fn require_recent_authentication(
        &self,
        principal: &Principal,
    ) -> Result<(), AppError> {
        let Some(session) = &principal.session else { return Ok(()) };
        let now = self.clock.now();
        let window = self.identity.policy.step_up_window;
        let needs_mfa = self.has_second_factor(principal.user_id()?).await?;
        let recent = now - session.authenticated_at < window
            && (!needs_mfa || session.mfa_at.is_some_and(|at| now - at < window));
        if recent { Ok(()) } else { Err(AppError::StepUpRequired) }
    }

    /// Prove the password (and the second factor, when enrolled) again to refresh the session.
    /// A passkey alone will do: it verifies its user, so it proves two factors.
    pub async fn step_up(
        &self,
        principal: &Principal,
        password: Option<&str>,
        factor: Option<&SecondFactor>,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let Some(session) = &principal.session else {
            return Err(AppError::InvalidInput("step-up applies to sessions, not API keys".into()));
        };
        let user = self.active_user(principal.user_id()?).await?;
        let mut passkey = None;
        if let Some(SecondFactor::Passkey { ceremony, credential }) = factor {
            passkey = Some(
                self.verify_passkey_factor(
                    &user,
                    store::CeremonyPurpose::StepUp,
                    ceremony,
                    credential,
                    context,
                )
                .await?,
            );
        } else {
            let Some(password) = password else {
                return Err(AppError::InvalidInput(
                    "give the password (with the second factor when one is enrolled), or a \
                     passkey"
                        .into(),
                ));
            };
            let phc = user.password_hash.clone().ok_or_else(invalid_credentials)?;
            if !self.passwords.verify(password, &phc).await? {
                self.record_login_failure(Some(&user), &user.email, "wrong_password", context)
                    .await;
                return Err(invalid_credentials());
            }
        }
        let with_mfa = match factor {
            Some(SecondFactor::Passkey { .. }) => true,
            Some(factor) => {
                self.verify_second_factor(&user, factor, context).await?;
                true
            }
            None if self.has_second_factor(user.id).await? => {
                return Err(AppError::InvalidInput("a second factor is required".into()));
            }
            None => false,
        };
        let mut transaction = self.store.begin().await?;
        transaction.reauthenticate_session(session.id, self.clock.now(), with_mfa).await?;
        let mut event = self.user_event(&user, "auth.step_up", context);
        if let Some(passkey) = passkey {
            event.details.insert("passkey".into(), passkey.to_string().into());
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_session(session.id);
        Ok(())
    }

    /// End the principal's own session (logout).
    pub async fn logout(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let Some(session) = &principal.session else {
            return Err(AppError::InvalidInput("log out applies to sessions, not API keys".into()));
        };
        self.end_session(principal, session.id, context).await
    }

    /// The principal's open sessions.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<SessionRecord>, AppError> {
        let mut read = self.store.read_latest().await?;
        let sessions = read.list_sessions(principal.user_id()?).await?;
        read.commit().await?;
        Ok(sessions)
    }

    /// End one of the principal's sessions.
    pub async fn end_session(
        &self,
        principal: &Principal,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let mut transaction = self.store.begin().await?;
        transaction.end_session(principal.user_id()?, id, self.clock.now()).await?;
        let mut event = self.success_event(
            principal,
            principal.organization_id,
            "auth.session.end",
            Resource::new("session", id),
            context,
        );
        event.details.insert("session".into(), id.to_string().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        self.credentials.evict_session(id);
        Ok(())
    }
}

/// MFA is mandatory for the provider's staff, for every owner (privileged roles), and for every
/// member of an organisation that requires it.
fn mfa_mandatory(
    user: &UserRecord,
    organization_kind: Option<base::OrganizationKind>,
    organization_requires_mfa: bool,
) -> bool {
    organization_kind == Some(base::OrganizationKind::Provider)
        || organization_requires_mfa
        || user.role == store::UserRole::Owner
}
