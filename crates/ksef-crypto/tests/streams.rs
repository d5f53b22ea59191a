//! Streaming AES-256-CBC: round trips through every adapter, chunking, metadata, and typed errors
//! for bad input.

mod common;

use std::io::{self, Read, Write};

use common::pseudo_random;
use ksef_crypto::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter, Error, SessionKey,
    file_metadata,
};
use proptest::prelude::*;

fn key(seed: u8) -> SessionKey {
    SessionKey::from_bytes([seed; 32], [seed.wrapping_add(1); 16])
}

/// Writes `data` to `writer` in pieces whose sizes cycle through `sizes`.
fn write_in_pieces<W: Write>(writer: &mut W, data: &[u8], sizes: &[usize]) {
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        writer.write_all(piece).unwrap();
        rest = tail;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn write_adapters_round_trip_with_arbitrary_chunks(
        len in 0usize..=1024 * 1024,
        seed in any::<u64>(),
        key_seed in any::<u8>(),
        sizes in proptest::collection::vec(1usize..=150_000, 1..6),
    ) {
        let key = key(key_seed);
        let plaintext = pseudo_random(len, seed);

        let mut writer = EncryptingWriter::new(Vec::new(), &key);
        write_in_pieces(&mut writer, &plaintext, &sizes);
        writer.flush().unwrap();
        let (ciphertext, metadata) = writer.finish().unwrap();

        prop_assert_eq!(ciphertext.len(), (len / 16 + 1) * 16);
        prop_assert_eq!(metadata.plaintext, file_metadata(&plaintext));
        prop_assert_eq!(metadata.ciphertext, file_metadata(&ciphertext));
        let (one_shot, one_shot_metadata) = key.encrypt_to_vec(&plaintext);
        prop_assert!(one_shot == ciphertext);
        prop_assert_eq!(one_shot_metadata, metadata);

        let mut reversed: Vec<usize> = sizes.clone();
        reversed.reverse();
        let mut writer = DecryptingWriter::new(Vec::new(), &key);
        write_in_pieces(&mut writer, &ciphertext, &reversed);
        let (decrypted, decrypted_metadata) = writer.finish().unwrap();
        prop_assert!(decrypted == plaintext);
        prop_assert_eq!(decrypted_metadata, metadata);
    }
}

/// A reader that hands out at most `max` bytes per call and is interrupted every third call.
struct Trickle<'a> {
    data: &'a [u8],
    max: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = self.data.len().min(self.max).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A writer that takes at most `max` bytes per call and is interrupted every third call.
struct Sip {
    data: Vec<u8>,
    max: usize,
    calls: usize,
}

impl Write for Sip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = buf.len().min(self.max);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn read_adapters_round_trip_through_small_and_interrupted_reads() {
    let key = key(3);
    for (len, max) in [
        (0, 1),
        (1, 1),
        (15, 4),
        (16, 16),
        (100_000, 7),
        (300_001, 70_000),
    ] {
        let plaintext = pseudo_random(len, len as u64);
        let (expected, metadata) = key.encrypt_to_vec(&plaintext);

        let source = Trickle {
            data: &plaintext,
            max,
            calls: 0,
        };
        let mut reader = EncryptingReader::new(source, &key);
        assert_eq!(reader.metadata(), None);
        let mut ciphertext = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match reader.read(&mut buf[..(max % 999) + 1]) {
                Ok(0) => break,
                Ok(n) => ciphertext.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ciphertext, expected, "len {len}");
        assert_eq!(reader.metadata(), Some(metadata));
        assert_eq!(reader.read(&mut buf).unwrap(), 0);

        let source = Trickle {
            data: &ciphertext,
            max,
            calls: 0,
        };
        let mut reader = DecryptingReader::new(source, &key);
        let mut decrypted = Vec::new();
        reader.read_to_end(&mut decrypted).unwrap();
        assert_eq!(decrypted, plaintext);
        assert_eq!(reader.metadata(), Some(metadata));
        assert!(reader.into_inner().data.is_empty());
    }
}

#[test]
fn writers_cope_with_short_and_interrupted_writes() {
    let key = key(4);
    let plaintext = pseudo_random(200_000, 9);
    let mut writer = EncryptingWriter::new(
        Sip {
            data: Vec::new(),
            max: 1000,
            calls: 0,
        },
        &key,
    );
    write_in_pieces(&mut writer, &plaintext, &[100_000, 3, 5000]);
    let (sink, metadata) = writer.finish().unwrap();
    assert_eq!(sink.data, key.encrypt_to_vec(&plaintext).0);

    let mut writer = DecryptingWriter::new(
        Sip {
            data: Vec::new(),
            max: 17,
            calls: 0,
        },
        &key,
    );
    write_in_pieces(&mut writer, &sink.data, &[65_537]);
    let (sink, decrypted_metadata) = writer.finish().unwrap();
    assert_eq!(sink.data, plaintext);
    assert_eq!(decrypted_metadata, metadata);
}

