//! A small read-only element tree of an invoice or UPO: local names, attributes and text.
//!
//! The renderer walks three invoice schemas and the UPO with one set of code, and must show
//! elements it has no special layout for; a generic tree serves both better than the generated
//! serde-like types (which differ per schema).

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::Error;

/// One element: its local name, attributes (local names), text (whitespace collapsed) and
/// children in document order.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Node>,
}

impl Node {
    /// The first child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The descendant at a `/`-separated path of local names.
    pub(crate) fn at(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .try_fold(self, |node, part| node.child(part))
    }

    /// The non-empty text of the descendant at `path`.
    pub(crate) fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|n| n.text.as_str())
            .filter(|t| !t.is_empty())
    }

    /// The value of attribute `name` (local name).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the element has no children (a simple value).
    pub(crate) fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }
}

fn local(name: &[u8]) -> String {
    let name = match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(name).into_owned()
}

/// Appends `text` to `out` (empty or ending in a word), collapsing every whitespace run to one space.
fn push_collapsed(out: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(xml: &[u8]) -> Result<Node, Error> {
    let mut reader = Reader::from_reader(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut buf = Vec::new();
    let bad = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        Error::Xml(format!("at byte {}: {e}", reader.buffer_position()))
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(&reader, &e))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let mut node = Node {
                    name: local(start.name().as_ref()),
                    ..Node::default()
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| bad(&reader, &e))?;
                    let key = attr.key.as_ref();
                    if key.starts_with(b"xmlns") {
                        continue;
                    }
                    let value = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| bad(&reader, &e))?
                        .into_owned();
                    node.attrs.push((local(key), value));
                }
                stack.push(node);
                if empty {
                    let node = stack.pop().unwrap_or_default();
                    if let Some(root) = close(&mut stack, node) {
                        return Ok(root);
                    }
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err(bad(&reader, &"closing tag without an opening one"));
                };
                if let Some(root) = close(&mut stack, node) {
                    return Ok(root);
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    let decoded = text.decode().map_err(|e| bad(&reader, &e))?;
                    top.text.push_str(&decoded);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    let decoded = data.decode().map_err(|e| bad(&reader, &e))?;
                    top.text.push_str(&decoded);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| bad(&reader, &e))?;
                    let entity = format!("&{name};");
                    let value =
                        quick_xml::escape::unescape(&entity).map_err(|e| bad(&reader, &e))?;
                    top.text.push_str(&value);
                }
            }
            Event::Eof => return Err(bad(&reader, &"the document ends before its root closes")),
            _ => {}
        }
        buf.clear();
    }
}

fn close(stack: &mut [Node], mut node: Node) -> Option<Node> {
    if !node.text.is_empty() {
        let raw = std::mem::take(&mut node.text);
        push_collapsed(&mut node.text, &raw);
    }
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(node);
            None
        }
        None => Some(node),
    }
}
