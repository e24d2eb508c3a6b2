//! Detection rules from a directory (the SigmaHQ layout: `.yml`/`.yaml` files, any depth),
//! merged with the built-in pack, compiled with the configured processing pipelines, and
//! reloaded when a file changes.
//!
//! A rule that cannot load is left out and reported with its reason (in `GET` rules and in
//! the log); the other rules still run. A reload that cannot happen at all (the directory or
//! a pipeline file unreadable, a pipeline invalid) changes nothing: the rules in use keep
//! running and the reason is reported until a reload succeeds.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use detect::{Engine, EngineConfig, Pipeline, RuleSet};

use crate::detection::RulesView;
use crate::{App, AppError};

/// Where rules and pipelines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDirectory {
    /// Searched recursively for `.yml` and `.yaml` files.
    pub dir: PathBuf,
    /// Processing pipelines (pySigma YAML: field mappings, logsource changes), applied in
    /// this order to every rule before it is compiled.
    pub pipeline_files: Vec<PathBuf>,
}

/// What the files looked like at the last reload: (path, modification time, size).
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

#[derive(Debug, Default)]
pub(crate) struct ReloadState {
    status: std::sync::Mutex<ReloadStatus>,
}

#[derive(Debug, Default)]
struct ReloadStatus {
    fingerprint: Option<Fingerprint>,
    /// Rules the engine left out after the pipelines, as `path (rule id): reason`.
    skipped: Vec<String>,
    error: Option<String>,
}

fn fingerprint_of(source: &RuleDirectory) -> Result<Fingerprint, String> {
    fn walk(dir: &Path, out: &mut Fingerprint) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            let metadata = std::fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if metadata.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push((path, metadata.modified().ok(), metadata.len()));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(&source.dir, &mut files)?;
    for path in &source.pipeline_files {
        let metadata = std::fs::metadata(path)
            .map_err(|e| format!("cannot read pipeline {}: {e}", path.display()))?;
        files.push((path.clone(), metadata.modified().ok(), metadata.len()));
    }
    files.sort();
    Ok(files)
}

fn load(source: &RuleDirectory) -> Result<(RuleSet, Vec<Pipeline>), String> {
    let mut pipelines = Vec::with_capacity(source.pipeline_files.len());
    for path in &source.pipeline_files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read pipeline {}: {e}", path.display()))?;
        let pipeline = detect::parse_pipeline(&text)
            .map_err(|e| format!("invalid pipeline {}: {e}", path.display()))?;
        pipelines.push(pipeline);
    }
    let loaded = RuleSet::load_dir(&source.dir).map_err(|e| e.to_string())?;
    Ok((RuleSet::builtin().merged(&loaded), pipelines))
}

impl App {
    /// Run `rules` compiled with `pipelines` from now on; correlation state starts afresh.
    /// Rules the pipelines make uncompilable are left out and reported.
    pub async fn use_detection_rules(&self, rules: RuleSet, pipelines: Vec<Pipeline>) {
        let config = EngineConfig { pipelines, ..EngineConfig::default() };
        let for_engine = rules.clone();
        let engine =
            match tokio::task::spawn_blocking(move || Engine::new(&for_engine, &config)).await {
                Ok(engine) => engine,
                Err(error) => {
                    tracing::error!(%error, "building the detection engine failed");
                    return;
                }
            };
        let skipped: Vec<String> = engine.skipped().iter().map(ToString::to_string).collect();
        for failure in rules.report().failed.iter().map(ToString::to_string).chain(skipped.clone())
        {
            tracing::warn!(rule = %failure, "detection rule not loaded");
        }
        tracing::info!(
            loaded = rules.report().loaded,
            failed = rules.report().failed.len() + skipped.len(),
            "detection rules in use"
        );
        *self.detection.engine.lock().await = engine;
        if let Ok(mut current) = self.detection.rules.write() {
            *current = rules;
        }
        if let Ok(mut status) = self.rule_reload.status.lock() {
            status.skipped = skipped;
            status.error = None;
        }
    }

    /// Load the directory's rules (with the built-in pack) when a file was added, removed or
    /// changed since the last call: `Ok(true)` when new rules are in use, `Ok(false)` when
    /// nothing changed, and the reason when the reload could not happen (the rules in use
    /// stay).
    pub async fn reload_rules_directory(&self, source: &RuleDirectory) -> Result<bool, AppError> {
        let known = self.rule_reload.status.lock().ok().and_then(|s| s.fingerprint.clone());
        let for_scan = source.clone();
        // The fingerprint is taken before reading: a file changed while loading is seen as
        // changed again by the next call.
        let scanned = tokio::task::spawn_blocking(move || {
            let fingerprint = fingerprint_of(&for_scan)?;
            if known.as_ref() == Some(&fingerprint) {
                return Ok(None);
            }
            Ok::<_, String>(Some((fingerprint, load(&for_scan)?)))
        });
        let outcome = match scanned.await {
            Ok(outcome) => outcome,
            Err(error) => Err(format!("rule loading stopped: {error}")),
        };
        let (fingerprint, (rules, pipelines)) = match outcome {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return Ok(false),
            Err(reason) => {
                tracing::error!(%reason, "detection rules not reloaded; the previous rules stay");
                if let Ok(mut status) = self.rule_reload.status.lock() {
                    status.error = Some(reason.clone());
                    // Retry on the next call even if the files look the same.
                    status.fingerprint = None;
                }
                return Err(AppError::InvalidInput(reason));
            }
        };
        self.use_detection_rules(rules, pipelines).await;
        if let Ok(mut status) = self.rule_reload.status.lock() {
            status.fingerprint = Some(fingerprint);
        }
        Ok(true)
    }

    pub(crate) fn add_reload_status(&self, view: &mut RulesView) {
        if let Ok(status) = self.rule_reload.status.lock() {
            view.failed.extend(status.skipped.iter().cloned());
            view.reload_error.clone_from(&status.error);
        }
    }
}

/// Used by the binary: look for changed rule files every `every` and reload them.
pub async fn watch_rules_directory(app: App, source: RuleDirectory, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        // Failures are logged and reported by the call itself.
        let _ = app.reload_rules_directory(&source).await;
    }
}
