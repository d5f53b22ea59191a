//! The UPO visualization: the session's data, then every document with its KSeF number,
//! hash and timestamps.

use crate::format::date;
use crate::labels::label;
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
    let mut rows = Vec::new();
    for child in root.children.iter().filter(|c| c.name != "Dokument") {
        push_rows(lang, child, 0, &mut rows);
    }
    out.fields(&rows);

    let documents: Vec<&Node> = root.all("Dokument").collect();
    if !documents.is_empty() {
        out.heading(&format!("{} ({})", l("upo_documents"), documents.len()));
        for (i, doc) in documents.iter().enumerate() {
            out.paragraph(&format!("{} {}", l("Dokument"), i + 1), 8.5, true);
            let mut rows = Vec::new();
            push_rows(lang, doc, 0, &mut rows);
            // push_rows adds the element itself; keep only its children.
            rows.remove(0);
            out.fields(&rows);
            out.gap(4.0);
        }
    }
    out.finish()
}

fn push_rows(lang: crate::Language, node: &Node, depth: usize, rows: &mut Vec<(String, String)>) {
    let indent = "  ".repeat(depth);
    if node.is_leaf() {
        rows.push((
            format!("{indent}{}", label(lang, &node.name)),
            date(&node.text),
        ));
    } else {
        rows.push((
            format!("{indent}{}", label(lang, &node.name)),
            String::new(),
        ));
        for child in &node.children {
            push_rows(lang, child, depth + 1, rows);
        }
    }
}
