//! `ksef config`: defaults kept in `config.toml` (in `$XDG_CONFIG_HOME/ksef`, or the `--home`
//! directory when one is given), used when a command's flags leave them out.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ksef_model::values::Nip;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::args::{ConfigCommand, ConfigKey, EnvName};
use crate::context::{Ctx, print_json};
use crate::files::write_private;
use crate::secrets::SecretsMode;

/// The contents of `config.toml`. Unknown keys are refused so a typo does not go unnoticed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct Config {
    /// The default context NIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nip: Option<String>,
    /// The default environment: test, demo or prod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<String>,
    /// The default API base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    /// Where tokens are kept: keyring or file (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secrets: Option<String>,
    /// The total deadline of a one-shot command (`90s`, `30m`, `2h`, `1d`, `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deadline: Option<String>,
}

impl Config {
    /// Reads `path`; a missing file is an empty configuration.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Config> {
        let text = match crate::files::read_state(path) {
            Ok(bytes) => String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8 text", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let config: Config = toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid ksef configuration; fix it or remove it (keys: nip, env, \
                 base-url, secrets, deadline)",
                path.display()
            )
        })?;
        Ok(config)
    }

    /// Writes the configuration (0600, atomically).
    pub(crate) fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string(self).context("cannot serialize the configuration")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_private(path, text.as_bytes())
    }

    /// The deadline of one-shot commands, checked.
    pub(crate) fn deadline(&self) -> anyhow::Result<Option<crate::deadline::Deadline>> {
        self.deadline
            .as_deref()
            .map(|text| {
                crate::deadline::parse(text).map_err(|e| {
                    anyhow::anyhow!("config.toml's deadline: {e} (`ksef config set deadline 2h`)")
                })
            })
            .transpose()
    }

    /// The environment, checked.
    pub(crate) fn env_name(&self) -> anyhow::Result<Option<EnvName>> {
        self.env.as_deref().map(parse_env).transpose()
    }

    fn get(&self, key: ConfigKey) -> Option<&String> {
        match key {
            ConfigKey::Nip => self.nip.as_ref(),
            ConfigKey::Env => self.env.as_ref(),
            ConfigKey::BaseUrl => self.base_url.as_ref(),
            ConfigKey::Secrets => self.secrets.as_ref(),
            ConfigKey::Deadline => self.deadline.as_ref(),
        }
    }

    fn slot(&mut self, key: ConfigKey) -> &mut Option<String> {
        match key {
            ConfigKey::Nip => &mut self.nip,
            ConfigKey::Env => &mut self.env,
            ConfigKey::BaseUrl => &mut self.base_url,
            ConfigKey::Secrets => &mut self.secrets,
            ConfigKey::Deadline => &mut self.deadline,
        }
    }
}

fn parse_env(text: &str) -> anyhow::Result<EnvName> {
    match text {
        "test" => Ok(EnvName::Test),
        "demo" => Ok(EnvName::Demo),
        "prod" => Ok(EnvName::Prod),
        other => bail!("env {other:?} is not one of test, demo, prod"),
    }
}

fn key_name(key: ConfigKey) -> &'static str {
    match key {
        ConfigKey::Nip => "nip",
        ConfigKey::Env => "env",
        ConfigKey::BaseUrl => "base-url",
        ConfigKey::Secrets => "secrets",
        ConfigKey::Deadline => "deadline",
    }
}

/// Checks a value before it is stored, so a bad default fails now and not in a later command.
fn validate(key: ConfigKey, value: &str) -> anyhow::Result<String> {
    match key {
        ConfigKey::Nip => {
            let nip: Nip = value.parse().with_context(|| {
                format!("{value:?} is not a valid NIP; give the 10 digits of the context's NIP")
            })?;
            Ok(nip.to_string())
        }
        ConfigKey::Env => Ok(parse_env(value).map(|_| value.to_owned())?),
        ConfigKey::BaseUrl => {
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                bail!("base-url {value:?} must start with https:// (or http:// for a local sim)");
            }
            Ok(value.trim_end_matches('/').to_owned())
        }
        ConfigKey::Secrets => {
            SecretsMode::parse(Some(value))?;
            Ok(value.to_owned())
        }
        ConfigKey::Deadline => {
            let value = value.trim().to_ascii_lowercase();
            crate::deadline::parse(&value).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(value)
        }
    }
}

