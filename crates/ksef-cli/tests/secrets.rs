//! No secret in any output: every command runs with `-v` and `KSEF_LOG=trace` against a `ksef sim`
//! child, and its stdout, stderr (logs, error messages) and `--json` documents are scanned for
//! the KSeF token, the access and refresh tokens the CLI stored, the private keys made by
//! `ksef cert self-signed`, the password of an encrypted key, and the password and key of a
//! PKCS#12 file (given through `KSEF_P12_PASSWORD` and `--password-stdin`, never as an argument).
//! `ksef demo --json` (with its own in-process simulator, whose secrets the test cannot read) is
//! scanned for anything shaped like a secret: a KSeF token, a JWT, a PEM block.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// The base64 lines of the PEM blocks in `pem` (each line long enough to be unmistakable).
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_owned)
        .collect()
}

/// Everything a command printed.
fn all_output(output: &Output) -> String {
    format!("{}\n{}", text(&output.stdout), text(&output.stderr))
}

/// Fails, naming the kind of secret but not the secret, if one shows up in `haystack`.
fn assert_clean(what: &str, haystack: &str, secrets: &[(String, String)]) {
    for (kind, secret) in secrets {
        assert!(
            !haystack.contains(secret.as_str()),
            "{kind} leaked into the output of {what}"
        );
    }
}

/// Looks for secret-shaped text: a KSeF token (`…|nip-NNNNNNNNNN|<hex>`), a JWT, a PEM block.
fn assert_no_secret_shapes(what: &str, haystack: &str) {
    assert!(
        !haystack.contains("-----BEGIN"),
        "a PEM block in the output of {what}"
    );
    assert!(!haystack.contains("eyJ"), "a JWT in the output of {what}");
    for (i, _) in haystack.match_indices("|nip-") {
        let rest = &haystack[i + 5..];
        let tail = rest.get(11..).unwrap_or("");
        let hex = tail.chars().take_while(char::is_ascii_hexdigit).count();
        assert!(hex < 32, "a KSeF token in the output of {what}");
    }
}

/// A `ksef` command at trace level against `sim`.
fn traced(sim: &Sim, home: &Path, args: &[&str]) -> Command {
    let mut full = vec!["-v"];
    full.extend_from_slice(args);
    let mut command = sim.ksef(home, &full);
    command.env("KSEF_LOG", "trace");
    command
}

