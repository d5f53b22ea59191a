//! The sans-I/O core of streaming AES-256-CBC with PKCS#7 padding and one-pass metadata.
//!
//! The ciphertext is the raw CBC output, without the IV in front: KSeF carries the IV separately
//! in `EncryptionInfo.initializationVector`, so `n` plaintext bytes become `(n / 16 + 1) * 16`
//! ciphertext bytes.
//!
//! AES comes from the `aes` crate, which detects AES-NI at run time and uses it when present.

use aes::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};

use crate::error::Error;
use crate::metadata::{EncryptionMetadata, FileHasher};
use crate::session_key::SessionKey;

/// AES block size in bytes.
pub(crate) const BLOCK: usize = 16;

/// Adapters process at most this many input bytes at a time, so their buffers stay bounded.
pub(crate) const CHUNK: usize = 64 * 1024;

pub(crate) fn encrypt_in_place(mode: &mut cbc::Encryptor<aes::Aes256>, bytes: &mut [u8]) {
    let (blocks, rest) = aes::Block::slice_as_chunks_mut(bytes);
    debug_assert!(rest.is_empty());
    mode.encrypt_blocks(blocks);
}

/// The last plaintext block of a PKCS#7-padded stream: the first `partial_len` (< 16) bytes of
/// `partial`, then 1..=16 padding bytes, each holding the padding length.
pub(crate) fn padded_last_block(partial: &[u8; BLOCK], partial_len: usize) -> [u8; BLOCK] {
    let pad = BLOCK - partial_len;
    let mut block = *partial;
    // 1..=16: always fits in a u8.
    block[partial_len..].fill(pad as u8);
    block
}

/// How many bytes of the decrypted last block are data, or `None` if its PKCS#7 padding is not
/// valid. Every padding byte is checked, without stopping at the first bad one.
pub(crate) fn unpadded_len(block: &[u8; BLOCK]) -> Option<usize> {
    let pad = block[BLOCK - 1];
    let pad_len = usize::from(pad);
    let mut bad = u8::from(pad_len == 0 || pad_len > BLOCK);
    for (i, &byte) in block.iter().enumerate() {
        let in_padding = i >= BLOCK.saturating_sub(pad_len);
        bad |= u8::from(in_padding && byte != pad);
    }
    (bad == 0).then(|| BLOCK - pad_len)
}

pub(crate) fn decrypt_in_place(mode: &mut cbc::Decryptor<aes::Aes256>, bytes: &mut [u8]) {
    let (blocks, rest) = aes::Block::slice_as_chunks_mut(bytes);
    debug_assert!(rest.is_empty());
    mode.decrypt_blocks(blocks);
}

/// Streaming encryption: whole blocks go out as soon as they are complete; the padding is added by
/// [`Encryptor::finish`].
pub(crate) struct Encryptor {
    mode: cbc::Encryptor<aes::Aes256>,
    partial: [u8; BLOCK],
    partial_len: usize,
    plaintext: FileHasher,
    ciphertext: FileHasher,
}

impl Encryptor {
    pub(crate) fn new(key: &SessionKey) -> Self {
        Self {
            mode: cbc::Encryptor::new(key.key().into(), key.iv().into()),
            partial: [0; BLOCK],
            partial_len: 0,
            plaintext: FileHasher::new(),
            ciphertext: FileHasher::new(),
        }
    }

    /// Encrypts `input`, appending whole ciphertext blocks to `out` (at most `input.len() + 15`
    /// bytes).
    pub(crate) fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        self.plaintext.update(input);
        let start = out.len();
        if self.partial_len > 0 {
            let take = (BLOCK - self.partial_len).min(input.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
            self.partial_len += take;
            input = &input[take..];
            if self.partial_len < BLOCK {
                return;
            }
            out.extend_from_slice(&self.partial);
            self.partial_len = 0;
        }
        let whole = input.len() - input.len() % BLOCK;
        out.extend_from_slice(&input[..whole]);
        let rest = &input[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
        encrypt_in_place(&mut self.mode, &mut out[start..]);
        self.ciphertext.update(&out[start..]);
    }

    /// Pads the last (possibly empty) block with PKCS#7, appends its encryption to `out` and returns
    /// the metadata of both sides.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> EncryptionMetadata {
        let start = out.len();
        out.extend_from_slice(&padded_last_block(&self.partial, self.partial_len));
        encrypt_in_place(&mut self.mode, &mut out[start..]);
        self.ciphertext.update(&out[start..]);
        EncryptionMetadata {
            plaintext: self.plaintext.finish(),
            ciphertext: self.ciphertext.finish(),
        }
    }
}

