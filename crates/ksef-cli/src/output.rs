//! The one way results reach stdout.
//!
//! Every command prints its results through `outln!`/`out!` (text) or
//! [`crate::context::print_json`] (JSON), which all end in [`write_stdout`]. When the reader of
//! stdout has gone away (`ksef invoice query | head -1`), the write fails with `EPIPE`; instead
//! of panicking as `println!` does, the command stops with a [`StdoutClosed`] error, which `main`
//! turns into a quiet exit with status 0, as gh and cargo do: the reader asked for no more.
//!
//! Diagnostics go to stderr through `errln!` ([`write_stderr`]), which ignores a failed write:
//! `eprintln!` panics when stderr is a pipe nobody reads any more (`2>&1 | head` ended, a
//! closed log reader), and a diagnostic nobody can read is no reason to stop a command. The
//! last progress line is also kept as the command's current activity ([`set_activity`]), so a
//! command stopped by its deadline can say what it was doing.

use std::fmt;
use std::io::Write as _;
use std::sync::Mutex;

/// What the command is doing now: its last progress line.
static ACTIVITY: Mutex<String> = Mutex::new(String::new());

/// Records `line` as what the command is doing now.
pub(crate) fn set_activity(line: &str) {
    if let Ok(mut activity) = ACTIVITY.lock() {
        line.trim().clone_into(&mut activity);
    }
}

/// What the command was doing last ([`set_activity`]), if it said.
pub(crate) fn activity() -> Option<String> {
    ACTIVITY
        .lock()
        .ok()
        .map(|a| a.clone())
        .filter(|a| !a.is_empty())
}

/// Writes formatted text to stderr and ignores a failure (a closed or broken stderr).
pub(crate) fn write_stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// The reader of stdout closed the pipe: nothing more can be printed, and nothing is wrong.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the reader of stdout closed the pipe")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `error` (or one of its causes) is a closed stdout.
pub(crate) fn is_stdout_closed(error: &anyhow::Error) -> bool {
    // Only the typed error: a broken pipe elsewhere (a socket) is a real failure.
    error.chain().any(|cause| cause.is::<StdoutClosed>())
}

/// Maps a failed write to stdout: a closed pipe becomes [`StdoutClosed`], anything else says it
/// was stdout that failed.
pub(crate) fn stdout_error(error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        anyhow::Error::new(StdoutClosed)
    } else {
        anyhow::Error::new(error).context("cannot write to stdout")
    }
}

/// Writes formatted text to stdout (line-buffered, as `print!`).
pub(crate) fn write_stdout(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(stdout_error)
}

/// Writes bytes to stdout and flushes them.
pub(crate) fn write_stdout_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// `println!` for results: writes a line to stdout and returns early (`?`) with
/// [`StdoutClosed`] when the reader has gone away.
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `print!` for results, as `outln!` without the line end.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))?
    };
}

/// `eprintln!` that never panics: a diagnostic line on stderr, dropped when stderr is gone.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}
