//! Enveloped XAdES-BES signatures: signing ([`sign`]) and verification ([`verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use sha2::Digest as _;

use crate::Error;
use crate::c14n::{self, Algorithm, C14nOptions, canonicalize};
use crate::xml::{Document, Element, Node, ParseLimits};
use ksef_crypto::{Certificate, SignatureAlgorithm, Signer};

/// Namespace of XML Signature.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Namespace of XAdES 1.3.2.
pub const XADES_NAMESPACE: &str = "http://uri.etsi.org/01903/v1.3.2#";
/// `Type` of the reference to `SignedProperties`.
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// Id given to the `ds:Signature` element.
pub const SIGNATURE_ID: &str = "Signature";
/// Id given to the `xades:SignedProperties` element.
pub const SIGNED_PROPERTIES_ID: &str = "SignedProperties";

/// Options of [`sign_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignOptions {
    signing_time: Option<DateTime<Utc>>,
    canonicalization: Algorithm,
    with_comments: bool,
}

impl SignOptions {
    /// Defaults: the signing time is the current time minus one minute (tolerating a server clock that is
    /// slightly behind, as the Ministry's client does), and Exclusive XML Canonicalization without
    /// comments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Canonicalizes `SignedInfo` and both references with this algorithm, named in the signature with
    /// its `#WithComments` URI if `with_comments` is set (the references are same-document, so their
    /// digests never cover comments; `SignedInfo` has none).
    ///
    /// KSeF accepts all six (the Ministry's XAdES document lists them); the default, exclusive without
    /// comments, is what the Ministry's own client uses.
    pub fn with_canonicalization(mut self, algorithm: Algorithm, with_comments: bool) -> Self {
        self.canonicalization = algorithm;
        self.with_comments = with_comments;
        self
    }

    /// Uses this signing time instead.
    pub fn with_signing_time(mut self, time: DateTime<Utc>) -> Self {
        self.signing_time = Some(time);
        self
    }
}

