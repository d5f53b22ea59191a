//! What every command needs: where to talk to, the profile's files, the client, the token and
//! how to print.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset};
use ksef_client::{Client, Environment, FileTokenStore, PollConfig, TokenKind};
use serde::{Deserialize, Serialize};

use clap::ValueEnum as _;

use crate::args::{EnvName, Global, TokenSourceArgs};
use crate::config::Config;
use crate::files::write_private;
use crate::secrets::{CliTokenStore, SecretsMode};
use ksef_model::values::Nip;

/// The non-secret half of a profile's session: what `auth whoami` shows. The tokens themselves are
/// in the profile's token store (`crate::secrets`: its [`FileTokenStore`] file or the keyring).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionMeta {
    /// The API base URL the login happened against.
    pub(crate) base_url: String,
    /// The context: its type and value.
    pub(crate) context_type: String,
    /// The context identifier (a NIP).
    pub(crate) context: String,
    /// The authentication's reference number.
    pub(crate) reference_number: String,
    /// When the login happened.
    pub(crate) logged_in_at: DateTime<FixedOffset>,
    /// When the refresh token expires.
    pub(crate) refresh_valid_until: DateTime<FixedOffset>,
}

/// A usage error found after parsing (e.g. a flag whose default is not configured either): the
/// command exits with 2, like clap's own usage errors.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Settings resolved from the global flags and the environment.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The global flags.
    pub(crate) global: Global,
    /// The profile's directory.
    pub(crate) profile_dir: PathBuf,
    /// The home directory (config.toml, profiles/).
    pub(crate) home: PathBuf,
    /// Where config.toml is: `$XDG_CONFIG_HOME/ksef`, or the home given with `--home`.
    config_path: PathBuf,
    /// The defaults of config.toml.
    pub(crate) config: Config,
}

