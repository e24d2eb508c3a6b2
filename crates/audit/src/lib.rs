//! Rampart's tamper-evident audit log.
//!
//! - [`merkle`]: RFC 9162 hashing, proof verification, the append-only
//!   compact range and proof plans over stored subtree hashes.
//! - [`tiles`]: the storage layout of subtree hashes, 256 base nodes per tile.
//! - [`note`]: C2SP signed notes and tlog checkpoints with Ed25519 keys.
//! - [`entry`]: the canonical audit entry, its leaf bytes and erasable
//!   personal-field commitments.
//! - [`export`]: the JSON Lines export and its streaming offline verifier.
//!
//! The crate does no I/O of its own and never reads the clock: callers pass
//! readers, times and randomness in.

pub mod entry;
pub mod export;
pub mod merkle;
pub mod note;
pub mod tiles;

pub use entry::{ActorKind, Entry, EntryError, Outcome, PersonalField, PersonalFieldName};
pub use export::{
    ExportHeader, ExportLine, ExportTrailer, VerifyError, VerifyOptions, VerifySummary,
    verify_export, verify_export_with,
};
pub use merkle::{CompactRange, Hash, MerkleError, NodeId, ProofPlan};
pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
