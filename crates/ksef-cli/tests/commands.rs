//! `ksef batch send`, `ksef token` and the config defaults, against a `ksef sim` child process.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn batch_send_reports_each_invoice_and_saves_upos() {
    let home = temp_dir("batch-send");
    let sim = Sim::start(&home);

    // Not logged in: exit 1 with the fix, nothing sent.
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=3 {
        std::fs::write(
            dir.join(format!("inv-{i}.xml")),
            invoice(&sim.nip, &format!("BATCH-{i}")),
        )
        .unwrap();
    }
    let early = sim.run(&home, &["batch", "send", dir.to_str().unwrap()]);
    assert_fails_with(&early, "not logged in");

    sim.login(&home, &[]);
    let upo_dir = home.join("upo");
    let sent = json_ok(&sim.run(
        &home,
        &[
            "batch",
            "send",
            dir.to_str().unwrap(),
            "--part-size",
            "2048",
            "--jobs",
            "2",
            "--wait",
            "--upo-dir",
            upo_dir.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(sent["status"]["code"], 200);
    assert_eq!(sent["invoiceCount"], 3);
    assert_eq!(sent["accepted"], 3);
    assert_eq!(sent["rejected"], 0);
    assert!(sent["parts"].as_u64().unwrap() >= 1);
    let reference = sent["referenceNumber"].as_str().unwrap().to_owned();
    let invoices = sent["invoices"].as_array().unwrap();
    let mut files: Vec<&str> = invoices
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(files, ["inv-1.xml", "inv-2.xml", "inv-3.xml"]);
    for row in invoices {
        assert_eq!(row["status"]["code"], 200, "{row}");
        assert_eq!(row["ksefNumber"].as_str().map(str::len), Some(35));
        let upo = std::fs::read_to_string(row["upo"].as_str().unwrap()).unwrap();
        assert!(upo.contains(row["ksefNumber"].as_str().unwrap()));
    }
    let session_upo = sent["sessionUpo"].as_array().unwrap();
    assert!(!session_upo.is_empty());
    assert!(Path::new(session_upo[0].as_str().unwrap()).exists());

    let batches = json_ok(&sim.run(&home, &["session", "list", "--type", "batch", "--json"]));
    assert!(
        batches
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["referenceNumber"] == reference.as_str())
    );

    // One invoice KSeF refuses (the seller is not the context): exit 1, its status in the JSON.
    let foreign = home.join("foreign.xml");
    std::fs::write(&foreign, invoice("1111111111", "BATCH-F")).unwrap();
    let good = home.join("good.xml");
    std::fs::write(&good, invoice(&sim.nip, "BATCH-G")).unwrap();
    let mixed = sim.run(
        &home,
        &[
            "batch",
            "send",
            foreign.to_str().unwrap(),
            good.to_str().unwrap(),
            "--wait",
            "--json",
        ],
    );
    assert_eq!(mixed.status.code(), Some(1), "{}", describe(&mixed));
    let doc: serde_json::Value = serde_json::from_slice(&mixed.stdout).unwrap();
    assert_eq!(doc["accepted"], 1);
    assert_eq!(doc["rejected"], 1);
    let refused = doc["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"] == "foreign.xml")
        .unwrap();
    assert!(refused["ksefNumber"].is_null());
    assert_ne!(refused["status"]["code"], 200);

    // Every invoice refused (each seller is not the context; KSeF's session status 445): each
    // file is still listed with its reason, as in the mixed batch, and the exit status is 1.
    let refused_dir = home.join("refused");
    std::fs::create_dir_all(&refused_dir).unwrap();
    for i in 1..=3 {
        std::fs::write(
            refused_dir.join(format!("inv-{i}.xml")),
            invoice("1111111111", &format!("BATCH-R{i}")),
        )
        .unwrap();
    }
    let all_refused = sim.run(
        &home,
        &[
            "batch",
            "send",
            refused_dir.to_str().unwrap(),
            "--wait",
            "--upo-dir",
            upo_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(
        all_refused.status.code(),
        Some(1),
        "{}",
        describe(&all_refused)
    );
    let listing = text(&all_refused.stdout);
    for i in 1..=3 {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(&format!("✗ inv-{i}.xml  "))),
            "{}",
            describe(&all_refused)
        );
    }
    assert!(
        listing.contains(": 0/3 accepted"),
        "{}",
        describe(&all_refused)
    );
    let doc = json_doc(&sim.run(
        &home,
        &[
            "batch",
            "send",
            refused_dir.to_str().unwrap(),
            "--wait",
            "--json",
        ],
    ));
    assert_eq!(doc["status"]["code"], 445, "{doc}");
    assert_eq!(doc["rejected"], 3, "{doc}");
    assert_eq!(doc["invoices"].as_array().unwrap().len(), 3, "{doc}");

    // The first batch sent again (as after an interrupted send): KSeF refuses each file as a
    // duplicate (440), and each is reported as already in KSeF under its first KSeF number, with
    // exit 0: the user's intent was met. Before, each was "✗ ... 440" with exit 1.
    let first_numbers: std::collections::BTreeMap<String, String> = invoices
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap().to_owned(),
                i["ksefNumber"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let rerun = sim.run(&home, &["batch", "send", dir.to_str().unwrap(), "--wait"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", describe(&rerun));
    let listing = text(&rerun.stdout);
    for (file, number) in &first_numbers {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(&format!("✓ {file}  "))
                    && l.contains(&format!("already in KSeF as {number}"))),
            "{}",
            describe(&rerun)
        );
    }
    assert!(listing.contains(": 3/3 accepted"), "{}", describe(&rerun));
    let doc = json_ok(&sim.run(
        &home,
        &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
    ));
    assert_eq!(
        (doc["accepted"].as_u64(), doc["rejected"].as_u64()),
        (Some(3), Some(0)),
        "{doc}"
    );
    for row in doc["invoices"].as_array().unwrap() {
        assert_eq!(row["alreadyInKsef"], true, "{row}");
        assert_eq!(row["status"]["code"], 440, "{row}");
        assert_eq!(
            row["ksefNumber"].as_str(),
            first_numbers
                .get(row["file"].as_str().unwrap())
                .map(String::as_str),
            "{row}"
        );
    }

    // Without --wait: the session is closed, its reference printed, and processing goes on.
    let third = home.join("third");
    std::fs::create_dir_all(&third).unwrap();
    std::fs::write(third.join("late.xml"), invoice(&sim.nip, "BATCH-L")).unwrap();
    let submitted = json_ok(&sim.run(&home, &["batch", "send", third.to_str().unwrap(), "--json"]));
    assert_eq!(submitted["waited"], false, "{submitted}");
    assert_eq!(submitted["invoiceCount"], 1, "{submitted}");
    assert!(submitted.get("invoices").is_none(), "{submitted}");
    let late = submitted["referenceNumber"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status = json_ok(&sim.run(&home, &["session", "status", &late, "--json"]));
        let code = status["status"]["code"].as_i64().unwrap();
        if code != 100 && code != 150 && code != 170 {
            break status;
        }
        assert!(Instant::now() < deadline, "still processing: {status}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["status"]["code"], 200, "{status}");
    assert_eq!(status["successfulInvoiceCount"], 1, "{status}");
    let text = sim.run(&home, &["batch", "send", third.to_str().unwrap()]);
    assert!(text.status.success(), "{}", describe(&text));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("ksef session status"),
        "{}",
        describe(&text)
    );
    // --upo-dir needs --wait: a usage error.
    let upo_alone = sim.run(
        &home,
        &["batch", "send", third.to_str().unwrap(), "--upo-dir", "u"],
    );
    assert_eq!(upo_alone.status.code(), Some(2), "{}", describe(&upo_alone));

    // Bad input: a missing file is named; two files with one name are refused.
    let missing = sim.run(&home, &["batch", "send", "/nonexistent/inv.xml"]);
    assert_fails_with(&missing, "/nonexistent/inv.xml");
    let other = home.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(dir.join("inv-1.xml"), other.join("inv-1.xml")).unwrap();
    let clash = sim.run(
        &home,
        &[
            "batch",
            "send",
            dir.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    assert_fails_with(&clash, "inv-1.xml");
    let usage = sim.run(&home, &["batch", "send", "--jobs", "0", "x.xml"]);
    assert_eq!(usage.status.code(), Some(2), "{}", describe(&usage));
}

// Regression (issue 15, section 3): `ksef batch send` could only make Zip packages, and the
// simulator refused TarGz ones.
#[test]
fn batch_send_tar_gz() {
    let home = temp_dir("batch-send-tgz");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=3 {
        std::fs::write(
            dir.join(format!("tgz-{i}.xml")),
            invoice(&sim.nip, &format!("TGZ-{i}")),
        )
        .unwrap();
    }
    let sent = json_ok(&sim.run(
        &home,
        &[
            "batch",
            "send",
            dir.to_str().unwrap(),
            "--compression",
            "tar-gz",
            "--part-size",
            "2048",
            "--wait",
            "--json",
        ],
    ));
    assert_eq!(sent["compressionType"], "TarGz", "{sent}");
    assert_eq!(sent["status"]["code"], 200, "{sent}");
    assert_eq!(sent["accepted"], 3, "{sent}");
    assert_eq!(sent["rejected"], 0, "{sent}");
    // The default stays Zip.
    let zip_dir = home.join("zip");
    std::fs::create_dir_all(&zip_dir).unwrap();
    std::fs::write(zip_dir.join("z.xml"), invoice(&sim.nip, "ZIP-1")).unwrap();
    let sent = json_ok(&sim.run(
        &home,
        &[
            "batch",
            "send",
            zip_dir.to_str().unwrap(),
            "--wait",
            "--json",
        ],
    ));
    assert_eq!(sent["compressionType"], "Zip", "{sent}");
    assert_eq!(sent["accepted"], 1, "{sent}");
    // An unknown format is a usage error.
    let usage = sim.run(
        &home,
        &[
            "batch",
            "send",
            "--compression",
            "rar",
            zip_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", describe(&usage));
}

/// Polls `token status` until the token is active.
fn wait_active(sim: &Sim, home: &Path, reference: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = json_ok(&sim.run(home, &["token", "status", reference, "--json"]));
        if status["status"] == "Active" {
            return status;
        }
        assert!(Instant::now() < deadline, "the token never became active");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tokens_are_generated_shown_once_listed_and_revoked() {
    let home = temp_dir("tokens");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);

    // To stdout, in the JSON document.
    let generated = json_ok(&sim.run(
        &home,
        &[
            "token",
            "generate",
            "--description",
            "ci pipeline",
            "--permission",
            "InvoiceRead,invoicewrite",
            "--json",
        ],
    ));
    let first_ref = generated["referenceNumber"].as_str().unwrap().to_owned();
    let first_token = generated["token"].as_str().unwrap().to_owned();
    assert!(!first_token.is_empty());
    assert_eq!(
        generated["permissions"],
        serde_json::json!(["InvoiceRead", "InvoiceWrite"])
    );

    // To a file: owner-only, and nowhere in the output.
    let token_file = home.join("secrets/new-token.txt");
    let to_file_args = [
        "token",
        "generate",
        "--description",
        "written to a file",
        "--permission",
        "InvoiceRead",
        "--out",
        token_file.to_str().unwrap(),
    ];
    let to_file = sim.run(&home, &[&to_file_args[..], &["--json"]].concat());
    let doc = json_ok(&to_file);
    assert!(doc.get("token").is_none());
    let second_ref = doc["referenceNumber"].as_str().unwrap().to_owned();
    let second_token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(!second_token.is_empty());
    assert_no_secret(&to_file, &second_token);
    #[cfg(unix)]
    assert_eq!(mode(&token_file), 0o600);
    // The file is never overwritten.
    let again = sim.run(&home, &to_file_args);
    assert_fails_with(&again, "exists");

    // Human output: the token alone on stdout.
    let human = sim.run(
        &home,
        &[
            "token",
            "generate",
            "--description",
            "plain output",
            "--permission",
            "InvoiceRead",
        ],
    );
    assert!(human.status.success(), "{}", describe(&human));
    let stdout = text(&human.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_no_secret_in_stderr(&human, stdout.trim());

    let list = json_ok(&sim.run(&home, &["token", "list", "--json"]));
    let refs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["referenceNumber"].as_str().unwrap())
        .collect();
    assert!(refs.contains(&first_ref.as_str()) && refs.contains(&second_ref.as_str()));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );

    // The new token logs in (from its file), then stops working once revoked.
    let status = wait_active(&sim, &home, &second_ref);
    assert_eq!(status["description"], "written to a file");
    let login = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "generated",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    assert!(login.status.success(), "{}", describe(&login));
    assert_no_secret(&login, &second_token);
    let revoked = json_ok(&sim.run(&home, &["token", "revoke", &second_ref, "--json"]));
    assert_eq!(revoked["revoked"], true);
    let status = json_ok(&sim.run(&home, &["token", "status", &second_ref, "--json"]));
    assert_eq!(status["status"], "Revoked");
    let refused = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "revoked",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert_no_secret(&refused, &second_token);

    // Bad input.
    let bad_permission = sim.run(
        &home,
        &[
            "token",
            "generate",
            "--description",
            "bad permission",
            "--permission",
            "Everything",
        ],
    );
    assert_fails_with(&bad_permission, "InvoiceWrite");
    let short = sim.run(
        &home,
        &[
            "token",
            "generate",
            "--description",
            "abc",
            "--permission",
            "InvoiceRead",
        ],
    );
    assert_fails_with(&short, "5 to 256");
    let bad_ref = sim.run(&home, &["token", "status", "nope"]);
    assert_fails_with(&bad_ref, "not a valid reference number");
}

fn assert_no_secret_in_stderr(output: &std::process::Output, secret: &str) {
    assert!(!secret.is_empty());
    assert!(
        !text(&output.stderr).contains(secret),
        "the token leaked into stderr"
    );
}

#[test]
fn config_defaults_are_used_when_flags_are_absent() {
    let home = temp_dir("config-defaults");
    let sim = Sim::start(&home);
    let set = |key: &str, value: &str| {
        let output = ksef(&home, &["config", "set", key, value])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
    };
    set("nip", &sim.nip);
    set("base-url", &sim.base_url);
    // No --nip, no KSEF_BASE_URL: both come from config.toml.
    let login = ksef(&home, &["auth", "login", "--json"])
        .env("KSEF_TOKEN", &sim.token)
        .output()
        .unwrap();
    assert_no_secret(&login, &sim.token);
    let doc = json_ok(&login);
    assert_eq!(doc["context"]["value"], sim.nip.as_str());
    let who = json_ok(&ksef(&home, &["auth", "whoami", "--json"]).output().unwrap());
    assert_eq!(who["baseUrl"], sim.base_url.as_str());

    // Without a configured NIP and without --nip: a usage error (exit 2) naming both fixes.
    let bare = temp_dir("config-none");
    let output = ksef(&bare, &["auth", "login"])
        .env("KSEF_TOKEN", "irrelevant-secret")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(text(&output.stderr).contains("ksef config set nip"));
    assert_no_secret(&output, "irrelevant-secret");
}

#[test]
fn verbose_traces_requests_on_stderr_without_secrets() {
    let home = temp_dir("verbose");
    let sim = Sim::start(&home);
    let login = sim
        .ksef(&home, &["-v", "auth", "login", "--nip", &sim.nip, "--json"])
        .env("KSEF_TOKEN", &sim.token)
        .output()
        .unwrap();
    assert_no_secret(&login, &sim.token);
    let doc = json_ok(&login);
    let stderr = text(&login.stderr);
    assert!(stderr.contains("ksef.request"), "{stderr}");
    assert!(stderr.contains("auth.ksef_token"), "{stderr}");
    assert!(
        stderr.contains("/auth/{referenceNumber}"),
        "paths are templates: {stderr}"
    );
    // Nothing identifying the session either: no tokens, no concrete reference number.
    assert!(
        !stderr.contains(doc["referenceNumber"].as_str().unwrap()),
        "{stderr}"
    );
    // Without -v: no traces.
    let quiet = sim.run(&home, &["auth", "refresh"]);
    assert!(quiet.status.success(), "{}", describe(&quiet));
    assert!(!text(&quiet.stderr).contains("ksef.request"));

    let generated = sim.run(
        &home,
        &[
            "-v",
            "token",
            "generate",
            "--description",
            "verbose run",
            "--permission",
            "InvoiceRead",
            "--json",
        ],
    );
    let token = json_ok(&generated)["token"].as_str().unwrap().to_owned();
    assert!(text(&generated.stderr).contains("tokens.generate"));
    assert_no_secret_in_stderr(&generated, &token);

    let bad = sim
        .ksef(&home, &["auth", "whoami"])
        .env("KSEF_LOG", "ksef_client=loud")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
    assert!(text(&bad.stderr).contains("KSEF_LOG"));
}

/// `batch send DIR --wait` of two invoices against a simulator started with `sim_args`,
/// interrupted with SIGINT once its stderr shows `marker` (after `pause`): what it printed
/// before, what it printed after, and its exit code.
fn interrupt_batch_send(
    name: &str,
    sim_args: &[&str],
    verbose: bool,
    marker: &str,
    pause: Duration,
) -> (String, String, Option<i32>) {
    use std::io::{BufRead as _, BufReader};
    let home = temp_dir(name);
    let sim = Sim::start_with(&home, sim_args);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=2 {
        std::fs::write(
            dir.join(format!("inv-{i}.xml")),
            invoice(&sim.nip, &format!("{name}-{i}")),
        )
        .unwrap();
    }
    let mut args = vec!["batch", "send", dir.to_str().unwrap(), "--wait"];
    if verbose {
        args.insert(0, "-v");
    }
    let mut child = sim
        .ksef(&home, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains(marker) {
        assert!(Instant::now() < deadline, "no {marker:?} in time:\n{seen}");
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("batch send ended before {marker:?}:\n{seen}");
        }
        seen.push_str(&line);
    }
    std::thread::sleep(pause);
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    (seen, rest, status.code())
}

/// Issue 21: Ctrl-C while KSeF processes a batch (every part uploaded, the session closed) stops
/// cleanly with exit 130 and says which session holds the invoices and where to read its outcome.
#[test]
fn ctrl_c_during_the_batch_wait_names_the_session() {
    // Every session status poll takes 5 s: the wait is long enough to be interrupted.
    let (seen, rest, code) = interrupt_batch_send(
        "SIGINT",
        &[
            "--fault-latency-ms",
            "5000",
            "--fault-operation",
            "sessions.status",
        ],
        false,
        "closed; waiting",
        Duration::ZERO,
    );
    let reference = seen
        .lines()
        .find(|l| l.contains("closed; waiting"))
        .unwrap()
        .split_whitespace()
        .skip_while(|w| *w != "session")
        .nth(1)
        .unwrap()
        .to_owned();
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(
        rest.contains(&format!("interrupted: batch session {reference} is closed")),
        "{rest}"
    );
    assert!(
        rest.contains(&format!("ksef session status {reference}")),
        "{rest}"
    );
}

/// Issue 21: Ctrl-C after the parts are uploaded, while the close is on its way (the simulator
/// holds the close 5 s), names the session and says the close may still take effect, from the
/// session's status, instead of leaving the user to guess whether to send again.
#[test]
fn ctrl_c_while_a_batch_closes_names_the_session_and_what_to_check() {
    // -v traces each answer: once the open's is in, the parts go up (not delayed) and the close
    // follows at once; 1.5 s later it is inside the simulator's 5 s hold.
    let (seen, rest, code) = interrupt_batch_send(
        "SIGINT-CLOSE",
        &[
            "--fault-latency-ms",
            "5000",
            "--fault-operation",
            "sessions.batch.close",
        ],
        true,
        "sessions.batch.open",
        Duration::from_millis(1500),
    );
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(
        rest.contains("interrupted while batch session ")
            && rest.contains("was being closed")
            && rest.contains("ksef session status "),
        "{rest}"
    );
}
