//! `ksef auth`: login, whoami, refresh, logout, challenge, sessions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset, Utc};
use ksef_client::{LoginSession, SubjectIdentifierType, TokenKind, TokenStore as _};
use ksef_model::operations::{
    GetAuthStatus, GetChallenge, ListAuthSessions, RevokeAuthSession, RevokeCurrentAuthSession,
};
use ksef_model::values::{Challenge, Nip};
use ksef_xades::KeySigner;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::args::{AuthCommand, AuthSessionsCommand, SubjectArg};
use crate::context::{
    Ctx, SessionMeta, StoreState, all_pages, parse_reference, print_json, read_token,
};
use crate::files::{read_input, read_secret_line, write_private, write_public};

/// The first half of `auth login-external`, kept in the profile until `--submit`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingExternal {
    base_url: String,
    nip: String,
    challenge: String,
    created_at: DateTime<FixedOffset>,
    unsigned_file: PathBuf,
}

/// Loads a certificate and its PKCS#8 key (encrypted if a password file is given).
pub(crate) fn load_signer(
    cert: &Path,
    key: &Path,
    password_file: Option<&Path>,
) -> anyhow::Result<KeySigner> {
    let certificate = read_input(cert, "the certificate")?;
    let key_pem = zeroize::Zeroizing::new(
        String::from_utf8(read_input(key, "the private key")?)
            .map_err(|_| anyhow::anyhow!("the key {} is not PEM text", key.display()))?,
    );
    let password = password_file
        .map(|p| read_secret_line(p, "key password"))
        .transpose()?;
    KeySigner::from_pkcs8_pem(
        &key_pem,
        password.as_ref().map(|p| p.as_bytes()),
        &certificate,
    )
    .with_context(|| {
        format!(
            "cannot use the key {} with the certificate {}; give the PKCS#8 key that belongs to \
             it (and --key-password-file if it is encrypted)",
            key.display(),
            cert.display()
        )
    })
}

fn subject_type(arg: SubjectArg) -> SubjectIdentifierType {
    match arg {
        SubjectArg::Subject => SubjectIdentifierType::CertificateSubject,
        SubjectArg::Fingerprint => SubjectIdentifierType::CertificateFingerprint,
    }
}

