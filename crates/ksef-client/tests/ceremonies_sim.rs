//! Ceremonies under faults: logging in and opening and closing online sessions survive a
//! connection reset after the simulator processed the request, a cut-off answer and a 5xx,
//! because the client repeats the ceremony (a new challenge; a status check before a second
//! open or close) rather than the lost request. The faults are restricted to the ceremony's own
//! operations and seeded, so every run meets the same faults.

mod common;

use std::time::Duration;

use ksef_client::{Client, Error, RetryConfig, SubjectIdentifierType};
use ksef_crypto::test_certificates::KeyType;
use ksef_sim::{Simulator, SimulatorBuilder};

use common::{poll, seeded_nip, start_simulator};

/// A client against `sim` that retries quickly (what the transport may retry) and polls quickly.
fn quick_client(sim: &Simulator) -> Client {
    Client::builder()
        .transport(|t| {
            t.base_url(sim.base_url()).without_rate_limit().retry(
                RetryConfig::default()
                    .with_max_attempts(4)
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
            )
        })
        .poll(poll(Duration::from_millis(50)))
        .build()
        .expect("a client")
}

/// Faults on the operations of a token login only: 5% resets after processing and 5% answers
/// cut off half-way. Before the login was repeated as a whole, seed 7 failed the third of these
/// logins (a cut-off answer: "the response body was cut short").
fn auth_faults(seed: u64) -> SimulatorBuilder {
    Simulator::builder()
        .fault_reset(0.05)
        .fault_truncate(0.05)
        .fault_seed(seed)
        .fault_operations([
            "auth.challenge",
            "auth.ksef_token",
            "auth.xades_signature",
            "auth.status",
            "auth.token.redeem",
        ])
}

#[tokio::test]
async fn twenty_token_logins_in_a_row_survive_resets_and_truncations() {
    let sim = start_simulator(auth_faults(7)).await;
    let client = quick_client(&sim);
    for i in 0..20 {
        let session = client
            .login_with_ksef_token(seeded_nip(&sim), sim.seeded_token())
            .await
            .unwrap_or_else(|e| panic!("login {i}: {e}: {:?}", std::error::Error::source(&e)));
        assert!(session.access_valid_until > chrono::Utc::now());
    }
    let faults = sim.stats().faults;
    assert!(
        faults.resets + faults.truncations >= 5,
        "the faults were injected: {faults:?}"
    );
}

/// Faults on opening and closing online sessions only: resets after processing, cut-off answers
/// and 5xx, 15% each.
fn session_faults(seed: u64) -> SimulatorBuilder {
    Simulator::builder()
        .processing_delays(Duration::from_millis(5))
        .fault_reset(0.15)
        .fault_truncate(0.15)
        .fault_5xx(0.15)
        .fault_seed(seed)
        .fault_operations(["sessions.online.open", "sessions.online.close"])
}

#[tokio::test]
async fn online_sessions_open_and_close_despite_lost_answers() {
    let sim = start_simulator(session_faults(11)).await;
    let client = quick_client(&sim);
    client
        .login_with_ksef_token(seeded_nip(&sim), sim.seeded_token())
        .await
        .expect("login (not faulted)");
    let nip = seeded_nip(&sim);
    let template = common::fa3_template();
    for i in 0..15 {
        let session = client
            .open_online_session(ksef_client::form_code::fa3())
            .await
            .unwrap_or_else(|e| panic!("open {i}: {e}: {:?}", std::error::Error::source(&e)));
        let invoice = common::fill_fa3(
            &template,
            nip.as_str(),
            &common::unique(&format!("CEREMONY-{i}")),
        );
        session.send(&invoice).await.expect("a send (not faulted)");
        session
            .close()
            .await
            .unwrap_or_else(|e| panic!("close {i}: {e}: {:?}", std::error::Error::source(&e)));
        let status = session
            .wait_until_processed()
            .await
            .expect("the session is processed");
        assert_eq!(status.status.code, 200);
    }
    let faults = sim.stats().faults;
    assert!(
        faults.resets + faults.truncations + faults.server_errors >= 5,
        "the faults were injected: {faults:?}"
    );
}

/// A client against `sim` that sends a request at most `attempts` times (as the operation's
/// retry policy allows) and starts a ceremony once: what is left is what the flow does.
fn single_shot_client(sim: &Simulator, attempts: u32) -> Client {
    Client::builder()
        .transport(|t| {
            t.base_url(sim.base_url()).without_rate_limit().retry(
                RetryConfig::default()
                    .with_max_attempts(attempts)
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
            )
        })
        .poll(poll(Duration::from_millis(50)))
        .ceremony_attempts(1)
        .build()
        .expect("a client")
}

