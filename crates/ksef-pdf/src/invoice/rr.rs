//! The body of an FA_RR(1) invoice (a VAT RR invoice of a flat-rate farmer).

use super::*;

impl Invoice {
    pub(super) fn rr_body(&mut self, fa: &Node) {
        self.out.heading(&self.l("details"));
        let mut rows = Vec::new();
        let correction = [
            "PrzyczynaKorekty",
            "TypKorekty",
            "DaneFaKorygowanej",
            "NrFaKorygowany",
            "Podmiot1K",
            "Podmiot2K",
        ];
        let totals = [
            "P_11_1", "P_11_1W", "P_11_2", "P_11_2W", "P_12_1", "P_12_1W", "P_12_2",
        ];
        for c in &fa.children {
            let name = c.name.as_str();
            if name == "FakturaRRWiersz"
                || name == "Platnosc"
                || name == "Rozliczenie"
                || name == "RodzajFaktury"
                || name == "DodatkowyOpis"
                || correction.contains(&name)
                || totals.contains(&name)
            {
                continue;
            }
            if c.is_leaf() {
                rows.push((self.l(name), self.value(name, &c.text)));
            } else {
                rows.push((self.l(name), String::new()));
                self.rows(&c.children, 1, &mut rows);
            }
        }
        self.out.fields(&rows);

        let corr: Vec<&Node> = fa
            .children
            .iter()
            .filter(|c| correction.contains(&c.name.as_str()))
            .collect();
        self.nodes_section("correction", &corr);

        {
            let numeric = [
                ("P_6A", Align::Left, 0.6),
                ("P_6B", Align::Right, 0.8),
                ("P_6C", Align::Left, 0.9),
                ("P_7", Align::Right, 0.9),
                ("P_8", Align::Right, 1.1),
                ("P_9", Align::Right, 0.8),
                ("P_10", Align::Right, 1.0),
                ("P_11", Align::Right, 1.1),
            ];
            self.lines_section(fa, "FakturaRRWiersz", "NrWierszaFa", "P_5", &numeric);
        }

        self.out.heading(&self.l("totals"));
        let currency = fa.text_at("KodWaluty").unwrap_or("");
        let mut rows = Vec::new();
        for name in totals {
            if let Some(v) = fa.text_at(name) {
                let shown = if name == "P_12_2" {
                    v.to_owned()
                } else if name.ends_with('W') {
                    format!("{} PLN", money(v))
                } else {
                    format!("{} {currency}", money(v))
                };
                rows.push((self.l(name), shown));
            }
        }
        self.out.fields(&rows);

        let notes: Vec<&Node> = fa.all("DodatkowyOpis").collect();
        if !notes.is_empty() {
            self.out.heading(&self.l("other"));
            let mut rows = Vec::new();
            for n in notes {
                self.rows(&n.children, 0, &mut rows);
            }
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
    }
}
