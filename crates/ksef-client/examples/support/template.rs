//! The Ministry's FA(3) template, which the examples fill in to make invoices. Included by the
//! examples that use it (`#[path = "support/template.rs"] mod template;`).

/// The Ministry's FA(3) template: in `$KSEF_SPEC_DIR/invoice-templates/`, by default the
/// repository's copy in `fixtures/ksef-spec/`.
pub(crate) fn path() -> std::path::PathBuf {
    std::env::var_os("KSEF_SPEC_DIR")
        .map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec"),
            std::path::PathBuf::from,
        )
        .join("invoice-templates/invoice-template-fa-3.xml")
}

/// The template's text; a missing file is an error naming it.
pub(crate) fn read() -> Result<String, String> {
    let path = path();
    std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "the FA(3) template {}: {e} (set KSEF_SPEC_DIR)",
            path.display()
        )
    })
}