/// Signs `xml` with an enveloped XAdES-BES signature appended to the root element, with default
/// [`SignOptions`].
///
/// # Errors
///
/// See [`sign_with`].
pub fn sign(xml: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, Error> {
    sign_with(xml, signer, &SignOptions::new())
}

/// Signs `xml` with an enveloped XAdES-BES signature appended as the last child of the root element.
///
/// The signature has two references, both digested with SHA-256 after canonicalization (Exclusive XML
/// Canonicalization unless [`SignOptions::with_canonicalization`] chooses another): the whole document
/// (with the enveloped-signature transform) and the XAdES `SignedProperties` (signing time and signing
/// certificate). `SignedInfo` is canonicalized with the same algorithm and signed by `signer`. The input bytes are kept as they are around the inserted signature, and the
/// result is verified before it is returned.
///
/// # Errors
///
/// Parse errors of `xml`; [`Error::UnsignableDocument`] if it already has a signature or an element with
/// Id `Signature` or `SignedProperties`, or has content after the root element;
/// [`Error::InvalidCertificate`] for an unreadable signer certificate; [`Error::SigningFailed`] or
/// [`Error::InvalidSignatureValue`] if the signer fails or signs wrongly.
pub fn sign_with(xml: &[u8], signer: &dyn Signer, options: &SignOptions) -> Result<Vec<u8>, Error> {
    let limits = ParseLimits::default();
    let doc = Document::parse(xml, &limits)?;
    let root = doc.root();
    if all_elements(&doc).any(|e| e.is(DSIG_NAMESPACE, "Signature")) {
        return Err(unsignable("the document is already signed"));
    }
    for id in [SIGNATURE_ID, SIGNED_PROPERTIES_ID] {
        if doc.element_by_id(id)?.is_some() {
            return Err(unsignable(
                "an element already has Id Signature or SignedProperties",
            ));
        }
    }
    let (head, tail) = split_at_root_end(
        xml,
        &root.qualified_name(),
        root.as_node().first_child().is_none(),
    )?;
    drop(doc);

    let certificate =
        Certificate::from_der(signer.certificate_der()).map_err(Error::from_certificate)?;
    let time = options
        .signing_time
        .unwrap_or_else(|| Utc::now() - chrono::Duration::minutes(1));
    let c14n_uri = options.canonicalization.uri(options.with_comments);
    let parts = SignatureParts {
        c14n_uri,
        algorithm: signer.algorithm(),
        certificate: BASE64.encode(certificate.der()),
        certificate_digest: BASE64.encode(certificate.fingerprint_sha256()),
        issuer: escape_text(certificate.issuer()),
        serial: certificate.serial_decimal().to_owned(),
        signing_time: time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    let assemble = |digests: [&str; 2], value: &str| {
        let mut out = Vec::with_capacity(head.len() + tail.len() + 4096);
        out.extend_from_slice(head);
        out.extend_from_slice(parts.render(digests, value).as_bytes());
        out.extend_from_slice(tail);
        out
    };

    // 1. Digests of the two references: neither depends on the DigestValues or the SignatureValue.
    let draft = assemble(["", ""], "");
    let doc = Document::parse(&draft, &limits)?;
    let signature = own_element(&doc, SIGNATURE_ID)?;
    // Same-document references never include comments, whatever the algorithm URI says.
    let reference_c14n = C14nOptions::new().with_algorithm(options.canonicalization);
    let document_digest = sha256_b64(&canonicalize(
        doc.as_node(),
        &reference_c14n.clone().with_excluded(signature.id()),
    )?);
    let properties = own_element(&doc, SIGNED_PROPERTIES_ID)?;
    let properties_digest = sha256_b64(&canonicalize(properties, &reference_c14n)?);
    let digests = [document_digest.as_str(), properties_digest.as_str()];

    // 2. The canonical SignedInfo, as it will stand in the final document.
    let draft = assemble(digests, "");
    let doc = Document::parse(&draft, &limits)?;
    let signature = own_element(&doc, SIGNATURE_ID)?;
    let signed_info =
        signature
            .child(DSIG_NAMESPACE, "SignedInfo")
            .ok_or(Error::MalformedSignature {
                element: "SignedInfo",
            })?;
    let canonical = canonicalize(
        signed_info,
        &C14nOptions::new()
            .with_algorithm(options.canonicalization)
            .with_comments(options.with_comments),
    )?;
    let value = signer
        .sign(&canonical)
        .map_err(|err| Error::SigningFailed {
            source: Box::new(err),
        })?;
    if signer.algorithm() == SignatureAlgorithm::EcdsaP256Sha256 && value.len() != 64 {
        return Err(Error::SigningFailed {
            source: "an ECDSA P-256 signer must return the 64-byte R || S".into(),
        });
    }

    // 3. The final document, checked as any verifier would.
    let signed = assemble(digests, &BASE64.encode(&value));
    verify(&signed)?;
    Ok(signed)
}

struct SignatureParts {
    c14n_uri: &'static str,
    algorithm: SignatureAlgorithm,
    certificate: String,
    certificate_digest: String,
    issuer: String,
    serial: String,
    signing_time: String,
}

impl SignatureParts {
    fn render(&self, [document_digest, properties_digest]: [&str; 2], value: &str) -> String {
        let exc = self.c14n_uri;
        let alg = self.algorithm.uri();
        let Self {
            certificate,
            certificate_digest,
            issuer,
            serial,
            signing_time,
            ..
        } = self;
        format!(
            "<ds:Signature xmlns:ds=\"{DSIG_NAMESPACE}\" Id=\"{SIGNATURE_ID}\">\
             <ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"{exc}\"/>\
             <ds:SignatureMethod Algorithm=\"{alg}\"/>\
             <ds:Reference URI=\"\">\
             <ds:Transforms>\
             <ds:Transform Algorithm=\"{ENVELOPED}\"/>\
             <ds:Transform Algorithm=\"{exc}\"/>\
             </ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{SHA256}\"/>\
             <ds:DigestValue>{document_digest}</ds:DigestValue>\
             </ds:Reference>\
             <ds:Reference Type=\"{SIGNED_PROPERTIES_TYPE}\" URI=\"#{SIGNED_PROPERTIES_ID}\">\
             <ds:Transforms><ds:Transform Algorithm=\"{exc}\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{SHA256}\"/>\
             <ds:DigestValue>{properties_digest}</ds:DigestValue>\
             </ds:Reference>\
             </ds:SignedInfo>\
             <ds:SignatureValue>{value}</ds:SignatureValue>\
             <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             <ds:Object>\
             <xades:QualifyingProperties xmlns:xades=\"{XADES_NAMESPACE}\" Target=\"#{SIGNATURE_ID}\">\
             <xades:SignedProperties Id=\"{SIGNED_PROPERTIES_ID}\">\
             <xades:SignedSignatureProperties>\
             <xades:SigningTime>{signing_time}</xades:SigningTime>\
             <xades:SigningCertificate><xades:Cert>\
             <xades:CertDigest>\
             <ds:DigestMethod Algorithm=\"{SHA256}\"/>\
             <ds:DigestValue>{certificate_digest}</ds:DigestValue>\
             </xades:CertDigest>\
             <xades:IssuerSerial>\
             <ds:X509IssuerName>{issuer}</ds:X509IssuerName>\
             <ds:X509SerialNumber>{serial}</ds:X509SerialNumber>\
             </xades:IssuerSerial>\
             </xades:Cert></xades:SigningCertificate>\
             </xades:SignedSignatureProperties>\
             </xades:SignedProperties>\
             </xades:QualifyingProperties>\
             </ds:Object>\
             </ds:Signature>"
        )
    }
}

fn unsignable(reason: &str) -> Error {
    Error::UnsignableDocument {
        reason: reason.to_owned(),
    }
}

fn own_element<'a>(doc: &'a Document, id: &str) -> Result<Element<'a>, Error> {
    doc.element_by_id(id)?
        .ok_or_else(|| unsignable("the inserted signature cannot be found again"))
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// Splits the serialized document where the signature goes: just before the root's end tag. A root
/// written as an empty-element tag is split so that `head` ends with `>` and `tail` is its end tag.
fn split_at_root_end<'a>(
    xml: &'a [u8],
    qname: &str,
    empty: bool,
) -> Result<(&'a [u8], &'a [u8]), Error> {
    let trimmed = xml.trim_ascii_end();
    let after_root = || unsignable("only whitespace may follow the root element");
    if let Some(before_gt) = trimmed.strip_suffix(b">") {
        let before_gt = before_gt.trim_ascii_end();
        let end_tag = format!("</{qname}");
        if before_gt.ends_with(end_tag.as_bytes()) {
            let at = before_gt.len() - end_tag.len();
            return Ok((&xml[..at], &xml[at..]));
        }
        if empty && before_gt.ends_with(b"/") {
            return Err(unsignable(
                "the root element is an empty-element tag; write it with an end tag",
            ));
        }
    }
    Err(after_root())
}

