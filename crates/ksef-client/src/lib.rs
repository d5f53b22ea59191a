//! The high-level async client for KSeF API 2.0.
//!
//! It will compose `ksef-model`, `ksef-transport`, `ksef-crypto` and `ksef-xades` into login
//! ceremonies, online and batch sessions, UPO retrieval, queries, exports and incremental sync.
//!
//! Work in progress: see the ksef-client issue for what lands here.
#![forbid(unsafe_code)]
