//! The documents the canonicalization tests compare with libxml2: hand-written ones, each aimed at one or
//! more canonicalization rules, and a proptest generator of random namespace-well-formed documents
//! (elements, attributes including `xml:lang`, `xml:space`, `xml:id` and `xml:base`, namespaces, text,
//! CDATA, comments and processing instructions), plus what the comparisons share.

use ksef_xades::xml::{Document, Element, ParseLimits};
use proptest::prelude::*;

use super::{Oracle, settle};

pub(crate) const SIGNED_AUTH_TOKEN_REQUEST: &str = r##"<?xml version="1.0" encoding="utf-8"?>
<AuthTokenRequest xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://ksef.mf.gov.pl/auth/token/2.0">
  <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge>
  <ContextIdentifier>
    <Nip>5265877635</Nip>
  </ContextIdentifier>
  <SubjectIdentifierType>certificateSubject</SubjectIdentifierType>
<Signature Id="Signature" xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315" /><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" /><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature" /><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" /></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256" /><DigestValue>q0FGmSm2bB7Qm1zH0pLqPjJmXm7cM3Yy6r9s6bWw5EU=</DigestValue></Reference><Reference Type="http://uri.etsi.org/01903#SignedProperties" URI="#SignedProperties"><Transforms><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" /></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256" /><DigestValue>3nq8kB0v8r8m2lqQ5lC0e6JkqQ3m8f0Xz7YI3yq2kQ4=</DigestValue></Reference></SignedInfo><SignatureValue>c2lnbmF0dXJlIHZhbHVlIHBsYWNlaG9sZGVy</SignatureValue><KeyInfo><X509Data><X509Certificate>Y2VydGlmaWNhdGUgcGxhY2Vob2xkZXI=</X509Certificate></X509Data></KeyInfo><Object><xades:QualifyingProperties Target="#Signature" xmlns:xades="http://uri.etsi.org/01903/v1.3.2#"><xades:SignedProperties Id="SignedProperties"><xades:SignedSignatureProperties><xades:SigningTime>2025-06-04T10:14:30.1234567Z</xades:SigningTime><xades:SigningCertificate><xades:Cert><xades:CertDigest><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256" /><DigestValue>Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI=</DigestValue></xades:CertDigest><xades:IssuerSerial><X509IssuerName>CN=Test CA, O=Example, C=PL</X509IssuerName><X509SerialNumber>98765432109876543210</X509SerialNumber></xades:IssuerSerial></xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></Object></Signature></AuthTokenRequest>"##;

pub(crate) const SIGNED_WITH_DS_PREFIX: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n\
<tns:AuthTokenRequest xmlns:tns=\"http://ksef.mf.gov.pl/auth/token/2.0\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\">\r\n\
\t<tns:Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</tns:Challenge>\r\n\
\t<tns:ContextIdentifier><tns:InternalId>5265877635-12345</tns:InternalId></tns:ContextIdentifier>\r\n\
\t<tns:SubjectIdentifierType>certificateFingerprint</tns:SubjectIdentifierType>\r\n\
<ds:Signature Id=\"id-1\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xades\"/></ds:CanonicalizationMethod>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>\
<ds:Reference Id=\"r-1\" URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>\
<ds:Reference Type=\"http://uri.etsi.org/01903#SignedProperties\" URI=\"#xades-id-1\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>BBBB</ds:DigestValue></ds:Reference></ds:SignedInfo>\r\n\
<ds:SignatureValue Id=\"value-id-1\">\r\nCCCC\r\nDDDD\r\n</ds:SignatureValue><ds:Object><xades:QualifyingProperties Target=\"#id-1\"><xades:SignedProperties Id=\"xades-id-1\"><xades:SignedSignatureProperties><xades:SigningTime>2025-06-04T10:14:30Z</xades:SigningTime></xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature></tns:AuthTokenRequest>\r\n";

