//! Setup shared by the client's integration tests: the in-process simulator, a client against it,
//! a token login, FA(3) invoices from the Ministry's template and small helpers.
//!
//! Each test file uses only some of these.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use ksef_client::{Client, ClientBuilder, KeyType, PollConfig, TestCertificate, Token, TokenKind};
use ksef_model::values::Nip;
use ksef_sim::{Simulator, SimulatorBuilder};

/// The Ministry's fixtures: `$KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
pub fn spec_dir() -> PathBuf {
    std::env::var_os("KSEF_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec"),
        PathBuf::from,
    )
}

/// The text of the fixture at `rel` (relative to [`spec_dir`]); a missing file fails naming it.
pub fn fixture(rel: &str) -> String {
    let path = spec_dir().join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()))
}

/// The Ministry's FA(3) template's text.
pub fn fa3_template() -> String {
    fixture("invoice-templates/invoice-template-fa-3.xml")
}

/// `template` with the seller NIP, the invoice number and today's issue date.
pub fn fill_fa3(template: &str, nip: &str, number: &str) -> Vec<u8> {
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    template
        .replace("#nip#", nip)
        .replace("#invoice_number#", number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes()
}

/// The Ministry's FA(3) template with the seller NIP, the invoice number and today's issue date.
pub fn fa3_invoice(nip: &str, number: &str) -> Vec<u8> {
    fill_fa3(&fa3_template(), nip, number)
}

/// `prefix` followed by the current time in nanoseconds: unique enough for invoice numbers.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// A fresh directory `ksef-client-{name}-…` under the system's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ksef-client-{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Starts the simulator `builder` describes.
pub async fn start_simulator(builder: SimulatorBuilder) -> Simulator {
    builder.start().await.expect("the simulator starts")
}

/// Starts a simulator that takes `delay` to process sessions and invoices.
pub async fn simulator_with_delays(delay: Duration) -> Simulator {
    start_simulator(Simulator::builder().processing_delays(delay)).await
}

/// The simulator's seeded company NIP.
pub fn seeded_nip(sim: &Simulator) -> Nip {
    sim.seeded_nip().parse().expect("a valid seeded NIP")
}

/// How many requests of operation `name` the simulator has served.
pub fn requests(sim: &Simulator, name: &str) -> u64 {
    sim.stats().requests.get(name).copied().unwrap_or_default()
}

/// A self-signed seal of the simulator's seeded company.
pub fn seal(sim: &Simulator, key_type: KeyType) -> TestCertificate {
    TestCertificate::company("Firma Testowa", &seeded_nip(sim), key_type).expect("a test seal")
}

/// Polling from 20 ms up to `max_backoff` between attempts, for 30 s at the most.
pub fn poll(max_backoff: Duration) -> PollConfig {
    PollConfig::default()
        .with_backoff(Duration::from_millis(20), max_backoff)
        .with_timeout(Duration::from_secs(30))
}

/// A quick reconciliation: 20 to 100 ms between reads of the session's list, 500 ms at the most.
pub fn quick_reconcile() -> PollConfig {
    PollConfig::reconcile_default()
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .with_timeout(Duration::from_millis(500))
}

/// A client builder against `sim`, polling with [`poll`]`(max_poll_backoff)`.
pub fn client_builder(sim: &Simulator, max_poll_backoff: Duration) -> ClientBuilder {
    Client::builder()
        .transport(|t| t.base_url(sim.base_url()))
        .poll(poll(max_poll_backoff))
}

/// A client against `sim` polling up to 200 ms apart, not logged in.
pub fn client_for(sim: &Simulator) -> Client {
    client_builder(sim, Duration::from_millis(200))
        .build()
        .expect("a client")
}

/// Logs `client` in with the simulator's seeded KSeF token for the seeded company.
pub async fn token_login(client: &Client, sim: &Simulator) {
    client
        .login_with_ksef_token(seeded_nip(sim), sim.seeded_token())
        .await
        .expect("token login");
}

/// A [`client_for`] `sim`, logged in with the seeded token.
pub async fn logged_in(sim: &Simulator) -> Client {
    let client = client_for(sim);
    token_login(&client, sim).await;
    client
}

/// Replaces `client`'s access token with one that expired a second ago, so that the transport
/// refreshes it on its own before the next call that needs it.
pub fn expire_access_token(client: &Client) {
    client
        .token_store()
        .save(
            TokenKind::Access,
            Token::new("stale").with_valid_until(Utc::now() - chrono::Duration::seconds(1)),
        )
        .unwrap();
}
