//! Loading documents: from a file (or uploaded bytes) to plain text in sections.
//!
//! [`load_file`] detects the format and hands the file to the loader for that format. A
//! loader returns a [`LoadedDocument`]: plain text split into [`Section`]s, each with the
//! page number (PDF) or heading (structured formats) it came from, so that answers can cite
//! "page 12" or "Installing packages".
//!
//! Every loader returns text normalised the same way (see [`Section::text`]) and never an
//! empty list of sections: a document without text is an [`Error::EmptyDocument`].
//!
//! Format detection ([`detect_format`]) trusts the file's content over its name: magic bytes
//! (`%PDF-`, PNG/JPEG/TIFF signatures, ZIP containers told apart by their entries) decide
//! first, then the extension, then a look at the text (roff, HTML). Text files with no
//! extension, or with a textual one (`.log`, `.conf`, `.ini`, `.yaml`, ...), are read as plain
//! text when they are valid UTF-8 without NUL bytes; anything else is
//! [`Error::UnsupportedFormat`]. A gzip-compressed file (`ls.1.gz`, `notes.txt.gz`) is
//! decompressed and loaded as the format its inner name and content show.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod html;
mod man;
mod normalize;
mod ocr;
mod office;
mod pdf;
mod tabular;
mod text;
mod xml;

pub(crate) use normalize::{clean_text, SectionBuilder};

/// File extensions itassist can ingest (lowercase, without the dot).
///
/// Also read when named explicitly: man pages with a suffix after the section number
/// (`.3ssl`, `.1x`), the textual extensions `.log`, `.conf`, `.cfg`, `.ini`, `.yaml`,
/// `.yml`, `.toml`, files without an extension, and any of these compressed with gzip
/// (`ls.1.gz`); see [`is_supported_name`].
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "pdf", "html", "htm", "xhtml", "md", "markdown", "rst", "txt", "text", "1", "2", "3", "4", "5",
    "6", "7", "8", "9", "man", "docx", "odt", "ods", "epub", "csv", "tsv", "json", "png", "jpg",
    "jpeg", "tif", "tiff",
];

/// Extensions read as plain text.
const TEXTUAL_EXTENSIONS: &[&str] = &[
    "txt", "text", "log", "conf", "cfg", "ini", "yaml", "yml", "toml",
];

/// Whether a file name has an extension itassist reads: one of [`SUPPORTED_EXTENSIONS`], a
/// man page section with a suffix (`.3ssl`), a textual extension (`.log`, `.conf`, ...),
/// or one of these followed by `.gz`. Files without an extension are not included (they
/// are read as text only when named explicitly).
pub fn is_supported_name(path: &Path) -> bool {
    let path = match extension(path).as_deref() {
        Some("gz") => path.with_extension(""),
        _ => path.to_path_buf(),
    };
    match extension(&path) {
        Some(ext) => {
            SUPPORTED_EXTENSIONS.contains(&ext.as_str()) || format_from_extension(&ext).is_some()
        }
        None => false,
    }
}

/// Largest decompressed size accepted for a gzip-compressed document.
const MAX_GUNZIPPED_BYTES: u64 = 256 * 1024 * 1024;

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
    /// Pages that needed OCR (1-based).
    pub ocr_pages: Vec<u32>,
}

