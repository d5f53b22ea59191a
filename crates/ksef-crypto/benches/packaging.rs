//! Batch packaging benchmark: our `BatchPackager` against `zip -6 -r` and `openssl enc
//! -aes-256-cbc` on the same generated invoices, with wall time, peak RSS and archive size.
//!
//! Run with `cargo bench -p ksef-crypto --bench packaging` (release). Every measured phase runs as
//! a child process under `/usr/bin/time`, which reports its wall and CPU time and (for `zip` and
//! `openssl`) its peak RSS; the packager reports its own peak RSS (`VmHWM`). The data goes under a
//! fresh directory in `/tmp` and is deleted at the end. Results: `BENCHMARKS.md`.
//!
//! `packaging generate DIR COUNT SIZE` writes one data set, and `packaging child DATA_DIR OUT_DIR
//! JOBS` packages it, to reproduce a case by hand.
//!
//! The export case builds a KSeF-like export package (invoices named `{ksefNumber}.xml` plus a
//! `_metadata.json` with one record each, zipped and encrypted in parts of at most 100,000,000
//! bytes) and times `ExportUnpacker::unpack` (part size and hash checks, decryption into a
//! scratch file, unzip with the bomb guards, SHA-256 of every invoice, metadata parsed) against
//! `openssl enc -d -aes-256-cbc` of the same parts followed by `unzip -tq` of the result.
//!
//! Environment: `KSEF_BENCH_ONLY=export` (or `packaging`) runs one half;
//! `KSEF_BENCH_EXPORT_INVOICES` (default 10,000) and `KSEF_BENCH_EXPORT_SIZE` (default 10,000
//! bytes) set the export case; `KSEF_BENCH_LARGE_INVOICES` (default 10,000) sets how many 100 KB invoices the
//! large case has; `KSEF_BENCH_SKIP_LARGE=1` skips it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ksef_crypto::{
    BatchInvoice, BatchLimits, BatchPackager, DirectorySink, ExpectedPart, ExportUnpacker,
    SessionKey,
};

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const PRODUCTS: [&str; 8] = [
    "Usługa serwisowa",
    "Papier A4 80g",
    "Licencja oprogramowania",
    "Transport krajowy",
    "Materiały biurowe",
    "Konsultacje IT",
    "Energia elektryczna",
    "Najem lokalu",
];

/// An FA(3)-like invoice of exactly `len` bytes: a fixed header, then line items with random
/// names, quantities and amounts, so it compresses like real invoices (several times, not 100×).
fn invoice(len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 512);
    let nip = 1_000_000_000 + rng.next() % 8_999_999_999;
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\">\n\
         <Naglowek><KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza>\
         <WariantFormularza>3</WariantFormularza><DataWytworzeniaFa>2025-08-{:02}T10:{:02}:00Z</DataWytworzeniaFa></Naglowek>\n\
         <Podmiot1><DaneIdentyfikacyjne><NIP>{nip}</NIP><Nazwa>Firma {:x} Sp. z o.o.</Nazwa></DaneIdentyfikacyjne></Podmiot1>\n<Fa>\n",
        1 + rng.next() % 28,
        rng.next() % 60,
        rng.next() % 0xffff_ffff
    )
    .expect("writing to a Vec cannot fail");
    let mut line = 1;
    while out.len() < len {
        let r = rng.next();
        let qty = 1 + r % 50;
        let price = (r >> 8) % 100_000;
        writeln!(
            out,
            "<FaWiersz><NrWierszaFa>{line}</NrWierszaFa><UU_ID>{:016x}</UU_ID><P_7>{} {}</P_7><P_8A>szt.</P_8A>\
             <P_8B>{qty}</P_8B><P_9A>{}.{:02}</P_9A><P_11>{}.{:02}</P_11><P_12>23</P_12></FaWiersz>",
            rng.next(),
            PRODUCTS[(r >> 32) as usize % PRODUCTS.len()],
            (r >> 40) % 1000,
            price / 100,
            price % 100,
            qty * price / 100,
            (qty * price) % 100,
        )
        .expect("writing to a Vec cannot fail");
        line += 1;
    }
    out.truncate(len);
    out
}

