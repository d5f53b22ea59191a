//! The arguments of `ksef auth`, and the token and signing-key arguments of a login.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// Where the KSeF token comes from.
#[derive(Debug, Args)]
pub(crate) struct TokenSourceArgs {
    /// Read the KSeF token from this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "token_stdin")]
    pub(crate) token_file: Option<PathBuf>,
    /// Read the KSeF token from standard input (first line).
    #[arg(long, conflicts_with = "pin_stdin")]
    pub(crate) token_stdin: bool,
}

/// How the subject is identified from a signing certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SubjectArg {
    /// From the identifiers in the certificate's subject (NIP, PESEL).
    Subject,
    /// From the certificate's SHA-256 fingerprint (granted permissions in KSeF).
    Fingerprint,
}

/// A key on a PKCS#11 token (smart card, HSM): the module, the token and how to log in. The key
/// itself is named by `--key LABEL` or `--key-id HEX`; the certificate comes from the token unless
/// `--cert FILE` is given. The token is `--pkcs11-token`, never `--token`: a KSeF token is
/// another thing. One secret per command comes from standard input: `--pin-stdin` conflicts
/// with `--token-stdin` and `--password-stdin` (declared on those, which exist where it does).
#[derive(Debug, Args)]
pub(crate) struct Pkcs11Args {
    /// Sign with a key on a PKCS#11 token through this module (e.g.
    /// /usr/lib/softhsm/libsofthsm2.so); with --pkcs11-token, and --key LABEL or --key-id HEX.
    /// The PIN from --pin-stdin, KSEF_PKCS11_PIN or a prompt.
    #[arg(
        long,
        value_name = "PATH",
        requires = "pkcs11_token",
        conflicts_with_all = ["p12", "key_password_file"]
    )]
    pub(crate) pkcs11_module: Option<PathBuf>,
    /// With --pkcs11-module: the PKCS#11 token's label (the smart card or HSM slot).
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub(crate) pkcs11_token: Option<String>,
    /// With --pkcs11-module: the key's id (CKA_ID) in hex, instead of --key LABEL.
    #[arg(
        long,
        value_name = "HEX",
        requires = "pkcs11_module",
        conflicts_with = "key"
    )]
    pub(crate) key_id: Option<String>,
    /// With --pkcs11-module: read the token's PIN from standard input (first line).
    #[arg(long, requires = "pkcs11_module")]
    pub(crate) pin_stdin: bool,
}

/// A signing certificate and its private key.
#[derive(Debug, Args)]
pub(crate) struct SigningKeyArgs {
    /// The certificate (PEM or DER); with --pkcs11-module, optional: when the token holds only
    /// the key.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["token_file", "token_stdin"])]
    pub(crate) cert: Option<PathBuf>,
    /// The private key (PKCS#8 PEM, plain or encrypted), with --cert; with --pkcs11-module: the
    /// key's label on the token.
    #[arg(long, value_name = "FILE|LABEL", conflicts_with_all = ["token_file", "token_stdin"])]
    pub(crate) key: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) key_password_file: Option<PathBuf>,
    /// Instead of --cert and --key: a PKCS#12 file (.p12/.pfx) holding the key and its
    /// certificate; its password from --password-stdin, KSEF_P12_PASSWORD or a prompt.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["cert", "key", "key_password_file", "token_file", "token_stdin"]
    )]
    pub(crate) p12: Option<PathBuf>,
    /// With --p12: read its password from standard input (first line).
    #[arg(long, requires = "p12", conflicts_with = "pin_stdin")]
    pub(crate) password_stdin: bool,
    /// Or a key on a PKCS#11 token.
    #[command(flatten)]
    pub(crate) pkcs11: Pkcs11Args,
}

/// `ksef auth ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with a KSeF token (from --token-file, --token-stdin or KSEF_TOKEN), or with a
    /// certificate and its key (--cert and --key, --p12, or a PKCS#11 token with
    /// --pkcs11-module: a XAdES-signed AuthTokenRequest).
    #[command(group(
        clap::ArgGroup::new("certificate")
            .args(["cert", "p12", "pkcs11_module"])
            .multiple(true)
    ))]
    Login {
        /// The context NIP [default: `nip` from `ksef config`].
        #[arg(long)]
        nip: Option<String>,
        /// Where the token comes from.
        #[command(flatten)]
        token: TokenSourceArgs,
        /// Sign in with a certificate instead of a token.
        #[command(flatten)]
        signing: SigningKeyArgs,
        /// With --cert, --p12 or --pkcs11-module: how KSeF identifies the subject.
        #[arg(long, value_enum, default_value = "subject", requires = "certificate")]
        subject: SubjectArg,
    },
    /// Log in with an AuthTokenRequest signed elsewhere: --generate writes the unsigned request,
    /// --submit sends the signed one.
    #[command(group(clap::ArgGroup::new("phase").required(true).args(["generate", "submit"])))]
    LoginExternal {
        /// Write the unsigned AuthTokenRequest to --output.
        #[arg(long, requires = "output")]
        generate: bool,
        /// Submit the signed AuthTokenRequest from --input.
        #[arg(long, requires = "input", conflicts_with_all = ["generate", "nip", "output"])]
        submit: bool,
        /// With --generate: the context NIP [default: `nip` from `ksef config`].
        #[arg(long)]
        nip: Option<String>,
        /// With --generate: how KSeF identifies the subject.
        #[arg(long, value_enum, default_value = "subject")]
        subject: SubjectArg,
        /// With --generate: where to write the unsigned request.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// With --submit: the signed request.
        #[arg(long, value_name = "FILE", conflicts_with = "generate")]
        input: Option<PathBuf>,
    },
    /// The status of an authentication [default: the profile's login].
    Status {
        /// The authentication's reference number.
        reference: Option<String>,
    },
    /// Show what the session file holds (context, expiry; no secrets).
    Whoami {
        /// Also ask KSeF whether the login still works (a token refresh, then a read); exit 1
        /// with what to do if not.
        #[arg(long)]
        check: bool,
    },
    /// Refresh the access token now.
    Refresh,
    /// Revoke the current authentication session and delete the session file.
    Logout,
    /// Ask KSeF for an authentication challenge.
    Challenge,
    /// Authentication sessions.
    #[command(subcommand)]
    Sessions(AuthSessionsCommand),
}

/// `ksef auth sessions ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthSessionsCommand {
    /// List the active authentication sessions of the context.
    List,
    /// Revoke an authentication session (its refresh token stops working).
    Revoke {
        /// The authentication's reference number.
        #[arg(required_unless_present = "current", conflicts_with = "current")]
        reference: Option<String>,
        /// Revoke the profile's own session and forget it locally.
        #[arg(long)]
        current: bool,
    },
}
