//! A user's tower layer, added with `ClientBuilder::with_layer`, sees every request of a real
//! flow against the in-process simulator: the same requests, per operation, as the simulator
//! received, including the refresh calls the transport's auth layer makes on its own.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use ksef_client::form_code;
use ksef_transport::RequestMeta;
use tower::util::MapRequestLayer;

use common::{
    client_builder, expire_access_token, fa3_invoice, simulator_with_delays, token_login, unique,
};

/// Requests seen, per operation id (`presigned` for presigned URLs, `no-meta` for a request
/// without a `RequestMeta`).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<BTreeMap<String, u64>>>);

impl Seen {
    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }

    /// A layer counting the requests that pass through it, by the operation id of their
    /// `RequestMeta`.
    fn layer(
        &self,
    ) -> MapRequestLayer<impl Fn(Request<Bytes>) -> Request<Bytes> + Clone + Send + Sync + 'static>
    {
        let seen = self.clone();
        MapRequestLayer::new(move |request: Request<Bytes>| {
            let id = request
                .extensions()
                .get::<RequestMeta>()
                .map_or("no-meta", |meta| meta.operation_id);
            *seen.0.lock().unwrap().entry(id.to_owned()).or_default() += 1;
            request
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_layer_sees_every_request_of_a_flow() {
    let sim = simulator_with_delays(Duration::from_millis(20)).await;
    let seen = Seen::default();
    let client = client_builder(&sim, Duration::from_millis(100))
        .with_layer(seen.layer())
        .build()
        .expect("a client");

    token_login(&client, &sim).await;
    // An access token that has expired: the auth layer refreshes it on its own before the next
    // call, and that refresh call passes through the user layer too.
    expire_access_token(&client);
    let session = client
        .open_online_session(form_code::fa3())
        .await
        .expect("open a session");
    let nip = sim.seeded_nip().to_owned();
    let run = unique("LAYER");
    let mut sent = Vec::new();
    for i in 1..=2 {
        let invoice = fa3_invoice(&nip, &format!("{run}-{i}"));
        sent.push(session.send(&invoice).await.expect("send"));
    }
    session.close().await.expect("close");
    session.wait_until_processed().await.expect("processed");
    for invoice in &sent {
        session
            .wait_for_invoice(&invoice.reference_number)
            .await
            .expect("an invoice status");
        let upo = session
            .invoice_upo(&invoice.reference_number)
            .await
            .expect("an invoice UPO");
        assert!(!upo.is_empty());
    }
    client
        .refresh_access_token()
        .await
        .expect("explicit refresh");
    client.logout().await.expect("logout");

    let seen = seen.snapshot();
    // The simulator counts presigned transfers (if any) as `_sim`; nothing reaches it without
    // a `RequestMeta`.
    let mut expected = sim.stats().requests;
    if let Some(n) = expected.remove("_sim") {
        expected.insert("presigned".to_owned(), n);
    }
    assert_eq!(seen, expected, "the layer saw what the simulator received");
    let automatic_and_explicit = seen.get("auth.token.refresh").copied().unwrap_or_default();
    assert!(
        automatic_and_explicit >= 2,
        "the auth layer's own refresh went through the user layer: {seen:?}"
    );
    for id in [
        "auth.challenge",
        "sessions.online.open",
        "sessions.online.send_invoice",
        "sessions.online.close",
        "auth.sessions.revoke_current",
    ] {
        assert!(seen.contains_key(id), "{id} missing from {seen:?}");
    }
    assert!(!seen.contains_key("no-meta"), "{seen:?}");
}
