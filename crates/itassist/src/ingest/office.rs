//! ZIP-based document formats: DOCX (Office Open XML), ODT and ODS (OpenDocument), EPUB.
//!
//! Paragraphs become lines separated by blank lines, headings start sections, table rows
//! become lines of cells joined with `" | "`. Tables of contents are left out: they repeat
//! the headings.

use std::collections::HashMap;
use std::path::Path;

use super::xml::{self, XmlEvent};
use super::{Budget, Format, LoadedDocument, SectionBuilder};
use crate::error::{Error, Result};

/// Headings up to this level start a section; deeper ones stay in the text.
const SECTION_LEVELS: u8 = 4;
/// Repeated spreadsheet cells and rows are written out at most this many times.
const MAX_REPEAT: usize = 100;

fn missing(path: &Path, format: &str, entry: &str) -> Error {
    Error::CorruptDocument {
        path: path.to_path_buf(),
        format: format.to_string(),
        reason: format!("the {entry} entry is missing"),
        source: None,
    }
}

/// Collects table rows; cells are joined with " | " when the table ends.
#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: Option<String>,
    row_repeat: usize,
    cell_repeat: usize,
    /// Bytes added by repeating cells and rows (for the text limit).
    repeated: usize,
}

impl Table {
    fn render(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let mut cells: Vec<&str> = row.iter().map(|c| c.trim()).collect();
            while cells.last().is_some_and(|c| c.is_empty()) {
                cells.pop();
            }
            if cells.is_empty() {
                continue;
            }
            out.push_str(&cells.join(" | "));
            out.push('\n');
        }
        out
    }

    fn end_cell(&mut self) {
        let cell = self.cell.take().unwrap_or_default();
        let cell = cell.split_whitespace().collect::<Vec<_>>().join(" ");
        let repeat = if cell.is_empty() {
            self.cell_repeat.min(1_000)
        } else {
            self.cell_repeat.min(MAX_REPEAT)
        };
        self.repeated += (cell.len() + 3) * repeat.saturating_sub(1);
        for _ in 0..repeat.max(1) {
            self.row.push(cell.clone());
        }
    }

    fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        if row.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        let repeat = self.row_repeat.clamp(1, MAX_REPEAT);
        let row_bytes: usize = row.iter().map(|c| c.len() + 3).sum();
        self.repeated += row_bytes * (repeat - 1);
        for _ in 0..repeat {
            self.rows.push(row.clone());
        }
    }
}

/// A paragraph being read.
#[derive(Default)]
struct Para {
    text: String,
    /// Heading level (1 = top), if the paragraph is a heading.
    level: Option<u8>,
    /// A table-of-contents entry, left out.
    toc: bool,
    /// A title paragraph (DOCX "Title" style).
    title: bool,
    /// Prefix written before the text (list bullets).
    prefix: &'static str,
}

/// Shared assembly of paragraphs and tables into sections.
struct Assembler {
    builder: SectionBuilder,
    paras: Vec<Para>,
    tables: Vec<Table>,
    first_title: Option<String>,
    /// Bytes of text produced so far, repeats included (for the text limit).
    produced: usize,
}

impl Assembler {
    fn new() -> Self {
        Assembler {
            builder: SectionBuilder::new(),
            paras: Vec::new(),
            tables: Vec::new(),
            first_title: None,
            produced: 0,
        }
    }

    /// Bytes of text produced so far, repeated cells and rows included.
    fn produced(&self) -> usize {
        self.produced
    }

