//! Sending mail is a port: the application composes messages, the binary delivers them (an
//! outbox folder in development, SMTP in production).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// What sending one message comes to: done, or why not (a message safe to log and store,
/// never a credential).
pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Delivers mail.
pub trait Mailer: Send + Sync + 'static {
    fn send(&self, email: Email) -> MailFuture<'_>;
}

/// Keeps messages in memory: for tests, and for inspecting what would have been sent.
#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Email>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, email: Email) -> MailFuture<'_> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(email);
        Box::pin(std::future::ready(Ok(())))
    }
}
