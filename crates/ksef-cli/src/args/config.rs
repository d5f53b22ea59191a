//! The arguments of `ksef config`.

use clap::{Subcommand, ValueEnum};

/// `ksef config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Set a default: nip, env (test|demo|prod), base-url, secrets (keyring|file: where tokens
    /// are kept; changing it moves every profile's tokens), or deadline (90s, 30m, 2h, 1d, off:
    /// the total time of a one-shot command; `--deadline` and KSEF_DEADLINE override it).
    Set {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
        /// The value.
        value: String,
    },
    /// Print one default.
    Get {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
    },
    /// Remove a default.
    Unset {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
    },
    /// Print every default and where config.toml is.
    Show,
}

/// A key of config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConfigKey {
    /// The default context NIP.
    Nip,
    /// The default environment.
    Env,
    /// The default API base URL.
    BaseUrl,
    /// Where tokens are kept: keyring (the platform's secret store) or file (0600, the default).
    Secrets,
    /// The total deadline of a one-shot command (90s, 30m, 2h, 1d, off; 6h when not set).
    Deadline,
}
