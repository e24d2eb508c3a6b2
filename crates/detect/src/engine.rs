//! The detection engine: a [`RuleSet`] compiled by `rsigma-eval`, with
//! logsource routing and correlation state keyed on event time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rsigma_eval::event::JsonEvent;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, EvaluationResult, ResultBody};

/// A Sigma processing pipeline (field mappings, conditions, custom
/// attributes) in the pySigma YAML format, as `rsigma-eval` reads it.
pub use rsigma_eval::Pipeline;

/// Parses a processing pipeline from YAML; the error says what is wrong.
pub fn parse_pipeline(yaml: &str) -> Result<Pipeline, String> {
    rsigma_eval::parse_pipeline(yaml).map_err(|e| e.to_string())
}
use rsigma_parser::SigmaCollection;
use serde_json::Value;
use time::OffsetDateTime;

use crate::event::{Event, EventSource};
use crate::rules::{LoadFailure, RuleSet};

/// How the engine is built.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Sigma processing pipelines (field mappings and the like) applied to every
    /// rule before it is compiled, in priority order.
    pub pipelines: Vec<Pipeline>,
    /// Upper bound on correlation state entries across all correlations and
    /// group keys; reaching it evicts expired state first, then the oldest.
    pub max_state_entries: usize,
    /// Upper bound on the entries kept in one group's window; the oldest are
    /// dropped first (which can only under-count).
    pub max_group_entries: usize,
    /// Turns on `rsigma-eval`'s per-field bloom filter over substring needles,
    /// which skips substring matchers whose needles cannot occur in the value.
    pub bloom_prefilter: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pipelines: Vec::new(),
            max_state_entries: 100_000,
            max_group_entries: 10_000,
            bloom_prefilter: false,
        }
    }
}

/// What fired.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectionKind {
    /// A detection rule matched the event.
    Match {
        /// Field names and the values that matched, as the engine reports them.
        matched_fields: Vec<(String, String)>,
    },
    /// A correlation rule's condition was met by this event.
    Correlation {
        /// The correlation's group-by fields and their values for this firing.
        group_key: Vec<(String, String)>,
        /// The aggregated value that met the condition (a count for
        /// `event_count` and `value_count`).
        value: f64,
        /// The correlation window, seconds.
        timespan_secs: u64,
    },
}

/// One rule firing on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The rule's id; `None` for a rule without one.
    pub rule_id: Option<String>,
    /// The rule's title.
    pub title: String,
    /// Severity, lower-case Sigma level (`informational` … `critical`).
    pub level: Option<String>,
    /// The rule's tags, including ATT&CK ones.
    pub tags: Vec<String>,
    /// The rule's author, to be shown wherever this detection is shown.
    pub author: Option<String>,
    /// Match details or correlation details.
    pub kind: DetectionKind,
    /// The event that triggered it (for a correlation, the event that completed it), shared
    /// by every detection of that event.
    pub event: Arc<Value>,
    /// The event's time.
    pub time: OffsetDateTime,
}

impl Detection {
    /// The key a rule is reported under: its id, or its title without one.
    pub fn rule_key(&self) -> &str {
        self.rule_id.as_deref().unwrap_or(&self.title)
    }

    /// ATT&CK technique ids from the tags, upper-case (`T1110.001`).
    pub fn attack_techniques(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack.t"))
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .map(|rest| format!("T{}", rest.to_ascii_uppercase()))
            .collect()
    }

    /// The correlation group key rendered `field=value,…`, or `None` for a plain match.
    pub fn group_key_text(&self) -> Option<String> {
        match &self.kind {
            DetectionKind::Correlation { group_key, .. } => Some(
                group_key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            ),
            DetectionKind::Match { .. } => None,
        }
    }
}

