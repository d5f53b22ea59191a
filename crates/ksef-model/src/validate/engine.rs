//! The streaming validator: one pass of quick-xml events, a stack of open elements, the content
//! model of each element matched against its children when it closes.

mod content;
mod scopes;

use std::sync::OnceLock;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, NamespaceResolver, ResolveResult};
use quick_xml::reader::{NsReader, Reader};
use regex::Regex;

use self::scopes::{Scopes, ns_str};
use super::tables::{Content, SchemaTables, TypeRef};
use super::{Report, Rule, Schema, ValidateError, Violation, simple};

/// A child the parent's type does not declare.
const UNKNOWN: u16 = u16::MAX;

const XSI: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

/// The compiled patterns of each schema, indexed by its discriminant (declaration order).
static REGEX_CACHE: [OnceLock<Vec<Regex>>; Schema::ALL.len()] =
    [const { OnceLock::new() }; Schema::ALL.len()];

fn regexes(schema: Schema) -> &'static [Regex] {
    simple::regexes(schema.tables(), &REGEX_CACHE[schema as usize])
}

/// An open element.
#[derive(Default)]
struct Frame {
    /// Element declaration.
    decl: u16,
    /// Length of the path before this element's segment.
    path_len: usize,
    /// Declarations of the children seen so far ([`UNKNOWN`] for undeclared ones).
    children: Vec<u16>,
    /// Names and namespaces of the undeclared children, by position.
    unknown: Vec<(usize, String, String)>,
    /// Text of a simple-content element.
    text: String,
    /// Non-whitespace text seen in element-only content.
    stray_text: Option<String>,
    /// A child element of a simple-content element was reported.
    bad_child: bool,
    /// The index (among same-named siblings) of the last repeating child.
    last_index: usize,
    /// Where in the type's children (schema order) the lookup of the next child starts: at
    /// the previous child, which usually repeats or is followed by the next one.
    next_child: usize,
}

struct Validator {
    t: &'static SchemaTables,
    res: &'static [Regex],
    path: String,
    stack: Vec<Frame>,
    depth: usize,
    violations: Vec<Violation>,
    /// Values of the elements named in [`COLLECTED`], with their paths (for business checks).
    collected: Option<Vec<Collected>>,
    /// Spare buffers of the content matcher.
    pool: Vec<Vec<usize>>,
    /// Spare buffer of the positions a content model reaches.
    reached: Vec<usize>,
    /// Spare buffer of the elements a content model expects.
    expected: Vec<u16>,
}

/// An element value kept for the business checks.
#[derive(Debug, Clone)]
pub(crate) struct Collected {
    pub(crate) path: String,
    pub(crate) name: &'static str,
    pub(crate) value: String,
}

/// Elements whose values the business checks read.
const COLLECTED: &[&str] = &["NIP", "PESEL", "P_1", "P_2", "RodzajFaktury", "Zalacznik"];

/// A read error of quick-xml, at the later of where it says the error is and where the event
/// began.
fn read_failed(xml: &[u8], error_pos: u64, pos: u64, e: &quick_xml::Error) -> ValidateError {
    malformed(xml, error_pos.max(pos), e.to_string())
}

