//! Text formats kept as written: Markdown (sections at ATX and setext headings),
//! reStructuredText (sections at underlined titles) and plain text (one section).

use std::path::Path;

use super::{Format, LoadedDocument, SectionBuilder};
use crate::error::Result;

/// An ATX heading (`## Title ##`): its level and text.
fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !after.is_empty() && !after.starts_with([' ', '\t']) {
        return None;
    }
    let text = after.trim();
    // Closing hashes: "## Title ##".
    let without_closing = text.trim_end_matches('#');
    let text = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        text
    };
    Some((level, text))
}

/// A code fence opener or closer: the fence character and its length.
fn fence(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let c = trimmed.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = trimmed.len() - trimmed.trim_start_matches(c).len();
    (n >= 3).then_some((c, n))
}

/// A setext underline: level 1 for `===`, 2 for `---`.
fn setext_level(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.len() >= 3 && t.chars().all(|c| c == '=') {
        Some(1)
    } else if t.len() >= 3 && t.chars().all(|c| c == '-') {
        Some(2)
    } else {
        None
    }
}

/// YAML front matter (`---` ... `---` at the very top): its `title:` value.
fn front_matter_title(lines: &[&str]) -> (Option<String>, usize) {
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return (None, 0);
    }
    for (i, line) in lines.iter().enumerate().skip(1).take(200) {
        let t = line.trim_end();
        if t == "---" || t == "..." {
            let title = lines[1..i].iter().find_map(|l| {
                l.strip_prefix("title:")
                    .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
            });
            return (title.filter(|t| !t.is_empty()), i + 1);
        }
    }
    (None, 0)
}

/// Loads Markdown: the source as written, split into sections at headings.
pub(crate) fn load_markdown(_path: &Path, bytes: &[u8]) -> Result<LoadedDocument> {
    let source = super::decode_text(bytes);
    let lines: Vec<&str> = source.lines().collect();
    let (mut title, body_start) = front_matter_title(&lines);
    let mut builder = SectionBuilder::new();
    let mut open_fence: Option<(char, usize)> = None;
    let mut i = body_start;
    while i < lines.len() {
        let line = lines[i];
        if let Some((c, n)) = open_fence {
            if fence(line).is_some_and(|(c2, n2)| c2 == c && n2 >= n)
                && line.trim().chars().all(|x| x == c)
            {
                open_fence = None;
            }
        } else if let Some(f) = fence(line) {
            open_fence = Some(f);
        } else if let Some((level, text)) = atx_heading(line) {
            if level == 1 && title.is_none() && !text.is_empty() {
                title = Some(text.to_string());
            }
            builder.start_section(Some(text.to_string()), None);
        } else if !line.trim().is_empty()
            && !line.starts_with([' ', '\t', '>', '-', '*', '+', '|'])
            && i + 1 < lines.len()
            && (i == body_start || lines[i - 1].trim().is_empty())
        {
            if let Some(level) = setext_level(lines[i + 1]) {
                if level == 1 && title.is_none() {
                    title = Some(line.trim().to_string());
                }
                builder.start_section(Some(line.trim().to_string()), None);
                builder.push_str(line);
                builder.push_str("\n");
                builder.push_str(lines[i + 1]);
                builder.push_str("\n");
                i += 2;
                continue;
            }
        }
        builder.push_str(line);
        builder.push_str("\n");
        i += 1;
    }
    Ok(LoadedDocument {
        format: Format::Markdown,
        title,
        page_count: None,
        sections: builder.finish(),
        ocr_pages: Vec::new(),
    })
}

/// An RST adornment line: one punctuation character repeated (at least 3 times).
fn adornment(line: &str) -> Option<char> {
    let t = line.trim_end();
    let c = t.chars().next()?;
    if !c.is_ascii_punctuation() || t.chars().count() < 3 || !t.chars().all(|x| x == c) {
        return None;
    }
    Some(c)
}

/// Sections at reStructuredText titles: a text line underlined (and maybe overlined) with
/// punctuation at least as long as the text. Used for plain text too, where the same
/// convention is common. Returns the first title.
fn split_underlined(source: &str, builder: &mut SectionBuilder) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    // (first line of the heading, including an overline; its text)
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let line = lines[i];
        let text = line.trim();
        let is_title_text = !text.is_empty()
            && !line.starts_with([' ', '\t'])
            && adornment(line).is_none()
            && text.chars().count() <= 120;
        if is_title_text {
            if let Some(c) = adornment(lines[i + 1]).filter(|&c| !text.starts_with(c)) {
                let under_len = lines[i + 1].trim_end().chars().count();
                if under_len + 1 >= text.chars().count() {
                    let overline = i > 0 && adornment(lines[i - 1]) == Some(c);
                    let start = if overline { i - 1 } else { i };
                    headings.push((start, text.to_string()));
                    i += 2;
                    continue;
                }
            }
        }
        i += 1;
    }
    let title = headings.first().map(|(_, t)| t.clone());
    let mut next = headings.into_iter().peekable();
    for (n, line) in lines.iter().enumerate() {
        if next.peek().is_some_and(|(start, _)| *start == n) {
            if let Some((_, text)) = next.next() {
                builder.start_section(Some(text), None);
            }
        }
        builder.push_str(line);
        builder.push_str("\n");
    }
    title
}

/// Loads reStructuredText: the source as written, a section per title.
pub(crate) fn load_rst(_path: &Path, bytes: &[u8]) -> Result<LoadedDocument> {
    let source = super::decode_text(bytes);
    let mut builder = SectionBuilder::new();
    let title = split_underlined(&source, &mut builder);
    Ok(LoadedDocument {
        format: Format::Rst,
        title,
        page_count: None,
        sections: builder.finish(),
        ocr_pages: Vec::new(),
    })
}

/// Loads plain text: sections at underlined titles when there are some, else one section.
pub(crate) fn load_text(_path: &Path, bytes: &[u8]) -> Result<LoadedDocument> {
    let source = super::decode_text(bytes);
    let mut builder = SectionBuilder::new();
    let _ = split_underlined(&source, &mut builder);
    Ok(LoadedDocument {
        format: Format::Text,
        title: None,
        page_count: None,
        sections: builder.finish(),
        ocr_pages: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_sections_skip_code_fences() {
        let md = b"# Title\n\nintro\n\n```sh\n# not a heading\n```\n\n## Part two\n\ntext\n";
        let doc = load_markdown(Path::new("a.md"), md).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Title"));
        assert_eq!(doc.sections.len(), 2);
        assert!(doc.sections[0].text.contains("# not a heading"));
        assert_eq!(doc.sections[1].heading.as_deref(), Some("Part two"));
        assert_eq!(doc.sections[1].text, "## Part two\n\ntext");
    }

    #[test]
    fn rst_sections_with_overlines() {
        let rst = b"=====\nTitle\n=====\n\nIntro.\n\nSub part\n--------\n\nBody.\n";
        let doc = load_rst(Path::new("a.rst"), rst).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Title"));
        let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
        assert_eq!(headings, vec![Some("Title"), Some("Sub part")]);
        assert_eq!(doc.sections[0].text, "=====\nTitle\n=====\n\nIntro.");
    }
}
