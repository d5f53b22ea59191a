//! Label sets: Polish (default) and English.

use crate::xml::Node;

/// The language of the labels (the invoice's own values are printed as written).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// Polish labels.
    #[default]
    Polish,
    /// English labels.
    English,
}

/// The label of `key` (an element's local name or one of the renderer's own keys); an element
/// without a label is shown by its name.
pub(crate) fn label(lang: Language, key: &str) -> String {
    match pair(key) {
        Some((pl, en)) => match lang {
            Language::Polish => pl,
            Language::English => en,
        }
        .to_owned(),
        None => key.to_owned(),
    }
}

/// A label/value row for each of `nodes` at `depth`: a leaf with its value as `value` prints it
/// (given the element's name and text), an element with children as its label alone followed by
/// their rows one level deeper (two leading spaces per level, which `Layout::fields` indents).
pub(crate) fn rows<'n>(
    lang: Language,
    nodes: impl IntoIterator<Item = &'n Node>,
    depth: usize,
    value: &dyn Fn(&str, &str) -> String,
    out: &mut Vec<(String, String)>,
) {
    let indent = "  ".repeat(depth);
    for node in nodes {
        let name = format!("{indent}{}", label(lang, &node.name));
        if node.is_leaf() {
            out.push((name, value(&node.name, &node.text)));
        } else {
            out.push((name, String::new()));
            rows(lang, &node.children, depth + 1, value, out);
        }
    }
}

