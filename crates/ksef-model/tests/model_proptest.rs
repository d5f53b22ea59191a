//! Property: any JSON document valid for a schema of the spec deserializes into the generated type
//! and serializes back to an equivalent document. Documents are generated from the spec's schemas
//! at test time, so every generated type is exercised, including unknown enum values.

mod support;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ksef_model::values::{Challenge, InternalId, KsefNumber, Nip, NipVatUe, ReferenceNumber};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

type Strat = BoxedStrategy<Value>;

fn nip() -> impl Strategy<Value = Nip> {
    (1u8..10, prop::array::uniform8(0u8..10)).prop_filter_map(
        "no valid check digit",
        |(first, rest)| {
            let mut nine = [0u8; 9];
            nine[0] = first;
            nine[1..].copy_from_slice(&rest);
            Nip::from_first_nine(nine).ok()
        },
    )
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (2020i32..2100, 1u32..13, 1u32..29)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("day <= 28"))
}

fn hex(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(b"0123456789ABCDEF".to_vec()), n)
        .prop_map(|v| String::from_utf8(v).expect("ascii"))
}

/// A valid value for a schema implemented by hand in `ksef_model::values`.
fn value_type(name: &str) -> Option<Strat> {
    Some(match name {
        "Nip" => nip().prop_map(|n| Value::from(n.as_str())).boxed(),
        "Pesel" => (0u8..100, 1u8..13, 1u8..29, 0u16..10000)
            .prop_filter_map("pesel", |(y, m, d, serial)| {
                let body = format!("{y:02}{m:02}{d:02}{serial:04}");
                let weights = [1u32, 3, 7, 9, 1, 3, 7, 9, 1, 3];
                let sum: u32 = body
                    .bytes()
                    .zip(weights)
                    .map(|(b, w)| u32::from(b - b'0') * w)
                    .sum();
                let text = format!("{body}{}", (10 - sum % 10) % 10);
                text.parse::<ksef_model::values::Pesel>()
                    .ok()
                    .map(|p| Value::from(p.as_str()))
            })
            .boxed(),
        "KsefNumber" => (nip(), date(), hex(12))
            .prop_map(|(n, d, h)| {
                Value::from(
                    KsefNumber::from_parts(&n, d, &h)
                        .expect("valid parts")
                        .as_str(),
                )
            })
            .boxed(),
        "ReferenceNumber" => (
            date(),
            prop::sample::select(vec!["SO", "SB", "AU", "EE", "EU"]),
            hex(10),
            hex(10),
        )
            .prop_map(|(d, k, a, b)| {
                Value::from(
                    ReferenceNumber::from_parts(d, k, &a, &b)
                        .expect("valid parts")
                        .as_str(),
                )
            })
            .boxed(),
        "Challenge" => (date(), hex(10), hex(10))
            .prop_map(|(d, a, b)| {
                Value::from(
                    Challenge::from_parts(d, &a, &b)
                        .expect("valid parts")
                        .as_str(),
                )
            })
            .boxed(),
        "InternalId" => (nip(), 0u16..10000)
            .prop_filter_map("internal id", |(n, unit)| {
                InternalId::from_parts(&n, unit).ok()
            })
            .prop_map(|i| Value::from(i.as_str()))
            .boxed(),
        "NipVatUe" => (nip(), 100_000_000u32..1_000_000_000)
            .prop_filter_map("vat ue", |(n, de)| {
                let vat = format!("DE{de}").parse().ok()?;
                Some(Value::from(NipVatUe::from_parts(&n, &vat).as_str()))
            })
            .boxed(),
        "PeppolId" => ("[A-Z]{2}", 0u32..1_000_000)
            .prop_map(|(cc, n)| Value::from(format!("P{cc}{n:06}")))
            .boxed(),
        _ => return None,
    })
}

fn date_time() -> Strat {
    (
        date(),
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..10_000_000,
        -14i32..15,
    )
        .prop_map(|(d, h, m, s, frac, off)| {
            let sign = if off < 0 { '-' } else { '+' };
            Value::from(format!(
                "{d}T{h:02}:{m:02}:{s:02}.{frac:07}{sign}{:02}:00",
                off.abs()
            ))
        })
        .boxed()
}

