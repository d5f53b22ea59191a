//! Local cryptography for KSeF API 2.0, with no HTTP in it.
//!
//! This crate will hold what KSeF asks a client to compute on its own side: the per-session AES-256
//! key and its RSA-OAEP wrapping for the Ministry's certificate, streaming AES-256-CBC encryption with
//! SHA-256 file metadata in one pass, KSeF-token encryption, batch packaging into encrypted parts,
//! certificate signing requests and QR verification links.
//!
//! Work in progress: see the ksef-crypto issue for what lands here.
#![forbid(unsafe_code)]