fn generate(dir: &Path, count: usize, size: usize, seed: u64) -> u64 {
    std::fs::create_dir_all(dir).expect("create the data directory");
    let mut rng = Rng(seed | 1);
    let mut total = 0;
    for i in 0..count {
        let bytes = invoice(size, &mut rng);
        total += bytes.len() as u64;
        std::fs::write(
            dir.join(format!("5265877635-20250826-{i:012X}-AF.xml")),
            bytes,
        )
        .expect("write an invoice");
    }
    total
}

/// Child mode: package `dir` into `out` with `jobs` jobs; print the archive size.
fn child(dir: &Path, out: &Path, jobs: usize) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the data directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    let invoices: Vec<BatchInvoice> = paths
        .iter()
        .map(|p| BatchInvoice::from_file(p).expect("invoice"))
        .collect();
    let key = SessionKey::generate().expect("key");
    std::fs::create_dir_all(out).expect("create the output directory");
    let package = BatchPackager::new()
        .jobs(jobs)
        .package(&key, invoices, DirectorySink::new(out))
        .expect("packaging");
    // Our own peak RSS, from the kernel's high-water mark of this process's memory.
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    println!("{} {} {hwm_kib}", package.archive.size, package.parts.len());
}

struct Measured {
    secs: f64,
    cpu_secs: f64,
    rss_kib: u64,
    stdout: String,
}

