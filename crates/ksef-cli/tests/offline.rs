//! The offline commands: `cert self-signed`, `xades sign|verify`, `qr invoice|cert`, `config` and
//! `batch pack`, checked against openssl and unzip where an independent oracle exists.
//!
//! Oracles per mode (`KSEF_ORACLES`, see `common`): what the binary makes with fresh randomness
//! (self-signed keys and certificates, ECDSA signatures over them, the batch session key and its
//! RSA-OAEP wrapping) is checked by default with independent Rust code (x509-parser, the `rsa` and
//! `p256` key parsers, ring, an OAEP decoder and ring's AES in `common`), and live mode adds
//! openssl. Deterministic runs (the test Ministry certificate of `batch pack`, unzip on the
//! deterministic archive) are replayed from the golden file by default.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use sha2::{Digest as _, Sha256};

/// The real openssl (live mode only; see the module docs).
fn openssl(args: &[&str]) -> Vec<u8> {
    openssl_live(args)
}

/// `openssl x509 -in CERT -noout QUERY...`: what openssl reads from a certificate.
fn x509(cert: &std::path::Path, query: &[&str]) -> Vec<u8> {
    let mut args = vec!["x509", "-in", cert.to_str().unwrap(), "-noout"];
    args.extend_from_slice(query);
    openssl(&args)
}

fn sha256_b64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

