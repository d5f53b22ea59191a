//! Fault injection: failures a reliable client must survive, drawn per request from a seedable
//! generator so that a test sees the same faults on every run.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};

/// Which faults the simulator injects, and how often (see the `fault_*` methods of
/// [`SimulatorBuilder`](crate::SimulatorBuilder), which fill this in).
///
/// Each rate is a probability from `0.0` (never, the default) to `1.0` (every request), drawn
/// independently per request and per kind in this order: latency is added first; then a 5xx
/// and a 429 are answered *instead of* processing the request; otherwise the request is
/// processed, and a reset or a truncation may then spoil the answer. Requests below `/_sim/`
/// are never faulted.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Probability of answering 500 or 503 (a KSeF-shaped error) without processing.
    pub rate_5xx: f64,
    /// Probability of answering 429 with `Retry-After: 1` without processing.
    pub rate_429: f64,
    /// Probability of processing the request fully and then closing the connection without
    /// sending any response.
    pub rate_reset: f64,
    /// Probability of processing the request and then sending the status, the headers
    /// (announcing the full `Content-Length`) and only the first half of the body before closing
    /// the connection. (Answers that have no body by definition, such as 204, go out whole.)
    pub rate_truncate: f64,
    /// Added before every faultable request is handled.
    pub latency: Duration,
    /// Seed of the generator; a random seed when `None`.
    pub seed: Option<u64>,
    /// When set, only these operation ids (e.g. `sessions.online.send_invoice`) are faulted.
    pub operations: Option<Vec<String>>,
}

impl Faults {
    /// Whether any fault is configured.
    pub(crate) fn any(&self) -> bool {
        self.rate_5xx > 0.0
            || self.rate_429 > 0.0
            || self.rate_reset > 0.0
            || self.rate_truncate > 0.0
            || !self.latency.is_zero()
    }

    /// Whether the operation `id` (or `None` for a path matching no operation) may be faulted.
    pub(crate) fn applies_to(&self, id: Option<&str>) -> bool {
        match (&self.operations, id) {
            (None, _) => true,
            (Some(ids), Some(id)) => ids.iter().any(|i| i == id),
            (Some(_), None) => false,
        }
    }
}

/// How many faults of each kind were injected (part of [`Stats`](crate::Stats)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FaultStats {
    /// Injected 500/503 answers.
    pub server_errors: u64,
    /// Injected 429 answers.
    pub too_many_requests: u64,
    /// Connections dropped after processing.
    pub resets: u64,
    /// Answers cut off in the body.
    pub truncations: u64,
    /// Requests delayed by the configured latency.
    pub delayed: u64,
}

/// SplitMix64: a small, fast generator, good enough to decide faults reproducibly from a seed.
/// Public so that tests and the soak draw their own reproducible moments (kills, pauses) with
/// the same generator.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// The generator for `seed`: the same seed gives the same draws.
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw from `[0, n)` (`0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits make an exact f64 fraction.
        #[allow(clippy::cast_precision_loss)]
        let value = (self.next_u64() >> 11) as f64;
        value / (1u64 << 53) as f64
    }

    /// `true` with probability `rate`.
    pub fn hit(&mut self, rate: f64) -> bool {
        let draw = self.unit();
        rate > 0.0 && draw < rate
    }
}

/// The error a spoiled body ends with (hyper then closes the connection).
#[derive(Debug, thiserror::Error)]
#[error("ksef-sim fault injection: {0}")]
pub(crate) struct InjectedFault(pub(crate) &'static str);

/// The response body: the whole answer, or the first part of it followed by an error.
pub(crate) enum SimBody {
    /// A complete body.
    Full(Option<Bytes>),
    /// A body cut short: `sent` goes out, then the body fails while `announced` bytes were
    /// promised.
    Truncated {
        sent: Option<Bytes>,
        announced: u64,
        pause: Pin<Box<tokio::time::Sleep>>,
    },
}

impl SimBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        SimBody::Full((!bytes.is_empty()).then_some(bytes))
    }

    /// The same content cut to half, announcing its full length (at least one byte).
    pub(crate) fn truncate(self) -> Self {
        match self {
            SimBody::Full(bytes) => {
                let bytes = bytes.unwrap_or_default();
                let announced = u64::try_from(bytes.len()).unwrap_or(u64::MAX).max(1);
                let half = bytes.slice(..bytes.len() / 2);
                SimBody::Truncated {
                    sent: (!half.is_empty()).then_some(half),
                    announced,
                    pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
                }
            }
            truncated => truncated,
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = InjectedFault;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, InjectedFault>>> {
        match self.get_mut() {
            SimBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            SimBody::Truncated { sent, pause, .. } => {
                if let Some(bytes) = sent.take() {
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                // Pending first, so that the head and the half body are flushed to the client.
                std::task::ready!(pause.as_mut().poll(cx));
                Poll::Ready(Some(Err(InjectedFault("response body truncated"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SimBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            SimBody::Truncated { announced, .. } => SizeHint::with_exact(*announced),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeededRng;

    #[test]
    fn the_generator_is_reproducible_and_roughly_uniform() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        let draws: Vec<f64> = (0..1000).map(|_| a.unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert_eq!(draws, (0..1000).map(|_| b.unit()).collect::<Vec<_>>());
        let below_half = draws.iter().filter(|d| **d < 0.5).count();
        assert!((400..600).contains(&below_half), "{below_half}");
        assert!(!SeededRng::new(1).hit(0.0));
        assert!(SeededRng::new(1).hit(1.0));
    }
}
