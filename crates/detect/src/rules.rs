//! Loading Sigma rules into an immutable, cheaply shared [`RuleSet`].
//!
//! Every file either contributes its rules or is listed in the
//! [`LoadReport`] with the reason it did not: a YAML or Sigma syntax error, a
//! rule that does not compile, or a rule whose status is `deprecated` or
//! `unsupported` (SigmaHQ keeps those for reference; they are not meant to run).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rsigma_parser::{CorrelationRule, Level, SigmaRule, Status};

/// The rules shipped with Rampart, embedded at build time: (file name, YAML).
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[
    ("password_brute_force.yml", include_str!("../rules/password_brute_force.yml")),
    ("credential_stuffing.yml", include_str!("../rules/credential_stuffing.yml")),
    ("login_after_failures.yml", include_str!("../rules/login_after_failures.yml")),
    ("mfa_removed_privileged.yml", include_str!("../rules/mfa_removed_privileged.yml")),
    (
        "privileged_permission_granted.yml",
        include_str!("../rules/privileged_permission_granted.yml"),
    ),
    ("owner_added.yml", include_str!("../rules/owner_added.yml")),
    ("api_key_new_ip.yml", include_str!("../rules/api_key_new_ip.yml")),
    ("mass_deletion.yml", include_str!("../rules/mass_deletion.yml")),
    ("audit_read_unusual_principal.yml", include_str!("../rules/audit_read_unusual_principal.yml")),
    ("audit_integrity_failure.yml", include_str!("../rules/audit_integrity_failure.yml")),
    ("access_outside_ip_range.yml", include_str!("../rules/access_outside_ip_range.yml")),
    ("signup_burst.yml", include_str!("../rules/signup_burst.yml")),
    ("signup_disposable_email.yml", include_str!("../rules/signup_disposable_email.yml")),
];

/// Why a rule or file was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFailure {
    /// The file (or embedded name) the rule came from.
    pub path: PathBuf,
    /// The rule's id, or its title when it has no id; `None` when the file did
    /// not parse far enough to tell.
    pub rule: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} (rule {rule}): {}", self.path.display(), self.reason),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

/// What a load did: how many rules are usable and what was left out, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Detection and correlation rules loaded.
    pub loaded: usize,
    /// Files and rules that were not loaded.
    pub failed: Vec<LoadFailure>,
}

/// The descriptive fields of a rule, kept for alerts (the Detection Rule
/// License asks that the author be shown wherever a match is shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Rule id (a UUID in SigmaHQ); `None` when the rule has none.
    pub id: Option<String>,
    /// Rule title.
    pub title: String,
    /// Severity, lower-case (`informational` … `critical`).
    pub level: Option<String>,
    /// Tags, including ATT&CK ones (`attack.t1110.001`).
    pub tags: Vec<String>,
    /// Author as written in the rule.
    pub author: Option<String>,
    /// The rule's logsource (`product`, `service`, `category`); empty for a
    /// correlation, which has none of its own.
    pub logsource: RuleLogSource,
    /// The file it came from.
    pub path: PathBuf,
}

/// A rule's logsource fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleLogSource {
    /// Sigma `product`.
    pub product: Option<String>,
    /// Sigma `service`.
    pub service: Option<String>,
    /// Sigma `category`.
    pub category: Option<String>,
}

impl RuleLogSource {
    /// Whether events from `source` are routed to a rule with this logsource:
    /// every field the rule names equals (ignoring ASCII case) the event's,
    /// the category equalling one of the event's categories.
    pub fn accepts(&self, source: &crate::event::EventSource) -> bool {
        fn same(rule: &Option<String>, event: &Option<String>) -> bool {
            match (rule, event) {
                (None, _) => true,
                (Some(r), Some(e)) => r.eq_ignore_ascii_case(e),
                (Some(_), None) => false,
            }
        }
        same(&self.product, &source.product)
            && same(&self.service, &source.service)
            && self
                .category
                .as_ref()
                .is_none_or(|c| source.categories.iter().any(|e| e.eq_ignore_ascii_case(c)))
    }
}

impl RuleInfo {
    /// The key results are reported under: the id, or the title without one.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.title)
    }
}

