//! The arguments of `ksef cert`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

/// `ksef cert ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// How many certificates the subject may still enroll and hold.
    Limits,
    /// The subject names KSeF puts into a certificate for the current login.
    EnrollmentData,
    /// Enroll a KSeF certificate: generates the key (written 0600) and the CSR, sends it, waits
    /// until KSeF issues the certificate and saves it.
    Enroll {
        /// The certificate's name (5 to 100 characters).
        #[arg(long)]
        name: String,
        /// The certificate's type.
        #[arg(long = "type", value_enum)]
        kind: KsefCertTypeArg,
        /// Where to write the new private key (PKCS#8 PEM, 0600).
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Where to write the issued certificate (PEM); by default next to the key, named
        /// after its serial number.
        #[arg(long, value_name = "FILE")]
        cert_out: Option<PathBuf>,
        /// An ECDSA P-256 key instead of RSA 2048.
        #[arg(long)]
        ec: bool,
        /// Also save the key and the issued certificate as a PKCS#12 file (.p12, 0600) for other
        /// tools; its password from --password-stdin, KSEF_P12_PASSWORD or a prompt.
        #[arg(long, value_name = "FILE")]
        p12_out: Option<PathBuf>,
        /// With --p12-out: read its password from standard input (first line).
        #[arg(long, requires = "p12_out")]
        password_stdin: bool,
    },
    /// The status of an enrollment (with the certificate's serial number once issued).
    Status {
        /// The enrollment's reference number.
        reference: String,
    },
    /// Download certificates by serial number.
    Get {
        /// Serial numbers.
        #[arg(required = true)]
        serials: Vec<String>,
        /// Save each certificate as SERIAL.pem in this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// List the subject's KSeF certificates.
    List {
        /// Only certificates in this status: Active, Blocked, Revoked, Expired.
        #[arg(long)]
        status: Option<String>,
        /// Only certificates of this type.
        #[arg(long = "type", value_enum)]
        kind: Option<KsefCertTypeArg>,
    },
    /// Revoke a KSeF certificate.
    Revoke {
        /// The serial number.
        serial: String,
        /// Why.
        #[arg(long, value_enum, default_value = "unspecified")]
        reason: RevocationReasonArg,
    },
    /// A self-signed certificate for KSeF's TEST environment (worthless elsewhere).
    #[command(group(clap::ArgGroup::new("who").required(true).args(["nip", "pesel"])))]
    SelfSigned {
        /// A company seal for this NIP.
        #[arg(long)]
        nip: Option<String>,
        /// A personal certificate for this PESEL.
        #[arg(long)]
        pesel: Option<String>,
        /// An ECDSA P-256 key instead of RSA 2048.
        #[arg(long)]
        ec: bool,
        /// The organization (with --nip) [default: "Test company NIP"].
        #[arg(long, conflicts_with = "pesel")]
        organization: Option<String>,
        /// The given name (with --pesel).
        #[arg(long, default_value = "Jan", conflicts_with = "nip")]
        given_name: String,
        /// The surname (with --pesel).
        #[arg(long, default_value = "Testowy", conflicts_with = "nip")]
        surname: String,
        /// Where to write the certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Where to write the private key (PKCS#8 PEM, 0600).
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
    },
}

/// `--type` of a KSeF certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KsefCertTypeArg {
    /// For authentication (XAdES login).
    Authentication,
    /// For offline invoices (KOD II).
    Offline,
}

/// `--reason` of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RevocationReasonArg {
    /// No reason given.
    Unspecified,
    /// Replaced by another certificate.
    Superseded,
    /// The private key leaked.
    KeyCompromise,
}
