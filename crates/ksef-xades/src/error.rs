//! The crate's error type.

use std::fmt;

/// Where in the input something was found.
///
/// `offset` counts bytes of the input exactly as it was passed to [`Document::parse`](crate::xml::Document::parse)
/// (a leading byte-order mark and carriage returns included); `line` is 1-based and counts line feeds,
/// carriage-return/line-feed pairs and lone carriage returns as one line end each, as an XML parser does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Position {
    /// Byte offset from the start of the input.
    pub offset: usize,
    /// Line number, starting at 1.
    pub line: usize,
}

impl Position {
    /// A position from a byte offset and a 1-based line number.
    pub fn new(offset: usize, line: usize) -> Self {
        Self { offset, line }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (byte {})", self.line, self.offset)
    }
}

/// Everything that can go wrong in this crate.
///
/// Parsing refuses anything that is not a well-formed, namespace-well-formed XML 1.0 document in UTF-8
/// without a document type declaration, and anything beyond the configured
/// [`ParseLimits`](crate::xml::ParseLimits).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than [`ParseLimits::max_input_bytes`](crate::xml::ParseLimits::max_input_bytes).
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The input is not valid UTF-8 (the only encoding accepted).
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },

    /// The XML declaration names an encoding other than UTF-8.
    #[error("unsupported encoding {encoding:?} at {at}: only UTF-8 is accepted")]
    UnsupportedEncoding {
        /// The encoding named in the XML declaration.
        encoding: String,
        /// Where the XML declaration starts.
        at: Position,
    },

    /// The XML declaration names a version other than 1.0.
    #[error("unsupported XML version {version:?} at {at}: only 1.0 is accepted")]
    UnsupportedVersion {
        /// The version named in the XML declaration.
        version: String,
        /// Where the XML declaration starts.
        at: Position,
    },

    /// The XML declaration does not follow `<?xml version="1.0" encoding="…" standalone="yes|no"?>` (the last
    /// two optional, in this order, quoted with `"` or `'`).
    #[error("malformed XML declaration at {at}")]
    MalformedXmlDeclaration {
        /// Where the XML declaration starts.
        at: Position,
    },

    /// An XML declaration appears anywhere but at the very start of the input.
    #[error("XML declaration at {at} is not at the start of the document")]
    MisplacedXmlDeclaration {
        /// Where the misplaced declaration starts.
        at: Position,
    },

    /// The document has a document type declaration.
    ///
    /// Documents with a DTD are refused outright: KSeF documents never carry one, and refusing them
    /// rules out entity-expansion ("billion laughs") and external-entity attacks.
    #[error("document type declaration at {at} is not allowed")]
    DoctypeForbidden {
        /// Where the `<!DOCTYPE` starts.
        at: Position,
    },

    /// The input is not well-formed XML at the markup level (unclosed tag, comment, CDATA section or
    /// processing instruction, malformed attribute, `--` inside a comment, and the like).
    #[error("malformed XML at {at}")]
    Syntax {
        /// Where the problem was found.
        at: Position,
        /// What the tokenizer reported.
        #[source]
        source: SyntaxError,
    },

    /// The input ended while elements were still open.
    #[error("input ended at {at} while element <{open}> was still open")]
    UnexpectedEof {
        /// The end of the input.
        at: Position,
        /// Qualified name of the innermost open element.
        open: String,
    },

    /// The document has no root element.
    #[error("document has no root element")]
    MissingRootElement,

    /// A second top-level element follows the root element.
    #[error("second root element <{name}> at {at}")]
    MultipleRootElements {
        /// Qualified name of the extra element.
        name: String,
        /// Where its start tag begins.
        at: Position,
    },

    /// Character data (other than whitespace) appears outside the root element.
    #[error("text outside the root element at {at}")]
    TextOutsideRoot {
        /// Where the text starts.
        at: Position,
    },

    /// An end tag does not match the open element.
    #[error("end tag </{found}> at {at} does not match start tag <{expected}>")]
    MismatchedEndTag {
        /// Qualified name of the open element.
        expected: String,
        /// Qualified name in the end tag.
        found: String,
        /// Where the end tag starts.
        at: Position,
    },

    /// An end tag appears with no element open.
    #[error("end tag </{name}> at {at} has no matching start tag")]
    UnexpectedEndTag {
        /// Qualified name in the end tag.
        name: String,
        /// Where the end tag starts.
        at: Position,
    },

    /// Elements are nested deeper than [`ParseLimits::max_depth`](crate::xml::ParseLimits::max_depth).
    #[error("element nesting at {at} exceeds the limit of {limit}")]
    DepthLimitExceeded {
        /// The configured limit.
        limit: usize,
        /// Where the element that went too deep starts.
        at: Position,
    },

    /// An element has more attributes (namespace declarations included) than
    /// [`ParseLimits::max_attributes`](crate::xml::ParseLimits::max_attributes).
    #[error("element at {at} has more than {limit} attributes")]
    TooManyAttributes {
        /// The configured limit.
        limit: usize,
        /// Where the element starts.
        at: Position,
    },

    /// An attribute value is longer than
    /// [`ParseLimits::max_attribute_value_bytes`](crate::xml::ParseLimits::max_attribute_value_bytes).
    #[error("attribute {name} at {at} has a value of {size} bytes, more than the limit of {limit}")]
    AttributeTooLarge {
        /// Qualified name of the attribute.
        name: String,
        /// Length of the value as written, in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
        /// Where the element carrying the attribute starts.
        at: Position,
    },

    /// The document has more nodes than [`ParseLimits::max_nodes`](crate::xml::ParseLimits::max_nodes).
    #[error("document has more than {limit} nodes (at {at})")]
    TooManyNodes {
        /// The configured limit.
        limit: usize,
        /// Where the node over the limit starts.
        at: Position,
    },

    /// An element or attribute name is not a valid XML name, or not a valid qualified name
    /// (`prefix:local`, each part without colons).
    #[error("invalid name {name:?} at {at}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Where the markup carrying it starts.
        at: Position,
    },

    /// An element or attribute uses a namespace prefix that is not declared in scope.
    #[error("undeclared namespace prefix {prefix:?} at {at}")]
    UndeclaredPrefix {
        /// The prefix.
        prefix: String,
        /// Where the element using it starts.
        at: Position,
    },

    /// A namespace declaration breaks the rules of Namespaces in XML 1.0: it binds a prefix to the
    /// empty string, rebinds the `xml` or `xmlns` prefix, or binds another prefix to their namespaces.
    #[error("invalid namespace declaration of prefix {prefix:?} to {uri:?} at {at}")]
    InvalidNamespaceDeclaration {
        /// The declared prefix (empty for the default namespace).
        prefix: String,
        /// The namespace name it was bound to.
        uri: String,
        /// Where the element carrying the declaration starts.
        at: Position,
    },

    /// Two attributes of a start tag are not separated by whitespace (`a="1"b="2"`).
    #[error("attributes of the element at {at} are not separated by whitespace")]
    AttributesNotSeparated {
        /// Where the element starts.
        at: Position,
    },

    /// An element has two attributes with the same qualified name, or the same namespace and local name.
    #[error("duplicate attribute {name} at {at}")]
    DuplicateAttribute {
        /// Qualified name of the second occurrence.
        name: String,
        /// Where the element starts.
        at: Position,
    },

    /// An entity reference other than the five predefined ones (`lt`, `gt`, `amp`, `apos`, `quot`), or a
    /// character reference that is malformed or denotes a character XML does not allow.
    #[error("invalid reference &{reference}; at {at}")]
    InvalidReference {
        /// The text between `&` and `;`.
        reference: String,
        /// Where the text or element containing it starts.
        at: Position,
    },

    /// A character that XML 1.0 does not allow in a document (most C0 controls, U+FFFE, U+FFFF).
    #[error("character U+{code_point:04X} at {at} is not allowed in XML")]
    InvalidCharacter {
        /// The code point.
        code_point: u32,
        /// Where it is.
        at: Position,
    },

    /// A `<` inside an attribute value, or an `&` that does not start a reference.
    #[error("markup character in the value of attribute {name} at {at}")]
    InvalidAttributeValue {
        /// Qualified name of the attribute.
        name: String,
        /// Where the element carrying it starts.
        at: Position,
    },

    /// The sequence `]]>` appears in character data outside a CDATA section.
    #[error("']]>' in character data at {at}")]
    CdataEndInText {
        /// Where the text containing it starts.
        at: Position,
    },

    /// A processing instruction uses the reserved target `xml` (in any letter case).
    #[error("processing instruction at {at} uses the reserved target {target:?}")]
    ReservedProcessingInstruction {
        /// The target as written.
        target: String,
        /// Where the processing instruction starts.
        at: Position,
    },

    /// Canonicalization refused a document that declares a namespace name which is not an absolute URI.
    ///
    /// A relative URI (one without a scheme, such as `xmlns:p="local/name"`) must make canonicalization fail,
    /// as Canonical XML requires, since the canonical form would depend on the implementation. A namespace
    /// name that is no URI at all (characters outside RFC 3986, a broken `%` escape) is refused as well, as
    /// libxml2 and xmlsec do, rather than signed in a form other verifiers reject.
    #[error(
        "namespace name {uri:?} declared at {at} is not an absolute URI and cannot be canonicalized"
    )]
    InvalidNamespaceUri {
        /// The declared namespace name.
        uri: String,
        /// Where the element carrying the declaration starts.
        at: Position,
    },

    /// More than one element carries the same `Id` attribute value, so a same-document reference to it
    /// would be ambiguous (a classic signature-wrapping vector).
    #[error("more than one element has Id {id:?}")]
    DuplicateId {
        /// The duplicated value.
        id: String,
    },

    /// The `AuthTokenRequest` to build is invalid (for example more than ten entries in one list of
    /// allowed IP addresses), or the generated document could not be written.
    #[error("invalid AuthTokenRequest: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },

    /// A certificate could not be read, or lacks something the operation needs.
    #[error("invalid certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong.
        reason: String,
    },

    /// A [`Signer`](crate::Signer) failed to produce a signature (the source is usually a
    /// [`ksef_crypto::Error`]).
    #[error("signing failed")]
    SigningFailed {
        /// The signer's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The document to sign cannot carry an enveloped signature (for example it already has one).
    #[error("cannot sign this document: {reason}")]
    UnsignableDocument {
        /// What is wrong.
        reason: String,
    },

    /// The document has no `ds:Signature` element (KSeF reports this as exception code 9102).
    #[error("the document has no XML signature")]
    NoSignature,

    /// The document has more than one `ds:Signature` element (KSeF reports this as exception code 9103).
    #[error("the document has {count} XML signatures; exactly one is allowed")]
    TooManySignatures {
        /// How many were found.
        count: usize,
    },

    /// A required element of the signature is missing, or appears more often than allowed.
    #[error("signature element {element} is missing or repeated")]
    MalformedSignature {
        /// The element (or attribute) that is missing or repeated.
        element: &'static str,
    },

    /// The signature uses an algorithm (canonicalization, transform, digest or signature method) this crate
    /// does not accept.
    #[error("unsupported {kind} algorithm {uri:?}")]
    UnsupportedAlgorithm {
        /// What the algorithm is for: `canonicalization`, `transform`, `digest` or `signature`.
        kind: &'static str,
        /// The algorithm URI found.
        uri: String,
    },

    /// A signature reference cannot be resolved, or does not cover what it must (the whole document for
    /// the document reference, the `SignedProperties` element for the XAdES reference).
    #[error("unacceptable signature reference {uri:?}: {reason}")]
    UnacceptableReference {
        /// The reference URI.
        uri: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// The digest of a referenced part of the document does not match the `DigestValue` signed: the
    /// document was changed after signing.
    #[error("digest of signature reference {uri:?} does not match")]
    DigestMismatch {
        /// The reference URI (empty for the whole document).
        uri: String,
    },

    /// The `SignatureValue` does not verify with the public key of the embedded certificate over the
    /// canonical `SignedInfo`.
    #[error("the signature value is invalid")]
    InvalidSignatureValue,

    /// The XAdES `SigningCertificate` does not name the certificate in `KeyInfo`.
    #[error("the XAdES SigningCertificate does not match the signing certificate")]
    SigningCertificateMismatch,

    /// A base64 field of the signature (digest, signature value, certificate) is not valid base64.
    #[error("invalid base64 in {element}")]
    InvalidBase64 {
        /// The element holding the value.
        element: &'static str,
    },

    /// An externally signed request answers another challenge than the one expected.
    #[error("the signed request is for challenge {found:?}, expected {expected:?}")]
    ChallengeMismatch {
        /// The challenge the request was prepared for.
        expected: String,
        /// The challenge found in the signed document (empty if there is none).
        found: String,
    },
}

impl Error {
    /// [`Error::InvalidCertificate`] for a certificate ksef-crypto could not read, with its causes.
    pub(crate) fn from_certificate(err: ksef_crypto::Error) -> Self {
        let mut reason = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::InvalidCertificate { reason }
    }
}

/// A markup-level error reported by the XML tokenizer. It is opaque so that the tokenizer's own error
/// type stays out of this crate's public API; its [`Display`](fmt::Display) text describes the problem.
#[derive(Debug)]
pub struct SyntaxError(pub(crate) quick_xml::Error);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SyntaxError {}
