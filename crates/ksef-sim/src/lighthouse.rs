//! The Lighthouse ("Latarnia"): KSeF's availability status service, served beside the API.
//!
//! The real service lives on its own host (`api-latarnia-test.ksef.mf.gov.pl`,
//! `api-latarnia.ksef.mf.gov.pl`) and has no published specification; the Ministry's C# client is
//! the only description. The simulator serves the same two unauthenticated documents under
//! `/lighthouse` on its own listener:
//!
//! - `GET /lighthouse/status`: `{"status": "AVAILABLE" | "MAINTENANCE" | "FAILURE" |
//!   "TOTAL_FAILURE", "messages": [Message]}`;
//! - `GET /lighthouse/messages`: `[Message]`.
//!
//! The status starts as [`SimulatorBuilder::lighthouse`] set it (AVAILABLE, no messages, by
//! default) and can be changed while the simulator runs with [`Simulator::set_lighthouse`] or
//! `PUT /_sim/lighthouse` with a [`LighthouseStatus`] JSON body (`GET /_sim/lighthouse` reads it
//! back), so tests can switch KSeF into maintenance or failure.
//!
//! [`SimulatorBuilder::lighthouse`]: crate::SimulatorBuilder::lighthouse
//! [`Simulator::set_lighthouse`]: crate::Simulator::set_lighthouse

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the Lighthouse reports: KSeF's availability and the announcements that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LighthouseStatus {
    /// `AVAILABLE`, `MAINTENANCE`, `FAILURE` or `TOTAL_FAILURE` (served as given, so tests can
    /// also serve values a client does not know).
    pub status: String,
    /// The announcements served with the status and on `/lighthouse/messages`.
    #[serde(default)]
    pub messages: Vec<LighthouseMessage>,
}

impl Default for LighthouseStatus {
    fn default() -> Self {
        LighthouseStatus::available()
    }
}

impl LighthouseStatus {
    /// KSeF available, no announcements.
    pub fn available() -> Self {
        LighthouseStatus::new("AVAILABLE")
    }

    /// A status with no announcements.
    pub fn new(status: impl Into<String>) -> Self {
        LighthouseStatus {
            status: status.into(),
            messages: Vec::new(),
        }
    }

    /// Adds an announcement.
    pub fn with_message(mut self, message: LighthouseMessage) -> Self {
        self.messages.push(message);
        self
    }
}

/// One Lighthouse announcement (a failure, its end, or planned maintenance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LighthouseMessage {
    /// The message's id.
    pub id: String,
    /// The event the message belongs to (a failure's start and end share it).
    pub event_id: i64,
    /// `FAILURE`, `TOTAL_FAILURE` or `MAINTENANCE`.
    pub category: String,
    /// `FAILURE_START`, `FAILURE_END` or `MAINTENANCE_ANNOUNCEMENT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The title.
    pub title: String,
    /// The text.
    pub text: String,
    /// When the event starts.
    pub start: DateTime<Utc>,
    /// When it ends, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// The message's version (raised when it is edited).
    pub version: i64,
    /// When it was published.
    pub published: DateTime<Utc>,
}

impl LighthouseMessage {
    /// A message published now, starting now, with no end, version 1.
    pub fn new(
        id: impl Into<String>,
        event_id: i64,
        category: impl Into<String>,
        kind: impl Into<String>,
        title: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        LighthouseMessage {
            id: id.into(),
            event_id,
            category: category.into(),
            kind: kind.into(),
            title: title.into(),
            text: text.into(),
            start: now,
            end: None,
            version: 1,
            published: now,
        }
    }

    /// Sets when the event starts and ends.
    pub fn with_period(mut self, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Self {
        self.start = start;
        self.end = end;
        self
    }
}
