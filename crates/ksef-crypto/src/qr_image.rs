//! PNG and SVG rendering of KSeF QR codes with their caption (feature `qr-image`).

use std::fmt::Write as _;

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};

use crate::error::{Error, Result};
use crate::qr::QrCaption;

/// Width of the quiet zone around the code, in modules (ISO/IEC 18004 asks for four).
const QUIET_ZONE: usize = 4;
/// Glyph cell of the PNG caption font: 5×7 pixels plus one column and two rows of spacing.
const GLYPH_W: usize = 5;
const GLYPH_H: usize = 7;
const CELL_W: usize = GLYPH_W + 1;

/// Pixels per module by default (the size the official C# client uses).
pub const DEFAULT_MODULE_PIXELS: u32 = 5;

/// A KSeF QR code (KOD I or KOD II) with the caption printed under it.
///
/// The code uses error correction level M and a four-module quiet zone. The caption is centred
/// under the code; the image is widened when the caption is wider than the code.
///
/// ```
/// use ksef_crypto::{QrCaption, QrImage};
///
/// # fn main() -> Result<(), ksef_crypto::Error> {
/// let image = QrImage::new("https://qr-test.ksef.mf.gov.pl/invoice/...", QrCaption::Offline)?;
/// let png: Vec<u8> = image.to_png(5)?;
/// let svg: String = image.to_svg(5);
/// assert!(png.starts_with(b"\x89PNG"));
/// assert!(svg.contains(">OFFLINE</text>"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrImage {
    width: usize,
    dark: Vec<bool>,
    caption: QrCaption,
}

impl QrImage {
    /// Encodes `link` as a QR code (error correction level M, the segment modes and the
    /// smallest version the `qrcode` crate picks, and the mask it would choose).
    ///
    /// # Errors
    ///
    /// [`Error::QrImage`] if the link is too long for a QR code.
    pub fn new(link: &str, caption: QrCaption) -> Result<Self> {
        let (width, dark) = encode(link.as_bytes())?;
        Ok(Self {
            width,
            dark,
            caption,
        })
    }

    /// Number of modules per side (without the quiet zone).
    pub fn modules(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; `false` outside the code.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// The caption.
    pub fn caption(&self) -> &QrCaption {
        &self.caption
    }

    fn layout(&self, module_pixels: u32) -> Layout {
        let module = module_pixels.max(1) as usize;
        let code_px = (self.width + 2 * QUIET_ZONE) * module;
        let chars = self.caption.text().chars().count().max(1);
        // Glyph pixel size: as large as a module if it fits the code's width, at least 2.
        let scale = (code_px / (chars * CELL_W)).clamp(2, module.max(2));
        let text_w = chars * CELL_W * scale;
        let width = code_px.max(text_w + 2 * module);
        let caption_h = (GLYPH_H + 2) * scale + module;
        Layout {
            module,
            code_px,
            code_x: (width - code_px) / 2,
            scale,
            text_w,
            width,
            height: code_px + caption_h,
        }
    }

    /// Renders an 8-bit greyscale PNG with `module_pixels` pixels per module (e.g.
    /// [`DEFAULT_MODULE_PIXELS`]); the caption is drawn with a built-in 5×7 pixel font.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidQrInput`] if the caption has characters other than digits, upper-case
    /// letters `A`–`Z`, `-` and space (which covers KSeF numbers, `OFFLINE` and `CERTYFIKAT`);
    /// [`Error::QrImage`] if PNG encoding fails.
    pub fn to_png(&self, module_pixels: u32) -> Result<Vec<u8>> {
        let l = self.layout(module_pixels);
        let mut pixels = vec![255u8; l.width * l.height];
        for y in 0..self.width {
            for x in 0..self.width {
                if self.is_dark(x, y) {
                    let px = l.code_x + (x + QUIET_ZONE) * l.module;
                    let py = (y + QUIET_ZONE) * l.module;
                    fill(&mut pixels, l.width, px, py, l.module, l.module);
                }
            }
        }
        let text_x = (l.width - l.text_w) / 2;
        let text_y = l.code_px;
        for (i, c) in self.caption.text().chars().enumerate() {
            let rows = glyph(c).ok_or(Error::InvalidQrInput {
                field: "caption",
                reason: "PNG captions support digits, A-Z, '-' and space",
            })?;
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (1 << (GLYPH_W - 1 - col)) != 0 {
                        let px = text_x + (i * CELL_W + col) * l.scale;
                        let py = text_y + row * l.scale;
                        fill(&mut pixels, l.width, px, py, l.scale, l.scale);
                    }
                }
            }
        }
        let png_error = |e: png::EncodingError| Error::QrImage {
            source: Box::new(e),
        };
        let mut out = Vec::new();
        // The layout sizes are a few thousand pixels at most, far below `u32::MAX`.
        let (w, h) = (
            u32::try_from(l.width).unwrap_or(u32::MAX),
            u32::try_from(l.height).unwrap_or(u32::MAX),
        );
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
        Ok(out)
    }

    /// Renders an SVG document with `module_pixels` user units per module; the caption is a
    /// `<text>` element in a monospace font (any characters, XML-escaped).
    pub fn to_svg(&self, module_pixels: u32) -> String {
        let l = self.layout(module_pixels);
        let mut svg = String::new();
        // Writing to a `String` cannot fail, so the `fmt::Result`s below are ignored.
        let _ = write!(
            svg,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" shape-rendering=\"crispEdges\">\n\
             <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n<path fill=\"#000000\" d=\"",
            w = l.width,
            h = l.height
        );
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let _ = write!(
                    svg,
                    "M{} {}h{}v{}h-{}z",
                    l.code_x + (start + QUIET_ZONE) * l.module,
                    (y + QUIET_ZONE) * l.module,
                    (x - start) * l.module,
                    l.module,
                    (x - start) * l.module
                );
            }
        }
        let _ = write!(
            svg,
            "\"/>\n<text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"{}\" \
             text-anchor=\"middle\" fill=\"#000000\">{}</text>\n</svg>\n",
            l.width / 2,
            l.code_px + GLYPH_H * l.scale,
            GLYPH_H * l.scale * 10 / 7,
            xml_escape(self.caption.text())
        );
        svg
    }
}

