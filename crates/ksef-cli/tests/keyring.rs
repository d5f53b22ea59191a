//! `ksef config set secrets keyring|file`: where a profile's tokens are kept.
//!
//! Against a real Secret Service: each test that needs one starts a private D-Bus session
//! (`dbus-daemon`) and a fresh, unlocked gnome-keyring in a temporary directory, and reads the
//! keyring back with libsecret's `secret-tool`, independently of our client. The Debian packages
//! are `dbus`, `gnome-keyring` and `libsecret-tools` (`.ci/run` installs them). Under CI (`CI`
//! set) a missing one fails the test; elsewhere the test says on stderr why it did not run.
//! The fallback to the 0600 file when no Secret Service can be reached needs nothing and always
//! runs.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SERVICE: &str = "ksef-rs";

/// A private D-Bus session with an unlocked gnome-keyring, stopped when dropped.
struct SecretService {
    // Removed after the daemons are stopped (`Drop` below runs before the fields drop).
    dir: TempDir,
    bus: Child,
    keyring: Child,
    address: String,
}

/// The tools the real-keyring tests need, with their Debian packages.
const TOOLS: [(&str, &str); 3] = [
    ("dbus-daemon", "dbus"),
    ("gnome-keyring-daemon", "gnome-keyring"),
    ("secret-tool", "libsecret-tools"),
];

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

