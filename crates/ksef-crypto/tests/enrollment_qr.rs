//! Certificate enrollment (CSR, keys in PKCS#8) and QR links, checked against the `openssl`
//! command line tool and the known answers of KSeF's documentation.
//!
//! Oracles per mode (`KSEF_ORACLES`, see `common`): keys come from `openssl genpkey` (replayed from
//! the golden file by default), so CSRs (RSA PKCS#1 v1.5 and deterministic ECDSA) and plain PKCS#8
//! are deterministic and openssl's readings of them are replayed by default, run live otherwise.
//! Inputs random by design are checked by default with independent Rust code and by openssl in
//! live mode: our encrypted PKCS#8 (random salt and IV) by the `pkcs8`/`pkcs5` decryption (we only
//! encrypt with it); QR signatures (RSA-PSS has a random salt) by `ring`; the SVG's
//! well-formedness by quick-xml (live adds python3's minidom).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use common::{TempDir, live, openssl, openssl_live};
use ksef_crypto::{
    CertificateKey, CertificateSigningRequest, EnrollmentData, Error, FileMetadata, KeyAlgorithm,
    PrivateKey, QrContextType, QrEnvironment, certificate_link, certificate_link_signed_text,
    file_metadata, invoice_link,
};

const PASSWORD: &str = "pa$$ word-ąę";

