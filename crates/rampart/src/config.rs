//! The typed configuration: a TOML file (every key documented in `docs/configuration.md`),
//! overlaid by `RAMPART_*` environment variables, validated before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP API listens on.
    pub listen: String,
    /// Where the embedded database and other local state live.
    pub data_dir: PathBuf,
    /// A `postgres://` URL to use PostgreSQL instead of the embedded SQLite database.
    pub database_url: Option<String>,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub passwords: PasswordConfig,
    pub auth: AuthConfig,
    pub passkeys: PasskeysConfig,
    pub audit: AuditConfig,
    pub bootstrap: BootstrapConfig,
    /// The `security.txt` (RFC 9116) served at `/.well-known/security.txt`; none when absent.
    pub security_txt: Option<SecurityTxtConfig>,
    pub incidents: IncidentsConfig,
    pub intake: crate::intake_config::IntakeConfig,
    pub rules: crate::intake_config::RulesConfig,
    pub notifications: NotificationsConfig,
    /// The SMTP server mail goes through when `auth.mail` is `smtp`.
    pub smtp: Option<SmtpConfig>,
}

/// How alert notifications are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Send webhooks to loopback, private, link-local, shared (CGNAT), multicast and other
    /// reserved addresses too (tests, or receivers inside a closed network). Off: such
    /// targets are refused when sending.
    pub allow_private_targets: bool,
    /// Accept `http://` webhook URLs; off: `https://` only.
    pub allow_http: bool,
    /// Attempts before a notification is given up.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub retry_seconds: u64,
    /// How long one webhook request may take.
    pub timeout_seconds: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            allow_http: false,
            max_attempts: 3,
            retry_seconds: 30,
            timeout_seconds: 5,
        }
    }
}

/// The SMTP relay. The password never appears in the file: it is read from the environment
/// variable or the file named here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub port: Option<u16>,
    /// `starttls` (required, the default), `tls` (implicit TLS) or `none` (only to a
    /// loopback host).
    pub tls: String,
    pub username: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// The file holding the password (trailing newlines dropped).
    pub password_file: Option<PathBuf>,
    /// The sender address (`Rampart <rampart@example.org>` or a plain address).
    pub from: String,
    /// How long one SMTP exchange may take.
    pub timeout_seconds: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            tls: "starttls".into(),
            username: None,
            password_env: None,
            password_file: None,
            from: String::new(),
            timeout_seconds: 10,
        }
    }
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls.as_str() {
            "tls" => 465,
            "none" => 25,
            _ => 587,
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.host.is_empty() {
            bail!("invalid value for `smtp.host`: the SMTP server's name or address is needed");
        }
        match self.tls.as_str() {
            "starttls" | "tls" => {}
            "none" if is_loopback_host(&self.host) => {}
            "none" => bail!(
                "invalid value for `smtp.tls` (\"none\"): mail in clear text only goes to a \
                 loopback host (127.0.0.1, ::1, localhost); use \"starttls\" or \"tls\""
            ),
            other => {
                bail!("invalid value for `smtp.tls` ({other:?}): \"starttls\", \"tls\" or \"none\"")
            }
        }
        if !self.from.contains('@') {
            bail!("invalid value for `smtp.from` ({:?}): an email address", self.from);
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            bail!("`smtp.password_env` and `smtp.password_file`: give one, not both");
        }
        if (self.password_env.is_some() || self.password_file.is_some()) && self.username.is_none()
        {
            bail!("`smtp.username` is needed with a password");
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 300 {
            bail!("invalid value for `smtp.timeout_seconds`: 1 to 300");
        }
        Ok(())
    }

    /// The password, from the environment variable or the file named.
    pub fn password(
        &self,
        environment: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<String>> {
        if let Some(name) = &self.password_env {
            let password = environment(name)
                .filter(|value| !value.is_empty())
                .with_context(|| format!("`smtp.password_env`: the variable {name} is not set"))?;
            return Ok(Some(password));
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("`smtp.password_file`: cannot read {}", path.display()))?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        Ok(None)
    }
}

/// Whether a host name or address is the local machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Names this deployment: the checkpoint signer's name and the prefix of each
    /// organisation's log origin (`<name>/audit/<organization id>`). No spaces, no `+`.
    pub deployment_name: String,
    /// The file holding the master key that seals signing keys (created on first start).
    /// Default: `master.key` in the data directory. `RAMPART_MASTER_KEY` (base64) overrides.
    pub master_key_file: Option<PathBuf>,
    /// Seconds between two integrity checks of the audit logs (0 disables).
    pub integrity_check_seconds: u64,
    /// How many of each log's latest entries the integrity check re-hashes.
    pub integrity_recent_entries: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            deployment_name: "rampart".into(),
            master_key_file: None,
            integrity_check_seconds: 300,
            integrity_recent_entries: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// How long a verified API key is trusted without asking the store again (0 disables).
    /// A key revoked on this node is refused at once; on other replicas within this bound,
    /// which also bounds how long another replica's policy change takes to apply here.
    pub api_key_cache_seconds: u64,
    /// A session unused this long ends (the automatic lock).
    pub session_idle_minutes: u64,
    /// A session ends this long after login, however busy.
    pub session_lifetime_hours: u64,
    /// Sensitive actions need an authentication younger than this.
    pub step_up_minutes: u64,
    /// The base URL that links in emails point to.
    pub public_url: String,
    /// Where mail goes: `outbox` writes each message as a file under `<data_dir>/outbox`;
    /// `smtp` sends it through the `[smtp]` server.
    pub mail: String,
    /// `open`: anyone may sign a customer organisation up (email verified, rate-limited per
    /// IP); `closed`: accounts come only by invitation.
    pub signup: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            api_key_cache_seconds: 2,
            session_idle_minutes: 30,
            session_lifetime_hours: 12,
            step_up_minutes: 10,
            public_url: "http://127.0.0.1:8080".into(),
            mail: "outbox".into(),
            signup: "closed".into(),
        }
    }
}