/// Why a decryption could not be completed; kept small and `Copy` so adapters can report it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecryptFailure {
    Truncated { len: u64 },
    Padding { len: u64 },
}

impl From<DecryptFailure> for Error {
    fn from(failure: DecryptFailure) -> Self {
        match failure {
            DecryptFailure::Truncated { len } => Error::TruncatedCiphertext { len },
            DecryptFailure::Padding { len } => Error::InvalidPadding { len },
        }
    }
}

impl From<DecryptFailure> for std::io::Error {
    fn from(failure: DecryptFailure) -> Self {
        Error::from(failure).into()
    }
}

/// Streaming decryption: the last 1..=16 bytes seen are held back until [`Decryptor::finish`],
/// which checks and strips the padding.
pub(crate) struct Decryptor {
    mode: cbc::Decryptor<aes::Aes256>,
    held: [u8; BLOCK],
    held_len: usize,
    plaintext: FileHasher,
    ciphertext: FileHasher,
}

impl Decryptor {
    pub(crate) fn new(key: &SessionKey) -> Self {
        Self {
            mode: cbc::Decryptor::new(key.key().into(), key.iv().into()),
            held: [0; BLOCK],
            held_len: 0,
            plaintext: FileHasher::new(),
            ciphertext: FileHasher::new(),
        }
    }

    /// Decrypts `input`, appending plaintext to `out` (at most `input.len() + 15` bytes).
    pub(crate) fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.ciphertext.update(input);
        let total = self.held_len + input.len();
        if total <= BLOCK {
            self.held[self.held_len..total].copy_from_slice(input);
            self.held_len = total;
            return;
        }
        // Decrypt every whole block except the last 1..=16 bytes, which stay held.
        let emit = (total - 1) / BLOCK * BLOCK;
        let from_input = emit - self.held_len;
        let start = out.len();
        out.extend_from_slice(&self.held[..self.held_len]);
        out.extend_from_slice(&input[..from_input]);
        let rest = &input[from_input..];
        self.held[..rest.len()].copy_from_slice(rest);
        self.held_len = rest.len();
        decrypt_in_place(&mut self.mode, &mut out[start..]);
        self.plaintext.update(&out[start..]);
    }

    /// Decrypts the held last block, checks and strips its PKCS#7 padding, appends the rest to
    /// `out` and returns the metadata of both sides.
    pub(crate) fn finish(
        mut self,
        out: &mut Vec<u8>,
    ) -> Result<EncryptionMetadata, DecryptFailure> {
        let len = self.ciphertext.size();
        if len == 0 || !len.is_multiple_of(BLOCK as u64) {
            return Err(DecryptFailure::Truncated { len });
        }
        // A non-zero multiple of 16 bytes leaves exactly one whole block held.
        debug_assert_eq!(self.held_len, BLOCK);
        let mut block = self.held;
        decrypt_in_place(&mut self.mode, &mut block);
        let data_len = unpadded_len(&block).ok_or(DecryptFailure::Padding { len })?;
        let data = &block[..data_len];
        out.extend_from_slice(data);
        self.plaintext.update(data);
        Ok(EncryptionMetadata {
            plaintext: self.plaintext.finish(),
            ciphertext: self.ciphertext.finish(),
        })
    }
}

/// The two directions, as the adapters drive them.
pub(crate) trait Engine {
    /// Processes `input`, appending output to `out` (at most `input.len() + 15` bytes).
    fn update(&mut self, input: &[u8], out: &mut Vec<u8>);
    /// Completes the pass, appending the last output (at most 16 bytes) to `out`.
    fn finish(self, out: &mut Vec<u8>) -> Result<EncryptionMetadata, DecryptFailure>;
}

impl Engine for Encryptor {
    fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        Encryptor::update(self, input, out);
    }

    fn finish(self, out: &mut Vec<u8>) -> Result<EncryptionMetadata, DecryptFailure> {
        Ok(Encryptor::finish(self, out))
    }
}

impl Engine for Decryptor {
    fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        Decryptor::update(self, input, out);
    }

    fn finish(self, out: &mut Vec<u8>) -> Result<EncryptionMetadata, DecryptFailure> {
        Decryptor::finish(self, out)
    }
}

/// An engine plus its bounded output buffer, shared by all adapters: output produced but not yet
/// handed on is `pending()`; new input is only taken once it has all been handed on.
pub(crate) struct Pipe<E> {
    engine: Option<E>,
    out: Vec<u8>,
    pos: usize,
    result: Option<Result<EncryptionMetadata, DecryptFailure>>,
}

