//! The configuration of event intake (`[intake]`, `[intake.syslog]`) and of the detection
//! rules directory (`[rules]`), every key documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Largest event (one NDJSON line), bytes.
    pub max_event_bytes: usize,
    /// Largest batch (`POST …/events` body), bytes.
    pub max_batch_bytes: usize,
    /// Most events in one batch.
    pub max_events_per_batch: usize,
    /// Per organisation: stored events the rules have not evaluated yet; past it, batches
    /// are refused with 429 until detection catches up.
    pub max_backlog: u64,
    /// Bytes of batches parsed and stored at once, all organisations together.
    pub max_in_flight_bytes: usize,
    /// Days stored events are kept.
    pub retention_days: u32,
    pub syslog: SyslogConfig,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        let settings = app::IntakeSettings::default();
        Self {
            max_event_bytes: settings.limits.max_event_bytes,
            max_batch_bytes: settings.limits.max_batch_bytes,
            max_events_per_batch: settings.limits.max_events,
            max_backlog: settings.max_backlog,
            max_in_flight_bytes: settings.max_in_flight_bytes,
            retention_days: 30,
            syslog: SyslogConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    /// Listen for syslog at all (off by default).
    pub enabled: bool,
    /// UDP address (`IP:PORT`) for RFC 5424 / RFC 3164 datagrams; none: no UDP.
    pub udp: Option<String>,
    /// TCP address for octet-counted or newline-framed messages; none: no TCP.
    pub tcp: Option<String>,
    /// The organisation (id) the messages are stored in.
    pub organization_id: Option<String>,
    /// Sigma `product` of the messages (`linux` by default); their service is `syslog`.
    pub product: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// A directory of Sigma rules (SigmaHQ layout, searched recursively), run with the
    /// built-in pack; none: the built-in pack only.
    pub dir: Option<PathBuf>,
    /// Processing pipeline files (pySigma YAML), applied in this order.
    pub pipelines: Vec<PathBuf>,
    /// Seconds between two looks for changed rule files.
    pub reload_seconds: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self { dir: None, pipelines: Vec::new(), reload_seconds: 5 }
    }
}

impl IntakeConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_event_bytes == 0 || self.max_event_bytes > self.max_batch_bytes {
            bail!("invalid value for `intake.max_event_bytes`: 1 to `intake.max_batch_bytes`");
        }
        if self.max_batch_bytes > 256 * 1024 * 1024 {
            bail!("invalid value for `intake.max_batch_bytes`: at most 268435456");
        }
        if self.max_in_flight_bytes < self.max_batch_bytes {
            bail!(
                "invalid value for `intake.max_in_flight_bytes`: at least `intake.max_batch_bytes`"
            );
        }
        if self.max_events_per_batch == 0 || self.max_backlog == 0 {
            bail!(
                "invalid value for `intake.max_events_per_batch`/`intake.max_backlog`: at least 1"
            );
        }
        if self.retention_days == 0 {
            bail!("invalid value for `intake.retention_days`: at least 1");
        }
        let syslog = &self.syslog;
        if syslog.enabled {
            if syslog.udp.is_none() && syslog.tcp.is_none() {
                bail!("`intake.syslog` is enabled: give `udp`, `tcp` or both");
            }
            for (name, address) in [("udp", &syslog.udp), ("tcp", &syslog.tcp)] {
                if let Some(address) = address
                    && address.parse::<SocketAddr>().is_err()
                {
                    bail!("invalid value for `intake.syslog.{name}` ({address:?}): IP:PORT");
                }
            }
            match &syslog.organization_id {
                Some(id) if id.parse::<base::OrganizationId>().is_ok() => {}
                _ => bail!(
                    "`intake.syslog` is enabled: `organization_id` must be an organisation id"
                ),
            }
        }
        Ok(())
    }

    pub fn settings(&self) -> app::IntakeSettings {
        app::IntakeSettings {
            limits: detect::intake::ndjson::Limits {
                max_event_bytes: self.max_event_bytes,
                max_batch_bytes: self.max_batch_bytes,
                max_events: self.max_events_per_batch,
            },
            max_backlog: self.max_backlog,
            max_in_flight_bytes: self.max_in_flight_bytes,
            retention: time::Duration::days(i64::from(self.retention_days)),
            ..app::IntakeSettings::default()
        }
    }
}

impl RulesConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.reload_seconds == 0 {
            bail!("invalid value for `rules.reload_seconds`: at least 1");
        }
        if self.dir.is_none() && !self.pipelines.is_empty() {
            bail!("`rules.pipelines` needs `rules.dir`");
        }
        Ok(())
    }
}
