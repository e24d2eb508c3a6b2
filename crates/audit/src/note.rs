//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and the
//! tlog-checkpoint body (c2sp.org/tlog-checkpoint) they carry.
//!
//! This module owns the key name rules, key ids, the verifier-key string
//! `<name>+<hex id>+<base64(0x01 ‖ public key)>`, signing, and opening a
//! checkpoint note into a [`Checkpoint`] after its signature verified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Signature type byte for Ed25519 in key ids and verifier keys.
const ED25519_TYPE: u8 = 0x01;
/// The spec asks verifiers to accept at least 16; more is treated as abuse.
const MAX_SIGNATURES: usize = 100;
const SIG_PREFIX: &str = "\u{2014} ";

/// Errors from parsing, signing and opening notes and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Key names must be non-empty, without Unicode spaces or '+'.
    #[error("invalid key name {0:?}: must be non-empty and contain no spaces or '+'")]
    InvalidKeyName(String),
    /// The verifier key string is not `<name>+<8 hex>+<base64>`.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// The verifier key's stated id does not match its name and key.
    #[error(
        "verifier key id {stated} does not match the id {computed} computed from its name and key"
    )]
    VerifierKeyIdMismatch { stated: String, computed: String },
    /// Only Ed25519 (type 0x01) keys are supported.
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// The 32 key bytes are not a valid Ed25519 point.
    #[error("invalid ed25519 public key")]
    InvalidPublicKey,
    /// Notes must not contain control characters other than newline.
    #[error("control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    /// Notes and note texts end with a newline.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// A note text to sign must be non-empty.
    #[error("note text is empty")]
    EmptyText,
    /// No blank line separates the text from the signatures.
    #[error("no blank line separating the text from the signatures")]
    MissingSignatureBlock,
    /// A line of the signature block is malformed.
    #[error("signature line {line}: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    /// More signatures than this implementation accepts.
    #[error("note has {0} signatures, more than the {MAX_SIGNATURES} accepted")]
    TooManySignatures(usize),
    /// No signature carries the verifier's name.
    #[error("no signature by {expected}; the note is signed by: {found}")]
    UnknownSigner { expected: String, found: String },
    /// Signatures carry the verifier's name but another key id.
    #[error("signed by {name} with key id {found}, but the verifier key has id {expected}")]
    WrongKey { name: String, expected: String, found: String },
    /// A signature from the verifier's key does not verify.
    #[error("signature by {name} (key id {key_id}) does not verify")]
    BadSignature { name: String, key_id: String },
    /// The checkpoint body has fewer than three lines.
    #[error("checkpoint body has {0} lines, needs at least origin, size and root")]
    TooFewLines(usize),
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The origin contains a newline, so it cannot be a body line.
    #[error("checkpoint origin contains a newline")]
    OriginHasNewline,
    /// The size line is not canonical ASCII decimal.
    #[error("checkpoint size {0:?} is not a decimal without leading zeros")]
    InvalidSize(String),
    /// The root line is not base64 of 32 bytes.
    #[error("checkpoint root {0:?} is not canonical base64 of 32 bytes")]
    InvalidRoot(String),
    /// Extension lines must be non-empty and single-line.
    #[error("checkpoint extension line {0} is empty or contains a newline")]
    InvalidExtension(usize),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {found:?} does not match the expected origin {expected:?}")]
    OriginMismatch { expected: String, found: String },
}

/// A transparency-log checkpoint: the signed tree head of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity, e.g. `rampart.example/audit/<org>`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root hash at `size`.
    pub root: Hash,
    /// Opaque extra lines (not recommended by the spec; kept for fidelity).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root, extensions, each ending
    /// in a newline.
    pub fn to_body(&self) -> String {
        let mut body = String::with_capacity(self.origin.len() + 80);
        body.push_str(&self.origin);
        body.push('\n');
        body.push_str(&self.size.to_string());
        body.push('\n');
        body.push_str(&B64.encode(self.root));
        body.push('\n');
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint note text (without signatures).
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        check_text(body)?;
        let Some(text) = body.strip_suffix('\n') else {
            return Err(NoteError::MissingFinalNewline);
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(NoteError::TooFewLines(lines.len()));
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        let mut exts = Vec::with_capacity(extensions.len());
        for (i, ext) in extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(NoteError::InvalidExtension(i + 1));
            }
            exts.push((*ext).to_owned());
        }
        Ok(Self { origin: (*origin).to_owned(), size, root, extensions: exts })
    }

    /// Checks that [`Self::to_body`] would parse back to `self`.
    pub fn validate(&self) -> Result<(), NoteError> {
        if self.origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        if self.origin.contains('\n') {
            return Err(NoteError::OriginHasNewline);
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            if ext.is_empty() || ext.contains('\n') {
                return Err(NoteError::InvalidExtension(i + 1));
            }
        }
        check_text(&self.to_body())
    }
}

fn parse_size(s: &str) -> Result<u64, NoteError> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(NoteError::InvalidSize(s.to_owned()));
    }
    s.parse::<u64>().map_err(|_| NoteError::InvalidSize(s.to_owned()))
}

fn parse_root(s: &str) -> Result<Hash, NoteError> {
    // The base64 engine rejects non-zero trailing bits, so each root has
    // exactly one accepted spelling.
    let bytes = B64.decode(s).map_err(|_| NoteError::InvalidRoot(s.to_owned()))?;
    Hash::try_from(bytes.as_slice()).map_err(|_| NoteError::InvalidRoot(s.to_owned()))
}

