//! The backup file: an encrypted, authenticated stream of frames (docs/backup.md).
//!
//! ```text
//! file     = header segment*
//! header   = "RAMPART-BACKUP" 0x00 0x01 (16 bytes) || salt (32 bytes) || key check (16 bytes)
//! segment  = length (u32, big-endian) || AES-256-GCM(plain part) with its 16-byte tag
//! ```
//!
//! - The key is HKDF-SHA-256 of the master key with the file's random salt, so each file has
//!   its own key and a counter nonce is never reused; the key check (another HKDF output) tells
//!   a wrong master key apart from a damaged file before anything is decrypted.
//! - Segment `i`'s nonce is `i` (8 bytes, big-endian) || three zero bytes || 1 for the last
//!   segment, 0 otherwise; the header is the associated data of every segment. Reordering,
//!   dropping, truncating or changing anything fails authentication.
//! - Every segment but the last holds exactly [`SEGMENT_SIZE`] plain bytes.
//!
//! The plain stream is a sequence of frames: kind (1 byte) || length (u32, big-endian) ||
//! bytes. The first frame is the manifest, the last the summary (both JSON).

use std::io::{self, BufRead, BufReader, Read, Write};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const MAGIC: &[u8; 16] = b"RAMPART-BACKUP\x00\x01";
const SALT_LEN: usize = 32;
const KEY_CHECK_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + SALT_LEN + KEY_CHECK_LEN;
const TAG_LEN: usize = 16;
/// Plain bytes per segment.
pub const SEGMENT_SIZE: usize = 64 * 1024;
/// The largest frame a reader accepts.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    Manifest = 1,
    TableStart = 2,
    TableRows = 3,
    TableEnd = 4,
    SqliteFile = 5,
    Summary = 6,
}

impl FrameKind {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Manifest,
            2 => Self::TableStart,
            3 => Self::TableRows,
            4 => Self::TableEnd,
            5 => Self::SqliteFile,
            6 => Self::Summary,
            _ => return None,
        })
    }
}

/// The first frame: what the backup is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The file format's version (1).
    pub format: u32,
    /// `sqlite` (a database file) or `postgres` (tables as COPY text).
    pub backend: String,
    /// The newest migration applied to the database that was copied.
    pub schema_version: i64,
    /// When the copy was taken (RFC 3339).
    pub created_at: String,
    /// The version of Rampart that made it.
    pub rampart_version: String,
}

/// The last frame: what the backup holds, to check a restore against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Rows per table.
    pub row_counts: std::collections::BTreeMap<String, u64>,
    /// SQLite: the SHA-256 of the database file (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_sha256: Option<String>,
}

/// Why a backup cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("this is not a Rampart backup file (its first bytes are not the backup header)")]
    NotABackup,
    #[error(
        "this backup was sealed with a different master key; use the master key of the \
         installation that made it (RAMPART_MASTER_KEY or the master key file)"
    )]
    WrongKey,
    #[error("the backup is damaged or was modified: segment {0} fails authentication")]
    Tampered(u64),
    #[error("the backup is damaged: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

struct Keys {
    cipher: Aes256Gcm,
    check: [u8; KEY_CHECK_LEN],
}

fn derive(master_key: &[u8; 32], salt: &[u8]) -> Keys {
    let hkdf = Hkdf::<Sha256>::new(Some(salt), master_key);
    let mut key = [0_u8; 32];
    let mut check = [0_u8; KEY_CHECK_LEN];
    // Both lengths are far below HKDF-SHA-256's limit of 8,160 bytes.
    let _ = hkdf.expand(b"rampart backup v1 encryption", &mut key);
    let _ = hkdf.expand(b"rampart backup v1 key check", &mut check);
    let cipher = Aes256Gcm::new(&key.into());
    Keys { cipher, check }
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0_u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Encrypts frames into a backup file as they come.
pub struct BackupWriter<W: Write> {
    out: W,
    keys: Keys,
    header: [u8; HEADER_LEN],
    pending: Vec<u8>,
    index: u64,
    written: u64,
}

impl<W: Write> BackupWriter<W> {
    pub fn new(mut out: W, master_key: &[u8; 32]) -> io::Result<Self> {
        let mut salt = [0_u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let keys = derive(master_key, &salt);
        let mut header = [0_u8; HEADER_LEN];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()..MAGIC.len() + SALT_LEN].copy_from_slice(&salt);
        header[MAGIC.len() + SALT_LEN..].copy_from_slice(&keys.check);
        out.write_all(&header)?;
        let written = HEADER_LEN as u64;
        Ok(Self {
            out,
            keys,
            header,
            pending: Vec::with_capacity(2 * SEGMENT_SIZE),
            index: 0,
            written,
        })
    }

    pub fn frame(&mut self, kind: FrameKind, bytes: &[u8]) -> io::Result<()> {
        let length = u32::try_from(bytes.len())
            .ok()
            .filter(|length| (*length as usize) <= MAX_FRAME)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        self.pending.push(kind as u8);
        self.pending.extend_from_slice(&length.to_be_bytes());
        self.pending.extend_from_slice(bytes);
        // Keep at least one byte back: only `finish` knows which segment is the last.
        while self.pending.len() > SEGMENT_SIZE {
            let rest = self.pending.split_off(SEGMENT_SIZE);
            let segment = std::mem::replace(&mut self.pending, rest);
            self.seal(&segment, false)?;
        }
        Ok(())
    }

    pub fn json_frame(&mut self, kind: FrameKind, value: &impl Serialize) -> io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.frame(kind, &bytes)
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> io::Result<()> {
        let nonce = nonce(self.index, last);
        let sealed = self
            .keys
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &self.header })
            .map_err(|_| io::Error::other("encryption failed"))?;
        let length = u32::try_from(sealed.len()).map_err(io::Error::other)?;
        self.out.write_all(&length.to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.written += 4 + sealed.len() as u64;
        self.index += 1;
        Ok(())
    }

    /// Seal the last segment; returns the writer and the file's size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let last = std::mem::take(&mut self.pending);
        self.seal(&last, true)?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }
}

