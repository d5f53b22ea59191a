//! Business checks beyond the schema: check digits, invoice date, size, form code, duplicates.
#![cfg(feature = "validate")]

mod validate_common;

use chrono::NaiveDate;
use ksef_model::validate::{
    BusinessOptions, Rule, SIZE_LIMIT, Schema, check_business, find_duplicates, invoice_key,
    validate_invoice, validate_with_business,
};
use validate_common::templates;

fn fa3() -> String {
    let (_, doc) = templates()
        .into_iter()
        .find(|(n, _)| n == "invoice-template-fa-3.xml")
        .unwrap();
    String::from_utf8(doc).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn a_correct_template_passes() {
    let doc = fa3();
    let options = BusinessOptions::default()
        .with_today(date("2030-01-01"))
        .with_expected_schema(Schema::Fa3);
    assert_eq!(check_business(doc.as_bytes(), &options).unwrap(), vec![]);
}

#[test]
fn nip_check_digit_is_checked_in_every_party() {
    // 5265877635 is valid; 5265877636 keeps the pattern but not the check digit.
    let doc = fa3().replacen("5265877635", "5265877636", 1);
    let found = check_business(doc.as_bytes(), &BusinessOptions::default()).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::NipChecksum);
    assert_eq!(found[0].path, "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP");
    assert_eq!(found[0].value.as_deref(), Some("5265877636"));
    // The buyer's NIP (1111111111, a valid one) too, not only the first party's.
    let doc = fa3().replacen("<NIP>1111111111</NIP>", "<NIP>1111111112</NIP>", 1);
    let found = check_business(doc.as_bytes(), &BusinessOptions::default()).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::NipChecksum);
    assert_eq!(found[0].path, "Faktura/Podmiot2/DaneIdentyfikacyjne/NIP");
}

#[test]
fn invoice_date_must_not_be_after_today() {
    let doc = fa3();
    let p1 = doc
        .split("<P_1>")
        .nth(1)
        .unwrap()
        .split("</P_1>")
        .next()
        .unwrap()
        .to_owned();
    let day = date(&p1);
    let ok = BusinessOptions::default().with_today(day);
    assert!(check_business(doc.as_bytes(), &ok).unwrap().is_empty());
    let early = BusinessOptions::default().with_today(day.pred_opt().unwrap());
    let found = check_business(doc.as_bytes(), &early).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "Faktura/Fa/P_1");
    assert!(matches!(found[0].rule, Rule::DateInFuture { .. }));
}

#[test]
fn form_code_and_size_are_checked() {
    let doc = fa3();
    let found = check_business(
        doc.as_bytes(),
        &BusinessOptions::default().with_expected_schema(Schema::Fa2),
    )
    .unwrap();
    assert_eq!(
        found.iter().map(|v| v.rule.clone()).collect::<Vec<_>>(),
        [Rule::FormCode {
            expected: Schema::Fa2,
            found: Schema::Fa3
        }]
    );
    // Padding in a comment pushes the document over 1 MB.
    let big = doc.replacen(
        "<Naglowek>",
        &format!("<!--{}--><Naglowek>", "x".repeat(SIZE_LIMIT)),
        1,
    );
    let found = check_business(big.as_bytes(), &BusinessOptions::default()).unwrap();
    assert!(
        matches!(
            found[..],
            [ksef_model::validate::Violation {
                rule: Rule::SizeLimit {
                    limit: SIZE_LIMIT,
                    ..
                },
                ..
            }]
        ),
        "{found:#?}"
    );
}

#[test]
fn duplicates_share_seller_kind_and_number() {
    let a = fa3();
    let key = invoice_key(a.as_bytes()).unwrap().unwrap();
    assert_eq!(key.seller_nip, "5265877635");
    let number = key.number.clone();
    let b = a.replacen(&format!("<P_2>{number}</P_2>"), "<P_2>FV/OTHER/1</P_2>", 1);
    let c = a.clone();
    let docs = [a.as_bytes(), b.as_bytes(), c.as_bytes()];
    let dups = find_duplicates(docs);
    assert_eq!(dups, vec![(key, vec![0, 2])]);
}

#[test]
fn one_pass_gives_what_the_two_checks_give() {
    let options = BusinessOptions::default()
        .with_today(date("2026-01-01"))
        .with_expected_schema(Schema::Fa2);
    let docs = [
        fa3(),
        // A schema violation (a date that is not one) and a business one (check digit).
        fa3().replacen("5265877635", "5265877636", 1),
        fa3().replacen("<P_1>", "<P_1>x", 1),
    ];
    for doc in &docs {
        let (report, business) = validate_with_business(doc.as_bytes(), &options).unwrap();
        assert_eq!(report, validate_invoice(doc.as_bytes()).unwrap());
        assert_eq!(business, check_business(doc.as_bytes(), &options).unwrap());
        // The expected form (FA(2)) differs: every document has that finding.
        assert!(
            business
                .iter()
                .any(|v| matches!(v.rule, Rule::FormCode { .. }))
        );
    }
    let bad = fa3().replacen("<P_1>", "<P_1>x", 1);
    let (report, _) = validate_with_business(bad.as_bytes(), &options).unwrap();
    assert!(!report.is_valid());
    assert!(validate_with_business(b"<not-an-invoice/>", &options).is_err());
}
