//! The Lighthouse ("Latarnia"): whether KSeF is available, and the Ministry's announcements of
//! failures and maintenance.
//!
//! **Unofficial.** The Lighthouse has no published specification: the Ministry's documentation
//! does not describe it, and what this module reads follows the shapes the Ministry's own C#
//! client uses. It may change without notice; unknown statuses and categories are kept as
//! `Unknown(text)` rather than failing, and unknown fields are ignored.
//!
//! What it is for: deciding when to switch invoicing to an offline mode (KSeF unavailable or
//! failing; see [`crate::offline`]) and when to switch back.
//!
//! Two unauthenticated `GET`s below a base URL of its own (not the API's):
//!
//! - `{base}/status`: the availability ([`Availability`]) and the current announcements;
//! - `{base}/messages`: the announcements ([`Message`]).
//!
//! Requests go through the same transport stack as API calls (timeouts, retries with backoff of
//! these idempotent `GET`s, the plain-HTTP policy, proxies), without bearer tokens and without
//! KSeF's rate limits.
//!
//! ```no_run
//! use ksef_client::Environment;
//! use ksef_client::lighthouse::{Availability, Lighthouse};
//!
//! # async fn example() -> Result<(), ksef_client::Error> {
//! let lighthouse = Lighthouse::for_environment(Environment::Production)?;
//! let status = lighthouse.status().await?;
//! if status.status != Availability::Available {
//!     for message in &status.messages {
//!         println!("{}: {}", message.title, message.text);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use ksef_transport::retry::RetryConfig;
use ksef_transport::{Environment, PresignedRequest, Transport, TransportBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The Lighthouse of KSeF's TEST environment.
pub const TEST_URL: &str = "https://api-latarnia-test.ksef.mf.gov.pl";
/// The Lighthouse of KSeF's production environment.
pub const PRODUCTION_URL: &str = "https://api-latarnia.ksef.mf.gov.pl";

/// The Lighthouse base URL of `environment`, if one is known: TEST and production have one;
/// DEMO has none the Ministry has named (`None`).
pub fn url_for(environment: Environment) -> Option<&'static str> {
    match environment {
        Environment::Test => Some(TEST_URL),
        Environment::Production => Some(PRODUCTION_URL),
        _ => None,
    }
}

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, as the service sent it.
            Unknown(String),
        }

        impl $name {
            /// The value as the service writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)*
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::from(text.as_str()))
            }
        }
    };
}

text_enum! {
    /// KSeF's availability.
    Availability {
        /// KSeF works.
        Available => "AVAILABLE",
        /// Planned maintenance: KSeF is not available (invoice in the `offline` mode).
        Maintenance => "MAINTENANCE",
        /// A failure: KSeF is not available (invoice in the emergency mode).
        Failure => "FAILURE",
        /// A total failure announced in the media: no obligation to send invoices to KSeF later.
        TotalFailure => "TOTAL_FAILURE",
    }
}

text_enum! {
    /// What an announcement is about.
    MessageCategory {
        /// A failure.
        Failure => "FAILURE",
        /// A total failure.
        TotalFailure => "TOTAL_FAILURE",
        /// Maintenance.
        Maintenance => "MAINTENANCE",
    }
}

text_enum! {
    /// What an announcement says happened.
    MessageType {
        /// A failure started.
        FailureStart => "FAILURE_START",
        /// A failure ended.
        FailureEnd => "FAILURE_END",
        /// Maintenance is planned.
        MaintenanceAnnouncement => "MAINTENANCE_ANNOUNCEMENT",
    }
}

impl Availability {
    /// Whether KSeF can take invoices online.
    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available)
    }
}

/// `GET {base}/status`: the availability and the announcements that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Status {
    /// KSeF's availability.
    pub status: Availability,
    /// The current announcements (none while all is well).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub messages: Vec<Message>,
}

