//! The visualizations checked with independent tools: pdftotext finds every value of the XML
//! (read here with roxmltree, not the renderer's parser), the QR codes decode (rqrr over
//! pdftoppm's raster) to exactly ksef-crypto's links, pdffonts shows the font embedded, qpdf
//! finds no error, and the same input gives the same bytes.

mod common;
#[path = "shared/many_lines.rs"]
#[allow(dead_code, reason = "only the invoice maker is used here")]
mod many_lines;

use chrono::NaiveDate;
use common::*;
use ksef_crypto::{QrContextType, QrEnvironment, file_metadata, invoice_link};
use ksef_model::invoice_builder::{Line, VatRate};
use ksef_pdf::{
    CertificateKey, Error, Language, OfflineQr, Options, render_invoice, render_invoice_full,
    render_invoice_to, render_upo,
};

/// The Offline certificate's key of the offline test (P-256, made with openssl for this test).
const OFFLINE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6PwLet4OiXsNzE/W
sRslkrR9F4gcS+fyuUKYsk9eqa2hRANCAAQ7OCe3deNwuEhzzqT5Rm9kGFjqik+a
9Q/+hoPGiGUgDPAl9b7uAWY7CDEqd8Djjki8SgbRZz70+bSdR/PEjSpC
-----END PRIVATE KEY-----
";

/// Templates of the Ministry that break their own schema, with the validator's findings: they
/// are rendered with `force` (and the findings checked).
const KNOWN_INVALID: &[(&str, &[&str])] = &[(
    // The second Podmiot3 has both NIP and IDWew, alternatives of one choice.
    "invoice-template-fa-3-with-multiple-Subject3.xml",
    &[
        "Faktura/Podmiot3[1]/DaneIdentyfikacyjne/IDWew",
        "Faktura/Podmiot3[2]/DaneIdentyfikacyjne/IDWew",
    ],
)];

/// Options for the document `name`: `force` for the known-invalid templates.
fn options_for(name: &str) -> Options {
    Options::default().with_force(KNOWN_INVALID.iter().any(|(n, _)| *n == name))
}

const KSEF_NUMBER: &str = "5265877635-20250916-0200A0D6723E-C2";

/// The FA/FA_RR templates (the PEF ones are UBL, a different family: refused, see below).
fn invoice_templates() -> Vec<(String, Vec<u8>)> {
    templates()
        .into_iter()
        .filter(|(name, _)| !name.contains("-pef"))
        .collect()
}

/// Invoices from the FA(3) builder: VAT at three rates, a correction, an advance.
fn builder_invoices() -> Vec<(String, Vec<u8>)> {
    use ksef_model::invoice_builder::{
        Address, AdvanceInvoice, Buyer, BuyerId, CorrectedInvoice, CorrectionInvoice,
        InvoiceHeader, Line, Seller, VatInvoice, VatRate,
    };
    use ksef_model::xml::fa3::{TKodKrajuType, TKodWalutyType};
    let header = |number: &str| {
        let seller = Seller::new(
            "5265877635".parse().unwrap(),
            "Zakład Usług Łączności „Żuraw” Sp. z o.o.",
            Address::new(TKodKrajuType::Pl, "ul. Źródlana 5/7").with_line2("00-950 Łódź"),
        );
        let buyer = Buyer::new(
            BuyerId::Nip("7740001454".parse().unwrap()),
            "Przedsiębiorstwo Handlowe Ęcki i Śródka",
        )
        .with_address(
            Address::new(TKodKrajuType::Pl, "ul. Ćmielowska 12").with_line2("27-440 Ćmielów"),
        );
        InvoiceHeader::new(
            seller,
            buyer,
            number,
            NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
            TKodWalutyType::Pln,
        )
        .with_place("Gdańsk")
        .with_split_payment()
    };
    let line = |name: &str, qty: &str, price: &str, rate| {
        Line::new(name, qty.parse().unwrap(), price.parse().unwrap(), rate).with_unit("szt.")
    };
    let vat = VatInvoice::new(header("FV/2026/01/0001"))
        .line(line(
            "Energia czynna — taryfa G11",
            "1250.5",
            "0.9137",
            VatRate::Rate23,
        ))
        .line(line("Usługa dystrybucji", "1", "25.60", VatRate::Rate8))
        .line(line(
            "Książka „Zażółć gęślą jaźń”",
            "3",
            "39.99",
            VatRate::Rate5,
        ));
    let correction = CorrectionInvoice::new(
        header("FK/2026/01/0001"),
        CorrectedInvoice::outside_ksef(
            NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
            "FV/2026/01/0000",
        ),
        "Błędna cena jednostkowa",
    )
    .change(
        line("Usługa serwisowa", "2", "150.00", VatRate::Rate23),
        line("Usługa serwisowa", "2", "120.00", VatRate::Rate23),
    );
    let advance =
        AdvanceInvoice::new(header("FZ/2026/01/0001"), "1230.00".parse().unwrap()).order_line(
            line("Dostawa mebli biurowych", "10", "500.00", VatRate::Rate23),
        );
    vec![
        ("builder-vat".into(), vat.to_xml().unwrap()),
        ("builder-correction".into(), correction.to_xml().unwrap()),
        ("builder-advance".into(), advance.to_xml().unwrap()),
    ]
}

