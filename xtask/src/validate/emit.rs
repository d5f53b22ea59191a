//! The output: the compiled tables written as the Rust source of `generated/validate/<form>.rs`.

use std::fmt::Write as _;

use super::compile::Compiler;
use super::{ContentOut, Facets, Target, TermOut, TypeRef, UNBOUNDED, Variety};

impl Compiler<'_> {
    pub(super) fn emit(&self, target: &Target, ns: &str, root: usize) -> String {
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
