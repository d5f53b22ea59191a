//! Offline invoicing from the command line: `ksef status` (the Lighthouse), `invoice send
//! --offline` and technical corrections with `--corrects`, against the simulator.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use ksef_sim::{LighthouseMessage, LighthouseStatus, Simulator};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

#[test]
fn status_reports_the_lighthouse_and_exits_by_availability() {
    let home = temp_dir("status");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime
        .block_on(Simulator::builder().start())
        .expect("the simulator starts");
    let status = |extra: &[&str]| {
        let mut args = vec!["status"];
        args.extend_from_slice(extra);
        ksef(&home, &args)
            .env("KSEF_BASE_URL", sim.base_url())
            .env_remove("KSEF_LIGHTHOUSE_URL")
            .output()
            .unwrap()
    };

    // A loopback base URL (a simulator) has its Lighthouse under /lighthouse.
    let available = json_ok(&status(&["--json"]));
    assert_eq!(available["status"], "AVAILABLE");
    assert_eq!(available["available"], true);
    assert_eq!(available["lighthouseUrl"], sim.lighthouse_url());
    assert_eq!(available["messages"], Value::Array(Vec::new()));

    sim.set_lighthouse(
        LighthouseStatus::new("MAINTENANCE").with_message(LighthouseMessage::new(
            "m-1",
            5,
            "MAINTENANCE",
            "MAINTENANCE_ANNOUNCEMENT",
            "Prace serwisowe",
            "KSeF będzie niedostępny.",
        )),
    );
    let output = status(&["--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let doc = json_doc(&output);
    assert_eq!(doc["status"], "MAINTENANCE");
    assert_eq!(doc["available"], false);
    let message = &doc["messages"][0];
    for key in [
        "id",
        "eventId",
        "category",
        "type",
        "title",
        "text",
        "start",
        "end",
        "version",
        "published",
    ] {
        assert!(message.get(key).is_some(), "{key} missing in {message}");
    }
    assert_eq!(message["type"], "MAINTENANCE_ANNOUNCEMENT");
    assert_eq!(message["eventId"], 5);

    let human = status(&[]);
    assert_eq!(human.status.code(), Some(1), "{}", describe(&human));
    let stdout = text(&human.stdout);
    assert!(stdout.contains("MAINTENANCE"), "{stdout}");
    assert!(stdout.contains("Prace serwisowe"), "{stdout}");

    // The flag and the variable name the Lighthouse explicitly, whatever the environment.
    sim.set_lighthouse(LighthouseStatus::new("TOTAL_FAILURE"));
    let flagged = ksef(
        &home,
        &[
            "status",
            "--env",
            "demo",
            "--lighthouse-url",
            &sim.lighthouse_url(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(flagged.status.code(), Some(1), "{}", describe(&flagged));
    assert_eq!(json_doc(&flagged)["status"], "TOTAL_FAILURE");
    sim.set_lighthouse(LighthouseStatus::available());
    let from_env = ksef(&home, &["status", "--env", "prod", "--json"])
        .env("KSEF_LIGHTHOUSE_URL", sim.lighthouse_url())
        .output()
        .unwrap();
    assert_eq!(json_ok(&from_env)["status"], "AVAILABLE");

    // DEMO has no known Lighthouse: a usage error naming the flag.
    let demo = ksef(&home, &["status", "--env", "demo"])
        .env_remove("KSEF_LIGHTHOUSE_URL")
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(2), "{}", describe(&demo));
    assert!(
        text(&demo.stderr).contains("--lighthouse-url"),
        "{}",
        describe(&demo)
    );
    // A Lighthouse that cannot be reached: exit 1 as well (do not count on KSeF), with one
    // JSON error document.
    let unreachable = ksef(
        &home,
        &[
            "status",
            "--lighthouse-url",
            "http://127.0.0.1:1/lighthouse",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        unreachable.status.code(),
        Some(1),
        "{}",
        describe(&unreachable)
    );
    assert!(
        json_doc(&unreachable)["error"]
            .as_str()
            .unwrap()
            .contains("Lighthouse")
    );
    let stats = sim.stats();
    assert_eq!(stats.requests.get("lighthouse.status").copied(), Some(5));
}

#[test]
fn offline_sends_and_technical_corrections() {
    let home = temp_dir("offline-send");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    let run = std::process::id();

    // An offline invoice: marked offline, with its KOD I.
    let offline_text = invoice(&sim.nip, &format!("OFF-{run}"));
    let offline = write_file(&dir, "offline.xml", &offline_text);
    let rows = json_ok(&sim.run(
        &home,
        &[
            "invoice",
            "send",
            offline.to_str().unwrap(),
            "--offline",
            "--wait",
            "--json",
        ],
    ));
    let row = &rows[0];
    assert_eq!(row["status"]["code"], 200, "{row}");
    assert_eq!(row["offline"], true);
    assert_eq!(row["correctsInvoiceHash"], Value::Null);
    let digest = Sha256::digest(offline_text.as_bytes());
    let date = today();
    let (y, md) = date.split_once('-').unwrap();
    let (m, d) = md.split_once('-').unwrap();
    assert_eq!(
        row["verificationLink"],
        format!(
            "https://qr-test.ksef.mf.gov.pl/invoice/{}/{d}-{m}-{y}/{}",
            sim.nip,
            URL_SAFE_NO_PAD.encode(digest)
        )
    );
    let offline_ksef = row["ksefNumber"].as_str().unwrap().to_owned();

    // An online one, for contrast.
    let online = write_file(&dir, "online.xml", &invoice(&sim.nip, &format!("ON-{run}")));
    let rows = json_ok(&sim.run(
        &home,
        &[
            "invoice",
            "send",
            online.to_str().unwrap(),
            "--wait",
            "--json",
        ],
    ));
    assert_eq!(rows[0]["offline"], false);
    assert_eq!(rows[0]["verificationLink"], Value::Null);
    let online_ksef = rows[0]["ksefNumber"].as_str().unwrap().to_owned();

    // An offline invoice KSeF rejects for its schema ...
    let fixed_text = invoice(&sim.nip, &format!("TECH-{run}"));
    let broken_text = fixed_text.replace("</Fa>", "<Zbedny>1</Zbedny></Fa>");
    let broken = write_file(&dir, "broken.xml", &broken_text);
    let output = sim.run(
        &home,
        &[
            "invoice",
            "send",
            broken.to_str().unwrap(),
            "--offline",
            "--no-validate",
            "--wait",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(json_doc(&output)[0]["status"]["code"], 430);
    let broken_hash = STANDARD.encode(Sha256::digest(broken_text.as_bytes()));

    // ... is corrected technically, once.
    let fixed = write_file(&dir, "fixed.xml", &fixed_text);
    let rows = json_ok(&sim.run(
        &home,
        &[
            "invoice",
            "send",
            fixed.to_str().unwrap(),
            "--corrects",
            &broken_hash,
            "--wait",
            "--json",
        ],
    ));
    assert_eq!(rows[0]["status"]["code"], 200, "{}", rows[0]);
    assert_eq!(rows[0]["offline"], true, "--corrects implies --offline");
    assert_eq!(rows[0]["correctsInvoiceHash"], broken_hash.as_str());
    let corrected_ksef = rows[0]["ksefNumber"].as_str().unwrap().to_owned();

    let again = write_file(
        &dir,
        "again.xml",
        &invoice(&sim.nip, &format!("TECH2-{run}")),
    );
    let second = sim.run(
        &home,
        &[
            "invoice",
            "send",
            again.to_str().unwrap(),
            "--corrects",
            &broken_hash,
        ],
    );
    assert_fails_with(&second, "21166");

    // Bad --corrects input is a usage error, before anything is sent.
    let session_count = || {
        json_ok(&sim.run(&home, &["session", "list", "--json"]))
            .as_array()
            .map(Vec::len)
            .unwrap()
    };
    let sessions_before = session_count();
    for bad in [
        "not-a-hash",
        URL_SAFE_NO_PAD.encode(Sha256::digest(b"x")).as_str(),
        "abc=",
    ] {
        let output = sim.run(
            &home,
            &[
                "invoice",
                "send",
                again.to_str().unwrap(),
                "--corrects",
                bad,
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad}: {}",
            describe(&output)
        );
        assert!(
            text(&output.stderr).contains("--corrects"),
            "{}",
            describe(&output)
        );
    }
    let two = sim.run(
        &home,
        &[
            "invoice",
            "send",
            again.to_str().unwrap(),
            online.to_str().unwrap(),
            "--corrects",
            &broken_hash,
        ],
    );
    assert_eq!(two.status.code(), Some(2), "{}", describe(&two));
    assert!(
        text(&two.stderr).contains("exactly one file"),
        "{}",
        describe(&two)
    );
    assert_eq!(
        session_count(),
        sessions_before,
        "no session was opened for bad input"
    );

    // The metadata shows the invoicing modes and the corrected original.
    let records = json_ok(&sim.run(
        &home,
        &[
            "invoice",
            "query",
            "--from",
            &today(),
            "--date-type",
            "invoicing",
            "--json",
        ],
    ));
    let record = |ksef: &str| {
        records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ksefNumber"] == ksef)
            .unwrap_or_else(|| panic!("{ksef} not listed in {records}"))
            .clone()
    };
    assert_eq!(record(&offline_ksef)["invoicingMode"], "Offline");
    assert_eq!(record(&online_ksef)["invoicingMode"], "Online");
    let corrected = record(&corrected_ksef);
    assert_eq!(corrected["invoicingMode"], "Offline");
    assert_eq!(corrected["hashOfCorrectedInvoice"], broken_hash.as_str());
}
