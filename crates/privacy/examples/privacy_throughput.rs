//! Measures CPU throughput of PII scanning and masking on the benchmarks' generated inputs,
//! for machines where wall-clock benchmarks are distorted by other load. Run it under a
//! CPU-time measuring shell (`time`) and divide the bytes printed by the user time:
//!
//! ```text
//! cargo build --release --example privacy_throughput -p privacy
//! time target/release/examples/privacy_throughput pii 20
//! time target/release/examples/privacy_throughput mask 5
//! ```
#![allow(clippy::expect_used, reason = "a measurement tool fails loudly on bad set-up")]

use privacy::mask::{Format, MaskingKey, MaskingRules, mask_stream};
use privacy::pii::scan_text;

#[path = "../benches/support/inputs.rs"]
mod inputs;

use inputs::{RULES, corpus, dump};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_default();
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    match what.as_str() {
        "pii" => {
            let text = corpus(4 << 20);
            let mut findings = 0;
            for _ in 0..rounds {
                findings += scan_text(std::hint::black_box(&text)).len();
            }
            println!("pii: {} bytes scanned, {findings} findings", text.len() * rounds);
        }
        "mask" => {
            let input = dump(60_000);
            let rules = MaskingRules::from_toml(RULES).expect("rules");
            let key = MaskingKey::from_file_bytes(&(1u8..=32).collect::<Vec<_>>()).expect("key");
            let mut out = Vec::with_capacity(input.len() * 2);
            for _ in 0..rounds {
                out.clear();
                mask_stream(
                    &Format::PostgresDump,
                    &rules,
                    &key,
                    input.as_bytes(),
                    &mut out,
                    &mut |_| {},
                )
                .expect("mask");
            }
            println!("mask: {} bytes masked", input.len() * rounds);
        }
        _ => eprintln!("usage: privacy_throughput pii|mask [rounds]"),
    }
}
