//! Batch packaging, checked against the `zip`/`unzip`, `tar` and `openssl`
//! command line tools.
//!
//! Oracles per mode (`KSEF_ORACLES`, see `common`): `unzip` and `openssl` run on deterministic
//! inputs (fixed session keys, seeded contents and proptest cases), so by default their answers
//! (large outputs as SHA-256) are replayed from the golden file; live mode runs them. `tar`
//! (Debian-essential) always runs.

mod common;

use std::io::{Cursor, Read as _};
use std::path::Path;
use std::process::Command;

use common::{
    TempDir, fixed_session_key, hex, invoice_content, names, openssl_sha256, pseudo_random,
};
use ksef_crypto::{
    BatchInvoice, BatchLimits, BatchPackage, BatchPackager, CompressionLevel, DirectorySink, Error,
    ExpectedPart, ExportUnpacker, Limit, MemorySink, SessionKey, file_metadata,
};
use ksef_model::types::CompressionType;
use proptest::prelude::*;

fn run(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed for these tests: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Info-ZIP's `unzip` with `args` in `dir` (replayed by default): the hex SHA-256 of its stdout.
fn unzip(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(common::tool(
        ksef_oracle::UNZIP,
        dir,
        args,
        b"",
        ksef_oracle::Stdout::Sha256,
    ))
    .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ksef_oracle::sha256_hex(bytes)
}

/// Decrypts and joins the parts, checking every piece of metadata against a recomputation.
fn join_and_verify(
    key: &SessionKey,
    package: &BatchPackage,
    parts: &[Vec<u8>],
    max_part: u64,
) -> Vec<u8> {
    assert_eq!(package.parts.len(), parts.len());
    let mut joined = Vec::new();
    for (i, (part, bytes)) in package.parts.iter().zip(parts).enumerate() {
        assert_eq!(part.ordinal_number as usize, i + 1);
        assert_eq!(part.encrypted, file_metadata(bytes));
        let (plain, meta) = key.decrypt_to_vec(bytes).unwrap();
        assert_eq!(part.plaintext, file_metadata(&plain));
        assert_eq!(meta.plaintext, part.plaintext);
        assert!(plain.len() as u64 <= max_part);
        if i + 1 < parts.len() {
            assert_eq!(
                plain.len() as u64,
                max_part,
                "every part but the last is full"
            );
        }
        assert!(!plain.is_empty());
        joined.extend_from_slice(&plain);
    }
    assert_eq!(package.archive, file_metadata(&joined));
    joined
}

proptest! {
    // A fixed seed and session key: the same 32 archives every run, so unzip's answers on them
    // replay from the golden file; change the seed and run `cargo xtask oracles` to explore.
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_207),
        ..ProptestConfig::default()
    })]

    #[test]
    fn zip_round_trip(
        sizes in prop::collection::vec(0usize..65_536, 0..50),
        max_part in 1024u64..300_000,
        jobs in 1usize..4,
        level in prop::sample::select(vec![CompressionLevel::Stored, CompressionLevel::Fast, CompressionLevel::Default]),
        seed in any::<u64>(),
    ) {
        let key = fixed_session_key(seed);
        let names = names(sizes.len());
        let contents: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &len)| {
            if i % 3 == 2 { pseudo_random(len, seed ^ i as u64) } else { invoice_content(len, seed ^ i as u64) }
        }).collect();
        let invoices = names.iter().zip(&contents).map(|(n, c)| BatchInvoice::from_bytes(n.clone(), c.clone()));
        let mut sink = MemorySink::new();
        let package = BatchPackager::new()
            .jobs(jobs)
            .level(level)
            .limits(BatchLimits::default().with_max_part_size(max_part).with_max_parts(10_000))
            .package(&key, invoices, &mut sink)
            .unwrap();
        let joined = join_and_verify(&key, &package, sink.parts(), max_part);

        prop_assert_eq!(package.invoices.len(), names.len());
        for (name, content) in names.iter().zip(&contents) {
            prop_assert_eq!(package.invoices[name], file_metadata(content));
        }
        // Our own reader, in order.
        let mut zip = zip::ZipArchive::new(Cursor::new(&joined)).unwrap();
        prop_assert_eq!(zip.len(), names.len());
        for (i, content) in contents.iter().enumerate() {
            let mut file = zip.by_index(i).unwrap();
            prop_assert_eq!(file.name_raw(), names[i].as_bytes());
            let mut read = Vec::new();
            file.read_to_end(&mut read).unwrap();
            prop_assert_eq!(&read, content);
        }
        // Info-ZIP's.
        if !names.is_empty() {
            let dir = TempDir::new();
            std::fs::write(dir.file("batch.zip"), &joined).unwrap();
            unzip(dir.path(), &["-tq", "batch.zip"]);
            for (name, content) in names.iter().zip(&contents).take(4) {
                let out = unzip(dir.path(), &["-p", "batch.zip", name]);
                prop_assert_eq!(out, sha256_hex(content));
            }
        }
    }
}

