//! Page layout on top of krilla: a cursor that flows blocks down A4 pages, wraps text by the
//! font's own advance widths, repeats a table's header row on every page it spans, and draws QR
//! codes as vector squares.
//!
//! Each page is collected as a list of drawing operations and handed to krilla when it is full,
//! so memory stays bounded by one page plus krilla's compressed output, however long the
//! document.

use std::sync::LazyLock;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::TableProvider;
use skrifa::{FontRef, MetadataProvider};

use crate::Error;

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// A4 in points.
pub(crate) const PAGE_W: f32 = 595.28;
pub(crate) const PAGE_H: f32 = 841.89;
pub(crate) const MARGIN: f32 = 36.0;
const FOOTER: f32 = 24.0;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;

/// Body text size and line height.
pub(crate) const SIZE: f32 = 8.0;
const LEADING: f32 = 1.25;
const CELL_PAD: f32 = 2.5;

/// One embedded face: krilla's font for drawing plus glyph ids and advance widths, so text is
/// measured and drawn from the same figures without shaping each string.
struct Face {
    font: Font,
    /// Glyph id and advance width (font units) of U+0000..U+0600 (Latin, Greek, Cyrillic);
    /// others looked up.
    glyphs: Vec<(u16, f32)>,
    data: &'static [u8],
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        // The fonts are compiled in and checked by the tests: failing to read them is a build
        // defect, not an input error.
        let font_ref = FontRef::new(data).expect("embedded DejaVu font parses");
        let units_per_em = f32::from(font_ref.head().map(|h| h.units_per_em()).unwrap_or(2048));
        let charmap = font_ref.charmap();
        let metrics = font_ref.glyph_metrics(Size::unscaled(), LocationRef::default());
        let glyphs = (0u32..0x600)
            .map(|c| {
                let gid = char::from_u32(c).and_then(|ch| charmap.map(ch));
                let width = gid.and_then(|g| metrics.advance_width(g)).unwrap_or(0.0);
                (gid.map_or(0, |g| g.to_u32() as u16), width)
            })
            .collect();
        let font = Font::new(krilla::Data::from(data), 0).expect("embedded DejaVu font loads");
        Face {
            font,
            glyphs,
            data,
            units_per_em,
        }
    }

    /// Glyph id and advance width (font units) of `ch`; a character the font lacks gets glyph 0
    /// (`.notdef`) and half an em.
    fn glyph(&self, ch: char) -> (u16, f32) {
        if let Some(&g) = self.glyphs.get(ch as usize) {
            return g;
        }
        let font_ref = FontRef::new(self.data).expect("embedded DejaVu font parses");
        match font_ref.charmap().map(ch) {
            Some(g) => (
                g.to_u32() as u16,
                font_ref
                    .glyph_metrics(Size::unscaled(), LocationRef::default())
                    .advance_width(g)
                    .unwrap_or(self.units_per_em / 2.0),
            ),
            None => (0, self.units_per_em / 2.0),
        }
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text.chars().map(|ch| self.glyph(ch).1).sum();
        units * size / self.units_per_em
    }

    /// One glyph per character, advanced by its own width: the invoice's scripts (Latin with
    /// Polish letters, precomposed) need no shaping, and the widths are the ones `wrap` measured.
    fn glyph_run(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(at, ch)| {
                let (gid, width) = self.glyph(ch);
                KrillaGlyph::new(
                    GlyphId::new(u32::from(gid)),
                    width / self.units_per_em,
                    0.0,
                    0.0,
                    0.0,
                    at..at + ch.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

struct Faces {
    regular: Face,
    bold: Face,
}

static FACES: LazyLock<Faces> = LazyLock::new(|| Faces {
    regular: Face::load(REGULAR),
    bold: Face::load(BOLD),
});

fn face(bold: bool) -> &'static Face {
    if bold { &FACES.bold } else { &FACES.regular }
}

/// Width of `text` in points.
pub(crate) fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    face(bold).width(text, size)
}

/// Breaks `text` into lines no wider than `width`: at spaces, and inside a word only when the
/// word alone is too wide. Explicit line breaks are kept.
pub(crate) fn wrap(text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let space = text_width(" ", size, bold);
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let word_w = text_width(word, size, bold);
            if !line.is_empty() && line_w + space + word_w <= width {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_w <= width {
                line.push_str(word);
                line_w = word_w;
                continue;
            }
            // A word wider than the column: cut it by characters.
            let mut piece = String::new();
            let mut piece_w = 0.0;
            for ch in word.chars() {
                let mut buf = [0u8; 4];
                let ch_w = text_width(ch.encode_utf8(&mut buf), size, bold);
                if !piece.is_empty() && piece_w + ch_w > width {
                    lines.push(std::mem::take(&mut piece));
                    piece_w = 0.0;
                }
                piece.push(ch);
                piece_w += ch_w;
            }
            line = piece;
            line_w = piece_w;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// How a table column aligns its cells.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table column: title, relative width, alignment.
#[derive(Clone)]
pub(crate) struct Column {
    pub(crate) title: String,
    pub(crate) weight: f32,
    pub(crate) align: Align,
}

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    /// Rectangles filled in one gray, drawn as one path.
    Fill {
        rects: Vec<Rect>,
        gray: u8,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
}

/// The document being laid out.
pub(crate) struct Layout {
    doc: Document,
    ops: Vec<Op>,
    y: f32,
    page: usize,
    footer: String,
    /// The header of the table being drawn, repeated at the top of every new page.
    table_header: Option<(Vec<Column>, Vec<f32>)>,
}

const TOP: f32 = MARGIN;
const BOTTOM: f32 = PAGE_H - MARGIN - FOOTER;

impl Layout {
    pub(crate) fn new(footer: String) -> Layout {
        let settings = SerializeSettings {
            // No XMP packet: krilla writes no dates unless asked, and we keep the output
            // byte-identical for the same input.
            xmp_metadata: false,
            enable_tagging: false,
            ..SerializeSettings::default()
        };
        Layout {
            doc: Document::new_with(settings),
            ops: Vec::new(),
            y: TOP,
            page: 1,
            footer,
            table_header: None,
        }
    }

    fn line_h(size: f32) -> f32 {
        size * LEADING
    }

    /// Space left on this page.
    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    /// Starts a new page if less than `h` is left on this one (and this page is not empty).
    pub(crate) fn ensure(&mut self, h: f32) {
        if h > self.room() && self.y > TOP {
            self.new_page();
        }
    }

    pub(crate) fn gap(&mut self, h: f32) {
        self.y += h;
    }

    fn new_page(&mut self) {
        self.flush_page();
        self.page += 1;
        self.y = TOP;
        if let Some((columns, widths)) = self.table_header.take() {
            self.draw_header_row(&columns, &widths);
            self.table_header = Some((columns, widths));
        }
    }

    fn flush_page(&mut self) {
        let footer = format!("{} · {}", self.footer, self.page);
        let footer_w = text_width(&footer, 7.0, false);
        self.ops.push(Op::Line {
            x1: MARGIN,
            y1: PAGE_H - MARGIN - 12.0,
            x2: PAGE_W - MARGIN,
            y2: PAGE_H - MARGIN - 12.0,
        });
        self.ops.push(Op::Text {
            x: PAGE_W - MARGIN - footer_w,
            y: PAGE_H - MARGIN,
            size: 7.0,
            bold: false,
            text: footer,
        });
        let ops = std::mem::take(&mut self.ops);
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid page size");
        let mut page = self.doc.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                } => {
                    let face = face(bold);
                    surface.set_fill(Some(Fill::default()));
                    surface.draw_glyphs(
                        Point::from_xy(x, y),
                        &face.glyph_run(&text),
                        face.font.clone(),
                        &text,
                        size,
                        false,
                    );
                }
                Op::Fill { rects, gray } => {
                    let mut path = PathBuilder::new();
                    for rect in rects {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: rgb::Color::new(gray, gray, gray).into(),
                            ..Fill::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Line { x1, y1, x2, y2 } => {
                    let mut path = PathBuilder::new();
                    path.move_to(x1, y1);
                    path.line_to(x2, y2);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(150, 150, 150).into(),
                            width: 0.5,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }

    /// Pages so far (the current one included).
    pub(crate) fn pages(&self) -> usize {
        self.page
    }

    /// Finishes the last page and serializes the document.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, Error> {
        self.flush_page();
        self.doc.finish().map_err(|e| Error::Pdf(format!("{e:?}")))
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, bold: bool, text: &str) {
        if !text.is_empty() {
            self.ops.push(Op::Text {
                x,
                y: baseline,
                size,
                bold,
                text: text.to_owned(),
            });
        }
    }

    /// A title line in a large bold face.
    pub(crate) fn title(&mut self, text: &str, size: f32) {
        let lines = wrap(text, CONTENT_W, size, true);
        for line in lines {
            let h = Self::line_h(size);
            self.ensure(h);
            self.text(MARGIN, self.y + size, size, true, &line);
            self.y += h;
        }
    }

    /// A paragraph of wrapped text, from `indent`.
    pub(crate) fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        for line in wrap(text, CONTENT_W, size, bold) {
            let h = Self::line_h(size);
            self.ensure(h);
            self.text(MARGIN, self.y + size, size, bold, &line);
            self.y += h;
        }
    }

    /// A section heading: a grey band with bold text; kept with at least a few lines after it.
    pub(crate) fn heading(&mut self, text: &str) {
        let size = 9.5;
        let h = Self::line_h(size) + 4.0;
        self.ensure(h + 4.0 * Self::line_h(SIZE));
        self.gap(6.0);
        self.ops.push(Op::Fill {
            rects: vec![rect(MARGIN, self.y, CONTENT_W, h)],
            gray: 225,
        });
        self.text(MARGIN + 3.0, self.y + 2.0 + size, size, true, text);
        self.y += h + 3.0;
    }

    /// Label–value rows: labels in a column of their own, values wrapped.
    pub(crate) fn fields(&mut self, rows: &[(String, String)]) {
        if rows.is_empty() {
            return;
        }
        let label_w = rows
            .iter()
            .map(|(l, _)| {
                let trimmed = l.trim_start_matches(' ');
                text_width(trimmed, SIZE, true) + (l.len() - trimmed.len()) as f32 * 4.0
            })
            .fold(60.0f32, f32::max)
            .min(CONTENT_W * 0.4)
            + 8.0;
        for (label, value) in rows {
            // Leading spaces of a label nest it under the one before (two per level).
            let trimmed = label.trim_start_matches(' ');
            let indent = (label.len() - trimmed.len()) as f32 / 2.0 * 8.0;
            let labels = wrap(trimmed, label_w - 8.0 - indent, SIZE, true);
            let values = wrap(value, CONTENT_W - label_w, SIZE, false);
            let columns = [
                (MARGIN + indent, true, labels),
                (MARGIN + label_w, false, values),
            ];
            self.flow_columns(&columns, Self::line_h(SIZE), SIZE);
        }
    }

    /// Draws columns of lines side by side, one column at a time within each page (so each
    /// value's lines stay together in the content stream), breaking pages as needed.
    fn flow_columns(&mut self, columns: &[(f32, bool, Vec<String>)], lh: f32, size: f32) {
        let lines = columns.iter().map(|c| c.2.len()).max().unwrap_or(0);
        self.ensure(lines.min(40) as f32 * lh);
        self.flow(lines, lh, 0.0, |out, range| {
            for (x, bold, col) in columns {
                for (i, line) in col.iter().enumerate().take(range.end).skip(range.start) {
                    let base = out.y + size + (i - range.start) as f32 * lh;
                    out.text(*x, base, size, *bold, line);
                }
            }
        });
    }

    /// The one page-breaking loop of every block that spans lines: `draw` gets the range of
    /// lines that fit on the current page (at least one), drawn from `self.y`, which then moves
    /// past them and `pad`; a new page starts while lines remain.
    fn flow(
        &mut self,
        lines: usize,
        lh: f32,
        pad: f32,
        mut draw: impl FnMut(&mut Layout, std::ops::Range<usize>),
    ) {
        let mut start = 0;
        while start < lines {
            let fit = (((self.room() - pad) / lh).floor() as usize).max(1);
            let end = (start + fit).min(lines);
            draw(self, start..end);
            self.y += (end - start) as f32 * lh + pad;
            start = end;
            if start < lines {
                self.new_page();
            }
        }
    }

    /// Blocks side by side (e.g. seller and buyer): each a title and lines, wrapped to its
    /// column; rows flow across pages.
    pub(crate) fn columns(&mut self, blocks: &[(String, Vec<String>)]) {
        if blocks.is_empty() {
            return;
        }
        let gutter = 12.0;
        let n = blocks.len() as f32;
        let col_w = (CONTENT_W - gutter * (n - 1.0)) / n;
        // Titles (bold, one size up) first, then the lines; each column drawn whole.
        let titles: Vec<(f32, bool, Vec<String>)> = blocks
            .iter()
            .enumerate()
            .map(|(c, (title, _))| {
                let x = MARGIN + c as f32 * (col_w + gutter);
                (x, true, wrap(title, col_w, SIZE + 1.0, true))
            })
            .collect();
        let bodies: Vec<(f32, bool, Vec<String>)> = blocks
            .iter()
            .enumerate()
            .map(|(c, (_, lines))| {
                let x = MARGIN + c as f32 * (col_w + gutter);
                let wrapped = lines
                    .iter()
                    .flat_map(|line| wrap(line, col_w, SIZE, false))
                    .collect();
                (x, false, wrapped)
            })
            .collect();
        let body_lines = bodies.iter().map(|b| b.2.len()).max().unwrap_or(0);
        self.ensure(Self::line_h(SIZE + 1.0) + Self::line_h(SIZE) * body_lines.min(8) as f32);
        self.flow_columns(&titles, Self::line_h(SIZE + 1.0), SIZE + 1.0);
        self.flow_columns(&bodies, Self::line_h(SIZE), SIZE);
    }

    fn widths(columns: &[Column]) -> Vec<f32> {
        let total: f32 = columns.iter().map(|c| c.weight).sum();
        columns
            .iter()
            .map(|c| CONTENT_W * c.weight / total)
            .collect()
    }

    fn draw_header_row(&mut self, columns: &[Column], widths: &[f32]) {
        let cells: Vec<Vec<String>> = columns
            .iter()
            .zip(widths)
            .map(|(c, w)| wrap(&c.title, w - 2.0 * CELL_PAD, SIZE - 0.5, true))
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
        let h = lines as f32 * Self::line_h(SIZE - 0.5) + 2.0 * CELL_PAD;
        self.ops.push(Op::Fill {
            rects: vec![rect(MARGIN, self.y, CONTENT_W, h)],
            gray: 235,
        });
        let mut x = MARGIN;
        for ((column, w), cell) in columns.iter().zip(widths).zip(&cells) {
            for (i, line) in cell.iter().enumerate() {
                let lw = text_width(line, SIZE - 0.5, true);
                let lx = match column.align {
                    Align::Left => x + CELL_PAD,
                    Align::Right => x + w - CELL_PAD - lw,
                };
                let base = self.y + CELL_PAD + (SIZE - 0.5) + i as f32 * Self::line_h(SIZE - 0.5);
                self.text(lx, base, SIZE - 0.5, true, line);
            }
            x += w;
        }
        self.y += h;
        self.rule();
    }

    fn rule(&mut self) {
        self.rule_at(self.y);
    }

    fn rule_at(&mut self, y: f32) {
        self.ops.push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: MARGIN + CONTENT_W,
            y2: y,
        });
    }

    /// A table: the header row, then every row with its cells wrapped; the header is repeated at
    /// the top of each page the table continues on. Rows are consumed one at a time.
    pub(crate) fn table<I>(&mut self, columns: &[Column], rows: I)
    where
        I: IntoIterator<Item = Vec<String>>,
    {
        let widths = Self::widths(columns);
        self.ensure(3.0 * Self::line_h(SIZE) + 2.0 * CELL_PAD + 20.0);
        self.draw_header_row(columns, &widths);
        self.table_header = Some((columns.to_vec(), widths.clone()));
        for row in rows {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| wrap(text, w - 2.0 * CELL_PAD, SIZE, false))
                .collect();
            let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
            let lh = Self::line_h(SIZE);
            // Keep a row on one page when it fits on one; a longer row continues on the next.
            self.ensure(lines.min(40) as f32 * lh + 2.0 * CELL_PAD);
            self.flow(lines, lh, 2.0 * CELL_PAD, |out, range| {
                let mut x = MARGIN;
                for ((column, w), cell) in columns.iter().zip(&widths).zip(&cells) {
                    for (i, line) in cell.iter().enumerate().take(range.end).skip(range.start) {
                        let lw = text_width(line, SIZE, false);
                        let lx = match column.align {
                            Align::Left => x + CELL_PAD,
                            Align::Right => x + w - CELL_PAD - lw,
                        };
                        let base = out.y + CELL_PAD + SIZE + (i - range.start) as f32 * lh;
                        out.text(lx, base, SIZE, false, line);
                    }
                    x += w;
                }
                // The rule under the row's part on this page.
                out.rule_at(out.y + range.len() as f32 * lh + 2.0 * CELL_PAD);
            });
        }
        self.table_header = None;
    }

    /// QR codes side by side, each with a title above and its caption under it. `codes` gives
    /// the title, the dark modules (row-major, `n`×`n`), and the caption.
    pub(crate) fn qr_codes(&mut self, codes: &[(String, usize, Vec<bool>, String)]) {
        // 2 pt per module: a version-6 code (KOD I) is about 29 mm wide.
        let module = 2.0f32;
        let quiet = 4.0 * module;
        let max_n = codes.iter().map(|c| c.1).max().unwrap_or(0) as f32;
        let side = max_n * module + 2.0 * quiet;
        let h = 2.0 * Self::line_h(SIZE) + side + 3.0 * Self::line_h(SIZE);
        self.ensure(h);
        let col_w = CONTENT_W / codes.len().max(2) as f32;
        for (i, (title, n, dark, caption)) in codes.iter().enumerate() {
            let x0 = MARGIN + i as f32 * col_w;
            let mut y = self.y;
            for line in wrap(title, col_w - 8.0, SIZE, true) {
                self.text(x0, y + SIZE, SIZE, true, &line);
                y += Self::line_h(SIZE);
            }
            let y0 = y + quiet;
            let qx = x0 + quiet;
            let mut path = Vec::new();
            for row in 0..*n {
                // Merge horizontal runs of dark modules into one rectangle each.
                let mut col = 0;
                while col < *n {
                    if dark[row * n + col] {
                        let start = col;
                        while col < *n && dark[row * n + col] {
                            col += 1;
                        }
                        path.push(rect(
                            qx + start as f32 * module,
                            y0 + row as f32 * module,
                            (col - start) as f32 * module,
                            module,
                        ));
                    } else {
                        col += 1;
                    }
                }
            }
            self.ops.push(Op::Fill {
                rects: path,
                gray: 0,
            });
            let mut cy = y0 + *n as f32 * module + quiet;
            for line in wrap(caption, col_w - 8.0, SIZE, true) {
                self.text(x0 + quiet, cy + SIZE, SIZE, true, &line);
                cy += Self::line_h(SIZE);
            }
        }
        self.y += h;
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Rect {
    Rect::from_xywh(x, y, w.max(0.01), h.max(0.01)).expect("finite positive rectangle")
}
