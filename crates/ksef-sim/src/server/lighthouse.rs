//! Serving the Lighthouse (`/lighthouse/status`, `/lighthouse/messages`) and its switch
//! (`/_sim/lighthouse`); what it serves is [`crate::lighthouse::LighthouseStatus`].

use crate::api::common::{Reply, json};
use crate::errors::ApiError;
use crate::lighthouse::LighthouseStatus;
use crate::shared::Shared;

/// Serves `GET /lighthouse/{rest}`.
pub(super) fn serve(shared: &Shared, method: &str, rest: &str) -> Result<Reply, ApiError> {
    if method != "GET" {
        return Err(ApiError::other(
            405,
            "Niedozwolona metoda.",
            "Only GET is served below /lighthouse/.",
        ));
    }
    let current = shared.state().lighthouse.clone();
    match rest.trim_end_matches('/') {
        "status" => json(200, &current),
        "messages" => json(200, &current.messages),
        _ => Err(ApiError::other(
            404,
            "Nie znaleziono.",
            format!("No Lighthouse resource /lighthouse/{rest}."),
        )),
    }
}

/// Serves `GET` and `PUT /_sim/lighthouse`.
pub(super) fn admin(shared: &Shared, method: &str, body: &[u8]) -> Result<Reply, ApiError> {
    match method {
        "GET" => json(200, &shared.state().lighthouse),
        "PUT" => {
            let status: LighthouseStatus = serde_json::from_slice(body).map_err(|e| {
                ApiError::validation(format!("Invalid Lighthouse status document: {e}."))
            })?;
            shared.state().lighthouse = status;
            Ok(Reply::Empty(204))
        }
        _ => Err(ApiError::other(
            405,
            "Niedozwolona metoda.",
            "Only GET and PUT are served on /_sim/lighthouse.",
        )),
    }
}