#[test]
fn openssl_and_unzip_accept_the_part_files() {
    let dir = TempDir::new();
    let parts_dir = dir.file("parts");
    std::fs::create_dir(&parts_dir).unwrap();
    let key = fixed_session_key(40);
    let names = names(40);
    let contents: Vec<Vec<u8>> = (0..40)
        .map(|i| invoice_content(3_000 + i * 997, i as u64))
        .collect();
    for (name, content) in names.iter().zip(&contents) {
        std::fs::write(dir.file(name), content).unwrap();
    }
    let invoices = names
        .iter()
        .map(|n| BatchInvoice::from_file(dir.file(n)).unwrap());
    let mut sink = DirectorySink::new(&parts_dir);
    let package = BatchPackager::new()
        .limits(BatchLimits::default().with_max_part_size(7_000))
        .package(&key, invoices, &mut sink)
        .unwrap();
    assert!(package.parts.len() > 2);
    assert_eq!(sink.paths().len(), package.parts.len());
    let (key_hex, iv_hex) = (hex(key.key()), hex(key.iv()));
    let mut joined = Vec::new();
    for (part, path) in package.parts.iter().zip(sink.paths()) {
        let path = path.to_str().unwrap();
        let encrypted = std::fs::read(path).unwrap();
        assert_eq!(part.encrypted, file_metadata(&encrypted));
        let theirs = openssl_sha256(
            dir.path(),
            &[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-K",
                &key_hex,
                "-iv",
                &iv_hex,
                "-in",
                path,
            ],
            b"",
        );
        // Hashes equal: `plain` is openssl's decryption, byte for byte.
        let (plain, _) = key.decrypt_to_vec(&encrypted).unwrap();
        assert_eq!(sha256_hex(&plain), theirs);
        assert_eq!(part.plaintext, file_metadata(&plain));
        joined.extend_from_slice(&plain);
    }
    assert_eq!(package.archive, file_metadata(&joined));
    std::fs::write(dir.file("joined.zip"), &joined).unwrap();
    unzip(dir.path(), &["-tq", "joined.zip"]);
    for (name, content) in names.iter().zip(&contents) {
        assert_eq!(
            unzip(dir.path(), &["-p", "joined.zip", name]),
            sha256_hex(content)
        );
    }
    let third = &names[2];
    assert_eq!(
        package.file_name_for_hash(&file_metadata(&contents[2]).sha256_base64()),
        Some(third.as_str())
    );
}

#[test]
fn tar_gz_round_trips_through_tar() {
    let dir = TempDir::new();
    let key = SessionKey::generate().unwrap();
    let names = names(25);
    let contents: Vec<Vec<u8>> = (0..25)
        .map(|i| invoice_content(i * 1_531, i as u64))
        .collect();
    let invoices = names
        .iter()
        .zip(&contents)
        .map(|(n, c)| BatchInvoice::from_reader(n.clone(), c.len() as u64, Cursor::new(c.clone())));
    let mut sink = MemorySink::new();
    let package = BatchPackager::new()
        .compression_type(CompressionType::TarGz)
        .limits(BatchLimits::default().with_max_part_size(2_000))
        .package(&key, invoices, &mut sink)
        .unwrap();
    assert_eq!(package.compression_type.as_str(), "TarGz");
    let joined = join_and_verify(&key, &package, sink.parts(), 2_000);
    std::fs::write(dir.file("batch.tar.gz"), &joined).unwrap();
    std::fs::create_dir(dir.file("out")).unwrap();
    run(dir.path(), "tar", &["-xzf", "batch.tar.gz", "-C", "out"]);
    for (name, content) in names.iter().zip(&contents) {
        assert_eq!(&std::fs::read(dir.file("out").join(name)).unwrap(), content);
    }
}

#[test]
fn compression_types_other_than_zip_and_tar_gz_are_refused() {
    let key = SessionKey::generate().unwrap();
    let invoices = vec![BatchInvoice::from_bytes("a.xml", b"<Faktura/>".to_vec())];
    let mut sink = MemorySink::new();
    match BatchPackager::new()
        .compression_type(CompressionType::from("SevenZip"))
        .package(&key, invoices, &mut sink)
    {
        Err(Error::UnsupportedCompressionType { value }) => assert_eq!(value, "SevenZip"),
        other => panic!("{other:?}"),
    }
    assert!(sink.parts().is_empty(), "nothing is written");
    let error = ExportUnpacker::new()
        .compression_type(CompressionType::from("Rar"))
        .unpack(
            &key,
            Vec::<(ExpectedPart, &[u8])>::new(),
            Cursor::new(Vec::new()),
            |_| Ok(()),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"compressionType "Rar" is not supported: only Zip and TarGz are"#
    );
}