#[test]
fn no_secret_in_logs_json_or_errors() {
    let home = temp_dir("secrets");
    let sim = Sim::start(&home);
    let mut outputs: Vec<(String, Output)> = Vec::new();

    // A KSeF-token login, then the stored tokens.
    let login = traced(&sim, &home, &["auth", "login", "--nip", &sim.nip, "--json"])
        .env("KSEF_TOKEN", &sim.token)
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", describe(&login));
    assert!(
        text(&login.stderr).contains("TRACE") || text(&login.stderr).contains("DEBUG"),
        "the logs are on"
    );
    outputs.push(("auth login".into(), login));
    let tokens_path = home.join("profiles/default/tokens.json");
    #[cfg(unix)]
    assert_eq!(mode(&tokens_path), 0o600);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tokens_path).unwrap()).unwrap();
    let mut secrets = vec![("the KSeF token".to_owned(), sim.token.clone())];
    for (kind, entry) in tokens["tokens"].as_object().expect("a token map") {
        let token = entry["token"].as_str().unwrap().to_owned();
        assert!(token.len() > 20);
        secrets.push((format!("the {kind} token"), token));
    }
    assert!(secrets.len() >= 3, "access and refresh tokens stored");

    // Keys: a plain one and the same encrypted with a password from a file.
    let cert = home.join("seal.pem");
    let key = home.join("seal.key");
    let made = traced(
        &sim,
        &home,
        &[
            "cert",
            "self-signed",
            "--nip",
            &sim.nip,
            "--json",
            "--cert-out",
            cert.to_str().unwrap(),
            "--key-out",
            key.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(made.status.success(), "{}", describe(&made));
    outputs.push(("cert self-signed".into(), made));
    let key_pem = std::fs::read_to_string(&key).unwrap();
    for line in pem_body_lines(&key_pem) {
        secrets.push(("the private key".into(), line));
    }
    let password = "tajne-haslo-do-klucza-7f3a91";
    secrets.push(("the key password".into(), password.to_owned()));
    let password_file = home.join("password.txt");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let encrypted = home.join("seal.enc.pem");
    // By openssl in live mode, by the pkcs8 crate by default (`common::encrypt_key`).
    encrypt_key(&key, &encrypted, &password_file);
    for line in pem_body_lines(&std::fs::read_to_string(&encrypted).unwrap()) {
        secrets.push(("the encrypted private key".into(), line));
    }
    let cert_login = traced(
        &sim,
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "seal",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            encrypted.to_str().unwrap(),
            "--key-password-file",
            password_file.to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(cert_login.status.success(), "{}", describe(&cert_login));
    outputs.push(("auth login --cert".into(), cert_login));
    let seal_tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("profiles/seal/tokens.json")).unwrap())
            .unwrap();
    for (kind, entry) in seal_tokens["tokens"].as_object().unwrap() {
        secrets.push((
            format!("the {kind} token of the seal"),
            entry["token"].as_str().unwrap().to_owned(),
        ));
    }

    // A PKCS#12 file made by openssl: its password from the environment, then from stdin; its
    // key is a secret too, and so is the password, which no argument ever carries.
    let p12_password = "haslo-do-p12-c81e2d";
    secrets.push(("the PKCS#12 password".into(), p12_password.to_owned()));
    let p12 = openssl_p12(&home, "secrets-p12", "ec", p12_password, false);
    for line in pem_body_lines(&std::fs::read_to_string(home.join("secrets-p12.key.pem")).unwrap())
    {
        secrets.push(("the private key of the PKCS#12 file".into(), line));
    }
    let p12_args = [
        "auth",
        "login",
        "--nip",
        P12_NIP,
        "--profile",
        "p12",
        "--p12",
        p12.to_str().unwrap(),
        "--json",
    ];
    let p12_login = traced(&sim, &home, &p12_args)
        .env("KSEF_P12_PASSWORD", p12_password)
        .output()
        .unwrap();
    assert!(p12_login.status.success(), "{}", describe(&p12_login));
    outputs.push(("auth login --p12 (KSEF_P12_PASSWORD)".into(), p12_login));
    let mut stdin_args = p12_args.to_vec();
    stdin_args.push("--password-stdin");
    let p12_login = with_stdin(traced(&sim, &home, &stdin_args), p12_password);
    assert!(p12_login.status.success(), "{}", describe(&p12_login));
    outputs.push(("auth login --p12 --password-stdin".into(), p12_login));
    let p12_wrong = "zle-haslo-do-p12-77b0";
    secrets.push(("a wrong PKCS#12 password".into(), p12_wrong.to_owned()));
    let refused = with_stdin(traced(&sim, &home, &stdin_args), p12_wrong);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("wrong password"),
        "{}",
        describe(&refused)
    );
    outputs.push(("auth login --p12 (wrong password)".into(), refused));
    let unsigned = home.join("p12-unsigned.xml");
    std::fs::write(&unsigned, "<Doc><Data>p12</Data></Doc>").unwrap();
    let signed = traced(
        &sim,
        &home,
        &[
            "xades",
            "sign",
            "--p12",
            p12.to_str().unwrap(),
            unsigned.to_str().unwrap(),
            "--json",
        ],
    )
    .env("KSEF_P12_PASSWORD", p12_password)
    .output()
    .unwrap();
    assert!(signed.status.success(), "{}", describe(&signed));
    outputs.push(("xades sign --p12".into(), signed));

    // Work: online and batch sends, queries, a refresh.
    let batch_dir = home.join("batch");
    std::fs::create_dir_all(&batch_dir).unwrap();
    let sample = std::fs::read_to_string(sample_invoice()).unwrap();
    for i in 0..3 {
        std::fs::write(
            batch_dir.join(format!("inv-{i}.xml")),
            sample.replace("KSEF-RS-SAMPLE-0001", &format!("SECRETS-B-{i}")),
        )
        .unwrap();
    }
    let upo_dir = home.join("upo");
    let sample_path = sample_invoice();
    let commands: Vec<Vec<&str>> = vec![
        vec![
            "invoice",
            "send",
            sample_path.to_str().unwrap(),
            "--wait",
            "--upo-dir",
            upo_dir.to_str().unwrap(),
            "--json",
        ],
        vec![
            "batch",
            "send",
            batch_dir.to_str().unwrap(),
            "--wait",
            "--json",
        ],
        vec!["auth", "whoami", "--json"],
        vec!["auth", "status", "--json"],
        vec!["auth", "refresh", "--json"],
        vec!["auth", "whoami", "--profile", "seal", "--json"],
    ];
    for args in &commands {
        let output = traced(&sim, &home, args).output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        outputs.push((args[..2].join(" "), output));
    }
    // The refresh stored a new access token: one more secret.
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tokens_path).unwrap()).unwrap();
    for (kind, entry) in tokens["tokens"].as_object().unwrap() {
        secrets.push((
            format!("the refreshed {kind} token"),
            entry["token"].as_str().unwrap().to_owned(),
        ));
    }

    // Failures: an invalid invoice, a wrong KSeF token, a wrong key password, a dead session.
    let invalid = home.join("invalid.xml");
    std::fs::write(&invalid, sample.replace("<P_2>", "<P_2x>")).unwrap();
    let bad_token = "20250101-EC-0000000000-0000000000-00|nip-5265877635|00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff";
    secrets.push(("a wrong KSeF token".into(), bad_token.to_owned()));
    let wrong_password = home.join("wrong.txt");
    let wrong = "zle-haslo-ktore-nie-pasuje-41";
    secrets.push(("a wrong key password".into(), wrong.to_owned()));
    std::fs::write(&wrong_password, format!("{wrong}\n")).unwrap();
    let failures: Vec<(&str, Command)> = vec![
        ("invoice send (invalid)", {
            traced(
                &sim,
                &home,
                &[
                    "invoice",
                    "send",
                    invalid.to_str().unwrap(),
                    "--wait",
                    "--json",
                ],
            )
        }),
        ("auth login (wrong token)", {
            let mut c = traced(
                &sim,
                &home,
                &[
                    "auth",
                    "login",
                    "--nip",
                    &sim.nip,
                    "--profile",
                    "bad",
                    "--json",
                ],
            );
            c.env("KSEF_TOKEN", bad_token);
            c
        }),
        ("auth login (wrong key password)", {
            traced(
                &sim,
                &home,
                &[
                    "auth",
                    "login",
                    "--nip",
                    &sim.nip,
                    "--profile",
                    "wrongpass",
                    "--cert",
                    cert.to_str().unwrap(),
                    "--key",
                    encrypted.to_str().unwrap(),
                    "--key-password-file",
                    wrong_password.to_str().unwrap(),
                ],
            )
        }),
    ];
    for (what, mut command) in failures {
        let output = command.output().unwrap();
        assert_ne!(
            output.status.code(),
            Some(0),
            "{what}: {}",
            describe(&output)
        );
        assert!(!output.stderr.is_empty(), "{what} says why");
        outputs.push((what.to_owned(), output));
    }
    // A session KSeF no longer knows: the stored tokens replaced by unknown (well-formed) ones.
    let dead_access = "eyJhbGciOiJIUzI1NiJ9.eyJkZWFkIjoiYWNjZXNzIn0.ZGVhZC1hY2Nlc3Mtc2lnbmF0dXJl";
    let dead_refresh =
        "eyJhbGciOiJIUzI1NiJ9.eyJkZWFkIjoicmVmcmVzaCJ9.ZGVhZC1yZWZyZXNoLXNpZ25hdHVyZQ";
    secrets.push(("a dead access token".into(), dead_access.to_owned()));
    secrets.push(("a dead refresh token".into(), dead_refresh.to_owned()));
    let mut dead = tokens.clone();
    for (_, entry) in dead["tokens"].as_object_mut().unwrap() {
        let old = entry["token"].as_str().unwrap().to_owned();
        let new = if old == tokens["tokens"]["refresh"]["token"].as_str().unwrap_or("") {
            dead_refresh
        } else {
            dead_access
        };
        entry["token"] = serde_json::Value::String(new.to_owned());
    }
    std::fs::write(&tokens_path, serde_json::to_vec(&dead).unwrap()).unwrap();
    for args in [
        vec!["auth", "whoami", "--json"],
        vec!["invoice", "send", sample_path.to_str().unwrap(), "--json"],
    ] {
        let output = traced(&sim, &home, &args).output().unwrap();
        outputs.push((format!("{} (dead session)", args[..2].join(" ")), output));
    }
    let dead_send = &outputs.last().unwrap().1;
    assert_eq!(dead_send.status.code(), Some(1), "{}", describe(dead_send));

    for (what, output) in &outputs {
        assert_clean(what, &all_output(output), &secrets);
    }
    // Everything the CLI wrote besides the token files and the keys: the UPO directory.
    for entry in std::fs::read_dir(&upo_dir).unwrap() {
        let content = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert_clean("the UPO directory", &content, &secrets);
    }
}

