//! Generation of the validation tables of the invoice schemas (FA(2), FA(3), FA_RR(1)).
//!
//! The XSD files are read with quick-xml ([`xsd`]), the http imports served from the local copies by
//! the same [`LocalResolver`] the type generator uses, and everything the invoice's root element
//! reaches is compiled into static tables: element declarations, complex types (content model as a
//! tree of particles with their occurrence bounds, attributes), simple types (builtin base,
//! whitespace handling, the facets of every derivation step, unions) and the patterns, translated
//! to the `regex` crate's syntax ([`regex`]). The tables are written to
//! `crates/ksef-model/src/generated/validate/`; ksef-model's `validate` module interprets them.
//!
//! Schema constructs the KSeF schemas do not use (`xs:all`, groups, wildcards, lists, mixed content,
//! derivation of complex types by restriction, qualified attributes) are refused with an error
//! naming the construct and the schema, so a future schema that needs them cannot be half-checked.

pub(crate) mod regex;
pub(crate) mod xsd;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::codegen::{Files, GENERATED_DIR, rustfmt};
use crate::xml::resolver::LocalResolver;
use crate::xml::{BASE_TYPES_DIR, BASE_TYPES_URL};
use xsd::{Node, SchemaDoc, XS};

/// One invoice schema to compile.
struct Target {
    module: &'static str,
    schema: &'static str,
    /// Name of the form in messages (`FA(3)`).
    form: &'static str,
    /// The `Schema` variant of ksef-model's `validate` module.
    variant: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        module: "fa2",
        schema: "invoice/FA/schemat_FA(2)_v1-0E.xsd",
        form: "FA(2)",
        variant: "Fa2",
    },
    Target {
        module: "fa3",
        schema: "invoice/FA/schemat_FA(3)_v1-0E.xsd",
        form: "FA(3)",
        variant: "Fa3",
    },
    Target {
        module: "fa_rr1",
        schema: "invoice/RR/schemat_FA_RR(1)_v1-1E.xsd",
        form: "FA_RR(1)",
        variant: "FaRr1",
    },
];

/// The root element of every invoice schema.
const ROOT: &str = "Faktura";

/// Adds `generated/validate/{fa2,fa3,fa_rr1,mod}.rs` to `files`.
pub(crate) fn generate(xsd_dir: &Path, files: &mut Files) -> Result<()> {
    let xsd_dir = xsd_dir
        .canonicalize()
        .with_context(|| format!("XSD directory {}", xsd_dir.display()))?;
    let out_dir = Path::new(GENERATED_DIR).join("validate");
    for target in TARGETS {
        let code = generate_schema(&xsd_dir, target)
            .with_context(|| format!("validation tables of {}", target.schema))?;
        files.insert(
            out_dir.join(format!("{}.rs", target.module)),
            rustfmt(&code)?,
        );
    }
    let mut mod_rs = String::from(
        "//! Validation tables of the invoice schemas, generated from the XSDs by `cargo xtask \
         codegen`; interpreted by [`crate::validate`].\n\n",
    );
    for target in TARGETS {
        let _ = writeln!(mod_rs, "pub(crate) mod {};", target.module);
    }
    files.insert(out_dir.join("mod.rs"), rustfmt(&mod_rs)?);
    Ok(())
}

fn generate_schema(xsd_dir: &Path, target: &Target) -> Result<String> {
    let resolver =
        LocalResolver::default().with_mirror(BASE_TYPES_URL, xsd_dir.join(BASE_TYPES_DIR));
    let docs = xsd::load(&xsd_dir.join(target.schema), &resolver)?;
    let main_ns = docs[0].target_ns.clone();
    let mut compiler = Compiler::new(&docs);
    let root = compiler.global_element(&main_ns, ROOT)?;
    Ok(compiler.emit(target, &main_ns, root))
}

// ---------------------------------------------------------------------------------------------
// The compiled model (mirrors ksef-model's `validate::tables`).

struct ElementOut {
    name: String,
    ns: String,
    ty: TypeRef,
    fixed: Option<String>,
    /// The element may occur more than once in its parent (paths then carry an index).
    repeats: bool,
    /// Largest number of occurrences in a row the particle allows (for messages).
    max: u32,
    /// Position in its parent's content model, in document order of the schema.
    order: u16,
}