/// Before `secrets` changes from what `config` says to `to`: moves the tokens of every profile in
/// the home to the store `to` and removes the other copy, so the store read from now on holds the
/// newest tokens. Setting the store in use again moves nothing.
fn move_tokens(ctx: &Ctx, config: &Config, to: SecretsMode) -> anyhow::Result<()> {
    if SecretsMode::parse(config.secrets.as_deref())? == to {
        return Ok(());
    }
    let profiles = ctx.home.join("profiles");
    let entries = match std::fs::read_dir(&profiles) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", profiles.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", profiles.display()))?;
        // Only directories named as profiles are (see `Ctx::new`); anything else is not ours.
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_profile = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !entry.path().is_dir() || name.is_empty() || !is_profile {
            continue;
        }
        let mut global = ctx.global.clone();
        global.profile = name;
        let profile = Ctx::new(global)?;
        crate::secrets::migrate(&profile, to)?;
    }
    Ok(())
}

/// Runs a `config` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let path = ctx.config_path();
    let mut config = Config::load(&path)?;
    match command {
        ConfigCommand::Set { key, value } => {
            let value = validate(key, &value)?;
            if key == ConfigKey::Secrets {
                move_tokens(ctx, &config, SecretsMode::parse(Some(&value))?)?;
            }
            *config.slot(key) = Some(value.clone());
            config.save(&path)?;
            if ctx.json() {
                print_json(&json!({ "key": key_name(key), "value": value, "file": path }))?;
            } else {
                ctx.note(format!(
                    "✓ {} = {value} ({})",
                    key_name(key),
                    path.display()
                ));
            }
        }
        ConfigCommand::Unset { key } => {
            if key == ConfigKey::Secrets {
                move_tokens(ctx, &config, SecretsMode::File)?;
            }
            let previous = config.slot(key).take();
            config.save(&path)?;
            if ctx.json() {
                print_json(&json!({ "key": key_name(key), "removed": previous.is_some() }))?;
            } else {
                ctx.note(format!("✓ {} unset", key_name(key)));
            }
        }
        ConfigCommand::Get { key } => {
            let value = config.get(key);
            if ctx.json() {
                print_json(&json!({ "key": key_name(key), "value": value }))?;
            } else if let Some(value) = value {
                outln!("{value}");
            }
            if value.is_none() {
                ctx.note(format!("{} is not set", key_name(key)));
                return Ok(ExitCode::FAILURE);
            }
        }
        ConfigCommand::Show => {
            if ctx.json() {
                print_json(&json!({
                    "file": path,
                    "nip": config.nip,
                    "env": config.env,
                    "baseUrl": config.base_url,
                    "secrets": config.secrets,
                    "deadline": config.deadline,
                }))?;
            } else {
                outln!("# {}", path.display());
                for key in [
                    ConfigKey::Nip,
                    ConfigKey::Env,
                    ConfigKey::BaseUrl,
                    ConfigKey::Secrets,
                    ConfigKey::Deadline,
                ] {
                    match config.get(key) {
                        Some(value) => outln!("{:<9} {value}", key_name(key)),
                        None => outln!("{:<9} (not set)", key_name(key)),
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_before_they_are_stored() {
        assert_eq!(
            validate(ConfigKey::Nip, "5265877635").unwrap(),
            "5265877635"
        );
        assert!(validate(ConfigKey::Nip, "1234567890").is_err());
        assert_eq!(validate(ConfigKey::Env, "demo").unwrap(), "demo");
        assert!(validate(ConfigKey::Env, "staging").is_err());
        assert_eq!(
            validate(ConfigKey::BaseUrl, "http://127.0.0.1:1/v2/").unwrap(),
            "http://127.0.0.1:1/v2"
        );
        assert!(validate(ConfigKey::BaseUrl, "ftp://x").is_err());
        assert_eq!(validate(ConfigKey::Secrets, "keyring").unwrap(), "keyring");
        assert!(validate(ConfigKey::Secrets, "vault").is_err());
        assert_eq!(validate(ConfigKey::Deadline, " 2H ").unwrap(), "2h");
        assert_eq!(validate(ConfigKey::Deadline, "90m").unwrap(), "90m");
        assert_eq!(validate(ConfigKey::Deadline, "OFF").unwrap(), "off");
        assert!(validate(ConfigKey::Deadline, "0s").is_err());
    }

    #[test]
    fn the_file_round_trips_and_refuses_unknown_keys() {
        let config = Config {
            nip: Some("5265877635".to_owned()),
            env: Some("test".to_owned()),
            base_url: None,
            secrets: Some("keyring".to_owned()),
            deadline: Some("2h".to_owned()),
        };
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), config);
        assert!(toml::from_str::<Config>("nipp = \"1\"").is_err());
    }
}
