//! Where a profile's tokens are kept: `secrets = "file"` (the default: the profile's 0600
//! `tokens.json`) or `secrets = "keyring"` (the platform's secret store, on Linux the Secret
//! Service; the same `tokens.json` as the fallback when no keyring can be reached).
//!
//! The rule that keeps a stale copy from winning: the configured store is the only one read
//! (with `file`, the keyring is never read), and within the keyring store a token in the file is
//! newer than one in the keyring (the file holds one only when the keyring refused the latest
//! save). `ksef config set secrets ...` moves every profile's tokens to the chosen store and
//! removes the other copy; `ksef auth logout` removes the profile's tokens from both.

#[cfg(feature = "keyring")]
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use ksef_client::{FileTokenStore, Token, TokenKind, TokenStore, TokenStoreError};

use crate::context::Ctx;

/// The keyring service name of the entries: one per profile and token kind, the user
/// `PROFILE@HOME/KIND`.
#[cfg(feature = "keyring")]
pub(crate) const KEYRING_SERVICE: &str = "ksef-rs";

/// The token kinds a profile may hold.
pub(crate) const KINDS: [TokenKind; 3] = [
    TokenKind::Access,
    TokenKind::Refresh,
    TokenKind::Authentication,
];

/// Where `config.toml` says tokens are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretsMode {
    /// The profile's 0600 `tokens.json`.
    File,
    /// The platform's secret store, the file as the fallback.
    Keyring,
}

impl SecretsMode {
    /// Reads the configured value (`file` when unset).
    pub(crate) fn parse(value: Option<&str>) -> anyhow::Result<SecretsMode> {
        match value {
            None | Some("file") => Ok(SecretsMode::File),
            Some("keyring") => Ok(SecretsMode::Keyring),
            Some(other) => anyhow::bail!("secrets {other:?} is not one of keyring, file"),
        }
    }

    /// The name in `config.toml` and in the output.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SecretsMode::File => "file",
            SecretsMode::Keyring => "keyring",
        }
    }
}

/// A profile's token store, as configured.
pub(crate) enum CliTokenStore {
    /// `secrets = "file"`, or a keyring that cannot be reached.
    File(FileTokenStore),
    /// `secrets = "keyring"`.
    #[cfg(feature = "keyring")]
    Keyring(ksef_client::KeyringTokenStore),
}

impl std::fmt::Debug for CliTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(store) => store.fmt(f),
            #[cfg(feature = "keyring")]
            Self::Keyring(store) => store.fmt(f),
        }
    }
}

impl CliTokenStore {
    fn inner(&self) -> &dyn TokenStore {
        match self {
            Self::File(store) => store,
            #[cfg(feature = "keyring")]
            Self::Keyring(store) => store,
        }
    }

    /// Where the token of `kind` is kept (`keyring` or `file`), if there is one. Never the
    /// token.
    pub(crate) fn holder(&self, kind: TokenKind) -> Option<&'static str> {
        match self {
            Self::File(store) => store.load(kind).map(|_| "file"),
            #[cfg(feature = "keyring")]
            Self::Keyring(store) => store.holder(kind).map(|holder| match holder {
                ksef_client::SecretHolder::Keyring => "keyring",
                _ => "file",
            }),
        }
    }
}

impl TokenStore for CliTokenStore {
    fn load(&self, kind: TokenKind) -> Option<Token> {
        self.inner().load(kind)
    }

    fn save(&self, kind: TokenKind, token: Token) -> Result<(), TokenStoreError> {
        self.inner().save(kind, token)
    }

    fn clear(&self) -> Result<(), TokenStoreError> {
        self.inner().clear()
    }
}

/// The platform's secret store, connected once per process; `Err` says why there is none.
#[cfg(feature = "keyring")]
fn platform_store() -> Result<Arc<ksef_client::keyring_core::CredentialStore>, String> {
    static STORE: OnceLock<Result<Arc<ksef_client::keyring_core::CredentialStore>, String>> =
        OnceLock::new();
    STORE
        .get_or_init(|| {
            #[cfg(target_os = "linux")]
            {
                // The store's errors name the D-Bus failure (no bus, no service): never a secret.
                zbus_secret_service_keyring_store::Store::new()
                    .map(|store| store as Arc<ksef_client::keyring_core::CredentialStore>)
                    .map_err(|e| format!("no Secret Service can be reached ({e})"))
            }
            #[cfg(not(target_os = "linux"))]
            {
                Err("this build of ksef has no keyring store for this platform".to_owned())
            }
        })
        .clone()
}

/// The keyring account of a profile: its name and the home it lives in, so two homes (or two
/// test runs) never share entries.
#[cfg(feature = "keyring")]
fn account(ctx: &Ctx) -> String {
    let home = std::fs::canonicalize(&ctx.home).unwrap_or_else(|_| ctx.home.clone());
    format!("{}@{}", ctx.global.profile, home.display())
}

