//! A duplicate (440) is resolved to the original invoice's KSeF number: from the status KSeF
//! gives, or, when the status names none, by a metadata query for the seller's invoice number.

mod common;

use std::time::Duration;

use ksef_client::InvoiceOutcome;

use common::{fa3_invoice, logged_in, seeded_nip, simulator_with_delays, unique};

#[tokio::test]
async fn the_same_invoice_in_a_second_session_is_already_in_ksef_as_the_first() {
    let sim = simulator_with_delays(Duration::from_millis(10)).await;
    let client = logged_in(&sim).await;
    let invoice = fa3_invoice(seeded_nip(&sim).as_str(), &unique("DUP"));

    let first = client
        .open_online_session(ksef_client::form_code::fa3())
        .await
        .unwrap();
    let sent = first.send(&invoice).await.unwrap();
    first.close().await.unwrap();
    let (outcome, _) = first
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    let InvoiceOutcome::Accepted { ksef_number } = outcome else {
        panic!("the first send is accepted: {outcome:?}");
    };

    let second = client
        .open_online_session(ksef_client::form_code::fa3())
        .await
        .unwrap();
    let resent = second.send(&invoice).await.unwrap();
    second.close().await.unwrap();
    let (outcome, status) = second
        .wait_for_invoice(&resent.reference_number)
        .await
        .unwrap();
    assert_eq!(status.status.code, 440);
    assert!(matches!(outcome, InvoiceOutcome::Duplicate { .. }));
    let resolved = client.resolve_duplicate(outcome, &invoice).await.unwrap();
    assert_eq!(
        resolved,
        InvoiceOutcome::AlreadyInKsef {
            ksef_number: ksef_number.clone()
        }
    );

    // A 440 whose status names no original: found by the metadata query.
    let bare = InvoiceOutcome::Duplicate {
        original_ksef_number: None,
        original_session_reference_number: None,
    };
    assert_eq!(
        client
            .resolve_duplicate(bare.clone(), &invoice)
            .await
            .unwrap(),
        InvoiceOutcome::AlreadyInKsef { ksef_number }
    );
    // An invoice KSeF does not hold stays an unresolved duplicate; other outcomes pass through.
    let other = fa3_invoice(seeded_nip(&sim).as_str(), &unique("NEVER-SENT"));
    assert_eq!(
        client
            .resolve_duplicate(bare.clone(), &other)
            .await
            .unwrap(),
        bare
    );
    let processing = InvoiceOutcome::Processing { code: 150 };
    assert_eq!(
        client
            .resolve_duplicate(processing.clone(), &invoice)
            .await
            .unwrap(),
        processing
    );
}
