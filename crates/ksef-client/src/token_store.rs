//! [`FileTokenStore`]: bearer tokens kept in a file between runs.
//!
//! The trait is [`TokenStore`], owned by `ksef-transport` (which reads tokens on every request
//! and saves the access tokens it refreshes); the in-memory default is [`MemoryTokenStore`].
//! Both are re-exported at this crate's root.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
#[cfg(doc)]
use ksef_transport::MemoryTokenStore;
use ksef_transport::{Token, TokenKind, TokenStore, TokenStoreError};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The file format of [`FileTokenStore`]: one entry per token kind.
#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    tokens: BTreeMap<String, StoredToken>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredToken {
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_until: Option<DateTime<Utc>>,
}

fn kind_key(kind: TokenKind) -> String {
    kind.to_string()
}

/// Tokens in a JSON file, so a refresh token survives a restart.
///
/// Every change rewrites the whole file atomically: the new content goes to a temporary file in
/// the same directory, which is flushed to disk and then renamed over the old one, so a crash
/// leaves either the old or the new file. On Unix the file is created with mode `0600` (owner
/// read/write only). Reads come from an in-memory copy loaded by [`FileTokenStore::open`].
pub struct FileTokenStore {
    path: PathBuf,
    cache: RwLock<TokenFile>,
}

impl FileTokenStore {
    /// Opens the store at `path`, loading the tokens already there (a missing file is an empty
    /// store; it is created on the first save).
    ///
    /// # Errors
    ///
    /// [`Error::TokenStore`] if the file exists but cannot be read or parsed.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileTokenStore, Error> {
        let path = path.into();
        // Capped: a device or a huge file planted in its place is refused, never read whole.
        let cache = match crate::files::read_state_file(&path, crate::files::STATE_FILE_LIMIT) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| unparsable(&path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TokenFile::default(),
            Err(e) => {
                return Err(Error::token_store(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
        };
        Ok(FileTokenStore {
            path,
            cache: RwLock::new(cache),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forgets the token of `kind` (the file is rewritten, or removed when it holds no other).
    ///
    /// # Errors
    ///
    /// [`TokenStoreError`] if the file could not be rewritten or removed.
    pub fn remove(&self, kind: TokenKind) -> Result<(), TokenStoreError> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.tokens.remove(&kind_key(kind)).is_none() {
            return Ok(());
        }
        if cache.tokens.is_empty() {
            drop(cache);
            return self.clear();
        }
        self.persist(&cache)
    }

    fn persist(&self, file: &TokenFile) -> Result<(), TokenStoreError> {
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|e| TokenStoreError::new("cannot serialize the tokens", e))?;
        crate::files::write_atomically(&self.path, &bytes)
            .map_err(|e| TokenStoreError::new(format!("cannot write {}", self.path.display()), e))
    }
}

/// The error for a token file that is not ours: where and what kind of fault, never the parser's
/// message, which can quote the file's content (a token).
fn unparsable(path: &Path, error: &serde_json::Error) -> Error {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a token file",
        serde_json::error::Category::Eof => "cut short",
    };
    Error::token_store(
        format!("cannot parse {}", path.display()),
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{kind} at line {}, column {}", error.line(), error.column()),
        ),
    )
}

impl TokenStore for FileTokenStore {
    fn load(&self, kind: TokenKind) -> Option<Token> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.tokens.get(&kind_key(kind)).map(|stored| {
            let token = Token::new(stored.token.clone());
            match stored.valid_until {
                Some(until) => token.with_valid_until(until),
                None => token,
            }
        })
    }

    fn save(&self, kind: TokenKind, token: Token) -> Result<(), TokenStoreError> {
        // A poisoned lock only means another writer panicked; the map is still consistent.
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.tokens.insert(
            kind_key(kind),
            StoredToken {
                token: token.expose_secret().to_owned(),
                valid_until: token.valid_until(),
            },
        );
        self.persist(&cache)
    }

    fn clear(&self) -> Result<(), TokenStoreError> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.tokens.clear();
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(TokenStoreError::new(
                format!("cannot remove {}", self.path.display()),
                e,
            )),
        }
    }
}

impl fmt::Debug for FileTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let kinds: Vec<&String> = cache.tokens.keys().collect();
        f.debug_struct("FileTokenStore")
            .field("path", &self.path)
            .field("kinds_present", &kinds)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ksef-client-test-{}-{name}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("tokens.json")
    }

    #[test]
    fn a_damaged_file_is_named_without_quoting_its_content() {
        let path = temp_path("damaged");
        for content in [
            r#"{"tokens": "refresh-secret-1"}"#,
            r#"{"tokens": {"Refresh": {"token": ["refresh-secret-2"]}}}"#,
            r#"{"tokens": {"Refresh": {"token": "refresh-secret-3""#,
        ] {
            std::fs::write(&path, content).unwrap();
            let error = FileTokenStore::open(&path).expect_err("a damaged file is refused");
            let shown = format!(
                "{error} / {error:?} / {:?}",
                std::error::Error::source(&error)
            );
            assert!(shown.contains("tokens.json"), "{shown}");
            assert!(shown.contains("line 1"), "{shown}");
            assert!(
                !shown.contains("secret"),
                "the error quotes the file: {shown}"
            );
        }
    }

    #[test]
    fn an_oversized_or_endless_token_file_is_refused_unread() {
        // A file over the cap is refused by its size; a device in its place through the cap.
        let path = temp_path("oversized");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(crate::files::STATE_FILE_LIMIT + 1).unwrap();
        for path in [path.as_path(), Path::new("/dev/zero")] {
            let error = FileTokenStore::open(path).expect_err("refused by size");
            let shown = format!("{error} / {:?}", std::error::Error::source(&error));
            assert!(shown.contains(&path.display().to_string()), "{shown}");
            assert!(shown.contains("larger than"), "{shown}");
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn file_store_persists_across_opens_and_redacts_debug() {
        let path = temp_path("persist");
        let until = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        {
            let store = FileTokenStore::open(&path).unwrap();
            store
                .save(
                    TokenKind::Refresh,
                    Token::new("refresh-secret").with_valid_until(until),
                )
                .unwrap();
            store
                .save(TokenKind::Access, Token::new("access-secret"))
                .unwrap();
            assert!(!format!("{store:?}").contains("secret"));
        }
        let store = FileTokenStore::open(&path).unwrap();
        let refresh = store.load(TokenKind::Refresh).unwrap();
        assert_eq!(refresh.expose_secret(), "refresh-secret");
        assert_eq!(refresh.valid_until(), Some(until));
        assert!(store.load(TokenKind::Authentication).is_none());
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        store.clear().unwrap();
        assert!(!path.exists());
        assert!(
            FileTokenStore::open(&path)
                .unwrap()
                .load(TokenKind::Refresh)
                .is_none()
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_store_is_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let path = temp_path("mode");
        let store = FileTokenStore::open(&path).unwrap();
        store.save(TokenKind::Access, Token::new("x")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_a_typed_error() {
        let path = temp_path("corrupt");
        std::fs::write(&path, b"not json").unwrap();
        let error = FileTokenStore::open(&path).unwrap_err();
        assert!(matches!(error, Error::TokenStore { .. }));
        assert!(std::error::Error::source(&error).is_some());
    }
}
