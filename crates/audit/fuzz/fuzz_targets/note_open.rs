//! Opening arbitrary text as a checkpoint note must never panic, and
//! whatever opens must re-serialise to the signed body.
#![no_main]

use audit::note::{Checkpoint, NoteSigner, open};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(signer) = NoteSigner::from_seed("fuzz.example/log", [7; 32]) else { return };
    let verifier = signer.verifier();
    if let Ok(cp) = open(text, &verifier, None) {
        // Only our key signs, so an accepted note has a body we produced.
        assert!(text.starts_with(&cp.to_body()));
    }
    let _ = Checkpoint::parse_body(text);
    let _ = audit::note::NoteVerifier::from_verifier_key(text);
    // Also sign what parses as a body, then open it again.
    if let Ok(cp) = Checkpoint::parse_body(text)
        && let Ok(note) = signer.sign_checkpoint(&cp)
    {
        assert_eq!(open(&note, &verifier, Some(&cp.origin)).ok(), Some(cp));
    }
});
