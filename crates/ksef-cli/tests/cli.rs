//! End-to-end tests of the `ksef` binary: the demo, a `ksef sim` child process, and the
//! exit-code and secrecy conventions.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const STEPS: &[&str] = &[
    "start simulator",
    "token login",
    "open online session",
    "send FA(3) invoice",
    "close session",
    "wait until processed",
    "save UPO",
    "query metadata",
    "download and compare",
    "batch send 100 invoices",
    "incremental sync",
    "logout",
];

#[test]
fn demo_runs_every_step_of_the_lifecycle() {
    let home = temp_dir("demo");
    let out = home.join("upo");
    let output = ksef(&home, &["demo", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    for step in STEPS {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("✓") && l.contains(step)),
            "step {step:?} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("100/100 accepted"), "{stdout}");
    assert!(stdout.contains("101 invoices into"), "{stdout}");
    assert!(stdout.contains("demo passed"));
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let upos = names.iter().filter(|n| n.starts_with("UPO-")).count();
    assert_eq!(upos, 1, "one UPO saved in --out: {names:?}");
    let synced = std::fs::read_dir(out.join("sync"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".xml")
        })
        .count();
    assert_eq!(synced, 101, "the sync step wrote every invoice sent");
}

#[test]
fn demo_json_is_one_document() {
    let home = temp_dir("demo-json");
    let output = ksef(&home, &["demo", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let doc: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON document");
    for key in [
        "ok",
        "passed",
        "failed",
        "baseUrl",
        "nip",
        "sessionReferenceNumber",
        "invoiceReferenceNumber",
        "ksefNumber",
        "upoPath",
        "steps",
    ] {
        assert!(doc.get(key).is_some(), "key {key} missing: {doc}");
    }
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["failed"], 0);
    assert_eq!(doc["passed"], STEPS.len());
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), STEPS.len());
    assert!(
        steps
            .iter()
            .all(|s| s["name"].is_string() && s["status"].is_string())
    );
}

#[test]
fn sim_prints_the_three_lines_first_and_stops_on_sigterm() {
    let home = temp_dir("sim");
    let mut sim = Sim::start(&home);
    assert!(sim.base_url.starts_with("http://127.0.0.1:"));
    assert!(sim.base_url.ends_with("/v2"));
    assert_eq!(sim.nip.len(), 10);
    assert!(!sim.token.is_empty());
    let pid = sim.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = sim.child.try_wait().unwrap() {
            assert!(status.success(), "ksef sim exits 0 on SIGTERM: {status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ksef sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn login_send_get_and_list_against_ksef_sim() {
    let home = temp_dir("flow");
    let sim = Sim::start(&home);
    // Every command of this test, with its argv checked for the token.
    let run = |args: &[&str], with_token: bool| -> Output {
        assert!(
            args.iter().all(|a| !a.contains(&sim.token)),
            "the token must never be an argument"
        );
        let mut command = ksef(&home, args);
        command.env("KSEF_BASE_URL", &sim.base_url);
        if with_token {
            command.env("KSEF_TOKEN", &sim.token);
        }
        let output = command.output().unwrap();
        assert_no_secret(&output, &sim.token);
        output
    };

    let login = run(&["auth", "login", "--nip", &sim.nip], true);
    assert!(login.status.success(), "{}", describe(&login));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let profile = home.join("profiles/default");
        for file in ["tokens.json", "session.json"] {
            let mode = std::fs::metadata(profile.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} must be owner-only");
        }
        let session_file = std::fs::read_to_string(profile.join("session.json")).unwrap();
        assert!(!session_file.contains(&sim.token));
    }

    let whoami = run(&["auth", "whoami", "--json"], false);
    assert!(whoami.status.success(), "{}", describe(&whoami));
    let who: serde_json::Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(who["context"]["value"], sim.nip.as_str());

    let invoice = sample_invoice();
    let upo_dir = home.join("upo");
    let send = run(
        &[
            "invoice",
            "send",
            invoice.to_str().unwrap(),
            "--wait",
            "--upo-dir",
            upo_dir.to_str().unwrap(),
            "--json",
        ],
        false,
    );
    assert!(send.status.success(), "{}", describe(&send));
    let sent: serde_json::Value = serde_json::from_slice(&send.stdout).unwrap();
    let sent = sent.as_array().expect("an array");
    assert_eq!(sent.len(), 1);
    for key in ["file", "referenceNumber", "ksefNumber", "status", "upo"] {
        assert!(sent[0].get(key).is_some(), "key {key} missing");
    }
    assert_eq!(sent[0]["status"]["code"], 200);
    let ksef_number = sent[0]["ksefNumber"].as_str().unwrap().to_owned();
    assert!(Path::new(sent[0]["upo"].as_str().unwrap()).exists());

    let downloaded = home.join("downloaded.xml");
    let get = run(
        &[
            "invoice",
            "get",
            &ksef_number,
            "--out",
            downloaded.to_str().unwrap(),
        ],
        false,
    );
    assert!(get.status.success(), "{}", describe(&get));
    assert_eq!(
        std::fs::read(&downloaded).unwrap(),
        std::fs::read(&invoice).unwrap(),
        "the downloaded invoice is byte for byte the one sent"
    );

    let list = run(&["session", "list", "--json"], false);
    assert!(list.status.success(), "{}", describe(&list));
    let sessions: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["successfulInvoiceCount"], 1);
    assert_eq!(
        sessions[0]["referenceNumber"].as_str().map(str::len),
        Some(36)
    );

    // KSeF says no (the seller is not the context): exit 1, the status in the JSON.
    let foreign = home.join("foreign-seller.xml");
    let xml = std::fs::read_to_string(&invoice).unwrap().replacen(
        &format!("<NIP>{}</NIP>", sim.nip),
        "<NIP>7010002137</NIP>",
        1,
    );
    std::fs::write(&foreign, xml).unwrap();
    let refused = run(
        &[
            "invoice",
            "send",
            foreign.to_str().unwrap(),
            "--wait",
            "--json",
        ],
        false,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let rows: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_ne!(rows[0]["status"]["code"], 200);
    assert!(rows[0]["ksefNumber"].is_null());

    // The other two token sources, each in its own profile.
    let token_file = home.join("token.txt");
    std::fs::write(&token_file, format!("{}\n", sim.token)).unwrap();
    let from_file = run(
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "from-file",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        false,
    );
    assert!(from_file.status.success(), "{}", describe(&from_file));
    let mut stdin_login = ksef(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "from-stdin",
            "--token-stdin",
            "--json",
        ],
    );
    stdin_login
        .env("KSEF_BASE_URL", &sim.base_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = stdin_login.spawn().unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", sim.token).unwrap();
    }
    let from_stdin = child.wait_with_output().unwrap();
    assert!(from_stdin.status.success(), "{}", describe(&from_stdin));
    assert_no_secret(&from_stdin, &sim.token);
    let doc: serde_json::Value = serde_json::from_slice(&from_stdin.stdout).unwrap();
    assert_eq!(doc["profile"], "from-stdin");

    let logout = run(&["auth", "logout"], false);
    assert!(logout.status.success(), "{}", describe(&logout));
    let whoami = run(&["auth", "whoami"], false);
    assert_eq!(whoami.status.code(), Some(1), "{}", describe(&whoami));
}