fn all_invoices() -> Vec<(String, Vec<u8>)> {
    let mut all = invoice_templates();
    all.extend(builder_invoices());
    all
}

/// Elements whose codes the visualization prints in words (checked separately) or which it
/// leaves out (the technical header).
fn shown_in_words(name: &str) -> bool {
    matches!(
        name,
        "RodzajFaktury" | "FormaPlatnosci" | "TypKorekty" | "JST" | "GV"
    )
}

/// Every simple value of the document (outside Naglowek), with its path.
fn leaf_values(xml: &[u8]) -> Vec<(String, String, String)> {
    let text = std::str::from_utf8(xml).unwrap();
    let doc = roxmltree::Document::parse(text).unwrap();
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        if node.children().any(|c| c.is_element()) {
            continue;
        }
        let path: Vec<&str> = node
            .ancestors()
            .filter(|a| a.is_element())
            .map(|a| a.tag_name().name())
            .collect();
        if path.contains(&"Naglowek") {
            continue;
        }
        let value = node
            .text()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if value.is_empty() {
            continue;
        }
        let path: Vec<&str> = path.into_iter().rev().collect();
        out.push((path.join("/"), node.tag_name().name().to_owned(), value));
    }
    out
}

/// Ways a value may be printed: as written, Polish decimal, Polish money, Polish date.
fn candidates(value: &str) -> Vec<String> {
    let mut out = vec![squash(value), squash(&pl_number(value))];
    if value
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        out.push(pl_money(value));
    }
    let b = value.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let rest = value[10..].strip_prefix('T').unwrap_or(&value[10..]);
        out.push(squash(&format!("{}{rest}", pl_date(value))));
    }
    out
}

fn assert_all_values_shown(name: &str, xml: &[u8], text: &str) -> usize {
    let squashed = squash(text);
    let mut checked = 0;
    for (path, element, value) in leaf_values(xml) {
        if shown_in_words(&element) {
            continue;
        }
        let found = candidates(&value)
            .iter()
            .any(|c| squashed.contains(c.as_str()));
        assert!(found, "{name}: {path} = {value:?} is not in the PDF text");
        checked += 1;
    }
    checked
}

