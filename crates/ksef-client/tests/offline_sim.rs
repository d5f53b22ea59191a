//! Offline invoicing against the simulator: sends marked offline, technical corrections of
//! rejected offline invoices (accepted once, 21166 for a second one, 21167 when the original's
//! status does not allow one), KOD I links of offline invoices, and the Lighthouse.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use futures_util::TryStreamExt as _;
use ksef_client::crypto::QrEnvironment;
use ksef_client::lighthouse::{Availability, Lighthouse, MessageCategory, MessageType};
use ksef_client::offline::OfflineInvoice;
use ksef_client::{Client, Error, InvoiceOutcome, MetadataQuery, SendOptions, form_code};
use ksef_model::types::{
    InvoiceMetadata, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType, InvoicingMode,
};
use ksef_sim::{LighthouseMessage, LighthouseStatus, Simulator};
use sha2::Digest as _;

use common::{fa3_invoice, logged_in, simulator_with_delays, start_simulator, unique};

/// The same invoice with an element FA(3) does not allow: KSeF rejects it (430), a technical
/// reason.
fn broken(invoice: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(invoice.to_vec()).unwrap();
    assert!(text.contains("</Fa>"));
    text.replace("</Fa>", "<NieznanyElement>1</NieznanyElement></Fa>")
        .into_bytes()
}

async fn setup() -> (Simulator, Client) {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
    let client = logged_in(&sim).await;
    (sim, client)
}

fn rejection_codes(error: &Error) -> Vec<i64> {
    match error {
        Error::InvoiceRejected { error, .. } => error.codes.iter().map(|c| c.code).collect(),
        other => panic!("expected a rejected send, got {other:?}"),
    }
}

/// Every invoice the seller sent in the last hour, by metadata query.
async fn recent_metadata(client: &Client) -> Vec<InvoiceMetadata> {
    let since = Utc::now() - chrono::Duration::hours(1);
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::Invoicing, since.fixed_offset()),
    );
    client
        .invoice_metadata(MetadataQuery::new(filters))
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sends_are_marked_offline_and_keep_their_kod_i() {
    let (sim, client) = setup().await;
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let offline = fa3_invoice(sim.seeded_nip(), &unique("OFF"));
    let online = fa3_invoice(sim.seeded_nip(), &unique("ON"));

    let sent_offline = session
        .send_with(&offline, &SendOptions::offline())
        .await
        .unwrap();
    let sent_online = session.send(&online).await.unwrap();
    let (outcome, status) = session
        .wait_for_invoice(&sent_offline.reference_number)
        .await
        .unwrap();
    assert!(
        matches!(outcome, InvoiceOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Offline));
    let (_, status) = session
        .wait_for_invoice(&sent_online.reference_number)
        .await
        .unwrap();
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Online));

    // The metadata tells them apart too.
    let records = recent_metadata(&client).await;
    let mode_of = |hash: &str| {
        records
            .iter()
            .find(|r| r.invoice_hash.as_str() == hash)
            .map(|r| r.invoicing_mode.clone())
    };
    assert_eq!(
        mode_of(&sent_offline.invoice_hash),
        Some(InvoicingMode::Offline)
    );
    assert_eq!(
        mode_of(&sent_online.invoice_hash),
        Some(InvoicingMode::Online)
    );

    // KOD I of the offline invoice: seller NIP, P_1 and base64url SHA-256 of the exact bytes,
    // computed here independently of ksef-crypto.
    let digest = sha2::Sha256::digest(&offline);
    let today = Utc::now().date_naive().format("%d-%m-%Y");
    let expected = format!(
        "https://qr-test.ksef.mf.gov.pl/invoice/{}/{today}/{}",
        sim.seeded_nip(),
        URL_SAFE_NO_PAD.encode(digest)
    );
    let parsed = OfflineInvoice::parse(&offline).unwrap();
    assert_eq!(
        parsed.verification_link(QrEnvironment::Test).unwrap(),
        expected
    );
    assert_eq!(parsed.hash(), STANDARD.encode(digest));
    assert_eq!(parsed.hash(), sent_offline.invoice_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_offline_invoice_is_corrected_technically_once() {
    let (sim, client) = setup().await;
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let fixed = fa3_invoice(sim.seeded_nip(), &unique("TECH"));
    let original = broken(&fixed);
    let original_hash = OfflineInvoice::parse(&original).unwrap().hash();
    let correction = SendOptions::technical_correction(&original_hash).unwrap();
    assert!(correction.is_offline(), "a correction is always offline");

    // Nothing to correct yet: 21167.
    let early = session.send_with(&fixed, &correction).await.unwrap_err();
    assert_eq!(rejection_codes(&early), vec![21167]);

    // The offline original is rejected for a technical reason (schema).
    let sent = session
        .send_with(&original, &SendOptions::offline())
        .await
        .unwrap();
    let (outcome, _) = session
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    assert!(
        matches!(outcome, InvoiceOutcome::Rejected { code: 430, .. }),
        "{outcome:?}"
    );

    let corrected = session.send_with(&fixed, &correction).await.unwrap();
    let (outcome, status) = session
        .wait_for_invoice(&corrected.reference_number)
        .await
        .unwrap();
    let InvoiceOutcome::Accepted { ksef_number } = outcome else {
        panic!("the correction was not accepted: {outcome:?}");
    };
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Offline));
    assert_eq!(
        sim.stats().technical_corrections.get(&original_hash),
        Some(&corrected.invoice_hash),
        "the simulator recorded the correction"
    );
    // The corrected invoice's metadata names the original.
    let records = recent_metadata(&client).await;
    let record = records
        .iter()
        .find(|r| r.ksef_number == ksef_number)
        .expect("the corrected invoice is listed");
    assert_eq!(
        record
            .hash_of_corrected_invoice
            .as_ref()
            .map(|h| h.as_str()),
        Some(original_hash.as_str())
    );

    // A second correction of the same original: 21166.
    let again = fa3_invoice(sim.seeded_nip(), &unique("TECH2"));
    let second = session.send_with(&again, &correction).await.unwrap_err();
    assert_eq!(rejection_codes(&second), vec![21166]);

    // A correction of an accepted invoice: 21167.
    let third = fa3_invoice(sim.seeded_nip(), &unique("TECH3"));
    let of_accepted = SendOptions::technical_correction(&corrected.invoice_hash).unwrap();
    let refused = session.send_with(&third, &of_accepted).await.unwrap_err();
    assert_eq!(rejection_codes(&refused), vec![21167]);
    assert_eq!(sim.stats().technical_corrections.len(), 1);
}

