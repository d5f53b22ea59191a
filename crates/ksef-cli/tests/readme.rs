//! Issue 21: the README's shell examples run as written, against a detached `ksef sim`.
//!
//! The blocks are read from README.md itself, so an example that stops working fails here. A line
//! that cannot run unattended against the simulator (it names a file only the user has, or runs
//! until stopped) is listed in [`NOT_RUN`] with the reason; a line that is neither run nor listed
//! fails the test, so nothing is skipped silently.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const README: &str = include_str!("../../../README.md");

/// Lines of the command blocks that are not run, by a fragment that identifies them, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "--p12 seal.p12",
        "needs the user's PKCS#12 file and its password",
    ),
    (
        "--pkcs11-module",
        "needs a PKCS#11 token holding the seal (tests/pkcs11.rs covers it)",
    ),
    (
        "cert enroll",
        "needs a login with a certificate (tests/commands.rs covers it)",
    ),
    ("session upo REF", "REF stands for a session reference"),
    (
        "--corrects HASH",
        "HASH stands for the hash of a rejected invoice",
    ),
    (
        "collective create KSEF1",
        "KSEF1 and KSEF2 stand for KSeF numbers",
    ),
    (
        "ksef worker    ",
        "runs until Ctrl-C; `ksef worker --until-empty` is run instead",
    ),
    (
        "outbox show FV/1/2026",
        "FV/1/2026 stands for one of the user's invoice numbers",
    ),
];

/// The indented code blocks (four spaces) of the README section `## {heading}`, one string of
/// lines each.
fn blocks(heading: &str) -> Vec<Vec<&'static str>> {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let section = &README[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in section[..end].lines() {
        if let Some(code) = line.strip_prefix("    ") {
            current.push(code);
        } else if !current.is_empty() {
            blocks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    assert!(
        !blocks.is_empty(),
        "README.md section {heading:?} has no command block"
    );
    blocks
}

/// Stops the detached simulator of `home` when the test ends, passed or not.
struct StopSim(std::path::PathBuf);

impl Drop for StopSim {
    fn drop(&mut self) {
        let _ = ksef(&self.0, &["sim", "stop"]).output();
    }
}

/// Runs `script` with bash in `dir`, `ksef` (this build) first on PATH and `home` as its home.
fn bash(dir: &Path, home: &Path, script: &str) -> std::process::Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let command = {
        let mut command = Command::new("bash");
        command
            .args(["-e", "-o", "pipefail", "-c", script])
            .current_dir(dir)
            .env("PATH", path)
            .env("KSEF_HOME", home)
            .env("HOME", dir)
            .env_remove("KSEF_ENV")
            .env_remove("KSEF_BASE_URL")
            .env_remove("KSEF_TOKEN")
            .env_remove("KSEF_NIP")
            .env_remove("KSEF_STORE")
            .stdin(Stdio::null());
        command
    };
    output_within(command, std::time::Duration::from_secs(240))
}

#[test]
fn the_simulator_example_runs_as_written() {
    let dir = temp_dir("readme-sim");
    let home = dir.join("home");
    let _stop = StopSim(home.clone());
    let block = blocks("The simulator").remove(0);
    assert!(
        block[0].starts_with("eval \"$(ksef sim --detach)\""),
        "{block:?}"
    );
    let output = bash(&dir, &home, &block.join("\n"));
    assert!(output.status.success(), "{}", describe(&output));
    let accepted = text(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("✓ samples/"))
        .count();
    assert_eq!(accepted, 20, "{}", describe(&output));
    assert!(
        text(&output.stdout).contains("stopped the simulator"),
        "{}",
        describe(&output)
    );
}

#[test]
fn the_command_examples_run_as_written() {
    let dir = temp_dir("readme-commands");
    let home = dir.join("home");
    let _stop = StopSim(home.clone());
    // The setting the examples assume: a simulator, the seeded token in token.txt, a few valid
    // invoices in invoices/, and inv.xml and fixed.xml beside them.
    let setup = r#"eval "$(ksef sim --detach)"
printf '%s' "$KSEF_TOKEN" > token.txt
fresh() { rm -rf invoices && ksef invoice sample --count 3 --nip "$KSEF_NIP" --out invoices/ >/dev/null
  ksef invoice sample --count 1 --nip "$KSEF_NIP" --out one/ >/dev/null && mv one/*.xml inv.xml && rm -r one; }
"#;
    let mut lines: Vec<&str> = blocks("A few commands")
        .into_iter()
        .chain(blocks("Durable sending (outbox)"))
        .flatten()
        .collect();
    // The token login first: the other commands need a session.
    let login = lines
        .iter()
        .position(|l| l.contains("auth login") && l.contains("--token-file token.txt"))
        .expect("the README shows a token login with token.txt");
    let login = lines.remove(login);
    let mut script = format!("{setup}{login}\n");
    let mut run = 0;
    for line in &lines {
        if let Some((_, why)) = NOT_RUN.iter().find(|(fragment, _)| line.contains(fragment)) {
            script.push_str(&format!("echo 'not run: {}'\n", why.replace('\'', "")));
            continue;
        }
        assert!(
            line.trim_start().starts_with("ksef "),
            "a README command line that is neither run nor listed in NOT_RUN: {line:?}"
        );
        // Each example on fresh invoices: a second send of the same ones is a duplicate.
        script.push_str(&format!(
            "fresh\necho '>>> {n}'\n{line}\n",
            n = line.replace('\'', "")
        ));
        run += 1;
    }
    script.push_str("ksef sim stop\n");
    let output = bash(&dir, &home, &script);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.matches(">>> ").count(), run, "{}", describe(&output));
    assert!(run >= 10, "only {run} README commands ran");
    assert!(
        stdout.contains("stopped the simulator"),
        "{}",
        describe(&output)
    );
}
