//! Streaming AES-256-CBC adapters over `tokio::io` (feature `tokio`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::engine::{CHUNK, Decryptor, Encryptor, Engine, Pipe};
use crate::metadata::EncryptionMetadata;
use crate::session_key::SessionKey;

fn poll_drain<W: AsyncWrite + Unpin, E: Engine>(
    inner: &mut W,
    pipe: &mut Pipe<E>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while !pipe.pending().is_empty() {
        let n = ready!(Pin::new(&mut *inner).poll_write(cx, pipe.pending()))?;
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the inner writer accepted no bytes",
            )));
        }
        pipe.consume(n);
    }
    Poll::Ready(Ok(()))
}

macro_rules! async_writer {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $output:literal) => {
        $(#[$doc])*
        ///
        /// Each write takes at most 64 KiB, so the adapter's buffer stays bounded; its output
        /// reaches the inner writer on the next write, flush or shutdown. CBC works in whole
        /// blocks, so only `shutdown` (e.g. `AsyncWriteExt::shutdown`) completes the stream: it
        /// writes the last block, flushes and shuts down the inner writer, after which
        /// [`metadata`](Self::metadata) holds the metadata of both sides. The inner writer must be
        /// `Unpin` (wrap it in `Box::pin` otherwise).
        pub struct $name<W: AsyncWrite + Unpin> {
            inner: W,
            pipe: Pipe<$engine>,
        }

        impl<W: AsyncWrite + Unpin> $name<W> {
            #[doc = concat!("Wraps `inner`, which will receive the ", $output, ".")]
            pub fn new(inner: W, key: &SessionKey) -> Self {
                Self {
                    inner,
                    pipe: Pipe::new($engine::new(key)),
                }
            }

            /// Metadata of both sides, once the stream has been shut down successfully.
            pub fn metadata(&self) -> Option<EncryptionMetadata> {
                self.pipe.result().and_then(|r| r.ok())
            }

            /// The inner writer. Writing to it directly would corrupt the stream.
            pub fn get_ref(&self) -> &W {
                &self.inner
            }

            /// Gives back the inner writer (after shutdown, to keep a complete stream).
            pub fn into_inner(self) -> W {
                self.inner
            }
        }

        impl<W: AsyncWrite + Unpin> AsyncWrite for $name<W> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let this = self.get_mut();
                ready!(poll_drain(&mut this.inner, &mut this.pipe, cx))?;
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                Poll::Ready(this.pipe.feed(buf))
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                ready!(poll_drain(&mut this.inner, &mut this.pipe, cx))?;
                Pin::new(&mut this.inner).poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                ready!(poll_drain(&mut this.inner, &mut this.pipe, cx))?;
                this.pipe.finalize()?;
                ready!(poll_drain(&mut this.inner, &mut this.pipe, cx))?;
                Pin::new(&mut this.inner).poll_shutdown(cx)
            }
        }

        impl<W: AsyncWrite + Unpin> std::fmt::Debug for $name<W> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

async_writer!(
    /// An async writer that encrypts what is written to it with AES-256-CBC/PKCS#7 and writes the
    /// ciphertext (raw CBC output, no IV prefix) to an inner writer, hashing both sides.
    AsyncEncryptingWriter,
    Encryptor,
    "ciphertext"
);

async_writer!(
    /// An async writer that decrypts AES-256-CBC/PKCS#7 ciphertext written to it and writes the
    /// plaintext to an inner writer, hashing both sides. The last block is held back until
    /// shutdown, which checks the padding and fails with [`std::io::ErrorKind::InvalidData`]
    /// carrying [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) or
    /// [`Error::InvalidPadding`](crate::Error::InvalidPadding) if the ciphertext is not valid.
    AsyncDecryptingWriter,
    Decryptor,
    "plaintext"
);

macro_rules! async_reader {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $input:literal) => {
        $(#[$doc])*
        ///
        /// It reads the inner reader in chunks of at most 64 KiB; the metadata of both sides is
        /// available from [`metadata`](Self::metadata) once the end of the stream has been read.
        /// The inner reader must be `Unpin` (wrap it in `Box::pin` otherwise).
        pub struct $name<R: AsyncRead + Unpin> {
            inner: R,
            pipe: Pipe<$engine>,
            input: Box<[u8]>,
        }

        impl<R: AsyncRead + Unpin> $name<R> {
            #[doc = concat!("Wraps `inner`, which supplies the ", $input, ".")]
            pub fn new(inner: R, key: &SessionKey) -> Self {
                Self {
                    inner,
                    pipe: Pipe::new($engine::new(key)),
                    input: vec![0; CHUNK].into_boxed_slice(),
                }
            }

            /// Metadata of both sides, once the end of the stream has been reached.
            pub fn metadata(&self) -> Option<EncryptionMetadata> {
                self.pipe.result().and_then(|r| r.ok())
            }

            /// The inner reader.
            pub fn get_ref(&self) -> &R {
                &self.inner
            }

            /// Gives back the inner reader.
            pub fn into_inner(self) -> R {
                self.inner
            }
        }

        impl<R: AsyncRead + Unpin> AsyncRead for $name<R> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                loop {
                    let pending = this.pipe.pending();
                    if !pending.is_empty() {
                        let n = pending.len().min(buf.remaining());
                        buf.put_slice(&pending[..n]);
                        this.pipe.consume(n);
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(result) = this.pipe.result() {
                        return Poll::Ready(result.map(|_| ()).map_err(io::Error::from));
                    }
                    if buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let mut input = ReadBuf::new(&mut this.input);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut input))?;
                    let n = input.filled().len();
                    if n == 0 {
                        // The outcome is reported by the next turn of the loop.
                        let _ = this.pipe.finalize();
                    } else {
                        this.pipe.feed(&this.input[..n])?;
                    }
                }
            }
        }

        impl<R: AsyncRead + Unpin> std::fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

async_reader!(
    /// An async reader that reads plaintext from an inner reader and yields its
    /// AES-256-CBC/PKCS#7 ciphertext (raw CBC output, no IV prefix), hashing both sides.
    AsyncEncryptingReader,
    Encryptor,
    "plaintext"
);

async_reader!(
    /// An async reader that reads AES-256-CBC/PKCS#7 ciphertext from an inner reader and yields
    /// the plaintext, hashing both sides. At the end of the input it checks the padding and fails
    /// with [`std::io::ErrorKind::InvalidData`] carrying
    /// [`Error::TruncatedCiphertext`](crate::Error::TruncatedCiphertext) or
    /// [`Error::InvalidPadding`](crate::Error::InvalidPadding) if the ciphertext is not valid.
    AsyncDecryptingReader,
    Decryptor,
    "ciphertext"
);
