//! Every wire type of KSeF API 2.0, the Polish national e-invoicing system.
//!
//! - [`types`]: one Rust type per schema of the Ministry's OpenAPI spec (KSeF API 2.9.0), generated
//!   by `cargo xtask codegen`. Response structs are `#[non_exhaustive]`; build any struct with its
//!   `new(required…)` constructor and `with_…` setters. A struct with three or more required fields
//!   of one type takes them by name instead, as a `…Params` struct (e.g.
//!   [`types::EffectiveApiRateLimitsParams`]), so that no value can land in another's place.
//! - [`operations`]: one descriptor per API operation: method, path template, typed path and query
//!   parameters, request body and response type, authentication and rate-limit group. A descriptor
//!   implements [`Operation`], so any HTTP stack can execute it; this crate never does I/O.
//! - [`values`]: checked identifiers (NIP, PESEL, KSeF number, reference numbers, …), validated
//!   when built; see the module for what is checked on the wire and what only on user input.
//! - `xml` (feature `xml`, on by default): the XML documents generated from the Ministry's XSDs:
//!   AuthTokenRequest 2.0/2.1 and UPO v4-3, plus FA(2), FA(3) and FA_RR(1) invoices with the
//!   `invoice-xml` feature; read and write them with `xml::from_xml` and `xml::to_xml`.
//! - `validate` (feature `validate`): offline validation of FA(2), FA(3) and FA_RR(1) invoices
//!   against tables generated from the XSDs, with element paths and plain-words reasons, plus
//!   business checks (check digits, dates, size, duplicates).
//! - `invoice_facts` (feature `invoice-facts`, implied by `validate`): the one reader of an
//!   invoice file's facts (seller and buyer NIP, number `P_2`, issue date `P_1`, currency, type,
//!   amounts, `KodFormularza`), with errors naming the missing element.
//!
//! # Versions and semver
//!
//! The crate follows the spec it was generated from (`openapi/spec.lock`). A field the spec makes
//! **required** changes that struct's constructor (`new` gains an argument, or its `…Params`
//! struct gains a field) and is therefore a breaking change, released in a new minor version
//! while the crate is 0.x; fields that are only added as optional, new enum values (kept as
//! `Unknown` by older versions) and new operations are additive. Fields the spec still requires
//! but KSeF is removing (listed in `openapi/types.toml`, e.g. `authenticationMethod`) are
//! generated as `Option`, so responses keep parsing the day they disappear.
//!
//! ```
//! use ksef_model::operations::GetChallenge;
//! use ksef_model::Operation;
//!
//! let op = GetChallenge::new();
//! assert_eq!(GetChallenge::METHOD.as_str(), "POST");
//! assert_eq!(op.path(), "/auth/challenge");
//! ```
#![forbid(unsafe_code)]

#[macro_use]
mod macros;
mod generated;
#[cfg(feature = "invoice-xml")]
pub mod invoice_builder;
#[cfg(feature = "invoice-facts")]
pub mod invoice_facts;
mod operation;
#[cfg(feature = "validate")]
pub mod validate;
pub mod values;
#[cfg(feature = "xml")]
mod xml_support;

#[cfg(feature = "xml")]
pub use generated::xml;
pub use generated::{operations, types};
pub use operation::{
    Auth, Body, ContentKind, Method, Operation, OperationInfo, RateLimit, RateLimitGroup,
    RequestError, ResponseError,
};
