//! A small pull interface over quick-xml for the office loaders: local element names,
//! attributes as strings, text with entities resolved, and ZIP entry reading.

use std::io::Read;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};

/// Largest uncompressed size read from one ZIP entry (guards against ZIP bombs).
const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

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

/// Parses `xml` and calls `on_event` for each event, in document order.
///
/// Parse errors become [`Error::CorruptDocument`] for `path` in format `format`.
pub(crate) fn parse(
    path: &Path,
    format: &str,
    xml: &str,
    mut on_event: impl FnMut(XmlEvent),
) -> Result<()> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    loop {
        let event = reader
            .read_event()
            .map_err(|e| Error::corrupt(path, format, e))?;
        match event {
            Event::Start(start) => on_event(XmlEvent::Start {
                name: local(start.name().as_ref()),
                attrs: attributes(&start),
            }),
            Event::Empty(start) => {
                let name = local(start.name().as_ref());
                on_event(XmlEvent::Start {
                    name: name.clone(),
                    attrs: attributes(&start),
                });
                on_event(XmlEvent::End { name });
            }
            Event::End(end) => on_event(XmlEvent::End {
                name: local(end.name().as_ref()),
            }),
            Event::Text(text) => {
                let s = text
                    .xml_content()
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&text).into_owned());
                on_event(XmlEvent::Text(s));
            }
            Event::CData(data) => {
                on_event(XmlEvent::Text(String::from_utf8_lossy(&data).into_owned()));
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
                on_event(XmlEvent::Text(resolved));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// Opens a ZIP container; a damaged one is [`Error::CorruptDocument`].
pub(crate) fn open_zip<'a>(
    path: &Path,
    format: &str,
    bytes: &'a [u8],
) -> Result<zip::ZipArchive<std::io::Cursor<&'a [u8]>>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| Error::corrupt(path, format, e))
}

/// Reads a ZIP entry as text; `Ok(None)` when the entry does not exist.
pub(crate) fn read_entry(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    path: &Path,
    format: &str,
    name: &str,
) -> Result<Option<String>> {
    let bytes = match read_entry_bytes(archive, path, format, name)? {
        Some(b) => b,
        None => return Ok(None),
    };
    Ok(Some(super::decode_text(&bytes)))
}

/// Reads a ZIP entry; `Ok(None)` when the entry does not exist.
pub(crate) fn read_entry_bytes(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    path: &Path,
    format: &str,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(Error::corrupt(path, format, e)),
    };
    let mut out = Vec::new();
    entry
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::CorruptDocument {
            path: path.to_path_buf(),
            format: format.to_string(),
            reason: format!("cannot read {name}: {e}"),
            source: Some(Box::new(e)),
        })?;
    if out.len() as u64 > MAX_ENTRY_BYTES {
        return Err(Error::CorruptDocument {
            path: path.to_path_buf(),
            format: format.to_string(),
            reason: format!("{name} is larger than {MAX_ENTRY_BYTES} bytes uncompressed"),
            source: None,
        });
    }
    Ok(Some(out))
}