/// An immutable set of parsed, validated rules. Cloning is a reference-count
/// increment, so a service can rebuild a set off the hot path and swap it in.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    inner: Arc<RuleSetInner>,
}

#[derive(Debug, Default)]
struct RuleSetInner {
    detections: Vec<SigmaRule>,
    correlations: Vec<CorrelationRule>,
    info: HashMap<String, RuleInfo>,
    report: LoadReport,
}

/// Errors that stop a directory load as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    /// The directory or one of its entries could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl RuleSet {
    /// Loads every `.yml` / `.yaml` file under `dir`, recursively, in path order.
    pub fn load_dir(dir: &Path) -> Result<Self, RuleSetError> {
        let mut files = Vec::new();
        collect_rule_files(dir, &mut files)?;
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read(&path)
                .map_err(|source| RuleSetError::Io { path: path.clone(), source })?;
            sources.push((path, String::from_utf8_lossy(&text).into_owned()));
        }
        Ok(Self::from_sources(sources))
    }

    /// The rules shipped with Rampart.
    pub fn builtin() -> Self {
        Self::from_sources(
            BUILTIN_RULE_FILES
                .iter()
                .map(|(name, text)| (PathBuf::from(format!("builtin/{name}")), (*text).to_owned())),
        )
    }

    /// Parses rule files given as (path, YAML text) pairs.
    pub fn from_sources(sources: impl IntoIterator<Item = (PathBuf, String)>) -> Self {
        let mut builder = Builder::default();
        for (path, text) in sources {
            builder.add_file(&path, &text);
        }
        builder.finish()
    }

    /// A set holding the rules of both sets (for example the built-in pack and
    /// an organisation's own rules). Both load reports are kept.
    pub fn merged(&self, other: &RuleSet) -> RuleSet {
        let mut inner = RuleSetInner {
            detections: self.inner.detections.clone(),
            correlations: self.inner.correlations.clone(),
            info: self.inner.info.clone(),
            report: self.inner.report.clone(),
        };
        inner.detections.extend(other.inner.detections.iter().cloned());
        inner.correlations.extend(other.inner.correlations.iter().cloned());
        inner.info.extend(other.inner.info.iter().map(|(k, v)| (k.clone(), v.clone())));
        inner.report.loaded += other.inner.report.loaded;
        inner.report.failed.extend(other.inner.report.failed.iter().cloned());
        RuleSet { inner: Arc::new(inner) }
    }

    /// What the load did.
    pub fn report(&self) -> &LoadReport {
        &self.inner.report
    }

    /// Number of loaded detection and correlation rules.
    pub fn len(&self) -> usize {
        self.inner.detections.len() + self.inner.correlations.len()
    }

    /// Whether no rule loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The descriptive fields of a loaded rule, by id (or title for a rule without id).
    pub fn info(&self, key: &str) -> Option<&RuleInfo> {
        self.inner.info.get(key)
    }

    /// All loaded rules' descriptive fields, in no particular order.
    pub fn infos(&self) -> impl Iterator<Item = &RuleInfo> {
        self.inner.info.values()
    }

    /// The loaded rules as an `rsigma-parser` collection, for tools that
    /// drive `rsigma-eval` directly (such as the throughput comparison).
    pub fn sigma_collection(&self) -> rsigma_parser::SigmaCollection {
        let mut collection = rsigma_parser::SigmaCollection::new();
        collection.rules = self.inner.detections.clone();
        collection.correlations = self.inner.correlations.clone();
        collection
    }

    pub(crate) fn detections(&self) -> &[SigmaRule] {
        &self.inner.detections
    }

    pub(crate) fn correlations(&self) -> &[CorrelationRule] {
        &self.inner.correlations
    }
}