#[test]
fn a_missing_file_exits_1_and_names_it() {
    let home = temp_dir("missing");
    let output = ksef(&home, &["invoice", "send", "/nonexistent/invoice.xml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(text(&output.stderr).contains("/nonexistent/invoice.xml"));
}

#[test]
fn an_invalid_nip_exits_1() {
    let home = temp_dir("nip");
    let secret = "test-secret-token-value";
    let output = ksef(&home, &["auth", "login", "--nip", "1234567890"])
        .env("KSEF_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(text(&output.stderr).contains("not a valid NIP"));
    assert_no_secret(&output, secret);
}

#[test]
fn usage_errors_exit_2() {
    let home = temp_dir("usage");
    for args in [
        &["frobnicate"][..],
        &["invoice", "send"][..],
        &["auth", "login"][..],
        &["--env", "nowhere", "auth", "whoami"][..],
    ] {
        let output = ksef(&home, args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&output)
        );
    }
}

#[test]
fn sim_data_keeps_tokens_and_invoices_across_restarts() {
    let home = temp_dir("sim-data");
    let data = home.join("state");
    let data_arg = data.to_str().unwrap().to_owned();
    let (token, ksef_number) = {
        let sim = Sim::start_with(&home, &["--data", &data_arg]);
        #[cfg(unix)]
        assert_eq!(mode(&data), 0o700, "the state holds token secrets");
        sim.login(&home, &[]);
        let sent = sim.run(
            &home,
            &[
                "invoice",
                "send",
                sample_invoice().to_str().unwrap(),
                "--wait",
                "--json",
            ],
        );
        assert!(sent.status.success(), "{}", describe(&sent));
        let rows: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
        let number = rows[0]["ksefNumber"].as_str().unwrap().to_owned();
        (sim.token.clone(), number)
        // Dropped here: SIGTERM, and the simulator saves its state.
    };
    let sim = Sim::start_with(&home, &["--data", &data_arg]);
    assert_eq!(sim.token, token, "the seeded token survives a restart");
    // Logins are not kept: log in again, then the invoice is still there.
    sim.login(&home, &[]);
    let downloaded = home.join("again.xml");
    let get = sim.run(
        &home,
        &[
            "invoice",
            "get",
            &ksef_number,
            "--out",
            downloaded.to_str().unwrap(),
        ],
    );
    assert!(get.status.success(), "{}", describe(&get));
    assert_eq!(
        std::fs::read(&downloaded).unwrap(),
        std::fs::read(sample_invoice()).unwrap()
    );
}

#[test]
fn sim_fault_flags_inject_failures() {
    let home = temp_dir("sim-faults");
    let sim = Sim::start_with(
        &home,
        &["--fault-5xx", "1", "--fault-operation", "auth.challenge"],
    );
    let challenge = sim.run(&home, &["auth", "challenge", "--json"]);
    assert_eq!(challenge.status.code(), Some(1), "{}", describe(&challenge));
    let doc: serde_json::Value = serde_json::from_slice(&challenge.stdout).unwrap();
    assert!(doc["error"].as_str().unwrap().contains("HTTP 50"), "{doc}");
    assert!(
        doc["hint"].as_str().unwrap().contains("server error"),
        "{doc}"
    );
    // Operations outside --fault-operation are untouched.
    let body = home.join("subject.json");
    std::fs::write(
        &body,
        r#"{"subjectNip":"1111111111","subjectType":"VatGroup","description":"a VAT group"}"#,
    )
    .unwrap();
    let untouched = sim.run(
        &home,
        &[
            "testdata",
            "subject-create",
            "--body",
            body.to_str().unwrap(),
        ],
    );
    assert!(untouched.status.success(), "{}", describe(&untouched));

    for args in [
        &["sim", "--fault-5xx", "2"][..],
        &["sim", "--fault-429", "abc"][..],
    ] {
        let output = ksef(&home, args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&output)
        );
    }
    let unknown = ksef(&home, &["sim", "--fault-operation", "nope.nothing"])
        .output()
        .unwrap();
    assert_fails_with(&unknown, "not an operation id");
}

#[test]
fn completions_are_printed() {
    let home = temp_dir("completions");
    let output = ksef(&home, &["completions", "bash"]).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let script = text(&output.stdout);
    // A bash completion function for `ksef` that knows the nested subcommands and their flags.
    assert!(script.contains("complete -F _ksef"), "{script}");
    assert!(script.contains("--upo-dir"), "{script}");
}

/// Sends `n` anonymous `POST /v2/auth/challenge` requests to `base_url` at once, one connection
/// each, and returns their status codes.
fn challenge_burst(base_url: &str, n: usize) -> Vec<u16> {
    use std::io::{Read as _, Write as _};
    let authority = base_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/v2"))
        .expect("an http base URL ending in /v2");
    let mut streams: Vec<std::net::TcpStream> = (0..n)
        .map(|_| {
            let stream = std::net::TcpStream::connect(authority).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream
        })
        .collect();
    for stream in &mut streams {
        write!(
            stream,
            "POST /v2/auth/challenge HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
    }
    streams
        .into_iter()
        .map(|mut stream| {
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
        })
        .collect()
}

// Issue 20 (D): `ksef sim` could not enforce KSeF's rate limits from the command line.
#[test]
fn sim_enforces_rate_limits_when_asked() {
    let home = temp_dir("sim-rate-limits");
    // Off by default: a burst goes through.
    let sim = Sim::start(&home);
    let codes = challenge_burst(&sim.base_url, 12);
    assert!(codes.iter().all(|&c| c == 200), "{codes:?}");
    drop(sim);
    // A tiny scale leaves one request per window: the rest of the burst meets 429.
    let sim = Sim::start_with(&home, &["--rate-limit-scale", "0.001"]);
    let codes = challenge_burst(&sim.base_url, 12);
    assert!(codes.contains(&200), "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
    drop(sim);
    // Production limits: accepted as a mode.
    let sim = Sim::start_with(&home, &["--rate-limits", "production"]);
    assert_eq!(challenge_burst(&sim.base_url, 1), [200]);
    drop(sim);
    // Contradictions and bad values are refused before anything starts.
    let both = ksef(
        &home,
        &["sim", "--rate-limits", "off", "--rate-limit-scale", "2"],
    )
    .output()
    .unwrap();
    assert_fails_with(&both, "--rate-limits off");
    for args in [
        &["sim", "--rate-limit-scale", "0"][..],
        &["sim", "--rate-limit-scale", "-1"][..],
        &["sim", "--rate-limits", "sometimes"][..],
    ] {
        let output = ksef(&home, args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&output)
        );
    }
}

/// Issue 21: a help page shows the command's own options first and the global ones under their
/// own heading, as gh and cargo do.
#[test]
fn help_lists_own_options_before_the_global_ones() {
    let home = temp_dir("help-headings");
    for (args, own) in [
        (&["invoice", "send", "--help"][..], "--wait"),
        (&["batch", "send", "-h"][..], "--part-size"),
        (&["auth", "login", "--help"][..], "--token-file"),
    ] {
        let output = ksef(&home, args).output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        let help = text(&output.stdout);
        let at = |needle: &str| {
            help.find(needle)
                .unwrap_or_else(|| panic!("{args:?}: no {needle:?} in\n{help}"))
        };
        // Option lines start with six spaces (no short flag); the about text may name them too.
        let own = format!("      {own}");
        assert!(at("\nOptions:") < at(&own), "{args:?}\n{help}");
        assert!(at(&own) < at("Global options:"), "{args:?}\n{help}");
        assert!(
            at("Global options:") < at("      --base-url"),
            "{args:?}\n{help}"
        );
        assert!(
            at("Global options:") < at("      --profile"),
            "{args:?}\n{help}"
        );
    }
}