fn sha256_b64(data: &[u8]) -> String {
    BASE64.encode(sha2::Sha256::digest(data))
}

fn all_elements(doc: &Document) -> impl Iterator<Item = Element<'_>> {
    std::iter::once(doc.root()).chain(
        doc.root()
            .as_node()
            .descendants()
            .filter_map(|n| n.as_element()),
    )
}

/// Options of [`verify_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    limits: ParseLimits,
    require_signed_properties: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            limits: ParseLimits::default(),
            require_signed_properties: true,
        }
    }
}

impl VerifyOptions {
    /// Defaults: [`ParseLimits::default`], and XAdES `SignedProperties` required.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses with these limits.
    pub fn with_limits(mut self, limits: ParseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether a signed XAdES `SignedProperties` with a matching `SigningCertificate` is required (the
    /// default, as KSeF accepts only XAdES signatures). Without it a plain XML signature is accepted.
    pub fn with_require_signed_properties(mut self, require: bool) -> Self {
        self.require_signed_properties = require;
        self
    }
}

/// What a successful verification establishes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedSignature {
    certificate: Certificate,
    algorithm: SignatureAlgorithm,
    signing_time: Option<String>,
    challenge: Option<String>,
}

impl VerifiedSignature {
    /// The signer's certificate (with its fingerprint and the subject identifier KSeF derives).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The signed XAdES `SigningTime`, as written, if the signature has signed properties.
    pub fn signing_time(&self) -> Option<&str> {
        self.signing_time.as_deref()
    }

