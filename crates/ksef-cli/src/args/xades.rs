//! The arguments of `ksef xades`.

use std::path::PathBuf;

use clap::Subcommand;

/// `ksef xades ...`.
#[derive(Debug, Subcommand)]
// Parsed once per run: the size of `Sign` does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum XadesCommand {
    /// Sign an XML document (enveloped XAdES-BES) with a certificate and its key (--cert and
    /// --key, --p12, or a key on a PKCS#11 token with --pkcs11-module).
    Sign {
        /// The certificate (PEM or DER); with --pkcs11-module, optional: when the token holds
        /// only the key.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present_any = ["p12", "pkcs11_module"]
        )]
        cert: Option<PathBuf>,
        /// The private key (PKCS#8 PEM, plain or encrypted), with --cert; with --pkcs11-module:
        /// the key's label on the token.
        #[arg(long, value_name = "FILE|LABEL")]
        key: Option<PathBuf>,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE", requires = "key")]
        key_password_file: Option<PathBuf>,
        /// Instead of --cert and --key: a PKCS#12 file (.p12/.pfx) holding the key and its
        /// certificate; its password from --password-stdin, KSEF_P12_PASSWORD or a prompt.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key", "key_password_file"])]
        p12: Option<PathBuf>,
        /// With --p12: read its password from standard input (first line).
        #[arg(long, requires = "p12", conflicts_with = "pin_stdin")]
        password_stdin: bool,
        /// Or a key on a PKCS#11 token.
        #[command(flatten)]
        pkcs11: super::Pkcs11Args,
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
