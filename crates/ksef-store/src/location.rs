//! Where a store lives: `sqlite:PATH` or `postgres://...`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;

/// The file name of the default SQLite store under the ksef home.
pub const DEFAULT_SQLITE_FILE: &str = "outbox.sqlite";

/// A store's location.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A SQLite file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/db`); needs the
    /// `postgres` feature to open.
    Postgres(PostgresUrl),
}

impl StoreLocation {
    /// The default: `outbox.sqlite` in `home`.
    pub fn default_in(home: &Path) -> StoreLocation {
        StoreLocation::Sqlite(home.join(DEFAULT_SQLITE_FILE))
    }
}

impl FromStr for StoreLocation {
    type Err = Error;

    /// `sqlite:PATH` (also `sqlite://PATH`), or `postgres://...` / `postgresql://...`.
    fn from_str(s: &str) -> Result<StoreLocation, Error> {
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::InvalidLocation {
                    location: s.to_owned(),
                    reason: "sqlite: needs a file path (sqlite:PATH)".to_owned(),
                });
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(PostgresUrl(s.to_owned())));
        }
        Err(Error::InvalidLocation {
            location: redact_url(s),
            reason: "expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE".to_owned(),
        })
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// A PostgreSQL URL, which may hold a password: `Display` and `Debug` show `***` in its place.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `scheme://user:secret@host/...` as `scheme://user:***@host/...`, and the value of every
/// `…password=` query parameter (`password`, `sslpassword`) likewise.
///
/// The credentials end at the first `@` after the scheme, as tokio-postgres reads them (so a
/// password holding `/` or `?` is still masked whole).
fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.find('@')
            && let Some(colon) = rest[..at].find(':')
        {
            out = format!(
                "{}{}:***{}",
                &url[..scheme_end + 3],
                &rest[..colon],
                &rest[at..]
            );
        }
    }
    let mut from = 0;
    while let Some(found) = out[from..].find("password=") {
        let value_start = from + found + "password=".len();
        let value_end = out[value_start..]
            .find('&')
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
        from = value_start + "***".len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!(
            "sqlite:/tmp/x.db".parse::<StoreLocation>().unwrap(),
            StoreLocation::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            "sqlite:rel/x.db".parse::<StoreLocation>().unwrap(),
            StoreLocation::Sqlite(PathBuf::from("rel/x.db"))
        );
        assert!(matches!(
            "postgres://u@127.0.0.1:5432/db"
                .parse::<StoreLocation>()
                .unwrap(),
            StoreLocation::Postgres(_)
        ));
        let error = "mysql://x".parse::<StoreLocation>().unwrap_err();
        assert!(error.to_string().contains("sqlite:PATH"), "{error}");
        assert!("sqlite:".parse::<StoreLocation>().is_err());
    }

    #[test]
    fn passwords_never_print() {
        let location: StoreLocation = "postgres://ksef:s3cret@db:5432/ksef?password=other"
            .parse()
            .unwrap();
        for text in [location.to_string(), format!("{location:?}")] {
            assert!(
                !text.contains("s3cret") && !text.contains("other"),
                "{text}"
            );
            assert!(text.contains("ksef:***@db:5432"), "{text}");
        }
        let error = "mysql://u:s3cret@h/db"
            .parse::<StoreLocation>()
            .unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        // A password with `/` or `?` in it (the driver reads credentials up to the first `@`),
        // and every password parameter, not only the first.
        for url in [
            "postgres://ksef:pa/ss@db/ksef",
            "postgres://ksef:pa?ss@db/ksef",
            "postgres://ksef@db/ksef?sslpassword=pass1&password=pass2",
        ] {
            let location: StoreLocation = url.parse().unwrap();
            for text in [location.to_string(), format!("{location:?}")] {
                assert!(
                    !text.contains("pa/ss")
                        && !text.contains("pa?ss")
                        && !text.contains("pass1")
                        && !text.contains("pass2"),
                    "{text}"
                );
                assert!(text.contains("***"), "{text}");
            }
        }
        // No password, nothing masked.
        let plain: StoreLocation = "postgres://ksef@db:5432/ksef".parse().unwrap();
        assert_eq!(plain.to_string(), "postgres://ksef@db:5432/ksef");
    }
}