impl LoadedDocument {
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
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            ocr: true,
            ocr_languages: vec!["eng".into(), "spa".into()],
            tesseract: PathBuf::from("tesseract"),
            pdftoppm: PathBuf::from("pdftoppm"),
            ocr_dpi: 300,
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    Pdf,
    Image,
    Zip,
    Gzip,
    /// A binary format we recognise but do not read, with its name.
    OtherBinary(&'static str),
    /// Text (valid UTF-8 or a UTF-16 BOM, no NUL bytes).
    Text,
    /// Bytes that are neither text nor a known format.
    Binary,
    Empty,
}

fn sniff(head: &[u8]) -> Magic {
    if head.is_empty() {
        return Magic::Empty;
    }
    // PDF readers accept the header anywhere in the first KiB.
    let window = &head[..head.len().min(1024)];
    if window.windows(5).any(|w| w == b"%PDF-") {
        return Magic::Pdf;
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
    {
        return Magic::Image;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Magic::Zip;
    }
    if head.starts_with(&[0x1F, 0x8B]) {
        return Magic::Gzip;
    }
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x7fELF", "ELF executable"),
        (b"MZ", "Windows executable"),
        (b"GIF87a", "GIF image"),
        (b"GIF89a", "GIF image"),
        (b"BM", "BMP image"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "legacy Microsoft Office (OLE2) document",
        ),
        (b"{\\rtf", "RTF document"),
        (b"7z\xBC\xAF\x27\x1C", "7-Zip archive"),
        (b"Rar!", "RAR archive"),
        (b"\xFD7zXZ\0", "xz-compressed file"),
        (b"BZh", "bzip2-compressed file"),
        (b"\x28\xB5\x2F\xFD", "zstd-compressed file"),
        (b"SQLite format 3\0", "SQLite database"),
        (b"\xCA\xFE\xBA\xBE", "Java class file"),
        (b"OggS", "Ogg media file"),
        (b"ID3", "MP3 audio file"),
        (b"RIFF", "RIFF media file"),
        (b"\0asm", "WebAssembly module"),
    ];
    for (signature, name) in SIGNATURES {
        if head.starts_with(signature) {
            // "MZ", "BM" and "BZh" are short: only trust them when the rest is not text.
            if signature.len() <= 3 && looks_like_text(head) {
                break;
            }
            return Magic::OtherBinary(name);
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Magic::OtherBinary("MP4/QuickTime media file");
    }
    if looks_like_text(head) {
        Magic::Text
    } else {
        Magic::Binary
    }
}

/// Valid UTF-8 (allowing a sequence cut at the end of `head`) or UTF-16 with a BOM, and no NUL.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None`: the input ended inside a multi-byte sequence.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    }
}

/// The lowercase extension of `path`, if any.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// `1`..`9`, optionally followed by a short lowercase suffix (`3ssl`, `1x`, `3pm`).
fn is_man_extension(ext: &str) -> bool {
    let mut chars = ext.chars();
    match chars.next() {
        Some('1'..='9') => {}
        _ => return false,
    }
    let rest = chars.as_str();
    rest.len() <= 6 && rest.chars().all(|c| c.is_ascii_lowercase())
}

fn format_from_extension(ext: &str) -> Option<Format> {
    Some(match ext {
        "pdf" => Format::Pdf,
        "html" | "htm" | "xhtml" => Format::Html,
        "md" | "markdown" => Format::Markdown,
        "rst" => Format::Rst,
        "man" => Format::Man,
        "docx" => Format::Docx,
        "odt" => Format::Odt,
        "ods" => Format::Ods,
        "epub" => Format::Epub,
        "csv" | "tsv" => Format::Csv,
        "json" => Format::Json,
        "png" | "jpg" | "jpeg" | "tif" | "tiff" => Format::Image,
        e if TEXTUAL_EXTENSIONS.contains(&e) => Format::Text,
        e if is_man_extension(e) => Format::Man,
        _ => return None,
    })
}

/// Does this text start like a roff document (`.TH`, `.Dd`, `'\"` preprocessor line, or
/// comment lines followed by one of those)?
fn looks_like_roff(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    for line in text.lines().take(200) {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with(".\\\"") || line.starts_with("'\\\"") {
            if line.starts_with("'\\\"") {
                return true;
            }
            continue;
        }
        return [".TH ", ".Dd ", ".Dt ", ".SH ", ".so "]
            .iter()
            .any(|m| line.starts_with(m))
            || line == ".TH";
    }
    false
}

fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(2048)]);
    let start = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || (start.starts_with("<?xml") && start.contains("<html"))
}

/// Which document a ZIP container holds, from its entry names (and the `mimetype` entry).
fn zip_kind(path: &Path, bytes: &[u8]) -> Option<Format> {
    // The `mimetype` entry of ODF and EPUB files is stored first and uncompressed.
    if bytes.len() > 38 && &bytes[30..38] == b"mimetype" {
        let rest = &bytes[38..bytes.len().min(38 + 100)];
        let rest = String::from_utf8_lossy(rest);
        if rest.starts_with("application/epub+zip") {
            return Some(Format::Epub);
        }
        if rest.starts_with("application/vnd.oasis.opendocument.text") {
            return Some(Format::Odt);
        }
        if rest.starts_with("application/vnd.oasis.opendocument.spreadsheet") {
            return Some(Format::Ods);
        }
    }
    // Otherwise look at the central directory (needs the whole file).
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok();
    let names: Vec<String> = match &archive {
        Some(a) => a.file_names().map(str::to_string).collect(),
        None => {
            // A truncated archive: scan the local headers we have.
            local_zip_names(bytes)
        }
    };
    if names.iter().any(|n| n == "word/document.xml") {
        return Some(Format::Docx);
    }
    if names.iter().any(|n| n == "META-INF/container.xml") {
        return Some(Format::Epub);
    }
    if names.iter().any(|n| n == "content.xml") {
        // An ODF file without a leading mimetype entry: trust the extension or the entry.
        if let Some(mut a) = archive {
            if let Ok(mut f) = a.by_name("mimetype") {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut f, &mut s);
                if s.trim() == "application/vnd.oasis.opendocument.spreadsheet" {
                    return Some(Format::Ods);
                }
                if s.trim() == "application/vnd.oasis.opendocument.text" {
                    return Some(Format::Odt);
                }
            }
        }
        return match extension(path).as_deref() {
            Some("ods") => Some(Format::Ods),
            _ => Some(Format::Odt),
        };
    }
    None
}

