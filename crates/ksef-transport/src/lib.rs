//! The HTTP layer every KSeF call goes through: tower middleware over hyper 1 and rustls.
//!
//! It will provide base URLs per environment, bearer authentication with a single-flight refresh,
//! client-side rate limiting per endpoint group, `Retry-After` handling, retries of safe requests and
//! typed KSeF API errors. It knows HTTP and KSeF's wire conventions, never business flows.
//!
//! Work in progress: see the ksef-transport issue for what lands here.
#![forbid(unsafe_code)]
