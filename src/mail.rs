//! Outgoing mail: through SMTP when it is configured, otherwise written as `.eml` files to
//! DATA_DIR/outbox, so a laptop run needs no mail server and tests can read what was sent.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: String,
    pub body: String,
    /// The same as HTML, sent beside the text (multipart/alternative) when given.
    pub html: Option<String>,
}

impl Mailer {
    pub fn new(settings: &MailSettings, outbox: PathBuf) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid MAIL_FROM {:?}: {e}", settings.mail_from))?;
        let transport = match &settings.smtp_host {
            Some(host) => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    .port(settings.smtp_port);
                if let (Some(user), Some(password)) =
                    (&settings.smtp_username, &settings.smtp_password)
                {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Transport::Smtp(builder.build())
            }
            None => {
                std::fs::create_dir_all(&outbox)?;
                Transport::Outbox(AsyncFileTransport::new(outbox))
            }
        };
        Ok(Self { transport, from })
    }

    pub async fn send(&self, mail: Mail<'_>) -> anyhow::Result<()> {
        let to: Mailbox = mail.to.parse()?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject);
        let message = match mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.body, html))?,
            None => builder.header(ContentType::TEXT_PLAIN).body(mail.body)?,
        };
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Outbox(outbox) => {
                outbox.send(message).await?;
            }
        }
        Ok(())
    }

    /// Sends without making the caller wait; a failure is logged, never shown to the shopper.
    pub fn send_in_background(
        &self,
        to: String,
        subject: String,
        body: String,
        html: Option<String>,
    ) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let mail = Mail {
                to: &to,
                subject,
                body,
                html,
            };
            if let Err(error) = mailer.send(mail).await {
                tracing::warn!(%error, "could not send mail");
            }
        });
    }
}
