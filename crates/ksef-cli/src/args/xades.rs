//! The arguments of `ksef xades`.

use std::path::PathBuf;

use clap::Subcommand;

/// `ksef xades ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum XadesCommand {
    /// Sign an XML document (enveloped XAdES-BES) with a certificate and its key (--cert and
    /// --key, or --p12).
    Sign {
        /// The certificate (PEM or DER).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "p12",
            requires = "key"
        )]
        cert: Option<PathBuf>,
        /// The private key (PKCS#8 PEM, plain or encrypted).
        #[arg(long, value_name = "FILE", requires = "cert")]
        key: Option<PathBuf>,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE", requires = "key")]
        key_password_file: Option<PathBuf>,
        /// Instead of --cert and --key: a PKCS#12 file (.p12/.pfx) holding the key and its
        /// certificate; its password from --password-stdin, KSEF_P12_PASSWORD or a prompt.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key", "key_password_file"])]
        p12: Option<PathBuf>,
        /// With --p12: read its password from standard input (first line).
        #[arg(long, requires = "p12")]
        password_stdin: bool,
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
