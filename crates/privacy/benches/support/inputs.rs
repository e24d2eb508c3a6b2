//! The generated inputs shared by the benchmarks and the `throughput` example: mixed prose
//! with personal data for the PII scanner, and a PostgreSQL dump with its masking rules.
#![allow(dead_code, reason = "each benchmark uses part of it")]

/// Prose in several languages, with personal data in about one sentence out of three.
pub fn corpus(target_len: usize) -> String {
    let sentences = [
        "The quarterly review covered onboarding, the incident on the payment gateway and the new retention policy. ",
        "Le client a rappel\u{e9} le service le 12/05/2023 au sujet de sa facture et du d\u{e9}lai de livraison. ",
        "Bitte senden Sie die Unterlagen bis Ende der Woche an die Buchhaltung, danke im Voraus. ",
        "Order 58213 shipped from warehouse 7 at 14:32:10 with 3 parcels and tracking reference ZX-4411. ",
        "Contact: maria.rossi@example.it or +39 06 6982 1234 for the Rome office. ",
        "Refund to IBAN FR14 2004 1010 0505 0001 3M02 606 was approved by finance. ",
        "Card 4111 1111 1111 1111 was declined twice; the customer used another one. ",
        "Server 192.168.10.24 rejected the login after three failed attempts from 2001:db8::7. ",
        "La r\u{e9}union est pr\u{e9}vue mardi prochain dans la salle du troisi\u{e8}me \u{e9}tage. ",
        "Patient born on 3 March 1975, passport 12AB34567, visited the clinic in Lyon. ",
    ];
    let mut text = String::with_capacity(target_len + 200);
    let mut i = 0usize;
    while text.len() < target_len {
        // Mostly plain prose, PII in about one sentence out of three.
        let pick = if i.is_multiple_of(3) { 4 + (i / 3) % 6 } else { [0, 1, 2, 3, 8][i % 5] };
        text.push_str(sentences[pick]);
        i += 1;
    }
    text
}

/// Masking rules for [`dump`]: HMAC on e-mails, fake names and cities, explicit keeps.
pub const RULES: &str = r#"
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

/// A customers COPY block and multi-row INSERT statements for their orders.
pub fn dump(customers: usize) -> String {
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