/// Rules compiled for evaluation, with the correlation state they keep.
///
/// The engine is not shared between threads while evaluating (correlations
/// need `&mut self`); build one per event stream from a shared [`RuleSet`].
pub struct Engine {
    rules: RuleSet,
    /// Correlation state, the correlation rules and the detection rules they
    /// refer to; its own detection engine is not used for matching.
    inner: CorrelationEngine,
    /// Detection rules partitioned by (product, service, category), each partition
    /// with its own `rsigma-eval` engine and candidate index.
    partitions: Vec<rsigma_eval::Engine>,
    partition_of: HashMap<PartitionKey, usize>,
    /// The partitions each event source seen so far is routed to (see [`Engine::route`]):
    /// sources are few, and working them out takes a dozen lower-cased keys per event.
    routes: Mutex<HashMap<EventSource, Arc<[usize]>>>,
    skipped: Vec<LoadFailure>,
}

/// Sources whose routes are kept; events of further sources are routed afresh each time.
const MAX_ROUTED_SOURCES: usize = 4096;

/// Lower-case (product, service, category) of a rule; `None` where the rule
/// names none.
type PartitionKey = (Option<String>, Option<String>, Option<String>);

fn partition_key(
    product: Option<&str>,
    service: Option<&str>,
    category: Option<&str>,
) -> PartitionKey {
    (
        product.map(str::to_ascii_lowercase),
        service.map(str::to_ascii_lowercase),
        category.map(str::to_ascii_lowercase),
    )
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rules.len())
            .field("skipped", &self.skipped.len())
            .field("correlation_state_entries", &self.inner.state_count())
            .finish()
    }
}

impl Engine {
    /// Compiles `rules` with `config`. A rule that a pipeline cannot transform,
    /// or that fails to compile afterwards, is left out and listed in
    /// [`Engine::skipped`]; the others still load.
    pub fn new(rules: &RuleSet, config: &EngineConfig) -> Self {
        let correlation_config = CorrelationConfig {
            // No field lookup and no wall clock: `evaluate` passes the event time.
            timestamp_fields: Vec::new(),
            timestamp_fallback: rsigma_eval::TimestampFallback::Skip,
            max_state_entries: config.max_state_entries.max(1),
            max_group_entries: Some(config.max_group_entries.max(1)),
            ..CorrelationConfig::default()
        };
        let mut skipped = Vec::new();
        let mut collection = SigmaCollection::new();
        for rule in rules.detections() {
            let key = rule.id.clone().unwrap_or_else(|| rule.title.clone());
            let path = rules.info(&key).map(|i| i.path.clone()).unwrap_or_default();
            let mut transformed = rule.clone();
            let outcome = rsigma_eval::apply_pipelines(&config.pipelines, &mut transformed)
                .and_then(|()| rsigma_eval::compile_rule(&transformed).map(|_| ()));
            match outcome {
                Ok(()) => collection.rules.push(transformed),
                Err(e) => skipped.push(LoadFailure {
                    path,
                    rule: Some(key),
                    reason: format!("after pipelines: {e}"),
                }),
            }
        }
        for correlation in rules.correlations() {
            let key = correlation.id.clone().unwrap_or_else(|| correlation.title.clone());
            let path = rules.info(&key).map(|i| i.path.clone()).unwrap_or_default();
            let mut transformed = correlation.clone();
            match rsigma_eval::pipeline::apply_pipelines_to_correlation(
                &config.pipelines,
                &mut transformed,
            ) {
                Ok(_) => collection.correlations.push(transformed),
                Err(e) => skipped.push(LoadFailure {
                    path,
                    rule: Some(key),
                    reason: format!("after pipelines: {e}"),
                }),
            }
        }
        // The correlation store only needs the rules correlations refer to (it
        // checks the references); matching is done by the partitions.
        let referenced: std::collections::HashSet<&str> = collection
            .correlations
            .iter()
            .flat_map(|c| c.rules.iter().map(String::as_str))
            .collect();
        let correlation_collection = SigmaCollection {
            rules: collection
                .rules
                .iter()
                .filter(|r| {
                    r.id.as_deref().is_some_and(|id| referenced.contains(id))
                        || r.name.as_deref().is_some_and(|n| referenced.contains(n))
                })
                .cloned()
                .collect(),
            correlations: collection.correlations.clone(),
            ..SigmaCollection::new()
        };
        let mut inner = CorrelationEngine::new(correlation_config.clone());
        if let Err(e) = inner.add_collection(&correlation_collection) {
            // A whole-collection check failed (a correlation reference or cycle
            // made invalid by a pipeline): report every correlation as skipped.
            inner = CorrelationEngine::new(correlation_config);
            for correlation in &collection.correlations {
                let key = correlation.id.clone().unwrap_or_else(|| correlation.title.clone());
                let path = rules.info(&key).map(|i| i.path.clone()).unwrap_or_default();
                skipped.push(LoadFailure {
                    path,
                    rule: Some(key),
                    reason: format!("correlations rejected: {e}"),
                });
            }
        }
        let mut grouped: HashMap<PartitionKey, SigmaCollection> = HashMap::new();
        for rule in &collection.rules {
            let key = partition_key(
                rule.logsource.product.as_deref(),
                rule.logsource.service.as_deref(),
                rule.logsource.category.as_deref(),
            );
            grouped.entry(key).or_default().rules.push(rule.clone());
        }
        let mut partitions = Vec::with_capacity(grouped.len());
        let mut partition_of = HashMap::with_capacity(grouped.len());
        for (key, part) in grouped {
            let mut engine = rsigma_eval::Engine::new();
            engine.set_bloom_prefilter(config.bloom_prefilter);
            match engine.add_collection(&part) {
                Ok(()) => {
                    partition_of.insert(key, partitions.len());
                    partitions.push(engine);
                }
                Err(e) => skipped.push(LoadFailure {
                    path: Default::default(),
                    rule: None,
                    reason: format!(
                        "partition product={:?} service={:?} category={:?} rejected: {e}",
                        key.0, key.1, key.2
                    ),
                }),
            }
        }
        Self {
            rules: rules.clone(),
            inner,
            partitions,
            partition_of,
            routes: Mutex::default(),
            skipped,
        }
    }

