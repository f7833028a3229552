//! Man pages: roff source (man and mdoc macros, tbl tables) to readable text.
//!
//! [`load`] renders the page with groff when it is installed (`man_render.rs`); the builtin
//! parser of this file is the fallback, and can be chosen with
//! [`LoadOptions::man_renderer`].
//!
//! This is not a typesetter: it keeps the words and the structure a reader needs (section
//! headings, paragraphs, option tags on their own line, table rows) and drops layout
//! (fonts, indentation, spacing). Macro definitions (`.de`), ignored blocks (`.ig`) and
//! false conditional blocks are skipped; `.ds` strings and `.nr` registers are remembered
//! for the escapes and conditions that use them.
//!
//! Expansion is bounded, so a small page cannot make the reader grow without end: macros are
//! never run (their definitions are skipped, so they cannot recurse), strings are expanded
//! once when defined (a `\*` never expands again inside its value), one string holds at most
//! [`MAX_STRING_BYTES`], all strings together [`MAX_STRINGS_BYTES`], the strings interpolated
//! into one line at most [`MAX_LINE_EXPANSION`], and nested conditions and `\Z` escapes go
//! [`MAX_NESTING`] deep. A page that goes past these bounds (a string that doubles itself
//! with `.as` or `.ds`, say) is a corrupt document; its output is also bounded by the
//! per-document text limit and deadline.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;

use super::man_render::{self, ManRenderer};
use super::{Budget, Format, LoadNote, LoadOptions, LoadedDocument, NoteKind, SectionBuilder};
use crate::error::{Error, Result};

/// Largest value of one roff string (real pages' strings are a few dozen bytes).
const MAX_STRING_BYTES: usize = 64 * 1024;
/// Largest total size of all the strings of a page.
const MAX_STRINGS_BYTES: usize = 4 * 1024 * 1024;
/// Largest number of bytes that `\*` escapes may add to one line.
const MAX_LINE_EXPANSION: usize = 1024 * 1024;
/// Deepest nesting of conditions processed as request bodies, and of `\Z` escapes.
const MAX_NESTING: usize = 16;

/// mdoc macros that can be called on a line of another macro.
const MDOC_CALLABLE: &[&str] = &[
    "Ac", "Ad", "An", "Ao", "Ap", "Aq", "Ar", "At", "Bc", "Bo", "Bq", "Brc", "Bro", "Brq", "Bsx",
    "Bx", "Cd", "Cm", "Dc", "Do", "Dq", "Dv", "Dx", "Ec", "Em", "En", "Eo", "Er", "Es", "Ev", "Fa",
    "Fc", "Fl", "Fn", "Fr", "Ft", "Fx", "Ic", "Li", "Lk", "Ms", "Mt", "Nm", "No", "Ns", "Nx", "Oc",
    "Oo", "Op", "Ox", "Pa", "Pc", "Pf", "Po", "Pq", "Qc", "Ql", "Qo", "Qq", "Sc", "So", "Sq", "St",
    "Sx", "Sy", "Ta", "Tn", "Ux", "Va", "Vt", "Xr", "Xc", "Xo",
];

/// Other mdoc macros (line macros).
const MDOC_LINE: &[&str] = &[
    "Dd", "Dt", "Os", "Sh", "Ss", "Pp", "Lp", "Bl", "El", "It", "Bd", "Ed", "D1", "Dl", "Nd", "Rs",
    "Re", "Sm", "Bk", "Ek", "Bf", "Ef", "Ud", "Ex", "Rv", "Fd", "Fo", "In", "Lb", "Ot", "Hf", "Db",
    "%A", "%B", "%C", "%D", "%I", "%J", "%N", "%O", "%P", "%Q", "%R", "%T", "%U", "%V",
];

/// A roff special character (`\(xx`, `\[name]`) as text.
fn special_char(name: &str) -> Option<String> {
    let s = match name {
        "em" => "—",
        "en" => "–",
        "hy" | "mi" | "-" | "-D" => "-",
        "aq" | "cq" | "oq" | "fm" => "'",
        "dq" | "lq" | "rq" | "Lq" | "Rq" | "sd" => "\"",
        "bq" | "Bq" => "„",
        "Fo" => "«",
        "Fc" => "»",
        "fo" => "‹",
        "fc" => "›",
        "bu" => "•",
        "co" => "©",
        "rg" => "®",
        "tm" => "™",
        "de" => "°",
        "mu" => "×",
        "di" => "÷",
        "+-" => "±",
        "<=" => "<=",
        ">=" => ">=",
        "!=" => "!=",
        "==" => "==",
        "->" => "->",
        "<-" => "<-",
        "<>" => "<->",
        "rA" | "=>" => "=>",
        "lA" => "<=",
        "ua" => "↑",
        "da" => "↓",
        "ti" | "a~" => "~",
        "ha" | "a^" => "^",
        "rs" => "\\",
        "sl" => "/",
        "ul" | "ru" => "_",
        "ba" | "br" | "bv" => "|",
        "ga" => "`",
        "aa" => "´",
        "at" => "@",
        "sh" => "#",
        "Do" => "$",
        "ct" => "¢",
        "Po" => "£",
        "Ye" => "¥",
        "Eu" | "eu" => "€",
        "ps" => "¶",
        "sc" => "§",
        "dg" => "†",
        "dd" => "‡",
        "pl" => "+",
        "eq" => "=",
        "**" | "as" => "*",
        "OK" => "✓",
        "ss" => "ß",
        "fi" => "fi",
        "fl" => "fl",
        "ff" => "ff",
        "Fi" => "ffi",
        "Fl" => "ffl",
        "lh" => "☜",
        "rh" => "☞",
        "ci" => "○",
        "sq" => "□",
        "ra" => ">",
        "la" => "<",
        "rB" => "]",
        "lB" => "[",
        "rC" => "}",
        "lC" => "{",
        "tf" | "3d" => "∴",
        "if" => "∞",
        "pd" => "∂",
        "no" | "tno" => "¬",
        "AN" => "∧",
        "OR" => "∨",
        "es" => "∅",
        "mc" => "µ",
        "'A" => "Á",
        "'E" => "É",
        "'I" => "Í",
        "'O" => "Ó",
        "'U" => "Ú",
        "'a" => "á",
        "'e" => "é",
        "'i" => "í",
        "'o" => "ó",
        "'u" => "ú",
        "`a" => "à",
        "`e" => "è",
        "`i" => "ì",
        "`o" => "ò",
        "`u" => "ù",
        "`A" => "À",
        "`E" => "È",
        ":a" => "ä",
        ":e" => "ë",
        ":i" => "ï",
        ":o" => "ö",
        ":u" => "ü",
        ":y" => "ÿ",
        ":A" => "Ä",
        ":O" => "Ö",
        ":U" => "Ü",
        "^a" => "â",
        "^e" => "ê",
        "^i" => "î",
        "^o" => "ô",
        "^u" => "û",
        "~n" => "ñ",
        "~N" => "Ñ",
        "~a" => "ã",
        "~o" => "õ",
        ",c" => "ç",
        ",C" => "Ç",
        "oa" => "å",
        "oA" => "Å",
        "/o" => "ø",
        "/O" => "Ø",
        "ae" => "æ",
        "AE" => "Æ",
        "-h" | "hbar" => "ħ",
        _ => {
            // \[u00E9], \[u0041_0301], \[char233]
            if let Some(hex) = name.strip_prefix('u') {
                let chars: Option<String> = hex
                    .split('_')
                    .map(|h| u32::from_str_radix(h, 16).ok().and_then(char::from_u32))
                    .collect();
                return chars;
            }
            if let Some(dec) = name.strip_prefix("char") {
                return dec
                    .parse::<u32>()
                    .ok()
                    .and_then(char::from_u32)
                    .map(|c| c.to_string());
            }
            return None;
        }
    };
    Some(s.to_string())
}

