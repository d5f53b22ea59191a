//! The first hour of a new user (issue 21): a closed stdout pipe, KSEF_ENV with KSEF_BASE_URL,
//! a damaged token file, `demo` with API flags, the detached simulator, certificate enrollment
//! after a token login and sample invoices.

mod common;

use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// Runs `command` with its stdout a pipe whose reading end is closed before the command can
/// write (as `ksef … | head -0` or a reader that went away): every write to stdout fails with
/// EPIPE. Returns the exit status and stderr.
fn run_with_closed_stdout(mut command: Command) -> (std::process::ExitStatus, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The only reading end is ours: closing it now makes the child's first write fail.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (output.status, text(&output.stderr))
}

fn assert_quiet_exit(what: &str, (status, stderr): (std::process::ExitStatus, String)) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{what}: a closed stdout must not panic:\n{stderr}"
    );
    assert_eq!(
        status.code(),
        Some(0),
        "{what}: a closed stdout ends the command quietly with 0:\n{stderr}"
    );
    assert!(
        !stderr.contains("error"),
        "{what}: nothing to report:\n{stderr}"
    );
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let home = temp_dir("epipe");
    // Offline first: completions (a long script) and validate.
    assert_quiet_exit(
        "completions bash",
        run_with_closed_stdout(ksef(&home, &["completions", "bash"])),
    );
    let sample = sample_invoice();
    assert_quiet_exit(
        "invoice validate",
        run_with_closed_stdout(ksef(
            &home,
            &["invoice", "validate", sample.to_str().unwrap()],
        )),
    );

    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let invoice = write_file(&home.join("in"), "one.xml", &invoice(&sim.nip, "EPIPE-1"));
    let send = sim.run(
        &home,
        &["invoice", "send", invoice.to_str().unwrap(), "--wait"],
    );
    assert!(send.status.success(), "{}", describe(&send));
    let today = today();
    for args in [
        vec!["auth", "whoami"],
        vec!["auth", "whoami", "--json"],
        vec!["session", "list"],
        vec!["invoice", "query", "--from", today.as_str()],
        vec!["invoice", "query", "--from", today.as_str(), "--json"],
    ] {
        assert_quiet_exit(
            &args.join(" "),
            run_with_closed_stdout(sim.ksef(&home, &args)),
        );
    }
}

#[test]
fn env_name_and_base_url_together_follow_a_precedence() {
    let home = temp_dir("precedence");
    let sim = Sim::start(&home);
    // Both from the environment: the base URL wins, with a note naming what was ignored.
    let login = sim
        .ksef(&home, &["auth", "login", "--nip", &sim.nip])
        .env("KSEF_ENV", "prod")
        .env("KSEF_TOKEN", &sim.token)
        .output()
        .unwrap();
    assert_no_secret(&login, &sim.token);
    assert!(login.status.success(), "{}", describe(&login));
    let stderr = text(&login.stderr);
    assert!(
        stderr.contains("KSEF_ENV=prod is ignored") && stderr.contains(&sim.base_url),
        "{stderr}"
    );
    // --base-url typed over KSEF_ENV: the flag is used.
    let whoami = ksef(
        &home,
        &["auth", "whoami", "--base-url", &sim.base_url, "--json"],
    )
    .env("KSEF_ENV", "demo")
    .output()
    .unwrap();
    let doc = json_ok(&whoami);
    assert_eq!(doc["context"]["value"], sim.nip.as_str());
    assert!(text(&whoami.stderr).contains("KSEF_ENV=demo is ignored"));
    // --env typed over KSEF_BASE_URL: the flag wins over the environment (checked offline).
    let sample = sample_invoice();
    let validate = sim
        .ksef(
            &home,
            &[
                "invoice",
                "validate",
                sample.to_str().unwrap(),
                "--env",
                "test",
            ],
        )
        .output()
        .unwrap();
    assert!(validate.status.success(), "{}", describe(&validate));
    let stderr = text(&validate.stderr);
    assert!(
        stderr.contains("using --env test")
            && stderr.contains(&format!("KSEF_BASE_URL={} is ignored", sim.base_url)),
        "{stderr}"
    );
    // -q silences the note.
    let quiet = sim
        .ksef(
            &home,
            &["invoice", "validate", sample.to_str().unwrap(), "-q"],
        )
        .env("KSEF_ENV", "test")
        .output()
        .unwrap();
    assert!(quiet.status.success(), "{}", describe(&quiet));
    assert!(
        !text(&quiet.stderr).contains("ignored"),
        "{}",
        describe(&quiet)
    );
}

