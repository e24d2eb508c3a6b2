//! Throughput of `mask_stream` over a generated PostgreSQL dump held in memory: a customers
//! COPY block (HMAC on e-mails, fake names and cities, explicit keeps) and multi-row INSERT
//! statements for orders (HMAC on the customer e-mail, keeps).
#![allow(clippy::expect_used, reason = "a benchmark fails loudly on bad set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privacy::mask::{Format, MaskingKey, MaskingRules, mask_stream};

#[path = "support/inputs.rs"]
mod inputs;

use inputs::{RULES, dump};

fn bench(c: &mut Criterion) {
    let input = dump(60_000);
    let rules = MaskingRules::from_toml(RULES).expect("rules");
    let key = MaskingKey::from_file_bytes(&(1u8..=32).collect::<Vec<_>>()).expect("key");
    let mut group = c.benchmark_group("mask");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.bench_function(format!("pg_dump_hmac_fake_{}MB", input.len() / 1_000_000), |b| {
        let mut out = Vec::with_capacity(input.len() * 2);
        b.iter(|| {
            out.clear();
            mask_stream(
                &Format::PostgresDump,
                &rules,
                &key,
                input.as_bytes(),
                &mut out,
                &mut |_| {},
            )
            .expect("mask")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