    /// Rules left out at build time, with the reason.
    pub fn skipped(&self) -> &[LoadFailure] {
        &self.skipped
    }

    /// The rule set this engine was built from.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Number of compiled detection rules.
    pub fn detection_rule_count(&self) -> usize {
        self.partitions.iter().map(rsigma_eval::Engine::rule_count).sum()
    }

    /// Number of compiled correlation rules.
    pub fn correlation_rule_count(&self) -> usize {
        self.inner.correlation_rule_count()
    }

    /// Correlation state entries currently held (bounded by
    /// [`EngineConfig::max_state_entries`]).
    pub fn state_entries(&self) -> usize {
        self.inner.state_count()
    }

    /// Drops correlation state whose window ended before `now`.
    pub fn evict_expired(&mut self, now: OffsetDateTime) {
        self.inner.evict_expired(now.unix_timestamp());
    }

    /// Evaluates `event` against the rules routed to its source, then feeds the
    /// matches to the correlations with the event's own time as the clock.
    pub fn evaluate(&mut self, event: &Event) -> Vec<Detection> {
        let results = self.results_of(event);
        self.detections(results, || event.fields.clone(), event.time)
    }

    /// As [`Engine::evaluate`], but the detections take the event rather than a copy of it.
    /// When a rule matched, `before_keeping` may first change the event the detections keep
    /// (say, note where it is stored); it does not run for an event that matched nothing.
    pub fn evaluate_owned(
        &mut self,
        event: Event,
        before_keeping: impl FnOnce(&mut Value),
    ) -> Vec<Detection> {
        let results = self.results_of(&event);
        let Event { mut fields, time, .. } = event;
        let kept = move || {
            before_keeping(&mut fields);
            fields
        };
        self.detections(results, kept, time)
    }

