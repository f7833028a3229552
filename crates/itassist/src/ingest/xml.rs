//! A small pull interface over quick-xml for the office loaders: local element names,
//! attributes as strings, text with entities resolved, and ZIP entry reading.
//!
//! ZIP entries are read through a guard that stops at the document's part limit
//! ([`Budget::max_part_bytes`]) and at its deadline, and large entries are parsed as they
//! are decompressed, so a small archive that expands to gigabytes of XML stops as soon as
//! its text is over the limit, without holding the XML in memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use super::Budget;
use crate::error::{Error, Result};

/// A ZIP archive held in memory.
pub(crate) type Archive<'a> = zip::ZipArchive<std::io::Cursor<&'a [u8]>>;

/// One XML event, with namespace prefixes removed from names.
#[derive(Debug)]
pub(crate) enum XmlEvent {
    /// An element starts (an empty element `<x/>` gives a `Start` and an `End`).
    Start {
        name: String,
        attrs: Vec<(String, String)>,
    },
    /// An element ends.
    End { name: String },
    /// Character data (entities resolved, CDATA included).
    Text(String),
}

impl XmlEvent {
    /// The value of the attribute with this local name.
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        match self {
            XmlEvent::Start { attrs, .. } => attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

fn local(name: &[u8]) -> String {
    let name = match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(name).into_owned()
}

fn attributes(start: &BytesStart<'_>) -> Vec<(String, String)> {
    start
        .attributes()
        .with_checks(false)
        .filter_map(|a| a.ok())
        .map(|a| {
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (local(a.key.as_ref()), value)
        })
        .collect()
}

/// Converts one quick-xml event to ours; `None` for events the loaders do not use.
fn convert(event: Event<'_>, on_event: &mut impl FnMut(XmlEvent) -> Result<()>) -> Result<bool> {
    match event {
        Event::Start(start) => on_event(XmlEvent::Start {
            name: local(start.name().as_ref()),
            attrs: attributes(&start),
        })?,
        Event::Empty(start) => {
            let name = local(start.name().as_ref());
            on_event(XmlEvent::Start {
                name: name.clone(),
                attrs: attributes(&start),
            })?;
            on_event(XmlEvent::End { name })?;
        }
        Event::End(end) => on_event(XmlEvent::End {
            name: local(end.name().as_ref()),
        })?,
        Event::Text(text) => {
            let s = text
                .xml_content()
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&text).into_owned());
            on_event(XmlEvent::Text(s))?;
        }
        Event::CData(data) => {
            on_event(XmlEvent::Text(String::from_utf8_lossy(&data).into_owned()))?;
        }
        Event::GeneralRef(reference) => {
            let resolved = match reference.resolve_char_ref() {
                Ok(Some(c)) => c.to_string(),
                _ => {
                    let name = String::from_utf8_lossy(&reference).into_owned();
                    match name.as_str() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        "nbsp" => "\u{a0}".into(),
                        _ => format!("&{name};"),
                    }
                }
            };
            on_event(XmlEvent::Text(resolved))?;
        }
        Event::Eof => return Ok(false),
        _ => {}
    }
    Ok(true)
}

/// Parses `xml` and calls `on_event` for each event, in document order, until the end or
/// until `on_event` returns an error (which is returned).
///
/// Parse errors become [`Error::CorruptDocument`] for `path` in format `format`; the
/// deadline of `budget` is checked as it goes.
pub(crate) fn parse(
    path: &Path,
    format: &str,
    xml: &str,
    budget: &Budget,
    mut on_event: impl FnMut(XmlEvent) -> Result<()>,
) -> Result<()> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    loop {
        budget.check(0)?;
        let event = reader
            .read_event()
            .map_err(|e| Error::corrupt(path, format, e))?;
        if !convert(event, &mut on_event)? {
            return Ok(());
        }
    }
}

/// Counts the bytes read from a ZIP entry and stops past the part limit or the deadline.
struct Guard<'b, R> {
    inner: R,
    read: u64,
    limit: u64,
    budget: &'b Budget,
    /// Why reading stopped, if the guard stopped it.
    stopped: Option<Error>,
}

