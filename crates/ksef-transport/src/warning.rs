//! `X-System-Warning` response headers: notices about behaviour the API may reject in future.

use http::HeaderMap;

/// The response header that carries system warnings.
pub const SYSTEM_WARNING_HEADER: &str = "x-system-warning";

/// One warning from an `X-System-Warning` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SystemWarning {
    /// The code between the brackets (empty when the entry had none).
    pub code: String,
    /// The message after the colon.
    pub message: String,
}

/// Parses one header value of the form `[code]: message | [code]: message`.
///
/// Entries that do not follow the form are kept whole as a message with an empty code.
///
/// ```
/// use ksef_transport::warning::parse_system_warnings;
///
/// let warnings = parse_system_warnings("[W1]: first | [W2]: second");
/// assert_eq!(warnings.len(), 2);
/// assert_eq!(warnings[1].code, "W2");
/// assert_eq!(warnings[1].message, "second");
/// ```
pub fn parse_system_warnings(value: &str) -> Vec<SystemWarning> {
    value
        .split('|')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("]:"))
                .map_or_else(
                    || SystemWarning {
                        code: String::new(),
                        message: entry.to_owned(),
                    },
                    |(code, message)| SystemWarning {
                        code: code.trim().to_owned(),
                        message: message.trim().to_owned(),
                    },
                )
        })
        .collect()
}

/// Every warning of every `X-System-Warning` header in `headers`.
pub(crate) fn warnings_in(headers: &HeaderMap) -> Vec<SystemWarning> {
    headers
        .get_all(SYSTEM_WARNING_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_system_warnings)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let w = parse_system_warnings("[ABC-1]: Use the new field. | [X]: y |  | free text");
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].code, "ABC-1");
        assert_eq!(w[0].message, "Use the new field.");
        assert_eq!(w[2].code, "");
        assert_eq!(w[2].message, "free text");
    }

    #[test]
    fn reads_repeated_headers() {
        let mut headers = HeaderMap::new();
        headers.append(SYSTEM_WARNING_HEADER, "[A]: a".parse().unwrap());
        headers.append(SYSTEM_WARNING_HEADER, "[B]: b | [C]: c".parse().unwrap());
        let codes: Vec<_> = warnings_in(&headers).into_iter().map(|w| w.code).collect();
        assert_eq!(codes, ["A", "B", "C"]);
    }
}
