//! Export unpacking: packages made like KSeF's (parts verified against the status's sizes and
//! hashes, `_metadata.json` typed as the spec's `InvoiceMetadata`), tampering, and archive bomb
//! guards.

mod common;

use std::io::Cursor;

use common::{invoice_content, names};
use ksef_crypto::{
    BatchInvoice, BatchLimits, BatchPackager, Error, ExpectedPart, ExportUnpacker, Limit,
    MemorySink, SessionKey, UnpackLimits, file_metadata,
};
use ksef_model::types::{
    BuyerIdentifierType, CompressionType, InvoicePackagePart, InvoicePackagePartParams,
};

/// What unpacking yields: the summary and the invoices' names and bytes.
type Unpacked = Result<(ksef_crypto::UnpackedExport, Vec<(String, Vec<u8>)>), Error>;

const METADATA_JSON: &str = r#"{"invoices":[{"ksefNumber":"5555555555-20250828-010080615740-E4","invoiceNumber":"FA/1","issueDate":"2025-08-27","invoicingDate":"2025-08-28T09:22:13.3881234+00:00","acquisitionDate":"2025-08-28T09:22:56.3881234+00:00","permanentStorageDate":"2025-08-28T09:23:01.388123+00:00","seller":{"nip":"5555555555","name":"Test Company 1"},"buyer":{"identifier":{"type":"Nip","value":"7352765225"},"name":"Test Company 4"},"netAmount":35260.63,"grossAmount":43370.57,"vatAmount":8109.94,"currency":"PLN","invoicingMode":"Offline","invoiceType":"Vat","formCode":{"systemCode":"FA (3)","schemaVersion":"1-0E","value":"FA"},"isSelfInvoicing":false,"hasAttachment":false,"invoiceHash":"mkht+3m5trnfxlTYhq3QFn74LkEO69MFNlsMAkCDSPA=","thirdSubjects":[{"identifier":{"type":"InternalId","value":"5555555555-12345"},"name":"Wystawca faktury","role":4}],"someFutureField":{"x":1}}],"anotherFutureField":true}"#;

/// An export package as KSeF would send it: the encrypted parts and what the status declares.
fn export_package(
    key: &SessionKey,
    compression_type: CompressionType,
    files: Vec<(String, Vec<u8>)>,
    max_part: u64,
) -> (Vec<ExpectedPart>, Vec<Vec<u8>>) {
    let invoices = files
        .into_iter()
        .map(|(n, c)| BatchInvoice::from_bytes(n, c));
    let mut sink = MemorySink::new();
    let package = BatchPackager::new()
        .compression_type(compression_type)
        .limits(
            BatchLimits::default()
                .with_max_part_size(max_part)
                .with_max_parts(10_000)
                .with_max_invoices(20_000),
        )
        .package(key, invoices, &mut sink)
        .unwrap();
    let expected = package
        .parts
        .iter()
        .map(|p| {
            // As an export's status lists the part.
            let listed = InvoicePackagePart::new(InvoicePackagePartParams {
                ordinal_number: p.ordinal_number as i32,
                part_name: format!("part-{}", p.ordinal_number),
                method: "GET".to_owned(),
                url: "https://example.invalid/part".to_owned(),
                part_size: p.plaintext.size as i64,
                part_hash: p.plaintext.sha256_base64().into(),
                encrypted_part_size: p.encrypted.size as i64,
                encrypted_part_hash: p.encrypted.sha256_base64().into(),
                expiration_date: "2030-01-01T00:00:00+00:00".parse().unwrap(),
            });
            let expected = ExpectedPart::from_package_part(&listed).unwrap();
            assert_eq!(
                expected,
                ExpectedPart::new(p.ordinal_number, p.encrypted).with_plaintext(p.plaintext)
            );
            expected
        })
        .collect();
    (expected, sink.into_parts())
}

fn unpack(
    unpacker: &ExportUnpacker,
    key: &SessionKey,
    expected: &[ExpectedPart],
    parts: &[Vec<u8>],
) -> Unpacked {
    let mut invoices = Vec::new();
    let unpacked = unpacker.unpack(
        key,
        expected
            .iter()
            .copied()
            .zip(parts.iter().map(|p| p.as_slice())),
        Cursor::new(Vec::new()),
        |invoice| {
            assert_eq!(invoice.metadata, file_metadata(&invoice.content));
            invoices.push((invoice.name, invoice.content));
            Ok(())
        },
    )?;
    Ok((unpacked, invoices))
}

