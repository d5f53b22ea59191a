//! `--pkcs11-module` (auth login, xades sign) against SoftHSM2 (Debian `softhsm2`): RSA and EC
//! P-256 keys imported into a token made in a temporary directory log in to the simulator and sign
//! XAdES that verifies (by our verifier always, by `xmlsec1` in live mode: the token's ECDSA
//! signatures are randomized, so there is nothing to replay); the PIN comes from the environment
//! or stdin and never shows; a wrong PIN, a missing key, a missing token or module are clear errors.
//!
//! Each `ksef` child gets `SOFTHSM2_CONF` naming the test's own token directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use ksef_crypto::test_softhsm::{SOFTHSM2_MODULE as MODULE, SoftHsmToken};

const TOKEN: &str = "ksef-cli-token";
const PIN: &str = "pin-2718-secret";

/// A SoftHSM2 token in `home/softhsm` holding an RSA key (label `rsa`, id 01) and an EC P-256 key
/// (label `ec`, id 02), each a seal of `nip` made by `ksef cert self-signed`; the key files are
/// deleted after the import, the certificates stay as `rsa.pem` and `ec.pem`. Returns the
/// configuration file's path.
fn make_token(home: &Path, nip: &str) -> PathBuf {
    let token = SoftHsmToken::init(&home.join("softhsm"), TOKEN, PIN, "so-pin-1414");
    for (name, id, ec) in [("rsa", "01", false), ("ec", "02", true)] {
        let cert = home.join(format!("{name}.pem"));
        let key = home.join(format!("{name}.key"));
        let mut args = vec!["cert", "self-signed", "--nip", nip];
        if ec {
            args.push("--ec");
        }
        args.extend([
            "--cert-out",
            cert.to_str().unwrap(),
            "--key-out",
            key.to_str().unwrap(),
        ]);
        let made = ksef(home, &args).output().unwrap();
        assert!(made.status.success(), "{}", describe(&made));
        token.import_key(&key, name, id);
        std::fs::remove_file(&key).unwrap();
    }
    token.conf()
}

/// `ksef` against the simulator with the token's configuration and, if given, the PIN in
/// `KSEF_PKCS11_PIN`; checks that neither the PIN nor the seeded token leaks.
fn run(sim: &Sim, home: &Path, conf: &Path, pin_env: Option<&str>, args: &[&str]) -> Output {
    assert!(
        args.iter().all(|a| !a.contains(PIN)),
        "the PIN is never an argument"
    );
    let mut command = sim.ksef(home, args);
    command.env("SOFTHSM2_CONF", conf);
    if let Some(pin) = pin_env {
        command.env("KSEF_PKCS11_PIN", pin);
    }
    let output = command.output().unwrap();
    assert_no_secret(&output, PIN);
    assert_no_secret(&output, &sim.token);
    output
}

#[test]
fn logins_and_xades_signatures_with_keys_on_a_token() {
    let home = temp_dir("pkcs11-login");
    let sim = Sim::start(&home);
    let conf = make_token(&home, &sim.nip);
    let rsa_pem = home.join("rsa.pem");
    let ec_pem = home.join("ec.pem");

    // RSA by label, PIN from the environment, under its own profile.
    let login = run(
        &sim,
        &home,
        &conf,
        Some(PIN),
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "hsm-rsa",
            "--pkcs11-module",
            MODULE,
            "--pkcs11-token",
            TOKEN,
            "--key",
            "rsa",
            "--cert",
            rsa_pem.to_str().unwrap(),
            "--json",
        ],
    );
    let doc = json_ok(&login);
    assert_eq!(doc["method"], "certificate", "{doc}");
    assert_eq!(doc["profile"], "hsm-rsa", "{doc}");
    let who = json_ok(&sim.run(&home, &["auth", "whoami", "--profile", "hsm-rsa", "--json"]));
    assert_eq!(who["context"]["value"], sim.nip.as_str(), "{who}");

    // EC by id, PIN from stdin.
    let mut command = sim.ksef(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            &sim.nip,
            "--profile",
            "hsm-ec",
            "--pkcs11-module",
            MODULE,
            "--pkcs11-token",
            TOKEN,
            "--key-id",
            "02",
            "--cert",
            ec_pem.to_str().unwrap(),
            "--pin-stdin",
            "--json",
        ],
    );
    command.env("SOFTHSM2_CONF", &conf);
    let login = with_stdin(command, PIN);
    assert_no_secret(&login, PIN);
    let doc = json_ok(&login);
    assert_eq!(doc["method"], "certificate", "{doc}");
    assert_eq!(doc["profile"], "hsm-ec", "{doc}");

    // xades sign with each key: our verifier accepts it, and xmlsec1 too in live mode.
    let unsigned = write_file(
        &home,
        "unsigned.xml",
        "<Dokument xmlns=\"urn:test\"><Tresc>podpisane na tokenie</Tresc></Dokument>",
    );
    for (name, cert) in [("rsa", &rsa_pem), ("ec", &ec_pem)] {
        let signed = home.join(format!("signed-{name}.xml"));
        let output = run(
            &sim,
            &home,
            &conf,
            Some(PIN),
            &[
                "xades",
                "sign",
                "--pkcs11-module",
                MODULE,
                "--pkcs11-token",
                TOKEN,
                "--key",
                name,
                "--cert",
                cert.to_str().unwrap(),
                unsigned.to_str().unwrap(),
                "--out",
                signed.to_str().unwrap(),
            ],
        );
        assert!(output.status.success(), "{}", describe(&output));
        let verified = json_ok(&sim.run(
            &home,
            &["xades", "verify", signed.to_str().unwrap(), "--json"],
        ));
        assert_eq!(
            verified["fingerprintSha256"].as_str().map(str::len),
            Some(64),
            "{verified}"
        );
        if live() {
            let xmlsec1 = Command::new("xmlsec1")
                .args([
                    "--verify",
                    "--pubkey-cert-pem",
                    cert.to_str().unwrap(),
                    "--insecure",
                    "--id-attr:Id",
                    "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
                    signed.to_str().unwrap(),
                ])
                .output()
                .expect("xmlsec1 (Debian package xmlsec1)");
            assert!(xmlsec1.status.success(), "{name}: {}", describe(&xmlsec1));
        }
    }
}

