//! Names and identifiers that come from outside: upload names and document ids.
//!
//! Every door (the CLI, the HTTP server, Python, Node) goes through these functions, so one
//! input means the same thing everywhere.

/// Longest display name kept for an upload, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 200;

/// The name used when nothing usable is left of an upload's name.
pub const FALLBACK_NAME: &str = "upload";

/// Characters that reorder or hide text when displayed (bidirectional embeddings, overrides
/// and isolates, and the directional marks). A name holding them can show as something else
/// than it is (`invoice\u{202E}fdp.exe` displays as `invoiceexe.pdf`).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The display name for uploaded bytes: the last path component of `name` (after `/` or
/// `\`), without control or bidirectional-control characters, trimmed, at most
/// [`MAX_NAME_BYTES`] long with its extension kept; [`FALLBACK_NAME`] when nothing usable is
/// left (an empty name, `.`, `..`, `a/`).
///
/// The name is only ever a display name and a format hint, never a path.
///
/// ```
/// use itassist::names::upload_name;
/// assert_eq!(upload_name("../../etc/passwd"), "passwd");
/// assert_eq!(upload_name("dirA\\notes.txt"), "notes.txt");
/// assert_eq!(upload_name("report\u{202E}fdp.exe"), "reportfdp.exe");
/// assert_eq!(upload_name(".."), "upload");
/// let long = format!("{}.pdf", "a".repeat(400));
/// assert!(upload_name(&long).ends_with(".pdf"));
/// assert!(upload_name(&long).len() <= 200);
/// ```
pub fn upload_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        return FALLBACK_NAME.to_string();
    }
    shorten_keeping_extension(clean, MAX_NAME_BYTES)
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping its extension (up to
/// 16 bytes of it) so the format can still be recognised.
fn shorten_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let extension = name
        .rfind('.')
        .filter(|&dot| dot > 0 && name.len() - dot <= 16)
        .map(|dot| &name[dot..])
        .unwrap_or_default();
    let mut stem_end = max - extension.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{extension}", name[..stem_end].trim_end())
}

/// Parses a document id written as plain decimal digits: `"12"` is 12; `"+1"`, `" 1"`,
/// `"1e0"` and `""` are not ids (so a selector such as `+1` is looked up as a name instead).
///
/// ```
/// use itassist::names::parse_document_id;
/// assert_eq!(parse_document_id("12"), Some(12));
/// assert_eq!(parse_document_id("+1"), None);
/// assert_eq!(parse_document_id(""), None);
/// ```
pub fn parse_document_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_directories_are_dropped() {
        assert_eq!(upload_name("a\u{0}b\u{7}\u{1b}[31mc.md"), "ab[31mc.md");
        assert_eq!(upload_name("dirA/notes.txt"), "notes.txt");
        assert_eq!(upload_name("a/"), FALLBACK_NAME);
        assert_eq!(upload_name(""), FALLBACK_NAME);
        assert_eq!(upload_name("  \u{2067}  "), FALLBACK_NAME);
    }

    #[test]
    fn shortening_keeps_the_extension_and_utf8() {
        let long = format!("{}.docx", "ñ".repeat(300));
        let short = upload_name(&long);
        assert!(short.len() <= MAX_NAME_BYTES, "{}", short.len());
        assert!(short.ends_with(".docx"));
        assert!(short.starts_with('ñ'));
        // No extension: a plain cut.
        let plain = upload_name(&"x".repeat(500));
        assert_eq!(plain.len(), MAX_NAME_BYTES);
    }

    #[test]
    fn ids_are_plain_digits() {
        assert_eq!(parse_document_id("007"), Some(7));
        assert_eq!(parse_document_id("-1"), None);
        assert_eq!(parse_document_id("99999999999999999999999"), None);
    }
}
