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

mod compile;
mod emit;
pub(crate) mod regex;
pub(crate) mod xsd;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::codegen::{Files, GENERATED_DIR, rustfmt};
use crate::xml::resolver::LocalResolver;
use crate::xml::{BASE_TYPES_DIR, BASE_TYPES_URL};
use compile::Compiler;
use xsd::{Node, SchemaDoc};

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
