//! Builds the tree from quick-xml events, checking what quick-xml leaves to its user: namespaces, names,
//! references, characters, document structure and limits.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::chars::{is_name, is_xml_char, is_xml_whitespace, resolve_reference, split_qname};
use super::syntax::{
    attribute_value, attributes_separated, check_declaration, is_absolute_uri, xml_declaration,
};
use super::{
    Attribute, ElementData, NamespaceDecl, NodeData, NodeEntry, ParseLimits, XML_NAMESPACE,
    XMLNS_NAMESPACE,
};
use crate::error::{Error, Position, SyntaxError};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The input after decoding and line-end normalization, with what is needed to report positions in terms
/// of the original bytes.
struct Source<'a> {
    text: Cow<'a, str>,
    /// Bytes skipped before `text` (a byte-order mark).
    skipped: usize,
    /// Offsets in `text` of the line feeds that replaced a carriage-return/line-feed pair (one byte shorter).
    shortened_at: Vec<usize>,
    /// Offsets in `text` where lines start.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(input: &'a [u8]) -> Result<Self, Error> {
        let (skipped, body) = match input.strip_prefix(BOM) {
            Some(rest) => (BOM.len(), rest),
            None => (0, input),
        };
        let text = std::str::from_utf8(body).map_err(|e| Error::InvalidUtf8 {
            offset: skipped + e.valid_up_to(),
        })?;

        let mut line_starts = vec![0];
        let mut shortened_at = Vec::new();
        let needs_rewrite = text.contains('\r');
        let mut normalized = String::with_capacity(if needs_rewrite { text.len() } else { 0 });
        let mut chars = text.char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            if !is_xml_char(c) {
                // Report the position in the original input; lines so far are already counted.
                let line = line_starts.len();
                return Err(Error::InvalidCharacter {
                    code_point: u32::from(c),
                    at: Position::new(skipped + offset, line),
                });
            }
            // Line ends: CR LF and a lone CR both become LF (XML 1.0, section 2.11).
            let c = if c == '\r' {
                if chars.peek().is_some_and(|&(_, next)| next == '\n') {
                    chars.next();
                    shortened_at.push(normalized.len());
                }
                '\n'
            } else {
                c
            };
            let out_len = if needs_rewrite {
                normalized.push(c);
                normalized.len()
            } else {
                offset + c.len_utf8()
            };
            if c == '\n' {
                line_starts.push(out_len);
            }
        }
        let text = if needs_rewrite {
            Cow::Owned(normalized)
        } else {
            Cow::Borrowed(text)
        };
        Ok(Source {
            text,
            skipped,
            shortened_at,
            line_starts,
        })
    }

    /// Position in the original input of an offset into the normalized text.
    fn position(&self, offset: usize) -> Position {
        let shortened = self.shortened_at.partition_point(|&o| o <= offset);
        let line = self.line_starts.partition_point(|&start| start <= offset);
        Position::new(self.skipped + offset + shortened, line.max(1))
    }
}

struct OpenElement {
    index: u32,
    qname: String,
    scope_len: usize,
}

struct Builder<'s> {
    source: &'s Source<'s>,
    limits: &'s ParseLimits,
    nodes: Vec<NodeEntry>,
    open: Vec<OpenElement>,
    /// In-scope namespace bindings, innermost last: (prefix, uri), "" for the default prefix and for an
    /// undeclared default namespace.
    scope: Vec<(Box<str>, Box<str>)>,
    root: Option<u32>,
    /// Character data gathered from consecutive text, reference and CDATA events, with its start offset.
    text: Option<(String, usize)>,
    invalid_namespace: Option<(Box<str>, Position)>,
}

/// What the parser hands to [`Document`](super::Document).
pub(super) struct Parsed {
    pub(super) nodes: Vec<NodeEntry>,
    pub(super) root: u32,
    pub(super) invalid_namespace: Option<(Box<str>, Position)>,
}

