//! Enroll a KSeF certificate: log in with a certificate (enrollment copies its subject), let
//! the client generate the key, build the CSR, enroll and wait for the certificate, save both,
//! and log in again with the new certificate.
//!
//! With no environment variables it starts the in-process simulator and logs in with a
//! self-signed test seal of the simulator's company:
//!
//! ```text
//! cargo run -p ksef-client --example certificate_enrollment
//! ```
//!
//! Against a real environment, set `KSEF_BASE_URL`, `KSEF_NIP`, `KSEF_CERT` and `KSEF_KEY`
//! (PEM files of the certificate to log in with and its unencrypted PKCS#8 key); the new
//! certificate and key are written to `KSEF_OUT_DIR` (default: the current directory) as
//! `ksef-auth.pem` and `ksef-auth.key` (0600; never overwritten). Against the simulator they go
//! to a new temporary directory unless `KSEF_OUT_DIR` is set.

use std::error::Error as StdError;
use std::path::Path;
use std::time::Duration;

use ksef_client::{
    Certificate, CertificateEnrollment, Client, EnrolledCertificate, KeySigner, KeyType,
    PollConfig, SubjectIdentifierType, TestCertificate,
};
use ksef_model::types::KsefCertificateType;
use ksef_model::values::Nip;

/// The error type of the examples: anything, sendable between tasks.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Logs in with `signer`, enrolls an `Authentication` certificate, saves it and its key in
/// `out_dir`, and logs in with it.
pub(crate) async fn run(
    base_url: &str,
    nip: &str,
    signer: &KeySigner,
    out_dir: &Path,
) -> Result<EnrolledCertificate, BoxError> {
    let client = Client::builder()
        .transport(|t| t.base_url(base_url))
        .poll(
            PollConfig::default().with_backoff(Duration::from_millis(100), Duration::from_secs(5)),
        )
        .build()?;
    let context: Nip = nip.parse()?;
    client
        .login_with_certificate(
            context.clone(),
            signer,
            SubjectIdentifierType::CertificateSubject,
        )
        .await?;

    let enrolled = client
        .enroll_certificate(CertificateEnrollment::new(
            "Example authentication",
            KsefCertificateType::Authentication,
        ))
        .await?;
    println!(
        "certificate {} issued, valid {} to {}",
        enrolled.serial_number, enrolled.valid_from, enrolled.valid_to
    );
    enrolled.save(
        &out_dir.join("ksef-auth.pem"),
        &out_dir.join("ksef-auth.key"),
        None,
    )?;
    client.logout().await?;

    // The new certificate logs in on its own.
    let again = Client::builder()
        .transport(|t| t.base_url(base_url))
        .build()?;
    let login = again
        .login_with_certificate(
            context,
            &enrolled.signer()?,
            SubjectIdentifierType::CertificateSubject,
        )
        .await?;
    println!(
        "logged in with the new certificate: {}",
        login.reference_number
    );
    again.logout().await?;
    Ok(enrolled)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let out = std::env::var("KSEF_OUT_DIR").unwrap_or_else(|_| ".".to_owned());
    // Against the simulator, a fresh temporary directory unless one is given.
    let sim_out = std::env::var("KSEF_OUT_DIR").unwrap_or_else(|_| {
        let dir = std::env::temp_dir().join(format!("ksef-enrollment-{}", std::process::id()));
        dir.to_string_lossy().into_owned()
    });
    match std::env::var("KSEF_BASE_URL") {
        Ok(url) => {
            let certificate =
                Certificate::from_pem_or_der(&std::fs::read(std::env::var("KSEF_CERT")?)?)?;
            let key = std::fs::read_to_string(std::env::var("KSEF_KEY")?)?;
            let signer = KeySigner::from_pkcs8_pem(&key, None, certificate.der())?;
            run(&url, &std::env::var("KSEF_NIP")?, &signer, Path::new(&out)).await?;
        }
        Err(_) => {
            let sim = ksef_sim::Simulator::builder().start().await?;
            let nip: Nip = sim.seeded_nip().parse()?;
            let seal = TestCertificate::company("Example company", &nip, KeyType::EcdsaP256)?;
            std::fs::create_dir_all(&sim_out)?;
            run(
                sim.base_url(),
                sim.seeded_nip(),
                &seal.signer()?,
                Path::new(&sim_out),
            )
            .await?;
            println!("certificate and key saved in {sim_out}");
            sim.shutdown().await;
        }
    }
    Ok(())
}
