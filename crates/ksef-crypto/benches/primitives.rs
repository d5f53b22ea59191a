//! Primitive throughput against OpenSSL, measured in one run: raw AES-256-CBC encryption and
//! SHA-256 against `openssl speed -evp` (16384-byte column), the per-invoice work of an online
//! session, and splitting + encrypting + hashing an existing large ZIP against `openssl enc`.
//!
//! Run with `cargo bench -p ksef-crypto --bench primitives` (release, one run, no harness).
//! Results: `BENCHMARKS.md`. `KSEF_BENCH_ONLY=archive` runs only the archive row;
//! `KSEF_BENCH_ARCHIVE_MB` (default 1024) sets the archive size; the
//! archive and the encrypted parts live in a fresh directory under `/tmp`, deleted at the end.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aes::cipher::{BlockModeEncrypt as _, KeyIvInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ksef_crypto::{ArchiveSplitter, DirectorySink, FileHasher, SessionKey};

/// Measuring time for each in-process throughput figure.
const MEASURE: Duration = Duration::from_secs(2);

/// Deterministic pseudo-random bytes (xorshift), incompressible like a ZIP's content.
fn fill_random(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Runs `f` on `buf` repeatedly for [`MEASURE`]; returns bytes per second.
fn throughput(buf: &mut [u8], mut f: impl FnMut(&mut [u8])) -> f64 {
    f(buf); // warm-up
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < MEASURE {
        f(buf);
        bytes += buf.len() as u64;
    }
    bytes as f64 / start.elapsed().as_secs_f64()
}

/// `openssl speed -evp ALG`: bytes per second in the largest block size column (16384 bytes).
fn openssl_speed(algorithm: &str) -> f64 {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "-mr", "-evp", algorithm])
        .output()
        .expect("openssl must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("+F:"))
        .unwrap_or_else(|| panic!("no +F line from openssl speed: {text}"));
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

fn mb(bytes_per_second: f64) -> f64 {
    bytes_per_second / 1e6
}

fn raw_aes_and_sha256() {
    let key = SessionKey::generate().unwrap();
    let mut buf = vec![0u8; 16 * 1024 * 1024];
    fill_random(&mut buf, &mut 0x1234_5678_9abc_def1);

    // The same AES-256-CBC the crate's engine runs (aes + cbc, AES-NI detected at run time).
    let ours_aes = throughput(&mut buf, |b| {
        let mut mode = cbc::Encryptor::<aes::Aes256>::new(key.key().into(), key.iv().into());
        let (blocks, _) = aes::Block::slice_as_chunks_mut(b);
        mode.encrypt_blocks(blocks);
    });
    let openssl_aes = openssl_speed("aes-256-cbc");

    // SHA-256 through the crate's public hasher (sha2, SHA-NI detected at run time).
    let ours_sha = throughput(&mut buf, |b| {
        let mut hasher = FileHasher::new();
        hasher.update(b);
        std::hint::black_box(hasher.finish());
    });
    let openssl_sha = openssl_speed("sha256");

    println!("| primitive | ksef-crypto MB/s | openssl speed MB/s (16384-byte blocks) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| AES-256-CBC encrypt | {:.0} | {:.0} | {:.2} |",
        mb(ours_aes),
        mb(openssl_aes),
        ours_aes / openssl_aes
    );
    println!(
        "| SHA-256 | {:.0} | {:.0} | {:.2} |",
        mb(ours_sha),
        mb(openssl_sha),
        ours_sha / openssl_sha
    );
}

fn per_invoice() {
    let key = SessionKey::generate().unwrap();
    let mut invoice = vec![0u8; 3 * 1024];
    fill_random(&mut invoice, &mut 42);
    let prepare = |invoice: &[u8]| {
        let (ciphertext, metadata) = key.encrypt_to_vec(invoice);
        let content = STANDARD.encode(&ciphertext); // encryptedInvoiceContent
        let invoice_hash = metadata.plaintext.sha256_base64(); // invoiceHash
        let encrypted_hash = metadata.ciphertext.sha256_base64(); // encryptedInvoiceHash
        std::hint::black_box((content, invoice_hash, encrypted_hash));
    };
    for _ in 0..1000 {
        prepare(&invoice);
    }
    let n = 200_000u32;
    let start = Instant::now();
    for _ in 0..n {
        prepare(&invoice);
    }
    let per = start.elapsed() / n;
    println!(
        "\nper-invoice online preparation (3072-byte invoice: AES-256-CBC, SHA-256 of plaintext and \
         ciphertext, base64 of ciphertext and hashes), {n} invoices: {:.2} µs per invoice",
        per.as_secs_f64() * 1e6
    );
}

/// Splits `archive` into parts of at most 100,000,000 bytes, each encrypted into its own file,
/// with the SHA-256 of the whole archive and of each encrypted part: `ArchiveSplitter`, the
/// crate's public API for an existing archive.
fn split_encrypt(archive: &Path, out_dir: &Path, key: &SessionKey) -> (u64, Vec<PathBuf>) {
    let mut sink = DirectorySink::new(out_dir);
    let split = ArchiveSplitter::new()
        .split_file(key, archive, &mut sink)
        .unwrap();
    std::hint::black_box(split.archive.sha256_base64());
    for part in &split.parts {
        std::hint::black_box(part.encrypted.sha256_base64());
    }
    (split.archive.size, sink.paths().to_vec())
}

fn large_archive() {
    let megabytes: u64 = std::env::var("KSEF_BENCH_ARCHIVE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = std::env::temp_dir().join(format!("ksef-bench-primitives-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("batch.zip");
    {
        let mut file = BufWriter::new(File::create(&archive).unwrap());
        let mut chunk = vec![0u8; 1024 * 1024];
        let mut state = 7u64;
        for _ in 0..megabytes {
            fill_random(&mut chunk, &mut state);
            file.write_all(&chunk).unwrap();
        }
        file.flush().unwrap();
    }
    let size = megabytes * 1024 * 1024;
    let key = SessionKey::generate().unwrap();
    let key_hex: String = key.key().iter().map(|b| format!("{b:02x}")).collect();
    let iv_hex: String = key.iv().iter().map(|b| format!("{b:02x}")).collect();

    // Three alternating rounds each (the file is in the page cache after it is written); the
    // best of each is kept, and each round's own ratio is printed as well.
    let mut best_openssl = (f64::MAX, 0.0);
    let mut best_ours = (f64::MAX, 0.0);
    let mut parts = 0;
    let mut round_ratios = Vec::new();
    for _ in 0..3 {
        let report = dir.join("time.txt");
        let start = Instant::now();
        let status = Command::new("/usr/bin/time")
            .args(["-f", "%U %S", "-o"])
            .arg(&report)
            .args([
                "openssl",
                "enc",
                "-aes-256-cbc",
                "-K",
                &key_hex,
                "-iv",
                &iv_hex,
                "-in",
            ])
            .arg(&archive)
            .arg("-out")
            .arg(dir.join("openssl.aes"))
            .status()
            .unwrap();
        let openssl_secs = start.elapsed().as_secs_f64();
        assert!(status.success());
        let openssl_cpu: f64 = std::fs::read_to_string(&report)
            .unwrap()
            .split_whitespace()
            .filter_map(|v| v.parse::<f64>().ok())
            .sum();
        if openssl_secs < best_openssl.0 {
            best_openssl = (openssl_secs, openssl_cpu);
        }
        std::fs::remove_file(dir.join("openssl.aes")).unwrap();

        let cpu_before = process_cpu_secs();
        let start = Instant::now();
        let (total, paths) = split_encrypt(&archive, &dir, &key);
        let ours_secs = start.elapsed().as_secs_f64();
        let ours_cpu = process_cpu_secs() - cpu_before;
        if ours_secs < best_ours.0 {
            best_ours = (ours_secs, ours_cpu);
        }
        round_ratios.push(format!("{:.2}", openssl_secs / ours_secs));
        assert_eq!(total, size);
        parts = paths.len();
        for path in paths {
            std::fs::remove_file(path).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!(
        "\nexisting {megabytes} MiB ZIP ({size} bytes), best of 3:\n\
         | tool | wall s | CPU s | MB/s |\n|---|---:|---:|---:|\n\
         | `openssl enc -aes-256-cbc` (one output file, no hashes) | {:.2} | {:.2} | {:.0} |\n\
         | ksef-crypto `ArchiveSplitter::split_file`: {parts} parts + AES-256-CBC + SHA-256 of archive and encrypted parts | {:.2} | {:.2} | {:.0} |\n\
         speed ratio ours / openssl (best of each): {:.2}; per round: {}",
        best_openssl.0,
        best_openssl.1,
        size as f64 / best_openssl.0 / 1e6,
        best_ours.0,
        best_ours.1,
        size as f64 / best_ours.0 / 1e6,
        best_openssl.0 / best_ours.0,
        round_ratios.join(", ")
    );
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (in clock ticks of
/// 1/100 s, Linux's `USER_HZ`).
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted. `KSEF_BENCH_ONLY=archive` runs
    // the archive row alone.
    if std::env::var("KSEF_BENCH_ONLY").as_deref() != Ok("archive") {
        raw_aes_and_sha256();
        per_invoice();
    }
    large_archive();
}
