//! Routing: the Lighthouse and simulator routes outside the API, then API paths matched against
//! the spec's path templates (from the generated descriptors) and dispatched through the route
//! table ([`crate::api::ROUTES`]) after the access checks.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use hyper::body::Incoming;
use hyper::{Request, Response};
use ksef_model::OperationInfo;
use ksef_model::operations::ALL;

use super::access::{authorize, check_rate_limit};
use super::response::{error_response, read_body, respond, wants_problem_details};
use super::{lighthouse, storage};
use crate::api::{self, common::Req};
use crate::errors::ApiError;
use crate::faults::SimBody;
use crate::shared::Shared;

/// Runs the handler in its own task so that a panic becomes a 500, never a dead server.
pub(super) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<SimBody> {
    let problem = wants_problem_details(request.headers());
    let instance = request.uri().path().to_owned();
    let inner = tokio::spawn(handle_inner(shared.clone(), request, peer)).await;
    match inner {
        Ok(response) => response,
        Err(_) => {
            shared.state().stats.internal_errors += 1;
            error_response(
                &ApiError::internal("The simulator failed while handling the request."),
                problem,
                &instance,
            )
        }
    }
}

async fn handle_inner(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    let problem = wants_problem_details(&parts.headers);
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();

    // The Lighthouse, and its switch.
    if let Some(rest) = path.strip_prefix("/lighthouse/") {
        let id = match rest.trim_end_matches('/') {
            "status" => "lighthouse.status",
            "messages" => "lighthouse.messages",
            _ => "unknown",
        };
        count(&shared, id);
        return respond(
            lighthouse::serve(&shared, parts.method.as_str(), rest),
            problem,
            &path,
        );
    }
    if path.trim_end_matches('/') == "/_sim/lighthouse" {
        count(&shared, "_sim");
        let reply = read_body(body, "body")
            .await
            .and_then(|body| lighthouse::admin(&shared, parts.method.as_str(), &body));
        return respond(reply, problem, &path);
    }
    // Simulator extras outside the API.
    if let Some(rest) = path.strip_prefix("/_sim/upload/") {
        count(&shared, "_sim");
        let reply = storage::upload(&shared, parts.method.as_str(), rest, &query, body).await;
        return respond(reply, problem, &path);
    }
    if let Some(rest) = path.strip_prefix("/_sim/") {
        count(&shared, "_sim");
        let reply = storage::sim_extra(&shared, parts.method.as_str(), rest, &query);
        return respond(reply, problem, &path);
    }

    let Some(api_path) = path.strip_prefix("/v2") else {
        count(&shared, "unknown");
        return error_response(
            &ApiError::other(404, "Nie znaleziono.", format!("No resource at {path}.")),
            problem,
            &path,
        );
    };
    let (op, params) = match route(parts.method.as_str(), api_path) {
        Routed::Found(op, params) => (op, params),
        Routed::WrongMethod => {
            count(&shared, "unknown");
            return error_response(
                &ApiError::other(
                    405,
                    "Niedozwolona metoda.",
                    format!("Method {} is not allowed on {path}.", parts.method),
                ),
                problem,
                &path,
            );
        }
        Routed::NotFound => {
            count(&shared, "unknown");
            return error_response(
                &ApiError::other(404, "Nie znaleziono.", format!("No operation at {path}.")),
                problem,
                &path,
            );
        }
    };
    count(&shared, op.id);
    let Some(handler) = api::handler(op.id) else {
        return error_response(&ApiError::not_simulated(op.id), problem, &path);
    };

    let now = Utc::now();
    let caller = match authorize(&shared, op, &parts.headers, now) {
        Ok(caller) => caller,
        Err(err) => return error_response(&err, problem, &path),
    };
    if let Err(err) = check_rate_limit(&shared, op, caller.as_ref(), peer) {
        return error_response(&err, problem, &path);
    }
    let body = match read_body(body, "request body").await {
        Ok(body) => body,
        Err(err) => return error_response(&err, problem, &path),
    };
    let req = Req {
        params,
        query: api::common::parse_query(&query),
        headers: parts.headers,
        body,
        client_ip: peer.ip().to_string(),
        caller,
        now,
    };
    respond(handler(&shared, &req), problem, &path)
}

pub(super) fn count(shared: &Shared, id: &str) {
    *shared
        .state()
        .stats
        .requests
        .entry(id.to_owned())
        .or_default() += 1;
}

/// Path parameters by template name.
type PathParams = Vec<(&'static str, String)>;

pub(super) enum Routed {
    Found(&'static OperationInfo, PathParams),
    WrongMethod,
    NotFound,
}

/// Matches a path below `/v2` against the spec's path templates; literal segments win over
/// placeholders (`/auth/sessions` is not `/auth/{referenceNumber}`).
pub(super) fn route(method: &str, path: &str) -> Routed {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let mut best: Option<(usize, &'static OperationInfo, PathParams)> = None;
    let mut path_matched = false;
    for op in ALL {
        let template: Vec<&'static str> = op.path_template.split('/').skip(1).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut literals = 0;
        let mut params = Vec::new();
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                params.push((name, api::common::percent_decode(s)));
                !s.is_empty()
            } else {
                literals += 1;
                t == s
            }
        });
        if !matched {
            continue;
        }
        path_matched = true;
        if op.method.as_str() != method {
            continue;
        }
        if best.as_ref().is_none_or(|(l, _, _)| literals > *l) {
            best = Some((literals, op, params));
        }
    }
    match best {
        Some((_, op, params)) => Routed::Found(op, params),
        None if path_matched => Routed::WrongMethod,
        None => Routed::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::{ALL, Routed, route};

    #[test]
    fn every_operation_routes_to_itself() {
        for op in ALL {
            let path = op.path_template.replace('{', "X").replace('}', "");
            match route(op.method.as_str(), &path) {
                Routed::Found(found, _) => assert_eq!(found.id, op.id, "{}", op.path_template),
                _ => panic!("{} {} does not route", op.method, op.path_template),
            }
        }
    }

    #[test]
    fn literal_segments_win_over_placeholders() {
        let Routed::Found(op, _) = route("GET", "/auth/sessions") else {
            panic!()
        };
        assert_eq!(op.id, "auth.sessions.list");
        let Routed::Found(op, params) = route("GET", "/auth/20250101-AU-0000000000-0000000000-00")
        else {
            panic!()
        };
        assert_eq!(op.id, "auth.status");
        assert_eq!(
            params[0],
            (
                "referenceNumber",
                "20250101-AU-0000000000-0000000000-00".to_owned()
            )
        );
        let Routed::Found(op, _) = route("GET", "/sessions/S/invoices/failed") else {
            panic!()
        };
        assert_eq!(op.id, "sessions.failed_invoices");
        assert!(matches!(
            route("PUT", "/auth/challenge"),
            Routed::WrongMethod
        ));
        assert!(matches!(route("GET", "/nothing/here"), Routed::NotFound));
    }
}
