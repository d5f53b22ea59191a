//! Progress on stderr for long work: a bar for work that can be counted, a spinner for a wait.
//!
//! Shown only to a person: when stderr is a terminal and neither `--json` nor `--quiet` was
//! given. Otherwise the bars are hidden and cost nothing, so scripts and logs see no escapes.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use crate::context::Ctx;

/// Below this many items a bar is not worth drawing.
const FEWEST: u64 = 2;

/// Whether progress is drawn for this command.
pub(crate) fn shown(ctx: &Ctx) -> bool {
    !ctx.json() && !ctx.global.quiet && std::io::stderr().is_terminal()
}

/// A bar over `len` items, labelled `what` ("validating", ...); hidden when not [`shown`]. It
/// clears itself when finished or dropped, so the command's own lines follow undisturbed.
pub(crate) fn bar(ctx: &Ctx, len: u64, what: &str) -> ProgressBar {
    if !shown(ctx) || len < FEWEST {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A spinner saying what the command waits for, with the time spent. When not [`shown`], the
/// same words go to stderr once as a note (which `--quiet` silences) and the spinner is hidden.
pub(crate) fn waiting(ctx: &Ctx, what: impl Into<String>) -> ProgressBar {
    if !shown(ctx) {
        ctx.note(format!("{} …", what.into()));
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(what.into());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// A count of work whose total is not known ahead (invoices stored by a sync), with its rate and
/// the time spent, labelled `what`; hidden when not [`shown`]. Clears itself when finished or
/// dropped.
pub(crate) fn counter(ctx: &Ctx, what: &str) -> ProgressBar {
    if !shown(ctx) {
        return ProgressBar::hidden();
    }
    let counter = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {pos} ({per_sec}, {elapsed})")
    {
        counter.set_style(style);
    }
    counter.set_message(what.to_owned());
    counter.enable_steady_tick(Duration::from_millis(120));
    counter
}

/// Progress of a batch submission: a spinner while the invoices are packaged, then a bar over
/// the encrypted bytes as the parts are uploaded; hidden when not [`shown`].
pub(crate) fn batch_upload(ctx: &Ctx, invoices: usize) -> ProgressBar {
    if !shown(ctx) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(format!("packaging {invoices} invoice(s)"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Moves [`batch_upload`]'s display on with `event`.
pub(crate) fn batch_event(bar: &ProgressBar, event: &ksef_client::BatchEvent) {
    use ksef_client::BatchEvent;
    match event {
        BatchEvent::Packaged { parts, bytes, .. } => {
            bar.set_length(*bytes);
            bar.set_position(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!("uploading {parts} part(s)"));
        }
        BatchEvent::PartUploaded { bytes, .. } => bar.inc(*bytes),
        BatchEvent::Closed { .. } => bar.finish_and_clear(),
        _ => {}
    }
}
