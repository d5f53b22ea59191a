//! The body of an FA(3) or FA(2) invoice: parties' details, lines, VAT summary, annotations.

use super::*;

impl Invoice {
    pub(super) fn fa_body(&mut self, fa: &Node) {
        // Details.
        self.out.heading(&self.l("details"));
        let mut rows = Vec::new();
        for name in ["P_1", "P_1M", "P_6", "KodWaluty", "KursWalutyZ", "WZ"] {
            for n in fa.all(name) {
                rows.push((self.l(name), self.value(name, &n.text)));
            }
        }
        if let Some(period) = fa.child("OkresFa") {
            let from = period.text_at("P_6_Od").map(date).unwrap_or_default();
            let to = period.text_at("P_6_Do").map(date).unwrap_or_default();
            rows.push((self.l("OkresFa"), format!("{from} – {to}")));
        }
        for name in ["FP", "TP"] {
            if let Some(v) = fa.text_at(name) {
                rows.push((self.l(name), self.value(name, v)));
            }
        }
        self.out.fields(&rows);

        // Corrections.
        let correction: Vec<&Node> = fa
            .children
            .iter()
            .filter(|c| {
                matches!(
                    c.name.as_str(),
                    "PrzyczynaKorekty"
                        | "TypKorekty"
                        | "DaneFaKorygowanej"
                        | "OkresFaKorygowanej"
                        | "NrFaKorygowany"
                        | "Podmiot1K"
                        | "Podmiot2K"
                        | "P_15ZK"
                        | "KursWalutyZK"
                )
            })
            .collect();
        self.nodes_section("correction", &correction);

        // Advances.
        let advances: Vec<&Node> = fa
            .children
            .iter()
            .filter(|c| matches!(c.name.as_str(), "ZaliczkaCzesciowa" | "FakturaZaliczkowa"))
            .collect();
        self.nodes_section("advance", &advances);

        // Lines.
        {
            let numeric = [
                ("P_8A", Align::Left, 0.7),
                ("P_8B", Align::Right, 0.8),
                ("P_9A", Align::Right, 1.1),
                ("P_9B", Align::Right, 1.1),
                ("P_10", Align::Right, 0.9),
                ("P_11", Align::Right, 1.2),
                ("P_11A", Align::Right, 1.2),
                ("P_11Vat", Align::Right, 1.1),
                ("P_12", Align::Right, 0.7),
            ];
            self.lines_section(fa, "FaWiersz", "NrWierszaFa", "P_7", &numeric);
        }

        // VAT summary.
        self.vat_summary(fa);

        // Totals.
        self.out.heading(&self.l("totals"));
        let currency = fa.text_at("KodWaluty").unwrap_or("");
        let mut rows = Vec::new();
        if let Some(total) = fa.text_at("P_15") {
            rows.push((self.l("P_15"), format!("{} {currency}", money(total))));
        }
        if let Some(rate) = fa.text_at("KursWaluty") {
            rows.push((self.l("KursWaluty"), number(rate)));
        }
        self.out.fields(&rows);

        if let Some(adn) = fa.child("Adnotacje") {
            self.annotations(adn);
        }

        // Everything else in Fa, in document order, by label (nothing is dropped).
        let known = [
            "KodWaluty",
            "P_1",
            "P_1M",
            "P_2",
            "WZ",
            "P_6",
            "OkresFa",
            "KursWalutyZ",
            "FP",
            "TP",
            "PrzyczynaKorekty",
            "TypKorekty",
            "DaneFaKorygowanej",
            "OkresFaKorygowanej",
            "NrFaKorygowany",
            "Podmiot1K",
            "Podmiot2K",
            "P_15ZK",
            "KursWalutyZK",
            "ZaliczkaCzesciowa",
            "FakturaZaliczkowa",
            "FaWiersz",
            "P_15",
            "KursWaluty",
            "Adnotacje",
            "RodzajFaktury",
            "Rozliczenie",
            "Platnosc",
            "WarunkiTransakcji",
            "Zamowienie",
            "DodatkowyOpis",
        ];
        let rest: Vec<&Node> = fa
            .children
            .iter()
            .filter(|c| {
                !known.contains(&c.name.as_str())
                    && !c.name.starts_with("P_13_")
                    && !c.name.starts_with("P_14_")
            })
            .collect();
        let notes: Vec<&Node> = fa.all("DodatkowyOpis").collect();
        if !rest.is_empty() || !notes.is_empty() {
            self.out.heading(&self.l("other"));
            if !notes.is_empty() {
                let columns = [
                    col(self.l("NrWiersza"), 0.5, Align::Left),
                    col(self.l("Klucz"), 2.0, Align::Left),
                    col(self.l("Wartosc"), 4.0, Align::Left),
                ];
                let rows = notes.iter().map(|n| {
                    vec![
                        n.text_at("NrWiersza").unwrap_or("").to_owned(),
                        n.text_at("Klucz").unwrap_or("").to_owned(),
                        n.text_at("Wartosc").unwrap_or("").to_owned(),
                    ]
                });
                self.out.table(&columns, rows);
            }
            let mut rows = Vec::new();
            self.rows(rest, 0, &mut rows);
            self.out.fields(&rows);
        }

        if let Some(n) = fa.child("Rozliczenie") {
            self.out.heading(&self.l("Rozliczenie"));
            self.generic(n);
        }
        if let Some(n) = fa.child("Platnosc") {
            self.out.heading(&self.l("Platnosc"));
            self.generic(n);
        }
        if let Some(n) = fa.child("WarunkiTransakcji") {
            self.out.heading(&self.l("WarunkiTransakcji"));
            self.generic(n);
        }
        if let Some(n) = fa.child("Zamowienie") {
            self.out.heading(&self.l("Zamowienie"));
            let mut rows = Vec::new();
            if let Some(v) = n.text_at("WartoscZamowienia") {
                rows.push((self.l("WartoscZamowienia"), money(v)));
            }
            self.out.fields(&rows);
            let lines: Vec<&Node> = n.all("ZamowienieWiersz").collect();
            let numeric = [
                ("P_8AZ", Align::Left, 0.7),
                ("P_8BZ", Align::Right, 0.8),
                ("P_9AZ", Align::Right, 1.1),
                ("P_11NettoZ", Align::Right, 1.2),
                ("P_11VatZ", Align::Right, 1.1),
                ("P_12Z", Align::Right, 0.7),
            ];
            self.line_table(&lines, "NrWierszaZam", "P_7Z", &numeric, "StanPrzedZ");
        }
    }