pub(super) fn parse(input: &[u8], limits: &ParseLimits) -> Result<Parsed, Error> {
    if input.len() > limits.max_input_bytes {
        return Err(Error::InputTooLarge {
            size: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    let source = Source::new(input)?;
    let mut builder = Builder {
        source: &source,
        limits,
        nodes: vec![NodeEntry {
            parent: None,
            first_child: None,
            last_child: None,
            next_sibling: None,
            previous_sibling: None,
            position: source.position(0),
            data: NodeData::Document,
        }],
        open: Vec::new(),
        scope: vec![("xml".into(), XML_NAMESPACE.into())],
        root: None,
        text: None,
        invalid_namespace: None,
    };

    let mut reader = Reader::from_str(&source.text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_comments = true;
    // End tags are matched against the open elements here, with our own error.
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = false;
    config.trim_markup_names_in_closing_tags = true;

    loop {
        let start = to_usize(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let at = source.position(to_usize(reader.error_position()));
                return Err(match error {
                    quick_xml::Error::Syntax(quick_xml::errors::SyntaxError::UnclosedDoctype) => {
                        Error::DoctypeForbidden { at }
                    }
                    error => Error::Syntax {
                        at,
                        source: SyntaxError(error),
                    },
                });
            }
        };
        match event {
            Event::Text(text) => {
                let text = builder.decode(&text, start)?;
                builder.character_data(text, start)?;
            }
            Event::GeneralRef(reference) => {
                let name = builder.decode(&reference, start)?;
                let resolved = resolve_reference(name).ok_or_else(|| Error::InvalidReference {
                    reference: name.to_owned(),
                    at: source.position(start),
                })?;
                builder.append_text(resolved.encode_utf8(&mut [0; 4]), start)?;
            }
            Event::CData(cdata) => {
                let text = builder.decode(&cdata, start)?;
                builder.append_text(text, start)?;
            }
            Event::Start(tag) => {
                builder.flush_text()?;
                builder.start_element(&tag, start, false)?;
            }
            Event::Empty(tag) => {
                builder.flush_text()?;
                builder.start_element(&tag, start, true)?;
            }
            Event::End(tag) => {
                builder.flush_text()?;
                let name = builder.decode(tag.name().into_inner(), start)?;
                builder.end_element(name, start)?;
            }
            Event::Comment(comment) => {
                builder.flush_text()?;
                let text = builder.decode(&comment, start)?;
                builder.add_leaf(NodeData::Comment(text.into()), start)?;
            }
            Event::PI(pi) => {
                builder.flush_text()?;
                let target = builder.decode(pi.target(), start)?;
                if target.eq_ignore_ascii_case("xml") {
                    return Err(Error::ReservedProcessingInstruction {
                        target: target.to_owned(),
                        at: source.position(start),
                    });
                }
                if !is_name(target) {
                    return Err(Error::InvalidName {
                        name: target.to_owned(),
                        at: source.position(start),
                    });
                }
                let content = builder.decode(pi.content(), start)?;
                let data = content.trim_start_matches(is_xml_whitespace);
                builder.add_leaf(
                    NodeData::ProcessingInstruction {
                        target: target.into(),
                        data: data.into(),
                    },
                    start,
                )?;
            }
            Event::Decl(_) => {
                let at = source.position(start);
                if start != 0 {
                    return Err(Error::MisplacedXmlDeclaration { at });
                }
                // quick-xml does not check the declaration's grammar, so it is read here from the text.
                let end = to_usize(reader.buffer_position());
                let raw = source.text.get(start..end).unwrap_or_default();
                let (version, encoding) =
                    xml_declaration(raw).ok_or(Error::MalformedXmlDeclaration { at })?;
                if version != "1.0" {
                    return Err(Error::UnsupportedVersion {
                        version: version.to_owned(),
                        at,
                    });
                }
                if let Some(name) = encoding
                    && !name.eq_ignore_ascii_case("utf-8")
                    && !name.eq_ignore_ascii_case("utf8")
                {
                    return Err(Error::UnsupportedEncoding {
                        encoding: name.to_owned(),
                        at,
                    });
                }
            }
            Event::DocType(_) => {
                return Err(Error::DoctypeForbidden {
                    at: source.position(start),
                });
            }
            Event::Eof => break,
        }
    }
    builder.flush_text()?;
    if let Some(open) = builder.open.last() {
        return Err(Error::UnexpectedEof {
            at: source.position(source.text.len()),
            open: open.qname.clone(),
        });
    }
    let root = builder.root.ok_or(Error::MissingRootElement)?;
    Ok(Parsed {
        nodes: builder.nodes,
        root,
        invalid_namespace: builder.invalid_namespace,
    })
}

fn to_usize(offset: u64) -> usize {
    // Offsets index a string held in memory, so they always fit.
    usize::try_from(offset).unwrap_or(usize::MAX)
}

impl<'s> Builder<'s> {
    fn at(&self, offset: usize) -> Position {
        self.source.position(offset)
    }

    /// The events borrow from the input, which is a `str`, and split it at ASCII delimiters only, so this
    /// does not fail in practice; an error is still reported rather than assumed away.
    fn decode<'b>(&self, bytes: &'b [u8], start: usize) -> Result<&'b str, Error> {
        std::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 {
            offset: self.at(start).offset + e.valid_up_to(),
        })
    }

    /// Literal character data from a text event.
    fn character_data(&mut self, text: &str, start: usize) -> Result<(), Error> {
        if self.open.is_empty() {
            if !text.chars().all(is_xml_whitespace) {
                return Err(Error::TextOutsideRoot { at: self.at(start) });
            }
            return Ok(());
        }
        if text.contains("]]>") {
            return Err(Error::CdataEndInText { at: self.at(start) });
        }
        self.append_text(text, start)
    }

    fn append_text(&mut self, text: &str, start: usize) -> Result<(), Error> {
        if self.open.is_empty() {
            return Err(Error::TextOutsideRoot { at: self.at(start) });
        }
        match &mut self.text {
            Some((buffer, _)) => buffer.push_str(text),
            None => self.text = Some((text.to_owned(), start)),
        }
        Ok(())
    }

    fn flush_text(&mut self) -> Result<(), Error> {
        if let Some((text, start)) = self.text.take() {
            self.add_leaf(NodeData::Text(text.into()), start)?;
        }
        Ok(())
    }

    fn parent_index(&self) -> u32 {
        self.open.last().map_or(0, |open| open.index)
    }

    /// Appends a node as the last child of the innermost open element (or of the document).
    fn push_node(&mut self, data: NodeData, start: usize) -> Result<u32, Error> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(Error::TooManyNodes {
                limit: self.limits.max_nodes,
                at: self.at(start),
            });
        }
        let index = u32::try_from(self.nodes.len()).map_err(|_| Error::TooManyNodes {
            limit: self.limits.max_nodes,
            at: self.at(start),
        })?;
        let parent = self.parent_index();
        let previous = self.nodes[parent as usize].last_child;
        self.nodes.push(NodeEntry {
            parent: Some(parent),
            first_child: None,
            last_child: None,
            next_sibling: None,
            previous_sibling: previous,
            position: self.at(start),
            data,
        });
        // `parent` and `previous` are indices of nodes already in the vector.
        match previous {
            Some(previous) => self.nodes[previous as usize].next_sibling = Some(index),
            None => self.nodes[parent as usize].first_child = Some(index),
        }
        self.nodes[parent as usize].last_child = Some(index);
        Ok(index)
    }

    fn add_leaf(&mut self, data: NodeData, start: usize) -> Result<(), Error> {
        self.push_node(data, start).map(|_| ())
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| &**p == prefix)
            .map(|(_, uri)| &**uri)
    }

    fn start_element(
        &mut self,
        tag: &BytesStart<'_>,
        start: usize,
        empty: bool,
    ) -> Result<(), Error> {
        let at = self.at(start);
        if self.open.len() >= self.limits.max_depth {
            return Err(Error::DepthLimitExceeded {
                limit: self.limits.max_depth,
                at,
            });
        }
        let qname = self.decode(tag.name().into_inner(), start)?;
        if self.open.is_empty() && self.root.is_some() {
            return Err(Error::MultipleRootElements {
                name: qname.to_owned(),
                at,
            });
        }
        let (prefix, local_name) = split_qname(qname).ok_or_else(|| Error::InvalidName {
            name: qname.to_owned(),
            at,
        })?;

        if !attributes_separated(tag.attributes_raw()) {
            return Err(Error::AttributesNotSeparated { at });
        }

        // Attributes and namespace declarations, as written.
        let mut written: Vec<(Option<&str>, &str, String)> = Vec::new();
        let mut declarations: Vec<NamespaceDecl> = Vec::new();
        let mut count = 0usize;
        for attribute in tag.attributes().with_checks(true) {
            let attribute = attribute.map_err(|error| Error::Syntax {
                at,
                source: SyntaxError(error.into()),
            })?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(Error::TooManyAttributes {
                    limit: self.limits.max_attributes,
                    at,
                });
            }
            let name = self.decode(attribute.key.into_inner(), start)?;
            let raw = attribute.value.as_ref();
            if raw.len() > self.limits.max_attribute_value_bytes {
                return Err(Error::AttributeTooLarge {
                    name: name.to_owned(),
                    size: raw.len(),
                    limit: self.limits.max_attribute_value_bytes,
                    at,
                });
            }
            let value = attribute_value(self.decode(raw, start)?, name, at)?;
            let declared = if name == "xmlns" {
                Some("")
            } else {
                name.strip_prefix("xmlns:")
            };
            match declared {
                Some(declared) => {
                    // `xmlns:` with nothing after it is not a declaration of the default namespace.
                    let prefix_valid =
                        name == "xmlns" || split_qname(declared).is_some_and(|(p, _)| p.is_none());
                    if !prefix_valid {
                        return Err(Error::InvalidName {
                            name: name.to_owned(),
                            at,
                        });
                    }
                    check_declaration(declared, &value, at)?;
                    if !value.is_empty()
                        && !is_absolute_uri(&value)
                        && self.invalid_namespace.is_none()
                    {
                        self.invalid_namespace = Some((value.as_str().into(), at));
                    }
                    declarations.push(NamespaceDecl {
                        prefix: declared.into(),
                        uri: value.into(),
                    });
                }
                None => {
                    let (attr_prefix, attr_local) =
                        split_qname(name).ok_or_else(|| Error::InvalidName {
                            name: name.to_owned(),
                            at,
                        })?;
                    written.push((attr_prefix, attr_local, value));
                }
            }
        }

        let scope_len = self.scope.len();
        self.scope.extend(
            declarations
                .iter()
                .map(|d| (d.prefix.clone(), d.uri.clone())),
        );

        let namespace = match prefix {
            Some(prefix) => Some(self.lookup(prefix).ok_or_else(|| Error::UndeclaredPrefix {
                prefix: prefix.to_owned(),
                at,
            })?),
            None => self.lookup("").filter(|uri| !uri.is_empty()),
        };
        if namespace == Some(XMLNS_NAMESPACE) || prefix == Some("xmlns") {
            return Err(Error::InvalidName {
                name: qname.to_owned(),
                at,
            });
        }
        let namespace: Option<Box<str>> = namespace.map(Into::into);

        let mut attributes = Vec::with_capacity(written.len());
        for (attr_prefix, attr_local, value) in written {
            let attr_namespace = match attr_prefix {
                Some(p) => Some(Box::<str>::from(self.lookup(p).ok_or_else(|| {
                    Error::UndeclaredPrefix {
                        prefix: p.to_owned(),
                        at,
                    }
                })?)),
                None => None,
            };
            attributes.push(Attribute {
                prefix: attr_prefix.map(Into::into),
                local_name: attr_local.into(),
                namespace: attr_namespace,
                value: value.into(),
            });
        }
        // No two attributes may share namespace name and local name (the tokenizer already refused two with
        // the same qualified name).
        let mut names: Vec<(Option<&str>, &str)> = attributes
            .iter()
            .map(|a| (a.namespace(), a.local_name()))
            .collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            let (namespace, local) = pair[1];
            return Err(Error::DuplicateAttribute {
                name: match namespace {
                    Some(ns) => format!("{{{ns}}}{local}"),
                    None => local.to_owned(),
                },
                at,
            });
        }

        let index = self.push_node(
            NodeData::Element(ElementData {
                prefix: prefix.map(Into::into),
                local_name: local_name.into(),
                namespace,
                attributes,
                namespaces: declarations,
            }),
            start,
        )?;
        if self.open.is_empty() {
            self.root = Some(index);
        }
        if empty {
            self.scope.truncate(scope_len);
        } else {
            self.open.push(OpenElement {
                index,
                qname: qname.to_owned(),
                scope_len,
            });
        }
        Ok(())
    }

    fn end_element(&mut self, name: &str, start: usize) -> Result<(), Error> {
        let at = self.at(start);
        match self.open.pop() {
            None => Err(Error::UnexpectedEndTag {
                name: name.to_owned(),
                at,
            }),
            Some(open) if open.qname != name => Err(Error::MismatchedEndTag {
                expected: open.qname,
                found: name.to_owned(),
                at,
            }),
            Some(open) => {
                self.scope.truncate(open.scope_len);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_back_to_the_input() {
        let source = Source::new(b"\xEF\xBB\xBFa\r\nb\rc\nd").unwrap();
        assert_eq!(&*source.text, "a\nb\nc\nd");
        assert_eq!(source.position(0), Position::new(3, 1));
        assert_eq!(source.position(2), Position::new(6, 2)); // 'b'
        assert_eq!(source.position(4), Position::new(8, 3)); // 'c'
        assert_eq!(source.position(6), Position::new(10, 4)); // 'd'
    }
}
