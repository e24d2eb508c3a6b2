//! Throughput of Sigma evaluation over a mostly benign Windows event mix:
//! the bare `rsigma-eval` engine (every rule considered for every event)
//! against this crate's engine (rules routed by logsource), on one core.
//! Rates are events per second of this thread's CPU time (read from
//! `/proc/thread-self/schedstat`), so a busy machine does not skew them;
//! wall-clock figures are printed too.
//!
//! Run in release, with the shared reference data present:
//!
//! ```text
//! cargo run -p detect --release --example throughput [-- SECONDS_PER_MEASURE]
//! cargo run -p detect --release --features mimalloc --example throughput
//! ```
//!
//! The `mimalloc` feature swaps the global allocator for this binary only.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use detect::{Engine, EngineConfig, Event, RuleSet, windows};
use rsigma_eval::event::JsonEvent;
use serde_json::Value;

const BENIGN_IMAGES: &[&str] = &[
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\System32\\RuntimeBroker.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
    "C:\\Windows\\System32\\SearchIndexer.exe",
    "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    "C:\\Windows\\System32\\taskhostw.exe",
];
const BENIGN_COMMANDS: &[&str] = &[
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US",
    "C:\\Windows\\Explorer.EXE",
    "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" /recycle",
    "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding",
    "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
];
const BENIGN_FILES: &[&str] = &[
    "C:\\Users\\alice\\AppData\\Local\\Temp\\chrome_cache_0001.tmp",
    "C:\\Users\\alice\\Documents\\report-2026-q3.docx",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\History\\Service\\DetectionHistory\\x",
    "C:\\Windows\\Prefetch\\SVCHOST.EXE-1234ABCD.pf",
];
const BENIGN_KEYS: &[&str] = &[
    "HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.docx",
    "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Notifications\\Data\\418A073AA3BC3475",
    "HKU\\S-1-5-21-1\\Software\\Google\\Chrome\\PreferenceMACs\\Default\\homepage",
];
const BENIGN_DLLS: &[&str] = &[
    "C:\\Windows\\System32\\kernel32.dll",
    "C:\\Windows\\System32\\user32.dll",
    "C:\\Windows\\System32\\combase.dll",
];

/// A benign variant of a real event: the fields rules key on replaced by
/// everyday values.
fn benign_variant(event: &Event, n: usize) -> Event {
    let mut out = event.clone();
    if let Value::Object(fields) = &mut out.fields {
        for (name, value) in fields.iter_mut() {
            let pool: &[&str] = match name.as_str() {
                "Image" | "ParentImage" | "SourceImage" | "TargetImage" => BENIGN_IMAGES,
                "CommandLine" | "ParentCommandLine" => BENIGN_COMMANDS,
                "TargetFilename" | "Path" | "FileName" => BENIGN_FILES,
                "TargetObject" | "Details" => BENIGN_KEYS,
                "ImageLoaded" => BENIGN_DLLS,
                "OriginalFileName" | "Description" | "Product" | "Company" => &["Microsoft"],
                "PipeName" => &["\\wkssvc", "\\srvsvc"],
                "QueryName" | "DestinationHostname" => {
                    &["www.microsoft.com", "update.googleapis.com"]
                }
                "CallTrace" | "GrantedAccess" | "Hashes" | "ScriptBlockText" | "Payload"
                | "ThreatName" | "Threat Name" | "Consumer" | "Query" | "ServiceFileName"
                | "TaskContent" => &["benign"],
                _ => continue,
            };
            *value = Value::String(pool[n % pool.len()].to_owned());
        }
    }
    out
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux),
/// so that the rate is per core even on a busy machine; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn measure(
    label: &str,
    events: &[Event],
    budget: Duration,
    mut run: impl FnMut(&Event) -> usize,
) -> f64 {
    // Warm up once over the mix; this pass also gives the match count.
    let matches_per_pass = events.iter().map(&mut run).sum::<usize>();
    let started = Instant::now();
    let cpu_started = cpu_time();
    let mut evaluated = 0usize;
    let mut matches = 0usize;
    while started.elapsed() < budget {
        for event in events {
            matches += run(event);
        }
        evaluated += events.len();
    }
    let wall = started.elapsed();
    let cpu = cpu_time().zip(cpu_started).map(|(end, start)| end.saturating_sub(start));
    let busy = cpu.unwrap_or(wall);
    let rate = evaluated as f64 / busy.as_secs_f64();
    println!(
        "  ({evaluated} events in {wall:.2?} wall, {} on CPU)",
        cpu.map(|c| format!("{c:.2?}")).unwrap_or_else(|| "unknown".into())
    );
    println!(
        "{label:<36} {rate:>10.0} events/s  ({matches_per_pass} matches per pass over the mix)"
    );
    std::hint::black_box(matches);
    rate
}