/// The eight mask patterns of a (full-size) QR code, in the order of their numbers.
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// The modules (row-major, dark = `true`) and width of the QR code of `data`: the `qrcode`
/// crate's segments, version, codewords and canvas, masked with the pattern of lowest penalty.
///
/// The `qrcode` crate chooses the mask the same way, by the same penalty, but scores each
/// candidate through a boxed closure per module; scoring the masked modules here as a flat
/// array is over ten times faster, and the PDF visualizations draw one code per invoice.
fn encode(data: &[u8]) -> Result<(usize, Vec<bool>)> {
    let failed = |e: qrcode::types::QrError| Error::QrImage {
        source: Box::new(e),
    };
    let bits = qrcode::bits::encode_auto(data, EcLevel::M).map_err(failed)?;
    let version = bits.version();
    let (codewords, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).map_err(failed)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let width = version.width().unsigned_abs() as usize;
    let mut best: Option<(u32, Vec<bool>)> = None;
    for mask in MASKS {
        let mut masked = canvas.clone();
        masked.apply_mask(mask);
        let dark: Vec<bool> = masked
            .into_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        let score = penalty(&dark, width);
        // The first pattern of the lowest score wins, as in the `qrcode` crate.
        if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
            best = Some((score, dark));
        }
    }
    let (_, dark) = best.expect("eight masks were scored");
    Ok((width, dark))
}

