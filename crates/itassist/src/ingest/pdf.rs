//! PDF loader: the text layer of each page (pdf-extract), OCR for pages without one.
//!
//! pdf-extract interprets the content streams and reports every glyph with its position; a
//! [`PageCollector`] turns the glyphs of a page into lines and words. Words are split where
//! the gap between two glyphs is wider than a fraction of the font size, and lines where the
//! baseline moves, which follows poppler's `pdftotext` closely. pdf-extract may panic on
//! unusual files: each call is isolated with `catch_unwind`, first for the whole document,
//! then page by page, so one bad page costs only that page.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use pdf_extract::{Document, MediaBox, Object, OutputDev, OutputError, Transform};

use super::{ocr, Format, LoadOptions, LoadedDocument, Section};
use crate::error::{Error, Result};

/// Gap between glyphs, as a fraction of the font size, above which a space is inserted.
const WORD_GAP: f64 = 0.15;

/// One glyph (or decoded string for a character code) placed on the page.
#[derive(Debug, Clone)]
struct Glyph {
    x: f64,
    y: f64,
    end_x: f64,
    size: f64,
    text: String,
}

/// Collects glyphs page by page.
#[derive(Default)]
struct PageCollector {
    pages: Vec<(u32, Vec<Glyph>)>,
    current: Vec<Glyph>,
    page_num: u32,
}

impl OutputDev for PageCollector {
    fn begin_page(
        &mut self,
        page_num: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.current.clear();
        self.page_num = page_num;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        let glyphs = std::mem::take(&mut self.current);
        self.pages.push((self.page_num, glyphs));
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        // Device space, y growing downwards.
        let x = trm.m31;
        let y = -trm.m32;
        let scale_x = (trm.m11 * trm.m11 + trm.m12 * trm.m12).sqrt();
        let scale_y = (trm.m21 * trm.m21 + trm.m22 * trm.m22).sqrt();
        let size = (font_size * scale_y).abs();
        let advance = width * font_size + if char == " " { 0.0 } else { spacing.max(0.0) };
        let end_x = x + advance * scale_x * trm.m11.signum();
        if !(x.is_finite() && y.is_finite() && end_x.is_finite() && size.is_finite()) {
            return Ok(());
        }
        self.current.push(Glyph {
            x,
            y,
            end_x,
            size: if size > 0.0 { size } else { 1.0 },
            text: char.to_string(),
        });
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Lays the glyphs of one page out as text, in content-stream order.
fn layout(glyphs: &[Glyph]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Glyph> = None;
    // Glyphs already placed on the current line: (x, text), to drop fake-bold overprints.
    let mut line_glyphs: Vec<(f64, f64, &str)> = Vec::new();
    for g in glyphs {
        let is_space = g.text.chars().all(char::is_whitespace);
        if let Some(p) = prev {
            let size = p.size.max(g.size).max(0.1);
            let dy = (g.y - p.y).abs();
            if dy > size * 0.5 {
                out.push('\n');
                if dy > size * 2.0 {
                    out.push('\n');
                }
                line_glyphs.clear();
            } else if !is_space {
                // Same glyph drawn again at (almost) the same place: fake bold or shadow.
                if line_glyphs.iter().rev().take(64).any(|&(x, y, t)| {
                    t == g.text && (x - g.x).abs() < size * 0.2 && (y - g.y).abs() < size * 0.2
                }) {
                    continue;
                }
                let gap = g.x - p.end_x;
                if gap > size * WORD_GAP || gap < -size * 1.0 {
                    out.push(' ');
                }
            }
        }
        if is_space {
            out.push(' ');
        } else {
            for c in g.text.chars() {
                // Drop the NULs and other controls some fonts map their glyphs to.
                if !c.is_control() {
                    out.push(c);
                }
            }
        }
        line_glyphs.push((g.x, g.y, g.text.as_str()));
        prev = Some(g);
    }
    out
}

/// Loads a PDF: one section per page with text, OCR for pages without a text layer.
pub(crate) fn load(path: &Path, bytes: &[u8], options: &LoadOptions) -> Result<LoadedDocument> {
    let corrupt = |reason: String| Error::CorruptDocument {
        path: path.to_path_buf(),
        format: "pdf".into(),
        reason,
        source: None,
    };
    let doc = match catch_unwind(AssertUnwindSafe(|| Document::load_mem(bytes))) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(Error::corrupt(path, "pdf", e)),
        Err(_) => return Err(corrupt("the PDF parser failed on this file".into())),
    };
    let mut doc = doc;
    if doc.is_encrypted() {
        // Many PDFs are "encrypted" with an empty user password (printing restrictions).
        let decrypted = catch_unwind(AssertUnwindSafe(|| doc.decrypt("")));
        match decrypted {
            Ok(Ok(())) => {}
            _ => return Err(corrupt("the PDF is encrypted with a password".into())),
        }
    }
    let pages = match catch_unwind(AssertUnwindSafe(|| doc.get_pages())) {
        Ok(p) => p,
        Err(_) => return Err(corrupt("cannot read the page tree".into())),
    };
    if pages.is_empty() {
        return Err(corrupt("the PDF has no pages".into()));
    }
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);

    let texts = extract_pages(&doc, &pages);
    let title = pdf_title(&doc);

