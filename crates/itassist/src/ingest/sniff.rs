//! Format detection: what a file is, from its first bytes and its name.
//!
//! The content is trusted over the name: magic bytes (`%PDF-`, PNG/JPEG/TIFF signatures,
//! ZIP containers told apart by their entries) decide first, then the extension, then a look
//! at the text (roff, HTML). Text files with no extension, or with a textual one (`.log`,
//! `.conf`, `.ini`, `.yaml`, ...), are read as plain text when they are text: UTF-8, UTF-16
//! with a byte-order mark, or legacy 8-bit text (Latin-1, Windows-1252), without NUL bytes.
//! Anything else is [`Error::UnsupportedFormat`].

use std::io::Read;
use std::path::Path;

use super::decode::looks_like_legacy_text;
use super::Format;
use crate::error::{Error, Result};

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

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Magic {
    Pdf,
    Image,
    Zip,
    Gzip,
    /// A binary format we recognise but do not read, with its name.
    OtherBinary(&'static str),
    /// Text (see [`looks_like_text`]).
    Text,
    /// Bytes that are neither text nor a known format.
    Binary,
    Empty,
}

pub(super) fn sniff(head: &[u8]) -> Magic {
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

/// Text: valid UTF-8 (allowing a sequence cut at the end of `head`) without NUL, UTF-16
/// with a byte-order mark, or legacy 8-bit text (Latin-1, Windows-1252).
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
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > head.len() => true,
        Err(_) => looks_like_legacy_text(head),
    }
}

/// The lowercase extension of `path`, if any.
pub(super) fn extension(path: &Path) -> Option<String> {
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
    if let Some(kind) = first_entry_mimetype(bytes).as_deref().and_then(odf_kind) {
        return Some(kind);
    }
    // Otherwise look at the central directory (needs the whole file).
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok();
    let names: Vec<String> = match &archive {
        Some(a) => a.file_names().map(str::to_string).collect(),
        // A truncated archive: the local headers we have.
        None => local_zip_names(bytes),
    };
    if names.iter().any(|n| n == "word/document.xml") {
        return Some(Format::Docx);
    }
    if names.iter().any(|n| n == "META-INF/container.xml") {
        return Some(Format::Epub);
    }
    if names.iter().any(|n| n == "content.xml") {
        // An ODF file without a leading mimetype entry: the entry, else the extension.
        if let Some(mut a) = archive {
            if let Ok(f) = a.by_name("mimetype") {
                let mut s = String::new();
                let _ = f.take(200).read_to_string(&mut s);
                if let Some(kind) = odf_kind(&s) {
                    return Some(kind);
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

/// The format a `mimetype` entry names.
fn odf_kind(mimetype: &str) -> Option<Format> {
    match mimetype.trim() {
        "application/epub+zip" => Some(Format::Epub),
        "application/vnd.oasis.opendocument.text" => Some(Format::Odt),
        "application/vnd.oasis.opendocument.spreadsheet" => Some(Format::Ods),
        _ => None,
    }
}

/// The content of the first entry of a ZIP stream when it is named `mimetype`.
fn first_entry_mimetype(bytes: &[u8]) -> Option<String> {
    let mut reader = std::io::Cursor::new(bytes);
    let entry = zip::read::read_zipfile_from_stream(&mut reader).ok()??;
    if entry.name() != "mimetype" {
        return None;
    }
    let mut content = String::new();
    entry.take(200).read_to_string(&mut content).ok()?;
    Some(content)
}

/// Names of the entries whose local headers are in `bytes` (for truncated archives, whose
/// central directory at the end is missing).
fn local_zip_names(bytes: &[u8]) -> Vec<String> {
    let mut reader = std::io::Cursor::new(bytes);
    let mut names = Vec::new();
    while names.len() < 1000 {
        match zip::read::read_zipfile_from_stream(&mut reader) {
            // Dropping the entry skips its data, to the next local header.
            Ok(Some(entry)) => names.push(entry.name().to_string()),
            // The central directory, the end of the bytes, or an entry whose size follows
            // its data (it cannot be skipped).
            Ok(None) | Err(_) => break,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn legacy_text_is_text() {
        assert_eq!(
            detect_format(
                Path::new("notes.txt"),
                b"Contrase\xF1a: ver la secci\xF3n 3\n"
            )
            .ok(),
            Some(Format::Text)
        );
        assert_eq!(
            detect_format(Path::new("README"), b"caf\xE9 \x93quoted\x94\n").ok(),
            Some(Format::Text)
        );
    }
}
