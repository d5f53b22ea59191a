//! `ksef auth`: login, whoami, refresh, logout, challenge, sessions.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::Utc;
use ksef_client::TokenKind;
use ksef_model::operations::{GetChallenge, ListAuthSessions};
use ksef_model::values::Nip;
use serde_json::json;

use crate::args::{AuthCommand, AuthSessionsCommand};
use crate::context::{Ctx, SessionMeta, print_json, read_token};

/// Runs an `auth` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: AuthCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthCommand::Login { nip, token } => {
            let nip: Nip = nip.parse().with_context(|| {
                format!("{nip:?} is not a valid NIP; give the 10 digits of the context's NIP")
            })?;
            let secret = read_token(&token)?;
            let client = ctx.client()?;
            ctx.note(format!("logging in to NIP {nip} …"));
            let login = client.login_with_ksef_token(nip.clone(), secret).await?;
            let meta = SessionMeta {
                base_url: ctx.base_url()?,
                context_type: "Nip".to_owned(),
                context: nip.to_string(),
                reference_number: login.reference_number.to_string(),
                logged_in_at: Utc::now().fixed_offset(),
                refresh_valid_until: login.refresh_valid_until,
            };
            ctx.save_meta(&meta)?;
            if ctx.json() {
                print_json(&json!({
                    "context": {"type": "Nip", "value": nip.as_str()},
                    "referenceNumber": login.reference_number.as_str(),
                    "accessValidUntil": login.access_valid_until,
                    "refreshValidUntil": login.refresh_valid_until,
                    "profile": ctx.global.profile,
                    "sessionFile": ctx.tokens_path(),
                }))?;
            } else {
                println!("✓ logged in to NIP {nip} (profile {})", ctx.global.profile);
                println!("  authentication   {}", login.reference_number);
                println!(
                    "  access token     valid until {}",
                    login.access_valid_until
                );
                println!(
                    "  refresh token    valid until {}",
                    login.refresh_valid_until
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Whoami => {
            let Some(meta) = ctx.load_meta()? else {
                bail!(
                    "not logged in (profile {:?}); run `ksef auth login --nip NIP` first",
                    ctx.global.profile
                );
            };
            let client = ctx.client()?;
            let store = client.token_store();
            let access = store.load(TokenKind::Access).and_then(|t| t.valid_until());
            let refresh = store.load(TokenKind::Refresh).and_then(|t| t.valid_until());
            if ctx.json() {
                print_json(&json!({
                    "profile": ctx.global.profile,
                    "baseUrl": meta.base_url,
                    "context": {"type": meta.context_type, "value": meta.context},
                    "referenceNumber": meta.reference_number,
                    "loggedInAt": meta.logged_in_at,
                    "accessValidUntil": access,
                    "refreshValidUntil": refresh,
                }))?;
            } else {
                println!("profile          {}", ctx.global.profile);
                println!("KSeF API         {}", meta.base_url);
                println!("context          {} {}", meta.context_type, meta.context);
                println!("authentication   {}", meta.reference_number);
                println!("logged in at     {}", meta.logged_in_at);
                println!("access token     {}", until(access));
                println!("refresh token    {}", until(refresh));
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Refresh => {
            let client = ctx.logged_in_client()?;
            let valid_until = client.refresh_access_token().await?;
            if ctx.json() {
                print_json(&json!({ "accessValidUntil": valid_until }))?;
            } else {
                println!("✓ access token refreshed, valid until {valid_until}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Logout => {
            let client = ctx.logged_in_client()?;
            client.logout().await?;
            match std::fs::remove_file(ctx.meta_path()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot remove {}", ctx.meta_path().display()));
                }
            }
            if ctx.json() {
                print_json(&json!({ "loggedOut": true, "profile": ctx.global.profile }))?;
            } else {
                println!("✓ logged out (profile {})", ctx.global.profile);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Challenge => {
            let client = ctx.client()?;
            let challenge = client.auth().challenge(GetChallenge::new()).await?;
            if ctx.json() {
                print_json(&json!({
                    "challenge": challenge.challenge.as_str(),
                    "timestamp": challenge.timestamp,
                    "timestampMs": challenge.timestamp_ms,
                    "clientIp": challenge.client_ip,
                }))?;
            } else {
                println!("challenge        {}", challenge.challenge);
                println!("timestamp        {}", challenge.timestamp);
                println!("client IP        {}", challenge.client_ip);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Sessions(AuthSessionsCommand::List) => {
            let client = ctx.logged_in_client()?;
            let mut items = Vec::new();
            let mut continuation: Option<String> = None;
            loop {
                let mut request = ListAuthSessions::new().with_page_size(100);
                if let Some(token) = continuation.take() {
                    request = request.with_continuation_token(token);
                }
                let page = client.auth().list_sessions(request).await?;
                items.extend(page.items);
                match page.continuation_token {
                    Some(token) if !token.is_empty() => continuation = Some(token),
                    _ => break,
                }
            }
            if ctx.json() {
                let rows: Vec<_> = items
                    .iter()
                    .map(|s| {
                        json!({
                            "referenceNumber": s.reference_number.as_str(),
                            "startDate": s.start_date,
                            "method": s.authentication_method_info.display_name,
                            "status": {"code": s.status.code, "description": s.status.description},
                            "isCurrent": s.is_current.unwrap_or(false),
                            "refreshTokenValidUntil": s.refresh_token_valid_until,
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(rows))?;
            } else if items.is_empty() {
                println!("no active authentication sessions");
            } else {
                println!(
                    "{:<38} {:<27} {:>6}  CURRENT",
                    "REFERENCE", "STARTED", "STATUS"
                );
                for s in &items {
                    println!(
                        "{:<38} {:<27} {:>6}  {}",
                        s.reference_number.as_str(),
                        s.start_date
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        s.status.code,
                        if s.is_current.unwrap_or(false) {
                            "*"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn until(at: Option<chrono::DateTime<Utc>>) -> String {
    match at {
        Some(at) if at > Utc::now() => format!("valid until {at}"),
        Some(at) => format!("expired at {at}"),
        None => "none".to_owned(),
    }
}