    fn push_text(&mut self, s: &str) {
        self.produced += s.len();
        if let Some(p) = self.paras.last_mut() {
            p.text.push_str(s);
        } else if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
            cell.push_str(s);
        }
    }

    fn start_para(&mut self) {
        self.paras.push(Para::default());
    }

    fn end_para(&mut self) {
        let Some(para) = self.paras.pop() else {
            return;
        };
        let text = para.text.trim();
        if para.toc || text.is_empty() {
            return;
        }
        if para.title && self.first_title.is_none() {
            self.first_title = Some(text.to_string());
        }
        // Inside a table cell: part of the cell.
        if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(text);
            return;
        }
        match para.level {
            Some(level) if level <= SECTION_LEVELS => {
                self.builder.start_section(Some(text.to_string()), None);
                self.builder.push_str(text);
                self.builder.push_str("\n\n");
            }
            _ => {
                self.builder.push_str(para.prefix);
                self.builder.push_str(text);
                self.builder.push_str("\n\n");
            }
        }
    }

    fn start_table(&mut self) {
        self.tables.push(Table::default());
    }

    fn end_table(&mut self) {
        let Some(table) = self.tables.pop() else {
            return;
        };
        let rendered = table.render();
        if rendered.trim().is_empty() {
            return;
        }
        if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
            // A nested table: flattened into the outer cell.
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&rendered.replace('\n', " ; "));
        } else if let Some(p) = self.paras.last_mut() {
            p.text.push('\n');
            p.text.push_str(&rendered);
        } else {
            self.builder.push_str(&rendered);
            self.builder.push_str("\n");
        }
    }

    fn start_row(&mut self, repeat: usize) {
        if let Some(t) = self.tables.last_mut() {
            t.row.clear();
            t.row_repeat = repeat;
        }
    }

    fn end_row(&mut self) {
        if let Some(t) = self.tables.last_mut() {
            let before = t.repeated;
            t.end_row();
            self.produced += t.repeated - before;
        }
    }

    fn start_cell(&mut self, repeat: usize) {
        if let Some(t) = self.tables.last_mut() {
            t.cell = Some(String::new());
            t.cell_repeat = repeat;
        }
    }

    fn end_cell(&mut self) {
        if let Some(t) = self.tables.last_mut() {
            let before = t.repeated;
            t.end_cell();
            self.produced += t.repeated - before;
        }
    }
}

/// Counts nested elements of a subtree being skipped.
#[derive(Default)]
struct Skip {
    depth: usize,
}

impl Skip {
    /// Call for each event first; true when the event is inside a skipped subtree.
    fn inside(&mut self, event: &XmlEvent, starts_skip: impl FnOnce(&str) -> bool) -> bool {
        match event {
            XmlEvent::Start { name, .. } => {
                if self.depth > 0 {
                    self.depth += 1;
                    return true;
                }
                if starts_skip(name) {
                    self.depth = 1;
                    return true;
                }
                false
            }
            XmlEvent::End { .. } => {
                if self.depth > 0 {
                    self.depth -= 1;
                    return true;
                }
                false
            }
            XmlEvent::Text(_) => self.depth > 0,
        }
    }
}

// ---------------------------------------------------------------------------------------
// DOCX

/// Paragraph style facts from word/styles.xml.
#[derive(Default)]
struct DocxStyles {
    /// styleId -> heading level.
    levels: HashMap<String, u8>,
    toc: std::collections::HashSet<String>,
    title: std::collections::HashSet<String>,
}

fn heading_level_from_name(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase().replace(' ', "");
    let digits = lower.strip_prefix("heading")?;
    digits.parse::<u8>().ok().filter(|l| (1..=9).contains(l))
}

