//! `ksef auth`: status, session revocation, certificate login (subject and fingerprint) and the
//! two-phase external login, against a `ksef sim` child process.

mod common;

use std::path::Path;

use common::*;

/// A self-signed certificate made with `ksef cert self-signed`; returns its JSON description.
fn self_signed(home: &Path, who: &[&str], cert: &Path, key: &Path) -> serde_json::Value {
    let mut args = who.to_vec();
    args.push("--json");
    json_ok(&self_signed_ec(home, &args, cert, key))
}

#[test]
fn status_and_revocation_of_authentication_sessions() {
    let home = temp_dir("auth-status");
    let sim = Sim::start(&home);
    let login: serde_json::Value =
        serde_json::from_slice(&sim.login(&home, &["--json"]).stdout).unwrap();
    let reference = login["referenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(login["method"], "ksefToken");

    let status = json_ok(&sim.run(&home, &["auth", "status", &reference, "--json"]));
    assert_eq!(status["referenceNumber"], reference.as_str());
    assert_eq!(status["status"]["code"], 200);
    assert_eq!(status["isTokenRedeemed"], true);
    assert!(status["startDate"].is_string());
    // Without a reference: the profile's own login.
    let own = json_ok(&sim.run(&home, &["auth", "status", "--json"]));
    assert_eq!(own["referenceNumber"], reference.as_str());

    let bad = sim.run(&home, &["auth", "status", "not-a-reference"]);
    assert_fails_with(&bad, "not a valid reference number");

    // A second login in another profile, revoked from the first.
    sim.login(&home, &["--profile", "other"]);
    let other = json_ok(&sim.run(&home, &["auth", "whoami", "--profile", "other", "--json"]));
    let other_reference = other["referenceNumber"].as_str().unwrap().to_owned();
    let sessions = json_ok(&sim.run(&home, &["auth", "sessions", "list", "--json"]));
    let listed: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["referenceNumber"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&reference.as_str()), "{sessions}");
    assert!(listed.contains(&other_reference.as_str()), "{sessions}");

    let revoked = json_ok(&sim.run(
        &home,
        &["auth", "sessions", "revoke", &other_reference, "--json"],
    ));
    assert_eq!(revoked["revoked"], true);
    assert_eq!(revoked["current"], false);
    assert_eq!(revoked["referenceNumber"], other_reference.as_str());
    // The other profile's refresh token no longer works: KSeF says no, exit 1.
    let refresh = sim.run(&home, &["auth", "refresh", "--profile", "other"]);
    assert_eq!(refresh.status.code(), Some(1), "{}", describe(&refresh));
    // This profile is untouched.
    let refresh = sim.run(&home, &["auth", "refresh", "--json"]);
    assert!(json_ok(&refresh)["accessValidUntil"].is_string());

    // Revoking the current session forgets the login locally.
    let current = json_ok(&sim.run(
        &home,
        &["auth", "sessions", "revoke", "--current", "--json"],
    ));
    assert_eq!(current["current"], true);
    assert_eq!(current["referenceNumber"], reference.as_str());
    assert!(!home.join("profiles/default/session.json").exists());
    let whoami = sim.run(&home, &["auth", "whoami"]);
    assert_fails_with(&whoami, "not logged in");
    // An absent session: a clear error with the fix, exit 1.
    let status = sim.run(&home, &["auth", "status"]);
    assert_fails_with(&status, "not logged in");
}

