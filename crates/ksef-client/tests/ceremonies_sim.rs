//! Ceremonies under faults: logging in and opening and closing online sessions survive a
//! connection reset after the simulator processed the request, a cut-off answer and a 5xx,
//! because the client repeats the ceremony (a new challenge; a status check before a second
//! open or close) rather than the lost request. The faults are restricted to the ceremony's own
//! operations and seeded, so every run meets the same faults.

mod common;

use std::time::Duration;

use ksef_client::{Client, RetryConfig};
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
