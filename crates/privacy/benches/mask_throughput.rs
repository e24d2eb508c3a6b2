//! Throughput of `mask_stream` over a generated PostgreSQL dump held in memory: a customers
//! COPY block (HMAC on e-mails, fake names and cities, explicit keeps) and multi-row INSERT
//! statements for orders (HMAC on the customer e-mail, keeps).
#![allow(clippy::expect_used, reason = "a benchmark fails loudly on bad set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privacy::mask::{Format, MaskingKey, MaskingRules, mask_stream};

const RULES: &str = r#"
[columns]
"public.customers.id" = { rule = "keep" }
"public.customers.email" = { rule = "hmac", domain = "people" }
"public.customers.full_name" = { rule = "fake", kind = "name" }
"public.customers.city" = { rule = "fake", kind = "city" }
"public.customers.created_at" = { rule = "keep" }
"public.customers.plan" = { rule = "keep" }
"public.orders.id" = { rule = "keep" }
"public.orders.customer_email" = { rule = "hmac", domain = "people" }
"public.orders.amount" = { rule = "keep" }
"public.orders.status" = { rule = "keep" }
"#;

fn dump(customers: usize) -> String {
    use std::fmt::Write as _;
    let cities = ["Lyon", "Berlin", "Porto", "Gdańsk", "Zürich", "Bologna"];
    let plans = ["free", "team", "enterprise"];
    let mut out = String::from(
        "SET standard_conforming_strings = on;\n\nCOPY public.customers (id, email, full_name, city, created_at, plan) FROM stdin;\n",
    );
    for i in 0..customers {
        let _ = writeln!(
            out,
            "{i}\tuser{i}@mail{}.example.com\tPerson {i} Surname{}\t{}\t2024-0{}-1{} 10:{:02}:00+00\t{}",
            i % 97,
            i % 1013,
            cities[i % cities.len()],
            1 + i % 9,
            i % 10,
            i % 60,
            plans[i % plans.len()]
        );
    }
    out.push_str("\\.\n\n");
    for chunk in 0..customers / 10 {
        out.push_str("INSERT INTO public.orders (id, customer_email, amount, status) VALUES ");
        for j in 0..10 {
            let i = chunk * 10 + j;
            if j > 0 {
                out.push_str(", ");
            }
            let _ = write!(
                out,
                "({i}, 'user{i}@mail{}.example.com', {}.{:02}, 'shipped')",
                i % 97,
                i % 500,
                i % 100
            );
        }
        out.push_str(";\n");
    }
    out
}

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
