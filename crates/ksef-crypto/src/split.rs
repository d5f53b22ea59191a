//! Splitting an archive that already exists (a ZIP built by other means) into encrypted batch
//! parts: the counterpart of [`BatchPackager`](crate::BatchPackager) for callers who have the
//! archive already.
//!
//! One read of the archive does all the work. A reader thread fills large buffers from the source
//! and hashes the plain archive (`batchFile.fileHash`); the calling thread encrypts each buffer in
//! place, one CBC stream per part, hashes the ciphertext (`fileParts[].fileHash`) and writes it
//! to the part's sink, then hands the buffer back for reuse. Nothing else is computed: KSeF does
//! not declare a part's plaintext hash, so none is taken.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use aes::cipher::KeyIvInit as _;

use crate::engine::{BLOCK, encrypt_in_place, padded_last_block};
use crate::error::{Cause, Error, Result};
use crate::limits::{BatchLimits, Limit, check};
use crate::metadata::{FileHasher, FileMetadata};
use crate::packaging::PartSink;
use crate::session_key::SessionKey;

/// Size of each read buffer (a multiple of the AES block, so whole buffers encrypt in place).
const BUFFER: usize = 4 << 20;
/// The encrypting thread works through a buffer in slices of this size (a multiple of the AES
/// block, and no smaller than `DirectorySink`'s buffer, which it then bypasses), each
/// encrypted, hashed and written while it is in the CPU's cache.
const SLICE: usize = 256 << 10;
/// Buffers in circulation between the reader thread and the encrypting thread.
const BUFFERS: usize = 3;

/// One encrypted part of a split archive: what `BatchFilePartInfo` declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedPart {
    /// `ordinalNumber`, from 1.
    pub ordinal_number: u32,
    /// Size and SHA-256 of the encrypted part (`fileSize`, `fileHash`).
    pub encrypted: FileMetadata,
    /// Number of plain archive bytes in the part (at most the part size limit).
    pub plaintext_size: u64,
}

/// The result of splitting an archive: what `OpenBatchSessionRequest.batchFile` declares.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitArchive {
    /// Size and SHA-256 of the whole plain archive (`fileSize`, `fileHash`).
    pub archive: FileMetadata,
    /// The parts in order (`fileParts`).
    pub parts: Vec<EncryptedPart>,
}

/// Splits an existing archive into parts of at most [`BatchLimits::max_part_size`] bytes and
/// encrypts each with AES-256-CBC/PKCS#7 under the session key and IV, as its own CBC stream, into
/// a [`PartSink`].
///
/// The archive is read once, in 4 MiB buffers, with the plain archive hashed on a second thread
/// while the calling thread encrypts and hashes the ciphertext. Memory is bounded by three such
/// buffers, whatever the size of the archive. The archive size and part count limits are checked
/// as the archive is read (and, for [`split_file`](Self::split_file), before any part is
/// created).
///
/// ```
/// use ksef_crypto::{ArchiveSplitter, BatchLimits, MemorySink, SessionKey};
///
/// # fn main() -> Result<(), ksef_crypto::Error> {
/// let key = SessionKey::generate()?;
/// let archive = vec![7u8; 2500]; // the bytes of a ZIP built elsewhere
/// let mut sink = MemorySink::new();
/// let split = ArchiveSplitter::new()
///     .limits(BatchLimits::default().with_max_part_size(1000))
///     .split(&key, archive.as_slice(), &mut sink)?;
/// assert_eq!(split.archive.size, 2500); // batchFile.fileSize
/// assert_eq!(split.parts.len(), 3); // 1000 + 1000 + 500 plain bytes
/// assert_eq!(split.parts[2].encrypted.size, 512); // fileParts[2].fileSize
/// assert_eq!(sink.parts().len(), 3);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ArchiveSplitter {
    limits: BatchLimits,
}

impl ArchiveSplitter {
    /// A splitter with KSeF's limits (parts of at most [`MAX_PART_SIZE`](crate::MAX_PART_SIZE)).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the limits to check against; the part size, part count and archive size apply.
    pub fn limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits checked against.
    pub fn current_limits(&self) -> &BatchLimits {
        &self.limits
    }

