//! The UPO visualization: the session's data, then every document with its KSeF number,
//! hash and timestamps.

use crate::format::date;
use crate::labels::{label, rows};
use crate::layout::Layout;
use crate::xml::{self, Node};
use crate::{Error, Options};

pub(crate) fn render(xml_bytes: &[u8], options: &Options) -> Result<Vec<u8>, Error> {
    let root = xml::parse(xml_bytes)?;
    if root.name != "Potwierdzenie" {
        return Err(Error::NotUpo(root.name));
    }
    let lang = options.language;
    let l = |key: &str| label(lang, key);
    let session = root.text_at("NumerReferencyjnySesji").unwrap_or("");
    let mut out = Layout::new(format!("UPO {session} · {}", l("page")));
    out.title(&l("upo"), 14.0);
    out.gap(4.0);

    out.heading(&l("upo_session"));
    let value = |_: &str, text: &str| date(text);
    let mut session_rows = Vec::new();
    rows(
        lang,
        root.children.iter().filter(|c| c.name != "Dokument"),
        0,
        &value,
        &mut session_rows,
    );
    out.fields(&session_rows);

    let documents: Vec<&Node> = root.all("Dokument").collect();
    if !documents.is_empty() {
        out.heading(&format!("{} ({})", l("upo_documents"), documents.len()));
        for (i, doc) in documents.iter().enumerate() {
            out.paragraph(&format!("{} {}", l("Dokument"), i + 1), 8.5, true);
            let mut doc_rows = Vec::new();
            rows(lang, &doc.children, 0, &value, &mut doc_rows);
            out.fields(&doc_rows);
            out.gap(4.0);
        }
    }
    out.finish()
}