/// Something that looks like a token inside the damaged file: it must never be echoed.
const DAMAGED: &str = "{\"access\": 20250101-EC-SECRETSECRET|nip-1|deadbeef";

/// Issue 21: a login made against one API is never used against another (its tokens would go to
/// a server that did not issue them); the refusal names both, before any request.
#[test]
fn a_login_is_refused_against_another_api() {
    let home = temp_dir("other-api");
    let sim = Sim::start(&home);
    let login = sim.login(&home, &[]);
    assert!(login.status.success(), "{}", describe(&login));
    let query = ["invoice", "query", "--from", &date("yesterday")];
    let ok = sim.run(&home, &query);
    assert!(ok.status.success(), "{}", describe(&ok));
    // --env test (a flag) wins over the simulator's KSEF_BASE_URL: another API.
    let mut args = query.to_vec();
    args.extend(["--env", "test"]);
    let refused = sim.run(&home, &args);
    assert_fails_with(&refused, "is logged in to http://127.0.0.1");
    assert!(
        text(&refused.stderr).contains("not to https://api-test.ksef.mf.gov.pl/v2"),
        "{}",
        describe(&refused)
    );
}

#[test]
fn a_damaged_token_file_blocks_nothing_but_says_what_to_do() {
    let home = temp_dir("damaged");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let tokens = home.join("profiles/default/tokens.json");
    std::fs::write(&tokens, DAMAGED).unwrap();

    // An ordinary command names the file and the two ways out.
    let list = sim.run(&home, &["session", "list"]);
    assert_fails_with(&list, "is damaged");
    assert!(
        text(&list.stderr).contains("ksef auth logout"),
        "{}",
        describe(&list)
    );
    assert!(
        !text(&list.stderr).contains("SECRETSECRET"),
        "{}",
        describe(&list)
    );

    // Logout always works and says what it removed.
    let logout = sim.run(&home, &["auth", "logout"]);
    assert!(logout.status.success(), "{}", describe(&logout));
    let stdout = text(&logout.stdout);
    assert!(
        stdout.contains("removed") && stdout.contains("tokens.json"),
        "{stdout}"
    );
    assert!(stdout.contains("session.json"), "{stdout}");
    assert!(!tokens.exists() && !home.join("profiles/default/session.json").exists());
    assert!(!text(&logout.stderr).contains("SECRETSECRET"));
    // Once more: nothing left, still success.
    let again = sim.run(&home, &["auth", "logout", "--json"]);
    let doc = json_ok(&again);
    assert_eq!(doc["removed"], serde_json::json!([]));

    // A login replaces a damaged store (and a damaged session description) and says so.
    std::fs::create_dir_all(tokens.parent().unwrap()).unwrap();
    std::fs::write(&tokens, DAMAGED).unwrap();
    std::fs::write(home.join("profiles/default/session.json"), "garbage").unwrap();
    let login = sim.login(&home, &[]);
    let stderr = text(&login.stderr);
    assert!(stderr.contains("was damaged"), "{stderr}");
    assert!(!stderr.contains("SECRETSECRET"), "{stderr}");
    let list = sim.run(&home, &["session", "list"]);
    assert!(list.status.success(), "{}", describe(&list));

    // A working login is revoked at KSeF by logout.
    let logout = sim.run(&home, &["auth", "logout", "--json"]);
    let doc = json_ok(&logout);
    assert_eq!(doc["revoked"], true);
    assert_eq!(doc["removed"].as_array().map(Vec::len), Some(2), "{doc}");
}

#[test]
fn demo_refuses_api_flags() {
    let home = temp_dir("demo-flags");
    for args in [
        ["demo", "--env", "test"],
        ["demo", "--base-url", "http://127.0.0.1:9/v2"],
    ] {
        let output = ksef(&home, &args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(args[1]) && stderr.contains("in-process simulator"),
            "{stderr}"
        );
    }
}

/// The `export NAME=VALUE` lines of `sim --detach`, unquoted.
fn exports(output: &Output) -> Vec<(String, String)> {
    text(&output.stdout)
        .lines()
        .map(|line| {
            let line = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            let (name, value) = line.split_once('=').unwrap();
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value)
                .replace(r"'\''", "'");
            (name.to_owned(), value)
        })
        .collect()
}

/// Stops the detached simulator of a home when dropped, so a failing test leaves none behind.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if self.0.join("sim.pid").exists() {
            let _ = ksef(&self.0, &["sim", "stop"]).output();
        }
    }
}

