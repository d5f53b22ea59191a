//! [`KeyringTokenStore`] (feature `keyring`): bearer tokens in the platform's secret store (Secret
//! Service, Keychain, Credential Manager, through a `keyring-core` store), with a
//! [`FileTokenStore`] as the fallback when no keyring can be reached.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use keyring_core::{CredentialStore, Entry};
use ksef_transport::{Token, TokenKind, TokenStore, TokenStoreError};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::token_store::FileTokenStore;

/// Where a token is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretHolder {
    /// In the platform's secret store.
    Keyring,
    /// In the fallback file (mode `0600`).
    File,
}

impl fmt::Display for SecretHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Keyring => "keyring",
            Self::File => "file",
        })
    }
}

const KINDS: [TokenKind; 3] = [
    TokenKind::Access,
    TokenKind::Refresh,
    TokenKind::Authentication,
];

/// What one keyring entry holds: a token and its expiry.
#[derive(Serialize, Deserialize)]
struct Stored {
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_until: Option<DateTime<Utc>>,
}

/// How long [`KeyringTokenStore`] waits for one keyring call by default: long enough for a person
/// to answer an unlock prompt, short enough that a locked keyring with no prompter (a headless
/// box) does not hang the process.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(30);

/// A keyring call that did not answer in time (see [`KeyringTokenStore::open_with_timeout`]).
#[derive(Debug)]
struct KeyringTimedOut(Duration);

impl fmt::Display for KeyringTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the keyring did not answer within {} s (a locked keyring waiting for an unlock \
             prompt nobody can answer?); unlock it, or keep tokens in the file with `ksef config \
             set secrets file`",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for KeyringTimedOut {}

/// Tokens in the platform's secret store, one entry per token kind (service `service`, user
/// `ACCOUNT/KIND`), with a [`FileTokenStore`] as the fallback: a token the keyring refuses (no
/// Secret Service running, a locked or denied store) is written to the file instead, and
/// [`KeyringTokenStore::holder`] tells where each token is. Reads come from an in-memory copy
/// loaded by [`KeyringTokenStore::open`]; [`TokenStore::clear`] removes the tokens from both.
///
/// Every keyring call is bounded in time ([`DEFAULT_KEYRING_TIMEOUT`], or the one given to
/// [`KeyringTokenStore::open_with_timeout`]): a call that does not answer (a locked collection
/// whose unlock prompt nobody sees) counts as an unreachable keyring, and the store then uses
/// the file without asking the keyring again.
///
/// Its `Debug` output names the service, the account and which kinds are held where, never a
/// token.
pub struct KeyringTokenStore {
    store: Arc<CredentialStore>,
    service: String,
    account: String,
    file: FileTokenStore,
    cache: RwLock<BTreeMap<String, (Token, SecretHolder)>>,
    timeout: Duration,
    /// Set when a call timed out: the keyring is not asked again.
    silent: AtomicBool,
}

impl fmt::Debug for KeyringTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let held: BTreeMap<&String, SecretHolder> = cache
            .iter()
            .map(|(kind, (_, holder))| (kind, *holder))
            .collect();
        f.debug_struct("KeyringTokenStore")
            .field("service", &self.service)
            .field("account", &self.account)
            .field("file", &self.file.path())
            .field("held", &held)
            .finish()
    }
}

fn keyring_error(what: String, error: keyring_core::Error) -> TokenStoreError {
    if let keyring_core::Error::NoStorageAccess(source) = &error
        && let Some(timed_out) = source.downcast_ref::<KeyringTimedOut>()
    {
        return TokenStoreError::new(what, std::io::Error::other(timed_out.to_string()));
    }
    // The store's errors may carry the stored bytes (BadEncoding): never show them.
    let kind = match &error {
        keyring_core::Error::NoStorageAccess(_) => "the keyring cannot be reached",
        keyring_core::Error::PlatformFailure(_) => "the keyring failed",
        keyring_core::Error::BadEncoding(_) | keyring_core::Error::BadDataFormat(..) => {
            "the keyring entry is not one of ours"
        }
        _ => "the keyring refused",
    };
    TokenStoreError::new(what, std::io::Error::other(kind.to_owned()))
}

impl KeyringTokenStore {
    /// Opens the store: the tokens of `account` under `service` in `store`, and those the
    /// fallback file `file` holds. A token in both is taken from the file, which holds one only
    /// when the keyring refused the latest save, and the keyring's older copy is removed.
    ///
    /// # Errors
    ///
    /// [`Error::TokenStore`] if the file exists but cannot be read, or a keyring entry is not
    /// one this store wrote. A keyring that cannot be reached is not an error: the file is used.
    pub fn open(
        store: Arc<CredentialStore>,
        service: impl Into<String>,
        account: impl Into<String>,
        file: FileTokenStore,
    ) -> Result<KeyringTokenStore, Error> {
        Self::open_with_timeout(store, service, account, file, DEFAULT_KEYRING_TIMEOUT)
    }

