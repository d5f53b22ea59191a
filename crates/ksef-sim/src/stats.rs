//! The counters the simulator keeps (`GET /_sim/stats`, [`Simulator::stats`](crate::Simulator::stats)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::faults::FaultStats;

/// Counters the simulator keeps, served as JSON on `GET /_sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Stats {
    /// Requests received per operation id (`unknown` for paths that match no operation).
    pub requests: BTreeMap<String, u64>,
    /// Invoices accepted (given a KSeF number).
    pub invoices_accepted: u64,
    /// Invoices refused as duplicates (status 440).
    pub duplicates_refused: u64,
    /// SHA-256 (base64) of every accepted invoice, in order of acceptance.
    pub accepted_invoice_hashes: Vec<String>,
    /// Accepted technical corrections of rejected offline invoices: SHA-256 (base64) of the
    /// rejected original → SHA-256 (base64) of its accepted correction.
    #[serde(default)]
    pub technical_corrections: BTreeMap<String, String>,
    /// Handler panics turned into HTTP 500 (a simulator bug; expected to stay 0).
    pub internal_errors: u64,
    /// Faults injected, per kind (see [`Faults`](crate::Faults)).
    pub faults: FaultStats,
    /// 429 answers sent because a (scaled) rate limit was exceeded; injected 429s are counted
    /// in [`FaultStats::too_many_requests`] instead.
    pub rate_limited: u64,
    /// Every 429 answer sent, real or injected.
    pub too_many_requests_sent: u64,
}
