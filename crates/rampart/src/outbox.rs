//! Mail delivered as files: each message is written to `<data_dir>/outbox/<time>-<n>.eml`, for
//! development and for deployments that hand mail to another system.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use app::{Email, MailFuture, Mailer};

pub struct OutboxMailer {
    folder: PathBuf,
    sequence: AtomicU64,
}

impl OutboxMailer {
    pub fn new(folder: PathBuf) -> Self {
        Self { folder, sequence: AtomicU64::new(0) }
    }
}

impl Mailer for OutboxMailer {
    fn send(&self, email: Email) -> MailFuture<'_> {
        Box::pin(std::future::ready(self.write(&email)))
    }
}

impl OutboxMailer {
    fn write(&self, email: &Email) -> Result<(), String> {
        std::fs::create_dir_all(&self.folder)
            .map_err(|error| format!("cannot create {}: {error}", self.folder.display()))?;
        #[allow(clippy::disallowed_methods, reason = "the binary is where the wall clock is read")]
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let path = self.folder.join(format!("{stamp}-{n}.eml"));
        let message =
            format!("To: {}\r\nSubject: {}\r\n\r\n{}", email.to, email.subject, email.body);
        std::fs::write(&path, message)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))
    }
}
