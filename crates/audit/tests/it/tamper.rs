//! Flipping any byte of an export must make verification fail, unless the
//! flip leaves every line semantically identical as JSON.
//!
//! Why that exception is the only one: every value in a line is either
//! hashed into the leaf (entry fields, personal commitments, `leaf`), into
//! the root (`left`, `right`), checked against the signed checkpoint
//! (`origin`, the trailer's `checkpoint`), or parsed strictly (canonical
//! UUID and time spellings, base64 without slack bits, no unknown or
//! missing keys). The one change a strict reader cannot see is a different
//! spelling of the same JSON value, e.g. the hex case of a `\u001f` escape;
//! when a flip verifies, the test asserts it was exactly such a change.

use audit::export::verify_export;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{Log, signer};

fn same_json(a: &[u8], b: &[u8]) -> bool {
    let parse = |t: &[u8]| -> Option<Vec<serde_json::Value>> {
        let text = std::str::from_utf8(t).ok()?;
        if !text.ends_with('\n') {
            return None;
        }
        text.lines().map(|l| serde_json::from_str(l).ok()).collect()
    };
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

/// A small export with erased fields, absent fields and escapes.
fn small_export(seed: u64) -> (Vec<u8>, String) {
    let mut log = Log::with_entries(6, seed);
    log.entries[1].erase_personal();
    let (export, cp) = log.export(1, 4, 6);
    (export.into_bytes(), cp)
}

fn check_flip(export: &[u8], cp: &str, key: &str, pos: usize, mask: u8) -> bool {
    let mut bytes = export.to_vec();
    bytes[pos] ^= mask;
    match verify_export(&bytes[..], cp, key, None) {
        Err(_) => false,
        Ok(_) => {
            assert!(
                same_json(export, &bytes),
                "flip of byte {pos} ({:?} -> {:?}) verified but changed the content",
                export[pos] as char,
                bytes[pos] as char
            );
            true
        }
    }
}

#[test]
fn every_byte_flip_is_detected() {
    let key = signer().verifier_key();
    let mut tolerated = 0;
    let mut total = 0;
    for seed in [11u64, 12, 13] {
        let (export, cp) = small_export(seed);
        verify_export(&export[..], &cp, &key, None).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        for pos in 0..export.len() {
            // One random flip and the case bit (0x20), which is what a
            // lenient parser would be most likely to miss.
            for mask in [rng.gen_range(1..=255u8), 0x20] {
                total += 1;
                tolerated += usize::from(check_flip(&export, &cp, &key, pos, mask));
            }
        }
    }
    eprintln!("{total} flips, {tolerated} semantically identical and accepted");
    // The only tolerated flips are \u00XX hex-case changes in escapes.
    assert!(tolerated * 100 < total, "{tolerated} of {total}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_flips_are_detected(seed in 0u64..4, pos_frac in 0.0f64..1.0, mask in 1u8..=255) {
        let (export, cp) = small_export(100 + seed);
        let pos = ((export.len() as f64) * pos_frac) as usize % export.len();
        check_flip(&export, &cp, &signer().verifier_key(), pos, mask);
    }
}
