//! A namespace-aware XML tree, parsed from untrusted input with limits.
//!
//! [`Document::parse`] turns UTF-8 bytes into an immutable tree that follows the XPath 1.0 data model the
//! XML canonicalization specifications are written against:
//!
//! - the document node has the root element and the comments and processing instructions around it as
//!   children (whitespace outside the root element is not kept);
//! - elements carry their prefix, local name and namespace name, their attributes (with namespaces) and the
//!   namespace declarations written on them;
//! - text is stored with character and predefined entity references resolved, CDATA sections merged into the
//!   surrounding text, line ends normalized to `\n` and attribute values normalized as XML 1.0 requires
//!   (a literal tab, line feed or carriage return in an attribute value becomes a space, while one written as
//!   a character reference is kept).
//!
//! Parsing refuses any document type declaration, any encoding but UTF-8 and input beyond the configured
//! [`ParseLimits`]; it never panics.
//!
//! Nodes are reached through borrowed handles: [`Node`] for any node and [`Element`] for elements. A handle's
//! [`NodeId`] is a small copyable key that can be stored and turned back into a handle with
//! [`Document::get`].
//!
//! ```
//! use ksef_xades::xml::{Document, ParseLimits};
//!
//! let xml = br#"<r xmlns="urn:example" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
//!   <ds:Signature Id="Signature"><ds:SignedInfo/></ds:Signature>
//! </r>"#;
//! let doc = Document::parse(xml, &ParseLimits::default())?;
//! assert_eq!(doc.root().namespace(), Some("urn:example"));
//!
//! let signature = doc.element_by_id("Signature")?.expect("present");
//! assert_eq!(signature.local_name(), "Signature");
//! assert_eq!(signature.prefix(), Some("ds"));
//! let signed_info = signature
//!     .find("http://www.w3.org/2000/09/xmldsig#", "SignedInfo")
//!     .expect("present");
//! assert_eq!(signed_info.parent().map(|p| p.id()), Some(signature.id()));
//! # Ok::<(), ksef_xades::Error>(())
//! ```

mod chars;
mod limits;
mod parser;
mod syntax;

pub use limits::ParseLimits;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Position};

/// The namespace bound to the `xml` prefix.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// The namespace of namespace declarations (`xmlns`, `xmlns:*`); no element or attribute may use it.
pub const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// Identifies one node of one [`Document`].
///
/// Ids are cheap to copy, compare and hash. An id only means something to the document it came from (and
/// to clones of it): [`Document::get`] returns `None` for an id of another document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    document: u64,
    index: u32,
}

impl NodeId {
    pub(crate) fn index(self) -> u32 {
        self.index
    }

    pub(crate) fn document(self) -> u64 {
        self.document
    }
}

/// An attribute of an element (namespace declarations are not attributes: see [`NamespaceDecl`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub(crate) prefix: Option<Box<str>>,
    pub(crate) local_name: Box<str>,
    pub(crate) namespace: Option<Box<str>>,
    pub(crate) value: Box<str>,
}

impl Attribute {
    /// The prefix as written, if the name is qualified.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The local part of the name.
    pub fn local_name(&self) -> &str {
        &self.local_name
    }

    /// The namespace name; unprefixed attributes are in no namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The normalized value, with references resolved.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A namespace declaration written on an element: `xmlns="uri"`, `xmlns=""` or `xmlns:prefix="uri"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDecl {
    pub(crate) prefix: Box<str>,
    pub(crate) uri: Box<str>,
}

impl NamespaceDecl {
    /// The declared prefix, or `None` for the default namespace.
    pub fn prefix(&self) -> Option<&str> {
        (!self.prefix.is_empty()).then_some(&*self.prefix)
    }

    /// The namespace name; empty for `xmlns=""`, which undeclares the default namespace.
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ElementData {
    pub(crate) prefix: Option<Box<str>>,
    pub(crate) local_name: Box<str>,
    pub(crate) namespace: Option<Box<str>>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) namespaces: Vec<NamespaceDecl>,
}

#[derive(Clone, Debug)]
pub(crate) enum NodeData {
    Document,
    Element(ElementData),
    Text(Box<str>),
    Comment(Box<str>),
    ProcessingInstruction { target: Box<str>, data: Box<str> },
}

