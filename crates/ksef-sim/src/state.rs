//! The simulator's in-memory state.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use ksef_crypto::SessionKey;

use crate::Stats;
use crate::invoice_xml::FormKind;

/// A challenge handed out by `POST /auth/challenge`.
pub(crate) struct ChallengeRec {
    pub(crate) timestamp_ms: i64,
    pub(crate) expires: DateTime<Utc>,
    pub(crate) used: bool,
}

/// The outcome an authentication operation reaches once processed.
#[derive(Clone)]
pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) description: String,
    pub(crate) details: Vec<String>,
}

/// An authentication operation (`/auth/ksef-token` or `/auth/xades-signature`).
pub(crate) struct AuthOp {
    pub(crate) reference: String,
    pub(crate) context_nip: String,
    pub(crate) method: ksef_model::types::AuthenticationMethod,
    pub(crate) started: DateTime<Utc>,
    pub(crate) completes: DateTime<Utc>,
    pub(crate) outcome: Outcome,
    pub(crate) permissions: Vec<String>,
    pub(crate) token_reference: Option<String>,
    pub(crate) redeemed: bool,
    pub(crate) revoked: bool,
    pub(crate) last_refresh: Option<DateTime<Utc>>,
    pub(crate) refresh_valid_until: Option<DateTime<Utc>>,
    /// Who authenticated (set when the authentication succeeds).
    pub(crate) subject: Option<AuthSubject>,
}

/// The authenticated subject of an authentication operation.
#[derive(Clone)]
pub(crate) struct AuthSubject {
    /// `Nip`, `Pesel` or `Fingerprint`.
    pub(crate) id_type: String,
    pub(crate) id_value: String,
    /// The identity attributes of the certificate's subject (XAdES only), as OID → value.
    pub(crate) names: Option<Vec<(String, String)>>,
}

impl AuthOp {
    /// Whether processing has finished at `now`.
    pub(crate) fn done(&self, now: DateTime<Utc>) -> bool {
        now >= self.completes
    }

    /// Whether the operation ended successfully at `now`.
    pub(crate) fn succeeded(&self, now: DateTime<Utc>) -> bool {
        self.done(now) && self.outcome.code == 200
    }
}

/// A KSeF token.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct KsefTokenRec {
    pub(crate) reference: String,
    pub(crate) secret: String,
    pub(crate) context_nip: String,
    pub(crate) author_nip: String,
    pub(crate) description: String,
    pub(crate) permissions: Vec<String>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) active_from: DateTime<Utc>,
    pub(crate) revoked: bool,
    pub(crate) last_use: Option<DateTime<Utc>>,
}

/// An online session.
pub(crate) struct Session {
    pub(crate) reference: String,
    pub(crate) context_nip: String,
    pub(crate) auth_reference: String,
    pub(crate) token_reference: Option<String>,
    pub(crate) form: FormKind,
    /// `None` when the symmetric key could not be decrypted (session status 415).
    pub(crate) key: Option<SessionKey>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) valid_until: DateTime<Utc>,
    pub(crate) closed: Option<DateTime<Utc>>,
    pub(crate) upo_reference: String,
    pub(crate) invoices: Vec<SessionInvoice>,
    /// Set for batch sessions.
    pub(crate) batch: Option<BatchState>,
    /// Features asked for with `X-KSeF-Feature` on open (comma-separated values, trimmed).
    pub(crate) features: Vec<String>,
}

/// `X-KSeF-Feature: subject-identifier-validation`: the NIPs of the invoice's parties must have
/// valid check digits.
pub(crate) const FEATURE_SUBJECT_IDENTIFIER_VALIDATION: &str = "subject-identifier-validation";

/// What a batch session declared and received.
pub(crate) struct BatchState {
    /// Declared size of the whole (unencrypted) archive.
    pub(crate) archive_size: i64,
    /// Declared SHA-256 (base64) of the whole archive.
    pub(crate) archive_hash: String,
    /// Whether the package is a tar.gz archive (`compressionType: TarGz`) rather than a Zip.
    pub(crate) tar_gz: bool,
    /// Declared parts: ordinal number → (encrypted size, SHA-256 base64).
    pub(crate) parts: BTreeMap<i32, (i64, String)>,
    /// Uploaded encrypted parts by ordinal number.
    pub(crate) uploaded: BTreeMap<i32, Vec<u8>>,
    /// The signature the upload links carry.
    pub(crate) signature: String,
    /// Whether the session declared offline mode.
    pub(crate) offline: bool,
    /// A failure of the whole session found at close: status code, description and details.
    pub(crate) failure: Option<crate::api::batch::SessionFailure>,
}

