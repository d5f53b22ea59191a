//! Signing and verification: round trips, interoperability with xmlsec1, tampering, hostile input.
//!
//! Oracles per mode (`KSEF_ORACLES`, crate `ksef-oracle`): the xmlsec1 and openssl runs are replayed
//! by default from `tests/golden/tools-xades_signatures.tsv` (exit status and output), on deterministic
//! inputs: keys and certificates made by `openssl req -x509` (themselves replayed), a fixed signing
//! time, and signatures that are deterministic (RSA PKCS#1 v1.5, RFC 6979 ECDSA). `live` runs xmlsec1
//! and openssl (missing: a failure naming the package), `record` rewrites the golden file.

use std::path::PathBuf;
use std::sync::OnceLock;

use ksef_crypto::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_xades::Error;
use ksef_xades::SubjectIdentifier;
use ksef_xades::c14n::Algorithm;
use ksef_xades::external::{check_signed_request, unsigned_request};
use ksef_xades::request::{
    AllowedIps, AuthTokenRequest, ContextIdentifier, SchemaVersion, SubjectIdentifierType,
};
use ksef_xades::xades::{SignOptions, VerifyOptions, sign, sign_with, verify, verify_with};
use ksef_xades::{KeySigner, SignatureAlgorithm, Signer};

mod xmlsec1;

const CHALLENGE: &str = "20250604-CR-461EA5B000-537A6BA15D-D7";
const NIP: &str = "5265877635";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N_10_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const C14N_11: &str = "http://www.w3.org/2006/12/xml-c14n11";
const C14N_11_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";

fn rsa_company() -> &'static TestCertificate {
    static CERT: OnceLock<TestCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        TestCertificate::company(
            "Firma Testowa Sp. z o.o.",
            &NIP.parse().unwrap(),
            KeyType::Rsa2048,
        )
        .unwrap()
    })
}

fn ec_person() -> &'static TestCertificate {
    static CERT: OnceLock<TestCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        TestCertificate::person(
            "Jan",
            "Kowalski",
            &PersonIdentifier::Pesel("44051401359".parse().unwrap()),
            KeyType::EcdsaP256,
        )
        .unwrap()
    })
}

fn request() -> AuthTokenRequest {
    AuthTokenRequest::new(
        CHALLENGE.parse().unwrap(),
        ContextIdentifier::Nip(NIP.parse().unwrap()),
    )
}

fn unsigned() -> Vec<u8> {
    request().to_xml().unwrap()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksef-xades-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The golden file of this binary's tool runs.
fn golden() -> ksef_oracle::Golden {
    ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("tools-{}", ksef_oracle::test_binary()),
    )
}

/// Runs `tool` in the scratch directory, or replays the recorded run.
fn run_tool(tool: ksef_oracle::Tool, args: &[&str]) -> ksef_oracle::Ran {
    golden().run(tool, &scratch_dir(), args, b"", ksef_oracle::Stdout::Bytes)
}

/// A key and self-signed certificate made by `openssl req -x509` (replayed from the golden file by
/// default, so the xmlsec1 runs on what we sign with it replay too).
struct Fixed {
    key_pem: String,
    cert_pem: String,
    cert_der: Vec<u8>,
}

