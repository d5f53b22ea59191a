//! `ksef xades`: sign and verify XAdES documents offline.

use std::process::ExitCode;

use anyhow::Context as _;
use ksef_xades::SubjectIdentifier;
use serde_json::json;

use crate::args::XadesCommand;
use crate::context::{Ctx, print_json};
use crate::files::{read_input, write_public};

/// Runs a `xades` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: XadesCommand) -> anyhow::Result<ExitCode> {
    match command {
        XadesCommand::Sign {
            cert,
            key,
            key_password_file,
            p12,
            password_stdin,
            pkcs11,
            input,
            out,
        } => {
            let xml = read_input(&input, "the document")?;
            let signer = crate::signing::signer(crate::signing::KeySource {
                cert: cert.as_deref(),
                key: key.as_deref(),
                key_password_file: key_password_file.as_deref(),
                p12: p12.as_deref(),
                password_stdin,
                pkcs11: &pkcs11,
            })?
            .context("give --cert and --key, --p12, or --pkcs11-module")?;
            let signed = ksef_xades::xades::sign(&xml, &signer)
                .with_context(|| format!("cannot sign {}", input.display()))?;
            match &out {
                Some(path) => write_public(path, &signed)?,
                None if ctx.json() => {}
                None => crate::output::write_stdout_bytes(&signed)?,
            }
            if ctx.json() {
                let mut doc = json!({
                    "input": input,
                    "file": out,
                    "signer": signer.certificate().subject(),
                    "fingerprintSha256": signer.certificate().fingerprint_sha256_hex(),
                });
                if out.is_none() {
                    doc["xml"] = String::from_utf8_lossy(&signed).into_owned().into();
                }
                print_json(&doc)?;
            } else if let Some(path) = &out {
                ctx.note(format!("✓ signed {} → {}", input.display(), path.display()));
            }
            Ok(ExitCode::SUCCESS)
        }
        XadesCommand::Verify { file } => {
            let xml = read_input(&file, "the signed document")?;
            let verified = match ksef_xades::xades::verify(&xml) {
                Ok(verified) => verified,
                Err(error) => {
                    if ctx.json() {
                        print_json(&json!({
                            "file": file,
                            "valid": false,
                            "error": error.to_string(),
                        }))?;
                    }
                    errln!(
                        "✗ {}: the signature does not verify: {error}",
                        file.display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
            };
            let certificate = verified.certificate();
            let identifier = certificate.subject_identifier().map(|id| match id {
                SubjectIdentifier::SealNip(nip) => json!({"type": "SealNip", "value": nip}),
                SubjectIdentifier::PersonPesel(p) => json!({"type": "PersonPesel", "value": p}),
                SubjectIdentifier::PersonNip(nip) => json!({"type": "PersonNip", "value": nip}),
                other => json!({"type": format!("{other:?}")}),
            });
            if ctx.json() {
                print_json(&json!({
                    "file": file,
                    "valid": true,
                    "signer": certificate.subject(),
                    "issuer": certificate.issuer(),
                    "serialNumber": certificate.serial_decimal(),
                    "fingerprintSha256": certificate.fingerprint_sha256_hex(),
                    "subjectIdentifier": identifier,
                    "signingTime": verified.signing_time(),
                    "challenge": verified.challenge(),
                }))?;
            } else {
                outln!("✓ {}: valid XAdES signature", file.display());
                outln!("  signer           {}", certificate.subject());
                outln!("  issuer           {}", certificate.issuer());
                outln!(
                    "  SHA-256          {}",
                    certificate.fingerprint_sha256_hex()
                );
                if let Some(time) = verified.signing_time() {
                    outln!("  signing time     {time}");
                }
                if let Some(challenge) = verified.challenge() {
                    outln!("  challenge        {challenge}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
