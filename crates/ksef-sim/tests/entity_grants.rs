//! Invoice permissions granted to entities, as their grantor finds and revokes them.

mod common;

use common::{Http, login, start};
use serde_json::{Value, json};

const ENTITY: &str = "7352765225";

async fn query(http: &Http, access: &str, body: Value) -> Vec<Value> {
    let resp = http
        .post(
            "/permissions/query/persons/grants?pageSize=100",
            Some(access),
            &body,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // The answer has the spec's shape.
    let typed: ksef_model::types::QueryPersonPermissionsResponse = resp.json();
    assert!(!typed.has_more);
    let raw: Value = resp.json();
    raw["permissions"].as_array().unwrap().clone()
}

// Regression (issue 15, section 3): grants made with `POST /permissions/entities/grants` were
// missing from `POST /permissions/query/persons/grants`, so the grantor could not find the id
// to revoke them by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grantor_finds_and_revokes_entity_grants() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let session = login(&http, &nip, sim.seeded_token()).await;
    let access = session.access.as_str();
    let grant = json!({
        "subjectIdentifier": {"type": "Nip", "value": ENTITY},
        "permissions": [{"type": "InvoiceRead", "canDelegate": true}, {"type": "InvoiceWrite", "canDelegate": false}],
        "description": "Biuro rachunkowe", "subjectDetails": {"fullName": "Biuro Rachunkowe Sp. z o.o."}});
    let resp = http
        .post("/permissions/entities/grants", Some(access), &grant)
        .await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    // A grant the grantor did not make (the test-data API's, authored by the system).
    let testdata = json!({"contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": "44051401359"},
        "permissions": [{"permissionType": "InvoiceRead", "description": "Odczyt"}]});
    assert_eq!(
        http.post("/testdata/permissions", None, &testdata)
            .await
            .status,
        200
    );

    let granted = query(
        &http,
        access,
        json!({"queryType": "PermissionsGrantedInCurrentContext"}),
    )
    .await;
    assert_eq!(granted.len(), 2, "{granted:?}");
    let mut scopes: Vec<&str> = granted
        .iter()
        .map(|g| g["permissionScope"].as_str().unwrap())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["InvoiceRead", "InvoiceWrite"]);
    for g in &granted {
        assert_eq!(
            g["authorizedIdentifier"],
            json!({"type": "Nip", "value": ENTITY})
        );
        assert_eq!(g["contextIdentifier"], json!({"type": "Nip", "value": nip}));
        assert_eq!(g["authorIdentifier"], json!({"type": "Nip", "value": nip}));
        assert_eq!(
            g["subjectEntityDetails"]["fullName"],
            "Biuro Rachunkowe Sp. z o.o."
        );
        assert_eq!(
            g["subjectEntityDetails"]["subjectDetailsType"],
            "EntityByIdentifier"
        );
        assert_eq!(g["permissionState"], "Active");
        assert_eq!(
            g["canDelegate"],
            json!(g["permissionScope"] == "InvoiceRead"),
            "{g}"
        );
    }
    // Everything in force in the context: the entity's grants and the test-data grant.
    let in_force = query(
        &http,
        access,
        json!({"queryType": "PermissionsInCurrentContext"}),
    )
    .await;
    assert_eq!(in_force.len(), 3, "{in_force:?}");
    // Filtered by the authorized entity.
    let filtered = query(
        &http,
        access,
        json!({"queryType": "PermissionsGrantedInCurrentContext",
            "authorizedIdentifier": {"type": "Nip", "value": ENTITY},
            "permissionTypes": ["InvoiceWrite"]}),
    )
    .await;
    assert_eq!(filtered.len(), 1, "{filtered:?}");

    // The grantor revokes by the listed id.
    let id = filtered[0]["id"].as_str().unwrap();
    let resp = http
        .delete(&format!("/permissions/common/grants/{id}"), Some(access))
        .await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let left = query(
        &http,
        access,
        json!({"queryType": "PermissionsGrantedInCurrentContext"}),
    )
    .await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["permissionScope"], "InvoiceRead");
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
