//! Human-readable PDF visualizations of KSeF documents: FA(3), FA(2) and FA_RR(1) invoices with
//! the KSeF QR codes, and UPO v4 receipts.
//!
//! Rendering is native Rust: no browser, Node, or system fonts. The PDF is written with
//! [krilla](https://docs.rs/krilla), which embeds a subset of the font with a ToUnicode map (so
//! text can be searched and copied); the font is DejaVu Sans Condensed (regular and bold),
//! compiled into the crate (licence in `fonts/LICENSE-DejaVu.txt`), which covers every Polish
//! letter. Output is deterministic: the same input and [`Options`] give the same bytes (no dates,
//! no random document ids), except that a KOD II link signed here carries a fresh RSA-PSS/ECDSA
//! signature each time; pass a ready link with [`OfflineQr::Link`] to keep the bytes stable.
//!
//! Why krilla: it is maintained (it is typst's PDF backend), subsets and embeds TrueType fonts
//! as CID fonts with ToUnicode maps, draws vector paths (the QR codes), writes no timestamps by
//! default, and needs no system libraries. printpdf does not subset fonts as well and has changed
//! its API between every minor release; pdf-writer (which krilla builds on) leaves font
//! embedding, subsetting and text encoding to the caller.
//!
//! ```no_run
//! use ksef_pdf::{Options, render_invoice};
//!
//! let xml = std::fs::read("invoice.xml")?;
//! let options = Options::default().with_ksef_number("5265877635-20260115-0100001B9E30-6C");
//! let pdf = render_invoice(&xml, &options)?;
//! std::fs::write("invoice.pdf", pdf)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What an invoice shows
//!
//! In the order of the Ministry's visualization: the header (form, invoice type, number, KSeF
//! number), the parties (Podmiot1, Podmiot2, every Podmiot3, PodmiotUpowazniony), the details
//! (dates, place, period, currency, corrections and advances), the lines (every FaWiersz column
//! that any line fills, the header row repeated on every page), the VAT-rate summary, the totals,
//! Adnotacje in words, Rozliczenie, Platnosc, WarunkiTransakcji, Zamowienie, Stopka, Zalacznik
//! and the QR codes. Elements without a layout of their own are still shown, by label.

mod format;
mod invoice;
mod labels;
mod layout;
mod upo;
mod xml;

use std::io::Write;

pub use ksef_crypto::{CertificateKey, QrContextType, QrEnvironment};
pub use labels::Language;

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// The root element is not an invoice of a known schema (FA(2), FA(3), FA_RR(1)).
    #[error("not a known invoice schema: {0}")]
    UnknownSchema(String),
    /// The invoice breaks its schema; the validator's findings, one per line (render anyway with
    /// [`Options::force`]).
    #[error("the invoice fails validation ({count} problem(s)):\n{messages}")]
    Invalid {
        /// Number of violations.
        count: usize,
        /// The validator's messages (path: rule), one per line.
        messages: String,
    },
    /// The document is not a UPO (`Potwierdzenie`).
    #[error("not a UPO document: the root element is {0:?}, expected Potwierdzenie")]
    NotUpo(String),
    /// A QR code could not be built (e.g. the seller's NIP is not ten digits, the issue date is
    /// not a date).
    #[error("QR code: {0}")]
    Qr(String),
    /// The PDF writer failed.
    #[error("PDF writer: {0}")]
    Pdf(String),
    /// Writing the output failed.
    #[error("writing the PDF: {0}")]
    Io(#[from] std::io::Error),
}

/// How KOD II (the offline certificate code) is obtained.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OfflineQr {
    /// Sign the link here with the `Offline` KSeF certificate's private key.
    Sign {
        /// The certificate's private key.
        key: CertificateKey,
        /// The certificate's serial number, hexadecimal.
        serial: String,
        /// The type of the context the invoice is issued in.
        context_type: QrContextType,
        /// The context identifier (e.g. the NIP).
        context_value: String,
    },
    /// A KOD II link signed elsewhere (e.g. by `ksef qr certificate` or an HSM).
    Link(String),
}