impl Ctx {
    /// Resolves the home directory and the profile.
    pub(crate) fn new(global: Global) -> anyhow::Result<Ctx> {
        if global.profile.is_empty()
            || !global
                .profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "invalid profile name {:?}: use letters, digits, '-' and '_' only",
                global.profile
            );
        }
        let (home, config_path) = match &global.home {
            // One directory given: everything lives there.
            Some(home) => (home.clone(), home.join("config.toml")),
            None => {
                let home = default_home()?;
                let config_path = default_config_path(&home)?;
                (home, config_path)
            }
        };
        let profile_dir = home.join("profiles").join(&global.profile);
        let config = Config::load(&config_path)?;
        Ok(Ctx {
            global,
            profile_dir,
            home,
            config_path,
            config,
        })
    }

    /// Where `ksef config` keeps its defaults.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.config_path.clone()
    }

    /// The context NIP: the `--nip` flag, else `nip` from config.toml; checked.
    pub(crate) fn nip(&self, flag: Option<&str>) -> anyhow::Result<Nip> {
        let text = match flag {
            Some(text) => text.to_owned(),
            None => match &self.config.nip {
                Some(text) => text.clone(),
                None => {
                    return Err(UsageError(
                        "no NIP: pass --nip NIP or set a default with `ksef config set nip NIP`"
                            .to_owned(),
                    )
                    .into());
                }
            },
        };
        text.parse().with_context(|| {
            format!("{text:?} is not a valid NIP; give the 10 digits of the context's NIP")
        })
    }

    /// Whether JSON output was asked for.
    pub(crate) fn json(&self) -> bool {
        self.global.json
    }

    /// Prints a progress or informational line on stderr unless `--quiet`, and records it as
    /// what the command is doing now (named if the command's deadline passes).
    pub(crate) fn note(&self, line: impl AsRef<str>) {
        crate::output::set_activity(line.as_ref());
        if !self.global.quiet {
            errln!("{}", line.as_ref());
        }
    }

    /// Prints a detail line on stderr with `--verbose` only.
    pub(crate) fn detail(&self, line: impl AsRef<str>) {
        if self.global.verbose {
            errln!("{}", line.as_ref());
        }
    }

    /// Where tokens are kept: `secrets` of config.toml.
    pub(crate) fn secrets_mode(&self) -> anyhow::Result<SecretsMode> {
        SecretsMode::parse(self.config.secrets.as_deref())
    }

    /// The profile's token file (written 0600 by [`FileTokenStore`]; with `secrets = keyring`
    /// the fallback when the keyring refuses a token).
    pub(crate) fn tokens_path(&self) -> PathBuf {
        self.profile_dir.join("tokens.json")
    }

    /// The profile's session description (no secrets, also written 0600).
    pub(crate) fn meta_path(&self) -> PathBuf {
        self.profile_dir.join("session.json")
    }

    /// The stored session description, if logged in.
    pub(crate) fn load_meta(&self) -> anyhow::Result<Option<SessionMeta>> {
        let path = self.meta_path();
        match crate::files::read_state(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is damaged; run `ksef auth logout` or delete it, then log in again",
                    path.display()
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Saves the session description.
    pub(crate) fn save_meta(&self, meta: &SessionMeta) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(meta)?;
        write_private(&self.meta_path(), &bytes)
    }

    /// The base URL: `--base-url`, else `--env`, else the one the profile logged in to, else
    /// config.toml's `base-url`, then its `env`, else TEST.
    pub(crate) fn base_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.global.base_url {
            return Ok(url.clone());
        }
        if let Some(env) = self.global.env {
            return Ok(environment(env).base_url().to_owned());
        }
        if let Some(meta) = self.load_meta()? {
            return Ok(meta.base_url);
        }
        self.base_url_without_login()
    }

    /// [`Ctx::base_url`] without the profile's login: `--base-url`, `--env`, then config.toml,
    /// else TEST.
    pub(crate) fn base_url_without_login(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.global.base_url {
            return Ok(url.clone());
        }
        if let Some(env) = self.global.env {
            return Ok(environment(env).base_url().to_owned());
        }
        if let Some(url) = &self.config.base_url {
            return Ok(url.clone());
        }
        if let Some(env) = self.config.env_name()? {
            return Ok(environment(env).base_url().to_owned());
        }
        Ok(Environment::Test.base_url().to_owned())
    }

    /// The environment for things that depend on it without a base URL (QR hosts): `--env`,
    /// else config.toml's `env`, else TEST.
    pub(crate) fn env_name(&self) -> anyhow::Result<EnvName> {
        if let Some(env) = self.global.env {
            return Ok(env);
        }
        Ok(self.config.env_name()?.unwrap_or(EnvName::Test))
    }

    /// [`Ctx::env_name`] as the client's [`Environment`].
    pub(crate) fn environment(&self) -> anyhow::Result<Environment> {
        Ok(environment(self.env_name()?))
    }

    /// Where `auth login-external --generate` leaves the challenge for `--submit`.
    pub(crate) fn pending_external_path(&self) -> PathBuf {
        self.profile_dir.join("external-login.json")
    }

    /// A client with the profile's token file as its token store.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        self.client_for(&self.base_url()?)
    }

    /// A client for `base_url` with the profile's token file as its token store.
    pub(crate) fn client_for(&self, base_url: &str) -> anyhow::Result<Client> {
        std::fs::create_dir_all(&self.profile_dir)
            .with_context(|| format!("cannot create {}", self.profile_dir.display()))?;
        let store = match self.open_token_store()? {
            StoreState::Usable(store) => store,
            StoreState::Damaged => bail!(
                "the token file {} is damaged (not a token file this version can read); \
                 run `ksef auth logout` to remove it or `ksef auth login` to replace it",
                self.tokens_path().display()
            ),
        };
        self.client_with_store(base_url, store)
    }

    /// A client for `base_url` with `store` as its token store.
    pub(crate) fn client_with_store(
        &self,
        base_url: &str,
        store: CliTokenStore,
    ) -> anyhow::Result<Client> {
        self.detail(format!("KSeF API at {base_url}"));
        Ok(client_builder(base_url)
            .transport(|t| t.token_store(store))
            .build()?)
    }

    /// Opens the profile's token store, as `secrets` configures it: [`StoreState::Damaged`]
    /// when the token file is there and readable but cannot be parsed, an error when it cannot
    /// be read at all (or a keyring entry is not ours). The parser's message is not kept: it may
    /// quote the file's content, which holds tokens.
    pub(crate) fn open_token_store(&self) -> anyhow::Result<StoreState> {
        let path = self.tokens_path();
        match FileTokenStore::open(&path) {
            Ok(store) => Ok(StoreState::Usable(crate::secrets::open(self, store)?)),
            Err(error) => match std::fs::read(&path) {
                // Readable, so it was the content that could not be parsed.
                Ok(_) => Ok(StoreState::Damaged),
                Err(_) => Err(error)
                    .with_context(|| format!("cannot read the token file {}", path.display())),
            },
        }
    }

    /// Removes a damaged token file and a damaged session description of the profile, so that
    /// a new login can replace them; returns the files removed.
    pub(crate) fn discard_damaged_login(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        if matches!(self.open_token_store()?, StoreState::Damaged) {
            remove_file(&self.tokens_path())?;
            removed.push(self.tokens_path());
        }
        if self.load_meta().is_err() && self.meta_path().exists() {
            remove_file(&self.meta_path())?;
            removed.push(self.meta_path());
        }
        Ok(removed)
    }

    /// A client for a command that needs a login: refuses early, with the fix, if there is none.
    pub(crate) fn logged_in_client(&self) -> anyhow::Result<Client> {
        // A login belongs to the API it was made against: its tokens are never sent elsewhere.
        if let Some(meta) = self.load_meta()? {
            let asked = self.base_url()?;
            if asked.trim_end_matches('/') != meta.base_url.trim_end_matches('/') {
                bail!(
                    "profile {:?} is logged in to {}, not to {asked}; log in there first \
                     (`ksef auth login` with the same --env/--base-url) or use another --profile",
                    self.global.profile,
                    meta.base_url
                );
            }
        }
        let client = self.client()?;
        if client.token_store().load(TokenKind::Refresh).is_none()
            && client.token_store().load(TokenKind::Access).is_none()
        {
            bail!(
                "not logged in (profile {:?}); run `ksef auth login --nip NIP` first",
                self.global.profile
            );
        }
        Ok(client)
    }
}