impl<E: Engine> Pipe<E> {
    pub(crate) fn new(engine: E) -> Self {
        Self {
            engine: Some(engine),
            out: Vec::new(),
            pos: 0,
            result: None,
        }
    }

    /// Output not yet handed on.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.out[self.pos..]
    }

    /// Marks `n` bytes of [`Pipe::pending`] as handed on.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.out.len());
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
        }
    }

    /// Takes up to [`CHUNK`] bytes of `input` (call only when nothing is pending) and returns how
    /// many were taken.
    pub(crate) fn feed(&mut self, input: &[u8]) -> std::io::Result<usize> {
        debug_assert!(self.pending().is_empty());
        let Some(engine) = self.engine.as_mut() else {
            return Err(std::io::Error::other("write after the stream was finished"));
        };
        let n = input.len().min(CHUNK);
        engine.update(&input[..n], &mut self.out);
        Ok(n)
    }

    /// Completes the pass once; later calls return the same outcome.
    pub(crate) fn finalize(&mut self) -> Result<EncryptionMetadata, DecryptFailure> {
        if let Some(engine) = self.engine.take() {
            self.result = Some(engine.finish(&mut self.out));
        }
        // `engine` is only taken above, where `result` is set.
        self.result
            .unwrap_or(Err(DecryptFailure::Truncated { len: 0 }))
    }

    /// The outcome, once [`Pipe::finalize`] has run.
    pub(crate) fn result(&self) -> Option<Result<EncryptionMetadata, DecryptFailure>> {
        self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_bytes([0x42; 32], [0x24; 16])
    }

    #[test]
    fn sizes_follow_pkcs7_without_iv_prefix() {
        for n in [0usize, 1, 15, 16, 17, 31, 32, 16037] {
            let mut enc = Encryptor::new(&key());
            let mut out = Vec::new();
            enc.update(&vec![7u8; n], &mut out);
            let meta = enc.finish(&mut out);
            assert_eq!(out.len(), (n / 16 + 1) * 16, "n = {n}");
            assert_eq!(meta.ciphertext.size, out.len() as u64);
            assert_eq!(meta.plaintext.size, n as u64);
        }
    }

    #[test]
    fn byte_by_byte_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut one = Vec::new();
        let mut enc = Encryptor::new(&key());
        enc.update(&data, &mut one);
        let meta_one = enc.finish(&mut one);

        let mut many = Vec::new();
        let mut enc = Encryptor::new(&key());
        for b in &data {
            enc.update(std::slice::from_ref(b), &mut many);
        }
        let meta_many = enc.finish(&mut many);
        assert_eq!(one, many);
        assert_eq!(meta_one, meta_many);

        let mut plain = Vec::new();
        let mut dec = Decryptor::new(&key());
        for b in &one {
            dec.update(std::slice::from_ref(b), &mut plain);
        }
        let meta_dec = dec.finish(&mut plain).unwrap();
        assert_eq!(plain, data);
        assert_eq!(meta_dec, meta_one);
    }

    #[test]
    fn rejects_bad_lengths_and_padding() {
        for len in [0usize, 1, 15, 17, 33] {
            let mut dec = Decryptor::new(&key());
            dec.update(&vec![0u8; len], &mut Vec::new());
            assert_eq!(
                dec.finish(&mut Vec::new()),
                Err(DecryptFailure::Truncated { len: len as u64 })
            );
        }
        // A block whose decryption ends in 0x00 has invalid padding: build it by encrypting
        // a full block of zeros without padding.
        let mut mode = cbc::Encryptor::<aes::Aes256>::new(key().key().into(), key().iv().into());
        let mut block = [0u8; 16];
        encrypt_in_place(&mut mode, &mut block);
        let mut dec = Decryptor::new(&key());
        dec.update(&block, &mut Vec::new());
        assert_eq!(
            dec.finish(&mut Vec::new()),
            Err(DecryptFailure::Padding { len: 16 })
        );
        // Padding bytes that disagree: ...0x01 0x02 is invalid although the last byte is in range.
        let mut plain = [0u8; 16];
        plain[14] = 1;
        plain[15] = 2;
        let mut mode = cbc::Encryptor::<aes::Aes256>::new(key().key().into(), key().iv().into());
        encrypt_in_place(&mut mode, &mut plain);
        let mut dec = Decryptor::new(&key());
        dec.update(&plain, &mut Vec::new());
        assert_eq!(
            dec.finish(&mut Vec::new()),
            Err(DecryptFailure::Padding { len: 16 })
        );
    }
}
