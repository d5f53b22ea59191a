//! Schema resolution without the network: the `http://` locations the Ministry's schemas import
//! are served from local copies, everything else must be a local file.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use url::Url;
use xsd_parser::pipeline::parser::resolver::{ResolveRequest, ResolveResult, Resolver};

/// Resolves schema locations to local files.
///
/// A location below one of the mirrored `http://` prefixes is read from the matching local
/// directory (the schema is then known by its local `file:` URL, so its own relative includes
/// resolve next to it); a `file:` location (or one relative to a local schema) is read as is; any
/// other location is an error, so generation never reaches out to the network.
#[derive(Debug, Default)]
pub(crate) struct LocalResolver {
    /// `(remote prefix, local directory)` pairs; the prefix ends with `/`.
    mirrors: Vec<(String, PathBuf)>,
}

impl LocalResolver {
    /// Serves every location starting with `prefix` from `dir`.
    pub(crate) fn with_mirror(mut self, prefix: &str, dir: PathBuf) -> Self {
        self.mirrors.push((prefix.to_owned(), dir));
        self
    }

    pub(crate) fn local_path(&self, url: &Url) -> std::io::Result<PathBuf> {
        if url.scheme() == "file" {
            return url.to_file_path().map_err(|()| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("not a local file URL: {url}"),
                )
            });
        }
        let location = url.as_str();
        for (prefix, dir) in &self.mirrors {
            if let Some(rest) = location.strip_prefix(prefix.as_str())
                && !rest.is_empty()
                && !rest.contains(['/', '\\', '?', '#'])
            {
                return Ok(dir.join(rest));
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("schema location {url} has no local copy (codegen never uses the network)"),
        ))
    }
}

impl Resolver for LocalResolver {
    type Buffer = BufReader<File>;
    type Error = std::io::Error;

    fn resolve(&mut self, req: &ResolveRequest) -> ResolveResult<Self> {
        let url = match &req.current_location {
            Some(current) => current.join(&req.requested_location),
            None => Url::parse(&req.requested_location),
        }
        .map_err(|err| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad schema location {:?}: {err}", req.requested_location),
            )
        })?;
        let path = self.local_path(&url)?;
        let file = File::open(&path).map_err(|err| {
            std::io::Error::new(err.kind(), format!("opening {}: {err}", path.display()))
        })?;
        let url = Url::from_file_path(&path).map_err(|()| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not an absolute path: {}", path.display()),
            )
        })?;
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .map(str::to_owned);
        Ok(Some((name, url, BufReader::new(file))))
    }
}
