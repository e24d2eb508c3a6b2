//! Throughput of Sigma evaluation over a mostly benign Windows event mix: the bare
//! `rsigma-eval` engine (every rule considered for every event) against this crate's engine
//! (rules routed by logsource), on one core, first on parsed events, then from the NDJSON line
//! (parsing and mapping included, as an engine fed the server's input works). Rates are per
//! second of this thread's CPU time (read from `/proc/thread-self/schedstat`), so a busy
//! machine does not skew them; wall-clock figures are printed too.
//!
//! The mix is every evtx record of the shared regression data, each followed by nine benign
//! variants. `--write` writes that same mix as the NDJSON batches `bench/detection-http.sh`
//! sends to the server, so both measure the same events.
//!
//! Run in release, with the shared reference data present:
//!
//! ```text
//! cargo run -p detect --release --features jemalloc --example throughput [-- SECONDS_PER_MEASURE]
//! cargo run -p detect --release --features jemalloc --example throughput -- --write DIR [EVENTS] [BATCH]
//! ```
//!
//! The `jemalloc` feature swaps the global allocator for this binary only (the server's).

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::{Path, PathBuf};
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

/// The everyday values put into a field that rules key on, or `None` for a field kept as is.
fn benign_pool(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "Image" | "ParentImage" | "SourceImage" | "TargetImage" => BENIGN_IMAGES,
        "CommandLine" | "ParentCommandLine" => BENIGN_COMMANDS,
        "TargetFilename" | "Path" | "FileName" => BENIGN_FILES,
        "TargetObject" | "Details" => BENIGN_KEYS,
        "ImageLoaded" => BENIGN_DLLS,
        "OriginalFileName" | "Description" | "Product" | "Company" => &["Microsoft"],
        "PipeName" => &["\\wkssvc", "\\srvsvc"],
        "QueryName" | "DestinationHostname" => &["www.microsoft.com", "update.googleapis.com"],
        "CallTrace" | "GrantedAccess" | "Hashes" | "ScriptBlockText" | "Payload" | "ThreatName"
        | "Threat Name" | "Consumer" | "Query" | "ServiceFileName" | "TaskContent" => &["benign"],
        _ => return None,
    })
}

/// A benign variant of a real evtx record: the `EventData` members rules key on replaced by
/// everyday values.
fn benign_variant(record: &Value, n: usize) -> Value {
    let mut out = record.clone();
    if let Some(Value::Object(data)) = out.pointer_mut("/Event/EventData") {
        for (name, value) in data.iter_mut() {
            if let Some(pool) = benign_pool(name) {
                *value = Value::String(pool[n % pool.len()].to_owned());
            }
        }
    }
    out
}

/// The mix as NDJSON lines: every evtx record of the regression data, each followed by nine
/// benign variants (90 % benign).
fn mix_lines(regression_data: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![regression_data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut lines = Vec::new();
    let mut real = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let records = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
        for record in records.map_while(Result::ok) {
            if !record.get("Event").is_some_and(Value::is_object) {
                continue;
            }
            lines.push(record.to_string());
            for n in 0..9 {
                lines.push(benign_variant(&record, real * 9 + n).to_string());
            }
            real += 1;
        }
    }
    lines
}

