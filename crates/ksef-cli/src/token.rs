//! `ksef token`: generate, list, status and revoke KSeF tokens.
//!
//! A generated token is a secret shown once: it goes to stdout (alone on its line, or as
//! `token` in the JSON document) or, with `--out`, only to a 0600 file. It is never logged.

use std::process::ExitCode;

use anyhow::bail;
use ksef_model::operations::{GenerateToken, GetTokenStatus, ListTokens, RevokeToken};
use ksef_model::types::{GenerateTokenRequest, TokenPermissionType};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::args::TokenCommand;
use crate::context::{Ctx, all_pages, parse_reference, print_json};
use crate::files::write_private;

/// The permissions a KSeF token can carry: the spec's `TokenPermissionType` (generated).
const PERMISSIONS: &[&str] = TokenPermissionType::VALUES;

fn parse_permission(text: &str) -> anyhow::Result<TokenPermissionType> {
    let text = text.trim();
    match PERMISSIONS.iter().find(|p| p.eq_ignore_ascii_case(text)) {
        Some(name) => Ok(TokenPermissionType::from(*name)),
        None => bail!(
            "--permission {text:?} is not a token permission; use one of {}",
            PERMISSIONS.join(", ")
        ),
    }
}

/// Runs a `token` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Generate {
            description,
            permissions,
            out,
        } => {
            let count = description.chars().count();
            if !(5..=256).contains(&count) {
                bail!("--description must have 5 to 256 characters (it has {count})");
            }
            let permissions = permissions
                .iter()
                .map(|p| parse_permission(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if let Some(path) = &out
                && path.exists()
            {
                bail!(
                    "{} exists; give a new file for the token (it is never overwritten)",
                    path.display()
                );
            }
            let client = ctx.logged_in_client()?;
            let generated = client
                .tokens()
                .generate(GenerateToken::new(GenerateTokenRequest::new(
                    permissions.clone(),
                    description.clone(),
                )))
                .await?;
            let secret = Zeroizing::new(generated.token);
            let reference = generated.reference_number;
            let permission_names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
            match &out {
                Some(path) => {
                    write_private(path, format!("{}\n", secret.as_str()).as_bytes())?;
                    if ctx.json() {
                        print_json(&json!({
                            "referenceNumber": reference.as_str(),
                            "description": description,
                            "permissions": permission_names,
                            "tokenFile": path,
                        }))?;
                    } else {
                        outln!("✓ token {reference} generated");
                        outln!("  saved to         {} (0600)", path.display());
                    }
                }
                None => {
                    if ctx.json() {
                        print_json(&json!({
                            "referenceNumber": reference.as_str(),
                            "description": description,
                            "permissions": permission_names,
                            "token": secret.as_str(),
                        }))?;
                    } else {
                        outln!("{}", secret.as_str());
                        ctx.note(format!(
                            "✓ token {reference} generated; it is shown only once, above"
                        ));
                    }
                }
            }
            ctx.note("the token becomes usable once KSeF activates it (`ksef token status REF`)");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List => {
            let client = ctx.logged_in_client()?;
            let client = &client;
            let tokens = all_pages(|token| async move {
                let mut request = ListTokens::new().with_page_size(100);
                if let Some(token) = token {
                    request = request.with_continuation_token(token);
                }
                let page = client.tokens().list(request).await?;
                Ok((page.tokens, page.continuation_token))
            })
            .await?;
            if ctx.json() {
                let rows: Vec<Value> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "referenceNumber": t.reference_number.as_str(),
                            "description": t.description,
                            "status": t.status.as_str(),
                            "permissions": t.requested_permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                            "dateCreated": t.date_created,
                            "lastUseDate": t.last_use_date,
                            "author": {"type": t.author_identifier.r#type.as_str(), "value": t.author_identifier.value},
                            "context": {"type": t.context_identifier.r#type.as_str(), "value": t.context_identifier.value},
                        })
                    })
                    .collect();
                print_json(&Value::Array(rows))?;
            } else if tokens.is_empty() {
                outln!("no tokens");
            } else {
                outln!(
                    "{:<38} {:<9} {:<21} DESCRIPTION",
                    "REFERENCE",
                    "STATUS",
                    "CREATED"
                );
                for t in &tokens {
                    outln!(
                        "{:<38} {:<9} {:<21} {}",
                        t.reference_number.as_str(),
                        t.status.as_str(),
                        t.date_created
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        t.description
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Status { reference } => {
            let reference = parse_reference(&reference, "copy it from `ksef token list`")?;
            let client = ctx.logged_in_client()?;
            let t = client
                .tokens()
                .status(GetTokenStatus::new(reference.clone()))
                .await?;
            if ctx.json() {
                print_json(&json!({
                    "referenceNumber": t.reference_number.as_str(),
                    "description": t.description,
                    "status": t.status.as_str(),
                    "statusDetails": t.status_details,
                    "permissions": t.requested_permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                    "dateCreated": t.date_created,
                    "lastUseDate": t.last_use_date,
                    "author": {"type": t.author_identifier.r#type.as_str(), "value": t.author_identifier.value},
                    "context": {"type": t.context_identifier.r#type.as_str(), "value": t.context_identifier.value},
                }))?;
            } else {
                outln!("token            {}", t.reference_number);
                outln!("status           {}", t.status);
                outln!("description      {}", t.description);
                outln!(
                    "permissions      {}",
                    t.requested_permissions
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                outln!("created          {}", t.date_created);
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { reference } => {
            let reference = parse_reference(&reference, "copy it from `ksef token list`")?;
            let client = ctx.logged_in_client()?;
            client
                .tokens()
                .revoke(RevokeToken::new(reference.clone()))
                .await?;
            if ctx.json() {
                print_json(&json!({ "referenceNumber": reference.as_str(), "revoked": true }))?;
            } else {
                outln!("✓ token {reference} revoked");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_permission;

    #[test]
    fn permissions_are_checked_case_insensitively() {
        assert_eq!(
            parse_permission("invoiceread").unwrap().as_str(),
            "InvoiceRead"
        );
        let error = parse_permission("Everything").unwrap_err().to_string();
        assert!(error.contains("InvoiceWrite"), "{error}");
    }
}
