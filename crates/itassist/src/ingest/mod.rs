//! Loading documents: from a file (or uploaded bytes) to plain text in sections.
//!
//! [`load_file`] detects the format ([`detect_format`], in `sniff.rs`) and hands the file to
//! the loader for that format. A loader returns a [`LoadedDocument`]: plain text split into
//! [`Section`]s, each with the page number (PDF) or heading (structured formats) it came
//! from, so that answers can cite "page 12" or "Installing packages", and [`LoadNote`]s
//! about anything the reader should know (a page read by OCR, and why).
//!
//! Every loader returns text normalised the same way (see [`Section::text`]) and never an
//! empty list of sections: a document without text is an [`Error::EmptyDocument`].
//!
//! Each document is read within the limits of [`LoadOptions`]: at most
//! [`LoadOptions::max_text_bytes`] of extracted text (else [`Error::DocumentTooLarge`]) and
//! [`LoadOptions::max_document_seconds`] of parsing (else [`Error::DocumentTimeout`]). The
//! loaders check both inside their loops, so a hostile or broken file fails on its own and
//! the next file of a folder is read as usual. A gzip-compressed file (`ls.1.gz`,
//! `notes.txt.gz`) is decompressed and loaded as the format its inner name and content show.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod decode;
mod html;
mod limits;
mod man;
mod man_render;
mod normalize;
mod ocr;
mod office;
mod pdf;
mod sniff;
mod tabular;
mod text;
mod xml;

pub(crate) use decode::decode_text;
use limits::Budget;
pub use man_render::ManRenderer;
pub(crate) use normalize::{clean_text, SectionBuilder};
pub use sniff::{detect_format, is_supported_name, SUPPORTED_EXTENSIONS};
use sniff::{sniff, Magic};

/// A document format itassist understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// PDF, with a text layer or scanned (OCR).
    Pdf,
    /// HTML or XHTML.
    Html,
    /// Markdown.
    Markdown,
    /// reStructuredText.
    Rst,
    /// Plain text.
    Text,
    /// A roff man page.
    Man,
    /// Word (Office Open XML).
    Docx,
    /// OpenDocument text.
    Odt,
    /// OpenDocument spreadsheet.
    Ods,
    /// EPUB e-book.
    Epub,
    /// Comma- or tab-separated values.
    Csv,
    /// JSON.
    Json,
    /// A raster image (PNG, JPEG, TIFF), read by OCR.
    Image,
}

impl Format {
    /// The IANA media type of the format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Html => "text/html",
            Format::Markdown => "text/markdown",
            Format::Rst => "text/x-rst",
            Format::Text => "text/plain",
            Format::Man => "text/troff",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Odt => "application/vnd.oasis.opendocument.text",
            Format::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            Format::Epub => "application/epub+zip",
            Format::Csv => "text/csv",
            Format::Json => "application/json",
            Format::Image => "image/*",
        }
    }

    /// A short lowercase name of the format, as used in error messages ("pdf", "docx", ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Rst => "rst",
            Format::Text => "text",
            Format::Man => "man",
            Format::Docx => "docx",
            Format::Odt => "odt",
            Format::Ods => "ods",
            Format::Epub => "epub",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Image => "image",
        }
    }
}

/// One part of a document: a page of a PDF, or the text under one heading.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    /// 1-based page number, for paged formats (PDF, scanned images).
    pub page: Option<u32>,
    /// The heading this text sits under, for structured formats.
    pub heading: Option<String>,
    /// The text, normalised (NFKC, no control characters, lines kept).
    pub text: String,
}

/// What a [`LoadNote`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoteKind {
    /// The pages have no text layer (scans) and were read by OCR.
    OcrNoTextLayer,
    /// Extracting the pages' text failed, so they were read by OCR instead.
    OcrAfterExtractionFailed,
    /// The pages' text could not be extracted nor read by OCR: they are missing.
    PagesSkipped,
    /// OCR failed on the pages: their text is missing.
    OcrFailed,
    /// The text was not UTF-8 and was decoded from another character set.
    Charset,
    /// Markup nested deeper than a browser would build was flattened (the text is kept).
    Flattened,
    /// groff is not installed: the man page was read by the builtin parser.
    ManBuiltinParser,
    /// The text is mostly in a language the embedding model was not trained on; the message
    /// names a model to use instead.
    Language,
}

