//! W3C XML canonicalization over a parsed [`Document`](crate::xml::Document): Exclusive XML
//! Canonicalization 1.0 (the default), Canonical XML 1.0 and Canonical XML 1.1, each with or without
//! comments ([`Algorithm`]).
//!
//! [`canonicalize`] renders a node and everything below it (the document node for a whole document, an
//! element for a subtree such as `SignedInfo` or `SignedProperties`) as canonical UTF-8 bytes, following
//! <https://www.w3.org/TR/xml-exc-c14n/>, <https://www.w3.org/TR/xml-c14n/> and
//! <https://www.w3.org/TR/xml-c14n11/>. What the three share:
//!
//! - namespace declarations are sorted by prefix (the default namespace first) and attributes by namespace
//!   name, then local name (unqualified attributes first); empty elements become start-end tag pairs;
//! - text escapes `&`, `<`, `>` and carriage return; attribute values escape `&`, `<`, `"`, tab, line feed
//!   and carriage return; all whitespace inside the root element is kept;
//! - comments are dropped unless [`C14nOptions::with_comments`] is set; processing instructions are kept.
//!   For a whole document, those before the root element are followed by a line feed and those after it are
//!   preceded by one, and whitespace outside the root element is dropped;
//! - the `xml` prefix is never declared; `xmlns=""` is written on an element whose default namespace is
//!   empty only where an output ancestor rendered a non-empty default namespace;
//! - optionally, one subtree is left out entirely: the enveloped-signature transform removes the
//!   `Signature` element this way before a whole document is digested.
//!
//! Where they differ:
//!
//! - **namespaces.** Exclusive canonicalization writes a declaration on an element only where the element
//!   or one of its attributes uses the prefix ("visibly utilizes" it) and the nearest output ancestor has
//!   not already rendered the same binding; prefixes on the InclusiveNamespaces PrefixList (`#default` for
//!   the default namespace) are instead rendered wherever they are in scope. Canonical XML 1.0 and 1.1
//!   (inclusive) render every binding in scope that the nearest output ancestor has not rendered, so the
//!   top element of a subtree carries every namespace in scope there;
//! - **`xml:*` attributes of omitted ancestors** (the ancestors of a subtree's top element). Exclusive
//!   canonicalization copies none. Canonical XML 1.0 copies onto the top element the nearest occurrence of
//!   every `xml:*` attribute it does not carry itself. Canonical XML 1.1 copies only `xml:lang` and
//!   `xml:space` that way, never `xml:id` (other `xml:*` attributes are ordinary), and performs the
//!   *xml:base fix-up*: when an omitted ancestor has an `xml:base`, the values of the omitted ancestors
//!   and of the element itself are joined, outermost first, into one relative or absolute reference
//!   ([`join_uri_references`]), which replaces the element's own `xml:base` (an empty result is not
//!   written).
//!
//! A document that declares a namespace name which is not an absolute URI cannot be canonicalized
//! ([`Error::InvalidNamespaceUri`]); Canonical XML requires this failure for relative namespace URIs.
//!
//! ```
//! use ksef_xades::c14n::{canonicalize, Algorithm, C14nOptions};
//! use ksef_xades::xml::{Document, ParseLimits};
//!
//! let xml = br#"<r xmlns="urn:r" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:u="urn:unused">
//! <a b="1" a="2"/><ds:Signature Id="S"><ds:SignedInfo/></ds:Signature></r>"#;
//! let doc = Document::parse(xml, &ParseLimits::default())?;
//!
//! // The whole document, without the signature (the enveloped-signature transform).
//! let signature = doc.element_by_id("S")?.expect("present");
//! let options = C14nOptions::new().with_excluded(signature.id());
//! assert_eq!(
//!     canonicalize(doc.as_node(), &options)?,
//!     b"<r xmlns=\"urn:r\">\n<a a=\"2\" b=\"1\"></a></r>"
//! );
//!
//! // A subtree: exclusive canonicalization declares the namespaces used inside it on its top element ...
//! let signed_info = signature.find("http://www.w3.org/2000/09/xmldsig#", "SignedInfo").expect("present");
//! assert_eq!(
//!     canonicalize(signed_info, &C14nOptions::new())?,
//!     b"<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"></ds:SignedInfo>"
//! );
//! // ... while Canonical XML 1.1 declares every namespace in scope there.
//! assert_eq!(
//!     canonicalize(signed_info, &C14nOptions::new().with_algorithm(Algorithm::Inclusive11))?,
//!     b"<ds:SignedInfo xmlns=\"urn:r\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
//!       xmlns:u=\"urn:unused\"></ds:SignedInfo>"
//! );
//! # Ok::<(), ksef_xades::Error>(())
//! ```