/// Hand-written documents, each aimed at one or more canonicalization rules.
pub(crate) const CORPUS: &[(&str, &str)] = &[
    (
        "signed AuthTokenRequest, default namespaces",
        SIGNED_AUTH_TOKEN_REQUEST,
    ),
    (
        "signed AuthTokenRequest, ds prefix, CRLF",
        SIGNED_WITH_DS_PREFIX,
    ),
    (
        "prefix redeclared to another URI and back",
        r#"<a:r xmlns:a="urn:a1"><a:x xmlns:a="urn:a2"><a:y xmlns:a="urn:a1"/><a:w/></a:x><a:z xmlns:a="urn:a1"/></a:r>"#,
    ),
    (
        "unused namespace declarations",
        r#"<r xmlns:u="urn:u" xmlns:v="urn:v"><c xmlns:w="urn:w"><u:d/><e xmlns:v="urn:v2"/></c></r>"#,
    ),
    (
        "default namespace undeclared",
        r#"<r xmlns="urn:d"><a xmlns=""><b/><c xmlns="urn:d"/></a><e/></r>"#,
    ),
    (
        "default namespace undeclared below a prefixed root",
        r#"<p:r xmlns:p="urn:p" xmlns="urn:d"><a xmlns=""/><b/><p:c xmlns=""><d/></p:c></p:r>"#,
    ),
    (
        "default namespace redeclared",
        r#"<r xmlns="urn:1"><a xmlns="urn:2"><b xmlns="urn:1"><c/></b></a></r>"#,
    ),
    (
        "empty default declaration on the root",
        r#"<r xmlns=""><a/></r>"#,
    ),
    (
        "attributes in several namespaces",
        r#"<r xmlns:b="urn:b" xmlns:a="urn:a" xmlns:z="http://a.example/" b:x="1" a:x="2" x="3" z:a="4" a:b="5" c="6" xml:lang="pl" A="7"/>"#,
    ),
    (
        "two prefixes for one URI",
        r#"<r xmlns:a="urn:x" xmlns:b="urn:x" a:k="1" b:l="2"><a:e b:m="3"><b:f/></a:e></r>"#,
    ),
    (
        "same URI as default and as prefix",
        r#"<r xmlns="urn:d" xmlns:d="urn:d"><d:a><b d:x="1"/></d:a></r>"#,
    ),
    (
        "namespace used only by an attribute",
        r#"<r xmlns:a="urn:a"><e a:x="1"><f/></e><g a:y="2" a:z="3"/></r>"#,
    ),
    (
        "same local name in several namespaces",
        r#"<r xmlns:p="urn:p" xmlns:q="urn:a" p:n="1" q:n="2" n="3" xmlns:s="urn:a:b" s:n="4"/>"#,
    ),
    (
        "escaping in text",
        "<r>&amp; &lt; &gt; \" ' &#13; &#xD; ]]&gt; &#x9;&#10; tab\there > and ]> and ]]</r>",
    ),
    (
        "escaping in attributes",
        "<r a=\"&amp;&lt;&gt;&quot;'&#9;&#10;&#13;\" b='\"double\" in single &apos;' c=\"literal\ttab and\nnewline\" d=\"&#x20;&#32; \"/>",
    ),
    (
        "CRLF and lone CR line ends",
        "<r>\r\nline1\r\nline2\rline3\r\n<a b=\"x\r\ny\ry\" c=\"&#13;&#10;\"/>\r\n\r\r\n</r>\r\n",
    ),
    (
        "CDATA sections",
        "<r><![CDATA[<not markup> & \"q\" ]] > \r\n]]>after<![CDATA[]]>&amp;<![CDATA[a]]><a><![CDATA[\r]]></a></r>",
    ),
    (
        "comments everywhere",
        "<!-- before -->\n<!---->\n<r><!-- inside -->text<!----><a><!-- x\r\ny --></a>t<!--a-->t</r>\n<!-- after -->",
    ),
    (
        "processing instructions",
        "<?xml version=\"1.0\"?>\n<?pi-before data?>\n<?empty?><r><?inner  with  spaces ?><a><?x?></a></r>\n<?pi-after x?>\n<!--c--><?last\ttabbed\n data ?>",
    ),
    (
        "character references and non-ASCII text",
        "<r a=\"&#x10000;&#65;&#x20AC;ż\">&#x1F600;&#169;&#xe9; zażółć gęślą jaźń € 😀<a>&#x7F;&#x85;&#xA0;&#x2028;</a></r>",
    ),
    (
        "empty elements",
        r#"<r><a/><b></b><c  /><d x="1"/><e xmlns="urn:e"/><p:f xmlns:p="urn:p" p:g=""/></r>"#,
    ),
    (
        "xml:lang and xml:space are not inherited",
        r#"<r xml:lang="pl" xml:space="preserve"><a xml:lang="en"><b><c xml:space="default"/></b></a></r>"#,
    ),
    (
        "explicit declaration of the xml prefix",
        r#"<r xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="x"><xml:a/></r>"#,
    ),
    (
        "whitespace outside and inside the root",
        "\n\n  <r>  \n <a> \t </a>\n  </r>  \n\n",
    ),
    (
        "mixed content",
        r#"<p:r xmlns:p="urn:p">text <b>bold</b> and <p:i>italic <b xmlns="urn:x">x</b></p:i> tail</p:r>"#,
    ),
    (
        "non-ASCII names",
        r#"<ż:ółw xmlns:ż="urn:z" ąę="1" ż:ę="2"><ćma/></ż:ółw>"#,
    ),
    (
        "byte-order mark and lower-case encoding",
        "\u{FEFF}<?xml version='1.0' encoding='utf-8'?><r/>",
    ),
    (
        "many declarations, used deep down",
        r#"<r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" xmlns="urn:d"><x><y><a:z b:q="1"><c:w/><v xmlns=""/></a:z></y></x></r>"#,
    ),
    (
        "attribute values with > and quotes",
        r#"<r a='>' b="'" c='"' d="a > b &gt; c"/>"#,
    ),
    (
        "sibling subtrees redeclaring the same prefix",
        r#"<r><p:a xmlns:p="urn:1"><p:b/></p:a><p:a xmlns:p="urn:2"><p:b/></p:a><q xmlns:p="urn:1"><p:c/></q></r>"#,
    ),
    (
        "deeply nested with alternating defaults",
        "<e xmlns=\"urn:1\"><e xmlns=\"\"><e xmlns=\"urn:2\"><e xmlns=\"\"><e xmlns=\"urn:1\"><e><e xmlns=\"\"><e/></e></e></e></e></e></e></e>",
    ),
];