#[test]
fn every_template_and_builder_invoice_shows_every_value() {
    let tools = Tools::open("render");
    let mut documents = 0;
    let mut values = 0;
    for (name, xml) in all_invoices() {
        let options = options_for(&name).with_ksef_number(KSEF_NUMBER);
        let rendered =
            render_invoice_full(&xml, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: Vec<&str> = KNOWN_INVALID
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, paths)| paths.to_vec())
            .unwrap_or_default();
        let paths: Vec<&str> = rendered
            .violations
            .iter()
            .map(|v| v.split(':').next().unwrap())
            .collect();
        assert_eq!(paths, expected, "{name}: validation findings");
        // Without force, a known-invalid template is refused with the validator's message.
        if !expected.is_empty() {
            let err = render_invoice(&xml, &Options::default()).unwrap_err();
            assert!(
                matches!(err, Error::Invalid { .. }) && err.to_string().contains(expected[0]),
                "{name}: {err}"
            );
        }
        let pdf = rendered.pdf;
        let text = tools.pdftotext(&pdf);
        values += assert_all_values_shown(&name, &xml, &text);
        let squashed = squash(&text);
        // The KSeF number, the invoice type in words and the form code.
        assert!(squashed.contains(KSEF_NUMBER), "{name}: KSeF number");
        let doc_text = String::from_utf8(xml.clone()).unwrap();
        let doc = roxmltree::Document::parse(&doc_text).unwrap();
        let kind = doc
            .descendants()
            .find(|n| n.has_tag_name("RodzajFaktury"))
            .and_then(|n| n.text())
            .unwrap();
        let words = match kind {
            "VAT" => "Faktura VAT",
            "KOR" => "Faktura korygująca",
            "ZAL" => "Faktura zaliczkowa",
            "ROZ" => "Faktura rozliczeniowa",
            "UPR" => "Faktura uproszczona",
            "VAT_RR" => "Faktura VAT RR",
            other => panic!("{name}: add the words for {other}"),
        };
        assert!(text.contains(words), "{name}: invoice type {kind} in words");
        // Polish letters come out as text (ToUnicode), not as boxes.
        // (One Ministry template carries a U+FFFD of its own.)
        assert_eq!(
            text.matches('\u{fffd}').count(),
            doc_text.matches('\u{fffd}').count(),
            "{name}: replacement characters in the text"
        );
        documents += 1;
    }
    assert!(documents >= 11, "only {documents} invoices checked");
    eprintln!("{documents} invoices, {values} values found in the PDF text");
}

#[test]
fn adnotacje_marks_in_words_and_bank_accounts() {
    let tools = Tools::open("render");
    for (name, xml) in all_invoices() {
        let text = std::str::from_utf8(&xml).unwrap();
        let doc = roxmltree::Document::parse(text).unwrap();
        let pdf = render_invoice(&xml, &options_for(&name)).unwrap();
        let out = tools.pdftotext(&pdf);
        let squashed = squash(&out);
        let flag = |tag: &str| {
            doc.descendants()
                .any(|n| n.has_tag_name(tag) && n.text() == Some("1"))
        };
        for (tag, words) in [
            ("P_16", "Metoda kasowa"),
            ("P_17", "Samofakturowanie"),
            ("P_18", "Odwrotne obciążenie"),
            ("P_18A", "Mechanizm podzielonej płatności"),
            ("P_19", "Zwolnienie z podatku"),
            ("P_23", "Procedura uproszczona"),
            ("P_PMarzy", "Procedura marży"),
        ] {
            assert_eq!(
                squashed.contains(&squash(words)),
                flag(tag),
                "{name}: {tag} set = {} but the words {words:?} shown = {}",
                flag(tag),
                !flag(tag)
            );
        }
        for nrb in doc.descendants().filter(|n| n.has_tag_name("NrRB")) {
            assert!(
                squashed.contains(nrb.text().unwrap()),
                "{name}: bank account"
            );
        }
    }
}

#[test]
fn kod_i_decodes_to_ksef_cryptos_link() {
    let tools = Tools::open("render");
    for (name, xml) in all_invoices() {
        let text = std::str::from_utf8(&xml).unwrap();
        let doc = roxmltree::Document::parse(text).unwrap();
        let seller = doc
            .descendants()
            .find(|n| n.has_tag_name("Podmiot1"))
            .and_then(|p| p.descendants().find(|n| n.has_tag_name("NIP")))
            .and_then(|n| n.text())
            .unwrap();
        let issued = doc
            .descendants()
            .find(|n| n.has_tag_name("P_1") || n.has_tag_name("P_4B"))
            .and_then(|n| n.text())
            .unwrap();
        let issued = NaiveDate::parse_from_str(issued, "%Y-%m-%d").unwrap();
        let expected =
            invoice_link(QrEnvironment::Test, seller, issued, &file_metadata(&xml)).unwrap();
        let options = options_for(&name)
            .with_environment(QrEnvironment::Test)
            .with_ksef_number(KSEF_NUMBER);
        let rendered = render_invoice_full(&xml, &options).unwrap();
        assert_eq!(rendered.kod_i.as_deref(), Some(expected.as_str()), "{name}");
        let pages = tools.page_count(&rendered.pdf);
        assert_eq!(pages, rendered.pages, "{name}: page count");
        let codes = tools.qr_codes(&rendered.pdf, pages, 200);
        assert_eq!(
            codes,
            vec![expected.clone()],
            "{name}: the QR codes on the last page"
        );
        // The caption under KOD I is the KSeF number.
        let last = tools.pages_text(&rendered.pdf).pop().unwrap();
        assert!(last.contains(KSEF_NUMBER), "{name}: caption");
    }
}