#[derive(Clone, Debug)]
pub(crate) struct NodeEntry {
    pub(crate) parent: Option<u32>,
    pub(crate) first_child: Option<u32>,
    pub(crate) last_child: Option<u32>,
    pub(crate) next_sibling: Option<u32>,
    pub(crate) previous_sibling: Option<u32>,
    pub(crate) position: Position,
    pub(crate) data: NodeData,
}

/// A parsed XML document: an immutable tree of nodes.
///
/// See the [module documentation](self) for what the tree holds and an example.
#[derive(Clone)]
pub struct Document {
    tag: u64,
    nodes: Vec<NodeEntry>,
    root: u32,
    /// The first namespace declaration whose namespace name is not an absolute URI, if any.
    invalid_namespace: Option<(Box<str>, Position)>,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.nodes.len())
            .field("root", &self.root().qualified_name())
            .finish()
    }
}

/// Source of distinct document tags, so that ids of one document are not mistaken for another's.
static NEXT_DOCUMENT_TAG: AtomicU64 = AtomicU64::new(1);

impl Document {
    /// Parses a UTF-8 XML 1.0 document (an optional byte-order mark is skipped).
    ///
    /// # Errors
    ///
    /// Any [`Error`] of the parsing kind: the input is not well-formed or not namespace-well-formed XML, is not
    /// UTF-8, has a document type declaration, or exceeds one of the `limits`.
    pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Document, Error> {
        let parsed = parser::parse(input, limits)?;
        Ok(Document {
            tag: NEXT_DOCUMENT_TAG.fetch_add(1, Ordering::Relaxed),
            nodes: parsed.nodes,
            root: parsed.root,
            invalid_namespace: parsed.invalid_namespace,
        })
    }

    /// The document node: the parent of the root element and of the comments and processing instructions
    /// outside it.
    pub fn as_node(&self) -> Node<'_> {
        Node {
            doc: self,
            index: 0,
        }
    }

    /// The root (document) element.
    pub fn root(&self) -> Element<'_> {
        let node = Node {
            doc: self,
            index: self.root,
        };
        // Invariant: the parser records as `root` only the index of an element node it created.
        node.as_element()
            .expect("the root index always refers to an element")
    }

    /// The node with this id, or `None` if the id belongs to another document.
    pub fn get(&self, id: NodeId) -> Option<Node<'_>> {
        let in_range = usize::try_from(id.index).is_ok_and(|i| i < self.nodes.len());
        (id.document == self.tag && in_range).then_some(Node {
            doc: self,
            index: id.index,
        })
    }

    /// The element whose unqualified `Id` attribute has this value (as used by same-document references
    /// such as `URI="#SignedProperties"` in XML signatures), or `None` if there is none.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] if more than one element carries the value: resolving such a reference would
    /// be ambiguous.
    pub fn element_by_id(&self, id: &str) -> Result<Option<Element<'_>>, Error> {
        let mut found = None;
        let root = self.root();
        for element in std::iter::once(root).chain(root.descendant_elements()) {
            if element.attribute(None, "Id") == Some(id) {
                if found.is_some() {
                    return Err(Error::DuplicateId { id: id.to_owned() });
                }
                found = Some(element);
            }
        }
        Ok(found)
    }

    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// The first namespace declaration whose namespace name is not an absolute URI, with its element's
    /// position.
    pub(crate) fn invalid_namespace(&self) -> Option<(&str, Position)> {
        self.invalid_namespace
            .as_ref()
            .map(|(uri, at)| (&**uri, *at))
    }

    fn entry(&self, index: u32) -> &NodeEntry {
        // Invariant: every index reaching here is in range. Links and the root index are produced by the
        // parser for this very vector, handles are only created from them, and `get` checks the range of
        // ids it is given.
        &self.nodes[index as usize]
    }
}

/// What a node is, with its content.
///
/// Complete by definition: these are the node kinds of the XPath data model that live in the tree
/// (attributes and namespace declarations are reached through their [`Element`]).
#[derive(Clone, Copy, Debug)]
#[allow(clippy::exhaustive_enums)]
pub enum NodeKind<'a> {
    /// The document node.
    Document,
    /// An element.
    Element(Element<'a>),
    /// Character data (text and CDATA sections), with references resolved.
    Text(&'a str),
    /// A comment's content, between `<!--` and `-->`.
    Comment(&'a str),
    /// A processing instruction.
    ProcessingInstruction {
        /// The target name.
        target: &'a str,
        /// Everything after the whitespace that follows the target, up to `?>`; may be empty.
        data: &'a str,
    },
}

/// A handle to any node of a [`Document`].
#[derive(Clone, Copy)]
pub struct Node<'a> {
    doc: &'a Document,
    index: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.index == other.index
    }
}