pub(crate) fn parse(xml: &[u8]) -> Document {
    Document::parse(xml, &ParseLimits::default()).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

pub(crate) fn elements(doc: &Document) -> Vec<Element<'_>> {
    let root = doc.root();
    std::iter::once(root)
        .chain(root.descendant_elements())
        .collect()
}

/// Every prefix declared anywhere in the document, plus `#default`.
pub(crate) fn declared_prefixes(doc: &Document) -> Vec<String> {
    let mut prefixes: Vec<String> = elements(doc)
        .iter()
        .flat_map(|e| e.namespace_declarations())
        .filter_map(|d| d.prefix().map(str::to_owned))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    prefixes.push("#default".to_owned());
    prefixes
}

/// Counts comparisons and collects disagreements, so a failing run shows all of them at once.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) compared: usize,
    pub(crate) failures: Vec<String>,
    /// Comparisons queued for the next [`Tally::settle`].
    pending: Vec<(String, Vec<u8>, Oracle)>,
}

impl Tally {
    /// Queues a comparison of `ours` with what `oracle` says; [`Tally::settle`] makes it.
    pub(crate) fn compare(&mut self, what: &str, ours: Vec<u8>, oracle: Oracle) {
        self.pending.push((what.to_owned(), ours, oracle));
    }

    /// Makes the queued comparisons as one batch, `label` naming it in the golden file (see
    /// [`super::settle`]).
    pub(crate) fn settle(&mut self, label: &str) {
        let pending = std::mem::take(&mut self.pending);
        let count = pending.len();
        let mut outcome = settle(label, pending);
        self.compared += count;
        self.failures.append(&mut outcome);
    }

