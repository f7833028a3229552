//! Text normalisation shared by all loaders, and a builder of [`Section`]s.

use unicode_normalization::UnicodeNormalization;

use super::Section;

/// Normalises extracted text: Unicode NFKC (ligatures become letters), line ends to `\n`,
/// control and invisible format characters removed (tabs and line breaks kept), trailing
/// spaces trimmed, runs of blank lines collapsed to one, no leading or trailing blank lines.
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
            out.push_str(trimmed);
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

/// Collects text into sections: a new section starts at each heading (or page).
#[derive(Debug, Default)]
pub(crate) struct SectionBuilder {
    sections: Vec<Section>,
    heading: Option<String>,
    page: Option<u32>,
    text: String,
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
    fn keeps_indentation_and_tabs() {
        assert_eq!(clean_text("\n\n  code\n\tx\n"), "  code\n\tx");
    }
}