fn collect_rule_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleSetError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| RuleSetError::Io { path: dir.to_owned(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| RuleSetError::Io { path: dir.to_owned(), source })?;
        let path = entry.path();
        let kind =
            entry.file_type().map_err(|source| RuleSetError::Io { path: path.clone(), source })?;
        if kind.is_dir() {
            collect_rule_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

fn level_name(level: Option<&Level>) -> Option<String> {
    level.map(|l| l.as_str().to_owned())
}

fn status_refusal(status: Option<&Status>) -> Option<&'static str> {
    match status {
        Some(Status::Deprecated) => Some("status is deprecated; superseded rules are not run"),
        Some(Status::Unsupported) => {
            Some("status is unsupported; the rule needs features no Sigma backend provides")
        }
        _ => None,
    }
}

#[derive(Default)]
struct Builder {
    inner: RuleSetInner,
}

impl Builder {
    fn fail(&mut self, path: &Path, rule: Option<String>, reason: impl Into<String>) {
        self.inner.report.failed.push(LoadFailure {
            path: path.to_owned(),
            rule,
            reason: reason.into(),
        });
    }

    fn add_file(&mut self, path: &Path, text: &str) {
        let collection = match rsigma_parser::parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => return self.fail(path, None, format!("parse error: {e}")),
        };
        for error in &collection.errors {
            self.fail(path, None, format!("parse error: {error}"));
        }
        if !collection.filters.is_empty() {
            self.fail(
                path,
                None,
                format!(
                    "{} filter document(s) ignored: filters are not supported",
                    collection.filters.len()
                ),
            );
        }
        for rule in collection.rules {
            let key = rule.id.clone().unwrap_or_else(|| rule.title.clone());
            if let Some(reason) = status_refusal(rule.status.as_ref()) {
                self.fail(path, Some(key), reason);
                continue;
            }
            if let Err(e) = rsigma_eval::compile_rule(&rule) {
                self.fail(path, Some(key), format!("does not compile: {e}"));
                continue;
            }
            let info = RuleInfo {
                id: rule.id.clone(),
                title: rule.title.clone(),
                level: level_name(rule.level.as_ref()),
                tags: rule.tags.clone(),
                author: rule.author.clone(),
                logsource: RuleLogSource {
                    product: rule.logsource.product.clone(),
                    service: rule.logsource.service.clone(),
                    category: rule.logsource.category.clone(),
                },
                path: path.to_owned(),
            };
            self.inner.info.insert(key, info);
            self.inner.detections.push(rule);
            self.inner.report.loaded += 1;
        }
        for correlation in collection.correlations {
            let key = correlation.id.clone().unwrap_or_else(|| correlation.title.clone());
            if let Some(reason) = status_refusal(correlation.status.as_ref()) {
                self.fail(path, Some(key), reason);
                continue;
            }
            let info = RuleInfo {
                id: correlation.id.clone(),
                title: correlation.title.clone(),
                level: level_name(correlation.level.as_ref()),
                tags: correlation.tags.clone(),
                author: correlation.author.clone(),
                logsource: RuleLogSource::default(),
                path: path.to_owned(),
            };
            self.inner.info.insert(key, info);
            self.inner.correlations.push(correlation);
            self.inner.report.loaded += 1;
        }
    }

    fn finish(mut self) -> RuleSet {
        self.check_correlation_references();
        RuleSet { inner: Arc::new(self.inner) }
    }

    /// A correlation whose referenced rules are missing would never fire:
    /// report it instead of loading it.
    fn check_correlation_references(&mut self) {
        let mut names: std::collections::HashSet<String> = std::collections::HashSet::new();
        for rule in &self.inner.detections {
            names.extend(rule.id.iter().cloned());
            names.extend(rule.name.iter().cloned());
        }
        for correlation in &self.inner.correlations {
            names.extend(correlation.id.iter().cloned());
            names.extend(correlation.name.iter().cloned());
        }
        let correlations = std::mem::take(&mut self.inner.correlations);
        for correlation in correlations {
            let missing: Vec<&String> =
                correlation.rules.iter().filter(|r| !names.contains(*r)).collect();
            if missing.is_empty() {
                self.inner.correlations.push(correlation);
                continue;
            }
            let key = correlation.id.clone().unwrap_or_else(|| correlation.title.clone());
            let path = self.inner.info.remove(&key).map(|i| i.path).unwrap_or_default();
            self.inner.report.loaded = self.inner.report.loaded.saturating_sub(1);
            let list = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            self.fail(&path, Some(key), format!("correlation refers to rules not loaded: {list}"));
        }
    }
}
