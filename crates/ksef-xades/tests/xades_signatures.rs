//! Signing and verification: round trips, interoperability with xmlsec1, tampering, hostile input.
//!
//! Oracles per mode (`KSEF_ORACLES`, crate `ksef-oracle`): the xmlsec1 and openssl runs are replayed
//! by default from `tests/golden/tools-xades_signatures.tsv` (exit status and output), on deterministic
//! inputs: keys and certificates made by `openssl req -x509` (themselves replayed), a fixed signing
//! time, and signatures that are deterministic (RSA PKCS#1 v1.5, RFC 6979 ECDSA). `live` runs xmlsec1
//! and openssl (missing: a failure naming the package), `record` rewrites the golden file.

use std::path::PathBuf;
use std::sync::OnceLock;

use ksef_xades::Error;
use ksef_xades::SubjectIdentifier;
use ksef_xades::c14n::Algorithm;
use ksef_xades::external::{check_signed_request, unsigned_request};
use ksef_xades::request::{
    AllowedIps, AuthTokenRequest, ContextIdentifier, SchemaVersion, SubjectIdentifierType,
};
use ksef_xades::signer::{KeySigner, SignatureAlgorithm, Signer};
use ksef_xades::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_xades::xades::{SignOptions, VerifyOptions, sign, sign_with, verify, verify_with};

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

    fn signer(&self) -> Result<KeySigner, Error> {
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

/// Runs `xmlsec1 --verify` with the certificate's key (or replays it); returns whether it accepted
/// the document.
fn xmlsec1_verify(name: &str, signed: &[u8], cert: &Fixed) -> bool {
    let cert_path = write(
        &format!("{name}.crt.pem"),
        cert.certificate_pem().as_bytes(),
    );
    let xml_path = write(&format!("{name}.xml"), signed);
    let ran = run_tool(
        ksef_oracle::XMLSEC1,
        &[
            "--verify",
            "--pubkey-cert-pem",
            cert_path.to_str().unwrap(),
            "--insecure",
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            xml_path.to_str().unwrap(),
        ],
    );
    if !ran.success {
        eprintln!("xmlsec1 {name}: {}", ran.stderr);
    }
    ran.success
}

#[test]
fn signs_and_verifies_rsa_and_ecdsa() {
    for (cert, algorithm) in [
        (rsa_company(), SignatureAlgorithm::RsaSha256),
        (ec_person(), SignatureAlgorithm::EcdsaP256Sha256),
    ] {
        let signer = cert.signer().unwrap();
        assert_eq!(signer.algorithm(), algorithm);
        let signed = sign(&unsigned(), &signer).unwrap();
        let verified = verify(&signed).unwrap();
        assert_eq!(verified.algorithm(), algorithm);
        assert_eq!(verified.challenge(), Some(CHALLENGE));
        assert_eq!(verified.certificate().der(), cert.certificate_der());
        assert!(verified.signing_time().is_some());
        let text = String::from_utf8(signed).unwrap();
        assert!(text.starts_with("<?xml"));
        assert!(text.ends_with("</ds:Signature></AuthTokenRequest>"));
    }
}

#[test]
fn identifiers_from_company_and_person_certificates() {
    let company = rsa_company().signer().unwrap();
    assert_eq!(
        company.certificate().subject_identifier(),
        Some(&SubjectIdentifier::SealNip(NIP.to_owned()))
    );
    assert!(
        company
            .certificate()
            .subject()
            .contains("2.5.4.97=VATPL-5265877635")
    );
    let person = ec_person().signer().unwrap();
    assert_eq!(
        person.certificate().subject_identifier(),
        Some(&SubjectIdentifier::PersonPesel("44051401359".to_owned()))
    );
    let by_nip = TestCertificate::person(
        "Anna",
        "Nowak",
        &PersonIdentifier::Nip(NIP.parse().unwrap()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    let cert = by_nip.signer().unwrap();
    assert_eq!(
        cert.certificate().subject_identifier(),
        Some(&SubjectIdentifier::PersonNip(NIP.to_owned()))
    );
    let fingerprint = cert.certificate().fingerprint_sha256_hex();
    assert_eq!(fingerprint.len(), 64);
    assert!(
        fingerprint
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    );
}

#[test]
fn xmlsec1_accepts_our_signatures() {
    let with_policy = request()
        .with_schema_version(SchemaVersion::V2_0)
        .with_subject_identifier_type(SubjectIdentifierType::CertificateFingerprint)
        .with_allowed_ips(
            AllowedIps::new()
                .with_address("192.168.0.1".parse().unwrap())
                .with_range("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap())
                .with_mask("172.16.0.0".parse().unwrap(), 12),
        )
        .to_xml()
        .unwrap();
    let mut accepted = 0;
    for (name, cert) in [("rsa", fixed_rsa()), ("ec", fixed_ec())] {
        for (variant, document) in [("plain", unsigned()), ("policy", with_policy.clone())] {
            let signed = sign_fixed(&document, cert);
            assert!(xmlsec1_verify(
                &format!("ours-{name}-{variant}"),
                &signed,
                cert
            ));
            accepted += 1;
            // Sanity check of the harness: xmlsec1 does reject a changed challenge.
            let bad = replace_once(&signed, "537A6BA15D", "537A6BA15E");
            assert!(!xmlsec1_verify(
                &format!("ours-{name}-{variant}-tampered"),
                &bad,
                cert
            ));
        }
    }
    assert_eq!(accepted, 4);
}

/// A template for `xmlsec1 --sign`: the whole-document reference and, optionally, one to XAdES
/// SignedProperties (whose content we fill in, since xmlsec1 knows nothing of XAdES), both with exclusive
/// canonicalization transforms.
fn xmlsec1_template(
    cert: &Fixed,
    with_properties: bool,
    ecdsa: bool,
    signed_info_c14n: &str,
) -> Vec<u8> {
    xmlsec1_template_with(cert, with_properties, ecdsa, signed_info_c14n, EXC_C14N, "")
}

/// As [`xmlsec1_template`], with `transform_c14n` as the references' canonicalization transform and
/// `signed_info_comment` written as a comment at the start of `SignedInfo` (if not empty).
fn xmlsec1_template_with(
    cert: &Fixed,
    with_properties: bool,
    ecdsa: bool,
    signed_info_c14n: &str,
    transform_c14n: &str,
    signed_info_comment: &str,
) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let signer = cert.signer().unwrap();
    let method = if ecdsa {
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    } else {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    };
    let (properties_ref, object) = if with_properties {
        let digest = b64.encode(signer.certificate().fingerprint_sha256());
        (
            format!(
                "<ds:Reference URI=\"#SP\" Type=\"http://uri.etsi.org/01903#SignedProperties\">\n\
                 <ds:Transforms><ds:Transform Algorithm=\"{transform_c14n}\"/></ds:Transforms>\n\
                 <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n\
                 <ds:DigestValue/></ds:Reference>\n"
            ),
            format!(
                "<ds:Object><xades:QualifyingProperties xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" Target=\"#S\">\n\
                 <xades:SignedProperties Id=\"SP\"><xades:SignedSignatureProperties>\n\
                 <xades:SigningTime>2026-01-01T00:00:00Z</xades:SigningTime>\n\
                 <xades:SigningCertificate><xades:Cert><xades:CertDigest>\
                 <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
                 <ds:DigestValue>{digest}</ds:DigestValue></xades:CertDigest>\
                 <xades:IssuerSerial><ds:X509IssuerName>{}</ds:X509IssuerName>\
                 <ds:X509SerialNumber>{}</ds:X509SerialNumber></xades:IssuerSerial>\
                 </xades:Cert></xades:SigningCertificate>\n\
                 </xades:SignedSignatureProperties></xades:SignedProperties>\n\
                 </xades:QualifyingProperties></ds:Object>\n",
                signer
                    .certificate()
                    .issuer()
                    .replace('&', "&amp;")
                    .replace('<', "&lt;"),
                signer.certificate().serial_decimal()
            ),
        )
    } else {
        (String::new(), String::new())
    };
    let signature = format!(
        "\n<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"S\">\n\
         <ds:SignedInfo>{comment}\n\
         <ds:CanonicalizationMethod Algorithm=\"{signed_info_c14n}\"/>\n\
         <ds:SignatureMethod Algorithm=\"{method}\"/>\n\
         <ds:Reference URI=\"\">\n\
         <ds:Transforms>\n\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n\
         <ds:Transform Algorithm=\"{transform_c14n}\"/>\n\
         </ds:Transforms>\n\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n\
         <ds:DigestValue/>\n\
         </ds:Reference>\n{properties_ref}\
         </ds:SignedInfo>\n\
         <ds:SignatureValue/>\n\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n\
         {object}</ds:Signature>\n",
        b64.encode(cert.certificate_der()),
        comment = if signed_info_comment.is_empty() {
            String::new()
        } else {
            format!("<!--{signed_info_comment}-->")
        },
    );
    let text = String::from_utf8(unsigned()).unwrap();
    let at = text.rfind("</AuthTokenRequest>").unwrap();
    format!("{}{signature}{}", &text[..at], &text[at..]).into_bytes()
}

fn xmlsec1_sign(name: &str, template: &[u8], cert: &Fixed) -> Vec<u8> {
    let key_path = write(&format!("{name}.key.pem"), cert.key_pkcs8_pem().as_bytes());
    let template_path = write(&format!("{name}.template.xml"), template);
    let ran = run_tool(
        ksef_oracle::XMLSEC1,
        &[
            "--sign",
            "--privkey-pem",
            key_path.to_str().unwrap(),
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            template_path.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&key_path);
    assert!(ran.success, "xmlsec1 --sign {name}: {}", ran.stderr);
    ran.stdout
}

#[test]
fn we_accept_xmlsec1_signatures() {
    let mut accepted = 0;
    for (name, cert, ecdsa) in [("rsa", fixed_rsa(), false), ("ec", fixed_ec(), true)] {
        // Whole-document reference only: a plain XML signature.
        let signed = xmlsec1_sign(
            &format!("theirs-{name}-plain"),
            &xmlsec1_template(cert, false, ecdsa, EXC_C14N),
            cert,
        );
        assert!(matches!(
            verify(&signed),
            Err(Error::UnacceptableReference { .. })
        ));
        let verified = verify_with(
            &signed,
            &VerifyOptions::new().with_require_signed_properties(false),
        )
        .unwrap();
        assert_eq!(verified.certificate().der(), cert.certificate_der());
        accepted += 1;
        // With XAdES SignedProperties, SignedInfo canonicalized with exclusive C14N or (as the
        // Ministry's C# client does) inclusive C14N 1.0.
        for (c14n_name, c14n) in [("exc", EXC_C14N), ("inc", C14N_10)] {
            let signed = xmlsec1_sign(
                &format!("theirs-{name}-xades-{c14n_name}"),
                &xmlsec1_template(cert, true, ecdsa, c14n),
                cert,
            );
            let verified = verify(&signed).unwrap();
            assert_eq!(verified.signing_time(), Some("2026-01-01T00:00:00Z"));
            assert_eq!(verified.challenge(), Some(CHALLENGE));
            accepted += 1;
        }
        let signed = xmlsec1_sign(
            &format!("theirs-{name}-xades"),
            &xmlsec1_template(cert, true, ecdsa, EXC_C14N),
            cert,
        );
        // Tampering with the xmlsec1 document is caught too.
        let text = String::from_utf8(signed).unwrap();
        let tampered = text.replacen("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", 1);
        assert!(matches!(
            verify(tampered.as_bytes()),
            Err(Error::DigestMismatch { .. })
        ));
    }
    eprintln!("xmlsec1-signed documents accepted: {accepted}");
    assert_eq!(accepted, 6);
}

/// Canonical XML 1.1 and the `#WithComments` variants, both ways with xmlsec1 (the Ministry's XAdES
/// document allows all six canonicalizations). A comment in `SignedInfo` is signed under a
/// `#WithComments` CanonicalizationMethod, so changing it must break the signature.
#[test]
fn c14n11_and_with_comments_interoperate_with_xmlsec1() {
    let mut checked = 0;
    for (name, cert, ecdsa) in [("rsa", fixed_rsa(), false), ("ec", fixed_ec(), true)] {
        // Signed by xmlsec1, verified by us.
        for (variant, signed_info_c14n, transform_c14n) in [
            ("c14n11", C14N_11, C14N_11),
            ("c14n11-comments", C14N_11_COMMENTS, C14N_11),
            ("c14n10-comments", C14N_10_COMMENTS, C14N_10_COMMENTS),
            ("c14n11-exc", C14N_11, EXC_C14N),
        ] {
            let signed = xmlsec1_sign(
                &format!("theirs-{name}-{variant}"),
                &xmlsec1_template_with(
                    cert,
                    true,
                    ecdsa,
                    signed_info_c14n,
                    transform_c14n,
                    " signed comment ",
                ),
                cert,
            );
            let verified = verify(&signed).unwrap_or_else(|e| panic!("{name} {variant}: {e}"));
            assert_eq!(verified.challenge(), Some(CHALLENGE));
            assert_eq!(verified.certificate().der(), cert.certificate_der());
            // The comment in SignedInfo counts exactly when the algorithm keeps comments.
            let edited = replace_once(&signed, " signed comment ", " edited comment ");
            let outcome = verify(&edited);
            if signed_info_c14n.ends_with("#WithComments") {
                assert!(
                    matches!(outcome, Err(Error::InvalidSignatureValue)),
                    "{name} {variant}: {outcome:?}"
                );
            } else {
                assert!(outcome.is_ok(), "{name} {variant}: {outcome:?}");
            }
            checked += 1;
        }
        // Signed by us, verified by xmlsec1.
        for (variant, algorithm, with_comments) in [
            ("c14n11", Algorithm::Inclusive11, false),
            ("c14n11-comments", Algorithm::Inclusive11, true),
            ("c14n10-comments", Algorithm::Inclusive10, true),
        ] {
            // A fixed signing time and key: the same document every run, so xmlsec1's verdicts
            // replay from the golden file.
            let options = SignOptions::new()
                .with_signing_time("2026-01-01T00:00:00Z".parse().unwrap())
                .with_canonicalization(algorithm, with_comments);
            let signed = sign_with(&unsigned(), &cert.signer().unwrap(), &options).unwrap();
            let text = String::from_utf8(signed.clone()).unwrap();
            assert_eq!(
                text.matches(algorithm.uri(with_comments)).count(),
                3,
                "{variant}: SignedInfo and both references name the algorithm"
            );
            assert!(xmlsec1_verify(
                &format!("ours-{name}-{variant}"),
                &signed,
                cert
            ));
            let bad = replace_once(&signed, "537A6BA15D", "537A6BA15E");
            assert!(!xmlsec1_verify(
                &format!("ours-{name}-{variant}-tampered"),
                &bad,
                cert
            ));
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
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
        Err(Error::InvalidKey { .. })
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
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        KeySigner::from_pkcs8_pem(&encrypted, None, cert.certificate_der()),
        Err(Error::InvalidKey { .. })
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

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
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