/// The mask penalty of ISO/IEC 18004 as the `qrcode` crate counts it (its balance term is
/// linear, not in 5 % steps; its finder term is offset by a constant, which changes no choice):
/// runs of five or more modules of one colour in a row or column, 2×2 blocks of one colour,
/// finder-like `#.###.#` runs without four light modules on one side, and the dark share.
fn penalty(dark: &[bool], w: usize) -> u32 {
    let at = |x: usize, y: usize, horizontal: bool| {
        if horizontal {
            dark[y * w + x]
        } else {
            dark[x * w + y]
        }
    };
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    let mut score = 0u32;
    for horizontal in [true, false] {
        for line in 0..w {
            // Runs.
            let mut run = 1u32;
            for i in 1..=w {
                if i < w && at(i, line, horizontal) == at(i - 1, line, horizontal) {
                    run += 1;
                } else {
                    if run >= 5 {
                        score += run - 2;
                    }
                    run = 1;
                }
            }
            // Finder-like patterns.
            for start in 0..w.saturating_sub(6) {
                if (0..7).any(|k| at(start + k, line, horizontal) != FINDER[k]) {
                    continue;
                }
                let before = (start.saturating_sub(4)..start).any(|k| at(k, line, horizontal));
                let after = (start + 7..(start + 11).min(w)).any(|k| at(k, line, horizontal));
                if !before || !after {
                    score += 40;
                }
            }
        }
    }
    for y in 0..w - 1 {
        for x in 0..w - 1 {
            let c = dark[y * w + x];
            if dark[y * w + x + 1] == c
                && dark[(y + 1) * w + x] == c
                && dark[(y + 1) * w + x + 1] == c
            {
                score += 3;
            }
        }
    }
    let dark_count = dark.iter().filter(|&&d| d).count();
    let ratio = dark_count * 200 / dark.len();
    score + ratio.abs_diff(100) as u32
}

struct Layout {
    module: usize,
    code_px: usize,
    code_x: usize,
    scale: usize,
    text_w: usize,
    width: usize,
    height: usize,
}

fn fill(pixels: &mut [u8], stride: usize, x: usize, y: usize, w: usize, h: usize) {
    for row in y..y + h {
        let start = row * stride + x;
        if let Some(line) = pixels.get_mut(start..start + w) {
            line.fill(0);
        }
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Rows of a 5×7 glyph, most significant of the five bits on the left.
fn glyph(c: char) -> Option<[u8; GLYPH_H]> {
    Some(match c {
        '0' => [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
        ],
        '1' => [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
        '2' => [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
        ],
        '3' => [
            0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
        ],
        '4' => [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
        ],
        '5' => [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
        ],
        '6' => [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
        ],
        '7' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
        ],
        '8' => [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
        ],
        '9' => [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
        ],
        'A' => [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
        'B' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
        ],
        'C' => [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
        ],
        'D' => [
            0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100,
        ],
        'E' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
        ],
        'F' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
        'G' => [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
        ],
        'H' => [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
        'I' => [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
        'J' => [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
        'K' => [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
        ],
        'L' => [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
        ],
        'M' => [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
        ],
        'N' => [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
        ],
        'O' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
        'P' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
        'Q' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
        ],
        'R' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
        ],
        'S' => [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
        'T' => [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
        'U' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
        'V' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
        ],
        'W' => [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
        ],
        'X' => [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
        ],
        'Y' => [
            0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100,
        ],
        'Z' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
        ],
        '-' => [0, 0, 0, 0b11111, 0, 0, 0],
        ' ' => [0; GLYPH_H],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `qrcode` crate's own choice, module for module.
    fn reference(data: &[u8]) -> (usize, Vec<bool>) {
        let code = qrcode::QrCode::with_error_correction_level(data, EcLevel::M).unwrap();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        (code.width(), dark)
    }

    #[test]
    fn same_code_as_the_qrcode_crate_chooses() {
        // KOD I and KOD II shaped links of every length a KSeF link takes, and short and long
        // texts (versions 1 to 25), so every mask wins somewhere.
        let mut masks_seen = std::collections::BTreeSet::new();
        let mut inputs: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "https://qr-test.ksef.mf.gov.pl/invoice/{:010}/{:02}-12-2026/{}",
                    5_265_877_635u64 + i * 7919,
                    1 + i % 28,
                    "UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
                        .chars()
                        .cycle()
                        .skip(i as usize)
                        .take(43)
                        .collect::<String>()
                )
            })
            .collect();
        inputs.extend((1..60).map(|n| "A1b2-".repeat(n)));
        for input in &inputs {
            let ours = encode(input.as_bytes()).unwrap();
            assert_eq!(ours, reference(input.as_bytes()), "{input}");
            // Which mask won: the format bits next to the top-left finder differ per mask.
            masks_seen.insert((0..9).map(|x| ours.1[8 * ours.0 + x]).collect::<Vec<_>>());
        }
        assert!(
            masks_seen.len() >= 6,
            "only {} masks chosen",
            masks_seen.len()
        );
    }
}
