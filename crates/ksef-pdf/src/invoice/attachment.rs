//! The attachment (`Zalacznik`) of an invoice: its blocks of text and tables.

use super::*;

impl Invoice {
    /// Zalacznik: each data block with its heading, key–value metadata, paragraphs and tables.
    pub(super) fn attachment(&mut self, att: &Node) {
        self.out.heading(&self.l("Zalacznik"));
        for block in att.all("BlokDanych") {
            if let Some(h) = block.text_at("ZNaglowek") {
                self.out.paragraph(h, 9.0, true);
            }
            let meta: Vec<(String, String)> = block
                .all("MetaDane")
                .map(|m| {
                    (
                        m.text_at("ZKlucz").unwrap_or("").to_owned(),
                        m.text_at("ZWartosc").unwrap_or("").to_owned(),
                    )
                })
                .collect();
            self.out.fields(&meta);
            for text in block.all("Tekst") {
                for p in text.all("Akapit") {
                    self.out.paragraph(&p.text, 8.0, false);
                }
            }
            for table in block.all("Tabela") {
                self.out.gap(4.0);
                let meta: Vec<(String, String)> = table
                    .all("TMetaDane")
                    .map(|m| {
                        (
                            m.text_at("TKlucz").unwrap_or("").to_owned(),
                            m.text_at("TWartosc").unwrap_or("").to_owned(),
                        )
                    })
                    .collect();
                self.out.fields(&meta);
                if let Some(desc) = table.text_at("Opis") {
                    self.out.paragraph(desc, 8.0, true);
                }
                let heads: Vec<Column> = table
                    .at("TNaglowek")
                    .map(|h| {
                        h.all("Kol")
                            .map(|k| {
                                let numeric = matches!(k.attr("Typ"), Some("dec" | "int"));
                                col(
                                    k.text_at("NKom").unwrap_or("").to_owned(),
                                    1.0,
                                    if numeric { Align::Right } else { Align::Left },
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if heads.is_empty() {
                    continue;
                }
                let width = heads.len();
                let mut rows: Vec<Vec<String>> = table
                    .all("Wiersz")
                    .map(|w| {
                        let mut cells: Vec<String> =
                            w.all("WKom").map(|c| c.text.clone()).collect();
                        cells.resize(width, String::new());
                        cells
                    })
                    .collect();
                if let Some(sum) = table.child("Suma") {
                    let mut cells: Vec<String> = sum.all("SKom").map(|c| c.text.clone()).collect();
                    cells.resize(width, String::new());
                    rows.push(cells);
                }
                self.out.table(&heads, rows);
            }
        }
    }
}
