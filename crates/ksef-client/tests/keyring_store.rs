//! `KeyringTokenStore` against keyring-core's mock store (in memory, with errors injected per
//! call): tokens go to the keyring and not to the file, survive a reopen, fall back to the 0600
//! file when the keyring cannot be reached, say where each is held, and are removed from both by
//! `clear`. A real Secret Service is not started here (see the README's manual check).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone as _, Utc};
use ksef_client::keyring_core::{self, CredentialStore, Entry, mock};
use ksef_client::{FileTokenStore, KeyringTokenStore, SecretHolder, Token, TokenKind, TokenStore};

const SERVICE: &str = "ksef-rs test";
const ACCOUNT: &str = "default@http://127.0.0.1";

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ksef-keyring-{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("tokens.json")
}

fn open(store: &Arc<CredentialStore>, file: &PathBuf) -> KeyringTokenStore {
    KeyringTokenStore::open(
        store.clone(),
        SERVICE,
        ACCOUNT,
        FileTokenStore::open(file).unwrap(),
    )
    .unwrap()
}

/// Makes the mock's next call on the entry of `kind` fail as an unreachable keyring does.
fn next_call_fails(store: &Arc<CredentialStore>, kind: TokenKind) {
    let entry = Entry::new_in_store(store, SERVICE, &format!("{ACCOUNT}/{kind}")).unwrap();
    let cred: &mock::Cred = entry.as_any().downcast_ref().unwrap();
    cred.set_error(keyring_core::Error::NoStorageAccess(Box::new(
        std::io::Error::other("no Secret Service on the bus"),
    )));
}

#[test]
fn tokens_live_in_the_keyring_and_fall_back_to_the_file() {
    let store: Arc<CredentialStore> = mock::Store::new().unwrap();
    let file = temp_file("fallback");
    let until = Utc.with_ymd_and_hms(2031, 1, 2, 3, 4, 5).unwrap();

    let tokens = open(&store, &file);
    tokens
        .save(
            TokenKind::Refresh,
            Token::new("refresh-secret-7781").with_valid_until(until),
        )
        .unwrap();
    assert_eq!(
        tokens.holder(TokenKind::Refresh),
        Some(SecretHolder::Keyring)
    );
    assert!(
        !file.exists(),
        "nothing goes to the file while the keyring works"
    );
    let debug = format!("{tokens:?}");
    assert!(
        debug.contains("Keyring") && !debug.contains("refresh-secret-7781"),
        "{debug}"
    );

    // The keyring cannot be reached: the access token goes to the 0600 file.
    next_call_fails(&store, TokenKind::Access);
    tokens
        .save(TokenKind::Access, Token::new("access-secret-5521"))
        .unwrap();
    assert_eq!(tokens.holder(TokenKind::Access), Some(SecretHolder::File));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("access-secret-5521") && !text.contains("refresh-secret-7781"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    drop(tokens);

    // Reopened: each token from where it was kept, with its expiry.
    let tokens = open(&store, &file);
    let refresh = tokens.load(TokenKind::Refresh).unwrap();
    assert_eq!(refresh.expose_secret(), "refresh-secret-7781");
    assert_eq!(refresh.valid_until(), Some(until));
    assert_eq!(
        tokens.load(TokenKind::Access).unwrap().expose_secret(),
        "access-secret-5521"
    );
    assert_eq!(tokens.holder(TokenKind::Access), Some(SecretHolder::File));
    assert_eq!(tokens.holder(TokenKind::Authentication), None);

    // The keyring is back: the next access token moves there and leaves the file.
    tokens
        .save(TokenKind::Access, Token::new("access-secret-6632"))
        .unwrap();
    assert_eq!(
        tokens.holder(TokenKind::Access),
        Some(SecretHolder::Keyring)
    );
    assert!(!file.exists(), "the file's copy is removed");

    // clear (logout) removes every token from the keyring and the file.
    next_call_fails(&store, TokenKind::Authentication);
    tokens
        .save(TokenKind::Authentication, Token::new("auth-secret-1"))
        .unwrap();
    assert!(file.exists());
    tokens.clear().unwrap();
    assert!(!file.exists());
    for kind in [
        TokenKind::Access,
        TokenKind::Refresh,
        TokenKind::Authentication,
    ] {
        assert!(tokens.load(kind).is_none());
        assert_eq!(tokens.holder(kind), None);
    }
    let reopened = open(&store, &file);
    for kind in [
        TokenKind::Access,
        TokenKind::Refresh,
        TokenKind::Authentication,
    ] {
        assert!(reopened.load(kind).is_none(), "{kind} left in the keyring");
    }
}

#[test]
fn a_foreign_keyring_entry_is_an_error_that_does_not_quote_it() {
    let store: Arc<CredentialStore> = mock::Store::new().unwrap();
    let entry = Entry::new_in_store(&store, SERVICE, &format!("{ACCOUNT}/refresh")).unwrap();
    entry.set_password("someone-elses-secret-42").unwrap();
    let error = KeyringTokenStore::open(
        store.clone(),
        SERVICE,
        ACCOUNT,
        FileTokenStore::open(temp_file("foreign")).unwrap(),
    )
    .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&format!("{ACCOUNT}/refresh")), "{shown}");
    assert!(!shown.contains("someone-elses-secret-42"), "{shown}");
}

