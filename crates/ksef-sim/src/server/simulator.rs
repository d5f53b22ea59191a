//! The running simulator: its handle, the accept loop and the periodic state flush.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::fault_injection::handle_faulty;
use crate::Stats;
use crate::shared::Shared;

/// A running simulator. Dropping it stops the server without waiting; prefer
/// [`Simulator::shutdown`].
pub struct Simulator {
    pub(super) addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) seeded_nip: String,
    pub(super) seeded_tokens: Vec<(String, String)>,
    pub(super) stop: watch::Sender<bool>,
    pub(super) task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.shared.base_url)
            .field("seeded_nip", &self.seeded_nip)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// The API base URL, e.g. `http://127.0.0.1:41234/v2`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The NIP of the first seeded subject, which owns [`Simulator::seeded_token`].
    pub fn seeded_nip(&self) -> &str {
        &self.seeded_nip
    }

    /// The secret of the ready, active KSeF token of [`Simulator::seeded_nip`].
    pub fn seeded_token(&self) -> &str {
        &self.shared.config.seeded_token
    }

    /// The secret of the ready, active KSeF token of a seeded subject (each seeded subject has
    /// one, with every token permission), or `None` for a NIP that was not seeded.
    pub fn token_for(&self, nip: &str) -> Option<&str> {
        self.seeded_tokens
            .iter()
            .find(|(n, _)| n == nip)
            .map(|(_, token)| token.as_str())
    }

    /// The Lighthouse base URL on this simulator, e.g. `http://127.0.0.1:41234/lighthouse`
    /// (`/status` and `/messages` below it).
    pub fn lighthouse_url(&self) -> String {
        format!("{}/lighthouse", self.shared.root_url)
    }

    /// Replaces what the Lighthouse serves from now on (as `PUT /_sim/lighthouse` does).
    pub fn set_lighthouse(&self, status: crate::lighthouse::LighthouseStatus) {
        self.shared.state().lighthouse = status;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.state().stats.clone()
    }

    /// Saves the state to the [`data_dir`](crate::SimulatorBuilder::data_dir) now (nothing to do
    /// without one).
    ///
    /// # Errors
    ///
    /// The I/O error of writing the state file.
    pub fn flush(&self) -> std::io::Result<()> {
        self.shared.flush()
    }

    /// Stops accepting connections, lets requests in flight finish (for up to 5 seconds), saves
    /// the state to the [`data_dir`](crate::SimulatorBuilder::data_dir) if there is one, and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // Drop saves the state.
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // Errors cannot be reported from here; `flush` reports them.
        let _ = self.shared.flush();
    }
}

/// Saves the state every `interval` until the simulator stops.
pub(super) async fn flush_periodically(
    shared: Arc<Shared>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {
                // File I/O blocks: keep it off the threads that serve requests.
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || shared.flush()).await;
            }
            _ = stop.changed() => break,
        }
    }
}

/// The pause after a failed `accept`: 100 ms, doubling with each failure in a row up to 1 s.
#[derive(Debug, Default)]
pub(super) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    /// The pause before the next `accept`, counting one more failure.
    pub(super) fn next(&mut self) -> Duration {
        let pause = Self::FIRST
            .saturating_mul(1 << self.failures.min(4))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    /// A connection was accepted: the next failure starts again at 100 ms.
    pub(super) fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Serves connections until `stop`: each with a header read timeout (a client trickling its
/// request line and headers is disconnected), and with a growing pause after accept errors.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let header_read_timeout = shared.config.header_read_timeout;
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => {
                        backoff.reset();
                        accepted
                    }
                    Err(_) => {
                        // Out of file descriptors, or a connection aborted before it was taken:
                        // wait before trying again instead of spinning on the error.
                        tokio::select! {
                            () = tokio::time::sleep(backoff.next()) => continue,
                            _ = stop.changed() => break,
                        }
                    }
                };
                let shared = shared.clone();
                let service = service_fn(move |request| {
                    let shared = shared.clone();
                    handle_faulty(shared, request, peer)
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_one_second_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u64> = (0..7).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(100));
    }
}
