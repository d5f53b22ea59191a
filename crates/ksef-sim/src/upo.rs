//! UPO v4-3 documents (official receipts), built with the generated `upo_v4_3` types.

use chrono::{DateTime, Utc};
use ksef_model::xml::to_xml;
use ksef_model::xml::upo_v4_3::{
    Potwierdzenie, PotwierdzenieDokumentElementType, PotwierdzenieDokumentTrybWysylkiElementType,
    PotwierdzenieOpisPotwierdzeniaElementType, PotwierdzenieUwierzytelnienieContent3Type,
    PotwierdzenieUwierzytelnienieElementType, PotwierdzenieUwierzytelnienieIdKontekstuElementType,
};

use crate::errors::ApiError;
use crate::state::{Session, StoredInvoice};

/// The receiver's name the schema fixes (test environments add a suffix; ours stays schema-valid).
const RECEIVER: &str = "Ministerstwo Finansów";

fn date_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// A UPO for `documents` of `session`; `page` adds the page description of a session UPO.
pub(crate) fn build(
    session: &Session,
    documents: &[&StoredInvoice],
    page: bool,
) -> Result<Vec<u8>, ApiError> {
    let count = u64::try_from(documents.len()).unwrap_or(u64::MAX);
    let content_3 = match &session.token_reference {
        Some(reference) => PotwierdzenieUwierzytelnienieContent3Type::NumerReferencyjnyTokenaKSeF(
            reference.clone(),
        ),
        None => PotwierdzenieUwierzytelnienieContent3Type::SkrotDokumentuUwierzytelniajacego(
            ksef_crypto::file_metadata(session.auth_reference.as_bytes()).sha256_base64(),
        ),
    };
    let upo = Potwierdzenie {
        wersja_schemy: None,
        nazwa_podmiotu_przyjmujacego: RECEIVER.to_owned(),
        numer_referencyjny_sesji: session.reference.clone(),
        uwierzytelnienie: PotwierdzenieUwierzytelnienieElementType {
            id_kontekstu: PotwierdzenieUwierzytelnienieIdKontekstuElementType::Nip(
                session.context_nip.clone(),
            ),
            content_3,
        },
        opis_potwierdzenia: page.then_some(PotwierdzenieOpisPotwierdzeniaElementType {
            strona: 1,
            liczba_stron: 1,
            zakres_dokumentow_od: 1,
            zakres_dokumentow_do: count,
            calkowita_liczba_dokumentow: count,
        }),
        nazwa_struktury_logicznej: session.form.structure_name(),
        kod_formularza: session.form.system_code().to_owned(),
        dokument: documents
            .iter()
            .map(|invoice| PotwierdzenieDokumentElementType {
                nip_sprzedawcy: invoice.facts.seller_nip.clone(),
                numer_k_se_f_dokumentu: invoice.ksef_number.clone(),
                numer_faktury: invoice.facts.invoice_number.clone(),
                data_wystawienia_faktury: invoice.issue_date.format("%Y-%m-%d").to_string(),
                data_przeslania_dokumentu: date_time(invoice.invoicing_date),
                data_nadania_numeru_k_se_f: date_time(invoice.acquisition_date),
                skrot_dokumentu: invoice.hash.clone(),
                tryb_wysylki: if invoice.offline {
                    PotwierdzenieDokumentTrybWysylkiElementType::Offline
                } else {
                    PotwierdzenieDokumentTrybWysylkiElementType::Online
                },
            })
            .collect(),
    };
    to_xml(&upo).map_err(|e| ApiError::internal(format!("cannot write the UPO: {e}")))
}
