//! Invoice intake, shared by online and batch sessions: the checks on a decrypted invoice and
//! its acceptance under the state lock.

use chrono::{DateTime, NaiveDate, Utc};
use ksef_model::values::{KsefNumber, Nip, ReferenceNumber};

use super::session::no_session;
use super::{duration, internal, new_reference, random_hex};
use crate::errors::ApiError;
use crate::invoice_xml::{self, FormKind};
use crate::shared::Shared;
use crate::state::{InvoiceOutcome, SessionInvoice, State, StoredInvoice};

/// Invoice size without attachments.
pub(crate) const MAX_INVOICE_SIZE: usize = 1_000_000;

/// Invoice size with attachments.
pub(crate) const MAX_INVOICE_SIZE_WITH_ATTACHMENTS: usize = 3_000_000;

pub(crate) fn reject(code: i32, description: &str, detail: impl Into<String>) -> InvoiceOutcome {
    InvoiceOutcome::Rejected {
        code,
        description: description.to_owned(),
        details: vec![detail.into()],
        extensions: Vec::new(),
        invoice_number: None,
    }
}

/// The outcome of the checks on a decrypted invoice, before the state lock.
pub(crate) type Checked = (
    InvoiceOutcome,
    Option<Vec<u8>>,
    Option<invoice_xml::InvoiceFacts>,
);

/// Whether `nip` may send invoices with attachments at `now` (enabled with
/// `/testdata/attachment`, until the end date of a revocation).
pub(crate) fn attachments_allowed(state: &State, nip: &str, now: DateTime<Utc>) -> bool {
    match state.attachments.get(nip) {
        Some((true, _)) => true,
        Some((false, Some(end))) => now < *end,
        _ => false,
    }
}

/// Checks a decrypted invoice (structure, form, size): what online and batch sessions share.
pub(crate) fn check_plain(plain: Vec<u8>, form: FormKind) -> Checked {
    match invoice_xml::verify(&plain, form) {
        Err(reason) => (
            reject(430, "Błąd weryfikacji pliku faktury", reason),
            None,
            None,
        ),
        Ok(facts) => {
            let limit = if facts.has_attachment {
                MAX_INVOICE_SIZE_WITH_ATTACHMENTS
            } else {
                MAX_INVOICE_SIZE
            };
            if plain.len() > limit {
                (
                    reject(
                        430,
                        "Błąd weryfikacji pliku faktury",
                        format!("Rozmiar faktury przekracza {limit} bajtów."),
                    ),
                    None,
                    None,
                )
            } else {
                (
                    InvoiceOutcome::Accepted(usize::MAX),
                    Some(plain),
                    Some(facts),
                )
            }
        }
    }
}

/// The first NIP of the invoice's parties (seller, buyer) whose check digit is wrong, with the
/// party, e.g. `1111111112 (Podmiot2)`.
pub(crate) fn invalid_party_nip(facts: &invoice_xml::InvoiceFacts) -> Option<String> {
    let parties = [
        ("Podmiot1", Some(&facts.seller_nip)),
        ("Podmiot2", facts.buyer_nip.as_ref()),
    ];
    parties.into_iter().find_map(|(party, nip)| {
        let nip = nip?;
        nip.parse::<ksef_model::values::Nip>()
            .is_err()
            .then(|| format!("{nip} ({party})"))
    })
}

