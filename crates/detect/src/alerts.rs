//! Alerts: deduplication and suppression of detections, the alert life cycle,
//! the noise budget per rule and the chat webhook payload. Pure: times come
//! from the detections and the caller.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::engine::{Detection, DetectionKind};

/// Alert severity, from the Sigma level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `informational`
    Informational,
    /// `low`
    Low,
    /// `medium`
    Medium,
    /// `high`
    High,
    /// `critical`
    Critical,
}

impl Severity {
    /// From a Sigma level; an absent or unknown level counts as `medium`, the
    /// SigmaHQ default.
    pub fn from_level(level: Option<&str>) -> Self {
        match level.map(str::to_ascii_lowercase).as_deref() {
            Some("informational") => Self::Informational,
            Some("low") => Self::Low,
            Some("high") => Self::High,
            Some("critical") => Self::Critical,
            _ => Self::Medium,
        }
    }

    /// The Sigma spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "informational",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// How a closed alert was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Real malicious or unauthorised activity.
    TruePositive,
    /// The rule fired on activity it should not have matched.
    FalsePositive,
    /// The rule was right about the activity, which was legitimate.
    Benign,
}

/// Where an alert is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Raised, nobody has looked yet.
    New,
    /// Someone is looking.
    Acknowledged,
    /// Done, with a judgement.
    Closed(Resolution),
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::New => f.write_str("new"),
            Self::Acknowledged => f.write_str("acknowledged"),
            Self::Closed(Resolution::TruePositive) => f.write_str("closed (true positive)"),
            Self::Closed(Resolution::FalsePositive) => f.write_str("closed (false positive)"),
            Self::Closed(Resolution::Benign) => f.write_str("closed (benign)"),
        }
    }
}

/// Errors of the alert life cycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// The requested change is not allowed from the current state.
    #[error("alert {alert}: cannot go from {from} to {to}")]
    Transition {
        /// The alert.
        alert: Uuid,
        /// Its state.
        from: AlertState,
        /// The state asked for.
        to: AlertState,
    },
    /// No alert with this id.
    #[error("no alert {0}")]
    Unknown(Uuid),
}

/// What deduplicates detections into one alert: the rule and a group key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey {
    /// The rule id (or title for a rule without id).
    pub rule: String,
    /// For a correlation, its group-by values (`field=value,…`); for a plain
    /// match, the values of the rule's configured dedup fields; else empty.
    pub group: String,
}

/// Suppression windows and dedup fields, per rule with a default.
#[derive(Debug, Clone)]
pub struct SuppressionPolicy {
    /// Window used for rules without their own.
    pub default_window: Duration,
    /// Windows per rule key.
    pub windows: HashMap<String, Duration>,
    /// For plain matches: event fields (dotted paths) whose values make the
    /// group key, per rule key. Without an entry, all matches of a rule
    /// within the window go into one alert.
    pub dedup_fields: HashMap<String, Vec<String>>,
}

impl Default for SuppressionPolicy {
    fn default() -> Self {
        Self {
            default_window: Duration::hours(1),
            windows: HashMap::new(),
            dedup_fields: HashMap::new(),
        }
    }
}

impl SuppressionPolicy {
    /// The window for a rule.
    pub fn window(&self, rule: &str) -> Duration {
        self.windows.get(rule).copied().unwrap_or(self.default_window)
    }

    /// The dedup key of a detection.
    pub fn key(&self, detection: &Detection) -> DedupKey {
        let rule = detection.rule_key().to_owned();
        let group = match &detection.kind {
            DetectionKind::Correlation { .. } => detection.group_key_text().unwrap_or_default(),
            DetectionKind::Match { .. } => self
                .dedup_fields
                .get(&rule)
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| format!("{f}={}", lookup(&detection.event, f)))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        };
        DedupKey { rule, group }
    }
}