impl Fixed {
    fn make(kind: &str) -> Fixed {
        let key = format!("fixed-{kind}.key.pem");
        let cert = format!("fixed-{kind}.crt.pem");
        let mut args = vec!["req", "-x509", "-newkey"];
        match kind {
            "rsa" => args.push("rsa:2048"),
            _ => args.extend(["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        }
        args.extend([
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "36500",
            "-subj",
            "/C=PL/O=Firma Testowa/CN=Firma Testowa",
        ]);
        let ran = run_tool(ksef_oracle::OPENSSL, &args);
        assert!(ran.success, "openssl req: {}", ran.stderr);
        let cert_pem = std::fs::read_to_string(scratch_dir().join(&cert)).unwrap();
        let body: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        use base64::Engine as _;
        Fixed {
            key_pem: std::fs::read_to_string(scratch_dir().join(&key)).unwrap(),
            cert_der: base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
            cert_pem,
        }
    }

    fn signer(&self) -> ksef_crypto::Result<KeySigner> {
        KeySigner::from_pkcs8_pem(&self.key_pem, None, self.cert_pem.as_bytes())
    }

    fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    fn certificate_pem(&self) -> String {
        self.cert_pem.clone()
    }

    fn key_pkcs8_pem(&self) -> &str {
        &self.key_pem
    }
}

fn fixed_rsa() -> &'static Fixed {
    static CERT: OnceLock<Fixed> = OnceLock::new();
    CERT.get_or_init(|| Fixed::make("rsa"))
}

fn fixed_ec() -> &'static Fixed {
    static CERT: OnceLock<Fixed> = OnceLock::new();
    CERT.get_or_init(|| Fixed::make("ec"))
}

/// Signs with a fixed signing time: the same document every run.
fn sign_fixed(document: &[u8], cert: &Fixed) -> Vec<u8> {
    let time = "2026-01-01T00:00:00Z".parse().unwrap();
    sign_with(
        document,
        &cert.signer().unwrap(),
        &SignOptions::new().with_signing_time(time),
    )
    .unwrap()
}

fn replace_once(signed: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(signed.to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in the document");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn tampering_is_rejected() {
    let mut rejected = 0;
    for cert in [rsa_company(), ec_person()] {
        let signed = sign(&unsigned(), &cert.signer().unwrap()).unwrap();
        let text = String::from_utf8(signed.clone()).unwrap();

        // One byte of the challenge.
        let bad = replace_once(&signed, "537A6BA15D", "537A6BA15E");
        assert!(matches!(verify(&bad), Err(Error::DigestMismatch { uri }) if uri.is_empty()));
        rejected += 1;

        // The context identifier.
        let bad = replace_once(&signed, "<Nip>5265877635</Nip>", "<Nip>5265877636</Nip>");
        assert!(matches!(verify(&bad), Err(Error::DigestMismatch { .. })));
        rejected += 1;

        // The signing time.
        let start = text.find("<xades:SigningTime>").unwrap() + "<xades:SigningTime>".len();
        let mut bad = signed.clone();
        bad[start + 3] = if bad[start + 3] == b'9' { b'8' } else { b'9' };
        assert!(
            matches!(verify(&bad), Err(Error::DigestMismatch { uri }) if uri == "#SignedProperties")
        );
        rejected += 1;

        // The certificate: replaced by another valid one.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let other =
            TestCertificate::company("Inna", &NIP.parse().unwrap(), KeyType::EcdsaP256).unwrap();
        let bad = replace_once(
            &signed,
            &b64.encode(cert.certificate_der()),
            &b64.encode(other.certificate_der()),
        );
        assert!(matches!(
            verify(&bad),
            Err(Error::SigningCertificateMismatch)
        ));
        rejected += 1;

        // The certificate: one base64 character changed.
        let cert_b64 = b64.encode(cert.certificate_der());
        let mut changed = cert_b64.clone().into_bytes();
        let i = changed.len() / 2;
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let bad = replace_once(&signed, &cert_b64, std::str::from_utf8(&changed).unwrap());
        assert!(verify(&bad).is_err());
        rejected += 1;

        // The signature value.
        let start = text.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
        let mut bad = signed.clone();
        bad[start + 5] = if bad[start + 5] == b'A' { b'B' } else { b'A' };
        assert!(matches!(verify(&bad), Err(Error::InvalidSignatureValue)));
        rejected += 1;

        // A digest value in SignedInfo (then the signature no longer matches either).
        let start = text.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
        let mut bad = signed.clone();
        bad[start] = if bad[start] == b'A' { b'B' } else { b'A' };
        assert!(matches!(verify(&bad), Err(Error::DigestMismatch { .. })));
        rejected += 1;

        // Content added outside the signature.
        let bad = replace_once(&signed, "<Challenge>", "<Extra/><Challenge>");
        assert!(matches!(verify(&bad), Err(Error::DigestMismatch { .. })));
        rejected += 1;

        // Every single byte of the challenge text.
        let start = text.find(CHALLENGE).unwrap();
        for i in 0..CHALLENGE.len() {
            let mut bad = signed.clone();
            bad[start + i] = if bad[start + i] == b'0' { b'1' } else { b'0' };
            assert!(verify(&bad).is_err());
            rejected += 1;
        }
    }
    eprintln!("tamper rejections: {rejected}");
    assert_eq!(rejected, 2 * (8 + CHALLENGE.len()));
}

#[test]
fn signature_count_and_shape_errors() {
    let cert = ec_person();
    assert!(matches!(verify(&unsigned()), Err(Error::NoSignature)));
    let signed = sign(&unsigned(), &cert.signer().unwrap()).unwrap();
    assert!(matches!(
        sign(&signed, &cert.signer().unwrap()),
        Err(Error::UnsignableDocument { .. })
    ));
    let text = String::from_utf8(signed.clone()).unwrap();
    let sig_start = text.find("<ds:Signature").unwrap();
    let sig_end = text.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &text[sig_start..sig_end];
    let doubled = format!("{}{signature}{}", &text[..sig_end], &text[sig_end..]);
    assert!(matches!(
        verify(doubled.as_bytes()),
        Err(Error::TooManySignatures { count: 2 }) | Err(Error::DuplicateId { .. })
    ));
    let doubled = doubled.replacen("Id=\"Signature\"", "Id=\"Other\"", 1);
    assert!(matches!(
        verify(doubled.as_bytes()),
        Err(Error::TooManySignatures { count: 2 }) | Err(Error::DuplicateId { .. })
    ));
    // An external reference.
    let bad = replace_once(&signed, "URI=\"\"", "URI=\"http://example.com/\"");
    assert!(matches!(
        verify(&bad),
        Err(Error::UnacceptableReference { .. })
    ));
    // An unsupported transform.
    let bad = replace_once(
        &signed,
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
    );
    assert!(matches!(
        verify(&bad),
        Err(Error::UnsupportedAlgorithm {
            kind: "transform",
            ..
        })
    ));
    // Signed properties moved away: the reference no longer resolves.
    let bad = replace_once(&signed, "Id=\"SignedProperties\"", "Id=\"Elsewhere\"");
    assert!(matches!(
        verify(&bad),
        Err(Error::UnacceptableReference { .. })
    ));
}

#[test]
fn malformed_and_truncated_input_gives_errors() {
    let signed = sign(&unsigned(), &rsa_company().signer().unwrap()).unwrap();
    for len in 0..signed.len() {
        assert!(verify(&signed[..len]).is_err());
    }
    for input in [
        &b""[..],
        b"not xml",
        b"<a>",
        b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
        b"<a xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:Signature/></a>",
        b"<a xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:Signature><ds:SignedInfo/><ds:SignatureValue>!!</ds:SignatureValue><ds:KeyInfo/></ds:Signature></a>",
    ] {
        assert!(verify(input).is_err());
    }
    // Garbage base64 in the signature value.
    let bad = replace_once(&signed, "<ds:SignatureValue>", "<ds:SignatureValue>*");
    assert!(matches!(verify(&bad), Err(Error::InvalidBase64 { .. })));
}

#[test]
fn external_signing_flow() {
    let request = request();
    let xml = unsigned_request(&request).unwrap();
    // Signed "elsewhere".
    let signed = sign(&xml, &rsa_company().signer().unwrap()).unwrap();
    let verified = check_signed_request(&signed, CHALLENGE).unwrap();
    assert_eq!(
        verified.certificate().subject_identifier(),
        Some(&SubjectIdentifier::SealNip(NIP.to_owned()))
    );
    assert!(matches!(
        check_signed_request(&signed, "20250604-CR-461EA5B000-537A6BA15D-D8"),
        Err(Error::ChallengeMismatch { .. })
    ));
    assert!(matches!(
        check_signed_request(&xml, CHALLENGE),
        Err(Error::NoSignature)
    ));
}

#[test]
fn keys_from_pem_encrypted_pem_and_mismatch() {
    let cert = ec_person();
    let pem = cert.key_pkcs8_pem();
    let signer = KeySigner::from_pkcs8_pem(&pem, None, cert.certificate_pem().as_bytes()).unwrap();
    assert!(!format!("{signer:?}").contains(&pem[30..60]));
    assert!(format!("{signer:?}").contains("redacted"));
    // A key that does not belong to the certificate.
    assert!(matches!(
        KeySigner::from_pkcs8_der(cert.key_pkcs8_der(), rsa_company().certificate_der()),
        Err(ksef_crypto::Error::KeyCertificateMismatch)
    ));
    // An encrypted key written by openssl (replayed by default: the key is the fixed one, whose
    // certificate goes with it).
    let cert = fixed_ec();
    let key_path = write("fixed-ec-plain.key.pem", cert.key_pkcs8_pem().as_bytes());
    let ran = run_tool(
        ksef_oracle::OPENSSL,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:secret",
            "-in",
            key_path.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&key_path);
    assert!(ran.success, "openssl pkcs8: {}", ran.stderr);
    let encrypted = String::from_utf8(ran.stdout).unwrap();
    assert!(encrypted.contains("ENCRYPTED PRIVATE KEY"));
    let signer =
        KeySigner::from_pkcs8_pem(&encrypted, Some(b"secret"), cert.certificate_der()).unwrap();
    sign(&unsigned(), &signer).unwrap();
    assert!(matches!(
        KeySigner::from_pkcs8_pem(&encrypted, Some(b"wrong"), cert.certificate_der()),
        Err(ksef_crypto::Error::PrivateKeyEncryption { .. })
    ));
    assert!(matches!(
        KeySigner::from_pkcs8_pem(&encrypted, None, cert.certificate_der()),
        Err(ksef_crypto::Error::PrivateKeyParse { .. })
    ));
}

#[test]
fn request_limits() {
    let mut ips = AllowedIps::new();
    for i in 0..11 {
        ips = ips.with_address(std::net::Ipv4Addr::new(10, 0, 0, i));
    }
    assert!(matches!(
        request().with_allowed_ips(ips).to_xml(),
        Err(Error::InvalidRequest { .. })
    ));
    let bad_mask = AllowedIps::new().with_mask("10.0.0.0".parse().unwrap(), 33);
    assert!(request().with_allowed_ips(bad_mask).to_xml().is_err());
    let v20 = request()
        .with_schema_version(SchemaVersion::V2_0)
        .to_xml()
        .unwrap();
    assert!(
        String::from_utf8(v20)
            .unwrap()
            .contains("http://ksef.mf.gov.pl/auth/token/2.0")
    );
    let internal = AuthTokenRequest::new(
        CHALLENGE.parse().unwrap(),
        ContextIdentifier::InternalId("5265877635-12345".parse().unwrap()),
    );
    let xml = String::from_utf8(internal.to_xml().unwrap()).unwrap();
    assert!(xml.contains("<InternalId>5265877635-12345</InternalId>"));
}

#[test]
fn every_single_byte_change_is_rejected() {
    let mut rejected = 0;
    for cert in [ec_person(), rsa_company()] {
        let signed = sign(&unsigned(), &cert.signer().unwrap()).unwrap();
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(
                verify(&bad).is_err(),
                "accepted a change at byte {i}: {}",
                String::from_utf8_lossy(&bad[i.saturating_sub(40)..(i + 40).min(bad.len())])
            );
            rejected += 1;
        }
    }
    eprintln!("single-byte changes rejected: {rejected}");
}

/// A signer whose key lives "elsewhere": here it delegates to a `KeySigner`, optionally returning a
/// malformed ECDSA signature.
struct RemoteSigner {
    inner: KeySigner,
    der_encoded: bool,
}

impl Signer for RemoteSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }

    fn certificate_der(&self) -> &[u8] {
        self.inner.certificate_der()
    }

    fn sign(&self, data: &[u8]) -> ksef_crypto::Result<Vec<u8>> {
        let raw = self.inner.sign(data)?;
        if self.der_encoded {
            // What a careless HSM binding returns: a DER SEQUENCE instead of R || S.
            let mut der = vec![0x30, 0x46, 0x02, 0x21, 0x00];
            der.extend_from_slice(&raw[..32]);
            der.extend_from_slice(&[0x02, 0x21, 0x00]);
            der.extend_from_slice(&raw[32..]);
            Ok(der)
        } else {
            Ok(raw)
        }
    }
}