    /// A table of invoice or order lines: number, name (with every other value of the line
    /// under it), then each numeric column some line fills.
    /// The "lines" heading and the table of `fa`'s `row_el` rows, when it has any.
    pub(super) fn lines_section(
        &mut self,
        fa: &Node,
        row_el: &str,
        number_el: &str,
        name_el: &str,
        numeric: &[(&str, Align, f32)],
    ) {
        let lines: Vec<&Node> = fa.all(row_el).collect();
        if !lines.is_empty() {
            self.out.heading(&self.l("lines"));
            self.line_table(&lines, number_el, name_el, numeric, "StanPrzed");
        }
    }

    pub(super) fn line_table(
        &mut self,
        lines: &[&Node],
        number_el: &str,
        name_el: &str,
        numeric: &[(&str, Align, f32)],
        before_el: &str,
    ) {
        let used: Vec<&(&str, Align, f32)> = numeric
            .iter()
            .filter(|(name, _, _)| lines.iter().any(|l| l.child(name).is_some()))
            .collect();
        let mut columns = vec![
            col(self.l(number_el), 0.45, Align::Left),
            col(self.l(name_el), 4.0, Align::Left),
        ];
        for (name, align, weight) in &used {
            let key = if self.schema == Schema::FaRr1 {
                format!("rr_{name}")
            } else {
                (*name).to_owned()
            };
            let title = if label(self.lang, &key) == key {
                self.l(name)
            } else {
                self.l(&key)
            };
            columns.push(col(title, *weight, *align));
        }
        let in_columns = |n: &str| n == number_el || n == name_el || used.iter().any(|u| u.0 == n);
        let rows = lines.iter().map(|line| {
            let mut name = line.text_at(name_el).unwrap_or("").to_owned();
            for c in &line.children {
                if in_columns(&c.name) {
                    continue;
                }
                if c.name == before_el {
                    name.push_str(&format!("\n[{}]", self.l("before")));
                } else {
                    name.push_str(&format!(
                        "\n{}: {}",
                        self.l(&c.name),
                        self.value(&c.name, &c.text)
                    ));
                }
            }
            let mut row = vec![line.text_at(number_el).unwrap_or("").to_owned(), name];
            for (el, _, _) in &used {
                let v = line.text_at(el).unwrap_or("");
                let key = if self.schema == Schema::FaRr1 {
                    format!("rr_{el}")
                } else {
                    (*el).to_owned()
                };
                row.push(match key.as_str() {
                    "P_12" | "P_12Z" | "rr_P_9" => rate(v),
                    "P_8A" | "P_8AZ" | "P_6A" | "P_6C" => v.to_owned(),
                    k if is_money(k) || k.starts_with("rr_") && k != "rr_P_7" => money(v),
                    _ => number(v),
                });
            }
            row
        });
        let rows: Vec<Vec<String>> = rows.collect();
        self.out.table(&columns, rows);
    }