/// A challenge creates nothing a repeat could duplicate, so the transport repeats it after a
/// reset even though it is a POST. Before `auth.challenge` was marked idempotent, a reset after
/// the simulator answered failed the login at once (with one ceremony attempt, seed 3: login 1).
#[tokio::test]
async fn a_challenge_whose_answer_was_lost_is_fetched_again_by_the_transport() {
    let sim = start_simulator(
        Simulator::builder()
            .fault_reset(0.3)
            .fault_seed(3)
            .fault_operations(["auth.challenge"]),
    )
    .await;
    let client = single_shot_client(&sim, 4);
    for i in 0..10 {
        client
            .login_with_ksef_token(seeded_nip(&sim), sim.seeded_token())
            .await
            .unwrap_or_else(|e| panic!("login {i}: {e}: {:?}", std::error::Error::source(&e)));
    }
    assert!(sim.stats().faults.resets >= 2, "{:?}", sim.stats().faults);
}

/// A request signed elsewhere answers one challenge: after its submission is lost, the login
/// cannot start again from a new challenge, and says so with a typed error (it was a bare
/// transport error before, which read like a network problem to retry).
#[tokio::test]
async fn a_lost_pre_signed_login_fails_with_a_typed_error_that_says_sign_again() {
    let sim = start_simulator(
        Simulator::builder()
            .fault_reset(1.0)
            .fault_seed(5)
            .fault_operations(["auth.xades_signature"]),
    )
    .await;
    let client = quick_client(&sim);
    let (challenge, unsigned) = client
        .unsigned_auth_request(seeded_nip(&sim), SubjectIdentifierType::CertificateSubject)
        .await
        .expect("the unsigned request");
    let signer = common::seal(&sim, KeyType::EcdsaP256)
        .signer()
        .expect("a signer");
    let signed = ksef_xades::xades::sign(&unsigned, &signer).expect("signed");
    let error = client
        .login_with_signed_request(signed, &challenge)
        .await
        .expect_err("every submission is reset");
    assert!(
        matches!(error, Error::LoginNotRepeatable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("sign the new request"),
        "{error}"
    );
    // A certificate login with the signer at hand starts again from a new challenge instead.
    let sim = start_simulator(auth_faults(13)).await;
    let client = quick_client(&sim);
    for i in 0..10 {
        client
            .login_with_certificate(
                seeded_nip(&sim),
                &common::seal(&sim, KeyType::EcdsaP256)
                    .signer()
                    .expect("a signer"),
                SubjectIdentifierType::CertificateSubject,
            )
            .await
            .unwrap_or_else(|e| panic!("login {i}: {e}: {:?}", std::error::Error::source(&e)));
    }
}

/// A status read that fails while waiting (a 5xx the transport does not repeat) is read again
/// within the poll timeout: the login's status, an invoice's status and the session's status.
/// Before, the first failed read ended the wait (seed 17: the first login's status read).
#[tokio::test]
async fn waits_read_the_status_again_after_a_failed_read() {
    let sim = start_simulator(
        Simulator::builder()
            .processing_delays(Duration::from_millis(20))
            .fault_5xx(0.4)
            .fault_seed(17)
            .fault_operations(["auth.status", "sessions.status", "sessions.invoice_status"]),
    )
    .await;
    let client = single_shot_client(&sim, 1);
    let nip = seeded_nip(&sim);
    let template = common::fa3_template();
    for i in 0..4 {
        client
            .login_with_ksef_token(nip.clone(), sim.seeded_token())
            .await
            .unwrap_or_else(|e| panic!("login {i}: {e}: {:?}", std::error::Error::source(&e)));
        let session = client
            .open_online_session(ksef_client::form_code::fa3())
            .await
            .expect("open (not faulted)");
        let invoice = common::fill_fa3(
            &template,
            nip.as_str(),
            &common::unique(&format!("WAIT-{i}")),
        );
        let sent = session.send(&invoice).await.expect("a send (not faulted)");
        let (outcome, _) = session
            .wait_for_invoice(&sent.reference_number)
            .await
            .unwrap_or_else(|e| panic!("invoice {i}: {e}"));
        assert!(outcome.is_final(), "{outcome:?}");
        session.close().await.expect("close (not faulted)");
        let status = session
            .wait_until_processed()
            .await
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
        assert_eq!(status.status.code, 200);
    }
    assert!(
        sim.stats().faults.server_errors >= 3,
        "{:?}",
        sim.stats().faults
    );
}
