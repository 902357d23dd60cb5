//! Sending mail over SMTP (the only module that imports lettre): STARTTLS, TLS or plain for a
//! local relay, credentials from the environment (`PLANET_SMTP_USER`,
//! `PLANET_SMTP_PASSWORD`). A message is multipart/alternative (text and HTML) with the list
//! headers of RFC 2369 and RFC 8058. Failures say whether trying again can help. Tests that
//! need no real SMTP conversation deliver into a `StubMailbox` (lettre's stub transport).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox as LettreMailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::stub::AsyncStubTransport;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{DigestConfig, Mailbox, SmtpSecurity};

/// One message to one recipient.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: String,
    pub html: Option<String>,
    /// `List-Id`, e.g. `长沙.NET社区周报 <digest.planet.example.org>`.
    pub list_id: Option<String>,
    /// The one-click unsubscribe URL (List-Unsubscribe + List-Unsubscribe-Post).
    pub unsubscribe_url: Option<String>,
    /// Unique and stable for (week, recipient), so a resend is recognisably the same message.
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// 5xx or a malformed message: sending again will not help.
    #[error("rejected: {0}")]
    Permanent(String),
    /// 4xx, a timeout, a refused connection: worth another try later.
    #[error("temporary failure: {0}")]
    Transient(String),
}

pub struct Mailer {
    transport: Transport,
    from: LettreMailbox,
    reply_to: Option<LettreMailbox>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Stub(Arc<StubMailbox>),
}

/// Takes the SMTP server's place in tests: lettre's stub transport keeps every accepted
/// message, and the mailbox answers like a server would to recipients it refuses (550) and
/// once it has accepted its limit (451).
pub struct StubMailbox {
    transport: AsyncStubTransport,
    refusals: Mutex<StubRefusals>,
}

#[derive(Default)]
struct StubRefusals {
    reject: Vec<String>,
    accept: Option<usize>,
}

/// A message the stub accepted: its envelope recipients and its RFC 5322 text.
#[derive(Debug, Clone)]
pub struct StubMessage {
    pub to: Vec<String>,
    pub raw: String,
}

impl Default for StubMailbox {
    fn default() -> StubMailbox {
        StubMailbox { transport: AsyncStubTransport::new_ok(), refusals: Mutex::default() }
    }
}

impl StubMailbox {
    /// From now on, refuse these recipients for good, and accept `accept` more messages in
    /// all (`None`: any number) before answering that the server is busy.
    pub fn refuse(&self, reject: &[&str], accept: Option<usize>) {
        if let Ok(mut refusals) = self.refusals.lock() {
            refusals.reject = reject.iter().map(|a| a.to_ascii_lowercase()).collect();
            refusals.accept = accept;
        }
    }

    pub async fn messages(&self) -> Vec<StubMessage> {
        let messages = self.transport.messages().await;
        messages
            .into_iter()
            .map(|(envelope, raw)| StubMessage { to: envelope.to().iter().map(|a| a.to_string()).collect(), raw })
            .collect()
    }

    pub async fn messages_to(&self, address: &str) -> Vec<StubMessage> {
        self.messages().await.into_iter().filter(|m| m.to.iter().any(|to| to == address)).collect()
    }

    /// What a server would answer before taking a message for `to`.
    fn refusal(&self, to: &str) -> Option<MailError> {
        let mut refusals = self.refusals.lock().ok()?;
        if refusals.reject.iter().any(|r| r.eq_ignore_ascii_case(to)) {
            return Some(MailError::Permanent("550 5.1.1 no such user here (stub mailbox)".into()));
        }
        match &mut refusals.accept {
            Some(0) => Some(MailError::Transient("451 4.3.0 try again later (stub mailbox)".into())),
            Some(left) => {
                *left -= 1;
                None
            }
            None => None,
        }
    }
}

fn mailbox(mailbox: &Mailbox) -> anyhow::Result<LettreMailbox> {
    Ok(LettreMailbox::new(mailbox.name.clone(), mailbox.address.parse()?))
}

impl Mailer {
    /// A mailer for the digest, or `None` when `[digest] from` is not configured.
    pub fn from_config(config: &DigestConfig) -> anyhow::Result<Option<Mailer>> {
        let Some(from) = &config.from else { return Ok(None) };
        let host = config.smtp_host.as_str();
        let builder = match config.smtp_security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(Duration::from_secs(30)));
        if let (Ok(user), Ok(password)) = (std::env::var("PLANET_SMTP_USER"), std::env::var("PLANET_SMTP_PASSWORD")) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Some(Mailer {
            transport: Transport::Smtp(builder.build()),
            from: mailbox(from)?,
            reply_to: config.reply_to.as_ref().map(mailbox).transpose()?,
        }))
    }

    /// A mailer with the configured sender that delivers into `stub` instead of SMTP; `None`
    /// when `[digest] from` is not configured.
    pub fn stub(config: &DigestConfig, stub: Arc<StubMailbox>) -> anyhow::Result<Option<Mailer>> {
        let Some(from) = &config.from else { return Ok(None) };
        Ok(Some(Mailer {
            transport: Transport::Stub(stub),
            from: mailbox(from)?,
            reply_to: config.reply_to.as_ref().map(mailbox).transpose()?,
        }))
    }

    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    /// The message as it would go on the wire (RFC 5322), for `planet digest preview --format eml`.
    pub fn eml(&self, outgoing: &Outgoing) -> anyhow::Result<Vec<u8>> {
        Ok(self.build(outgoing)?.formatted())
    }

    pub async fn send(&self, outgoing: &Outgoing<'_>) -> Result<(), MailError> {
        let message = self
            .build(outgoing)
            .map_err(|error| MailError::Permanent(format!("cannot build the message: {error:#}")))?;
        match &self.transport {
            Transport::Smtp(transport) => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(error) if error.is_permanent() => Err(MailError::Permanent(error_text(&error))),
                Err(error) => Err(MailError::Transient(error_text(&error))),
            },
            Transport::Stub(stub) => match stub.refusal(outgoing.to) {
                Some(refused) => Err(refused),
                None => stub.transport.send(message).await.map_err(|e| MailError::Transient(e.to_string())),
            },
        }
    }

    fn build(&self, outgoing: &Outgoing) -> anyhow::Result<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(outgoing.to.parse::<LettreMailbox>()?)
            .subject(outgoing.subject)
            .message_id(Some(outgoing.message_id.clone()))
            .date_now();
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(list_id) = &outgoing.list_id {
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Id"), list_id.clone()));
        }
        if let Some(url) = &outgoing.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = match &outgoing.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(outgoing.text.clone(), html.clone()))?,
            // A MIME part, like the digest's: Content-Type with its charset, MIME-Version.
            None => builder.singlepart(SinglePart::plain(outgoing.text.clone()))?,
        };
        Ok(message)
    }
}

fn error_text(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