    /// Splits and encrypts the archive in the file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] ([`Limit::ArchiveSize`] or [`Limit::PartCount`]) from the file's
    /// size before any part is created, and otherwise those of [`split`](Self::split).
    pub fn split_file<S: PartSink>(
        &self,
        key: &SessionKey,
        path: impl AsRef<Path>,
        sink: S,
    ) -> Result<SplitArchive> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        check(Limit::ArchiveSize, None, size, self.limits.max_archive_size)?;
        check(
            Limit::PartCount,
            None,
            size.div_ceil(self.max_part()),
            u64::from(self.limits.max_parts),
        )?;
        self.split(key, file, sink)
    }

    /// Splits and encrypts the archive `reader` yields, up to its end.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] ([`Limit::ArchiveSize`] or [`Limit::PartCount`]) as soon as the
    /// archive outgrows a limit, [`Error::Archive`] if the archive is empty, [`Error::Io`] from
    /// the reader or the sink. Parts already delivered to the sink are then incomplete and must
    /// be discarded.
    pub fn split<R: Read + Send, S: PartSink>(
        &self,
        key: &SessionKey,
        reader: R,
        mut sink: S,
    ) -> Result<SplitArchive> {
        let (full_tx, full_rx) = mpsc::sync_channel(BUFFERS);
        let (empty_tx, empty_rx) = mpsc::channel();
        for _ in 0..BUFFERS {
            // The receiver is alive: it is dropped only at the end of this function.
            let _ = empty_tx.send(vec![0u8; BUFFER]);
        }
        let (parts, archive) = std::thread::scope(|scope| -> Result<_> {
            let hasher = scope.spawn(move || read_and_hash(reader, full_tx, empty_rx));
            // `encrypt_parts` owns the channel ends it uses, so whatever it returns, the reader
            // thread sees them closed and stops.
            let parts = self.encrypt_parts(key, full_rx, empty_tx, &mut sink);
            let archive = hasher
                .join()
                .map_err(|_| Error::Io {
                    source: io::Error::other("the archive reader thread panicked"),
                })?
                .finish();
            Ok((parts?, archive))
        })?;
        if archive.size == 0 {
            return Err(Error::Archive {
                format: "batch archive",
                file: None,
                source: Box::new(Cause("the archive is empty")),
            });
        }
        Ok(SplitArchive { archive, parts })
    }

    fn max_part(&self) -> u64 {
        self.limits.max_part_size.max(1)
    }

    /// The calling thread's share: cut the buffers into parts, encrypt, hash and write them.
    fn encrypt_parts<S: PartSink>(
        &self,
        key: &SessionKey,
        full: Receiver<io::Result<(Vec<u8>, usize)>>,
        empty: Sender<Vec<u8>>,
        sink: &mut S,
    ) -> Result<Vec<EncryptedPart>> {
        let max_part = self.max_part();
        let mut parts = Vec::new();
        let mut current: Option<PartEncryptor<S::Writer>> = None;
        let mut total: u64 = 0;
        for message in full {
            let (mut buffer, filled) = message?;
            total += filled as u64;
            check(
                Limit::ArchiveSize,
                None,
                total,
                self.limits.max_archive_size,
            )?;
            let mut data = &mut buffer[..filled];
            while !data.is_empty() {
                if current
                    .as_ref()
                    .is_some_and(|p| p.plaintext_size >= max_part)
                {
                    close_part(current.take(), sink, &mut parts)?;
                }
                let part = match &mut current {
                    Some(part) => part,
                    None => {
                        let ordinal = parts.len() as u64 + 1;
                        check(
                            Limit::PartCount,
                            None,
                            ordinal,
                            u64::from(self.limits.max_parts),
                        )?;
                        // Checked just above: the ordinal fits in `max_parts`, a u32.
                        let writer = sink.create_part(ordinal as u32)?;
                        current.insert(PartEncryptor::new(writer, key))
                    }
                };
                let room = usize::try_from(max_part - part.plaintext_size).unwrap_or(usize::MAX);
                let (now, rest) = data.split_at_mut(room.min(data.len()));
                part.encrypt(now)?;
                data = rest;
            }
            // The reader thread may have stopped already (it stops at the end of the archive).
            let _ = empty.send(buffer);
        }
        close_part(current, sink, &mut parts)?;
        Ok(parts)
    }
}

