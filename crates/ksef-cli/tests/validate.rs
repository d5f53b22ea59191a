//! `ksef invoice validate`, and validation before `invoice send` and `batch send`.

mod common;

use common::*;

#[test]
fn valid_and_invalid_invoices_are_told_apart_with_paths_and_rules() {
    let home = temp_dir("validate");
    let dir = home.join("in");
    let good = write_file(&dir, "good.xml", &sample_xml());
    // The buyer's NIP with a wrong check digit, an amount with three decimals (its type's pattern
    // allows two), and an element
    // the schema does not know.
    let bad = write_file(
        &dir,
        "bad.xml",
        &sample_xml()
            .replace("<NIP>7740001454</NIP>", "<NIP>7740001455</NIP>")
            .replace("<P_13_1>200.00</P_13_1>", "<P_13_1>200.001</P_13_1>")
            .replace("<P_2>", "<Uwagi>x</Uwagi><P_2>")
            .replace("KSEF-RS-SAMPLE-0001", "BAD-1"),
    );
    let not_xml = write_file(&dir, "broken.xml", "<Faktura><Naglowek>");

    let ok = ksef(&home, &["invoice", "validate", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", describe(&ok));
    assert!(
        text(&ok.stdout).contains("valid FA(3) invoice"),
        "{}",
        describe(&ok)
    );

    let output = ksef(
        &home,
        &[
            "invoice",
            "validate",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            not_xml.to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let doc = json_doc(&output);
    let verdicts = doc.as_array().unwrap();
    assert_eq!(verdicts.len(), 3);
    assert_eq!(verdicts[0]["valid"], true);
    assert_eq!(verdicts[0]["schema"], "FA(3)");
    assert_eq!(verdicts[1]["valid"], false);
    let rules: Vec<(String, String)> = verdicts[1]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        rules.iter().any(
            |(path, rule)| path.ends_with("Podmiot2/DaneIdentyfikacyjne/NIP")
                && rule == "nipChecksum"
        ),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|(path, rule)| path.ends_with("Fa/P_13_1") && rule == "pattern"),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|(_, rule)| rule == "unexpectedElement"),
        "{rules:?}"
    );
    assert_eq!(verdicts[2]["valid"], false);
    assert!(verdicts[2]["error"].is_string());
    assert!(text(&output.stderr).contains("2 of 3 invoice(s) invalid"));
}

#[test]
fn sends_validate_first_and_refuse_invalid_invoices() {
    let home = temp_dir("validate-send");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("in");
    let invoice = |number: &str| {
        let today = text(
            &std::process::Command::new("date")
                .args(["-u", "+%Y-%m-%d"])
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .to_owned();
        sample_xml()
            .replace("2026-01-15T09:30:00Z", &format!("{today}T00:00:00Z"))
            .replace("2026-01-15", &today)
            .replace("5265877635", &sim.nip)
            .replace("KSEF-RS-SAMPLE-0001", number)
    };
    let bad = write_file(
        &dir,
        "bad.xml",
        &invoice("V-1").replace("<P_13_1>200.00</P_13_1>", "<P_13_1>abc</P_13_1>"),
    );
    let refused = sim.run(&home, &["invoice", "send", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(stderr.contains("Fa/P_13_1"), "{stderr}");
    assert!(stderr.contains("--no-validate"), "{stderr}");
    let sessions = json_ok(&sim.run(&home, &["session", "list", "--json"]));
    assert_eq!(
        sessions.as_array().map_or(0, Vec::len),
        0,
        "no session was opened: {sessions}"
    );

    // Two files with the same seller, type and number: a batch is refused before it is sent.
    let batch = home.join("batch");
    write_file(&batch, "a.xml", &invoice("DUP-1"));
    write_file(&batch, "b.xml", &invoice("DUP-1"));
    let duplicate = sim.run(&home, &["batch", "send", batch.to_str().unwrap()]);
    assert_eq!(duplicate.status.code(), Some(1), "{}", describe(&duplicate));
    assert!(
        text(&duplicate.stderr).contains("duplicate of"),
        "{}",
        describe(&duplicate)
    );

    // With --no-validate the invalid invoice goes to KSeF, which judges it.
    let judged = sim.run(
        &home,
        &[
            "invoice",
            "send",
            bad.to_str().unwrap(),
            "--no-validate",
            "--wait",
            "--json",
        ],
    );
    assert!(
        !text(&judged.stderr).contains("nothing was sent"),
        "{}",
        describe(&judged)
    );
    let sessions = json_ok(&sim.run(&home, &["session", "list", "--json"]));
    assert!(sessions.as_array().map_or(0, Vec::len) >= 1, "{sessions}");
}

/// Issue 21: a refused send over many files gives the count and a few names, not every path on
/// one line, and the findings of the first ten only.
#[test]
fn many_invalid_files_are_summarised_not_listed() {
    let home = temp_dir("validate-many");
    let dir = home.join("many");
    for i in 0..25 {
        write_file(
            &dir,
            &format!("bad-{i:02}.xml"),
            &sample_xml().replace("<NIP>7740001454</NIP>", "<NIP>7740001455</NIP>"),
        );
    }
    for i in 0..5 {
        write_file(
            &dir,
            &format!("good-{i}.xml"),
            &sample_xml().replace("KSEF-RS-SAMPLE-0001", &format!("GOOD-{i}")),
        );
    }
    let output = ksef(&home, &["batch", "send", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.contains("failed validation"))
        .unwrap_or_else(|| panic!("no summary line:\n{}", describe(&output)));
    assert!(error.contains("25 of 30 invoice(s)"), "{error}");
    assert!(error.contains("and 22 more"), "{error}");
    assert_eq!(error.matches("bad-").count(), 3, "{error}");
    assert_eq!(stderr.matches("is not valid:").count(), 10, "{stderr}");
    assert!(stderr.contains("… and 15 more invalid file(s)"), "{stderr}");
}

/// Issue 21: long work shows progress on a terminal (here: validating many files, run under
/// `script` for a pseudo-terminal), and none when stderr is not a terminal or with `--json`.
#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let home = temp_dir("validate-progress");
    let dir = home.join("many");
    let mut files = Vec::new();
    for i in 0..40 {
        let path = write_file(
            &dir,
            &format!("good-{i:02}.xml"),
            &sample_xml().replace("KSEF-RS-SAMPLE-0001", &format!("PROGRESS-{i}")),
        );
        files.push(path.to_str().unwrap().to_owned());
    }
    let mut args = vec!["invoice", "validate"];
    args.extend(files.iter().map(String::as_str));

    let piped = ksef(&home, &args).output().unwrap();
    assert!(piped.status.success(), "{}", describe(&piped));
    assert!(
        !text(&piped.stderr).contains("validating"),
        "{}",
        describe(&piped)
    );

    let on_terminal = |extra: &str| {
        let mut command = ksef(&home, &args);
        if !extra.is_empty() {
            command.arg(extra);
        }
        let output = common::on_terminal(&command);
        assert!(output.status.success(), "{}", describe(&output));
        text(&output.stdout)
    };
    let drawn = on_terminal("");
    assert!(drawn.contains("validating ["), "{drawn}");
    assert!(drawn.contains("/40"), "{drawn}");
    let json = on_terminal("--json");
    assert!(!json.contains("validating"), "{json}");
}
