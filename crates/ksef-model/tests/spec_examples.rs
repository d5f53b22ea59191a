//! Every example of the spec (schemas, request bodies, responses) deserializes into the generated
//! type and serializes back to equivalent JSON.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;

/// Why the authentication-status examples fail: they predate `authenticationMethodInfo`.
const AUTH_STATUS_WITHOUT_METHOD_INFO: &str = "AuthenticationOperationStatusResponse requires `authenticationMethodInfo`, which the example lacks (it shows only the deprecated `authenticationMethod`)";

/// Why two 2.9.0 collective-identifier examples fail: their KSeF number's checksum is wrong.
const BAD_CRC_KSEF_NUMBER: &str = "the KSeF number `1111111111-20260612-6310EC800000-DA` has CRC-8 `33`, not `DA`: the spec's example breaks its own checksum rule";

/// Examples of the spec that contradict its own schema, by location, with the reason. The test
/// fails if one of these starts passing (the spec was fixed: remove it) or a new one fails.
const SPEC_CONTRADICTIONS: &[(&str, &str)] = &[
    ("POST /collective-identifiers request", BAD_CRC_KSEF_NUMBER),
    (
        "POST /collective-identifiers/invoices 200 application/json",
        BAD_CRC_KSEF_NUMBER,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 100 | Uwierzytelnianie w toku'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 200 | Uwierzytelnianie zakończone sukcesem'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 400 | Uwierzytelnianie zakończone niepowodzeniem | Błąd weryfikacji łańcucha certyfikatów'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 400 | Uwierzytelnianie zakończone niepowodzeniem | Certyfikat odwołany'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 400 | Uwierzytelnianie zakończone niepowodzeniem | Niepoprawny certyfikat'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 400 | Uwierzytelnianie zakończone niepowodzeniem | Nieważny certyfikat'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 400 | Uwierzytelnianie zakończone niepowodzeniem | Niezaufany łańcuch certyfikatów'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /auth/{referenceNumber} 200 application/json 'Kod 500 | Nieznany błąd'",
        AUTH_STATUS_WITHOUT_METHOD_INFO,
    ),
    (
        "GET /peppol/query 200 application/json",
        "the example's Peppol id `P123456789` breaks the PeppolId pattern `P[A-Z]{2}[0-9]{6}` of the same spec",
    ),
    (
        "GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber} 200 application/json",
        "SessionInvoiceStatusResponse requires `invoiceHash`, which the example omits",
    ),
    (
        "schema ExceptionResponse",
        "the example's `referenceNumber` is a UUID, not a KSeF reference number, and its `timestamp` has no UTC offset",
    ),
];

/// One example and where it came from.
struct Example {
    location: String,
    schema: String,
    value: Value,
}

fn collect(spec: &Value) -> (Vec<Example>, usize) {
    let mut out = Vec::new();
    let mut non_json = 0;
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    for (name, schema) in schemas {
        if let Some(example) = schema.get("example") {
            out.push(Example {
                location: format!("schema {name}"),
                schema: name.clone(),
                value: example.clone(),
            });
        }
        for (prop, p) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let (Some(example), Some(target)) = (p.get("example"), support::schema_ref(p)) {
                out.push(Example {
                    location: format!("schema {name}.{prop}"),
                    schema: target,
                    value: example.clone(),
                });
            }
        }
    }
    let push_media = |location: String, media: &Value, out: &mut Vec<Example>| {
        let Some(schema) = media.get("schema") else {
            return;
        };
        let target = support::schema_ref(schema).or_else(|| {
            // An array of a schema: check each item.
            (schema.get("type").and_then(Value::as_str) == Some("array"))
                .then(|| support::schema_ref(&schema["items"]))
                .flatten()
                .map(|t| format!("[]{t}"))
        });
        let Some(target) = target else { return };
        let mut examples: Vec<(String, Value)> = Vec::new();
        if let Some(e) = media.get("example") {
            examples.push((location.clone(), e.clone()));
        }
        for (key, e) in media
            .get("examples")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            examples.push((format!("{location} '{key}'"), e["value"].clone()));
        }
        for (location, value) in examples {
            match target.strip_prefix("[]") {
                Some(item) => {
                    for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                        out.push(Example {
                            location: format!("{location}[{i}]"),
                            schema: item.to_owned(),
                            value: v.clone(),
                        });
                    }
                }
                None => out.push(Example {
                    location,
                    schema: target.clone(),
                    value,
                }),
            }
        }
    };
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let m = method.to_uppercase();
            for (ct, media) in op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if ct.contains("json") {
                    push_media(format!("{m} {path} request"), media, &mut out);
                } else if media.get("example").is_some() {
                    non_json += 1;
                }
            }
            for (code, response) in op["responses"].as_object().expect("responses") {
                for (ct, media) in response
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if ct.contains("json") {
                        push_media(format!("{m} {path} {code} {ct}"), media, &mut out);
                    } else if media.get("example").is_some() {
                        non_json += 1;
                    }
                }
            }
        }
    }
    (out, non_json)
}

#[test]
fn every_spec_example_round_trips() {
    let spec = support::spec();
    let (examples, non_json) = collect(&spec);
    assert!(
        examples.len() > 80,
        "too few examples found: {}",
        examples.len()
    );
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for ex in &examples {
        let result = support::schemas::roundtrip(&ex.schema, &ex.value).unwrap_or_else(|| {
            panic!(
                "{}: schema {} has no generated type",
                ex.location, ex.schema
            )
        });
        match result {
            Ok(back) => {
                let (want, got) = (support::normalize(&ex.value), support::normalize(&back));
                if want != got {
                    failures.insert(
                        ex.location.clone(),
                        format!("differs after the round trip:\n  spec: {want}\n  ours: {got}"),
                    );
                }
            }
            Err(e) => {
                failures.insert(ex.location.clone(), format!("does not deserialize: {e}"));
            }
        }
    }
    let known: BTreeMap<&str, &str> = SPEC_CONTRADICTIONS.iter().copied().collect();
    let unexpected: Vec<String> = failures
        .iter()
        .filter(|(loc, _)| !known.contains_key(loc.as_str()))
        .map(|(loc, why)| format!("{loc}: {why}"))
        .collect();
    let fixed: Vec<&&str> = known
        .keys()
        .filter(|loc| !failures.contains_key(**loc))
        .collect();
    println!(
        "spec examples: {} JSON examples checked, {} round-trip, {} recorded as contradicting the spec's schema, {} non-JSON examples skipped",
        examples.len(),
        examples.len() - failures.len(),
        failures.len(),
        non_json
    );
    for (loc, why) in SPEC_CONTRADICTIONS {
        println!("  contradiction: {loc}: {why}");
    }
    assert!(
        unexpected.is_empty(),
        "examples that fail to round-trip:\n{}",
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "recorded contradictions that now pass (remove them): {fixed:?}"
    );
}

#[test]
fn every_schema_has_a_type() {
    let spec = support::spec();
    let names: Vec<&String> = spec["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .collect();
    assert_eq!(names.len(), support::schemas::SCHEMAS.len());
    for name in names {
        assert!(
            support::schemas::roundtrip(name, &Value::Null).is_some(),
            "schema {name} has no generated type"
        );
    }
}