#[derive(Clone, Copy)]
enum TypeRef {
    Simple(usize),
    Complex(usize),
}

struct ComplexOut {
    name: String,
    content: ContentOut,
    attrs: Vec<AttrOut>,
    /// Child elements by local name.
    children: BTreeMap<String, usize>,
}

enum ContentOut {
    Empty,
    Simple(usize),
    Elements(usize),
}

struct AttrOut {
    name: String,
    required: bool,
    ty: usize,
    fixed: Option<String>,
}

struct ParticleOut {
    min: u32,
    max: u32,
    term: TermOut,
}

enum TermOut {
    Element(usize),
    Sequence(Vec<usize>),
    Choice(Vec<usize>),
}

#[derive(Clone)]
struct SimpleOut {
    name: String,
    variety: Variety,
}

#[derive(Clone)]
enum Variety {
    Atomic {
        builtin: &'static str,
        ws: &'static str,
        steps: Vec<Facets>,
    },
    Union(Vec<usize>),
}

#[derive(Clone, Default)]
struct Facets {
    patterns: Vec<usize>,
    enumeration: Vec<String>,
    length: Option<u32>,
    min_length: Option<u32>,
    max_length: Option<u32>,
    total_digits: Option<u32>,
    fraction_digits: Option<u32>,
    min_inclusive: Option<String>,
    max_inclusive: Option<String>,
    min_exclusive: Option<String>,
    max_exclusive: Option<String>,
}

/// Unbounded `maxOccurs`.
const UNBOUNDED: u32 = u32::MAX;

/// A global declaration: the node and the document it is in.
type Global<'a> = (&'a Node, &'a SchemaDoc);

struct Compiler<'a> {
    elements_global: BTreeMap<(String, String), Global<'a>>,
    complex_global: BTreeMap<(String, String), Global<'a>>,
    simple_global: BTreeMap<(String, String), Global<'a>>,
    elements: Vec<ElementOut>,
    complex: Vec<ComplexOut>,
    simple: Vec<SimpleOut>,
    particles: Vec<ParticleOut>,
    /// `(translated, original)` patterns.
    patterns: Vec<(String, String)>,
    complex_done: BTreeMap<(String, String), usize>,
    simple_done: BTreeMap<(String, String), usize>,
}

impl<'a> Compiler<'a> {
    fn new(docs: &'a [SchemaDoc]) -> Self {
        let mut c = Compiler {
            elements_global: BTreeMap::new(),
            complex_global: BTreeMap::new(),
            simple_global: BTreeMap::new(),
            elements: Vec::new(),
            complex: Vec::new(),
            simple: Vec::new(),
            particles: Vec::new(),
            patterns: Vec::new(),
            complex_done: BTreeMap::new(),
            simple_done: BTreeMap::new(),
        };
        for doc in docs {
            for node in doc.root.xs_children() {
                let Some(name) = node.attr("name") else {
                    continue;
                };
                let key = (doc.target_ns.clone(), name.to_owned());
                let map = match node.name.as_str() {
                    "element" => &mut c.elements_global,
                    "complexType" => &mut c.complex_global,
                    "simpleType" => &mut c.simple_global,
                    _ => continue,
                };
                map.insert(key, (node, doc));
            }
        }
        c
    }

    fn global_element(&mut self, ns: &str, name: &str) -> Result<usize> {
        let (node, doc) = *self
            .elements_global
            .get(&(ns.to_owned(), name.to_owned()))
            .with_context(|| format!("no global element {{{ns}}}{name}"))?;
        let ty = self.element_type(node, doc, name)?;
        self.elements.push(ElementOut {
            name: name.to_owned(),
            ns: ns.to_owned(),
            ty,
            fixed: node.attr("fixed").map(str::to_owned),
            repeats: false,
            max: 1,
            order: 0,
        });
        Ok(self.elements.len() - 1)
    }

    /// The type of an element declaration: `type=`, an inline type, or `xs:anyType` (refused).
    fn element_type(&mut self, node: &Node, doc: &SchemaDoc, name: &str) -> Result<TypeRef> {
        if node.attr("default").is_some() || node.attr("nillable") == Some("true") {
            bail!("element {name}: `default` / `nillable` are not supported");
        }
        if let Some(ty) = node.attr("type") {
            let (ns, local) = node.qname(ty)?;
            return self.named_type(&ns, &local);
        }
        for child in node.xs_children() {
            if child.is("complexType") {
                return Ok(TypeRef::Complex(self.complex_type(child, doc, name)?));
            }
            if child.is("simpleType") {
                return Ok(TypeRef::Simple(self.simple_type(child, name)?));
            }
        }
        bail!("element {name} has no type (xs:anyType is not supported)")
    }