    pub(super) fn vat_summary(&mut self, fa: &Node) {
        // (net, tax, tax in PLN, rate as printed)
        let groups: [(&str, Option<&str>, Option<&str>, &str); 13] = [
            ("P_13_1", Some("P_14_1"), Some("P_14_1W"), "23% / 22%"),
            ("P_13_2", Some("P_14_2"), Some("P_14_2W"), "8% / 7%"),
            ("P_13_3", Some("P_14_3"), Some("P_14_3W"), "5%"),
            ("P_13_4", Some("P_14_4"), Some("P_14_4W"), "4% / 3%"),
            ("P_13_5", Some("P_14_5"), None, "OSS"),
            ("P_13_6_1", None, None, "0% (kraj)"),
            ("P_13_6_2", None, None, "0% (WDT)"),
            ("P_13_6_3", None, None, "0% (eksport)"),
            ("P_13_7", None, None, "zw"),
            ("P_13_8", None, None, "np (poza krajem)"),
            ("P_13_9", None, None, "np (art. 100)"),
            ("P_13_10", None, None, "oo"),
            ("P_13_11", None, None, "marża"),
        ];
        let present: Vec<_> = groups
            .iter()
            .filter(|(net, tax, _, _)| {
                fa.child(net).is_some() || tax.is_some_and(|t| fa.child(t).is_some())
            })
            .collect();
        if present.is_empty() {
            return;
        }
        self.out.heading(&self.l("vat_summary"));
        let with_pln = present
            .iter()
            .any(|(_, _, w, _)| w.is_some_and(|w| fa.child(w).is_some()));
        let mut columns = vec![
            col(self.l("rate"), 1.5, Align::Left),
            col(self.l("net"), 1.0, Align::Right),
            col(self.l("vat"), 1.0, Align::Right),
        ];
        if with_pln {
            columns.push(col(self.l("vat_pln"), 1.0, Align::Right));
        }
        columns.push(col(self.l("gross"), 1.0, Align::Right));
        let rows: Vec<Vec<String>> = present
            .iter()
            .map(|(net, tax, pln, rate)| {
                let n = fa.text_at(net).unwrap_or("0");
                let t = tax.and_then(|t| fa.text_at(t));
                let mut row = vec![
                    (*rate).to_owned(),
                    money(n),
                    t.map(money).unwrap_or_default(),
                ];
                if with_pln {
                    row.push(
                        pln.and_then(|p| fa.text_at(p))
                            .map(money)
                            .unwrap_or_default(),
                    );
                }
                row.push(
                    add(n, t.unwrap_or("0"))
                        .map(|g| money(&g))
                        .unwrap_or_default(),
                );
                row
            })
            .collect();
        self.out.table(&columns, rows);
    }

    /// The marks of Adnotacje that are set, in words.
    pub(super) fn annotations(&mut self, adn: &Node) {
        self.out.heading(&self.l("annotations"));
        let mut rows = Vec::new();
        for name in ["P_16", "P_17", "P_18", "P_18A", "P_23"] {
            if adn.text_at(name) == Some("1") {
                rows.push((self.l(name), self.l("yes")));
            }
        }
        if let Some(z) = adn.child("Zwolnienie")
            && z.text_at("P_19") == Some("1")
        {
            rows.push((self.l("P_19"), self.l("yes")));
            for basis in ["P_19A", "P_19B", "P_19C"] {
                if let Some(v) = z.text_at(basis) {
                    rows.push((format!("  {}", self.l(basis)), v.to_owned()));
                }
            }
        }
        if let Some(n) = adn.child("NoweSrodkiTransportu")
            && n.text_at("P_22") == Some("1")
        {
            rows.push((self.l("P_22"), self.l("yes")));
            let mut detail = Vec::new();
            for c in n.children.iter().filter(|c| c.name != "P_22") {
                if c.is_leaf() {
                    detail.push((
                        format!("  {}", self.l(&c.name)),
                        self.value(&c.name, &c.text),
                    ));
                } else {
                    self.rows(&c.children, 1, &mut detail);
                }
            }
            rows.extend(detail);
        }
        if let Some(m) = adn.child("PMarzy")
            && m.text_at("P_PMarzy") == Some("1")
        {
            rows.push((self.l("P_PMarzy"), self.l("yes")));
            for kind in ["P_PMarzy_2", "P_PMarzy_3_1", "P_PMarzy_3_2", "P_PMarzy_3_3"] {
                if m.text_at(kind) == Some("1") {
                    rows.push((format!("  {}", self.l(kind)), self.l("yes")));
                }
            }
        }
        if rows.is_empty() {
            let none = match self.lang {
                Language::Polish => "brak oznaczeń",
                Language::English => "none",
            };
            self.out.paragraph(none, 8.0, false);
        }
        self.out.fields(&rows);
    }
}
