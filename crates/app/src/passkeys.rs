//! Passkeys (WebAuthn, verified by `webauthn-rs`): registration for a signed-in account or for
//! the account an invitation creates, a passkey as the second factor of a password login or
//! of a step-up, and passwordless login.
//!
//! Every ceremony's state stays on the server (`webauthn_ceremonies`), bound to its account,
//! single use and short-lived; the client only holds a token naming it (for a second factor,
//! the login's `mfa_token`). Passkeys require user verification, so one proves two factors.

use base::{Actor, Outcome, RequestContext, Resource, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{
    CeremonyPurpose, OrganizationRepository as _, PasskeyRecord, PasskeyRepository as _,
    SessionRepository as _, UserRecord, UserRepository as _, UserStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::AuditTrail as _;
use crate::api_keys::unix_millis;
use crate::secrets::{hash_secret, id_randomness, new_id, new_secret};
use crate::sessions::NewSession;
use crate::users::{InvitedAccount, check_display_name, open_invitation};
use crate::{App, AppError, Principal};

const CEREMONY_PREFIX: &str = "rampart_webauthn_";
/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;
/// More passkeys than this on one account is refused (each is listed in every challenge).
const MAX_PASSKEYS_PER_USER: usize = 20;
/// The WebAuthn (Level 3) names of the ways a client reaches an authenticator. A client may
/// report others; they are dropped, as the specification asks of unknown values.
const KNOWN_TRANSPORTS: [&str; 6] = ["ble", "hybrid", "internal", "nfc", "smart-card", "usb"];
/// What decoy credentials claim as transports, chosen per address: the sets real clients
/// report (platform passkeys, phones, security keys) and none (a passkey older than transports).
const DECOY_TRANSPORTS: [&[&str]; 5] =
    [&["hybrid", "internal"], &["internal"], &["nfc", "usb"], &["usb"], &[]];

/// The relying party: the domain passkeys are bound to and the origins allowed to use them.
#[derive(Clone)]
pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
    origins: Vec<String>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .field("origins", &self.origins)
            .finish()
    }
}

fn parse_origin(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("origin {text:?}: {error}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("origin {text:?}: an http(s) URL"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("origin {text:?}: scheme, host and port only, no path"));
    }
    if url.domain().is_none() {
        return Err(format!("origin {text:?}: passkeys need a domain name, not an IP address"));
    }
    Ok(url)
}

impl RelyingParty {
    /// A relying party for `rp_id`, used from `origins` (each must be `rp_id` or one of its
    /// subdomains).
    pub fn new(rp_id: &str, origins: &[String]) -> Result<Self, String> {
        let rp_id = rp_id.trim().to_ascii_lowercase();
        if rp_id.is_empty() || rp_id.parse::<std::net::IpAddr>().is_ok() || rp_id.contains('/') {
            return Err(format!("rp_id {rp_id:?}: a domain name"));
        }
        let urls: Vec<Url> =
            origins.iter().map(|origin| parse_origin(origin)).collect::<Result<_, _>>()?;
        let Some((first, others)) = urls.split_first() else {
            return Err("at least one origin".into());
        };
        for url in &urls {
            let host = url.domain().unwrap_or_default();
            if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
                return Err(format!("origin {url}: its host is not {rp_id} or a subdomain of it"));
            }
        }
        let mut builder = WebauthnBuilder::new(&rp_id, first)
            .map_err(|error| format!("rp_id {rp_id:?}: {error}"))?
            .rp_name("Rampart");
        for url in others {
            builder = builder.append_allowed_origin(url);
        }
        let webauthn = builder.build().map_err(|error| error.to_string())?;
        Ok(Self {
            webauthn,
            rp_id,
            origins: urls.iter().map(|url| url.origin().ascii_serialization()).collect(),
        })
    }

    /// The relying party of a deployment: `rp_id` defaults to the host of the public base URL
    /// and `origins` to its origin. `Ok(None)` when nothing is configured and the public URL
    /// names no domain (an IP address): passkeys are then off. Anything configured must be
    /// valid.
    pub fn configure(
        public_url: &str,
        rp_id: Option<&str>,
        origins: &[String],
    ) -> Result<Option<Self>, String> {
        let url = Url::parse(public_url).map_err(|error| format!("{public_url:?}: {error}"))?;
        let configured = rp_id.is_some() || !origins.is_empty();
        let Some(host) = rp_id.or(url.domain()) else {
            return if configured {
                Err(format!(
                    "no rp_id given, and the public URL {public_url:?} names no domain to take it from"
                ))
            } else {
                Ok(None)
            };
        };
        let origins = if origins.is_empty() {
            vec![url.origin().ascii_serialization()]
        } else {
            origins.to_vec()
        };
        Self::new(host, &origins).map(Some)
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    pub fn origins(&self) -> &[String] {
        &self.origins
    }
}