/// Writes `total` lines of the mix, repeated as needed, as NDJSON files of `batch` lines.
fn write_batches(lines: &[String], dir: &Path, total: usize, batch: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let repeated: Vec<&str> = lines.iter().map(String::as_str).cycle().take(total).collect();
    for (n, chunk) in repeated.chunks(batch.max(1)).enumerate() {
        let mut text = chunk.join("\n");
        text.push('\n');
        std::fs::write(dir.join(format!("{n:06}.ndjson")), text)?;
    }
    let bytes: usize = repeated.iter().map(|line| line.len() + 1).sum();
    println!(
        "{} lines in the mix ({} regression records), {total} events in batches of {batch}, \
         {:.1} MB",
        lines.len(),
        lines.len() / 10,
        bytes as f64 / 1e6
    );
    Ok(())
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux),
/// so that the rate is per core even on a busy machine; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Runs `run` over `items` for `budget` after one warm-up pass, and prints and returns the
/// items per second of this thread's CPU time. `run` returns the matches (or mapped records)
/// of an item; the warm-up pass gives their number per pass.
fn measure<T>(
    label: &str,
    unit: &str,
    items: &[T],
    budget: Duration,
    mut run: impl FnMut(&T) -> usize,
) -> f64 {
    let per_pass = items.iter().map(&mut run).sum::<usize>();
    let started = Instant::now();
    let cpu_started = cpu_time();
    let (mut done, mut found) = (0usize, 0usize);
    while started.elapsed() < budget {
        for item in items {
            found += run(item);
        }
        done += items.len();
    }
    let wall = started.elapsed();
    let cpu = cpu_time().zip(cpu_started).map(|(end, start)| end.saturating_sub(start));
    let rate = done as f64 / cpu.unwrap_or(wall).as_secs_f64();
    std::hint::black_box(found);
    println!(
        "{label:<44} {rate:>9.0} {unit}/s  {:>6.2} µs each  ({per_pass} per pass; {done} in \
         {wall:.2?} wall, {} on CPU)",
        1e6 / rate,
        cpu.map(|c| format!("{c:.2?}")).unwrap_or_else(|| "unknown".into())
    );
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/sigma"));
    if !data.is_dir() {
        eprintln!("shared data not found at {}", data.display());
        std::process::exit(2);
    }
    let lines = mix_lines(&data.join("regression_data"));
    if args.first().map(String::as_str) == Some("--write") {
        let number = |at: usize, default: usize| match args.get(at) {
            None => default,
            Some(text) => text.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                eprintln!("{text:?} is not a positive whole number of events");
                eprintln!("usage: throughput --write DIR [EVENTS] [BATCH]");
                std::process::exit(2)
            }),
        };
        let Some(dir) = args.get(1) else {
            eprintln!("usage: throughput --write DIR [EVENTS] [BATCH]");
            std::process::exit(2);
        };
        if let Err(e) = write_batches(&lines, Path::new(dir), number(2, 100_000), number(3, 2000)) {
            eprintln!("cannot write the batches under {dir}: {e}");
            std::process::exit(1);
        }
        return;
    }
    let seconds: u64 = match args.first() {
        None => 5,
        Some(text) => text.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
            eprintln!("{text:?} is not a positive whole number of seconds");
            eprintln!("usage: throughput [SECONDS_PER_MEASURE] | --write DIR [EVENTS] [BATCH]");
            std::process::exit(2)
        }),
    };
    println!(
        "allocator: {}",
        if cfg!(feature = "jemalloc") { "jemalloc" } else { "system (glibc malloc)" }
    );
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
    let events: Vec<Event> = lines
        .iter()
        .filter_map(|line| windows::parse_evtx_record(line).and_then(Result::ok))
        .collect();
    println!(
        "events: {} NDJSON lines, {} of them mapped ({} regression records, each with nine \
         benign variants)",
        lines.len(),
        events.len(),
        lines.len() / 10
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
    let bloom_config = EngineConfig { bloom_prefilter: true, ..EngineConfig::default() };
    let bloomed = Engine::new(&rules, &bloom_config);

    let budget = Duration::from_secs(seconds);
    println!("\nparsing the NDJSON lines:");
    let two = measure("parse, then map (two passes)", "lines", &lines, budget, |line| {
        serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|record| windows::from_evtx_value(record).ok())
            .map_or(0, |_| 1)
    });
    let one = measure("parse and map in one pass", "lines", &lines, budget, |line| {
        usize::from(matches!(windows::parse_evtx_record(line), Some(Ok(_))))
    });
    println!("\nevaluating the parsed events:");
    let bare_rate = measure("bare rsigma-eval (no routing)", "events", &events, budget, |e| {
        bare.evaluate(&JsonEvent::borrow(&e.fields)).len()
    });
    let routed_rate = measure("routed, stateless (matches)", "events", &events, budget, |e| {
        routed.matches(e).len()
    });
    let bloom_rate =
        measure("routed + bloom prefilter (matches)", "events", &events, budget, |e| {
            bloomed.matches(e).len()
        });
    let full_rate =
        measure("routed, with correlation (evaluate)", "events", &events, budget, |e| {
            routed.evaluate(e).len()
        });
    println!("\nfrom the NDJSON line (parse and map, then evaluate):");
    let parse = |line: &String| windows::parse_evtx_record(line).and_then(Result::ok);
    let bare_line = measure("bare rsigma-eval, from the line", "events", &lines, budget, |line| {
        parse(line).map_or(0, |e| bare.evaluate(&JsonEvent::borrow(&e.fields)).len())
    });
    let routed_line =
        measure("routed, with correlation, from the line", "events", &lines, budget, |line| {
            parse(line).map_or(0, |e| routed.evaluate(&e).len())
        });
    println!();
    println!("ratio one pass/two passes: {:.2} (lines per second)", one / two);
    println!(
        "ratio routed/bare: {:.2} (stateless), {:.2} (with correlation), {:.2} (bloom)",
        routed_rate / bare_rate,
        full_rate / bare_rate,
        bloom_rate / bare_rate
    );
    println!(
        "ratio routed/bare from the line: {:.2} (the parse is {:.0} % of the routed path)",
        routed_line / bare_line,
        100.0 * routed_line / one
    );
}