/// The value at a dotted path, as text; empty when absent.
fn lookup(event: &Value, path: &str) -> String {
    let mut current = event;
    for part in path.split('.') {
        match current.get(part) {
            Some(v) => current = v,
            None => return String::new(),
        }
    }
    match current {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One alert: one or more detections of one rule and group key.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Identifier, given by the caller.
    pub id: Uuid,
    /// What it deduplicates on.
    pub key: DedupKey,
    /// The rule's title.
    pub title: String,
    /// The rule's author (to be shown with the alert).
    pub author: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// Time of the first detection.
    pub first_seen: OffsetDateTime,
    /// Time of the latest detection counted in.
    pub last_seen: OffsetDateTime,
    /// Detections counted in, at least 1.
    pub count: u64,
    /// The first detection's event.
    pub event: Arc<Value>,
    /// Life-cycle state.
    pub state: AlertState,
    /// Who acknowledged it, and when.
    pub acknowledged: Option<(String, OffsetDateTime)>,
    /// Who closed it, and when.
    pub closed: Option<(String, OffsetDateTime)>,
}

impl Alert {
    /// Whether further detections may still be counted into it at `at`: not
    /// closed, and `at` within the window that started at the first detection.
    pub fn absorbs(&self, at: OffsetDateTime, window: Duration) -> bool {
        !matches!(self.state, AlertState::Closed(_)) && at < self.first_seen + window
    }

    /// Moves New → Acknowledged.
    pub fn acknowledge(&mut self, by: &str, at: OffsetDateTime) -> Result<(), AlertError> {
        match self.state {
            AlertState::New => {
                self.state = AlertState::Acknowledged;
                self.acknowledged = Some((by.to_owned(), at));
                Ok(())
            }
            from => {
                Err(AlertError::Transition { alert: self.id, from, to: AlertState::Acknowledged })
            }
        }
    }

    /// Moves New or Acknowledged → Closed with a judgement.
    pub fn close(
        &mut self,
        resolution: Resolution,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<(), AlertError> {
        match self.state {
            AlertState::New | AlertState::Acknowledged => {
                self.state = AlertState::Closed(resolution);
                self.closed = Some((by.to_owned(), at));
                Ok(())
            }
            from @ AlertState::Closed(_) => Err(AlertError::Transition {
                alert: self.id,
                from,
                to: AlertState::Closed(resolution),
            }),
        }
    }
}

/// What [`AlertBook::ingest`] did with a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// A new alert was opened with this id.
    Opened(Uuid),
    /// The detection was counted into this open alert.
    Counted(Uuid),
}

/// The alerts of one organisation (or one stream), with their dedup index.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    policy: SuppressionPolicy,
    alerts: Vec<Alert>,
    latest: HashMap<DedupKey, usize>,
}

impl AlertBook {
    /// An empty book.
    pub fn new(policy: SuppressionPolicy) -> Self {
        Self { policy, alerts: Vec::new(), latest: HashMap::new() }
    }

    /// Counts `detection` into the open alert of its rule and group key when
    /// it falls within that alert's window; otherwise opens a new alert with
    /// `new_id`.
    pub fn ingest(&mut self, detection: &Detection, new_id: Uuid) -> Ingested {
        let key = self.policy.key(detection);
        let window = self.policy.window(&key.rule);
        if let Some(&index) = self.latest.get(&key)
            && let Some(alert) = self.alerts.get_mut(index)
            && alert.absorbs(detection.time, window)
        {
            alert.count += 1;
            alert.last_seen = alert.last_seen.max(detection.time);
            return Ingested::Counted(alert.id);
        }
        self.alerts.push(Alert {
            id: new_id,
            key: key.clone(),
            title: detection.title.clone(),
            author: detection.author.clone(),
            severity: Severity::from_level(detection.level.as_deref()),
            tags: detection.tags.clone(),
            first_seen: detection.time,
            last_seen: detection.time,
            count: 1,
            event: detection.event.clone(),
            state: AlertState::New,
            acknowledged: None,
            closed: None,
        });
        self.latest.insert(key, self.alerts.len() - 1);
        Ingested::Opened(new_id)
    }

    /// All alerts, oldest first.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// One alert by id.
    pub fn get(&self, id: Uuid) -> Option<&Alert> {
        self.alerts.iter().find(|a| a.id == id)
    }

    /// One alert by id, to change its state.
    pub fn get_mut(&mut self, id: Uuid) -> Result<&mut Alert, AlertError> {
        self.alerts.iter_mut().find(|a| a.id == id).ok_or(AlertError::Unknown(id))
    }

    /// The noise figures of every rule that raised an alert.
    pub fn noise(&self) -> Vec<RuleNoise> {
        noise_report(&self.alerts)
    }
}

/// Per-rule alert counts and false-positive ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleNoise {
    /// The rule key.
    pub rule: String,
    /// Alerts raised.
    pub alerts: u64,
    /// Detections counted into them.
    pub detections: u64,
    /// Alerts closed as true positive.
    pub true_positive: u64,
    /// Alerts closed as false positive.
    pub false_positive: u64,
    /// Alerts closed as benign.
    pub benign: u64,
    /// Alerts not closed yet.
    pub open: u64,
}