impl SecretService {
    /// Starts one, or returns `None` after saying why it cannot (outside CI only).
    fn start(name: &str) -> Option<SecretService> {
        let missing: Vec<String> = TOOLS
            .iter()
            .filter(|(tool, _)| !on_path(tool))
            .map(|(tool, package)| format!("{tool} (Debian package {package})"))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "no real Secret Service for this test: missing {}",
                missing.join(", ")
            );
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("NOT RUN: {why}; install them to run it");
            return None;
        }
        let dir = temp_dir(name);
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        // A session bus without service activation: with the system's session.conf the first
        // probe below would start a gnome-keyring of its own (no password, no login collection)
        // before ours took the name, and ours would then give up ("another secret service").
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>\
             <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
             <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut address = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(bus.stdout.take().unwrap()),
            &mut address,
        )
        .unwrap();
        let address = address.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}"
        );
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(env(&dir, &address))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("gnome-keyring.log")).unwrap())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        {
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"keyring-password").unwrap();
        }
        let service = SecretService {
            dir,
            bus,
            keyring,
            address,
        };
        // Ready once libsecret can store and read an item.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut store = service.secret_tool(&["store", "--label=probe", "probe", "1"]);
            store.stdin(Stdio::piped());
            let mut child = store.spawn().unwrap();
            child.stdin.take().unwrap().write_all(b"x").unwrap();
            let probe = child.wait_with_output().unwrap();
            if probe.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring did not come up on the private bus: secret-tool said {:?}; \
                 gnome-keyring-daemon said {:?}",
                String::from_utf8_lossy(&probe.stderr),
                std::fs::read_to_string(service.dir.join("gnome-keyring.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(service)
    }

    /// `secret-tool` on this session.
    fn secret_tool(&self, args: &[&str]) -> Command {
        let mut command = Command::new("secret-tool");
        command
            .args(args)
            .envs(env(&self.dir, &self.address))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// What the keyring holds for `user` of our service, read with `secret-tool`.
    fn lookup(&self, user: &str) -> Option<String> {
        let output = self
            .secret_tool(&["lookup", "service", SERVICE, "username", user])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
            .filter(|text| !text.is_empty())
    }

    /// A `ksef` command on this session.
    fn ksef(&self, sim: &Sim, home: &Path, args: &[&str]) -> Command {
        let mut command = sim.ksef(home, args);
        command.envs(env(&self.dir, &self.address));
        command
    }
}

/// The environment of a program on the private session.
fn env(dir: &Path, address: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DBUS_SESSION_BUS_ADDRESS", address.to_owned()),
        ("HOME", dir.display().to_string()),
        ("XDG_DATA_HOME", dir.join("data").display().to_string()),
        ("XDG_RUNTIME_DIR", dir.join("run").display().to_string()),
    ]
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// The keyring user of `home`'s profile and a token kind.
fn user(home: &Path, profile: &str, kind: &str) -> String {
    format!(
        "{profile}@{}/{kind}",
        std::fs::canonicalize(home).unwrap().display()
    )
}

/// The token inside one of our keyring entries (`{"token": ..., "validUntil": ...}`).
fn entry_token(entry: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(entry).expect("an entry of ours");
    value["token"].as_str().unwrap().to_owned()
}

#[test]
fn tokens_in_a_real_secret_service_and_not_in_the_file() {
    let Some(keyring) = SecretService::start("keyring-real") else {
        return;
    };
    let home = temp_dir("keyring-real-home");
    let sim = Sim::start(&home);
    let set = output_within(
        keyring.ksef(&sim, &home, &["config", "set", "secrets", "keyring"]),
        RUN_LIMIT,
    );
    assert!(set.status.success(), "{}", describe(&set));

    let login = output_within(
        {
            let mut c = keyring.ksef(&sim, &home, &["auth", "login", "--nip", &sim.nip, "--json"]);
            c.env("KSEF_TOKEN", &sim.token);
            c
        },
        RUN_LIMIT,
    );
    assert!(login.status.success(), "{}", describe(&login));
    assert_no_secret(&login, &sim.token);
    let doc = json_ok(&login);
    assert_eq!(doc["secrets"]["store"], "keyring", "{doc}");
    assert_eq!(doc["secrets"]["access"], "keyring", "{doc}");
    assert_eq!(doc["secrets"]["refresh"], "keyring", "{doc}");

    // In the keyring, read by libsecret; not in the file.
    let tokens = home.join("profiles/default/tokens.json");
    assert!(!tokens.exists(), "no token file while the keyring works");
    let refresh = keyring
        .lookup(&user(&home, "default", "refresh"))
        .expect("the refresh token is in the keyring");
    let refresh = entry_token(&refresh);
    assert!(refresh.len() > 20);
    assert_no_secret(&login, &refresh);

    // Setting the store in use again moves (and removes) nothing.
    let again = output_within(
        keyring.ksef(&sim, &home, &["config", "set", "secrets", "keyring"]),
        RUN_LIMIT,
    );
    assert!(again.status.success(), "{}", describe(&again));
    assert!(keyring.lookup(&user(&home, "default", "refresh")).is_some());

    // whoami (and --json) name the holder, never the value; the login works from the keyring.
    let whoami = output_within(
        keyring.ksef(&sim, &home, &["auth", "whoami", "--json"]),
        RUN_LIMIT,
    );
    assert_no_secret(&whoami, &refresh);
    let doc = json_ok(&whoami);
    assert_eq!(doc["secrets"]["refresh"], "keyring", "{doc}");
    let status = output_within(keyring.ksef(&sim, &home, &["auth", "status"]), RUN_LIMIT);
    assert!(status.status.success(), "{}", describe(&status));
    assert!(
        text(&status.stdout).contains("in the keyring"),
        "{}",
        describe(&status)
    );
    assert_no_secret(&status, &refresh);

    // Switching to the file moves the tokens there and out of the keyring.
    let to_file = output_within(
        keyring.ksef(&sim, &home, &["config", "set", "secrets", "file"]),
        RUN_LIMIT,
    );
    assert!(to_file.status.success(), "{}", describe(&to_file));
    assert!(keyring.lookup(&user(&home, "default", "refresh")).is_none());
    assert_eq!(mode(&tokens), 0o600);
    assert!(std::fs::read_to_string(&tokens).unwrap().contains(&refresh));
    let doc = json_ok(&output_within(
        keyring.ksef(&sim, &home, &["auth", "whoami", "--json"]),
        RUN_LIMIT,
    ));
    assert_eq!(doc["secrets"]["store"], "file", "{doc}");
    assert_eq!(doc["secrets"]["refresh"], "file", "{doc}");

    // And back: the file's (newest) copy goes to the keyring, the file is removed.
    let to_keyring = output_within(
        keyring.ksef(&sim, &home, &["config", "set", "secrets", "keyring"]),
        RUN_LIMIT,
    );
    assert!(to_keyring.status.success(), "{}", describe(&to_keyring));
    assert!(!tokens.exists());
    assert_eq!(
        keyring
            .lookup(&user(&home, "default", "refresh"))
            .map(|e| entry_token(&e)),
        Some(refresh.clone())
    );
    let refreshed = output_within(keyring.ksef(&sim, &home, &["auth", "refresh"]), RUN_LIMIT);
    assert!(refreshed.status.success(), "{}", describe(&refreshed));

    // logout removes the entries.
    let logout = output_within(
        keyring.ksef(&sim, &home, &["auth", "logout", "--json"]),
        RUN_LIMIT,
    );
    assert!(logout.status.success(), "{}", describe(&logout));
    assert_eq!(json_ok(&logout)["revoked"], true);
    for kind in ["access", "refresh", "authentication"] {
        assert!(
            keyring.lookup(&user(&home, "default", kind)).is_none(),
            "{kind} left in the keyring"
        );
    }
    assert!(!tokens.exists());
}

#[test]
fn a_stale_keyring_entry_never_wins_over_the_file() {
    let Some(keyring) = SecretService::start("keyring-stale") else {
        return;
    };
    let home = temp_dir("keyring-stale-home");
    let sim = Sim::start(&home);
    // A login kept in the file (the default), then an entry of ours for the same profile left
    // in the keyring from some earlier time.
    sim.login(&home, &[]);
    let tokens = home.join("profiles/default/tokens.json");
    let file_text = std::fs::read_to_string(&tokens).unwrap();
    let stale = r#"{"token":"stale-refresh-token-0001"}"#;
    let mut store = keyring.secret_tool(&[
        "store",
        "--label=stale",
        "service",
        SERVICE,
        "username",
        &user(&home, "default", "refresh"),
    ]);
    store.stdin(Stdio::piped());
    let mut child = store.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stale.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    // With `file`, the keyring is not read.
    let whoami = json_ok(&output_within(
        keyring.ksef(&sim, &home, &["auth", "whoami", "--json"]),
        RUN_LIMIT,
    ));
    assert_eq!(whoami["secrets"]["refresh"], "file", "{whoami}");
    // Switching to `keyring` moves the file's tokens over the stale entry.
    let set = output_within(
        keyring.ksef(&sim, &home, &["config", "set", "secrets", "keyring"]),
        RUN_LIMIT,
    );
    assert!(set.status.success(), "{}", describe(&set));
    let entry = keyring
        .lookup(&user(&home, "default", "refresh"))
        .expect("moved to the keyring");
    assert!(!entry.contains("stale-refresh-token-0001"));
    assert!(file_text.contains(&entry_token(&entry)));
    let refreshed = output_within(keyring.ksef(&sim, &home, &["auth", "refresh"]), RUN_LIMIT);
    assert!(refreshed.status.success(), "{}", describe(&refreshed));
}

/// No Secret Service on the bus: `secrets keyring` keeps the tokens in the 0600 file, says so
/// once on stderr (naming the file, never a token), and `auth whoami` names the file.
#[test]
fn without_a_secret_service_the_file_is_the_fallback() {
    let home = temp_dir("keyring-fallback");
    let sim = Sim::start(&home);
    let no_bus = format!("unix:path={}", home.join("no-bus").display());
    let set = output_within(
        {
            let mut c = sim.ksef(&home, &["config", "set", "secrets", "keyring"]);
            c.env("DBUS_SESSION_BUS_ADDRESS", &no_bus);
            c
        },
        RUN_LIMIT,
    );
    assert!(set.status.success(), "{}", describe(&set));
    let login = output_within(
        {
            let mut c = sim.ksef(&home, &["auth", "login", "--nip", &sim.nip, "--json"]);
            c.env("KSEF_TOKEN", &sim.token)
                .env("DBUS_SESSION_BUS_ADDRESS", &no_bus);
            c
        },
        RUN_LIMIT,
    );
    assert!(login.status.success(), "{}", describe(&login));
    assert_no_secret(&login, &sim.token);
    let stderr = text(&login.stderr);
    assert_eq!(
        stderr.matches("secrets = keyring, but").count(),
        1,
        "one notice: {stderr}"
    );
    assert!(stderr.contains("tokens.json"), "{stderr}");
    let tokens = home.join("profiles/default/tokens.json");
    assert_eq!(mode(&tokens), 0o600);
    let doc = json_ok(&login);
    assert_eq!(doc["secrets"]["store"], "keyring", "{doc}");
    assert_eq!(doc["secrets"]["refresh"], "file", "{doc}");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tokens).unwrap()).unwrap();
    let refresh = stored["tokens"]["refresh"]["token"].as_str().unwrap();
    assert_no_secret(&login, refresh);

    let logout = output_within(
        {
            let mut c = sim.ksef(&home, &["auth", "logout", "--json"]);
            c.env("DBUS_SESSION_BUS_ADDRESS", &no_bus);
            c
        },
        RUN_LIMIT,
    );
    assert!(logout.status.success(), "{}", describe(&logout));
    assert!(!tokens.exists());
    assert_no_secret(&logout, refresh);
}

#[test]
fn secrets_takes_keyring_or_file_only() {
    let home = temp_dir("keyring-config");
    let bad = output_within(
        ksef(&home, &["config", "set", "secrets", "vault"]),
        RUN_LIMIT,
    );
    assert_fails_with(&bad, "keyring, file");
    let good = output_within(
        ksef(&home, &["config", "set", "secrets", "file", "--json"]),
        RUN_LIMIT,
    );
    assert!(good.status.success(), "{}", describe(&good));
    let show = json_ok(&output_within(
        ksef(&home, &["config", "show", "--json"]),
        RUN_LIMIT,
    ));
    assert_eq!(show["secrets"], "file");
}