/// One announcement: a failure, its end, or planned maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// The message's id.
    #[serde(deserialize_with = "text_or_number")]
    pub id: String,
    /// The event the message belongs to (a failure's start and end share it).
    #[serde(default)]
    pub event_id: i64,
    /// What it is about.
    pub category: MessageCategory,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The text.
    #[serde(default)]
    pub text: String,
    /// When the event starts (or started).
    #[serde(deserialize_with = "lenient_time")]
    pub start: DateTime<FixedOffset>,
    /// When it ends (or ended), if known.
    #[serde(
        default,
        deserialize_with = "lenient_optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<DateTime<FixedOffset>>,
    /// The message's version (raised when it is edited).
    #[serde(default)]
    pub version: i64,
    /// When it was published.
    #[serde(deserialize_with = "lenient_time")]
    pub published: DateTime<FixedOffset>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Message>, D::Error> {
    Ok(Option::<Vec<Message>>::deserialize(deserializer)?.unwrap_or_default())
}

fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

/// RFC 3339, or a date-time without an offset (read as UTC).
fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc().fixed_offset())
    })
}

fn lenient_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<FixedOffset>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_time(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a date-time")))
}

fn lenient_optional_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a date-time"))),
    }
}

/// A client of the Lighthouse. Cheap to clone.
#[derive(Clone)]
pub struct Lighthouse {
    transport: Transport,
    base: String,
}

impl fmt::Debug for Lighthouse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lighthouse")
            .field("base_url", &self.base)
            .finish_non_exhaustive()
    }
}

impl Lighthouse {
    /// A builder.
    pub fn builder() -> LighthouseBuilder {
        LighthouseBuilder::default()
    }

    /// The Lighthouse of `environment` with the default settings.
    ///
    /// # Errors
    ///
    /// [`Error::NoLighthouse`] for an environment without a known Lighthouse (DEMO).
    pub fn for_environment(environment: Environment) -> Result<Lighthouse, Error> {
        Lighthouse::builder().environment(environment).build()
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET {base}/status`: KSeF's availability and the current announcements.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the service cannot be reached or answers with an error status
    /// (after the transport's retries), [`Error::UnexpectedResponse`] if the answer is not the
    /// expected JSON.
    pub async fn status(&self) -> Result<Status, Error> {
        self.get("status").await
    }

    /// `GET {base}/messages`: the announcements.
    ///
    /// # Errors
    ///
    /// As [`Lighthouse::status`].
    pub async fn messages(&self) -> Result<Vec<Message>, Error> {
        self.get::<Option<Vec<Message>>>("messages")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, resource: &str) -> Result<T, Error> {
        let url = format!("{}/{resource}", self.base);
        let response = self
            .transport
            .execute_presigned(PresignedRequest::get(&url).header("accept", "application/json"))
            .await?;
        serde_json::from_slice(response.body()).map_err(|e| Error::UnexpectedResponse {
            reason: format!("the Lighthouse's {url} is not the expected JSON: {e}"),
        })
    }
}

enum Target {
    Environment(Environment),
    Url(String),
}

/// Builds a [`Lighthouse`].
///
/// Defaults: the TEST environment's Lighthouse; 10 s per attempt; 5 s to connect; the
/// transport's retries ([`RetryConfig::default`]); plain `http://` only to loopback hosts.
pub struct LighthouseBuilder {
    target: Target,
    timeout: Duration,
    connect_timeout: Duration,
    retry: Option<RetryConfig>,
    allow_insecure_http: bool,
}

impl fmt::Debug for LighthouseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LighthouseBuilder")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for LighthouseBuilder {
    fn default() -> Self {
        LighthouseBuilder {
            target: Target::Environment(Environment::Test),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: None,
            allow_insecure_http: false,
        }
    }
}

impl LighthouseBuilder {
    /// The Lighthouse of `environment` (see [`url_for`]).
    pub fn environment(mut self, environment: Environment) -> LighthouseBuilder {
        self.target = Target::Environment(environment);
        self
    }