impl RuleNoise {
    /// False positives over closed alerts; `None` before any is closed.
    pub fn false_positive_ratio(&self) -> Option<f64> {
        let closed = self.true_positive + self.false_positive + self.benign;
        (closed > 0).then(|| self.false_positive as f64 / closed as f64)
    }

    /// Whether the rule spends more than its budget: at least `min_closed`
    /// alerts judged and a false-positive ratio above `max_ratio`, or more
    /// than `max_alerts` alerts in the period the figures cover.
    pub fn over_budget(&self, max_ratio: f64, min_closed: u64, max_alerts: u64) -> bool {
        let closed = self.true_positive + self.false_positive + self.benign;
        let noisy = closed >= min_closed
            && self.false_positive_ratio().is_some_and(|ratio| ratio > max_ratio);
        noisy || self.alerts > max_alerts
    }
}

/// Noise figures per rule, ordered by rule key.
pub fn noise_report(alerts: &[Alert]) -> Vec<RuleNoise> {
    let mut by_rule: BTreeMap<&str, RuleNoise> = BTreeMap::new();
    for alert in alerts {
        let entry = by_rule.entry(&alert.key.rule).or_insert_with(|| RuleNoise {
            rule: alert.key.rule.clone(),
            alerts: 0,
            detections: 0,
            true_positive: 0,
            false_positive: 0,
            benign: 0,
            open: 0,
        });
        entry.alerts += 1;
        entry.detections += alert.count;
        match alert.state {
            AlertState::Closed(Resolution::TruePositive) => entry.true_positive += 1,
            AlertState::Closed(Resolution::FalsePositive) => entry.false_positive += 1,
            AlertState::Closed(Resolution::Benign) => entry.benign += 1,
            AlertState::New | AlertState::Acknowledged => entry.open += 1,
        }
    }
    by_rule.into_values().collect()
}

