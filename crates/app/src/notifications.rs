//! Notifications of alerts: each organisation's channels (a signed webhook or a list of email
//! addresses, with the lowest level they want), the queue that carries a new alert to them,
//! and the dispatcher that delivers it.
//!
//! A new alert queues one notification per matching channel (per recipient for email) in the
//! transaction that raises it: a detected alert is never without its notifications, and a
//! deduplicated detection (counted into an open alert) queues nothing. The dispatcher runs
//! apart from detection; it claims due notifications, sends them through the ports
//! ([`WebhookTransport`], [`Mailer`](crate::Mailer)), retries a failure with exponential
//! backoff and, in the transaction that takes a notification off the queue, records its
//! delivery (or that it was given up) in the delivery log and the audit trail. A crash between
//! sending and recording sends again: delivery is at least once, and every attempt carries the
//! same delivery id so that receivers can drop repeats.
//!
//! A webhook's body is signed with HMAC-SHA-256 under a per-channel secret that Rampart
//! generates, shows once and keeps only sealed under the master key.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use base::{Actor, OrganizationId, RequestContext, Resource};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use store::{
    AlertRecord, DeliveryRecord, DetectionRepository as _, IncidentRepository as _,
    NotificationChannelRecord, NotificationRepository as _, OrganizationRepository as _,
    QueuedNotificationRecord, Transaction,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit_trail::AuditTrail as _;
use crate::mailer::Email;
use crate::principal::Principal;
use crate::{App, AppError};

/// The most channels one organisation may have.
pub const MAX_NOTIFICATION_CHANNELS: usize = 20;
/// The longest channel name, in characters.
pub const MAX_CHANNEL_NAME: usize = 100;
/// The longest webhook URL, in bytes.
pub const MAX_WEBHOOK_URL: usize = 2048;
/// The most addresses one email channel may have.
pub const MAX_CHANNEL_RECIPIENTS: usize = 20;
/// The most deliveries one listing returns.
pub const MAX_DELIVERIES_PER_PAGE: u32 = 500;
/// The prefix of webhook signing secrets, so that secret scanners can spot a leaked one.
const SECRET_PREFIX: &str = "rampart_whsec_";
/// Queued notifications one dispatcher pass takes.
const DISPATCH_BATCH: u32 = 50;
/// How long a claimed notification is left to its sender before another pass may take it
/// (a sender that crashed mid-attempt); far beyond a transport's timeout.
const CLAIM_LEASE: Duration = Duration::minutes(5);
/// The longest error kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;

/// One webhook request to send: a JSON body and the headers that sign and identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    /// `Content-Type`, `Rampart-Signature` and `Rampart-Delivery`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WebhookRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What one webhook attempt comes to: delivered (a 2xx answer), or why not, in words safe to
/// store (never the URL's path or a secret).
pub type WebhookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Sends webhook requests: the binary's goes over HTTPS and refuses private addresses.
pub trait WebhookTransport: Send + Sync + 'static {
    fn post(&self, request: WebhookRequest) -> WebhookFuture<'_>;
}

/// Keeps webhook requests in memory and can be told to fail: for tests.
#[derive(Debug, Default)]
pub struct MemoryWebhookTransport {
    sent: Mutex<Vec<WebhookRequest>>,
    failures_left: Mutex<u32>,
}

impl MemoryWebhookTransport {
    /// Every request posted, failed ones included, in order.
    pub fn sent(&self) -> Vec<WebhookRequest> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Answer the next `n` requests with a failure.
    pub fn fail_next(&self, n: u32) {
        *self.failures_left.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = n;
    }
}

impl WebhookTransport for MemoryWebhookTransport {
    fn post(&self, request: WebhookRequest) -> WebhookFuture<'_> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(request);
        let mut failures =
            self.failures_left.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = if *failures > 0 {
            *failures -= 1;
            Err("the receiver answered 503".to_owned())
        } else {
            Ok(())
        };
        Box::pin(std::future::ready(outcome))
    }
}

/// How notifications are sent and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// Accept `http://` webhook URLs (tests, closed networks); `https://` only otherwise.
    pub allow_http: bool,
    /// Attempts before a notification is given up (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub retry_after: Duration,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self { allow_http: false, max_attempts: 3, retry_after: Duration::seconds(30) }
    }
}

/// The transport and settings notifications use.
pub(crate) struct NotificationState {
    pub(crate) transport: std::sync::Arc<dyn WebhookTransport>,
    pub(crate) settings: NotificationSettings,
}