    pub(crate) fn assert_clean(&self) {
        assert!(
            self.pending.is_empty(),
            "{} comparisons were queued but never settled",
            self.pending.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} of {} comparisons disagree:\n{}",
            self.failures.len(),
            self.compared,
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Generated documents.

const PREFIXES: &[&str] = &["p", "q", "ns1"];
/// Namespace names without characters that need escaping (libxml2 does not escape them; see
/// `namespace_uris_are_escaped_like_attribute_values`).
const URIS: &[&str] = &[
    "urn:a",
    "urn:b",
    "http://example.com/ns?x=1;y=2",
    "http://www.w3.org/2000/09/xmldsig#",
];
const LOCAL_NAMES: &[&str] = &["r", "a", "b", "Id", "x-y", "ż"];
/// Text as written: literal pieces (no `&`, `<` or `]`, so no accidental `]]>`) and references.
const TEXT_PIECES: &[&str] = &[
    "a",
    "Zażółć",
    "€",
    "😀",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    ">",
    "\"",
    "'",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#xD;",
    "&#13;",
    "&#9;",
    "&#xA;",
    "&#x20AC;",
    "&#128512;",
    "]]&gt;",
];
/// Attribute values as written between double quotes.
const ATTRIBUTE_PIECES: &[&str] = &[
    "v", "ż", " ", "\t", "\n", "\r\n", "\r", ">", "'", "€", "&amp;", "&lt;", "&gt;", "&quot;",
    "&#xD;", "&#9;", "&#10;", "&#x20;",
];
/// CDATA content: no `>`, so never `]]>`.
const CDATA_PIECES: &[&str] = &["x", "<", "&", "]", "\r\n", "ż", " ", "\"", "&amp;"];
/// Comment and PI content: no `-` (so no `--`) and no `?` (so no `?>`).
const MISC_PIECES: &[&str] = &["c", " ", "ż", "<", "&", ">", "\r\n", "\t", "x=\"1\""];
/// `xml:*` attributes that Canonical XML 1.1 inherits.
const XML_SIMPLE_NAMES: &[&str] = &["lang", "space"];
/// `xml:id` values: NCNames, as libxml2 (and lxml's parser) insist.
const XML_IDS: &[&str] = &["i1", "x-y", "ż"];
/// `xml:base` values: relative and absolute references with dot segments and queries. Left out are the
/// values whose joins libxml2 2.9 computes differently from Canonical XML 1.1 (empty values, fragments, a
/// `..` that must cancel an earlier segment or end the result, `:` in a path); the tests in
/// `c14n_libxml2.rs` pin those to the specification.
const XML_BASES: &[&str] = &[
    "a/",
    "b",
    "../",
    ".",
    "./x",
    "/abs/",
    "http://example.com/d/e",
    "urn:example",
    "?q",
    "c/./d/",
];
const PI_TARGETS: &[&str] = &["pi", "p-i", "target.x", "xml-stylesheet"];

#[derive(Clone, Debug)]
struct GenElement {
    prefix: Option<&'static str>,
    local_name: &'static str,
    /// ("" for the default namespace, uri) where uri "" undeclares the default namespace.
    declarations: Vec<(&'static str, &'static str)>,
    /// (prefix, local name, value as written); prefix "xml" is allowed.
    attributes: Vec<(Option<&'static str>, &'static str, String)>,
    children: Vec<GenChild>,
    self_closing: bool,
}

#[derive(Clone, Debug)]
enum GenChild {
    Element(GenElement),
    Text(String),
    CData(String),
    Misc(GenMisc),
}

#[derive(Clone, Debug)]
enum GenMisc {
    Comment(String),
    Pi(&'static str, &'static str, String),
}

#[derive(Clone, Debug)]
pub(crate) struct GenDocument {
    declaration: bool,
    prolog: Vec<(GenMisc, &'static str)>,
    root: GenElement,
    epilog: Vec<(&'static str, GenMisc)>,
}

fn pieces(pool: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pool), 0..max).prop_map(|v| v.concat())
}

fn misc() -> impl Strategy<Value = GenMisc> {
    prop_oneof![
        pieces(MISC_PIECES, 4).prop_map(GenMisc::Comment),
        (
            prop::sample::select(PI_TARGETS),
            prop::sample::select(&[" ", "  ", "\t", "\r\n "][..]),
            pieces(MISC_PIECES, 4)
        )
            .prop_map(|(t, s, d)| GenMisc::Pi(t, s, d)),
    ]
}

fn element_head() -> impl Strategy<Value = GenElement> {
    let prefix = prop::option::weighted(0.5, prop::sample::select(PREFIXES));
    let declaration = (
        prop::sample::select(&["", "p", "q", "ns1"][..]),
        prop_oneof![prop::sample::select(URIS), Just("")],
    );
    let attribute = prop_oneof![
        5 => (
            prop_oneof![
                3 => Just(None),
                2 => prop::sample::select(PREFIXES).prop_map(Some),
            ],
            prop::sample::select(LOCAL_NAMES),
            pieces(ATTRIBUTE_PIECES, 4),
        ),
        1 => (Just(Some("xml")), prop::sample::select(LOCAL_NAMES), pieces(ATTRIBUTE_PIECES, 4)),
        2 => (
            Just(Some("xml")),
            prop::sample::select(XML_SIMPLE_NAMES),
            pieces(ATTRIBUTE_PIECES, 3),
        ),
        1 => (
            Just(Some("xml")),
            Just("id"),
            prop::sample::select(XML_IDS).prop_map(str::to_owned),
        ),
        2 => (
            Just(Some("xml")),
            Just("base"),
            prop::sample::select(XML_BASES).prop_map(str::to_owned),
        ),
    ];
    (
        prefix,
        prop::sample::select(LOCAL_NAMES),
        prop::collection::vec(declaration, 0..3),
        prop::collection::vec(attribute, 0..4),
        any::<bool>(),
    )
        .prop_map(
            |(prefix, local_name, declarations, attributes, self_closing)| GenElement {
                prefix,
                local_name,
                declarations,
                attributes,
                children: Vec::new(),
                self_closing,
            },
        )
}

fn element() -> impl Strategy<Value = GenElement> {
    element_head().prop_recursive(5, 48, 5, |inner| {
        let child = prop_oneof![
            3 => inner.prop_map(GenChild::Element),
            2 => pieces(TEXT_PIECES, 5).prop_map(GenChild::Text),
            1 => pieces(CDATA_PIECES, 4).prop_map(GenChild::CData),
            1 => misc().prop_map(GenChild::Misc),
        ];
        (element_head(), prop::collection::vec(child, 0..5)).prop_map(|(mut head, children)| {
            head.children = children;
            head
        })
    })
}

pub(crate) fn document() -> impl Strategy<Value = GenDocument> {
    let space = prop::sample::select(&["", "\n", "\r\n", " \t\n"][..]);
    (
        any::<bool>(),
        prop::collection::vec((misc(), space.clone()), 0..3),
        element(),
        prop::collection::vec((space, misc()), 0..3),
    )
        .prop_map(|(declaration, prolog, root, epilog)| GenDocument {
            declaration,
            prolog,
            root,
            epilog,
        })
}

fn write_misc(misc: &GenMisc, out: &mut String) {
    match misc {
        GenMisc::Comment(text) => {
            out.push_str("<!--");
            out.push_str(text);
            out.push_str("-->");
        }
        GenMisc::Pi(target, separator, data) => {
            out.push_str("<?");
            out.push_str(target);
            if !data.is_empty() {
                out.push_str(separator);
                out.push_str(data);
            }
            out.push_str("?>");
        }
    }
}

/// Writes an element, adding the declarations its prefixes need and dropping attributes that would clash,
/// so that every generated document is namespace-well-formed.
fn write_element<'a>(
    element: &'a GenElement,
    scope: &mut Vec<(&'a str, &'a str)>,
    ids: &mut usize,
    out: &mut String,
) {
    let scope_len = scope.len();
    let mut declarations: Vec<(&str, &str)> = Vec::new();
    for &(prefix, uri) in &element.declarations {
        if declarations.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        // Only the default namespace may be undeclared.
        let uri = if uri.is_empty() && !prefix.is_empty() {
            URIS[0]
        } else {
            uri
        };
        declarations.push((prefix, uri));
    }
    let bound =
        |prefix: &str, declarations: &[(&str, &str)], scope: &[(&str, &str)]| -> Option<String> {
            if prefix == "xml" {
                return Some("http://www.w3.org/XML/1998/namespace".to_owned());
            }
            declarations
                .iter()
                .chain(scope.iter().rev())
                .find(|(p, _)| *p == prefix)
                .map(|(_, u)| u.to_string())
        };
    let mut used: Vec<&str> = element.prefix.into_iter().collect();
    used.extend(element.attributes.iter().filter_map(|a| a.0));
    for (i, prefix) in used.into_iter().enumerate() {
        if bound(prefix, &declarations, scope).is_none() {
            declarations.push((prefix, URIS[(i + prefix.len()) % URIS.len()]));
        }
    }

    let qname = |prefix: Option<&str>, local: &str| match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    };
    let name = qname(element.prefix, element.local_name);
    out.push('<');
    out.push_str(&name);
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.push_str(&format!(" xmlns=\"{uri}\""));
        } else {
            out.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    let mut seen: Vec<(Option<String>, &str)> = Vec::new();
    for (prefix, local, value) in &element.attributes {
        let namespace = prefix.and_then(|p| bound(p, &declarations, scope));
        if seen.iter().any(|(ns, l)| *ns == namespace && l == local) {
            continue;
        }
        seen.push((namespace, local));
        if *prefix == Some("xml") && *local == "id" {
            // IDs must be unique in a document.
            *ids += 1;
            out.push_str(&format!(" xml:id=\"{value}{ids}\""));
        } else {
            out.push_str(&format!(" {}=\"{}\"", qname(*prefix, local), value));
        }
    }
    scope.extend(declarations.iter().copied());
    if element.children.is_empty() && element.self_closing {
        out.push_str("/>");
    } else {
        out.push('>');
        for child in &element.children {
            match child {
                GenChild::Element(e) => write_element(e, scope, ids, out),
                GenChild::Text(text) => out.push_str(text),
                GenChild::CData(text) => {
                    out.push_str("<![CDATA[");
                    out.push_str(text);
                    out.push_str("]]>");
                }
                GenChild::Misc(misc) => write_misc(misc, out),
            }
        }
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    scope.truncate(scope_len);
}

pub(crate) fn write_document(document: &GenDocument) -> String {
    let mut out = String::new();
    if document.declaration {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    for (misc, space) in &document.prolog {
        write_misc(misc, &mut out);
        out.push_str(space);
    }
    write_element(&document.root, &mut Vec::new(), &mut 0, &mut out);
    for (space, misc) in &document.epilog {
        out.push_str(space);
        write_misc(misc, &mut out);
    }
    out
}

/// Our canonicalization of `doc`, or of its element number `apex` (document order, root = 0), leaving
/// out element number `excluded`.
pub(crate) fn canonicalize_part(
    doc: &ksef_xades::xml::Document,
    options: ksef_xades::c14n::C14nOptions,
    apex: Option<usize>,
    excluded: Option<usize>,
) -> Vec<u8> {
    let elements = elements(doc);
    let mut options = options;
    if let Some(excluded) = excluded {
        options = options.with_excluded(elements[excluded].id());
    }
    let result = match apex {
        Some(apex) => ksef_xades::c14n::canonicalize(elements[apex], &options),
        None => ksef_xades::c14n::canonicalize(doc.as_node(), &options),
    };
    result.unwrap_or_else(|e| panic!("canonicalization failed: {e}"))
}

/// A generated case's apex (`None`: the whole document; else an element number, document order) and
/// excluded element (one strictly inside the apex's subtree, or none), from two random picks.
pub(crate) fn pick_apex_and_excluded(
    doc: &Document,
    apex_pick: usize,
    excluded_pick: usize,
) -> (Option<usize>, Option<usize>) {
    let elements = elements(doc);
    let apex = (!apex_pick.is_multiple_of(3)).then(|| apex_pick % elements.len());
    let apex_node = apex.map_or(doc.root(), |i| elements[i]);
    let inside: Vec<usize> = (1..elements.len())
        .filter(|&i| {
            elements[i] != apex_node
                && apex_node
                    .as_node()
                    .is_ancestor_or_self_of(elements[i].as_node())
        })
        .collect();
    let excluded = (!inside.is_empty() && excluded_pick.is_multiple_of(2))
        .then(|| inside[excluded_pick % inside.len()]);
    (apex, excluded)
}
