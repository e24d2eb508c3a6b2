//! Password hashing with argon2id on a bounded pool of threads of its own, so that a flood of
//! logins queues instead of starving the rest of the server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, KeyId, Params, ParamsBuilder, Version};
use base64::Engine as _;

use crate::AppError;

/// Check a new password against the policy (`iam::password`): length after NFKC, the
/// blocklist of common and breached passwords, the account's own email, name and
/// organisation, and a zxcvbn score of at least 3. No composition rules (NIST SP 800-63B).
pub fn check_new_password(
    password: &str,
    email: &str,
    name: Option<&str>,
    organisation: Option<&str>,
) -> Result<(), AppError> {
    check_new_password_with(password, email, name, organisation, false)
}

/// As [`check_new_password`]; when the organisation enforces a second factor, the password
/// is not the only factor and may be as short as 8 characters.
pub(crate) fn check_new_password_with(
    password: &str,
    email: &str,
    name: Option<&str>,
    organisation: Option<&str>,
    mfa_enforced: bool,
) -> Result<(), AppError> {
    let context = iam::password::PasswordContext { email: Some(email), name, organisation };
    iam::password::PasswordPolicy::for_organisation(mfa_enforced)
        .check(password, &context)
        .map_err(|error| AppError::InvalidInput(error.to_string()))
}

/// Shortest and longest pepper, bytes.
const PEPPER_BYTES: std::ops::RangeInclusive<usize> = 32..=64;

/// Secrets mixed into every password hash (argon2's secret input) and kept outside the
/// database, so that a copy of the database alone cannot be attacked offline. Each has a
/// short id that the PHC string records (`keyid`): the first pepper hashes, every listed one
/// still verifies, and a login with an older one rehashes under the first.
#[derive(Clone, Default)]
pub struct Peppers {
    current: Option<Vec<u8>>,
    secrets: BTreeMap<Vec<u8>, Arc<[u8]>>,
}

impl std::fmt::Debug for Peppers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> =
            self.secrets.keys().map(|id| String::from_utf8_lossy(id).into_owned()).collect();
        f.debug_struct("Peppers").field("ids", &ids).finish_non_exhaustive()
    }
}

impl Peppers {
    /// Read a pepper file: one pepper per line, `ID SECRET`, where ID is 1 to 8 ASCII letters
    /// or digits and SECRET is 32 to 64 random bytes in standard base64. The first line hashes
    /// new passwords; blank lines and lines starting with `#` are skipped. Errors name the line
    /// and never show a secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut peppers = Self::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            let Some((id, secret)) = line.split_once(char::is_whitespace) else {
                return Err(format!("line {number}: expected `ID SECRET`"));
            };
            if id.is_empty()
                || id.len() > KeyId::MAX_LEN
                || !id.bytes().all(|byte| byte.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "line {number}: the id must be 1 to 8 ASCII letters or digits"
                ));
            }
            let secret = base64::engine::general_purpose::STANDARD
                .decode(secret.trim())
                .map_err(|_| format!("line {number}: the secret is not standard base64"))?;
            if !PEPPER_BYTES.contains(&secret.len()) {
                return Err(format!(
                    "line {number}: the secret must be {} to {} bytes, it is {}",
                    PEPPER_BYTES.start(),
                    PEPPER_BYTES.end(),
                    secret.len()
                ));
            }
            let id = id.as_bytes().to_vec();
            if peppers.secrets.insert(id.clone(), secret.into()).is_some() {
                return Err(format!("line {number}: the id is listed twice"));
            }
            peppers.current.get_or_insert(id);
        }
        if peppers.current.is_none() {
            return Err("no pepper in the file".into());
        }
        Ok(peppers)
    }

    /// The id of the pepper new hashes use.
    pub fn current_id(&self) -> Option<String> {
        self.current.as_ref().map(|id| String::from_utf8_lossy(id).into_owned())
    }
}

