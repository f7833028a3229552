//! Character set decoding (encoding_rs): UTF-8 first, UTF-16 and UTF-8 byte-order marks,
//! an HTML page's declared charset, else Windows-1252 (a superset of Latin-1) for bytes
//! that look like legacy 8-bit text.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Text decoded from bytes, and the character set it was read as.
pub(crate) struct Decoded {
    pub(crate) text: String,
    /// `None` for UTF-8; the name of the legacy or UTF-16 charset otherwise.
    pub(crate) charset: Option<&'static str>,
}

/// Decodes text bytes: a byte-order mark decides (UTF-8, UTF-16LE/BE); else valid UTF-8;
/// else Windows-1252.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    decode(bytes, None).text
}

/// Like [`decode_text`], and says which charset was used. `declared` is a charset label from
/// the document itself (an HTML `<meta charset>`), used when the bytes are not UTF-8.
pub(crate) fn decode(bytes: &[u8], declared: Option<&'static Encoding>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            charset: (encoding != UTF_8).then(|| encoding.name()),
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: text.to_string(),
            charset: None,
        };
    }
    // A declared UTF-16 without a BOM cannot be told from the bytes here: not trusted.
    let encoding = declared
        .filter(|e| e.is_ascii_compatible())
        .unwrap_or(WINDOWS_1252);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        charset: Some(encoding.name()),
    }
}

/// Do bytes that are not UTF-8 look like text in a legacy 8-bit charset (Latin-1,
/// Windows-1252)? No NUL bytes, almost no control characters (tabs, line ends, form feeds
/// and escapes are fine), and mostly ASCII.
pub(crate) fn looks_like_legacy_text(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.contains(&0) {
        return false;
    }
    let mut controls = 0usize;
    let mut ascii = 0usize;
    for &b in bytes {
        match b {
            b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | 0x1B => ascii += 1,
            0x01..=0x1F | 0x7F => controls += 1,
            0x20..=0x7E => ascii += 1,
            _ => {}
        }
    }
    // At most 1 control byte in 200, at least 70 % ASCII.
    controls * 200 <= bytes.len() && ascii * 10 >= bytes.len() * 7
}

/// The charset an HTML page declares in its first KiB (`<meta charset="...">` or
/// `<meta http-equiv="Content-Type" content="text/html; charset=...">`).
pub(crate) fn html_declared_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(p) = find(&lower[from..], b"charset") {
        let mut i = from + p + b"charset".len();
        from = i;
        while lower.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if lower.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while lower
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'')
        {
            i += 1;
        }
        let start = i;
        while lower
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
        {
            i += 1;
        }
        if let Some(encoding) = Encoding::for_label(&lower[start..i]) {
            return Some(encoding);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_boms_and_legacy_bytes() {
        assert_eq!(decode_text("año".as_bytes()), "año");
        assert_eq!(decode_text(b"\xEF\xBB\xBFhi"), "hi");
        assert_eq!(decode_text(b"\xFF\xFEh\0i\0"), "hi");
        assert_eq!(decode_text(b"\xFE\xFF\0h\0i"), "hi");
        // Latin-1 / Windows-1252: "año", "€5", curly quotes.
        let decoded = decode(b"a\xF1o \x805 \x93q\x94", None);
        assert_eq!(decoded.text, "año €5 \u{201C}q\u{201D}");
        assert_eq!(decoded.charset, Some("windows-1252"));
    }

    #[test]
    fn legacy_text_is_told_from_binary() {
        assert!(looks_like_legacy_text(
            b"Configuraci\xF3n del servidor\r\nPuerto: 80\r\n"
        ));
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
            .collect();
        assert!(!looks_like_legacy_text(&random));
        assert!(!looks_like_legacy_text(b"text\0with a NUL \xE9"));
    }

    #[test]
    fn html_meta_charset() {
        let page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-15\"></head>";
        let encoding = html_declared_charset(page);
        assert_eq!(encoding.map(Encoding::name), Some("ISO-8859-15"));
        assert_eq!(
            html_declared_charset(b"<meta charset='koi8-r'>").map(Encoding::name),
            Some("KOI8-R")
        );
        assert!(html_declared_charset(b"<p>charset is a word</p>").is_none());
    }
}
