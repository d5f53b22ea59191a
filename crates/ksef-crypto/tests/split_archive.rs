//! Splitting an existing archive into encrypted parts (`ArchiveSplitter`): round trips, metadata
//! against independent computation, and `openssl enc -d` on the part files (replayed from the
//! golden file by default, on a fixed session key: `common`).

mod common;

use std::io::{self, Read};

use common::{TempDir, fixed_session_key, hex, openssl, openssl_sha256, pseudo_random};
use ksef_crypto::{
    ArchiveSplitter, BatchLimits, DirectorySink, Error, Limit, MemorySink, SessionKey,
    SplitArchive, file_metadata,
};
use proptest::prelude::*;

/// A reader that hands out at most `step` bytes per `read`, to cross every boundary.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Checks every declared figure against a recomputation, decrypts and joins the parts.
fn verify(
    key: &SessionKey,
    archive: &[u8],
    split: &SplitArchive,
    parts: &[Vec<u8>],
    max_part: u64,
) {
    assert_eq!(split.archive, file_metadata(archive));
    assert_eq!(split.parts.len(), parts.len());
    assert_eq!(
        parts.len() as u64,
        (archive.len() as u64).div_ceil(max_part),
        "as few parts as the limit allows"
    );
    let mut joined = Vec::with_capacity(archive.len());
    for (i, (part, bytes)) in split.parts.iter().zip(parts).enumerate() {
        assert_eq!(part.ordinal_number as usize, i + 1);
        assert_eq!(part.encrypted, file_metadata(bytes));
        let (plain, _) = key.decrypt_to_vec(bytes).unwrap();
        assert_eq!(part.plaintext_size, plain.len() as u64);
        if i + 1 < parts.len() {
            assert_eq!(
                plain.len() as u64,
                max_part,
                "every part but the last is full"
            );
        } else {
            assert!(!plain.is_empty() && plain.len() as u64 <= max_part);
        }
        joined.extend_from_slice(&plain);
    }
    assert!(joined == archive, "decrypted and joined parts differ");
}

fn split_in_memory(
    key: &SessionKey,
    reader: impl Read + Send,
    max_part: u64,
) -> Result<(SplitArchive, Vec<Vec<u8>>), Error> {
    let mut sink = MemorySink::new();
    let split = ArchiveSplitter::new()
        .limits(
            BatchLimits::default()
                .with_max_part_size(max_part)
                .with_max_parts(10_000),
        )
        .split(key, reader, &mut sink)?;
    Ok((split, sink.into_parts()))
}

#[test]
fn round_trips_across_buffer_and_part_boundaries() {
    let key = SessionKey::generate().unwrap();
    // 9 MiB and a few bytes: more than two of the splitter's 4 MiB read buffers.
    let archive = pseudo_random((9 << 20) + 5, 11);
    for max_part in [
        3_000_001,            // not a multiple of 16: blocks straddle buffers and parts
        4 << 20,              // parts and buffers aligned
        (4 << 20) + 1,        // a part one byte longer than a buffer
        100_000_000,          // KSeF's limit: one part
        archive.len() as u64, // exactly one full part
    ] {
        let (split, parts) = split_in_memory(&key, archive.as_slice(), max_part).unwrap();
        verify(&key, &archive, &split, &parts, max_part);
    }
    // Short reads from the source.
    let (split, parts) = split_in_memory(
        &key,
        Trickle {
            data: &archive[..300_007],
            step: 4099,
        },
        65_537,
    )
    .unwrap();
    verify(&key, &archive[..300_007], &split, &parts, 65_537);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_for_any_sizes(
        len in 1usize..5000,
        max_part in 1u64..2000,
        step in 1usize..700,
        seed in any::<u64>(),
    ) {
        let key = SessionKey::from_bytes([seed as u8; 32], [(seed >> 8) as u8; 16]);
        let archive = pseudo_random(len, seed);
        let (split, parts) = split_in_memory(
            &key,
            Trickle { data: &archive, step },
            max_part,
        )
        .unwrap();
        verify(&key, &archive, &split, &parts, max_part);
    }
}