impl Eq for Node<'_> {}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            NodeKind::Document => f.write_str("Node(document)"),
            NodeKind::Element(e) => write!(f, "Node(<{}> #{})", e.qualified_name(), self.index),
            NodeKind::Text(t) => write!(f, "Node(text {:?} #{})", t, self.index),
            NodeKind::Comment(_) => write!(f, "Node(comment #{})", self.index),
            NodeKind::ProcessingInstruction { target, .. } => {
                write!(f, "Node(<?{}?> #{})", target, self.index)
            }
        }
    }
}

impl<'a> Node<'a> {
    fn entry(&self) -> &'a NodeEntry {
        self.doc.entry(self.index)
    }

    fn at(&self, index: Option<u32>) -> Option<Node<'a>> {
        index.map(|index| Node {
            doc: self.doc,
            index,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        NodeId {
            document: self.doc.tag,
            index: self.index,
        }
    }

    /// The document this node belongs to.
    pub fn document(&self) -> &'a Document {
        self.doc
    }

    /// What the node is, with its content.
    pub fn kind(&self) -> NodeKind<'a> {
        match &self.entry().data {
            NodeData::Document => NodeKind::Document,
            NodeData::Element(data) => NodeKind::Element(Element { node: *self, data }),
            NodeData::Text(text) => NodeKind::Text(text),
            NodeData::Comment(text) => NodeKind::Comment(text),
            NodeData::ProcessingInstruction { target, data } => {
                NodeKind::ProcessingInstruction { target, data }
            }
        }
    }

    /// The element handle, if this node is an element.
    pub fn as_element(&self) -> Option<Element<'a>> {
        match self.kind() {
            NodeKind::Element(element) => Some(element),
            _ => None,
        }
    }

    /// The text, if this node is a text node.
    pub fn text(&self) -> Option<&'a str> {
        match self.kind() {
            NodeKind::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Where the node starts in the input (for the document node, the start of the input).
    pub fn position(&self) -> Position {
        self.entry().position
    }

    /// The parent node (`None` for the document node).
    pub fn parent(&self) -> Option<Node<'a>> {
        self.at(self.entry().parent)
    }

    /// The parent element (`None` for the document node and the nodes at the top level).
    pub fn parent_element(&self) -> Option<Element<'a>> {
        self.parent().and_then(|p| p.as_element())
    }

    /// The first child node.
    pub fn first_child(&self) -> Option<Node<'a>> {
        self.at(self.entry().first_child)
    }

    /// The last child node.
    pub fn last_child(&self) -> Option<Node<'a>> {
        self.at(self.entry().last_child)
    }

    /// The next sibling node.
    pub fn next_sibling(&self) -> Option<Node<'a>> {
        self.at(self.entry().next_sibling)
    }

    /// The previous sibling node.
    pub fn previous_sibling(&self) -> Option<Node<'a>> {
        self.at(self.entry().previous_sibling)
    }

    /// The child nodes, in document order.
    pub fn children(&self) -> Children<'a> {
        Children {
            next: self.first_child(),
        }
    }

    /// All nodes below this one (not this one), in document order.
    pub fn descendants(&self) -> Descendants<'a> {
        Descendants {
            apex: *self,
            next: self.first_child(),
        }
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_ancestor_or_self_of(&self, other: Node<'_>) -> bool {
        if !std::ptr::eq(self.doc, other.doc) {
            return false;
        }
        let mut current = Some(other.index);
        while let Some(index) = current {
            if index == self.index {
                return true;
            }
            current = self.doc.entry(index).parent;
        }
        false
    }
}

impl<'a> From<Element<'a>> for Node<'a> {
    fn from(element: Element<'a>) -> Self {
        element.node
    }
}

/// Iterator over the children of a node; see [`Node::children`].
#[derive(Clone, Debug)]
pub struct Children<'a> {
    next: Option<Node<'a>>,
}