    /// The challenge, if the document is a KSeF `AuthTokenRequest` (root element in a
    /// `http://ksef.mf.gov.pl/auth/token/…` namespace) with a `Challenge` child.
    pub fn challenge(&self) -> Option<&str> {
        self.challenge.as_deref()
    }
}

/// Verifies the one enveloped signature of `xml` with default [`VerifyOptions`].
///
/// # Errors
///
/// See [`verify_with`].
pub fn verify(xml: &[u8]) -> Result<VerifiedSignature, Error> {
    verify_with(xml, &VerifyOptions::default())
}

/// Verifies the one XML signature of `xml`: every reference digest, the signature value with the key
/// of the embedded certificate, that a reference covers the whole document, and (unless disabled) that
/// the XAdES `SignedProperties` are signed and name the embedded certificate.
///
/// Accepted algorithms: canonicalization and transforms Exclusive C14N 1.0, C14N 1.0 and C14N 1.1 (each
/// with or without comments; see [`Algorithm`]) and the enveloped-signature transform; digests SHA-256, SHA-384, SHA-512; signatures
/// RSA-SHA256 and ECDSA-SHA256 on P-256. References must be same-document (`""` or `#Id`).
///
/// # Errors
///
/// Parse errors; [`Error::NoSignature`]; [`Error::TooManySignatures`]; [`Error::MalformedSignature`];
/// [`Error::UnsupportedAlgorithm`]; [`Error::UnacceptableReference`]; [`Error::DigestMismatch`];
/// [`Error::InvalidSignatureValue`]; [`Error::InvalidBase64`]; [`Error::InvalidCertificate`];
/// [`Error::SigningCertificateMismatch`]; [`Error::DuplicateId`].
pub fn verify_with(xml: &[u8], options: &VerifyOptions) -> Result<VerifiedSignature, Error> {
    let doc = Document::parse(xml, &options.limits)?;
    let mut signatures = all_elements(&doc).filter(|e| e.is(DSIG_NAMESPACE, "Signature"));
    let signature = signatures.next().ok_or(Error::NoSignature)?;
    let extra = signatures.count();
    if extra > 0 {
        return Err(Error::TooManySignatures { count: extra + 1 });
    }

    let signed_info = single_child(signature, "SignedInfo")?;
    let signature_value = single_child(signature, "SignatureValue")?;
    let key_info = single_child(signature, "KeyInfo")?;

    let c14n_method = single_child(signed_info, "CanonicalizationMethod")?;
    let signed_info_c14n =
        c14n_options(c14n_method)?.ok_or_else(|| Error::UnsupportedAlgorithm {
            kind: "canonicalization",
            uri: algorithm_of(c14n_method).unwrap_or_default().to_owned(),
        })?;
    let method = single_child(signed_info, "SignatureMethod")?;
    let method_uri = algorithm_of(method)?;
    let algorithm =
        SignatureAlgorithm::from_uri(method_uri).ok_or_else(|| Error::UnsupportedAlgorithm {
            kind: "signature",
            uri: method_uri.to_owned(),
        })?;

    // References.
    let mut covers_document = false;
    let mut covered = Vec::new();
    let mut references = 0;
    for reference in signed_info
        .child_elements()
        .filter(|e| e.is(DSIG_NAMESPACE, "Reference"))
    {
        references += 1;
        let target = check_reference(&doc, signature, reference)?;
        if target == doc.as_node() || target == doc.root().as_node() {
            covers_document = true;
        }
        covered.push(target.id());
    }
    if references == 0 {
        return Err(Error::MalformedSignature {
            element: "Reference",
        });
    }
    if !covers_document {
        return Err(Error::UnacceptableReference {
            uri: String::new(),
            reason: "no reference covers the whole document",
        });
    }

    // The certificate and the signature value.
    let certificates = key_info
        .descendant_elements()
        .filter(|e| e.is(DSIG_NAMESPACE, "X509Certificate"))
        .map(|e| {
            let der = decode_b64(&e.text_content(), "X509Certificate")?;
            Certificate::from_der(&der).map_err(Error::from_certificate)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let qualifying = signature
        .child_elements()
        .filter(|e| e.is(DSIG_NAMESPACE, "Object"))
        .flat_map(|o| o.as_node().children().filter_map(|n| n.as_element()))
        .find(|e| e.is(XADES_NAMESPACE, "QualifyingProperties"));
    if let Some(qualifying) = qualifying {
        // The properties must name this signature (XAdES requires Target; it is not itself signed, so a
        // mismatch means the signature element was edited).
        let target = qualifying.attribute(None, "Target");
        let id = signature.attribute(None, "Id");
        if target.is_none() || target.and_then(|t| t.strip_prefix('#')) != id {
            return Err(Error::MalformedSignature {
                element: "QualifyingProperties/@Target",
            });
        }
    }
    let properties = qualifying.and_then(|q| single_xades_child(q, "SignedProperties").ok());
    let mut signing_time = None;
    let certificate = match properties {
        Some(properties) if covered.contains(&properties.id()) => {
            let signature_properties = single_xades_child(properties, "SignedSignatureProperties")?;
            signing_time = signature_properties
                .child(XADES_NAMESPACE, "SigningTime")
                .map(|e| e.text_content());
            let cert = signature_properties
                .child_elements()
                .find(|e| {
                    e.is(XADES_NAMESPACE, "SigningCertificate")
                        || e.is(XADES_NAMESPACE, "SigningCertificateV2")
                })
                .and_then(|e| e.child(XADES_NAMESPACE, "Cert"))
                .ok_or(Error::MalformedSignature {
                    element: "SigningCertificate",
                })?;
            let cert_digest = single_xades_child(cert, "CertDigest")?;
            let digest_method = algorithm_of(single_child(cert_digest, "DigestMethod")?)?;
            let expected = decode_b64(
                &single_child(cert_digest, "DigestValue")?.text_content(),
                "CertDigest",
            )?;
            let certificate = certificates
                .into_iter()
                .find(|c| digest(digest_method, c.der()).ok().as_deref() == Some(&expected[..]))
                .ok_or(Error::SigningCertificateMismatch)?;
            // The serial number must agree too (the issuer name is not compared: its string form
            // differs between implementations).
            let serial = cert
                .child(XADES_NAMESPACE, "IssuerSerial")
                .and_then(|e| e.child(DSIG_NAMESPACE, "X509SerialNumber"))
                .map(|e| e.text_content());
            if serial.is_some_and(|s| s.trim() != certificate.serial_decimal()) {
                return Err(Error::SigningCertificateMismatch);
            }
            certificate
        }
        _ if options.require_signed_properties => {
            return Err(Error::UnacceptableReference {
                uri: format!("#{SIGNED_PROPERTIES_ID}"),
                reason: "the XAdES SignedProperties are missing or not signed",
            });
        }
        _ => certificates
            .into_iter()
            .next()
            .ok_or(Error::MalformedSignature {
                element: "X509Certificate",
            })?,
    };

    let value = decode_b64(&signature_value.text_content(), "SignatureValue")?;
    let canonical = canonicalize(signed_info, &signed_info_c14n)?;
    certificate
        .public_key()
        .verify(algorithm, &canonical, &value)
        .map_err(|err| match err {
            ksef_crypto::Error::KeyAlgorithmMismatch { key, .. } => Error::InvalidCertificate {
                reason: format!(
                    "{} signature, but the certificate holds a {key} key",
                    algorithm.uri()
                ),
            },
            _ => Error::InvalidSignatureValue,
        })?;

    let root = doc.root();
    let is_auth_request = root.local_name() == "AuthTokenRequest"
        && root
            .namespace()
            .is_some_and(|ns| ns.starts_with("http://ksef.mf.gov.pl/auth/token/"));
    let challenge = root
        .child_elements()
        .find(|e| is_auth_request && e.is(root.namespace().unwrap_or_default(), "Challenge"))
        .map(|e| e.text_content());
    Ok(VerifiedSignature {
        certificate,
        algorithm,
        signing_time,
        challenge,
    })
}

fn single_named<'a>(
    parent: Element<'a>,
    namespace: &str,
    name: &'static str,
) -> Result<Element<'a>, Error> {
    let mut found = parent.child_elements().filter(|e| e.is(namespace, name));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(Error::MalformedSignature { element: name }),
    }
}

