//! A batch ZIP beyond 4 GiB, which needs ZIP64. Pushing 4.3 GB through encryption and four
//! SHA-256 passes takes some 20 s of CPU even in release, so this test drives the ZIP stage
//! of the packager (the same [`BatchPackager::write_zip`] that `package` runs, into the
//! [`Splitter`](super::Splitter) there) into a sparse file instead; the splitter and the encryption are size
//! agnostic and covered by the round-trip tests. The invoices are a line naming them followed
//! by zeros, so the 4.3 GB archive takes a few megabytes of disk. The ZIP64 end records and
//! every central directory entry are then parsed by hand, each local header is checked where
//! the directory puts it, and Info-ZIP's `unzip -t` reads the whole archive and checks every
//! entry's CRC.

use std::io::{self, Read as _, Write};
use std::os::unix::fs::FileExt as _;

use super::*;

const INVOICES: usize = 1_440;
const INVOICE_SIZE: u64 = 3_000_000;
const FOUR_GIB: u64 = 1 << 32;

fn name(i: usize) -> String {
    format!("5265877635-20250826-{i:012X}-AF.xml")
}

fn head(i: usize) -> String {
    format!("<Faktura nr=\"{i}\">\n")
}

/// An invoice: a line naming it (so that every entry's CRC differs), then zeros.
fn invoice(i: usize) -> BatchInvoice {
    let head = head(i).into_bytes();
    let zeros = io::repeat(0).take(INVOICE_SIZE - head.len() as u64);
    BatchInvoice::from_reader(name(i), INVOICE_SIZE, io::Cursor::new(head).chain(zeros))
}

/// Writes at the stream's offset, leaving holes for whole blocks of zeros.
struct Sparse {
    file: File,
    offset: u64,
}