/// The WebAuthn relying party. Both keys follow `auth.public_url` unless set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeysConfig {
    /// The domain passkeys are bound to (default: the host of `auth.public_url`). Changing it
    /// later makes every registered passkey unusable.
    pub rp_id: Option<String>,
    /// The origins (`https://host[:port]`) allowed to use them, each on `rp_id` or one of its
    /// subdomains (default: the origin of `auth.public_url`).
    pub origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: String,
    /// A tracing filter: `info`, `debug`, `rampart=debug,sqlx=warn`, …
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    pub request_timeout_seconds: u64,
    /// How long in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait their turn.
    pub max_concurrent_hashes: usize,
    /// A file of peppers (`ID SECRET` lines, the first one current), mode 0600; none by
    /// default. Every hash made with a pepper needs it to verify: keep the file backed up
    /// apart from the database.
    pub pepper_file: Option<PathBuf>,
    /// A folder of breached-password range files (one per SHA-1 prefix, `ABCDE.txt`); new
    /// passwords listed there are refused. None by default.
    pub breached_ranges_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// Name of the provider organisation a first start creates.
    pub organization_name: String,
    /// Email of the owner a first start creates.
    pub owner_email: String,
}

/// The fields of the published `security.txt`. The server refuses to start when they are
/// invalid or `expires` has passed or is a year or more ahead.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityTxtConfig {
    /// Where to report: `mailto:`, `tel:` or `https:` URIs; at least one.
    pub contact: Vec<String>,
    /// RFC 3339 time, less than a year ahead.
    pub expires: String,
    /// The disclosure policy (https URIs).
    pub policy: Vec<String>,
    /// Language tags reports are read in (`en`, `fr`).
    pub preferred_languages: Vec<String>,
    /// Keys to encrypt reports with (URIs).
    pub encryption: Vec<String>,
    /// Where this file is published (https URIs).
    pub canonical: Vec<String>,
    pub acknowledgments: Vec<String>,
    pub hiring: Vec<String>,
}

