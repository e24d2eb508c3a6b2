//! Throughput of `pii::scan_text` over generated mixed text: prose in several languages with
//! e-mails, phones, IBANs, cards, dates and addresses sprinkled in (about one finding every
//! 300 bytes).
#![allow(clippy::expect_used, reason = "a benchmark fails loudly on bad set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privacy::pii::scan_text;

#[path = "support/inputs.rs"]
mod inputs;

use inputs::corpus;

fn bench(c: &mut Criterion) {
    let text = corpus(4 << 20);
    let mut group = c.benchmark_group("pii");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("scan_text_mixed_4MiB", |b| {
        b.iter(|| scan_text(std::hint::black_box(&text)).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
