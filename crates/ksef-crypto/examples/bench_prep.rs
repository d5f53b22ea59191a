//! Bench driver for `bench/compare.sh`: the two comparison tasks the `ksef` CLI has no offline
//! command for, done with this crate's public API only.
//!
//! ```text
//! bench_prep online DIR                         # online-send preparation of every file in DIR
//! bench_prep decrypt IN OUT KEY_HEX IV_HEX      # AES-256-CBC decryption of IN into OUT (two threads)
//! bench_prep decrypt-serial IN OUT KEY_HEX IV_HEX  # the same through DecryptingWriter (one thread)
//! ```
//!
//! Not part of the library; it exists so the comparison measures the same work the other
//! clients' drivers do (see `bench/README.md`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ksef_crypto::{DecryptingWriter, EncryptionMetadata, SessionKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["online", dir] => online(dir),
        ["decrypt", input, output, key, iv] => decrypt(input, output, key, iv),
        ["decrypt-serial", input, output, key, iv] => decrypt_serial(input, output, key, iv),
        _ => {
            eprintln!(
                "usage: bench_prep online DIR | bench_prep decrypt|decrypt-serial IN OUT KEY_HEX IV_HEX"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_prep: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Per invoice: SHA-256 and size of the plaintext, AES-256-CBC, SHA-256 and size of the
/// ciphertext (all in one pass through [`SessionKey::encrypt_to_vec`], as the client's online send
/// does), then base64 of the ciphertext.
fn online(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let key = SessionKey::generate()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.sort();
    let (mut count, mut encoded_bytes) = (0_u64, 0_u64);
    for path in &files {
        let invoice = std::fs::read(path)?;
        let (ciphertext, metadata) = key.encrypt_to_vec(&invoice);
        let content = STANDARD.encode(&ciphertext);
        let _hashes = (
            metadata.plaintext.sha256_base64(),
            metadata.ciphertext.sha256_base64(),
        );
        count += 1;
        encoded_bytes += content.len() as u64;
    }
    println!("prepared {count} invoice(s), {encoded_bytes} base64 bytes");
    Ok(())
}

/// Decrypts `input` into `output` with [`SessionKey::decrypt_stream`] (two threads, as the export
/// unpacker does), checking the padding at the end.
fn decrypt(
    input: &str,
    output: &str,
    key: &str,
    iv: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let key = SessionKey::from_slices(&hex(key)?, &hex(iv)?)?;
    let mut out = BufWriter::with_capacity(1 << 20, File::create(output)?);
    let metadata = key.decrypt_stream(File::open(input)?, &mut out)?;
    out.flush()?;
    report(&metadata);
    Ok(())
}

/// Streams `input` through [`DecryptingWriter`] into `output` on one thread, checking the padding
/// at the end.
fn decrypt_serial(
    input: &str,
    output: &str,
    key: &str,
    iv: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let key = SessionKey::from_slices(&hex(key)?, &hex(iv)?)?;
    let mut reader = BufReader::with_capacity(1 << 20, File::open(input)?);
    let out = BufWriter::with_capacity(1 << 20, File::create(output)?);
    let mut writer = DecryptingWriter::new(out, &key);
    io::copy(&mut reader, &mut writer)?;
    let (mut out, metadata) = writer.finish()?;
    out.flush()?;
    report(&metadata);
    Ok(())
}

fn report(metadata: &EncryptionMetadata) {
    println!(
        "decrypted {} bytes into {} bytes, plaintext SHA-256 {}",
        metadata.ciphertext.size,
        metadata.plaintext.size,
        metadata.plaintext.sha256_base64()
    );
}

fn hex(text: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    if !text.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(&text[i..i + 2], 16)?))
        .collect()
}