impl NoteKind {
    /// A stable snake_case name, e.g. `"ocr_after_extraction_failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::OcrNoTextLayer => "ocr_no_text_layer",
            NoteKind::OcrAfterExtractionFailed => "ocr_after_extraction_failed",
            NoteKind::PagesSkipped => "pages_skipped",
            NoteKind::OcrFailed => "ocr_failed",
            NoteKind::Charset => "charset",
            NoteKind::Flattened => "flattened",
            NoteKind::ManBuiltinParser => "man_builtin_parser",
            NoteKind::Language => "language",
        }
    }
}

/// Something a reader of a loaded document should know that is not an error: which pages
/// were read by OCR and why, pages that are missing, the character set that was assumed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadNote {
    /// What happened.
    pub kind: NoteKind,
    /// The 1-based pages concerned (empty when the note is about the whole document).
    pub pages: Vec<u32>,
    /// One sentence for people, e.g. "page 3 was read by OCR because its text could not be
    /// extracted (...)".
    pub message: String,
}

/// The text of a document, as loaded from its file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadedDocument {
    /// The detected format.
    pub format: Format,
    /// The document's title, if the format carries one.
    pub title: Option<String>,
    /// Number of pages, for paged formats.
    pub page_count: Option<u32>,
    /// The text in reading order.
    pub sections: Vec<Section>,
    /// Pages that needed OCR (1-based); [`LoadedDocument::notes`] says why.
    pub ocr_pages: Vec<u32>,
    /// Notes about the loading: pages read by OCR and the reason, pages skipped, the
    /// character set assumed.
    #[serde(default)]
    pub notes: Vec<LoadNote>,
}

impl LoadedDocument {
    /// A document of `format` with these sections and nothing else known.
    pub(crate) fn new(format: Format, title: Option<String>, sections: Vec<Section>) -> Self {
        LoadedDocument {
            format,
            title,
            page_count: None,
            sections,
            ocr_pages: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// All the text of the document, sections separated by a blank line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&section.text);
        }
        out
    }
}

/// Default of [`LoadOptions::max_text_bytes`]: 64 MiB of text (the longest real manuals
/// give a few MiB).
pub const DEFAULT_MAX_TEXT_BYTES: u64 = 64 << 20;
/// Default of [`LoadOptions::max_document_seconds`]: 10 minutes.
pub const DEFAULT_MAX_DOCUMENT_SECONDS: f64 = 600.0;

/// Options for loading documents.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Run OCR on images and on PDF pages without a text layer.
    pub ocr: bool,
    /// Tesseract language codes, joined with `+` when calling it.
    pub ocr_languages: Vec<String>,
    /// The `tesseract` program.
    pub tesseract: PathBuf,
    /// The `pdftoppm` program (poppler-utils), used to render scanned PDF pages.
    pub pdftoppm: PathBuf,
    /// Resolution used to render PDF pages for OCR.
    pub ocr_dpi: u32,
    /// Largest file read, in bytes: checked before reading and while reading (a file that
    /// grows past it fails with `document_too_large`).
    pub max_file_bytes: u64,
    /// Largest amount of text one document may produce, in bytes (default 64 MiB; 0: no
    /// limit). Also bounds what a compressed part may expand to (4 times this, at least
    /// 16 MiB). A document over it fails with `document_too_large`.
    pub max_text_bytes: u64,
    /// Longest time reading one document may take, in seconds (default 600; 0: no limit).
    /// The loaders check it as they go, so a document over it stops and fails with
    /// `document_timeout`. Time spent in OCR programs is not counted.
    pub max_document_seconds: f64,
    /// What turns man pages into text: groff when installed (`auto`, the default), always
    /// groff (`groff`), or the builtin parser (`builtin`). See `docs/man-pages.md`.
    pub man_renderer: ManRenderer,
    /// The `groff` program (Debian package groff-base), looked up on `PATH` by name.
    pub groff: PathBuf,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            ocr: true,
            ocr_languages: vec!["eng".into(), "spa".into()],
            tesseract: PathBuf::from("tesseract"),
            pdftoppm: PathBuf::from("pdftoppm"),
            ocr_dpi: 300,
            max_file_bytes: 512 << 20,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
            max_document_seconds: DEFAULT_MAX_DOCUMENT_SECONDS,
            man_renderer: ManRenderer::Auto,
            groff: PathBuf::from("groff"),
        }
    }
}