#[test]
fn technical_corrections_need_a_base64_sha256() {
    for bad in [
        "",
        "not a hash",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let error = SendOptions::technical_correction(bad).unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidRequest {
                    field: "hashOfCorrectedInvoice",
                    ..
                }
            ),
            "{bad:?}: {error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lighthouse_reports_what_the_simulator_serves() {
    let sim = start_simulator(Simulator::builder()).await;
    let lighthouse = Lighthouse::builder()
        .url(sim.lighthouse_url())
        .build()
        .unwrap();
    let status = lighthouse.status().await.unwrap();
    assert_eq!(status.status, Availability::Available);
    assert!(status.status.is_available());
    assert!(status.messages.is_empty());
    assert!(lighthouse.messages().await.unwrap().is_empty());

    let start = Utc::now();
    sim.set_lighthouse(
        LighthouseStatus::new("FAILURE").with_message(
            LighthouseMessage::new(
                "msg-1",
                42,
                "FAILURE",
                "FAILURE_START",
                "Awaria KSeF",
                "System KSeF jest niedostępny.",
            )
            .with_period(start, None),
        ),
    );
    let status = lighthouse.status().await.unwrap();
    assert_eq!(status.status, Availability::Failure);
    assert!(!status.status.is_available());
    let message = &status.messages[0];
    assert_eq!(message.id, "msg-1");
    assert_eq!(message.event_id, 42);
    assert_eq!(message.category, MessageCategory::Failure);
    assert_eq!(message.kind, MessageType::FailureStart);
    assert_eq!(message.title, "Awaria KSeF");
    assert_eq!(message.end, None);
    assert_eq!(message.start.timestamp_micros(), start.timestamp_micros());
    assert_eq!(lighthouse.messages().await.unwrap(), status.messages);

    // A status this version does not know is kept, not an error.
    sim.set_lighthouse(LighthouseStatus::new("PARTIAL_OUTAGE"));
    let status = lighthouse.status().await.unwrap();
    assert_eq!(
        status.status,
        Availability::Unknown("PARTIAL_OUTAGE".to_owned())
    );
    let stats = sim.stats();
    assert_eq!(stats.requests.get("lighthouse.status").copied(), Some(3));
    assert_eq!(stats.requests.get("lighthouse.messages").copied(), Some(2));

    // A Lighthouse that is not there: an error with the status, not a made-up availability.
    let missing = Lighthouse::builder()
        .url(format!("{}/nothing-here", sim.lighthouse_url()))
        .retry(ksef_client::RetryConfig::disabled())
        .build()
        .unwrap();
    let error = missing.status().await.unwrap_err();
    assert_eq!(error.status(), Some(404), "{error:?}");
}