impl SecurityTxtConfig {
    /// The record to publish, checked at `now`; every problem is named.
    pub fn record(&self, now: time::OffsetDateTime) -> anyhow::Result<app::SecurityTxt> {
        let expires = time::OffsetDateTime::parse(
            &self.expires,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| {
            anyhow::anyhow!(
                "invalid value for `security_txt.expires` ({:?}): an RFC 3339 time such as \
                 2027-01-31T00:00:00Z",
                self.expires
            )
        })?;
        let mut record = app::SecurityTxt::new("", expires);
        record.contact.clone_from(&self.contact);
        record.policy.clone_from(&self.policy);
        record.preferred_languages.clone_from(&self.preferred_languages);
        record.encryption.clone_from(&self.encryption);
        record.canonical.clone_from(&self.canonical);
        record.acknowledgments.clone_from(&self.acknowledgments);
        record.hiring.clone_from(&self.hiring);
        let problems = record.problems(now);
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!("invalid `security_txt`: {}", list.join("; "));
        }
        Ok(record)
    }
}

/// Incident response settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// Public reports accepted per client address per hour.
    pub reports_per_client_per_hour: u32,
    /// Public reports accepted per hour in all.
    pub reports_per_hour: u32,
    /// Seconds between two checks of the GDPR Article 33 deadlines and the security.txt expiry.
    pub deadline_check_seconds: u64,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self { reports_per_client_per_hour: 5, reports_per_hour: 100, deadline_check_seconds: 300 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./rampart-data"),
            database_url: None,
            log: LogConfig::default(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            passwords: PasswordConfig::default(),
            auth: AuthConfig::default(),
            passkeys: PasskeysConfig::default(),
            audit: AuditConfig::default(),
            bootstrap: BootstrapConfig::default(),
            security_txt: None,
            incidents: IncidentsConfig::default(),
            intake: crate::intake_config::IntakeConfig::default(),
            rules: crate::intake_config::RulesConfig::default(),
            notifications: NotificationsConfig::default(),
            smtp: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "human".into(), level: "info".into() }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout_seconds: 30,
            shutdown_grace_seconds: 30,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { max_connections: 8, busy_timeout_ms: 5_000 }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 2,
            pepper_file: None,
            breached_ranges_dir: None,
        }
    }
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self { organization_name: "Rampart".into(), owner_email: "admin@localhost".into() }
    }
}

/// The environment variables that override file settings.
const OVERRIDES: &[&str] = &[
    "RAMPART_LISTEN",
    "RAMPART_DATA_DIR",
    "RAMPART_DATABASE_URL",
    "RAMPART_LOG_FORMAT",
    "RAMPART_LOG_LEVEL",
];