impl crate::App {
    /// The whole check of a password someone chooses: the policy
    /// ([`check_new_password_with`]), then the operator's breached-password ranges. Every
    /// place that sets a chosen password goes through here.
    pub(crate) async fn check_password_choice(
        &self,
        password: &str,
        email: &str,
        name: Option<&str>,
        organisation: Option<&str>,
        mfa_enforced: bool,
    ) -> Result<(), AppError> {
        check_new_password_with(password, email, name, organisation, mfa_enforced)?;
        self.passwords.check_not_breached(password).await
    }
}

/// argon2id with configurable cost; OWASP's minimum (m = 19 MiB, t = 2, p = 1) by default.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    peppers: Peppers,
    /// A folder of k-anonymity range files of breached passwords, when the operator set one.
    breached_ranges: Option<Arc<PathBuf>>,
    threads: Arc<HashThreads>,
    scratch: Arc<Scratch>,
}

/// A hash to compute on one of the [`HashThreads`].
type Job = Box<dyn FnOnce() + Send>;

/// The threads that compute argon2, as many as hashes may run at once, started with the first
/// hash. Each takes the next queued hash as soon as its last one ends. (With hashes run by
/// the async runtime's blocking pool, a finished hash let the next one start only once an
/// async task had been scheduled, which on a machine whose every core hashes left 6 % of the
/// cores idle during a login flood.)
struct HashThreads {
    size: usize,
    queue: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

impl HashThreads {
    fn new(size: usize) -> Self {
        Self { size: size.max(1), queue: std::sync::Mutex::new(None) }
    }

    /// Queue `job`; the threads start on first use. They end once the hasher is dropped.
    fn run(&self, job: Job) -> Result<(), AppError> {
        let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if queue.is_none() {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let receiver = Arc::new(std::sync::Mutex::new(receiver));
            for n in 0..self.size {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("argon2-{n}"))
                    .spawn(move || {
                        loop {
                            let next = receiver
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .recv();
                            let Ok(job) = next else { return };
                            // A hash that panics fails its caller (who sees the answer
                            // dropped), not the thread.
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                    })
                    .map_err(|error| {
                        AppError::Internal(format!(
                            "cannot start a password hashing thread: {error}"
                        ))
                    })?;
            }
            *queue = Some(sender);
        }
        queue.as_ref().ok_or_else(closed)?.send(job).map_err(|_| closed())
    }

    /// Compute `hash` on a hashing thread, after the hashes queued before it. A caller that
    /// gives up while it is queued (a timeout, a closed connection) takes it off: it will not
    /// run. Once started, it runs to its end on its thread.
    async fn compute<T: Send + 'static>(
        &self,
        queued: Queued,
        hash: impl FnOnce(Arc<Scratch>) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.run(Box::new(move || {
            if answer.is_closed() {
                return;
            }
            let scratch = queued.start();
            let _ = answer.send(hash(Arc::clone(&scratch)));
            // The caller carries on with the answer while this thread wipes.
            scratch.wipe_unless_waited_for();
        }))?;
        answered.await.map_err(|_| AppError::Internal("password hashing failed".into()))?
    }
}

/// argon2's working memory (m KiB per hash), kept between hashes. Allocating it afresh makes
/// the kernel fault in and zero 19 MiB per login, which costs a quarter as much CPU as the hash
/// itself. A buffer is taken per running hash (so at most one per hashing thread) and only
/// buffers of the current size are kept.
///
/// No password-derived block stays in an idle buffer: a finished hash wipes its memory (its
/// thread does, right after handing the answer over, so the wipe is not on the login's path),
/// unless another hash is already waiting for a slot. Then the memory goes to that hash unwiped, since
/// argon2's first pass writes every block before it reads it, so nothing of the previous hash
/// is read or survives it. The wipe (a 19 MiB memset: about 5 % of the CPU of a login flood,
/// profiled) is thus skipped while hashes queue. Once none waits, the next hash to finish wipes
/// every buffer left unwiped, and so does a hash whose caller gave up waiting, when a thread
/// reaches it and drops it.
struct Scratch {
    buffers: std::sync::Mutex<Vec<Kept>>,
    /// The pool's size: no more buffers than hashes can run at once.
    max_kept: usize,
    /// Hashes asked for and not started yet.
    waiting: AtomicUsize,
}

