//! `ksef qr`: the KSeF QR codes of an invoice's visualisation, offline. KOD I links the invoice
//! for verification; KOD II (offline invoices) proves the issuer with an Offline certificate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use ksef_crypto::{
    CertificateKey, DEFAULT_MODULE_PIXELS, QrCaption, QrContextType, QrEnvironment, QrImage,
    certificate_link, file_metadata, invoice_link,
};
use ksef_model::values::{KsefNumber, Nip};
use ksef_xades::xml::{Document, Element, ParseLimits};
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::{EnvName, QrCommand};
use crate::context::{Ctx, print_json};
use crate::files::{read_input, read_secret_line, write_public};

/// What a QR link needs from the invoice file.
struct InvoiceFacts {
    seller_nip: String,
    issue_date: NaiveDate,
}

fn child<'a>(parent: Element<'a>, name: &str) -> Option<Element<'a>> {
    parent.child_elements().find(|e| e.local_name() == name)
}

/// Reads the seller's NIP (`Podmiot1/DaneIdentyfikacyjne/NIP`) and the issue date (`Fa/P_1`).
fn invoice_facts(path: &Path, bytes: &[u8]) -> anyhow::Result<InvoiceFacts> {
    let doc = Document::parse(bytes, &ParseLimits::default())
        .with_context(|| format!("{} is not well-formed XML", path.display()))?;
    let root = doc.root();
    if root.local_name() != "Faktura" {
        bail!(
            "{}: the root element is {}, not Faktura; give an FA invoice file",
            path.display(),
            root.local_name()
        );
    }
    let seller_nip = child(root, "Podmiot1")
        .and_then(|p| child(p, "DaneIdentyfikacyjne"))
        .and_then(|d| child(d, "NIP"))
        .map(|e| e.text_content().trim().to_owned())
        .with_context(|| {
            format!(
                "{}: Faktura/Podmiot1/DaneIdentyfikacyjne/NIP (the seller's NIP) is missing",
                path.display()
            )
        })?;
    let date_text = child(root, "Fa")
        .and_then(|fa| child(fa, "P_1"))
        .map(|e| e.text_content().trim().to_owned())
        .with_context(|| {
            format!(
                "{}: Faktura/Fa/P_1 (the issue date) is missing",
                path.display()
            )
        })?;
    let issue_date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").with_context(|| {
        format!(
            "{}: Faktura/Fa/P_1 {date_text:?} is not a date (YYYY-MM-DD)",
            path.display()
        )
    })?;
    Ok(InvoiceFacts {
        seller_nip,
        issue_date,
    })
}

fn qr_environment(env: EnvName) -> QrEnvironment {
    match env {
        EnvName::Test => QrEnvironment::Test,
        EnvName::Demo => QrEnvironment::Demo,
        EnvName::Prod => QrEnvironment::Production,
    }
}

/// Writes the images asked for; returns their paths.
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
    let environment = qr_environment(ctx.env_name()?);
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
            let bytes = read_input(&file, "the invoice")?;
            let facts = invoice_facts(&file, &bytes)?;
            let link = invoice_link(
                environment,
                &facts.seller_nip,
                facts.issue_date,
                &file_metadata(&bytes),
            )
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
                println!("{link}");
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
            let bytes = read_input(&file, "the invoice")?;
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
            let pem = Zeroizing::new(
                String::from_utf8(read_input(&key, "the private key")?)
                    .map_err(|_| anyhow::anyhow!("the key {} is not PEM text", key.display()))?,
            );
            let certificate_key = match &key_password_file {
                Some(path) => {
                    let password = read_secret_line(path, "key password")?;
                    CertificateKey::from_encrypted_pkcs8_pem(&pem, password.as_bytes())
                }
                None => CertificateKey::from_pkcs8_pem(&pem),
            }
            .with_context(|| {
                format!(
                    "cannot read the key {} (PKCS#8 PEM; --key-password-file if encrypted)",
                    key.display()
                )
            })?;
            let link = certificate_link(
                environment,
                QrContextType::Nip,
                &context,
                &facts.seller_nip,
                &cert_serial,
                &file_metadata(&bytes),
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
                println!("{link}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
