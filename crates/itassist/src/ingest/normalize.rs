//! Text normalisation shared by all loaders, and a builder of [`Section`]s.

use unicode_normalization::UnicodeNormalization;

use super::Section;

/// Longest line kept, in bytes: longer lines are wrapped (see [`clean_text`]).
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// Normalises extracted text: Unicode NFKC (ligatures become letters), line ends to `\n`,
/// control and invisible format characters removed (tabs and line breaks kept), trailing
/// spaces trimmed, runs of blank lines collapsed to one, no leading or trailing blank lines.
///
/// Lines longer than [`MAX_LINE_BYTES`] are wrapped, after a sentence when one ends in the
/// second half of the line, else at a blank, else anywhere: the chunker looks for sentence
/// ends within a line, and on a line of megabytes without one its work grows with the
/// square of the length (a 256 KiB line took ten times as long as the same text in lines).
pub(crate) fn clean_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut line = String::new();
    let mut blank_lines = 0usize;
    let mut started = false;
    let mut flush = |line: &mut String, out: &mut String, blank_lines: &mut usize| {
        let trimmed = line.trim_end();
        if trimmed.trim_start().is_empty() {
            if started {
                *blank_lines += 1;
            }
        } else {
            if started {
                out.push('\n');
                if *blank_lines > 0 {
                    out.push('\n');
                }
            }
            push_wrapped(out, trimmed);
            started = true;
            *blank_lines = 0;
        }
        line.clear();
    };
    let mut prev_cr = false;
    for c in raw.nfkc() {
        match c {
            '\r' => {
                flush(&mut line, &mut out, &mut blank_lines);
                prev_cr = true;
                continue;
            }
            '\n' => {
                if !prev_cr {
                    flush(&mut line, &mut out, &mut blank_lines);
                }
            }
            // Form feed, vertical tab, line and paragraph separators, NEL.
            '\x0B' | '\x0C' | '\u{2028}' | '\u{2029}' | '\u{85}' => {
                flush(&mut line, &mut out, &mut blank_lines);
            }
            '\t' => line.push('\t'),
            // NFKC maps the no-break space to a space; other spaces too.
            c if c.is_control() => {}
            // Soft hyphen, zero-width characters, BOM, bidi marks, invisible operators.
            '\u{AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFFE}'
            | '\u{FFFF}' => {}
            c => line.push(c),
        }
        prev_cr = false;
    }
    flush(&mut line, &mut out, &mut blank_lines);
    out
}

/// Appends `line`, wrapped into lines of at most [`MAX_LINE_BYTES`].
fn push_wrapped(out: &mut String, line: &str) {
    let mut rest = line;
    if rest.len() > MAX_LINE_BYTES {
        // Indentation of thousands of blanks means nothing; it would wrap into blank lines.
        let unindented = rest.trim_start();
        if rest.len() - unindented.len() > MAX_LINE_BYTES / 2 {
            rest = unindented;
        }
    }
    while rest.len() > MAX_LINE_BYTES {
        let mut cut = MAX_LINE_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let window = &rest[..cut];
        let half = cut / 2;
        let tail = &window[half..];
        let sentence = [". ", "? ", "! ", "; ", ".\t"]
            .iter()
            .filter_map(|end| tail.rfind(end).map(|p| half + p + 1))
            .max();
        let blank = || tail.rfind([' ', '\t']).map(|p| half + p);
        let (end, next) = match sentence.or_else(blank) {
            // The blank becomes the line break.
            Some(p) => (p, p + 1),
            None => (cut, cut),
        };
        let segment = rest[..end].trim_end();
        if !segment.is_empty() {
            out.push_str(segment);
            out.push('\n');
        }
        rest = rest[next..].trim_start();
    }
    out.push_str(rest);
}

/// Collects text into sections: a new section starts at each heading (or page).
#[derive(Debug, Default)]
pub(crate) struct SectionBuilder {
    sections: Vec<Section>,
    heading: Option<String>,
    page: Option<u32>,
    text: String,
    /// Bytes of raw text pushed so far, over all sections.
    total: usize,
}

impl SectionBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Ends the current section and starts one under `heading`.
    pub(crate) fn start_section(&mut self, heading: Option<String>, page: Option<u32>) {
        self.flush();
        self.heading = heading;
        self.page = page;
    }

    /// Appends raw text to the current section.
    pub(crate) fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
        self.total += s.len();
    }

    /// Bytes of text pushed so far (before normalisation), for the text limit.
    pub(crate) fn pushed_bytes(&self) -> usize {
        self.total
    }

    fn flush(&mut self) {
        let text = clean_text(&self.text);
        self.text.clear();
        if !text.trim().is_empty() {
            self.sections.push(Section {
                page: self.page,
                heading: self.heading.take(),
                text,
            });
        }
    }

    /// The sections, the last one included.
    pub(crate) fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.sections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_ligatures_controls_and_blank_lines() {
        let raw = "\u{FB01}le\r\n\r\n\r\n\u{0007}next \t\n\n\n\nend\u{00AD}ing\x0c";
        assert_eq!(clean_text(raw), "file\n\nnext\n\nending");
    }

    #[test]
    fn long_lines_are_wrapped_at_sentences_or_blanks() {
        let sentence = "The quick brown fox jumps over the lazy dog. ";
        let raw = sentence.repeat(1000);
        let text = clean_text(&raw);
        assert!(text.lines().all(|l| l.len() <= MAX_LINE_BYTES));
        assert!(
            text.lines().all(|l| l.ends_with("dog.")),
            "wrapped after sentences"
        );
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            raw.split_whitespace().collect::<Vec<_>>()
        );
        // No blank at all: cut anyway, at a character boundary.
        let blob = "é".repeat(10_000);
        let text = clean_text(&blob);
        assert!(text.lines().all(|l| l.len() <= MAX_LINE_BYTES));
        assert_eq!(text.replace('\n', ""), blob);
        // Deep indentation does not wrap into blank lines.
        let indented = format!("{}- item\n", " ".repeat(20_000));
        assert_eq!(clean_text(&indented), "- item");
        let spaced = format!("a{}b", " ".repeat(20_000));
        assert_eq!(clean_text(&spaced), "a\nb");
    }

    #[test]
    fn keeps_indentation_and_tabs() {
        assert_eq!(clean_text("\n\n  code\n\tx\n"), "  code\n\tx");
    }
}