/// A kept buffer, and whether it still holds the blocks of the hash that used it last.
struct Kept {
    blocks: Vec<Block>,
    dirty: bool,
}

/// Working memory that is wiped when dropped, also when the hash panics.
struct WipedOnDrop(Vec<Block>);

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

fn wipe(blocks: &mut [Block]) {
    blocks.fill(Block::default());
    // The buffer may be freed next: keep the wipe from being optimised away.
    std::hint::black_box(&blocks);
}

/// A hash waiting for a hashing thread: counted in [`Scratch::waiting`] until it starts, or
/// until a thread drops it unstarted because its caller gave up.
struct Queued {
    scratch: Arc<Scratch>,
    started: bool,
}

impl Queued {
    /// The hash starts: it no longer waits, and takes the memory handed over for it.
    fn start(mut self) -> Arc<Scratch> {
        self.started = true;
        Arc::clone(&self.scratch)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let last = self.scratch.waiting.fetch_sub(1, Ordering::SeqCst) == 1;
        if last && !self.started {
            self.scratch.wipe_idle();
        }
    }
}

impl Scratch {
    fn new(max_kept: usize) -> Self {
        Self { buffers: std::sync::Mutex::default(), max_kept, waiting: AtomicUsize::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count a hash that is about to wait for its slot.
    fn queue(self: &Arc<Self>) -> Queued {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Queued { scratch: Arc::clone(self), started: false }
    }

    /// Wipe the kept buffers that still hold a finished hash's blocks.
    fn wipe_idle(&self) {
        let dirty: Vec<Kept> = {
            let mut kept = self.lock();
            let (dirty, clean) = kept.drain(..).partition(|buffer| buffer.dirty);
            *kept = clean;
            dirty
        };
        for mut buffer in dirty {
            wipe(&mut buffer.blocks);
            buffer.dirty = false;
            self.keep(buffer);
        }
    }

    fn keep(&self, buffer: Kept) {
        let mut kept = self.lock();
        if kept.len() < self.max_kept {
            kept.push(buffer);
        } else if buffer.dirty {
            drop(kept);
            drop(WipedOnDrop(buffer.blocks));
        }
    }

    /// Run `hash` on `blocks` blocks of memory whose earlier content it never reads; `keep`
    /// is the size worth keeping (the current parameters'; a hash with older ones gets memory
    /// of its own, wiped when dropped). A kept buffer stays dirty until
    /// [`Scratch::wipe_unless_waited_for`].
    fn with<R>(&self, blocks: usize, keep: usize, hash: impl FnOnce(&mut [Block]) -> R) -> R {
        let reuse = blocks == keep;
        let kept = if reuse {
            let mut kept = self.lock();
            // A dirty buffer first: the hash overwrites all of it.
            let index = kept.iter().position(|buffer| buffer.dirty).or(kept.len().checked_sub(1));
            index.map(|index| kept.swap_remove(index))
        } else {
            None
        };
        let mut memory = WipedOnDrop(kept.map(|buffer| buffer.blocks).unwrap_or_default());
        if memory.0.len() != blocks {
            memory = WipedOnDrop(vec![Block::default(); blocks]);
        }
        let result = hash(&mut memory.0);
        if reuse {
            self.keep(Kept { blocks: std::mem::take(&mut memory.0), dirty: true });
        }
        result
    }

    /// Once a hash has answered: if no hash waits, wipe its memory, and what was handed over
    /// for a hash that gave up or that started with older parameters, in memory of its own.
    fn wipe_unless_waited_for(&self) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            self.wipe_idle();
        }
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("peppers", &self.peppers)
            .field("breached_ranges", &self.breached_ranges)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// `memory_kib`, `iterations`, `parallelism` as argon2 defines them; at most
    /// `max_concurrent` hashes run at once.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        max_concurrent: usize,
    ) -> Result<Self, AppError> {
        let params = Params::new(memory_kib, iterations, parallelism, None).map_err(|error| {
            AppError::InvalidInput(format!("invalid argon2 parameters: {error}"))
        })?;
        Ok(Self {
            params,
            peppers: Peppers::default(),
            breached_ranges: None,
            threads: Arc::new(HashThreads::new(max_concurrent)),
            scratch: Arc::new(Scratch::new(max_concurrent.max(1))),
        })
    }