    /// As [`KeyringTokenStore::open`], waiting at most `timeout` for each keyring call.
    ///
    /// # Errors
    ///
    /// As [`KeyringTokenStore::open`].
    pub fn open_with_timeout(
        store: Arc<CredentialStore>,
        service: impl Into<String>,
        account: impl Into<String>,
        file: FileTokenStore,
        timeout: Duration,
    ) -> Result<KeyringTokenStore, Error> {
        let this = KeyringTokenStore {
            store,
            service: service.into(),
            account: account.into(),
            file,
            cache: RwLock::new(BTreeMap::new()),
            timeout,
            silent: AtomicBool::new(false),
        };
        let mut cache = BTreeMap::new();
        for kind in KINDS {
            if let Some(token) = this.file.load(kind) {
                // The file holds a token only when the keyring refused its last save (a save
                // the keyring takes removes the file's copy): a keyring copy is older, so it
                // is removed when it can be, and never read.
                let _ = this.call(kind, |entry| entry.delete_credential());
                cache.insert(kind.to_string(), (token, SecretHolder::File));
                continue;
            }
            // Nothing stored, or no keyring here: the token is not held.
            if let Ok(text) = this.call(kind, |entry| entry.get_password()) {
                let text = zeroize::Zeroizing::new(text);
                let stored: Stored = serde_json::from_str(&text).map_err(|_| {
                    Error::token_store(
                        format!("cannot read the keyring entry {}", this.user(kind)),
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "not a token entry of ksef-rs",
                        ),
                    )
                })?;
                let token = Token::new(stored.token);
                let token = match stored.valid_until {
                    Some(until) => token.with_valid_until(until),
                    None => token,
                };
                cache.insert(kind.to_string(), (token, SecretHolder::Keyring));
            }
        }
        *this.cache.write().unwrap_or_else(|e| e.into_inner()) = cache;
        Ok(this)
    }

    fn user(&self, kind: TokenKind) -> String {
        format!("{}/{kind}", self.account)
    }

    /// Runs `op` on the keyring entry of `kind` on a thread of its own, waiting at most the
    /// store's timeout. A call that does not answer is left behind (it holds no lock of ours)
    /// and the keyring is not asked again: its error is `NoStorageAccess`, as for a keyring
    /// that cannot be reached.
    fn call<T: Send + 'static>(
        &self,
        kind: TokenKind,
        op: impl FnOnce(Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> keyring_core::Result<T> {
        let timed_out =
            || keyring_core::Error::NoStorageAccess(Box::new(KeyringTimedOut(self.timeout)));
        if self.silent.load(Ordering::Relaxed) {
            return Err(timed_out());
        }
        let (store, service, user) = (self.store.clone(), self.service.clone(), self.user(kind));
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("ksef-keyring".to_owned())
            .spawn(move || {
                let result = Entry::new_in_store(&store, &service, &user).and_then(op);
                let _ = answer.send(result);
            })
            .map_err(|e| keyring_core::Error::PlatformFailure(Box::new(e)))?;
        match answered.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                self.silent.store(true, Ordering::Relaxed);
                tracing::warn!(
                    "{}; tokens go to the file {}",
                    KeyringTimedOut(self.timeout),
                    self.file.path().display()
                );
                Err(timed_out())
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(
                keyring_core::Error::PlatformFailure("the keyring call panicked".into()),
            ),
        }
    }

    /// Where the token of `kind` is kept, if there is one.
    pub fn holder(&self, kind: TokenKind) -> Option<SecretHolder> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.get(&kind.to_string()).map(|(_, holder)| *holder)
    }

    /// Forgets the token of `kind`, in the keyring and in the file.
    ///
    /// # Errors
    ///
    /// [`TokenStoreError`] if the file could not be rewritten, or the keyring holds the token
    /// and refused to remove it.
    pub fn remove(&self, kind: TokenKind) -> Result<(), TokenStoreError> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let held = cache.remove(&kind.to_string()).map(|(_, holder)| holder);
        self.file.remove(kind)?;
        match self.call(kind, |entry| entry.delete_credential()) {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(_) if held != Some(SecretHolder::Keyring) => Ok(()),
            Err(e) => Err(keyring_error(
                format!("cannot remove {} from the keyring", self.user(kind)),
                e,
            )),
        }
    }

    /// The fallback file.
    pub fn file(&self) -> &FileTokenStore {
        &self.file
    }
}

impl TokenStore for KeyringTokenStore {
    fn load(&self, kind: TokenKind) -> Option<Token> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.get(&kind.to_string()).map(|(token, _)| token.clone())
    }

    fn save(&self, kind: TokenKind, token: Token) -> Result<(), TokenStoreError> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let text = serde_json::to_string(&Stored {
            token: token.expose_secret().to_owned(),
            valid_until: token.valid_until(),
        })
        .map_err(|e| TokenStoreError::new("cannot serialize the token", e))?;
        let text = zeroize::Zeroizing::new(text);
        let in_keyring = self
            .call(kind, move |entry| entry.set_password(&text))
            .is_ok();
        let holder = if in_keyring {
            // An older copy in the file (from a time without keyring) must not linger: it would
            // win over the keyring's at the next open. If it cannot be removed, the keyring's
            // new copy is taken back and the save fails.
            if self.file.load(kind).is_some()
                && let Err(error) = self.file.remove(kind)
            {
                let _ = self.call(kind, |entry| entry.delete_credential());
                return Err(error);
            }
            SecretHolder::Keyring
        } else {
            self.file.save(kind, token.clone())?;
            SecretHolder::File
        };
        cache.insert(kind.to_string(), (token, holder));
        Ok(())
    }

    fn clear(&self) -> Result<(), TokenStoreError> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let mut failed = None;
        for kind in KINDS {
            let held = cache.get(&kind.to_string()).map(|(_, holder)| *holder);
            match self.call(kind, |entry| entry.delete_credential()) {
                Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                // Not held there, and the keyring cannot be reached: nothing of ours in it.
                Err(_) if held != Some(SecretHolder::Keyring) => {}
                Err(e) => {
                    failed.get_or_insert_with(|| {
                        keyring_error(
                            format!("cannot remove {} from the keyring", self.user(kind)),
                            e,
                        )
                    });
                }
            }
        }
        cache.clear();
        self.file.clear()?;
        failed.map_or(Ok(()), Err)
    }
}
