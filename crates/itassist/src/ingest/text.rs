//! Text formats kept as written: Markdown (sections at ATX and setext headings, found by
//! pulldown-cmark), reStructuredText (sections at underlined titles) and plain text (one
//! section, or sections at underlined titles).

use std::path::Path;

use pulldown_cmark::{Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag, TagEnd};

use super::{Budget, Format, LoadedDocument, SectionBuilder};
use crate::error::Result;

/// Loads Markdown: the source as written, split into sections at headings.
///
/// pulldown-cmark finds the headings (ATX and setext, outside code blocks, block quotes and
/// lists) and the YAML front matter, whose `title:` is the title; otherwise the first level-1
/// heading is. The front matter is left out of the text.
pub(crate) fn load_markdown(_path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let decoded = super::decode::decode(bytes, None);
    let source = decoded.text.as_str();
    budget.check_text(source.len())?;
    let options = Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_TABLES
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_FOOTNOTES;
    // (offset where the heading's line starts, heading text); the front matter's range.
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut front_matter: Option<std::ops::Range<usize>> = None;
    let mut front_title: Option<String> = None;
    let mut first_h1: Option<String> = None;
    let mut containers = 0usize;
    let mut in_heading: Option<(usize, HeadingLevel, String)> = None;
    let mut in_metadata = false;
    for (event, range) in Parser::new_ext(source, options).into_offset_iter() {
        budget.check(0)?;
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::FootnoteDefinition(_)) => {
                containers += 1
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::FootnoteDefinition) => {
                containers = containers.saturating_sub(1)
            }
            Event::Start(Tag::Heading { level, .. }) if containers == 0 => {
                let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
                in_heading = Some((line_start, level, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((start, level, text)) = in_heading.take() {
                    let text = super::one_line(&text);
                    if level == HeadingLevel::H1 && first_h1.is_none() && !text.is_empty() {
                        first_h1 = Some(text.clone());
                    }
                    headings.push((start, text));
                }
            }
            Event::Start(Tag::MetadataBlock(MetadataBlockKind::YamlStyle)) => {
                in_metadata = true;
                front_matter = Some(range);
            }
            Event::End(TagEnd::MetadataBlock(_)) => in_metadata = false,
            Event::Text(text) if in_metadata => {
                front_title = front_title.or_else(|| yaml_title(&text));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, heading)) = in_heading.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((_, _, heading)) = in_heading.as_mut() {
                    heading.push(' ');
                }
            }
            _ => {}
        }
    }
    let mut builder = SectionBuilder::new();
    let mut pos = 0usize;
    if let Some(range) = &front_matter {
        builder.push_str(&source[..range.start]);
        pos = range.end.min(source.len());
    }
    for (start, heading) in headings {
        if start < pos {
            continue;
        }
        builder.push_str(&source[pos..start]);
        builder.start_section((!heading.is_empty()).then_some(heading), None);
        pos = start;
    }
    builder.push_str(&source[pos..]);
    let mut doc = LoadedDocument::new(Format::Markdown, front_title.or(first_h1), builder.finish());
    doc.notes.extend(super::charset_note(decoded.charset));
    Ok(doc)
}

/// The `title:` of YAML front matter (a top-level key, quotes removed).
fn yaml_title(yaml: &str) -> Option<String> {
    yaml.lines()
        .find_map(|l| l.strip_prefix("title:"))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        .filter(|t| !t.is_empty())
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
fn split_underlined(
    source: &str,
    builder: &mut SectionBuilder,
    budget: &Budget,
) -> Result<Option<String>> {
    budget.check_text(source.len())?;
    let lines: Vec<&str> = source.lines().collect();
    // (first line of the heading, including an overline; its text)
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        budget.check(0)?;
        let line = lines[i];
        let text = line.trim();
        let is_title_text = !text.is_empty()
            && text.len() <= 480
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
        budget.check(0)?;
        if next.peek().is_some_and(|(start, _)| *start == n) {
            if let Some((_, text)) = next.next() {
                builder.start_section(Some(text), None);
            }
        }
        builder.push_str(line);
        builder.push_str("\n");
    }
    Ok(title)
}

/// Loads reStructuredText: the source as written, a section per title.
pub(crate) fn load_rst(_path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let decoded = super::decode::decode(bytes, None);
    let mut builder = SectionBuilder::new();
    let title = split_underlined(&decoded.text, &mut builder, budget)?;
    let mut doc = LoadedDocument::new(Format::Rst, title, builder.finish());
    doc.notes.extend(super::charset_note(decoded.charset));
    Ok(doc)
}

/// Loads plain text: sections at underlined titles when there are some, else one section.
pub(crate) fn load_text(_path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let decoded = super::decode::decode(bytes, None);
    let mut builder = SectionBuilder::new();
    let _ = split_underlined(&decoded.text, &mut builder, budget)?;
    let mut doc = LoadedDocument::new(Format::Text, None, builder.finish());
    doc.notes.extend(super::charset_note(decoded.charset));
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_sections_skip_code_fences() {
        let md = b"# Title\n\nintro\n\n```sh\n# not a heading\n```\n\n## Part two\n\ntext\n";
        let doc =
            load_markdown(Path::new("a.md"), md, &Budget::unlimited(Path::new("a.md"))).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Title"));
        assert_eq!(doc.sections.len(), 2);
        assert!(doc.sections[0].text.contains("# not a heading"));
        assert_eq!(doc.sections[1].heading.as_deref(), Some("Part two"));
        assert_eq!(doc.sections[1].text, "## Part two\n\ntext");
    }

    #[test]
    fn rst_sections_with_overlines() {
        let rst = b"=====\nTitle\n=====\n\nIntro.\n\nSub part\n--------\n\nBody.\n";
        let doc = load_rst(
            Path::new("a.rst"),
            rst,
            &Budget::unlimited(Path::new("a.rst")),
        )
        .unwrap();
        assert_eq!(doc.title.as_deref(), Some("Title"));
        let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
        assert_eq!(headings, vec![Some("Title"), Some("Sub part")]);
        assert_eq!(doc.sections[0].text, "=====\nTitle\n=====\n\nIntro.");
    }

    #[test]
    fn markdown_front_matter_setext_and_containers() {
        let md = "---\ntitle: \"From front matter\"\n---\n\nIntro\n\nSetext title\n============\n\nbody\n\n> # quoted, not a section\n\n- # listed, not a section\n\n~~~\n## fenced\n~~~\n\n## `code` heading {#anchor}\n\nend\n";
        let path = Path::new("f.md");
        let doc = load_markdown(path, md.as_bytes(), &Budget::unlimited(path)).unwrap();
        assert_eq!(doc.title.as_deref(), Some("From front matter"));
        let headings: Vec<_> = doc.sections.iter().map(|s| s.heading.as_deref()).collect();
        assert_eq!(
            headings,
            vec![None, Some("Setext title"), Some("code heading")]
        );
        assert_eq!(doc.sections[0].text, "Intro");
        assert!(doc.sections[1]
            .text
            .starts_with("Setext title\n============"));
        assert!(doc.sections[1].text.contains("> # quoted"));
        assert!(doc.sections[1].text.contains("## fenced"));
        assert!(doc.sections[2]
            .text
            .starts_with("## `code` heading {#anchor}"));
    }
}
