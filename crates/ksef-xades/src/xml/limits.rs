//! The limits a parse runs under.

/// Limits that bound the work and memory [`Document::parse`](super::Document::parse) spends on a document.
///
/// The defaults suit KSeF authentication requests, signed documents and UPO receipts with a wide margin:
///
/// | limit | default |
/// | --- | --- |
/// | [`max_input_bytes`](Self::max_input_bytes) | 10 MiB |
/// | [`max_depth`](Self::max_depth) | 256 |
/// | [`max_attributes`](Self::max_attributes) | 256 |
/// | [`max_attribute_value_bytes`](Self::max_attribute_value_bytes) | 64 KiB |
/// | [`max_nodes`](Self::max_nodes) | 1 000 000 |
///
/// ```
/// use ksef_xades::xml::ParseLimits;
///
/// let limits = ParseLimits::default().with_max_depth(64).with_max_input_bytes(1 << 20);
/// assert_eq!(limits.max_depth(), 64);
/// assert_eq!(limits.max_attributes(), 256);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ParseLimits {
    pub(super) max_input_bytes: usize,
    pub(super) max_depth: usize,
    pub(super) max_attributes: usize,
    pub(super) max_attribute_value_bytes: usize,
    pub(super) max_nodes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 10 * 1024 * 1024,
            max_depth: 256,
            max_attributes: 256,
            max_attribute_value_bytes: 64 * 1024,
            max_nodes: 1_000_000,
        }
    }
}

impl ParseLimits {
    /// The default limits (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest accepted input, in bytes.
    pub fn max_input_bytes(&self) -> usize {
        self.max_input_bytes
    }

    /// Deepest accepted element nesting (the root element is at depth 1).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Most attributes, namespace declarations included, accepted on one element.
    pub fn max_attributes(&self) -> usize {
        self.max_attributes
    }

    /// Longest accepted attribute value, in bytes as written.
    pub fn max_attribute_value_bytes(&self) -> usize {
        self.max_attribute_value_bytes
    }

    /// Most nodes (document node, elements, text, comments, processing instructions) in a document.
    pub fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    /// Sets [`max_input_bytes`](Self::max_input_bytes).
    pub fn with_max_input_bytes(mut self, limit: usize) -> Self {
        self.max_input_bytes = limit;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    pub fn with_max_depth(mut self, limit: usize) -> Self {
        self.max_depth = limit;
        self
    }

    /// Sets [`max_attributes`](Self::max_attributes).
    pub fn with_max_attributes(mut self, limit: usize) -> Self {
        self.max_attributes = limit;
        self
    }

    /// Sets [`max_attribute_value_bytes`](Self::max_attribute_value_bytes).
    pub fn with_max_attribute_value_bytes(mut self, limit: usize) -> Self {
        self.max_attribute_value_bytes = limit;
        self
    }

    /// Sets [`max_nodes`](Self::max_nodes).
    pub fn with_max_nodes(mut self, limit: usize) -> Self {
        self.max_nodes = limit;
        self
    }
}
