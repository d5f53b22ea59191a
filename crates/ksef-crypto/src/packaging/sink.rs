//! Where the encrypted parts of a batch go: a directory of files or memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Receives the encrypted parts of a batch, one after the other, as they are produced.
pub trait PartSink {
    /// Where one part's ciphertext is written.
    type Writer: Write;

    /// Opens the destination of part `ordinal_number` (1-based).
    ///
    /// # Errors
    ///
    /// Any I/O error; packaging stops with it.
    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer>;

    /// Called with the writer of a part once all its ciphertext has been written and flushed.
    ///
    /// # Errors
    ///
    /// Any I/O error; packaging stops with it.
    fn finish_part(&mut self, ordinal_number: u32, writer: Self::Writer) -> io::Result<()>;
}

impl<S: PartSink + ?Sized> PartSink for &mut S {
    type Writer = S::Writer;

    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer> {
        (**self).create_part(ordinal_number)
    }

    fn finish_part(&mut self, ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        (**self).finish_part(ordinal_number, writer)
    }
}

/// Writes each part to a file `{prefix}.{ordinal:03}.aes` in a directory (`part.001.aes`, ... by
/// default), creating or truncating it.
#[derive(Clone, Debug)]
pub struct DirectorySink {
    dir: PathBuf,
    prefix: String,
    paths: Vec<PathBuf>,
}

impl DirectorySink {
    /// A sink writing into `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            prefix: "part".to_owned(),
            paths: Vec::new(),
        }
    }

    /// Uses `prefix` instead of `part` at the start of the file names.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The path of part `ordinal_number`.
    pub fn path_of(&self, ordinal_number: u32) -> PathBuf {
        self.dir
            .join(format!("{}.{ordinal_number:03}.aes", self.prefix))
    }

    /// The paths of the parts written so far, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl PartSink for DirectorySink {
    type Writer = BufWriter<File>;

    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer> {
        let path = self.path_of(ordinal_number);
        let file = File::create(&path)?;
        self.paths.push(path);
        Ok(BufWriter::with_capacity(256 << 10, file))
    }

    fn finish_part(&mut self, _ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok(())
    }
}

/// Keeps the parts in memory (for tests and small batches).
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    parts: Vec<Vec<u8>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encrypted parts received so far, in order.
    pub fn parts(&self) -> &[Vec<u8>] {
        &self.parts
    }

    /// Gives back the encrypted parts, in order.
    pub fn into_parts(self) -> Vec<Vec<u8>> {
        self.parts
    }
}

impl PartSink for MemorySink {
    type Writer = Vec<u8>;

    fn create_part(&mut self, _ordinal_number: u32) -> io::Result<Self::Writer> {
        Ok(Vec::new())
    }

    fn finish_part(&mut self, _ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        self.parts.push(writer);
        Ok(())
    }
}