/// What the browser needs to run a ceremony, and the token naming its state on the server.
#[derive(Debug, Clone)]
pub struct PasskeyChallenge {
    pub ceremony: String,
    /// `{"publicKey": …}`: hand to `navigator.credentials.create()` or `.get()`.
    pub options: serde_json::Value,
}

/// A registered passkey as its owner sees it: no key material.
#[derive(Debug, Clone)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<PasskeyRecord> for PasskeyView {
    fn from(record: PasskeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// The state of an authentication ceremony as stored.
#[derive(Serialize, Deserialize)]
struct AssertionState {
    state: DiscoverableAuthentication,
    /// Started for a named account; with no account bound, nothing can finish it.
    named: bool,
}

/// The state of the registration that creates an invited account with its first passkey,
/// stored under the invitation's token.
#[derive(Serialize, Deserialize)]
struct InvitationRegistration {
    registration: PasskeyRegistration,
    /// The id the account will have: the passkey carries it as its user handle.
    user_id: UserId,
    display_name: String,
}

/// A credential an authentication ceremony accepts, with the transports that reach it.
struct AllowedCredential {
    id: Vec<u8>,
    transports: Vec<String>,
}

impl From<PasskeyRecord> for AllowedCredential {
    fn from(passkey: PasskeyRecord) -> Self {
        Self { id: passkey.credential_id, transports: passkey.transports }
    }
}

/// The transports the client reported for a new credential (`response.transports`), kept as
/// hints for later ceremonies: known names only, each once, in the client's order.
fn reported_transports(credential: &serde_json::Value) -> Vec<String> {
    let mut transports: Vec<String> = Vec::new();
    let reported = credential["response"]["transports"].as_array().into_iter().flatten();
    for name in reported.filter_map(serde_json::Value::as_str) {
        if KNOWN_TRANSPORTS.contains(&name) && !transports.iter().any(|known| known == name) {
            transports.push(name.to_owned());
        }
    }
    transports
}

/// Why an assertion was refused: recorded in the trail, never told to the client.
struct Refusal {
    user: Option<UserRecord>,
    reason: &'static str,
}

fn refused(reason: &'static str) -> Refusal {
    Refusal { user: None, reason }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("passkey".to_owned());
    }
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::InvalidInput(format!(
            "a passkey name has at most {MAX_PASSKEY_NAME_CHARS} characters and no control characters"
        )));
    }
    Ok(name.to_owned())
}

fn internal(what: &str, error: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("{what}: {error}"))
}

/// The credential the browser returned from `navigator.credentials.get()`.
pub fn parse_assertion(credential: &serde_json::Value) -> Result<PublicKeyCredential, AppError> {
    serde_json::from_value(credential.clone()).map_err(|error| {
        AppError::InvalidInput(format!("`credential` is not a WebAuthn assertion: {error}"))
    })
}

fn parse_registration(
    credential: &serde_json::Value,
) -> Result<RegisterPublicKeyCredential, AppError> {
    serde_json::from_value(credential.clone()).map_err(|error| {
        AppError::InvalidInput(format!("`credential` is not a WebAuthn registration: {error}"))
    })
}

