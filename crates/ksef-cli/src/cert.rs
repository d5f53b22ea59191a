//! `ksef cert`: KSeF certificates (limits, enrollment with a locally generated key and CSR,
//! status, retrieval, listing, revocation) and, offline, `self-signed` test certificates for
//! KSeF's TEST environment and the simulator.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ksef_client::{CertificateEnrollment, CertificateKey, save_key};
use ksef_crypto::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_model::operations::{
    GetCertificateEnrollmentData, GetCertificateEnrollmentStatus, GetCertificateLimits,
    QueryCertificates, RetrieveCertificates, RevokeCertificate,
};
use ksef_model::types::{
    CertificateListItemStatus, CertificateRevocationReason, KsefCertificateType,
    QueryCertificatesRequest, RetrieveCertificatesRequest, RevokeCertificateRequest,
};
use ksef_model::values::{Nip, Pesel};
use ksef_xades::Certificate;
use serde_json::{Value, json};

use crate::api::{collect_page, print_value, to_value};
use crate::args::{CertCommand, KsefCertTypeArg, RevocationReasonArg};
use crate::context::{Ctx, parse_reference, print_json};
use crate::files::{p12_password, write_private, write_public};

fn cert_type(arg: KsefCertTypeArg) -> KsefCertificateType {
    match arg {
        KsefCertTypeArg::Authentication => KsefCertificateType::Authentication,
        KsefCertTypeArg::Offline => KsefCertificateType::Offline,
    }
}

/// A serial number as a file name: hexadecimal digits only.
fn check_serial(serial: &str) -> anyhow::Result<()> {
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{serial:?} is not a certificate serial number (hexadecimal digits)");
    }
    Ok(())
}