struct Gen<'a> {
    schemas: &'a Map<String, Value>,
}

impl Gen<'_> {
    fn schema(&self, name: &str, depth: u32) -> Strat {
        if let Some(s) = value_type(name) {
            return s;
        }
        self.of(&self.schemas[name], depth)
    }

    fn of(&self, s: &Value, depth: u32) -> Strat {
        let nullable = s.get("nullable").and_then(Value::as_bool) == Some(true);
        let inner = self.non_null(s, depth);
        if nullable {
            prop_oneof![4 => inner, 1 => Just(Value::Null)].boxed()
        } else {
            inner
        }
    }

    fn non_null(&self, s: &Value, depth: u32) -> Strat {
        if let Some(target) = support::schema_ref(s) {
            return self.schema(&target, depth + 1);
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            let known: Vec<Value> = values.clone();
            // Mostly known values, sometimes one a later server might send.
            return prop_oneof![9 => prop::sample::select(known), 1 => "Zz[a-z]{1,8}".prop_map(Value::from)].boxed();
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
            for (name, p) in props {
                let key = name.clone();
                let value = self.of(p, depth + 1);
                if required.contains(&name.as_str()) {
                    fields.push(value.prop_map(move |v| Some((key.clone(), v))).boxed());
                } else if depth < 4 {
                    fields
                        .push(prop::option::of(value.prop_map(move |v| (key.clone(), v))).boxed());
                }
            }
            return fields
                .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect()))
                .boxed();
        }
        let format = s.get("format").and_then(Value::as_str);
        match s.get("type").and_then(Value::as_str) {
            Some("string") => match format {
                Some("date-time") => date_time(),
                Some("date") => date().prop_map(|d| Value::from(d.to_string())).boxed(),
                _ => any::<String>().prop_map(Value::from).boxed(),
            },
            Some("integer") if format == Some("int32") => {
                any::<i32>().prop_map(Value::from).boxed()
            }
            Some("integer") => any::<i64>().prop_map(Value::from).boxed(),
            Some("number") => (-1.0e12f64..1.0e12).prop_map(Value::from).boxed(),
            Some("boolean") => any::<bool>().prop_map(Value::from).boxed(),
            Some("array") => {
                let max = if depth < 4 { 3 } else { 0 };
                prop::collection::vec(self.of(&s["items"], depth + 1), 0..=max)
                    .prop_map(Value::Array)
                    .boxed()
            }
            Some("object") => {
                let value = match s.get("additionalProperties") {
                    Some(ap) if ap.get("type").is_some() => self.of(ap, depth + 1),
                    _ => prop_oneof![
                        Just(Value::Null),
                        any::<i32>().prop_map(Value::from),
                        "[a-z]{0,5}".prop_map(Value::from)
                    ]
                    .boxed(),
                };
                prop::collection::btree_map("[a-zA-Z]{1,6}", value, 0..3)
                    .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect()))
                    .boxed()
            }
            other => panic!("the generator does not know type {other:?}: {s}"),
        }
    }
}

#[test]
fn every_schema_round_trips_generated_documents() {
    let spec = support::spec();
    let schemas = spec["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .clone();
    let generator = Gen { schemas: &schemas };
    let cases_per_schema = 24;
    let mut total = 0;
    for name in schemas.keys() {
        let strategy = generator.schema(name, 0);
        let mut runner = TestRunner::new(Config {
            cases: cases_per_schema,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |doc| {
                let back = support::schemas::roundtrip(name, &doc)
                    .expect("every schema has a type")
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}\n{doc}")))?;
                prop_assert_eq!(
                    support::normalize(&back),
                    support::normalize(&doc),
                    "{}",
                    name
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        total += cases_per_schema;
    }
    println!(
        "model round trips: {} schemas x {cases_per_schema} generated documents = {total}",
        schemas.len()
    );
}