/// Decrypts a backup file into its plain stream of frames, authenticating every segment.
pub struct BackupReader<R: Read> {
    input: BufReader<R>,
    keys: Keys,
    header: [u8; HEADER_LEN],
    plain: Vec<u8>,
    position: usize,
    index: u64,
    finished: bool,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub bytes: Vec<u8>,
}

impl<R: Read> BackupReader<R> {
    pub fn new(input: R, master_key: &[u8; 32]) -> Result<Self, BackupError> {
        let mut input = BufReader::with_capacity(SEGMENT_SIZE + TAG_LEN + 4, input);
        let mut header = [0_u8; HEADER_LEN];
        input.read_exact(&mut header).map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
            _ => BackupError::Io(error),
        })?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let keys = derive(master_key, &header[MAGIC.len()..MAGIC.len() + SALT_LEN]);
        let stored_check = &header[MAGIC.len() + SALT_LEN..];
        if !bool::from(subtle::ConstantTimeEq::ct_eq(stored_check, &keys.check[..])) {
            return Err(BackupError::WrongKey);
        }
        Ok(Self { input, keys, header, plain: Vec::new(), position: 0, index: 0, finished: false })
    }

    /// Decrypt the next segment; false at the end of the file.
    fn next_segment(&mut self) -> Result<bool, BackupError> {
        if self.finished {
            return Ok(false);
        }
        let mut length = [0_u8; 4];
        match self.input.read_exact(&mut length) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(BackupError::Malformed(
                    "the file ends before its last segment (truncated)".into(),
                ));
            }
            Err(error) => return Err(error.into()),
        }
        let length = u32::from_be_bytes(length) as usize;
        if !(TAG_LEN..=SEGMENT_SIZE + TAG_LEN).contains(&length) {
            return Err(BackupError::Malformed(format!(
                "segment {} has an impossible length ({length} bytes)",
                self.index
            )));
        }
        let mut sealed = vec![0_u8; length];
        self.input.read_exact(&mut sealed).map_err(|_| {
            BackupError::Malformed(format!("segment {} is cut short (truncated)", self.index))
        })?;
        let last = self.input.fill_buf()?.is_empty();
        let nonce = nonce(self.index, last);
        let plain = self
            .keys
            .cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &sealed, aad: &self.header })
            .map_err(|_| BackupError::Tampered(self.index))?;
        if !last && plain.len() != SEGMENT_SIZE {
            return Err(BackupError::Tampered(self.index));
        }
        self.plain = plain;
        self.position = 0;
        self.index += 1;
        self.finished = last;
        Ok(true)
    }

    /// Fill `out` from the plain stream; false if the stream ended before the first byte.
    fn read_plain(&mut self, out: &mut [u8]) -> Result<bool, BackupError> {
        let mut filled = 0;
        while filled < out.len() {
            if self.position == self.plain.len() {
                if !self.next_segment()? {
                    if filled == 0 {
                        return Ok(false);
                    }
                    return Err(BackupError::Malformed("the last frame is cut short".into()));
                }
                continue;
            }
            let n = (out.len() - filled).min(self.plain.len() - self.position);
            out[filled..filled + n].copy_from_slice(&self.plain[self.position..self.position + n]);
            filled += n;
            self.position += n;
        }
        Ok(true)
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, BackupError> {
        let mut head = [0_u8; 5];
        if !self.read_plain(&mut head)? {
            return Ok(None);
        }
        let kind = FrameKind::from_byte(head[0])
            .ok_or_else(|| BackupError::Malformed(format!("unknown frame kind {}", head[0])))?;
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if length > MAX_FRAME {
            return Err(BackupError::Malformed(format!("a frame of {length} bytes is too large")));
        }
        let mut bytes = vec![0_u8; length];
        if length > 0 && !self.read_plain(&mut bytes)? {
            return Err(BackupError::Malformed("the last frame is cut short".into()));
        }
        Ok(Some(Frame { kind, bytes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn sealed(frames: &[(FrameKind, Vec<u8>)]) -> Vec<u8> {
        let mut writer = BackupWriter::new(Vec::new(), &KEY).unwrap();
        for (kind, bytes) in frames {
            writer.frame(*kind, bytes).unwrap();
        }
        let (file, size) = writer.finish().unwrap();
        assert_eq!(size, file.len() as u64);
        file
    }

    fn opened(file: &[u8], key: &[u8; 32]) -> Result<Vec<Frame>, BackupError> {
        let mut reader = BackupReader::new(file, key)?;
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame()? {
            frames.push(frame);
        }
        Ok(frames)
    }

    fn sample() -> Vec<(FrameKind, Vec<u8>)> {
        // Spans several segments, with a frame that crosses segment boundaries.
        let big: Vec<u8> = (0..200_000_u32).map(|n| (n % 251) as u8).collect();
        vec![
            (FrameKind::Manifest, br#"{"format":1}"#.to_vec()),
            (FrameKind::TableStart, b"users".to_vec()),
            (FrameKind::TableRows, big),
            (FrameKind::TableEnd, 3_u64.to_be_bytes().to_vec()),
            (FrameKind::Summary, Vec::new()),
        ]
    }

    #[test]
    fn frames_come_back_as_written() {
        let frames = sample();
        let back = opened(&sealed(&frames), &KEY).unwrap();
        let back: Vec<(FrameKind, Vec<u8>)> =
            back.into_iter().map(|frame| (frame.kind, frame.bytes)).collect();
        assert_eq!(back, frames);
    }

    #[test]
    fn an_empty_stream_is_one_sealed_segment() {
        let file = sealed(&[]);
        assert_eq!(file.len(), HEADER_LEN + 4 + TAG_LEN);
        assert!(opened(&file, &KEY).unwrap().is_empty());
    }

    #[test]
    fn the_ciphertext_hides_the_content() {
        let file = sealed(&[(FrameKind::TableRows, b"alice@example.com".repeat(100))]);
        assert!(!file.windows(17).any(|window| window == b"alice@example.com"));
    }

    #[test]
    fn a_wrong_key_is_named_before_decrypting() {
        let file = sealed(&sample());
        assert!(matches!(opened(&file, &[8; 32]), Err(BackupError::WrongKey)));
    }

    #[test]
    fn any_changed_byte_is_detected() {
        let file = sealed(&sample());
        // Every byte of the header and a spread of the body.
        let positions = (0..HEADER_LEN).chain((HEADER_LEN..file.len()).step_by(4_999));
        for position in positions {
            let mut changed = file.clone();
            changed[position] ^= 0x01;
            assert!(opened(&changed, &KEY).is_err(), "a change at byte {position} went unseen");
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let file = sealed(&sample());
        let first_segment_end = HEADER_LEN + 4 + SEGMENT_SIZE + TAG_LEN;
        for cut in [HEADER_LEN, HEADER_LEN + 10, first_segment_end, file.len() - 1] {
            assert!(opened(&file[..cut], &KEY).is_err(), "a cut at {cut} went unseen");
        }
        let mut longer = file.clone();
        longer.extend_from_slice(&[0, 0, 0, 0]);
        assert!(opened(&longer, &KEY).is_err());
    }

    #[test]
    fn swapped_segments_are_detected() {
        let file = sealed(&sample());
        let segment = 4 + SEGMENT_SIZE + TAG_LEN;
        let mut swapped = file.clone();
        let (first, second) = (HEADER_LEN, HEADER_LEN + segment);
        swapped[first..first + segment].copy_from_slice(&file[second..second + segment]);
        swapped[second..second + segment].copy_from_slice(&file[first..first + segment]);
        assert!(matches!(opened(&swapped, &KEY), Err(BackupError::Tampered(0))));
    }

    #[test]
    fn other_files_are_not_backups() {
        assert!(matches!(opened(b"SQLite format 3\0", &KEY), Err(BackupError::NotABackup)));
        assert!(matches!(opened(b"", &KEY), Err(BackupError::NotABackup)));
    }
}
