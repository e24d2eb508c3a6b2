//! Mail through an SMTP relay (`auth.mail = "smtp"`): STARTTLS required by default, implicit
//! TLS, or clear text to a loopback relay only (the configuration refuses it elsewhere). The
//! password comes from an environment variable or a file and is never logged.

use std::time::Duration;

use anyhow::Context as _;
use app::{Email, MailFuture, Mailer};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::SmtpConfig;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(config: &SmtpConfig, password: Option<String>) -> anyhow::Result<Self> {
        let builder = match config.tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .with_context(|| format!("`smtp.host` {:?}", config.host))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .with_context(|| format!("`smtp.host` {:?}", config.host))?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
        };
        let mut builder =
            builder.port(config.port()).timeout(Some(Duration::from_secs(config.timeout_seconds)));
        if let (Some(username), Some(password)) = (&config.username, password) {
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        let from = config
            .from
            .parse()
            .with_context(|| format!("invalid value for `smtp.from` ({:?})", config.from))?;
        Ok(Self { transport: builder.build(), from })
    }

    async fn deliver(&self, email: Email) -> Result<(), String> {
        let to: Mailbox =
            email.to.parse().map_err(|_| format!("{:?} is not a mail address", email.to))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.body)
            .map_err(|error| format!("cannot compose the message: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| format!("the SMTP server refused or failed: {error}"))
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, email: Email) -> MailFuture<'_> {
        Box::pin(self.deliver(email))
    }
}