/// The keyring holds a refresh token; a later save finds it unreachable and writes the newer
/// token to the file. When both copies are there, the file's (the newer) is the one read, and the
/// keyring's stale copy is removed, so it cannot come back when the file's goes.
#[test]
fn a_stale_keyring_copy_never_wins_over_a_newer_file_copy() {
    let store: Arc<CredentialStore> = mock::Store::new().unwrap();
    let file = temp_file("stale");
    let tokens = open(&store, &file);
    tokens
        .save(TokenKind::Refresh, Token::new("refresh-old-1"))
        .unwrap();
    next_call_fails(&store, TokenKind::Refresh);
    tokens
        .save(TokenKind::Refresh, Token::new("refresh-new-2"))
        .unwrap();
    assert_eq!(tokens.holder(TokenKind::Refresh), Some(SecretHolder::File));
    drop(tokens);

    let tokens = open(&store, &file);
    assert_eq!(
        tokens.load(TokenKind::Refresh).unwrap().expose_secret(),
        "refresh-new-2"
    );
    assert_eq!(tokens.holder(TokenKind::Refresh), Some(SecretHolder::File));
    let entry = Entry::new_in_store(&store, SERVICE, &format!("{ACCOUNT}/refresh")).unwrap();
    assert!(
        matches!(entry.get_password(), Err(keyring_core::Error::NoEntry)),
        "the stale keyring copy is removed"
    );

    // The file's copy goes (a logout of the file alone): nothing old comes back from the keyring.
    FileTokenStore::open(&file).unwrap().clear().unwrap();
    assert!(open(&store, &file).load(TokenKind::Refresh).is_none());
}

/// A keyring whose every call waits for an unlock prompt that nobody answers (a locked
/// collection on a headless box): the calls never return.
#[derive(Debug)]
struct LockedKeyring;

#[derive(Debug)]
struct LockedEntry;

/// How many calls the locked keyring was asked (it answers none).
static LOCKED_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn wait_forever<T>() -> T {
    LOCKED_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    loop {
        std::thread::park();
    }
}

impl keyring_core::api::CredentialStoreApi for LockedKeyring {
    fn vendor(&self) -> String {
        "a locked keyring".to_owned()
    }
    fn id(&self) -> String {
        "locked".to_owned()
    }
    fn build(
        &self,
        _service: &str,
        _user: &str,
        _modifiers: Option<&std::collections::HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        Ok(Entry::new_with_credential(Arc::new(LockedEntry)))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl keyring_core::api::CredentialApi for LockedEntry {
    fn set_secret(&self, _secret: &[u8]) -> keyring_core::Result<()> {
        wait_forever()
    }
    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        wait_forever()
    }
    fn delete_credential(&self) -> keyring_core::Result<()> {
        wait_forever()
    }
    fn get_credential(&self) -> keyring_core::Result<Option<Arc<keyring_core::api::Credential>>> {
        Ok(None)
    }
    fn get_specifiers(&self) -> Option<(String, String)> {
        None
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Before the timeout, opening the store on a locked keyring hung the process for as long as
/// the unlock prompt went unanswered (for ever, on a headless box).
#[test]
fn a_keyring_that_never_answers_is_given_up_on_and_the_file_is_used() {
    let store: Arc<CredentialStore> = Arc::new(LockedKeyring);
    let file = temp_file("locked");
    let timeout = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let tokens = KeyringTokenStore::open_with_timeout(
        store,
        SERVICE,
        ACCOUNT,
        FileTokenStore::open(&file).unwrap(),
        timeout,
    )
    .expect("a keyring that does not answer is not an error");
    // One call waited for the timeout; the keyring is not asked again after it.
    tokens
        .save(TokenKind::Refresh, Token::new("refresh-secret-locked"))
        .unwrap();
    assert_eq!(tokens.holder(TokenKind::Refresh), Some(SecretHolder::File));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("refresh-secret-locked")
    );
    assert!(started.elapsed() >= timeout);
    assert_eq!(
        LOCKED_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the keyring is asked once, then given up on"
    );
    // Removing what the keyring might hold says why it could not, never that it did.
    let error = tokens.remove(TokenKind::Refresh);
    assert!(
        error.is_ok(),
        "the token was not held by the keyring: {error:?}"
    );
    assert!(!file.exists());
}
