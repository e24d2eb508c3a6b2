//! Matching throughput: an inventory of 5,000 components against the RustSec and PyPA
//! databases, after load. Also prints the load rate (advisories per second).
//!
//! `cargo bench -p vuln --bench matching` (needs the shared reference data).

use std::path::PathBuf;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use vuln::Ecosystem;
use vuln::advisory::AdvisoryDatabase;
use vuln::matching::match_component;
use vuln::sbom::{Component, ComponentSource};

fn shared(sub: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(sub);
    path.exists().then_some(path)
}

/// 5,000 components: every package named by an advisory (half crates.io, half PyPI, with a
/// version inside and outside the affected ranges), topped up with names no advisory knows.
fn inventory(db: &AdvisoryDatabase) -> Vec<Component> {
    let mut named: Vec<(Ecosystem, String)> = db
        .advisories()
        .iter()
        .flat_map(|a| a.affected.iter().map(|f| (f.ecosystem.clone(), f.name.clone())))
        .collect();
    named.sort();
    named.dedup();
    let versions = |eco: &Ecosystem| match eco {
        Ecosystem::PyPi => ["1.0", "2.4.1"],
        _ => ["0.1.0", "1.2.3"],
    };
    let mut components = Vec::with_capacity(5_000);
    'outer: for round in 0.. {
        for (eco, name) in &named {
            if components.len() == 5_000 {
                break 'outer;
            }
            let version = versions(eco)[round % 2].to_owned();
            let name = if round < 2 { name.clone() } else { format!("{name}-unknown-{round}") };
            components.push(Component {
                ecosystem: eco.clone(),
                name,
                version,
                purl: None,
                source: ComponentSource::Registry,
                location: String::new(),
            });
        }
    }
    components
}

fn bench(c: &mut Criterion) {
    let (Some(rustsec), Some(pypa)) = (shared("rustsec"), shared("pypa-osv/vulns")) else {
        println!("skipped: the shared reference data is absent");
        return;
    };
    let mut db = AdvisoryDatabase::new();
    let started = Instant::now();
    let mut report = db.load_path(&rustsec);
    let rustsec_elapsed = started.elapsed();
    let rustsec_loaded = report.loaded + report.withdrawn;
    let pypa_started = Instant::now();
    let pypa_report = db.load_path(&pypa);
    let pypa_elapsed = pypa_started.elapsed();
    let pypa_loaded = pypa_report.loaded + pypa_report.withdrawn;
    report.loaded += pypa_report.loaded;
    let elapsed = started.elapsed();
    println!(
        "load: {} advisories in {:.2?} ({:.0}/s); RustSec {:.0}/s, PyPA {:.0}/s",
        report.loaded,
        elapsed,
        (rustsec_loaded + pypa_loaded) as f64 / elapsed.as_secs_f64(),
        rustsec_loaded as f64 / rustsec_elapsed.as_secs_f64(),
        pypa_loaded as f64 / pypa_elapsed.as_secs_f64(),
    );
    let components = inventory(&db);
    let started = Instant::now();
    let mut findings = 0;
    for component in &components {
        findings += match_component(&db, component).map_or(0, |m| m.vulnerabilities.len());
    }
    println!(
        "match: {} components, {findings} findings, once in {:.2?}",
        components.len(),
        started.elapsed()
    );
    c.bench_function("match 5000 components against RustSec + PyPA", |b| {
        b.iter(|| {
            let mut total = 0;
            for component in &components {
                total += match_component(&db, component).map_or(0, |m| m.vulnerabilities.len());
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
