//! Outgoing e-mail: one transport chosen by configuration — SMTP (lettre, TLS when the URL asks
//! for it) or, by default, a local outbox directory of .eml files — and the ticket e-mail.

use std::path::PathBuf;
use tessera_domain::records::TicketDetail;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{AppError, Result};

/// Mail settings.
#[derive(Clone)]
pub struct MailConfig {
    /// The sender, e.g. `Tessera <tickets@example.com>`.
    pub from: String,
    /// `smtp://host:port` (STARTTLS with `?tls=required`) or `smtps://host:port`, with optional
    /// `user:password@`. `None`: write .eml files to `outbox_dir`.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    /// Send through Amazon SES (v2 API; credentials and region as the AWS SDK finds them) with
    /// this configuration set, if any. Needs the `ses` feature.
    pub ses: Option<SesConfig>,
}

/// Amazon SES sending.
#[derive(Debug, Clone, Default)]
pub struct SesConfig {
    pub configuration_set: Option<String>,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "[redacted]"))
            .field("outbox_dir", &self.outbox_dir)
            .field("ses", &self.ses)
            .finish()
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "Tessera <tickets@tessera.localhost>".into(),
            smtp_url: None,
            outbox_dir: "outbox".into(),
            ses: None,
        }
    }
}

/// Where mail goes.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
    #[cfg(feature = "ses")]
    Ses(ses::SesMailer),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::Outbox(_, dir) => write!(f, "Mailer::Outbox({})", dir.display()),
            #[cfg(feature = "ses")]
            Mailer::Ses(_) => f.write_str("Mailer::Ses"),
        }
    }
}

impl Mailer {
    pub fn new(cfg: &MailConfig) -> Result<Mailer> {
        if let Some(ses) = &cfg.ses {
            #[cfg(feature = "ses")]
            return Ok(Mailer::Ses(ses::SesMailer::new(ses.clone())));
            #[cfg(not(feature = "ses"))]
            return Err(AppError::internal(format!(
                "mail through SES ({ses:?}) needs a build with the aws feature"
            )));
        }
        match &cfg.smtp_url {
            Some(url) => {
                let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| AppError::internal(format!("SMTP URL: {e}")))?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build();
                Ok(Mailer::Smtp(t))
            }
            None => Ok(Mailer::Outbox(AsyncFileTransport::new(&cfg.outbox_dir), cfg.outbox_dir.clone())),
        }
    }

    /// Sends one message; an error is worth retrying later.
    pub async fn send(&self, m: Message) -> std::result::Result<(), String> {
        match self {
            Mailer::Smtp(t) => t.send(m).await.map(|_| ()).map_err(|e| format!("SMTP: {e}")),
            Mailer::Outbox(t, dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| format!("outbox {}: {e}", dir.display()))?;
                t.send(m).await.map(|_| ()).map_err(|e| format!("outbox: {e}"))
            }
            #[cfg(feature = "ses")]
            Mailer::Ses(s) => s.send(m).await,
        }
    }
}

/// Amazon SES: the whole MIME message as SES v2's raw content.
#[cfg(feature = "ses")]
mod ses {
    use aws_sdk_sesv2::error::DisplayErrorContext;
    use aws_sdk_sesv2::primitives::Blob;
    use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
    use lettre::Message;

    use super::SesConfig;

    pub struct SesMailer {
        config: SesConfig,
        /// Made on the first message: the SDK's configuration is read asynchronously.
        client: tokio::sync::OnceCell<aws_sdk_sesv2::Client>,
    }

    impl SesMailer {
        pub fn new(config: SesConfig) -> SesMailer {
            SesMailer { config, client: tokio::sync::OnceCell::new() }
        }

        pub async fn send(&self, m: Message) -> std::result::Result<(), String> {
            let client = self
                .client
                .get_or_init(|| async {
                    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    aws_sdk_sesv2::Client::new(&conf)
                })
                .await;
            let envelope = m.envelope();
            let from = envelope.from().map(|a| a.to_string());
            let to: Vec<String> = envelope.to().iter().map(|a| a.to_string()).collect();
            let raw =
                RawMessage::builder().data(Blob::new(m.formatted())).build().map_err(|e| e.to_string())?;
            client
                .send_email()
                .set_from_email_address(from)
                .destination(Destination::builder().set_to_addresses(Some(to)).build())
                .content(EmailContent::builder().raw(raw).build())
                .set_configuration_set_name(self.config.configuration_set.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("SES: {}", DisplayErrorContext(&e)))
        }
    }
}

