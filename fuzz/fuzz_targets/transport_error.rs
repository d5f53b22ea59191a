//! Typed API errors parsed from an error response (`ksef_transport::ApiError::from_parts`) and the
//! `X-System-Warning` header parser.
//!
//! Input layout: two bytes of HTTP status, then the `Retry-After` and `X-System-Warning` header
//! values, each ended by a NUL byte, then the body.
//!
//! Invariants:
//! - `from_parts` never fails and keeps the status; a body in no known format leaves every field
//!   from the body empty; `has_code` agrees with `codes`; `Display` never panics;
//! - a `Retry-After` of delay seconds gives exactly that delay;
//! - every system warning has a trimmed code and message, and there are no more warnings than
//!   `|`-separated entries.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use ksef_transport::warning::parse_system_warnings;
use ksef_transport::{ApiError, ErrorFormat};
use libfuzzer_sys::fuzz_target;

fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_be_bytes([data[0], data[1]]) % 500;
    let (retry_after, rest) = split_nul(&data[2..]);
    let (warning, body) = split_nul(rest);

    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(retry_after) {
        headers.insert(header::RETRY_AFTER, value);
    }
    let error = ApiError::from_parts(status, &headers, body);
    assert_eq!(error.status, status);
    for code in &error.codes {
        assert!(error.has_code(code.code));
    }
    if error.format == ErrorFormat::Unrecognized {
        assert!(error.codes.is_empty());
        assert_eq!(error.title, None);
        assert_eq!(error.detail, None);
        assert_eq!(error.trace_id, None);
        assert_eq!(error.reference_number, None);
    } else {
        assert!(
            body.trim_ascii_start().starts_with(b"{"),
            "a format recognized in a non-object"
        );
    }
    let _ = error.to_string();
    if let Some(value) = headers.get(header::RETRY_AFTER)
        && let Ok(text) = value.to_str()
        && let Ok(seconds) = text.trim().parse::<u64>()
    {
        assert_eq!(error.retry_after, Some(Duration::from_secs(seconds)));
    }

    let warning = String::from_utf8_lossy(warning);
    let warnings = parse_system_warnings(&warning);
    assert!(warnings.len() <= warning.matches('|').count() + 1);
    for w in &warnings {
        assert_eq!(w.code.trim(), w.code);
        assert_eq!(w.message.trim(), w.message);
        assert!(!w.message.contains('|'));
    }
});
