//! HTML loader: the visible text of the page, without scripts, styles and navigation
//! chrome, a section per `h1`-`h4` heading.
//!
//! The page is parsed with scraper (html5ever) and walked iteratively (deeply nested pages
//! cannot overflow the stack). Block elements become line breaks, list items get a `- `,
//! table cells are joined with `" | "`, `pre` keeps its whitespace.

use std::borrow::Cow;
use std::path::Path;

use scraper::node::Element;
use scraper::{Html, Node};

use super::{Format, LoadedDocument, Section, SectionBuilder};
use crate::error::Result;

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

/// Extracts the title and the sections of an HTML page.
pub(crate) fn extract(bytes: &[u8]) -> (Option<String>, Vec<Section>) {
    let source = super::decode_text(bytes);
    let looks_xhtml =
        source.trim_start().starts_with("<?xml") || source.contains("http://www.w3.org/1999/xhtml");
    let source = if looks_xhtml {
        fix_self_closing(&source)
    } else {
        Cow::Borrowed(source.as_str())
    };
    let document = Html::parse_document(&source);

    let mut walker = Walker::new();
    let mut title: Option<String> = None;
    let root = document.tree.root();
    let mut cursor = Some(root);
    while let Some(node) = cursor {
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
    let title = title.or_else(|| walker.first_h1.clone());
    (title, walker.finish())
}

/// Loads an HTML or XHTML page.
pub(crate) fn load(_path: &Path, bytes: &[u8]) -> Result<LoadedDocument> {
    let (title, sections) = extract(bytes);
    Ok(LoadedDocument {
        format: Format::Html,
        title,
        page_count: None,
        sections,
        ocr_pages: Vec::new(),
    })
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
        let (title, sections) = extract(html);
        assert_eq!(title.as_deref(), Some("T"));
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].heading.as_deref(), Some("Top"));
        assert_eq!(sections[0].text, "Top\n\nOne two\n\na | b\n1 | 2");
        assert_eq!(sections[1].heading.as_deref(), Some("Sub"));
        assert_eq!(sections[1].text, "Sub\n\n- x\n- y\n\n  keep\n   this");
    }
}