impl Default for NotificationState {
    fn default() -> Self {
        Self {
            transport: std::sync::Arc::new(MemoryWebhookTransport::default()),
            settings: NotificationSettings::default(),
        }
    }
}

/// What a channel is, as given when creating it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationChannelInput {
    pub name: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// For a webhook.
    pub url: Option<String>,
    /// For email.
    pub recipients: Vec<String>,
    /// `low`, `medium`, `high` (the default) or `critical`.
    pub min_level: Option<String>,
    /// On by default.
    pub enabled: Option<bool>,
}

/// A change to a channel: the fields given are replaced. The kind and the secret never change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationChannelPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub recipients: Option<Vec<String>>,
    pub min_level: Option<String>,
    pub enabled: Option<bool>,
}

/// A channel as shown: never its secret, and a webhook URL cut to its origin (a webhook URL's
/// path often is a credential itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChannelView {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub name: String,
    pub kind: String,
    /// The webhook's origin followed by `/…` when it has a path; empty for email.
    pub url: String,
    pub recipients: Vec<String>,
    pub min_level: String,
    pub enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A channel just created, with its signing secret (webhooks): the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedNotificationChannel {
    pub channel: NotificationChannelView,
    pub secret: Option<String>,
}

/// What one dispatcher pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotificationPass {
    pub delivered: u32,
    /// Failed attempts that will be retried.
    pub retried: u32,
    pub given_up: u32,
}

/// The rank of an alert or channel level; informational and unknown levels rank lowest.
fn level_rank(level: &str) -> u8 {
    match level {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => 0,
    }
}

