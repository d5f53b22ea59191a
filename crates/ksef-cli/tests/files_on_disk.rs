//! Files on disk (issue 20, C): one atomic writer that never writes through a symbolic link,
//! scratch space inside the destination (never plaintext in `$TMPDIR`), one `invoice sync` per
//! directory, and `batch send`/`batch pack` that account for every entry of a directory.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::*;

/// Sends `count` invoices in one batch session; returns their KSeF numbers.
fn send_invoices(sim: &Sim, home: &Path, count: usize) -> Vec<String> {
    let dir = home.join("to-send");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..count {
        std::fs::write(
            dir.join(format!("inv-{i}.xml")),
            invoice_issued(&sim.nip, &format!("FILES-{i}"), &date("today")),
        )
        .unwrap();
    }
    let sent = json_ok(&sim.run(
        home,
        &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
    ));
    assert_eq!(sent["accepted"], count);
    sent["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `ksef` against the simulator with `tmp` as its `$TMPDIR`.
fn run_with_tmp(sim: &Sim, home: &Path, tmp: &Path, args: &[&str]) -> Output {
    sim.ksef(home, args).env("TMPDIR", tmp).output().unwrap()
}

/// What is in `dir` (names), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A scratch directory as a killed run leaves it: an unlocked lock file and a decrypted archive.
fn plant_leftover(dir: &Path, label: &str) -> std::path::PathBuf {
    let leftover = dir
        .join(".ksef-tmp")
        .join(format!("ksef-{label}-killedEarlier"));
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join(".lock"), b"").unwrap();
    std::fs::write(leftover.join("archive"), b"decrypted invoices").unwrap();
    leftover
}

#[cfg(unix)]
#[test]
fn invoices_upos_and_exports_go_through_the_one_writer() {
    let home = temp_dir("files-writer");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let numbers = send_invoices(&sim, &home, 2);
    let victim = home.join("victim");
    std::fs::write(&victim, b"untouched").unwrap();

    // `invoice get --out` onto a planted link: refused, naming the path; the target untouched.
    let link = home.join("got.xml");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let refused = sim.run(
        &home,
        &[
            "invoice",
            "get",
            &numbers[0],
            "--out",
            link.to_str().unwrap(),
        ],
    );
    assert_fails_with(&refused, "symbolic link");
    assert!(
        text(&refused.stderr).contains("got.xml"),
        "{}",
        describe(&refused)
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    let got = home.join("got-real.xml");
    let saved = sim.run(
        &home,
        &[
            "invoice",
            "get",
            &numbers[0],
            "--out",
            got.to_str().unwrap(),
        ],
    );
    assert!(saved.status.success(), "{}", describe(&saved));
    assert_eq!(mode(&got), 0o600, "invoices are private");

    // `invoice sync` meeting a link where an invoice goes: refused, nothing written through it.
    let out = home.join("synced");
    std::fs::create_dir_all(&out).unwrap();
    let planted = out.join(format!("{}.xml", numbers[1]));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let sync_args = [
        "invoice",
        "sync",
        "--out",
        out.to_str().unwrap(),
        "--subject-type",
        "subject1",
        "--since",
        &date("yesterday"),
    ];
    let refused = sim.run(&home, &sync_args);
    assert_fails_with(&refused, "symbolic link");
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    std::fs::remove_file(&planted).unwrap();
    let synced = sim.run(&home, &sync_args);
    assert!(synced.status.success(), "{}", describe(&synced));
    for number in &numbers {
        assert_eq!(mode(&out.join(format!("{number}.xml"))), 0o600);
    }

    // `invoice export`: every file private.
    let exported = home.join("exported");
    let done = sim.run(
        &home,
        &[
            "invoice",
            "export",
            "--from",
            &date("yesterday"),
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    assert!(done.status.success(), "{}", describe(&done));
    for name in names(&exported) {
        let path = exported.join(&name);
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{name} is private");
        }
    }
}

#[cfg(unix)]
#[test]
fn sync_and_export_keep_scratch_inside_the_destination_and_clear_leftovers() {
    let home = temp_dir("files-scratch");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    send_invoices(&sim, &home, 3);
    let tmp = home.join("private-tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    let out = home.join("synced");
    let since = date("yesterday");
    let sync_args = [
        "invoice",
        "sync",
        "--out",
        out.to_str().unwrap(),
        "--subject-type",
        "subject1",
        "--since",
        since.as_str(),
    ];
    // Killed runs at growing delays: nothing of theirs may land in $TMPDIR.
    for delay_ms in [40u64, 120, 300] {
        let mut child = sim
            .ksef(&home, &sync_args)
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert!(names(&tmp).is_empty(), "$TMPDIR: {:?}", names(&tmp));
    }
    // What a killed run left in the destination's scratch is removed by the next run.
    std::fs::create_dir_all(&out).unwrap();
    let leftover = plant_leftover(&out, "export");
    let done = run_with_tmp(&sim, &home, &tmp, &sync_args);
    assert!(done.status.success(), "{}", describe(&done));
    assert!(!leftover.exists(), "the killed run's scratch was removed");
    assert!(names(&out.join(".ksef-tmp")).is_empty());
    assert_eq!(mode(&out.join(".ksef-tmp")), 0o700);
    assert!(names(&tmp).is_empty(), "$TMPDIR: {:?}", names(&tmp));

    let exported = home.join("exported");
    std::fs::create_dir_all(&exported).unwrap();
    let leftover = plant_leftover(&exported, "export");
    let done = run_with_tmp(
        &sim,
        &home,
        &tmp,
        &[
            "invoice",
            "export",
            "--from",
            &date("yesterday"),
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    assert!(done.status.success(), "{}", describe(&done));
    assert!(!leftover.exists());
    assert!(names(&tmp).is_empty(), "$TMPDIR: {:?}", names(&tmp));

    // `batch send` keeps its parts in the profile's private scratch, not in $TMPDIR.
    let leftover = plant_leftover(&home, "batch");
    let dir = home.join("more");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("x.xml"),
        invoice_issued(&sim.nip, "FILES-X", &date("today")),
    )
    .unwrap();
    let sent = run_with_tmp(&sim, &home, &tmp, &["batch", "send", dir.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", describe(&sent));
    assert!(!leftover.exists());
    assert!(names(&tmp).is_empty(), "$TMPDIR: {:?}", names(&tmp));
}

#[test]
fn a_second_sync_into_one_directory_is_refused_naming_the_holder() {
    let home = temp_dir("files-lock");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    send_invoices(&sim, &home, 1);
    let out = home.join("synced");
    std::fs::create_dir_all(&out).unwrap();
    let sync_args = [
        "invoice",
        "sync",
        "--out",
        out.to_str().unwrap(),
        "--subject-type",
        "subject1",
        "--since",
        &date("yesterday"),
    ];
    // Another sync holds the directory (its lock, as `invoice sync` takes it).
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out.join(".ksef-sync.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    std::io::Write::write_all(
        &mut &lock,
        b"invoice sync (process 4242, since 2026-01-01T00:00:00Z)",
    )
    .unwrap();
    let refused = sim.run(&home, &sync_args);
    assert_fails_with(&refused, "is in use by invoice sync (process 4242");
    assert!(
        !names(&out).iter().any(|n| n.ends_with(".xml")),
        "the second sync wrote nothing"
    );
    drop(lock);
    let done = sim.run(&home, &sync_args);
    assert!(done.status.success(), "{}", describe(&done));

    // A killed sync's lock goes with it.
    let mut child = sim
        .ksef(&home, &sync_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let _ = child.kill();
    let _ = child.wait();
    let again = sim.run(&home, &sync_args);
    assert!(again.status.success(), "{}", describe(&again));
}

#[cfg(unix)]
#[test]
fn batch_send_names_every_entry_it_cannot_send() {
    let home = temp_dir("files-batch-entries");
    let sim = Sim::start(&home);
    sim.login(&home, &[]);
    let dir = home.join("invoices");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..2 {
        std::fs::write(
            dir.join(format!("ok-{i}.xml")),
            invoice_issued(&sim.nip, &format!("ENTRIES-{i}"), &date("today")),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(dir.join("nowhere.xml"), dir.join("dangling.xml")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop.xml"), dir.join("loop.xml")).unwrap();
    let refused = sim.run(
        &home,
        &["batch", "send", dir.to_str().unwrap(), "--wait", "--json"],
    );
    assert_fails_with(
        &refused,
        "dangling.xml: a symbolic link to a file that does not exist",
    );
    assert!(
        text(&refused.stderr).contains("loop.xml: a symbolic link that cannot be followed"),
        "{}",
        describe(&refused)
    );
    assert!(text(&refused.stderr).contains("nothing was sent"));
    let listed = json_ok(&sim.run(
        &home,
        &["invoice", "query", "--from", &date("yesterday"), "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing was sent");
}

#[cfg(unix)]
#[test]
fn oversized_inputs_are_refused_by_size_never_read_whole() {
    let home = temp_dir("files-bounded");
    // A 200 MB invoice (sparse: it costs no disk), refused by its size before reading.
    let big = home.join("big.xml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    let started = std::time::Instant::now();
    let refused = ksef(&home, &["invoice", "send", big.to_str().unwrap()])
        .output()
        .unwrap();
    assert_fails_with(&refused, "big.xml is larger than KSeF's invoice size limit");
    assert!(
        text(&refused.stderr).contains("it has 200000000 bytes"),
        "{}",
        describe(&refused)
    );
    // Devices have no size: read through the cap, refused after 3 MB.
    for args in [
        &["invoice", "send", "/dev/zero"][..],
        &["invoice", "validate", "/dev/zero"][..],
        &["invoice", "pdf", "/dev/zero", "--out", "pdf"][..],
    ] {
        let refused = ksef(&home, args).output().unwrap();
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{args:?}: {}",
            describe(&refused)
        );
        let all = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
        assert!(
            all.contains(
                "/dev/zero is larger than KSeF's invoice size limit (3 MB with attachments)"
            ),
            "{args:?}: {all}"
        );
    }
    let refused = ksef(
        &home,
        &[
            "auth",
            "login",
            "--nip",
            "5265877635",
            "--base-url",
            "http://127.0.0.1:9",
            "--token-file",
            "/dev/zero",
        ],
    )
    .output()
    .unwrap();
    assert_fails_with(&refused, "/dev/zero is larger than the 64 KiB limit");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused quickly, not after reading: {:?}",
        started.elapsed()
    );
}
