//! SoftHSM2 tokens for tests (feature `test-util`): [`SoftHsmToken`] makes a token in a
//! directory of its own with `softhsm2-util` (Debian package `softhsm2`) and imports PKCS#8 keys
//! into it. The tests of ksef-crypto's `Pkcs11Signer` and of the CLI's `--pkcs11-module` share it.
//!
//! SoftHSM2 finds its tokens through the configuration file named by `SOFTHSM2_CONF`
//! ([`SoftHsmToken::conf`]), read when the module is initialised: give it to the process that
//! loads the module.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian installs the SoftHSM2 module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token made in a directory of its own (its `tokens/` and `softhsm2.conf`).
#[derive(Debug, Clone)]
pub struct SoftHsmToken {
    dir: PathBuf,
    label: String,
    pin: String,
}

impl SoftHsmToken {
    /// Initialises a token labelled `label` with the user PIN `pin` and the SO PIN `so_pin`, its
    /// files under `dir` (created; emptied of an earlier token first).
    ///
    /// # Panics
    ///
    /// When `softhsm2-util` is missing (naming the Debian package) or fails (with its output):
    /// this is a test helper.
    pub fn init(dir: &Path, label: &str, pin: &str, so_pin: &str) -> SoftHsmToken {
        let _ = std::fs::remove_dir_all(dir.join("tokens"));
        std::fs::create_dir_all(dir.join("tokens"))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let token = SoftHsmToken {
            dir: dir.to_owned(),
            label: label.to_owned(),
            pin: pin.to_owned(),
        };
        std::fs::write(
            token.conf(),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", token.conf().display()));
        token.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            so_pin,
        ]);
        token
    }

    /// The token [`SoftHsmToken::init`] made in `dir` earlier (e.g. in a parent process).
    pub fn existing(dir: &Path, label: &str, pin: &str) -> SoftHsmToken {
        SoftHsmToken {
            dir: dir.to_owned(),
            label: label.to_owned(),
            pin: pin.to_owned(),
        }
    }

    /// Deletes the token: for SoftHSM2, a card pulled out of its reader.
    ///
    /// # Panics
    ///
    /// When `softhsm2-util` fails, with its output.
    pub fn delete(&self) {
        self.util(&["--delete-token", "--token", &self.label]);
    }

    /// The configuration file to name in `SOFTHSM2_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// The token's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Imports the private key of the PKCS#8 PEM file `key` as `label` with the id `id_hex`.
    ///
    /// # Panics
    ///
    /// When `softhsm2-util` fails, with its output.
    pub fn import_key(&self, key: &Path, label: &str, id_hex: &str) {
        let key = key.to_str().expect("a UTF-8 key path");
        self.util(&[
            "--import",
            key,
            "--token",
            &self.label,
            "--label",
            label,
            "--id",
            id_hex,
            "--pin",
            &self.pin,
        ]);
    }

    /// Imports a PKCS#8 PEM key held in memory (written to a file in the token's directory for
    /// `softhsm2-util`, and removed after).
    ///
    /// # Panics
    ///
    /// When the file cannot be written or `softhsm2-util` fails.
    pub fn import_key_pem(&self, pem: &str, label: &str, id_hex: &str) {
        let file = self.dir.join(format!("{label}.pk8"));
        std::fs::write(&file, pem.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        self.import_key(&file, label, id_hex);
        let _ = std::fs::remove_file(&file);
    }

    fn util(&self, args: &[&str]) {
        let output = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run softhsm2-util ({e}): install the Debian package softhsm2")
            });
        assert!(
            output.status.success(),
            "softhsm2-util {}: {}{}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
