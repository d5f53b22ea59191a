//! `ksef invoice sync` and `ksef invoice export` against a `ksef sim` child process, including
//! syncs killed with SIGKILL part-way.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;

/// Sends `batches` batch sessions of `per_batch` invoices each.
fn send_invoices(sim: &Sim, home: &Path, batches: usize, per_batch: usize) {
    let today = date("today");
    for b in 0..batches {
        let dir = home.join(format!("batch-{b}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_batch {
            std::fs::write(
                dir.join(format!("inv-{i}.xml")),
                invoice_issued(&sim.nip, &format!("SYNC-{b}-{i}"), &today),
            )
            .unwrap();
        }
        let sent = json_ok(&sim.run(
            home,
            &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
        ));
        assert_eq!(sent["accepted"], per_batch);
    }
}

/// The KSeF numbers of every invoice the context sold, by metadata query.
fn listed(sim: &Sim, home: &Path) -> BTreeSet<String> {
    let doc = json_ok(&sim.run(
        home,
        &["invoice", "query", "--from", &date("yesterday"), "--json"],
    ));
    doc.as_array()
        .unwrap()
        .iter()
        .map(|r| r["ksefNumber"].as_str().unwrap().to_owned())
        .collect()
}

/// The KSeF numbers of the complete invoices in `dir` (XML and metadata both present).
fn synced(dir: &Path) -> BTreeSet<String> {
    let mut numbers = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "a temporary file was left: {name}");
        if let Some(number) = name.strip_suffix(".xml") {
            assert!(
                dir.join(format!("{number}.json")).exists(),
                "{name} has no metadata"
            );
            numbers.insert(number.to_owned());
        }
    }
    numbers
}

fn killed_syncs_resume_with_every_invoice_once(source: &str) {
    let home = temp_dir(&format!("sync-kill-{source}"));
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    send_invoices(&sim, &home, 3, 10);
    let expected = listed(&sim, &home);
    assert_eq!(expected.len(), 30);

    let out = home.join("synced");
    let since = date("yesterday");
    let args = [
        "invoice",
        "sync",
        "--out",
        out.to_str().unwrap(),
        "--subject-type",
        "subject1",
        "--since",
        since.as_str(),
        "--source",
        source,
    ];
    // SIGKILL at growing delays: no chance to clean up, as with a crash.
    for delay_ms in [30u64, 60, 100, 150, 250, 400] {
        let mut child = sim
            .ksef(&home, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let done = json_ok(&sim.run(&home, &json_args));
    assert_eq!(done["subjects"][0]["subjectType"], "Subject1");
    assert_eq!(synced(&out), expected, "exactly the listed invoices");
    assert!(out.join(".ksef-sync.json").exists(), "checkpoints saved");

    // Up to date: nothing more.
    let again = json_ok(&sim.run(&home, &json_args));
    assert_eq!(again["stored"], 0);
}

#[test]
fn killed_export_syncs_resume_with_every_invoice_once() {
    killed_syncs_resume_with_every_invoice_once("export");
}

#[test]
fn killed_query_syncs_resume_with_every_invoice_once() {
    killed_syncs_resume_with_every_invoice_once("query");
}

#[test]
fn export_writes_every_invoice_and_the_metadata() {
    let home = temp_dir("export");
    let sim = Sim::start(&home);
    let out = home.join("export");
    let early = sim.run(
        &home,
        &[
            "invoice",
            "export",
            "--from",
            &date("yesterday"),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_fails_with(&early, "not logged in");

    sim.login(&home, &[]);
    send_invoices(&sim, &home, 1, 4);
    let doc = json_ok(&sim.run(
        &home,
        &[
            "invoice",
            "export",
            "--from",
            &date("yesterday"),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(doc["invoiceCount"], 4);
    assert_eq!(doc["metadataRecords"], 4);
    assert_eq!(doc["isTruncated"], false);
    let files: BTreeSet<String> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().trim_end_matches(".xml").to_owned())
        .collect();
    assert_eq!(files, listed(&sim, &home));
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["invoices"].as_array().unwrap().len(), 4);
    for number in &files {
        let xml = std::fs::read_to_string(out.join(format!("{number}.xml"))).unwrap();
        assert!(xml.contains("<Faktura"), "{number} is an invoice");
    }
}

/// Issue 21: what a command produced goes to stdout, waiting and notes to stderr, so
/// `ksef invoice sync ... > report.txt` keeps the report and a terminal still shows progress.
#[test]
fn sync_and_export_print_their_results_on_stdout() {
    let home = temp_dir("results-stdout");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    send_invoices(&sim, &home, 1, 2);
    let export_dir = home.join("export");
    let export = sim.run(
        &home,
        &[
            "invoice",
            "export",
            "--from",
            &date("yesterday"),
            "--out",
            export_dir.to_str().unwrap(),
        ],
    );
    assert!(export.status.success(), "{}", describe(&export));
    let (stdout, stderr) = (text(&export.stdout), text(&export.stderr));
    assert!(
        stdout.contains("✓ export ") && stdout.contains("2 invoice file(s)"),
        "{}",
        describe(&export)
    );
    assert!(!stderr.contains("✓ export"), "{}", describe(&export));
    assert!(stderr.contains("started; waiting"), "{}", describe(&export));

    let sync_dir = home.join("sync");
    let since = date("yesterday");
    let sync_with = |extra: &str| {
        let out = sync_dir.to_str().unwrap();
        let args = ["invoice", "sync", "--out", out, "--since", &since, extra];
        sim.run(&home, &args)
    };
    let sync = sync_with("--pdf");
    assert!(sync.status.success(), "{}", describe(&sync));
    let (stdout, stderr) = (text(&sync.stdout), text(&sync.stderr));
    assert!(
        stdout.contains("2 new, 0 already present") && stdout.contains("✓ 2 PDF(s) written"),
        "{}",
        describe(&sync)
    );
    assert!(!stderr.contains('✓'), "{}", describe(&sync));
    // --quiet silences stderr only: the result is still there (nothing new since the checkpoint).
    let quiet = sync_with("--quiet");
    assert!(quiet.status.success(), "{}", describe(&quiet));
    assert!(
        text(&quiet.stdout).contains("✓ Subject1: 0 new"),
        "{}",
        describe(&quiet)
    );
    assert_eq!(text(&quiet.stderr), "", "{}", describe(&quiet));
}

/// Issue 21: a sync stored thousands of invoices in silence; on a terminal it now counts them.
#[test]
fn sync_counts_what_it_stores_on_a_terminal_only() {
    let home = temp_dir("sync-progress");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    send_invoices(&sim, &home, 1, 30);
    let since = date("yesterday");
    let sync = |dir: &str| {
        let out = home.join(dir);
        sim.ksef(
            &home,
            &[
                "invoice",
                "sync",
                "--out",
                out.to_str().unwrap(),
                "--since",
                &since,
            ],
        )
    };
    let drawn = on_terminal(&sync("on-terminal"));
    let shown = text(&drawn.stdout);
    assert!(drawn.status.success(), "{shown}");
    assert!(shown.contains("storing invoices: "), "{shown}");
    assert!(shown.contains("30 new, 0 already present"), "{shown}");
    let piped = output_within(sync("piped"), Duration::from_secs(120));
    assert!(piped.status.success(), "{}", describe(&piped));
    assert!(
        !text(&piped.stderr).contains("storing invoices"),
        "{}",
        describe(&piped)
    );
}