/// The keyring path (`secrets = keyring` with no Secret Service on the bus, so the file is the
/// fallback: what every machine without a keyring sees) and a PKCS#11 PIN (from
/// `KSEF_PKCS11_PIN` and `--pin-stdin`, with a module that cannot be loaded): traced outputs,
/// `--json` documents and errors hold neither the tokens nor the PIN. (The real Secret Service
/// path is scanned in tests/keyring.rs.)
#[test]
fn no_secret_on_the_keyring_path_or_with_a_pin() {
    let home = temp_dir("secrets-keyring");
    let sim = Sim::start(&home);
    let no_bus = format!("unix:path={}", home.join("no-bus").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut command = traced(&sim, &home, args);
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &no_bus)
            .env("KSEF_TOKEN", &sim.token);
        match stdin {
            Some(input) => {
                use std::io::Write as _;
                command
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = command.spawn().unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(input.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
            None => command.output().unwrap(),
        }
    };
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for args in [
        vec!["config", "set", "secrets", "keyring", "--json"],
        vec!["auth", "login", "--nip", &sim.nip, "--json"],
    ] {
        let output = run(&args, None);
        assert!(output.status.success(), "{}", describe(&output));
        outputs.push((args[..2].join(" "), output));
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("profiles/default/tokens.json")).unwrap())
            .unwrap();
    let mut secrets = vec![("the KSeF token".to_owned(), sim.token.clone())];
    for kind in ["access", "refresh"] {
        let token = stored["tokens"][kind]["token"].as_str().unwrap().to_owned();
        secrets.push((format!("the {kind} token"), token));
    }
    for args in [
        vec!["auth", "whoami", "--json"],
        vec!["auth", "status"],
        vec!["auth", "refresh", "--json"],
        vec!["config", "set", "secrets", "file"],
        vec!["auth", "logout", "--json"],
    ] {
        let output = run(&args, None);
        assert!(output.status.success(), "{}", describe(&output));
        outputs.push((args.join(" "), output));
    }

    let pin = "pin-5581-never-shown";
    secrets.push(("the PIN".to_owned(), pin.to_owned()));
    let missing = home.join("no-module.so");
    let login = [
        "auth",
        "login",
        "--nip",
        &sim.nip,
        "--pkcs11-module",
        missing.to_str().unwrap(),
        "--pkcs11-token",
        "T",
        "--key",
        "k",
        "--json",
    ];
    let by_env = traced(&sim, &home, &login)
        .env("KSEF_PKCS11_PIN", pin)
        .output()
        .unwrap();
    assert_eq!(by_env.status.code(), Some(1), "{}", describe(&by_env));
    outputs.push((
        "auth login --pkcs11-module (KSEF_PKCS11_PIN)".into(),
        by_env,
    ));
    let mut with_stdin = login.to_vec();
    with_stdin.push("--pin-stdin");
    let by_stdin = run(&with_stdin, Some(&format!("{pin}\n")));
    assert_eq!(by_stdin.status.code(), Some(1), "{}", describe(&by_stdin));
    outputs.push(("auth login --pkcs11-module --pin-stdin".into(), by_stdin));

    for (what, output) in &outputs {
        assert_clean(what, &all_output(output), &secrets);
        assert_no_secret_shapes(what, &all_output(output));
    }
}

#[test]
fn demo_json_and_trace_logs_hold_nothing_secret_shaped() {
    let home = temp_dir("secrets-demo");
    let output = ksef(&home, &["-v", "demo", "--json"])
        .env("KSEF_LOG", "trace")
        .output()
        .unwrap();
    let doc = json_ok(&output);
    assert!(doc["steps"].as_array().is_some_and(|s| s.len() > 3));
    assert!(
        text(&output.stderr).contains("TRACE"),
        "the trace logs are on"
    );
    assert_no_secret_shapes("ksef demo --json", &all_output(&output));
}
