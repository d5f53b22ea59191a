//! The settings of a simulator, as [`SimulatorBuilder`](crate::SimulatorBuilder) collects them.

use std::time::Duration;

use crate::faults::Faults;

/// Which KSeF environment the simulator behaves like where they differ
/// ([`SimulatorBuilder::mode`](crate::SimulatorBuilder::mode)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimMode {
    /// Like KSeF's TEST environment (the default): a XAdES login with a self-signed seal or
    /// personal certificate carrying a NIP (`VATPL-`/`TINPL-`) is accepted for that NIP's
    /// context, whatever the NIP, with the owner's permissions; the context exists from its
    /// first login. Unless the login asks for `verifyCertificateChain=true`.
    #[default]
    Test,
    /// Like production, as far as logins go: only the seeded subjects, the
    /// [trusted fingerprints](crate::SimulatorBuilder::trusted_fingerprint) and identifiers granted
    /// permissions log in; any other certificate ends in status 415.
    ProductionLike,
}

/// Settings of a simulator (see [`SimulatorBuilder`](crate::SimulatorBuilder) for the defaults).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) mode: SimMode,
    pub(crate) subjects: Vec<String>,
    pub(crate) seeded_token: String,
    /// `(context NIP, lowercase SHA-256 hex)` of certificates granted permissions by fingerprint.
    pub(crate) trusted_fingerprints: Vec<(String, String)>,
    pub(crate) challenge_lifetime: Duration,
    pub(crate) authentication_token_lifetime: Duration,
    pub(crate) access_token_lifetime: Duration,
    pub(crate) refresh_token_lifetime: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) auth_delay: Duration,
    pub(crate) token_activation_delay: Duration,
    pub(crate) invoice_processing_delay: Duration,
    pub(crate) session_close_delay: Duration,
    pub(crate) rate_limit_scale: Option<f64>,
    pub(crate) faults: Faults,
    pub(crate) data_dir: Option<std::path::PathBuf>,
    pub(crate) data_flush_interval: Duration,
    /// `None`: permanent storage at the end of processing.
    pub(crate) permanent_storage_delay: Option<Duration>,
    pub(crate) export_delay: Duration,
    pub(crate) export_invoice_limit: usize,
    pub(crate) export_part_size: u64,
    /// Packs every export this way, whatever the request asks for.
    pub(crate) export_compression: Option<ksef_model::types::CompressionType>,
    /// What the Lighthouse serves at start.
    pub(crate) lighthouse: crate::lighthouse::LighthouseStatus,
    /// How long a connection may take to send a request's line and headers.
    pub(crate) header_read_timeout: Duration,
}