fn single_child<'a>(parent: Element<'a>, name: &'static str) -> Result<Element<'a>, Error> {
    single_named(parent, DSIG_NAMESPACE, name)
}

fn single_xades_child<'a>(parent: Element<'a>, name: &'static str) -> Result<Element<'a>, Error> {
    single_named(parent, XADES_NAMESPACE, name)
}

fn algorithm_of(element: Element<'_>) -> Result<&str, Error> {
    element
        .attribute(None, "Algorithm")
        .ok_or(Error::MalformedSignature {
            element: "Algorithm",
        })
}

fn decode_b64(text: &str, element: &'static str) -> Result<Vec<u8>, Error> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact)
        .map_err(|_| Error::InvalidBase64 { element })
}

fn digest(uri: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(match uri {
        SHA256 => sha2::Sha256::digest(data).to_vec(),
        SHA384 => sha2::Sha384::digest(data).to_vec(),
        SHA512 => sha2::Sha512::digest(data).to_vec(),
        other => {
            return Err(Error::UnsupportedAlgorithm {
                kind: "digest",
                uri: other.to_owned(),
            });
        }
    })
}

/// The canonicalization an algorithm element asks for, or `None` if it is not a canonicalization.
fn c14n_options(method: Element<'_>) -> Result<Option<C14nOptions>, Error> {
    let Some((algorithm, with_comments)) = Algorithm::from_uri(algorithm_of(method)?) else {
        return Ok(None);
    };
    let mut options = C14nOptions::new()
        .with_algorithm(algorithm)
        .with_comments(with_comments);
    if algorithm == Algorithm::Exclusive
        && let Some(inclusive) =
            method.child(c14n::INCLUSIVE_NAMESPACES_NAMESPACE, "InclusiveNamespaces")
    {
        options = options.with_prefix_list(inclusive.attribute(None, "PrefixList").unwrap_or(""));
    }
    Ok(Some(options))
}