/// A key made by `openssl genpkey` (`rsa` or `ec` P-256), replayed from the golden file by default.
fn fixed_key(dir: &TempDir, kind: &str) -> CertificateKey {
    let file = format!("fixed-{kind}.pem");
    let mut args = vec!["genpkey", "-algorithm"];
    match kind {
        "rsa" => args.extend(["RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
        _ => args.extend(["EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    }
    args.extend(["-out", &file]);
    openssl(dir.path(), &args, b"");
    CertificateKey::from_pkcs8_pem(&std::fs::read_to_string(dir.file(&file)).unwrap()).unwrap()
}

fn person() -> EnrollmentData {
    EnrollmentData {
        common_name: "Zażółć Gęślą-Jaźń".into(),
        country_name: "PL".into(),
        given_names: vec!["Zażółć".into(), "Maria".into()],
        surname: Some("Gęślą-Jaźń".into()),
        serial_number: Some("PNOPL-80010112345".into()),
        unique_identifier: Some("f8b3a1c2-0001".into()),
        ..EnrollmentData::default()
    }
}

fn seal() -> EnrollmentData {
    EnrollmentData {
        common_name: "Spółka Testowa sp. z o.o.".into(),
        country_name: "PL".into(),
        organization_name: Some("Spółka Testowa sp. z o.o.".into()),
        organization_identifier: Some("VATPL-5265877635".into()),
        ..EnrollmentData::default()
    }
}

/// `openssl req -verify`, then the subject as openssl prints it: one `OID=TYPE:value` per line.
fn openssl_subject(dir: &TempDir, csr: &CertificateSigningRequest) -> Vec<String> {
    std::fs::write(dir.file("csr.pem"), csr.to_pem()).unwrap();
    let text = openssl(
        dir.path(),
        &["req", "-in", "csr.pem", "-noout", "-verify", "-text"],
        b"",
    );
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("Certificate Request:"), "{text}");
    // The DER form parses too, and is what the API receives (in base64).
    std::fs::write(dir.file("csr.der"), csr.der()).unwrap();
    openssl(
        dir.path(),
        &[
            "req", "-inform", "DER", "-in", "csr.der", "-noout", "-verify",
        ],
        b"",
    );
    let subject = openssl(
        dir.path(),
        &[
            "req",
            "-in",
            "csr.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "sep_multiline,utf8,-esc_msb,oid,show_type",
        ],
        b"",
    );
    String::from_utf8(subject)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Builds a CSR for `data` with the fixed `kind` key, checks with openssl that its subject is
/// exactly `subject` and that `openssl req -text` shows each of `shown`, and returns it.
fn checked_csr(
    data: &EnrollmentData,
    kind: &str,
    subject: &[&str],
    shown: &[&str],
) -> CertificateSigningRequest {
    let dir = TempDir::new();
    let key = fixed_key(&dir, kind);
    let csr = CertificateSigningRequest::new(data, &key).unwrap();
    assert_eq!(openssl_subject(&dir, &csr), subject);
    let text = String::from_utf8(openssl(
        dir.path(),
        &["req", "-in", "csr.pem", "-noout", "-text"],
        b"",
    ))
    .unwrap();
    for expected in shown {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    csr
}

#[test]
fn person_csr_with_rsa_verifies_and_has_exactly_the_given_subject() {
    let csr = checked_csr(
        &person(),
        "rsa",
        &[
            "2.5.4.3=UTF8STRING:Zażółć Gęślą-Jaźń",
            "2.5.4.4=UTF8STRING:Gęślą-Jaźń",
            "2.5.4.5=PRINTABLESTRING:PNOPL-80010112345",
            "2.5.4.6=PRINTABLESTRING:PL",
            "2.5.4.42=UTF8STRING:Zażółć",
            "2.5.4.42=UTF8STRING:Maria",
            "2.5.4.45=UTF8STRING:f8b3a1c2-0001",
        ],
        &["sha256WithRSAEncryption", "Public-Key: (2048 bit)"],
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(csr.to_base64())
            .unwrap(),
        csr.der()
    );
}

#[test]
fn seal_csr_with_ec_verifies_and_has_exactly_the_given_subject() {
    checked_csr(
        &seal(),
        "ec",
        &[
            "2.5.4.3=UTF8STRING:Spółka Testowa sp. z o.o.",
            "2.5.4.6=PRINTABLESTRING:PL",
            "2.5.4.10=UTF8STRING:Spółka Testowa sp. z o.o.",
            "2.5.4.97=UTF8STRING:VATPL-5265877635",
        ],
        &["ecdsa-with-SHA256", "NIST CURVE: P-256"],
    );
}

#[test]
fn enrollment_data_deserializes_from_the_api_response() {
    let one: EnrollmentData = serde_json::from_str(
        r#"{"commonName":"A B","countryName":"PL","givenName":"A","surname":"B",
            "serialNumber":"PNOPL-1","uniqueIdentifier":null,"organizationName":null,
            "organizationIdentifier":null}"#,
    )
    .unwrap();
    assert_eq!(one.given_names, ["A"]);
    assert_eq!(one.unique_identifier, None);
    let many: EnrollmentData =
        serde_json::from_str(r#"{"commonName":"A B","countryName":"PL","givenName":["A","C"]}"#)
            .unwrap();
    assert_eq!(many.given_names, ["A", "C"]);
    let none: EnrollmentData =
        serde_json::from_str(r#"{"commonName":"X","countryName":"PL"}"#).unwrap();
    assert!(none.given_names.is_empty());
}

#[test]
fn invalid_enrollment_data_is_rejected() {
    let key = CertificateKey::generate_ec_p256().unwrap();
    let mut data = seal();
    data.country_name = "Polska".into();
    assert!(matches!(
        CertificateSigningRequest::new(&data, &key),
        Err(Error::InvalidEnrollmentData {
            field: "countryName",
            ..
        })
    ));
    let mut data = person();
    data.serial_number = Some("PNOPL_ż".into());
    assert!(matches!(
        CertificateSigningRequest::new(&data, &key),
        Err(Error::InvalidEnrollmentData {
            field: "serialNumber",
            ..
        })
    ));
    let mut data = seal();
    data.common_name.clear();
    assert!(matches!(
        CertificateSigningRequest::new(&data, &key),
        Err(Error::InvalidEnrollmentData {
            field: "commonName",
            ..
        })
    ));
}

/// The public key openssl derives from a private key file, as DER.
fn openssl_public_key(dir: &TempDir, file: &str, password: Option<&str>) -> Vec<u8> {
    let pass = password.map(|p| format!("pass:{p}"));
    let mut args = vec!["pkey", "-in", file, "-pubout", "-outform", "DER"];
    if let Some(pass) = &pass {
        args.extend(["-passin", pass]);
    }
    openssl(dir.path(), &args, b"")
}

#[test]
fn openssl_reads_our_encrypted_and_plain_pkcs8() {
    use pkcs8::pkcs5::{EncryptionScheme, pbes2};
    let dir = TempDir::new();
    for key in [fixed_key(&dir, "ec"), fixed_key(&dir, "rsa")] {
        let public = key.public_key_der().unwrap();
        let plain_der = key.to_pkcs8_der().unwrap();
        let encrypted_pem = key.to_encrypted_pkcs8_pem(PASSWORD.as_bytes()).unwrap();
        let encrypted_der = key.to_encrypted_pkcs8_der(PASSWORD.as_bytes()).unwrap();
        // Default oracle (the salt and IV are random): the pkcs5 decryption, which our code only
        // encrypts with, opens both to exactly the plain PKCS#8, under PBES2 with PBKDF2 over
        // HMAC-SHA256 and AES-256-CBC.
        for der in [
            pkcs8::Document::from_pem(&encrypted_pem)
                .unwrap()
                .1
                .as_bytes()
                .to_vec(),
            encrypted_der.to_vec(),
        ] {
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).unwrap();
            match &info.encryption_algorithm {
                EncryptionScheme::Pbes2(params) => {
                    assert!(
                        matches!(params.encryption, pbes2::EncryptionScheme::Aes256Cbc { .. }),
                        "{:?}",
                        params.encryption
                    );
                    let kdf = params.kdf.pbkdf2().expect("PBKDF2");
                    assert_eq!(kdf.prf, pbes2::Pbkdf2Prf::HmacWithSha256);
                }
                other => panic!("not PBES2: {other:?}"),
            }
            let opened = info.decrypt(PASSWORD.as_bytes()).unwrap();
            assert_eq!(opened.as_bytes(), &plain_der[..]);
        }
        if live() {
            std::fs::write(dir.file("enc.pem"), &encrypted_pem).unwrap();
            let pass = format!("pass:{PASSWORD}");
            let read = openssl_live(
                dir.path(),
                &[
                    "pkey", "-in", "enc.pem", "-pubout", "-outform", "DER", "-passin", &pass,
                ],
                b"",
            );
            assert!(read.status.success(), "{read:?}");
            assert_eq!(read.stdout, public);
            std::fs::write(dir.file("enc.der"), &encrypted_der).unwrap();
            let listed = openssl_live(
                dir.path(),
                &["asn1parse", "-inform", "DER", "-in", "enc.der"],
                b"",
            );
            let listed = String::from_utf8(listed.stdout).unwrap();
            for algorithm in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
                assert!(
                    listed.contains(algorithm),
                    "{algorithm} missing in {listed}"
                );
            }
        }
        std::fs::write(
            dir.file("plain.pem"),
            key.to_pkcs8_pem().unwrap().as_bytes(),
        )
        .unwrap();
        assert_eq!(openssl_public_key(&dir, "plain.pem", None), public);
        // And back.
        let again = CertificateKey::from_pkcs8_der(&plain_der).unwrap();
        assert_eq!(again.public_key_der().unwrap(), public);
    }
}

#[test]
fn we_read_keys_encrypted_by_openssl() {
    let dir = TempDir::new();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
        b"",
    );
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
        b"",
    );
    let pass = format!("pass:{PASSWORD}");
    for (name, expected) in [
        (
            "ec",
            KeyAlgorithm::Ec {
                curve: Some("1.2.840.10045.3.1.7".into()),
            },
        ),
        ("rsa", KeyAlgorithm::Rsa { bits: 2048 }),
    ] {
        let plain = format!("{name}.pem");
        let encrypted = format!("{name}-enc.pem");
        let encrypted_der = format!("{name}-enc.der");
        for (out, der) in [(&encrypted, false), (&encrypted_der, true)] {
            let mut args = vec![
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                &plain,
                "-passout",
                &pass,
            ];
            if der {
                args.extend(["-outform", "DER"]);
            }
            args.extend(["-out", out]);
            openssl(dir.path(), &args, b"");
        }
        let public = openssl_public_key(&dir, &plain, None);

        let pem = std::fs::read_to_string(dir.file(&encrypted)).unwrap();
        let key = CertificateKey::from_encrypted_pkcs8_pem(&pem, PASSWORD.as_bytes()).unwrap();
        assert_eq!(key.algorithm(), expected);
        assert_eq!(key.public_key_der().unwrap(), public);

        let der = std::fs::read(dir.file(&encrypted_der)).unwrap();
        let key = CertificateKey::from_encrypted_pkcs8_der(&der, PASSWORD.as_bytes()).unwrap();
        assert_eq!(key.public_key_der().unwrap(), public);

        let plain_pem = std::fs::read_to_string(dir.file(&plain)).unwrap();
        let key = CertificateKey::from_pkcs8_pem(&plain_pem).unwrap();
        assert_eq!(key.public_key_der().unwrap(), public);

        let wrong = CertificateKey::from_encrypted_pkcs8_pem(&pem, b"wrong password");
        let error = wrong.unwrap_err();
        assert!(
            matches!(
                error,
                Error::PrivateKeyEncryption {
                    operation: "decrypt",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!error.to_string().contains(PASSWORD));
        // A plain key given where an encrypted one is expected is a parse error, not a panic.
        assert!(matches!(
            CertificateKey::from_encrypted_pkcs8_pem(&plain_pem, PASSWORD.as_bytes()),
            Err(Error::PrivateKeyParse { .. })
        ));
    }
}

#[test]
fn unsupported_keys_are_rejected_and_debug_is_redacted() {
    let dir = TempDir::new();
    openssl(
        dir.path(),
        &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"],
        b"",
    );
    let pem = std::fs::read_to_string(dir.file("ed.pem")).unwrap();
    assert!(matches!(
        CertificateKey::from_pkcs8_pem(&pem),
        Err(Error::UnsupportedPrivateKey { .. })
    ));
    let small = PrivateKey::generate(1024).unwrap();
    assert!(matches!(
        CertificateKey::from_pkcs8_der(&small.to_pkcs8_der().unwrap()),
        Err(Error::UnsupportedPrivateKey { .. })
    ));

    let key = CertificateKey::generate_ec_p256().unwrap();
    let debug = format!("{key:?}");
    assert!(
        debug.starts_with("CertificateKey { algorithm: Ec"),
        "{debug}"
    );
    let der = key.to_pkcs8_der().unwrap();
    // The 32-byte scalar sits in the PKCS#8; no hex or decimal trace of it may be printed.
    assert!(!debug.contains(&common::hex(&der[der.len() - 32..])));
    assert!(debug.len() < 100, "{debug}");
}

/// The invoice hash of KSeF's documentation examples (the invoice file itself is not published).
fn doc_invoice() -> FileMetadata {
    let hash = URL_SAFE_NO_PAD
        .decode("UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE")
        .unwrap();
    FileMetadata::new(hash.try_into().unwrap(), 0)
}

#[test]
fn kod_i_known_answers() {
    let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
    // features.md §5 #6
    assert_eq!(
        invoice_link(
            QrEnvironment::Test,
            "0000000000",
            date,
            &file_metadata(b"<x/>")
        )
        .unwrap(),
        "https://qr-test.ksef.mf.gov.pl/invoice/0000000000/01-02-2026/KjH0TaS9fey70939GjeuBNAuxmXiwmiIFszGVjFYbtE"
    );
    // features.md §5 #7 (kody-qr.md)
    assert_eq!(
        invoice_link(QrEnvironment::Test, "1111111111", date, &doc_invoice()).unwrap(),
        "https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
    );
    let other = NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
    assert_eq!(
        invoice_link(QrEnvironment::Demo, "1111111111", other, &doc_invoice()).unwrap(),
        "https://qr-demo.ksef.mf.gov.pl/invoice/1111111111/09-12-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
    );
    assert_eq!(
        invoice_link(
            QrEnvironment::Production,
            "1111111111",
            other,
            &doc_invoice()
        )
        .unwrap(),
        "https://qr.ksef.mf.gov.pl/invoice/1111111111/09-12-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
    );
    for bad in ["111111111", "11111111111", "111111111a", ""] {
        assert!(matches!(
            invoice_link(QrEnvironment::Test, bad, date, &doc_invoice()),
            Err(Error::InvalidQrInput {
                field: "sellerNip",
                ..
            })
        ));
    }
}

#[test]
fn kod_ii_signed_text_matches_the_documentation() {
    assert_eq!(
        certificate_link_signed_text(
            QrEnvironment::Test,
            QrContextType::Nip,
            "1111111111",
            "1111111111",
            "01F20A5D352AE590",
            &doc_invoice(),
        )
        .unwrap(),
        "qr-test.ksef.mf.gov.pl/certificate/Nip/1111111111/1111111111/01F20A5D352AE590/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
    );
    assert!(matches!(
        certificate_link_signed_text(
            QrEnvironment::Test,
            QrContextType::Nip,
            "1111111111",
            "1111111111",
            "01F2-0A",
            &doc_invoice(),
        ),
        Err(Error::InvalidQrInput {
            field: "certificateSerial",
            ..
        })
    ));
    assert!(matches!(
        certificate_link_signed_text(
            QrEnvironment::Test,
            QrContextType::InternalId,
            "1111111111/12345",
            "1111111111",
            "01F20A5D352AE590",
            &doc_invoice(),
        ),
        Err(Error::InvalidQrInput {
            field: "contextValue",
            ..
        })
    ));
}

/// DER `ECDSA-Sig-Value` from an IEEE P1363 `R || S` signature, for `openssl dgst -verify`.
fn p1363_to_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut bytes = bytes;
        while bytes.len() > 1 && bytes[0] == 0 && bytes[1] & 0x80 == 0 {
            bytes = &bytes[1..];
        }
        let mut out = vec![0x02];
        if bytes[0] & 0x80 != 0 {
            out.push(u8::try_from(bytes.len() + 1).unwrap());
            out.push(0);
        } else {
            out.push(u8::try_from(bytes.len()).unwrap());
        }
        out.extend_from_slice(bytes);
        out
    }
    assert_eq!(raw.len(), 64);
    let body = [integer(&raw[..32]), integer(&raw[32..])].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

#[test]
fn kod_ii_signatures_verify_with_openssl() {
    let dir = TempDir::new();
    let invoice = file_metadata(b"<Faktura>offline</Faktura>");
    for (key, rsa) in [
        (fixed_key(&dir, "rsa"), true),
        (fixed_key(&dir, "ec"), false),
    ] {
        let signed = certificate_link_signed_text(
            QrEnvironment::Demo,
            QrContextType::NipVatUe,
            "5265877635-ATU12345678",
            "5265877635",
            "01F20A5D352AE590",
            &invoice,
        )
        .unwrap();
        let link = certificate_link(
            QrEnvironment::Demo,
            QrContextType::NipVatUe,
            "5265877635-ATU12345678",
            "5265877635",
            "01F20A5D352AE590",
            &invoice,
            &key,
        )
        .unwrap();
        let (prefix, signature) = link.rsplit_once('/').unwrap();
        assert_eq!(prefix, format!("https://{signed}"));
        assert!(!signature.contains(['=', '+']), "{signature}");
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();

        // Default oracle (RSA-PSS signatures are random): ring, not our RustCrypto path.
        let spki = key.public_key_der().unwrap();
        let verify = |text: &[u8]| {
            if rsa {
                use rsa::pkcs1::EncodeRsaPublicKey as _;
                use rsa::pkcs8::DecodePublicKey as _;
                let pkcs1 = rsa::RsaPublicKey::from_public_key_der(&spki)
                    .unwrap()
                    .to_pkcs1_der()
                    .unwrap();
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PSS_2048_8192_SHA256,
                    pkcs1.as_bytes(),
                )
                .verify(text, &signature)
            } else {
                // The uncompressed point closes a P-256 SubjectPublicKeyInfo.
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P256_SHA256_FIXED,
                    &spki[spki.len() - 65..],
                )
                .verify(text, &signature)
            }
        };
        if rsa {
            assert_eq!(signature.len(), 256);
        } else {
            assert_eq!(signature.len(), 64, "ECDSA as IEEE P1363 R || S");
        }
        assert!(
            verify(signed.as_bytes()).is_ok(),
            "ring rejects the signature"
        );
        assert!(verify(format!("{signed}x").as_bytes()).is_err());
        if !live() {
            continue;
        }

        std::fs::write(dir.file("signed.txt"), signed.as_bytes()).unwrap();
        std::fs::write(dir.file("pub.der"), &spki).unwrap();
        let converted = openssl_live(
            dir.path(),
            &[
                "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem",
            ],
            b"",
        );
        assert!(converted.status.success(), "{converted:?}");
        let mut args = vec![
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
        ];
        if rsa {
            std::fs::write(dir.file("sig.bin"), &signature).unwrap();
            args.extend([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
                "-sigopt",
                "rsa_mgf1_md:sha256",
            ]);
        } else {
            std::fs::write(dir.file("sig.bin"), p1363_to_der(&signature)).unwrap();
        }
        args.push("signed.txt");
        let out = openssl_live(dir.path(), &args, b"");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

        // A different text must not verify.
        std::fs::write(dir.file("signed.txt"), format!("{signed}x")).unwrap();
        assert!(!openssl_live(dir.path(), &args, b"").status.success());
    }
}

#[cfg(feature = "qr-image")]
mod image {
    use super::*;
    use ksef_crypto::{DEFAULT_MODULE_PIXELS, QrCaption, QrImage};

    /// Decodes a greyscale PNG and reads the QR code in it with `rqrr`, an independent decoder.
    fn decode_png(png_bytes: &[u8]) -> (u32, u32, String) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let (w, h) = (info.width as usize, info.height as usize);
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        (info.width, info.height, content)
    }

    #[test]
    fn png_decodes_back_to_the_link() {
        let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        let kod_i = invoice_link(QrEnvironment::Test, "1111111111", date, &doc_invoice()).unwrap();
        let key = CertificateKey::generate_rsa_2048().unwrap();
        let kod_ii = certificate_link(
            QrEnvironment::Test,
            QrContextType::Nip,
            "1111111111",
            "1111111111",
            "01F20A5D352AE590",
            &doc_invoice(),
            &key,
        )
        .unwrap();
        for (link, caption) in [
            (
                &kod_i,
                QrCaption::KsefNumber("5265877635-20250826-0100001AF629-AF".into()),
            ),
            (&kod_i, QrCaption::Offline),
            (&kod_ii, QrCaption::Certificate),
        ] {
            let image = QrImage::new(link, caption).unwrap();
            let png_bytes = image.to_png(DEFAULT_MODULE_PIXELS).unwrap();
            assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
            let (width, height, content) = decode_png(&png_bytes);
            assert_eq!(&content, link);
            assert!(height > width.min(height) - 1);
            let code_px = (image.modules() + 8) * 5;
            assert!(width as usize >= code_px);
            assert!(height as usize > code_px, "room for the caption");
        }
    }

    #[test]
    fn svg_has_the_modules_and_the_caption() {
        let link = "https://qr-test.ksef.mf.gov.pl/invoice/0000000000/01-02-2026/KjH0TaS9fey70939GjeuBNAuxmXiwmiIFszGVjFYbtE";
        let image = QrImage::new(link, QrCaption::Certificate).unwrap();
        let svg = image.to_svg(4);
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains(">CERTYFIKAT</text>"));
        // One path segment per horizontal run of dark modules.
        let runs: usize = (0..image.modules())
            .map(|y| {
                (0..image.modules())
                    .filter(|&x| image.is_dark(x, y) && (x == 0 || !image.is_dark(x - 1, y)))
                    .count()
            })
            .sum();
        assert_eq!(svg.matches('M').count(), runs);
        let escaped = QrImage::new(link, QrCaption::KsefNumber("<&>".into())).unwrap();
        assert!(escaped.to_svg(4).contains(">&lt;&amp;&gt;</text>"));
        assert!(matches!(
            escaped.to_png(4),
            Err(Error::InvalidQrInput {
                field: "caption",
                ..
            })
        ));
        // Well-formed XML: by quick-xml (ends matched), and in live mode by python3's minidom too.
        let mut reader = quick_xml::Reader::from_str(&svg);
        let mut elements = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(_) | quick_xml::events::Event::Empty(_)) => {
                    elements += 1;
                }
                Ok(_) => {}
                Err(e) => panic!("the SVG is not well-formed: {e}\n{svg}"),
            }
        }
        assert!(elements > 2, "{svg}");
        if common::live() {
            let python = ksef_oracle::Tool::new("python3", "python3");
            let mut command = python.command();
            command.args([
                "-c",
                "import sys, xml.dom.minidom as m; m.parseString(sys.stdin.read())",
            ]);
            let out = python.output(&mut command, svg.as_bytes());
            assert!(out.status.success(), "{out:?}");
        }
    }
}
