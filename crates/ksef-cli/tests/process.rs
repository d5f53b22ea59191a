//! How a `ksef` process ends: at its total deadline, and with a stderr nobody reads.

mod common;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{describe, ksef, output_within, temp_dir, text};

/// A server that accepts connections and never answers: every request waits until the
/// transport's own timeouts (minutes), so only the command's deadline can stop it sooner.
fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/v2", listener.local_addr().unwrap());
    (listener, url)
}

/// `ksef [extra] auth login --token-stdin` against `url`: its output and how long it took.
fn token_login(home: &Path, url: &str, extra: &[&str]) -> (Output, Duration) {
    let mut args = vec!["--base-url", url];
    args.extend_from_slice(extra);
    args.extend(["auth", "login", "--nip", "5265877635", "--token-stdin"]);
    let mut command = ksef(home, &args);
    command.stdin(Stdio::piped());
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_ref()
        .unwrap()
        .write_all(b"20250101-EC-0000000000-0000000000-00|nip-5265877635|00\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (output, started.elapsed())
}

/// Before `--deadline`, the login below waited for the silent server for as long as the
/// transport's timeouts allowed (and the flag was refused as unknown).
#[test]
fn a_command_stops_at_its_deadline_and_names_what_it_was_waiting_for() {
    let home = temp_dir("deadline");
    let (_listener, url) = silent_server();
    let (output, took) = token_login(&home, &url, &["--deadline", "2s"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("deadline of 2s"), "{stderr}");
    assert!(
        stderr.contains("it was at: logging in to NIP 5265877635"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("nip-5265877635|00"),
        "the token leaked: {stderr}"
    );

    // config.toml's deadline, for commands run without the flag; a bad one is refused when set.
    let mut command = ksef(&home, &["config", "set", "deadline", "1x"]);
    let output = output_within(command, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(text(&output.stderr).contains("\"1x\" is not a deadline"));
    command = ksef(&home, &["config", "set", "deadline", "1S"]);
    let output = output_within(command, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let (output, took) = token_login(&home, &url, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("deadline of 1s") && stderr.contains("ksef config set deadline"),
        "{stderr}"
    );

    // The environment sets it too; a bad value is a usage error naming it.
    let mut command = ksef(&home, &["config", "show"]);
    command.env("KSEF_DEADLINE", "5 minutes");
    let output = output_within(command, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(text(&output.stderr).contains("\"5 minutes\" is not a deadline"));
}

/// `eprintln!` panicked (exit 101, "failed printing to stderr") when stderr was a pipe whose
/// reader had gone; diagnostics now go through a writer that drops them, and the command ends
/// with its own exit code.
#[test]
fn a_closed_stderr_pipe_never_panics() {
    let home = temp_dir("closed-stderr");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let missing = home.join("missing.xml");
    let mut command = ksef(
        &home,
        &["-v", "invoice", "validate", missing.to_str().unwrap()],
    );
    let output = command
        .stdout(Stdio::piped())
        .stderr(writer)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        text(&output.stdout)
    );
}
