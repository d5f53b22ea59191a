//! The total deadline of a command (`--deadline`, `KSEF_DEADLINE`, config.toml's `deadline`).
//!
//! Each wait has its own cap (a `Retry-After`, a status poll), but a command made of many waits
//! could still run for as long as the server keeps it busy. The deadline bounds the whole
//! command: when it passes, the command stops with [`DeadlinePassed`], which names the deadline
//! and the last thing the command said it was doing (its last progress line).

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::args::Command;

/// The deadline of a one-shot command when none is given.
const DEFAULT: Duration = Duration::from_secs(6 * 3600);

/// The longest deadline accepted (a year): longer is `off`.
const LONGEST: Duration = Duration::from_secs(365 * 86_400);

/// A parsed `--deadline`: a duration, or no deadline at all (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Duration>);

/// Parses `90s`, `30m`, `2h`, `1d` or `off`.
pub(crate) fn parse(text: &str) -> Result<Deadline, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Deadline(None));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a deadline: give a whole number with a unit (90s, 30m, 2h, 1d), \
                 or off"
            ));
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a deadline: {number:?} is not a whole number"))?;
    if number == 0 {
        return Err("a deadline of 0 would stop every command at once; give more, or off".into());
    }
    let duration = Duration::from_secs(number.saturating_mul(seconds_per_unit));
    if duration > LONGEST {
        return Err(format!(
            "{text:?} is longer than a year; give less, or off for no deadline"
        ));
    }
    Ok(Deadline(Some(duration)))
}

/// The deadline of `command`: the one given (`--deadline`, `KSEF_DEADLINE`), else the configured
/// one, else [`DEFAULT`]; the commands that serve until stopped (`sim`, `worker`) have none unless
/// given one on their command line (a configured default is for one-shot commands).
pub(crate) fn of(
    given: Option<Deadline>,
    configured: Option<Deadline>,
    command: &Command,
) -> Option<Duration> {
    let serves = matches!(command, Command::Sim(_) | Command::Worker(_));
    match (given, configured) {
        (Some(Deadline(limit)), _) => limit,
        (None, _) if serves => None,
        (None, Some(Deadline(limit))) => limit,
        (None, None) => Some(DEFAULT),
    }
}

/// The command stopped at its deadline.
#[derive(Debug)]
pub(crate) struct DeadlinePassed {
    limit: Duration,
    activity: Option<String>,
}

impl fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped: the command did not finish within its deadline of {} (--deadline, \
             KSEF_DEADLINE, or `ksef config set deadline`)",
            human(self.limit)
        )?;
        match &self.activity {
            Some(activity) => write!(f, "; it was at: {activity}")?,
            None => f.write_str("; it was at its first request")?,
        }
        f.write_str(
            ". What finished before is kept: run it again to continue (a sync goes on from its \
             checkpoint); an online session it left open is listed by `ksef session list` and \
             closed by KSeF when it expires",
        )
    }
}

impl std::error::Error for DeadlinePassed {}

/// `90s`, `30m`, `2h`: the largest whole unit.
fn human(limit: Duration) -> String {
    let seconds = limit.as_secs();
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Runs `work` within `limit` (no limit: as long as it takes).
pub(crate) async fn run_within(
    limit: Option<Duration>,
    work: impl Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let Some(limit) = limit else {
        return work.await;
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(DeadlinePassed {
            limit,
            activity: crate::output::activity(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_off_and_refuses_the_rest() {
        assert_eq!(parse("90s"), Ok(Deadline(Some(Duration::from_secs(90)))));
        assert_eq!(parse("30m"), Ok(Deadline(Some(Duration::from_secs(1800)))));
        assert_eq!(parse("2h"), Ok(Deadline(Some(Duration::from_secs(7200)))));
        assert_eq!(parse("1d"), Ok(Deadline(Some(Duration::from_secs(86_400)))));
        assert_eq!(parse("off"), Ok(Deadline(None)));
        for bad in [
            "",
            "30",
            "m",
            "0s",
            "5 min",
            "-1h",
            "99999999999999999999d",
            "400d",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(90)), "90s");
    }
}
