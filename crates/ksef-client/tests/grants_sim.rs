//! Permission grants built with the checked builders, against the in-process KSeF simulator.

use std::time::Duration;

use ksef_client::grants::{EntityGrant, GrantSubject, IndirectGrant, IndirectTarget, PersonGrant};
use ksef_client::{Client, Error, PollConfig};
use ksef_model::operations::{GetPermissionOperationStatus, QueryPersonPermissions};
use ksef_model::types::{
    EntityPermissionType, IndirectPermissionType, PersonPermissionType,
    PersonPermissionsQueryRequest,
};
use ksef_model::values::{Nip, ReferenceNumber};
use ksef_sim::Simulator;

const PESEL: &str = "90010112349";

async fn logged_in(sim: &Simulator) -> Client {
    let client = Client::builder()
        .base_url(sim.base_url())
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
                .with_timeout(Duration::from_secs(30)),
        )
        .build()
        .expect("a client");
    let nip: Nip = sim.seeded_nip().parse().expect("a valid seeded NIP");
    client
        .login_with_ksef_token(nip, sim.seeded_token())
        .await
        .expect("token login");
    client
}

/// Polls the grant operation until it leaves 100 and returns its final code.
async fn final_code(client: &Client, reference: &ReferenceNumber) -> i32 {
    for _ in 0..200 {
        let status = client
            .permissions()
            .operation_status(GetPermissionOperationStatus::new(reference.clone()))
            .await
            .expect("operation status");
        if status.status.code != 100 {
            return status.status.code;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("grant {reference} still in progress");
}

fn grants_sent(sim: &Simulator) -> u64 {
    let stats = sim.stats();
    [
        "permissions.persons.grant",
        "permissions.entities.grant",
        "permissions.indirect.grant",
    ]
    .iter()
    .map(|name| stats.requests.get(*name).copied().unwrap_or_default())
    .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_grants_are_accepted_and_refusals_never_leave() {
    let sim = Simulator::builder()
        .start()
        .await
        .expect("the simulator starts");
    let client = logged_in(&sim).await;

    let person = PersonGrant::new(
        GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "Nowak"),
        "Accountant reads and issues invoices",
    )
    .permission(PersonPermissionType::InvoiceRead)
    .permission(PersonPermissionType::InvoiceWrite)
    .build()
    .expect("a valid grant");
    let operation = client
        .permissions()
        .grant(person)
        .await
        .expect("the grant is accepted");
    assert_eq!(final_code(&client, &operation.reference_number).await, 200);
    let listed = client
        .permissions()
        .query_persons(
            QueryPersonPermissions::new(PersonPermissionsQueryRequest::new(
                "PermissionsInCurrentContext",
            ))
            .with_page_size(100),
        )
        .await
        .expect("query");
    let mut scopes: Vec<&str> = listed
        .permissions
        .iter()
        .filter(|p| p.authorized_identifier.value == PESEL)
        .map(|p| p.permission_scope.as_str())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["InvoiceRead", "InvoiceWrite"]);

    let entity = EntityGrant::new(
        "5265877635".parse().unwrap(),
        "Biuro Rachunkowe",
        "Bookkeeping office",
    )
    .permission(EntityPermissionType::InvoiceRead, true)
    .build()
    .expect("a valid grant");
    let operation = client.permissions().grant(entity).await.expect("accepted");
    assert_eq!(final_code(&client, &operation.reference_number).await, 200);

    let indirect = IndirectGrant::new(
        GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "Nowak"),
        "All clients' invoices",
    )
    .target(IndirectTarget::AllPartners)
    .permission(IndirectPermissionType::InvoiceRead)
    .build()
    .expect("a valid grant");
    let operation = client
        .permissions()
        .grant(indirect)
        .await
        .expect("accepted");
    assert_eq!(final_code(&client, &operation.reference_number).await, 200);
    let sent = grants_sent(&sim);
    assert_eq!(sent, 3);

    // A request refused by the checks is never sent.
    let mut broken = PersonGrant::new(
        GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "Nowak"),
        "Accountant",
    )
    .permission(PersonPermissionType::InvoiceRead)
    .build()
    .expect("a valid grant");
    broken.permissions.push(PersonPermissionType::InvoiceRead);
    let refused = client.permissions().grant(broken).await;
    assert!(
        matches!(
            refused,
            Err(Error::InvalidRequest {
                field: "permissions",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(grants_sent(&sim), sent);
}