/// Splits the arguments of a request: blanks separate them, double quotes group them
/// (`""` inside quotes is a quote).
fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut arg = String::new();
        if chars[i] == '"' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if i + 1 < chars.len() && chars[i + 1] == '"' {
                        arg.push('"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                arg.push(chars[i]);
                i += 1;
            }
        } else {
            while i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
                // An escaped blank belongs to the argument.
                if chars[i] == '\\' && i + 1 < chars.len() {
                    arg.push(chars[i]);
                    arg.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                arg.push(chars[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
    args
}

/// Removes a `\"` comment (not `\\"`) and a `\#` comment from a line.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1] == b'"' || bytes[i + 1] == b'#' {
                return &line[..i];
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    line
}

/// What kind of list an mdoc `.Bl` opened.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListKind {
    Tag,
    Bullet,
    Dash,
    Enum(u32),
    Column,
    Other,
}

/// Rendered mdoc words: (text, space before), and whether the next one sticks to the last.
#[derive(Default)]
struct Pieces {
    items: Vec<(String, bool)>,
    no_space_next: bool,
}

impl Pieces {
    fn push(&mut self, text: String, space: bool) {
        let space = space && !self.no_space_next;
        self.no_space_next = false;
        self.items.push((text, space));
    }
}

/// A tbl table being read.
#[derive(Debug, Default)]
struct Table {
    /// Still reading options and format lines.
    in_format: bool,
    tab: char,
    cells: Vec<String>,
    /// Inside a `T{` ... `T}` text block.
    in_block: bool,
}

/// Why a page whose string grew too long cannot be read.
fn string_overflow(key: &str) -> String {
    format!(
        "the roff string '{key}' grows past {MAX_STRING_BYTES} bytes (a string that expands itself without bound)"
    )
}

struct Roff {
    out: SectionBuilder,
    /// The output line being filled.
    line: String,
    /// Do not put a space before the next word (`\c`, `.Ns`, ...).
    no_space: bool,
    fill: bool,
    strings: HashMap<String, String>,
    registers: HashMap<String, i64>,
    title: Option<String>,
    section: String,
    /// `.SH`/`.Sh` without arguments: the next text line is the heading.
    heading_next: bool,
    /// `.TP`: the next text is the tag, on its own line.
    tag_next: bool,
    /// Skip lines until this one (`..` after `.de`, `.ig`).
    skip_until: Option<String>,
    /// Depth of `\{ ... \}` blocks being skipped.
    skip_braces: usize,
    /// Result of the last `.ie` condition, for `.el`.
    last_ie: bool,
    table: Option<Table>,
    // mdoc state
    mdoc_name: Option<String>,
    mdoc_section_number: Option<String>,
    lists: Vec<ListKind>,
    spacing: bool,
    url: Option<String>,
    /// Recursion guard for requests processed as the body of a condition.
    depth: usize,
    /// Total bytes of the values in `strings`.
    strings_bytes: usize,
    /// Why the page cannot be read (an expansion bound was passed), once known.
    fault: Cell<Option<String>>,
}

impl Roff {
    fn new() -> Self {
        Roff {
            out: SectionBuilder::new(),
            line: String::new(),
            no_space: false,
            fill: true,
            strings: HashMap::new(),
            registers: HashMap::new(),
            title: None,
            section: String::new(),
            heading_next: false,
            tag_next: false,
            skip_until: None,
            skip_braces: 0,
            last_ie: true,
            table: None,
            mdoc_name: None,
            mdoc_section_number: None,
            lists: Vec::new(),
            spacing: true,
            url: None,
            depth: 0,
            strings_bytes: 0,
            fault: Cell::new(None),
        }
    }

    /// Records why the page cannot be read (the first reason is kept).
    fn fail(&self, reason: String) {
        let first = self.fault.take();
        self.fault.set(Some(first.unwrap_or(reason)));
    }

    /// Sets a string, within the bounds on string sizes.
    fn set_string(&mut self, key: String, value: String) {
        if value.len() > MAX_STRING_BYTES {
            self.fail(string_overflow(&key));
            return;
        }
        let old = self.strings.get(&key).map_or(0, String::len);
        let total = self.strings_bytes - old + value.len();
        if total > MAX_STRINGS_BYTES {
            self.fail(format!(
                "the roff strings grow past {MAX_STRINGS_BYTES} bytes in all (strings that expand without bound)"
            ));
            return;
        }
        self.strings_bytes = total;
        self.strings.insert(key, value);
    }

    // ---- output -------------------------------------------------------------------------

    fn word(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.heading_next {
            self.heading_next = false;
            self.heading(text.trim());
            return;
        }
        if self.tag_next {
            self.tag_next = false;
            self.break_line();
            self.append(text);
            self.break_line();
            return;
        }
        self.append(text);
        if !self.fill {
            self.break_line();
        }
    }

    fn append(&mut self, text: &str) {
        if !self.line.is_empty()
            && !self.no_space
            && !self.line.ends_with([' ', '\t'])
            && !text.starts_with([' ', '\t'])
        {
            self.line.push(' ');
        }
        self.no_space = false;
        self.line.push_str(text);
    }

    fn break_line(&mut self) {
        if !self.line.trim().is_empty() {
            let line = std::mem::take(&mut self.line);
            self.out.push_str(line.trim_end());
            self.out.push_str("\n");
        }
        self.line.clear();
        self.no_space = false;
    }

    fn paragraph(&mut self) {
        self.break_line();
        self.out.push_str("\n");
    }

    fn heading(&mut self, text: &str) {
        self.break_line();
        let text = text.trim().to_string();
        self.section = text.clone();
        self.fill = true;
        self.tag_next = false;
        if text.is_empty() {
            return;
        }
        self.out.start_section(Some(text.clone()), None);
        self.out.push_str(&text);
        self.out.push_str("\n\n");
    }

    // ---- escapes ------------------------------------------------------------------------

    /// Reads an escape's name: one character, `(xx`, or `[name]`.
    fn escape_name(chars: &[char], i: &mut usize) -> String {
        match chars.get(*i) {
            Some('(') => {
                let name: String = chars.iter().skip(*i + 1).take(2).collect();
                *i += 1 + name.chars().count();
                name
            }
            Some('[') => {
                let mut name = String::new();
                let mut j = *i + 1;
                while j < chars.len() && chars[j] != ']' {
                    name.push(chars[j]);
                    j += 1;
                }
                *i = (j + 1).min(chars.len());
                name
            }
            Some(&c) => {
                *i += 1;
                c.to_string()
            }
            None => String::new(),
        }
    }

    /// Reads a delimited argument (`'...'`) and returns it.
    fn delimited(chars: &[char], i: &mut usize) -> String {
        let Some(&delim) = chars.get(*i) else {
            return String::new();
        };
        let mut j = *i + 1;
        let mut arg = String::new();
        while j < chars.len() && chars[j] != delim {
            arg.push(chars[j]);
            j += 1;
        }
        *i = (j + 1).min(chars.len());
        arg
    }

    /// Interprets the escapes of a text. Returns the text and whether it ended with `\c`.
    fn unescape(&self, s: &str) -> (String, bool) {
        self.unescape_at(s, 0)
    }

    /// [`Roff::unescape`] at a `\Z` nesting depth.
    fn unescape_at(&self, s: &str, depth: usize) -> (String, bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut joined = false;
        // Bytes added by `\*` escapes.
        let mut expanded = 0usize;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' {
                out.push(c);
                i += 1;
                continue;
            }
            i += 1;
            let Some(&e) = chars.get(i) else {
                break;
            };
            i += 1;
            match e {
                '\\' | 'e' | 'E' => out.push('\\'),
                '-' => out.push('-'),
                ' ' | '~' | '0' => out.push(' '),
                't' => out.push('\t'),
                '\'' => out.push('\''),
                '`' => out.push('`'),
                '.' => out.push('.'),
                'c' => {
                    if i >= chars.len() {
                        joined = true;
                    }
                }
                '&' | '|' | '^' | ')' | '%' | ':' | ',' | '/' | '{' | '}' | 'r' | 'u' | 'd'
                | 'p' | 'a' | 'z' | 'j' | '!' | '?' | '@' => {}
                '"' | '#' => break,
                'f' | 'F' | 'm' | 'M' | 'g' | 'k' | 'V' | 'Y' | '$' | 'n' => {
                    // A name follows; registers and macro arguments print nothing useful here.
                    if e == 'n' && matches!(chars.get(i), Some('+') | Some('-')) {
                        i += 1;
                    }
                    let _ = Self::escape_name(&chars, &mut i);
                }
                's' => {
                    if matches!(chars.get(i), Some('+') | Some('-')) {
                        i += 1;
                    }
                    match chars.get(i) {
                        Some('(') | Some('[') => {
                            let _ = Self::escape_name(&chars, &mut i);
                        }
                        Some('\'') => {
                            let _ = Self::delimited(&chars, &mut i);
                        }
                        Some(d) if d.is_ascii_digit() => {
                            i += 1;
                            // \s1x: two digits when the first is 1-3 and a digit follows.
                            if matches!(d, '1'..='3')
                                && chars.get(i).is_some_and(|c| c.is_ascii_digit())
                            {
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                }
                '(' | '[' => {
                    i -= 1;
                    let name = Self::escape_name(&chars, &mut i);
                    if let Some(text) = special_char(&name) {
                        out.push_str(&text);
                    }
                }
                'C' => {
                    let name = Self::delimited(&chars, &mut i);
                    if let Some(text) = special_char(&name) {
                        out.push_str(&text);
                    }
                }
                'N' => {
                    let code = Self::delimited(&chars, &mut i);
                    if let Some(c) = code.parse::<u32>().ok().and_then(char::from_u32) {
                        if !c.is_control() {
                            out.push(c);
                        }
                    }
                }
                '*' => {
                    let name = Self::escape_name(&chars, &mut i);
                    if let Some(value) = self.strings.get(&name) {
                        expanded += value.len();
                        if expanded > MAX_LINE_EXPANSION {
                            self.fail(format!(
                                "the roff strings used on one line expand past {MAX_LINE_EXPANSION} bytes"
                            ));
                            break;
                        }
                        out.push_str(value);
                    } else {
                        match name.as_str() {
                            "R" => out.push('®'),
                            "Tm" => out.push('™'),
                            "lq" | "rq" | "Lq" | "Rq" => out.push('"'),
                            "Aq" => out.push('\''),
                            _ => {}
                        }
                    }
                }
                'h' | 'v' | 'w' | 'o' | 'b' | 'l' | 'L' | 'x' | 'X' | 'D' | 'Z' | 'R' | 'A'
                | 'B' | 'H' | 'S' | 'O' | 'T' => {
                    if e == 'O' && chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                        i += 1;
                    } else if e == 'Z' {
                        // Zero-width text: still text.
                        let arg = Self::delimited(&chars, &mut i);
                        if depth < MAX_NESTING {
                            out.push_str(&self.unescape_at(&arg, depth + 1).0);
                        }
                    } else {
                        let _ = Self::delimited(&chars, &mut i);
                    }
                }
                other => out.push(other),
            }
        }
        (out, joined)
    }

    /// Unescaped text of a request argument.
    fn text_of(&self, s: &str) -> String {
        self.unescape(s).0
    }

    /// Outputs a line of text in the current mode.
    fn text_line(&mut self, raw: &str) {
        if self.fill && raw.trim().is_empty() {
            // A blank line is a paragraph break.
            self.paragraph();
            return;
        }
        if self.fill && raw.starts_with([' ', '\t']) {
            self.break_line();
        }
        let (text, joined) = self.unescape(raw);
        if self.fill {
            let text = text.trim_end().to_string();
            let text = if self.line.is_empty() {
                text.trim_start().to_string()
            } else {
                text
            };
            self.word(&text);
        } else {
            if self.heading_next || self.tag_next {
                self.word(text.trim());
            } else {
                self.append(&text);
                if !joined {
                    self.break_line();
                }
            }
        }
        if joined {
            self.no_space = true;
        }
    }

    // ---- conditions ---------------------------------------------------------------------

    /// A numeric term: a number or a number register.
    fn term(&self, s: &str) -> i64 {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("\\n") {
            let chars: Vec<char> = rest.chars().collect();
            let mut i = 0;
            let name = Self::escape_name(&chars, &mut i);
            return match name.as_str() {
                // We are a groff-compatible nroff.
                ".g" => 1,
                ".T" | ".t" => 0,
                _ => self.registers.get(&name).copied().unwrap_or(0),
            };
        }
        let digits: String = s
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
            .collect();
        digits.parse().unwrap_or(0)
    }

    /// Evaluates a condition; returns it and the rest of the line after it.
    fn condition<'a>(&self, s: &'a str) -> (bool, &'a str) {
        let s = s.trim_start();
        let (negate, s) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let mut chars = s.char_indices();
        let (result, rest) = match chars.next() {
            Some((_, 'n')) => (true, &s[1..]),
            Some((_, 't')) | Some((_, 'e')) | Some((_, 'v')) => (false, &s[1..]),
            Some((_, 'o')) => (true, &s[1..]),
            Some((_, 'd')) | Some((_, 'r')) | Some((_, 'c')) => {
                // d name / r name / c char: defined? Say yes for strings we know.
                let rest = s[1..].trim_start();
                let end = rest.find([' ', '\t']).unwrap_or(rest.len());
                let name = &rest[..end];
                (
                    self.strings.contains_key(name) || self.registers.contains_key(name),
                    &rest[end..],
                )
            }
            Some((_, q)) if q == '\'' || q == '"' => {
                // 'a'b': string comparison.
                let body = &s[1..];
                let mut parts = body.splitn(3, q);
                let a = parts.next().unwrap_or_default();
                let b = parts.next().unwrap_or_default();
                let rest = parts.next().unwrap_or_default();
                (self.text_of(a) == self.text_of(b), rest)
            }
            _ => {
                // A numeric expression up to the first blank.
                let end = s.find([' ', '\t']).unwrap_or(s.len());
                let expr = &s[..end];
                let value = if let Some(p) = expr.find(['>', '<', '=']) {
                    let op = &expr[p..];
                    let a = self.term(&expr[..p]);
                    let (op_len, cmp): (usize, fn(i64, i64) -> bool) = if op.starts_with(">=") {
                        (2, |a, b| a >= b)
                    } else if op.starts_with("<=") {
                        (2, |a, b| a <= b)
                    } else if op.starts_with("==") {
                        (2, |a, b| a == b)
                    } else if op.starts_with('>') {
                        (1, |a, b| a > b)
                    } else if op.starts_with('<') {
                        (1, |a, b| a < b)
                    } else {
                        (1, |a, b| a == b)
                    };
                    let b = self.term(&op[op_len..]);
                    cmp(a, b)
                } else {
                    self.term(expr) > 0
                };
                (value, &s[end..])
            }
        };
        (result != negate, rest)
    }

    /// Handles the body of `.if`/`.ie`/`.el` given the condition's value.
    fn conditional(&mut self, value: bool, body: &str) {
        let body = body.trim_start();
        let (block, body) = match body.strip_prefix("\\{") {
            Some(rest) => (
                true,
                rest.strip_prefix("\\")
                    .map(|r| r.trim_start())
                    .unwrap_or(rest),
            ),
            None => (false, body),
        };
        if value {
            let body = body.trim_start();
            if !body.is_empty() && self.depth < MAX_NESTING {
                self.depth += 1;
                self.line_in(body);
                self.depth -= 1;
            }
        } else if block {
            let opens = body.matches("\\{").count();
            let closes = body.matches("\\}").count();
            self.skip_braces = (1 + opens).saturating_sub(closes);
        }
    }

    // ---- requests -----------------------------------------------------------------------

    fn request(&mut self, line: &str) {
        let body = line[1..].trim_start();
        let name_end = body.find([' ', '\t']).unwrap_or(body.len());
        let name = &body[..name_end];
        let rest = &body[name_end..];
        let args_raw = rest.trim_start();
        match name {
            "" => {}
            "\\\"" => {}
            "TH" => {
                let args = split_args(args_raw);
                if let Some(n) = args.first() {
                    let n = self.text_of(n);
                    let title = match args.get(1) {
                        Some(s) => format!("{}({})", n, self.text_of(s)),
                        None => n,
                    };
                    self.title = Some(title);
                }
            }
            "SH" | "SS" | "Sh" | "Ss" => {
                let args: Vec<String> = split_args(args_raw)
                    .iter()
                    .map(|a| self.text_of(a))
                    .collect();
                if args.is_empty() {
                    self.break_line();
                    self.heading_next = true;
                } else {
                    self.heading(&args.join(" "));
                }
            }
            "PP" | "LP" | "P" | "sp" | "HP" | "Pp" | "Lp" | "ns" => self.paragraph(),
            "br" | "RS" | "RE" | "in" | "ti" | "ce" => self.break_line(),
            "TP" | "TQ" => {
                self.break_line();
                self.tag_next = true;
            }
            "IP" => {
                self.break_line();
                let args = split_args(args_raw);
                if let Some(tag) = args.first() {
                    let tag = self.text_of(tag);
                    let tag = tag.trim();
                    if tag.chars().count() <= 3 {
                        self.append(tag);
                    } else {
                        self.append(tag);
                        self.break_line();
                    }
                }
            }
            "B" | "I" | "SM" | "SB" | "CW" | "R" => {
                let args = split_args(args_raw);
                if !args.is_empty() {
                    let text: Vec<String> = args.iter().map(|a| self.text_of(a)).collect();
                    self.word(&text.join(" "));
                }
            }
            "BR" | "BI" | "IB" | "IR" | "RB" | "RI" => {
                let args = split_args(args_raw);
                if !args.is_empty() {
                    let text: String = args.iter().map(|a| self.text_of(a)).collect();
                    self.word(&text);
                }
            }
            "nf" | "EX" | "Vb" => {
                self.break_line();
                self.fill = false;
            }
            "fi" | "EE" | "Ve" => {
                self.break_line();
                self.fill = true;
            }
            "TS" => {
                self.paragraph();
                self.table = Some(Table {
                    in_format: true,
                    tab: '\t',
                    ..Table::default()
                });
            }
            "de" | "de1" | "am" | "am1" | "dei" | "ami" | "ig" => {
                let args = split_args(args_raw);
                let end = if name == "ig" {
                    args.first()
                } else {
                    args.get(1)
                };
                self.skip_until = Some(match end {
                    Some(e) => format!(".{e}"),
                    None => "..".to_string(),
                });
            }
            "ds" | "ds1" => {
                let key_end = args_raw.find([' ', '\t']).unwrap_or(args_raw.len());
                let key = args_raw[..key_end].to_string();
                let value = args_raw[key_end..].trim_start();
                let value = value.strip_prefix('"').unwrap_or(value);
                let value = self.text_of(value);
                self.set_string(key, value);
            }
            "as" | "as1" => {
                let key_end = args_raw.find([' ', '\t']).unwrap_or(args_raw.len());
                let key = args_raw[..key_end].to_string();
                let value = args_raw[key_end..].trim_start();
                let value = value.strip_prefix('"').unwrap_or(value);
                let appended = self.text_of(value);
                let mut value = self.strings.get(&key).cloned().unwrap_or_default();
                if value.len() + appended.len() > MAX_STRING_BYTES {
                    // Fails without building the oversized value.
                    self.fail(string_overflow(&key));
                } else {
                    value.push_str(&appended);
                    self.set_string(key, value);
                }
            }
            "nr" => {
                let args = split_args(args_raw);
                if let (Some(k), Some(v)) = (args.first(), args.get(1)) {
                    let value = self.term(v);
                    self.registers.insert(k.clone(), value);
                }
            }
            "if" => {
                let (value, body) = self.condition(rest);
                self.conditional(value, body);
            }
            "ie" => {
                let (value, body) = self.condition(rest);
                self.last_ie = value;
                self.conditional(value, body);
            }
            "el" => {
                let value = !self.last_ie;
                self.conditional(value, rest);
            }
            "UR" | "MT" => {
                self.url = split_args(args_raw).first().map(|u| self.text_of(u));
            }
            "UE" | "ME" => {
                let punct = split_args(args_raw).first().map(|p| self.text_of(p));
                if let Some(url) = self.url.take() {
                    self.word(&format!("<{url}>"));
                }
                if let Some(p) = punct {
                    self.no_space = true;
                    self.word(&p);
                }
            }
            "SY" => {
                self.break_line();
                if let Some(cmd) = split_args(args_raw).first() {
                    let cmd = self.text_of(cmd);
                    self.word(&cmd);
                }
            }
            "YS" => self.paragraph(),
            "OP" => {
                let args: Vec<String> = split_args(args_raw)
                    .iter()
                    .map(|a| self.text_of(a))
                    .collect();
                if !args.is_empty() {
                    self.word(&format!("[{}]", args.join(" ")));
                }
            }
            "MR" => {
                let args: Vec<String> = split_args(args_raw)
                    .iter()
                    .map(|a| self.text_of(a))
                    .collect();
                if let Some(page) = args.first() {
                    let sec = args.get(1).cloned().unwrap_or_default();
                    let tail = args.get(2).cloned().unwrap_or_default();
                    self.word(&format!("{page}({sec}){tail}"));
                }
            }
            n if MDOC_LINE.contains(&n) || MDOC_CALLABLE.contains(&n) => {
                self.mdoc(n, args_raw);
            }
            // Layout requests and unknown (user-defined) macros: nothing to show.
            _ => {}
        }
    }

    // ---- mdoc ---------------------------------------------------------------------------

    fn mdoc(&mut self, name: &str, args_raw: &str) {
        let args = split_args(args_raw);
        match name {
            "Dd" | "Os" | "Bk" | "Ek" | "Bf" | "Ef" | "Db" | "Hf" | "Ud" => {}
            "Dt" => {
                let sec = args.get(1).map(|s| self.text_of(s));
                self.mdoc_section_number = sec.clone();
                if self.title.is_none() {
                    if let Some(t) = args.first() {
                        let t = self.text_of(t);
                        self.title = Some(match sec {
                            Some(s) => format!("{t}({s})"),
                            None => t,
                        });
                    }
                }
            }
            "Pp" | "Lp" => self.paragraph(),
            "Sm" => {
                self.spacing = args.first().map(String::as_str) != Some("off");
            }
            "Bl" => {
                self.paragraph();
                let kind = match args.first().map(String::as_str) {
                    Some("-tag") | Some("-hang") | Some("-ohang") | Some("-inset")
                    | Some("-diag") => ListKind::Tag,
                    Some("-bullet") => ListKind::Bullet,
                    Some("-dash") | Some("-hyphen") => ListKind::Dash,
                    Some("-enum") => ListKind::Enum(0),
                    Some("-column") => ListKind::Column,
                    _ => ListKind::Other,
                };
                self.lists.push(kind);
            }
            "El" => {
                self.lists.pop();
                self.paragraph();
            }
            "It" => {
                self.break_line();
                let kind = self.lists.last().copied().unwrap_or(ListKind::Other);
                let extended = args.last().map(String::as_str) == Some("Xo");
                let tokens: Vec<String> = if extended {
                    args[..args.len() - 1].to_vec()
                } else {
                    args.clone()
                };
                match kind {
                    ListKind::Bullet => self.append("•"),
                    ListKind::Dash => self.append("-"),
                    ListKind::Enum(n) => {
                        if let Some(ListKind::Enum(count)) = self.lists.last_mut() {
                            *count = n + 1;
                        }
                        self.append(&format!("{}.", n + 1));
                    }
                    ListKind::Tag | ListKind::Other | ListKind::Column => {
                        let text = self.render_mdoc(&tokens);
                        if !text.is_empty() {
                            self.append(&text);
                        }
                        // An extended tag (`.It ... Xo`) goes on until `.Xc`.
                        if !extended || kind == ListKind::Column {
                            self.break_line();
                        }
                    }
                }
            }
            "Xc" => {
                let text = self.render_mdoc(&args);
                if !text.is_empty() {
                    self.append(&text);
                }
                self.break_line();
            }
            "Bd" => {
                self.paragraph();
                if args.iter().any(|a| a == "-literal" || a == "-unfilled") {
                    self.fill = false;
                }
            }
            "Ed" => {
                self.break_line();
                self.fill = true;
                self.paragraph();
            }
            "D1" | "Dl" => {
                self.break_line();
                let text = self.render_mdoc(&args);
                self.append(&text);
                self.break_line();
            }
            "Nd" => {
                let text = self.render_mdoc(&args);
                self.word(&format!("- {text}"));
            }
            "Rs" | "Re" => self.break_line(),
            "Ex" => {
                let name = self.mdoc_name.clone().unwrap_or_else(|| "utility".into());
                self.word(&format!(
                    "The {name} utility exits 0 on success, and >0 if an error occurs."
                ));
            }
            "Rv" => {
                self.word(
                    "The function returns the value 0 if successful; otherwise the value -1 \
                     is returned and the global variable errno is set to indicate the error.",
                );
            }
            "In" => {
                if let Some(h) = args.first() {
                    let h = self.text_of(h);
                    self.word(&format!("#include <{h}>"));
                }
            }
            "Fd" | "Lb" | "Ot" => {
                let text = self.render_mdoc(&args);
                self.word(&text);
            }
            n if n.starts_with('%') => {
                let text = self.render_mdoc(&args);
                self.word(&format!("{text},"));
            }
            _ => {
                if name == "Nm" && self.section.eq_ignore_ascii_case("SYNOPSIS") {
                    self.break_line();
                }
                if name == "Nm" && self.mdoc_name.is_none() {
                    if let Some(n) = args.first() {
                        let n = self.text_of(n);
                        // The title from .Dt is upper case; the name is as typed.
                        if let Some(sec) = &self.mdoc_section_number {
                            self.title = Some(format!("{n}({sec})"));
                        }
                        self.mdoc_name = Some(n);
                    }
                }
                let mut tokens = vec![name.to_string()];
                tokens.extend(args);
                let text = self.render_mdoc(&tokens);
                if !text.is_empty() {
                    if !self.spacing {
                        self.no_space = true;
                    }
                    self.word(&text);
                }
            }
        }
    }

    /// Renders a line of mdoc tokens (macros and words) as text.
    fn render_mdoc(&self, tokens: &[String]) -> String {
        let mut pieces = Pieces::default();
        self.render_tokens(tokens, &mut pieces, 0);
        let mut out = String::new();
        for (text, space) in pieces.items {
            if text.is_empty() {
                continue;
            }
            if space && self.spacing && !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push_str(&text);
        }
        out
    }

    fn is_closing(token: &str) -> bool {
        matches!(token, "." | "," | ":" | ";" | ")" | "]" | "?" | "!" | "}")
    }

    /// Appends (text, space-before) pieces for `tokens`.
    fn render_tokens(&self, tokens: &[String], pieces: &mut Pieces, depth: usize) {
        if depth > 8 {
            return;
        }
        let mut i = 0;
        let is_macro = |t: &str| MDOC_CALLABLE.contains(&t);
        // Plain words following a macro, up to the next macro.
        let plain_run = |from: usize| -> usize {
            let mut j = from;
            while j < tokens.len() && !is_macro(&tokens[j]) {
                j += 1;
            }
            j
        };
        while i < tokens.len() {
            let token = tokens[i].as_str();
            if !is_macro(token) {
                let text = self.text_of(token);
                let closing = Self::is_closing(token);
                pieces.push(text, !closing);
                if token == "(" || token == "[" {
                    pieces.no_space_next = true;
                }
                i += 1;
                continue;
            }
            i += 1;
            match token {
                "Ns" => pieces.no_space_next = true,
                "Ap" => {
                    pieces.push("'".into(), false);
                    pieces.no_space_next = true;
                }
                "Fl" => {
                    let end = plain_run(i);
                    let words: Vec<&String> = tokens[i..end]
                        .iter()
                        .filter(|t| !Self::is_closing(t))
                        .collect();
                    if words.is_empty() {
                        pieces.push("-".into(), true);
                        // A flag directly followed by a macro (`Fl Ar x`) still gets a space.
                    } else {
                        for w in words {
                            pieces.push(format!("-{}", self.text_of(w)), true);
                        }
                    }
                    for t in tokens[i..end].iter().filter(|t| Self::is_closing(t)) {
                        pieces.push(t.clone(), false);
                    }
                    i = end;
                }
                "Ar" => {
                    let end = plain_run(i);
                    if tokens[i..end].iter().all(|t| Self::is_closing(t)) {
                        pieces.push("file ...".into(), true);
                    }
                }
                "Op" | "Dq" | "Qq" | "Sq" | "Ql" | "Pq" | "Bq" | "Brq" | "Aq" => {
                    let (open, close) = match token {
                        "Op" | "Bq" => ("[", "]"),
                        "Dq" | "Qq" => ("\"", "\""),
                        "Sq" | "Ql" => ("'", "'"),
                        "Pq" => ("(", ")"),
                        "Brq" => ("{", "}"),
                        _ => ("<", ">"),
                    };
                    // The enclosure takes the rest of the line but trailing punctuation.
                    let mut end = tokens.len();
                    while end > i && Self::is_closing(&tokens[end - 1]) {
                        end -= 1;
                    }
                    let mut inner = Pieces::default();
                    self.render_tokens(&tokens[i..end], &mut inner, depth + 1);
                    let mut text = String::from(open);
                    let mut first = true;
                    for (t, space) in inner.items {
                        if t.is_empty() {
                            continue;
                        }
                        if space && !first && self.spacing {
                            text.push(' ');
                        }
                        text.push_str(&t);
                        first = false;
                    }
                    text.push_str(close);
                    pieces.push(text, true);
                    for t in &tokens[end..] {
                        pieces.push(t.clone(), false);
                    }
                    i = tokens.len();
                }
                "Oo" | "Bo" => {
                    pieces.push("[".into(), true);
                    pieces.no_space_next = true;
                }
                "Oc" | "Bc" => pieces.push("]".into(), false),
                "Po" => {
                    pieces.push("(".into(), true);
                    pieces.no_space_next = true;
                }
                "Pc" => pieces.push(")".into(), false),
                "Do" | "Qo" => {
                    pieces.push("\"".into(), true);
                    pieces.no_space_next = true;
                }
                "Dc" | "Qc" => pieces.push("\"".into(), false),
                "So" => {
                    pieces.push("'".into(), true);
                    pieces.no_space_next = true;
                }
                "Sc" => pieces.push("'".into(), false),
                "Bro" => {
                    pieces.push("{".into(), true);
                    pieces.no_space_next = true;
                }
                "Brc" => pieces.push("}".into(), false),
                "Ao" => {
                    pieces.push("<".into(), true);
                    pieces.no_space_next = true;
                }
                "Ac" => pieces.push(">".into(), false),
                "Xr" => {
                    let end = plain_run(i);
                    let words = &tokens[i..end];
                    match (words.first(), words.get(1)) {
                        (Some(n), Some(s)) if !Self::is_closing(s) => {
                            pieces.push(format!("{}({})", self.text_of(n), self.text_of(s)), true);
                            i += 2;
                        }
                        (Some(n), _) => {
                            pieces.push(self.text_of(n), true);
                            i += 1;
                        }
                        _ => {}
                    }
                }
                "Fn" => {
                    let end = plain_run(i);
                    let mut words: Vec<String> = tokens[i..end]
                        .iter()
                        .filter(|t| !Self::is_closing(t))
                        .map(|t| self.text_of(t))
                        .collect();
                    if !words.is_empty() {
                        let func = words.remove(0);
                        pieces.push(format!("{func}({})", words.join(", ")), true);
                    }
                    for t in tokens[i..end].iter().filter(|t| Self::is_closing(t)) {
                        pieces.push(t.clone(), false);
                    }
                    i = end;
                }
                "Fo" => {
                    if let Some(f) = tokens.get(i) {
                        pieces.push(format!("{}(", self.text_of(f)), true);
                        pieces.no_space_next = true;
                        i += 1;
                    }
                }
                "Fc" => pieces.push(")".into(), false),
                "Pf" => {
                    if let Some(p) = tokens.get(i) {
                        pieces.push(self.text_of(p), true);
                        pieces.no_space_next = true;
                        i += 1;
                    }
                }
                "Lk" => {
                    let end = plain_run(i);
                    let words: Vec<String> = tokens[i..end]
                        .iter()
                        .filter(|t| !Self::is_closing(t))
                        .map(|t| self.text_of(t))
                        .collect();
                    match words.split_first() {
                        Some((url, rest)) if !rest.is_empty() => {
                            pieces.push(format!("{} <{url}>", rest.join(" ")), true)
                        }
                        Some((url, _)) => pieces.push(url.clone(), true),
                        None => {}
                    }
                    for t in tokens[i..end].iter().filter(|t| Self::is_closing(t)) {
                        pieces.push(t.clone(), false);
                    }
                    i = end;
                }
                "Nm" => {
                    let end = plain_run(i);
                    if tokens[i..end].iter().all(|t| Self::is_closing(t)) {
                        if let Some(n) = &self.mdoc_name {
                            pieces.push(n.clone(), true);
                        }
                    }
                }
                "Ux" => pieces.push("UNIX".into(), true),
                "At" => pieces.push("AT&T UNIX".into(), true),
                "Bx" | "Ox" | "Nx" | "Fx" | "Dx" | "Bsx" => {
                    let system = match token {
                        "Bx" => "BSD",
                        "Ox" => "OpenBSD",
                        "Nx" => "NetBSD",
                        "Fx" => "FreeBSD",
                        "Dx" => "DragonFly",
                        _ => "BSD/OS",
                    };
                    pieces.push(system.into(), true);
                }
                "St" => {
                    if let Some(s) = tokens.get(i) {
                        let standard = match s.as_str() {
                            "-p1003.1" | "-p1003.1-2001" | "-p1003.1-2004" | "-p1003.1-2008" => {
                                "IEEE Std 1003.1 (POSIX.1)"
                            }
                            "-p1003.2" => "IEEE Std 1003.2 (POSIX.2)",
                            "-ansiC" | "-isoC" => "ANSI X3.159-1989 (ANSI C89)",
                            "-isoC-99" => "ISO/IEC 9899:1999 (ISO C99)",
                            "-susv2" => "Version 2 of the Single UNIX Specification",
                            "-susv3" => "Version 3 of the Single UNIX Specification",
                            "-xpg4" => "X/Open Portability Guide Issue 4",
                            other => other.trim_start_matches('-'),
                        };
                        pieces.push(standard.into(), true);
                        i += 1;
                    }
                }
                "Ta" => pieces.push("|".into(), true),
                "Xo" | "Xc" | "Es" | "En" | "Eo" | "Ec" | "Fr" => {}
                // Font and semantic markup: the words that follow are the text.
                _ => {}
            }
        }
    }

    // ---- tables -------------------------------------------------------------------------

    fn table_line(&mut self, line: &str) {
        let Some(mut table) = self.table.take() else {
            return;
        };
        if table.in_format {
            let t = line.trim_end();
            if t.ends_with(';') {
                // Options: look for tab(x).
                if let Some(p) = t.find("tab(") {
                    if let Some(c) = t[p + 4..].chars().next() {
                        table.tab = c;
                    }
                }
            } else if t.ends_with('.') {
                table.in_format = false;
            }
            self.table = Some(table);
            return;
        }
        let t = line.trim_end();
        if t.starts_with(".T&") {
            table.in_format = true;
            self.table = Some(table);
            return;
        }
        if !table.in_block && (t == "_" || t == "=" || t == "\\_") {
            self.table = Some(table);
            return;
        }
        if t.starts_with('.') || t.starts_with('\'') {
            // Requests inside a table (.sp in text blocks): nothing to show.
            self.table = Some(table);
            return;
        }
        let mut rest = line;
        if table.in_block {
            if let Some(after) = rest.strip_prefix("T}") {
                table.in_block = false;
                rest = after;
                // Remaining cells follow the tab.
                rest = rest.strip_prefix(table.tab).unwrap_or(rest);
                if rest.trim().is_empty() {
                    self.finish_row(&mut table);
                    self.table = Some(table);
                    return;
                }
            } else {
                let text = self.text_of(rest);
                if let Some(cell) = table.cells.last_mut() {
                    if !cell.is_empty() {
                        cell.push(' ');
                    }
                    cell.push_str(text.trim());
                }
                self.table = Some(table);
                return;
            }
        }
        let tab = table.tab;
        for part in rest.split(tab) {
            if part.trim_end() == "T{" {
                table.cells.push(String::new());
                table.in_block = true;
                continue;
            }
            let text = self.text_of(part);
            let text = text.trim();
            table.cells.push(if text == "_" || text == "=" {
                String::new()
            } else {
                text.to_string()
            });
        }
        if !table.in_block {
            self.finish_row(&mut table);
        }
        self.table = Some(table);
    }

    fn finish_row(&mut self, table: &mut Table) {
        let mut cells = std::mem::take(&mut table.cells);
        while cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        if cells.is_empty() {
            return;
        }
        self.break_line();
        self.out.push_str(&cells.join(" | "));
        self.out.push_str("\n");
    }

    // ---- lines --------------------------------------------------------------------------

    /// Processes one logical input line.
    fn line_in(&mut self, raw: &str) {
        if let Some(end) = &self.skip_until {
            let t = raw.trim_end();
            if t == end.as_str() || (end == ".." && t.starts_with("..")) {
                self.skip_until = None;
            }
            return;
        }
        if self.skip_braces > 0 {
            let opens = raw.matches("\\{").count();
            let closes = raw.matches("\\}").count();
            self.skip_braces = (self.skip_braces + opens).saturating_sub(closes);
            return;
        }
        // The end of a true conditional block: drop the marker.
        let owned;
        let mut line = raw;
        if line.contains("\\}") {
            owned = line.replace("\\}", "");
            line = owned.as_str();
        }
        let is_request = line.starts_with('.') || line.starts_with('\'');
        if let Some(table) = &self.table {
            let _ = table;
            if is_request && line[1..].trim_start().starts_with("TE") {
                if let Some(mut t) = self.table.take() {
                    self.finish_row(&mut t);
                }
                self.paragraph();
                return;
            }
            let stripped = strip_comment(line).to_string();
            self.table_line(&stripped);
            return;
        }
        let line = strip_comment(line);
        if is_request {
            self.request(line);
        } else {
            self.text_line(line);
        }
    }

    /// Reads the whole source; stops at the first bound passed.
    fn run(&mut self, source: &str, budget: &Budget) -> Result<()> {
        let mut pending = String::new();
        for raw in source.lines() {
            self.check_fault(budget)?;
            budget.check(self.out.pushed_bytes() + self.line.len() + pending.len())?;
            // A line ending in an unescaped backslash continues on the next one.
            let trailing = raw.len() - raw.trim_end_matches('\\').len();
            if trailing % 2 == 1 {
                pending.push_str(&raw[..raw.len() - 1]);
                continue;
            }
            if pending.is_empty() {
                self.line_in(raw);
            } else {
                pending.push_str(raw);
                let line = std::mem::take(&mut pending);
                self.line_in(&line);
            }
        }
        if !pending.is_empty() {
            let line = std::mem::take(&mut pending);
            self.line_in(&line);
        }
        self.break_line();
        self.check_fault(budget)?;
        budget.check(self.out.pushed_bytes())
    }

    /// A bound passed while reading (expansion too large or too deep) is `corrupt_document`.
    fn check_fault(&mut self, budget: &Budget) -> Result<()> {
        match self.fault.take() {
            Some(reason) => Err(Error::CorruptDocument {
                path: budget.path().to_path_buf(),
                format: "man".into(),
                reason,
                source: None,
            }),
            None => Ok(()),
        }
    }
}