fn docx_styles(path: &Path, xml_text: &str, budget: &Budget) -> Result<DocxStyles> {
    struct Raw {
        id: String,
        name: String,
        outline: Option<u8>,
        based_on: Option<String>,
    }
    let mut raws: Vec<Raw> = Vec::new();
    let mut current: Option<Raw> = None;
    xml::parse(path, "docx", xml_text, budget, |event| {
        match &event {
            XmlEvent::Start { name, .. } if name == "style" => {
                let paragraph = event.attr("type").is_none_or(|t| t == "paragraph");
                current = paragraph.then(|| Raw {
                    id: event.attr("styleId").unwrap_or_default().to_string(),
                    name: String::new(),
                    outline: None,
                    based_on: None,
                });
            }
            XmlEvent::Start { name, .. } => {
                if let Some(raw) = current.as_mut() {
                    match name.as_str() {
                        "name" => raw.name = event.attr("val").unwrap_or_default().to_string(),
                        "basedOn" => raw.based_on = event.attr("val").map(str::to_string),
                        "outlineLvl" => {
                            raw.outline = event
                                .attr("val")
                                .and_then(|v| v.parse::<u8>().ok())
                                .filter(|l| *l < 9)
                                .map(|l| l + 1)
                        }
                        _ => {}
                    }
                }
            }
            XmlEvent::End { name } if name == "style" => {
                if let Some(raw) = current.take() {
                    raws.push(raw);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let mut styles = DocxStyles::default();
    let by_id: HashMap<&str, &Raw> = raws.iter().map(|r| (r.id.as_str(), r)).collect();
    for raw in &raws {
        let lower = raw.name.to_ascii_lowercase();
        if lower.starts_with("toc") || lower.starts_with("table of contents") {
            styles.toc.insert(raw.id.clone());
            continue;
        }
        if lower == "title" {
            styles.title.insert(raw.id.clone());
            continue;
        }
        // Own level, or inherited through basedOn (a few hops at most).
        let mut level = None;
        let mut style = Some(raw);
        for _ in 0..8 {
            let Some(s) = style else { break };
            level = heading_level_from_name(&s.name).or(s.outline);
            if level.is_some() {
                break;
            }
            style = s.based_on.as_deref().and_then(|b| by_id.get(b).copied());
        }
        if let Some(level) = level {
            styles.levels.insert(raw.id.clone(), level);
        }
    }
    Ok(styles)
}

/// Title from docProps/core.xml (DOCX) or meta.xml (ODF): the first `title` element.
fn meta_title(path: &Path, format: &str, xml_text: &str, budget: &Budget) -> Option<String> {
    let mut in_title = false;
    let mut title = String::new();
    let mut done = false;
    let parsed = xml::parse(path, format, xml_text, budget, |event| {
        match event {
            XmlEvent::Start { name, .. } if name == "title" && !done => in_title = true,
            XmlEvent::End { name } if name == "title" && in_title => {
                in_title = false;
                done = true;
            }
            XmlEvent::Text(t) if in_title && title.len() < 4096 => title.push_str(&t),
            _ => {}
        }
        Ok(())
    });
    if parsed.is_err() {
        return None;
    }
    let title = super::one_line(&title);
    (!title.is_empty()).then_some(title)
}

/// Loads a Word document: body paragraphs, tables, headings from the paragraph styles.
pub(crate) fn load_docx(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let mut archive = xml::open_zip(path, "docx", bytes)?;
    let styles = match xml::read_entry(&mut archive, path, "docx", "word/styles.xml", budget)? {
        Some(s) => match docx_styles(path, &s, budget) {
            Ok(styles) => styles,
            Err(e @ (Error::DocumentTimeout { .. } | Error::DocumentTooLarge { .. })) => {
                return Err(e)
            }
            Err(_) => DocxStyles::default(),
        },
        None => DocxStyles::default(),
    };
    let core_title = match xml::read_entry(&mut archive, path, "docx", "docProps/core.xml", budget)
    {
        Ok(core) => core.and_then(|c| meta_title(path, "docx", &c, budget)),
        Err(e @ (Error::DocumentTimeout { .. } | Error::DocumentTooLarge { .. })) => return Err(e),
        Err(_) => None,
    };

    let mut asm = Assembler::new();
    let mut skip = Skip::default();
    let mut in_ppr = false;
    let mut in_text = false;
    let found = xml::parse_entry(
        &mut archive,
        path,
        "docx",
        "word/document.xml",
        budget,
        |event| {
            // Alternate content is given twice (a modern choice and a fallback); deleted text
            // and field instructions are not shown.
            if skip.inside(&event, |n| {
                matches!(n, "Fallback" | "delText" | "instrText")
            }) {
                return Ok(());
            }
            match &event {
                XmlEvent::Start { name, .. } => match name.as_str() {
                    "p" => asm.start_para(),
                    "pPr" => in_ppr = true,
                    "pStyle" if in_ppr => {
                        if let (Some(style), Some(p)) = (event.attr("val"), asm.paras.last_mut()) {
                            p.level = styles
                                .levels
                                .get(style)
                                .copied()
                                .or_else(|| heading_level_from_name(style));
                            p.toc = styles.toc.contains(style)
                                || style.to_ascii_lowercase().starts_with("toc");
                            p.title = styles.title.contains(style) || style == "Title";
                        }
                    }
                    "outlineLvl" if in_ppr => {
                        let level = event.attr("val").and_then(|v| v.parse::<u8>().ok());
                        if let (Some(l), Some(p)) = (level, asm.paras.last_mut()) {
                            if l < 9 {
                                p.level = Some(l + 1);
                            }
                        }
                    }
                    "numPr" if in_ppr => {
                        if let Some(p) = asm.paras.last_mut() {
                            p.prefix = "- ";
                        }
                    }
                    "t" => in_text = true,
                    "tab" if !in_ppr => asm.push_text("\t"),
                    "br" | "cr" if !in_ppr => asm.push_text("\n"),
                    "noBreakHyphen" => asm.push_text("-"),
                    "tbl" => asm.start_table(),
                    "tr" => asm.start_row(1),
                    "tc" => asm.start_cell(1),
                    _ => {}
                },
                XmlEvent::End { name } => match name.as_str() {
                    "p" => asm.end_para(),
                    "pPr" => in_ppr = false,
                    "t" => in_text = false,
                    "tbl" => asm.end_table(),
                    "tr" => asm.end_row(),
                    "tc" => asm.end_cell(),
                    _ => {}
                },
                XmlEvent::Text(t) => {
                    if in_text {
                        asm.push_text(t);
                    }
                }
            }
            budget.check(asm.produced())
        },
    )?;
    if !found {
        return Err(missing(path, "docx", "word/document.xml"));
    }
    let title = core_title.or(asm.first_title.take());
    Ok(LoadedDocument::new(
        Format::Docx,
        title,
        asm.builder.finish(),
    ))
}

// ---------------------------------------------------------------------------------------
// OpenDocument

/// Elements whose content is not document text (indexes repeat headings; tracked deletions,
/// comments and form definitions are not shown).
fn odf_skipped(name: &str) -> bool {
    matches!(
        name,
        "table-of-content"
            | "alphabetical-index"
            | "illustration-index"
            | "table-index"
            | "object-index"
            | "user-index"
            | "bibliography"
            | "tracked-changes"
            | "annotation"
            | "note-citation"
            | "sequence-decls"
            | "forms"
            | "automatic-styles"
            | "font-face-decls"
            | "scripts"
            | "shapes"
    )
}

fn repeat_attr(event: &XmlEvent, key: &str) -> usize {
    event
        .attr(key)
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// A paragraph style of an OpenDocument file.
#[derive(Default, Clone)]
struct OdfStyle {
    parent: Option<String>,
    /// Display name, or the name with `_20_` as spaces.
    display: String,
    outline: Option<u8>,
}

/// Records a `style:style` element in `styles`.
fn record_odf_style(event: &XmlEvent, styles: &mut HashMap<String, OdfStyle>) {
    if let (XmlEvent::Start { name, .. }, Some(style_name)) = (event, event.attr("name")) {
        if name != "style" {
            return;
        }
        let display = event
            .attr("display-name")
            .map(str::to_string)
            .unwrap_or_else(|| style_name.replace("_20_", " "));
        styles.insert(
            style_name.to_string(),
            OdfStyle {
                parent: event.attr("parent-style-name").map(str::to_string),
                display,
                outline: event
                    .attr("default-outline-level")
                    .and_then(|l| l.parse::<u8>().ok())
                    .filter(|l| (1..=10).contains(l)),
            },
        );
    }
}

/// "Heading 2", "OWASP Heading 1", "Titre 3": the level in a heading style's name.
fn level_in_style_name(display: &str) -> Option<u8> {
    let lower = display.to_lowercase();
    for key in ["heading", "titre", "überschrift", "encabezado", "título"] {
        if let Some(p) = lower.find(key) {
            let rest = lower[p + key.len()..].trim_start();
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(level) = digits.parse::<u8>() {
                if (1..=10).contains(&level) {
                    return Some(level);
                }
            }
        }
    }
    None
}

/// The heading level of a paragraph style, following its parents.
fn odf_heading_level(styles: &HashMap<String, OdfStyle>, name: &str) -> Option<u8> {
    let mut current = Some(name.to_string());
    for _ in 0..10 {
        let style = styles.get(current.as_deref()?)?;
        if let Some(level) = style
            .outline
            .or_else(|| level_in_style_name(&style.display))
        {
            return Some(level);
        }
        current = style.parent.clone();
    }
    None
}

/// Reads an OpenDocument content.xml; with `sheets`, every top-level table is a section
/// named after the sheet.
fn load_odf(
    path: &Path,
    bytes: &[u8],
    format: Format,
    sheets: bool,
    budget: &Budget,
) -> Result<LoadedDocument> {
    let name = format.name();
    let mut archive = xml::open_zip(path, name, bytes)?;
    let title = match xml::read_entry(&mut archive, path, name, "meta.xml", budget) {
        Ok(meta) => meta.and_then(|m| meta_title(path, name, &m, budget)),
        Err(e @ (Error::DocumentTimeout { .. } | Error::DocumentTooLarge { .. })) => return Err(e),
        Err(_) => None,
    };
    let mut styles: HashMap<String, OdfStyle> = HashMap::new();
    match xml::read_entry(&mut archive, path, name, "styles.xml", budget) {
        Ok(Some(common)) => {
            let parsed = xml::parse(path, name, &common, budget, |event| {
                record_odf_style(&event, &mut styles);
                Ok(())
            });
            if let Err(e @ (Error::DocumentTimeout { .. } | Error::DocumentTooLarge { .. })) =
                parsed
            {
                return Err(e);
            }
        }
        Err(e @ (Error::DocumentTimeout { .. } | Error::DocumentTooLarge { .. })) => return Err(e),
        _ => {}
    }

    let mut asm = Assembler::new();
    let mut skip = Skip::default();
    let mut in_body = false;
    let mut pending_bullet = false;
    let found = xml::parse_entry(&mut archive, path, name, "content.xml", budget, |event| {
        if let XmlEvent::Start { name, .. } = &event {
            if name == "body" {
                in_body = true;
            }
        }
        if !in_body {
            // Automatic styles come before the body.
            record_odf_style(&event, &mut styles);
            return Ok(());
        }
        if skip.inside(&event, odf_skipped) {
            return Ok(());
        }
        match &event {
            XmlEvent::Start { name, .. } => match name.as_str() {
                "p" | "h" => {
                    asm.start_para();
                    if let Some(p) = asm.paras.last_mut() {
                        let style_level = event
                            .attr("style-name")
                            .and_then(|s| odf_heading_level(&styles, s));
                        if name == "h" {
                            let level = event
                                .attr("outline-level")
                                .and_then(|l| l.parse::<u8>().ok())
                                .or(style_level)
                                .unwrap_or(1);
                            p.level = Some(level.max(1));
                        } else if !sheets {
                            p.level = style_level;
                        }
                        p.title = event.attr("style-name").is_some_and(|s| {
                            s == "Title"
                                || styles.get(s).and_then(|st| st.parent.as_deref())
                                    == Some("Title")
                        });
                        if pending_bullet {
                            p.prefix = "- ";
                            pending_bullet = false;
                        }
                    }
                }
                "list-item" => pending_bullet = true,
                "s" => {
                    let n = repeat_attr(&event, "c").min(1000);
                    asm.push_text(&" ".repeat(n));
                }
                "tab" => asm.push_text("\t"),
                "line-break" => asm.push_text("\n"),
                "table" => {
                    if sheets && asm.tables.is_empty() {
                        let sheet = event.attr("name").map(str::to_string);
                        asm.builder.start_section(sheet, None);
                    }
                    asm.start_table();
                }
                "table-row" => asm.start_row(repeat_attr(&event, "number-rows-repeated")),
                "table-cell" | "covered-table-cell" => {
                    asm.start_cell(repeat_attr(&event, "number-columns-repeated"))
                }
                _ => {}
            },
            XmlEvent::End { name } => match name.as_str() {
                "p" | "h" => asm.end_para(),
                "list-item" => pending_bullet = false,
                "table" => asm.end_table(),
                "table-row" => asm.end_row(),
                "table-cell" | "covered-table-cell" => asm.end_cell(),
                "body" => in_body = false,
                _ => {}
            },
            XmlEvent::Text(t) => asm.push_text(t),
        }
        budget.check(asm.produced())
    })?;
    if !found {
        return Err(missing(path, name, "content.xml"));
    }
    let title = title.or(asm.first_title.take());
    Ok(LoadedDocument::new(format, title, asm.builder.finish()))
}

/// Loads an OpenDocument text: headings (text:h) start sections.
pub(crate) fn load_odt(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    load_odf(path, bytes, Format::Odt, false, budget)
}

/// Loads an OpenDocument spreadsheet: a section per sheet, a line per row.
pub(crate) fn load_ods(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    load_odf(path, bytes, Format::Ods, true, budget)
}

// ---------------------------------------------------------------------------------------
// EPUB

/// Resolves `href` (relative to the directory `base`, URL-encoded) to a ZIP entry name.
fn resolve_href(base: &str, href: &str) -> String {
    let href = href.split(['#', '?']).next().unwrap_or_default();
    let href = percent_decode(href);
    let mut parts: Vec<&str> = if href.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in href.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Decodes `%XX` escapes of an EPUB href (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Loads an EPUB: the XHTML documents of the spine, in reading order, through the HTML
/// loader; the title from the package metadata.
pub(crate) fn load_epub(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let mut archive = xml::open_zip(path, "epub", bytes)?;
    let container = xml::read_entry(&mut archive, path, "epub", "META-INF/container.xml", budget)?
        .ok_or_else(|| missing(path, "epub", "META-INF/container.xml"))?;
    let mut opf_path = None;
    xml::parse(path, "epub", &container, budget, |event| {
        if let XmlEvent::Start { name, .. } = &event {
            if name == "rootfile" && opf_path.is_none() {
                opf_path = event.attr("full-path").map(str::to_string);
            }
        }
        Ok(())
    })?;
    let opf_path = opf_path.ok_or_else(|| Error::CorruptDocument {
        path: path.to_path_buf(),
        format: "epub".into(),
        reason: "META-INF/container.xml names no package document".into(),
        source: None,
    })?;
    let opf = xml::read_entry(&mut archive, path, "epub", &opf_path, budget)?
        .ok_or_else(|| missing(path, "epub", &opf_path))?;
    let base = match opf_path.rfind('/') {
        Some(i) => opf_path[..i].to_string(),
        None => String::new(),
    };

    let mut title: Option<String> = None;
    let mut in_title = false;
    let mut title_text = String::new();
    let mut manifest: HashMap<String, (String, String)> = HashMap::new();
    let mut spine: Vec<String> = Vec::new();
    xml::parse(path, "epub", &opf, budget, |event| {
        match &event {
            XmlEvent::Start { name, .. } => match name.as_str() {
                "title" if title.is_none() => in_title = true,
                "item" => {
                    if let (Some(id), Some(href)) = (event.attr("id"), event.attr("href")) {
                        let media = event.attr("media-type").unwrap_or_default().to_string();
                        manifest.insert(id.to_string(), (href.to_string(), media));
                    }
                }
                "itemref" => {
                    if let Some(idref) = event.attr("idref") {
                        spine.push(idref.to_string());
                    }
                }
                _ => {}
            },
            XmlEvent::End { name } if name == "title" && in_title => {
                in_title = false;
                let t = super::one_line(&title_text);
                if !t.is_empty() {
                    title = Some(t);
                }
            }
            XmlEvent::Text(t) if in_title => title_text.push_str(t),
            _ => {}
        }
        Ok(())
    })?;

    let mut entries: Vec<String> = spine
        .iter()
        .filter_map(|id| manifest.get(id))
        .filter(|(href, media)| {
            media.contains("html") || href.ends_with(".xhtml") || href.ends_with(".html")
        })
        .map(|(href, _)| resolve_href(&base, href))
        .collect();
    if entries.is_empty() {
        // No usable spine: every HTML file, in archive order.
        entries = archive
            .file_names()
            .filter(|n| n.ends_with(".xhtml") || n.ends_with(".html") || n.ends_with(".htm"))
            .map(str::to_string)
            .collect();
    }
    let mut sections = Vec::new();
    let mut notes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        if !seen.insert(entry.clone()) {
            continue;
        }
        let Some(html) = xml::read_entry_bytes(&mut archive, path, "epub", &entry, budget)? else {
            continue;
        };
        let mut chapter = super::html::extract(&html, budget)?;
        budget.commit(chapter.sections.iter().map(|s| s.text.len()).sum());
        sections.append(&mut chapter.sections);
        for note in chapter.notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    let mut doc = LoadedDocument::new(Format::Epub, title, sections);
    doc.notes = notes;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_epub_hrefs() {
        assert_eq!(
            resolve_href("OEBPS", "text/ch%201.xhtml#x"),
            "OEBPS/text/ch 1.xhtml"
        );
        assert_eq!(resolve_href("OEBPS/a", "../b.xhtml"), "OEBPS/b.xhtml");
        assert_eq!(resolve_href("", "c.xhtml"), "c.xhtml");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn heading_names() {
        assert_eq!(heading_level_from_name("heading 2"), Some(2));
        assert_eq!(heading_level_from_name("Heading1"), Some(1));
        assert_eq!(heading_level_from_name("Header"), None);
    }
}
