//! HTML loader: the visible text of the page, without scripts, styles and navigation
//! chrome, a section per `h1`-`h4` heading.
//!
//! The page is parsed with scraper (html5ever), fed in pieces so the per-document deadline
//! is checked while it parses, and walked iteratively (deeply nested pages cannot overflow
//! the stack). Elements nested deeper than [`MAX_DEPTH`] are flattened first, as browsers
//! do: the HTML parser's work per element grows with the depth, so 100,000 nested `div`s
//! would take it minutes. Block elements become line breaks, list items get a `- `, table
//! cells are joined with `" | "`, `pre` keeps its whitespace.

use std::borrow::Cow;
use std::path::Path;

use html5ever::tendril::{StrTendril, TendrilSink};
use scraper::node::Element;
use scraper::{Html, HtmlTreeSink, Node};

use super::{Budget, Format, LoadNote, LoadedDocument, NoteKind, Section, SectionBuilder};
use crate::error::Result;

/// Deepest element nesting kept; deeper start tags are dropped (their text is kept). Blink
/// builds at most 512 levels too.
const MAX_DEPTH: usize = 512;

/// Bytes of HTML given to the parser at a time, between deadline checks.
const PARSE_PIECE: usize = 64 * 1024;

/// Elements whose content is never shown as text.
const INVISIBLE: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "svg", "canvas", "iframe", "object", "embed",
    "button", "select", "input", "textarea", "map", "audio", "video",
];

/// `class` or `id` tokens of navigation chrome (DocBook, Sphinx, Doxygen, publican, ...).
const CHROME_TOKENS: &[&str] = &[
    "navheader",
    "navfooter",
    "breadcrumb",
    "breadcrumbs",
    "toc",
    "docnav",
    "related",
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "headerlink",
    "navpath",
    "navelem",
    "navbar",
    "navigation",
    "nav",
    "skip-link",
    "skiplink",
    "banner",
    "side-nav",
    "sidebar-nav",
    "menubar",
    "pagination",
    "edit-this-page",
    "footer-nav",
    "msearchbox",
    "toctree-wrapper",
    "msearchselectwindow",
    "msearchresultswindow",
    "nav-tree",
    "nav-path",
    "top-nav",
];

/// Elements after which a blank line follows.
const PARAGRAPHS: &[&str] = &[
    "p",
    "pre",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "dl",
    "hr",
    "figure",
    "address",
    "details",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "fieldset",
    "form",
    "center",
];

/// Elements that start a new line.
const BLOCKS: &[&str] = &[
    "div",
    "li",
    "dt",
    "dd",
    "tr",
    "caption",
    "figcaption",
    "legend",
    "summary",
    "body",
    "html",
    "option",
    "menu",
    "dir",
    "frameset",
    "noframes",
    "hgroup",
    "dialog",
    "br",
    "tbody",
    "thead",
    "tfoot",
    "colgroup",
];

/// Void elements (HTML has no end tag for them).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

fn is_chrome(el: &Element) -> bool {
    let name = el.name();
    if INVISIBLE.contains(&name) {
        return true;
    }
    if el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
        return true;
    }
    if let Some(style) = el.attr("style") {
        let style: String = style.chars().filter(|c| !c.is_whitespace()).collect();
        let style = style.to_ascii_lowercase();
        if style.contains("display:none") || style.contains("visibility:hidden") {
            return true;
        }
    }
    if let Some(role) = el.attr("role") {
        if matches!(
            role.to_ascii_lowercase().as_str(),
            "navigation" | "search" | "banner" | "menubar" | "menu"
        ) {
            return true;
        }
    }
    let chrome_token = |token: &str| {
        let t = token.to_ascii_lowercase();
        CHROME_TOKENS.contains(&t.as_str())
            || t.starts_with("nav-")
            || t.starts_with("navbar")
            || t.starts_with("breadcrumb")
            || t.starts_with("msearch")
    };
    el.classes().any(chrome_token) || el.id().is_some_and(chrome_token)
}