    fn named_type(&mut self, ns: &str, local: &str) -> Result<TypeRef> {
        let key = (ns.to_owned(), local.to_owned());
        if let Some(&i) = self.complex_done.get(&key) {
            return Ok(TypeRef::Complex(i));
        }
        if ns == XS {
            return Ok(TypeRef::Simple(self.named_simple(ns, local)?));
        }
        if let Some(&(node, doc)) = self.complex_global.get(&key) {
            return Ok(TypeRef::Complex(self.complex_type(node, doc, local)?));
        }
        Ok(TypeRef::Simple(self.named_simple(ns, local)?))
    }

    fn named_simple(&mut self, ns: &str, local: &str) -> Result<usize> {
        let key = (ns.to_owned(), local.to_owned());
        if let Some(&i) = self.simple_done.get(&key) {
            return Ok(i);
        }
        let index = if ns == XS {
            let builtin = builtin(local)?;
            self.simple.push(SimpleOut {
                name: format!("xs:{local}"),
                variety: Variety::Atomic {
                    builtin: builtin.0,
                    ws: builtin.1,
                    steps: Vec::new(),
                },
            });
            self.simple.len() - 1
        } else {
            let &(node, _) = self
                .simple_global
                .get(&key)
                .with_context(|| format!("no type {{{ns}}}{local}"))?;
            self.simple_type(node, local)?
        };
        self.simple_done.insert(key, index);
        Ok(index)
    }

    /// Compiles an `xs:simpleType` (named or anonymous; `name` names it in messages).
    fn simple_type(&mut self, node: &Node, name: &str) -> Result<usize> {
        let name = node.attr("name").unwrap_or(name).to_owned();
        let body = node
            .xs_children()
            .next()
            .with_context(|| format!("simple type {name} is empty"))?;
        let variety = match body.name.as_str() {
            "restriction" => {
                let base = match body.attr("base") {
                    Some(base) => {
                        let (ns, local) = body.qname(base)?;
                        self.named_simple(&ns, &local)?
                    }
                    None => {
                        let inline = body
                            .xs_children()
                            .find(|c| c.is("simpleType"))
                            .with_context(|| format!("restriction in {name} has no base"))?;
                        self.simple_type(inline, &name)?
                    }
                };
                let Variety::Atomic {
                    builtin,
                    ws,
                    mut steps,
                } = self.simple[base].variety.clone()
                else {
                    bail!("simple type {name}: restricting a union is not supported");
                };
                let (step, step_ws) = self.facets(body, &name)?;
                steps.push(step);
                Variety::Atomic {
                    builtin,
                    ws: step_ws.unwrap_or(ws),
                    steps,
                }
            }
            "union" => {
                let mut members = Vec::new();
                if let Some(list) = body.attr("memberTypes") {
                    for member in list.split_whitespace() {
                        let (ns, local) = body.qname(member)?;
                        members.push(self.named_simple(&ns, &local)?);
                    }
                }
                for (i, inline) in body.xs_children().enumerate() {
                    if !inline.is("simpleType") {
                        bail!("simple type {name}: unexpected xs:{} in union", inline.name);
                    }
                    members.push(self.simple_type(inline, &format!("{name}#{}", i + 1))?);
                }
                Variety::Union(members)
            }
            other => bail!("simple type {name}: xs:{other} is not supported"),
        };
        self.simple.push(SimpleOut { name, variety });
        Ok(self.simple.len() - 1)
    }