/// Loads a man page (roff source, decoded from UTF-8 or a legacy charset): rendered by groff
/// or read by the builtin parser, as [`LoadOptions::man_renderer`] says (see
/// `man_render.rs`).
pub(crate) fn load(
    _path: &Path,
    bytes: &[u8],
    options: &LoadOptions,
    budget: &Budget,
) -> Result<LoadedDocument> {
    let decoded = super::decode::decode(bytes, None);
    let groff = match options.man_renderer {
        ManRenderer::Builtin => None,
        ManRenderer::Auto | ManRenderer::Groff => man_render::find_groff(&options.groff),
    };
    let mut doc = match groff {
        Some(groff) => man_render::render(&groff, &decoded.text, options, budget)?,
        None if options.man_renderer == ManRenderer::Groff => {
            return Err(Error::InvalidInput(format!(
                "loading.man_renderer is \"groff\" but {} is not installed: install the Debian package groff-base, or set loading.man_renderer to \"auto\" or \"builtin\"",
                options.groff.display()
            )))
        }
        None => {
            let mut doc = load_builtin(&decoded.text, budget)?;
            if options.man_renderer == ManRenderer::Auto {
                doc.notes.push(LoadNote {
                    kind: NoteKind::ManBuiltinParser,
                    pages: Vec::new(),
                    message: format!(
                        "groff ({}) is not installed, so the page was read by the builtin parser, which leaves out what the page's own macros print: install the Debian package groff-base",
                        options.groff.display()
                    ),
                });
            }
            doc
        }
    };
    doc.notes.extend(super::charset_note(decoded.charset));
    Ok(doc)
}