/// Loads a file from disk.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<LoadedDocument> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(path, &bytes, options)
}

/// Loads a document from bytes; `name` is used for format detection and in errors.
///
/// The document is read within the limits of `options` (see [`LoadOptions::max_text_bytes`]
/// and [`LoadOptions::max_document_seconds`]).
pub fn load_bytes(name: &Path, bytes: &[u8], options: &LoadOptions) -> Result<LoadedDocument> {
    let budget = Budget::new(name, options);
    load_within(name, bytes, options, &budget)
}

/// Detects the format and runs its loader within `budget`.
fn load_within(
    name: &Path,
    bytes: &[u8],
    options: &LoadOptions,
    budget: &Budget,
) -> Result<LoadedDocument> {
    let format = detect_format(name, bytes)?;
    if sniff(bytes) == Magic::Gzip {
        return load_gzip(name, bytes, options, budget);
    }
    if bytes.is_empty() {
        return Err(Error::EmptyDocument {
            path: name.to_path_buf(),
            reason: "the file is empty (0 bytes)".into(),
        });
    }
    let doc = match format {
        Format::Pdf => pdf::load(name, bytes, options, budget)?,
        Format::Image => ocr::load_image(name, bytes, options, budget)?,
        Format::Html => html::load(name, bytes, budget)?,
        Format::Markdown => text::load_markdown(name, bytes, budget)?,
        Format::Rst => text::load_rst(name, bytes, budget)?,
        Format::Text => text::load_text(name, bytes, budget)?,
        Format::Man => man::load(name, bytes, options, budget)?,
        Format::Docx => office::load_docx(name, bytes, budget)?,
        Format::Odt => office::load_odt(name, bytes, budget)?,
        Format::Ods => office::load_ods(name, bytes, budget)?,
        Format::Epub => office::load_epub(name, bytes, budget)?,
        Format::Csv => tabular::load_csv(name, bytes, budget)?,
        Format::Json => tabular::load_json(name, bytes, budget)?,
    };
    finish(name, doc, budget)
}

/// Decompresses a `.gz` file and loads what it holds, named without the `.gz`.
fn load_gzip(
    name: &Path,
    bytes: &[u8],
    options: &LoadOptions,
    budget: &Budget,
) -> Result<LoadedDocument> {
    use std::io::Read;
    let limit = budget.max_part_bytes();
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(bytes).take(limit.saturating_add(1));
    // In pieces, so that a gzip bomb meets the deadline too.
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = decoder
            .read(&mut buf)
            .map_err(|e| Error::corrupt(name, "gzip", e))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        budget.check_time()?;
    }
    if out.len() as u64 > limit {
        return Err(budget.too_large("the decompressed gzip content".into(), limit));
    }
    if sniff(&out) == Magic::Gzip {
        return Err(Error::UnsupportedFormat {
            path: name.to_path_buf(),
            detail: "gzip inside gzip".into(),
        });
    }
    let inner = name.with_extension("");
    // Format from the inner name and content; errors keep naming the real file.
    load_within(&inner, &out, options, budget).map_err(|e| rename_error(e, name))
}