    /// A Lighthouse at a custom base URL (`/status` and `/messages` are appended), e.g. a
    /// simulator's (`ksef_sim::Simulator::lighthouse_url`).
    pub fn url(mut self, url: impl Into<String>) -> LighthouseBuilder {
        self.target = Target::Url(url.into());
        self
    }

    /// The total timeout of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> LighthouseBuilder {
        self.timeout = timeout;
        self
    }

    /// The connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> LighthouseBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Retry settings (see [`RetryConfig`]).
    pub fn retry(mut self, config: RetryConfig) -> LighthouseBuilder {
        self.retry = Some(config);
        self
    }

    /// Allows plain `http://` to hosts that are not loopback addresses. Only for test setups.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> LighthouseBuilder {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::NoLighthouse`] for an environment without a known Lighthouse,
    /// [`Error::Transport`] for an invalid URL (or plain HTTP to a remote host) or a TLS setup
    /// that fails.
    pub fn build(self) -> Result<Lighthouse, Error> {
        let base = match self.target {
            Target::Environment(environment) => url_for(environment)
                .ok_or(Error::NoLighthouse { environment })?
                .to_owned(),
            Target::Url(url) => url,
        };
        let base = base.trim_end_matches('/').to_owned();
        let mut transport = TransportBuilder::new(Environment::Test)
            .base_url(base.clone())
            .danger_allow_insecure_http(self.allow_insecure_http)
            .without_rate_limit()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            // Presigned-style requests use the transfer timeout.
            .transfer_timeout(self.timeout);
        if let Some(retry) = self.retry {
            transport = transport.retry(retry);
        }
        Ok(Lighthouse {
            transport: transport.build()?,
            base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shapes_and_keeps_unknown_values() {
        let status: Status = serde_json::from_str(
            r#"{"status":"MAINTENANCE","messages":[{"id":"m-1","eventId":7,
                "category":"MAINTENANCE","type":"MAINTENANCE_ANNOUNCEMENT","title":"Prace",
                "text":"Przerwa","start":"2026-11-23T16:00:00+01:00","end":null,"version":2,
                "published":"2026-11-20T08:00:00"}],"extra":true}"#,
        )
        .unwrap();
        assert_eq!(status.status, Availability::Maintenance);
        let message = &status.messages[0];
        assert_eq!(message.kind, MessageType::MaintenanceAnnouncement);
        assert_eq!(message.end, None);
        assert_eq!(message.published.to_rfc3339(), "2026-11-20T08:00:00+00:00");
        let unknown: Status = serde_json::from_str(r#"{"status":"DEGRADED"}"#).unwrap();
        assert_eq!(unknown.status, Availability::Unknown("DEGRADED".to_owned()));
        assert!(!unknown.status.is_available());
        assert_eq!(
            serde_json::to_value(&unknown).unwrap(),
            serde_json::json!({"status": "DEGRADED", "messages": []})
        );
        let numeric: Message = serde_json::from_str(
            r#"{"id":12,"category":"FAILURE","type":"FAILURE_START",
                "start":"2026-11-23T10:00:00Z","published":"2026-11-23T10:01:00Z"}"#,
        )
        .unwrap();
        assert_eq!(numeric.id, "12");
    }

    #[test]
    fn demo_has_no_known_lighthouse() {
        assert_eq!(url_for(Environment::Test), Some(TEST_URL));
        assert_eq!(url_for(Environment::Production), Some(PRODUCTION_URL));
        assert!(matches!(
            Lighthouse::for_environment(Environment::Demo),
            Err(Error::NoLighthouse {
                environment: Environment::Demo
            })
        ));
        let custom = Lighthouse::builder()
            .url("http://127.0.0.1:9/lighthouse/")
            .build()
            .unwrap();
        assert_eq!(custom.base_url(), "http://127.0.0.1:9/lighthouse");
        assert!(
            Lighthouse::builder()
                .url("http://example.com/lighthouse")
                .build()
                .is_err()
        );
    }
}