use std::borrow::Cow;

use crate::error::Error;
use crate::xml::{Element, Node, NodeId, NodeKind, XML_NAMESPACE};

mod uri;

pub use uri::{join_uri_references, remove_dot_segments};

/// Algorithm URI of Exclusive XML Canonicalization 1.0 without comments.
pub const ALGORITHM: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Algorithm URI of Exclusive XML Canonicalization 1.0 with comments.
pub const ALGORITHM_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Algorithm URI of Canonical XML 1.0 without comments.
pub const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";

/// Algorithm URI of Canonical XML 1.0 with comments.
pub const C14N10_WITH_COMMENTS: &str =
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";

/// Algorithm URI of Canonical XML 1.1 without comments.
pub const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";

/// Algorithm URI of Canonical XML 1.1 with comments.
pub const C14N11_WITH_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";

/// Namespace of the `InclusiveNamespaces` element that carries the PrefixList parameter.
pub const INCLUSIVE_NAMESPACES_NAMESPACE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// A canonicalization algorithm (each comes with and without comments: see
/// [`C14nOptions::with_comments`]).
///
/// ```
/// use ksef_xades::c14n::Algorithm;
///
/// assert_eq!(
///     Algorithm::from_uri("http://www.w3.org/2006/12/xml-c14n11#WithComments"),
///     Some((Algorithm::Inclusive11, true))
/// );
/// assert_eq!(Algorithm::Exclusive.uri(false), "http://www.w3.org/2001/10/xml-exc-c14n#");
/// assert_eq!(Algorithm::from_uri("http://example.com/c14n"), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>).
    #[default]
    Exclusive,
    /// Canonical XML 1.0 (<https://www.w3.org/TR/xml-c14n/>), inclusive of the namespaces and `xml:*`
    /// attributes in scope.
    Inclusive10,
    /// Canonical XML 1.1 (<https://www.w3.org/TR/xml-c14n11/>): as 1.0, but `xml:id` is not inherited and
    /// `xml:base` is fixed up.
    Inclusive11,
}

impl Algorithm {
    /// Every algorithm, in the order listed above.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Exclusive,
        Algorithm::Inclusive10,
        Algorithm::Inclusive11,
    ];

    /// The algorithm URI, with or without comments.
    pub fn uri(self, with_comments: bool) -> &'static str {
        match (self, with_comments) {
            (Algorithm::Exclusive, false) => ALGORITHM,
            (Algorithm::Exclusive, true) => ALGORITHM_WITH_COMMENTS,
            (Algorithm::Inclusive10, false) => C14N10,
            (Algorithm::Inclusive10, true) => C14N10_WITH_COMMENTS,
            (Algorithm::Inclusive11, false) => C14N11,
            (Algorithm::Inclusive11, true) => C14N11_WITH_COMMENTS,
        }
    }

    /// The algorithm an algorithm URI names and whether it keeps comments, or `None` for a URI that is
    /// not one of the six canonicalizations.
    pub fn from_uri(uri: &str) -> Option<(Algorithm, bool)> {
        Algorithm::ALL.into_iter().find_map(|algorithm| {
            [false, true]
                .into_iter()
                .find(|&comments| algorithm.uri(comments) == uri)
                .map(|comments| (algorithm, comments))
        })
    }
}