#[test]
fn a_detached_simulator_serves_until_stopped() {
    let home = temp_dir("detach");
    let _stop = StopOnDrop(home.clone());
    let started = ksef(&home, &["sim", "--detach"]).output().unwrap();
    assert!(started.status.success(), "{}", describe(&started));
    let vars = exports(&started);
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["KSEF_BASE_URL", "KSEF_NIP", "KSEF_TOKEN"]);
    let base_url = vars[0].1.clone();
    let addr = base_url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/v2"))
        .unwrap()
        .to_owned();
    let pid_file = home.join("sim.pid");
    assert_eq!(mode(&pid_file), 0o600);
    // Ready when the command returned.
    TcpStream::connect(&addr).expect("the simulator listens once --detach returns");

    // A second one is refused while the first runs.
    let second = ksef(&home, &["sim", "--detach"]).output().unwrap();
    assert_fails_with(&second, "already running");

    // The printed lines work as written in a shell: eval them, then log in.
    let script = format!(
        "eval \"$('{bin}' sim --detach)\" && '{bin}' auth login --nip \"$KSEF_NIP\" --json",
        bin = BIN
    );
    let other_home = temp_dir("detach-shell");
    let _stop_other = StopOnDrop(other_home.clone());
    let shell = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env_remove("KSEF_ENV")
        .env_remove("KSEF_BASE_URL")
        .env_remove("KSEF_TOKEN")
        .env("KSEF_HOME", &other_home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(shell.status.success(), "{}", describe(&shell));
    let doc: serde_json::Value = serde_json::from_slice(&shell.stdout).unwrap();
    assert_eq!(doc["method"], "ksefToken");
    let stop_other = ksef(&other_home, &["sim", "stop"]).output().unwrap();
    assert!(stop_other.status.success(), "{}", describe(&stop_other));

    // A command against the first one with the printed variables.
    let mut login = ksef(&home, &["auth", "login", "--json"]);
    for (name, value) in &vars {
        login.env(name, value);
    }
    // --nip comes from KSEF_NIP only through the shell; pass it here.
    login.args(["--nip", &vars[1].1]);
    let login = login.output().unwrap();
    assert_no_secret(&login, &vars[2].1);
    json_ok(&login);

    let stop = ksef(&home, &["sim", "stop"]).output().unwrap();
    assert!(stop.status.success(), "{}", describe(&stop));
    assert!(text(&stop.stdout).contains("stopped the simulator"));
    assert!(!pid_file.exists());
    assert!(
        TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)).is_err(),
        "the port is closed after `ksef sim stop`"
    );
    let again = ksef(&home, &["sim", "stop"]).output().unwrap();
    assert_fails_with(&again, "no detached simulator");
}

#[test]
fn enrollment_after_a_token_login_explains_what_it_needs() {
    let home = temp_dir("enroll-token");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let key = home.join("enrolled.key");
    let enroll = sim.run(
        &home,
        &[
            "cert",
            "enroll",
            "--name",
            "Token login cert",
            "--type",
            "authentication",
            "--key-out",
            key.to_str().unwrap(),
            "--ec",
        ],
    );
    assert_eq!(enroll.status.code(), Some(1), "{}", describe(&enroll));
    let stderr = text(&enroll.stderr);
    assert!(
        stderr.contains("25001") || stderr.contains("25002"),
        "KSeF's code is shown: {stderr}"
    );
    assert!(
        stderr.contains("hint: certificate enrollment needs a login with a certificate (XAdES)"),
        "{stderr}"
    );
    assert!(!key.exists(), "a refused enrollment leaves no key behind");
    let data = sim.run(&home, &["cert", "enrollment-data", "--json"]);
    assert_eq!(data.status.code(), Some(1), "{}", describe(&data));
    assert_eq!(
        json_doc(&data)["hint"]
            .as_str()
            .map(|h| h.contains("--cert CERT --key KEY")),
        Some(true),
        "{}",
        describe(&data)
    );
}

/// The text of the first `<name>` element of `xml`.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no {name}")) + open.len();
    let end = start + xml[start..].find('<').unwrap();
    &xml[start..end]
}

