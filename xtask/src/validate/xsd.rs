//! A small tree of the XSD files (read with quick-xml) and the set of schema documents one invoice
//! schema pulls in through `xsd:import` / `xsd:include`, resolved to local files only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, anyhow, bail};
use quick_xml::events::{BytesStart, Event};
use url::Url;

use crate::xml::resolver::LocalResolver;

/// The XML Schema namespace.
pub(crate) const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// One element of an XSD file.
#[derive(Debug)]
pub(crate) struct Node {
    /// Namespace of the element (resolved from its prefix).
    pub(crate) ns: String,
    /// Local name.
    pub(crate) name: String,
    /// Attributes by their (unprefixed or `prefix:`) name as written.
    pub(crate) attrs: BTreeMap<String, String>,
    pub(crate) children: Vec<Node>,
    /// Namespace prefixes in scope (`""` is the default namespace).
    pub(crate) scope: Rc<BTreeMap<String, String>>,
}

impl Node {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// Is this `xs:<name>`?
    pub(crate) fn is(&self, name: &str) -> bool {
        self.ns == XS && self.name == name
    }

    /// The XSD children that matter (annotations dropped).
    pub(crate) fn xs_children(&self) -> impl Iterator<Item = &Node> {
        self.children
            .iter()
            .filter(|c| c.ns == XS && c.name != "annotation")
    }

    /// Resolves a QName attribute value against the prefixes in scope.
    pub(crate) fn qname(&self, value: &str) -> Result<(String, String)> {
        let (prefix, local) = value.split_once(':').unwrap_or(("", value));
        let ns = match self.scope.get(prefix) {
            Some(ns) => ns.clone(),
            None if prefix.is_empty() => String::new(),
            None => bail!("undeclared prefix `{prefix}` in QName `{value}`"),
        };
        Ok((ns, local.to_owned()))
    }
}

/// Parses one XSD file into a tree.
pub(crate) fn parse(text: &str, origin: &Path) -> Result<Node> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let root_scope = Rc::new(BTreeMap::from([(
        "xml".to_owned(),
        "http://www.w3.org/XML/1998/namespace".to_owned(),
    )]));
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("{} at byte {}", origin.display(), reader.error_position()))?;
        match event {
            Event::Start(start) => {
                let parent = stack.last().map_or(&root_scope, |n| &n.scope).clone();
                stack.push(node(&start, &parent, reader.decoder())?);
            }
            Event::Empty(start) => {
                let parent = stack.last().map_or(&root_scope, |n| &n.scope).clone();
                let n = node(&start, &parent, reader.decoder())?;
                match stack.last_mut() {
                    Some(top) => top.children.push(n),
                    None => return Ok(n),
                }
            }
            Event::End(_) => {
                let done = stack.pop().context("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(top) => top.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => bail!("{}: no root element", origin.display()),
            _ => {}
        }
    }
}

fn node(
    start: &BytesStart<'_>,
    parent: &Rc<BTreeMap<String, String>>,
    decoder: quick_xml::encoding::Decoder,
) -> Result<Node> {
    let mut attrs = BTreeMap::new();
    let mut scope: Option<BTreeMap<String, String>> = None;
    for attr in start.attributes() {
        let attr = attr?;
        let key = String::from_utf8(attr.key.as_ref().to_vec())?;
        let value = attr.decode_and_unescape_value(decoder)?.into_owned();
        if key == "xmlns" {
            scope
                .get_or_insert_with(|| (**parent).clone())
                .insert(String::new(), value);
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            scope
                .get_or_insert_with(|| (**parent).clone())
                .insert(prefix.to_owned(), value);
        } else {
            attrs.insert(key, value);
        }
    }
    let scope = scope.map_or_else(|| parent.clone(), Rc::new);
    let qname = String::from_utf8(start.name().as_ref().to_vec())?;
    let (prefix, name) = qname.split_once(':').unwrap_or(("", &qname));
    let ns = scope
        .get(prefix)
        .cloned()
        .ok_or_else(|| anyhow!("undeclared prefix `{prefix}` on <{qname}>"))?;
    Ok(Node {
        ns,
        name: name.to_owned(),
        attrs,
        children: Vec::new(),
        scope,
    })
}

/// One schema document: its target namespace, `elementFormDefault`, and tree.
#[derive(Debug)]
pub(crate) struct SchemaDoc {
    pub(crate) target_ns: String,
    pub(crate) qualified: bool,
    pub(crate) root: Node,
    pub(crate) path: PathBuf,
}

/// Reads `main` and every schema it imports or includes, transitively, from local files.
pub(crate) fn load(main: &Path, resolver: &LocalResolver) -> Result<Vec<SchemaDoc>> {
    let mut docs = Vec::new();
    let mut queue = vec![
        main.canonicalize()
            .with_context(|| main.display().to_string())?,
    ];
    while let Some(path) = queue.pop() {
        if docs.iter().any(|d: &SchemaDoc| d.path == path) {
            continue;
        }
        let root = parse(&crate::read(&path)?, &path)?;
        if !root.is("schema") {
            bail!("{}: root element is not xs:schema", path.display());
        }
        let base = Url::from_file_path(&path)
            .map_err(|()| anyhow!("not an absolute path: {}", path.display()))?;
        for child in root.xs_children() {
            if child.is("import") || child.is("include") {
                let location = child.attr("schemaLocation").with_context(|| {
                    format!("{}: {} without schemaLocation", path.display(), child.name)
                })?;
                let url = base.join(location)?;
                let local = resolver.local_path(&url)?;
                queue.push(
                    local
                        .canonicalize()
                        .with_context(|| format!("{location} -> {}", local.display()))?,
                );
            } else if child.is("redefine") || child.is("override") {
                bail!("{}: xs:{} is not supported", path.display(), child.name);
            }
        }
        docs.push(SchemaDoc {
            target_ns: root.attr("targetNamespace").unwrap_or_default().to_owned(),
            qualified: root.attr("elementFormDefault") == Some("qualified"),
            root,
            path,
        });
    }
    Ok(docs)
}