/// Checks one reference's digest and returns the node it covers.
fn check_reference<'a>(
    doc: &'a Document,
    signature: Element<'a>,
    reference: Element<'a>,
) -> Result<Node<'a>, Error> {
    let uri = reference
        .attribute(None, "URI")
        .ok_or(Error::MalformedSignature { element: "URI" })?;
    let target: Node<'a> = if uri.is_empty() {
        doc.as_node()
    } else if let Some(id) = uri.strip_prefix('#') {
        if id.is_empty() || id.starts_with("xpointer(") {
            return Err(Error::UnacceptableReference {
                uri: uri.to_owned(),
                reason: "only bare-name same-document references are supported",
            });
        }
        doc.element_by_id(id)?
            .ok_or_else(|| Error::UnacceptableReference {
                uri: uri.to_owned(),
                reason: "no element has this Id",
            })?
            .as_node()
    } else {
        return Err(Error::UnacceptableReference {
            uri: uri.to_owned(),
            reason: "references outside the document are not allowed",
        });
    };

    let mut enveloped = false;
    let mut canonicalization: Option<C14nOptions> = None;
    if let Some(transforms) = optional_single(reference, "Transforms")? {
        for transform in transforms.child_elements() {
            if !transform.is(DSIG_NAMESPACE, "Transform") {
                return Err(Error::MalformedSignature {
                    element: "Transform",
                });
            }
            let algorithm = algorithm_of(transform)?;
            if canonicalization.is_some() {
                // Only one canonicalization, as the last transform.
                return Err(Error::UnsupportedAlgorithm {
                    kind: "transform",
                    uri: algorithm.to_owned(),
                });
            }
            if algorithm == ENVELOPED {
                enveloped = true;
            } else if let Some(options) = c14n_options(transform)? {
                canonicalization = Some(options);
            } else {
                return Err(Error::UnsupportedAlgorithm {
                    kind: "transform",
                    uri: algorithm.to_owned(),
                });
            }
        }
    }
    let mut options = match canonicalization {
        Some(options) => options,
        // Without a canonicalization transform the node-set is serialized with inclusive C14N 1.0.
        None => C14nOptions::new().with_algorithm(Algorithm::Inclusive10),
    };
    // Same-document references (`""`, `#id`) never include comments.
    options = options.with_comments(false);
    if enveloped {
        options = options.with_excluded(signature.id());
    } else if target.is_ancestor_or_self_of(signature.as_node()) {
        return Err(Error::UnacceptableReference {
            uri: uri.to_owned(),
            reason: "a reference enclosing the signature needs the enveloped-signature transform",
        });
    }
    let method = algorithm_of(single_child(reference, "DigestMethod")?)?;
    let expected = decode_b64(
        &single_child(reference, "DigestValue")?.text_content(),
        "DigestValue",
    )?;
    let actual = digest(method, &canonicalize(target, &options)?)?;
    if actual != expected {
        return Err(Error::DigestMismatch {
            uri: uri.to_owned(),
        });
    }
    Ok(target)
}

fn optional_single<'a>(
    parent: Element<'a>,
    name: &'static str,
) -> Result<Option<Element<'a>>, Error> {
    let mut found = parent
        .child_elements()
        .filter(|e| e.is(DSIG_NAMESPACE, name));
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        _ => Err(Error::MalformedSignature { element: name }),
    }
}