    /// The facets of one restriction step, and its `whiteSpace` if it sets one.
    fn facets(&mut self, restriction: &Node, name: &str) -> Result<(Facets, Option<&'static str>)> {
        let mut f = Facets::default();
        let mut ws = None;
        for facet in restriction.xs_children() {
            if facet.is("simpleType") {
                continue;
            }
            let value = facet
                .attr("value")
                .with_context(|| format!("{name}: facet xs:{} without value", facet.name))?
                .to_owned();
            let number = || -> Result<u32> {
                value
                    .trim()
                    .parse()
                    .with_context(|| format!("{name}: xs:{} value {value:?}", facet.name))
            };
            match facet.name.as_str() {
                "pattern" => {
                    let translated =
                        regex::translate(&value).with_context(|| format!("simple type {name}"))?;
                    ::regex::Regex::new(&translated).with_context(|| {
                        format!("{name}: translated pattern {translated:?} does not compile")
                    })?;
                    let index = match self.patterns.iter().position(|(t, _)| *t == translated) {
                        Some(i) => i,
                        None => {
                            self.patterns.push((translated, value));
                            self.patterns.len() - 1
                        }
                    };
                    f.patterns.push(index);
                }
                "enumeration" => f.enumeration.push(value),
                "length" => f.length = Some(number()?),
                "minLength" => f.min_length = Some(number()?),
                "maxLength" => f.max_length = Some(number()?),
                "totalDigits" => f.total_digits = Some(number()?),
                "fractionDigits" => f.fraction_digits = Some(number()?),
                "minInclusive" => f.min_inclusive = Some(value),
                "maxInclusive" => f.max_inclusive = Some(value),
                "minExclusive" => f.min_exclusive = Some(value),
                "maxExclusive" => f.max_exclusive = Some(value),
                "whiteSpace" => {
                    ws = Some(match value.as_str() {
                        "preserve" => "Preserve",
                        "replace" => "Replace",
                        "collapse" => "Collapse",
                        other => bail!("{name}: whiteSpace {other:?}"),
                    });
                }
                other => bail!("{name}: facet xs:{other} is not supported"),
            }
        }
        Ok((f, ws))
    }

    /// Compiles an `xs:complexType` (named: memoized by name).
    fn complex_type(&mut self, node: &Node, doc: &SchemaDoc, hint: &str) -> Result<usize> {
        let key = node
            .attr("name")
            .map(|n| (doc.target_ns.clone(), n.to_owned()));
        if let Some(key) = &key
            && let Some(&i) = self.complex_done.get(key)
        {
            return Ok(i);
        }
        let name = match node.attr("name") {
            Some(n) => n.to_owned(),
            None => format!("(type of {hint})"),
        };
        if node.attr("mixed") == Some("true") {
            bail!("complex type {name}: mixed content is not supported");
        }
        // Reserve the slot first, so a recursive reference finds it.
        let index = self.complex.len();
        self.complex.push(ComplexOut {
            name: name.clone(),
            content: ContentOut::Empty,
            attrs: Vec::new(),
            children: BTreeMap::new(),
        });
        if let Some(key) = key {
            self.complex_done.insert(key, index);
        }
        let mut scope = TypeScope::default();
        let (content, attrs) = self.complex_body(node, doc, &name, &mut scope)?;
        let c = &mut self.complex[index];
        c.content = content;
        c.attrs = attrs;
        c.children = scope.children;
        Ok(index)
    }

