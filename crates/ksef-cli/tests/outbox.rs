//! `ksef outbox add|status|show` and `ksef worker` against a `ksef sim` child: the commands and
//! their errors, and the kill test: one worker process SIGKILLed at random moments and
//! restarted while the simulator injects faults, with every invoice accepted exactly once in the
//! end (the simulator's accepted list), every row final with its KSeF number and UPO.

mod common;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Sim, describe, invoice, json_ok, mode, temp_dir, text, write_file};

/// The simulator's statistics (`GET /_sim/stats`), read with a plain HTTP/1.1 request.
fn sim_stats(sim: &Sim) -> serde_json::Value {
    let authority = sim
        .base_url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .expect("an http base URL");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /_sim/stats HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = text(&response);
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).expect("stats JSON")
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

fn invoices(dir: &Path, nip: &str, prefix: &str, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            write_file(
                dir,
                &format!("{prefix}-{i}.xml"),
                &invoice(nip, &format!("{prefix}-{i}")),
            )
        })
        .collect()
}

fn args_with<'a>(head: &[&'a str], files: &'a [PathBuf]) -> Vec<&'a str> {
    let mut args = head.to_vec();
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args
}

#[test]
fn outbox_commands_store_send_and_show() {
    let home = temp_dir("outbox-cmds");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let files = invoices(&home.join("in"), &sim.nip, "OB", 3);
    let bad = write_file(&home.join("in"), "bad.xml", "<Faktura");

    // A bad file refuses the whole command: nothing is stored.
    let mut with_bad = files.clone();
    with_bad.push(bad.clone());
    let refused = sim.run(&home, &args_with(&["outbox", "add"], &with_bad));
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("bad.xml"),
        "{}",
        describe(&refused)
    );
    let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
    assert_eq!(status["total"], 0, "{status}");
    // `failed` and `unresolved` (in KSeF, number not known yet) are counted apart.
    assert_eq!(
        (status["failed"].as_u64(), status["unresolved"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );

    let added = json_ok(&sim.run(&home, &args_with(&["--json", "outbox", "add"], &files)));
    assert_eq!(added.as_array().unwrap().len(), 3);
    assert!(
        added.as_array().unwrap().iter().all(|r| r["new"] == true),
        "{added}"
    );
    let again = json_ok(&sim.run(&home, &args_with(&["--json", "outbox", "add"], &files[..1])));
    assert_eq!(again[0]["new"], false, "{again}");
    assert_eq!(again[0]["id"], added[0]["id"]);
    let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
    assert_eq!(
        (status["pending"].as_u64(), status["notFinal"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(
        home.join("outbox.sqlite").is_file(),
        "the default store is in the ksef home"
    );

    let worker = sim.run(
        &home,
        &["--json", "worker", "--until-empty", "--batch-size", "2"],
    );
    let summary = json_ok(&worker);
    assert_eq!(
        (summary["accepted"].as_u64(), summary["sessions"].as_u64()),
        (Some(3), Some(2)),
        "{summary}"
    );

    let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
    assert_eq!(
        (status["accepted"].as_u64(), status["notFinal"].as_u64()),
        (Some(3), Some(0))
    );
    let upo_dir = home.join("upo");
    let shown = json_ok(&sim.run(
        &home,
        &[
            "--json",
            "outbox",
            "show",
            "OB-1",
            "--upo-dir",
            upo_dir.to_str().unwrap(),
        ],
    ));
    let row = &shown[0];
    assert_eq!(row["state"], "accepted", "{row}");
    let ksef_number = row["ksefNumber"].as_str().expect("a KSeF number");
    let upo_file = upo_dir.join(format!("UPO-{ksef_number}.xml"));
    assert!(
        std::fs::read_to_string(&upo_file)
            .unwrap()
            .contains(ksef_number)
    );
    // UPOs are written like every other UPO of the CLI: 0600, through the one writer.
    assert_eq!(mode(&upo_file), 0o600, "{}", upo_file.display());
    let human = sim.run(&home, &["outbox", "show", ksef_number]);
    assert!(human.status.success(), "{}", describe(&human));
    assert!(text(&human.stdout).contains("OB-1"), "{}", describe(&human));

    let missing = sim.run(&home, &["outbox", "show", "NO-SUCH"]);
    assert_eq!(missing.status.code(), Some(1), "{}", describe(&missing));
    assert!(
        text(&missing.stderr).contains("NO-SUCH"),
        "{}",
        describe(&missing)
    );
}

#[test]
fn store_locations_are_checked_and_passwords_stay_out_of_argv() {
    let home = temp_dir("outbox-store");
    let custom = home.join("elsewhere/box.sqlite");
    let store = format!("sqlite:{}", custom.display());
    let out = common::ksef(&home, &["outbox", "status", "--store", &store])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(custom.is_file());

    let out = common::ksef(&home, &["outbox", "status", "--store", "mysql://x/y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("sqlite:PATH"),
        "{}",
        describe(&out)
    );

    let out = common::ksef(
        &home,
        &[
            "outbox",
            "status",
            "--store",
            "postgres://u:hunter2@127.0.0.1:1/db",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("KSEF_STORE"),
        "{}",
        describe(&out)
    );
    assert!(!text(&out.stderr).contains("hunter2"), "{}", describe(&out));
}

#[test]
fn a_worker_stops_on_sigterm_with_a_summary_and_holds_nothing() {
    let home = temp_dir("outbox-term");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let files = invoices(&home.join("in"), &sim.nip, "TERM", 4);
    let added = sim.run(&home, &args_with(&["outbox", "add"], &files));
    assert!(added.status.success(), "{}", describe(&added));
    let child = sim
        .ksef(
            &home,
            &["worker", "--batch-size", "2", "--rate-limit-scale", "100"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It keeps running with an empty outbox; wait until it has sent everything.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
        if status["accepted"] == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "not sent in time: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("4 sent, 4 accepted") && stdout.contains("2 sessions"),
        "{}",
        describe(&output)
    );
    let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
    assert_eq!(
        (status["leased"].as_u64(), status["notFinal"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn a_killed_worker_loses_and_duplicates_nothing() {
    const INVOICES: usize = 300;
    const KILLS: usize = 4;
    let started = Instant::now();
    let home = temp_dir("outbox-kill");
    let sim = Sim::start_with(
        &home,
        &[
            "--fault-5xx",
            "0.02",
            "--fault-reset",
            "0.02",
            "--fault-truncate",
            "0.02",
            "--fault-seed",
            "18",
        ],
    );
    sim.login(&home, &[]);
    let files = invoices(&home.join("in"), &sim.nip, "KILL", INVOICES);
    let added = sim.run(&home, &args_with(&["--json", "outbox", "add"], &files));
    assert_eq!(json_ok(&added).as_array().unwrap().len(), INVOICES);

    let worker_args = [
        "-q",
        "worker",
        "--until-empty",
        "--batch-size",
        "25",
        "--lease-secs",
        "2",
        // Rows given back after a fault wait this long (not the production 30 s).
        "--retry-grace-ms",
        "200",
        // The simulator's limits are off; the production pacing (30 sends a minute) would make
        // this test take ten minutes.
        "--rate-limit-scale",
        "1000",
    ];
    let mut rng = ksef_sim::SeededRng::new(18);
    let mut kills = 0;
    for _ in 0..KILLS {
        let mut child = sim
            .ksef(&home, &worker_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    // Restarted until everything is final (expired leases are reconciled on the way).
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let run = sim.run(&home, &worker_args);
        assert!(run.status.success(), "{}", describe(&run));
        let status = json_ok(&sim.run(&home, &["--json", "outbox", "status"]));
        if status["notFinal"] == 0 {
            assert_eq!(
                status["accepted"].as_u64(),
                Some(INVOICES as u64),
                "{status}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not final in time: {status}");
        // Leases of the killed worker expire after 2 s.
        std::thread::sleep(Duration::from_millis(500));
    }

    let stats = sim_stats(&sim);
    let accepted: Vec<&str> = stats["acceptedInvoiceHashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = accepted.iter().copied().collect();
    assert_eq!(
        accepted.len(),
        unique.len(),
        "an invoice was accepted twice"
    );
    assert_eq!(unique.len(), INVOICES, "lost invoices");
    // Nothing a killed worker had sent was sent again: no resend met KSeF's duplicate check.
    assert_eq!(
        stats["duplicatesRefused"], 0,
        "invoices a killed worker had sent were sent again (KSeF refused them as duplicates)"
    );
    for i in [0, INVOICES / 2, INVOICES - 1] {
        let shown = json_ok(&sim.run(&home, &["--json", "outbox", "show", &format!("KILL-{i}")]));
        assert_eq!(shown[0]["state"], "accepted", "{shown}");
        assert!(
            shown[0]["ksefNumber"].is_string() && shown[0]["upo"].is_string(),
            "{shown}"
        );
    }
    // Every row has its KSeF number and UPO: counted over all rows via the database itself.
    let rows = all_rows_final(&home.join("outbox.sqlite"));
    assert_eq!(rows, INVOICES);
    eprintln!(
        "kill test: {INVOICES} invoices, {kills} kills, faults {}, {} accepted, 0 duplicates, \
         0 resent, 0 lost, {:?}",
        stats["faults"],
        unique.len(),
        started.elapsed()
    );
    assert!(kills >= 1, "the worker was never killed mid-run");
}

/// How many rows are accepted with a KSeF number and a UPO naming it, read through ksef-store
/// from the SQLite file.
fn all_rows_final(store: &Path) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let location = ksef_store::StoreLocation::Sqlite(store.to_owned());
        let store = ksef_store::Store::open(&location).await.unwrap();
        let rows = store.rows().await.unwrap();
        for row in &rows {
            assert_eq!(row.state, ksef_store::State::Accepted, "{row:?}");
            let ksef_number = row.ksef_number.as_deref().expect("a KSeF number");
            let upo = String::from_utf8(row.upo.clone().expect("a UPO")).unwrap();
            assert!(
                upo.contains(ksef_number),
                "{row:?}: the UPO names its KSeF number"
            );
        }
        rows.len()
    })
}
