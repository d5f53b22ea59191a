//! The arguments of `ksef xades`.

use std::path::PathBuf;

use clap::Subcommand;

/// `ksef xades ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum XadesCommand {
    /// Sign an XML document (enveloped XAdES-BES) with a certificate and its key.
    Sign {
        /// The certificate (PEM or DER).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The private key (PKCS#8 PEM, plain or encrypted).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE")]
        key_password_file: Option<PathBuf>,
        /// The XML document to sign.
        input: PathBuf,
        /// Where to write the signed document [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a XAdES-signed document and show who signed it.
    Verify {
        /// The signed XML document.
        file: PathBuf,
    },
}