/// Reads a man page with the builtin parser.
pub(crate) fn load_builtin(source: &str, budget: &Budget) -> Result<LoadedDocument> {
    let mut roff = Roff::new();
    roff.run(source, budget)?;
    let title = roff.title.take();
    Ok(LoadedDocument::new(Format::Man, title, roff.out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(src: &str) -> (Option<String>, Vec<(Option<String>, String)>) {
        let path = Path::new("x.1");
        let doc = load_builtin(src, &Budget::unlimited(path)).unwrap();
        (
            doc.title,
            doc.sections
                .into_iter()
                .map(|s| (s.heading, s.text))
                .collect(),
        )
    }

    #[test]
    fn man_macros_and_escapes() {
        let src = ".\\\" comment\n.TH LS 1 \"2024\"\n.de XX\nignored\n..\n.SH NAME\nls \\- list \\fBdirectory\\fR contents\n.SH OPTIONS\n.TP\n.BR \\-a \", \" \\-\\-all\ndo not ignore entries\nstarting with .\n.IP \\(bu 2\nbullet \\(em item\n.nf\nline one\nline two\n.fi\n";
        let (title, sections) = text(src);
        assert_eq!(title.as_deref(), Some("LS(1)"));
        assert_eq!(sections[0].0.as_deref(), Some("NAME"));
        assert_eq!(sections[0].1, "NAME\n\nls - list directory contents");
        assert_eq!(
            sections[1].1,
            "OPTIONS\n\n-a, --all\ndo not ignore entries starting with .\n• bullet — item\nline one\nline two"
        );
    }

    #[test]
    fn mdoc_macros() {
        let src = ".Dd $Mdocdate$\n.Dt SSH-ADD 1\n.Os\n.Sh NAME\n.Nm ssh-add\n.Nd adds identities\n.Sh SYNOPSIS\n.Nm ssh-add\n.Op Fl cDd\n.Op Fl E Ar fingerprint_hash\n.Sh DESCRIPTION\n.Bl -tag -width Ds\n.It Fl c\nConfirm, see\n.Xr ssh-agent 1 .\n.El\n";
        let (title, sections) = text(src);
        assert_eq!(title.as_deref(), Some("ssh-add(1)"));
        assert_eq!(sections[0].1, "NAME\n\nssh-add - adds identities");
        assert_eq!(
            sections[1].1,
            "SYNOPSIS\n\nssh-add [-cDd] [-E fingerprint_hash]"
        );
        assert_eq!(
            sections[2].1,
            "DESCRIPTION\n\n-c\nConfirm, see ssh-agent(1)."
        );
    }

    #[test]
    fn conditions_and_tables() {
        let src = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.if t \\{\\\nhidden\n.\\}\n.SH T\nit\\*(Aqs\n.TS\ntab(:);\nl l.\nA:B\n_\nT{\nlong\ntext\nT}:x\n.TE\n";
        let (_, sections) = text(src);
        assert_eq!(sections[0].1, "T\n\nit's\n\nA | B\nlong text | x");
    }

    fn load_err(src: &str) -> Error {
        let path = Path::new("bomb.1");
        match load_builtin(src, &Budget::unlimited(path)) {
            Ok(doc) => panic!("expected an error, got {} bytes of text", doc.text().len()),
            Err(e) => e,
        }
    }

    #[test]
    fn self_doubling_strings_are_corrupt() {
        let mut append = String::from(".TH BOMB 1\n.ds a xxxxxxxxxxxxxxxx\n");
        let mut define = append.clone();
        for _ in 0..34 {
            append.push_str(".as a \\*a\n");
            define.push_str(".ds a \\*a\\*a\n");
        }
        append.push_str(".SH NAME\n\\*a\n");
        define.push_str(".SH NAME\n\\*a\n");
        for src in [append, define] {
            let err = load_err(&src);
            assert_eq!(err.code(), "corrupt_document", "{err}");
            assert!(err.to_string().contains("bomb.1"), "{err}");
        }
        // Many strings, each under the bound, and one line using them all.
        let mut wide = String::from(".ds a ");
        wide.push_str(&"y".repeat(60_000));
        wide.push_str("\n.SH X\n");
        wide.push_str(&"\\*a".repeat(100));
        assert_eq!(load_err(&wide).code(), "corrupt_document");
    }

    #[test]
    fn nested_zero_width_escapes_are_bounded() {
        let delimiters: Vec<char> = (0..5000u32)
            .filter_map(|i| char::from_u32(0x4E00 + i))
            .collect();
        let mut line = String::new();
        for d in &delimiters {
            line.push_str("\\Z");
            line.push(*d);
        }
        line.push_str("core");
        for d in delimiters.iter().rev() {
            line.push(*d);
        }
        let (_, sections) = text(&format!(".SH N\n{line}\n"));
        assert_eq!(sections[0].0.as_deref(), Some("N"));
    }
}
