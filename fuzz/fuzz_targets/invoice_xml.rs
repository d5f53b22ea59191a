//! Invoices FA(2), FA(3) and FA_RR(1) (`ksef_model::xml::from_xml` with the `invoice-xml` feature).
//!
//! Every input is tried as each of the three documents. Invariant: an invoice that parses writes
//! back out (`to_xml`), and the written document parses to an equal value, which writes out to the
//! same bytes (parse → serialize → parse is stable). The invariant is checked on well-formed
//! documents (see `round_trip`).
#![no_main]

#[path = "support/xml_round_trip.rs"]
mod xml_round_trip;

use ksef_model::xml::{fa_rr1, fa2, fa3};
use libfuzzer_sys::fuzz_target;
use xml_round_trip::round_trip;

fuzz_target!(|data: &[u8]| {
    round_trip::<fa3::Faktura>(data);
    round_trip::<fa2::Faktura>(data);
    round_trip::<fa_rr1::Faktura>(data);
});