/// Replaces the path in a loader error (used for the inner file of a `.gz`).
fn rename_error(err: Error, path: &Path) -> Error {
    let path = path.to_path_buf();
    match err {
        Error::UnsupportedFormat { detail, .. } => Error::UnsupportedFormat {
            path,
            detail: if detail.starts_with("gzip") {
                detail
            } else {
                format!("gzip-compressed {detail}")
            },
        },
        Error::CorruptDocument {
            format,
            reason,
            source,
            ..
        } => Error::CorruptDocument {
            path,
            format,
            reason,
            source,
        },
        Error::EmptyDocument { reason, .. } => Error::EmptyDocument { path, reason },
        Error::OcrUnavailable { tool, .. } => Error::OcrUnavailable { path, tool },
        Error::OcrFailed { reason, source, .. } => Error::OcrFailed {
            path,
            reason,
            source,
        },
        Error::DocumentTooLarge {
            what,
            limit,
            setting,
            ..
        } => Error::DocumentTooLarge {
            path,
            what,
            limit,
            setting,
        },
        Error::DocumentTimeout { seconds, .. } => Error::DocumentTimeout { path, seconds },
        other => other,
    }
}

/// Final checks shared by all loaders: clean headings and titles, drop empty sections,
/// enforce the text limit on what is left.
fn finish(name: &Path, mut doc: LoadedDocument, budget: &Budget) -> Result<LoadedDocument> {
    doc.sections.retain(|s| !s.text.trim().is_empty());
    for section in &mut doc.sections {
        if let Some(h) = &section.heading {
            let h = one_line(h);
            section.heading = if h.is_empty() { None } else { Some(h) };
        }
    }
    doc.title = doc.title.as_deref().map(one_line).filter(|t| !t.is_empty());
    if doc.sections.is_empty() {
        return Err(Error::EmptyDocument {
            path: name.to_path_buf(),
            reason: format!("the {} document has no text", doc.format.name()),
        });
    }
    let total: usize = doc.sections.iter().map(|s| s.text.len()).sum();
    budget.check_document(total)?;
    Ok(doc)
}

/// Normalises a heading or title to one line with single spaces.
pub(crate) fn one_line(s: &str) -> String {
    let cleaned = clean_text(s);
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "page 3", "pages 1-3, 7, 9-10".
pub(crate) fn describe_pages(pages: &[u32]) -> String {
    let mut sorted = pages.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        runs.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    let word = if sorted.len() == 1 { "page" } else { "pages" };
    format!("{word} {}", runs.join(", "))
}

/// A note that text was decoded from a legacy (or UTF-16) character set, if it was.
pub(crate) fn charset_note(charset: Option<&str>) -> Option<LoadNote> {
    charset.map(|name| LoadNote {
        kind: NoteKind::Charset,
        pages: Vec::new(),
        message: format!("the text is not UTF-8; it was read as {name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzipped_man_page() {
        use std::io::Write;
        let page = b".TH GZTEST 1\n.SH NAME\ngztest \\- a compressed page\n";
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(page).unwrap();
        let gz = encoder.finish().unwrap();
        let doc = load_bytes(Path::new("gztest.1.gz"), &gz, &LoadOptions::default()).unwrap();
        assert_eq!(doc.format, Format::Man);
        assert_eq!(doc.title.as_deref(), Some("GZTEST(1)"));
        assert!(doc.text().contains("NAME\n\ngztest - a compressed page"));
        // A damaged archive names the .gz file.
        let err = load_bytes(
            Path::new("bad.1.gz"),
            &gz[..gz.len() / 2],
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad.1.gz"), "{err}");
    }

    #[test]
    fn page_lists() {
        assert_eq!(describe_pages(&[3]), "page 3");
        assert_eq!(describe_pages(&[9, 1, 2, 3, 7, 10]), "pages 1-3, 7, 9-10");
    }

    #[test]
    fn gzip_bomb_is_too_large() {
        use std::io::Write;
        let options = LoadOptions {
            max_text_bytes: 1 << 20,
            ..LoadOptions::default()
        };
        // 64 MiB of spaces compress to about 64 KiB; the limit on the expansion is 16 MiB.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![b' '; 1 << 20];
        for _ in 0..64 {
            encoder.write_all(&block).unwrap();
        }
        let gz = encoder.finish().unwrap();
        let err = load_bytes(Path::new("spaces.txt.gz"), &gz, &options).unwrap_err();
        assert_eq!(err.code(), "document_too_large", "{err}");
        assert!(err.to_string().contains("spaces.txt.gz"), "{err}");
    }
}
