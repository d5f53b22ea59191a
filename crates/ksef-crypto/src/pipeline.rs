//! Decryption of a whole stream on two threads.
//!
//! Verifying and decrypting an export part costs two SHA-256 passes (ciphertext and plaintext)
//! and one AES-256-CBC pass. On one thread that is the sum of the three; here a scoped worker
//! thread hashes the ciphertext and decrypts it (CBC decryption needs only ciphertext, and the
//! `cbc` crate decrypts several blocks at once with AES-NI), while the calling thread reads,
//! hashes the plaintext and writes it. Chunks travel between the two in order through bounded
//! channels, so memory stays at a few chunks whatever the stream's length, and neither the reader
//! nor the writer has to be `Send`.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread;

use aes::cipher::KeyIvInit as _;

use crate::engine::{BLOCK, DecryptFailure, decrypt_in_place, unpadded_len};
use crate::error::Result;
use crate::metadata::{EncryptionMetadata, FileHasher, FileMetadata};
use crate::session_key::SessionKey;

/// Bytes per chunk: a multiple of the block size, small enough to stay in a core's cache.
const CHUNK: usize = 64 * 1024;

/// Chunks in flight between the two threads at most.
const DEPTH: usize = 4;

impl SessionKey {
    /// Decrypts all of `reader` (AES-256-CBC/PKCS#7 ciphertext, no IV prefix) into `writer` and
    /// returns the metadata of both sides, using a second thread for the ciphertext's hash and the
    /// decryption.
    ///
    /// This is the fast path for a whole stream at hand (a downloaded export part, a file); the
    /// [`DecryptingWriter`](crate::DecryptingWriter) and
    /// [`DecryptingReader`](crate::DecryptingReader) adapters do the same work on the caller's
    /// thread when the data arrives piece by piece. As with them, the plaintext is written as it
    /// is decrypted, before the padding at the end is checked.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if reading or writing fails;
    /// [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) if the length is zero or
    /// not a multiple of 16; [`Error::InvalidPadding`](crate::Error::InvalidPadding) if the padding
    /// is wrong (usually a wrong key or IV).
    ///
    /// # Example
    ///
    /// ```
    /// use ksef_crypto::SessionKey;
    ///
    /// let key = SessionKey::generate()?;
    /// let (ciphertext, sent) = key.encrypt_to_vec(b"<Faktura/>");
    /// let mut plaintext = Vec::new();
    /// let received = key.decrypt_stream(&ciphertext[..], &mut plaintext)?;
    /// assert_eq!(plaintext, b"<Faktura/>");
    /// assert_eq!(received, sent);
    /// # Ok::<(), ksef_crypto::Error>(())
    /// ```
    pub fn decrypt_stream<R: Read, W: Write>(
        &self,
        reader: R,
        writer: W,
    ) -> Result<EncryptionMetadata> {
        let outcome = decrypt_pipelined(self, reader, writer, None)?;
        Ok(EncryptionMetadata {
            plaintext: outcome.plaintext?,
            ciphertext: outcome.ciphertext,
        })
    }
}

/// What [`decrypt_pipelined`] learnt: the ciphertext's metadata always (so a caller can compare
/// it with what was declared before it reports a padding failure), the plaintext's when the
/// padding was valid.
pub(crate) struct Outcome {
    pub(crate) ciphertext: FileMetadata,
    pub(crate) plaintext: std::result::Result<FileMetadata, DecryptFailure>,
}

