//! Throughput of `pii::scan_text` over generated mixed text: prose in several languages with
//! e-mails, phones, IBANs, cards, dates and addresses sprinkled in (about one finding every
//! 300 bytes).
#![allow(clippy::expect_used, reason = "a benchmark fails loudly on bad set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privacy::pii::scan_text;

fn corpus(target_len: usize) -> String {
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