/// The reader thread's share: fill the buffers handed to it and hash the plain archive.
fn read_and_hash<R: Read>(
    mut reader: R,
    full: SyncSender<io::Result<(Vec<u8>, usize)>>,
    empty: Receiver<Vec<u8>>,
) -> FileHasher {
    let mut whole = FileHasher::new();
    // Stops when the encrypting side hangs up (it failed) or at the end of the archive.
    while let Ok(mut buffer) = empty.recv() {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = full.send(Err(e));
                    return whole;
                }
            }
        }
        if filled == 0 {
            break;
        }
        whole.update(&buffer[..filled]);
        let end = filled < buffer.len();
        if full.send(Ok((buffer, filled))).is_err() || end {
            break;
        }
    }
    whole
}

fn close_part<W: Write, S: PartSink<Writer = W>>(
    part: Option<PartEncryptor<W>>,
    sink: &mut S,
    parts: &mut Vec<EncryptedPart>,
) -> Result<()> {
    if let Some(part) = part {
        let plaintext_size = part.plaintext_size;
        let (writer, encrypted) = part.finish()?;
        // Parts are numbered from 1 and never exceed `max_parts` (a u32).
        let ordinal_number = parts.len() as u32 + 1;
        sink.finish_part(ordinal_number, writer)?;
        parts.push(EncryptedPart {
            ordinal_number,
            encrypted,
            plaintext_size,
        });
    }
    Ok(())
}

/// One part's CBC stream, encrypting the caller's buffer in place: whole blocks go straight to
/// the writer; up to 15 bytes wait for the next buffer or for the padding.
struct PartEncryptor<W> {
    writer: W,
    mode: cbc::Encryptor<aes::Aes256>,
    partial: [u8; BLOCK],
    partial_len: usize,
    ciphertext: FileHasher,
    plaintext_size: u64,
}

impl<W: Write> PartEncryptor<W> {
    fn new(writer: W, key: &SessionKey) -> Self {
        Self {
            writer,
            mode: cbc::Encryptor::new(key.key().into(), key.iv().into()),
            partial: [0; BLOCK],
            partial_len: 0,
            ciphertext: FileHasher::new(),
            plaintext_size: 0,
        }
    }

    /// Encrypts `data` (overwriting it) and writes the whole blocks.
    fn encrypt(&mut self, mut data: &mut [u8]) -> io::Result<()> {
        self.plaintext_size += data.len() as u64;
        if self.partial_len > 0 {
            let take = (BLOCK - self.partial_len).min(data.len());
            let (head, rest) = data.split_at_mut(take);
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(head);
            self.partial_len += take;
            data = rest;
            if self.partial_len < BLOCK {
                return Ok(());
            }
            let mut block = self.partial;
            self.partial_len = 0;
            self.emit(&mut block)?;
        }
        let whole = data.len() - data.len() % BLOCK;
        let (blocks, rest) = data.split_at_mut(whole);
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
        self.emit(blocks)
    }

    /// Encrypts, hashes and writes whole blocks, a slice at a time so that each slice is still
    /// in the CPU's cache for the hash and the write.
    fn emit(&mut self, blocks: &mut [u8]) -> io::Result<()> {
        for slice in blocks.chunks_mut(SLICE) {
            encrypt_in_place(&mut self.mode, slice);
            self.ciphertext.update(slice);
            self.writer.write_all(slice)?;
        }
        Ok(())
    }

    /// Pads and encrypts the last block, flushes the writer and gives it back with the metadata
    /// of the ciphertext.
    fn finish(mut self) -> io::Result<(W, FileMetadata)> {
        let mut block = padded_last_block(&self.partial, self.partial_len);
        self.emit(&mut block)?;
        self.writer.flush()?;
        Ok((self.writer, self.ciphertext.finish()))
    }
}
