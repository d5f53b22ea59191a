//! XAdES signatures made with keys read from PKCS#12 files that `openssl pkcs12 -export` wrote
//! (the default PBES2/AES encoding and `-legacy` 3DES/RC2; RSA 2048 and EC P-256), checked by
//! `xmlsec1 --verify`.
//!
//! Oracles per mode (`KSEF_ORACLES`, crate `ksef-oracle`): the openssl runs (key, certificate,
//! `.p12`) and the xmlsec1 runs are replayed by default from `tests/golden/tools-pkcs12_xmlsec1.tsv`,
//! files included. What xmlsec1 is given is deterministic: the replayed `.p12` files, a fixed
//! signing time, RSA PKCS#1 v1.5 and RFC 6979 ECDSA. `live` runs openssl and xmlsec1, `record`
//! rewrites the golden file.

use std::path::PathBuf;

use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
use ksef_xades::xades::{SignOptions, sign_with, verify};
use ksef_xades::{KeySigner, SignatureAlgorithm, Signer as _};

const CHALLENGE: &str = "20250604-CR-461EA5B000-537A6BA15D-D7";
const NIP: &str = "5265877635";
const PASSWORD: &str = "correct horse battery 42";

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksef-xades-p12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_tool(tool: ksef_oracle::Tool, args: &[&str]) -> ksef_oracle::Ran {
    ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("tools-{}", ksef_oracle::test_binary()),
    )
    .run(tool, &scratch_dir(), args, b"", ksef_oracle::Stdout::Bytes)
}

/// `openssl req -x509` then `openssl pkcs12 -export` (with `-legacy` when asked): the `.p12` file's
/// name and the certificate's PEM file name, in the scratch directory.
fn openssl_p12(kind: &str, legacy: bool) -> (String, String) {
    let key = format!("{kind}.key.pem");
    let cert = format!("{kind}.crt.pem");
    if !scratch_dir().join(&cert).exists() {
        let mut args = vec!["req", "-x509", "-newkey"];
        match kind {
            "rsa" => args.push("rsa:2048"),
            _ => args.extend(["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        }
        let subject =
            format!("/C=PL/O=Firma Testowa/organizationIdentifier=VATPL-{NIP}/CN=Firma Testowa");
        args.extend([
            "-nodes", "-keyout", &key, "-out", &cert, "-days", "36500", "-subj", &subject,
        ]);
        let ran = run_tool(ksef_oracle::OPENSSL, &args);
        assert!(ran.success, "openssl req: {}", ran.stderr);
    }
    let p12 = format!("{kind}-{}.p12", if legacy { "legacy" } else { "aes" });
    let passout = format!("pass:{PASSWORD}");
    let mut args = vec![
        "pkcs12", "-export", "-inkey", &key, "-in", &cert, "-out", &p12, "-passout", &passout,
    ];
    if legacy {
        args.push("-legacy");
    }
    let ran = run_tool(ksef_oracle::OPENSSL, &args);
    assert!(ran.success, "openssl pkcs12 -export: {}", ran.stderr);
    (p12, cert)
}

#[test]
fn xmlsec1_verifies_what_keys_from_openssl_p12_files_sign() {
    let unsigned = AuthTokenRequest::new(
        CHALLENGE.parse().unwrap(),
        ContextIdentifier::Nip(NIP.parse().unwrap()),
    )
    .to_xml()
    .unwrap();
    let options = SignOptions::new().with_signing_time("2026-01-01T00:00:00Z".parse().unwrap());
    let mut verified = Vec::new();
    for (kind, algorithm) in [
        ("rsa", SignatureAlgorithm::RsaSha256),
        ("ec", SignatureAlgorithm::EcdsaP256Sha256),
    ] {
        for legacy in [false, true] {
            let case = format!("{kind} legacy={legacy}");
            let (p12, cert) = openssl_p12(kind, legacy);
            let der = std::fs::read(scratch_dir().join(&p12)).unwrap();
            let signer = KeySigner::from_pkcs12(&der, PASSWORD, chrono::Utc::now())
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(signer.algorithm(), algorithm, "{case}");
            let cert_pem = std::fs::read(scratch_dir().join(&cert)).unwrap();
            assert_eq!(
                signer.certificate().der(),
                ksef_xades::Certificate::from_pem_or_der(&cert_pem)
                    .unwrap()
                    .der(),
                "{case}: the certificate in the .p12 is the one openssl was given"
            );
            let signed = sign_with(&unsigned, &signer, &options).unwrap();
            assert_eq!(verify(&signed).unwrap().algorithm(), algorithm, "{case}");

            let name = format!("signed-{kind}-{legacy}");
            let xml = format!("{name}.xml");
            std::fs::write(scratch_dir().join(&xml), &signed).unwrap();
            let xmlsec1 = |file: &str| {
                run_tool(
                    ksef_oracle::XMLSEC1,
                    &[
                        "--verify",
                        "--pubkey-cert-pem",
                        &cert,
                        "--insecure",
                        "--id-attr:Id",
                        "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
                        file,
                    ],
                )
            };
            let ran = xmlsec1(&xml);
            assert!(ran.success, "{case}: xmlsec1 --verify: {}", ran.stderr);
            // The harness can say no: a changed challenge is rejected.
            let tampered =
                String::from_utf8(signed)
                    .unwrap()
                    .replacen("537A6BA15D", "537A6BA15E", 1);
            let bad = format!("{name}-tampered.xml");
            std::fs::write(scratch_dir().join(&bad), tampered).unwrap();
            assert!(
                !xmlsec1(&bad).success,
                "{case}: xmlsec1 accepted a tampered document"
            );
            verified.push(case);
        }
    }
    assert_eq!(verified.len(), 4);
    let _ = std::fs::remove_dir_all(scratch_dir());
}