/// Builds the text while walking the tree.
struct Walker {
    builder: SectionBuilder,
    buf: String,
    pending_space: bool,
    pre_depth: usize,
    /// Byte offset in `buf` where the heading being read starts, and its element depth.
    heading: Option<(usize, usize)>,
    first_h1: Option<String>,
    /// Cells seen in the current row of each open table.
    cells: Vec<usize>,
    depth: usize,
}

impl Walker {
    fn new() -> Self {
        Walker {
            builder: SectionBuilder::new(),
            buf: String::new(),
            pending_space: false,
            pre_depth: 0,
            heading: None,
            first_h1: None,
            cells: Vec::new(),
            depth: 0,
        }
    }

    fn text(&mut self, s: &str) {
        if self.pre_depth > 0 {
            self.buf.push_str(s);
            self.pending_space = false;
            return;
        }
        for c in s.chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                self.pending_space = true;
            } else {
                if self.pending_space && !self.buf.is_empty() && !self.buf.ends_with(['\n', ' ']) {
                    self.buf.push(' ');
                }
                self.pending_space = false;
                self.buf.push(c);
            }
        }
    }

    /// Ends the current line; with `blank`, leaves a blank line.
    fn newline(&mut self, blank: bool) {
        self.pending_space = false;
        while self.buf.ends_with([' ', '\t']) && self.pre_depth == 0 {
            self.buf.pop();
        }
        if self.buf.is_empty() {
            return;
        }
        let wanted = if blank { 2 } else { 1 };
        let have = self.buf.len() - self.buf.trim_end_matches('\n').len();
        for _ in have..wanted {
            self.buf.push('\n');
        }
    }

    fn open(&mut self, el: &Element) {
        self.depth += 1;
        let name = el.name();
        match name {
            "pre" | "listing" | "xmp" | "plaintext" => {
                self.newline(true);
                self.pre_depth += 1;
            }
            "h1" | "h2" | "h3" | "h4" if self.heading.is_none() => {
                self.newline(true);
                self.heading = Some((self.buf.len(), self.depth));
            }
            "br" => {
                self.buf.push('\n');
                self.pending_space = false;
            }
            "li" => {
                self.newline(false);
                self.buf.push_str("- ");
            }
            "table" => {
                self.newline(true);
                self.cells.push(0);
            }
            "tr" => {
                self.newline(false);
                if let Some(c) = self.cells.last_mut() {
                    *c = 0;
                }
            }
            "td" | "th" => {
                if let Some(c) = self.cells.last_mut() {
                    if *c > 0 {
                        self.pending_space = false;
                        while self.buf.ends_with(' ') {
                            self.buf.pop();
                        }
                        self.buf.push_str(" | ");
                    }
                    *c += 1;
                }
            }
            n if PARAGRAPHS.contains(&n) => self.newline(true),
            n if BLOCKS.contains(&n) => self.newline(false),
            _ => {}
        }
    }

    fn close(&mut self, el: &Element) {
        let name = el.name();
        match name {
            "pre" | "listing" | "xmp" | "plaintext" => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                self.newline(true);
            }
            "h1" | "h2" | "h3" | "h4"
                if self.heading.is_some_and(|(_, depth)| depth == self.depth) =>
            {
                if let Some((start, _)) = self.heading.take() {
                    let start = start.min(self.buf.len());
                    let heading = super::one_line(&self.buf[start..]);
                    if name == "h1" && self.first_h1.is_none() && !heading.is_empty() {
                        self.first_h1 = Some(heading.clone());
                    }
                    if !heading.is_empty() {
                        let before = self.buf[..start].to_string();
                        let rest = self.buf[start..].to_string();
                        self.builder.push_str(&before);
                        self.builder.start_section(Some(heading), None);
                        self.buf = rest;
                    }
                }
                self.newline(true);
            }
            "table" => {
                self.cells.pop();
                self.newline(true);
            }
            n if PARAGRAPHS.contains(&n) => self.newline(true),
            n if BLOCKS.contains(&n) && n != "br" => self.newline(false),
            _ => {}
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// Bytes of text produced so far.
    fn len(&self) -> usize {
        self.builder.pushed_bytes() + self.buf.len()
    }

    fn finish(mut self) -> Vec<Section> {
        let rest = std::mem::take(&mut self.buf);
        self.builder.push_str(&rest);
        self.builder.finish()
    }
}

