//! Enumerations of decimal values become plain decimals.
//!
//! XSD compares the values of a decimal enumeration numerically: FA_RR(1)'s `TStawkaPodatku`
//! (`6.5 | 7`) accepts `7.0`, and the Ministry's own FA_RR template writes `7.0`. xsd-parser renders
//! enumerations as Rust enums matched byte for byte, which would reject that document, and could
//! not write back the form it was given. So every enumeration whose base is (a restriction of)
//! `xs:decimal` is replaced, between the interpreter and the optimizer, by a reference to its base
//! type; the values are then exact decimals (ksef-model's `Decimal`) that keep their written form
//! (and, like other facets, the enumeration is not checked when reading).

use xsd_parser::models::TypeIdent;
use xsd_parser::models::meta::{MetaTypeVariant, MetaTypes, ReferenceMeta};

/// Rewrites the decimal enumerations of `types` (`decimal_type` is the name of the custom type
/// `xs:decimal` is mapped to); returns the names of the rewritten types.
pub(crate) fn decimal_enums_to_decimals(types: &mut MetaTypes, decimal_type: &str) -> Vec<String> {
    let Some(decimal) = types
        .items
        .iter()
        .find(|(_, t)| matches!(&t.variant, MetaTypeVariant::Custom(c) if c.name() == decimal_type))
        .map(|(ident, _)| ident.clone())
    else {
        return Vec::new();
    };
    let decimal = &decimal;
    let mut rewritten = Vec::new();
    let idents: Vec<TypeIdent> = types.items.keys().cloned().collect();
    for ident in idents {
        let Some(MetaTypeVariant::Enumeration(enumeration)) =
            types.items.get(&ident).map(|t| &t.variant)
        else {
            continue;
        };
        let Some(base) = enumeration.base.as_ident().cloned() else {
            continue;
        };
        if !is_decimal(types, &base, decimal) {
            continue;
        }
        if let Some(meta) = types.items.get_mut(&ident) {
            meta.variant = MetaTypeVariant::Reference(ReferenceMeta::new(base));
            rewritten.push(ident.name.to_string());
        }
    }
    rewritten.sort();
    rewritten
}

/// Whether `ident` is `decimal` or derived from it by restriction (through references, simple
/// types and enumerations).
fn is_decimal(types: &MetaTypes, ident: &TypeIdent, decimal: &TypeIdent) -> bool {
    let mut current = ident.clone();
    // The chain is finite in any sane schema; the bound only guards against a cycle.
    for _ in 0..64 {
        if current == *decimal {
            return true;
        }
        let next = match types.items.get(&current).map(|t| &t.variant) {
            Some(MetaTypeVariant::Reference(r)) => r.type_.clone(),
            Some(MetaTypeVariant::SimpleType(s)) => s.base.clone(),
            Some(MetaTypeVariant::Enumeration(e)) => match e.base.as_ident() {
                Some(base) => base.clone(),
                None => return false,
            },
            _ => return false,
        };
        current = next;
    }
    false
}
