//! SigmaHQ conformance: every rule file loads or is reported with a reason,
//! and the regression events raise the rules their `info.yml` names.

use super::common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use detect::{Engine, EngineConfig, RuleSet, windows};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_rule_file_loads_or_is_reported() {
    let Some(data) = common::shared_data() else { return };
    let sigma = data.join("sigma");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&sigma)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            p.is_dir()
                && (name.starts_with("rules") || name == "deprecated" || name == "unsupported")
        })
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "expected the SigmaHQ rule folders in {}", sigma.display());
    for dir in dirs {
        let started = std::time::Instant::now();
        let set = RuleSet::load_dir(&dir).unwrap();
        let elapsed = started.elapsed();
        let mut files = Vec::new();
        yaml_files(&dir, &mut files);
        let loaded_from: HashSet<&Path> = set.infos().map(|i| i.path.as_path()).collect();
        let failed_from: HashSet<&Path> =
            set.report().failed.iter().map(|f| f.path.as_path()).collect();
        let silent: Vec<&PathBuf> = files
            .iter()
            .filter(|f| !loaded_from.contains(f.as_path()) && !failed_from.contains(f.as_path()))
            .collect();
        assert!(silent.is_empty(), "files neither loaded nor reported: {silent:?}");
        assert_eq!(set.report().loaded, set.len());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        println!(
            "{name}: {} files, {} rules loaded, {} not loaded ({elapsed:.2?})",
            files.len(),
            set.report().loaded,
            set.report().failed.len()
        );
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for failure in &set.report().failed {
            // Group by the kind of reason: its first line, cut before positions.
            let first = failure.reason.lines().next().unwrap_or_default();
            let short: String =
                first.split(" at ").next().unwrap_or(first).chars().take(70).collect();
            *reasons.entry(short).or_default() += 1;
            assert!(!failure.reason.is_empty());
        }
        for (reason, count) in reasons {
            println!("    {count:5} × {reason}");
        }
        if name == "deprecated" || name == "unsupported" {
            // These folders keep rules that must not run: most carry that
            // status; the rest are reported or loaded on their own merits.
            let refused = set.report().failed.len();
            assert!(refused * 2 > files.len(), "{name}: only {refused} of {} refused", files.len());
        }
    }
}

#[test]
fn regression_events_raise_their_rules() {
    let Some(data) = common::shared_data() else { return };
    let sigma = data.join("sigma");
    let mut set = RuleSet::default();
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        set = set.merged(&RuleSet::load_dir(&sigma.join(dir)).unwrap());
    }
    let engine = Engine::new(&set, &EngineConfig::default());
    let mut files = Vec::new();
    let mut stack = vec![sigma.join("regression_data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 150, "expected the regression events, found {}", files.len());
    let (mut supported, mut passed) = (0, 0);
    let mut unsupported = BTreeSet::new();
    let mut failures = Vec::new();
    for file in &files {
        let rule_id = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        let events: Vec<_> = windows::parse_evtx_json_stream(&text)
            .into_iter()
            .map(|e| e.unwrap_or_else(|err| panic!("{}: {err}", file.display())))
            .collect();
        assert!(!events.is_empty(), "{}", file.display());
        let Some(info) = set.info(&rule_id) else {
            unsupported.insert(format!("{rule_id}: rule not loaded"));
            continue;
        };
        if !events.iter().any(|e| info.logsource.accepts(&e.source)) {
            unsupported
                .insert(format!("{rule_id}: {:?} vs {:?}", info.logsource, events[0].source));
            continue;
        }
        supported += 1;
        let fired = events.iter().any(|e| {
            engine.matches(e).iter().any(|d| d.rule_id.as_deref() == Some(rule_id.as_str()))
        });
        if fired {
            passed += 1;
        } else {
            failures.push(format!("{} ({})", info.title, file.display()));
        }
    }
    println!(
        "regression events: {} files, {supported} supported by the Windows mapping, {passed} raise their rule",
        files.len()
    );
    for u in &unsupported {
        println!("    unsupported: {u}");
    }
    for f in &failures {
        println!("    not raised: {f}");
    }
    assert!(failures.is_empty(), "{} supported events did not raise their rule", failures.len());
}

/// Every regression record, written as one NDJSON line, maps in one pass exactly as parsing
/// it then mapping the value does: the same event, fields in the same order.
#[test]
fn regression_records_map_the_same_in_one_pass() {
    let Some(data) = common::shared_data() else { return };
    let mut stack = vec![data.join("sigma").join("regression_data")];
    let mut records = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
            for value in stream.map_while(Result::ok) {
                let line = value.to_string();
                let Some(one_pass) = windows::parse_evtx_record(&line) else {
                    panic!("{}: not read in one pass: {line}", path.display());
                };
                let one_pass = one_pass.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let two_passes = windows::from_evtx_value(value).unwrap();
                assert_eq!(one_pass, two_passes, "{}", path.display());
                let keys = |e: &detect::Event| -> Vec<String> {
                    e.fields.as_object().unwrap().keys().cloned().collect()
                };
                assert_eq!(keys(&one_pass), keys(&two_passes), "{}", path.display());
                records += 1;
            }
        }
    }
    assert!(records > 150, "expected the regression records, found {records}");
    println!("{records} regression records map the same in one pass");
}
