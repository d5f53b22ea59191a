//! Invoice export packages (`ksef_crypto::ExportUnpacker`) with a fixed session key.
//!
//! Input layout: one flag byte, then the data. Flag bit 0 picks the archive format (ZIP or
//! tar.gz); bit 1 says what the data is: clear, the decrypted archive (encrypted here, part by
//! part, so unpacking reaches the archive code); set, the encrypted parts themselves (declared
//! with their real sizes and hashes, so unpacking reaches the decryption). Bits 2-3 give the
//! number of parts (1-4); bit 4 also declares each part's plaintext size and hash.
//!
//! Invariants:
//! - an unpacked archive's size and hash are those of the decrypted bytes, and every invoice
//!   handed out carries the size and hash of its own content, under a safe, unique flat file name
//!   within the limits; the invoice count is the number handed out;
//! - for decrypted archives, the outcome does not depend on how the archive is cut into parts:
//!   one part and several give the same result and the same invoices;
//! - for encrypted parts, unpacking succeeds only when every part decrypts on its own.
#![no_main]

use std::collections::HashSet;
use std::io::Cursor;

use ksef_crypto::{
    ExpectedPart, ExportUnpacker, ExportedInvoice, SessionKey, UnpackLimits, UnpackedExport,
    file_metadata,
};
use ksef_model::types::CompressionType;
use libfuzzer_sys::fuzz_target;

/// Bounds that keep one run small: 1 MiB per entry, 4 MiB in all.
fn limits() -> UnpackLimits {
    let mut limits = UnpackLimits::default()
        .with_max_entries(64)
        .with_max_entry_size(1 << 20)
        .with_max_total_size(4 << 20);
    limits.max_metadata_size = 1 << 20;
    limits
}

fn key() -> SessionKey {
    SessionKey::from_bytes([0x42; 32], [0x24; 16])
}

/// Cuts `data` into `n` consecutive pieces (the last ones may be empty).
fn cut(data: &[u8], n: usize) -> Vec<&[u8]> {
    let step = data.len().div_ceil(n).max(1);
    let mut pieces: Vec<&[u8]> = data.chunks(step).collect();
    while pieces.len() < n {
        pieces.push(&[]);
    }
    pieces
}

type Outcome = Result<(UnpackedExport, Vec<ExportedInvoice>), String>;

fn unpack(compression: CompressionType, parts: Vec<(ExpectedPart, Vec<u8>)>) -> Outcome {
    let limits = limits();
    let mut invoices = Vec::new();
    let unpacked = ExportUnpacker::new()
        .compression_type(compression)
        .limits(limits)
        .unpack(
            &key(),
            parts
                .into_iter()
                .map(|(expected, bytes)| (expected, Cursor::new(bytes))),
            Cursor::new(Vec::new()),
            |invoice| {
                invoices.push(invoice);
                Ok(())
            },
        )
        .map_err(|err| err.to_string())?;
    assert_eq!(unpacked.invoice_count, invoices.len() as u64);
    let mut names = HashSet::new();
    for invoice in &invoices {
        assert_eq!(invoice.metadata, file_metadata(&invoice.content));
        assert!(invoice.content.len() as u64 <= limits.max_entry_size);
        let name = invoice.name.as_str();
        assert!(!name.is_empty() && name.len() <= 255, "{name:?}");
        assert!(name != "." && name != "..", "{name:?}");
        assert!(!name.contains(['/', '\\']), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(names.insert(name.to_owned()), "duplicate {name:?}");
    }
    Ok((unpacked, invoices))
}

/// Encrypts each piece of the decrypted archive as its own part, declaring its metadata.
fn encrypted_parts(pieces: &[&[u8]], with_plaintext: bool) -> Vec<(ExpectedPart, Vec<u8>)> {
    pieces
        .iter()
        .zip(1..)
        .map(|(piece, ordinal)| {
            let (ciphertext, metadata) = key().encrypt_to_vec(piece);
            let mut expected = ExpectedPart::new(ordinal, metadata.ciphertext);
            if with_plaintext {
                expected = expected.with_plaintext(metadata.plaintext);
            }
            (expected, ciphertext)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let compression = if flags & 1 == 0 {
        CompressionType::Zip
    } else {
        CompressionType::TarGz
    };
    let raw = flags & 2 != 0;
    let n = usize::from((flags >> 2) & 3) + 1;
    let with_plaintext = flags & 16 != 0;

    if raw {
        let pieces = cut(data, n);
        let parts = pieces
            .iter()
            .zip(1..)
            .map(|(piece, ordinal)| {
                (
                    ExpectedPart::new(ordinal, file_metadata(piece)),
                    piece.to_vec(),
                )
            })
            .collect();
        let outcome = unpack(compression.clone(), parts);
        if let Ok((unpacked, _)) = outcome {
            let mut archive = Vec::new();
            for piece in &pieces {
                let (plaintext, _) = key()
                    .decrypt_to_vec(piece)
                    .expect("unpacking succeeded, so every part decrypts");
                archive.extend_from_slice(&plaintext);
            }
            assert_eq!(unpacked.archive, file_metadata(&archive));
        }
        return;
    }

    let whole = unpack(compression.clone(), encrypted_parts(&[data], with_plaintext));
    if let Ok((unpacked, _)) = &whole {
        assert_eq!(unpacked.archive, file_metadata(data));
    }
    if n > 1 {
        let split = unpack(compression.clone(), encrypted_parts(&cut(data, n), with_plaintext));
        match (&whole, &split) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the parts changed the outcome"),
            (Err(a), Err(b)) => assert_eq!(a, b, "the parts changed the error"),
            _ => panic!(
                "one part: {:?}\n{n} parts: {:?}",
                whole.as_ref().err(),
                split.as_ref().err()
            ),
        }
    }
});
