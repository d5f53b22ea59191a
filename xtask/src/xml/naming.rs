//! Rust names for the schemas' elements.
//!
//! xsd-parser's default naming, except for field names with underscores: the invoice fields are
//! known by their form numbers (`P_13_6_1`, `P_PMarzy_3_2`), which the default turns into
//! `p1361` / `p_p_marzy32`; here every underscore is kept (`p_13_6_1`, `p_p_marzy_3_2`), so the
//! field is recognisable and `P_13_1_1` could never meet `P_13_11`.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use xsd_parser::Ident2;
use xsd_parser::models::meta::MetaType;
use xsd_parser::models::{Name, NameBuilder, Naming as DefaultNaming, TypeIdent, format_ident};
use xsd_parser::traits::{NameBuilder as NameBuilderTrait, Naming};

/// The naming scheme of the generated XML modules.
#[derive(Debug, Clone, Default)]
pub(crate) struct KsefNaming {
    /// Counter for the ids of anonymous types (one per generated module, so output is stable).
    next_id: Arc<AtomicUsize>,
    default: DefaultNaming,
}

impl Naming for KsefNaming {
    fn clone_boxed(&self) -> Box<dyn Naming> {
        Box::new(self.clone())
    }

    fn builder(&self) -> Box<dyn NameBuilderTrait> {
        Box::new(NameBuilder::new(self.next_id.clone(), self.clone_boxed()))
    }

    fn unify(&self, s: &str) -> String {
        self.default.unify(s)
    }

    fn make_type_name(&self, postfixes: &[String], ty: &MetaType, ident: &TypeIdent) -> Name {
        xsd_parser::models::make_type_name(self, postfixes, ty, ident)
    }

    fn make_unknown_variant(&self, id: usize) -> Ident2 {
        self.default.make_unknown_variant(id)
    }

    fn format_module_name(&self, s: &str) -> String {
        self.default.format_module_name(s)
    }

    fn format_type_name(&self, s: &str) -> String {
        self.default.format_type_name(s)
    }

    fn format_field_name(&self, s: &str) -> String {
        if s.contains('_') && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            let parts: Vec<String> = s
                .split('_')
                .filter(|p| !p.is_empty())
                .map(snake_case)
                .collect();
            format_ident(parts.join("_"))
        } else {
            self.default.format_field_name(s)
        }
    }

    fn format_variant_name(&self, s: &str) -> String {
        self.default.format_variant_name(s)
    }

    fn format_constant_name(&self, s: &str) -> String {
        self.default.format_constant_name(s)
    }
}

/// `NettoZ` -> `netto_z`, `PMarzy` -> `p_marzy`, `NrWierszaNST` -> `nr_wiersza_nst`, `11A` -> `11a`:
/// a word starts at an upper-case letter after a lower-case one, and at the last upper-case letter
/// of a run followed by a lower-case one; digits stay with what they follow.
fn snake_case(part: &str) -> String {
    let chars: Vec<char> = part.chars().collect();
    let mut out = String::with_capacity(part.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase()
                || (next_lower && (prev.is_ascii_uppercase() || prev.is_ascii_digit()))
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscored_names_keep_their_underscores() {
        let naming = KsefNaming::default();
        let cases = [
            ("P_13_6_1", "p_13_6_1"),
            ("P_13_11", "p_13_11"),
            ("P_1M", "p_1m"),
            ("P_11A", "p_11a"),
            ("P_11NettoZ", "p_11_netto_z"),
            ("P_PMarzy_3_2", "p_p_marzy_3_2"),
            ("P_NrWierszaNST", "p_nr_wiersza_nst"),
            ("P_12Z_XII", "p_12z_xii"),
            ("UU_ID", "uu_id"),
            ("P_6_Do", "p_6_do"),
        ];
        for (xml, rust) in cases {
            assert_eq!(naming.format_field_name(xml), rust, "{xml}");
        }
        // Names without underscores are left to the default scheme.
        assert_eq!(naming.format_field_name("KodWaluty"), "kod_waluty");
    }
}
