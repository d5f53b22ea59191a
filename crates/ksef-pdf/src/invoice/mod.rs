//! The invoice visualization: FA(3), FA(2) (same structure, fewer elements) and FA_RR(1).

mod attachment;
mod fa;
mod rr;

use ksef_crypto::{QrCaption, QrImage, certificate_link, file_metadata, invoice_link};
use ksef_model::invoice_facts::{Fact, InvoiceFacts};
use ksef_model::validate::{BusinessOptions, Rule, Schema, ValidateError, validate_with_business};
use ksef_model::xml::Decimal;

use crate::format::{date, money, number};
use crate::labels::{Language, correction_type, invoice_kind, label, payment_form};
use crate::layout::{Align, Column, Layout};
use crate::xml::{self, Node};
use crate::{Error, OfflineQr, Options, Rendered};

/// At most this many validator messages go into [`Error::Invalid`].
const MAX_MESSAGES: usize = 20;

pub(crate) fn render(xml_bytes: &[u8], options: &Options) -> Result<Rendered, Error> {
    let refused = |e: ValidateError| match e {
        ValidateError::Malformed { .. } => Error::Xml(e.to_string()),
        other => Error::UnknownSchema(other.to_string()),
    };
    // The schema, then the rules beyond it that need no clock and no session (NIP and PESEL
    // check digits), as `ksef invoice validate` checks them, in one pass. The size limit is a
    // rule of sending, not of the content: a larger document (one with attachments, a long
    // archive) still renders.
    let (report, business) =
        validate_with_business(xml_bytes, &BusinessOptions::default()).map_err(refused)?;
    let violations: Vec<String> = report
        .violations
        .iter()
        .chain(
            business
                .iter()
                .filter(|v| !matches!(v.rule, Rule::SizeLimit { .. })),
        )
        .map(ToString::to_string)
        .collect();
    if !violations.is_empty() && !options.force {
        let mut messages = violations
            .iter()
            .take(MAX_MESSAGES)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        if violations.len() > MAX_MESSAGES {
            messages.push_str(&format!("\n… and {} more", violations.len() - MAX_MESSAGES));
        }
        return Err(Error::Invalid {
            count: violations.len(),
            messages,
        });
    }
    let root = xml::parse(xml_bytes)?;
    let lang = options.language;
    let body_name = if report.schema == Schema::FaRr1 {
        "FakturaRR"
    } else {
        "Fa"
    };
    let body = root.child(body_name);
    let number = body
        .and_then(|b| {
            b.text_at(if report.schema == Schema::FaRr1 {
                "P_4C"
            } else {
                "P_2"
            })
        })
        .unwrap_or("");
    let footer = match &options.ksef_number {
        Some(k) => format!("{number} · KSeF {k} · {}", label(lang, "page")),
        None => format!("{number} · {}", label(lang, "page")),
    };
    let mut r = Invoice {
        lang,
        out: Layout::new(footer),
        schema: report.schema,
    };
    if !violations.is_empty() {
        r.out.paragraph(&label(lang, "forced"), 8.0, true);
        for v in violations.iter().take(MAX_MESSAGES) {
            r.out.paragraph(v, 7.0, false);
        }
        if violations.len() > MAX_MESSAGES {
            let more = violations.len() - MAX_MESSAGES;
            let line = format!("… {}: {more}", label(lang, "more_findings"));
            r.out.paragraph(&line, 7.0, false);
        }
        r.out.gap(6.0);
    }
    r.document(&root, options);

    let (kod_i, kod_ii) = if options.no_qr {
        (None, None)
    } else {
        r.qr(xml_bytes, options)?
    };
    let pages = r.out.pages();
    let pdf = r.out.finish()?;
    Ok(Rendered {
        pdf,
        kod_i,
        kod_ii,
        violations,
        pages,
    })
}

struct Invoice {
    lang: Language,
    out: Layout,
    schema: Schema,
}

/// Elements whose value is an amount of money.
fn is_money(name: &str) -> bool {
    name.starts_with("P_13_")
        || name.starts_with("P_14_")
        || matches!(
            name,
            "P_11"
                | "P_11A"
                | "P_11Vat"
                | "P_15"
                | "P_15Z"
                | "P_15ZK"
                | "Kwota"
                | "KwotaAkcyzy"
                | "KwotaAkcyzyZ"
                | "KwotaZaplatyCzesciowej"
                | "SumaObciazen"
                | "SumaOdliczen"
                | "DoZaplaty"
                | "DoRozliczenia"
                | "WartoscZamowienia"
                | "P_11NettoZ"
                | "P_11VatZ"
                | "P_11_1"
                | "P_11_1W"
                | "P_11_2"
                | "P_11_2W"
                | "P_12_1"
                | "P_12_1W"
                | "P_8"
        )
}

