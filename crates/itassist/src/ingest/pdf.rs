//! PDF loader: the text layer of each page (pdf-extract), OCR for pages without one.
//!
//! pdf-extract interprets the content streams and reports every glyph with its position; a
//! [`PageCollector`] turns the glyphs of a page into lines and words. Words are split where
//! the gap between two glyphs is wider than a fraction of the font size, and lines where the
//! baseline moves, which follows poppler's `pdftotext` closely. pdf-extract may panic on
//! unusual files: each call is isolated with `catch_unwind` ([`quietly`], which also keeps
//! the panic from being printed), first for the whole document, then page by page, so one
//! bad page costs only that page. A page whose text cannot be extracted is read by OCR
//! instead, and a [`LoadNote`] says so.
//!
//! The collector checks the document's [`Budget`] for every glyph: past the text limit or
//! the deadline it stops pdf-extract with an error.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use pdf_extract::{Document, MediaBox, Object, OutputDev, OutputError, Transform};

use super::{ocr, Budget, Format, LoadNote, LoadOptions, LoadedDocument, NoteKind, Section};
use crate::error::{Error, Result};

thread_local! {
    /// How many [`quietly`] calls are running on this thread.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

/// Installs (once per process) a panic hook that stays silent while [`quietly`] runs on the
/// panicking thread and hands every other panic to the hook that was there before.
fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = QUIET.try_with(Cell::get).unwrap_or(0) > 0;
            if quiet {
                tracing::debug!("PDF parser panicked (caught): {info}");
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` (a call into lopdf or pdf-extract), catching a panic without printing it.
/// Panics elsewhere, on other threads or outside such calls, are printed as usual.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    install_quiet_hook();
    QUIET.with(|q| q.set(q.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get().saturating_sub(1)));
    result
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown error".into())
}

/// Text budget charged for each glyph of the page being collected (glyphs are kept until
/// the page ends, and cost more memory than their text).
const GLYPH_COST: usize = 32;

/// Gap between glyphs, as a fraction of the font size, above which a space is inserted.
const WORD_GAP: f64 = 0.15;

/// One glyph (or the string decoded for one character code) placed on the page.
#[derive(Debug, Clone)]
struct Glyph {
    /// Origin, in PDF user space (y grows upwards).
    x: f64,
    y: f64,
    /// Where the next glyph of the same word would start.
    end_x: f64,
    end_y: f64,
    /// Unit vector of the writing direction.
    dir: (f64, f64),
    /// Font size in device units.
    size: f64,
    text: String,
}

/// Collects glyphs page by page and lays each page out when it ends, within the budget.
struct PageCollector<'b> {
    /// (page number, text) of the finished pages.
    pages: Vec<(u32, String)>,
    current: Vec<Glyph>,
    page_num: u32,
    budget: &'b Budget,
    /// Text of the finished pages, plus what earlier collectors produced.
    text_bytes: usize,
    /// The budget error that stopped pdf-extract, if one did.
    stopped: Option<Error>,
}

impl<'b> PageCollector<'b> {
    fn new(budget: &'b Budget, text_bytes: usize) -> Self {
        PageCollector {
            pages: Vec::new(),
            current: Vec::new(),
            page_num: 0,
            budget,
            text_bytes,
            stopped: None,
        }
    }

    /// Checks the budget; on failure keeps the reason and stops pdf-extract.
    fn charge(&mut self) -> Result<(), OutputError> {
        let pending = self.current.len().saturating_mul(GLYPH_COST);
        match self.budget.check(self.text_bytes.saturating_add(pending)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stopped = Some(e);
                Err(OutputError::FormatError(std::fmt::Error))
            }
        }
    }
}

impl OutputDev for PageCollector<'_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.current.clear();
        self.page_num = page_num;
        if let Err(e) = self.budget.check_time() {
            self.stopped = Some(e);
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        let glyphs = std::mem::take(&mut self.current);
        let text = layout(&glyphs);
        self.text_bytes += text.len();
        self.pages.push((self.page_num, text));
        self.charge()
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        // The text rendering matrix maps glyph space (scaled by the font size) to the page.
        // Its first row is the writing direction, its second the "up" direction. The
        // character spacing (`_spacing`) is left out of the advance on purpose: some
        // producers (groff via Ghostscript) set it and take it back with TJ offsets, and
        // counting it would hide the real gaps between words.
        let (ax, ay) = (trm.m11, trm.m12);
        let along = (ax * ax + ay * ay).sqrt();
        let up = (trm.m21 * trm.m21 + trm.m22 * trm.m22).sqrt();
        let size = (font_size * up).abs();
        let advance = width * font_size;
        let (x, y) = (trm.m31, trm.m32);
        let dir = if along > 0.0 {
            (ax / along, ay / along)
        } else {
            (1.0, 0.0)
        };
        let end_x = x + advance * ax;
        let end_y = y + advance * ay;
        if ![x, y, end_x, end_y, size, dir.0, dir.1]
            .iter()
            .all(|v| v.is_finite())
        {
            return Ok(());
        }
        self.current.push(Glyph {
            x,
            y,
            end_x,
            end_y,
            dir,
            size: if size > 0.0 { size } else { 1.0 },
            text: char.to_string(),
        });
        self.charge()
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
///
/// A glyph starts a new line when it is off the line of the previous one (measured across
/// the writing direction, so rotated text works too), and a new word when the gap along
/// the line is wider than [`WORD_GAP`] of the font size or it jumps back.
fn layout(glyphs: &[Glyph]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Glyph> = None;
    // Glyphs already placed on the current line, to drop fake-bold overprints.
    let mut line_glyphs: Vec<&Glyph> = Vec::new();
    for g in glyphs {
        let is_space = g.text.chars().all(char::is_whitespace);
        if let Some(p) = prev {
            let size = p.size.max(g.size).max(0.1);
            let (dx, dy) = (g.x - p.end_x, g.y - p.end_y);
            let same_dir = (p.dir.0 * g.dir.0 + p.dir.1 * g.dir.1) > 0.99;
            let gap = dx * p.dir.0 + dy * p.dir.1;
            let off_line = (dy * p.dir.0 - dx * p.dir.1).abs();
            if !same_dir || off_line > size * 0.5 {
                out.push('\n');
                if off_line > size * 2.0 {
                    out.push('\n');
                }
                line_glyphs.clear();
            } else if !is_space {
                // The same glyph drawn again at (almost) the same place: fake bold, shadow.
                let tolerance = size * 0.2;
                if line_glyphs.iter().rev().take(64).any(|o| {
                    o.text == g.text
                        && (o.x - g.x).abs() < tolerance
                        && (o.y - g.y).abs() < tolerance
                }) {
                    continue;
                }
                if gap > size * WORD_GAP || gap < -size {
                    out.push(' ');
                }
            }
        }
        if is_space {
            out.push(' ');
        } else {
            // Drop the NULs and other controls some fonts map their glyphs to.
            out.extend(g.text.chars().filter(|c| !c.is_control()));
        }
        line_glyphs.push(g);
        prev = Some(g);
    }
    dehyphenate(&out)
}

/// Joins words hyphenated at the end of a line ("com-" + "mand"), as `pdftotext` does.
fn dehyphenate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let mut current = line.trim_end().to_string();
        loop {
            let mut rev = current.chars().rev();
            let hyphenated = rev.next() == Some('-') && rev.next().is_some_and(char::is_alphabetic);
            let next_lower = lines
                .peek()
                .and_then(|n| n.trim_start().chars().next())
                .is_some_and(char::is_lowercase);
            match lines.peek() {
                Some(next) if hyphenated && next_lower => {
                    current.pop();
                    current.push_str(next.trim_start().trim_end());
                    lines.next();
                }
                _ => break,
            }
        }
        out.push_str(&current);
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

/// Loads a PDF: one section per page with text; OCR for pages without a text layer and for
/// pages whose text cannot be extracted.
pub(crate) fn load(
    path: &Path,
    bytes: &[u8],
    options: &LoadOptions,
    budget: &Budget,
) -> Result<LoadedDocument> {
    let corrupt = |reason: String| Error::CorruptDocument {
        path: path.to_path_buf(),
        format: "pdf".into(),
        reason,
        source: None,
    };
    let doc = match quietly(|| Document::load_mem(bytes)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(Error::corrupt(path, "pdf", e)),
        Err(panic) => {
            return Err(corrupt(format!(
                "the PDF parser failed on this file ({})",
                panic_message(panic.as_ref())
            )))
        }
    };
    budget.check_time()?;
    let mut doc = doc;
    if doc.is_encrypted() {
        // Many PDFs are "encrypted" with an empty user password (printing restrictions).
        match quietly(|| doc.decrypt("")) {
            Ok(Ok(())) => {}
            _ => return Err(corrupt("the PDF is encrypted with a password".into())),
        }
    }
    let pages = match quietly(|| doc.get_pages()) {
        Ok(p) => p,
        Err(_) => return Err(corrupt("cannot read the page tree".into())),
    };
    if pages.is_empty() {
        return Err(corrupt("the PDF has no pages".into()));
    }
    // Make the document safe for pdf-extract: panics are caught, but endless recursion
    // (a stack overflow) would abort the process.
    let _ = quietly(|| {
        repair_to_unicode_cmaps(&mut doc);
        break_xobject_cycles(&mut doc);
        repair_page_tree(&mut doc, pages.values().copied());
    });
    budget.check_time()?;
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);

    let extraction = extract_pages(&doc, &pages, budget)?;
    let title = pdf_title(&doc);

    let mut sections = Vec::new();
    // Pages to OCR: scans (no text, images), and pages whose extraction failed.
    let mut scanned = Vec::new();
    let mut failed: BTreeMap<u32, String> = BTreeMap::new();
    for (&num, &id) in &pages {
        budget.check_time()?;
        match extraction.texts.get(&num) {
            Some(text) => {
                let text = super::clean_text(text);
                if has_words(&text) {
                    sections.push(Section {
                        page: Some(num),
                        heading: None,
                        text,
                    });
                } else if page_has_images(&doc, id) {
                    scanned.push(num);
                }
            }
            None => {
                let reason = extraction
                    .failures
                    .get(&num)
                    .cloned()
                    .unwrap_or_else(|| "no output".into());
                failed.insert(num, reason);
            }
        }
    }

    let mut notes = Vec::new();
    let mut ocr_pages = Vec::new();
    let mut need_ocr: Vec<u32> = scanned
        .iter()
        .copied()
        .chain(failed.keys().copied())
        .collect();
    need_ocr.sort_unstable();
    if !need_ocr.is_empty() && options.ocr {
        match budget.paused(|| ocr::ocr_pdf_pages(path, bytes, &need_ocr, options)) {
            Ok(results) => {
                let mut ocr_errors: Vec<(u32, Error)> = Vec::new();
                for (num, result) in results {
                    match result {
                        Ok(text) => {
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
                        Err(e) => ocr_errors.push((num, e)),
                    }
                }
                sections.sort_by_key(|s| s.page);
                let read_scans: Vec<u32> = scanned
                    .iter()
                    .copied()
                    .filter(|p| ocr_pages.contains(p))
                    .collect();
                if !read_scans.is_empty() {
                    notes.push(LoadNote {
                        kind: NoteKind::OcrNoTextLayer,
                        message: format!(
                            "{} no text layer and {} read by OCR",
                            has_pages(&read_scans),
                            were(&read_scans)
                        ),
                        pages: read_scans,
                    });
                }
                let read_failed: Vec<u32> = failed
                    .keys()
                    .copied()
                    .filter(|p| ocr_pages.contains(p))
                    .collect();
                if !read_failed.is_empty() {
                    notes.push(LoadNote {
                        kind: NoteKind::OcrAfterExtractionFailed,
                        message: format!(
                            "{} read by OCR because the text could not be extracted ({})",
                            pages_were(&read_failed),
                            reasons(&failed, &read_failed)
                        ),
                        pages: read_failed,
                    });
                }
                if !ocr_errors.is_empty() {
                    if sections.is_empty() {
                        if let Some((_, e)) = ocr_errors.into_iter().next() {
                            return Err(e);
                        }
                    } else {
                        let pages: Vec<u32> = ocr_errors.iter().map(|(p, _)| *p).collect();
                        let first = ocr_errors
                            .first()
                            .map(|(_, e)| e.to_string())
                            .unwrap_or_default();
                        notes.push(LoadNote {
                            kind: NoteKind::OcrFailed,
                            message: format!(
                                "OCR failed on {}, whose text is missing: {first}",
                                super::describe_pages(&pages)
                            ),
                            pages,
                        });
                    }
                }
            }
            // Without OCR tools a scanned document cannot be read at all; a document with
            // a few scanned pages still gives the text of the others.
            Err(e) if sections.is_empty() => return Err(e),
            Err(e) => notes.push(LoadNote {
                kind: NoteKind::PagesSkipped,
                message: format!(
                    "{} skipped because they need OCR and it could not run: {e}",
                    pages_were(&need_ocr)
                ),
                pages: need_ocr.clone(),
            }),
        }
    } else if !failed.is_empty() && !sections.is_empty() {
        let pages: Vec<u32> = failed.keys().copied().collect();
        notes.push(LoadNote {
            kind: NoteKind::PagesSkipped,
            message: format!(
                "{} skipped: the text could not be extracted ({}) and OCR is disabled",
                pages_were(&pages),
                reasons(&failed, &pages)
            ),
            pages,
        });
    }

    if sections.is_empty() {
        let reason = if failed.len() == pages.len() {
            return Err(corrupt(format!(
                "no page could be read ({})",
                reasons(&failed, &failed.keys().copied().collect::<Vec<_>>())
            )));
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
    let mut loaded = LoadedDocument::new(Format::Pdf, title, sections);
    loaded.page_count = Some(page_count);
    loaded.ocr_pages = ocr_pages;
    loaded.notes = notes;
    Ok(loaded)
}

/// "page 3 has" / "pages 1-3 have".
fn has_pages(pages: &[u32]) -> String {
    let verb = if pages.len() == 1 { "has" } else { "have" };
    format!("{} {verb}", super::describe_pages(pages))
}

/// "was" / "were".
fn were(pages: &[u32]) -> &'static str {
    if pages.len() == 1 {
        "was"
    } else {
        "were"
    }
}

/// "page 3 was" / "pages 1-3 were".
fn pages_were(pages: &[u32]) -> String {
    format!("{} {}", super::describe_pages(pages), were(pages))
}

/// The distinct failure reasons of `pages`, at most three.
fn reasons(failures: &BTreeMap<u32, String>, pages: &[u32]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for page in pages {
        if let Some(reason) = failures.get(page) {
            if !distinct.contains(&reason.as_str()) {
                distinct.push(reason);
            }
        }
    }
    let more = distinct.len() > 3;
    distinct.truncate(3);
    let mut out = distinct.join("; ");
    if more {
        out.push_str("; ...");
    }
    out
}

/// Text of the pages that could be extracted, and why the others could not.
struct Extraction {
    texts: BTreeMap<u32, String>,
    failures: BTreeMap<u32, String>,
}

/// Extracts the text of every page, within the budget: the whole document in one pass, or
/// page by page when that fails (keeping the pages that work).
fn extract_pages(
    doc: &Document,
    pages: &BTreeMap<u32, pdf_extract::ObjectId>,
    budget: &Budget,
) -> Result<Extraction> {
    let mut texts = BTreeMap::new();
    let mut failures = BTreeMap::new();
    // Whole document in one pass (fonts are parsed once per page either way).
    let mut collector = PageCollector::new(budget, 0);
    let whole = quietly(|| pdf_extract::output_doc(doc, &mut collector));
    if let Some(e) = collector.stopped.take() {
        return Err(e);
    }
    if let Ok(Ok(())) = whole {
        texts.extend(collector.pages);
        if texts.len() == pages.len() {
            return Ok(Extraction { texts, failures });
        }
    }
    // Something failed: page by page.
    texts.clear();
    let mut text_bytes = 0usize;
    for &num in pages.keys() {
        budget.check_time()?;
        let mut collector = PageCollector::new(budget, text_bytes);
        let result = quietly(|| pdf_extract::output_doc_page(doc, &mut collector, num));
        if let Some(e) = collector.stopped.take() {
            return Err(e);
        }
        match result {
            Ok(Ok(())) => match collector.pages.pop() {
                Some((_, text)) => {
                    text_bytes += text.len();
                    texts.insert(num, text);
                }
                None => {
                    failures.insert(num, "the page gave no output".to_string());
                }
            },
            Ok(Err(e)) => {
                failures.insert(num, format!("the text extractor failed: {e}"));
            }
            Err(panic) => {
                failures.insert(
                    num,
                    format!(
                        "the text extractor crashed: {}",
                        panic_message(panic.as_ref())
                    ),
                );
            }
        }
    }
    Ok(Extraction { texts, failures })
}

/// Is this ToUnicode CMap one pdf-extract can use without panicking?
fn cmap_usable(cmap: &[u8]) -> bool {
    match quietly(|| adobe_cmap_parser::get_unicode_map(cmap)) {
        Ok(Ok(map)) => map.values().all(|v| v.len() % 2 == 0),
        _ => false,
    }
}

/// Pads odd-length destination strings of `bfchar`/`bfrange` entries to whole UTF-16 units
/// (`<C5>` becomes `<00C5>`, a bug of some TeX fonts) and drops ranges whose destination is
/// longer than one code unit pair. `None` when there is nothing to fix.
fn fix_cmap(cmap: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(cmap);
    let mut out = String::with_capacity(text.len() + 64);
    #[derive(PartialEq)]
    enum Mode {
        Other,
        Char,
        Range,
    }
    let mut mode = Mode::Other;
    let mut changed = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with("beginbfchar") {
            mode = Mode::Char;
        } else if trimmed.ends_with("beginbfrange") {
            mode = Mode::Range;
        } else if trimmed == "endbfchar" || trimmed == "endbfrange" {
            mode = Mode::Other;
        } else if mode != Mode::Other && trimmed.starts_with('<') {
            let hexes: Vec<&str> = trimmed
                .split(['<', '>'])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            let wanted = if mode == Mode::Char { 2 } else { 3 };
            if hexes.len() == wanted
                && hexes
                    .iter()
                    .all(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            {
                let mut dst = hexes[wanted - 1].to_string();
                if dst.len().is_multiple_of(4) && (mode == Mode::Char || dst.len() <= 8) {
                    out.push_str(line);
                    out.push('\n');
                    continue;
                }
                changed = true;
                while !dst.len().is_multiple_of(4) {
                    dst.insert(0, '0');
                }
                if mode == Mode::Range && dst.len() > 8 {
                    continue;
                }
                let src: Vec<String> = hexes[..wanted - 1]
                    .iter()
                    .map(|h| format!("<{h}>"))
                    .collect();
                out.push_str(&format!("{} <{dst}>\n", src.join(" ")));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    changed.then(|| out.into_bytes())
}

/// Repairs (or, failing that, drops) ToUnicode CMaps that would make pdf-extract panic, so
/// that a font with a broken CMap costs at most its own characters, not whole pages.
fn repair_to_unicode_cmaps(doc: &mut Document) {
    let mut cmap_ids = std::collections::BTreeSet::new();
    for object in doc.objects.values() {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        if let Ok(Object::Reference(id)) = dict.get(b"ToUnicode") {
            cmap_ids.insert(*id);
        }
    }
    let mut broken = std::collections::BTreeSet::new();
    for id in cmap_ids {
        let Some(Object::Stream(stream)) = doc.objects.get_mut(&id) else {
            continue;
        };
        let content = match quietly(|| stream.decompressed_content()) {
            Ok(Ok(c)) => c,
            _ if stream.dict.get(b"Filter").is_err() => stream.content.clone(),
            _ => continue,
        };
        // Fix what is known to break the parser first: its panics would be printed.
        match fix_cmap(&content) {
            Some(fixed) if cmap_usable(&fixed) => stream.set_plain_content(fixed),
            Some(_) => {
                broken.insert(id);
            }
            None if cmap_usable(&content) => {}
            None => {
                broken.insert(id);
            }
        }
    }
    if broken.is_empty() {
        return;
    }
    for object in doc.objects.values_mut() {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &mut s.dict,
            _ => continue,
        };
        let is_broken =
            matches!(dict.get(b"ToUnicode"), Ok(Object::Reference(id)) if broken.contains(id));
        if is_broken {
            dict.remove(b"ToUnicode");
        }
    }
}

/// The XObject dictionary of a resources object (direct or referenced), as object ids.
fn xobject_ids(doc: &Document, resources: &Object) -> Vec<pdf_extract::ObjectId> {
    let resources = match resources {
        Object::Reference(id) => match doc.get_object(*id) {
            Ok(Object::Dictionary(d)) => d,
            _ => return Vec::new(),
        },
        Object::Dictionary(d) => d,
        _ => return Vec::new(),
    };
    let xobjects = match resources.get(b"XObject") {
        Ok(Object::Reference(id)) => match doc.get_object(*id) {
            Ok(Object::Dictionary(d)) => d,
            _ => return Vec::new(),
        },
        Ok(Object::Dictionary(d)) => d,
        _ => return Vec::new(),
    };
    xobjects
        .iter()
        .filter_map(|(_, v)| v.as_reference().ok())
        .collect()
}

/// Does a content stream use the `Do` operator?
fn invokes_xobjects(content: &[u8]) -> bool {
    content.windows(4).any(|w| {
        w[0].is_ascii_whitespace()
            && &w[1..3] == b"Do"
            && (w[3].is_ascii_whitespace() || w[3] == b'%')
    }) || content.ends_with(b" Do")
}

/// Empties form XObjects that invoke themselves directly or through other forms:
/// pdf-extract would recurse without end.
fn break_xobject_cycles(doc: &mut Document) {
    use std::collections::{BTreeMap, BTreeSet};
    // Forms, whether they draw other XObjects, and their own resources.
    let mut forms: BTreeMap<pdf_extract::ObjectId, Option<Vec<pdf_extract::ObjectId>>> =
        BTreeMap::new();
    // XObject sets of every resources dictionary, to resolve forms without resources.
    let mut resource_sets: Vec<Vec<pdf_extract::ObjectId>> = Vec::new();
    for (&id, object) in &doc.objects {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        if let Ok(resources) = dict.get(b"Resources") {
            resource_sets.push(xobject_ids(doc, resources));
        }
        if let Object::Stream(stream) = object {
            let is_form =
                matches!(stream.dict.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Form");
            if is_form {
                let content = stream
                    .decompressed_content()
                    .unwrap_or_else(|_| stream.content.clone());
                let own = stream
                    .dict
                    .get(b"Resources")
                    .ok()
                    .map(|r| xobject_ids(doc, r));
                if invokes_xobjects(&content) {
                    forms.insert(id, Some(own.unwrap_or_default()));
                    if stream.dict.get(b"Resources").is_err() {
                        // Resolved below through the dictionaries that list this form.
                        forms.insert(id, None);
                    }
                } else {
                    forms.insert(id, Some(Vec::new()));
                }
            }
        }
    }
    let edges: BTreeMap<pdf_extract::ObjectId, Vec<pdf_extract::ObjectId>> = forms
        .iter()
        .map(|(&id, own)| {
            let targets = match own {
                Some(list) => list.clone(),
                None => resource_sets
                    .iter()
                    .filter(|set| set.contains(&id))
                    .flatten()
                    .copied()
                    .collect(),
            };
            (
                id,
                targets
                    .into_iter()
                    .filter(|t| forms.contains_key(t))
                    .collect(),
            )
        })
        .collect();
    // Iterative depth-first search; a form reached again while on the path is on a cycle.
    let mut state: BTreeMap<pdf_extract::ObjectId, u8> = BTreeMap::new(); // 1 open, 2 done
    let mut on_cycle = BTreeSet::new();
    for &start in edges.keys() {
        if state.contains_key(&start) {
            continue;
        }
        let mut stack: Vec<(pdf_extract::ObjectId, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, next)) = stack.last().copied() {
            let targets = edges.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            if next < targets.len() {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let target = targets[next];
                match state.get(&target) {
                    Some(1) => {
                        on_cycle.insert(target);
                        on_cycle.insert(node);
                    }
                    Some(_) => {}
                    None => {
                        state.insert(target, 1);
                        stack.push((target, 0));
                    }
                }
            } else {
                state.insert(node, 2);
                stack.pop();
            }
        }
    }
    for id in on_cycle {
        if let Some(Object::Stream(stream)) = doc.objects.get_mut(&id) {
            stream.set_plain_content(Vec::new());
        }
    }
}

/// Cuts cycles in the `Parent` chain of pages (pdf-extract follows it without a limit)
/// and gives pages without a MediaBox the US Letter one (pdf-extract requires it).
fn repair_page_tree(doc: &mut Document, pages: impl Iterator<Item = pdf_extract::ObjectId>) {
    for page in pages {
        let mut seen = std::collections::BTreeSet::new();
        let mut node = page;
        let mut has_media_box = false;
        let mut cut: Option<pdf_extract::ObjectId> = None;
        for _ in 0..256 {
            seen.insert(node);
            let Ok(dict) = doc.get_dictionary(node) else {
                break;
            };
            if dict.get(b"MediaBox").is_ok_and(|m| {
                m.as_array().is_ok_and(|a| a.len() == 4)
                    || m.as_reference().is_ok_and(|r| {
                        doc.get_object(r)
                            .and_then(Object::as_array)
                            .is_ok_and(|a| a.len() == 4)
                    })
            }) {
                has_media_box = true;
            }
            match dict.get(b"Parent").and_then(Object::as_reference) {
                Ok(parent) if seen.contains(&parent) => {
                    cut = Some(node);
                    break;
                }
                Ok(parent) => node = parent,
                Err(_) => break,
            }
        }
        if let Some(id) = cut {
            if let Ok(dict) = doc.get_dictionary_mut(id) {
                dict.remove(b"Parent");
            }
        }
        if !has_media_box {
            if let Ok(dict) = doc.get_dictionary_mut(page) {
                dict.set("MediaBox", vec![0.into(), 0.into(), 612.into(), 792.into()]);
            }
        }
    }
}

/// At least one letter or digit: a page of only punctuation or spaces counts as empty.
fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Does the page draw images (XObjects or inline images)? Only such pages are sent to OCR.
fn page_has_images(doc: &Document, page_id: pdf_extract::ObjectId) -> bool {
    let found = quietly(|| {
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
            .map(|c| {
                c.windows(3)
                    .any(|w| w == b"BI\n" || w == b"BI " || w == b"BI\r")
            })
            .unwrap_or(false)
    });
    found.unwrap_or(false)
}

/// The document title from the Info dictionary, if it has a usable one.
fn pdf_title(doc: &Document) -> Option<String> {
    let title = quietly(|| {
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
    })
    .ok()
    .flatten()?;
    let title = super::one_line(&title);
    if title.is_empty() || title.eq_ignore_ascii_case("untitled") {
        None
    } else {
        Some(title)
    }
}

/// A PDF text string: UTF-16BE or UTF-8 with a byte-order mark (encoding_rs), else
/// PDFDocEncoding, read as Latin-1 (they differ only in a few rarely used positions).
fn decode_pdf_string(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}
