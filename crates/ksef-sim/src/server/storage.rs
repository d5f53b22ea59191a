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

/// The largest batch part body the presigned upload links take: KSeF's part limit
/// ([`api::batch::MAX_PART_SIZE`], 100 MB before encryption plus the padding). A larger body is
/// refused with 400 21157 as soon as its `Content-Length` (or, when chunked, the bytes read so
/// far) exceeds it; at most this much is ever buffered. Within the limit, like blob storage, the
/// link takes any body and leaves checking it against the declared size and hash to the
/// session's processing.
const MAX_PART_BODY: u64 = api::batch::MAX_PART_SIZE as u64;

/// `PUT /_sim/upload/...`: a batch part upload on its presigned link.
pub(super) async fn upload(
    shared: &Shared,
    method: &str,
    rest: &str,
    query: &str,
    body: Incoming,
) -> Result<Reply, ApiError> {
    let too_large = || {
        ApiError::bad_request(
            21157,
            "Nieprawidłowy rozmiar części pliku.",
            format!("A part may have at most {MAX_PART_BODY} bytes (100 MB before encryption)."),
        )
    };
    // The link and its session are checked before a byte of the body is read, and a body whose
    // declared length is over the limit is refused unread.
    api::batch::upload(shared, method, rest, query, None)?;
    if hyper::body::Body::size_hint(&body).lower() > MAX_PART_BODY {
        return Err(too_large());
    }
    let limit = usize::try_from(MAX_PART_BODY).unwrap_or(usize::MAX);
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::validation("The part body could not be read.")
            }
        })?;
    api::batch::upload(shared, method, rest, query, Some(&body))
}

/// `GET /_sim/...`: statistics, the UPO download links and the export part links (both refused
/// without their link signature).
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
            api::sessions::check_upo_link(shared, session, query)?;
            api::sessions::session_upo_xml(shared, session, upo, None, Utc::now())
        }
        ["upo", session, "invoices", invoice] => {
            api::sessions::check_upo_link(shared, session, query)?;
            api::sessions::invoice_upo_xml(
                shared,
                session,
                None,
                |i, _| i.reference == *invoice,
                Utc::now(),
            )
        }
        _ => Err(ApiError::other(
            404,
            "Nie znaleziono.",
            format!("No simulator resource /_sim/{rest}."),
        )),
    }
}