/// Parsing and mapping the mix's records from their JSON lines, `run` per line: lines per
/// second of this thread's CPU time.
fn measure_parsing(
    label: &str,
    lines: &[String],
    budget: Duration,
    mut run: impl FnMut(&str) -> usize,
) -> f64 {
    let started = Instant::now();
    let cpu_started = cpu_time();
    let (mut parsed, mut mapped) = (0usize, 0usize);
    while started.elapsed() < budget {
        for line in lines {
            mapped += run(line);
        }
        parsed += lines.len();
    }
    let busy = cpu_time()
        .zip(cpu_started)
        .map_or(started.elapsed(), |(end, start)| end.saturating_sub(start));
    let rate = parsed as f64 / busy.as_secs_f64();
    println!("{label:<36} {rate:>10.0} lines/s  ({:.2} µs each, {mapped} mapped)", 1e6 / rate);
    rate
}

fn main() {
    println!(
        "allocator: {}",
        if cfg!(feature = "mimalloc") { "mimalloc" } else { "system (glibc malloc)" }
    );
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/sigma"));
    if !data.is_dir() {
        eprintln!("shared data not found at {}", data.display());
        std::process::exit(2);
    }
    let started = Instant::now();
    let rules = RuleSet::load_dir(&data.join("rules/windows")).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    println!(
        "rules: {} Windows rules loaded, {} not, in {:.2?}",
        rules.len(),
        rules.report().failed.len(),
        started.elapsed()
    );

    let mut real = Vec::new();
    let mut lines = Vec::new();
    let mut stack = vec![data.join("regression_data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                real.extend(windows::parse_evtx_json_stream(&text).into_iter().flatten());
                let records = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
                lines.extend(records.map_while(Result::ok).map(|record| record.to_string()));
            }
        }
    }
    // Nine benign variants per real event: 90 % benign.
    let mut events = Vec::with_capacity(real.len() * 10);
    for (i, event) in real.iter().enumerate() {
        events.push(event.clone());
        for n in 0..9 {
            events.push(benign_variant(event, i * 9 + n));
        }
    }
    println!(
        "events: {} ({} from the regression data, the rest benign variants)",
        events.len(),
        real.len()
    );

    let build = Instant::now();
    let mut bare = rsigma_eval::Engine::new();
    if let Err(e) = bare.add_collection(&rules.sigma_collection()) {
        eprintln!("bare engine: {e}");
        std::process::exit(2);
    }
    println!("bare engine built in {:.2?} ({} rules)", build.elapsed(), bare.rule_count());
    let build = Instant::now();
    let mut routed = Engine::new(&rules, &EngineConfig::default());
    println!(
        "routed engine built in {:.2?} ({} rules)",
        build.elapsed(),
        routed.detection_rule_count()
    );

    let budget = Duration::from_secs(seconds);
    let bare_rate = measure("bare rsigma-eval (no routing)", &events, budget, |e| {
        bare.evaluate(&JsonEvent::borrow(&e.fields)).len()
    });
    let routed_rate =
        measure("routed, stateless (matches)", &events, budget, |e| routed.matches(e).len());
    let full_rate = measure("routed, with correlation (evaluate)", &events, budget, |e| {
        routed.evaluate(e).len()
    });
    let bloom_config = EngineConfig { bloom_prefilter: true, ..EngineConfig::default() };
    let bloomed = Engine::new(&rules, &bloom_config);
    let bloom_rate = measure("routed + bloom prefilter (matches)", &events, budget, |e| {
        bloomed.matches(e).len()
    });
    println!("ratio routed+bloom/bare: {:.2}", bloom_rate / bare_rate);
    let two = measure_parsing("parse, then map (two passes)", &lines, budget, |line| {
        serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|record| windows::from_evtx_value(record).ok())
            .map_or(0, |_| 1)
    });
    let one = measure_parsing("parse and map in one pass", &lines, budget, |line| {
        usize::from(matches!(windows::parse_evtx_record(line), Some(Ok(_))))
    });
    println!("ratio one pass/two passes: {:.2} (records per second)", one / two);
    println!(
        "ratio routed/bare: {:.2} (stateless), {:.2} (with correlation)",
        routed_rate / bare_rate,
        full_rate / bare_rate
    );
}
