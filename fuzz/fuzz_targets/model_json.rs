//! JSON response and error bodies deserialized into the generated types of `ksef_model::types`.
//!
//! Every input is tried as each type below. Invariant: a body that deserializes serializes back,
//! and that JSON deserializes to an equal value which serializes to the same text (deserialize →
//! serialize → deserialize is stable).
#![no_main]

use std::fmt::Debug;

use ksef_model::types;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) {
    let Ok(first) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let name = std::any::type_name::<T>();
    let written = serde_json::to_string(&first)
        .unwrap_or_else(|err| panic!("a deserialized {name} does not serialize: {err}"));
    let second = serde_json::from_str::<T>(&written)
        .unwrap_or_else(|err| panic!("a serialized {name} does not deserialize: {err}\n{written}"));
    assert_eq!(first, second, "{name} changed in a round trip");
    let rewritten = serde_json::to_string(&second).expect("serializes");
    assert_eq!(
        rewritten, written,
        "{name} serializes differently after a round trip"
    );
}

fuzz_target!(|data: &[u8]| {
    // Error bodies.
    round_trip::<types::ExceptionResponse>(data);
    round_trip::<types::BadRequestProblemDetails>(data);
    round_trip::<types::UnauthorizedProblemDetails>(data);
    round_trip::<types::ForbiddenProblemDetails>(data);
    round_trip::<types::GoneProblemDetails>(data);
    round_trip::<types::TooManyRequestsProblemDetails>(data);
    round_trip::<types::TooManyRequestsResponse>(data);
    // Responses with many fields, nested objects, identifiers, dates and amounts.
    round_trip::<types::QueryInvoicesMetadataResponse>(data);
    round_trip::<types::SessionInvoicesResponse>(data);
    round_trip::<types::SessionStatusResponse>(data);
    round_trip::<types::SessionsQueryResponse>(data);
    round_trip::<types::InvoiceExportStatusResponse>(data);
    round_trip::<types::AuthenticationListResponse>(data);
    round_trip::<types::AuthenticationOperationStatusResponse>(data);
    round_trip::<types::QueryPersonPermissionsResponse>(data);
    round_trip::<types::QueryCertificatesResponse>(data);
    round_trip::<types::QueryTokensResponse>(data);
    round_trip::<types::CertificateEnrollmentDataResponse>(data);
    round_trip::<Vec<types::PublicKeyCertificate>>(data);
});