fn pair(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        // Renderer's own keys.
        "invoice" => ("Faktura", "Invoice"),
        "invoice_no" => ("Numer faktury", "Invoice number"),
        "ksef_no" => ("Numer KSeF", "KSeF number"),
        "form" => ("Formularz", "Form"),
        "seller" => ("Sprzedawca", "Seller"),
        "buyer" => ("Nabywca", "Buyer"),
        "rr_buyer" => (
            "Nabywca (wystawca faktury)",
            "Buyer (issuer of the invoice)",
        ),
        "rr_seller" => (
            "Dostawca (rolnik ryczałtowy)",
            "Supplier (flat-rate farmer)",
        ),
        "third" => ("Podmiot trzeci", "Third party"),
        "authorized" => ("Podmiot upoważniony", "Authorised entity"),
        "details" => ("Szczegóły", "Details"),
        "lines" => ("Pozycje", "Lines"),
        "vat_summary" => ("Podsumowanie stawek podatku", "VAT rate summary"),
        "rate" => ("Stawka", "Rate"),
        "net" => ("Kwota netto", "Net amount"),
        "vat" => ("Kwota podatku", "VAT amount"),
        "vat_pln" => ("Podatek w PLN", "VAT in PLN"),
        "gross" => ("Kwota brutto", "Gross amount"),
        "totals" => ("Podsumowanie", "Totals"),
        "annotations" => ("Adnotacje", "Annotations"),
        "correction" => ("Korekta", "Correction"),
        "advance" => ("Zaliczka", "Advance payment"),
        "other" => ("Informacje dodatkowe", "Additional information"),
        "qr" => ("Weryfikacja w KSeF", "Verification in KSeF"),
        "kod_i" => (
            "Sprawdź, czy faktura jest w KSeF (KOD I)",
            "Check that the invoice is in KSeF (CODE I)",
        ),
        "kod_ii" => (
            "Weryfikacja wystawcy (KOD II)",
            "Verification of the issuer (CODE II)",
        ),
        "more_findings" => ("Pozostałe uwagi", "Further findings"),
        "forced" => (
            "UWAGA: faktura nie przeszła walidacji schematu; wizualizacja pokazuje to, co dało się odczytać.",
            "NOTE: the invoice fails schema validation; this visualization shows what could be read.",
        ),
        "page" => ("Strona", "Page"),
        "yes" => ("tak", "yes"),
        "attachment" => ("Załącznik", "Attachment"),
        "before" => ("przed korektą", "before correction"),
        "upo" => (
            "Urzędowe poświadczenie odbioru (UPO)",
            "Official receipt (UPO)",
        ),
        "upo_session" => ("Sesja", "Session"),
        "upo_documents" => ("Dokumenty", "Documents"),
        // Parties.
        "NIP" => ("NIP", "NIP (tax id)"),
        "Nazwa" => ("Nazwa", "Name"),
        "KodUE" => ("Kod kraju UE", "EU country code"),
        "NrVatUE" => ("Numer VAT UE", "EU VAT number"),
        "KodKraju" => ("Kraj", "Country"),
        "NrID" => ("Identyfikator", "Identifier"),
        "BrakID" => ("Brak identyfikatora", "No identifier"),
        "IDWew" => ("Identyfikator wewnętrzny", "Internal id"),
        "Adres" => ("Adres", "Address"),
        "AdresKoresp" => ("Adres korespondencyjny", "Correspondence address"),
        "AdresL1" => ("Adres", "Address"),
        "AdresL2" => ("Adres c.d.", "Address (cont.)"),
        "GLN" => ("GLN", "GLN"),
        "Email" => ("E-mail", "E-mail"),
        "Telefon" => ("Telefon", "Phone"),
        "EmailPU" => ("E-mail", "E-mail"),
        "TelefonPU" => ("Telefon", "Phone"),
        "NrEORI" => ("Numer EORI", "EORI number"),
        "PrefiksPodatnika" => ("Prefiks VAT", "VAT prefix"),
        "StatusInfoPodatnika" => ("Status podatnika", "Taxpayer status"),
        "NrKlienta" => ("Numer klienta", "Customer number"),
        "IDNabywcy" => ("Identyfikator nabywcy", "Buyer id"),
        "NrKontrahenta" => ("Numer kontrahenta", "Counterparty number"),
        "JST" => (
            "Jednostka samorządu terytorialnego",
            "Local government unit",
        ),
        "GV" => ("Członek grupy VAT", "VAT group member"),
        "Rola" => ("Rola", "Role"),
        "RolaInna" => ("Inna rola", "Other role"),
        "OpisRoli" => ("Opis roli", "Role description"),
        "RolaPU" => ("Rola", "Role"),
        "Udzial" => ("Udział", "Share"),
        // Header and details.
        "KodWaluty" => ("Waluta", "Currency"),
        "P_1" => ("Data wystawienia", "Issue date"),
        "P_1M" => ("Miejsce wystawienia", "Place of issue"),
        "P_2" => ("Numer faktury", "Invoice number"),
        "WZ" => ("Dokument WZ", "Delivery note"),
        "P_6" => ("Data dostawy lub wykonania usługi", "Date of supply"),
        "OkresFa" => ("Okres", "Period"),
        "P_6_Od" => ("Od", "From"),
        "P_6_Do" => ("Do", "To"),
        "KursWalutyZ" => ("Kurs waluty (zaliczka)", "Exchange rate (advance)"),
        "RodzajFaktury" => ("Rodzaj faktury", "Invoice type"),
        "PrzyczynaKorekty" => ("Przyczyna korekty", "Reason for correction"),
        "TypKorekty" => ("Typ korekty", "Correction type"),
        "DaneFaKorygowanej" => ("Faktura korygowana", "Corrected invoice"),
        "DataWystFaKorygowanej" => (
            "Data wystawienia faktury korygowanej",
            "Issue date of the corrected invoice",
        ),
        "NrFaKorygowanej" => (
            "Numer faktury korygowanej",
            "Number of the corrected invoice",
        ),
        "NrKSeF" => ("Wystawiona w KSeF", "Issued in KSeF"),
        "NrKSeFN" => ("Wystawiona poza KSeF", "Issued outside KSeF"),
        "NrKSeFFaKorygowanej" => (
            "Numer KSeF faktury korygowanej",
            "KSeF number of the corrected invoice",
        ),
        "OkresFaKorygowanej" => ("Okres korekty", "Period corrected"),
        "NrFaKorygowany" => ("Poprawny numer faktury", "Correct invoice number"),
        "Podmiot1K" => (
            "Sprzedawca na fakturze korygowanej",
            "Seller on the corrected invoice",
        ),
        "Podmiot2K" => (
            "Nabywca na fakturze korygowanej",
            "Buyer on the corrected invoice",
        ),
        "P_15ZK" => (
            "Kwota zapłaty przed korektą",
            "Amount paid before correction",
        ),
        "KursWalutyZK" => (
            "Kurs waluty przed korektą",
            "Exchange rate before correction",
        ),
        "ZaliczkaCzesciowa" => ("Zaliczka częściowa", "Partial advance"),
        "P_6Z" => ("Data otrzymania zapłaty", "Payment date"),
        "P_15Z" => ("Kwota zapłaty", "Amount paid"),
        "KursWalutyZW" => ("Kurs waluty", "Exchange rate"),
        "FP" => ("Faktura do paragonu", "Invoice for a receipt"),
        "TP" => ("Powiązania między nabywcą a dostawcą", "Related parties"),
        "DodatkowyOpis" => ("Dodatkowy opis", "Additional description"),
        "Klucz" => ("Klucz", "Key"),
        "Wartosc" => ("Wartość", "Value"),
        "FakturaZaliczkowa" => ("Faktura zaliczkowa", "Advance invoice"),
        "NrKSeFZN" => ("Wystawiona poza KSeF", "Issued outside KSeF"),
        "NrFaZaliczkowej" => ("Numer faktury zaliczkowej", "Advance invoice number"),
        "NrKSeFFaZaliczkowej" => (
            "Numer KSeF faktury zaliczkowej",
            "KSeF number of the advance invoice",
        ),
        "ZwrotAkcyzy" => ("Zwrot akcyzy", "Excise refund"),
        "P_15" => ("Kwota należności ogółem", "Total amount due"),
        "KursWaluty" => ("Kurs waluty", "Exchange rate"),
        // Lines.
        "NrWierszaFa" => ("Lp.", "No."),
        "UU_ID" => ("Identyfikator pozycji", "Line id"),
        "P_7" => ("Nazwa towaru lub usługi", "Goods or service"),
        "Indeks" => ("Indeks", "Index"),
        "GTIN" => ("GTIN", "GTIN"),
        "PKWiU" => ("PKWiU", "PKWiU"),
        "CN" => ("CN", "CN"),
        "PKOB" => ("PKOB", "PKOB"),
        "P_8A" => ("Miara", "Unit"),
        "P_8B" => ("Ilość", "Quantity"),
        "P_9A" => ("Cena netto", "Net unit price"),
        "P_9B" => ("Cena brutto", "Gross unit price"),
        "P_10" => ("Rabat", "Discount"),
        "P_11" => ("Wartość netto", "Net value"),
        "P_11A" => ("Wartość brutto", "Gross value"),
        "P_11Vat" => ("Kwota VAT", "VAT amount"),
        "P_12" => ("Stawka VAT", "VAT rate"),
        "P_12_XII" => ("Stawka OSS", "OSS rate"),
        "P_12_Zal_15" => ("Zał. 15", "Annex 15"),
        "KwotaAkcyzy" => ("Akcyza", "Excise"),
        "GTU" => ("GTU", "GTU"),
        "Procedura" => ("Procedura", "Procedure"),
        "KursWalutyW" => ("Kurs waluty", "Exchange rate"),
        "StanPrzed" => ("Stan przed", "Before"),
        // FA_RR lines and totals.
        "P_4A" => ("Data nabycia", "Purchase date"),
        "P_4AA" => ("Okres nabycia", "Purchase period"),
        "P_4B" => ("Data wystawienia", "Issue date"),
        "P_4C" => ("Numer faktury", "Invoice number"),
        "P_5" => ("Nazwa produktu rolnego", "Agricultural product"),
        "P_6A" => ("Miara", "Unit"),
        "P_6B" => ("Ilość", "Quantity"),
        "P_6C" => ("Klasa lub jakość", "Class or quality"),
        "rr_P_7" => ("Cena jednostkowa", "Unit price"),
        "rr_P_8" => ("Wartość bez podatku", "Value without tax"),
        "rr_P_9" => ("Stawka zryczałtowanego podatku", "Flat-rate tax rate"),
        "rr_P_10" => ("Kwota podatku", "Tax amount"),
        "rr_P_11" => ("Wartość z podatkiem", "Value with tax"),
        "P_11_1" => ("Wartość bez podatku", "Value without tax"),
        "P_11_1W" => ("Wartość bez podatku w PLN", "Value without tax in PLN"),
        "P_11_2" => ("Kwota zryczałtowanego podatku", "Flat-rate tax"),
        "P_11_2W" => ("Kwota podatku w PLN", "Tax in PLN"),
        "P_12_1" => ("Wartość z podatkiem", "Value with tax"),
        "P_12_1W" => ("Wartość z podatkiem w PLN", "Value with tax in PLN"),
        "P_12_2" => ("Słownie", "In words"),
        "DokumentZaplaty" => ("Dokument zapłaty", "Payment document"),
        "NrDokumentu" => ("Numer dokumentu", "Document number"),
        "DataDokumentu" => ("Data dokumentu", "Document date"),
        // Adnotacje.
        "P_16" => ("Metoda kasowa", "Cash accounting"),
        "P_17" => ("Samofakturowanie", "Self-billing"),
        "P_18" => ("Odwrotne obciążenie", "Reverse charge"),
        "P_18A" => ("Mechanizm podzielonej płatności", "Split payment"),
        "P_19" => ("Zwolnienie z podatku", "VAT exemption"),
        "P_19A" => ("Podstawa zwolnienia (ustawa)", "Exemption basis (act)"),
        "P_19B" => (
            "Podstawa zwolnienia (dyrektywa)",
            "Exemption basis (directive)",
        ),
        "P_19C" => ("Podstawa zwolnienia (inna)", "Exemption basis (other)"),
        "P_22" => (
            "Wewnątrzwspólnotowa dostawa nowych środków transportu",
            "Intra-EU supply of new means of transport",
        ),
        "P_23" => (
            "Procedura uproszczona (trójstronna)",
            "Simplified triangular procedure",
        ),
        "P_PMarzy" => ("Procedura marży", "Margin scheme"),
        "P_PMarzy_2" => ("Marża: biura podróży", "Margin: travel agencies"),
        "P_PMarzy_3_1" => ("Marża: towary używane", "Margin: second-hand goods"),
        "P_PMarzy_3_2" => ("Marża: dzieła sztuki", "Margin: works of art"),
        "P_PMarzy_3_3" => (
            "Marża: przedmioty kolekcjonerskie i antyki",
            "Margin: collectors' items and antiques",
        ),
        // Rozliczenie.
        "Rozliczenie" => ("Rozliczenie", "Settlement"),
        "Obciazenia" => ("Obciążenie", "Charge"),
        "Odliczenia" => ("Odliczenie", "Deduction"),
        "Kwota" => ("Kwota", "Amount"),
        "Powod" => ("Powód", "Reason"),
        "SumaObciazen" => ("Suma obciążeń", "Total charges"),
        "SumaOdliczen" => ("Suma odliczeń", "Total deductions"),
        "DoZaplaty" => ("Do zapłaty", "To pay"),
        "DoRozliczenia" => ("Do rozliczenia", "To settle"),
        // Platnosc.
        "Platnosc" => ("Płatność", "Payment"),
        "Zaplacono" => ("Zapłacono", "Paid"),
        "DataZaplaty" => ("Data zapłaty", "Payment date"),
        "ZnacznikZaplatyCzesciowej" => ("Zapłata częściowa", "Partial payment"),
        "ZaplataCzesciowa" => ("Zapłata częściowa", "Partial payment"),
        "KwotaZaplatyCzesciowej" => ("Kwota", "Amount"),
        "DataZaplatyCzesciowej" => ("Data", "Date"),
        "TerminPlatnosci" => ("Termin płatności", "Payment due"),
        "Termin" => ("Termin", "Due date"),
        "TerminOpis" => ("Opis terminu", "Due date description"),
        "Ilosc" => ("Ilość", "Quantity"),
        "Jednostka" => ("Jednostka", "Unit"),
        "ZdarzeniePoczatkowe" => ("Zdarzenie początkowe", "Starting event"),
        "FormaPlatnosci" => ("Forma płatności", "Payment method"),
        "PlatnoscInna" => ("Inna forma płatności", "Other payment method"),
        "OpisPlatnosci" => ("Opis płatności", "Payment description"),
        "RachunekBankowy" => ("Rachunek bankowy", "Bank account"),
        "RachunekBankowy1" => ("Rachunek bankowy", "Bank account"),
        "RachunekBankowy2" => ("Rachunek bankowy", "Bank account"),
        "RachunekBankowyFaktora" => ("Rachunek bankowy faktora", "Factor's bank account"),
        "NrRB" => ("Numer rachunku", "Account number"),
        "SWIFT" => ("SWIFT", "SWIFT"),
        "RachunekWlasnyBanku" => ("Rachunek własny banku", "Bank's own account"),
        "NazwaBanku" => ("Bank", "Bank"),
        "OpisRachunku" => ("Opis rachunku", "Account description"),
        "Skonto" => ("Skonto", "Cash discount"),
        "WarunkiSkonta" => ("Warunki skonta", "Discount terms"),
        "WysokoscSkonta" => ("Wysokość skonta", "Discount amount"),
        "LinkDoPlatnosci" => ("Link do płatności", "Payment link"),
        "IPKSeF" => ("Identyfikator płatności KSeF", "KSeF payment id"),
        // WarunkiTransakcji.
        "WarunkiTransakcji" => ("Warunki transakcji", "Terms of the transaction"),
        "Umowy" => ("Umowa", "Contract"),
        "DataUmowy" => ("Data umowy", "Contract date"),
        "NrUmowy" => ("Numer umowy", "Contract number"),
        "Zamowienia" => ("Zamówienie", "Order"),
        "DataZamowienia" => ("Data zamówienia", "Order date"),
        "NrZamowienia" => ("Numer zamówienia", "Order number"),
        "NrPartiiTowaru" => ("Numer partii", "Batch number"),
        "WarunkiDostawy" => ("Warunki dostawy", "Delivery terms"),
        "KursUmowny" => ("Kurs umowny", "Contractual rate"),
        "WalutaUmowna" => ("Waluta umowna", "Contractual currency"),
        "Transport" => ("Transport", "Transport"),
        "RodzajTransportu" => ("Rodzaj transportu", "Mode of transport"),
        "TransportInny" => ("Inny transport", "Other transport"),
        "OpisInnegoTransportu" => ("Opis transportu", "Transport description"),
        "Przewoznik" => ("Przewoźnik", "Carrier"),
        "DaneIdentyfikacyjne" => ("Dane identyfikacyjne", "Identification"),
        "AdresPrzewoznika" => ("Adres przewoźnika", "Carrier address"),
        "NrZleceniaTransportu" => ("Numer zlecenia transportu", "Transport order number"),
        "OpisLadunku" => ("Opis ładunku", "Cargo description"),
        "LadunekInny" => ("Inny ładunek", "Other cargo"),
        "OpisInnegoLadunku" => ("Opis ładunku", "Cargo description"),
        "JednostkaOpakowania" => ("Jednostka opakowania", "Packaging unit"),
        "DataGodzRozpTransportu" => ("Rozpoczęcie transportu", "Transport start"),
        "DataGodzZakTransportu" => ("Zakończenie transportu", "Transport end"),
        "WysylkaZ" => ("Wysyłka z", "Shipped from"),
        "WysylkaPrzez" => ("Wysyłka przez", "Shipped via"),
        "WysylkaDo" => ("Wysyłka do", "Shipped to"),
        "PodmiotPosredniczacy" => ("Podmiot pośredniczący", "Intermediary"),
        // Zamowienie.
        "Zamowienie" => ("Zamówienie", "Order"),
        "WartoscZamowienia" => ("Wartość zamówienia", "Order value"),
        "NrWierszaZam" => ("Lp.", "No."),
        "P_7Z" => ("Nazwa", "Name"),
        "P_8AZ" => ("Miara", "Unit"),
        "P_8BZ" => ("Ilość", "Quantity"),
        "P_9AZ" => ("Cena netto", "Net price"),
        "P_11NettoZ" => ("Wartość netto", "Net value"),
        "P_11VatZ" => ("Kwota VAT", "VAT amount"),
        "P_12Z" => ("Stawka", "Rate"),
        // Stopka.
        "Stopka" => ("Stopka", "Footer"),
        "Informacje" => ("Informacje", "Information"),
        "StopkaFaktury" => ("Stopka faktury", "Invoice footer"),
        "Rejestry" => ("Rejestry", "Registers"),
        "PelnaNazwa" => ("Pełna nazwa", "Full name"),
        "KRS" => ("KRS", "KRS"),
        "REGON" => ("REGON", "REGON"),
        "BDO" => ("BDO", "BDO"),
        // Zalacznik.
        "Zalacznik" => ("Załącznik", "Attachment"),
        "BlokDanych" => ("Blok danych", "Data block"),
        "ZNaglowek" => ("Nagłówek", "Heading"),
        "MetaDane" => ("Metadane", "Metadata"),
        "ZKlucz" => ("Klucz", "Key"),
        "ZWartosc" => ("Wartość", "Value"),
        "Tekst" => ("Tekst", "Text"),
        "Akapit" => ("Akapit", "Paragraph"),
        "Tabela" => ("Tabela", "Table"),
        "Opis" => ("Opis", "Description"),
        "Suma" => ("Suma", "Total"),
        // UPO.
        "NazwaPodmiotuPrzyjmujacego" => ("Podmiot przyjmujący", "Receiving entity"),
        "NumerReferencyjnySesji" => ("Numer referencyjny sesji", "Session reference number"),
        "OpisPotwierdzenia" => ("Opis potwierdzenia", "Receipt description"),
        "Strona" => ("Strona", "Page"),
        "LiczbaStron" => ("Liczba stron", "Number of pages"),
        "ZakresDokumentowOd" => ("Dokumenty od", "Documents from"),
        "ZakresDokumentowDo" => ("Dokumenty do", "Documents to"),
        "CalkowitaLiczbaDokumentow" => ("Liczba dokumentów", "Number of documents"),
        "Uwierzytelnienie" => ("Uwierzytelnienie", "Authentication"),
        "IdKontekstu" => ("Kontekst", "Context"),
        "Nip" => ("NIP", "NIP"),
        "IdWewnetrzny" => ("Identyfikator wewnętrzny", "Internal id"),
        "IdZlozonyVatUE" => ("Identyfikator złożony VAT UE", "Composite EU VAT id"),
        "SkrotZlozonejStruktury" => (
            "Skrót złożonej struktury",
            "Hash of the submitted structure",
        ),
        "NumerKSeFDokumentu" => ("Numer KSeF", "KSeF number"),
        "NumerFaktury" => ("Numer faktury", "Invoice number"),
        "NipSprzedawcy" => ("NIP sprzedawcy", "Seller NIP"),
        "DataWystawieniaFaktury" => ("Data wystawienia", "Issue date"),
        "DataPrzeslaniaDokumentu" => ("Data przesłania", "Sent"),
        "DataNadaniaNumeruKSeF" => ("Data nadania numeru KSeF", "KSeF number assigned"),
        "SkrotDokumentu" => ("Skrót dokumentu (SHA-256)", "Document hash (SHA-256)"),
        "TrybWysylki" => ("Tryb wysyłki", "Sending mode"),
        "NazwaStrukturyLogicznej" => ("Struktura logiczna", "Logical structure"),
        "KodFormularza" => ("Kod formularza", "Form code"),
        "Dokument" => ("Dokument", "Document"),
        "NumerReferencyjnyTokena" => ("Numer referencyjny tokena", "Token reference number"),
        "SkrotDokumentuUwierzytelniajacego" => (
            "Skrót dokumentu uwierzytelniającego",
            "Authentication document hash",
        ),
        "IdPodatnikaUe" => ("Identyfikator UE", "EU id"),
        "IdOsoby" => ("Identyfikator osoby", "Person id"),
        "SystemInfo" => ("System", "System"),
        "DataWytworzeniaFa" => ("Data wytworzenia", "Created"),
        _ => return None,
    })
}