/// Rewrites XHTML self-closing tags of non-void elements (`<a id="x"/>`, `<div/>`) as
/// start and end tags: an HTML parser would otherwise leave them open, and a self-closed
/// `<script/>` would swallow the rest of the page.
fn fix_self_closing(html: &str) -> Cow<'_, str> {
    if !html.contains("/>") {
        return Cow::Borrowed(html);
    }
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() + 256);
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' || i + 1 >= bytes.len() || !bytes[i + 1].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        // Tag name.
        let name_start = i + 1;
        let mut j = name_start;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-' || bytes[j] == b':')
        {
            j += 1;
        }
        let name = &html[name_start..j];
        // End of the tag, skipping quoted attribute values.
        let mut quote: Option<u8> = None;
        let mut k = j;
        while k < bytes.len() {
            match (quote, bytes[k]) {
                (Some(q), b) if b == q => quote = None,
                (None, b'"') | (None, b'\'') => quote = Some(bytes[k]),
                (None, b'>') => break,
                _ => {}
            }
            k += 1;
        }
        if k >= bytes.len() {
            break;
        }
        let lower = name.to_ascii_lowercase();
        let local = lower.rsplit(':').next().unwrap_or(&lower);
        if k > j && bytes[k - 1] == b'/' && !VOID.contains(&local) {
            out.push_str(&html[last..k - 1]);
            out.push_str("></");
            out.push_str(name);
            out.push('>');
            last = k + 1;
        }
        i = k + 1;
    }
    out.push_str(&html[last..]);
    Cow::Owned(out)
}

/// Elements whose content is raw text: no tags inside until their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Elements whose end tag may be left out: a new one closes the open one.
const IMPLIED_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb", "rt", "rp", "rtc",
    "thead", "tbody", "tfoot", "caption", "colgroup",
];

/// Position just after the `>` closing a tag whose name ends at `from`, skipping quoted
/// attribute values; `None` when the input ends first.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut after_equals = false;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return Some(i + 1),
            b'=' => after_equals = true,
            q @ (b'"' | b'\'') if after_equals => {
                let close = bytes[i + 1..].iter().position(|&b| b == q)?;
                i += close + 1;
                after_equals = false;
            }
            b if b.is_ascii_whitespace() => {}
            _ => after_equals = false,
        }
        i += 1;
    }
    None
}