    fn complex_body(
        &mut self,
        node: &Node,
        doc: &SchemaDoc,
        name: &str,
        scope: &mut TypeScope,
    ) -> Result<(ContentOut, Vec<AttrOut>)> {
        let mut particle = None;
        let mut attrs = Vec::new();
        let mut content = None;
        for child in node.xs_children() {
            match child.name.as_str() {
                "sequence" | "choice" => {
                    particle = Some(self.particle(child, doc, name, scope, false)?);
                }
                "attribute" => attrs.push(self.attribute(child, name)?),
                "complexContent" => {
                    let ext = single(child, name)?;
                    if !ext.is("extension") {
                        bail!(
                            "complex type {name}: complexContent/{} is not supported",
                            ext.name
                        );
                    }
                    let (ns, local) = ext.qname(ext.attr("base").context("extension base")?)?;
                    let &(base, base_doc) =
                        self.complex_global
                            .get(&(ns.clone(), local.clone()))
                            .with_context(|| format!("{name}: no complex type {{{ns}}}{local}"))?;
                    let (base_content, base_attrs) =
                        self.complex_body(base, base_doc, &local, scope)?;
                    let (ext_content, ext_attrs) = self.complex_body(ext, doc, name, scope)?;
                    attrs.extend(base_attrs);
                    attrs.extend(ext_attrs);
                    content = Some(match (base_content, ext_content) {
                        (ContentOut::Elements(a), ContentOut::Elements(b)) => {
                            self.particles.push(ParticleOut {
                                min: 1,
                                max: 1,
                                term: TermOut::Sequence(vec![a, b]),
                            });
                            ContentOut::Elements(self.particles.len() - 1)
                        }
                        (ContentOut::Empty, other) | (other, ContentOut::Empty) => other,
                        _ => bail!("{name}: extension mixes simple and element content"),
                    });
                }
                "simpleContent" => {
                    let ext = single(child, name)?;
                    if !ext.is("extension") {
                        bail!(
                            "complex type {name}: simpleContent/{} is not supported",
                            ext.name
                        );
                    }
                    let (ns, local) = ext.qname(ext.attr("base").context("extension base")?)?;
                    let base = self.named_simple(&ns, &local)?;
                    for a in ext.xs_children() {
                        if !a.is("attribute") {
                            bail!("{name}: xs:{} in simpleContent extension", a.name);
                        }
                        attrs.push(self.attribute(a, name)?);
                    }
                    content = Some(ContentOut::Simple(base));
                }
                "extension" => {
                    // The body of a complexContent extension (called recursively above).
                }
                other => bail!("complex type {name}: xs:{other} is not supported"),
            }
        }
        let content = match (content, particle) {
            (Some(c), None) => c,
            (None, Some(p)) => ContentOut::Elements(p),
            (None, None) => ContentOut::Empty,
            (Some(_), Some(_)) => bail!("{name}: both a derivation and a model group"),
        };
        Ok((content, attrs))
    }

    fn attribute(&mut self, node: &Node, owner: &str) -> Result<AttrOut> {
        if node.attr("ref").is_some() || node.attr("form") == Some("qualified") {
            bail!("{owner}: attribute references and qualified attributes are not supported");
        }
        let name = node
            .attr("name")
            .context("attribute without name")?
            .to_owned();
        let ty = match node.attr("type") {
            Some(ty) => {
                let (ns, local) = node.qname(ty)?;
                self.named_simple(&ns, &local)?
            }
            None => match node.xs_children().find(|c| c.is("simpleType")) {
                Some(inline) => self.simple_type(inline, &format!("@{name}"))?,
                None => self.named_simple(XS, "anySimpleType")?,
            },
        };
        Ok(AttrOut {
            required: node.attr("use") == Some("required"),
            fixed: node.attr("fixed").map(str::to_owned),
            name,
            ty,
        })
    }

    /// Compiles a particle (`xs:element`, `xs:sequence`, `xs:choice`).
    fn particle(
        &mut self,
        node: &Node,
        doc: &SchemaDoc,
        owner: &str,
        scope: &mut TypeScope,
        outer_repeats: bool,
    ) -> Result<usize> {
        let min = match node.attr("minOccurs") {
            Some(v) => v
                .parse()
                .with_context(|| format!("{owner}: minOccurs {v:?}"))?,
            None => 1,
        };
        let max = match node.attr("maxOccurs") {
            Some("unbounded") => UNBOUNDED,
            Some(v) => v
                .parse()
                .with_context(|| format!("{owner}: maxOccurs {v:?}"))?,
            None => 1,
        };
        let repeats = outer_repeats || max > 1;
        let term = match node.name.as_str() {
            "element" => {
                TermOut::Element(self.local_element(node, doc, owner, scope, repeats, max)?)
            }
            "sequence" | "choice" => {
                let mut items = Vec::new();
                for child in node.xs_children() {
                    if !(child.is("element") || child.is("sequence") || child.is("choice")) {
                        bail!(
                            "{owner}: xs:{} inside xs:{} is not supported",
                            child.name,
                            node.name
                        );
                    }
                    items.push(self.particle(child, doc, owner, scope, repeats)?);
                }
                if node.name == "sequence" {
                    TermOut::Sequence(items)
                } else {
                    TermOut::Choice(items)
                }
            }
            other => bail!("{owner}: xs:{other} is not supported"),
        };
        self.particles.push(ParticleOut { min, max, term });
        Ok(self.particles.len() - 1)
    }

