//! `ksef qr`: the KSeF QR codes of an invoice's visualisation, offline. KOD I links the invoice
//! for verification; KOD II (offline invoices) proves the issuer with an Offline certificate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use ksef_client::offline::{OfflineInvoice, qr_environment};
use ksef_crypto::{DEFAULT_MODULE_PIXELS, QrCaption, QrContextType, QrImage};
use ksef_model::values::{KsefNumber, Nip};
use serde_json::json;

use crate::args::QrCommand;
use crate::context::{Ctx, print_json};
use crate::files::{read_certificate_key, write_public};

/// The seller's NIP, the issue date and the hash of an invoice file (see
/// [`OfflineInvoice::parse`]), with the file named in errors.
fn invoice_facts(path: &Path, bytes: &[u8]) -> anyhow::Result<OfflineInvoice> {
    OfflineInvoice::parse(bytes).with_context(|| {
        format!(
            "{}: cannot build a QR link from it; give an FA invoice file",
            path.display()
        )
    })
}

/// Writes the images asked for (none when neither path is given).
fn write_images(
    link: &str,
    caption: QrCaption,
    png: Option<&PathBuf>,
    svg: Option<&PathBuf>,
) -> anyhow::Result<()> {
    if png.is_none() && svg.is_none() {
        return Ok(());
    }
    let image = QrImage::new(link, caption).context("cannot render the QR code")?;
    if let Some(path) = png {
        write_public(path, &image.to_png(DEFAULT_MODULE_PIXELS)?)?;
    }
    if let Some(path) = svg {
        write_public(path, image.to_svg(DEFAULT_MODULE_PIXELS).as_bytes())?;
    }
    Ok(())
}

/// Runs a `qr` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: QrCommand) -> anyhow::Result<ExitCode> {
    let environment = qr_environment(ctx.environment()?);
    match command {
        QrCommand::Invoice {
            file,
            ksef_number,
            offline: _,
            png,
            svg,
        } => {
            let caption = match &ksef_number {
                Some(text) => {
                    let number: KsefNumber = text.parse().with_context(|| {
                        format!(
                            "--ksef-number {text:?} is not a valid KSeF number; copy the \
                             35-character number KSeF assigned"
                        )
                    })?;
                    QrCaption::KsefNumber(number.to_string())
                }
                None => QrCaption::Offline,
            };
            let bytes = crate::files::read_invoice(&file)?;
            let facts = invoice_facts(&file, &bytes)?;
            let link = facts
                .verification_link(environment)
                .with_context(|| format!("{}: cannot build the KOD I link", file.display()))?;
            write_images(&link, caption.clone(), png.as_ref(), svg.as_ref())?;
            if ctx.json() {
                print_json(&json!({
                    "kind": "invoice",
                    "link": link,
                    "caption": caption.text(),
                    "sellerNip": facts.seller_nip,
                    "issueDate": facts.issue_date,
                    "png": png,
                    "svg": svg,
                }))?;
            } else {
                outln!("{link}");
                ctx.note(format!("caption: {}", caption.text()));
            }
            Ok(ExitCode::SUCCESS)
        }
        QrCommand::Cert {
            file,
            cert_serial,
            key,
            key_password_file,
            context_nip,
            png,
            svg,
        } => {
            let bytes = crate::files::read_invoice(&file)?;
            let facts = invoice_facts(&file, &bytes)?;
            let context = match &context_nip {
                Some(text) => {
                    let nip: Nip = text.parse().with_context(|| {
                        format!("--context-nip {text:?} is not a valid NIP; give the 10 digits")
                    })?;
                    nip.to_string()
                }
                None => facts.seller_nip.clone(),
            };
            let certificate_key = read_certificate_key(&key, key_password_file.as_deref())?;
            let link = facts
                .certificate_link(
                    environment,
                    QrContextType::Nip,
                    &context,
                    &cert_serial,
                    &certificate_key,
                )
                .with_context(|| format!("{}: cannot build the KOD II link", file.display()))?;
            write_images(&link, QrCaption::Certificate, png.as_ref(), svg.as_ref())?;
            if ctx.json() {
                print_json(&json!({
                    "kind": "certificate",
                    "link": link,
                    "caption": QrCaption::Certificate.text(),
                    "sellerNip": facts.seller_nip,
                    "contextNip": context,
                    "png": png,
                    "svg": svg,
                }))?;
            } else {
                outln!("{link}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