/// Settles an environment name and a base URL given together (flags or `KSEF_ENV` and
/// `KSEF_BASE_URL`): a flag wins over an environment variable, and between two of the same kind
/// the base URL wins. The loser is dropped from `global`; the returned note names it, for stderr.
pub(crate) fn resolve_api_choice(
    global: &mut Global,
    matches: &clap::ArgMatches,
) -> Option<String> {
    use clap::parser::ValueSource;
    let (Some(env), Some(url)) = (global.env, global.base_url.clone()) else {
        return None;
    };
    let from_flag = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let env_text = env
        .to_possible_value()
        .map_or_else(|| format!("{env:?}"), |value| value.get_name().to_owned());
    let env_origin = if from_flag("env") {
        format!("--env {env_text}")
    } else {
        format!("KSEF_ENV={env_text}")
    };
    let url_origin = if from_flag("base_url") {
        format!("--base-url {url}")
    } else {
        format!("KSEF_BASE_URL={url}")
    };
    if from_flag("env") && !from_flag("base_url") {
        global.base_url = None;
        Some(format!(
            "using {env_origin}; {url_origin} is ignored (a flag wins over the environment)"
        ))
    } else {
        global.env = None;
        Some(format!(
            "using {url_origin}; {env_origin} is ignored (a base URL wins over an environment name)"
        ))
    }
}

/// What [`Ctx::open_token_store`] found.
pub(crate) enum StoreState {
    /// The store (empty when nothing is stored yet).
    Usable(CliTokenStore),
    /// The file is there but is not a token file this version can read.
    Damaged,
}

/// Removes `path`; a file that is not there is no error.
pub(crate) fn remove_file(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// A client builder with polling suited to an interactive tool.
pub(crate) fn client_builder(base_url: &str) -> ksef_client::ClientBuilder {
    Client::builder().transport(|t| t.base_url(base_url)).poll(
        PollConfig::default()
            .with_backoff(Duration::from_millis(50), Duration::from_secs(2))
            .with_timeout(Duration::from_secs(300)),
    )
}

fn environment(env: EnvName) -> Environment {
    match env {
        EnvName::Test => Environment::Test,
        EnvName::Demo => Environment::Demo,
        EnvName::Prod => Environment::Production,
    }
}

/// config.toml without `--home`: `$XDG_CONFIG_HOME/ksef/config.toml` or
/// `~/.config/ksef/config.toml`, as the XDG base directories say (configuration apart from state
/// and secrets). A config.toml an older version kept in the state directory `home` is still
/// read while there is none in the new place.
fn default_config_path(home: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        Some(config) => PathBuf::from(config).join("ksef"),
        None => match std::env::var_os("HOME").filter(|s| !s.is_empty()) {
            Some(user) => PathBuf::from(user).join(".config/ksef"),
            None => bail!("cannot find a home directory; pass --home DIR or set KSEF_HOME"),
        },
    };
    let path = dir.join("config.toml");
    let old = home.join("config.toml");
    Ok(if !path.exists() && old.exists() {
        old
    } else {
        path
    })
}

fn default_home() -> anyhow::Result<PathBuf> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(state).join("ksef"));
    }
    match std::env::var_os("HOME").filter(|s| !s.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/ksef")),
        None => bail!("cannot find a home directory; pass --home DIR or set KSEF_HOME"),
    }
}

/// Reads the KSeF token from `--token-file`, `--token-stdin` or `KSEF_TOKEN`, in that order.
pub(crate) fn read_token(source: &TokenSourceArgs) -> anyhow::Result<String> {
    let token = if let Some(path) = &source.token_file {
        crate::files::read_secret_line(path, "token")?
            .trim()
            .to_owned()
    } else if source.token_stdin {
        crate::files::stdin_line("the KSeF token")?
            .map(|line| line.trim().to_owned())
            .unwrap_or_default()
    } else {
        std::env::var("KSEF_TOKEN")
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    if token.is_empty() {
        bail!(
            "no KSeF token: pass --token-file FILE or --token-stdin, or set KSEF_TOKEN \
             (tokens are never accepted as arguments)"
        );
    }
    Ok(token)
}

/// A reference number from the command line; `hint` says where to copy a valid one from.
pub(crate) fn parse_reference(
    text: &str,
    hint: &str,
) -> anyhow::Result<ksef_model::values::ReferenceNumber> {
    text.parse()
        .with_context(|| format!("{text:?} is not a valid reference number; {hint}"))
}

/// Every item of a listing KSeF pages with continuation tokens: `fetch(token)` reads one page
/// (the first with `None`) and returns its items and the next token; an absent or empty token
/// ends the listing.
pub(crate) async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, Option<String>)>>,
{
    let mut all = Vec::new();
    let mut continuation = None;
    loop {
        let (items, next) = fetch(continuation.take()).await?;
        all.extend(items);
        match next {
            Some(token) if !token.is_empty() => continuation = Some(token),
            _ => return Ok(all),
        }
    }
}

/// Prints one JSON document on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    crate::output::write_stdout_bytes(&text)
}