/// Elements that mark something with `1`.
fn is_flag(name: &str) -> bool {
    matches!(
        name,
        "Zaplacono"
            | "FP"
            | "TP"
            | "StanPrzed"
            | "StanPrzedZ"
            | "NrKSeFN"
            | "NrKSeFZN"
            | "BrakID"
            | "PlatnoscInna"
            | "TransportInny"
            | "LadunekInny"
    )
}

/// A VAT rate code as printed: numbers get a percent sign.
fn rate(code: &str) -> String {
    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        format!("{}%", number(code))
    } else {
        code.to_owned()
    }
}

/// Adds two decimals given as text, exactly (for the gross column of the rate summary); `None`
/// when either is not a decimal.
fn add(a: &str, b: &str) -> Option<String> {
    let (a, b): (Decimal, Decimal) = (a.parse().ok()?, b.parse().ok()?);
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| {
        10i128
            .checked_pow(scale - d.scale())
            .and_then(|f| d.mantissa().checked_mul(f))
    };
    let sum = widen(a)?.checked_add(widen(b)?)?;
    Some(Decimal::new(sum, scale).to_string())
}

impl Invoice {
    fn l(&self, key: &str) -> String {
        label(self.lang, key)
    }

    /// A value as printed, by the element it comes from.
    fn value(&self, name: &str, text: &str) -> String {
        if is_money(name) {
            return money(text);
        }
        if is_flag(name) && text == "1" {
            return self.l("yes");
        }
        match name {
            "FormaPlatnosci" => payment_form(self.lang, text),
            "TypKorekty" => correction_type(self.lang, text),
            "RodzajFaktury" => invoice_kind(self.lang, text),
            "P_12" | "P_12Z" | "rr_P_9" => rate(text),
            "JST" | "GV" => match text {
                "1" => self.l("yes"),
                "2" => match self.lang {
                    Language::Polish => "nie".into(),
                    Language::English => "no".into(),
                },
                other => other.to_owned(),
            },
            _ => {
                let d = date(text);
                if d != text {
                    d
                } else if text.contains('.')
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
                {
                    number(text)
                } else {
                    text.to_owned()
                }
            }
        }
    }

