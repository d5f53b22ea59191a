//! Streaming AES-256-CBC adapters over `std::io`, and the one-shot conveniences.

use std::io::{self, Read, Write};

use crate::engine::{CHUNK, Decryptor, Encryptor, Engine, Pipe};
use crate::error::Result;
use crate::metadata::EncryptionMetadata;
use crate::session_key::SessionKey;

impl SessionKey {
    /// Encrypts `plaintext` in one go: the raw AES-256-CBC/PKCS#7 ciphertext (no IV prefix) and the
    /// metadata of both sides.
    pub fn encrypt_to_vec(&self, plaintext: &[u8]) -> (Vec<u8>, EncryptionMetadata) {
        let mut out = Vec::with_capacity((plaintext.len() / 16 + 1) * 16);
        let mut encryptor = Encryptor::new(self);
        encryptor.update(plaintext, &mut out);
        let metadata = encryptor.finish(&mut out);
        (out, metadata)
    }

    /// Decrypts `ciphertext` in one go: the plaintext and the metadata of both sides.
    ///
    /// # Errors
    ///
    /// [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) if the length is zero or
    /// not a multiple of 16, [`Error::InvalidPadding`](crate::Error::InvalidPadding) if the padding
    /// is wrong (usually a wrong key or IV). CBC has no integrity check: a wrong key is detected
    /// only through the padding, which is valid by chance about once in 256 tries.
    pub fn decrypt_to_vec(&self, ciphertext: &[u8]) -> Result<(Vec<u8>, EncryptionMetadata)> {
        let mut out = Vec::with_capacity(ciphertext.len());
        let mut decryptor = Decryptor::new(self);
        decryptor.update(ciphertext, &mut out);
        let metadata = decryptor.finish(&mut out)?;
        Ok((out, metadata))
    }
}

/// Hands all pending output to `inner`.
fn drain<W: Write, E: Engine>(inner: &mut W, pipe: &mut Pipe<E>) -> io::Result<()> {
    while !pipe.pending().is_empty() {
        match inner.write(pipe.pending()) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the inner writer accepted no bytes",
                ));
            }
            Ok(n) => pipe.consume(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `write` for both writers: pending output first (so an error consumes nothing), then at most one
/// chunk of new input, whose output stays pending until the next call.
fn write<W: Write, E: Engine>(inner: &mut W, pipe: &mut Pipe<E>, buf: &[u8]) -> io::Result<usize> {
    drain(inner, pipe)?;
    if buf.is_empty() {
        return Ok(0);
    }
    pipe.feed(buf)
}

fn finish<W: Write, E: Engine>(mut inner: W, mut pipe: Pipe<E>) -> Result<(W, EncryptionMetadata)> {
    drain(&mut inner, &mut pipe)?;
    let metadata = pipe.finalize()?;
    drain(&mut inner, &mut pipe)?;
    inner.flush()?;
    Ok((inner, metadata))
}

/// `read` for both readers: hands out pending output, refilling it chunk by chunk from `inner`.
fn read<R: Read, E: Engine>(
    inner: &mut R,
    pipe: &mut Pipe<E>,
    input: &mut [u8],
    dst: &mut [u8],
) -> io::Result<usize> {
    loop {
        let pending = pipe.pending();
        if !pending.is_empty() {
            let n = pending.len().min(dst.len());
            dst[..n].copy_from_slice(&pending[..n]);
            pipe.consume(n);
            return Ok(n);
        }
        if let Some(result) = pipe.result() {
            return result.map(|_| 0).map_err(io::Error::from);
        }
        if dst.is_empty() {
            return Ok(0);
        }
        match inner.read(input) {
            Ok(0) => {
                // The outcome is reported by the next turn of the loop.
                let _ = pipe.finalize();
            }
            Ok(n) => {
                pipe.feed(&input[..n])?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

macro_rules! writer {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $input:literal, $output:literal) => {
        $(#[$doc])*
        ///
        /// Each `write` takes at most 64 KiB, so the adapter's buffer stays bounded; its output
        /// reaches the inner writer on the next `write`, `flush` or [`finish`](Self::finish). CBC
        /// works in whole blocks, so `flush` cannot push out the last (partial) block: only
        /// `finish` completes the stream. Dropping the adapter without calling `finish` leaves the
        /// output incomplete.
        pub struct $name<W: Write> {
            inner: W,
            pipe: Pipe<$engine>,
        }

        impl<W: Write> $name<W> {
            #[doc = concat!("Wraps `inner`, which will receive the ", $output, ".")]
            pub fn new(inner: W, key: &SessionKey) -> Self {
                Self {
                    inner,
                    pipe: Pipe::new($engine::new(key)),
                }
            }

            /// The inner writer. Writing to it directly would corrupt the stream.
            pub fn get_ref(&self) -> &W {
                &self.inner
            }

            #[doc = concat!(
                "Completes the stream, flushes the inner writer and returns it with the metadata of ",
                "both the plaintext and the ciphertext.\n\n# Errors\n\n",
                "[`Error::Io`](crate::Error::Io) if the inner writer fails",
                $input
            )]
            pub fn finish(self) -> Result<(W, EncryptionMetadata)> {
                finish(self.inner, self.pipe)
            }
        }

        impl<W: Write> Write for $name<W> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                write(&mut self.inner, &mut self.pipe, buf)
            }

            fn flush(&mut self) -> io::Result<()> {
                drain(&mut self.inner, &mut self.pipe)?;
                self.inner.flush()
            }
        }

        crate::debug_name_only!($name, W: Write);
    };
}

writer!(
    /// A writer that encrypts what is written to it with AES-256-CBC/PKCS#7 and writes the
    /// ciphertext (raw CBC output, no IV prefix) to an inner writer, hashing both sides on the way.
    EncryptingWriter,
    Encryptor,
    ".",
    "ciphertext"
);

writer!(
    /// A writer that decrypts AES-256-CBC/PKCS#7 ciphertext written to it and writes the plaintext
    /// to an inner writer, hashing both sides on the way. The last block is held back until
    /// `finish`, which checks the padding.
    DecryptingWriter,
    Decryptor,
    "; [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) or \
     [`Error::InvalidPadding`](crate::Error::InvalidPadding) if the ciphertext is not valid \
     under the key.",
    "plaintext"
);

macro_rules! reader {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $input:literal) => {
        crate::reader_struct!(
            $(#[$doc])*
            ///
            /// It reads the inner reader in chunks of at most 64 KiB. The metadata of both sides is
            /// available from [`metadata`](Self::metadata) once `read` has returned 0.
            $name,
            $engine,
            $input,
            R: Read
        );

        impl<R: Read> Read for $name<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                read(&mut self.inner, &mut self.pipe, &mut self.input, buf)
            }
        }
    };
}

reader!(
    /// A reader that reads plaintext from an inner reader and yields its AES-256-CBC/PKCS#7
    /// ciphertext (raw CBC output, no IV prefix), hashing both sides on the way.
    EncryptingReader,
    Encryptor,
    "plaintext"
);

reader!(
    /// A reader that reads AES-256-CBC/PKCS#7 ciphertext from an inner reader and yields the
    /// plaintext, hashing both sides on the way.
    ///
    /// At the end of the input it checks the padding: a truncated input or invalid padding makes
    /// `read` fail with [`std::io::ErrorKind::InvalidData`], carrying
    /// [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) or
    /// [`Error::InvalidPadding`](crate::Error::InvalidPadding) (reach it with
    /// `io_error.get_ref()` and `downcast_ref::<ksef_crypto::Error>()`).
    DecryptingReader,
    Decryptor,
    "ciphertext"
);