#[test]
fn offline_invoice_has_kod_i_offline_and_a_verifiable_kod_ii() {
    let tools = Tools::open("render");
    let (name, xml) = builder_invoices().remove(0);
    // A fixed EC key: ECDSA here is deterministic (RFC 6979), so the PDF is too.
    let key = CertificateKey::from_pkcs8_pem(OFFLINE_KEY).unwrap();
    let serial = "01F20A5D352AE590";
    let options = Options::default()
        .with_environment(QrEnvironment::Test)
        .with_offline(OfflineQr::Sign {
            key: key.clone(),
            serial: serial.into(),
            context_type: QrContextType::Nip,
            context_value: "5265877635".into(),
        });
    let rendered = render_invoice_full(&xml, &options).unwrap();
    assert_eq!(
        rendered.pdf,
        render_invoice(&xml, &options).unwrap(),
        "EC KOD II is deterministic"
    );
    let pages = tools.page_count(&rendered.pdf);
    let codes = tools.qr_codes(&rendered.pdf, pages, 200);
    assert_eq!(codes.len(), 2, "{name}: two QR codes");
    let kod_i = invoice_link(
        QrEnvironment::Test,
        "5265877635",
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        &file_metadata(&xml),
    )
    .unwrap();
    assert!(codes.contains(&kod_i), "KOD I: {codes:?}");
    let signed = ksef_crypto::certificate_link_signed_text(
        QrEnvironment::Test,
        QrContextType::Nip,
        "5265877635",
        "5265877635",
        serial,
        &file_metadata(&xml),
    )
    .unwrap();
    let kod_ii = codes.iter().find(|c| **c != kod_i).unwrap();
    assert_eq!(Some(kod_ii), rendered.kod_ii.as_ref());
    let signature = kod_ii
        .strip_prefix(&format!("https://{signed}/"))
        .unwrap_or_else(|| panic!("KOD II {kod_ii} does not sign {signed}"));
    // Verify the ECDSA P-256 signature with ring (not our RustCrypto path).
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    let spki = key.public_key_der().unwrap();
    let point = &spki[spki.len() - 65..];
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(signed.as_bytes(), &signature)
        .expect("KOD II signature verifies");
    let text = tools.pages_text(&rendered.pdf).pop().unwrap();
    assert!(text.contains("OFFLINE"), "KOD I caption");
    assert!(text.contains("CERTYFIKAT"), "KOD II caption");
}

#[test]
fn fonts_are_embedded_and_qpdf_finds_no_error() {
    let tools = Tools::open("render");
    for (name, xml) in all_invoices() {
        let pdf = render_invoice(&xml, &options_for(&name)).unwrap();
        tools.qpdf_check(&pdf);
        let fonts = tools.pdffonts(&pdf);
        assert!(
            fonts.iter().any(|f| f.contains("DejaVuSansCondensed")),
            "{name}: {fonts:?}"
        );
        assert!(
            pdf.windows(7).all(|w| w != b"/Times-") && pdf.windows(10).all(|w| w != b"/Helvetica"),
            "{name}: a base-14 font is referenced"
        );
    }
    for (name, xml) in upos() {
        let pdf = render_upo(&xml, &Options::default()).unwrap();
        tools.qpdf_check(&pdf);
        let fonts = tools.pdffonts(&pdf);
        assert!(!fonts.is_empty(), "{name}: no font");
    }
}