/// Rejects ASCII control characters other than newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    match text.bytes().enumerate().find(|&(_, b)| b < 0x20 && b != b'\n') {
        Some((offset, byte)) => Err(NoteError::ControlCharacter { offset, byte }),
        None => Ok(()),
    }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`.
fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(public.as_bytes());
    let digest: Hash = h.finalize().into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A named Ed25519 note signing key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key must never reach logs.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, &key.verifying_key());
        Ok(Self { name: name.to_owned(), key, key_id })
    }

    /// A signer with a fresh key from `rng`.
    pub fn generate<R: CryptoRng + RngCore>(name: &str, rng: &mut R) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(name, seed)
    }

    /// The secret seed, for storing the key. Handle as a secret.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key_id: self.key_id, key: self.key.verifying_key() }
    }

    /// The public verifier key string.
    pub fn verifier_key(&self) -> String {
        self.verifier().verifier_key()
    }

    /// Signs a note text: returns text, blank line, one signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if text.is_empty() {
            return Err(NoteError::EmptyText);
        }
        if !text.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }

    /// Signs a checkpoint after checking that its body round-trips.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        checkpoint.validate()?;
        self.sign(&checkpoint.to_body())
    }
}

/// A named Ed25519 public key that verifies notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte key)>`.
    pub fn from_verifier_key(vkey: &str) -> Result<Self, NoteError> {
        // Base64 uses '+', so only the first two '+' are separators.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey("expected <name>+<key id>+<key>"));
        };
        check_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(NoteError::MalformedVerifierKey("key id is not 8 lowercase hex digits"));
        }
        let raw = B64
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedVerifierKey("key is not valid base64"))?;
        let Some((&kind, key_bytes)) = raw.split_first() else {
            return Err(NoteError::MalformedVerifierKey("key is empty"));
        };
        if kind != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType(kind));
        }
        let key_bytes: [u8; 32] = key_bytes
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| NoteError::InvalidPublicKey)?;
        let computed = key_id(name, &key);
        if hex::encode(computed) != id_hex {
            return Err(NoteError::VerifierKeyIdMismatch {
                stated: id_hex.to_owned(),
                computed: hex::encode(computed),
            });
        }
        Ok(Self { name: name.to_owned(), key_id: computed, key })
    }

    /// The verifier key string.
    pub fn verifier_key(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_TYPE);
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.key_id), B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Verifies a signed note and returns its text (with final newline).
    ///
    /// Signatures by other keys are ignored, as the spec requires; the note
    /// is rejected unless one signature by this key verifies and none fails.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        check_text(note)?;
        if !note.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        // The text ends at the last blank line; the separating newline
        // belongs to neither part.
        let Some(split) = note.rfind("\n\n") else {
            return Err(NoteError::MissingSignatureBlock);
        };
        let text = note.get(..=split).unwrap_or_default();
        let sigs = note.get(split + 2..).unwrap_or_default();
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine { line: 1, reason: "missing" });
        };
        if sigs.is_empty() {
            return Err(NoteError::MalformedSignatureLine { line: 1, reason: "missing" });
        }
        let lines: Vec<&str> = sigs.split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(lines.len()));
        }
        let mut verified = false;
        let mut names_seen: Vec<&str> = Vec::new();
        let mut ids_for_name: Vec<String> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let line_no = i + 1;
            let (name, sig) = parse_sig_line(line, line_no)?;
            if !names_seen.contains(&name) {
                names_seen.push(name);
            }
            if name != self.name {
                continue;
            }
            let id = [sig[0], sig[1], sig[2], sig[3]];
            if id != self.key_id {
                ids_for_name.push(hex::encode(id));
                continue;
            }
            let bad = || NoteError::BadSignature {
                name: self.name.clone(),
                key_id: hex::encode(self.key_id),
            };
            let sig_bytes: [u8; 64] =
                sig.get(4..).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
            let signature = Signature::from_bytes(&sig_bytes);
            self.key.verify_strict(text.as_bytes(), &signature).map_err(|_| bad())?;
            verified = true;
        }
        if verified {
            return Ok(text);
        }
        if !ids_for_name.is_empty() {
            return Err(NoteError::WrongKey {
                name: self.name.clone(),
                expected: hex::encode(self.key_id),
                found: ids_for_name.join(", "),
            });
        }
        Err(NoteError::UnknownSigner { expected: self.name.clone(), found: names_seen.join(", ") })
    }
}

/// Splits `— <name> <base64>` into the name and the decoded signature blob
/// (at least 5 bytes: key id and signature).
fn parse_sig_line(line: &str, line_no: usize) -> Result<(&str, Vec<u8>), NoteError> {
    let malformed = |reason| NoteError::MalformedSignatureLine { line: line_no, reason };
    let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
        return Err(malformed("does not start with an em dash and a space"));
    };
    let mut parts = rest.split(' ');
    let (Some(name), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("expected a key name and a signature separated by one space"));
    };
    if check_name(name).is_err() {
        return Err(malformed("invalid key name"));
    }
    let blob = B64.decode(b64).map_err(|_| malformed("signature is not valid base64"))?;
    if blob.len() < 5 {
        return Err(malformed("signature is shorter than a key id and one byte"));
    }
    Ok((name, blob))
}

/// Verifies a checkpoint note with `verifier` and parses its body; with
/// `expected_origin`, also checks that the checkpoint is for that log.
pub fn open(
    note: &str,
    verifier: &NoteVerifier,
    expected_origin: Option<&str>,
) -> Result<Checkpoint, NoteError> {
    let text = verifier.verify_note(note)?;
    let checkpoint = Checkpoint::parse_body(text)?;
    if let Some(expected) = expected_origin
        && checkpoint.origin != expected
    {
        return Err(NoteError::OriginMismatch {
            expected: expected.to_owned(),
            found: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}
