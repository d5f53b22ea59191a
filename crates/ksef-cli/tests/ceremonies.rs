//! Ceremonies and hints against a `ksef sim` child with faults: the results of invoices already
//! sent are printed even when closing the session fails, and hints follow the kind of error (an
//! invalid refresh token is not a network problem; a 429 on a send is not a bad file).

mod common;

use common::*;

#[test]
fn invoice_send_json_reports_each_invoice_when_the_close_fails() {
    let home = temp_dir("close-fails");
    // Every close is answered 500 without being processed: the session stays open.
    let sim = Sim::start_with(
        &home,
        &[
            "--fault-5xx",
            "1",
            "--fault-operation",
            "sessions.online.close",
        ],
    );
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    let a = write_file(
        &dir,
        "a.xml",
        &invoice(&sim.nip, &format!("CLOSE-A-{}", std::process::id())),
    );
    let b = write_file(
        &dir,
        "b.xml",
        &invoice(&sim.nip, &format!("CLOSE-B-{}", std::process::id())),
    );
    let send = sim.run(
        &home,
        &[
            "invoice",
            "send",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(send.status.code(), Some(1), "{}", describe(&send));
    let doc = json_doc(&send);
    let error = doc["error"].as_str().expect("the close error");
    assert!(error.contains("closing online session"), "{doc}");
    assert!(doc["session"].is_string(), "{doc}");
    let invoices = doc["invoices"].as_array().expect("each invoice's outcome");
    assert_eq!(invoices.len(), 2, "{doc}");
    for (row, file) in invoices.iter().zip([&a, &b]) {
        assert_eq!(row["file"], file.to_str().unwrap(), "{doc}");
        assert!(row["referenceNumber"].is_string(), "{doc}");
        assert!(row["status"]["code"].is_i64(), "{doc}");
    }
    assert!(
        text(&send.stderr).contains("closing online session"),
        "{}",
        describe(&send)
    );
}

#[test]
fn an_invalid_refresh_token_is_not_blamed_on_the_network() {
    let home = temp_dir("bad-refresh");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    // The access token has expired and the refresh token is one KSeF does not know.
    let path = home.join("profiles/default/tokens.json");
    let mut tokens: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (kind, entry) in tokens["tokens"].as_object_mut().unwrap() {
        let kind = kind.to_ascii_lowercase();
        if kind.contains("access") {
            entry["valid_until"] = serde_json::Value::from("2020-01-01T00:00:00Z");
        }
        if kind.contains("refresh") {
            entry["token"] = serde_json::Value::from("not-a-refresh-token");
        }
    }
    std::fs::write(&path, serde_json::to_vec(&tokens).unwrap()).unwrap();
    let list = sim.run(&home, &["session", "list", "--json"]);
    assert_eq!(list.status.code(), Some(1), "{}", describe(&list));
    let doc = json_doc(&list);
    let hint = doc["hint"].as_str().expect("a hint");
    assert!(hint.contains("refresh token"), "{doc}");
    assert!(hint.contains("ksef auth login"), "{doc}");
    assert!(!hint.contains("network"), "{doc}");
    assert!(
        !text(&list.stderr).contains("base URL"),
        "{}",
        describe(&list)
    );
}

#[test]
fn a_rate_limited_send_is_not_blamed_on_the_file() {
    let home = temp_dir("send-429");
    let sim = Sim::start_with(
        &home,
        &[
            "--fault-429",
            "1",
            "--fault-operation",
            "sessions.online.send_invoice",
        ],
    );
    sim.login(&home, &[]);
    let file = write_file(
        &home.join("invoices"),
        "a.xml",
        &invoice(&sim.nip, &format!("RATE-{}", std::process::id())),
    );
    let send = sim.run(&home, &["invoice", "send", file.to_str().unwrap()]);
    assert_eq!(send.status.code(), Some(1), "{}", describe(&send));
    let stderr = text(&send.stderr);
    assert!(stderr.contains("rate-limited"), "{}", describe(&send));
    assert!(!stderr.contains("fix the file"), "{}", describe(&send));
    assert!(
        !stderr.contains("session was closed"),
        "{}",
        describe(&send)
    );
}

#[test]
fn a_duplicate_resolves_to_the_original_ksef_number_and_exits_zero() {
    let home = temp_dir("duplicate");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let file = write_file(
        &home.join("invoices"),
        "a.xml",
        &invoice(&sim.nip, &format!("DUP-{}", std::process::id())),
    );
    let path = file.to_str().unwrap();
    let first = sim.run(&home, &["invoice", "send", path, "--wait", "--json"]);
    let first = json_ok(&first);
    let original = first[0]["ksefNumber"].as_str().expect("a KSeF number");
    assert_eq!(first[0]["alreadyInKsef"], false, "{first}");

    // The same invoice in a second session: KSeF refuses it as a duplicate (440).
    let second = sim.run(&home, &["invoice", "send", path, "--wait", "--json"]);
    assert_eq!(second.status.code(), Some(0), "{}", describe(&second));
    let second = json_ok(&second);
    assert_eq!(second[0]["ksefNumber"], original, "{second}");
    assert_eq!(second[0]["alreadyInKsef"], true, "{second}");
    assert_eq!(second[0]["status"]["code"], 440, "{second}");
    assert_ne!(first[0]["referenceNumber"], second[0]["referenceNumber"]);
    // Each row names its online session (issue 21), one per run here, and KSeF lists it.
    let session = first[0]["session"].as_str().expect("the session reference");
    assert_ne!(second[0]["session"].as_str(), Some(session), "{second}");
    let status = json_ok(&sim.run(&home, &["session", "status", session, "--json"]));
    assert_eq!(status["invoiceCount"], 1, "{status}");

    // The human output says so too.
    let third = sim.run(&home, &["invoice", "send", path, "--wait"]);
    assert_eq!(third.status.code(), Some(0), "{}", describe(&third));
    assert!(
        text(&third.stdout).contains(&format!("already in KSeF as {original}")),
        "{}",
        describe(&third)
    );
}