/// The Slack-compatible incoming-webhook body (`text` plus Block Kit
/// `blocks`) for a high or critical alert; `None` below high. The rule's
/// author is always shown, as the Detection Rule License asks. `link` points
/// at the alert in the Rampart console, when known.
pub fn webhook_payload(alert: &Alert, link: Option<&str>) -> Option<Value> {
    if alert.severity < Severity::High {
        return None;
    }
    let author = alert.author.as_deref().unwrap_or("unknown");
    let severity = alert.severity.as_str().to_uppercase();
    let headline = format!("[{severity}] {}", alert.title);
    let mut facts = vec![
        json!({"type": "mrkdwn", "text": format!("*Rule author:*\n{}", escape(author))}),
        json!({"type": "mrkdwn", "text": format!("*Detections:*\n{}", alert.count)}),
        json!({"type": "mrkdwn", "text": format!("*First seen:*\n{}", rfc3339(alert.first_seen))}),
        json!({"type": "mrkdwn", "text": format!("*Rule:*\n{}", escape(&alert.key.rule))}),
    ];
    if !alert.key.group.is_empty() {
        facts.push(
            json!({"type": "mrkdwn", "text": format!("*Group:*\n{}", escape(&alert.key.group))}),
        );
    }
    let techniques: Vec<&str> =
        alert.tags.iter().filter(|t| t.starts_with("attack.")).map(String::as_str).collect();
    if !techniques.is_empty() {
        facts.push(json!({"type": "mrkdwn", "text": format!("*ATT&CK:*\n{}", escape(&techniques.join(", ")))}));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": headline}}),
        json!({"type": "section", "fields": facts}),
    ];
    if let Some(link) = link {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("<{}|Open the alert in Rampart>", escape(link))}
        }));
    }
    Some(json!({
        "text": format!(
            "{} (rule by {}, {} detection(s))",
            escape(&headline),
            escape(author),
            alert.count
        ),
        "blocks": blocks,
    }))
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detection(rule: &str, level: &str, at: i64, group: Option<&str>) -> Detection {
        Detection {
            rule_id: Some(rule.to_owned()),
            title: format!("title of {rule}"),
            level: Some(level.to_owned()),
            tags: vec!["attack.t1110".to_owned()],
            author: Some("Someone <a&b>".to_owned()),
            kind: match group {
                Some(g) => DetectionKind::Correlation {
                    group_key: vec![("user.uid".to_owned(), g.to_owned())],
                    value: 10.0,
                    timespan_secs: 300,
                },
                None => DetectionKind::Match { matched_fields: vec![] },
            },
            event: Arc::new(json!({"user": {"uid": group.unwrap_or("x")}, "src": "1.2.3.4"})),
            time: OffsetDateTime::from_unix_timestamp(1_700_000_000 + at).unwrap(),
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn same_rule_and_group_within_window_is_counted() {
        let mut book = AlertBook::new(SuppressionPolicy::default());
        assert_eq!(
            book.ingest(&detection("r1", "high", 0, Some("a")), id(1)),
            Ingested::Opened(id(1))
        );
        assert_eq!(
            book.ingest(&detection("r1", "high", 60, Some("a")), id(2)),
            Ingested::Counted(id(1))
        );
        // Another group, another rule: new alerts.
        assert_eq!(
            book.ingest(&detection("r1", "high", 60, Some("b")), id(3)),
            Ingested::Opened(id(3))
        );
        assert_eq!(
            book.ingest(&detection("r2", "high", 60, Some("a")), id(4)),
            Ingested::Opened(id(4))
        );
        // Past the one-hour window from the first detection: a new alert.
        assert_eq!(
            book.ingest(&detection("r1", "high", 3600, Some("a")), id(5)),
            Ingested::Opened(id(5))
        );
        let first = book.get(id(1)).unwrap();
        assert_eq!(first.count, 2);
        assert_eq!(first.last_seen.unix_timestamp(), 1_700_000_060);
    }

    #[test]
    fn closed_alerts_absorb_nothing_and_windows_are_per_rule() {
        let mut policy = SuppressionPolicy::default();
        policy.windows.insert("r1".into(), Duration::minutes(5));
        let mut book = AlertBook::new(policy);
        book.ingest(&detection("r1", "low", 0, None), id(1));
        assert_eq!(
            book.ingest(&detection("r1", "low", 299, None), id(2)),
            Ingested::Counted(id(1))
        );
        assert_eq!(book.ingest(&detection("r1", "low", 300, None), id(3)), Ingested::Opened(id(3)));
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_400).unwrap();
        book.get_mut(id(3)).unwrap().close(Resolution::Benign, "ana", at).unwrap();
        assert_eq!(book.ingest(&detection("r1", "low", 301, None), id(4)), Ingested::Opened(id(4)));
    }

    #[test]
    fn dedup_fields_split_plain_matches() {
        let mut policy = SuppressionPolicy::default();
        policy.dedup_fields.insert("r1".into(), vec!["user.uid".into()]);
        let mut book = AlertBook::new(policy);
        let mut a = detection("r1", "low", 0, None);
        a.event = Arc::new(json!({"user": {"uid": "u1"}}));
        let mut b = a.clone();
        b.event = Arc::new(json!({"user": {"uid": "u2"}}));
        assert_eq!(book.ingest(&a, id(1)), Ingested::Opened(id(1)));
        assert_eq!(book.ingest(&b, id(2)), Ingested::Opened(id(2)));
        assert_eq!(book.ingest(&a, id(3)), Ingested::Counted(id(1)));
        assert_eq!(book.get(id(2)).unwrap().key.group, "user.uid=u2");
    }

    #[test]
    fn only_valid_transitions() {
        let mut book = AlertBook::new(SuppressionPolicy::default());
        book.ingest(&detection("r1", "high", 0, None), id(1));
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
        let alert = book.get_mut(id(1)).unwrap();
        alert.acknowledge("ana", at).unwrap();
        assert!(matches!(alert.acknowledge("bob", at), Err(AlertError::Transition { .. })));
        alert.close(Resolution::TruePositive, "ana", at).unwrap();
        assert_eq!(alert.state, AlertState::Closed(Resolution::TruePositive));
        assert!(alert.close(Resolution::Benign, "ana", at).is_err());
        assert!(alert.acknowledge("ana", at).is_err());
        assert_eq!(alert.closed.as_ref().unwrap().0, "ana");
        assert_eq!(book.get_mut(id(9)).unwrap_err(), AlertError::Unknown(id(9)));
        // New can be closed directly.
        book.ingest(&detection("r2", "high", 0, None), id(2));
        book.get_mut(id(2)).unwrap().close(Resolution::FalsePositive, "ana", at).unwrap();
    }

    #[test]
    fn noise_budget_counts_and_ratio() {
        let mut book = AlertBook::new(SuppressionPolicy::default());
        let at = OffsetDateTime::from_unix_timestamp(1_700_100_000).unwrap();
        for (n, resolution) in
            [Resolution::FalsePositive, Resolution::FalsePositive, Resolution::TruePositive]
                .into_iter()
                .enumerate()
        {
            let n = n as u128;
            book.ingest(&detection("noisy", "medium", (n as i64) * 7200, None), id(n + 1));
            book.get_mut(id(n + 1)).unwrap().close(resolution, "ana", at).unwrap();
        }
        book.ingest(&detection("noisy", "medium", 100_000, None), id(10));
        book.ingest(&detection("noisy", "medium", 100_001, None), id(11));
        book.ingest(&detection("quiet", "medium", 0, None), id(20));
        let noise = book.noise();
        assert_eq!(noise.len(), 2);
        let noisy = &noise[0];
        assert_eq!(noisy.rule, "noisy");
        assert_eq!((noisy.alerts, noisy.detections, noisy.open), (4, 5, 1));
        assert_eq!((noisy.false_positive, noisy.true_positive), (2, 1));
        assert!((noisy.false_positive_ratio().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert!(noisy.over_budget(0.5, 3, 100));
        assert!(!noisy.over_budget(0.5, 4, 100), "too few judged to tell");
        assert!(!noisy.over_budget(0.7, 3, 100));
        assert!(noisy.over_budget(0.7, 3, 3), "alert count over budget");
        assert_eq!(noise[1].false_positive_ratio(), None);
    }

    #[test]
    fn webhook_only_for_high_and_critical_and_shows_author() {
        let mut book = AlertBook::new(SuppressionPolicy::default());
        book.ingest(&detection("low", "medium", 0, None), id(1));
        book.ingest(&detection("hi", "critical", 0, Some("u<1>")), id(2));
        assert!(webhook_payload(book.get(id(1)).unwrap(), None).is_none());
        let payload =
            webhook_payload(book.get(id(2)).unwrap(), Some("https://rampart.example/a/2")).unwrap();
        let text = payload["text"].as_str().unwrap();
        assert!(text.starts_with("[CRITICAL] title of hi"), "{text}");
        assert!(text.contains("rule by Someone &lt;a&amp;b&gt;"), "{text}");
        let body = payload.to_string();
        assert!(body.contains("*Rule author:*\\nSomeone &lt;a&amp;b&gt;"), "{body}");
        assert!(body.contains("user.uid=u&lt;1&gt;"), "{body}");
        assert!(body.contains("<https://rampart.example/a/2|Open the alert in Rampart>"));
        assert_eq!(payload["blocks"][0]["type"], "header");
    }

    #[test]
    fn severity_from_level() {
        assert_eq!(Severity::from_level(Some("CRITICAL")), Severity::Critical);
        assert_eq!(Severity::from_level(None), Severity::Medium);
        assert!(Severity::High > Severity::Medium);
        for s in [
            Severity::Informational,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(Severity::from_level(Some(s.as_str())), s);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Every detection is counted exactly once; an alert only absorbs
            /// detections of its own key inside its window.
            #[test]
            fn counts_add_up_and_windows_hold(
                steps in proptest::collection::vec((0u8..3, 0u8..3, 0i64..1_800), 1..80),
                close_every in 2usize..10,
            ) {
                let mut book = AlertBook::new(SuppressionPolicy::default());
                let mut at = 0i64;
                let close_time = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
                for (n, (rule, group, gap)) in steps.iter().enumerate() {
                    at += gap;
                    let d = detection(&format!("r{rule}"), "high", at, Some(&format!("g{group}")));
                    let outcome = book.ingest(&d, id(n as u128 + 1));
                    let alert_id = match outcome { Ingested::Opened(i) | Ingested::Counted(i) => i };
                    let alert = book.get(alert_id).unwrap();
                    prop_assert_eq!(&alert.key.rule, &format!("r{rule}"));
                    prop_assert!(d.time >= alert.first_seen && d.time < alert.first_seen + Duration::hours(1));
                    if n % close_every == 0 {
                        let _ = book.get_mut(alert_id).unwrap().close(Resolution::Benign, "x", close_time);
                    }
                }
                let total: u64 = book.alerts().iter().map(|a| a.count).sum();
                prop_assert_eq!(total, steps.len() as u64);
                let noise: u64 = book.noise().iter().map(|r| r.detections).sum();
                prop_assert_eq!(noise, steps.len() as u64);
            }
        }
    }
}
