//! `ksef status`: KSeF's availability from the Lighthouse ("Latarnia"), the Ministry's status
//! service. The service is unofficial (no published specification) and may change.
//!
//! Exit codes: 0 when KSeF is AVAILABLE; 1 when it is not (MAINTENANCE, FAILURE, TOTAL_FAILURE
//! or a status this version does not know), and also when the Lighthouse cannot be reached: in
//! both cases a script should not count on KSeF now and switch to offline invoicing; 2 when no
//! Lighthouse URL is known for the target (DEMO, a custom non-loopback base URL) and
//! `--lighthouse-url` is missing.

use std::net::IpAddr;
use std::process::ExitCode;

use ksef_client::Environment;
use ksef_client::lighthouse::{self, Lighthouse, Message};
use serde_json::{Value, json};

use crate::args::StatusArgs;
use crate::context::{Ctx, UsageError, print_json};

/// Scheme and authority of `url` (`http://127.0.0.1:8080` of `http://127.0.0.1:8080/v2`), if
/// its host is `localhost` or a loopback address.
fn loopback_root(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?,
        None => authority.split(':').next()?,
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback.then(|| format!("{scheme}://{authority}"))
}

/// The Lighthouse URL: `--lighthouse-url`/`KSEF_LIGHTHOUSE_URL`, else the one of the
/// environment the API base URL belongs to, else `{root}/lighthouse` of a loopback base URL (a
/// `ksef sim`).
fn lighthouse_url(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<String> {
    if let Some(url) = &args.lighthouse_url {
        return Ok(url.clone());
    }
    let base_url = ctx.base_url()?;
    let base = base_url.trim_end_matches('/');
    for environment in [
        Environment::Test,
        Environment::Demo,
        Environment::Production,
    ] {
        if base == environment.base_url() {
            return match lighthouse::url_for(environment) {
                Some(url) => Ok(url.to_owned()),
                None => Err(UsageError(format!(
                    "no Lighthouse is known for the {environment:?} environment; pass \
                     --lighthouse-url URL (or set KSEF_LIGHTHOUSE_URL)"
                ))
                .into()),
            };
        }
    }
    match loopback_root(base) {
        Some(root) => Ok(format!("{root}/lighthouse")),
        None => Err(UsageError(format!(
            "no Lighthouse is known for the base URL {base}; pass --lighthouse-url URL (or set \
             KSEF_LIGHTHOUSE_URL)"
        ))
        .into()),
    }
}

fn message_json(message: &Message) -> Value {
    json!({
        "id": message.id,
        "eventId": message.event_id,
        "category": message.category.as_str(),
        "type": message.kind.as_str(),
        "title": message.title,
        "text": message.text,
        "start": message.start,
        "end": message.end,
        "version": message.version,
        "published": message.published,
    })
}

/// Runs `ksef status`.
pub(crate) async fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let url = lighthouse_url(ctx, &args)?;
    let client = Lighthouse::builder().url(&url).build()?;
    let status = client.status().await.map_err(|error| {
        anyhow::Error::new(error).context(format!(
            "cannot read KSeF's status from the Lighthouse at {url}; if KSeF cannot be reached \
             either, invoice offline"
        ))
    })?;
    let available = status.status.is_available();
    if ctx.json() {
        print_json(&json!({
            "status": status.status.as_str(),
            "available": available,
            "lighthouseUrl": client.base_url(),
            "messages": status.messages.iter().map(message_json).collect::<Vec<_>>(),
        }))?;
    } else {
        let meaning = match &status.status {
            lighthouse::Availability::Available => "KSeF is available",
            lighthouse::Availability::Maintenance => {
                "KSeF is down for maintenance: invoice in the offline mode"
            }
            lighthouse::Availability::Failure => {
                "KSeF has failed: invoice in the emergency (offline) mode"
            }
            lighthouse::Availability::TotalFailure => {
                "KSeF has failed totally: invoices need not be sent to KSeF later"
            }
            _ => "KSeF's status is one this version does not know: treat it as unavailable",
        };
        outln!("{} ({meaning})", status.status);
        for message in &status.messages {
            let period = match &message.end {
                Some(end) => format!("{} – {}", message.start.to_rfc3339(), end.to_rfc3339()),
                None => format!("from {}", message.start.to_rfc3339()),
            };
            outln!(
                "- [{} {}] {}: {}",
                message.category,
                message.kind,
                message.title,
                message.text
            );
            outln!("  {period}");
        }
        ctx.detail(format!("Lighthouse: {}", client.base_url()));
    }
    Ok(if available {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::loopback_root;

    #[test]
    fn only_loopback_base_urls_have_a_derived_lighthouse() {
        assert_eq!(
            loopback_root("http://127.0.0.1:8080/v2").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            loopback_root("http://[::1]:9/v2").as_deref(),
            Some("http://[::1]:9")
        );
        assert_eq!(
            loopback_root("http://localhost/v2").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(loopback_root("https://api-test.ksef.mf.gov.pl/v2"), None);
        assert_eq!(loopback_root("http://10.0.0.1:8080/v2"), None);
    }
}