impl App {
    /// Use this relying party for passkeys instead of the one implied by the public URL.
    pub fn with_passkeys(mut self, relying_party: RelyingParty) -> Self {
        self.passkeys = Some(std::sync::Arc::new(relying_party));
        self
    }

    /// The relying party, when passkeys are enabled.
    pub fn relying_party(&self) -> Option<&RelyingParty> {
        self.passkeys.as_deref()
    }

    fn passkeys_enabled(&self) -> Result<std::sync::Arc<RelyingParty>, AppError> {
        self.passkeys.clone().ok_or_else(|| {
            AppError::Conflict(
                "passkeys are not enabled: set `auth.public_url` to a URL with a domain name, or \
                 configure `[passkeys]`"
                    .into(),
            )
        })
    }

    pub(crate) async fn user_passkeys(
        &self,
        user_id: UserId,
    ) -> Result<Vec<PasskeyRecord>, AppError> {
        let mut read = self.store.read_latest().await?;
        let passkeys = read.list_passkeys(user_id).await?;
        read.commit().await?;
        Ok(passkeys)
    }

    /// Whether the account has a second factor: a confirmed authenticator app or a passkey.
    pub(crate) async fn has_second_factor(&self, user_id: UserId) -> Result<bool, AppError> {
        Ok(self.has_confirmed_totp(user_id).await?
            || !self.user_passkeys(user_id).await?.is_empty())
    }

