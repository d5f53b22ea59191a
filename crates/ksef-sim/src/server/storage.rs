//! The presigned storage links the simulator hands out (as blob storage would): batch part
//! uploads, export parts and UPO downloads, below `/_sim/` (and the statistics beside them).

use chrono::Utc;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;

use crate::api::{
    self,
    common::{Reply, json},
};
use crate::errors::ApiError;
use crate::shared::Shared;

/// The largest batch part body the presigned upload links take: like blob storage, they take
/// any body up to KSeF's part limit (100 MB, encryption padding included) and leave checking it
/// against the declared size and hash to the session's processing.
const MAX_PART_BODY: usize = 100 * 1024 * 1024;

/// `PUT /_sim/upload/...`: a batch part upload on its presigned link (the body read up to
/// [`MAX_PART_BODY`]).
pub(super) async fn upload(
    shared: &Shared,
    method: &str,
    rest: &str,
    query: &str,
    body: Incoming,
) -> Result<Reply, ApiError> {
    Limited::new(body, MAX_PART_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|_| {
            ApiError::other(
                413,
                "Przekroczono dopuszczalny rozmiar.",
                format!("A part body may have at most {MAX_PART_BODY} bytes."),
            )
        })
        .and_then(|body| api::batch::upload(shared, method, rest, query, &body))
}

/// `GET /_sim/...`: statistics, the UPO download links and the export part links.
pub(super) fn sim_extra(
    shared: &Shared,
    method: &str,
    rest: &str,
    query: &str,
) -> Result<Reply, ApiError> {
    if method != "GET" {
        return Err(ApiError::other(
            405,
            "Niedozwolona metoda.",
            "Only GET is served below /_sim/.",
        ));
    }
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["stats"] => json(200, &shared.state().stats),
        ["export", reference, ordinal] => {
            api::exports::download_part(shared, reference, ordinal, query)
        }
        ["upo", session, upo] => {
            api::sessions::session_upo_xml(shared, session, upo, None, Utc::now())
        }
        ["upo", session, "invoices", invoice] => api::sessions::invoice_upo_xml(
            shared,
            session,
            None,
            |i, _| i.reference == *invoice,
            Utc::now(),
        ),
        _ => Err(ApiError::other(
            404,
            "Nie znaleziono.",
            format!("No simulator resource /_sim/{rest}."),
        )),
    }
}
