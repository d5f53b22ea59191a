//! The compiler: from the loaded schema documents to the tables of everything the root element
//! reaches (elements, complex and simple types, particles, patterns).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use super::regex;
use super::xsd::{Node, SchemaDoc, XS};
use super::{
    AttrOut, ComplexOut, ContentOut, ElementOut, Facets, Global, ParticleOut, SimpleOut, TermOut,
    TypeRef, UNBOUNDED, Variety,
};

pub(super) struct Compiler<'a> {
    elements_global: BTreeMap<(String, String), Global<'a>>,
    complex_global: BTreeMap<(String, String), Global<'a>>,
    simple_global: BTreeMap<(String, String), Global<'a>>,
    pub(super) elements: Vec<ElementOut>,
    pub(super) complex: Vec<ComplexOut>,
    pub(super) simple: Vec<SimpleOut>,
    pub(super) particles: Vec<ParticleOut>,
    /// `(translated, original)` patterns.
    pub(super) patterns: Vec<(String, String)>,
    complex_done: BTreeMap<(String, String), usize>,
    simple_done: BTreeMap<(String, String), usize>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(docs: &'a [SchemaDoc]) -> Self {
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

    pub(super) fn global_element(&mut self, ns: &str, name: &str) -> Result<usize> {
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