#[test]
fn sample_invoices_are_valid_unique_and_varied() {
    let home = temp_dir("sample");
    let out = home.join("samples");
    let made = ksef(
        &home,
        &[
            "invoice",
            "sample",
            "--count",
            "20",
            "--nip",
            "5265877635",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    let doc = json_ok(&made);
    assert_eq!(doc["count"], 20);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 20);

    let mut args = vec!["invoice", "validate", "--schema", "FA3"];
    args.extend(files.iter().map(String::as_str));
    let validate = ksef(&home, &args).output().unwrap();
    assert!(validate.status.success(), "{}", describe(&validate));

    let xmls: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let mut numbers: Vec<&str> = xmls.iter().map(|x| element(x, "P_2")).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "unique invoice numbers");
    for xml in &xmls {
        assert!(xml.contains("<NIP>5265877635</NIP>"), "the seller");
    }
    let line_counts: std::collections::BTreeSet<usize> = xmls
        .iter()
        .map(|x| x.matches("<FaWiersz>").count())
        .collect();
    assert!(
        line_counts.len() >= 3,
        "varied line counts: {line_counts:?}"
    );
    let totals: std::collections::BTreeSet<&str> =
        xmls.iter().map(|x| element(x, "P_15")).collect();
    assert!(totals.len() >= 15, "varied totals: {totals:?}");

    // A second run into the same directory refuses to overwrite.
    let again = ksef(
        &home,
        &[
            "invoice",
            "sample",
            "--count",
            "1",
            "--nip",
            "5265877635",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&again, "never overwrites");
    // Without --nip and without a configured one: a usage error naming the fix.
    let no_nip = ksef(
        &home,
        &[
            "invoice",
            "sample",
            "--out",
            home.join("x").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(no_nip.status.code(), Some(2), "{}", describe(&no_nip));
}

#[test]
fn pid_file_path_is_in_the_state_dir() {
    // `ksef sim stop` with nothing started names the pid file it looked for.
    let home = temp_dir("stop-nothing");
    let stop = ksef(&home, &["sim", "stop"]).output().unwrap();
    assert_fails_with(&stop, &home.join("sim.pid").display().to_string());
}

/// Issue 21: `auth whoami` shows the session file; `--check` asks KSeF, and a login that died on
/// the server (revoked elsewhere) is reported with what to do, not blamed on the network.
#[test]
fn whoami_check_asks_ksef_and_says_to_log_in_again() {
    let home = temp_dir("whoami-check");
    let sim = Sim::start(&home);
    let login = sim.login(&home, &[]);
    assert!(login.status.success(), "{}", describe(&login));
    let checked = json_ok(&sim.run(&home, &["auth", "whoami", "--check", "--json"]));
    assert_eq!(checked["checkedWithKsef"], true, "{checked}");
    // A copy of the profile, then the original logs out: KSeF revokes the login the copy holds.
    let profiles = home.join("profiles");
    std::fs::create_dir_all(profiles.join("copy")).unwrap();
    for entry in std::fs::read_dir(profiles.join("default")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), profiles.join("copy").join(entry.file_name())).unwrap();
        }
    }
    let logout = sim.run(&home, &["auth", "logout"]);
    assert!(logout.status.success(), "{}", describe(&logout));
    let local = sim.run(&home, &["auth", "whoami", "--profile", "copy"]);
    assert!(local.status.success(), "{}", describe(&local));
    let dead = sim.run(&home, &["auth", "whoami", "--profile", "copy", "--check"]);
    assert_fails_with(&dead, "log in again");
    assert!(
        !text(&dead.stderr).contains("network"),
        "{}",
        describe(&dead)
    );
}

/// Issue 21: without --home, configuration lives under $XDG_CONFIG_HOME/ksef and state (profiles,
/// tokens) under $XDG_STATE_HOME/ksef, as the XDG base directories say.
#[test]
fn config_lives_in_the_xdg_config_dir_and_state_apart() {
    let root = temp_dir("xdg");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("KSEF_HOME")
            .env_remove("KSEF_ENV")
            .env_remove("KSEF_BASE_URL")
            .env("HOME", &root)
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_STATE_HOME", root.join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let set = run(&["config", "set", "env", "demo"]);
    assert!(set.status.success(), "{}", describe(&set));
    let config = root.join("config/ksef/config.toml");
    assert!(std::fs::read_to_string(&config).unwrap().contains("demo"));
    assert_eq!(mode(&config), 0o600);
    assert!(!root.join("state/ksef/config.toml").exists());
    let get = run(&["config", "get", "env"]);
    assert!(text(&get.stdout).contains("demo"), "{}", describe(&get));
    // Without XDG_CONFIG_HOME: ~/.config/ksef.
    let plain = Command::new(BIN)
        .args(["config", "set", "env", "prod"])
        .env_remove("KSEF_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", &root)
        .output()
        .unwrap();
    assert!(plain.status.success(), "{}", describe(&plain));
    assert!(
        std::fs::read_to_string(root.join(".config/ksef/config.toml"))
            .unwrap()
            .contains("prod")
    );
}