#[test]
fn revoke_needs_a_reference_or_current() {
    let home = temp_dir("auth-revoke-usage");
    for args in [
        &["auth", "sessions", "revoke"][..],
        &[
            "auth",
            "sessions",
            "revoke",
            "20250626-AU-2F14610000-242991F8C9-B4",
            "--current",
        ][..],
        &["auth", "login-external", "--nip", "5265877635"][..],
        &["auth", "login", "--key", "k.pem", "--nip", "5265877635"][..],
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
fn certificate_login_by_subject_with_plain_and_encrypted_keys() {
    let home = temp_dir("auth-cert");
    let sim = Sim::start(&home);
    let cert = home.join("seal.pem");
    let key = home.join("seal.key");
    let made = self_signed(&home, &["--nip", &sim.nip], &cert, &key);
    assert!(made["subject"].as_str().unwrap().contains(&sim.nip));

    let login = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--json",
        ],
    );
    let doc = json_ok(&login);
    assert_eq!(doc["method"], "certificate");
    assert_eq!(doc["context"]["value"], sim.nip.as_str());
    let who = json_ok(&sim.run(&home, &["auth", "whoami", "--json"]));
    assert_eq!(who["context"]["value"], sim.nip.as_str());
    let status = json_ok(&sim.run(&home, &["auth", "status", "--json"]));
    assert_eq!(status["status"]["code"], 200);

    // The same key, encrypted with a password that comes from a file.
    let password = "correct horse battery staple";
    let password_file = home.join("password.txt");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let encrypted = home.join("seal.enc.pem");
    // By openssl in live mode, by the pkcs8 crate by default (`common::encrypt_key`).
    encrypt_key(&key, &encrypted, &password_file);
    let mut args = vec![
        "auth",
        "login",
        "--nip",
        sim.nip.as_str(),
        "--profile",
        "encrypted",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        encrypted.to_str().unwrap(),
    ];
    // Without the password: the input says no, exit 1, with the fix.
    let refused = sim.run(&home, &args);
    assert_fails_with(&refused, "--key-password-file");
    args.extend_from_slice(&["--key-password-file", password_file.to_str().unwrap()]);
    let login = sim.run(&home, &args);
    assert!(login.status.success(), "{}", describe(&login));
    assert_no_secret(&login, password);
    // A wrong password.
    let wrong = home.join("wrong.txt");
    std::fs::write(&wrong, "nope\n").unwrap();
    let last = args.len() - 1;
    args[last] = wrong.to_str().unwrap();
    let refused = sim.run(&home, &args);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
}

// `ksef sim` behaves like KSeF's TEST environment by default (a self-signed seal of any NIP logs
// in to that NIP as its owner); `--mode prod-like` lets only the seeded company in.
#[test]
fn sim_mode_decides_whether_a_self_signed_seal_of_any_nip_logs_in() {
    let home = temp_dir("auth-sim-mode");
    let cert = home.join("own.pem");
    let key = home.join("own.key");
    self_signed(&home, &["--nip", "1111111111"], &cert, &key);
    let login = [
        "auth",
        "login",
        "--nip",
        "1111111111",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    let test = Sim::start(&home);
    let accepted = test.run(&home, &login);
    assert!(accepted.status.success(), "{}", describe(&accepted));
    drop(test);
    let prod = Sim::start_with(&home, &["--mode", "prod-like"]);
    let refused = prod.run(&home, &login);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("415"),
        "{}",
        describe(&refused)
    );
}

#[test]
fn certificate_login_failures_exit_1_with_a_reason() {
    let home = temp_dir("auth-cert-bad");
    let sim = Sim::start(&home);
    // A seal of another company in the seeded company's context: KSeF refuses (no
    // permissions there).
    let cert = home.join("foreign.pem");
    let key = home.join("foreign.key");
    self_signed(&home, &["--nip", "1111111111"], &cert, &key);
    let cert_arg = cert.to_str().unwrap();
    let key_arg = key.to_str().unwrap();
    let refused = sim.run(
        &home,
        &[
            "auth", "login", "--nip", &sim.nip, "--cert", cert_arg, "--key", key_arg,
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        text(&refused.stderr).contains("415"),
        "{}",
        describe(&refused)
    );

    // An invalid NIP checksum is refused before anything is sent.
    let bad_nip = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            "1234567890",
            "--cert",
            cert_arg,
            "--key",
            key_arg,
        ],
    );
    assert_fails_with(&bad_nip, "not a valid NIP");
    // A missing certificate file is named.
    let missing = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--cert",
            "/nonexistent/cert.pem",
            "--key",
            key_arg,
        ],
    );
    assert_fails_with(&missing, "/nonexistent/cert.pem");
    // A key that does not belong to the certificate.
    let other_cert = home.join("other.pem");
    let other_key = home.join("other.key");
    self_signed(&home, &["--nip", &sim.nip], &other_cert, &other_key);
    let mismatch = sim.run(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--cert",
            cert_arg,
            "--key",
            other_key.to_str().unwrap(),
        ],
    );
    assert_fails_with(&mismatch, "does not belong");
}

#[test]
fn certificate_login_by_fingerprint() {
    let home = temp_dir("auth-fingerprint");
    let cert = home.join("person.pem");
    let key = home.join("person.key");
    let made = self_signed(&home, &["--pesel", "44051401359"], &cert, &key);
    let fingerprint = made["fingerprintSha256"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 64);
    let sim = Sim::start_with(
        &home,
        &["--trust-fingerprint", &format!("5265877635={fingerprint}")],
    );
    assert_eq!(sim.nip, "5265877635");
    let args = |subject: &'static str| {
        vec![
            "auth".to_owned(),
            "login".to_owned(),
            "--nip".to_owned(),
            sim.nip.clone(),
            "--cert".to_owned(),
            cert.to_str().unwrap().to_owned(),
            "--key".to_owned(),
            key.to_str().unwrap().to_owned(),
            "--subject".to_owned(),
            subject.to_owned(),
            "--json".to_owned(),
        ]
    };
    let by_fingerprint = args("fingerprint");
    let by_fingerprint: Vec<&str> = by_fingerprint.iter().map(String::as_str).collect();
    let doc = json_ok(&sim.run(&home, &by_fingerprint));
    assert_eq!(doc["method"], "certificate");
    // By subject, the person's PESEL has no permissions in the context.
    let by_subject = args("subject");
    let by_subject: Vec<&str> = by_subject.iter().map(String::as_str).collect();
    let refused = sim.run(&home, &by_subject);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
}