/// Runs `program args` under `/usr/bin/time`, returning wall time and peak RSS.
fn measure(program: &Path, args: &[&str], cwd: &Path) -> Measured {
    let report = std::env::temp_dir().join(format!("ksef-bench-time-{}", std::process::id()));
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(&report)
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("/usr/bin/time must be installed");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{program:?} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&report).expect("time report");
    let _ = std::fs::remove_file(&report);
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(fields.len(), 4, "time report: {text}");
    let cpu_secs = fields[1] + fields[2];
    let rss_kib = fields[3] as u64;
    Measured {
        secs,
        cpu_secs,
        rss_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

struct Row {
    case: String,
    tool: String,
    secs: f64,
    cpu_secs: f64,
    input: u64,
    output: u64,
    rss_kib: u64,
    /// Our plain ZIP's size over `zip -6`'s.
    zip_ratio: Option<f64>,
    /// Time of `zip -6` + `openssl` over ours.
    speedup: Option<f64>,
}

fn run_case(root: &Path, name: &str, count: usize, size: usize, rows: &mut Vec<Row>) {
    let data = root.join(format!("{name}-data"));
    let input = generate(&data, count, size, 0x5eed ^ size as u64);
    let case = format!(
        "{name}: {count} × {} KB ({} MB)",
        size / 1000,
        input / 1_000_000
    );
    let exe = std::env::current_exe().expect("current exe");
    let data_str = data.to_str().expect("UTF-8 path");

    // zip -6 -r, then openssl enc on its output.
    let zip_path = root.join(format!("{name}.zip"));
    let zip_str = zip_path.to_str().expect("UTF-8 path");
    let zip = measure(
        Path::new("zip"),
        &["-6", "-r", "-q", "-D", zip_str, "."],
        &data,
    );
    let zip_size = std::fs::metadata(&zip_path).expect("zip output").len();
    let enc_path = root.join(format!("{name}.zip.aes"));
    let key_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let iv_hex = "0102030405060708090a0b0c0d0e0f10";
    let enc = measure(
        Path::new("openssl"),
        &[
            "enc",
            "-aes-256-cbc",
            "-K",
            key_hex,
            "-iv",
            iv_hex,
            "-in",
            zip_str,
            "-out",
            enc_path.to_str().expect("UTF-8"),
        ],
        root,
    );
    let enc_size = std::fs::metadata(&enc_path).expect("openssl output").len();
    let _ = std::fs::remove_file(&zip_path);
    let _ = std::fs::remove_file(&enc_path);

    let mut ours = Vec::new();
    let default_jobs = std::thread::available_parallelism().map_or(1, usize::from);
    for jobs in [default_jobs, 1] {
        let out = root.join(format!("{name}-parts-{jobs}"));
        let jobs_str = jobs.to_string();
        let m = measure(
            &exe,
            &["child", data_str, out.to_str().expect("UTF-8"), &jobs_str],
            root,
        );
        let reported: Vec<u64> = m
            .stdout
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        assert_eq!(reported.len(), 3, "child output: {}", m.stdout);
        let archive = reported[0];
        // VmHWM of the packaging process itself (`/usr/bin/time`'s figure for a process spawned
        // from this one can include memory that is not the packager's).
        let m = Measured {
            rss_kib: reported[2],
            ..m
        };
        let encrypted = dir_size(&out);
        let _ = std::fs::remove_dir_all(&out);
        ours.push((jobs, m, archive, encrypted));
    }
    std::fs::remove_dir_all(&data).expect("remove the data");

    rows.push(Row {
        case: case.clone(),
        tool: "`zip -6 -r` (plain ZIP)".into(),
        secs: zip.secs,
        cpu_secs: zip.cpu_secs,
        input,
        output: zip_size,
        rss_kib: zip.rss_kib,
        zip_ratio: Some(1.0),
        speedup: None,
    });
    rows.push(Row {
        case: case.clone(),
        tool: "`openssl enc -aes-256-cbc` of that ZIP".into(),
        secs: enc.secs,
        cpu_secs: enc.cpu_secs,
        input: zip_size,
        output: enc_size,
        rss_kib: enc.rss_kib,
        zip_ratio: None,
        speedup: None,
    });
    rows.push(Row {
        case: case.clone(),
        tool: "zip -6 + openssl (sum)".into(),
        secs: zip.secs + enc.secs,
        cpu_secs: zip.cpu_secs + enc.cpu_secs,
        input,
        output: enc_size,
        rss_kib: zip.rss_kib.max(enc.rss_kib),
        zip_ratio: None,
        speedup: Some(1.0),
    });
    let baseline = zip.secs + enc.secs;
    for (jobs, m, archive, encrypted) in ours {
        rows.push(Row {
            case: case.clone(),
            tool: format!("ksef-crypto `BatchPackager`, jobs={jobs}"),
            secs: m.secs,
            cpu_secs: m.cpu_secs,
            input,
            output: encrypted,
            rss_kib: m.rss_kib,
            zip_ratio: Some(archive as f64 / zip_size as f64),
            speedup: Some(baseline / m.secs),
        });
    }
}

/// One `_metadata.json` record for the invoice `ksef_number`.
fn export_record(ksef_number: &str, hash: &str, i: usize) -> String {
    format!(
        r#"{{"ksefNumber":"{ksef_number}","invoiceNumber":"FA/{i}/2025","issueDate":"2025-08-27","invoicingDate":"2025-08-28T09:22:13.3881234+00:00","acquisitionDate":"2025-08-28T09:22:56.3881234+00:00","permanentStorageDate":"2025-08-28T09:23:01.388123+00:00","seller":{{"nip":"5265877635","name":"Firma Sp. z o.o."}},"buyer":{{"identifier":{{"type":"Nip","value":"7352765225"}},"name":"Nabywca S.A."}},"netAmount":{}.{:02},"grossAmount":1.00,"vatAmount":0.23,"currency":"PLN","invoicingMode":"Online","invoiceType":"Vat","formCode":{{"systemCode":"FA (3)","schemaVersion":"1-0E","value":"FA"}},"isSelfInvoicing":false,"hasAttachment":false,"invoiceHash":"{hash}"}}"#,
        i * 37 % 100_000,
        i % 100
    )
}

/// Runs `program args` in `cwd` and returns the wall time in seconds.
fn timed(program: &str, args: &[&str], cwd: &Path) -> f64 {
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the tool must be installed");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    secs
}

/// The export case: `ExportUnpacker` against `openssl enc -d` + `unzip -tq`, best of two
/// alternating rounds each.
fn run_export(root: &Path) {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let count = env("KSEF_BENCH_EXPORT_INVOICES", 10_000);
    let size = env("KSEF_BENCH_EXPORT_SIZE", 10_000);
    let dir = root.join("export");
    std::fs::create_dir_all(&dir).expect("create the export directory");
    let mut rng = Rng(0x00e4_b047 | 1);
    let mut invoices = Vec::with_capacity(count + 1);
    let mut records = Vec::with_capacity(count);
    let mut invoice_bytes = 0u64;
    for i in 0..count {
        let ksef_number = ksef_model::values::KsefNumber::from_parts(
            &"5265877635".parse().expect("NIP"),
            chrono::NaiveDate::from_ymd_opt(2025, 8, 28).expect("date"),
            &format!("{i:012X}"),
        )
        .expect("KSeF number")
        .to_string();
        let bytes = invoice(size, &mut rng);
        invoice_bytes += bytes.len() as u64;
        let hash = ksef_crypto::file_metadata(&bytes).sha256_base64();
        records.push(export_record(&ksef_number, &hash, i));
        invoices.push(BatchInvoice::from_bytes(
            format!("{ksef_number}.xml"),
            bytes,
        ));
    }
    let metadata = format!(r#"{{"invoices":[{}]}}"#, records.join(","));
    drop(records);
    invoices.insert(
        0,
        BatchInvoice::from_bytes("_metadata.json", metadata.into_bytes()),
    );
    let key = SessionKey::generate().expect("key");
    let parts_dir = dir.join("parts");
    std::fs::create_dir_all(&parts_dir).expect("create the parts directory");
    let mut sink = DirectorySink::new(&parts_dir);
    let package = BatchPackager::new()
        .limits(
            BatchLimits::default()
                .with_max_invoices(u32::try_from(count + 1).expect("count"))
                .with_max_invoice_size(u64::MAX),
        )
        .package(&key, invoices, &mut sink)
        .expect("packaging the export");
    let paths = sink.paths().to_vec();
    let expected: Vec<ExpectedPart> = package
        .parts
        .iter()
        .map(|p| ExpectedPart::new(p.ordinal_number, p.encrypted))
        .collect();
    let encrypted: u64 = package.parts.iter().map(|p| p.encrypted.size).sum();
    let key_hex: String = key.key().iter().map(|b| format!("{b:02x}")).collect();
    let iv_hex: String = key.iv().iter().map(|b| format!("{b:02x}")).collect();

    let mut best_ours = f64::MAX;
    let mut best_openssl = f64::MAX;
    let mut best_unzip = f64::MAX;
    for _ in 0..2 {
        // openssl enc -d of each part, appended to one ZIP, then unzip -tq of it.
        let zip_path = dir.join("export.zip");
        let mut openssl_secs = 0.0;
        for path in &paths {
            let part_out = dir.join("part.plain");
            openssl_secs += timed(
                "openssl",
                &[
                    "enc",
                    "-d",
                    "-aes-256-cbc",
                    "-K",
                    &key_hex,
                    "-iv",
                    &iv_hex,
                    "-in",
                    path.to_str().expect("UTF-8"),
                    "-out",
                    part_out.to_str().expect("UTF-8"),
                ],
                &dir,
            );
            let started = Instant::now();
            let mut joined = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&zip_path)
                .expect("open the joined ZIP");
            std::io::copy(
                &mut std::fs::File::open(&part_out).expect("part"),
                &mut joined,
            )
            .expect("append a part");
            openssl_secs += started.elapsed().as_secs_f64();
        }
        let unzip_secs = timed("unzip", &["-tq", zip_path.to_str().expect("UTF-8")], &dir);
        let _ = std::fs::remove_file(&zip_path);
        let _ = std::fs::remove_file(dir.join("part.plain"));
        best_openssl = best_openssl.min(openssl_secs);
        best_unzip = best_unzip.min(unzip_secs);

        let started = Instant::now();
        let scratch_path = dir.join("scratch.zip");
        let scratch = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&scratch_path)
            .expect("scratch file");
        let readers = expected.iter().copied().zip(
            paths
                .iter()
                .map(|p| std::fs::File::open(p).expect("part file")),
        );
        let mut seen = 0u64;
        let unpacked = ExportUnpacker::new()
            .unpack(&key, readers, scratch, |invoice| {
                seen += invoice.content.len() as u64;
                std::hint::black_box(invoice.record.as_ref());
                Ok(())
            })
            .expect("unpacking the export");
        best_ours = best_ours.min(started.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&scratch_path);
        assert_eq!(unpacked.invoice_count, count as u64);
        assert_eq!(seen, invoice_bytes);
        assert_eq!(unpacked.archive, package.archive);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let reference = best_openssl + best_unzip;
    println!(
        "\nexport: {count} invoices × {size} bytes ({:.1} MB of invoices, {} part(s), ZIP {} bytes, \
         encrypted {encrypted} bytes), best of 2:\n\
         | tool | wall s | encrypted GB/s | invoice GB/s |\n|---|---:|---:|---:|\n\
         | `openssl enc -d -aes-256-cbc` of the parts | {best_openssl:.3} | {:.3} | – |\n\
         | `unzip -tq` of the decrypted ZIP | {best_unzip:.3} | – | {:.3} |\n\
         | openssl + unzip (sum) | {reference:.3} | {:.3} | {:.3} |\n\
         | ksef-crypto `ExportUnpacker::unpack` (check hashes, decrypt, unzip, SHA-256 per invoice, parse metadata) | {best_ours:.3} | {:.3} | {:.3} |\n\
         speed ratio ours / (openssl + unzip): {:.2}",
        invoice_bytes as f64 / 1e6,
        paths.len(),
        package.archive.size,
        encrypted as f64 / best_openssl / 1e9,
        invoice_bytes as f64 / best_unzip / 1e9,
        encrypted as f64 / reference / 1e9,
        invoice_bytes as f64 / reference / 1e9,
        encrypted as f64 / best_ours / 1e9,
        invoice_bytes as f64 / best_ours / 1e9,
        reference / best_ours
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("generate") {
        // `generate DIR COUNT SIZE`: only write the data set (to reproduce a case by hand).
        let count = args[3].parse().expect("count");
        let size: usize = args[4].parse().expect("size");
        generate(Path::new(&args[2]), count, size, 0x5eed ^ size as u64);
        return;
    }
    if args.get(1).map(String::as_str) == Some("child") {
        let jobs = args[4].parse().expect("jobs");
        child(Path::new(&args[2]), Path::new(&args[3]), jobs);
        return;
    }
    let root = std::env::temp_dir().join(format!("ksef-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("create the bench directory");
    let only = std::env::var("KSEF_BENCH_ONLY").unwrap_or_default();
    if only != "packaging" {
        run_export(&root);
    }
    if only == "export" {
        let _ = std::fs::remove_dir_all(&root);
        return;
    }
    let mut rows = Vec::new();
    run_case(&root, "small", 10_000, 3_000, &mut rows);
    if std::env::var("KSEF_BENCH_SKIP_LARGE").is_err() {
        let count = std::env::var("KSEF_BENCH_LARGE_INVOICES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        run_case(&root, "large", count, 100_000, &mut rows);
    }
    let _ = std::fs::remove_dir_all(&root);

    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
    };
    println!(
        "| case | tool | wall s | CPU s | input MB/s | output bytes | ZIP size / `zip -6` | speed-up vs zip+openssl | peak RSS MiB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {:.1} |",
            row.case,
            row.tool,
            row.secs,
            row.cpu_secs,
            row.input as f64 / 1e6 / row.secs,
            row.output,
            opt(row.zip_ratio, 4),
            opt(row.speedup, 2),
            row.rss_kib as f64 / 1024.0
        );
    }
}