fn check_level(level: &str) -> Result<String, AppError> {
    if level_rank(level) == 0 {
        return Err(AppError::InvalidInput(
            "min_level must be low, medium, high or critical".into(),
        ));
    }
    Ok(level.to_owned())
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_CHANNEL_NAME
        || name.chars().any(char::is_control)
    {
        return Err(AppError::InvalidInput(format!(
            "name must be 1 to {MAX_CHANNEL_NAME} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// A webhook URL: absolute, `https` (or `http` when allowed), with a host, no credentials and
/// no fragment.
fn check_url(text: &str, allow_http: bool) -> Result<url::Url, AppError> {
    let invalid = |why: &str| AppError::InvalidInput(format!("url: {why}"));
    if text.len() > MAX_WEBHOOK_URL {
        return Err(invalid(&format!("at most {MAX_WEBHOOK_URL} bytes")));
    }
    let url = url::Url::parse(text).map_err(|error| invalid(&format!("not a URL ({error})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(invalid("must be an https URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("needs a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    Ok(url)
}

/// An email address fit for a header: one `@`, a local part and a domain of printable ASCII
/// without spaces, quotes, angle brackets, commas or semicolons.
fn check_recipients(recipients: &[String]) -> Result<Vec<String>, AppError> {
    if recipients.is_empty() || recipients.len() > MAX_CHANNEL_RECIPIENTS {
        return Err(AppError::InvalidInput(format!(
            "recipients: 1 to {MAX_CHANNEL_RECIPIENTS} email addresses"
        )));
    }
    let mut checked: Vec<String> = Vec::with_capacity(recipients.len());
    for (index, address) in recipients.iter().enumerate() {
        let address = address.trim();
        let plain = address.len() <= 254
            && address.bytes().all(|byte| {
                byte.is_ascii_graphic() && !matches!(byte, b'"' | b'<' | b'>' | b',' | b';' | b'\\')
            });
        let well_formed = address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        if !plain || !well_formed {
            return Err(AppError::InvalidInput(format!(
                "recipients[{index}]: not an email address"
            )));
        }
        if !checked.iter().any(|known| known.eq_ignore_ascii_case(address)) {
            checked.push(address.to_owned());
        }
    }
    Ok(checked)
}

/// The URL as shown: its origin, and `/…` for the rest.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin().ascii_serialization();
            let rest = &url[origin.len().min(url.len())..];
            if rest.is_empty() || rest == "/" {
                format!("{origin}/")
            } else {
                format!("{origin}/…")
            }
        }
        Err(_) => String::new(),
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|url| url.host_str().map(str::to_owned)).unwrap_or_default()
}

fn view_of(channel: &NotificationChannelRecord) -> NotificationChannelView {
    NotificationChannelView {
        id: channel.id,
        organization_id: channel.organization_id,
        name: channel.name.clone(),
        kind: channel.kind.clone(),
        url: if channel.url.is_empty() { String::new() } else { shown_url(&channel.url) },
        recipients: channel.recipients.clone(),
        min_level: channel.min_level.clone(),
        enabled: channel.enabled,
        created_at: channel.created_at,
        updated_at: channel.updated_at,
    }
}

/// What the sealed secret is bound to: its channel.
fn secret_associated_data(channel_id: Uuid) -> Vec<u8> {
    [b"rampart-webhook-secret/1".as_slice(), channel_id.as_bytes()].concat()
}

/// The `Rampart-Signature` header of a body sent at `timestamp` (Unix seconds): the
/// hex HMAC-SHA-256, under the channel's secret, of `"<timestamp>.<body>"`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes())
        .map_err(|_| "the webhook secret is not a usable HMAC key".to_owned())?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes())))
}

/// The ATT&CK technique ids among a rule's tags (`attack.t1110.001` → `T1110.001`).
fn attack_techniques(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|tag| tag.strip_prefix("attack."))
        .filter(|rest| {
            rest.strip_prefix('t')
                .is_some_and(|number| number.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(str::to_uppercase)
        .collect()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// The text of an error kept in the log: one line, bounded.
fn bounded_error(error: &str) -> String {
    let line: String = error.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.chars().count() > MAX_ERROR_CHARS {
        let mut cut: String = line.chars().take(MAX_ERROR_CHARS).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// Everything a notification says about its alert.
struct AlertMessage {
    delivery_id: Uuid,
    alert: AlertRecord,
    organization_name: String,
    link: String,
}

impl AlertMessage {
    fn headline(&self) -> String {
        format!(
            "[{}] {} in {}",
            self.alert.level.to_uppercase(),
            self.alert.title,
            self.organization_name
        )
    }

    /// The Slack-compatible body: `text` and `attachments` for chat tools, `rampart` for
    /// programs.
    fn webhook_body(&self) -> Vec<u8> {
        let alert = &self.alert;
        let author = if alert.author.is_empty() { "unknown" } else { alert.author.as_str() };
        let techniques = attack_techniques(&alert.tags);
        let text = format!(
            "{}\nRule: {} (author: {author}), {} detection(s) since {}\n{}",
            self.headline(),
            alert.rule_id,
            alert.count,
            rfc3339(alert.first_seen),
            self.link
        );
        let mut fields = vec![
            serde_json::json!({"title": "Level", "value": alert.level, "short": true}),
            serde_json::json!({"title": "Organisation", "value": self.organization_name, "short": true}),
            serde_json::json!({"title": "Rule author", "value": author, "short": true}),
        ];
        if !techniques.is_empty() {
            fields.push(serde_json::json!({
                "title": "ATT&CK", "value": techniques.join(", "), "short": true
            }));
        }
        if !alert.group_key.is_empty() {
            fields.push(serde_json::json!({
                "title": "Group", "value": alert.group_key, "short": false
            }));
        }
        let color = match alert.level.as_str() {
            "critical" => "#7b1fa2",
            "high" => "#d32f2f",
            "medium" => "#f57c00",
            _ => "#1976d2",
        };
        let body = serde_json::json!({
            "text": text,
            "attachments": [{
                "color": color,
                "title": alert.title,
                "title_link": self.link,
                "fields": fields,
                "ts": alert.first_seen.unix_timestamp(),
            }],
            "rampart": {
                "delivery_id": self.delivery_id,
                "alert_id": alert.id,
                "rule_id": alert.rule_id,
                "title": alert.title,
                "level": alert.level,
                "tags": alert.tags,
                "attack": techniques,
                "author": alert.author,
                "organization": {
                    "id": alert.organization_id.to_string(),
                    "name": self.organization_name,
                },
                "time": rfc3339(alert.first_seen),
                "count": alert.count,
                "group_key": alert.group_key,
                "link": self.link,
            },
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn email(&self, to: &str) -> Email {
        let alert = &self.alert;
        let author = if alert.author.is_empty() { "unknown" } else { alert.author.as_str() };
        let techniques = attack_techniques(&alert.tags);
        let mut body = format!(
            "Rampart raised an alert.\n\n\
             Title:         {}\n\
             Level:         {}\n\
             Organisation:  {} ({})\n\
             Rule:          {}\n\
             Rule author:   {author}\n\
             First seen:    {}\n\
             Detections:    {}\n",
            alert.title,
            alert.level,
            self.organization_name,
            alert.organization_id,
            alert.rule_id,
            rfc3339(alert.first_seen),
            alert.count,
        );
        if !techniques.is_empty() {
            body.push_str(&format!("ATT&CK:        {}\n", techniques.join(", ")));
        }
        if !alert.group_key.is_empty() {
            body.push_str(&format!("Group:         {}\n", alert.group_key));
        }
        body.push_str(&format!(
            "\nTriage it: {}\n\nAlert {}, delivery {}\n",
            self.link, alert.id, self.delivery_id
        ));
        Email { to: to.to_owned(), subject: format!("[Rampart] {}", self.headline()), body }
    }
}

impl App {
    /// Send webhooks through this transport, with these settings.
    pub fn with_notifications(
        mut self,
        transport: std::sync::Arc<dyn WebhookTransport>,
        settings: NotificationSettings,
    ) -> Self {
        self.notifications = std::sync::Arc::new(NotificationState { transport, settings });
        self
    }

    fn seal_webhook_secret(&self, channel_id: Uuid) -> Result<(String, Vec<u8>), AppError> {
        let secret = crate::secrets::new_secret(SECRET_PREFIX);
        let sealed =
            self.audit.master_key.seal(secret.as_bytes(), &secret_associated_data(channel_id))?;
        Ok((secret, sealed))
    }

    fn open_webhook_secret(&self, channel: &NotificationChannelRecord) -> Result<String, AppError> {
        let bytes = self
            .audit
            .master_key
            .open(&channel.sealed_secret, &secret_associated_data(channel.id))?;
        String::from_utf8(bytes).map_err(|_| AppError::Internal("stored webhook secret".into()))
    }

    /// Create a channel (privileged, recent authentication). A webhook's signing secret is in
    /// the answer, and never again.
    pub async fn create_notification_channel(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: NotificationChannelInput,
        context: &RequestContext,
    ) -> Result<CreatedNotificationChannel, AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:manage", context)
            .await?;
        self.require_recent_authentication(principal).await?;
        let name = check_name(&input.name)?;
        let min_level = check_level(input.min_level.as_deref().unwrap_or("high"))?;
        let now = self.clock.now();
        let id = crate::secrets::new_id(now);
        let (url, recipients, secret, sealed_secret) = match input.kind.as_str() {
            "webhook" => {
                if !input.recipients.is_empty() {
                    return Err(AppError::InvalidInput(
                        "recipients: only for email channels".into(),
                    ));
                }
                let url = input
                    .url
                    .as_deref()
                    .ok_or_else(|| AppError::InvalidInput("url: a webhook needs one".into()))?;
                let url = check_url(url, self.notifications.settings.allow_http)?;
                let (secret, sealed) = self.seal_webhook_secret(id)?;
                (url.to_string(), Vec::new(), Some(secret), sealed)
            }
            "email" => {
                if input.url.is_some() {
                    return Err(AppError::InvalidInput("url: only for webhook channels".into()));
                }
                (String::new(), check_recipients(&input.recipients)?, None, Vec::new())
            }
            _ => return Err(AppError::InvalidInput("kind must be webhook or email".into())),
        };
        let channel = NotificationChannelRecord {
            id,
            organization_id,
            name,
            kind: input.kind.clone(),
            url,
            recipients,
            min_level,
            enabled: input.enabled.unwrap_or(true),
            sealed_secret,
            created_at: now,
            updated_at: now,
        };
        let mut transaction = self.store.begin().await?;
        let existing = transaction.list_notification_channels(organization_id).await?;
        if existing.len() >= MAX_NOTIFICATION_CHANNELS {
            return Err(AppError::Conflict(format!(
                "an organisation has at most {MAX_NOTIFICATION_CHANNELS} notification channels; \
                 delete one first"
            )));
        }
        transaction.insert_notification_channel(&channel).await?;
        let event = self.channel_event(principal, &channel, "create", context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(CreatedNotificationChannel { channel: view_of(&channel), secret })
    }

    fn channel_event(
        &self,
        principal: &Principal,
        channel: &NotificationChannelRecord,
        verb: &str,
        context: &RequestContext,
    ) -> base::AuditEvent {
        let mut event = self.success_event(
            principal,
            channel.organization_id,
            &format!("detect.notification_channel.{verb}"),
            Resource::new("notification_channel", channel.id),
            context,
        );
        event.privileged = true;
        event.details.insert("kind".into(), channel.kind.clone().into());
        if verb != "delete" {
            event.details.insert("min_level".into(), channel.min_level.clone().into());
            event.details.insert("enabled".into(), channel.enabled.into());
            if channel.kind == "webhook" {
                event.details.insert("host".into(), host_of(&channel.url).into());
            } else {
                event.details.insert("n_recipients".into(), channel.recipients.len().into());
            }
        }
        event
    }

    /// The organisation's channels, oldest first, without secrets.
    pub async fn list_notification_channels(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<NotificationChannelView>, AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:read", context).await?;
        let mut read = self.store.read().await?;
        let channels = read.list_notification_channels(organization_id).await?;
        read.commit().await?;
        Ok(channels.iter().map(view_of).collect())
    }

    pub async fn get_notification_channel(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<NotificationChannelView, AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:read", context).await?;
        let mut read = self.store.read().await?;
        let channel = read
            .get_notification_channel(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("notification channel"))?;
        read.commit().await?;
        Ok(view_of(&channel))
    }

    /// Change a channel's name, URL, recipients, level or enabled flag (privileged, recent
    /// authentication). Its kind and secret stay.
    pub async fn update_notification_channel(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        patch: NotificationChannelPatch,
        context: &RequestContext,
    ) -> Result<NotificationChannelView, AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:manage", context)
            .await?;
        self.require_recent_authentication(principal).await?;
        let mut transaction = self.store.begin().await?;
        let mut channel = transaction
            .get_notification_channel(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("notification channel"))?;
        if let Some(name) = &patch.name {
            channel.name = check_name(name)?;
        }
        if let Some(level) = &patch.min_level {
            channel.min_level = check_level(level)?;
        }
        if let Some(enabled) = patch.enabled {
            channel.enabled = enabled;
        }
        match channel.kind.as_str() {
            "webhook" => {
                if patch.recipients.is_some() {
                    return Err(AppError::InvalidInput(
                        "recipients: only for email channels".into(),
                    ));
                }
                if let Some(url) = &patch.url {
                    channel.url =
                        check_url(url, self.notifications.settings.allow_http)?.to_string();
                }
            }
            _ => {
                if patch.url.is_some() {
                    return Err(AppError::InvalidInput("url: only for webhook channels".into()));
                }
                if let Some(recipients) = &patch.recipients {
                    channel.recipients = check_recipients(recipients)?;
                }
            }
        }
        channel.updated_at = self.clock.now();
        transaction.update_notification_channel(&channel).await?;
        let event = self.channel_event(principal, &channel, "update", context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(view_of(&channel))
    }

    /// Delete a channel (privileged, recent authentication). Its queued notifications are
    /// given up when their turn comes.
    pub async fn delete_notification_channel(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:manage", context)
            .await?;
        self.require_recent_authentication(principal).await?;
        let mut transaction = self.store.begin().await?;
        let channel = transaction
            .get_notification_channel(organization_id, id)
            .await?
            .ok_or(AppError::NotFound("notification channel"))?;
        transaction.delete_notification_channel(organization_id, id).await?;
        let event = self.channel_event(principal, &channel, "delete", context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The delivery log, newest first: delivered and given-up notifications.
    pub async fn list_notification_deliveries(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        limit: u32,
        context: &RequestContext,
    ) -> Result<Vec<DeliveryRecord>, AppError> {
        self.authorize_in(principal, organization_id, "detect:notifications:read", context).await?;
        let mut read = self.store.read().await?;
        let deliveries =
            read.list_deliveries(organization_id, limit.clamp(1, MAX_DELIVERIES_PER_PAGE)).await?;
        read.commit().await?;
        Ok(deliveries)
    }

    /// Queue the notifications of a new alert, in the transaction that raised it: one per
    /// enabled channel whose minimum level the alert reaches (one per address for email).
    pub(crate) async fn queue_alert_notifications(
        &self,
        transaction: &mut Transaction,
        alert: &AlertRecord,
    ) -> Result<u32, AppError> {
        let rank = level_rank(&alert.level);
        if rank == 0 {
            return Ok(0);
        }
        let now = self.clock.now();
        let channels = transaction.list_notification_channels(alert.organization_id).await?;
        let mut n_queued = 0;
        for channel in channels
            .iter()
            .filter(|channel| channel.enabled && rank >= level_rank(&channel.min_level))
        {
            let targets = if channel.kind == "webhook" {
                vec![host_of(&channel.url)]
            } else {
                channel.recipients.clone()
            };
            for target in targets {
                transaction
                    .queue_notification(&QueuedNotificationRecord {
                        id: crate::secrets::new_id(now),
                        organization_id: alert.organization_id,
                        alert_id: alert.id,
                        channel_id: channel.id,
                        channel: channel.kind.clone(),
                        target,
                        attempts: 0,
                        next_attempt_at: now,
                        last_error: String::new(),
                        created_at: now,
                    })
                    .await?;
                n_queued += 1;
            }
        }
        Ok(n_queued)
    }

    /// Attempt every queued notification that is due; the background task calls this
    /// periodically, tests call it to deliver deterministically.
    pub async fn dispatch_notifications_once(&self) -> Result<NotificationPass, AppError> {
        let mut pass = NotificationPass::default();
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let due = transaction.due_notifications(now, DISPATCH_BATCH).await?;
        let mut claimed = Vec::with_capacity(due.len());
        for notification in due {
            let taken = transaction
                .claim_notification(
                    notification.id,
                    notification.next_attempt_at,
                    now + CLAIM_LEASE,
                )
                .await?;
            if taken {
                claimed.push(notification);
            }
        }
        transaction.commit().await?;
        for notification in claimed {
            match self.attempt_notification(&notification).await? {
                Attempt::Delivered => pass.delivered += 1,
                Attempt::Retry => pass.retried += 1,
                Attempt::GivenUp => pass.given_up += 1,
            }
        }
        Ok(pass)
    }

    async fn attempt_notification(
        &self,
        notification: &QueuedNotificationRecord,
    ) -> Result<Attempt, AppError> {
        let attempts = notification.attempts.saturating_add(1);
        let settings = &self.notifications.settings;
        let outcome = match self.prepare_message(notification).await? {
            Prepared::Send(channel, message) => self.send(notification, &channel, &message).await,
            Prepared::Drop(reason) => {
                // Nothing left to send to: give up now, whatever the attempts left.
                self.finish_notification(notification, attempts, Err(reason)).await?;
                return Ok(Attempt::GivenUp);
            }
        };
        match outcome {
            Ok(()) => {
                self.finish_notification(notification, attempts, Ok(())).await?;
                Ok(Attempt::Delivered)
            }
            Err(error) if attempts >= settings.max_attempts.max(1) => {
                self.finish_notification(notification, attempts, Err(error)).await?;
                Ok(Attempt::GivenUp)
            }
            Err(error) => {
                let exponent = attempts.saturating_sub(1).min(16);
                let wait = settings.retry_after.checked_mul(1 << exponent).unwrap_or(Duration::DAY);
                let next = self.clock.now() + wait;
                let mut transaction = self.store.begin().await?;
                transaction
                    .reschedule_notification(
                        notification.id,
                        attempts,
                        next,
                        &bounded_error(&error),
                    )
                    .await?;
                transaction.commit().await?;
                tracing::info!(delivery = %notification.id, attempts, %error, "notification will be retried");
                Ok(Attempt::Retry)
            }
        }
    }

    /// The channel and the message of a queued notification, or why it cannot be sent.
    async fn prepare_message(
        &self,
        notification: &QueuedNotificationRecord,
    ) -> Result<Prepared, AppError> {
        let mut read = self.store.read().await?;
        let channel = read
            .get_notification_channel(notification.organization_id, notification.channel_id)
            .await?;
        let alert = read.get_alert(notification.organization_id, notification.alert_id).await?;
        let organization = read.get_organization(notification.organization_id).await?;
        read.commit().await?;
        let Some(channel) = channel else {
            return Ok(Prepared::Drop("the channel was deleted".into()));
        };
        if !channel.enabled {
            return Ok(Prepared::Drop("the channel was disabled".into()));
        }
        let Some(alert) = alert else {
            return Ok(Prepared::Drop("the alert no longer exists".into()));
        };
        let organization_name = organization
            .map(|organization| organization.name.as_str().to_owned())
            .unwrap_or_default();
        let link = format!(
            "{}/v1/organizations/{}/alerts/{}",
            self.identity.public_url, alert.organization_id, alert.id
        );
        let message = AlertMessage { delivery_id: notification.id, alert, organization_name, link };
        Ok(Prepared::Send(Box::new(channel), Box::new(message)))
    }

    async fn send(
        &self,
        notification: &QueuedNotificationRecord,
        channel: &NotificationChannelRecord,
        message: &AlertMessage,
    ) -> Result<(), String> {
        if channel.kind == "webhook" {
            let secret = self.open_webhook_secret(channel).map_err(|error| error.to_string())?;
            let body = message.webhook_body();
            let signature = webhook_signature(&secret, self.clock.now().unix_timestamp(), &body)?;
            let request = WebhookRequest {
                url: channel.url.clone(),
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Rampart-Signature".into(), signature),
                    ("Rampart-Delivery".into(), notification.id.to_string()),
                ],
                body,
            };
            self.notifications.transport.post(request).await
        } else {
            self.identity.mailer.send(message.email(&notification.target)).await
        }
    }

    /// Take a notification off the queue and log its delivery or that it was given up, with
    /// its audit entry, in one transaction.
    async fn finish_notification(
        &self,
        notification: &QueuedNotificationRecord,
        attempts: u32,
        outcome: Result<(), String>,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let delivered = outcome.is_ok();
        let last_error = outcome.err().map(|error| bounded_error(&error)).unwrap_or_default();
        let mut transaction = self.store.begin().await?;
        if !transaction.dequeue_notification(notification.id).await? {
            // Another dispatcher finished it meanwhile.
            return Ok(());
        }
        transaction
            .insert_delivery(&DeliveryRecord {
                id: notification.id,
                organization_id: notification.organization_id,
                alert_id: notification.alert_id,
                channel: notification.channel.clone(),
                target: notification.target.clone(),
                attempts,
                delivered,
                last_error: last_error.clone(),
                at: now,
            })
            .await?;
        let action =
            if delivered { "detect.notification.deliver" } else { "detect.notification.give_up" };
        let mut event = self.event(
            &Actor::System,
            notification.organization_id,
            action,
            Resource::new("notification", notification.id),
        );
        event.details.insert("alert_id".into(), notification.alert_id.to_string().into());
        event.details.insert("channel_id".into(), notification.channel_id.to_string().into());
        event.details.insert("channel".into(), notification.channel.clone().into());
        event.details.insert("attempts".into(), attempts.into());
        if !delivered {
            event.outcome = base::Outcome::Failed { reason: "not_delivered".into() };
            event.details.insert("error".into(), last_error.clone().into());
            tracing::warn!(delivery = %notification.id, attempts, error = %last_error, "notification given up");
        }
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }
}

enum Prepared {
    Send(Box<NotificationChannelRecord>, Box<AlertMessage>),
    Drop(String),
}

enum Attempt {
    Delivered,
    Retry,
    GivenUp,
}

/// Used by the binary: dispatch due notifications until the task is dropped.
pub async fn run_notifications_every(app: App, every: std::time::Duration) {
    loop {
        if let Err(error) = app.dispatch_notifications_once().await {
            tracing::error!(%error, "notification dispatch failed");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_their_path() {
        assert!(check_url("https://hooks.example/services/T0/B0/secret", false).is_ok());
        for bad in [
            "http://hooks.example/x",
            "ftp://hooks.example/x",
            "https://user:pass@hooks.example/x",
            "https://hooks.example/x#frag",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert_eq!(
            shown_url("https://hooks.example/services/T0/B0/secret"),
            "https://hooks.example/…"
        );
        assert_eq!(shown_url("https://hooks.example:8443"), "https://hooks.example:8443/");
    }

    #[test]
    fn recipients_must_be_plain_addresses() {
        assert_eq!(
            check_recipients(&["soc@acme.example".into(), "SOC@acme.example".into()]).unwrap(),
            ["soc@acme.example"]
        );
        for bad in [
            "soc",
            "@acme.example",
            "soc@",
            "a b@acme.example",
            "a@b@c",
            "x@acme.example\r\nBcc: y@z",
        ] {
            assert!(check_recipients(&[bad.into()]).is_err(), "{bad:?}");
        }
        assert!(check_recipients(&[]).is_err());
    }

    #[test]
    fn techniques_come_from_attack_tags() {
        let tags: Vec<String> =
            ["attack.credential-access", "attack.t1110.001", "attack.t1098", "cve.2024"]
                .map(String::from)
                .into();
        assert_eq!(attack_techniques(&tags), ["T1110.001", "T1098"]);
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Independent value: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            webhook_signature("key", 1_700_000_000, b"{}").unwrap(),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
