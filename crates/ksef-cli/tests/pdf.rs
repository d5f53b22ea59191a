//! `ksef invoice pdf` and `ksef session upo --pdf`: the files the binary writes are exactly what
//! ksef-pdf renders for the same input and options (the PDFs themselves are checked with
//! poppler, qpdf and a QR reader in ksef-pdf's own tests).

mod common;

use std::path::Path;

use common::*;
use ksef_pdf::{Options, QrEnvironment};

const NUMBER: &str = "5265877635-20250916-0200A0D6723E-C2";

fn library(xml: &[u8], number: Option<&str>) -> ksef_pdf::Rendered {
    let mut options = Options::default().with_environment(QrEnvironment::Test);
    if let Some(n) = number {
        options = options.with_ksef_number(n);
    }
    ksef_pdf::render_invoice_full(xml, &options).expect("the library renders it")
}

/// Runs `ksef invoice pdf FILES... --out OUT EXTRA...` and waits for it.
fn invoice_pdf(
    home: &std::path::Path,
    files: &[&std::path::Path],
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["invoice", "pdf"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    ksef(home, &args).output().unwrap()
}
#[test]
fn invoice_pdf_writes_what_the_library_renders_with_the_ksef_number_from_flag_or_sidecar() {
    let home = temp_dir("pdf-invoice");
    let input = home.join("in");
    let out = home.join("out");
    let xml = sample_xml();
    let plain = write_file(&input, "plain.xml", &xml);

    // --ksef-number: KOD I captioned with it; the bytes are the library's.
    let output = invoice_pdf(
        &home,
        &[&plain],
        &out,
        &["--ksef-number", NUMBER, "--env", "test", "--json"],
    );
    let doc = json_ok(&output);
    assert_eq!(doc["failed"], 0, "{doc}");
    let row = &doc["files"][0];
    let pdf_path = Path::new(row["pdf"].as_str().unwrap());
    assert_eq!(pdf_path, out.join("plain.pdf"));
    let expected = library(xml.as_bytes(), Some(NUMBER));
    assert_eq!(std::fs::read(pdf_path).unwrap(), expected.pdf);
    // An invoice PDF is business data: owner only, like the invoice (it was 0644).
    #[cfg(unix)]
    assert_eq!(common::mode(pdf_path), 0o600);
    assert_eq!(row["ksefNumber"], NUMBER);
    assert_eq!(row["kodI"].as_str(), expected.kod_i.as_deref());
    assert!(
        row["kodI"]
            .as_str()
            .unwrap()
            .starts_with("https://qr-test."),
        "{row}"
    );
    assert_eq!(row["pages"], expected.pages);
    assert_eq!(row["violations"].as_array().unwrap().len(), 0);

    // Sidecar {name}.json (as `invoice sync` writes): its ksefNumber; a file without one gets
    // the OFFLINE caption (no number). Several files at once, human output.
    let with_sidecar = write_file(&input, "synced.xml", &xml);
    write_file(
        &input,
        "synced.json",
        &format!("{{\"ksefNumber\": \"{NUMBER}\"}}"),
    );
    let output = invoice_pdf(&home, &[&with_sidecar, &plain], &out, &["--env", "test"]);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("synced.pdf") && stdout.contains("plain.pdf"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(out.join("synced.pdf")).unwrap(),
        library(xml.as_bytes(), Some(NUMBER)).pdf
    );
    assert_eq!(
        std::fs::read(out.join("plain.pdf")).unwrap(),
        library(xml.as_bytes(), None).pdf
    );

    // --ksef-number names one invoice only; a malformed number is refused with the flag named.
    let two = invoice_pdf(
        &home,
        &[&plain, &with_sidecar],
        &out,
        &["--ksef-number", NUMBER],
    );
    assert_fails_with(&two, "--ksef-number names one invoice");
    let bad_number = invoice_pdf(&home, &[&plain], &out, &["--ksef-number", "12345"]);
    assert_fails_with(&bad_number, "--ksef-number \"12345\"");
}

#[test]
fn two_files_with_one_stem_are_refused_before_anything_is_written() {
    let home = temp_dir("pdf-same-stem");
    let out = home.join("out");
    let xml = sample_xml();
    let first = write_file(&home.join("a"), "x.xml", &xml);
    let second = write_file(&home.join("b"), "x.xml", &xml);
    let output = invoice_pdf(&home, &[&first, &second], &out, &[]);
    assert_fails_with(&output, "would both be written as x.pdf");
    assert!(!out.join("x.pdf").exists(), "nothing rendered");
}

#[test]
fn invalid_invoice_is_refused_with_the_validators_message_unless_forced() {
    let home = temp_dir("pdf-invalid");
    let input = home.join("in");
    let out = home.join("out");
    let bad_xml = sample_xml().replace("<NIP>7740001454</NIP>", "<NIP>7740001455</NIP>");
    let bad = write_file(&input, "bad.xml", &bad_xml);
    let sample = sample_xml();
    let broken = write_file(&input, "broken.xml", &sample[..sample.len() / 2]);
    let foreign = write_file(&input, "foreign.xml", "<Faktura><Naglowek/></Faktura>");
    let good = write_file(&input, "good.xml", &sample_xml());

    // One invalid, one not well-formed, one of no known schema, one good: exit 1, the good one
    // is still written, each error named.
    let output = invoice_pdf(&home, &[&bad, &broken, &foreign, &good], &out, &["--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let doc = json_doc(&output);
    assert_eq!(doc["failed"], 3, "{doc}");
    let rows = doc["files"].as_array().unwrap();
    let bad_error = rows[0]["error"].as_str().unwrap();
    assert!(
        bad_error.contains("fails validation")
            && bad_error.contains("Podmiot2/DaneIdentyfikacyjne/NIP")
            && bad_error.contains("has a wrong check digit"),
        "{bad_error}"
    );
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap()
            .contains("not well-formed XML"),
        "{doc}"
    );
    assert!(
        rows[2]["error"]
            .as_str()
            .unwrap()
            .contains("not a known invoice schema"),
        "{doc}"
    );
    for name in ["bad.pdf", "broken.pdf", "foreign.pdf"] {
        assert!(!out.join(name).exists(), "{name} must not be written");
    }
    assert!(out.join("good.pdf").is_file());

    // Human output: the error on stderr, naming the file.
    let output = invoice_pdf(&home, &[&bad], &out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("bad.xml") && stderr.contains("has a wrong check digit"),
        "{stderr}"
    );

    // --force: rendered, and the findings are reported.
    let output = invoice_pdf(&home, &[&bad], &out, &["--force"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        text(&output.stdout).contains("rendered despite"),
        "{}",
        describe(&output)
    );
    let forced = std::fs::read(out.join("bad.pdf")).unwrap();
    let expected = ksef_pdf::render_invoice_full(
        bad_xml.as_bytes(),
        &Options::default()
            .with_environment(QrEnvironment::Test)
            .with_force(true),
    )
    .unwrap();
    assert!(!expected.violations.is_empty());
    assert_eq!(forced, expected.pdf);
}

#[test]
fn session_upo_pdf_writes_each_page_beside_its_xml() {
    let home = temp_dir("pdf-upo");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    write_file(&dir, "inv-1.xml", &invoice(&sim.nip, "PDF-UPO-1"));
    let sent = json_ok(&sim.run(
        &home,
        &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
    ));
    assert_eq!(sent["accepted"], 1, "{sent}");
    let reference = sent["referenceNumber"].as_str().unwrap().to_owned();

    let upo_dir = home.join("upo");
    let doc = json_ok(&sim.run(
        &home,
        &[
            "session",
            "upo",
            &reference,
            "--out",
            upo_dir.to_str().unwrap(),
            "--pdf",
            "--json",
        ],
    ));
    let files = doc["files"].as_array().unwrap();
    let pdfs = doc["pdfs"].as_array().unwrap();
    assert!(!files.is_empty());
    assert_eq!(files.len(), pdfs.len());
    for (xml, pdf) in files.iter().zip(pdfs) {
        let xml = Path::new(xml.as_str().unwrap());
        let pdf = Path::new(pdf.as_str().unwrap());
        assert_eq!(pdf, xml.with_extension("pdf"));
        #[cfg(unix)]
        assert_eq!(
            common::mode(pdf),
            0o600,
            "a UPO's PDF is owner only, like the UPO"
        );
        let upo = std::fs::read(xml).unwrap();
        assert_eq!(
            std::fs::read(pdf).unwrap(),
            ksef_pdf::render_upo(&upo, &Options::default()).unwrap()
        );
    }

    // Without --pdf, no PDF is written.
    let plain_dir = home.join("upo-plain");
    let doc = json_ok(&sim.run(
        &home,
        &[
            "session",
            "upo",
            &reference,
            "--out",
            plain_dir.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(doc["pdfs"].as_array().unwrap().len(), 0);
    assert!(
        std::fs::read_dir(&plain_dir).unwrap().all(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "xml"))
    );
}

#[test]
fn invoice_sync_pdf_writes_a_pdf_beside_every_stored_invoice_and_catches_up() {
    let home = temp_dir("pdf-sync");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    for i in 1..=2 {
        write_file(
            &dir,
            &format!("inv-{i}.xml"),
            &invoice(&sim.nip, &format!("PDF-SYNC-{i}")),
        );
    }
    let sent = json_ok(&sim.run(
        &home,
        &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
    ));
    assert_eq!(sent["accepted"], 2, "{sent}");

    let out = home.join("archive");
    let since = date("yesterday");
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "invoice",
            "sync",
            "--out",
            out.to_str().unwrap(),
            "--subject-type",
            "subject1",
            "--since",
            since.as_str(),
            "--json",
        ];
        args.extend_from_slice(extra);
        json_ok(&sim.run(&home, &args))
    };
    let doc = sync(&["--pdf"]);
    assert_eq!(doc["stored"], 2, "{doc}");
    let written = doc["pdfs"]["written"].as_array().unwrap();
    assert_eq!(written.len(), 2, "{doc}");
    assert_eq!(doc["pdfs"]["failed"].as_array().unwrap().len(), 0, "{doc}");
    let mut numbers = Vec::new();
    for pdf in written {
        let pdf = Path::new(pdf.as_str().unwrap());
        let number = pdf.file_stem().unwrap().to_str().unwrap().to_owned();
        let xml = std::fs::read(out.join(format!("{number}.xml"))).unwrap();
        assert_eq!(
            std::fs::read(pdf).unwrap(),
            library(&xml, Some(&number)).pdf,
            "{number}"
        );
        numbers.push(number);
    }

    // Without --pdf no PDF is listed; with it again, nothing new to render; a PDF removed is
    // rendered again on the next run, and only that one.
    assert!(sync(&[])["pdfs"].is_null());
    assert_eq!(
        sync(&["--pdf"])["pdfs"]["written"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let removed = out.join(format!("{}.pdf", numbers[1]));
    std::fs::remove_file(&removed).unwrap();
    let again = sync(&["--pdf"]);
    assert_eq!(
        again["pdfs"]["written"],
        serde_json::json!([removed.to_str().unwrap()])
    );
}