impl<'a> Iterator for Children<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        let current = self.next?;
        self.next = current.next_sibling();
        Some(current)
    }
}

/// Iterator over the nodes below a node, in document order; see [`Node::descendants`].
#[derive(Clone, Debug)]
pub struct Descendants<'a> {
    apex: Node<'a>,
    next: Option<Node<'a>>,
}

impl<'a> Iterator for Descendants<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        let current = self.next?;
        self.next = current.first_child().or_else(|| {
            // Climb until a node with a following sibling, stopping at the apex.
            let mut node = current;
            loop {
                if node == self.apex {
                    return None;
                }
                if let Some(sibling) = node.next_sibling() {
                    return Some(sibling);
                }
                node = node.parent()?;
            }
        });
        Some(current)
    }
}

/// A handle to an element of a [`Document`].
#[derive(Clone, Copy)]
pub struct Element<'a> {
    node: Node<'a>,
    data: &'a ElementData,
}

impl PartialEq for Element<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl Eq for Element<'_> {}

impl fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Element(<{}> #{})",
            self.qualified_name(),
            self.node.index
        )
    }
}

impl<'a> Element<'a> {
    /// The element as a plain node handle.
    pub fn as_node(&self) -> Node<'a> {
        self.node
    }

    /// This element's id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// The document this element belongs to.
    pub fn document(&self) -> &'a Document {
        self.node.doc
    }

    /// Where the start tag begins in the input.
    pub fn position(&self) -> Position {
        self.node.position()
    }

    /// The prefix as written, if the name is qualified.
    pub fn prefix(&self) -> Option<&'a str> {
        self.data.prefix.as_deref()
    }

    /// The local part of the name.
    pub fn local_name(&self) -> &'a str {
        &self.data.local_name
    }

    /// The name as written: `prefix:local` or `local`.
    pub fn qualified_name(&self) -> String {
        match self.prefix() {
            Some(prefix) => format!("{prefix}:{}", self.local_name()),
            None => self.local_name().to_owned(),
        }
    }

    /// The namespace name, or `None` for an element in no namespace.
    pub fn namespace(&self) -> Option<&'a str> {
        self.data.namespace.as_deref()
    }

    /// Whether the element has this namespace name and local name.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace() == Some(namespace) && self.local_name() == local_name
    }

    /// The attributes, in the order written (namespace declarations excluded).
    pub fn attributes(&self) -> &'a [Attribute] {
        &self.data.attributes
    }

    /// The value of the attribute with this namespace name (`None` for an unprefixed attribute) and local name.
    pub fn attribute(&self, namespace: Option<&str>, local_name: &str) -> Option<&'a str> {
        self.data
            .attributes
            .iter()
            .find(|a| a.namespace() == namespace && a.local_name() == local_name)
            .map(|a| a.value())
    }

    /// The namespace declarations written on this element, in the order written.
    pub fn namespace_declarations(&self) -> &'a [NamespaceDecl] {
        &self.data.namespaces
    }

    /// The namespace name a prefix (`None` for the default namespace) is bound to at this element,
    /// following declarations on its ancestors; `None` if unbound. `xml` is always bound to
    /// [`XML_NAMESPACE`].
    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&'a str> {
        let wanted = prefix.unwrap_or("");
        if wanted == "xml" {
            return Some(XML_NAMESPACE);
        }
        let mut current = Some(*self);
        while let Some(element) = current {
            if let Some(decl) = element
                .data
                .namespaces
                .iter()
                .find(|d| &*d.prefix == wanted)
            {
                return (!decl.uri.is_empty()).then_some(&*decl.uri);
            }
            current = element.parent();
        }
        None
    }

    /// All namespace bindings in scope at this element, nearest declaration first for each prefix and sorted
    /// by prefix (default namespace first). The implicit `xml` binding and an undeclared default namespace
    /// (`xmlns=""`) are not listed.
    pub fn in_scope_namespaces(&self) -> Vec<&'a NamespaceDecl> {
        let mut seen: Vec<&'a NamespaceDecl> = Vec::new();
        let mut current = Some(*self);
        while let Some(element) = current {
            for decl in &element.data.namespaces {
                if !seen.iter().any(|s| s.prefix == decl.prefix) {
                    seen.push(decl);
                }
            }
            current = element.parent();
        }
        seen.retain(|d| !d.uri.is_empty() && &*d.prefix != "xml");
        seen.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        seen
    }

    /// The parent element (`None` for the root element).
    pub fn parent(&self) -> Option<Element<'a>> {
        self.node.parent_element()
    }

    /// The child nodes, in document order.
    pub fn children(&self) -> Children<'a> {
        self.node.children()
    }

    /// The child elements, in document order.
    pub fn child_elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        self.node.children().filter_map(|n| n.as_element())
    }

    /// The elements below this one (not this one), in document order.
    pub fn descendant_elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        self.node.descendants().filter_map(|n| n.as_element())
    }

    /// The first child element with this namespace name and local name.
    pub fn child(&self, namespace: &str, local_name: &str) -> Option<Element<'a>> {
        self.child_elements().find(|e| e.is(namespace, local_name))
    }

    /// The first element below this one, in document order, with this namespace name and local name.
    pub fn find(&self, namespace: &str, local_name: &str) -> Option<Element<'a>> {
        self.descendant_elements()
            .find(|e| e.is(namespace, local_name))
    }

    /// The concatenated text of all text nodes below this element, in document order.
    pub fn text_content(&self) -> String {
        self.node.descendants().filter_map(|n| n.text()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Document {
        Document::parse(xml.as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn walks_the_tree() {
        let doc = parse(
            "<?pi x?><!--c--><r xmlns='urn:r' xmlns:p='urn:p' a='1' p:b='2'>t<p:x><y/>u</p:x><![CDATA[<v>]]>&amp;</r><!--d-->",
        );
        let top: Vec<_> = doc.as_node().children().map(|n| n.kind()).collect();
        assert!(matches!(
            top[0],
            NodeKind::ProcessingInstruction {
                target: "pi",
                data: "x"
            }
        ));
        assert!(matches!(top[1], NodeKind::Comment("c")));
        assert!(matches!(top[2], NodeKind::Element(_)));
        assert!(matches!(top[3], NodeKind::Comment("d")));
        let root = doc.root();
        assert_eq!(root.namespace(), Some("urn:r"));
        assert_eq!(root.attribute(None, "a"), Some("1"));
        assert_eq!(root.attribute(Some("urn:p"), "b"), Some("2"));
        assert_eq!(root.attribute(None, "b"), None);
        let x = root.find("urn:p", "x").unwrap();
        let y = x.child("urn:r", "y").unwrap();
        assert_eq!(y.lookup_namespace(Some("p")), Some("urn:p"));
        assert_eq!(y.lookup_namespace(Some("xml")), Some(XML_NAMESPACE));
        assert_eq!(y.lookup_namespace(Some("q")), None);
        assert_eq!(root.text_content(), "tu<v>&");
        let texts: Vec<_> = root.children().filter_map(|n| n.text()).collect();
        assert_eq!(texts, ["t", "<v>&"]);
        let names: Vec<_> = root
            .descendant_elements()
            .map(|e| e.qualified_name())
            .collect();
        assert_eq!(names, ["p:x", "y"]);
        assert_eq!(doc.get(y.id()).and_then(|n| n.as_element()), Some(y));
        assert!(root.as_node().is_ancestor_or_self_of(y.as_node()));
        assert!(!y.as_node().is_ancestor_or_self_of(root.as_node()));
        let in_scope: Vec<_> = y
            .in_scope_namespaces()
            .iter()
            .map(|d| (d.prefix(), d.uri()))
            .collect();
        assert_eq!(in_scope, [(None, "urn:r"), (Some("p"), "urn:p")]);
    }

    #[test]
    fn ids_do_not_cross_documents() {
        let a = parse("<a/>");
        let b = parse("<b/>");
        assert!(b.get(a.root().id()).is_none());
        assert!(a.get(a.root().id()).is_some());
    }

    #[test]
    fn element_by_id() {
        let doc = parse("<r><a Id='x'/><b Id='y'/><c Id='y'/></r>");
        assert_eq!(doc.element_by_id("x").unwrap().unwrap().local_name(), "a");
        assert!(doc.element_by_id("z").unwrap().is_none());
        assert!(matches!(
            doc.element_by_id("y"),
            Err(Error::DuplicateId { .. })
        ));
    }
}