/// Names of the entries whose local headers are in `bytes` (for truncated archives).
fn local_zip_names(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut pos = 0usize;
    while pos + 30 <= bytes.len() && names.len() < 1000 {
        if &bytes[pos..pos + 4] != b"PK\x03\x04" {
            break;
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
        let u32_at = |i: usize| {
            u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
        };
        let flags = u16_at(pos + 6);
        let compressed = u32_at(pos + 18);
        let name_len = u16_at(pos + 26);
        let extra_len = u16_at(pos + 28);
        let name_end = pos + 30 + name_len;
        if name_end > bytes.len() {
            break;
        }
        names.push(String::from_utf8_lossy(&bytes[pos + 30..name_end]).into_owned());
        if flags & 0x08 != 0 {
            // Sizes follow the data: we cannot skip reliably.
            break;
        }
        pos = name_end + extra_len + compressed;
    }
    names
}

/// Detects the format of a file from its name and first bytes.
///
/// `head` may be the whole file or only its beginning (a few KiB are enough for everything
/// but DOCX files whose `word/` entries come late, which are then told by the extension).
/// Returns [`Error::UnsupportedFormat`] for anything itassist cannot read.
pub fn detect_format(path: &Path, head: &[u8]) -> Result<Format> {
    let ext = extension(path);
    let by_ext = ext.as_deref().and_then(format_from_extension);
    let unsupported = |detail: String| Error::UnsupportedFormat {
        path: path.to_path_buf(),
        detail,
    };
    let ext_detail = || match &ext {
        Some(e) => format!("extension .{e}"),
        None => "no extension".to_string(),
    };
    match sniff(head) {
        Magic::Pdf => Ok(Format::Pdf),
        Magic::Image => Ok(Format::Image),
        Magic::Zip => match zip_kind(path, head) {
            Some(f) => Ok(f),
            None => match by_ext {
                Some(f @ (Format::Docx | Format::Odt | Format::Ods | Format::Epub)) => Ok(f),
                _ => Err(unsupported(format!(
                    "a ZIP archive that is not DOCX, ODT, ODS or EPUB ({})",
                    ext_detail()
                ))),
            },
        },
        Magic::Gzip => {
            if ext.as_deref() == Some("gz") {
                // Decided again on the decompressed content by `load_bytes`.
                let inner = path.with_extension("");
                match extension(&inner).as_deref().and_then(format_from_extension) {
                    Some(f) => Ok(f),
                    None if extension(&inner).is_none() => Ok(Format::Text),
                    None => Err(unsupported(format!(
                        "gzip-compressed {}",
                        extension(&inner)
                            .map(|e| format!(".{e} file"))
                            .unwrap_or_default()
                    ))),
                }
            } else {
                Err(unsupported(format!(
                    "gzip-compressed file ({})",
                    ext_detail()
                )))
            }
        }
        Magic::OtherBinary(name) => Err(unsupported(format!("{name} ({})", ext_detail()))),
        Magic::Binary => match by_ext {
            // A damaged file of a binary format: its loader reports it as corrupt.
            Some(
                f @ (Format::Pdf
                | Format::Docx
                | Format::Odt
                | Format::Ods
                | Format::Epub
                | Format::Image),
            ) => Ok(f),
            _ => Err(unsupported(format!("binary file ({})", ext_detail()))),
        },
        Magic::Empty => match (by_ext, &ext) {
            (Some(f), _) => Ok(f),
            (None, None) => Ok(Format::Text),
            (None, Some(e)) => Err(unsupported(format!("extension .{e}"))),
        },
        Magic::Text => match by_ext {
            // Text in a file named like a binary format.
            Some(Format::Pdf | Format::Docx | Format::Odt | Format::Ods | Format::Epub) => {
                if looks_like_html(head) {
                    Ok(Format::Html)
                } else {
                    // Not what the name says; its loader reports it as corrupt.
                    by_ext.ok_or_else(|| unsupported(ext_detail()))
                }
            }
            Some(Format::Text) if looks_like_roff(head) => Ok(Format::Man),
            Some(f) => Ok(f),
            None => {
                if looks_like_roff(head) {
                    Ok(Format::Man)
                } else if looks_like_html(head) {
                    Ok(Format::Html)
                } else if ext.is_none() {
                    Ok(Format::Text)
                } else {
                    Err(unsupported(format!("text file with {}", ext_detail())))
                }
            }
        },
    }
}

/// Loads a file from disk.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<LoadedDocument> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(path, &bytes, options)
}