#[test]
fn external_signer_implementations() {
    let good = RemoteSigner {
        inner: ec_person().signer().unwrap(),
        der_encoded: false,
    };
    let signed = sign(&unsigned(), &good).unwrap();
    verify(&signed).unwrap();
    let bad = RemoteSigner {
        inner: ec_person().signer().unwrap(),
        der_encoded: true,
    };
    assert!(matches!(
        sign(&unsigned(), &bad),
        Err(Error::SigningFailed { .. })
    ));
}

#[test]
fn signing_time_is_recorded() {
    use ksef_xades::xades::{SignOptions, sign_with};
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let signer = ec_person().signer().unwrap();
    let signed = sign_with(
        &unsigned(),
        &signer,
        &SignOptions::new().with_signing_time(time),
    )
    .unwrap();
    assert_eq!(
        verify(&signed).unwrap().signing_time(),
        Some("2026-11-23T10:00:00Z")
    );
    // The default is about a minute ago.
    let signed = sign(&unsigned(), &signer).unwrap();
    let recorded = verify(&signed).unwrap().signing_time().unwrap().to_owned();
    let recorded = chrono::DateTime::parse_from_rfc3339(&recorded).unwrap();
    let age = chrono::Utc::now().signed_duration_since(recorded);
    assert!(age >= chrono::Duration::seconds(59) && age <= chrono::Duration::seconds(120));
}