/// Finds `needle` (ASCII, lowercase) in `bytes` from `from`, ignoring ASCII case.
fn find_ignore_case(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= bytes.len() {
        return None;
    }
    bytes[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

/// Drops the start tags nested deeper than `max_depth` (and their end tags), keeping all the
/// text; block elements leave a `<br>` so lines stay apart. Depth is estimated with a light
/// scan of the tags (comments and raw-text elements skipped, optional end tags implied).
/// `None` when the page is not that deep (the common case: nothing is copied).
fn flatten_deep_nesting(html: &str, max_depth: usize) -> Option<(String, usize)> {
    let bytes = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut dropped: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    // Byte ranges to replace, and whether a `<br>` replaces them.
    let mut cuts: Vec<(usize, usize, bool)> = Vec::new();
    let mut removed = 0usize;
    let mut i = 0usize;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + p;
        i = start + 1;
        let Some(&next) = bytes.get(i) else { break };
        if bytes[i..].starts_with(b"!--") {
            match find_ignore_case(bytes, i + 3, b"-->") {
                Some(end) => i = end + 3,
                None => break,
            }
            continue;
        }
        if next == b'!' || next == b'?' {
            match bytes[i..].iter().position(|&b| b == b'>') {
                Some(end) => i += end + 1,
                None => break,
            }
            continue;
        }
        let closing = next == b'/';
        let name_start = if closing { i + 1 } else { i };
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let mut name_end = name_start;
        while name_end < bytes.len()
            && (bytes[name_end].is_ascii_alphanumeric() || matches!(bytes[name_end], b'-' | b':'))
        {
            name_end += 1;
        }
        let name = html[name_start..name_end].to_ascii_lowercase();
        let Some(end) = tag_end(bytes, name_end) else {
            break;
        };
        i = end;
        if closing {
            if let Some(n) = dropped.get_mut(&name).filter(|n| **n > 0) {
                *n -= 1;
                cuts.push((start, end, false));
            } else if let Some(pos) = stack.iter().rposition(|open| *open == name) {
                stack.truncate(pos);
            }
            continue;
        }
        let self_closing = end >= 2 && bytes[end - 2] == b'/';
        if VOID.contains(&name.as_str()) || self_closing {
            continue;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            // Skip to the end tag; it is not counted.
            let close = format!("</{name}");
            match find_ignore_case(bytes, i, close.as_bytes()) {
                Some(p) => match tag_end(bytes, p + close.len()) {
                    Some(e) => i = e,
                    None => break,
                },
                None => break,
            }
            continue;
        }
        if IMPLIED_END.contains(&name.as_str()) {
            let floor = stack.len().saturating_sub(16);
            if let Some(pos) = stack[floor..].iter().rposition(|open| *open == name) {
                stack.truncate(floor + pos);
            }
        }
        if stack.len() >= max_depth {
            let block = BLOCKS.contains(&name.as_str()) || PARAGRAPHS.contains(&name.as_str());
            *dropped.entry(name).or_default() += 1;
            cuts.push((start, end, block));
            removed += 1;
        } else {
            stack.push(name);
        }
    }
    if removed == 0 {
        return None;
    }
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    for (start, end, block) in cuts {
        out.push_str(&html[last..start]);
        if block {
            out.push_str("<br>");
        }
        last = end;
    }
    out.push_str(&html[last..]);
    Some((out, removed))
}

/// Parses a page with html5ever in pieces, checking the deadline between them.
fn parse(source: &str, budget: &Budget) -> Result<Html> {
    let mut parser = html5ever::driver::parse_document(
        HtmlTreeSink::new(Html::new_document()),
        Default::default(),
    );
    let mut rest = source;
    while !rest.is_empty() {
        budget.check_time()?;
        let mut cut = rest.len().min(PARSE_PIECE);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        parser.process(StrTendril::from_slice(&rest[..cut]));
        rest = &rest[cut..];
    }
    budget.check_time()?;
    Ok(parser.finish())
}

/// A page's text: its title, its sections, and notes (charset, flattening).
pub(crate) struct Extracted {
    pub(crate) title: Option<String>,
    pub(crate) sections: Vec<Section>,
    pub(crate) notes: Vec<LoadNote>,
}

/// Extracts the title and the sections of an HTML page, within `budget`.
pub(crate) fn extract(bytes: &[u8], budget: &Budget) -> Result<Extracted> {
    let decoded = super::decode::decode(bytes, super::decode::html_declared_charset(bytes));
    let mut notes: Vec<LoadNote> = super::charset_note(decoded.charset).into_iter().collect();
    let source = decoded.text;
    budget.check_time()?;
    let looks_xhtml =
        source.trim_start().starts_with("<?xml") || source.contains("http://www.w3.org/1999/xhtml");
    let source = if looks_xhtml {
        fix_self_closing(&source)
    } else {
        Cow::Borrowed(source.as_str())
    };
    budget.check_time()?;
    let source = match flatten_deep_nesting(&source, MAX_DEPTH) {
        Some((flat, removed)) => {
            notes.push(LoadNote {
                kind: NoteKind::Flattened,
                pages: Vec::new(),
                message: format!(
                    "elements nested deeper than {MAX_DEPTH} levels were flattened ({removed} tags dropped, their text kept)"
                ),
            });
            Cow::Owned(flat)
        }
        None => source,
    };
    let document = parse(&source, budget)?;

    let mut walker = Walker::new();
    let mut title: Option<String> = None;
    let root = document.tree.root();
    let mut cursor = Some(root);
    while let Some(node) = cursor {
        budget.check(walker.len())?;
        let mut descend = true;
        match node.value() {
            Node::Text(text) => walker.text(text),
            Node::Element(el) => {
                if el.name() == "title" && title.is_none() {
                    let t: String = node
                        .children()
                        .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
                        .collect();
                    let t = super::one_line(&t);
                    if !t.is_empty() {
                        title = Some(t);
                    }
                    descend = false;
                } else if is_chrome(el) {
                    descend = false;
                } else {
                    walker.open(el);
                }
            }
            _ => {}
        }
        if descend {
            if let Some(child) = node.first_child() {
                cursor = Some(child);
                continue;
            }
            if let Node::Element(el) = node.value() {
                walker.close(el);
            }
        }
        // Go to the next sibling, closing the elements we climb out of.
        let mut up = node;
        cursor = None;
        loop {
            if up == root {
                break;
            }
            if let Some(next) = up.next_sibling() {
                cursor = Some(next);
                break;
            }
            match up.parent() {
                Some(parent) => {
                    if let Node::Element(el) = parent.value() {
                        walker.close(el);
                    }
                    up = parent;
                }
                None => break,
            }
        }
    }
    budget.check(walker.len())?;
    let title = title.or_else(|| walker.first_h1.clone());
    Ok(Extracted {
        title,
        sections: walker.finish(),
        notes,
    })
}

/// Loads an HTML or XHTML page.
pub(crate) fn load(_path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let page = extract(bytes, budget)?;
    let mut doc = LoadedDocument::new(Format::Html, page.title, page.sections);
    doc.notes = page.notes;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_closing_tags_are_closed() {
        let fixed = fix_self_closing(r#"<p><a id="x"/>A<br/><script src="s.js"/>B</p>"#);
        assert_eq!(
            fixed,
            r#"<p><a id="x"></a>A<br/><script src="s.js"></script>B</p>"#
        );
    }

    #[test]
    fn text_blocks_tables_and_headings() {
        let html = br##"<html><head><title>T</title><style>x{}</style></head><body>
            <div class="navheader">Prev Next</div>
            <h1>Top</h1><p>One
            two</p><table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
            <h2>Sub <a class="headerlink" href="#">&#182;</a></h2><ul><li>x</li><li>y</li></ul>
            <pre>  keep
   this</pre><script>var x;</script></body></html>"##;
        let page = extract(html, &Budget::unlimited(Path::new("t.html"))).unwrap();
        let (title, sections) = (page.title, page.sections);
        assert_eq!(title.as_deref(), Some("T"));
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].heading.as_deref(), Some("Top"));
        assert_eq!(sections[0].text, "Top\n\nOne two\n\na | b\n1 | 2");
        assert_eq!(sections[1].heading.as_deref(), Some("Sub"));
        assert_eq!(sections[1].text, "Sub\n\n- x\n- y\n\n  keep\n   this");
    }

    #[test]
    fn deep_nesting_is_flattened_and_text_kept() {
        let depth = 2000;
        let mut html = String::from("<html><body>");
        for i in 0..depth {
            html.push_str(&format!("<div class=\"d\">w{i}"));
        }
        for _ in 0..depth {
            html.push_str("</div>");
        }
        html.push_str("<p>after</p></body></html>");
        let (flat, removed) = flatten_deep_nesting(&html, MAX_DEPTH).expect("flattened");
        assert!(removed >= depth - MAX_DEPTH, "{removed}");
        assert!(flatten_deep_nesting(&flat, MAX_DEPTH).is_none());
        let page = extract(html.as_bytes(), &Budget::unlimited(Path::new("deep.html"))).unwrap();
        let text: String = page.sections.iter().map(|s| s.text.as_str()).collect();
        assert!(text.contains("w0\nw1\n"), "{}", &text[..40]);
        assert!(
            text.contains(&format!("w{}\n\nafter", depth - 1)),
            "{}",
            &text[text.len() - 40..]
        );
        assert_eq!(page.notes.len(), 1);
        assert_eq!(page.notes[0].kind, NoteKind::Flattened);
    }

    #[test]
    fn shallow_pages_are_left_alone() {
        let html = "<p>a<p>b<ul><li>x<li>y</ul><script>if (a<b) { x = '<div>' }</script>\
                    <!-- <div><div> --><table><tr><td>1<td>2<tr><td>3</table>";
        let many_paragraphs = html.repeat(1000);
        assert!(flatten_deep_nesting(&many_paragraphs, MAX_DEPTH).is_none());
    }
}