/// Loads a document from bytes; `name` is used for format detection and in errors.
pub fn load_bytes(name: &Path, bytes: &[u8], options: &LoadOptions) -> Result<LoadedDocument> {
    let format = detect_format(name, bytes)?;
    if sniff(bytes) == Magic::Gzip {
        return load_gzip(name, bytes, options);
    }
    if bytes.is_empty() {
        return Err(Error::EmptyDocument {
            path: name.to_path_buf(),
            reason: "the file is empty (0 bytes)".into(),
        });
    }
    let doc = match format {
        Format::Pdf => pdf::load(name, bytes, options)?,
        Format::Image => ocr::load_image(name, bytes, options)?,
        Format::Html => html::load(name, bytes)?,
        Format::Markdown => text::load_markdown(name, bytes)?,
        Format::Rst => text::load_rst(name, bytes)?,
        Format::Text => text::load_text(name, bytes)?,
        Format::Man => man::load(name, bytes)?,
        Format::Docx => office::load_docx(name, bytes)?,
        Format::Odt => office::load_odt(name, bytes)?,
        Format::Ods => office::load_ods(name, bytes)?,
        Format::Epub => office::load_epub(name, bytes)?,
        Format::Csv => tabular::load_csv(name, bytes)?,
        Format::Json => tabular::load_json(name, bytes)?,
    };
    finish(name, doc)
}

/// Decompresses a `.gz` file and loads what it holds, named without the `.gz`.
fn load_gzip(name: &Path, bytes: &[u8], options: &LoadOptions) -> Result<LoadedDocument> {
    use std::io::Read;
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(bytes);
    decoder
        .take(MAX_GUNZIPPED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::corrupt(name, "gzip", e))?;
    if out.len() as u64 > MAX_GUNZIPPED_BYTES {
        return Err(Error::CorruptDocument {
            path: name.to_path_buf(),
            format: "gzip".into(),
            reason: format!("decompresses to more than {MAX_GUNZIPPED_BYTES} bytes"),
            source: None,
        });
    }
    if sniff(&out) == Magic::Gzip {
        return Err(Error::UnsupportedFormat {
            path: name.to_path_buf(),
            detail: "gzip inside gzip".into(),
        });
    }
    let inner = name.with_extension("");
    // Format from the inner name and content; errors keep naming the real file.
    let format = detect_format(&inner, &out).map_err(|e| match e {
        Error::UnsupportedFormat { detail, .. } => Error::UnsupportedFormat {
            path: name.to_path_buf(),
            detail: format!("gzip-compressed {detail}"),
        },
        other => other,
    })?;
    let _ = format;
    load_bytes(&inner, &out, options).map_err(|e| rename_error(e, name))
}

/// Replaces the path in a loader error (used for the inner file of a `.gz`).
fn rename_error(err: Error, path: &Path) -> Error {
    let path = path.to_path_buf();
    match err {
        Error::UnsupportedFormat { detail, .. } => Error::UnsupportedFormat { path, detail },
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
        Error::OcrFailed { reason, .. } => Error::OcrFailed { path, reason },
        other => other,
    }
}

/// Final checks shared by all loaders: clean headings and titles, drop empty sections.
fn finish(name: &Path, mut doc: LoadedDocument) -> Result<LoadedDocument> {
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
    Ok(doc)
}

/// Normalises a heading or title to one line with single spaces.
pub(crate) fn one_line(s: &str) -> String {
    let cleaned = clean_text(s);
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes text bytes: UTF-8 (BOM removed), UTF-16 with a BOM, else Windows-1252/Latin-1.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let le = bytes[0] == 0xFF;
        let units = bytes[2..].chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        return char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| latin1_char(b)).collect(),
    }
}

/// Windows-1252 decoding of one byte (Latin-1 with the 0x80-0x9F printable characters).
fn latin1_char(b: u8) -> char {
    const CP1252: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    if (0x80..0xA0).contains(&b) {
        CP1252[(b - 0x80) as usize]
    } else {
        b as char
    }
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
        assert_eq!(doc.text(), "NAME\n\ngztest - a compressed page");
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
    fn supported_names() {
        for name in ["a.pdf", "ls.1.gz", "x.3ssl", "app.log", "B.DOCX", "s.tsv"] {
            assert!(is_supported_name(Path::new(name)), "{name}");
        }
        for name in ["tool.exe", "README", "a.gz", "x.py", "archive.tar.gz"] {
            assert!(!is_supported_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn man_extensions() {
        assert!(is_man_extension("1"));
        assert!(is_man_extension("3ssl"));
        assert!(!is_man_extension("0"));
        assert!(!is_man_extension("10"));
        assert!(!is_man_extension("1.0"));
    }
}