/// Parameters of one canonicalization.
///
/// The default is plain exclusive canonicalization without comments: nothing excluded and an empty
/// InclusiveNamespaces PrefixList (which only exclusive canonicalization reads).
///
/// ```
/// use ksef_xades::c14n::C14nOptions;
///
/// let options = C14nOptions::new().with_prefix_list("ds  #default\txades");
/// assert_eq!(options.inclusive_prefixes(), ["ds", "#default", "xades"]);
/// assert!(!options.comments());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct C14nOptions {
    algorithm: Algorithm,
    exclude: Option<NodeId>,
    inclusive_prefixes: Vec<String>,
    with_comments: bool,
}

impl C14nOptions {
    /// Plain exclusive canonicalization without comments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this algorithm (the default is [`Algorithm::Exclusive`]).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Leaves out the node with this id and everything below it, as the enveloped-signature transform does
    /// with the `Signature` element. An id of another document excludes nothing.
    pub fn with_excluded(mut self, node: NodeId) -> Self {
        self.exclude = Some(node);
        self
    }

    /// Sets the InclusiveNamespaces PrefixList: prefixes to treat as in inclusive canonicalization, with
    /// `#default` standing for the default namespace. Only exclusive canonicalization reads it (the
    /// inclusive algorithms treat every prefix so).
    pub fn with_inclusive_prefixes<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inclusive_prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the InclusiveNamespaces PrefixList from the value of a `PrefixList` attribute: prefixes separated
    /// by whitespace.
    pub fn with_prefix_list(self, prefix_list: &str) -> Self {
        self.with_inclusive_prefixes(prefix_list.split_ascii_whitespace())
    }

    /// Keeps comments (the `#WithComments` variant of the algorithm).
    pub fn with_comments(mut self, keep: bool) -> Self {
        self.with_comments = keep;
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The node left out, if any.
    pub fn excluded(&self) -> Option<NodeId> {
        self.exclude
    }

    /// The InclusiveNamespaces PrefixList.
    pub fn inclusive_prefixes(&self) -> &[String] {
        &self.inclusive_prefixes
    }

    /// Whether comments are kept.
    pub fn comments(&self) -> bool {
        self.with_comments
    }
}

/// Canonicalizes `node` and everything below it.
///
/// For the document node this is the whole document; for an element, the subtree it heads as a document
/// subset (its ancestors omitted, their namespace bindings and, for the inclusive algorithms, their
/// `xml:*` attributes taken into account as described in the [module documentation](self)); for a text,
/// comment or processing-instruction node, that node alone.
///
/// # Errors
///
/// [`Error::InvalidNamespaceUri`] if the document declares, anywhere, a namespace name that is not an
/// absolute URI: Canonical XML requires canonicalization to fail on relative namespace URIs.
pub fn canonicalize<'a>(
    node: impl Into<Node<'a>>,
    options: &C14nOptions,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    canonicalize_into(node, options, &mut out)?;
    Ok(out)
}

/// Like [`canonicalize`], appending to `out` (which is left as it was on error).
///
/// # Errors
///
/// As for [`canonicalize`].
pub fn canonicalize_into<'a>(
    node: impl Into<Node<'a>>,
    options: &C14nOptions,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let node = node.into();
    let doc = node.document();
    if let Some((uri, at)) = doc.invalid_namespace() {
        return Err(Error::InvalidNamespaceUri {
            uri: uri.to_owned(),
            at,
        });
    }
    let excluded = options
        .exclude
        .filter(|id| id.document() == doc.tag())
        .map(NodeId::index);
    let writer = Writer {
        options,
        excluded,
        inclusive: options
            .inclusive_prefixes
            .iter()
            .map(|p| if p == "#default" { "" } else { p.as_str() })
            .collect(),
    };
    // Nothing is left when the excluded subtree contains the node itself.
    if let Some(excluded) = options.exclude.and_then(|id| doc.get(id))
        && excluded.is_ancestor_or_self_of(node)
    {
        return Ok(());
    }
    match node.kind() {
        NodeKind::Document => {
            let mut after_root = false;
            for child in node.children() {
                let skip = excluded == Some(child.id().index());
                match child.kind() {
                    NodeKind::Element(element) => {
                        if !skip {
                            writer.subtree(element, out);
                        }
                        after_root = true;
                    }
                    NodeKind::Comment(_) | NodeKind::ProcessingInstruction { .. }
                        if !skip && writer.renders(child) =>
                    {
                        if after_root {
                            out.push(b'\n');
                        }
                        writer.leaf(child, out);
                        if !after_root {
                            out.push(b'\n');
                        }
                    }
                    _ => {}
                }
            }
        }
        NodeKind::Element(element) => writer.subtree(element, out),
        _ => writer.leaf(node, out),
    }
    Ok(())
}