/// Where a valid authentication reference number is found.
const REFERENCE_HINT: &str = "copy the one KSeF returned";

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Before a login: removes a damaged token file or session description of the profile (the
/// login replaces them), saying so on stderr.
fn replace_damaged_login(ctx: &Ctx) -> anyhow::Result<()> {
    for path in ctx.discard_damaged_login()? {
        ctx.note(format!(
            "note: {} was damaged; removed, the new login replaces it",
            path.display()
        ));
    }
    Ok(())
}

/// `auth logout`: always works. Revokes the session at KSeF when the profile has readable
/// tokens (a refusal or an unreachable KSeF is a warning), then removes the profile's token file
/// and session description, damaged or not, and says what it removed.
async fn logout(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let meta = ctx.load_meta();
    let base_url = match &meta {
        Ok(Some(meta)) if ctx.global.base_url.is_none() && ctx.global.env.is_none() => {
            meta.base_url.clone()
        }
        _ => ctx.base_url_without_login()?,
    };
    let tokens = ctx.tokens_path();
    let tokens_existed = tokens.exists();
    let mut revoked = false;
    let mut warning = None;
    match ctx.open_token_store()? {
        StoreState::Usable(store) => {
            let has_login =
                store.load(TokenKind::Refresh).is_some() || store.load(TokenKind::Access).is_some();
            if has_login {
                let client = ctx.client_with_store(&base_url, store)?;
                match client.logout().await {
                    Ok(()) => revoked = true,
                    Err(error) => {
                        warning = Some(format!(
                            "KSeF did not confirm the logout ({error:#}); the local login is \
                             removed anyway"
                        ));
                    }
                }
            }
        }
        StoreState::Damaged => {
            warning = Some(format!(
                "{} was damaged, so the session could not be revoked at KSeF; it ends when its \
                 tokens expire",
                tokens.display()
            ));
        }
    }
    let mut removed = Vec::new();
    for (path, existed) in [
        (tokens, tokens_existed),
        (ctx.meta_path(), ctx.meta_path().exists()),
    ] {
        remove_if_present(&path)?;
        if existed {
            removed.push(path);
        }
    }
    // Whatever `secrets` says now, a copy kept in the keyring (before a switch, or while the
    // file was the fallback) goes too.
    let keyring_cleared = crate::secrets::clear_keyring(ctx)?;
    if let Some(warning) = &warning {
        ctx.note(format!("warning: {warning}"));
    }
    if ctx.json() {
        print_json(&json!({
            "loggedOut": true,
            "revoked": revoked,
            "profile": ctx.global.profile,
            "removed": removed,
            "keyringCleared": keyring_cleared,
            "warning": warning,
        }))?;
    } else if removed.is_empty() {
        outln!(
            "✓ nothing to remove: profile {} was not logged in",
            ctx.global.profile
        );
    } else {
        outln!("✓ logged out (profile {})", ctx.global.profile);
        if revoked {
            outln!("  revoked          the session at KSeF");
        }
        for path in &removed {
            outln!("  removed          {}", path.display());
        }
        if keyring_cleared {
            outln!("  removed          the profile's keyring entries");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Saves the session description of a finished login and reports it.
fn finish_login(
    ctx: &Ctx,
    base_url: String,
    nip: &Nip,
    login: &LoginSession,
    method: &str,
) -> anyhow::Result<ExitCode> {
    let meta = SessionMeta {
        base_url,
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
            "method": method,
            "referenceNumber": login.reference_number.as_str(),
            "accessValidUntil": login.access_valid_until,
            "refreshValidUntil": login.refresh_valid_until,
            "profile": ctx.global.profile,
            "sessionFile": ctx.tokens_path(),
            "secrets": secrets_json(ctx)?,
        }))?;
    } else {
        outln!("✓ logged in to NIP {nip} (profile {})", ctx.global.profile);
        outln!("  authentication   {}", login.reference_number);
        outln!(
            "  access token     valid until {}",
            login.access_valid_until
        );
        outln!(
            "  refresh token    valid until {}",
            login.refresh_valid_until
        );
        print_secret_holders(ctx)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the profile's store keeps each token: `{"store": "keyring"|"file", "file": PATH,
/// "access": "keyring"|"file"|null, ...}`. Never a token.
fn secrets_json(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let mut held = serde_json::Map::new();
    held.insert("store".into(), ctx.secrets_mode()?.name().into());
    held.insert("file".into(), json!(ctx.tokens_path()));
    if let StoreState::Usable(store) = ctx.open_token_store()? {
        for kind in crate::secrets::KINDS {
            held.insert(kind.to_string(), json!(store.holder(kind)));
        }
    }
    Ok(serde_json::Value::Object(held))
}

/// The human-readable form of [`secrets_json`]: one line per place that holds tokens, e.g.
/// `tokens           access, refresh in the keyring (secrets = keyring)`.
fn print_secret_holders(ctx: &Ctx) -> anyhow::Result<()> {
    let mode = ctx.secrets_mode()?.name();
    let StoreState::Usable(store) = ctx.open_token_store()? else {
        return Ok(());
    };
    for (holder, place) in [
        ("keyring", "the keyring".to_owned()),
        ("file", ctx.tokens_path().display().to_string()),
    ] {
        let kinds: Vec<String> = crate::secrets::KINDS
            .iter()
            .filter(|&&kind| store.holder(kind) == Some(holder))
            .map(|kind| kind.to_string())
            .collect();
        if !kinds.is_empty() {
            outln!(
                "  tokens           {} in {place} (secrets = {mode})",
                kinds.join(", ")
            );
        }
    }
    Ok(())
}

/// Runs an `auth` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: AuthCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthCommand::Login {
            nip,
            token,
            signing,
            subject,
        } => {
            let nip = ctx.nip(nip.as_deref())?;
            replace_damaged_login(ctx)?;
            let signer = crate::signing::signer(crate::signing::KeySource {
                cert: signing.cert.as_deref(),
                key: signing.key.as_deref(),
                key_password_file: signing.key_password_file.as_deref(),
                p12: signing.p12.as_deref(),
                password_stdin: signing.password_stdin,
                pkcs11: &signing.pkcs11,
            })?;
            if let Some(signer) = signer {
                let client = ctx.client()?;
                ctx.note(format!(
                    "logging in to NIP {nip} with certificate {} …",
                    signer.certificate().subject()
                ));
                let login = client
                    .login_with_certificate(nip.clone(), &signer, subject_type(subject))
                    .await?;
                return finish_login(ctx, ctx.base_url()?, &nip, &login, "certificate");
            }
            let secret = read_token(&token)?;
            let client = ctx.client()?;
            ctx.note(format!("logging in to NIP {nip} …"));
            let login = client.login_with_ksef_token(nip.clone(), secret).await?;
            finish_login(ctx, ctx.base_url()?, &nip, &login, "ksefToken")
        }
        AuthCommand::LoginExternal {
            generate: true,
            nip,
            subject,
            output: Some(output),
            ..
        } => {
            let nip = ctx.nip(nip.as_deref())?;
            let client = ctx.client()?;
            let (challenge, unsigned) = client
                .unsigned_auth_request(nip.clone(), subject_type(subject))
                .await?;
            write_public(&output, &unsigned)?;
            let pending = PendingExternal {
                base_url: ctx.base_url()?,
                nip: nip.to_string(),
                challenge: challenge.as_str().to_owned(),
                created_at: Utc::now().fixed_offset(),
                unsigned_file: output.clone(),
            };
            write_private(
                &ctx.pending_external_path(),
                &serde_json::to_vec_pretty(&pending)?,
            )?;
            if ctx.json() {
                print_json(&json!({
                    "context": {"type": "Nip", "value": nip.as_str()},
                    "challenge": challenge.as_str(),
                    "unsignedFile": output,
                    "profile": ctx.global.profile,
                }))?;
            } else {
                outln!(
                    "✓ unsigned AuthTokenRequest written to {}",
                    output.display()
                );
                outln!("  challenge        {challenge}");
                outln!(
                    "  next: sign it (XAdES, enveloped), then run \
                     `ksef auth login-external --submit --input SIGNED.xml` within 10 minutes"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::LoginExternal {
            submit: true,
            input: Some(input),
            ..
        } => {
            let path = ctx.pending_external_path();
            let pending: PendingExternal = match crate::files::read_state(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                    format!(
                        "{} is damaged; run `ksef auth login-external --generate` again",
                        path.display()
                    )
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                    "no pending external login in profile {:?}; run `ksef auth login-external \
                     --generate --nip NIP --output FILE` first",
                    ctx.global.profile
                ),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            let signed = read_input(&input, "the signed request")?;
            let nip: Nip = pending.nip.parse()?;
            let challenge: Challenge = pending.challenge.parse()?;
            replace_damaged_login(ctx)?;
            let client = ctx.client_for(&pending.base_url)?;
            ctx.note(format!("submitting the signed request for NIP {nip} …"));
            let login = client
                .login_with_signed_request(signed, &challenge)
                .await
                .with_context(|| {
                    format!("the signed request {} was not accepted", input.display())
                })?;
            let _ = std::fs::remove_file(&path);
            finish_login(
                ctx,
                pending.base_url.clone(),
                &nip,
                &login,
                "externalSignature",
            )
        }
        AuthCommand::LoginExternal { .. } => {
            bail!("give either --generate --output FILE or --submit --input FILE")
        }
        AuthCommand::Status { reference } => {
            let reference = match reference {
                Some(text) => parse_reference(&text, REFERENCE_HINT)?,
                None => match ctx.load_meta()? {
                    Some(meta) => parse_reference(&meta.reference_number, REFERENCE_HINT)?,
                    None => bail!(
                        "no reference number and not logged in (profile {:?}); pass the \
                         authentication's reference number",
                        ctx.global.profile
                    ),
                },
            };
            let client = ctx.logged_in_client()?;
            let status = client
                .auth()
                .status(GetAuthStatus::new(reference.clone()))
                .await?;
            if ctx.json() {
                print_json(&json!({
                    "referenceNumber": reference.as_str(),
                    "startDate": status.start_date,
                    "method": status.authentication_method_info.display_name,
                    "status": {"code": status.status.code, "description": status.status.description, "details": status.status.details},
                    "isTokenRedeemed": status.is_token_redeemed,
                    "lastTokenRefreshDate": status.last_token_refresh_date,
                    "refreshTokenValidUntil": status.refresh_token_valid_until,
                    "secrets": secrets_json(ctx)?,
                }))?;
            } else {
                outln!("authentication   {reference}");
                outln!(
                    "status           {} {}",
                    status.status.code,
                    status.status.description
                );
                outln!("started          {}", status.start_date);
                outln!(
                    "method           {}",
                    status.authentication_method_info.display_name
                );
                if let Some(until) = status.refresh_token_valid_until {
                    outln!("refresh token    valid until {until}");
                }
                print_secret_holders(ctx)?;
            }
            Ok(if status.status.code == 200 || status.status.code == 100 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuthCommand::Whoami { check } => {
            let Some(meta) = ctx.load_meta()? else {
                bail!(
                    "not logged in (profile {:?}); run `ksef auth login --nip NIP` first",
                    ctx.global.profile
                );
            };
            let client = if check {
                let client = ctx.logged_in_client()?;
                // A refresh shows the authentication session is alive (an access token outlives
                // a revoked session until it expires); a read with the new token shows it works.
                client.refresh_access_token().await?;
                client
                    .auth()
                    .list_sessions(ListAuthSessions::new().with_page_size(10))
                    .await?;
                client
            } else {
                ctx.client()?
            };
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
                    "checkedWithKsef": check,
                    "secrets": secrets_json(ctx)?,
                }))?;
            } else {
                outln!("profile          {}", ctx.global.profile);
                outln!("KSeF API         {}", meta.base_url);
                outln!("context          {} {}", meta.context_type, meta.context);
                outln!("authentication   {}", meta.reference_number);
                outln!("logged in at     {}", meta.logged_in_at);
                outln!("access token     {}", until(access));
                outln!("refresh token    {}", until(refresh));
                if check {
                    outln!("KSeF             ✓ accepts this login");
                }
                print_secret_holders(ctx)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Refresh => {
            let client = ctx.logged_in_client()?;
            let valid_until = client.refresh_access_token().await?;
            if ctx.json() {
                print_json(&json!({ "accessValidUntil": valid_until }))?;
            } else {
                outln!("✓ access token refreshed, valid until {valid_until}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Logout => logout(ctx).await,
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
                outln!("challenge        {}", challenge.challenge);
                outln!("timestamp        {}", challenge.timestamp);
                outln!("client IP        {}", challenge.client_ip);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Sessions(AuthSessionsCommand::Revoke { reference, current }) => {
            let client = ctx.logged_in_client()?;
            let own = ctx.load_meta()?.map(|m| m.reference_number);
            let (reference, is_own) = match reference {
                Some(text) if !current => {
                    let reference = parse_reference(&text, REFERENCE_HINT)?;
                    let is_own = own.as_deref() == Some(reference.as_str());
                    client
                        .auth()
                        .revoke_session(RevokeAuthSession::new(reference.clone()))
                        .await?;
                    (Some(reference.to_string()), is_own)
                }
                _ => {
                    client
                        .auth()
                        .revoke_current_session(RevokeCurrentAuthSession::new())
                        .await?;
                    (own, true)
                }
            };
            if is_own {
                // The stored refresh token no longer works: forget the login.
                client.token_store().clear()?;
                remove_if_present(&ctx.meta_path())?;
            }
            if ctx.json() {
                print_json(&json!({
                    "revoked": true,
                    "referenceNumber": reference,
                    "current": is_own,
                }))?;
            } else {
                outln!(
                    "✓ revoked authentication session {}{}",
                    reference.as_deref().unwrap_or("(current)"),
                    if is_own {
                        " (this profile's login; log in again)"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Sessions(AuthSessionsCommand::List) => {
            let client = ctx.logged_in_client()?;
            let client = &client;
            let items = all_pages(|token| async move {
                let mut request = ListAuthSessions::new().with_page_size(100);
                if let Some(token) = token {
                    request = request.with_continuation_token(token);
                }
                let page = client.auth().list_sessions(request).await?;
                Ok((page.items, page.continuation_token))
            })
            .await?;
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
                outln!("no active authentication sessions");
            } else {
                outln!(
                    "{:<38} {:<27} {:>6}  CURRENT",
                    "REFERENCE",
                    "STARTED",
                    "STATUS"
                );
                for s in &items {
                    outln!(
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
