//! The arguments of `ksef qr`.

use std::path::PathBuf;

use clap::Subcommand;

/// `ksef qr ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum QrCommand {
    /// KOD I: the verification link of an invoice (seller NIP and issue date read from the file).
    Invoice {
        /// The invoice XML file, exactly as sent to KSeF.
        file: PathBuf,
        /// The invoice's KSeF number (the caption under the code).
        #[arg(long, required_unless_present = "offline")]
        ksef_number: Option<String>,
        /// The invoice has no KSeF number yet: caption OFFLINE.
        #[arg(long, conflicts_with = "ksef_number")]
        offline: bool,
        /// Also write the code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Also write the code as an SVG image.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// KOD II: the certificate link of an offline invoice, signed with an Offline certificate's key.
    Cert {
        /// The invoice XML file, exactly as sent to KSeF.
        file: PathBuf,
        /// The Offline certificate's serial number (hexadecimal).
        #[arg(long, value_name = "HEX")]
        cert_serial: String,
        /// The Offline certificate's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE")]
        key_password_file: Option<PathBuf>,
        /// The context NIP the invoice was issued in [default: the seller's NIP].
        #[arg(long)]
        context_nip: Option<String>,
        /// Also write the code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Also write the code as an SVG image.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
}