/// An invoice sent in a session, accepted or not.
pub(crate) struct SessionInvoice {
    pub(crate) ordinal: i32,
    pub(crate) reference: String,
    pub(crate) invoice_hash: String,
    pub(crate) invoicing_date: DateTime<Utc>,
    /// When processing ends and the final status shows.
    pub(crate) processed: DateTime<Utc>,
    pub(crate) offline: bool,
    pub(crate) outcome: InvoiceOutcome,
    /// For a technical correction: SHA-256 (base64) of the rejected invoice it corrects.
    pub(crate) corrects: Option<String>,
}

/// Final status of an invoice.
pub(crate) enum InvoiceOutcome {
    /// Accepted: index into `State::invoices`.
    Accepted(usize),
    /// Rejected with a status code.
    Rejected {
        code: i32,
        description: String,
        details: Vec<String>,
        extensions: Vec<(String, String)>,
        invoice_number: Option<String>,
    },
}

/// An accepted invoice, with the facts metadata queries and UPOs need.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredInvoice {
    pub(crate) ksef_number: String,
    pub(crate) session_reference: String,
    #[serde(with = "crate::persist::b64")]
    pub(crate) xml: Vec<u8>,
    pub(crate) hash: String,
    pub(crate) facts: crate::invoice_xml::InvoiceFacts,
    pub(crate) form: FormKind,
    pub(crate) invoicing_date: DateTime<Utc>,
    pub(crate) acquisition_date: DateTime<Utc>,
    pub(crate) permanent_storage_date: DateTime<Utc>,
    pub(crate) issue_date: NaiveDate,
    pub(crate) offline: bool,
    /// For a technical correction: SHA-256 (base64) of the rejected invoice it corrects.
    #[serde(default)]
    pub(crate) hash_of_corrected_invoice: Option<String>,
    /// When it becomes visible (end of processing).
    pub(crate) visible_from: DateTime<Utc>,
}

/// Everything the simulator remembers.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) challenges: HashMap<String, ChallengeRec>,
    pub(crate) auth_ops: HashMap<String, AuthOp>,
    pub(crate) tokens: Vec<KsefTokenRec>,
    pub(crate) sessions: Vec<Session>,
    pub(crate) invoices: Vec<StoredInvoice>,
    /// (seller NIP, invoice type, invoice number) → index into `invoices`.
    pub(crate) duplicates: HashMap<(String, String, String), usize>,
    pub(crate) exports: Vec<crate::api::exports::ExportRec>,
    /// Test subjects created with `POST /testdata/subject` (NIP → record).
    pub(crate) test_subjects: BTreeMap<String, TestSubject>,
    /// Test persons created with `POST /testdata/person` (NIP → record).
    pub(crate) test_persons: BTreeMap<String, TestPerson>,
    /// Attachment permission per NIP: `(allowed, revocation date)`.
    pub(crate) attachments: HashMap<String, (bool, Option<DateTime<Utc>>)>,
    /// Contexts where authentication ends in status 480.
    pub(crate) blocked_contexts: std::collections::HashSet<String>,
    /// Session limits set per context with `/testdata/limits/context/session`.
    pub(crate) session_limits: HashMap<String, ksef_model::types::EffectiveContextLimits>,
    /// Certificate limits set per subject: `(enrollments, certificates)`.
    pub(crate) subject_limits: HashMap<String, (Option<i32>, Option<i32>)>,
    /// Rate limits set per context: group → (per second, per minute, per hour).
    pub(crate) rate_overrides: HashMap<String, BTreeMap<String, (u32, u32, u32)>>,
    /// Permission grants.
    pub(crate) grants: Vec<crate::api::permissions::Grant>,
    /// Asynchronous permission operations by reference number.
    pub(crate) permission_ops: HashMap<String, crate::api::permissions::PermissionOp>,
    /// Certificate enrollments and issued certificates.
    pub(crate) enrollments: Vec<crate::api::certificates::Enrollment>,
    pub(crate) certificates: Vec<crate::api::certificates::IssuedCertificate>,
    /// Generated collective identifiers.
    pub(crate) collective: Vec<crate::api::collective::CollectiveRec>,
    /// What the Lighthouse serves (not persisted).
    pub(crate) lighthouse: crate::lighthouse::LighthouseStatus,
    pub(crate) stats: Stats,
}

/// A subject created through the test-data API.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct TestSubject {
    pub(crate) subject_type: String,
    pub(crate) description: String,
    /// The VAT group or JST this subject is a subunit of.
    pub(crate) parent: Option<String>,
    pub(crate) created: DateTime<Utc>,
}

/// A person created through the test-data API.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct TestPerson {
    pub(crate) pesel: String,
    pub(crate) bailiff: bool,
    pub(crate) deceased: bool,
    pub(crate) description: String,
}

impl State {
    pub(crate) fn session(&self, reference: &str) -> Option<&Session> {
        self.sessions.iter().find(|s| s.reference == reference)
    }

    pub(crate) fn session_mut(&mut self, reference: &str) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.reference == reference)
    }
}
