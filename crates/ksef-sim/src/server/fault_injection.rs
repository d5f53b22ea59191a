//! Fault injection around request handling ([`Faults`](crate::Faults)): injected 5xx and 429
//! answers, latency, connection resets and truncated bodies.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::response::{error_response, wants_problem_details};
use super::routing::{Routed, count, handle, route};
use crate::errors::ApiError;
use crate::faults::{InjectedFault, SimBody};
use crate::shared::Shared;

/// The faults drawn for one request.
#[derive(Default)]
struct Drawn {
    server_error: Option<u16>,
    too_many: bool,
    reset: bool,
    truncate: bool,
}

/// Applies fault injection around [`handle`]; `Err` makes hyper close the connection without an
/// answer.
pub(super) async fn handle_faulty(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<SimBody>, InjectedFault> {
    let faults = &shared.config.faults;
    let path = request.uri().path().to_owned();
    if !faults.any() || path.starts_with("/_sim/") {
        return Ok(handle(shared, request, peer).await);
    }
    let id = match path
        .strip_prefix("/v2")
        .map(|p| route(request.method().as_str(), p))
    {
        Some(Routed::Found(op, _)) => Some(op.id),
        _ => None,
    };
    if !faults.applies_to(id) {
        return Ok(handle(shared, request, peer).await);
    }
    let drawn = {
        let mut rng = shared
            .fault_rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Drawn {
            server_error: rng
                .hit(faults.rate_5xx)
                .then(|| if rng.unit() < 0.5 { 500 } else { 503 }),
            too_many: rng.hit(faults.rate_429),
            reset: rng.hit(faults.rate_reset),
            truncate: rng.hit(faults.rate_truncate),
        }
    };
    if !faults.latency.is_zero() {
        shared.state().stats.faults.delayed += 1;
        tokio::time::sleep(faults.latency).await;
    }
    let problem = wants_problem_details(request.headers());
    let instance = path;
    if let Some(status) = drawn.server_error {
        count(&shared, id.unwrap_or("unknown"));
        shared.state().stats.faults.server_errors += 1;
        let error = if status == 500 {
            ApiError::internal("Wystąpił nieoczekiwany błąd (injected by ksef-sim).")
        } else {
            ApiError::other(
                503,
                "Usługa chwilowo niedostępna.",
                "The service is temporarily unavailable (injected by ksef-sim).",
            )
        };
        return Ok(error_response(&error, problem, &instance));
    }
    if drawn.too_many {
        count(&shared, id.unwrap_or("unknown"));
        {
            let mut state = shared.state();
            state.stats.faults.too_many_requests += 1;
            state.stats.too_many_requests_sent += 1;
        }
        return Ok(error_response(
            &ApiError::too_many_requests(1),
            problem,
            &instance,
        ));
    }
    let response = handle(shared.clone(), request, peer).await;
    if drawn.reset {
        shared.state().stats.faults.resets += 1;
        return Err(InjectedFault("connection reset after processing"));
    }
    if drawn.truncate {
        shared.state().stats.faults.truncations += 1;
        return Ok(response.map(SimBody::truncate));
    }
    Ok(response)
}
