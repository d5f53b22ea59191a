//! The shape of the generated validation tables (`generated/validate/*.rs`, written by
//! `cargo xtask codegen` from the XSDs). Indices point into the slices of the same
//! [`SchemaTables`].
// Every builtin and shape the generator can emit is modelled; the current schemas use a subset.
#![allow(dead_code)]

/// `maxOccurs="unbounded"`.
pub(crate) const UNBOUNDED: u32 = u32::MAX;

/// Everything one schema declares that its root element reaches.
#[derive(Debug)]
pub(crate) struct SchemaTables {
    pub(crate) schema: super::Schema,
    /// Target namespace (the namespace of the root element).
    pub(crate) namespace: &'static str,
    /// The root element (`Faktura`).
    pub(crate) root: u16,
    pub(crate) elements: &'static [ElementDecl],
    pub(crate) complex: &'static [ComplexType],
    pub(crate) simple: &'static [SimpleType],
    pub(crate) particles: &'static [Particle],
    pub(crate) patterns: &'static [Pattern],
}

/// An element declaration (one per name within a content model).
#[derive(Debug)]
pub(crate) struct ElementDecl {
    pub(crate) name: &'static str,
    pub(crate) ns: &'static str,
    pub(crate) ty: TypeRef,
    /// `fixed="…"`: the only value allowed.
    pub(crate) fixed: Option<&'static str>,
    /// The content model allows more than one occurrence: paths index it (`FaWiersz[3]`).
    pub(crate) repeats: bool,
    /// The particle's `maxOccurs` (for messages).
    pub(crate) max: u32,
    /// Position within the parent's content model, in schema order.
    pub(crate) order: u16,
}

/// The type of an element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TypeRef {
    Simple(u16),
    Complex(u16),
}

/// A complex type: content and attributes.
#[derive(Debug)]
pub(crate) struct ComplexType {
    pub(crate) name: &'static str,
    pub(crate) content: Content,
    pub(crate) attributes: &'static [AttributeDecl],
    /// Child elements by local name, in schema order (their declarations' `order`).
    pub(crate) children: &'static [(&'static str, u16)],
}

/// What a complex type holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    /// Nothing (attributes only).
    Empty,
    /// Text of a simple type (simpleContent).
    Simple(u16),
    /// Child elements matching a particle (element-only content).
    Elements(u16),
}

/// An attribute declaration (unqualified).
#[derive(Debug)]
pub(crate) struct AttributeDecl {
    pub(crate) name: &'static str,
    pub(crate) required: bool,
    pub(crate) ty: u16,
    pub(crate) fixed: Option<&'static str>,
}

/// A particle of a content model with its occurrence bounds.
#[derive(Debug)]
pub(crate) struct Particle {
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) term: Term,
}

/// The term of a particle.
#[derive(Debug)]
pub(crate) enum Term {
    Element(u16),
    Sequence(&'static [u16]),
    Choice(&'static [u16]),
}

/// A simple type: an atomic restriction chain or a union.
#[derive(Debug)]
pub(crate) struct SimpleType {
    pub(crate) name: &'static str,
    pub(crate) variety: Variety,
}

/// Atomic (a builtin restricted step by step) or a union of other simple types.
#[derive(Debug)]
pub(crate) enum Variety {
    Atomic {
        builtin: Builtin,
        whitespace: WhiteSpace,
        /// The facets of each restriction step, base first; a value must satisfy all of them
        /// (patterns of one step are alternatives).
        steps: &'static [Facets],
    },
    Union(&'static [u16]),
}

/// The facets of one restriction step.
#[derive(Debug)]
pub(crate) struct Facets {
    pub(crate) patterns: &'static [u16],
    pub(crate) enumeration: &'static [&'static str],
    pub(crate) length: Option<u32>,
    pub(crate) min_length: Option<u32>,
    pub(crate) max_length: Option<u32>,
    pub(crate) total_digits: Option<u32>,
    pub(crate) fraction_digits: Option<u32>,
    pub(crate) min_inclusive: Option<&'static str>,
    pub(crate) max_inclusive: Option<&'static str>,
    pub(crate) min_exclusive: Option<&'static str>,
    pub(crate) max_exclusive: Option<&'static str>,
}

/// A restriction step without facets; the generated tables name only the facets a step sets.
pub(crate) const NO_FACETS: Facets = Facets {
    patterns: &[],
    enumeration: &[],
    length: None,
    min_length: None,
    max_length: None,
    total_digits: None,
    fraction_digits: None,
    min_inclusive: None,
    max_inclusive: None,
    min_exclusive: None,
    max_exclusive: None,
};

/// An XSD pattern and its translation to the `regex` crate (anchored).
#[derive(Debug)]
pub(crate) struct Pattern {
    pub(crate) regex: &'static str,
    pub(crate) xsd: &'static str,
}

/// XSD whitespace handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhiteSpace {
    Preserve,
    Replace,
    Collapse,
}

/// The XSD builtin types the validator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    AnySimpleType,
    String,
    NormalizedString,
    Token,
    Language,
    Decimal,
    Integer,
    NonNegativeInteger,
    PositiveInteger,
    NonPositiveInteger,
    NegativeInteger,
    Long,
    Int,
    Short,
    Byte,
    UnsignedLong,
    UnsignedInt,
    UnsignedShort,
    UnsignedByte,
    Boolean,
    Date,
    DateTime,
    Time,
    GYear,
    GYearMonth,
    Base64Binary,
    HexBinary,
    AnyUri,
}
