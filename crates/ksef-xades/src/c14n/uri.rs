//! Canonical XML 1.1's xml:base fix-up: joining URI references (RFC 3986 section 5.2 as modified by
//! Canonical XML 1.1 section 2.4).

use std::borrow::Cow;

/// Canonical XML 1.1's join-URI-References (section 2.4): resolves `reference` against `base` as RFC 3986
/// section 5.2 does, except that `base` may itself be relative (the result then stays relative), a base
/// path ending in a `..` segment counts as ending in `../`, the reference's fragment is dropped, and dot
/// segments are removed with the modified algorithm of [`remove_dot_segments`].
///
/// ```
/// use ksef_xades::c14n::join_uri_references;
///
/// // Examples from Canonical XML 1.1, section 2.4.
/// assert_eq!(join_uri_references("abc/", "../"), "");
/// assert_eq!(join_uri_references("../", "../"), "../../");
/// assert_eq!(join_uri_references("..", ".."), "../../");
/// assert_eq!(join_uri_references("..", &join_uri_references("..", "x")), "../../x");
/// assert_eq!(join_uri_references("http://example.com/a/b", "c#frag"), "http://example.com/a/c");
/// ```
pub fn join_uri_references(base: &str, reference: &str) -> String {
    let base = UriParts::split(base);
    let reference = UriParts::split(reference);
    let (scheme, authority, path, query);
    if reference.scheme.is_some() {
        scheme = reference.scheme;
        authority = reference.authority;
        path = remove_dot_segments(reference.path);
        query = reference.query;
    } else {
        scheme = base.scheme;
        if reference.authority.is_some() {
            authority = reference.authority;
            path = remove_dot_segments(reference.path);
            query = reference.query;
        } else {
            authority = base.authority;
            if reference.path.is_empty() {
                path = base.path.to_owned();
                query = reference.query.or(base.query);
            } else {
                path = if reference.path.starts_with('/') {
                    remove_dot_segments(reference.path)
                } else {
                    remove_dot_segments(&merge_paths(&base, reference.path))
                };
                query = reference.query;
            }
        }
    }
    let mut out = String::new();
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push(':');
    }
    if let Some(authority) = authority {
        out.push_str("//");
        out.push_str(authority);
    }
    out.push_str(&path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// RFC 3986 section 5.2.3, with a base path ending in a `..` segment read as ending in `../`.
fn merge_paths(base: &UriParts<'_>, reference_path: &str) -> String {
    if base.authority.is_some() && base.path.is_empty() {
        return format!("/{reference_path}");
    }
    let base_path = if base.path == ".." || base.path.ends_with("/..") {
        Cow::Owned(format!("{}/", base.path))
    } else {
        Cow::Borrowed(base.path)
    };
    match base_path.rfind('/') {
        Some(slash) => format!("{}{reference_path}", &base_path[..=slash]),
        None => reference_path.to_owned(),
    }
}

/// RFC 3986's remove_dot_segments (section 5.2.4) as Canonical XML 1.1 modifies it: leading `..` segments
/// of a relative path are kept, runs of `/` count as one, and a path ending in a `.` or `..` segment ends in
/// `/` (Appendix A of the specification lists examples).
///
/// ```
/// use ksef_xades::c14n::remove_dot_segments;
///
/// assert_eq!(remove_dot_segments("../../no/../.."), "../../../");
/// assert_eq!(remove_dot_segments("no/..//.///pseudo-netpath/seg/file.ext"), "pseudo-netpath/seg/file.ext");
/// assert_eq!(remove_dot_segments("/../.."), "/");
/// assert_eq!(remove_dot_segments("no/../"), "");
/// ```
pub fn remove_dot_segments(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    // Whether the output ends in a directory (a trailing `/`, `.` or `..`).
    let mut directory = false;
    for segment in path.split('/') {
        directory = true;
        match segment {
            // Empty segments come from runs of `/` and from a leading or trailing `/`.
            "" | "." => {}
            ".." => match kept.last() {
                Some(&last) if last != ".." => {
                    kept.pop();
                }
                // Above the root of an absolute path there is nothing to remove.
                _ if absolute => {}
                _ => kept.push(".."),
            },
            segment => {
                kept.push(segment);
                directory = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    if absolute {
        out.push('/');
    }
    out.push_str(&kept.join("/"));
    if directory && !kept.is_empty() {
        out.push('/');
    }
    out
}

/// The components of a URI reference (RFC 3986, appendix B); the fragment is not kept.
struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    fn split(uri: &'a str) -> Self {
        let uri = uri.split_once('#').map_or(uri, |(before, _)| before);
        let (scheme, rest) = match uri.find([':', '/', '?']) {
            Some(colon) if colon > 0 && uri.as_bytes()[colon] == b':' => {
                (Some(&uri[..colon]), &uri[colon + 1..])
            }
            _ => (None, uri),
        };
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        UriParts {
            scheme,
            authority,
            path,
            query,
        }
    }
}