/// Runs a `cert` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::Limits => {
            let client = ctx.logged_in_client()?;
            let limits = client
                .certificates()
                .limits(GetCertificateLimits::new())
                .await?;
            print_value(ctx, &to_value(&limits)?)?;
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::EnrollmentData => {
            let client = ctx.logged_in_client()?;
            let data = client
                .certificates()
                .enrollment_data(GetCertificateEnrollmentData::new())
                .await?;
            print_value(ctx, &to_value(&data)?)?;
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Enroll {
            name,
            kind,
            key_out,
            cert_out,
            ec,
            p12_out,
            password_stdin,
        } => {
            if key_out.exists() {
                bail!(
                    "{} exists; give a new file for the private key (it is never overwritten)",
                    key_out.display()
                );
            }
            // Asked for before anything is sent, so that a missing password costs no enrollment.
            let p12_password = match &p12_out {
                Some(path) if path.exists() => bail!(
                    "{} exists; give a new file for the PKCS#12 file (it is never overwritten)",
                    path.display()
                ),
                Some(path) => Some(p12_password(password_stdin, path, true)?),
                None => None,
            };
            let client = ctx.logged_in_client()?;
            ctx.note(if ec {
                "generating an ECDSA P-256 key …"
            } else {
                "generating an RSA 2048 key (a few seconds) …"
            });
            let key = if ec {
                CertificateKey::generate_ec_p256()?
            } else {
                CertificateKey::generate_rsa_2048()?
            };
            // The key is saved before the request goes out: an issued certificate is useless
            // without it.
            let request =
                CertificateEnrollment::new(name.clone(), cert_type(kind)).with_key(key.clone());
            save_key(&key, &key_out, None)?;
            let pending = match client.start_certificate_enrollment(request).await {
                Ok(pending) => pending,
                Err(error) => {
                    // Refused locally or by a 4xx answer: nothing was enrolled, the new key is
                    // of no use. After any other failure the key stays (the request may have
                    // been processed).
                    let refused = matches!(error, ksef_client::Error::InvalidRequest { .. })
                        || error.status().is_some_and(|s| (400..500).contains(&s));
                    if refused {
                        let _ = std::fs::remove_file(&key_out);
                    }
                    return Err(error.into());
                }
            };
            let reference = pending.reference_number().clone();
            ctx.note(format!(
                "enrollment {reference} sent; waiting for the certificate (`ksef cert status {reference}` shows it too) …"
            ));
            let enrolled = pending.wait().await?;
            check_serial(&enrolled.serial_number)?;
            let cert_out = cert_out.unwrap_or_else(|| {
                key_out
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new(""))
                    .join(format!("{}.pem", enrolled.serial_number))
            });
            write_public(&cert_out, enrolled.certificate_pem().as_bytes())?;
            if let (Some(path), Some(password)) = (&p12_out, &p12_password) {
                let certificate =
                    Certificate::from_pem_or_der(enrolled.certificate_pem().as_bytes())
                        .context("KSeF returned a certificate that cannot be read")?;
                let bundle = ksef_crypto::Pkcs12::new(key.clone(), certificate, Vec::new())
                    .context("KSeF returned a certificate of another key")?;
                let der = bundle.to_der(password)?;
                write_private(path, &der)?;
            }
            if ctx.json() {
                print_json(&json!({
                    "referenceNumber": reference.as_str(),
                    "name": enrolled.name,
                    "type": enrolled.certificate_type.as_str(),
                    "serialNumber": enrolled.serial_number,
                    "validFrom": enrolled.valid_from,
                    "validTo": enrolled.valid_to,
                    "certFile": cert_out,
                    "p12File": p12_out,
                    "keyFile": key_out,
                }))?;
            } else {
                outln!(
                    "✓ certificate {} issued (enrollment {reference})",
                    enrolled.serial_number
                );
                outln!(
                    "  valid            {} to {}",
                    enrolled.valid_from,
                    enrolled.valid_to
                );
                outln!("  certificate      {}", cert_out.display());
                outln!("  private key      {} (0600)", key_out.display());
                if let Some(path) = &p12_out {
                    outln!("  PKCS#12          {} (0600)", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Status { reference } => {
            let reference = parse_reference(&reference, "copy it from `cert enroll`")?;
            let client = ctx.logged_in_client()?;
            let status = client
                .certificates()
                .enrollment_status(GetCertificateEnrollmentStatus::new(reference))
                .await?;
            let code = status.status.code;
            print_value(ctx, &to_value(&status)?)?;
            Ok(if code < 300 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        CertCommand::Get { serials, out } => {
            for serial in &serials {
                check_serial(serial)?;
            }
            let client = ctx.logged_in_client()?;
            let response = client
                .certificates()
                .retrieve(RetrieveCertificates::new(RetrieveCertificatesRequest::new(
                    serials.clone(),
                )))
                .await?;
            let mut rows = Vec::new();
            let mut pems = Vec::new();
            for item in &response.certificates {
                check_serial(&item.certificate_serial_number)?;
                let der = STANDARD
                    .decode(item.certificate.trim())
                    .context("KSeF sent a certificate that is not base64")?;
                let certificate_pem = ksef_client::crypto::pem_encode("CERTIFICATE", &der);
                let file = match &out {
                    Some(dir) => {
                        let path = dir.join(format!("{}.pem", item.certificate_serial_number));
                        write_public(&path, certificate_pem.as_bytes())?;
                        Some(path)
                    }
                    None => None,
                };
                pems.push(certificate_pem);
                rows.push(json!({
                    "serialNumber": item.certificate_serial_number,
                    "name": item.certificate_name,
                    "type": item.certificate_type.as_str(),
                    "file": file,
                    "certificate": if file.is_none() { Some(item.certificate.clone()) } else { None },
                }));
            }
            if ctx.json() {
                print_json(&Value::Array(rows))?;
            } else {
                for (item, certificate_pem) in response.certificates.iter().zip(&pems) {
                    match &out {
                        Some(dir) => outln!(
                            "✓ {} ({}) saved to {}",
                            item.certificate_serial_number,
                            item.certificate_name,
                            dir.join(format!("{}.pem", item.certificate_serial_number))
                                .display()
                        ),
                        None => out!("{certificate_pem}"),
                    }
                }
            }
            let missing: Vec<&String> = serials
                .iter()
                .filter(|s| {
                    !response
                        .certificates
                        .iter()
                        .any(|c| c.certificate_serial_number.eq_ignore_ascii_case(s))
                })
                .collect();
            if !missing.is_empty() {
                ctx.note(format!(
                    "KSeF returned no certificate for {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::List { status, kind } => {
            let mut request = QueryCertificatesRequest::new();
            if let Some(status) = &status {
                let known = ["Active", "Blocked", "Revoked", "Expired"];
                let Some(name) = known.iter().find(|k| k.eq_ignore_ascii_case(status)) else {
                    bail!("--status {status:?} is not one of {}", known.join(", "));
                };
                request.status = Some(CertificateListItemStatus::from(*name));
            }
            if let Some(kind) = kind {
                request.r#type = Some(cert_type(kind));
            }
            let client = ctx.logged_in_client()?;
            let mut items = Vec::new();
            let mut offset = 0;
            loop {
                let page = client
                    .certificates()
                    .query(
                        QueryCertificates::new(request.clone())
                            .with_page_size(50)
                            .with_page_offset(offset),
                    )
                    .await?;
                if !collect_page(to_value(&page)?, &mut items) {
                    break;
                }
                offset += 1;
            }
            if !ctx.json() && items.is_empty() {
                outln!("no certificates");
            } else {
                print_value(ctx, &Value::Array(items))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Revoke { serial, reason } => {
            check_serial(&serial)?;
            let reason = match reason {
                RevocationReasonArg::Unspecified => CertificateRevocationReason::Unspecified,
                RevocationReasonArg::Superseded => CertificateRevocationReason::Superseded,
                RevocationReasonArg::KeyCompromise => CertificateRevocationReason::KeyCompromise,
            };
            let client = ctx.logged_in_client()?;
            client
                .certificates()
                .revoke(RevokeCertificate::new(
                    serial.clone(),
                    RevokeCertificateRequest::new().with_revocation_reason(reason.clone()),
                ))
                .await?;
            if ctx.json() {
                print_json(&json!({
                    "serialNumber": serial,
                    "revoked": true,
                    "reason": reason.as_str(),
                }))?;
            } else {
                outln!("✓ certificate {serial} revoked ({reason})");
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::SelfSigned {
            nip,
            pesel,
            ec,
            organization,
            given_name,
            surname,
            cert_out,
            key_out,
        } => {
            if key_out.exists() {
                bail!(
                    "{} exists; give a new file for the private key (keys are never overwritten)",
                    key_out.display()
                );
            }
            let key_type = if ec {
                KeyType::EcdsaP256
            } else {
                KeyType::Rsa2048
            };
            ctx.note(if ec {
                "generating an ECDSA P-256 key …"
            } else {
                "generating an RSA 2048 key (a few seconds) …"
            });
            let generated = match (&nip, &pesel) {
                (Some(nip), _) => {
                    let nip: Nip = nip.parse().with_context(|| {
                        format!("--nip {nip:?} is not a valid NIP; give the 10 digits")
                    })?;
                    let organization = organization
                        .clone()
                        .unwrap_or_else(|| format!("Test company {nip}"));
                    TestCertificate::company(&organization, &nip, key_type)?
                }
                (None, Some(pesel)) => {
                    let pesel: Pesel = pesel.parse().with_context(|| {
                        format!("--pesel {pesel:?} is not a valid PESEL; give the 11 digits")
                    })?;
                    TestCertificate::person(
                        &given_name,
                        &surname,
                        &PersonIdentifier::Pesel(pesel),
                        key_type,
                    )?
                }
                // clap requires one of the two.
                (None, None) => anyhow::bail!("give --nip NIP or --pesel PESEL"),
            };
            let certificate = Certificate::from_der(generated.certificate_der())?;
            write_private(&key_out, generated.key_pkcs8_pem().as_bytes())?;
            write_public(&cert_out, generated.certificate_pem().as_bytes())?;
            if ctx.json() {
                print_json(&json!({
                    "certFile": cert_out,
                    "keyFile": key_out,
                    "subject": certificate.subject(),
                    "serialNumber": certificate.serial_decimal(),
                    "fingerprintSha256": certificate.fingerprint_sha256_hex(),
                    "keyType": if ec { "EcdsaP256" } else { "Rsa2048" },
                }))?;
            } else {
                outln!("✓ self-signed test certificate (TEST environment only)");
                outln!("  subject          {}", certificate.subject());
                outln!(
                    "  SHA-256          {}",
                    certificate.fingerprint_sha256_hex()
                );
                outln!("  certificate      {}", cert_out.display());
                outln!("  private key      {} (0600)", key_out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