    /// The rules routed to `event` that match it, then the correlations they complete.
    fn results_of(&mut self, event: &Event) -> Vec<EvaluationResult> {
        let json = JsonEvent::borrow(&event.fields);
        let matches = self.route(&json, &event.source);
        self.inner.process_with_detections(&json, matches, event.time.unix_timestamp())
    }

    /// Stateless matching only (no correlation), routed like [`Engine::evaluate`].
    pub fn matches(&self, event: &Event) -> Vec<Detection> {
        let json = JsonEvent::borrow(&event.fields);
        let results = self.route(&json, &event.source);
        self.detections(results, || event.fields.clone(), event.time)
    }

    /// The detections of one event's results, sharing the event `fields` gives (asked only
    /// when there is a result).
    fn detections(
        &self,
        results: Vec<EvaluationResult>,
        fields: impl FnOnce() -> Value,
        time: OffsetDateTime,
    ) -> Vec<Detection> {
        if results.is_empty() {
            return Vec::new();
        }
        let fields = Arc::new(fields());
        results.into_iter().map(|r| self.to_detection(r, &fields, time)).collect()
    }

    /// Matches an event against the partitions its source can reach (see
    /// [`Engine::routes_of`]). Every rule of such a partition names only logsource values the
    /// source has, so rsigma is not asked to compare each candidate rule's logsource again.
    fn route(&self, json: &JsonEvent<'_>, source: &EventSource) -> Vec<EvaluationResult> {
        let routes =
            self.routes.lock().unwrap_or_else(PoisonError::into_inner).get(source).cloned();
        let routes = routes.unwrap_or_else(|| {
            let routes = self.routes_of(source);
            let mut kept = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() < MAX_ROUTED_SOURCES {
                kept.insert(source.clone(), Arc::clone(&routes));
            }
            routes
        });
        let mut results = Vec::new();
        for &partition in routes.iter() {
            results.extend(self.partitions[partition].evaluate(json));
        }
        results
    }

    /// The partitions a source reaches: rules of its product or of none, of its service or
    /// of none, and of one of its categories or of none. Each rule sits in exactly one
    /// partition, and each partition is listed once, so no rule is evaluated twice.
    fn routes_of(&self, source: &EventSource) -> Arc<[usize]> {
        let products: Vec<Option<&str>> =
            source.product.as_deref().map(Some).into_iter().chain([None]).collect();
        let services: Vec<Option<&str>> =
            source.service.as_deref().map(Some).into_iter().chain([None]).collect();
        let categories: Vec<Option<&str>> =
            source.categories.iter().map(|c| Some(c.as_str())).chain([None]).collect();
        let mut routes = Vec::new();
        for product in &products {
            for service in &services {
                for category in &categories {
                    let key = partition_key(*product, *service, *category);
                    if let Some(&partition) = self.partition_of.get(&key) {
                        routes.push(partition);
                    }
                }
            }
        }
        // A source naming a category twice (in any case) would reach its partitions twice.
        routes.sort_unstable();
        routes.dedup();
        routes.into()
    }

    fn to_detection(
        &self,
        result: EvaluationResult,
        event: &Arc<Value>,
        time: OffsetDateTime,
    ) -> Detection {
        let key = result.header.rule_id.clone().unwrap_or_else(|| result.header.rule_title.clone());
        let author = self.rules.info(&key).and_then(|i| i.author.clone());
        let kind = match result.body {
            ResultBody::Detection(body) => DetectionKind::Match {
                matched_fields: body
                    .matched_fields
                    .into_iter()
                    .map(|m| (m.field, json_text(&m.value)))
                    .collect(),
            },
            ResultBody::Correlation(body) => DetectionKind::Correlation {
                group_key: body.group_key,
                value: body.aggregated_value,
                timespan_secs: body.timespan_secs,
            },
        };
        Detection {
            rule_id: result.header.rule_id,
            title: result.header.rule_title,
            level: result.header.level.map(|l| l.as_str().to_owned()),
            tags: result.header.tags,
            author,
            kind,
            event: Arc::clone(event),
            time,
        }
    }
}

fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