struct Writer<'o> {
    options: &'o C14nOptions,
    excluded: Option<u32>,
    /// The PrefixList, with `#default` as "".
    inclusive: Vec<&'o str>,
}

/// One open element during the walk.
struct Frame<'a> {
    element: Element<'a>,
    next_child: Option<Node<'a>>,
    scope_len: usize,
    rendered_len: usize,
}

impl Writer<'_> {
    fn renders(&self, node: Node<'_>) -> bool {
        match node.kind() {
            NodeKind::Comment(_) => self.options.with_comments,
            _ => self.excluded != Some(node.id().index()),
        }
    }

    /// Text, comment or processing instruction.
    fn leaf(&self, node: Node<'_>, out: &mut Vec<u8>) {
        match node.kind() {
            NodeKind::Text(text) => escape_text(text, out),
            NodeKind::Comment(text) if self.options.with_comments => {
                out.extend_from_slice(b"<!--");
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"-->");
            }
            NodeKind::ProcessingInstruction { target, data } => {
                out.extend_from_slice(b"<?");
                out.extend_from_slice(target.as_bytes());
                if !data.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(data.as_bytes());
                }
                out.extend_from_slice(b"?>");
            }
            _ => {}
        }
    }

    /// Renders an element and its descendants without recursion (depth is bounded only by the parse limits,
    /// which a caller may raise).
    fn subtree<'a>(&self, apex: Element<'a>, out: &mut Vec<u8>) {
        // Namespace bindings in scope, innermost last: (prefix, uri) with "" for the default prefix and for
        // an undeclared default namespace. Starts with the apex's ancestors' declarations.
        let mut scope: Vec<(&'a str, &'a str)> = Vec::new();
        let mut ancestors: Vec<Element<'a>> =
            std::iter::successors(apex.parent(), |e| e.parent()).collect();
        ancestors.reverse();
        for ancestor in ancestors {
            push_declarations(ancestor, &mut scope);
        }
        // Bindings rendered by output ancestors, innermost last.
        let mut rendered: Vec<(&'a str, &'a str)> = Vec::new();
        let mut stack: Vec<Frame<'a>> = Vec::new();

        self.start_tag(apex, true, &mut scope, &mut rendered, &mut stack, out);
        while let Some(frame) = stack.last_mut() {
            let Some(child) = frame.next_child else {
                let element = frame.element;
                let (scope_len, rendered_len) = (frame.scope_len, frame.rendered_len);
                stack.pop();
                scope.truncate(scope_len);
                rendered.truncate(rendered_len);
                end_tag(element, out);
                continue;
            };
            frame.next_child = child.next_sibling();
            if self.excluded == Some(child.id().index()) {
                continue;
            }
            match child.kind() {
                NodeKind::Element(element) => {
                    self.start_tag(element, false, &mut scope, &mut rendered, &mut stack, out)
                }
                _ => self.leaf(child, out),
            }
        }
    }

    /// Writes the start tag of `element`; `apex` is set for the top element of the output, whose ancestors
    /// are all omitted.
    fn start_tag<'a>(
        &self,
        element: Element<'a>,
        apex: bool,
        scope: &mut Vec<(&'a str, &'a str)>,
        rendered: &mut Vec<(&'a str, &'a str)>,
        stack: &mut Vec<Frame<'a>>,
        out: &mut Vec<u8>,
    ) {
        let scope_len = scope.len();
        let rendered_len = rendered.len();
        push_declarations(element, scope);

        // Prefixes whose bindings may need rendering here. Exclusive: those the element visibly utilizes,
        // then those on the PrefixList that are in scope. Inclusive: on the top element, every prefix in
        // scope and the default namespace even when it is undeclared (it may need `xmlns=""`); below it,
        // only the prefixes the element declares, since every other binding in scope is the parent's, which
        // the parent (an output element: an excluded subtree is left out whole) has rendered or found
        // rendered already.
        let mut candidates: Vec<&str> = Vec::new();
        if self.options.algorithm == Algorithm::Exclusive {
            candidates.push(element.prefix().unwrap_or(""));
            candidates.extend(element.attributes().iter().filter_map(|a| a.prefix()));
            for &prefix in &self.inclusive {
                // A listed default namespace counts even when it is undeclared (it may need `xmlns=""`).
                if prefix.is_empty() || lookup(scope, prefix).is_some() {
                    candidates.push(prefix);
                }
            }
        } else if apex {
            candidates.push("");
            candidates.extend(scope.iter().map(|&(prefix, _)| prefix));
        } else {
            candidates.extend(scope[scope_len..].iter().map(|&(prefix, _)| prefix));
        }
        candidates.sort_unstable();
        candidates.dedup();

        let mut declarations: Vec<(&'a str, &'a str)> = Vec::new();
        for prefix in candidates {
            if prefix == "xml" {
                continue;
            }
            let Some((prefix, uri)) = scope.iter().rev().find(|(p, _)| *p == prefix).copied()
            else {
                // Only the default prefix can be unbound here: the parser refuses undeclared prefixes, and
                // listed prefixes were filtered above. An unbound default is handled like `xmlns=""`.
                if prefix.is_empty() && lookup(rendered, "").is_some_and(|u| !u.is_empty()) {
                    declarations.push(("", ""));
                }
                continue;
            };
            let needed = if uri.is_empty() {
                // `xmlns=""` only undoes a non-empty default namespace rendered above.
                lookup(rendered, "").is_some_and(|u| !u.is_empty())
            } else {
                lookup(rendered, prefix) != Some(uri)
            };
            if needed {
                declarations.push((prefix, uri));
            }
        }
        // `candidates` was sorted, so `declarations` is too, with the default namespace ("") first.
        rendered.extend(declarations.iter().copied());

        out.push(b'<');
        write_qname(element.prefix(), element.local_name(), out);
        for (prefix, uri) in &declarations {
            if prefix.is_empty() {
                out.extend_from_slice(b" xmlns=\"");
            } else {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(b"=\"");
            }
            escape_attribute(uri, out);
            out.push(b'"');
        }
        let mut attributes: Vec<OutputAttribute<'_>> = element
            .attributes()
            .iter()
            .map(|a| OutputAttribute {
                prefix: a.prefix(),
                local_name: a.local_name(),
                namespace: a.namespace(),
                value: Cow::Borrowed(a.value()),
            })
            .collect();
        if apex {
            self.inherit_xml_attributes(element, &mut attributes);
        }
        attributes.sort_by(|a, b| {
            (a.namespace.unwrap_or(""), a.local_name)
                .cmp(&(b.namespace.unwrap_or(""), b.local_name))
        });
        for attribute in &attributes {
            out.push(b' ');
            write_qname(attribute.prefix, attribute.local_name, out);
            out.extend_from_slice(b"=\"");
            escape_attribute(&attribute.value, out);
            out.push(b'"');
        }
        out.push(b'>');

        stack.push(Frame {
            element,
            next_child: element.as_node().first_child(),
            scope_len,
            rendered_len,
        });
    }
}