/// Rendering options.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The invoice's KSeF number, when it has one: shown in the header and as KOD I's caption.
    pub ksef_number: Option<String>,
    /// The environment whose QR host the links point to.
    pub environment: QrEnvironment,
    /// Label language.
    pub language: Language,
    /// For an offline invoice: KOD II. KOD I is then captioned `OFFLINE` unless a KSeF number
    /// is known.
    pub offline: Option<OfflineQr>,
    /// Render an invoice that fails validation anyway (a notice on the first page says so).
    pub force: bool,
    /// Leave the QR codes out (e.g. a draft never sent to KSeF).
    pub no_qr: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ksef_number: None,
            environment: QrEnvironment::Production,
            language: Language::Polish,
            offline: None,
            force: false,
            no_qr: false,
        }
    }
}

impl Options {
    /// Sets the KSeF number.
    pub fn with_ksef_number(mut self, number: impl Into<String>) -> Self {
        self.ksef_number = Some(number.into());
        self
    }

    /// Sets the QR environment.
    pub fn with_environment(mut self, environment: QrEnvironment) -> Self {
        self.environment = environment;
        self
    }

    /// Sets the label language.
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = language;
        self
    }

    /// Marks the invoice offline, with its KOD II.
    pub fn with_offline(mut self, offline: OfflineQr) -> Self {
        self.offline = Some(offline);
        self
    }

    /// Renders invalid invoices too.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Leaves the QR codes out.
    pub fn without_qr(mut self) -> Self {
        self.no_qr = true;
        self
    }
}

/// What a rendering produced besides the PDF: the QR links printed and validation findings
/// overridden by [`Options::force`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rendered {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// KOD I, when printed.
    pub kod_i: Option<String>,
    /// KOD II, when printed.
    pub kod_ii: Option<String>,
    /// The validator's messages the invoice was rendered despite (only with `force`).
    pub violations: Vec<String>,
    /// Number of pages.
    pub pages: usize,
}

/// Renders an invoice (FA(3), FA(2) or FA_RR(1)) as PDF.
///
/// # Errors
///
/// [`Error::Xml`], [`Error::UnknownSchema`], [`Error::Invalid`] (unless [`Options::force`]),
/// [`Error::Qr`] when KOD I/II cannot be built, [`Error::Pdf`].
pub fn render_invoice(xml: &[u8], options: &Options) -> Result<Vec<u8>, Error> {
    render_invoice_full(xml, options).map(|r| r.pdf)
}

/// As [`render_invoice`], writing the PDF to `out`.
///
/// # Errors
///
/// As [`render_invoice`], and [`Error::Io`].
pub fn render_invoice_to<W: Write>(xml: &[u8], options: &Options, mut out: W) -> Result<(), Error> {
    let pdf = render_invoice_full(xml, options)?.pdf;
    out.write_all(&pdf)?;
    out.flush()?;
    Ok(())
}

/// As [`render_invoice`], also returning the QR links and any overridden validation findings.
///
/// # Errors
///
/// As [`render_invoice`].
pub fn render_invoice_full(xml: &[u8], options: &Options) -> Result<Rendered, Error> {
    invoice::render(xml, options)
}

/// Renders a UPO (v4-2 or v4-3 `Potwierdzenie`) as PDF.
///
/// # Errors
///
/// [`Error::Xml`], [`Error::NotUpo`], [`Error::Pdf`].
pub fn render_upo(xml: &[u8], options: &Options) -> Result<Vec<u8>, Error> {
    upo::render(xml, options)
}

/// As [`render_upo`], writing the PDF to `out`.
///
/// # Errors
///
/// As [`render_upo`], and [`Error::Io`].
pub fn render_upo_to<W: Write>(xml: &[u8], options: &Options, mut out: W) -> Result<(), Error> {
    let pdf = upo::render(xml, options)?;
    out.write_all(&pdf)?;
    out.flush()?;
    Ok(())
}