#[test]
fn same_input_same_bytes() {
    for (name, xml) in all_invoices() {
        let options = options_for(&name).with_ksef_number(KSEF_NUMBER);
        let a = render_invoice(&xml, &options).unwrap();
        let b = render_invoice(&xml, &options).unwrap();
        assert!(a == b, "{name}: two renderings differ");
        let mut c = Vec::new();
        render_invoice_to(&xml, &options, &mut c).unwrap();
        assert!(a == c, "{name}: the Write form differs");
        assert!(
            !a.windows(12).any(|w| w == b"CreationDate"),
            "{name}: a date is written"
        );
    }
    // An offline invoice with a ready KOD II link is deterministic too.
    let (_, xml) = builder_invoices().remove(0);
    let options = Options::default().with_offline(OfflineQr::Link(
        "https://qr-test.ksef.mf.gov.pl/certificate/Nip/5265877635/5265877635/01F2/abc/def".into(),
    ));
    assert_eq!(
        render_invoice(&xml, &options).unwrap(),
        render_invoice(&xml, &options).unwrap()
    );
}

#[test]
fn line_table_header_repeats_on_every_page_it_spans() {
    let tools = Tools::open("render");
    let (_, xml) = invoice_templates()
        .into_iter()
        .find(|(n, _)| n == "sample-invoice-fa3-full.xml")
        .unwrap();
    let pdf = render_invoice(&xml, &Options::default()).unwrap();
    let pages = tools.pages_text(&pdf);
    let first = pages.iter().position(|p| p.contains("Pozycje")).unwrap();
    let last = pages
        .iter()
        .position(|p| p.contains("Podsumowanie stawek podatku"))
        .unwrap();
    assert!(
        last > first,
        "the full sample's lines span pages ({first}..{last})"
    );
    for (i, page) in pages.iter().enumerate().take(last + 1).skip(first) {
        assert!(
            squash(page).contains(&squash("Nazwa towaru lub usługi")),
            "page {} lacks the table header",
            i + 1
        );
    }
}

#[test]
fn english_labels() {
    let tools = Tools::open("render");
    let (_, xml) = builder_invoices().remove(0);
    let pdf = render_invoice(&xml, &Options::default().with_language(Language::English)).unwrap();
    let text = tools.pdftotext(&pdf);
    for label in [
        "Seller",
        "Buyer",
        "VAT rate summary",
        "Total amount due",
        "Split payment",
    ] {
        assert!(text.contains(label), "{label:?} missing");
    }
    assert!(!text.contains("Sprzedawca"));
}