/// A writer whose inner sink fails.
#[derive(Debug)]
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn inner_io_errors_surface_as_typed_errors() {
    let mut writer = EncryptingWriter::new(Broken, &key(5));
    // The first write only buffers; the failure shows on the next call or on finish.
    assert_eq!(writer.write(&[0; 100]).unwrap(), 100);
    let err = writer.write(&[0; 100]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    match writer.finish() {
        Err(Error::Io { source }) => assert_eq!(source.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("unexpected {other:?}"),
    }
}

fn decrypt_everywhere(key: &SessionKey, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
    let one_shot = key.decrypt_to_vec(ciphertext).map(|(p, _)| p);

    let mut writer = DecryptingWriter::new(Vec::new(), key);
    writer.write_all(ciphertext).unwrap();
    let via_writer = writer.finish().map(|(p, _)| p);

    let mut reader = DecryptingReader::new(ciphertext, key);
    let mut out = Vec::new();
    let via_reader = match reader.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let inner = e.into_inner().unwrap().downcast::<Error>().unwrap();
            Err(*inner)
        }
    };
    // A second read after a failure fails again rather than looking like a clean end.
    if via_reader.is_err() {
        assert!(reader.read(&mut [0; 16]).is_err());
    }

    // All three agree on the outcome.
    match (&one_shot, &via_writer, &via_reader) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(a.to_string(), b.to_string());
            assert_eq!(a.to_string(), c.to_string());
        }
        _ => panic!("adapters disagree: {one_shot:?} / {via_writer:?} / {via_reader:?}"),
    }
    one_shot
}