impl Writer<'_> {
    /// Adds to the attributes of the output's top element what its omitted ancestors pass on (Canonical XML
    /// 1.0 and 1.1, section 2.4 "Document Subsets"); exclusive canonicalization passes on nothing.
    fn inherit_xml_attributes<'a>(
        &self,
        element: Element<'a>,
        attributes: &mut Vec<OutputAttribute<'a>>,
    ) {
        let inherited = |local_name: &str| match self.options.algorithm {
            Algorithm::Exclusive => false,
            // The nearest occurrence of every `xml:*` attribute.
            Algorithm::Inclusive10 => true,
            // Only the simple inheritable attributes; `xml:base` is fixed up below, `xml:id` and any other
            // `xml:*` attribute stays where it is.
            Algorithm::Inclusive11 => matches!(local_name, "lang" | "space"),
        };
        let ancestors = || std::iter::successors(element.parent(), |e| e.parent());
        for ancestor in ancestors() {
            for attribute in ancestor.attributes() {
                let carried = attribute.namespace() == Some(XML_NAMESPACE)
                    && inherited(attribute.local_name())
                    && !attributes
                        .iter()
                        .any(|a| a.is_xml() && a.local_name == attribute.local_name());
                if carried {
                    attributes.push(OutputAttribute {
                        prefix: attribute.prefix(),
                        local_name: attribute.local_name(),
                        namespace: attribute.namespace(),
                        value: Cow::Borrowed(attribute.value()),
                    });
                }
            }
        }
        if self.options.algorithm != Algorithm::Inclusive11 {
            return;
        }
        // xml:base fix-up: only when an omitted ancestor has an xml:base. The values, innermost first, are
        // the element's own (if any) and its ancestors'; each is joined onto the next outer one.
        let mut values = ancestors().filter_map(|a| a.attribute(Some(XML_NAMESPACE), "base"));
        let Some(nearest) = values.next() else {
            return;
        };
        let own = element.attribute(Some(XML_NAMESPACE), "base");
        let mut joined = match own {
            Some(own) => join_uri_references(nearest, own),
            None => nearest.to_owned(),
        };
        for outer in values {
            joined = join_uri_references(outer, &joined);
        }
        attributes.retain(|a| !(a.is_xml() && a.local_name == "base"));
        if !joined.is_empty() {
            attributes.push(OutputAttribute {
                prefix: Some("xml"),
                local_name: "base",
                namespace: Some(XML_NAMESPACE),
                value: Cow::Owned(joined),
            });
        }
    }
}