    pub fn owasp_default() -> Self {
        Self {
            params: Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
            peppers: Peppers::default(),
            breached_ranges: None,
            threads: Arc::new(HashThreads::new(2)),
            scratch: Arc::new(Scratch::new(2)),
        }
    }

    /// The same hasher with peppers: new hashes use the first, and carry its id.
    pub fn with_peppers(self, peppers: Peppers) -> Result<Self, AppError> {
        let mut builder = ParamsBuilder::new();
        builder.m_cost(self.params.m_cost()).t_cost(self.params.t_cost());
        builder.p_cost(self.params.p_cost());
        if let Some(id) = &peppers.current {
            let key_id = KeyId::new(id)
                .map_err(|error| AppError::InvalidInput(format!("pepper id: {error}")))?;
            builder.keyid(key_id);
        }
        let params = builder.build().map_err(|error| {
            AppError::InvalidInput(format!("invalid argon2 parameters: {error}"))
        })?;
        Ok(Self { params, peppers, ..self })
    }

    /// The same hasher, refusing new passwords listed in `folder`: range files as the Pwned
    /// Passwords range API serves them, one per 5-hex-digit SHA-1 prefix, named `ABCDE.txt` or
    /// `ABCDE` (the layout its downloader writes), each line `SUFFIX:COUNT`.
    pub fn with_breached_ranges(self, folder: PathBuf) -> Self {
        Self { breached_ranges: Some(Arc::new(folder)), ..self }
    }

    /// Refuse a new password that the configured range files list (nothing to do without
    /// them). Only the range file of the password's SHA-1 prefix is read. A folder without
    /// that file is incomplete: the password is let through and the gap is logged.
    pub async fn check_not_breached(&self, password: &str) -> Result<(), AppError> {
        let Some(folder) = self.breached_ranges.clone() else { return Ok(()) };
        let prefix = iam::password::pwned_range_prefix(password);
        let password = password.to_owned();
        let listed = tokio::task::spawn_blocking(move || {
            for name in [format!("{prefix}.txt"), prefix.clone(), prefix.to_lowercase()] {
                match std::fs::read_to_string(folder.join(&name)) {
                    Ok(text) => return Ok(iam::password::is_in_range_file(&password, &text)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        return Err(AppError::Internal(format!(
                            "breached password range {}: {error}",
                            folder.join(&name).display()
                        )));
                    }
                }
            }
            tracing::warn!(folder = %folder.display(), %prefix,
                "no breached-password range file for this prefix: the folder is incomplete");
            Ok(false)
        })
        .await
        .map_err(|error| AppError::Internal(format!("breached password check: {error}")))??;
        if listed {
            return Err(AppError::InvalidInput(
                iam::password::PasswordError::Blocklisted.to_string(),
            ));
        }
        Ok(())
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let params = self.params.clone();
        let pepper = self.pepper_of(params.keyid())?;
        let queued = self.scratch.queue();
        let password = password.to_owned();
        self.threads
            .compute(queued, move |scratch| {
                let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                let output = argon2_output(
                    &scratch,
                    pepper.as_deref(),
                    (Algorithm::Argon2id, Version::V0x13),
                    &params,
                    &params,
                    &password,
                    salt.as_salt(),
                )?;
                let phc = PasswordHash {
                    algorithm: Algorithm::Argon2id.ident(),
                    version: Some(Version::V0x13.into()),
                    params: argon2::password_hash::ParamsString::try_from(&params)
                        .map_err(|error| AppError::Internal(format!("argon2: {error}")))?,
                    salt: Some(salt.as_salt()),
                    hash: Some(output),
                };
                Ok(phc.to_string())
            })
            .await
    }

