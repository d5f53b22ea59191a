//! `ksef collective`: collective identifiers (API 2.9.0), one payment identifier for several
//! invoices of one seller: create, list, show (by KSeF number) and the invoices of up to ten.
//!
//! Through the client's flows: `create` runs `GenerateCollectiveIdentifier`, `list` pages
//! `QueryCollectiveIdentifiers`, `show` pages `GetCollectiveIdentifiersByKsefNumber`, `invoices`
//! pages `QueryCollectiveIdentifierInvoices`.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use futures_util::TryStreamExt as _;
use ksef_model::types::{
    CollectiveIdentifierInvoice, CollectiveIdentifierInvoicePayment,
    CollectiveIdentifiersQueryRequest, CurrencyCode,
};
use ksef_model::values::KsefNumber;
use serde_json::{Value, json};

use crate::args::CollectiveCommand;
use crate::context::{Ctx, print_json};
use crate::invoice::parse_time;

fn parse_ksef_number(text: &str) -> anyhow::Result<KsefNumber> {
    text.trim()
        .parse::<KsefNumber>()
        .with_context(|| format!("{text:?} is not a KSeF number"))
}

/// Runs a `collective` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: CollectiveCommand) -> anyhow::Result<ExitCode> {
    match command {
        CollectiveCommand::Create {
            ksef_numbers,
            description,
            amount,
            currency,
        } => {
            let payment = match (amount, currency) {
                (Some(amount), Some(currency)) => {
                    let code = currency.trim().to_ascii_uppercase();
                    if !CurrencyCode::VALUES.contains(&code.as_str()) {
                        bail!(
                            "--currency {currency:?} is not an ISO 4217 currency code KSeF knows"
                        );
                    }
                    Some(CollectiveIdentifierInvoicePayment::new(
                        amount,
                        CurrencyCode::from(code.as_str()),
                    ))
                }
                _ => None,
            };
            let invoices = ksef_numbers
                .iter()
                .map(|text| {
                    let mut invoice = CollectiveIdentifierInvoice::new(parse_ksef_number(text)?);
                    invoice.payment = payment.clone();
                    invoice.description = description.clone();
                    Ok(invoice)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let client = ctx.logged_in_client()?;
            let number = client.generate_collective_identifier(invoices).await?;
            if ctx.json() {
                print_json(&json!({
                    "collectiveIdentifierNumber": number,
                    "invoiceCount": ksef_numbers.len(),
                }))?;
            } else {
                outln!("{number}");
                ctx.note(format!(
                    "✓ collective identifier for {} invoices",
                    ksef_numbers.len()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        CollectiveCommand::List { from, to } => {
            let to = match &to {
                Some(text) => parse_time(text, "--to")?,
                None => chrono::Utc::now().fixed_offset(),
            };
            let from = match &from {
                Some(text) => parse_time(text, "--from")?,
                None => to - chrono::Duration::days(30),
            };
            let client = ctx.logged_in_client()?;
            let items: Vec<_> = client
                .collective_identifiers_stream(
                    CollectiveIdentifiersQueryRequest::new(from, to),
                    200,
                )
                .try_collect()
                .await?;
            if ctx.json() {
                let rows: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        json!({
                            "collectiveIdentifierNumber": i.collective_identifier_number,
                            "dateCreated": i.date_created,
                            "invoiceCount": i.invoice_count,
                            "createdInCurrentContext": i.created_in_current_context,
                        })
                    })
                    .collect();
                print_json(&Value::Array(rows))?;
            } else if items.is_empty() {
                outln!("no collective identifiers");
            } else {
                outln!("{:<36} {:<26} {:>8} MINE", "NUMBER", "CREATED", "INVOICES");
                for i in &items {
                    outln!(
                        "{:<36} {:<26} {:>8} {}",
                        i.collective_identifier_number,
                        i.date_created.to_rfc3339(),
                        i.invoice_count,
                        if i.created_in_current_context {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CollectiveCommand::Show { ksef_number } => {
            let number = parse_ksef_number(&ksef_number)?;
            let client = ctx.logged_in_client()?;
            let items = client.collective_identifiers_of(&number).await?;
            if ctx.json() {
                let rows: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        json!({
                            "collectiveIdentifierNumber": i.collective_identifier_number,
                            "dateCreated": i.date_created,
                            "createdInCurrentContext": i.created_in_current_context,
                        })
                    })
                    .collect();
                print_json(&json!({"ksefNumber": number.as_str(), "collectiveIdentifiers": rows}))?;
            } else if items.is_empty() {
                outln!("{number} is in no collective identifier");
            } else {
                for i in &items {
                    outln!(
                        "{}  {}{}",
                        i.collective_identifier_number,
                        i.date_created.to_rfc3339(),
                        if i.created_in_current_context {
                            "  (mine)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CollectiveCommand::Invoices { numbers } => {
            let client = ctx.logged_in_client()?;
            let items = client.collective_identifier_invoices(&numbers).await?;
            if ctx.json() {
                let rows: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        json!({
                            "ksefNumber": i.ksef_number.as_str(),
                            "collectiveIdentifierNumber": i.collective_identifier_number,
                            "payment": i.payment.as_ref().map(|p| json!({"amount": p.amount, "currency": p.currency})),
                            "description": i.description,
                            "detailsHidden": i.details_hidden,
                        })
                    })
                    .collect();
                print_json(&Value::Array(rows))?;
            } else if items.is_empty() {
                outln!("no invoices");
            } else {
                for i in &items {
                    let details = if i.details_hidden {
                        "(payment details hidden)".to_owned()
                    } else {
                        let payment = i
                            .payment
                            .as_ref()
                            .map(|p| format!("{:.2} {}", p.amount, p.currency));
                        [payment, i.description.clone()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join("  ")
                    };
                    outln!(
                        "{}  {}  {details}",
                        i.collective_identifier_number,
                        i.ksef_number
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
