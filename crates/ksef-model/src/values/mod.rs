//! Checked KSeF identifiers.
