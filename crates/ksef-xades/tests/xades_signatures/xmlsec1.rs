//! Interoperability with xmlsec1: it accepts what we sign, we accept what it signs, with every
//! canonicalization KSeF accepts.

use super::*;

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