impl Config {
    /// Read the file (when given), apply the environment, validate.
    pub fn load(
        file: Option<&Path>,
        environment: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                Self::parse(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Self::default(),
        };
        for name in OVERRIDES {
            if let Some(value) = environment(name) {
                config.set_from_environment(name, value);
            }
        }
        config.validate()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    fn set_from_environment(&mut self, name: &str, value: String) {
        match name {
            "RAMPART_LISTEN" => self.listen = value,
            "RAMPART_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "RAMPART_DATABASE_URL" => self.database_url = Some(value).filter(|url| !url.is_empty()),
            "RAMPART_LOG_FORMAT" => self.log.format = value,
            "RAMPART_LOG_LEVEL" => self.log.level = value,
            _ => {}
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.listen.parse::<SocketAddr>().is_err() {
            bail!(
                "invalid value for `listen` ({:?}): expected IP:PORT such as 127.0.0.1:8080",
                self.listen
            );
        }
        if !matches!(self.log.format.as_str(), "human" | "json") {
            bail!(
                "invalid value for `log.format` ({:?}): expected \"human\" or \"json\"",
                self.log.format
            );
        }
        if let Some(url) = &self.database_url {
            let known = ["postgres://", "postgresql://", "sqlite:"];
            if !known.iter().any(|prefix| url.starts_with(prefix)) {
                bail!("invalid value for `database_url`: expected a postgres:// or sqlite: URL");
            }
        }
        if self.http.max_body_bytes == 0 {
            bail!("invalid value for `http.max_body_bytes`: must be at least 1");
        }
        let name = &self.audit.deployment_name;
        if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
            bail!(
                "invalid value for `audit.deployment_name` ({name:?}): non-empty, no spaces, no `+`"
            );
        }
        if self.auth.session_idle_minutes == 0 || self.auth.session_lifetime_hours == 0 {
            bail!(
                "invalid value for `auth.session_idle_minutes`/`auth.session_lifetime_hours`: at least 1"
            );
        }
        if self.auth.step_up_minutes == 0 || self.auth.step_up_minutes > 60 {
            bail!("invalid value for `auth.step_up_minutes`: 1 to 60");
        }
        if !matches!(self.auth.signup.as_str(), "open" | "closed") {
            bail!(
                "invalid value for `auth.signup` ({:?}): \"open\" or \"closed\"",
                self.auth.signup
            );
        }
        match (self.auth.mail.as_str(), &self.smtp) {
            ("outbox", _) => {}
            ("smtp", Some(_)) => {}
            ("smtp", None) => bail!("`auth.mail` is \"smtp\": the `[smtp]` table is needed"),
            (other, _) => {
                bail!("invalid value for `auth.mail` ({other:?}): \"outbox\" or \"smtp\"")
            }
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate()?;
        }
        let notifications = &self.notifications;
        if notifications.max_attempts == 0 || notifications.max_attempts > 10 {
            bail!("invalid value for `notifications.max_attempts`: 1 to 10");
        }
        if notifications.retry_seconds == 0 || notifications.retry_seconds > 3600 {
            bail!("invalid value for `notifications.retry_seconds`: 1 to 3600");
        }
        if notifications.timeout_seconds == 0 || notifications.timeout_seconds > 60 {
            bail!("invalid value for `notifications.timeout_seconds`: 1 to 60");
        }
        if !self.auth.public_url.starts_with("http://")
            && !self.auth.public_url.starts_with("https://")
        {
            bail!("invalid value for `auth.public_url`: an http(s) URL");
        }
        self.relying_party()?;
        if self.auth.api_key_cache_seconds > 60 {
            bail!("invalid value for `auth.api_key_cache_seconds`: at most 60");
        }
        if self.database.max_connections == 0 {
            bail!("invalid value for `database.max_connections`: must be at least 1");
        }
        if self.incidents.reports_per_client_per_hour == 0
            || self.incidents.reports_per_hour < self.incidents.reports_per_client_per_hour
        {
            bail!(
                "invalid value for `incidents.reports_per_client_per_hour`/`reports_per_hour`: \
                 at least 1, and the global limit at least the per-client one"
            );
        }
        if self.incidents.deadline_check_seconds == 0 {
            bail!("invalid value for `incidents.deadline_check_seconds`: at least 1");
        }
        if self.passwords.argon2_memory_kib < 8 * 1024 || self.passwords.argon2_iterations == 0 {
            bail!(
                "invalid value for `passwords.argon2_memory_kib`/`argon2_iterations`: at least \
                 8192 KiB and 1 iteration"
            );
        }
        if let Some(folder) = &self.passwords.breached_ranges_dir
            && !folder.is_dir()
        {
            bail!(
                "invalid value for `passwords.breached_ranges_dir`: {} is not a folder",
                folder.display()
            );
        }
        self.intake.validate()?;
        self.rules.validate()?;
        Ok(())
    }

    /// The passkeys' relying party; `None` when neither `[passkeys]` nor a public URL with a
    /// domain name gives one (passkeys are then off).
    pub fn relying_party(&self) -> anyhow::Result<Option<app::RelyingParty>> {
        app::RelyingParty::configure(
            &self.auth.public_url,
            self.passkeys.rp_id.as_deref(),
            &self.passkeys.origins,
        )
        .map_err(|error| anyhow::anyhow!("invalid value for `passkeys`: {error}"))
    }

    pub fn listen_address(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().context("invalid value for `listen`")
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.audit.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The database to open: the configured URL, or `rampart.db` in the data directory.
    pub fn database_location(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => self.data_dir.join("rampart.db").display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_environment(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn security_txt_is_checked_and_an_expired_one_refused() {
        let config = Config::parse(
            "[security_txt]\ncontact = [\"mailto:security@provider.example\"]\n\
             expires = \"2027-01-31T00:00:00Z\"\npolicy = [\"https://provider.example/policy\"]\n\
             preferred_languages = [\"en\"]\n",
        )
        .unwrap();
        let security_txt = config.security_txt.unwrap();
        let now = time::macros::datetime!(2026-06-01 00:00 UTC);
        let record = security_txt.record(now).unwrap();
        let parsed = app::SecurityTxt::parse(&record.render(), now).unwrap();
        assert_eq!(parsed, record);
        let error = security_txt.record(time::macros::datetime!(2027-02-01 00:00 UTC)).unwrap_err();
        assert!(format!("{error:#}").contains("Expires: is in the past"), "{error:#}");
        let far = time::macros::datetime!(2025-06-01 00:00 UTC);
        assert!(format!("{:#}", security_txt.record(far).unwrap_err()).contains("a year"));
        let mut bad = security_txt.clone();
        bad.contact = vec!["http://provider.example/report".into()];
        assert!(format!("{:#}", bad.record(now).unwrap_err()).contains("Contact"));
        bad.expires = "tomorrow".into();
        assert!(format!("{:#}", bad.record(now).unwrap_err()).contains("security_txt.expires"));
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load(None, no_environment).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_location(), "./rampart-data/rampart.db");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = Config::parse("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
        assert!(format!("{error:#}").contains("listen_port"), "{error:#}");
        let error = Config::parse("[log]\nformatt = \"json\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("formatt"), "{error:#}");
    }

    #[test]
    fn a_bad_value_is_named() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("rampart.toml");
        std::fs::write(&path, "listen = \"nowhere\"\n").unwrap();
        let error = Config::load(Some(&path), no_environment).unwrap_err();
        assert!(format!("{error:#}").contains("`listen`"), "{error:#}");
        let error = Config::parse("[http]\nmax_body_bytes = \"big\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("max_body_bytes"), "{error:#}");
    }

    fn load_text(text: &str) -> anyhow::Result<Config> {
        let directory = tempfile::tempdir()?;
        let path = directory.path().join("rampart.toml");
        std::fs::write(&path, text)?;
        Config::load(Some(&path), no_environment)
    }

    #[test]
    fn passkeys_follow_the_public_url_unless_configured() {
        // The default public URL is an address: passkeys are off, and that is no error.
        assert!(Config::load(None, no_environment).unwrap().relying_party().unwrap().is_none());

        let config =
            load_text("[auth]\npublic_url = \"https://rampart.example.com/console\"\n").unwrap();
        let relying_party = config.relying_party().unwrap().unwrap();
        assert_eq!(relying_party.rp_id(), "rampart.example.com");
        assert_eq!(relying_party.origins(), ["https://rampart.example.com"]);

        let config = load_text(
            "[auth]\npublic_url = \"https://rampart.example.com\"\n[passkeys]\n\
             rp_id = \"example.com\"\n\
             origins = [\"https://rampart.example.com\", \"https://console.example.com:8443\"]\n",
        )
        .unwrap();
        let relying_party = config.relying_party().unwrap().unwrap();
        assert_eq!(relying_party.rp_id(), "example.com");
        assert_eq!(relying_party.origins().len(), 2);

        for bad in [
            "[passkeys]\norigins = [\"https://rampart.example.com\"]\n",
            "[auth]\npublic_url = \"https://rampart.example.com\"\n[passkeys]\nrp_id = \"other.example\"\n",
            "[auth]\npublic_url = \"https://rampart.example.com\"\n[passkeys]\norigins = [\"ftp://rampart.example.com\"]\n",
            "[auth]\npublic_url = \"https://rampart.example.com\"\n[passkeys]\norigins = [\"https://rampart.example.com/login\"]\n",
            "[auth]\npublic_url = \"https://rampart.example.com\"\n[passkeys]\nrp_id = \"192.0.2.7\"\n",
        ] {
            let error = load_text(bad).unwrap_err();
            assert!(format!("{error:#}").contains("`passkeys`"), "{bad}: {error:#}");
        }
        assert!(Config::parse("[passkeys]\nrpid = \"x\"\n").is_err());
    }

    #[test]
    fn smtp_is_checked_and_clear_text_only_goes_to_loopback() {
        let parse = |text: &str| -> anyhow::Result<Config> {
            let config = Config::parse(text)?;
            config.validate()?;
            Ok(config)
        };
        let error = parse("[auth]\nmail = \"smtp\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("[smtp]"), "{error:#}");
        let error = parse("[auth]\nmail = \"sendmail\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("auth.mail"), "{error:#}");
        let smtp = "[auth]\nmail = \"smtp\"\n[smtp]\nfrom = \"rampart@provider.example\"\n";
        let config = parse(&format!("{smtp}host = \"mail.provider.example\"\n")).unwrap();
        let relay = config.smtp.unwrap();
        assert_eq!((relay.tls.as_str(), relay.port()), ("starttls", 587));
        let error = parse(&format!("{smtp}host = \"mail.provider.example\"\ntls = \"none\"\n"))
            .unwrap_err();
        assert!(format!("{error:#}").contains("loopback"), "{error:#}");
        for host in ["127.0.0.1", "::1", "localhost"] {
            let config = parse(&format!("{smtp}host = \"{host}\"\ntls = \"none\"\n")).unwrap();
            assert_eq!(config.smtp.unwrap().port(), 25);
        }
        let error = parse(&format!(
            "{smtp}host = \"mail.provider.example\"\npassword_env = \"SMTP_PASSWORD\"\n"
        ))
        .unwrap_err();
        assert!(format!("{error:#}").contains("username"), "{error:#}");
        let config = parse(&format!(
            "{smtp}host = \"mail.provider.example\"\nusername = \"rampart\"\n\
             password_env = \"SMTP_PASSWORD\"\n"
        ))
        .unwrap();
        let relay = config.smtp.unwrap();
        let password = relay.password(|name| (name == "SMTP_PASSWORD").then(|| "s3cret".into()));
        assert_eq!(password.unwrap().as_deref(), Some("s3cret"));
        assert!(relay.password(no_environment).is_err());
        let error = parse("[notifications]\nmax_attempts = 0\n").unwrap_err();
        assert!(format!("{error:#}").contains("notifications.max_attempts"), "{error:#}");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("rampart.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\n[log]\nformat = \"json\"\n").unwrap();
        let environment = |name: &str| match name {
            "RAMPART_LISTEN" => Some("0.0.0.0:9000".to_owned()),
            "RAMPART_DATABASE_URL" => Some("postgres://db/rampart".to_owned()),
            _ => None,
        };
        let config = Config::load(Some(&path), environment).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.log.format, "json");
        assert_eq!(config.database_location(), "postgres://db/rampart");
        let bad = |name: &str| (name == "RAMPART_LOG_FORMAT").then(|| "xml".to_owned());
        let error = Config::load(None, bad).unwrap_err();
        assert!(error.to_string().contains("log.format"));
    }
}
