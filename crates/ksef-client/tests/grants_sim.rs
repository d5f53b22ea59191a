//! Permission grants built with the checked builders, against the in-process KSeF simulator.

mod common;

use std::time::Duration;

use ksef_client::grants::{EntityGrant, GrantSubject, IndirectGrant, IndirectTarget, PersonGrant};
use ksef_client::{Client, Error};
use ksef_model::operations::{GetPermissionOperationStatus, QueryPersonPermissions};
use ksef_model::types::{
    EntityPermissionType, IndirectPermissionType, PersonPermissionType,
    PersonPermissionsQueryRequest,
};
use ksef_model::values::ReferenceNumber;
use ksef_sim::Simulator;

use common::{client_builder, requests, start_simulator, token_login};

const PESEL: &str = "90010112349";

async fn logged_in(sim: &Simulator) -> Client {
    let client = client_builder(sim, Duration::from_millis(100))
        .build()
        .expect("a client");
    token_login(&client, sim).await;
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
    [
        "permissions.persons.grant",
        "permissions.entities.grant",
        "permissions.indirect.grant",
    ]
    .iter()
    .map(|name| requests(sim, name))
    .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_grants_are_accepted_and_refusals_never_leave() {
    let sim = start_simulator(Simulator::builder()).await;
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
