//! `ksef collective create|list|show|invoices` and `ksef testdata certificate-update`, against a
//! `ksef sim` child process.

mod common;

use std::path::Path;

use common::*;

/// Sends the invoices `files` with `--wait` and returns their KSeF numbers.
fn send(sim: &Sim, home: &Path, files: &[&Path]) -> Vec<String> {
    let mut args = vec!["invoice", "send"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--wait", "--json"]);
    let sent = json_ok(&sim.run(home, &args));
    sent.as_array()
        .unwrap()
        .iter()
        .map(|row| row["ksefNumber"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn collective_create_list_show_invoices() {
    let home = temp_dir("collective");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    let first = write_file(&dir, "1.xml", &invoice(&sim.nip, "CLI-CI-1"));
    let second = write_file(&dir, "2.xml", &invoice(&sim.nip, "CLI-CI-2"));
    let numbers = send(&sim, &home, &[&first, &second]);
    assert_eq!(numbers.len(), 2);

    let created = json_ok(&sim.run(
        &home,
        &[
            "collective",
            "create",
            &numbers[0],
            &numbers[1],
            "--amount",
            "123.45",
            "--currency",
            "pln",
            "--description",
            "Zapłata zbiorcza",
            "--json",
        ],
    ));
    let id = created["collectiveIdentifierNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with(&format!("{}-IZ", sim.nip)), "{created}");
    assert_eq!(created["invoiceCount"], 2);
    // Human output: the number alone on stdout.
    let plain = sim.run(&home, &["collective", "create", &numbers[0], &numbers[1]]);
    assert!(plain.status.success(), "{}", describe(&plain));
    let second_id = text(&plain.stdout).trim().to_owned();
    assert_eq!(second_id.len(), 35, "{}", describe(&plain));

    let list = json_ok(&sim.run(&home, &["collective", "list", "--json"]));
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["collectiveIdentifierNumber"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{list}");
    assert!(listed.contains(&id.as_str()) && listed.contains(&second_id.as_str()));
    assert_eq!(list[0]["invoiceCount"], 2);
    assert_eq!(list[0]["createdInCurrentContext"], true);

    let shown = json_ok(&sim.run(&home, &["collective", "show", &numbers[0], "--json"]));
    assert_eq!(shown["ksefNumber"], numbers[0].as_str());
    assert_eq!(
        shown["collectiveIdentifiers"].as_array().unwrap().len(),
        2,
        "{shown}"
    );

    let members = json_ok(&sim.run(&home, &["collective", "invoices", &id, "--json"]));
    let members = members.as_array().unwrap();
    assert_eq!(members.len(), 2);
    for row in members {
        assert_eq!(row["collectiveIdentifierNumber"], id.as_str());
        assert_eq!(row["payment"]["amount"], 123.45, "{row}");
        assert_eq!(row["payment"]["currency"], "PLN", "{row}");
        assert_eq!(row["description"], "Zapłata zbiorcza");
        assert_eq!(row["detailsHidden"], false);
    }
    let human = sim.run(&home, &["collective", "invoices", &id, &second_id]);
    assert!(human.status.success(), "{}", describe(&human));
    assert_eq!(
        text(&human.stdout).lines().count(),
        4,
        "{}",
        describe(&human)
    );
    assert!(text(&human.stdout).contains("123.45 PLN"));

    // Refusals: eleven identifiers and a repeated number (both local, nothing sent), one number
    // (usage, exit 2), an unknown currency, a malformed KSeF number.
    let eleven: Vec<&str> = std::iter::once("invoices")
        .chain(std::iter::repeat_n(id.as_str(), 11))
        .collect();
    let mut args = vec!["collective"];
    args.extend(eleven);
    assert_fails_with(&sim.run(&home, &args), "11 collective identifier numbers");
    let repeated = sim.run(&home, &["collective", "create", &numbers[0], &numbers[0]]);
    assert!(!repeated.status.success());
    assert!(
        describe(&repeated).contains("twice"),
        "{}",
        describe(&repeated)
    );
    let one = sim.run(&home, &["collective", "create", &numbers[0]]);
    assert_eq!(one.status.code(), Some(2), "{}", describe(&one));
    assert_fails_with(
        &sim.run(
            &home,
            &[
                "collective",
                "create",
                &numbers[0],
                &numbers[1],
                "--amount",
                "5",
                "--currency",
                "XYZ",
            ],
        ),
        "XYZ",
    );
    assert_fails_with(
        &sim.run(&home, &["collective", "show", "not-a-number"]),
        "not a KSeF number",
    );
}

#[test]
fn testdata_certificate_update_shortens_validity() {
    let home = temp_dir("cert-update");
    let sim = Sim::start(&home);
    sim.seal_login(&home);
    let key = home.join("auth.key");
    let enrolled = json_ok(&sim.run(
        &home,
        &[
            "cert",
            "enroll",
            "--name",
            "Do skrócenia",
            "--type",
            "authentication",
            "--ec",
            "--key-out",
            key.to_str().unwrap(),
            "--json",
        ],
    ));
    let serial = enrolled["serialNumber"].as_str().unwrap().to_owned();

    let tomorrow = date("tomorrow");
    let updated = json_ok(&sim.run(
        &home,
        &[
            "testdata",
            "certificate-update",
            "--serial",
            &serial,
            "--valid-to",
            &tomorrow,
            "--json",
        ],
    ));
    assert_eq!(updated["operation"], "certificate-update");
    let listed = json_ok(&sim.run(&home, &["cert", "list", "--json"]));
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["certificateSerialNumber"] == serial.as_str() || c["serialNumber"] == serial.as_str()
        })
        .unwrap_or_else(|| panic!("{serial} not listed: {listed}"))
        .clone();
    assert!(
        row.to_string().contains(&format!("{tomorrow}T00:00:00")),
        "validTo moved to {tomorrow}: {row}"
    );
    // Later than it is now: KSeF refuses (21405); an unknown serial: 25008.
    let later = date("5 years");
    assert_fails_with(
        &sim.run(
            &home,
            &[
                "testdata",
                "certificate-update",
                "--serial",
                &serial,
                "--valid-to",
                &later,
            ],
        ),
        "21405",
    );
    assert_fails_with(
        &sim.run(
            &home,
            &[
                "testdata",
                "certificate-update",
                "--serial",
                "0123456789ABCDEF",
                "--valid-to",
                &tomorrow,
            ],
        ),
        "25008",
    );
    assert_fails_with(
        &sim.run(
            &home,
            &[
                "testdata",
                "certificate-update",
                "--serial",
                "XYZ",
                "--valid-to",
                &tomorrow,
            ],
        ),
        "16 hexadecimal digits",
    );
    assert_fails_with(
        &sim.run(&home, &["testdata", "subject-remove", "--serial", &serial]),
        "certificate-update only",
    );
}
