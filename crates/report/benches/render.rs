//! Rendering the live annex from a synthetic evidence set: a result for every check in the
//! catalogue, ten of them with 10,000 failing items each (cut to the default 25 per check in
//! the documents), the rest with up to 40, plus manual evidence.
//!
//! Measures building the live annex from the results, each format on its own, and the whole
//! job (build + Markdown + HTML + PDF); prints the size of each document once.

// Benchmark harness code: a broken setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use report::evidence::{
    CHECKS, CheckResult, EvidenceLocation, FailingItem, Figure, ManualEvidence,
};
use report::render::{
    AuditCheckpoint, DocumentMarking, LiveAnnex, RenderOptions, render_html, render_markdown,
    render_pdf,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-15 12:00 UTC);
const LARGE_LISTS: usize = 10;
const LARGE_LIST_ITEMS: usize = 10_000;

fn synthetic_evidence() -> (Vec<CheckResult>, Vec<ManualEvidence>) {
    let results = CHECKS
        .iter()
        .enumerate()
        .map(|(index, check)| {
            let failing_count = if index < LARGE_LISTS { LARGE_LIST_ITEMS } else { index % 41 };
            let failing = (0..failing_count)
                .map(|item| FailingItem {
                    id: format!("{}-{item}", check.id),
                    label: format!("item <{item}> of {}", check.id),
                    reason: format!("fails because of fact #{item} & its \"figure\""),
                })
                .collect();
            CheckResult::from_findings(
                check.id,
                NOW - Duration::minutes(20),
                failing_count * 3 + 10,
                failing,
                vec![Figure { name: "sample".to_owned(), value: index.to_string() }],
            )
        })
        .collect();
    let manual = vec![ManualEvidence {
        id: "m-1".to_owned(),
        measure_id: "physical.premises".to_owned(),
        description: "Data centre audit report".to_owned(),
        location: EvidenceLocation::File {
            file_name: "dc-audit.pdf".to_owned(),
            sha256_hex: "ab".repeat(32),
        },
        observed_at: NOW - Duration::days(40),
        expires_at: Some(NOW + Duration::days(325)),
    }];
    (results, manual)
}

fn marking() -> DocumentMarking {
    DocumentMarking {
        classification: "Confidential".to_owned(),
        tlp_label: "TLP:AMBER".to_owned(),
        generated_at: NOW,
        checkpoint: AuditCheckpoint { tree_size: 1_234_567, root_hash_hex: "cd".repeat(32) },
    }
}

fn bench_render(criterion: &mut Criterion) {
    let (results, manual) = synthetic_evidence();
    let options = RenderOptions::default();
    let annex = LiveAnnex::build(&results, &manual, marking(), &options).unwrap();
    println!(
        "evidence: {} checks, {} failing items; documents: markdown {} B, html {} B, pdf {} B",
        results.len(),
        results.iter().map(|result| result.failing.len()).sum::<usize>(),
        render_markdown(&annex).len(),
        render_html(&annex).len(),
        render_pdf(&annex).len()
    );

    let mut group = criterion.benchmark_group("annex");
    group.bench_function("build", |bencher| {
        bencher
            .iter(|| LiveAnnex::build(black_box(&results), &manual, marking(), &options).unwrap())
    });
    group.bench_function("markdown", |bencher| bencher.iter(|| render_markdown(black_box(&annex))));
    group.bench_function("html", |bencher| bencher.iter(|| render_html(black_box(&annex))));
    group.bench_function("pdf", |bencher| bencher.iter(|| render_pdf(black_box(&annex))));
    group.bench_function("build_and_all_formats", |bencher| {
        bencher.iter(|| {
            let annex =
                LiveAnnex::build(black_box(&results), &manual, marking(), &options).unwrap();
            (render_markdown(&annex).len(), render_html(&annex).len(), render_pdf(&annex).len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