/// One ticket of an order, ready to mail: its code as a QR image.
pub struct MailedTicket<'a> {
    pub ticket: &'a TicketDetail,
    pub qr_png: Vec<u8>,
    /// The printable ticket (PDF).
    pub pdf: Vec<u8>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn seat_line(t: &TicketDetail) -> String {
    match (t.seat_number, &t.ticket_type_name) {
        (Some(n), _) => format!("Seat {n}"),
        (None, Some(name)) => name.clone(),
        (None, None) => "Admission".into(),
    }
}

/// The e-mail for one order: all of its tickets together in one message, each QR
/// inline in the HTML and each printable ticket attached.
pub fn ticket_message(from: &str, to: &str, tickets: &[MailedTicket<'_>]) -> Result<Message> {
    let first = tickets.first().ok_or_else(|| AppError::internal("a ticket e-mail needs a ticket"))?.ticket;
    let from: Mailbox = from.parse().map_err(|e| AppError::internal(format!("mail sender {from}: {e}")))?;
    let to_box: Mailbox = to.parse().map_err(|e| AppError::internal(format!("holder address {to}: {e}")))?;
    let when = first.event_start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let place = first.location.clone().unwrap_or_default();
    let mut text = format!(
        "Your tickets for {} ({when}{}{}):\n\n",
        first.event_name,
        if place.is_empty() { "" } else { ", " },
        place
    );
    let mut html = format!(
        "<html><body><h1>{}</h1><p>{}{}{}</p>",
        esc(&first.event_name),
        esc(&when),
        if place.is_empty() { "" } else { " · " },
        esc(&place)
    );
    for (n, t) in tickets.iter().enumerate() {
        let line = seat_line(t.ticket);
        let name = t.ticket.guest_name.as_deref().unwrap_or(&t.ticket.holder_name);
        text.push_str(&format!("- {line} — {name} (ticket {})\n", t.ticket.ticket_id));
        html.push_str(&format!(
            "<div><h2>{}</h2><p>{}</p><img src=\"cid:qr{n}\" alt=\"QR code for ticket {}\" width=\"240\" height=\"240\"></div>",
            esc(&line),
            esc(name),
            t.ticket.ticket_id
        ));
    }
    text.push_str("\nShow the QR code at the door (the attached PDF has it too).\n");
    html.push_str("<p>Show the QR code at the door; the attached PDF has it too.</p></body></html>");
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    for (n, t) in tickets.iter().enumerate() {
        related = related.singlepart(
            Attachment::new_inline(format!("qr{n}"))
                .body(t.qr_png.clone(), ContentType::parse("image/png").map_err(|e| AppError::internal(e))?),
        );
    }
    let mut mixed = MultiPart::mixed()
        .multipart(MultiPart::alternative().singlepart(SinglePart::plain(text)).multipart(related));
    for t in tickets {
        let name = format!("ticket-{}.pdf", t.ticket.ticket_id);
        mixed =
            mixed.singlepart(Attachment::new(name).body(
                t.pdf.clone(),
                ContentType::parse("application/pdf").map_err(|e| AppError::internal(e))?,
            ));
    }
    Message::builder()
        .from(from)
        .to(to_box)
        .subject(format!("Your tickets: {}", first.event_name))
        .multipart(mixed)
        .map_err(|e| AppError::internal(format!("building the ticket e-mail: {e}")))
}

/// The e-mail telling an applicant their application was not approved, and why.
pub fn rejection_message(from: &str, to: &str, event_name: &str, reason: &str) -> Result<Message> {
    let body = format!(
        "Your application for {event_name} was not approved.\n\nReason: {reason}\n\nNo tickets were issued and nothing was charged.\n"
    );
    plain_message(from, to, &format!("Your application for {event_name}"), body, "the rejection")
}

/// A plain-text e-mail from the configured sender; `what` names it in errors.
fn plain_message(from: &str, to: &str, subject: &str, body: String, what: &str) -> Result<Message> {
    let from: Mailbox = from.parse().map_err(|e| AppError::internal(format!("mail sender {from}: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| AppError::internal(format!("recipient address {to}: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .singlepart(SinglePart::plain(body))
        .map_err(|e| AppError::internal(format!("building {what} e-mail: {e}")))
}

/// The e-mail telling a buyer that an event was cancelled and their purchase refunded.
pub fn cancellation_message(
    from: &str,
    to: &str,
    event_name: &str,
    amount: &str,
    currency: &str,
    tickets: i32,
) -> Result<Message> {
    let body = format!(
        "{event_name} has been cancelled.\n\nYour {tickets} ticket(s) are void, and {amount} {currency} has been refunded to your Tessera wallet.\n"
    );
    plain_message(from, to, &format!("Cancelled: {event_name}"), body, "the cancellation")
}
