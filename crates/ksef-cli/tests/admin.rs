//! `ksef limits`, `ksef permissions`, `ksef testdata` and the KSeF-certificate commands of
//! `ksef cert`, against a `ksef sim` child process.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

const PESEL: &str = "44051401359";

fn write_json(path: &Path, value: serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(&value).unwrap()).unwrap();
}

/// Polls a status command until its `status.code` is no longer 100; returns the document.
fn wait_done(sim: &Sim, home: &Path, args: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let output = sim.run(home, args);
        let doc = json_doc(&output);
        if doc["status"]["code"] != 100 {
            return doc;
        }
        assert!(Instant::now() < deadline, "still 100: {doc}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A grant of `permissions` to the person with [`PESEL`], their details given as `details_type`.
fn person_grant(permissions: &[&str], details_type: &str) -> serde_json::Value {
    serde_json::json!({
        "subjectIdentifier": {"type": "Pesel", "value": PESEL},
        "permissions": permissions,
        "description": "accountant from the CLI test",
        "subjectDetails": {
            "subjectDetailsType": details_type,
            "personById": {"firstName": "Jan", "lastName": "Testowy"}
        }
    })
}

/// `ksef permissions grant KIND --body BODY`, then `extra`.
fn grant(sim: &Sim, home: &Path, kind: &str, body: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "permissions",
        "grant",
        kind,
        "--body",
        body.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sim.run(home, &args)
}

#[test]
fn limits_show_context_subject_and_rate_limits() {
    let home = temp_dir("limits");
    let sim = Sim::start(&home);
    let early = sim.run(&home, &["limits"]);
    assert_fails_with(&early, "not logged in");
    sim.login(&home, &[]);
    let doc = json_ok(&sim.run(&home, &["limits", "--json"]));
    for key in ["context", "subject", "rateLimits"] {
        assert!(doc[key].is_object(), "{key} missing: {doc}");
    }
    let human = sim.run(&home, &["limits"]);
    assert!(human.status.success(), "{}", describe(&human));
    assert!(text(&human.stdout).contains("rateLimits:"));
}

#[test]
fn permissions_grant_query_status_revoke() {
    let home = temp_dir("permissions");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let body = home.join("grant.json");
    write_json(
        &body,
        person_grant(&["InvoiceRead", "InvoiceWrite"], "PersonByIdentifier"),
    );
    let granted = json_ok(&grant(&sim, &home, "persons", &body, &["--json"]));
    let reference = granted["referenceNumber"].as_str().unwrap().to_owned();
    let status = wait_done(
        &sim,
        &home,
        &["permissions", "status", &reference, "--json"],
    );
    // A body KSeF would refuse is refused before sending, naming the field.
    let duplicated = home.join("duplicated.json");
    write_json(
        &duplicated,
        person_grant(
            &["InvoiceRead", "InvoiceRead"],
            "PersonByFingerprintWithIdentifier",
        ),
    );
    let refused = grant(&sim, &home, "persons", &duplicated, &[]);
    assert_fails_with(&refused, "permissions");
    assert_fails_with(&refused, "listed twice");
    assert_eq!(status["status"]["code"], 200, "{status}");

    let listed = json_ok(&sim.run(&home, &["permissions", "query", "persons", "--json"]));
    let ours: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["authorizedIdentifier"]["value"] == PESEL)
        .collect();
    assert_eq!(ours.len(), 2, "one entry per permission: {listed}");
    assert!(ours.iter().all(|p| p["id"].is_string()));

    // The grant lets a person's certificate with that PESEL log in by subject.
    let cert = home.join("person.pem");
    let key = home.join("person.key");
    let made = self_signed_ec(&home, &["--pesel", PESEL], &cert, &key);
    assert!(made.status.success(), "{}", describe(&made));
    let login = sim.cert_login(&home, &["--profile", "person"], &cert, &key);
    assert!(login.status.success(), "{}", describe(&login));

    for permission in &ours {
        let id = permission["id"].as_str().unwrap();
        let revoked = json_ok(&sim.run(&home, &["permissions", "revoke", id, "--json"]));
        let reference = revoked["referenceNumber"].as_str().unwrap().to_owned();
        let status = wait_done(
            &sim,
            &home,
            &["permissions", "status", &reference, "--json"],
        );
        assert_eq!(status["status"]["code"], 200, "{status}");
    }
    let listed = json_ok(&sim.run(&home, &["permissions", "query", "persons", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["authorizedIdentifier"]["value"] != PESEL),
        "{listed}"
    );
    let personal = sim.run(&home, &["permissions", "query", "personal", "--json"]);
    assert!(json_ok(&personal).is_array());

    // Bad input: no body, a body of the wrong shape, a missing file, a bad reference.
    let no_body = sim.run(&home, &["permissions", "grant", "persons"]);
    assert_fails_with(&no_body, "PersonPermissionsGrantRequest");
    let wrong = home.join("wrong.json");
    write_json(&wrong, serde_json::json!({"permissions": "all"}));
    let refused = grant(&sim, &home, "persons", &wrong, &[]);
    assert_fails_with(&refused, "wrong.json");
    let missing = grant(
        &sim,
        &home,
        "entities",
        Path::new("/nonexistent/grant.json"),
        &[],
    );
    assert_fails_with(&missing, "/nonexistent/grant.json");
    let bad_ref = sim.run(&home, &["permissions", "status", "nope"]);
    assert_fails_with(&bad_ref, "not a valid reference number");
}

#[test]
fn testdata_subjects_and_persons() {
    let home = temp_dir("testdata");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let subject = home.join("subject.json");
    write_json(
        &subject,
        serde_json::json!({
            "subjectNip": "1111111111",
            "subjectType": "VatGroup",
            "description": "a test VAT group"
        }),
    );
    let created = json_ok(&sim.run(
        &home,
        &[
            "testdata",
            "subject-create",
            "--body",
            subject.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(created["operation"], "subject-create");
    assert_eq!(created["ok"], true);
    // The same subject again: KSeF says no, exit 1.
    let again = sim.run(
        &home,
        &[
            "testdata",
            "subject-create",
            "--body",
            subject.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));

    let person = home.join("person.json");
    write_json(
        &person,
        serde_json::json!({
            "nip": "1111111111",
            "pesel": PESEL,
            "isBailiff": false,
            "description": "a test person"
        }),
    );
    let made = sim.run(
        &home,
        &[
            "testdata",
            "person-create",
            "--body",
            person.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", describe(&made));
    assert!(text(&made.stdout).contains("person-create"));

    // A malformed NIP inside the body is caught before anything is sent (bodies are read at the
    // wire level of ksef-model: format checked, checksum left to KSeF).
    let bad = home.join("bad.json");
    write_json(
        &bad,
        serde_json::json!({
            "subjectNip": "12345",
            "subjectType": "VatGroup",
            "description": "bad"
        }),
    );
    let refused = sim.run(
        &home,
        &[
            "testdata",
            "subject-create",
            "--body",
            bad.to_str().unwrap(),
        ],
    );
    assert_fails_with(&refused, "SubjectCreateRequest");
    // Operations without a body refuse one; a body-less reset works.
    let reset = sim.run(&home, &["testdata", "rate-limits-reset", "--json"]);
    assert_eq!(json_ok(&reset)["operation"], "rate-limits-reset");
    let extra = sim.run(
        &home,
        &[
            "testdata",
            "rate-limits-reset",
            "--body",
            subject.to_str().unwrap(),
        ],
    );
    assert_fails_with(&extra, "no --body");
}

#[test]
fn ksef_certificates_enroll_get_list_revoke() {
    let home = temp_dir("ksef-cert");
    let sim = Sim::start(&home);
    // Enrollment needs a certificate login: a self-signed seal of the seeded company.
    sim.seal_login(&home);

    let limits = json_ok(&sim.run(&home, &["cert", "limits", "--json"]));
    assert_eq!(limits["canRequest"], true, "{limits}");
    let data = json_ok(&sim.run(&home, &["cert", "enrollment-data", "--json"]));
    assert!(data["commonName"].is_string(), "{data}");

    let key = home.join("offline.key");
    let enrolled = json_ok(&sim.run(
        &home,
        &[
            "cert",
            "enroll",
            "--name",
            "CLI offline cert",
            "--type",
            "offline",
            "--ec",
            "--key-out",
            key.to_str().unwrap(),
            "--json",
        ],
    ));
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
    let reference = enrolled["referenceNumber"].as_str().unwrap().to_owned();
    let status = wait_done(&sim, &home, &["cert", "status", &reference, "--json"]);
    assert_eq!(status["status"]["code"], 200, "{status}");
    let serial = status["certificateSerialNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    // `cert enroll` waited for the certificate and saved it next to the key.
    assert_eq!(enrolled["serialNumber"], serial.as_str(), "{enrolled}");
    assert_eq!(enrolled["type"], "Offline", "{enrolled}");
    let cert_file = std::path::PathBuf::from(enrolled["certFile"].as_str().unwrap());
    assert_eq!(cert_file, home.join(format!("{serial}.pem")));
    // The issued certificate holds the key that was generated: read by x509-parser and the rsa /
    // p256 crates by default, by openssl too in live mode (`KSEF_ORACLES`).
    assert_eq!(cert_spki(&cert_file), key_spki(&key));

    let out = home.join("certs");
    let got = json_ok(&sim.run(
        &home,
        &[
            "cert",
            "get",
            &serial,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(got[0]["serialNumber"], serial.as_str());
    let pem = out.join(format!("{serial}.pem"));
    // The issued certificate holds the key that was generated.
    assert_eq!(cert_spki(&pem), key_spki(&key));
    if live() {
        let issued = openssl_live(&[
            "x509",
            "-noout",
            "-pubkey",
            "-in",
            cert_file.to_str().unwrap(),
        ]);
        let output = openssl_live(&["x509", "-noout", "-pubkey", "-in", pem.to_str().unwrap()]);
        let from_key = openssl_live(&["pkey", "-pubout", "-in", key.to_str().unwrap()]);
        assert_eq!(output, from_key);
        assert_eq!(issued, from_key);
    }

    let listed = json_ok(&sim.run(&home, &["cert", "list", "--type", "offline", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["certificateSerialNumber"] == serial.as_str() && c["status"] == "Active"),
        "{listed}"
    );
    // The KOD II link with the issued Offline certificate's key and serial.
    let qr = json_ok(&sim.run(
        &home,
        &[
            "qr",
            "cert",
            sample_invoice().to_str().unwrap(),
            "--cert-serial",
            &serial,
            "--key",
            key.to_str().unwrap(),
            "--json",
        ],
    ));
    assert!(qr["link"].as_str().unwrap().contains(&serial));

    let revoked = json_ok(&sim.run(
        &home,
        &[
            "cert",
            "revoke",
            &serial,
            "--reason",
            "superseded",
            "--json",
        ],
    ));
    assert_eq!(revoked["revoked"], true);
    let listed = json_ok(&sim.run(&home, &["cert", "list", "--status", "revoked", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["certificateSerialNumber"] == serial.as_str()),
        "{listed}"
    );

    // Bad input.
    let short = sim.run(
        &home,
        &[
            "cert",
            "enroll",
            "--name",
            "ab",
            "--type",
            "offline",
            "--key-out",
            home.join("k2").to_str().unwrap(),
        ],
    );
    assert_fails_with(&short, "5 to 100");
    let exists = sim.run(
        &home,
        &[
            "cert",
            "enroll",
            "--name",
            "another one",
            "--type",
            "offline",
            "--key-out",
            key.to_str().unwrap(),
        ],
    );
    assert_fails_with(&exists, "exists");
    let bad_serial = sim.run(&home, &["cert", "get", "../etc/passwd"]);
    assert_fails_with(&bad_serial, "serial number");
    let bad_status = sim.run(&home, &["cert", "list", "--status", "Lost"]);
    assert_fails_with(&bad_status, "Active");
}

// `cert enroll --p12-out` saves the new key and the issued certificate as PKCS#12 (0600), with
// the password from stdin; the file logs in again with `--p12`, and openssl opens it (live mode:
// the file holds fresh randomness). Without a password source nothing is generated or sent.
#[test]
fn an_enrolled_certificate_saved_as_pkcs12_logs_in_again() {
    let home = temp_dir("ksef-cert-p12");
    let sim = Sim::start(&home);
    sim.seal_login(&home);

    let password = "enrolled p12 password 3310";
    let key = home.join("auth.key");
    let p12 = home.join("auth.p12");
    let enroll_args = [
        "cert",
        "enroll",
        "--name",
        "CLI PKCS12 cert",
        "--type",
        "authentication",
        "--ec",
        "--key-out",
        key.to_str().unwrap(),
        "--p12-out",
        p12.to_str().unwrap(),
    ];

    // No password source (and no terminal): refused before a key is made or anything is sent.
    let refused = sim.run(&home, &enroll_args);
    assert_fails_with(&refused, "KSEF_P12_PASSWORD");
    assert!(!key.exists() && !p12.exists());

    let mut args = enroll_args.to_vec();
    args.extend(["--password-stdin", "--json"]);
    let enrolled = with_stdin(sim.ksef(&home, &args), password);
    assert_no_secret(&enrolled, password);
    let doc = json_ok(&enrolled);
    assert_eq!(doc["p12File"], p12.to_str().unwrap(), "{doc}");
    #[cfg(unix)]
    assert_eq!(mode(&p12), 0o600);
    let cert_file = std::path::PathBuf::from(doc["certFile"].as_str().unwrap());

    // It logs in, under another profile.
    let again = sim
        .ksef(
            &home,
            &[
                "auth",
                "login",
                "--nip",
                &sim.nip,
                "--profile",
                "from-p12",
                "--p12",
                p12.to_str().unwrap(),
                "--json",
            ],
        )
        .env("KSEF_P12_PASSWORD", password)
        .output()
        .unwrap();
    assert_no_secret(&again, password);
    let doc = json_ok(&again);
    assert_eq!(doc["method"], "certificate", "{doc}");
    assert_eq!(doc["profile"], "from-p12", "{doc}");

    // Never overwritten.
    let exists = sim
        .ksef(&home, &enroll_args)
        .env("KSEF_P12_PASSWORD", password)
        .output()
        .unwrap();
    assert_fails_with(&exists, "exists");

    if live() {
        let passin = format!("pass:{password}");
        let info = openssl_live(&[
            "pkcs12",
            "-info",
            "-nokeys",
            "-in",
            p12.to_str().unwrap(),
            "-passin",
            &passin,
        ]);
        let info = text(&info);
        let start = info
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a certificate");
        let issued = std::fs::read_to_string(&cert_file).unwrap();
        assert_eq!(
            x509_parser::pem::parse_x509_pem(&info.as_bytes()[start..])
                .unwrap()
                .1
                .contents,
            x509_parser::pem::parse_x509_pem(issued.as_bytes())
                .unwrap()
                .1
                .contents,
            "the PKCS#12 file holds the issued certificate"
        );
        let keys = openssl_live(&[
            "pkcs12",
            "-nocerts",
            "-nodes",
            "-in",
            p12.to_str().unwrap(),
            "-passin",
            &passin,
        ]);
        let keys = text(&keys);
        let start = keys.find("-----BEGIN PRIVATE KEY-----").expect("the key");
        let from_p12 = home.join("from-p12.key");
        std::fs::write(&from_p12, &keys[start..]).unwrap();
        assert_eq!(
            key_spki(&from_p12),
            key_spki(&key),
            "the PKCS#12 file holds the new key"
        );
    }
}