    /// Whether a stored PHC string was made with other parameters or another pepper than the
    /// current ones, so that it should be recomputed at the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return true };
        let current = (
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            self.params.keyid().to_vec(),
        );
        let stored = Params::try_from(&parsed)
            .map(|params| {
                (params.m_cost(), params.t_cost(), params.p_cost(), params.keyid().to_vec())
            })
            .ok();
        parsed.algorithm.as_str() != "argon2id" || stored != Some(current)
    }

    /// Whether `password` matches the stored PHC string (parameters, and the pepper's id,
    /// are read from it). A hash made with a pepper that is no longer configured is an error
    /// that names the pepper, not a wrong password.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let parsed = PasswordHash::new(phc)
            .map_err(|error| AppError::Internal(format!("stored password hash: {error}")))?;
        let params = Params::try_from(&parsed)
            .map_err(|error| AppError::Internal(format!("stored password hash: {error}")))?;
        let pepper = self.pepper_of(params.keyid())?;
        let queued = self.scratch.queue();
        let (password, phc) = (password.to_owned(), phc.to_owned());
        let current = self.params.clone();
        self.threads
            .compute(queued, move |scratch| {
                let parsed = PasswordHash::new(&phc).map_err(|error| {
                    AppError::Internal(format!("stored password hash: {error}"))
                })?;
                let stored_error =
                    |what: &str| AppError::Internal(format!("stored password hash: {what}"));
                let algorithm = Algorithm::try_from(parsed.algorithm)
                    .map_err(|error| stored_error(&error.to_string()))?;
                let version = parsed
                    .version
                    .map(Version::try_from)
                    .transpose()
                    .map_err(|error| stored_error(&error.to_string()))?
                    .unwrap_or_default();
                let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                    return Err(stored_error("no salt or no hash"));
                };
                // `params` came from the same string: costs, output length, pepper id.
                let computed = argon2_output(
                    &scratch,
                    pepper.as_deref(),
                    (algorithm, version),
                    &params,
                    &current,
                    &password,
                    salt,
                )?;
                // `Output`'s equality is constant-time.
                Ok(computed == expected)
            })
            .await
    }

    /// The pepper a hash with this `keyid` uses: none for an empty id.
    fn pepper_of(&self, key_id: &[u8]) -> Result<Option<Arc<[u8]>>, AppError> {
        if key_id.is_empty() {
            return Ok(None);
        }
        self.peppers.secrets.get(key_id).cloned().map(Some).ok_or_else(|| {
            AppError::Internal(format!(
                "a stored password hash uses pepper {:?}, which the pepper file no longer \
                 holds: add its line back (a pepper can only be removed once no hash uses it)",
                String::from_utf8_lossy(key_id)
            ))
        })
    }
}

/// argon2 (id, unless a stored hash says otherwise) of `password` with `params`, in the
/// scratch memory (kept when its size is that of the `current` parameters).
fn argon2_output(
    scratch: &Scratch,
    pepper: Option<&[u8]>,
    (algorithm, version): (Algorithm, Version),
    params: &Params,
    current: &Params,
    password: &str,
    salt: argon2::password_hash::Salt<'_>,
) -> Result<Output, AppError> {
    let argon2 = match pepper {
        None => Argon2::new(algorithm, version, params.clone()),
        Some(secret) => Argon2::new_with_secret(secret, algorithm, version, params.clone())
            .map_err(|error| AppError::Internal(format!("argon2: {error}")))?,
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|error| AppError::Internal(format!("argon2 salt: {error}")))?;
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    scratch.with(params.block_count(), current.block_count(), |memory| {
        Output::init_with(length, |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *memory)
                .map_err(argon2::password_hash::Error::from)
        })
        .map_err(|error| AppError::Internal(format!("argon2: {error}")))
    })
}