#[test]
fn batch_file_info_declares_the_package_as_packaged() {
    let key = SessionKey::generate().unwrap();
    let invoices = (0..20)
        .map(|i| BatchInvoice::from_bytes(format!("{i}.xml"), invoice_content(i * 400, i as u64)));
    let mut sink = MemorySink::new();
    let package = BatchPackager::new()
        .compression_type(CompressionType::TarGz)
        .limits(BatchLimits::default().with_max_part_size(2_048))
        .package(&key, invoices, &mut sink)
        .unwrap();
    assert!(package.parts.len() > 1);
    let info = package.batch_file_info();
    assert_eq!(info.compression_type, Some(CompressionType::TarGz));
    assert_eq!(info.file_size as u64, package.archive.size);
    let joined: Vec<u8> = sink
        .parts()
        .iter()
        .flat_map(|p| key.decrypt_to_vec(p).unwrap().0)
        .collect();
    assert_eq!(
        info.file_hash.as_str(),
        file_metadata(&joined).sha256_base64()
    );
    assert_eq!(info.file_parts.len(), sink.parts().len());
    for (i, (declared, bytes)) in info.file_parts.iter().zip(sink.parts()).enumerate() {
        assert_eq!(declared.ordinal_number as usize, i + 1);
        assert_eq!(declared.file_size as usize, bytes.len());
        assert_eq!(
            declared.file_hash.as_str(),
            file_metadata(bytes).sha256_base64()
        );
    }
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["compressionType"], "TarGz");
}