    fn local_element(
        &mut self,
        node: &Node,
        doc: &SchemaDoc,
        owner: &str,
        scope: &mut TypeScope,
        repeats: bool,
        max: u32,
    ) -> Result<usize> {
        let (node, doc, ns) = if let Some(r) = node.attr("ref") {
            let (ns, local) = node.qname(r)?;
            let &(global, global_doc) = self
                .elements_global
                .get(&(ns.clone(), local.clone()))
                .with_context(|| format!("{owner}: no global element {{{ns}}}{local}"))?;
            (global, global_doc, ns)
        } else {
            let qualified = match node.attr("form") {
                Some(form) => form == "qualified",
                None => doc.qualified,
            };
            let ns = if qualified {
                doc.target_ns.clone()
            } else {
                String::new()
            };
            (node, doc, ns)
        };
        let name = node
            .attr("name")
            .context("element without name")?
            .to_owned();
        if let Some(&existing) = scope.children.get(&name) {
            // Element Declarations Consistent: the same name in one content model is one element.
            if self.elements[existing].ns != ns {
                bail!("{owner}: element {name} declared in two namespaces");
            }
            let e = &mut self.elements[existing];
            e.repeats = true;
            e.max = e.max.max(max);
            return Ok(existing);
        }
        let ty = self.element_type(node, doc, &name)?;
        self.elements.push(ElementOut {
            name: name.clone(),
            ns,
            ty,
            fixed: node.attr("fixed").map(str::to_owned),
            repeats,
            max,
            order: scope.next_order,
        });
        scope.next_order += 1;
        let index = self.elements.len() - 1;
        scope.children.insert(name, index);
        Ok(index)
    }

    // -----------------------------------------------------------------------------------------
    // Output

    fn emit(&self, target: &Target, ns: &str, root: usize) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "//! Validation tables of {} (`{}`), namespace `{ns}`.\n",
            target.form, target.schema
        );
        o.push_str("#![allow(clippy::all)]\n\n");
        o.push_str("use crate::validate::tables::*;\n\n");
        let _ = writeln!(
            o,
            "pub(crate) static SCHEMA: SchemaTables = SchemaTables {{
                schema: crate::validate::Schema::{},
                namespace: {ns:?},
                root: {root},
                elements: ELEMENTS,
                complex: COMPLEX,
                simple: SIMPLE,
                particles: PARTICLES,
                patterns: PATTERNS,
            }};\n",
            target.variant
        );
        // One row a line (`rustfmt::skip`): spelled out field by field, the tables were thousands
        // of near-identical lines.
        let _ = writeln!(o, "/// The target namespace.\nconst NS: &str = {ns:?};\n");
        o.push_str("#[rustfmt::skip]\nstatic ELEMENTS: &[ElementDecl] = &[\n");
        for e in &self.elements {
            let _ = writeln!(
                o,
                "ElementDecl {{ name: {:?}, ns: {}, ty: {}, fixed: {}, repeats: {}, max: {}, order: {} }},",
                e.name,
                if e.ns == ns {
                    "NS".to_owned()
                } else {
                    format!("{:?}", e.ns)
                },
                match e.ty {
                    TypeRef::Simple(i) => format!("TypeRef::Simple({i})"),
                    TypeRef::Complex(i) => format!("TypeRef::Complex({i})"),
                },
                opt_str(e.fixed.as_deref()),
                e.repeats,
                e.max,
                e.order
            );
        }
        o.push_str("];\n\n#[rustfmt::skip]\nstatic COMPLEX: &[ComplexType] = &[\n");
        for c in &self.complex {
            let content = match c.content {
                ContentOut::Empty => "Content::Empty".to_owned(),
                ContentOut::Simple(i) => format!("Content::Simple({i})"),
                ContentOut::Elements(i) => format!("Content::Elements({i})"),
            };
            let attrs: Vec<String> = c
                .attrs
                .iter()
                .map(|a| {
                    format!(
                        "AttributeDecl {{ name: {:?}, required: {}, ty: {}, fixed: {} }}",
                        a.name,
                        a.required,
                        a.ty,
                        opt_str(a.fixed.as_deref())
                    )
                })
                .collect();
            // In schema order: the runtime looks for a child from the one after the previous
            // child, so a document in schema order finds each child at the first or second try.
            let mut sorted: Vec<(&String, &usize)> = c.children.iter().collect();
            sorted.sort_by_key(|&(_, &i)| self.elements[i].order);
            let children: Vec<String> = sorted
                .iter()
                .map(|(name, i)| format!("({name:?}, {i})"))
                .collect();
            let _ = writeln!(
                o,
                "ComplexType {{ name: {:?}, content: {content}, attributes: &[{}], children: &[{}] }},",
                c.name,
                attrs.join(", "),
                children.join(", ")
            );
        }
        o.push_str("];\n\n#[rustfmt::skip]\nstatic SIMPLE: &[SimpleType] = &[\n");
        for s in &self.simple {
            let variety = match &s.variety {
                Variety::Union(members) => format!("Variety::Union(&{members:?})"),
                Variety::Atomic { builtin, ws, steps } => {
                    let steps: Vec<String> = steps.iter().map(facets_source).collect();
                    format!(
                        "Variety::Atomic {{ builtin: Builtin::{builtin}, whitespace: WhiteSpace::{ws}, steps: &[{}] }}",
                        steps.join(", ")
                    )
                }
            };
            let _ = writeln!(
                o,
                "SimpleType {{ name: {:?}, variety: {variety} }},",
                s.name
            );
        }
        o.push_str("];\n\n#[rustfmt::skip]\nstatic PARTICLES: &[Particle] = &[\n");
        for p in &self.particles {
            let term = match &p.term {
                TermOut::Element(i) => format!("Term::Element({i})"),
                TermOut::Sequence(items) => format!("Term::Sequence(&{items:?})"),
                TermOut::Choice(items) => format!("Term::Choice(&{items:?})"),
            };
            let max = if p.max == UNBOUNDED {
                "UNBOUNDED".to_owned()
            } else {
                p.max.to_string()
            };
            let _ = writeln!(
                o,
                "Particle {{ min: {}, max: {max}, term: {term} }},",
                p.min
            );
        }
        o.push_str("];\n\n#[rustfmt::skip]\nstatic PATTERNS: &[Pattern] = &[\n");
        for (translated, original) in &self.patterns {
            let _ = writeln!(o, "Pattern {{ regex: {translated:?}, xsd: {original:?} }},");
        }
        o.push_str("];\n");
        o
    }
}