    /// Label/value rows of `nodes` at `depth`, values printed by [`Invoice::value`].
    fn rows<'n>(
        &self,
        nodes: impl IntoIterator<Item = &'n Node>,
        depth: usize,
        out: &mut Vec<(String, String)>,
    ) {
        crate::labels::rows(
            self.lang,
            nodes,
            depth,
            &|name, text| self.value(name, text),
            out,
        );
    }

    fn generic(&mut self, node: &Node) {
        let mut rows = Vec::new();
        self.rows(&node.children, 0, &mut rows);
        self.out.fields(&rows);
    }

    /// A section headed `heading_key` with the rows of `nodes`; nothing when there are none.
    fn nodes_section(&mut self, heading_key: &str, nodes: &[&Node]) {
        if nodes.is_empty() {
            return;
        }
        self.out.heading(&self.l(heading_key));
        let mut rows = Vec::new();
        self.rows(nodes.iter().copied(), 0, &mut rows);
        self.out.fields(&rows);
    }

    fn document(&mut self, root: &Node, options: &Options) {
        let rr = self.schema == Schema::FaRr1;
        let body_name = if rr { "FakturaRR" } else { "Fa" };
        let empty = Node::default();
        let body = root.child(body_name).unwrap_or(&empty);

        // Header.
        let kind = body
            .text_at("RodzajFaktury")
            .map(|k| invoice_kind(self.lang, k))
            .unwrap_or_else(|| self.l("invoice"));
        let number = body.text_at(if rr { "P_4C" } else { "P_2" }).unwrap_or("");
        self.out.title(&format!("{kind} {number}"), 15.0);
        let mut head = Vec::new();
        head.push((self.l("invoice_no"), number.to_owned()));
        if let Some(k) = &options.ksef_number {
            head.push((self.l("ksef_no"), k.clone()));
        }
        if let Some(code) = root.at("Naglowek/KodFormularza") {
            let form = code.attr("kodSystemowy").unwrap_or(&code.text);
            head.push((self.l("form"), form.to_owned()));
        }
        self.out.fields(&head);
        self.out.gap(6.0);

        // Parties.
        let (p1, p2) = if rr {
            ("rr_seller", "rr_buyer")
        } else {
            ("seller", "buyer")
        };
        let mut blocks = Vec::new();
        if let Some(p) = root.child("Podmiot1") {
            blocks.push((self.l(p1), self.party(p)));
        }
        if let Some(p) = root.child("Podmiot2") {
            blocks.push((self.l(p2), self.party(p)));
        }
        self.out.columns(&blocks);
        let thirds: Vec<(String, Vec<String>)> = root
            .all("Podmiot3")
            .map(|p| (self.l("third"), self.party(p)))
            .collect();
        for pair in thirds.chunks(2) {
            self.out.gap(6.0);
            self.out.columns(pair);
        }
        if let Some(p) = root.child("PodmiotUpowazniony") {
            self.out.gap(6.0);
            let block = vec![(self.l("authorized"), self.party(p))];
            self.out.columns(&block);
        }

        if rr {
            self.rr_body(body);
        } else {
            self.fa_body(body);
        }

        if let Some(stopka) = root.child("Stopka") {
            self.out.heading(&self.l("Stopka"));
            for info in stopka.all("Informacje") {
                if let Some(text) = info.text_at("StopkaFaktury") {
                    self.out.paragraph(text, 8.0, false);
                }
            }
            let mut rows = Vec::new();
            for reg in stopka.all("Rejestry") {
                self.rows(&reg.children, 0, &mut rows);
            }
            self.out.fields(&rows);
        }
        if let Some(att) = root.child("Zalacznik") {
            self.attachment(att);
        }
    }

    /// A party's lines: name first, then identifiers, address and contact, each value labelled
    /// except the address lines.
    fn party(&self, node: &Node) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(name) = node.text_at("DaneIdentyfikacyjne/Nazwa") {
            lines.push(name.to_owned());
        }
        self.party_rest(node, &mut lines);
        lines
    }

    fn party_rest(&self, node: &Node, lines: &mut Vec<String>) {
        for child in &node.children {
            if !child.is_leaf() {
                if matches!(
                    child.name.as_str(),
                    "AdresKoresp" | "Przewoznik" | "AdresPrzewoznika"
                ) {
                    lines.push(format!("{}:", self.l(&child.name)));
                }
                self.party_rest(child, lines);
                continue;
            }
            match child.name.as_str() {
                "Nazwa" => {}
                "AdresL1" | "AdresL2" => lines.push(child.text.clone()),
                name => lines.push(format!(
                    "{}: {}",
                    self.l(name),
                    self.value(name, &child.text)
                )),
            }
        }
    }

    /// KOD I (and KOD II for offline invoices) under the invoice.
    fn qr(
        &mut self,
        xml_bytes: &[u8],
        options: &Options,
    ) -> Result<(Option<String>, Option<String>), Error> {
        // The link's facts are read as everywhere else in the SDK (FA and FA_RR alike).
        let facts = InvoiceFacts::read(xml_bytes).map_err(|e| Error::Qr(e.to_string()))?;
        let seller_nip = facts
            .required(Fact::SellerNip)
            .map_err(|e| Error::Qr(e.to_string()))?;
        let issue = facts.issue_date().map_err(|e| Error::Qr(e.to_string()))?;
        let meta = file_metadata(xml_bytes);
        let kod_i = invoice_link(options.environment, seller_nip, issue, &meta)
            .map_err(|e| Error::Qr(e.to_string()))?;
        let caption = match &options.ksef_number {
            Some(n) => QrCaption::KsefNumber(n.clone()),
            None => QrCaption::Offline,
        };
        let mut codes = vec![qr_block(self.l("kod_i"), &kod_i, caption)?];
        let kod_ii = match &options.offline {
            None => None,
            Some(OfflineQr::Link(link)) => Some(link.clone()),
            Some(OfflineQr::Sign {
                key,
                serial,
                context_type,
                context_value,
            }) => Some(
                certificate_link(
                    options.environment,
                    *context_type,
                    context_value,
                    seller_nip,
                    serial,
                    &meta,
                    key,
                )
                .map_err(|e| Error::Qr(e.to_string()))?,
            ),
        };
        if let Some(link) = &kod_ii {
            codes.push(qr_block(self.l("kod_ii"), link, QrCaption::Certificate)?);
        }
        self.out.heading(&self.l("qr"));
        self.out.qr_codes(&codes);
        Ok((Some(kod_i), kod_ii))
    }
}

fn qr_block(
    title: String,
    link: &str,
    caption: QrCaption,
) -> Result<(String, usize, Vec<bool>, String), Error> {
    let image = QrImage::new(link, caption.clone()).map_err(|e| Error::Qr(e.to_string()))?;
    let n = image.modules();
    let mut dark = Vec::with_capacity(n * n);
    for y in 0..n {
        for x in 0..n {
            dark.push(image.is_dark(x, y));
        }
    }
    Ok((title, n, dark, caption.text().to_owned()))
}

fn col(title: String, weight: f32, align: Align) -> Column {
    Column {
        title,
        weight,
        align,
    }
}

#[cfg(test)]
mod tests {
    use super::add;

    #[test]
    fn gross_is_the_exact_sum_at_the_wider_scale() {
        assert_eq!(add("100.5", "23.12").as_deref(), Some("123.62"));
        assert_eq!(add("0.1", "-0.25").as_deref(), Some("-0.15"));
        assert_eq!(add("1000", "230").as_deref(), Some("1230"));
        assert_eq!(add("0.333", "0.001").as_deref(), Some("0.334"));
        assert_eq!(add("12,50", "1"), None);
        assert_eq!(add("", "1"), None);
    }
}
