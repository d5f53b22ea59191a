//! Bearer tokens and the one trait for where they are kept.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// The three JWTs KSeF uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// The access token: every authenticated operation except the two below.
    Access,
    /// The refresh token: only `POST /auth/token/refresh`.
    Refresh,
    /// The authentication token: only polling an authentication and redeeming it.
    Authentication,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Authentication => "authentication",
        })
    }
}

/// A bearer token and, if known, when it expires. Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    secret: Arc<str>,
    valid_until: Option<DateTime<Utc>>,
}

impl Token {
    /// A token with no known expiry.
    pub fn new(secret: impl Into<String>) -> Token {
        Token {
            secret: Arc::from(secret.into()),
            valid_until: None,
        }
    }

    /// The same token with a known expiry (the `validUntil` KSeF returns with it).
    pub fn with_valid_until(mut self, valid_until: DateTime<Utc>) -> Token {
        self.valid_until = Some(valid_until);
        self
    }

    /// The secret itself. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// When the token expires, if known.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.valid_until
    }

    /// Whether the token expires within `margin` of `now` (false when the expiry is unknown).
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        self.valid_until
            .is_some_and(|until| SystemTime::from(until) <= now + margin)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// A boxed cause of a [`TokenStoreError`].
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where bearer tokens are kept: the transport reads them on every request and saves the access
/// token it refreshes; the client saves the tokens a login redeems and clears them on logout.
///
/// Implement it to keep tokens elsewhere (a keychain, a database, a shared cache);
/// [`MemoryTokenStore`] is the default, and `ksef_client::FileTokenStore` keeps them in a file.
/// [`TokenStore::load`] is called on every request, so it must be quick and must not block on
/// I/O: a store that persists keeps a copy in memory and writes through on
/// [`TokenStore::save`], where I/O is allowed. Never log the secrets: [`Token`]'s `Debug` output
/// is already redacted.
pub trait TokenStore: Send + Sync + 'static {
    /// The current token of `kind`, if any.
    fn load(&self, kind: TokenKind) -> Option<Token>;

    /// Replaces the token of `kind`. A store that fails to persist should still return the new
    /// token from [`TokenStore::load`]: the transport, which saves refreshed access tokens, can
    /// only log the failure and goes on with the token it got.
    ///
    /// # Errors
    ///
    /// [`TokenStoreError`] if the token could not be persisted.
    fn save(&self, kind: TokenKind, token: Token) -> Result<(), TokenStoreError>;

    /// Forgets every token (after logging out).
    ///
    /// # Errors
    ///
    /// [`TokenStoreError`] if the stored copy could not be removed.
    fn clear(&self) -> Result<(), TokenStoreError>;
}

/// A [`TokenStore`] could not persist or remove its tokens.
#[derive(Debug, thiserror::Error)]
#[error("the token store failed: {reason}")]
#[non_exhaustive]
pub struct TokenStoreError {
    /// What failed, e.g. `cannot write /home/me/.ksef/tokens.json`.
    pub reason: String,
    /// The underlying I/O or format error.
    #[source]
    pub source: Option<BoxError>,
}

impl TokenStoreError {
    /// A failure described by `reason`, caused by `source`.
    pub fn new(reason: impl Into<String>, source: impl Into<BoxError>) -> TokenStoreError {
        TokenStoreError {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }
}

/// Tokens held in memory behind a lock: the default store. They are gone when it is dropped.
///
/// ```
/// use ksef_transport::{MemoryTokenStore, Token, TokenKind, TokenStore};
///
/// let tokens = MemoryTokenStore::new();
/// tokens.save(TokenKind::Refresh, Token::new("eyJ...")).unwrap();
/// assert!(tokens.load(TokenKind::Refresh).is_some());
/// assert!(!format!("{tokens:?}").contains("eyJ"));
/// ```
#[derive(Default)]
pub struct MemoryTokenStore {
    slots: RwLock<[Option<Token>; 3]>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> MemoryTokenStore {
        MemoryTokenStore::default()
    }
}

fn slot(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Access => 0,
        TokenKind::Refresh => 1,
        TokenKind::Authentication => 2,
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self, kind: TokenKind) -> Option<Token> {
        // A poisoned lock only means a writer panicked; the array is still consistent.
        self.slots.read().unwrap_or_else(|e| e.into_inner())[slot(kind)].clone()
    }

    fn save(&self, kind: TokenKind, token: Token) -> Result<(), TokenStoreError> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())[slot(kind)] = Some(token);
        Ok(())
    }

    fn clear(&self) -> Result<(), TokenStoreError> {
        *self.slots.write().unwrap_or_else(|e| e.into_inner()) = Default::default();
        Ok(())
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("MemoryTokenStore")
            .field("access", &slots[0])
            .field("refresh", &slots[1])
            .field("authentication", &slots[2])
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = Token::new("super-secret");
        assert!(!format!("{t:?}").contains("super-secret"));
        assert_eq!(t.expose_secret(), "super-secret");
    }

    #[test]
    fn expiry() {
        let now = SystemTime::now();
        let t =
            Token::new("x").with_valid_until(DateTime::<Utc>::from(now + Duration::from_secs(20)));
        assert!(t.expires_within(Duration::from_secs(30), now));
        assert!(!t.expires_within(Duration::from_secs(10), now));
        assert!(!Token::new("x").expires_within(Duration::from_secs(30), now));
    }

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryTokenStore::new();
        assert!(store.load(TokenKind::Access).is_none());
        store.save(TokenKind::Access, Token::new("a")).unwrap();
        assert_eq!(store.load(TokenKind::Access).unwrap().expose_secret(), "a");
        assert!(store.load(TokenKind::Refresh).is_none());
        store.clear().unwrap();
        assert!(store.load(TokenKind::Access).is_none());
    }
}