/// Element names of one complex type's content model.
#[derive(Default)]
struct TypeScope {
    children: BTreeMap<String, usize>,
    next_order: u16,
}

fn single<'n>(node: &'n Node, owner: &str) -> Result<&'n Node> {
    let mut it = node.xs_children();
    match (it.next(), it.next()) {
        (Some(one), None) => Ok(one),
        _ => bail!("{owner}: xs:{} must hold exactly one derivation", node.name),
    }
}

fn opt_str(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("Some({v:?})"),
        None => "None".to_owned(),
    }
}

fn opt<T: std::fmt::Debug>(value: &Option<T>) -> String {
    match value {
        Some(v) => format!("Some({v:?})"),
        None => "None".to_owned(),
    }
}

/// The facets that are set, the rest from `NO_FACETS`.
fn facets_source(f: &Facets) -> String {
    let mut set = Vec::new();
    if !f.patterns.is_empty() {
        set.push(format!("patterns: &{:?}", f.patterns));
    }
    if !f.enumeration.is_empty() {
        set.push(format!("enumeration: &{:?}", f.enumeration));
    }
    for (field, value) in [
        ("length", opt(&f.length)),
        ("min_length", opt(&f.min_length)),
        ("max_length", opt(&f.max_length)),
        ("total_digits", opt(&f.total_digits)),
        ("fraction_digits", opt(&f.fraction_digits)),
        ("min_inclusive", opt(&f.min_inclusive)),
        ("max_inclusive", opt(&f.max_inclusive)),
        ("min_exclusive", opt(&f.min_exclusive)),
        ("max_exclusive", opt(&f.max_exclusive)),
    ] {
        if value != "None" {
            set.push(format!("{field}: {value}"));
        }
    }
    set.push("..NO_FACETS".to_owned());
    format!("Facets {{ {} }}", set.join(", "))
}