/// Decrypts `reader` into `writer` on two threads; `also` (if given) is fed the plaintext too,
/// for a hash over several streams.
pub(crate) fn decrypt_pipelined<R: Read, W: Write>(
    key: &SessionKey,
    mut reader: R,
    mut writer: W,
    mut also: Option<&mut FileHasher>,
) -> io::Result<Outcome> {
    let mode = cbc::Decryptor::<aes::Aes256>::new(key.key().into(), key.iv().into());
    thread::scope(|scope| {
        let (to_worker, work) = mpsc::sync_channel::<(Vec<u8>, usize)>(DEPTH);
        let (to_caller, done) = mpsc::sync_channel::<(Vec<u8>, usize)>(DEPTH);
        let worker = scope.spawn(move || {
            let mut mode = mode;
            let mut ciphertext = FileHasher::new();
            for (mut chunk, len) in work {
                ciphertext.update(&chunk[..len]);
                // Only the last chunk can end in a partial block; it is reported as truncated.
                let whole = len - len % BLOCK;
                decrypt_in_place(&mut mode, &mut chunk[..whole]);
                if to_caller.send((chunk, len)).is_err() {
                    break;
                }
            }
            ciphertext.finish()
        });

        let mut plaintext = FileHasher::new();
        let mut emit = |bytes: &[u8], writer: &mut W| -> io::Result<()> {
            writer.write_all(bytes)?;
            plaintext.update(bytes);
            if let Some(also) = also.as_deref_mut() {
                also.update(bytes);
            }
            Ok(())
        };
        // The last decrypted block is held back until the next chunk shows it was not the last.
        let mut tail = [0_u8; BLOCK];
        let mut held = false;
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let (mut in_flight, mut eof) = (0, false);
        loop {
            while !eof && in_flight < DEPTH {
                let mut chunk = spare.pop().unwrap_or_else(|| vec![0; CHUNK]);
                let len = read_full(&mut reader, &mut chunk)?;
                eof = len < CHUNK;
                if len == 0 {
                    break;
                }
                // The worker ends only when this sender is dropped, so it is still receiving.
                to_worker
                    .send((chunk, len))
                    .map_err(|_| io::Error::other("the decryption thread stopped"))?;
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            let (chunk, len) = done
                .recv()
                .map_err(|_| io::Error::other("the decryption thread stopped"))?;
            in_flight -= 1;
            let whole = len - len % BLOCK;
            if whole > 0 {
                if held {
                    emit(&tail, &mut writer)?;
                }
                emit(&chunk[..whole - BLOCK], &mut writer)?;
                tail.copy_from_slice(&chunk[whole - BLOCK..whole]);
                held = true;
            }
            spare.push(chunk);
        }
        drop(to_worker);
        let ciphertext = worker
            .join()
            .map_err(|_| io::Error::other("the decryption thread panicked"))?;
        let len = ciphertext.size;
        let plaintext = if len == 0 || !len.is_multiple_of(BLOCK as u64) || !held {
            Err(DecryptFailure::Truncated { len })
        } else if let Some(data_len) = unpadded_len(&tail) {
            emit(&tail[..data_len], &mut writer)?;
            writer.flush()?;
            Ok(plaintext.finish())
        } else {
            Err(DecryptFailure::Padding { len })
        };
        Ok(Outcome {
            ciphertext,
            plaintext,
        })
    })
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn key() -> SessionKey {
        SessionKey::from_slices(&[7; 32], &[9; 16]).unwrap()
    }

    /// A reader handing out at most `step` bytes per call, to cross chunk edges unevenly.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn equals_the_one_thread_decryption_across_chunk_edges() {
        let key = key();
        // Lengths around the chunk size and the whole pipeline's depth.
        for len in [
            0,
            1,
            15,
            16,
            CHUNK - 16,
            CHUNK - 1,
            CHUNK,
            CHUNK + 5,
            DEPTH * CHUNK + 17,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (ciphertext, sent) = key.encrypt_to_vec(&plain);
            for step in [usize::MAX, 4099] {
                let mut out = Vec::new();
                let reader = Trickle {
                    bytes: &ciphertext,
                    step,
                };
                let got = key.decrypt_stream(reader, &mut out).unwrap();
                assert_eq!(out, plain, "len {len}, step {step}");
                assert_eq!(got, sent, "len {len}, step {step}");
            }
        }
    }

    #[test]
    fn bad_lengths_and_padding_are_the_typed_errors() {
        let key = key();
        let (ciphertext, _) = key.encrypt_to_vec(&vec![1; CHUNK + 40]);
        for cut in [0, 1, 16 * 3 + 7, ciphertext.len() - 1] {
            let error = key
                .decrypt_stream(&ciphertext[..cut], io::sink())
                .unwrap_err();
            assert!(
                matches!(error, Error::TruncatedCiphertext { len } if len == cut as u64),
                "cut {cut}: {error:?}"
            );
        }
        let other = SessionKey::from_slices(&[8; 32], &[9; 16]).unwrap();
        // A wrong key leaves valid padding about once in 256 tries; this key and data do not.
        let error = other
            .decrypt_stream(&ciphertext[..], io::sink())
            .unwrap_err();
        assert!(matches!(error, Error::InvalidPadding { .. }), "{error:?}");
        // The ciphertext's metadata is known even when the padding is not valid.
        let outcome = decrypt_pipelined(&other, &ciphertext[..], io::sink(), None).unwrap();
        assert_eq!(outcome.ciphertext, crate::file_metadata(&ciphertext));
    }

    #[test]
    fn a_failing_writer_stops_both_threads_with_its_error() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let key = key();
        let (ciphertext, _) = key.encrypt_to_vec(&vec![3; 10 * CHUNK]);
        let error = key
            .decrypt_stream(&ciphertext[..], Full(CHUNK + 100))
            .unwrap_err();
        match error {
            Error::Io { source } => assert_eq!(source.kind(), io::ErrorKind::StorageFull),
            other => panic!("{other:?}"),
        }
    }
}
