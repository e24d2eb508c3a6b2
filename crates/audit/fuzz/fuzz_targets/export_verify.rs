//! Verifying arbitrary bytes as an export must never panic. The input is
//! spliced into a valid export (header from the input's first line, then
//! the rest) so the fuzzer reaches entry parsing quickly.
#![no_main]

use audit::export::{VerifyOptions, verify_export_with};
use audit::merkle::{CompactRange, leaf_hash};
use audit::note::{Checkpoint, NoteSigner};
use audit::{ExportHeader, ExportTrailer};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(signer) = NoteSigner::from_seed("fuzz.example/log", [7; 32]) else { return };
    let mut range = CompactRange::new_empty(0);
    let _ = range.append(leaf_hash(b"x"), &mut |_, _| {});
    let Ok(root) = range.root() else { return };
    let cp = Checkpoint { origin: "fuzz.example/log".into(), size: 1, root, extensions: vec![] };
    let Ok(note) = signer.sign_checkpoint(&cp) else { return };
    let header = ExportHeader {
        organization_id: Uuid::nil(),
        origin: "fuzz.example/log".into(),
        from_index: 0,
        to_index: 1,
        left: vec![],
    };
    let trailer = ExportTrailer { right: vec![], checkpoint: note.clone() };
    let key = signer.verifier_key();
    // Raw input alone, and wrapped between a real header and trailer.
    for threads in [1, 2] {
        let options = VerifyOptions { threads, ..VerifyOptions::default() };
        let _ = verify_export_with(data, &note, &key, &options);
        let mut wrapped = header.to_line().into_bytes();
        wrapped.extend_from_slice(data);
        wrapped.extend_from_slice(trailer.to_line().as_bytes());
        let _ = verify_export_with(&wrapped[..], &note, &key, &options);
    }
});