fn malformed(xml: &[u8], pos: u64, message: String) -> ValidateError {
    let pos = usize::try_from(pos).unwrap_or(xml.len()).min(xml.len());
    let before = &xml[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = pos
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    ValidateError::Malformed {
        line,
        column,
        message,
    }
}

fn reader(xml: &[u8]) -> NsReader<&[u8]> {
    let mut reader = NsReader::from_reader(xml);
    configure(reader.config_mut());
    reader
}

fn configure(config: &mut quick_xml::reader::Config) {
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(false);
}

pub(crate) fn detect(xml: &[u8]) -> Result<Schema, ValidateError> {
    let mut reader = reader(xml);
    loop {
        let pos = reader.buffer_position();
        let (ns, event) = match reader.read_resolved_event() {
            Ok(ok) => ok,
            Err(e) => return Err(read_failed(xml, reader.error_position(), pos, &e)),
        };
        match event {
            Event::Start(start) => {
                let ns = ns_str(&ns).ok_or_else(|| {
                    malformed(xml, pos, "undeclared namespace prefix on the root".into())
                })?;
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                return match Schema::by_namespace(ns) {
                    Some(schema) if local == "Faktura" => Ok(schema),
                    _ => Err(ValidateError::UnknownForm {
                        root: format!("{{{ns}}}{local}"),
                    }),
                };
            }
            Event::Eof => return Err(ValidateError::Empty),
            Event::DocType(_) => {
                return Err(malformed(xml, pos, "a DOCTYPE is not allowed".into()));
            }
            _ => {}
        }
    }
}

pub(crate) fn validate(xml: &[u8], forced: Option<Schema>) -> Result<Report, ValidateError> {
    validate_collecting(xml, forced, false).map(|(report, _)| report)
}

/// Validates, optionally keeping the values the business checks need.
pub(crate) fn validate_collecting(
    xml: &[u8],
    forced: Option<Schema>,
    collect: bool,
) -> Result<(Report, Vec<Collected>), ValidateError> {
    let schema = match forced {
        Some(s) => s,
        None => detect(xml)?,
    };
    let mut v = Validator {
        t: schema.tables(),
        res: regexes(schema),
        path: String::new(),
        stack: Vec::new(),
        depth: 0,
        violations: Vec::new(),
        collected: collect.then(Vec::new),
        pool: Vec::new(),
        reached: Vec::new(),
        expected: Vec::new(),
    };
    let mut reader = Reader::from_reader(xml);
    configure(reader.config_mut());
    let mut scopes = Scopes::new(v.t.namespace);
    let mut skip = 0usize;
    let mut root_done = false;
    let mut root_seen = false;
    loop {
        let pos = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(ok) => ok,
            Err(e) => return Err(read_failed(xml, reader.error_position(), pos, &e)),
        };
        match event {
            Event::Start(start) => {
                if let Err(e) = scopes.open(&start) {
                    return Err(malformed(xml, pos, e.to_string()));
                }
                if root_done {
                    return Err(malformed(xml, pos, "content after the root element".into()));
                }
                let name = start.name();
                let (local, prefix) = name.decompose();
                let Some(ns) = scopes.element_ns(prefix) else {
                    return Err(malformed(xml, pos, "undeclared namespace prefix".into()));
                };
                if skip > 0 {
                    skip += 1;
                    continue;
                }
                root_seen = true;
                if !v.start(&scopes.resolver, &start, local.as_ref(), ns, xml, pos)? {
                    skip = 1;
                }
            }
            Event::End(_) => {
                scopes.close();
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                v.end();
                if v.depth == 0 {
                    root_done = true;
                }
            }
            Event::Text(text) => {
                // Indentation between elements: nothing to check, no need to decode.
                if text
                    .iter()
                    .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    && (v.depth == 0 || skip > 0 || !v.in_simple_content())
                {
                    continue;
                }
                let text = text
                    .decode()
                    .map_err(|e| malformed(xml, pos, e.to_string()))?;
                if v.depth == 0 {
                    if !text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
                        return Err(malformed(xml, pos, "text outside the root element".into()));
                    }
                } else if skip == 0 {
                    v.text(&normalize_newlines(&text));
                }
            }
            Event::CData(data) => {
                if v.depth == 0 {
                    return Err(malformed(xml, pos, "CDATA outside the root element".into()));
                }
                if skip == 0 {
                    let text = data
                        .decode()
                        .map_err(|e| malformed(xml, pos, e.to_string()))?;
                    v.text(&normalize_newlines(&text));
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| malformed(xml, pos, e.to_string()))?;
                        match name.as_ref() {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "apos" => "'".into(),
                            "quot" => "\"".into(),
                            other => {
                                return Err(malformed(
                                    xml,
                                    pos,
                                    format!("undefined entity &{other};"),
                                ));
                            }
                        }
                    }
                    Err(e) => return Err(malformed(xml, pos, e.to_string())),
                };
                if v.depth == 0 {
                    return Err(malformed(
                        xml,
                        pos,
                        "reference outside the root element".into(),
                    ));
                }
                if skip == 0 {
                    v.text(&c);
                }
            }
            Event::DocType(_) => {
                return Err(malformed(xml, pos, "a DOCTYPE is not allowed".into()));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::Empty(_) => {}
        }
    }
    if !root_seen {
        return Err(ValidateError::Empty);
    }
    if v.depth != 0 {
        return Err(malformed(xml, xml.len() as u64, "unclosed elements".into()));
    }
    let collected = v.collected.take().unwrap_or_default();
    Ok((
        Report {
            schema,
            violations: v.violations,
        },
        collected,
    ))
}

fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.as_bytes().contains(&b'\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// XML attribute-value normalisation (literal whitespace becomes spaces), then references.
fn attribute_value(raw: &[u8]) -> Option<String> {
    let raw = std::str::from_utf8(raw).ok()?;
    let spaced = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
    quick_xml::escape::unescape(&spaced)
        .ok()
        .map(|c| c.into_owned())
}

impl Validator {
    fn push_path(&mut self, name: &str, index: Option<usize>) -> usize {
        let len = self.path.len();
        if len > 0 {
            self.path.push('/');
        }
        self.path.push_str(name);
        if let Some(i) = index {
            use std::fmt::Write as _;
            let _ = write!(self.path, "[{i}]");
        }
        len
    }

    fn report(&mut self, path: String, rule: Rule, value: Option<String>) {
        self.violations.push(Violation { path, rule, value });
    }

    /// Opens an element; false when its subtree is to be skipped (undeclared element).
    fn start(
        &mut self,
        resolver: &NamespaceResolver,
        start: &BytesStart<'_>,
        local: &[u8],
        ns: &str,
        xml: &[u8],
        pos: u64,
    ) -> Result<bool, ValidateError> {
        // The name as text, only needed when it is reported (a declared name is text already).
        let text = || std::str::from_utf8(local).map_err(|e| malformed(xml, pos, e.to_string()));
        // The schema's own namespace string when the element is in the target namespace (see
        // `Scopes::element_ns`), so the usual comparison is of two equal pointers.
        let same_ns = |decl_ns: &'static str| std::ptr::eq(decl_ns, ns) || decl_ns == ns;
        let t = self.t;
        let decl = if self.depth == 0 {
            let root = &t.elements[usize::from(t.root)];
            if root.name.as_bytes() != local || !same_ns(root.ns) {
                let local = text()?;
                let rule = if root.name == local {
                    Rule::WrongNamespace {
                        expected: root.ns,
                        found: ns.to_owned(),
                    }
                } else {
                    Rule::UnexpectedElement {
                        expected: vec![root.name],
                    }
                };
                self.report(local.to_owned(), rule, None);
                return Ok(false);
            }
            t.root
        } else {
            let parent = self.stack[self.depth - 1].decl;
            let TypeRef::Complex(ct) = t.elements[usize::from(parent)].ty else {
                // Element inside a simple-typed element.
                self.child_in_simple(text()?);
                return Ok(false);
            };
            let ct = &t.complex[usize::from(ct)];
            if !matches!(ct.content, Content::Elements(_)) {
                self.child_in_simple(text()?);
                return Ok(false);
            }
            let frame = &mut self.stack[self.depth - 1];
            let found = find_child(ct.children, frame.next_child, local)
                .filter(|&i| same_ns(t.elements[usize::from(ct.children[i].1)].ns));
            match found {
                Some(i) => {
                    frame.next_child = i;
                    let d = ct.children[i].1;
                    frame.children.push(d);
                    d
                }
                None => {
                    let local = text()?;
                    let frame = &mut self.stack[self.depth - 1];
                    let at = frame.children.len();
                    frame.children.push(UNKNOWN);
                    frame.unknown.push((at, local.to_owned(), ns.to_owned()));
                    return Ok(false);
                }
            }
        };
        let e = &t.elements[usize::from(decl)];
        let index = if e.repeats && self.depth > 0 {
            let parent = &mut self.stack[self.depth - 1];
            let kids = &parent.children;
            // Same-named siblings are usually consecutive: count on from the previous one.
            let n = if kids.len() >= 2 && kids[kids.len() - 2] == decl {
                parent.last_index + 1
            } else {
                kids.iter().filter(|&&c| c == decl).count()
            };
            parent.last_index = n;
            Some(n)
        } else {
            None
        };
        let path_len = self.push_path(e.name, index);
        if self.stack.len() == self.depth {
            self.stack.push(Frame::default());
        }
        let frame = &mut self.stack[self.depth];
        frame.decl = decl;
        frame.path_len = path_len;
        frame.children.clear();
        frame.unknown.clear();
        frame.text.clear();
        frame.stray_text = None;
        frame.bad_child = false;
        frame.last_index = 0;
        frame.next_child = 0;
        self.depth += 1;
        self.attributes(resolver, start, decl);
        Ok(true)
    }

    fn child_in_simple(&mut self, local: &str) {
        let frame = &mut self.stack[self.depth - 1];
        if !frame.bad_child {
            frame.bad_child = true;
            let path = format!("{}/{local}", self.path);
            self.report(
                path,
                Rule::UnexpectedElement {
                    expected: Vec::new(),
                },
                None,
            );
        }
    }

    fn attributes(&mut self, resolver: &NamespaceResolver, start: &BytesStart<'_>, decl: u16) {
        let t = self.t;
        let declared: &[super::tables::AttributeDecl] = match t.elements[usize::from(decl)].ty {
            TypeRef::Complex(ct) => t.complex[usize::from(ct)].attributes,
            TypeRef::Simple(_) => &[],
        };
        let mut seen: u64 = 0;
        for attr in start.attributes().with_checks(false).flatten() {
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            let (ns, local) = resolver.resolve_attribute(attr.key);
            let local = String::from_utf8_lossy(local.as_ref()).into_owned();
            let value = attribute_value(&attr.value);
            match ns {
                ResolveResult::Unbound => {
                    if let Some(i) = declared.iter().position(|a| a.name == local) {
                        seen |= 1 << i.min(63);
                        let a = &declared[i];
                        let value = value.unwrap_or_default();
                        let path = format!("{}/@{}", self.path, a.name);
                        if let Err((rule, v)) = simple::check(t, self.res, a.ty, &value) {
                            self.report(path, rule, Some(v));
                        } else if let Some(fixed) = a.fixed
                            && !fixed_matches(t, a.ty, &value, fixed)
                        {
                            self.report(path, Rule::Fixed { expected: fixed }, Some(value));
                        }
                    } else {
                        let path = format!("{}/@{local}", self.path);
                        self.report(path, Rule::UnexpectedAttribute { name: local }, value);
                    }
                }
                ResolveResult::Bound(Namespace(ns))
                    if ns == XSI
                        && matches!(
                            local.as_str(),
                            "schemaLocation" | "noNamespaceSchemaLocation"
                        ) => {}
                ResolveResult::Bound(Namespace(ns)) => {
                    let name = format!("{{{}}}{local}", String::from_utf8_lossy(ns));
                    let path = format!("{}/@{local}", self.path);
                    self.report(path, Rule::UnexpectedAttribute { name }, value);
                }
                ResolveResult::Unknown(_) => {
                    let path = format!("{}/@{local}", self.path);
                    self.report(path, Rule::UnexpectedAttribute { name: local }, value);
                }
            }
        }
        for (i, a) in declared.iter().enumerate() {
            if a.required && seen & (1 << i.min(63)) == 0 {
                let path = self.path.clone();
                self.report(path, Rule::MissingAttribute { name: a.name }, None);
            }
        }
    }

    /// The innermost open element holds text (simple content).
    fn in_simple_content(&self) -> bool {
        let t = self.t;
        match t.elements[usize::from(self.stack[self.depth - 1].decl)].ty {
            TypeRef::Simple(_) => true,
            TypeRef::Complex(ct) => {
                matches!(t.complex[usize::from(ct)].content, Content::Simple(_))
            }
        }
    }

    fn text(&mut self, text: &str) {
        let t = self.t;
        let frame = &mut self.stack[self.depth - 1];
        let simple = match t.elements[usize::from(frame.decl)].ty {
            TypeRef::Simple(_) => true,
            TypeRef::Complex(ct) => {
                matches!(t.complex[usize::from(ct)].content, Content::Simple(_))
            }
        };
        if simple {
            frame.text.push_str(text);
        } else if frame.stray_text.is_none()
            && !text.trim_matches([' ', '\t', '\n', '\r']).is_empty()
        {
            frame.stray_text = Some(text.trim().to_owned());
        }
    }

    fn end(&mut self) {
        let t = self.t;
        self.depth -= 1;
        // The stack is moved out (three words) rather than the frame, for `self` to stay free.
        let stack = std::mem::take(&mut self.stack);
        let frame = &stack[self.depth];
        let e = &t.elements[usize::from(frame.decl)];
        if let Some(collected) = &mut self.collected
            && COLLECTED.contains(&e.name)
        {
            collected.push(Collected {
                path: self.path.clone(),
                name: e.name,
                value: frame.text.trim().to_owned(),
            });
        }
        let simple_type = match e.ty {
            TypeRef::Simple(st) => Some(st),
            TypeRef::Complex(ct) => match t.complex[usize::from(ct)].content {
                Content::Simple(st) => Some(st),
                Content::Empty => {
                    if let Some(text) = &frame.stray_text {
                        self.report(self.path.clone(), Rule::UnexpectedText, Some(text.clone()));
                    } else if !frame.children.is_empty() && !frame.unknown.is_empty() {
                        let (_, name, _) = &frame.unknown[0];
                        let path = format!("{}/{name}", self.path);
                        self.report(
                            path,
                            Rule::UnexpectedElement {
                                expected: Vec::new(),
                            },
                            None,
                        );
                    }
                    None
                }
                Content::Elements(p) => {
                    if let Some(text) = &frame.stray_text {
                        self.report(self.path.clone(), Rule::UnexpectedText, Some(text.clone()));
                    }
                    self.content(frame, p);
                    None
                }
            },
        };
        if let Some(st) = simple_type
            && !frame.bad_child
        {
            let mut value: &str = &frame.text;
            if value.is_empty()
                && let Some(fixed) = e.fixed
            {
                // An empty element with a fixed value takes that value.
                value = fixed;
            }
            if let Err((rule, v)) = simple::check(t, self.res, st, value) {
                self.report(self.path.clone(), rule, Some(v));
            } else if let Some(fixed) = e.fixed
                && !fixed_matches(t, st, value, fixed)
            {
                self.report(
                    self.path.clone(),
                    Rule::Fixed { expected: fixed },
                    Some(value.to_owned()),
                );
            }
        }
        self.path.truncate(frame.path_len);
        self.stack = stack;
    }
}

/// The position of the child named `local` among a type's children (in schema order), looked for
/// from `from` on, then from the start.
fn find_child(children: &[(&'static str, u16)], from: usize, local: &[u8]) -> Option<usize> {
    let from = from.min(children.len());
    let (before, after) = children.split_at(from);
    let is =
        |&(name, _): &(&'static str, u16)| name.len() == local.len() && name.as_bytes() == local;
    after
        .iter()
        .position(is)
        .map(|i| from + i)
        .or_else(|| before.iter().position(is))
}

fn fixed_matches(t: &'static SchemaTables, st: u16, value: &str, fixed: &str) -> bool {
    use super::tables::Variety;
    let ws = match &t.simple[usize::from(st)].variety {
        Variety::Atomic { whitespace, .. } => *whitespace,
        Variety::Union(_) => super::tables::WhiteSpace::Collapse,
    };
    simple::normalize(value, ws) == simple::normalize(fixed, ws)
}
