//! Bearer tokens and where the transport gets them from.

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

/// Where the transport reads bearer tokens from and stores refreshed access tokens.
///
/// Implement it to keep tokens elsewhere (a keychain, a shared cache); [`InMemoryTokens`] is the
/// simple default. Methods are called on every request, so they should be quick and must not
/// block on I/O.
pub trait TokenSource: Send + Sync + 'static {
    /// The current token of `kind`, if there is one.
    fn token(&self, kind: TokenKind) -> Option<Token>;

    /// Replaces the token of `kind` (the transport calls it with [`TokenKind::Access`] after a
    /// refresh).
    fn store(&self, kind: TokenKind, token: Token);
}

/// Tokens held in memory behind a lock.
///
/// ```
/// use ksef_transport::{InMemoryTokens, Token, TokenKind, TokenSource};
///
/// let tokens = InMemoryTokens::new();
/// tokens.store(TokenKind::Refresh, Token::new("eyJ..."));
/// assert!(tokens.token(TokenKind::Refresh).is_some());
/// assert!(!format!("{tokens:?}").contains("eyJ"));
/// ```
#[derive(Default)]
pub struct InMemoryTokens {
    slots: RwLock<[Option<Token>; 3]>,
}

impl InMemoryTokens {
    /// No tokens yet.
    pub fn new() -> InMemoryTokens {
        InMemoryTokens::default()
    }

    /// Removes every token (for example after logging out).
    pub fn clear(&self) {
        *self.slots.write().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
}

fn slot(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Access => 0,
        TokenKind::Refresh => 1,
        TokenKind::Authentication => 2,
    }
}

impl TokenSource for InMemoryTokens {
    fn token(&self, kind: TokenKind) -> Option<Token> {
        // A poisoned lock only means a writer panicked; the array is still consistent.
        self.slots.read().unwrap_or_else(|e| e.into_inner())[slot(kind)].clone()
    }

    fn store(&self, kind: TokenKind, token: Token) {
        self.slots.write().unwrap_or_else(|e| e.into_inner())[slot(kind)] = Some(token);
    }
}

impl fmt::Debug for InMemoryTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("InMemoryTokens")
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
}