fn limit_error(result: Result<BatchPackage, Error>) -> (Limit, Option<String>) {
    match result {
        Err(Error::LimitExceeded { limit, file, .. }) => (limit, file),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn limits_give_typed_errors_naming_the_file() {
    let key = SessionKey::generate().unwrap();
    let small = |n: usize| -> Vec<BatchInvoice> {
        names(n)
            .into_iter()
            .map(|name| BatchInvoice::from_bytes(name, b"<Faktura/>".to_vec()))
            .collect()
    };
    let names = names(5);

    // Invoice count: the first invoice past the limit is named; nothing reaches the sink.
    let mut sink = MemorySink::new();
    let result = BatchPackager::new()
        .limits(BatchLimits::default().with_max_invoices(4))
        .package(&key, small(5), &mut sink);
    assert_eq!(
        limit_error(result),
        (Limit::InvoiceCount, Some(names[4].clone()))
    );
    assert!(sink.parts().is_empty());

    // Invoice size (default 1,000,000 bytes), checked before reading anything.
    let mut invoices = small(3);
    invoices.push(BatchInvoice::from_bytes("big.xml", vec![b'x'; 1_000_001]));
    let result = BatchPackager::new().package(&key, invoices, MemorySink::new());
    assert_eq!(
        limit_error(result),
        (Limit::InvoiceSize, Some("big.xml".to_owned()))
    );
    let invoices = vec![BatchInvoice::from_bytes("big.xml", vec![b'x'; 1_000_001])];
    BatchPackager::new()
        .limits(
            BatchLimits::default()
                .with_max_invoice_size(ksef_crypto::MAX_INVOICE_WITH_ATTACHMENTS_SIZE),
        )
        .package(&key, invoices, MemorySink::new())
        .unwrap();

    // Part count, found while streaming incompressible data.
    let invoices = vec![
        BatchInvoice::from_bytes("a.xml", pseudo_random(3_000, 1)),
        BatchInvoice::from_bytes("b.xml", pseudo_random(3_000, 2)),
    ];
    let result = BatchPackager::new()
        .limits(
            BatchLimits::default()
                .with_max_part_size(1_024)
                .with_max_parts(4),
        )
        .package(&key, invoices, MemorySink::new());
    assert_eq!(
        limit_error(result),
        (Limit::PartCount, Some("b.xml".to_owned()))
    );

    // Archive size, while streaming, and before any work for stored entries.
    for level in [CompressionLevel::Default, CompressionLevel::Stored] {
        let invoices = vec![
            BatchInvoice::from_bytes("a.xml", pseudo_random(3_000, 1)),
            BatchInvoice::from_bytes("b.xml", pseudo_random(3_000, 2)),
        ];
        let mut sink = MemorySink::new();
        let result = BatchPackager::new()
            .level(level)
            .limits(BatchLimits::default().with_max_archive_size(4_000))
            .package(&key, invoices, &mut sink);
        assert_eq!(
            limit_error(result),
            (Limit::ArchiveSize, Some("b.xml".to_owned()))
        );
        if level == CompressionLevel::Stored {
            assert!(sink.parts().is_empty(), "stored sizes are checked up front");
        }
    }

    // Names: duplicates and unsafe names.
    let mut invoices = small(2);
    invoices.push(BatchInvoice::from_bytes(names[0].clone(), b"x".to_vec()));
    match BatchPackager::new().package(&key, invoices, MemorySink::new()) {
        Err(Error::DuplicateFileName { name }) => assert_eq!(name, names[0]),
        other => panic!("{other:?}"),
    }
    for bad in ["../evil.xml", "dir/a.xml", "", "a\u{0}.xml"] {
        let invoices = vec![BatchInvoice::from_bytes(bad, b"x".to_vec())];
        match BatchPackager::new().package(&key, invoices, MemorySink::new()) {
            Err(Error::InvalidFileName { name, .. }) => assert_eq!(name, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }

    // A reader shorter or longer than declared.
    for actual in [9usize, 11] {
        let invoices = vec![BatchInvoice::from_reader(
            "r.xml",
            10,
            Cursor::new(vec![b'x'; actual]),
        )];
        match BatchPackager::new()
            .jobs(2)
            .package(&key, invoices, MemorySink::new())
        {
            Err(Error::InvoiceSizeMismatch {
                file, declared: 10, ..
            }) => assert_eq!(file, "r.xml"),
            other => panic!("{other:?}"),
        }
    }
    let message = limit_error(
        BatchPackager::new()
            .limits(BatchLimits::default().with_max_invoices(1))
            .package(&key, small(2), MemorySink::new()),
    );
    assert_eq!(message.0.to_string(), "invoice count limit");
}

#[test]
fn jobs_do_not_change_the_output_bytes() {
    // Invoices of mixed sizes, so the worker groups (up to 1 MiB or 256 invoices) vary.
    let key = SessionKey::generate().unwrap();
    let sizes: Vec<usize> = (0..600).map(|i| [0, 700, 3_000, 120_000][i % 4]).collect();
    let names = names(sizes.len());
    let contents: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| invoice_content(len, i as u64))
        .collect();
    let package = |jobs: usize| {
        let invoices = names
            .iter()
            .zip(&contents)
            .map(|(n, c)| BatchInvoice::from_bytes(n.clone(), c.clone()));
        let mut sink = MemorySink::new();
        let package = BatchPackager::new()
            .jobs(jobs)
            .limits(BatchLimits::default().with_max_part_size(1_000_000))
            .package(&key, invoices, &mut sink)
            .unwrap();
        (package, sink.into_parts())
    };
    let (one, one_parts) = package(1);
    assert!(one.parts.len() > 1);
    for jobs in [2, 3] {
        let (many, many_parts) = package(jobs);
        assert_eq!(many, one, "jobs = {jobs}");
        assert!(
            many_parts == one_parts,
            "jobs = {jobs}: the part bytes differ"
        );
    }
    let joined = join_and_verify(&key, &one, &one_parts, 1_000_000);
    let dir = TempDir::new();
    std::fs::write(dir.file("batch.zip"), &joined).unwrap();
    unzip(dir.path(), &["-tq", "batch.zip"]);
}

#[test]
fn an_invoice_that_changed_after_it_was_checked_is_refused() {
    let dir = TempDir::new();
    let path = dir.path().join("a.xml");
    let checked = invoice_content(3000, 7);
    std::fs::write(&path, &checked).unwrap();
    let checked_hash = file_metadata(&checked).sha256;
    let key = SessionKey::generate().unwrap();

    // Unchanged: packaged as checked.
    let invoice = BatchInvoice::from_path("a.xml", &path)
        .unwrap()
        .expect_sha256(checked_hash);
    let package = BatchPackager::new()
        .package(&key, vec![invoice], &mut MemorySink::new())
        .expect("the checked bytes are packaged");
    assert_eq!(package.invoices.len(), 1);

    // Same size, other bytes: refused, naming the file.
    let mut changed = checked.clone();
    changed[100] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let invoice = BatchInvoice::from_path("a.xml", &path)
        .unwrap()
        .expect_sha256(checked_hash);
    let error = BatchPackager::new()
        .package(&key, vec![invoice], &mut MemorySink::new())
        .expect_err("the changed file is refused");
    assert!(
        matches!(&error, Error::InvoiceChanged { file } if file == "a.xml"),
        "{error:?}"
    );
}
