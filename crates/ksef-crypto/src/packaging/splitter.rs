//! Cutting the archive stream into parts and encrypting each into the sink.

use std::io::{self, Write};

use super::{BatchPart, PartSink};
use crate::error::Result;
use crate::limits::{BatchLimits, Limit, check};
use crate::metadata::{FileHasher, FileMetadata};
use crate::session_key::SessionKey;
use crate::stream::EncryptingWriter;

/// The archive stream's destination: cuts it into parts and encrypts each into the sink.
pub(super) struct Splitter<'s, S: PartSink> {
    sink: &'s mut S,
    key: &'s SessionKey,
    limits: BatchLimits,
    /// The part being written and the plain bytes it holds so far.
    current: Option<(EncryptingWriter<S::Writer>, u64)>,
    parts: Vec<BatchPart>,
    whole: FileHasher,
    /// Set after the first error: the archive writer's `Drop` then finalizes into nothing instead
    /// of reporting a second failure on stderr.
    failed: bool,
}

impl<'s, S: PartSink> Splitter<'s, S> {
    /// A splitter into `sink`, encrypting under `key`, within `limits`.
    pub(super) fn new(sink: &'s mut S, key: &'s SessionKey, limits: BatchLimits) -> Self {
        Self {
            sink,
            key,
            limits,
            current: None,
            parts: Vec::new(),
            whole: FileHasher::new(),
            failed: false,
        }
    }

    fn close_part(&mut self) -> Result<()> {
        if let Some((writer, _)) = self.current.take() {
            let (inner, metadata) = writer.finish()?;
            // Parts are numbered from 1 and never exceed `max_parts` (a u32).
            let ordinal_number = self.parts.len() as u32 + 1;
            self.sink.finish_part(ordinal_number, inner)?;
            self.parts.push(BatchPart {
                ordinal_number,
                encrypted: metadata.ciphertext,
                plaintext: metadata.plaintext,
            });
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<(Vec<BatchPart>, FileMetadata)> {
        self.close_part()?;
        Ok((self.parts, self.whole.finish()))
    }

    fn write_some(&mut self, buf: &[u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let max_part = self.limits.max_part_size.max(1);
        if self
            .current
            .as_ref()
            .is_some_and(|(_, len)| *len >= max_part)
        {
            self.close_part()?;
        }
        let file = None;
        check(
            Limit::ArchiveSize,
            file,
            self.whole.size() + buf.len() as u64,
            self.limits.max_archive_size,
        )?;
        let (writer, len) = match &mut self.current {
            Some(current) => current,
            None => {
                let ordinal = self.parts.len() as u64 + 1;
                check(
                    Limit::PartCount,
                    file,
                    ordinal,
                    u64::from(self.limits.max_parts),
                )?;
                // Checked just above: the ordinal fits in `max_parts`, a u32.
                let inner = self.sink.create_part(ordinal as u32)?;
                self.current
                    .insert((EncryptingWriter::new(inner, self.key), 0))
            }
        };
        let room = usize::try_from(max_part - *len).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        writer.write_all(&buf[..n])?;
        *len += n as u64;
        self.whole.update(&buf[..n]);
        Ok(n)
    }
}

impl<S: PartSink> Write for Splitter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        self.write_some(buf).map_err(|error| {
            self.failed = true;
            io::Error::from(error)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