    async fn keep_ceremony(
        &self,
        token: &str,
        user_id: Option<UserId>,
        purpose: CeremonyPurpose,
        state: &impl Serialize,
    ) -> Result<(), AppError> {
        let state = serde_json::to_string(state).map_err(|error| internal("ceremony", error))?;
        let now = self.clock.now();
        let expires_at = now + self.identity.policy.mfa_challenge_lifetime;
        let mut transaction = self.store.begin().await?;
        transaction
            .insert_ceremony(&hash_secret(token), user_id, purpose, &state, now, expires_at)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The state of the ceremony `token` names, consumed (committed at once, whatever comes
    /// next), when it was started for `purpose` and has not expired.
    async fn take_ceremony(
        &self,
        token: &str,
        purpose: CeremonyPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<store::CeremonyRecord>, AppError> {
        let mut transaction = self.store.begin().await?;
        let taken = transaction.take_ceremony(&hash_secret(token), purpose, now).await?;
        transaction.commit().await?;
        Ok(taken)
    }

    /// Store a verified new passkey of `user` and record its registration, in `transaction`.
    async fn insert_passkey_of(
        &self,
        transaction: &mut store::Transaction,
        user: &UserRecord,
        passkey: &Passkey,
        name: String,
        transports: Vec<String>,
        context: &RequestContext,
    ) -> Result<PasskeyRecord, AppError> {
        let now = self.clock.now();
        let record = PasskeyRecord {
            id: new_id(now),
            user_id: user.id,
            credential_id: passkey.cred_id().to_vec(),
            passkey: serde_json::to_string(passkey).map_err(|error| internal("passkey", error))?,
            name,
            transports,
            created_at: now,
            last_used_at: None,
        };
        transaction.insert_passkey(&record).await?;
        let mut event = self.user_event(user, "auth.passkey.register", context);
        event.privileged = true;
        event.details.insert("passkey".into(), record.id.to_string().into());
        event.details.insert("name".into(), record.name.clone().into());
        transaction.append_audit_event(&event).await?;
        Ok(record)
    }

    /// Start registering a passkey for the signed-in account (needs a recent authentication).
    pub async fn start_passkey_registration(
        &self,
        principal: &Principal,
    ) -> Result<PasskeyChallenge, AppError> {
        let relying_party = self.passkeys_enabled()?;
        if principal.session.is_none() {
            return Err(AppError::InvalidInput(
                "passkeys are registered from a session, not with an API key".into(),
            ));
        }
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        let existing = self.user_passkeys(user.id).await?;
        if existing.len() >= MAX_PASSKEYS_PER_USER {
            return Err(AppError::Conflict(format!(
                "an account holds at most {MAX_PASSKEYS_PER_USER} passkeys; delete one first"
            )));
        }
        let exclude = existing.into_iter().map(|passkey| passkey.credential_id).collect();
        let display_name =
            if user.display_name.is_empty() { &user.email } else { &user.display_name };
        let (options, state) = relying_party
            .webauthn
            .start_passkey_registration(
                *user.id.as_uuid(),
                &user.email,
                display_name,
                Some(exclude),
            )
            .map_err(|error| internal("passkey registration", error))?;
        let ceremony = new_secret(CEREMONY_PREFIX);
        self.keep_ceremony(&ceremony, Some(user.id), CeremonyPurpose::Register, &state).await?;
        let options = serde_json::to_value(&options).map_err(|error| internal("options", error))?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Finish a registration with the browser's answer; the passkey is stored under `name`.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony: &str,
        name: &str,
        credential: &serde_json::Value,
        context: &RequestContext,
    ) -> Result<PasskeyView, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let name = check_name(name)?;
        let transports = reported_transports(credential);
        let credential = parse_registration(credential)?;
        let user = self.active_user(principal.user_id()?).await?;
        let now = self.clock.now();
        let taken = self.take_ceremony(ceremony, CeremonyPurpose::Register, now).await?;
        let stale = || {
            AppError::InvalidInput(
                "this registration is unknown, already used or expired: start again".into(),
            )
        };
        let taken = taken.filter(|taken| taken.user_id == Some(user.id)).ok_or_else(stale)?;
        let state: PasskeyRegistration =
            serde_json::from_str(&taken.state).map_err(|error| internal("ceremony", error))?;
        let passkey = relying_party
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|error| AppError::InvalidInput(format!("the passkey was refused: {error}")))?;
        let mut transaction = self.store.begin().await?;
        let record = self
            .insert_passkey_of(&mut transaction, &user, &passkey, name, transports, context)
            .await?;
        if let Some(session) = &principal.session {
            // Proving the new factor counts as a fresh MFA, and lifts a mandatory-MFA restriction.
            transaction.unrestrict_session(session.id, now).await?;
        }
        transaction.commit().await?;
        if let Some(session) = &principal.session {
            self.credentials.evict_session(session.id);
        }
        Ok(record.into())
    }

    /// Start creating an invited account with a passkey instead of a password: the options
    /// for `navigator.credentials.create()`, for the account the invitation `token` names.
    /// The registration's state is kept under the token (asking again replaces it) and is
    /// finished by [`App::accept_invitation_with_passkey`]. Each call stores a ceremony, so it
    /// draws on the source address's login bucket.
    pub async fn start_invitation_passkey(
        &self,
        token: &str,
        display_name: &str,
        context: &RequestContext,
    ) -> Result<serde_json::Value, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let display_name = check_display_name(display_name)?;
        let now = self.clock.now();
        self.check_ip_throttle(context, now)?;
        let mut read = self.store.read_latest().await?;
        let invitation = open_invitation(&mut read, token, now).await?;
        read.commit().await?;
        let user_id = UserId::new(unix_millis(now), id_randomness());
        let shown_name = if display_name.is_empty() { &invitation.email } else { &display_name };
        let (options, registration) = relying_party
            .webauthn
            .start_passkey_registration(*user_id.as_uuid(), &invitation.email, shown_name, None)
            .map_err(|error| internal("passkey registration", error))?;
        let state = InvitationRegistration { registration, user_id, display_name };
        self.keep_ceremony(token, None, CeremonyPurpose::Invitation, &state).await?;
        serde_json::to_value(&options).map_err(|error| internal("options", error))
    }