fn closed() -> AppError {
    AppError::Internal("password hashing pool closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_common_and_personal_passwords() {
        let refused = |password: &str| {
            check_new_password(
                password,
                "ada@example.com",
                Some("Ada Lovelace"),
                Some("Analytical"),
            )
            .is_err()
        };
        assert!(refused("short"));
        assert!(refused("passwordpassword"));
        assert!(refused("my ada@example.com secret phrase"));
        assert!(refused("Analytical-Engines-of-2026"));
        assert!(!refused("correct horse battery staple"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapler", &phc).await.unwrap());
    }

    fn zero(kept: &Kept) -> bool {
        kept.blocks.iter().all(|block| block.as_ref().iter().all(|word| *word == 0))
    }

    /// Whether the hasher keeps `n` buffers, all wiped, within five seconds: a hashing thread
    /// wipes after it has answered, so the answer may come a moment before the wipe.
    fn wiped_soon(hasher: &PasswordHasher, n: usize) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let wiped = {
                let kept = hasher.scratch.lock();
                kept.len() == n && kept.iter().all(|kept| !kept.dirty && zero(kept))
            };
            if wiped || std::time::Instant::now() > deadline {
                return wiped;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The hashes made in reused memory are the crate's own: each side verifies the other's,
    /// with the stored parameters when they differ from the configured ones, and a wiped and
    /// reused buffer gives the same answers as a fresh one.
    #[tokio::test]
    async fn hashes_in_reused_memory_agree_with_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 2, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = reference.hash_password(b"correct horse battery staple", &salt).unwrap();
        for _ in 0..3 {
            let phc = theirs.to_string();
            assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
            assert!(!hasher.verify("correct horse battery stapel", &phc).await.unwrap());
            let ours = hasher.hash("correct horse battery staple").await.unwrap();
            let ours = PasswordHash::new(&ours).unwrap();
            assert!(reference.verify_password(b"correct horse battery staple", &ours).is_ok());
            assert!(reference.verify_password(b"correct horse battery stapel", &ours).is_err());
        }
        // Only buffers of the configured size stay, wiped.
        assert!(wiped_soon(&hasher, 1));
        assert_eq!(hasher.scratch.lock()[0].blocks.len(), 1024);
    }

    /// While a hash waits, a finished one hands its memory over unwiped, and the hash that
    /// runs in it is still right; once nothing waits (here: the waiter gives up), every kept
    /// buffer is wiped.
    #[tokio::test]
    async fn memory_handed_over_unwiped_is_overwritten_then_wiped_when_nothing_waits() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(wiped_soon(&hasher, 1), "nothing waited: wiped");

        let waiter = hasher.scratch.queue();
        assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
        {
            let kept = hasher.scratch.lock();
            assert_eq!(kept.len(), 1);
            assert!(kept[0].dirty && !zero(&kept[0]), "a hash waits: handed over as it is");
        }
        // The next hashes run in the dirty buffer, and agree with a fresh one.
        assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapel", &phc).await.unwrap());
        assert!(hasher.scratch.lock()[0].dirty);
        drop(waiter);
        assert!(wiped_soon(&hasher, 1), "nothing waits any more: wiped");
    }

    /// A hash whose caller gives up while it is queued is dropped unstarted when a thread
    /// reaches it: it no longer counts as waiting, the kept memory is wiped, and the thread
    /// goes on with the next hash.
    #[tokio::test]
    async fn a_hash_given_up_while_queued_is_dropped_and_the_thread_goes_on() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        // The one thread is busy until released.
        let (release, busy) = std::sync::mpsc::channel::<()>();
        hasher.threads.run(Box::new(move || busy.recv().unwrap())).unwrap();
        let given_up = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            hasher.verify("correct horse battery staple", &phc),
        )
        .await;
        assert!(given_up.is_err(), "queued behind the busy thread");
        assert_eq!(hasher.scratch.waiting.load(Ordering::SeqCst), 1, "still queued");
        release.send(()).unwrap();
        assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapel", &phc).await.unwrap());
        assert_eq!(hasher.scratch.waiting.load(Ordering::SeqCst), 0);
        assert!(wiped_soon(&hasher, 1));
    }

    #[tokio::test]
    async fn a_password_in_the_breached_ranges_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let listed = "a leaked but long passphrase";
        let hash = {
            use sha1::Digest as _;
            hex::encode_upper(sha1::Sha1::digest(listed.as_bytes()))
        };
        let (prefix, suffix) = hash.split_at(5);
        std::fs::write(
            folder.path().join(format!("{prefix}.txt")),
            format!("0000000000000000000000000000000000A:0\n{suffix}:42\n"),
        )
        .unwrap();
        let hasher =
            PasswordHasher::new(1024, 1, 1, 1).unwrap().with_breached_ranges(folder.path().into());
        let error = hasher.check_not_breached(listed).await.unwrap_err();
        assert!(error.to_string().contains("breached"), "{error}");
        // Another password of the same range is not listed; one whose range file is
        // missing passes (the gap is logged).
        hasher.check_not_breached("a leaked but long passphrase!").await.unwrap();
        PasswordHasher::new(1024, 1, 1, 1).unwrap().check_not_breached(listed).await.unwrap();
    }

    fn pepper_line(id: &str, byte: u8) -> String {
        format!("{id} {}\n", base64::engine::general_purpose::STANDARD.encode([byte; 32]))
    }

    #[tokio::test]
    async fn a_pepper_is_needed_to_verify_and_rotates_through_rehash() {
        let plain = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let old_phc = plain.hash("correct horse battery staple").await.unwrap();
        let peppers = Peppers::parse(&pepper_line("p1", 1)).unwrap();
        let peppered = plain.clone().with_peppers(peppers).unwrap();
        let phc = peppered.hash("correct horse battery staple").await.unwrap();
        // `keyid` records the pepper's id ("p1" in B64): the database alone cannot verify.
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1,keyid=cDE$"), "{phc}");
        assert!(peppered.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(!peppered.verify("correct horse battery stapler", &phc).await.unwrap());
        let error = plain.verify("correct horse battery staple", &phc).await.unwrap_err();
        assert!(error.to_string().contains("\"p1\""), "{error}");
        // The same password under another pepper with the same id does not verify.
        let other = PasswordHasher::new(1024, 1, 1, 1)
            .unwrap()
            .with_peppers(Peppers::parse(&pepper_line("p1", 2)).unwrap())
            .unwrap();
        assert!(!other.verify("correct horse battery staple", &phc).await.unwrap());
        // Hashes from before the pepper still verify and are due for a rehash.
        assert!(peppered.verify("correct horse battery staple", &old_phc).await.unwrap());
        assert!(peppered.needs_rehash(&old_phc));
        assert!(!peppered.needs_rehash(&phc));
        // A new first line rotates: p1 hashes still verify and are due for a rehash.
        let rotated = PasswordHasher::new(1024, 1, 1, 1)
            .unwrap()
            .with_peppers(
                Peppers::parse(&format!("{}{}", pepper_line("p2", 3), pepper_line("p1", 1)))
                    .unwrap(),
            )
            .unwrap();
        assert!(rotated.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(rotated.needs_rehash(&phc));
        let new_phc = rotated.hash("correct horse battery staple").await.unwrap();
        assert!(new_phc.contains(",keyid=cDI$"), "{new_phc}");
        assert!(!rotated.needs_rehash(&new_phc));
    }

    #[test]
    fn pepper_files_are_checked_line_by_line_without_showing_secrets() {
        let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        for (text, expected) in [
            ("", "no pepper"),
            ("# only a comment\n", "no pepper"),
            ("p1\n", "line 1: expected"),
            (&format!("toolongid9 {secret}"), "line 1: the id"),
            (&format!("p-1 {secret}"), "line 1: the id"),
            ("p1 not*base64", "line 1: the secret is not"),
            ("p1 c2hvcnQ=", "line 1: the secret must be 32 to 64 bytes, it is 5"),
            (&format!("p1 {secret}\n\np1 {secret}"), "line 3: the id is listed twice"),
        ] {
            let error = Peppers::parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
            assert!(!error.contains(&secret));
        }
        let peppers =
            Peppers::parse(&format!("# peppers\np2 {secret}\n  p1   {secret}  \n")).unwrap();
        assert_eq!(peppers.current_id().as_deref(), Some("p2"));
        assert!(!format!("{peppers:?}").contains(&secret));
    }
}
