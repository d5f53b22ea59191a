//! The simulator's in-memory state.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use ksef_crypto::SessionKey;
use ksef_model::types::CompressionType;

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
    /// The signature the session's UPO download links carry.
    pub(crate) link_signature: String,
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
    pub(crate) failure: Option<SessionFailure>,
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
    #[serde(with = "crate::state::b64")]
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
    pub(crate) exports: Vec<ExportRec>,
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
    pub(crate) grants: Vec<Grant>,
    /// Asynchronous permission operations by reference number.
    pub(crate) permission_ops: HashMap<String, PermissionOp>,
    /// Certificate enrollments and issued certificates.
    pub(crate) enrollments: Vec<Enrollment>,
    pub(crate) certificates: Vec<IssuedCertificate>,
    /// Generated collective identifiers.
    pub(crate) collective: Vec<CollectiveRec>,
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

/// What kind of grant a [`Grant`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum GrantKind {
    /// `POST /permissions/persons/grants`.
    Person,
    /// `POST /permissions/entities/grants`.
    Entity,
    /// `POST /permissions/authorizations/grants`.
    Authorization,
    /// `POST /permissions/indirect/grants`.
    Indirect,
    /// `POST /permissions/subunits/grants`.
    Subunit,
    /// `POST /permissions/eu-entities/administration/grants`.
    EuAdministration,
    /// `POST /permissions/eu-entities/grants`.
    EuRepresentative,
    /// `POST /testdata/permissions` and the owner permission of test persons.
    TestData,
}

/// One permission held by an identifier in a context.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) kind: GrantKind,
    /// The context the permission works in (NIP, internal id or NIP-VAT UE).
    pub(crate) context: String,
    pub(crate) context_type: String,
    pub(crate) authorized_type: String,
    pub(crate) authorized_value: String,
    /// `(type, value)` of the partner an indirect permission is limited to.
    pub(crate) target: Option<(String, Option<String>)>,
    pub(crate) scope: String,
    pub(crate) can_delegate: bool,
    pub(crate) description: String,
    pub(crate) author: (String, String),
    pub(crate) start: DateTime<Utc>,
    /// Subunit or EU entity name.
    pub(crate) name: Option<String>,
}

/// An asynchronous permission operation.
pub(crate) struct PermissionOp {
    pub(crate) context: String,
    pub(crate) completes: DateTime<Utc>,
    pub(crate) code: i32,
    pub(crate) description: String,
}

/// A certificate enrollment.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Enrollment {
    pub(crate) reference: String,
    pub(crate) subject: String,
    pub(crate) requested: DateTime<Utc>,
    pub(crate) completes: DateTime<Utc>,
    pub(crate) serial: String,
}

/// A certificate the simulator's CA issued.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct IssuedCertificate {
    pub(crate) serial: String,
    pub(crate) subject: (String, String),
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) common_name: String,
    #[serde(with = "crate::state::b64")]
    pub(crate) der: Vec<u8>,
    pub(crate) valid_from: DateTime<Utc>,
    pub(crate) valid_to: DateTime<Utc>,
    pub(crate) requested: DateTime<Utc>,
    pub(crate) visible_from: DateTime<Utc>,
    pub(crate) revoked: bool,
}

/// A generated collective identifier.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CollectiveRec {
    pub(crate) number: String,
    /// NIP of the seller of every invoice in it.
    pub(crate) seller_nip: String,
    /// The context that generated it.
    pub(crate) creator: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) invoices: Vec<CollectiveEntry>,
}

/// One invoice of a collective identifier, with the optional payment details.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CollectiveEntry {
    pub(crate) ksef_number: String,
    /// Amount and currency code.
    pub(crate) payment: Option<(f64, String)>,
    pub(crate) description: Option<String>,
}

/// An export and its outcome.
pub(crate) struct ExportRec {
    pub(crate) reference: String,
    pub(crate) context_nip: String,
    /// The authenticated subject that started it (identifier value).
    pub(crate) subject: String,
    pub(crate) completes: DateTime<Utc>,
    pub(crate) outcome: ExportOutcome,
}

/// What an export ends with.
pub(crate) enum ExportOutcome {
    /// A failure status (415: the key does not decrypt; 420: `from` is past the HWM).
    Failed(i32, &'static str),
    /// The package.
    Ready(ExportPackage),
}

/// A built package: its parts (encrypted) and what the status reports about it.
pub(crate) struct ExportPackage {
    pub(crate) invoice_count: usize,
    pub(crate) archive_size: u64,
    pub(crate) extension: &'static str,
    /// How the parts are packed (`compressionType` of the status, required since 2.9.0).
    pub(crate) compression: CompressionType,
    pub(crate) signature: String,
    pub(crate) parts: Vec<ExportPart>,
    pub(crate) is_truncated: bool,
    pub(crate) last_issue_date: Option<chrono::NaiveDate>,
    pub(crate) last_invoicing_date: Option<DateTime<Utc>>,
    pub(crate) last_permanent_storage_date: Option<DateTime<Utc>>,
    pub(crate) permanent_storage_hwm_date: Option<DateTime<Utc>>,
}

/// One encrypted part.
pub(crate) struct ExportPart {
    pub(crate) plaintext: ksef_crypto::FileMetadata,
    pub(crate) encrypted: ksef_crypto::FileMetadata,
    pub(crate) bytes: Vec<u8>,
}

/// A failure of a whole batch session: status code, description, details.
pub(crate) type SessionFailure = (i32, &'static str, Option<&'static str>);

/// Base64 for byte fields, so that the file stays compact and readable.
pub(crate) mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