impl<R: Read> Read for Guard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Err(e) = self.budget.check_time() {
            self.stopped = Some(e);
            return Err(std::io::Error::other("deadline"));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.stopped = Some(Error::DocumentTooLarge {
                path: self.budget.path().to_path_buf(),
                what: String::new(),
                limit: self.limit,
                setting: super::limits::TEXT_SETTING.to_string(),
            });
            return Err(std::io::Error::other("too large"));
        }
        Ok(n)
    }
}

impl<R> Guard<'_, R> {
    /// The error to report for a failed read of entry `name`: the guard's own reason, or the
    /// I/O error as a corrupt document.
    fn error(
        &mut self,
        path: &Path,
        format: &str,
        name: &str,
        cause: impl std::fmt::Display,
    ) -> Error {
        match self.stopped.take() {
            Some(Error::DocumentTooLarge {
                path,
                limit,
                setting,
                ..
            }) => Error::DocumentTooLarge {
                path,
                what: format!("the {name} part, decompressed,"),
                limit,
                setting,
            },
            Some(other) => other,
            None => Error::CorruptDocument {
                path: path.to_path_buf(),
                format: format.to_string(),
                reason: format!("cannot read {name}: {cause}"),
                source: None,
            },
        }
    }
}

/// Parses the XML entry `name` of `archive` as it is decompressed, calling `on_event` for
/// each event (see [`parse`]). `Ok(false)` when the entry does not exist.
pub(crate) fn parse_entry(
    archive: &mut Archive<'_>,
    path: &Path,
    format: &str,
    name: &str,
    budget: &Budget,
    mut on_event: impl FnMut(XmlEvent) -> Result<()>,
) -> Result<bool> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(false),
        Err(e) => return Err(Error::corrupt(path, format, e)),
    };
    let guard = Guard {
        inner: entry,
        read: 0,
        limit: budget.max_part_bytes(),
        budget,
        stopped: None,
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, guard);
    let head = match buffered.fill_buf() {
        Ok(head) => head,
        Err(e) => return Err(buffered.get_mut().error(path, format, name, e)),
    };
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        // UTF-16 XML (rare): decoded whole, then parsed.
        let mut bytes = Vec::new();
        if let Err(e) = buffered.read_to_end(&mut bytes) {
            return Err(buffered.get_mut().error(path, format, name, e));
        }
        let text = super::decode_text(&bytes);
        parse(path, format, &text, budget, on_event)?;
        return Ok(true);
    }
    let mut reader = quick_xml::Reader::from_reader(buffered);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    let mut buf = Vec::new();
    loop {
        budget.check(0)?;
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => {
                let guard = reader.get_mut().get_mut();
                return Err(match guard.stopped.is_some() {
                    true => guard.error(path, format, name, &e),
                    false => Error::corrupt(path, format, e),
                });
            }
        };
        if !convert(event, &mut on_event)? {
            return Ok(true);
        }
    }
}

/// Opens a ZIP container; a damaged one is [`Error::CorruptDocument`].
pub(crate) fn open_zip<'a>(path: &Path, format: &str, bytes: &'a [u8]) -> Result<Archive<'a>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| Error::corrupt(path, format, e))
}

/// Reads a ZIP entry as text; `Ok(None)` when the entry does not exist.
pub(crate) fn read_entry(
    archive: &mut Archive<'_>,
    path: &Path,
    format: &str,
    name: &str,
    budget: &Budget,
) -> Result<Option<String>> {
    let bytes = match read_entry_bytes(archive, path, format, name, budget)? {
        Some(b) => b,
        None => return Ok(None),
    };
    Ok(Some(super::decode_text(&bytes)))
}

/// Reads a ZIP entry, within the part limit and the deadline of `budget`; `Ok(None)` when
/// the entry does not exist.
pub(crate) fn read_entry_bytes(
    archive: &mut Archive<'_>,
    path: &Path,
    format: &str,
    name: &str,
    budget: &Budget,
) -> Result<Option<Vec<u8>>> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(Error::corrupt(path, format, e)),
    };
    let mut guard = Guard {
        inner: entry,
        read: 0,
        limit: budget.max_part_bytes(),
        budget,
        stopped: None,
    };
    let mut out = Vec::new();
    if let Err(e) = guard.read_to_end(&mut out) {
        return Err(guard.error(path, format, name, e));
    }
    Ok(Some(out))
}