#[test]
fn self_signed_certificates_for_seals_and_persons() {
    let home = temp_dir("cert-self-signed");
    let cert = home.join("seal.pem");
    let key = home.join("keys/seal.key");
    let made = json_ok(
        &ksef(
            &home,
            &[
                "cert",
                "self-signed",
                "--nip",
                "5265877635",
                "--cert-out",
                cert.to_str().unwrap(),
                "--key-out",
                key.to_str().unwrap(),
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(made["keyType"], "Rsa2048");
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600, "the private key is owner-only");
    // Independent readers (x509-parser; the rsa crate derives the key's public half) read both
    // and they match.
    assert!(
        cert_subject(&cert).contains(&"2.5.4.97=VATPL-5265877635".to_owned()),
        "{:?}",
        cert_subject(&cert)
    );
    assert_eq!(
        cert_spki(&cert),
        key_spki(&key),
        "the key belongs to the certificate"
    );
    assert_eq!(
        made["fingerprintSha256"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        hex(&Sha256::digest(cert_der(&cert)))
    );
    // And openssl, in live mode.
    if live() {
        let subject = text(&x509(&cert, &["-subject", "-nameopt", "oneline"]));
        assert!(subject.contains("VATPL-5265877635"), "{subject}");
        let cert_key = x509(&cert, &["-pubkey"]);
        let key_pub = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"]);
        assert_eq!(cert_key, key_pub, "the key belongs to the certificate");
        let fingerprint = text(&x509(&cert, &["-fingerprint", "-sha256"]));
        let hex: String = fingerprint
            .trim()
            .rsplit('=')
            .next()
            .unwrap()
            .replace(':', "")
            .to_ascii_lowercase();
        assert_eq!(
            made["fingerprintSha256"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase(),
            hex
        );
    }
    // The private key never reaches stdout or stderr.
    let pem = std::fs::read_to_string(&key).unwrap();
    let body = pem.lines().nth(1).unwrap();
    assert!(!text(&serde_json::to_vec(&made).unwrap()).contains(body));

    let person_cert = home.join("person.pem");
    let person_key = home.join("person.key");
    let person = self_signed_ec(
        &home,
        &["--pesel", "44051401359"],
        &person_cert,
        &person_key,
    );
    assert!(person.status.success(), "{}", describe(&person));
    assert!(
        !text(&person.stdout).contains(
            std::fs::read_to_string(&person_key)
                .unwrap()
                .lines()
                .nth(1)
                .unwrap()
        )
    );
    let subject = cert_subject(&person_cert);
    assert!(
        subject.contains(&"2.5.4.5=PNOPL-44051401359".to_owned()),
        "{subject:?}"
    );
    assert_eq!(cert_spki(&person_cert), key_spki(&person_key));
    if live() {
        let subject = text(&x509(&person_cert, &["-subject", "-nameopt", "oneline"]));
        assert!(subject.contains("PNOPL-44051401359"), "{subject}");
    }

    // Bad input: a wrong checksum, exit 1, nothing written; neither identifier, exit 2.
    let bad = ksef(
        &home,
        &[
            "cert",
            "self-signed",
            "--nip",
            "1234567890",
            "--cert-out",
            home.join("bad.pem").to_str().unwrap(),
            "--key-out",
            home.join("bad.key").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&bad, "not a valid NIP");
    assert!(!home.join("bad.key").exists());
    // An existing key file is never overwritten.
    let before = std::fs::read(&key).unwrap();
    let again = self_signed_ec(
        &home,
        &["--nip", "5265877635"],
        &home.join("again.pem"),
        &key,
    );
    assert_fails_with(&again, "exists");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let usage = ksef(
        &home,
        &["cert", "self-signed", "--cert-out", "c", "--key-out", "k"],
    )
    .output()
    .unwrap();
    assert_eq!(usage.status.code(), Some(2), "{}", describe(&usage));
}

#[test]
fn xades_sign_and_verify_agree_with_xmlsec_style_checks() {
    let home = temp_dir("xades");
    let cert = home.join("c.pem");
    let key = home.join("k.pem");
    let made = self_signed_ec(&home, &["--nip", "5265877635"], &cert, &key);
    assert!(made.status.success(), "{}", describe(&made));
    let doc = home.join("doc.xml");
    std::fs::write(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root xmlns=\"urn:test\"><Value>42</Value></Root>\n").unwrap();
    // To stdout.
    let signed = ksef(
        &home,
        &[
            "xades",
            "sign",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            doc.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(signed.status.success(), "{}", describe(&signed));
    let xml = text(&signed.stdout);
    assert!(xml.contains("SignatureValue") && xml.contains("<Value>42</Value>"));
    let signed_path = home.join("signed.xml");
    std::fs::write(&signed_path, &signed.stdout).unwrap();
    let verified = json_ok(
        &ksef(
            &home,
            &["xades", "verify", signed_path.to_str().unwrap(), "--json"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(verified["valid"], true);
    assert!(verified["challenge"].is_null());
    assert_eq!(verified["subjectIdentifier"]["value"], "5265877635");
    // Changing the signed content breaks the signature: exit 1, valid false.
    let broken = home.join("broken.xml");
    std::fs::write(
        &broken,
        xml.replace("<Value>42</Value>", "<Value>43</Value>"),
    )
    .unwrap();
    let refused = ksef(
        &home,
        &["xades", "verify", broken.to_str().unwrap(), "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let doc: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    // A missing input is named.
    let missing = ksef(&home, &["xades", "verify", "/nonexistent/signed.xml"])
        .output()
        .unwrap();
    assert_fails_with(&missing, "/nonexistent/signed.xml");
}

/// The seller's NIP and the issue date of the sample, read independently of the CLI.
fn sample_facts() -> (String, String) {
    let xml = std::fs::read_to_string(sample_invoice()).unwrap();
    let between = |open: &str, close: &str| {
        let start = xml.find(open).unwrap() + open.len();
        let end = start + xml[start..].find(close).unwrap();
        xml[start..end].to_owned()
    };
    let nip = between("<NIP>", "</NIP>");
    let date = between("<P_1>", "</P_1>");
    let (y, rest) = date.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    (nip, format!("{d}-{m}-{y}"))
}

#[test]
fn qr_invoice_link_and_images() {
    let home = temp_dir("qr-invoice");
    let invoice = sample_invoice();
    let png = home.join("kod1.png");
    let svg = home.join("kod1.svg");
    let number = "5265877635-20260115-0100001AF629-33";
    let output = ksef(
        &home,
        &[
            "qr",
            "invoice",
            invoice.to_str().unwrap(),
            "--ksef-number",
            number,
            "--png",
            png.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    let doc = json_ok(&output);
    let (nip, date) = sample_facts();
    let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(std::fs::read(&invoice).unwrap()));
    assert_eq!(
        doc["link"],
        format!("https://qr-test.ksef.mf.gov.pl/invoice/{nip}/{date}/{hash}").as_str()
    );
    assert_eq!(doc["caption"], number);
    assert!(
        std::fs::read(&png)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    // --env picks the host; --offline the caption.
    let demo = json_ok(
        &ksef(
            &home,
            &[
                "qr",
                "invoice",
                invoice.to_str().unwrap(),
                "--offline",
                "--env",
                "demo",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    assert!(
        demo["link"]
            .as_str()
            .unwrap()
            .starts_with("https://qr-demo.ksef.mf.gov.pl/invoice/")
    );
    assert_eq!(demo["caption"], "OFFLINE");

    // Bad input: a bad KSeF number, a file that is not an invoice.
    let bad = ksef(
        &home,
        &[
            "qr",
            "invoice",
            invoice.to_str().unwrap(),
            "--ksef-number",
            "nope",
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&bad, "not a valid KSeF number");
    let not_invoice = home.join("other.xml");
    std::fs::write(&not_invoice, "<Other/>").unwrap();
    let refused = ksef(
        &home,
        &["qr", "invoice", not_invoice.to_str().unwrap(), "--offline"],
    )
    .output()
    .unwrap();
    assert_fails_with(&refused, "Faktura");
}

/// An ECDSA signature in IEEE P1363 form (`R || S`) as DER, for openssl.
fn p1363_to_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn qr_certificate_link_verifies_with_openssl() {
    let home = temp_dir("qr-cert");
    let cert = home.join("offline.pem");
    let key = home.join("offline.key");
    let made = self_signed_ec(&home, &["--nip", "5265877635"], &cert, &key);
    assert!(made.status.success(), "{}", describe(&made));
    let invoice = sample_invoice();
    let doc = json_ok(
        &ksef(
            &home,
            &[
                "qr",
                "cert",
                invoice.to_str().unwrap(),
                "--cert-serial",
                "01F20A5D352AE590",
                "--key",
                key.to_str().unwrap(),
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(doc["caption"], "CERTYFIKAT");
    let link = doc["link"].as_str().unwrap();
    let (nip, _) = sample_facts();
    let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(std::fs::read(&invoice).unwrap()));
    let signed_text =
        format!("qr-test.ksef.mf.gov.pl/certificate/Nip/{nip}/{nip}/01F20A5D352AE590/{hash}");
    let signature = link
        .strip_prefix(&format!("https://{signed_text}/"))
        .unwrap_or_else(|| panic!("unexpected link {link}"));
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert_eq!(signature.len(), 64, "P-256 signatures are R || S");
    // ring verifies (the uncompressed point closes the P-256 SubjectPublicKeyInfo); a changed
    // text does not.
    let spki = cert_spki(&cert);
    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        &spki[spki.len() - 65..],
    );
    assert!(ring_key.verify(signed_text.as_bytes(), &signature).is_ok());
    assert!(
        ring_key
            .verify(format!("{signed_text}x").as_bytes(), &signature)
            .is_err()
    );
    if live() {
        let data = home.join("data.txt");
        std::fs::write(&data, &signed_text).unwrap();
        let sig = home.join("sig.der");
        std::fs::write(&sig, p1363_to_der(&signature)).unwrap();
        let public = home.join("pub.pem");
        std::fs::write(&public, x509(&cert, &["-pubkey"])).unwrap();
        let verified = text(&openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            public.to_str().unwrap(),
            "-signature",
            sig.to_str().unwrap(),
            data.to_str().unwrap(),
        ]));
        assert!(verified.contains("Verified OK"), "{verified}");
    }

    let bad_serial = ksef(
        &home,
        &[
            "qr",
            "cert",
            invoice.to_str().unwrap(),
            "--cert-serial",
            "not-hex",
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&bad_serial, "certificateSerial");
}

#[test]
fn config_set_get_show() {
    let home = temp_dir("config");
    let run = |args: &[&str]| ksef(&home, args).output().unwrap();
    let set = json_ok(&run(&["config", "set", "nip", "5265877635", "--json"]));
    assert_eq!(set["key"], "nip");
    assert_eq!(set["value"], "5265877635");
    #[cfg(unix)]
    assert_eq!(mode(&home.join("config.toml")), 0o600);
    assert!(run(&["config", "set", "env", "demo"]).status.success());
    let get = run(&["config", "get", "nip"]);
    assert!(get.status.success(), "{}", describe(&get));
    assert_eq!(text(&get.stdout).trim(), "5265877635");
    let show = json_ok(&run(&["config", "show", "--json"]));
    assert_eq!(show["nip"], "5265877635");
    assert_eq!(show["env"], "demo");
    assert!(show["baseUrl"].is_null());

    // Bad values are refused and leave the file as it was.
    assert_fails_with(
        &run(&["config", "set", "nip", "1234567890"]),
        "not a valid NIP",
    );
    assert_fails_with(&run(&["config", "set", "env", "staging"]), "staging");
    assert_fails_with(&run(&["config", "set", "base-url", "ftp://x"]), "https://");
    assert_eq!(
        json_ok(&run(&["config", "get", "nip", "--json"]))["value"],
        "5265877635"
    );
    assert_eq!(
        run(&["config", "set", "colour", "blue"]).status.code(),
        Some(2)
    );

    // The default env reaches commands that depend on it (the QR host).
    let qr = json_ok(&run(&[
        "qr",
        "invoice",
        sample_invoice().to_str().unwrap(),
        "--offline",
        "--json",
    ]));
    assert!(qr["link"].as_str().unwrap().contains("qr-demo."));
    assert!(
        json_ok(&run(&["config", "unset", "env", "--json"]))["removed"]
            .as_bool()
            .unwrap()
    );
    let get = run(&["config", "get", "env"]);
    assert_eq!(get.status.code(), Some(1), "{}", describe(&get));
    let get = run(&["config", "get", "env", "--json"]);
    assert_eq!(get.status.code(), Some(1), "{}", describe(&get));
    let doc: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert!(doc["value"].is_null());

    // A damaged file is named, with the fix.
    std::fs::write(home.join("config.toml"), "nipp = 1\n").unwrap();
    assert_fails_with(&run(&["config", "show"]), "config.toml");
}

/// Deterministic, poorly compressible text for test invoices.
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b"0123456789abcdef"[(state >> 60) as usize])
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn batch_pack_decrypts_and_unzips_with_openssl() {
    let home = temp_dir("batch-pack");
    let input = home.join("invoices");
    std::fs::create_dir_all(&input).unwrap();
    let mut originals = Vec::new();
    for i in 0..3u64 {
        let name = format!("invoice-{i}.xml");
        let body = format!("<Faktura><Noise>{}</Noise></Faktura>\n", noise(i + 1, 6000));
        std::fs::write(input.join(&name), &body).unwrap();
        originals.push((name, body));
    }
    std::fs::write(input.join("notes.txt"), "not an invoice").unwrap();
    let key = home.join("mf.key");
    let cert = home.join("mf.pem");
    // The test Ministry certificate: made by openssl, replayed from the golden file by default.
    replayed(
        ksef_oracle::OPENSSL,
        &home,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-subj",
            "/CN=Test Ministry",
            "-days",
            "36500",
        ],
    );
    let out = home.join("package");
    let packed = json_ok(
        &ksef(
            &home,
            &[
                "batch",
                "pack",
                input.to_str().unwrap(),
                "--public-cert",
                cert.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--part-size",
                "4096",
                "--no-validate",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(packed["invoiceCount"], 3);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("batch.json")).unwrap()).unwrap();
    let request = &manifest["openRequest"];
    assert_eq!(request["formCode"]["systemCode"], "FA (3)");
    let part_files: Vec<&str> = manifest["partFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let parts = request["batchFile"]["fileParts"].as_array().unwrap();
    assert!(part_files.len() > 1, "4096-byte parts split the package");
    assert_eq!(parts.len(), part_files.len());

    // The session key, unwrapped with the private key by openssl.
    let wrapped = home.join("key.bin");
    std::fs::write(
        &wrapped,
        STANDARD
            .decode(
                request["encryption"]["encryptedSymmetricKey"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let wrapped_bytes = std::fs::read(&wrapped).unwrap();
    let aes_key =
        ksef_oracle::oaep_sha256_decrypt(&std::fs::read_to_string(&key).unwrap(), &wrapped_bytes);
    if live() {
        let theirs = openssl(&[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            key.to_str().unwrap(),
            "-in",
            wrapped.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ]);
        assert_eq!(theirs, aes_key);
    }
    assert_eq!(aes_key.len(), 32);
    let iv = STANDARD
        .decode(
            request["encryption"]["initializationVector"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let mut archive = Vec::new();
    for (index, (name, part)) in part_files.iter().zip(parts).enumerate() {
        assert_eq!(part["ordinalNumber"], index + 1);
        let path = out.join(name);
        let encrypted = std::fs::read(&path).unwrap();
        assert_eq!(part["fileSize"], encrypted.len());
        assert_eq!(part["fileHash"], sha256_b64(&encrypted).as_str());
        // Decrypted here, and every block checked with ring's AES (`common::assert_aes_cbc`);
        // live mode compares with openssl's decryption too.
        let (plain, _) = ksef_crypto::SessionKey::from_slices(&aes_key, &iv)
            .unwrap()
            .decrypt_to_vec(&encrypted)
            .unwrap();
        assert_aes_cbc(&aes_key, &iv, &encrypted, &plain);
        if live() {
            let theirs = openssl(&[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-K",
                &hex(&aes_key),
                "-iv",
                &hex(&iv),
                "-in",
                path.to_str().unwrap(),
            ]);
            assert_eq!(theirs, plain);
        }
        assert!(
            plain.len() <= 4096,
            "--part-size bounds the part before encryption"
        );
        archive.extend(plain);
    }
    assert_eq!(request["batchFile"]["fileSize"], archive.len());
    assert_eq!(
        request["batchFile"]["fileHash"],
        sha256_b64(&archive).as_str()
    );
    let zip = home.join("archive.zip");
    std::fs::write(&zip, &archive).unwrap();
    let unpacked = home.join("unpacked");
    // The archive is deterministic: unzip's run is replayed from the golden file by default.
    replayed(
        ksef_oracle::UNZIP,
        &home,
        &[
            "-q",
            zip.to_str().unwrap(),
            "-d",
            unpacked.to_str().unwrap(),
        ],
    );
    for (name, body) in &originals {
        assert_eq!(
            &std::fs::read_to_string(unpacked.join(name)).unwrap(),
            body,
            "{name} round-trips"
        );
    }
    assert_eq!(
        std::fs::read_dir(&unpacked).unwrap().count(),
        originals.len()
    );

    // Refusals: a non-empty output directory, a missing certificate, a missing input.
    let again = ksef(
        &home,
        &[
            "batch",
            "pack",
            input.to_str().unwrap(),
            "--public-cert",
            cert.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&again, "not empty");
    let no_cert = ksef(
        &home,
        &[
            "batch",
            "pack",
            input.to_str().unwrap(),
            "--public-cert",
            "/nonexistent/mf.pem",
            "--out",
            home.join("out2").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&no_cert, "/nonexistent/mf.pem");
    let no_dir = ksef(
        &home,
        &[
            "batch",
            "pack",
            "/nonexistent/invoices",
            "--public-cert",
            cert.to_str().unwrap(),
            "--out",
            home.join("out3").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&no_dir, "/nonexistent/invoices");
}

/// `batch pack` validates like `batch send` (issue 20): a malformed invoice stops it before
/// anything is written; `--no-validate` opts out; entries not named *.xml are named as not sent.
#[test]
fn batch_pack_validates_like_send() {
    let home = temp_dir("files-pack-validate");
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(sample_invoice(), dir.join("good.xml")).unwrap();
    std::fs::write(dir.join("broken.xml"), "<Faktura><unclosed></Faktura>").unwrap();
    std::fs::write(dir.join("README"), "not an invoice").unwrap();
    let key = home.join("mf.key");
    let cert = home.join("mf.pem");
    // The same test Ministry certificate as `batch_pack_decrypts_and_unzips_with_openssl`.
    replayed(
        ksef_oracle::OPENSSL,
        &home,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-subj",
            "/CN=Test Ministry",
            "-days",
            "36500",
        ],
    );
    let pack = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "batch",
            "pack",
            dir.to_str().unwrap(),
            "--public-cert",
            cert.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ksef(&home, &args).output().unwrap()
    };
    let out = home.join("package");
    let refused = pack(&out, &[]);
    assert_fails_with(&refused, "broken.xml");
    assert!(!out.exists(), "nothing was written");
    let packed = pack(&out, &["--no-validate"]);
    assert!(packed.status.success(), "{}", describe(&packed));
    assert!(
        text(&packed.stderr).contains("not sent (not named *.xml)")
            && text(&packed.stderr).contains("README"),
        "{}",
        describe(&packed)
    );
    assert!(out.join("batch.json").exists());
}