#[test]
fn every_upo_example_shows_every_document() {
    let tools = Tools::open("render");
    let mut documents = 0;
    for (name, xml) in upos() {
        let pdf = render_upo(&xml, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = tools.pdftotext(&pdf);
        let squashed = squash(&text);
        for (path, _, value) in leaf_values(&xml) {
            let found = candidates(&value)
                .iter()
                .any(|c| squashed.contains(c.as_str()));
            assert!(found, "{name}: {path} = {value:?} is not in the PDF text");
        }
        let doc_text = String::from_utf8(xml.clone()).unwrap();
        let doc = roxmltree::Document::parse(&doc_text).unwrap();
        let n = doc
            .descendants()
            .filter(|n| n.has_tag_name("Dokument"))
            .count();
        assert!(text.contains(&format!("Dokumenty ({n})")), "{name}");
        documents += 1;
    }
    assert!(documents >= 7, "{documents} UPO examples");
}

#[test]
fn bad_input_is_refused_with_a_typed_error() {
    assert!(matches!(
        render_invoice(b"", &Options::default()),
        Err(Error::Xml(_) | Error::UnknownSchema(_))
    ));
    assert!(matches!(
        render_invoice(b"not xml at all", &Options::default()),
        Err(Error::Xml(_) | Error::UnknownSchema(_))
    ));
    let err = render_invoice(b"<Faktura xmlns=\"urn:other\"/>", &Options::default()).unwrap_err();
    assert!(matches!(err, Error::UnknownSchema(_)), "{err}");
    // The PEF (UBL) templates are not FA invoices.
    for (name, xml) in templates().into_iter().filter(|(n, _)| n.contains("-pef")) {
        let err = render_invoice(&xml, &Options::default()).unwrap_err();
        assert!(matches!(err, Error::UnknownSchema(_)), "{name}: {err}");
    }
    // A UPO is not an invoice, an invoice is not a UPO.
    let (_, upo) = upos().remove(0);
    assert!(render_invoice(&upo, &Options::default()).is_err());
    let (_, invoice) = builder_invoices().remove(0);
    assert!(matches!(
        render_upo(&invoice, &Options::default()),
        Err(Error::NotUpo(_))
    ));
    // Truncated anywhere: an error, never a panic or an empty PDF.
    for cut in (0..invoice.len()).step_by(97) {
        if let Ok(pdf) = render_invoice(&invoice[..cut], &Options::default()) {
            panic!("cut at {cut}: rendered {} bytes", pdf.len());
        }
        assert!(render_upo(&upo[..cut.min(upo.len() - 1)], &Options::default()).is_err());
    }
}

#[test]
fn invalid_invoice_gives_the_validators_message_and_force_renders_it() {
    let tools = Tools::open("render");
    let (_, xml) = builder_invoices().remove(0);
    let text = String::from_utf8(xml).unwrap();
    let broken = text.replacen("<P_1>2026-01-15</P_1>", "<P_1>15.01.2026</P_1>", 1);
    assert_ne!(broken, text);
    let err = render_invoice(broken.as_bytes(), &Options::default()).unwrap_err();
    match &err {
        Error::Invalid { count, messages } => {
            assert!(*count >= 1);
            assert!(messages.contains("Faktura/Fa/P_1"), "{messages}");
        }
        other => panic!("{other}"),
    }
    // With force: rendered, the findings returned and printed. KOD I needs a valid date, so
    // the QR codes are left out here.
    let options = Options::default().with_force(true).without_qr();
    let rendered = render_invoice_full(broken.as_bytes(), &options).unwrap();
    assert!(!rendered.violations.is_empty());
    let out = tools.pdftotext(&rendered.pdf);
    assert!(out.contains("UWAGA"), "the notice");
    assert!(out.contains("Faktura/Fa/P_1"), "the finding");
    assert!(out.contains("15.01.2026"), "the value as written");
    // Without `without_qr` the broken date is a typed QR error, not a panic.
    let err = render_invoice(broken.as_bytes(), &Options::default().with_force(true)).unwrap_err();
    assert!(matches!(err, Error::Qr(_)), "{err}");

    // The rules beyond the schema that `ksef invoice validate` checks are checked too: a buyer NIP
    // with a wrong check digit matches the schema's pattern but is refused.
    let wrong_nip = text.replacen("7740001454", "7740001455", 1);
    assert_ne!(wrong_nip, text);
    match render_invoice(wrong_nip.as_bytes(), &Options::default()).unwrap_err() {
        Error::Invalid { count, messages } => {
            assert_eq!(count, 1, "{messages}");
            assert!(
                messages.contains("Podmiot2/DaneIdentyfikacyjne/NIP")
                    && messages.contains("\"7740001455\" has a wrong check digit"),
                "{messages}"
            );
        }
        other => panic!("{other}"),
    }
    let forced = render_invoice_full(wrong_nip.as_bytes(), &Options::default().with_force(true));
    assert_eq!(forced.unwrap().violations.len(), 1);
}

#[test]
fn more_than_twenty_findings_are_counted_not_listed() {
    let tools = Tools::open("render");
    let xml = many_lines::many_lines(25, "FV/2026/01/0025", |i| {
        Line::new(
            format!("Pozycja {i}"),
            "1".parse().unwrap(),
            "10.00".parse().unwrap(),
            VatRate::Rate23,
        )
    });
    let text = String::from_utf8(xml).unwrap();
    // Every line's VAT rate outside the schema's list: one finding per line.
    let broken = text.replace("<P_12>23</P_12>", "<P_12>99</P_12>");
    assert_eq!(broken.matches("<P_12>99</P_12>").count(), 25);
    let count = match render_invoice(broken.as_bytes(), &Options::default()).unwrap_err() {
        Error::Invalid { count, messages } => {
            assert!(count >= 25, "{count}: {messages}");
            let lines: Vec<&str> = messages.lines().collect();
            assert_eq!(lines.len(), 21, "{messages}");
            assert_eq!(lines[20], format!("… and {} more", count - 20));
            count
        }
        other => panic!("{other}"),
    };
    let options = Options::default().with_force(true).without_qr();
    let rendered = render_invoice_full(broken.as_bytes(), &options).unwrap();
    assert_eq!(rendered.violations.len(), count);
    let out = tools.pdftotext(&rendered.pdf);
    assert!(
        out.contains(&format!("Pozostałe uwagi: {}", count - 20)),
        "{out}"
    );
    assert_eq!(out.matches("P_12").count(), 20, "{out}");
}