#[test]
fn pkcs11_errors_are_clear_and_never_show_the_pin() {
    let home = temp_dir("pkcs11-errors");
    let sim = Sim::start(&home);
    let conf = make_token(&home, &sim.nip);
    let ec_pem = home.join("ec.pem");
    let ec_pem = ec_pem.to_str().unwrap();
    let login = |module: &str, token: &str, key: &str| {
        vec![
            "auth".to_owned(),
            "login".to_owned(),
            "--nip".to_owned(),
            sim.nip.clone(),
            "--pkcs11-module".to_owned(),
            module.to_owned(),
            "--pkcs11-token".to_owned(),
            token.to_owned(),
            "--key".to_owned(),
            key.to_owned(),
            "--cert".to_owned(),
            ec_pem.to_owned(),
        ]
    };
    let run_login = |v: Vec<String>, pin: Option<&str>| {
        let args: Vec<&str> = v.iter().map(String::as_str).collect();
        run(&sim, &home, &conf, pin, &args)
    };

    let wrong = "wrong-pin-9999";
    let output = run_login(login(MODULE, TOKEN, "ec"), Some(wrong));
    assert_fails_with(
        &output,
        &format!("wrong PIN for the PKCS#11 token {TOKEN:?}"),
    );
    assert_no_secret(&output, wrong);

    let output = run_login(login(MODULE, TOKEN, "no-such-key"), Some(PIN));
    assert_fails_with(&output, "holds no private key with label \"no-such-key\"");

    let output = run_login(login(MODULE, "no-such-token", "ec"), Some(PIN));
    assert_fails_with(&output, "no PKCS#11 token labelled \"no-such-token\"");
    assert!(
        text(&output.stderr).contains(TOKEN),
        "lists the tokens present: {}",
        describe(&output)
    );

    let missing = home.join("missing-module.so");
    let output = run_login(login(missing.to_str().unwrap(), TOKEN, "ec"), Some(PIN));
    assert_fails_with(
        &output,
        &format!("cannot load the PKCS#11 module {}", missing.display()),
    );

    // No PIN source and no terminal: says where a PIN may come from.
    let output = run_login(login(MODULE, TOKEN, "ec"), None);
    assert_fails_with(&output, "KSEF_PKCS11_PIN");
    assert!(
        text(&output.stderr).contains("--pin-stdin"),
        "{}",
        describe(&output)
    );

    // Usage errors (exit 2): no token, no key, a bad key id, a PIN as an argument, --p12 with it.
    let mut no_key = login(MODULE, TOKEN, "ec");
    no_key.drain(8..10);
    let mut bad_id = no_key.clone();
    bad_id.extend(["--key-id".to_owned(), "0g".to_owned()]);
    let mut no_token = login(MODULE, TOKEN, "ec");
    no_token.drain(6..8);
    let mut pin_arg = login(MODULE, TOKEN, "ec");
    pin_arg.extend(["--pin".to_owned(), "1234".to_owned()]);
    let mut with_p12 = login(MODULE, TOKEN, "ec");
    with_p12.extend(["--p12".to_owned(), ec_pem.to_owned()]);
    // The old flag is gone (no alias: a KSeF token is another thing).
    let old_flag: Vec<String> = login(MODULE, TOKEN, "ec")
        .into_iter()
        .map(|a| {
            if a == "--pkcs11-token" {
                "--token".to_owned()
            } else {
                a
            }
        })
        .collect();
    // One secret per command from standard input.
    let mut two_stdin = login(MODULE, TOKEN, "ec");
    two_stdin.extend(["--pin-stdin".to_owned(), "--token-stdin".to_owned()]);
    for v in [
        no_key, bad_id, no_token, pin_arg, with_p12, old_flag, two_stdin,
    ] {
        let output = run_login(v.clone(), Some(PIN));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{v:?}: {}",
            describe(&output)
        );
    }
    let output = run_login(
        {
            let mut v = login(MODULE, TOKEN, "ec");
            v.extend(["--pin-stdin".to_owned(), "--token-stdin".to_owned()]);
            v
        },
        Some(PIN),
    );
    assert!(
        text(&output.stderr).contains("--token-stdin")
            && text(&output.stderr).contains("--pin-stdin"),
        "{}",
        describe(&output)
    );
    let xades = run(
        &sim,
        &home,
        &conf,
        Some(PIN),
        &[
            "xades",
            "sign",
            "--pkcs11-module",
            MODULE,
            "--pkcs11-token",
            TOKEN,
            "--key",
            "ec",
            "--pin-stdin",
            "--p12",
            ec_pem,
            "--password-stdin",
            ec_pem,
        ],
    );
    assert_eq!(xades.status.code(), Some(2), "{}", describe(&xades));
}
