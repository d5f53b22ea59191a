//! The arguments of `ksef status`.

use clap::Args;

/// `ksef status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The Lighthouse base URL (`/status` and `/messages` below it). Default: the selected
    /// environment's (TEST or production; DEMO has none known), or for a loopback --base-url (a
    /// `ksef sim`) its `/lighthouse`.
    #[arg(long, env = "KSEF_LIGHTHOUSE_URL", value_name = "URL")]
    pub(crate) lighthouse_url: Option<String>,
}