#[test]
fn export_packages_unpack_with_verified_parts_and_typed_metadata() {
    for compression_type in [CompressionType::Zip, CompressionType::TarGz] {
        let key = SessionKey::generate().unwrap();
        let mut files: Vec<(String, Vec<u8>)> = names(12)
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, invoice_content(500 + i * 2_000, i as u64)))
            .collect();
        files.insert(
            5,
            (
                "_metadata.json".to_owned(),
                METADATA_JSON.as_bytes().to_vec(),
            ),
        );
        let (expected, parts) =
            export_package(&key, compression_type.clone(), files.clone(), 3_000);
        assert!(parts.len() > 3);
        let unpacker = ExportUnpacker::new().compression_type(compression_type);
        let (unpacked, invoices) = unpack(&unpacker, &key, &expected, &parts).unwrap();
        files.remove(5);
        assert_eq!(invoices, files);
        assert_eq!(unpacked.invoice_count, 12);
        let metadata = unpacked.metadata.unwrap();
        assert_eq!(metadata.invoices.len(), 1);
        let first = &metadata.invoices[0];
        assert_eq!(first.ksef_number, "5555555555-20250828-010080615740-E4");
        assert_eq!(first.buyer.identifier.r#type, BuyerIdentifierType::Nip);
        assert_eq!(first.form_code.system_code, "FA (3)");
        assert_eq!(first.issue_date.to_string(), "2025-08-27");
        assert!((first.gross_amount - 43370.57).abs() < 1e-9);

        // Tampering: a flipped byte, a truncated part, a wrong declared plaintext, bad order.
        let mut tampered = parts.clone();
        tampered[1][7] ^= 1;
        assert_mismatch(
            unpack(&unpacker, &key, &expected, &tampered),
            2,
            "encrypted hash",
        );
        let mut tampered = parts.clone();
        let len = tampered[2].len();
        tampered[2].truncate(len - 16);
        assert_mismatch(
            unpack(&unpacker, &key, &expected, &tampered),
            3,
            "encrypted size",
        );
        let mut tampered = parts.clone();
        tampered[0].extend_from_slice(&[0; 16]);
        assert_mismatch(
            unpack(&unpacker, &key, &expected, &tampered),
            1,
            "encrypted size",
        );
        let mut wrong = expected.clone();
        wrong[0] = ExpectedPart::new(1, wrong[0].encrypted).with_plaintext(file_metadata(b"other"));
        assert_mismatch(unpack(&unpacker, &key, &wrong, &parts), 1, "size");
        let mut swapped = expected.clone();
        swapped.swap(0, 1);
        match unpack(&unpacker, &key, &swapped, &parts) {
            Err(Error::PartOrder {
                expected: 1,
                actual: 2,
            }) => {}
            other => panic!("{other:?}"),
        }
        // A wrong key with the right hashes: the parts verify, decryption fails.
        let other_key = SessionKey::generate().unwrap();
        assert!(unpack(&unpacker, &other_key, &expected, &parts).is_err());
    }
}

/// A ZIP built with the zip crate directly (bypassing the packager's limits), split and
/// encrypted as an export.
fn raw_export(
    key: &SessionKey,
    build: impl FnOnce(&mut zip::ZipWriter<Cursor<Vec<u8>>>),
) -> (Vec<ExpectedPart>, Vec<Vec<u8>>) {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    build(&mut writer);
    let bytes = writer.finish().unwrap().into_inner();
    let mut expected = Vec::new();
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(50_000).enumerate() {
        let (encrypted, meta) = key.encrypt_to_vec(chunk);
        expected
            .push(ExpectedPart::new(i as u32 + 1, meta.ciphertext).with_plaintext(meta.plaintext));
        parts.push(encrypted);
    }
    (expected, parts)
}

/// Asserts that `result` is the `PartMismatch` of part `ordinal` in `what`.
fn assert_mismatch(result: Unpacked, ordinal: u32, what: &str) {
    match result {
        Err(Error::PartMismatch {
            ordinal_number,
            what: found,
            ..
        }) if ordinal_number == ordinal && found == what => {}
        other => panic!("expected a mismatch of part {ordinal} in {what}, got {other:?}"),
    }
}

fn unpack_limit(result: Unpacked) -> (Limit, Option<String>) {
    match result {
        Err(Error::LimitExceeded { limit, file, .. }) => (limit, file),
        Err(other) => panic!("expected a limit error, got {other:?}"),
        Ok(_) => panic!("expected a limit error, got success"),
    }
}

