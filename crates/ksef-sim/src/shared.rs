//! What every request handler shares: settings, keys, state, limiter and fault generator.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateUsage};

use crate::config::Config;
use crate::faults::SeededRng;
use crate::keys::Keys;
use crate::rate_limit::RateLimiter;
use crate::state::State;

/// What the request handlers share.
pub(crate) struct Shared {
    pub(crate) root_url: String,
    pub(crate) base_url: String,
    pub(crate) config: Config,
    pub(crate) keys: Arc<Keys>,
    pub(crate) certificates: Vec<PublicKeyCertificate>,
    pub(crate) state: Mutex<State>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) fault_rng: Mutex<SeededRng>,
    /// Serializes writers of the state file.
    pub(crate) flush_lock: Mutex<()>,
}

impl Shared {
    /// The state, even if a panicking handler poisoned the lock (its changes are kept).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves the durable state to the data directory, if there is one.
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        match &self.config.data_dir {
            Some(dir) => {
                let _writer = self
                    .flush_lock
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Encode under the state lock, write outside it.
                let json = crate::persist::encode(&self.state())?;
                crate::persist::save(dir, &json)
            }
            None => Ok(()),
        }
    }

    /// The served certificate for `usage`.
    pub(crate) fn certificate(
        &self,
        usage: &PublicKeyCertificateUsage,
    ) -> Option<&PublicKeyCertificate> {
        self.certificates.iter().find(|c| c.usage.contains(usage))
    }
}
