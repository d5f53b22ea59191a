//! A stateful KSeF API 2.0 simulator on loopback, with real cryptography.
//!
//! It will serve every operation of the spec from memory (or a data directory), so that clients can
//! run a full invoice lifecycle in tests and demos without reaching the Ministry's environments.
//!
//! Work in progress: see the ksef-sim issue for what lands here.
#![forbid(unsafe_code)]