#[test]
fn zip_bombs_are_refused() {
    use std::io::Write as _;
    let key = SessionKey::generate().unwrap();
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let unpacker = ExportUnpacker::new();

    // An entry of a few KB expanding to 4 MB: over the entry size limit.
    let (expected, parts) = raw_export(&key, |zip| {
        zip.start_file("bomb.xml", deflated).unwrap();
        zip.write_all(&vec![0u8; 4_000_000]).unwrap();
    });
    assert!(parts.iter().map(Vec::len).sum::<usize>() < 10_000);
    assert_eq!(
        unpack_limit(unpack(&unpacker, &key, &expected, &parts)),
        (Limit::EntrySize, Some("bomb.xml".to_owned()))
    );

    // Within the size limit but compressed more than 1000:1.
    let (expected, parts) = raw_export(&key, |zip| {
        zip.start_file("dense.xml", deflated).unwrap();
        zip.write_all(&vec![b'a'; 2_900_000]).unwrap();
    });
    assert_eq!(
        unpack_limit(unpack(&unpacker, &key, &expected, &parts)),
        (Limit::CompressionRatio, Some("dense.xml".to_owned()))
    );

    // A big _metadata.json is fine up to its own limit.
    let (expected, parts) = raw_export(&key, |zip| {
        zip.start_file("_metadata.json", deflated).unwrap();
        write!(zip, "{{\"invoices\":[]{}}}", " ".repeat(900_000)).unwrap();
    });
    let (unpacked, _) = unpack(
        &ExportUnpacker::new().limits(UnpackLimits::default().with_max_ratio(1_000_000, 0)),
        &key,
        &expected,
        &parts,
    )
    .unwrap();
    assert_eq!(unpacked.metadata.unwrap().invoices.len(), 0);

    // Too many entries, and too much in total.
    let (expected, parts) = raw_export(&key, |zip| {
        for i in 0..30 {
            zip.start_file(format!("{i}.xml"), deflated).unwrap();
            zip.write_all(&[b'x'; 100]).unwrap();
        }
    });
    let limits = UnpackLimits::default().with_max_entries(29);
    assert_eq!(
        unpack_limit(unpack(
            &ExportUnpacker::new().limits(limits),
            &key,
            &expected,
            &parts
        )),
        (Limit::EntryCount, Some("29.xml".to_owned()))
    );
    let limits = UnpackLimits::default().with_max_total_size(2_950);
    assert_eq!(
        unpack_limit(unpack(
            &ExportUnpacker::new().limits(limits),
            &key,
            &expected,
            &parts
        )),
        (Limit::TotalUncompressedSize, Some("29.xml".to_owned()))
    );

    // Headers that lie: the central directory and local header claim 1,000 bytes, the entry
    // inflates to 4 MB. Reading is bounded (one byte past the limit at most) and refused.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("liar.xml", deflated).unwrap();
    writer.write_all(&vec![0u8; 4_000_000]).unwrap();
    let mut bytes = writer.finish().unwrap().into_inner();
    let patch = |bytes: &mut Vec<u8>, signature: [u8; 4], offset: usize| {
        let at = bytes.windows(4).position(|w| w == signature).unwrap();
        bytes[at + offset..at + offset + 4].copy_from_slice(&1_000u32.to_le_bytes());
    };
    patch(&mut bytes, [0x50, 0x4b, 0x03, 0x04], 22);
    patch(&mut bytes, [0x50, 0x4b, 0x01, 0x02], 24);
    let (encrypted, meta) = key.encrypt_to_vec(&bytes);
    let expected = [ExpectedPart::new(1, meta.ciphertext)];
    match unpack(&unpacker, &key, &expected, &[encrypted]) {
        Err(Error::LimitExceeded {
            limit: Limit::EntrySize,
            file,
            actual,
            max,
        }) => {
            assert_eq!(file.as_deref(), Some("liar.xml"));
            assert_eq!((actual, max), (3_000_001, 3_000_000));
        }
        // The zip reader notices the lie itself ("larger than its declared uncompressed size")
        // before our own bound does; either way the entry is refused, naming it.
        Err(Error::Archive { file, .. }) => assert_eq!(file.as_deref(), Some("liar.xml")),
        other => panic!("{:?}", other.map(|_| ())),
    }

    // Path traversal in an entry name.
    let (expected, parts) = raw_export(&key, |zip| {
        zip.start_file("../evil.xml", deflated).unwrap();
        zip.write_all(b"x").unwrap();
    });
    match unpack(&unpacker, &key, &expected, &parts) {
        Err(Error::InvalidFileName { name, .. }) => assert_eq!(name, "../evil.xml"),
        other => panic!("{:?}", other.map(|_| ())),
    }

    // tar.gz: the ratio of the whole stream.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::best(),
    ));
    let mut header = tar::Header::new_ustar();
    header.set_size(2_900_000);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "dense.xml", &vec![b'a'; 2_900_000][..])
        .unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    let (encrypted, meta) = key.encrypt_to_vec(&bytes);
    let expected = [ExpectedPart::new(1, meta.ciphertext)];
    assert_eq!(
        unpack_limit(unpack(
            &ExportUnpacker::new().compression_type(CompressionType::TarGz),
            &key,
            &expected,
            &[encrypted]
        )),
        (Limit::CompressionRatio, Some("dense.xml".to_owned()))
    );
}

#[test]
fn a_full_legal_export_is_accepted() {
    let key = SessionKey::generate().unwrap();
    let mut files: Vec<(String, Vec<u8>)> = names(10_000)
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n,
                format!("<Faktura><P_2>FA/{i}</P_2></Faktura>").into_bytes(),
            )
        })
        .collect();
    files.push(("_metadata.json".to_owned(), br#"{"invoices":[]}"#.to_vec()));
    let (expected, parts) = export_package(&key, CompressionType::Zip, files, 1_000_000);
    let (unpacked, invoices) = unpack(&ExportUnpacker::new(), &key, &expected, &parts).unwrap();
    assert_eq!(unpacked.invoice_count, 10_000);
    assert_eq!(invoices.len(), 10_000);
    assert!(unpacked.metadata.is_some());
}