#[test]
fn openssl_decrypts_the_part_files_and_hashes_agree() {
    let dir = TempDir::new();
    let key = fixed_session_key(5);
    let archive = pseudo_random(2_500_003, 5);
    let archive_path = dir.file("batch.zip");
    std::fs::write(&archive_path, &archive).unwrap();
    let out = dir.file("parts");
    std::fs::create_dir(&out).unwrap();
    let max_part = 1_000_000;
    let mut sink = DirectorySink::new(&out);
    let split = ArchiveSplitter::new()
        .limits(BatchLimits::default().with_max_part_size(max_part))
        .split_file(&key, &archive_path, &mut sink)
        .unwrap();
    assert_eq!(sink.paths().len(), 3);
    let sha256 = |path: &std::path::Path| -> Vec<u8> {
        let path = path.to_str().unwrap();
        openssl(dir.path(), &["dgst", "-sha256", "-binary", path], b"")
    };
    assert_eq!(split.archive.size, archive.len() as u64);
    assert_eq!(sha256(&archive_path), split.archive.sha256);
    let key_hex = hex(key.key());
    let iv_hex = hex(key.iv());
    let mut joined = Vec::new();
    for (part, path) in split.parts.iter().zip(sink.paths()) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(part.encrypted.size, bytes.len() as u64);
        assert_eq!(sha256(path), part.encrypted.sha256);
        let theirs = openssl_sha256(
            dir.path(),
            &["enc", "-d", "-aes-256-cbc", "-K", &key_hex, "-iv", &iv_hex],
            &bytes,
        );
        // Hashes equal: `plain` is openssl's decryption, byte for byte.
        let (plain, _) = key.decrypt_to_vec(&bytes).unwrap();
        assert_eq!(ksef_oracle::sha256_hex(&plain), theirs);
        assert_eq!(part.plaintext_size, plain.len() as u64);
        joined.extend_from_slice(&plain);
    }
    assert!(joined == archive);
}

fn limit_of(result: Result<SplitArchive, Error>) -> Limit {
    match result {
        Err(Error::LimitExceeded { limit, .. }) => limit,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn limits_and_failures_give_typed_errors() {
    let dir = TempDir::new();
    let key = SessionKey::generate().unwrap();
    let archive = pseudo_random(10_000, 3);
    let path = dir.file("a.zip");
    std::fs::write(&path, &archive).unwrap();
    let splitter = |limits: BatchLimits| ArchiveSplitter::new().limits(limits);

    // From a file: refused before any part is created.
    let mut sink = DirectorySink::new(dir.path());
    let limits = BatchLimits::default()
        .with_max_part_size(1000)
        .with_max_parts(9);
    assert_eq!(
        limit_of(splitter(limits).split_file(&key, &path, &mut sink)),
        Limit::PartCount
    );
    assert!(sink.paths().is_empty());
    let limits = BatchLimits::default().with_max_archive_size(9_999);
    assert_eq!(
        limit_of(splitter(limits).split_file(&key, &path, &mut sink)),
        Limit::ArchiveSize
    );
    assert!(sink.paths().is_empty());

    // From a reader: refused as soon as the archive outgrows the limit.
    let limits = BatchLimits::default()
        .with_max_part_size(1000)
        .with_max_parts(9);
    let mut memory = MemorySink::new();
    assert_eq!(
        limit_of(splitter(limits).split(&key, archive.as_slice(), &mut memory)),
        Limit::PartCount
    );
    assert_eq!(memory.parts().len(), 9);
    let limits = BatchLimits::default().with_max_archive_size(9_999);
    assert_eq!(
        limit_of(splitter(limits).split(&key, archive.as_slice(), MemorySink::new())),
        Limit::ArchiveSize
    );
    // Exactly at the limits is fine.
    let limits = BatchLimits::default()
        .with_max_part_size(1000)
        .with_max_parts(10)
        .with_max_archive_size(10_000);
    let split = splitter(limits)
        .split(&key, archive.as_slice(), MemorySink::new())
        .unwrap();
    assert_eq!(split.parts.len(), 10);

    // An empty archive is refused.
    assert!(matches!(
        ArchiveSplitter::new().split(&key, io::empty(), MemorySink::new()),
        Err(Error::Archive { .. })
    ));

    // A failing reader's error comes back as it was.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
            }
            let n = self.0.min(buf.len()).min(1000);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }
    match ArchiveSplitter::new().split(&key, Failing(5000), MemorySink::new()) {
        Err(Error::Io { source }) => assert_eq!(source.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
