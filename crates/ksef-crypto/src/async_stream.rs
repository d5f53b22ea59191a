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

        crate::debug_name_only!($name, W: AsyncWrite + Unpin);
    };
}

async_writer!(
    /// [`EncryptingWriter`](crate::EncryptingWriter) for `tokio::io::AsyncWrite`: the ciphertext
    /// goes to the inner writer, both sides hashed.
    AsyncEncryptingWriter,
    Encryptor,
    "ciphertext"
);

async_writer!(
    /// [`DecryptingWriter`](crate::DecryptingWriter) for `tokio::io::AsyncWrite`. Shutdown checks
    /// the padding of the held-back last block: an invalid one fails as
    /// [`std::io::ErrorKind::InvalidData`] with the crate's [`Error`](crate::Error) inside.
    AsyncDecryptingWriter,
    Decryptor,
    "plaintext"
);

macro_rules! async_reader {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $input:literal) => {
        crate::reader_struct!(
            $(#[$doc])*
            ///
            /// It reads the inner reader in chunks of at most 64 KiB; the metadata of both sides is
            /// available from [`metadata`](Self::metadata) once the end of the stream has been read.
            /// The inner reader must be `Unpin` (wrap it in `Box::pin` otherwise).
            $name,
            $engine,
            $input,
            R: AsyncRead + Unpin
        );

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
    };
}

async_reader!(
    /// [`EncryptingReader`](crate::EncryptingReader) for `tokio::io::AsyncRead`: yields the
    /// ciphertext of the inner reader's plaintext, both sides hashed.
    AsyncEncryptingReader,
    Encryptor,
    "plaintext"
);

async_reader!(
    /// [`DecryptingReader`](crate::DecryptingReader) for `tokio::io::AsyncRead`. The end of the
    /// input checks the padding: an invalid one fails as [`std::io::ErrorKind::InvalidData`] with
    /// the crate's [`Error`](crate::Error) inside.
    AsyncDecryptingReader,
    Decryptor,
    "ciphertext"
);