/// An attribute as written in the output: the element's own, or one its omitted ancestors pass on.
struct OutputAttribute<'a> {
    prefix: Option<&'a str>,
    local_name: &'a str,
    namespace: Option<&'a str>,
    value: Cow<'a, str>,
}

impl OutputAttribute<'_> {
    fn is_xml(&self) -> bool {
        self.namespace == Some(XML_NAMESPACE)
    }
}

fn push_declarations<'a>(element: Element<'a>, scope: &mut Vec<(&'a str, &'a str)>) {
    scope.extend(
        element
            .namespace_declarations()
            .iter()
            .map(|d| (d.prefix().unwrap_or(""), d.uri())),
    );
}

fn lookup<'a>(bindings: &[(&str, &'a str)], prefix: &str) -> Option<&'a str> {
    bindings
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|&(_, uri)| uri)
}

fn end_tag(element: Element<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"</");
    write_qname(element.prefix(), element.local_name(), out);
    out.push(b'>');
}

fn write_qname(prefix: Option<&str>, local_name: &str, out: &mut Vec<u8>) {
    if let Some(prefix) = prefix {
        out.extend_from_slice(prefix.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local_name.as_bytes());
}

fn escape_text(text: &str, out: &mut Vec<u8>) {
    escape(text, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attribute(value: &str, out: &mut Vec<u8>) {
    escape(value, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Copies `text`, replacing the ASCII bytes `replacement` maps (never part of a multi-byte UTF-8 sequence).
fn escape(text: &str, out: &mut Vec<u8>, replacement: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(escaped) = replacement(b) {
            out.extend_from_slice(&bytes[copied..i]);
            out.extend_from_slice(escaped);
            copied = i + 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Document, ParseLimits};

    fn c14n(xml: &str, options: &C14nOptions) -> String {
        let doc = Document::parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
        String::from_utf8(canonicalize(doc.as_node(), options).unwrap()).unwrap()
    }

    #[test]
    fn escaping() {
        assert_eq!(
            c14n(
                "<a b='&amp;&lt;&gt;\"&#9;&#10;&#13;'>&amp;&lt;&gt;\"'&#13;</a>",
                &C14nOptions::new()
            ),
            "<a b=\"&amp;&lt;>&quot;&#x9;&#xA;&#xD;\">&amp;&lt;&gt;\"'&#xD;</a>"
        );
    }

    #[test]
    fn namespaces() {
        let xml = "<a:r xmlns:a='urn:a' xmlns='urn:d' xmlns:b='urn:b'><x b:y='1'><a:z xmlns=''/></x></a:r>";
        assert_eq!(
            c14n(xml, &C14nOptions::new()),
            "<a:r xmlns:a=\"urn:a\"><x xmlns=\"urn:d\" xmlns:b=\"urn:b\" b:y=\"1\"><a:z></a:z></x></a:r>"
        );
        assert_eq!(
            c14n(xml, &C14nOptions::new().with_prefix_list("#default b")),
            "<a:r xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\"><x b:y=\"1\"><a:z xmlns=\"\"></a:z></x></a:r>"
        );
    }

    #[test]
    fn relative_namespace_uris_fail() {
        let doc = Document::parse(b"<r><a xmlns:p='rel'/></r>", &ParseLimits::default()).unwrap();
        assert!(matches!(
            canonicalize(doc.root(), &C14nOptions::new()),
            Err(Error::InvalidNamespaceUri { .. })
        ));
    }

    #[test]
    fn exclusion_and_single_nodes() {
        let doc = Document::parse(
            b"<r><a>t&amp;<?p d?><!--c--><b/></a></r>",
            &ParseLimits::default(),
        )
        .unwrap();
        let a = doc.root().child_elements().next().unwrap();
        let b = a.child_elements().next().unwrap();
        let out = |node: Node<'_>, options: &C14nOptions| {
            String::from_utf8(canonicalize(node, options).unwrap()).unwrap()
        };
        // Excluding the apex or one of its ancestors leaves nothing.
        assert_eq!(
            out(b.as_node(), &C14nOptions::new().with_excluded(a.id())),
            ""
        );
        assert_eq!(
            out(a.as_node(), &C14nOptions::new().with_excluded(a.id())),
            ""
        );
        assert_eq!(
            out(a.as_node(), &C14nOptions::new().with_excluded(b.id())),
            "<a>t&amp;<?p d?></a>"
        );
        // An id of another document excludes nothing.
        let other = Document::parse(b"<x><y/></x>", &ParseLimits::default()).unwrap();
        let foreign = other.root().child_elements().next().unwrap().id();
        assert_eq!(
            out(b.as_node(), &C14nOptions::new().with_excluded(foreign)),
            "<b></b>"
        );
        // Single non-element nodes.
        let children: Vec<_> = a.children().collect();
        assert_eq!(out(children[0], &C14nOptions::new()), "t&amp;");
        assert_eq!(out(children[1], &C14nOptions::new()), "<?p d?>");
        assert_eq!(out(children[2], &C14nOptions::new()), "");
        assert_eq!(
            out(children[2], &C14nOptions::new().with_comments(true)),
            "<!--c-->"
        );
    }

    #[test]
    fn document_level_nodes() {
        let xml = "<?a?>\n<!--c-->\n<r/>\n<?b  x ?><!--d-->";
        assert_eq!(c14n(xml, &C14nOptions::new()), "<?a?>\n<r></r>\n<?b x ?>");
        assert_eq!(
            c14n(xml, &C14nOptions::new().with_comments(true)),
            "<?a?>\n<!--c-->\n<r></r>\n<?b x ?>\n<!--d-->"
        );
    }
}
