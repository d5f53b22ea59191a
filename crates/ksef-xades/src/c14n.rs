//! W3C Exclusive XML Canonicalization 1.0, over a parsed [`Document`](crate::xml::Document).
//!
//! [`canonicalize`] renders a node and everything below it (the document node for a whole document, an
//! element for a subtree such as `SignedInfo` or `SignedProperties`) as canonical UTF-8 bytes, following
//! <https://www.w3.org/TR/xml-exc-c14n/> and, for everything it does not change, Canonical XML 1.0
//! (<https://www.w3.org/TR/xml-c14n/>):
//!
//! - a namespace declaration is written on an element only where the element or one of its attributes uses
//!   the prefix ("visibly utilizes" it) and the nearest output ancestor has not already rendered the same
//!   binding; `xmlns=""` is written on an unprefixed element in no namespace only where an output ancestor
//!   rendered a non-empty default namespace. Prefixes on the InclusiveNamespaces PrefixList (`#default` for
//!   the default namespace) are instead rendered wherever they are in scope and not already rendered, as in
//!   inclusive canonicalization. The `xml` prefix is never declared;
//! - namespace declarations are sorted by prefix (the default namespace first) and attributes by namespace
//!   name, then local name (unqualified attributes first); empty elements become start-end tag pairs;
//! - text escapes `&`, `<`, `>` and carriage return; attribute values escape `&`, `<`, `"`, tab, line feed
//!   and carriage return; all whitespace inside the root element is kept;
//! - comments are dropped unless [`C14nOptions::with_comments`] is set; processing instructions are kept.
//!   For a whole document, those before the root element are followed by a line feed and those after it are
//!   preceded by one, and whitespace outside the root element is dropped;
//! - `xml:*` attributes of ancestors are not copied into a subtree (unlike inclusive canonicalization);
//! - optionally, one subtree is left out entirely: the enveloped-signature transform removes the
//!   `Signature` element this way before a whole document is digested.
//!
//! A document that declares a namespace name which is not an absolute URI cannot be canonicalized
//! ([`Error::InvalidNamespaceUri`]); Canonical XML requires this failure for relative namespace URIs.
//!
//! ```
//! use ksef_xades::c14n::{canonicalize, C14nOptions};
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
//! // A subtree: namespaces used inside it are declared on its top element.
//! let signed_info = signature.find("http://www.w3.org/2000/09/xmldsig#", "SignedInfo").expect("present");
//! assert_eq!(
//!     canonicalize(signed_info, &C14nOptions::new())?,
//!     b"<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"></ds:SignedInfo>"
//! );
//! # Ok::<(), ksef_xades::Error>(())
//! ```

use crate::error::Error;
use crate::xml::{Element, Node, NodeId, NodeKind};

/// Algorithm URI of Exclusive XML Canonicalization 1.0 without comments.
pub const ALGORITHM: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Algorithm URI of Exclusive XML Canonicalization 1.0 with comments.
pub const ALGORITHM_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Namespace of the `InclusiveNamespaces` element that carries the PrefixList parameter.
pub const INCLUSIVE_NAMESPACES_NAMESPACE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Parameters of one canonicalization.
///
/// The default is plain exclusive canonicalization without comments: nothing excluded and an empty
/// InclusiveNamespaces PrefixList.
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
    exclude: Option<NodeId>,
    inclusive_prefixes: Vec<String>,
    with_comments: bool,
}

impl C14nOptions {
    /// Plain exclusive canonicalization without comments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves out the node with this id and everything below it, as the enveloped-signature transform does
    /// with the `Signature` element. An id of another document excludes nothing.
    pub fn with_excluded(mut self, node: NodeId) -> Self {
        self.exclude = Some(node);
        self
    }

    /// Sets the InclusiveNamespaces PrefixList: prefixes to treat as in inclusive canonicalization, with
    /// `#default` standing for the default namespace.
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
/// For the document node this is the whole document; for an element, the subtree it heads, with the
/// namespace bindings of its ancestors available (exclusive canonicalization renders those the subtree
/// uses); for a text, comment or processing-instruction node, that node alone.
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

        self.start_tag(apex, &mut scope, &mut rendered, &mut stack, out);
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
                    self.start_tag(element, &mut scope, &mut rendered, &mut stack, out)
                }
                _ => self.leaf(child, out),
            }
        }
    }

    fn start_tag<'a>(
        &self,
        element: Element<'a>,
        scope: &mut Vec<(&'a str, &'a str)>,
        rendered: &mut Vec<(&'a str, &'a str)>,
        stack: &mut Vec<Frame<'a>>,
        out: &mut Vec<u8>,
    ) {
        let scope_len = scope.len();
        let rendered_len = rendered.len();
        push_declarations(element, scope);

        // Prefixes whose bindings may need rendering here: those the element visibly utilizes, then those on
        // the PrefixList that are in scope.
        let mut candidates: Vec<&str> = Vec::new();
        candidates.push(element.prefix().unwrap_or(""));
        candidates.extend(element.attributes().iter().filter_map(|a| a.prefix()));
        for &prefix in &self.inclusive {
            // A listed default namespace counts even when it is undeclared (it may need `xmlns=""`).
            if prefix.is_empty() || lookup(scope, prefix).is_some() {
                candidates.push(prefix);
            }
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
        let mut attributes: Vec<_> = element.attributes().iter().collect();
        attributes.sort_by(|a, b| {
            (a.namespace().unwrap_or(""), a.local_name())
                .cmp(&(b.namespace().unwrap_or(""), b.local_name()))
        });
        for attribute in attributes {
            out.push(b' ');
            write_qname(attribute.prefix(), attribute.local_name(), out);
            out.extend_from_slice(b"=\"");
            escape_attribute(attribute.value(), out);
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
