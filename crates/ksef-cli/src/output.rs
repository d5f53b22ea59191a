//! The one way results reach stdout.
//!
//! Every command prints its results through `outln!`/`out!` (text) or
//! [`crate::context::print_json`] (JSON), which all end in [`write_stdout`]. When the reader of
//! stdout has gone away (`ksef invoice query | head -1`), the write fails with `EPIPE`; instead
//! of panicking as `println!` does, the command stops with a [`StdoutClosed`] error, which `main`
//! turns into a quiet exit with status 0, as gh and cargo do: the reader asked for no more.

use std::fmt;
use std::io::Write as _;

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