#[test]
fn external_login_in_two_phases() {
    let home = temp_dir("auth-external");
    let sim = Sim::start(&home);
    let cert = home.join("seal.pem");
    let key = home.join("seal.key");
    self_signed(&home, &["--nip", &sim.nip], &cert, &key);

    // Submitting before generating: exit 1 with the fix.
    let early = sim.run(
        &home,
        &["auth", "login-external", "--submit", "--input", "x.xml"],
    );
    assert_fails_with(&early, "--generate");

    let unsigned = home.join("unsigned.xml");
    let generated = json_ok(&sim.run(
        &home,
        &[
            "auth",
            "login-external",
            "--generate",
            "--nip",
            &sim.nip,
            "--output",
            unsigned.to_str().unwrap(),
            "--json",
        ],
    ));
    let challenge = generated["challenge"].as_str().unwrap().to_owned();
    let xml = std::fs::read_to_string(&unsigned).unwrap();
    assert!(xml.contains("AuthTokenRequest") && xml.contains(&challenge));
    assert!(!xml.contains("Signature"));

    // Sign it "elsewhere" (here: ksef xades sign), check it with ksef xades verify.
    let signed = home.join("signed.xml");
    let sign = ksef(
        &home,
        &[
            "xades",
            "sign",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            unsigned.to_str().unwrap(),
            "--out",
            signed.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(sign.status.success(), "{}", describe(&sign));
    let verified = json_ok(
        &ksef(
            &home,
            &["xades", "verify", signed.to_str().unwrap(), "--json"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["challenge"], challenge.as_str());
    assert_eq!(verified["subjectIdentifier"]["type"], "SealNip");
    assert_eq!(verified["subjectIdentifier"]["value"], sim.nip.as_str());

    // A tampered signed file is refused locally, exit 1; the pending login stays.
    let tampered = home.join("tampered.xml");
    std::fs::write(
        &tampered,
        std::fs::read_to_string(&signed)
            .unwrap()
            .replace("certificateSubject", "certificateFingerprint"),
    )
    .unwrap();
    let refused = sim.run(
        &home,
        &[
            "auth",
            "login-external",
            "--submit",
            "--input",
            tampered.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let verify_tampered = ksef(&home, &["xades", "verify", tampered.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(verify_tampered.status.code(), Some(1));

    let submitted = json_ok(&sim.run(
        &home,
        &[
            "auth",
            "login-external",
            "--submit",
            "--input",
            signed.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(submitted["method"], "externalSignature");
    assert_eq!(submitted["context"]["value"], sim.nip.as_str());
    #[cfg(unix)]
    for file in ["tokens.json", "session.json"] {
        assert_eq!(mode(&home.join("profiles/default").join(file)), 0o600);
    }
    assert!(!home.join("profiles/default/external-login.json").exists());
    let who = json_ok(&sim.run(&home, &["auth", "whoami", "--json"]));
    assert_eq!(who["context"]["value"], sim.nip.as_str());
}

const P12_PASSWORD: &str = "p12 password 5815";

/// `ksef auth login --p12` with the password from stdin.
fn p12_login_stdin(sim: &Sim, home: &Path, args: &[&str], password: &str) -> std::process::Output {
    let output = with_stdin(sim.ksef(home, args), password);
    assert_no_secret(&output, password);
    output
}

// PKCS#12 files made by `openssl pkcs12 -export` (EC with the default AES encoding, RSA with
// `-legacy` 3DES/RC2) log in, under their own profiles, with the password from the environment or
// from stdin; a wrong or missing password is a clear error; `xades sign --p12` signs a request that
// KSeF accepts.
#[test]
fn certificate_login_with_a_pkcs12_file() {
    let home = temp_dir("auth-p12");
    let sim = Sim::start(&home);
    for (kind, legacy, profile) in [("ec", false, "p12-ec"), ("rsa:2048", true, "p12-rsa")] {
        let p12 = openssl_p12(&home, profile, kind, P12_PASSWORD, legacy);
        let p12 = p12.to_str().unwrap();
        let args = [
            "auth",
            "login",
            "--nip",
            P12_NIP,
            "--profile",
            profile,
            "--p12",
            p12,
            "--json",
        ];
        let login = sim
            .ksef(&home, &args)
            .env("KSEF_P12_PASSWORD", P12_PASSWORD)
            .output()
            .unwrap();
        assert_no_secret(&login, P12_PASSWORD);
        let doc = json_ok(&login);
        assert_eq!(doc["method"], "certificate", "{doc}");
        assert_eq!(doc["context"]["value"], P12_NIP, "{doc}");
        assert_eq!(doc["profile"], profile, "{doc}");
        let who = json_ok(&sim.run(&home, &["auth", "whoami", "--profile", profile, "--json"]));
        assert_eq!(who["context"]["value"], P12_NIP, "{who}");

        // The password from stdin (and --subject, which takes --p12 as it takes --cert).
        let mut stdin_args = args.to_vec();
        stdin_args.extend(["--password-stdin", "--subject", "subject"]);
        let login = p12_login_stdin(&sim, &home, &stdin_args, P12_PASSWORD);
        json_ok(&login);

        // A wrong password: exit 1, named, never shown.
        let wrong = p12_login_stdin(&sim, &home, &stdin_args, "not the password 9902");
        assert_fails_with(&wrong, "wrong password for the PKCS#12 file");
        assert_no_secret(&wrong, "not the password 9902");
        assert!(
            text(&wrong.stderr).contains(profile),
            "names the file: {}",
            describe(&wrong)
        );
    }
    let p12 = home.join("p12-ec.p12");
    let p12 = p12.to_str().unwrap();

    // No password source and no terminal: exit 1, saying where a password may come from.
    let none = sim.run(&home, &["auth", "login", "--nip", P12_NIP, "--p12", p12]);
    assert_fails_with(&none, "KSEF_P12_PASSWORD");
    assert!(
        text(&none.stderr).contains("--password-stdin"),
        "{}",
        describe(&none)
    );
    // Not a PKCS#12 file.
    let pem = home.join("p12-ec.pem");
    let not_p12 = sim
        .ksef(
            &home,
            &[
                "auth",
                "login",
                "--nip",
                P12_NIP,
                "--p12",
                pem.to_str().unwrap(),
            ],
        )
        .env("KSEF_P12_PASSWORD", P12_PASSWORD)
        .output()
        .unwrap();
    assert_fails_with(&not_p12, "not a PKCS#12");
    // --p12 with --cert, or a password on the command line: usage errors (exit 2).
    for args in [
        vec!["auth", "login", "--p12", p12, "--cert", p12, "--key", p12],
        vec!["auth", "login", "--p12", p12, "--password", P12_PASSWORD],
        vec!["auth", "login", "--password-stdin"],
    ] {
        let refused = sim.run(&home, &args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&refused)
        );
    }

    // `xades sign --p12` signs an AuthTokenRequest made by `login-external`, which KSeF accepts.
    let unsigned = home.join("unsigned.xml");
    json_ok(&sim.run(
        &home,
        &[
            "auth",
            "login-external",
            "--generate",
            "--nip",
            P12_NIP,
            "--profile",
            "external",
            "--output",
            unsigned.to_str().unwrap(),
            "--json",
        ],
    ));
    let signed = home.join("signed.xml");
    let sign = ksef(
        &home,
        &[
            "xades",
            "sign",
            "--p12",
            p12,
            unsigned.to_str().unwrap(),
            "--out",
            signed.to_str().unwrap(),
        ],
    )
    .env("KSEF_P12_PASSWORD", P12_PASSWORD)
    .output()
    .unwrap();
    assert!(sign.status.success(), "{}", describe(&sign));
    assert_no_secret(&sign, P12_PASSWORD);
    let verified = json_ok(
        &ksef(
            &home,
            &["xades", "verify", signed.to_str().unwrap(), "--json"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(
        verified["subjectIdentifier"]["value"], P12_NIP,
        "{verified}"
    );
    let submitted = json_ok(&sim.run(
        &home,
        &[
            "auth",
            "login-external",
            "--submit",
            "--profile",
            "external",
            "--input",
            signed.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(submitted["method"], "externalSignature");
    assert_eq!(submitted["context"]["value"], P12_NIP);
    let unsigned_again = ksef(
        &home,
        &["xades", "sign", "--p12", p12, unsigned.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_fails_with(&unsigned_again, "KSEF_P12_PASSWORD");
}