/// Opens the keyring store of the profile over `file`, or says why it cannot be.
#[cfg(feature = "keyring")]
fn open_keyring(
    ctx: &Ctx,
    file: FileTokenStore,
) -> Result<anyhow::Result<ksef_client::KeyringTokenStore>, (String, FileTokenStore)> {
    match platform_store() {
        Ok(store) => {
            Ok(
                ksef_client::KeyringTokenStore::open(store, KEYRING_SERVICE, account(ctx), file)
                    .context("cannot read the profile's tokens from the keyring"),
            )
        }
        Err(why) => Err((why, file)),
    }
}

/// Tells once per process that the keyring was asked for and the file is used.
fn fallback_notice(ctx: &Ctx, why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        ctx.note(format!(
            "note: secrets = keyring, but {why}; tokens are kept in {} (0600)",
            ctx.tokens_path().display()
        ));
    });
}

/// The profile's token store over the opened `file`, as configured.
pub(crate) fn open(ctx: &Ctx, file: FileTokenStore) -> anyhow::Result<CliTokenStore> {
    match ctx.secrets_mode()? {
        SecretsMode::File => Ok(CliTokenStore::File(file)),
        #[cfg(feature = "keyring")]
        SecretsMode::Keyring => match open_keyring(ctx, file) {
            Ok(store) => Ok(CliTokenStore::Keyring(store?)),
            Err((why, file)) => {
                fallback_notice(ctx, &why);
                Ok(CliTokenStore::File(file))
            }
        },
        #[cfg(not(feature = "keyring"))]
        SecretsMode::Keyring => {
            fallback_notice(ctx, "this ksef was built without the `keyring` feature");
            Ok(CliTokenStore::File(file))
        }
    }
}

/// With `secrets = keyring`: removes the profile's tokens from the keyring (`auth logout`, after
/// the token file is gone, even when KSeF could not be told). With `file` the keyring is not
/// touched: it holds nothing of the profile's (switching to `file` moved the tokens out). A
/// keyring that cannot be reached holds nothing of ours to remove. Returns whether the
/// keyring's entries were removed.
pub(crate) fn clear_keyring(ctx: &Ctx) -> anyhow::Result<bool> {
    if ctx.secrets_mode()? == SecretsMode::File {
        return Ok(false);
    }
    #[cfg(feature = "keyring")]
    {
        let file = FileTokenStore::open(ctx.tokens_path())?;
        match open_keyring(ctx, file) {
            // Entries that are not ours are left alone.
            Ok(Err(_)) => Ok(true),
            Ok(Ok(store)) => {
                store
                    .clear()
                    .context("cannot remove the profile's tokens from the keyring")?;
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = ctx;
        Ok(false)
    }
}

/// Moves the tokens of the profile `ctx` names to the store `to`, removing the other copy. Says
/// on stderr when the keyring cannot be reached (the file then keeps them).
pub(crate) fn migrate(ctx: &Ctx, to: SecretsMode) -> anyhow::Result<()> {
    let path = ctx.tokens_path();
    let file = FileTokenStore::open(&path).with_context(|| {
        format!(
            "cannot move the tokens of profile {:?}: {} is damaged; run `ksef auth logout \
             --profile {}` first",
            ctx.global.profile,
            path.display(),
            ctx.global.profile
        )
    })?;
    #[cfg(feature = "keyring")]
    {
        let from_file: Vec<(TokenKind, Option<Token>)> =
            KINDS.iter().map(|&kind| (kind, file.load(kind))).collect();
        let store = match open_keyring(ctx, file) {
            Ok(store) => store?,
            Err((why, _)) => {
                match to {
                    SecretsMode::Keyring => fallback_notice(ctx, &why),
                    // Never read with `file`; a switch back to `keyring` replaces them.
                    SecretsMode::File => ctx.note(format!(
                        "note: {why}: tokens the keyring may hold for profile {:?} stay there \
                         unread; `ksef config set secrets keyring` replaces them",
                        ctx.global.profile
                    )),
                }
                // Nothing can be read from or written to the keyring: the file stays as it is.
                return Ok(());
            }
        };
        match to {
            SecretsMode::Keyring => {
                // The file was the only copy read until now: it replaces whatever the keyring
                // holds, and what it lacks is removed from the keyring.
                for (kind, token) in from_file {
                    match token {
                        Some(token) => store.save(kind, token)?,
                        None => store.remove(kind)?,
                    }
                }
            }
            SecretsMode::File => {
                let tokens: Vec<(TokenKind, Option<Token>)> =
                    KINDS.iter().map(|&kind| (kind, store.load(kind))).collect();
                for (kind, token) in tokens {
                    match token {
                        Some(token) => store.file().save(kind, token)?,
                        None => store.remove(kind)?,
                    }
                }
                // Every token is in the file now: reopening removes the keyring's copies.
                drop(store);
                if let Ok(Err(e)) = open_keyring(ctx, FileTokenStore::open(&path)?) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = (file, to);
        Ok(())
    }
}