/// The builtin types the runtime knows: `(Builtin variant, default whiteSpace)`.
fn builtin(local: &str) -> Result<(&'static str, &'static str)> {
    Ok(match local {
        "anySimpleType" => ("AnySimpleType", "Preserve"),
        "string" => ("String", "Preserve"),
        "normalizedString" => ("NormalizedString", "Replace"),
        "token" => ("Token", "Collapse"),
        "language" => ("Language", "Collapse"),
        "decimal" => ("Decimal", "Collapse"),
        "integer" => ("Integer", "Collapse"),
        "nonNegativeInteger" => ("NonNegativeInteger", "Collapse"),
        "positiveInteger" => ("PositiveInteger", "Collapse"),
        "nonPositiveInteger" => ("NonPositiveInteger", "Collapse"),
        "negativeInteger" => ("NegativeInteger", "Collapse"),
        "long" => ("Long", "Collapse"),
        "int" => ("Int", "Collapse"),
        "short" => ("Short", "Collapse"),
        "byte" => ("Byte", "Collapse"),
        "unsignedLong" => ("UnsignedLong", "Collapse"),
        "unsignedInt" => ("UnsignedInt", "Collapse"),
        "unsignedShort" => ("UnsignedShort", "Collapse"),
        "unsignedByte" => ("UnsignedByte", "Collapse"),
        "boolean" => ("Boolean", "Collapse"),
        "date" => ("Date", "Collapse"),
        "dateTime" => ("DateTime", "Collapse"),
        "time" => ("Time", "Collapse"),
        "gYear" => ("GYear", "Collapse"),
        "gYearMonth" => ("GYearMonth", "Collapse"),
        "base64Binary" => ("Base64Binary", "Collapse"),
        "hexBinary" => ("HexBinary", "Collapse"),
        "anyURI" => ("AnyUri", "Collapse"),
        other => bail!("builtin type xs:{other} is not supported by the validator"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_cover_the_schemas_and_are_deterministic() {
        let xsd_dir = crate::default_spec_dir().join("xsd");
        let (mut first, mut second) = (Files::new(), Files::new());
        generate(&xsd_dir, &mut first).unwrap();
        generate(&xsd_dir, &mut second).unwrap();
        assert_eq!(first.len(), TARGETS.len() + 1);
        assert!(first == second, "two runs differ");
        let fa3 = &first[&Path::new(GENERATED_DIR).join("validate/fa3.rs")];
        // Facets reach the tables, the base schema's included: TNaturalny (totalDigits 14), TData
        // (pattern and range), TKodKraju (country enumeration), the form code's fixed attribute.
        assert!(fa3.contains("name: \"TNaturalny\""), "TNaturalny");
        assert!(fa3.contains("total_digits: Some(14)"), "TNaturalny");
        assert!(fa3.contains("min_inclusive: Some(\"1900-01-01\")"), "TData");
        assert!(fa3.contains("\"PL\""), "TKodKraju");
        assert!(fa3.contains("name: \"FaWiersz\""));
        assert!(fa3.contains("fixed: Some(\"FA (3)\")"));
    }

    fn compile(schema: &str) -> Result<String> {
        let dir = std::env::temp_dir().join(format!(
            "ksef-validate-gen-{}-{}",
            std::process::id(),
            schema.len()
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("s.xsd");
        std::fs::write(&path, schema)?;
        let docs = xsd::load(&path, &LocalResolver::default());
        std::fs::remove_dir_all(&dir)?;
        let docs = docs?;
        let mut c = Compiler::new(&docs);
        let root = c.global_element("urn:t", "Faktura")?;
        Ok(c.emit(&TARGETS[0], "urn:t", root))
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let schema = |body: &str| {
            format!(
                r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" elementFormDefault="qualified">
                <xs:element name="Faktura"><xs:complexType>{body}</xs:complexType></xs:element></xs:schema>"#
            )
        };
        let err = compile(&schema(
            "<xs:all><xs:element name=\"A\" type=\"xs:string\"/></xs:all>",
        ))
        .unwrap_err();
        assert!(format!("{err:#}").contains("xs:all"), "{err:#}");
        let err = compile(&schema(
            "<xs:sequence><xs:element name=\"A\"><xs:simpleType><xs:restriction base=\"xs:string\"><xs:pattern value=\"\\i\"/></xs:restriction></xs:simpleType></xs:element></xs:sequence>",
        ))
        .unwrap_err();
        assert!(format!("{err:#}").contains("\\i"), "{err:#}");
        let ok = compile(&schema(
            "<xs:sequence><xs:element name=\"A\" type=\"xs:gYear\" maxOccurs=\"3\"/></xs:sequence>",
        ))
        .unwrap();
        assert!(ok.contains("Builtin::GYear"), "{ok}");
        assert!(ok.contains("repeats: true"), "{ok}");
    }
}