/// Invoice type (`RodzajFaktury`) in words.
pub(crate) fn invoice_kind(lang: Language, code: &str) -> String {
    let (pl, en) = match code {
        "VAT" => ("Faktura VAT", "VAT invoice"),
        "KOR" => ("Faktura korygująca", "Corrective invoice"),
        "ZAL" => ("Faktura zaliczkowa", "Advance invoice"),
        "KOR_ZAL" => (
            "Faktura korygująca fakturę zaliczkową",
            "Correction of an advance invoice",
        ),
        "ROZ" => ("Faktura rozliczeniowa", "Settlement invoice"),
        "KOR_ROZ" => (
            "Faktura korygująca fakturę rozliczeniową",
            "Correction of a settlement invoice",
        ),
        "UPR" => ("Faktura uproszczona", "Simplified invoice"),
        "VAT_RR" => ("Faktura VAT RR", "VAT RR invoice"),
        "KOR_VAT_RR" => ("Faktura korygująca VAT RR", "VAT RR corrective invoice"),
        _ => return code.to_owned(),
    };
    match lang {
        Language::Polish => pl.to_owned(),
        Language::English => en.to_owned(),
    }
}

/// Payment method (`FormaPlatnosci`) in words.
pub(crate) fn payment_form(lang: Language, code: &str) -> String {
    let (pl, en) = match code {
        "1" => ("gotówka", "cash"),
        "2" => ("karta", "card"),
        "3" => ("bon", "voucher"),
        "4" => ("czek", "cheque"),
        "5" => ("kredyt", "credit"),
        "6" => ("przelew", "bank transfer"),
        "7" => ("mobilna", "mobile"),
        _ => return code.to_owned(),
    };
    let word = match lang {
        Language::Polish => pl,
        Language::English => en,
    };
    format!("{word} ({code})")
}

/// Correction type (`TypKorekty`) in words.
pub(crate) fn correction_type(lang: Language, code: &str) -> String {
    let (pl, en) = match code {
        "1" => (
            "skutek w dacie faktury pierwotnej",
            "effective at the original invoice's date",
        ),
        "2" => (
            "skutek w dacie korekty",
            "effective at the correction's date",
        ),
        "3" => ("skutek w innej dacie", "effective at another date"),
        _ => return code.to_owned(),
    };
    let word = match lang {
        Language::Polish => pl,
        Language::English => en,
    };
    format!("{word} ({code})")
}