    /// Accept an invitation with a passkey: the account is created with this passkey and no
    /// password, the invitation is used up, and both are recorded, in one transaction. The
    /// registration started by [`App::start_invitation_passkey`] is consumed whatever the
    /// outcome.
    pub async fn accept_invitation_with_passkey(
        &self,
        token: &str,
        passkey_name: &str,
        credential: &serde_json::Value,
        context: &RequestContext,
    ) -> Result<UserRecord, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let name = check_name(passkey_name)?;
        let transports = reported_transports(credential);
        let credential = parse_registration(credential)?;
        let now = self.clock.now();
        let taken = self.take_ceremony(token, CeremonyPurpose::Invitation, now).await?;
        let taken = taken.ok_or_else(|| {
            AppError::InvalidInput(
                "no passkey registration is pending for this invitation, or it expired: ask for \
                 the options again"
                    .into(),
            )
        })?;
        let state: InvitationRegistration =
            serde_json::from_str(&taken.state).map_err(|error| internal("ceremony", error))?;
        let passkey = relying_party
            .webauthn
            .finish_passkey_registration(&credential, &state.registration)
            .map_err(|error| AppError::InvalidInput(format!("the passkey was refused: {error}")))?;

        let mut transaction = self.store.begin().await?;
        let invitation = open_invitation(&mut transaction, token, now).await?;
        let account = InvitedAccount {
            id: state.user_id,
            display_name: state.display_name,
            password_hash: None,
        };
        let user =
            self.create_invited_user(&mut transaction, &invitation, account, context).await?;
        self.insert_passkey_of(&mut transaction, &user, &passkey, name, transports, context)
            .await?;
        transaction.commit().await?;
        self.authorization.invalidate(user.organization_id);
        Ok(user)
    }

    /// The signed-in account's passkeys (names and dates, no key material).
    pub async fn list_passkeys(&self, principal: &Principal) -> Result<Vec<PasskeyView>, AppError> {
        let passkeys = self.user_passkeys(principal.user_id()?).await?;
        Ok(passkeys.into_iter().map(PasskeyView::from).collect())
    }

    pub async fn rename_passkey(
        &self,
        principal: &Principal,
        id: Uuid,
        name: &str,
        context: &RequestContext,
    ) -> Result<PasskeyView, AppError> {
        let name = check_name(name)?;
        let user = self.active_user(principal.user_id()?).await?;
        let mut transaction = self.store.begin().await?;
        transaction.rename_passkey(user.id, id, &name).await?;
        let mut event = self.user_event(&user, "auth.passkey.rename", context);
        event.details.insert("passkey".into(), id.to_string().into());
        event.details.insert("name".into(), name.clone().into());
        transaction.append_audit_event(&event).await?;
        let renamed = transaction
            .list_passkeys(user.id)
            .await?
            .into_iter()
            .find(|passkey| passkey.id == id)
            .ok_or(AppError::NotFound("passkey"))?;
        transaction.commit().await?;
        Ok(renamed.into())
    }

    /// Delete a passkey (needs a recent authentication). The last second factor of an account
    /// that must use MFA, and the only way into an account without a password, stay.
    pub async fn delete_passkey(
        &self,
        principal: &Principal,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        let passkeys = self.user_passkeys(user.id).await?;
        if !passkeys.iter().any(|passkey| passkey.id == id) {
            return Err(AppError::NotFound("passkey"));
        }
        let last_passkey = passkeys.len() == 1;
        if last_passkey && user.password_hash.is_none() {
            return Err(AppError::Conflict(
                "this passkey is the only way into an account without a password: register \
                 another passkey or set a password first"
                    .into(),
            ));
        }
        if last_passkey
            && !self.has_confirmed_totp(user.id).await?
            && self.mfa_is_mandatory(&user).await?
        {
            return Err(AppError::Conflict(
                "this passkey is the account's last second factor and MFA is mandatory for it: \
                 enrol another factor first"
                    .into(),
            ));
        }
        let mut transaction = self.store.begin().await?;
        transaction.delete_passkey(user.id, id).await?;
        let mut event = self.user_event(&user, "auth.passkey.delete", context);
        event.privileged = true;
        event.details.insert("passkey".into(), id.to_string().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Remove the account's password (needs a recent authentication and a passkey): from then
    /// on it signs in with passkeys only. A password reset sets one again.
    pub async fn remove_password(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.require_recent_authentication(principal).await?;
        let user = self.active_user(principal.user_id()?).await?;
        if self.user_passkeys(user.id).await?.is_empty() {
            return Err(AppError::Conflict(
                "register a passkey before removing the password".into(),
            ));
        }
        if user.password_hash.is_none() {
            return Err(AppError::Conflict("the account has no password".into()));
        }
        let mut transaction = self.store.begin().await?;
        transaction.clear_user_password(user.id).await?;
        let mut event = self.user_event(&user, "auth.password.remove", context);
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The options of an authentication ceremony: the listed credentials, or any discoverable
    /// one when `allowed` is `None`.
    fn assertion_options(
        relying_party: &RelyingParty,
        allowed: Option<Vec<AllowedCredential>>,
        named: bool,
    ) -> Result<(serde_json::Value, AssertionState), AppError> {
        let (mut options, state) = relying_party
            .webauthn
            .start_discoverable_authentication()
            .map_err(|error| internal("passkey authentication", error))?;
        // Clients choose mediation (a button or autofill) themselves.
        options.mediation = None;
        let mut options =
            serde_json::to_value(&options).map_err(|error| internal("options", error))?;
        if let Some(allowed) = allowed {
            use base64::Engine as _;
            let allowed: Vec<serde_json::Value> = allowed
                .iter()
                .map(|credential| {
                    let mut entry = serde_json::json!({
                        "type": "public-key",
                        "id": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&credential.id),
                    });
                    if !credential.transports.is_empty() {
                        entry["transports"] = credential.transports.clone().into();
                    }
                    entry
                })
                .collect();
            if let Some(public_key) = options.get_mut("publicKey").and_then(|v| v.as_object_mut()) {
                public_key.insert("allowCredentials".into(), allowed.into());
            }
        }
        Ok((options, AssertionState { state, named }))
    }

    async fn user_credentials(&self, user_id: UserId) -> Result<Vec<AllowedCredential>, AppError> {
        let passkeys = self.user_passkeys(user_id).await?;
        if passkeys.is_empty() {
            return Err(AppError::Conflict("the account has no passkey".into()));
        }
        Ok(passkeys.into_iter().map(AllowedCredential::from).collect())
    }

    /// The options for a passkey as the second factor of the login `mfa_token` started.
    pub async fn start_second_factor_passkey(
        &self,
        mfa_token: &str,
    ) -> Result<serde_json::Value, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let now = self.clock.now();
        let mut read = self.store.read_latest().await?;
        let user_id = read.find_login_challenge(&hash_secret(mfa_token), now).await?;
        read.commit().await?;
        let user_id = user_id.ok_or(AppError::Unauthenticated)?;
        let allowed = self.user_credentials(user_id).await?;
        let (options, state) = Self::assertion_options(&relying_party, Some(allowed), true)?;
        self.keep_ceremony(mfa_token, Some(user_id), CeremonyPurpose::SecondFactor, &state).await?;
        Ok(options)
    }

    /// The options for a passkey step-up of the principal's session.
    pub async fn start_step_up_passkey(
        &self,
        principal: &Principal,
    ) -> Result<PasskeyChallenge, AppError> {
        let relying_party = self.passkeys_enabled()?;
        if principal.session.is_none() {
            return Err(AppError::InvalidInput("step-up applies to sessions, not API keys".into()));
        }
        let user = self.active_user(principal.user_id()?).await?;
        let allowed = self.user_credentials(user.id).await?;
        let (options, state) = Self::assertion_options(&relying_party, Some(allowed), true)?;
        let ceremony = new_secret(CEREMONY_PREFIX);
        self.keep_ceremony(&ceremony, Some(user.id), CeremonyPurpose::StepUp, &state).await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// A credential that stands in for an account that does not exist (or has no passkey),
    /// stable per address and unpredictable without the master key, with transports drawn
    /// from what real clients report, so that the options look the same whether or not the
    /// address has an account.
    fn decoy_credentials(&self, email: &str) -> Vec<AllowedCredential> {
        let mut digest = Sha256::new();
        digest.update(b"rampart.passkey.decoy.v1\0");
        digest.update(self.audit.master_key.to_bytes());
        digest.update(email.trim().to_lowercase().as_bytes());
        let id = digest.finalize().to_vec();
        let transports = DECOY_TRANSPORTS[usize::from(id[0]) % DECOY_TRANSPORTS.len()];
        let transports = transports.iter().map(|name| (*name).to_owned()).collect();
        vec![AllowedCredential { id, transports }]
    }

    /// Start a passwordless login: with an email, the options list that account's passkeys
    /// (or decoys: the answer never tells whether the address has an account); without, any
    /// discoverable passkey of this relying party will do. Each call stores a ceremony, so it
    /// draws on the source address's login bucket like the login it starts.
    pub async fn start_passkey_login(
        &self,
        email: Option<&str>,
        context: &RequestContext,
    ) -> Result<PasskeyChallenge, AppError> {
        let relying_party = self.passkeys_enabled()?;
        self.check_ip_throttle(context, self.clock.now())?;
        let (allowed, user_id) = match email.map(str::trim).filter(|email| !email.is_empty()) {
            None => (None, None),
            Some(email) if email.len() > 254 => (Some(self.decoy_credentials(email)), None),
            Some(email) => {
                let mut read = self.store.read_latest().await?;
                let user = read.find_user_by_email(email).await?;
                let passkeys = match &user {
                    Some(user) => read.list_passkeys(user.id).await?,
                    None => Vec::new(),
                };
                read.commit().await?;
                match user.filter(|user| user.status == UserStatus::Active) {
                    Some(user) if !passkeys.is_empty() => (
                        Some(passkeys.into_iter().map(AllowedCredential::from).collect()),
                        Some(user.id),
                    ),
                    _ => (Some(self.decoy_credentials(email)), None),
                }
            }
        };
        let named = allowed.is_some();
        let (options, state) = Self::assertion_options(&relying_party, allowed, named)?;
        let ceremony = new_secret(CEREMONY_PREFIX);
        self.keep_ceremony(&ceremony, user_id, CeremonyPurpose::Login, &state).await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Finish a passwordless login. Every refusal answers the same; the trail says why.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        credential: &serde_json::Value,
        context: &RequestContext,
    ) -> Result<NewSession, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let credential = parse_assertion(credential)?;
        let now = self.clock.now();
        self.check_ip_throttle(context, now)?;
        match self
            .verify_assertion(
                &relying_party,
                ceremony,
                CeremonyPurpose::Login,
                None,
                &credential,
                now,
            )
            .await?
        {
            Ok((user, passkey)) => {
                self.open_session_noting(
                    &user,
                    true,
                    "auth.login.passkey",
                    Some(passkey.id),
                    context,
                )
                .await
            }
            Err(refusal) => {
                self.record_passkey_refusal(&refusal, "auth.login.passkey", context).await;
                Err(AppError::Unauthenticated)
            }
        }
    }

    /// Check a passkey assertion for `user` (a second factor or a step-up), consuming its
    /// ceremony.
    pub(crate) async fn verify_passkey_factor(
        &self,
        user: &UserRecord,
        purpose: CeremonyPurpose,
        ceremony: &str,
        credential: &serde_json::Value,
        context: &RequestContext,
    ) -> Result<Uuid, AppError> {
        let relying_party = self.passkeys_enabled()?;
        let credential = parse_assertion(credential)?;
        let now = self.clock.now();
        match self
            .verify_assertion(&relying_party, ceremony, purpose, Some(user.id), &credential, now)
            .await?
        {
            Ok((_, passkey)) => Ok(passkey.id),
            Err(mut refusal) => {
                refusal.user = Some(user.clone());
                let action = match purpose {
                    CeremonyPurpose::StepUp => "auth.step_up",
                    _ => "auth.login.mfa",
                };
                self.record_passkey_refusal(&refusal, action, context).await;
                Err(AppError::Unauthenticated)
            }
        }
    }

    /// The account and passkey behind a valid assertion for the ceremony `ceremony`, or why
    /// not. On success the passkey's counter and backup flags are stored as the assertion
    /// updated them.
    async fn verify_assertion(
        &self,
        relying_party: &RelyingParty,
        ceremony: &str,
        purpose: CeremonyPurpose,
        expected_user: Option<UserId>,
        credential: &PublicKeyCredential,
        now: OffsetDateTime,
    ) -> Result<Result<(UserRecord, PasskeyRecord), Refusal>, AppError> {
        let taken = self.take_ceremony(ceremony, purpose, now).await?;
        let Some(taken) = taken else { return Ok(Err(refused("unknown_or_expired_ceremony"))) };
        let stored: AssertionState =
            serde_json::from_str(&taken.state).map_err(|error| internal("ceremony", error))?;
        let bound = match (expected_user, taken.user_id) {
            (Some(expected), Some(bound)) if expected != bound => {
                return Ok(Err(refused("ceremony_of_another_account")));
            }
            (expected, bound) => bound.or(expected),
        };
        if stored.named && bound.is_none() {
            return Ok(Err(refused("unknown_account")));
        }
        let mut read = self.store.read_latest().await?;
        let record = read.find_passkey_by_credential(credential.get_credential_id()).await?;
        let owner = match &record {
            Some(record) => read.get_user(record.user_id).await?,
            None => None,
        };
        read.commit().await?;
        let (Some(record), Some(owner)) = (record, owner) else {
            return Ok(Err(refused("unknown_passkey")));
        };
        let refuse = |reason| Ok(Err(Refusal { user: Some(owner.clone()), reason }));
        if bound.is_some_and(|bound| bound != owner.id) {
            return refuse("passkey_of_another_account");
        }
        let handle_matches = credential
            .get_user_unique_id()
            .is_none_or(|handle| handle == owner.id.as_uuid().as_bytes());
        if !handle_matches {
            return refuse("user_handle_mismatch");
        }
        if owner.status != UserStatus::Active {
            return refuse("account_not_active");
        }
        let mut passkey: Passkey =
            serde_json::from_str(&record.passkey).map_err(|error| internal("passkey", error))?;
        let result = match relying_party.webauthn.finish_discoverable_authentication_v2(
            credential,
            stored.state,
            &passkey,
        ) {
            Ok(result) => result,
            // A counter that did not move forward: the key may have been cloned. Refused, as
            // the specification recommends, and flagged in the trail.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return refuse("counter_regression");
            }
            Err(error) => {
                tracing::debug!(%error, "passkey assertion refused");
                return refuse("invalid_assertion");
            }
        };
        passkey.update_credential(&result);
        let updated =
            serde_json::to_string(&passkey).map_err(|error| internal("passkey", error))?;
        let mut transaction = self.store.begin().await?;
        transaction.record_passkey_use(record.id, &updated, now).await?;
        transaction.commit().await?;
        Ok(Ok((owner, record)))
    }

    async fn record_passkey_refusal(
        &self,
        refusal: &Refusal,
        action: &str,
        context: &RequestContext,
    ) {
        let recorded = async {
            let mut transaction = self.store.begin().await?;
            let mut event = match &refusal.user {
                Some(user) => self.user_event(user, action, context),
                None => {
                    let Some(provider) = transaction.provider_organization().await? else {
                        return Ok(());
                    };
                    let mut event = self.event(
                        &Actor::System,
                        provider.id,
                        action,
                        Resource::kind_only("user"),
                    );
                    event.context = context.clone();
                    event
                }
            };
            event.details.insert("method".into(), "passkey".into());
            // A possibly cloned key is a security event, not a typo.
            event.privileged = refusal.reason == "counter_regression";
            event.outcome = Outcome::Failed { reason: refusal.reason.to_owned() };
            transaction.append_audit_event(&event).await?;
            transaction.commit().await.map_err(AppError::from)
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, "could not record a refused passkey");
        }
    }
}