#[test]
fn truncated_input_is_a_typed_error() {
    let key = key(6);
    assert!(matches!(
        decrypt_everywhere(&key, &[]),
        Err(Error::TruncatedCiphertext { len: 0 })
    ));
    let (ciphertext, _) = key.encrypt_to_vec(&pseudo_random(100, 1));
    assert_eq!(ciphertext.len(), 112);
    for cut in 1..16 {
        let truncated = &ciphertext[..ciphertext.len() - cut];
        match decrypt_everywhere(&key, truncated) {
            Err(Error::TruncatedCiphertext { len }) => assert_eq!(len, truncated.len() as u64),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn wrong_key_or_iv_is_detected_through_the_padding() {
    let plaintext = pseudo_random(5000, 2);
    let right = key(7);
    let (ciphertext, _) = right.encrypt_to_vec(&plaintext);
    let mut rejected = 0;
    for seed in 0..=255u8 {
        if seed == 7 {
            continue;
        }
        // CBC has no integrity check: a wrong key yields valid-looking padding about once in
        // 256 tries; then the plaintext is garbage.
        match decrypt_everywhere(&key(seed), &ciphertext) {
            Err(Error::InvalidPadding { len }) => {
                assert_eq!(len, ciphertext.len() as u64);
                rejected += 1;
            }
            Ok(garbage) => assert_ne!(garbage, plaintext),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(
        rejected >= 240,
        "only {rejected} of 255 wrong keys rejected"
    );
    // Same key, wrong IV: only the first block is garbled, the padding still checks out.
    let wrong_iv = SessionKey::from_bytes(*right.key(), [0; 16]);
    let garbled = decrypt_everywhere(&wrong_iv, &ciphertext).unwrap();
    assert_ne!(garbled[..16], plaintext[..16]);
    assert_eq!(garbled[16..], plaintext[16..]);
    // Flipping a bit in the last block breaks the padding.
    let mut damaged = ciphertext.clone();
    let last = damaged.len() - 17;
    damaged[last] ^= 0x01;
    assert!(matches!(
        decrypt_everywhere(&right, &damaged),
        Err(Error::InvalidPadding { .. })
    ));
}

#[test]
fn garbage_input_never_panics() {
    let key = key(8);
    for len in 0..300 {
        let garbage = pseudo_random(len, len as u64 + 1000);
        match decrypt_everywhere(&key, &garbage) {
            Ok(_) | Err(Error::InvalidPadding { .. }) => assert!(len > 0 && len.is_multiple_of(16)),
            Err(Error::TruncatedCiphertext { .. }) => assert!(len == 0 || !len.is_multiple_of(16)),
            Err(other) => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn errors_and_debug_output_reveal_no_secrets() {
    let key = SessionKey::from_bytes([0x5a; 32], [0xa5; 16]);
    let writer = EncryptingWriter::new(Vec::new(), &key);
    let text = format!("{key:?} {writer:?}");
    assert!(
        !text.contains("90") && !text.contains("5a") && !text.contains("165"),
        "{text}"
    );
    let err = key.decrypt_to_vec(&[1; 32]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("32 bytes"), "{message}");
    assert!(!message.contains("5a"), "{message}");
    let io_err: io::Error = err.into();
    assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
}

#[cfg(feature = "tokio")]
mod async_adapters {
    use super::*;
    use ksef_crypto::{
        AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
    };
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn async_adapters_round_trip() {
        let key = key(9);
        for len in [0usize, 1, 16, 65_535, 65_536, 65_537, 400_000] {
            let plaintext = pseudo_random(len, len as u64 + 7);
            let (expected, metadata) = key.encrypt_to_vec(&plaintext);

            let mut writer = AsyncEncryptingWriter::new(Vec::new(), &key);
            for piece in plaintext.chunks(10_000) {
                writer.write_all(piece).await.unwrap();
            }
            assert_eq!(writer.metadata(), None);
            writer.shutdown().await.unwrap();
            assert_eq!(writer.metadata(), Some(metadata));
            // A second shutdown is harmless.
            writer.shutdown().await.unwrap();
            assert_eq!(writer.into_inner(), expected);

            let mut reader = AsyncEncryptingReader::new(plaintext.as_slice(), &key);
            let mut ciphertext = Vec::new();
            reader.read_to_end(&mut ciphertext).await.unwrap();
            assert_eq!(ciphertext, expected);
            assert_eq!(reader.metadata(), Some(metadata));

            let mut reader = AsyncDecryptingReader::new(ciphertext.as_slice(), &key);
            let mut decrypted = Vec::new();
            reader.read_to_end(&mut decrypted).await.unwrap();
            assert_eq!(decrypted, plaintext);
            assert_eq!(reader.metadata(), Some(metadata));

            let mut writer = AsyncDecryptingWriter::new(Vec::new(), &key);
            writer.write_all(&ciphertext).await.unwrap();
            writer.shutdown().await.unwrap();
            assert_eq!(writer.metadata(), Some(metadata));
            assert_eq!(writer.into_inner(), plaintext);
        }
    }

    #[tokio::test]
    async fn async_adapters_through_a_small_pipe() {
        // A 1 KiB duplex pipe makes the adapters wait on their inner streams.
        let key = key(10);
        let plaintext = pseudo_random(300_000, 11);
        let (client, server) = tokio::io::duplex(1024);
        let mut writer = AsyncEncryptingWriter::new(client, &key);
        let mut reader = AsyncDecryptingReader::new(server, &key);
        let write = async {
            for piece in plaintext.chunks(70_000) {
                writer.write_all(piece).await.unwrap();
            }
            writer.shutdown().await.unwrap();
            writer.metadata().unwrap()
        };
        let read = async {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).await.unwrap();
            (out, reader.metadata().unwrap())
        };
        let (written, (decrypted, read_metadata)) = tokio::join!(write, read);
        assert_eq!(decrypted, plaintext);
        assert_eq!(written, read_metadata);
        assert_eq!(written.plaintext, file_metadata(&plaintext));
    }

    #[tokio::test]
    async fn async_decryption_errors_are_typed() {
        let key = key(12);
        let (ciphertext, _) = key.encrypt_to_vec(b"hello");

        let mut writer = AsyncDecryptingWriter::new(Vec::new(), &key);
        writer.write_all(&ciphertext[..15]).await.unwrap();
        let err = writer.shutdown().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let inner = err.get_ref().unwrap().downcast_ref::<Error>().unwrap();
        assert!(matches!(inner, Error::TruncatedCiphertext { len: 15 }));
        assert!(writer.shutdown().await.is_err());
        assert_eq!(writer.metadata(), None);

        let mut reader = AsyncDecryptingReader::new(&ciphertext[..], &super::key(13));
        let err = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        let inner = err.get_ref().unwrap().downcast_ref::<Error>().unwrap();
        assert!(matches!(inner, Error::InvalidPadding { len: 16 }));
    }
}
