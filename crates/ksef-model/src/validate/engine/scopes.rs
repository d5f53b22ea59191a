//! The namespaces in scope while the validator reads a document.

use quick_xml::events::BytesStart;
use quick_xml::name::{Namespace, NamespaceResolver, Prefix, ResolveResult};

/// The element declares namespaces (an `xmlns` or `xmlns:*` attribute). Only such elements open
/// a scope of the namespace resolver: most elements of an invoice have no attributes at all.
fn declares_namespaces(start: &BytesStart<'_>) -> bool {
    start.attributes_raw().windows(5).any(|w| w == b"xmlns")
}

/// The namespaces in scope: quick-xml's resolver, with the default namespace (the one almost
/// every element of an invoice is in) resolved once per scope instead of once per element.
pub(super) struct Scopes {
    pub(super) resolver: NamespaceResolver,
    /// Depths (open elements, counting the element itself) of the elements that opened a scope.
    opened: Vec<usize>,
    /// Open elements.
    depth: usize,
    /// The default namespace (empty: none), `None` when it is not UTF-8.
    default: Option<String>,
    /// The default namespace is the schema's target namespace.
    default_is_target: bool,
    target: &'static str,
}

impl Scopes {
    pub(super) fn new(target: &'static str) -> Scopes {
        let mut s = Scopes {
            resolver: NamespaceResolver::default(),
            opened: Vec::new(),
            depth: 0,
            default: None,
            default_is_target: false,
            target,
        };
        s.refresh_default();
        s
    }

    fn refresh_default(&mut self) {
        self.default = ns_str(&self.resolver.resolve_prefix(None, true)).map(str::to_owned);
        self.default_is_target = self.default.as_deref() == Some(self.target);
    }

    /// Enters an element: binds the namespaces it declares.
    pub(super) fn open(&mut self, start: &BytesStart<'_>) -> Result<(), quick_xml::Error> {
        self.depth += 1;
        if declares_namespaces(start) {
            self.opened.push(self.depth);
            self.resolver.push(start)?;
            self.refresh_default();
        }
        Ok(())
    }

    /// Leaves an element: drops the namespaces it declared.
    pub(super) fn close(&mut self) {
        if self.opened.last() == Some(&self.depth) {
            self.opened.pop();
            self.resolver.pop();
            self.refresh_default();
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// The namespace of an element name (empty: none), `None` for an undeclared prefix. The
    /// target namespace is returned as the schema's own string (cheap to compare).
    pub(super) fn element_ns(&self, prefix: Option<Prefix<'_>>) -> Option<&str> {
        match prefix {
            None if self.default_is_target => Some(self.target),
            None => self.default.as_deref(),
            Some(prefix) => {
                let ns = ns_str(&self.resolver.resolve_prefix(Some(prefix), true))?;
                Some(if ns == self.target { self.target } else { ns })
            }
        }
    }
}

pub(super) fn ns_str<'a>(ns: &ResolveResult<'a>) -> Option<&'a str> {
    match ns {
        ResolveResult::Bound(Namespace(ns)) => std::str::from_utf8(ns).ok(),
        ResolveResult::Unbound => Some(""),
        ResolveResult::Unknown(_) => None,
    }
}