impl Write for Sparse {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for block in buf.chunks(4096) {
            if block.iter().any(|&b| b != 0) {
                self.file.write_all_at(block, self.offset)?;
            }
            self.offset += block.len() as u64;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn read_at(file: &File, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, offset).unwrap();
    buf
}

/// One central directory entry: name, local header offset, compressed size.
type Entry = (String, u64, u64);

/// Parses the end of the archive and its central directory by hand (APPNOTE 4.3.14 to
/// 4.3.16, 4.5.3): the entries, and where the directory starts.
fn central_directory(file: &File, size: u64) -> (Vec<Entry>, u64) {
    // End of central directory record (no comment): the last 22 bytes.
    let eocd = read_at(file, size - 22, 22);
    assert_eq!(u32_at(&eocd, 0), 0x0605_4b50, "end of central directory");
    assert_eq!(usize::from(u16_at(&eocd, 10)), INVOICES);
    assert_eq!(
        u32_at(&eocd, 16),
        u32::MAX,
        "offset deferred to the ZIP64 record"
    );
    // ZIP64 end of central directory locator: the 20 bytes before it.
    let locator = read_at(file, size - 42, 20);
    assert_eq!(u32_at(&locator, 0), 0x0706_4b50, "ZIP64 locator");
    assert_eq!(u32_at(&locator, 16), 1, "one disk");
    let record_at = u64_at(&locator, 8);
    // ZIP64 end of central directory record.
    let record = read_at(file, record_at, 56);
    assert_eq!(
        u32_at(&record, 0),
        0x0606_4b50,
        "ZIP64 end of central directory"
    );
    assert_eq!(
        u64_at(&record, 4),
        44,
        "record size after its first 12 bytes"
    );
    assert_eq!(u64_at(&record, 24), INVOICES as u64);
    assert_eq!(u64_at(&record, 32), INVOICES as u64);
    let directory_size = u64_at(&record, 40);
    let directory_at = u64_at(&record, 48);
    assert!(directory_at > FOUR_GIB, "the directory starts beyond 4 GiB");
    assert_eq!(directory_at + directory_size, record_at);

    let directory = read_at(file, directory_at, directory_size.try_into().unwrap());
    let mut entries = Vec::new();
    let mut at = 0;
    while at < directory.len() {
        assert_eq!(u32_at(&directory, at), 0x0201_4b50, "central header");
        let compressed = u32_at(&directory, at + 20);
        let uncompressed = u32_at(&directory, at + 24);
        let name_len = usize::from(u16_at(&directory, at + 28));
        let extra_len = usize::from(u16_at(&directory, at + 30));
        let comment_len = usize::from(u16_at(&directory, at + 32));
        let offset = u32_at(&directory, at + 42);
        let name = String::from_utf8(directory[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let extra = &directory[at + 46 + name_len..at + 46 + name_len + extra_len];
        // Stored entries of 3,000,000 bytes need no ZIP64 sizes; only the offset may.
        assert_eq!(u64::from(compressed), INVOICE_SIZE, "{name}");
        assert_eq!(u64::from(uncompressed), INVOICE_SIZE, "{name}");
        let mut zip64_offset = None;
        let mut e = 0;
        while e + 4 <= extra.len() {
            let (id, len) = (u16_at(extra, e), usize::from(u16_at(extra, e + 2)));
            if id == 0x0001 {
                assert_eq!(len, 8, "{name}: the ZIP64 field holds the offset alone");
                zip64_offset = Some(u64_at(extra, e + 4));
            }
            e += 4 + len;
        }
        let offset = if offset == u32::MAX {
            zip64_offset.unwrap_or_else(|| panic!("{name}: no ZIP64 offset"))
        } else {
            assert_eq!(
                zip64_offset, None,
                "{name}: a ZIP64 field the header does not mark"
            );
            u64::from(offset)
        };
        entries.push((name, offset, u64::from(compressed)));
        at += 46 + name_len + extra_len + comment_len;
    }
    (entries, directory_at)
}

#[test]
fn a_zip_beyond_4_gib_has_valid_zip64_records() {
    let dir = std::env::temp_dir().join(format!(
        "ksef-crypto-zip64-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("batch.zip");
    let sparse = Sparse {
        file: File::create(&path).unwrap(),
        offset: 0,
    };
    let packager = BatchPackager::new()
        .jobs(2)
        .level(CompressionLevel::Stored)
        .limits(BatchLimits::default().with_max_invoice_size(INVOICE_SIZE));
    let invoices: Vec<BatchInvoice> = (0..INVOICES).map(invoice).collect();
    packager.check(&invoices).unwrap();
    let (sparse, hashes) = packager.write_zip(invoices, sparse).unwrap();
    let size = sparse.offset;
    sparse.file.set_len(size).unwrap();
    drop(sparse);
    assert!(size > FOUR_GIB, "{size}");
    assert_eq!(hashes.len(), INVOICES);

    let file = File::open(&path).unwrap();
    assert_eq!(file.metadata().unwrap().len(), size);
    let (entries, directory_at) = central_directory(&file, size);
    assert_eq!(entries.len(), INVOICES);
    let mut next = 0;
    for (i, (entry_name, offset, compressed)) in entries.iter().enumerate() {
        assert_eq!(*entry_name, name(i));
        assert_eq!(*offset, next, "{entry_name}: entries follow each other");
        let local = read_at(&file, *offset, 30 + entry_name.len());
        assert_eq!(u32_at(&local, 0), 0x0403_4b50, "{entry_name}: local header");
        assert_eq!(&local[30..], entry_name.as_bytes());
        let extra_len = u64::from(u16_at(&local, 28));
        let data = offset + 30 + entry_name.len() as u64 + extra_len;
        let head = head(i);
        assert_eq!(
            read_at(&file, data, head.len()),
            head.as_bytes(),
            "{entry_name}"
        );
        // The next entry (or the directory) follows the data, after a data descriptor (12
        // to 24 bytes) if the general purpose flags announce one.
        let end = data + compressed;
        next = end;
        if u16_at(&local, 6) & 0x0008 != 0 {
            next = entries.get(i + 1).map_or(directory_at, |e| e.1);
            assert!(
                (end + 12..=end + 24).contains(&next),
                "{entry_name}: data descriptor"
            );
        }
    }
    assert_eq!(next, directory_at);
    assert!(
        entries[INVOICES - 1].1 > FOUR_GIB,
        "entries lie beyond 4 GiB"
    );

    // The reading above (this test's own, not the zip crate's) is the default oracle; a 4 GiB
    // archive is too large to key a golden answer on, so Info-ZIP runs in live mode only
    // (`KSEF_ORACLES=live`, crate `ksef-oracle`).
    if !ksef_oracle::Mode::from_env().runs_tools() {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // Info-ZIP lists every entry from the central directory, and reads and checks the CRC
    // of the first entries and of the last ones, which lie beyond 4 GiB. (All of them would
    // take Info-ZIP's CRC some 15 s of CPU.)
    let unzip = |args: &[&str]| {
        let mut command = ksef_oracle::UNZIP.command();
        command.args(args).current_dir(&dir);
        let output = ksef_oracle::UNZIP.output(&mut command, b"");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "unzip {args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let listed = unzip(&["-Z1", "batch.zip"]);
    let expected: Vec<String> = (0..INVOICES).map(name).collect();
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
    let beyond = entries.iter().filter(|e| e.1 > FOUR_GIB).count();
    assert!(beyond >= 5, "{beyond} entries beyond 4 GiB");
    let mut args = vec!["-t".to_owned(), "batch.zip".to_owned()];
    args.extend((0..3).chain(INVOICES - beyond..INVOICES).map(name));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tested = unzip(&args);
    let _ = std::fs::remove_dir_all(&dir);
    for i in (0..3).chain(INVOICES - beyond..INVOICES) {
        let testing = format!("testing: {} ", name(i));
        assert!(
            tested
                .lines()
                .any(|l| l.trim_start().starts_with(&testing) && l.ends_with(" OK")),
            "{}: {tested}",
            name(i)
        );
    }
    let summary = format!(
        "No errors detected in batch.zip for the {} files tested.",
        3 + beyond
    );
    assert!(tested.contains(&summary), "{tested}");
}