/// Runs the acceptance of one checked invoice under the state lock (permissions, issue date,
/// duplicates, KSeF number) and records it in the session: what online and batch sessions
/// share. Returns the invoice's reference number.
pub(crate) fn record_invoice(
    shared: &Shared,
    state: &mut State,
    session_reference: &str,
    now: DateTime<Utc>,
    invoice_hash: String,
    offline_requested: bool,
    checked: Checked,
) -> Result<ReferenceNumber, ApiError> {
    let (context, form, validate_identifiers) = state
        .session(session_reference)
        .map(|s| {
            (
                s.context_nip.clone(),
                s.form,
                s.features
                    .iter()
                    .any(|f| f == crate::state::FEATURE_SUBJECT_IDENTIFIER_VALIDATION),
            )
        })
        .ok_or_else(|| no_session(session_reference))?;
    let invoice_reference = new_reference(now, "EE")?;
    let processed = now + duration(shared.config.invoice_processing_delay)?;
    let mut offline = offline_requested;

    let (outcome, plaintext, facts) = checked;
    let outcome = match (outcome, plaintext, facts) {
        (InvoiceOutcome::Accepted(_), Some(plain), Some(facts)) => {
            let issue_date =
                NaiveDate::parse_from_str(&facts.issue_date, "%Y-%m-%d").map_err(internal)?;
            offline = offline || issue_date < now.date_naive();
            let key = facts.duplicate_key();
            if facts.seller_nip != context {
                reject(
                    410,
                    "Nieprawidłowy zakres uprawnień",
                    format!(
                        "Podmiot nie ma uprawnień do wystawienia faktury sprzedawcy {}.",
                        facts.seller_nip
                    ),
                )
            } else if facts.has_attachment && !attachments_allowed(state, &context, now) {
                reject(
                    415,
                    "Brak możliwości wysyłania faktury z załącznikiem",
                    format!(
                        "Podmiot {context} nie ma włączonej możliwości wysyłania faktur z załącznikami."
                    ),
                )
            } else if let Some(bad) = validate_identifiers
                .then(|| invalid_party_nip(&facts))
                .flatten()
            {
                reject(
                    450,
                    "Błąd weryfikacji semantyki dokumentu faktury",
                    format!("Nieprawidłowy numer NIP {bad}: błędna cyfra kontrolna."),
                )
            } else if issue_date > now.date_naive() {
                reject(
                    450,
                    "Błąd weryfikacji semantyki dokumentu faktury",
                    "Data wystawienia faktury (P_1) jest późniejsza niż data przyjęcia.",
                )
            } else if let Some(&original) = state.duplicates.get(&key) {
                let (original_ksef, original_session) = state
                    .invoices
                    .get(original)
                    .map(|o| (o.ksef_number.clone(), o.session_reference.clone()))
                    .ok_or_else(|| ApiError::internal("duplicate index"))?;
                state.stats.duplicates_refused += 1;
                InvoiceOutcome::Rejected {
                    code: 440,
                    description: "Duplikat faktury".to_owned(),
                    details: vec![format!(
                        "Duplikat faktury. Faktura o numerze KSeF: {} została już prawidłowo przesłana do systemu w sesji: {}",
                        original_ksef, original_session
                    )],
                    extensions: vec![
                        (
                            "originalSessionReferenceNumber".to_owned(),
                            original_session,
                        ),
                        ("originalKsefNumber".to_owned(), original_ksef),
                    ],
                    invoice_number: Some(facts.invoice_number.clone()),
                }
            } else {
                let nip: Nip = facts
                    .seller_nip
                    .parse()
                    .map_err(|_| ApiError::internal("seller NIP"))?;
                let ksef_number = KsefNumber::from_parts(&nip, now.date_naive(), &random_hex(12))
                    .map_err(internal)?;
                let index = state.invoices.len();
                state.invoices.push(StoredInvoice {
                    ksef_number: ksef_number.to_string(),
                    session_reference: session_reference.to_owned(),
                    hash: invoice_hash.clone(),
                    xml: plain,
                    facts,
                    form,
                    invoicing_date: now,
                    acquisition_date: now,
                    permanent_storage_date: match shared.config.permanent_storage_delay {
                        // Stored before it shows: never after the end of processing.
                        Some(delay) => (now + duration(delay)?).min(processed),
                        None => processed,
                    },
                    issue_date,
                    offline,
                    hash_of_corrected_invoice: None,
                    visible_from: processed,
                });
                state.duplicates.insert(key, index);
                state.stats.invoices_accepted += 1;
                state
                    .stats
                    .accepted_invoice_hashes
                    .push(invoice_hash.clone());
                InvoiceOutcome::Accepted(index)
            }
        }
        (outcome, _, _) => outcome,
    };
    let session = state
        .session_mut(session_reference)
        .ok_or_else(|| no_session(session_reference))?;
    let ordinal = i32::try_from(session.invoices.len() + 1).unwrap_or(i32::MAX);
    session.invoices.push(SessionInvoice {
        ordinal,
        reference: invoice_reference.to_string(),
        invoice_hash,
        invoicing_date: now,
        processed,
        offline,
        outcome,
        corrects: None,
    });
    session.updated = now;
    Ok(invoice_reference)
}