    let mut sections = Vec::new();
    let mut need_ocr = Vec::new();
    let mut failed_pages = 0usize;
    for (&num, &id) in &pages {
        match texts.get(&num) {
            Some(text) => {
                let text = super::clean_text(text);
                if has_words(&text) {
                    sections.push(Section {
                        page: Some(num),
                        heading: None,
                        text,
                    });
                } else if page_has_images(&doc, id) {
                    need_ocr.push(num);
                }
            }
            None => {
                failed_pages += 1;
                if page_has_images(&doc, id) {
                    need_ocr.push(num);
                }
            }
        }
    }

    let mut ocr_pages = Vec::new();
    if !need_ocr.is_empty() && options.ocr {
        match ocr::ocr_pdf_pages(path, bytes, &need_ocr, options) {
            Ok(results) => {
                for (num, text) in results {
                    let text = super::clean_text(&text);
                    ocr_pages.push(num);
                    if !text.trim().is_empty() {
                        sections.push(Section {
                            page: Some(num),
                            heading: None,
                            text,
                        });
                    }
                }
                sections.sort_by_key(|s| s.page);
            }
            // Without OCR tools a scanned document cannot be read at all; a document with
            // a few scanned pages still gives the text of the others.
            Err(e) if sections.is_empty() => return Err(e),
            Err(_) => {}
        }
    }

    if sections.is_empty() {
        let reason = if failed_pages == pages.len() {
            return Err(corrupt("no page could be read".into()));
        } else if !need_ocr.is_empty() && !options.ocr {
            "the pages have no text layer and OCR is disabled".to_string()
        } else if !need_ocr.is_empty() {
            "OCR found no text on the scanned pages".to_string()
        } else {
            "the pages have no text layer".to_string()
        };
        return Err(Error::EmptyDocument {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok(LoadedDocument {
        format: Format::Pdf,
        title,
        page_count: Some(page_count),
        sections,
        ocr_pages,
    })
}

/// Text of each page that could be extracted, by page number.
fn extract_pages(
    doc: &Document,
    pages: &std::collections::BTreeMap<u32, pdf_extract::ObjectId>,
) -> std::collections::BTreeMap<u32, String> {
    let mut texts = std::collections::BTreeMap::new();
    // Whole document in one pass (fonts are parsed once per page either way).
    let mut collector = PageCollector::default();
    let whole = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::output_doc(doc, &mut collector)
    }));
    if let Ok(Ok(())) = whole {
        for (num, glyphs) in &collector.pages {
            texts.insert(*num, layout(glyphs));
        }
        if texts.len() == pages.len() {
            return texts;
        }
    }
    // Something failed: page by page, keeping the pages that work.
    texts.clear();
    for &num in pages.keys() {
        let mut collector = PageCollector::default();
        let result = catch_unwind(AssertUnwindSafe(|| {
            pdf_extract::output_doc_page(doc, &mut collector, num)
        }));
        if let Ok(Ok(())) = result {
            if let Some((_, glyphs)) = collector.pages.first() {
                texts.insert(num, layout(glyphs));
            }
        }
    }
    texts
}

/// At least one letter or digit: a page of only punctuation or spaces counts as empty.
fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Does the page draw images (XObjects or inline images)? Only such pages are sent to OCR.
fn page_has_images(doc: &Document, page_id: pdf_extract::ObjectId) -> bool {
    let found = catch_unwind(AssertUnwindSafe(|| {
        if let Ok((dict, inherited)) = doc.get_page_resources(page_id) {
            let mut dicts: Vec<&pdf_extract::Dictionary> = dict.into_iter().collect();
            for id in inherited {
                if let Ok(d) = doc.get_dictionary(id) {
                    dicts.push(d);
                }
            }
            for d in dicts {
                if let Ok(xobjects) = d.get(b"XObject") {
                    let xobjects = match xobjects {
                        Object::Reference(id) => doc.get_dictionary(*id).ok(),
                        Object::Dictionary(d) => Some(d),
                        _ => None,
                    };
                    if xobjects.is_some_and(|x| !x.is_empty()) {
                        return true;
                    }
                }
            }
        }
        doc.get_page_content(page_id)
            .map(|c| c.windows(3).any(|w| w == b"BI\n" || w == b"BI " || w == b"BI\r"))
            .unwrap_or(false)
    }));
    found.unwrap_or(false)
}

/// The document title from the Info dictionary, if it has a usable one.
fn pdf_title(doc: &Document) -> Option<String> {
    let title = catch_unwind(AssertUnwindSafe(|| {
        let info = match doc.trailer.get(b"Info").ok()? {
            Object::Reference(id) => doc.get_dictionary(*id).ok()?,
            Object::Dictionary(d) => d,
            _ => return None,
        };
        match info.get(b"Title").ok()? {
            Object::String(bytes, _) => Some(decode_pdf_string(bytes)),
            Object::Reference(id) => match doc.get_object(*id).ok()? {
                Object::String(bytes, _) => Some(decode_pdf_string(bytes)),
                _ => None,
            },
            _ => None,
        }
    }))
    .ok()
    .flatten()?;
    let title = super::one_line(&title);
    if title.is_empty() || title.eq_ignore_ascii_case("untitled") {
        None
    } else {
        Some(title)
    }
}

/// A PDF text string: UTF-16BE with a BOM, UTF-8 with a BOM, else PDFDocEncoding (~Latin-1).
fn decode_pdf_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        return char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| b as char).collect()
}
