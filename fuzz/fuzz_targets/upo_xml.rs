//! UPO v4-3 receipts (`ksef_model::xml::from_xml::<upo_v4_3::Potwierdzenie>`).
//!
//! Invariant: a receipt that parses writes back out (`to_xml`), and the written document parses to
//! an equal value, which writes out to the same bytes (parse → serialize → parse is stable). The
//! invariant is checked on well-formed documents (see `round_trip`).
#![no_main]

#[path = "support/xml_round_trip.rs"]
mod xml_round_trip;

use ksef_model::xml::upo_v4_3;
use libfuzzer_sys::fuzz_target;
use xml_round_trip::round_trip;

fuzz_target!(|data: &[u8]| {
    round_trip::<upo_v4_3::Potwierdzenie>(data);
});
