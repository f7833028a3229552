//! Data formats rendered as searchable text: CSV/TSV rows as `header: value; ...` lines,
//! JSON as `path.to.key: value` lines.

use std::path::Path;

use super::{Budget, Format, LoadedDocument, Section};
use crate::error::{Error, Result};

/// Picks the delimiter: tab for `.tsv`, else the most frequent of `,`, `;`, tab and `|`
/// on the first line (outside quotes).
fn delimiter(path: &Path, text: &str) -> u8 {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if ext.as_deref() == Some("tsv") {
        return b'\t';
    }
    let first = text.lines().next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for c in first.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == c {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(d, n)| (*n, *d == b','))
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

/// Loads CSV or TSV: the first row names the columns, every other row becomes one line
/// `column: value; column: value` (empty values left out), so each row reads on its own.
pub(crate) fn load_csv(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let decoded = super::decode::decode(bytes, None);
    let text = decoded.text;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(path, &text))
        .from_reader(text.as_bytes());
    let mut headers: Vec<String> = Vec::new();
    let mut out = String::new();
    for (i, record) in reader.records().enumerate() {
        budget.check(out.len())?;
        let record = record.map_err(|e| Error::corrupt(path, "csv", e))?;
        if i == 0 {
            headers = record.iter().map(super::one_line).collect();
            continue;
        }
        let mut fields = Vec::new();
        for (j, value) in record.iter().enumerate() {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            match headers.get(j).filter(|h| !h.is_empty()) {
                Some(h) => fields.push(format!("{h}: {value}")),
                None => fields.push(format!("column {}: {value}", j + 1)),
            }
        }
        if !fields.is_empty() {
            out.push_str(&fields.join("; "));
            out.push('\n');
        }
    }
    // A file with only a header row: keep the header as the text.
    if out.trim().is_empty() && !headers.is_empty() {
        out = headers.join("; ");
    }
    budget.check(out.len())?;
    let section = Section {
        page: None,
        heading: None,
        text: super::clean_text(&out),
    };
    let mut doc = LoadedDocument::new(Format::Csv, None, vec![section]);
    doc.notes.extend(super::charset_note(decoded.charset));
    Ok(doc)
}

/// Writes `value` as `path: value` lines; empty strings, nulls and empty containers are
/// left out. A blank line separates the items of an array of objects. Stops with the budget's
/// error when the text grows over its limit (key paths repeat on every line, so the text can
/// be much larger than the JSON).
fn flatten(
    value: &serde_json::Value,
    path: &str,
    out: &mut String,
    depth: usize,
    budget: &Budget,
) -> Result<()> {
    use serde_json::Value;
    if depth > 128 {
        return Ok(());
    }
    budget.check(out.len())?;
    let scalar = |out: &mut String, text: &str| {
        if path.is_empty() {
            out.push_str(text);
        } else {
            out.push_str(path);
            out.push_str(": ");
            out.push_str(text);
        }
        out.push('\n');
    };
    match value {
        Value::Null => {}
        Value::Bool(b) => scalar(out, if *b { "true" } else { "false" }),
        Value::Number(n) => scalar(out, &n.to_string()),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() {
                scalar(out, &s.replace('\n', " "));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let child = format!("{path}[{i}]");
                let is_record = item.is_object();
                flatten(item, &child, out, depth + 1, budget)?;
                if is_record && !out.ends_with("\n\n") {
                    out.push('\n');
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(item, &child, out, depth + 1, budget)?;
            }
        }
    }
    Ok(())
}

/// Loads JSON as `path.to.key: value` lines; the title from a top-level `title` or `name`.
pub(crate) fn load_json(path: &Path, bytes: &[u8], budget: &Budget) -> Result<LoadedDocument> {
    let text = super::decode_text(bytes);
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::corrupt(path, "json", e))?;
    let title = ["title", "Title", "name", "Name"]
        .iter()
        .find_map(|k| value.get(k).and_then(|v| v.as_str()).map(str::to_string));
    let mut out = String::new();
    flatten(&value, "", &mut out, 0, budget)?;
    budget.check(out.len())?;
    let section = Section {
        page: None,
        heading: None,
        text: super::clean_text(&out),
    };
    Ok(LoadedDocument::new(Format::Json, title, vec![section]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_self_describing() {
        let csv = b"id,name,notes\n1,\"Smith, J\",\n2,Doe,\"two\nlines\"\n";
        let doc = load_csv(
            Path::new("a.csv"),
            csv,
            &Budget::unlimited(Path::new("a.csv")),
        )
        .unwrap();
        assert_eq!(
            doc.sections[0].text,
            "id: 1; name: Smith, J\nid: 2; name: Doe; notes: two lines"
        );
    }

    #[test]
    fn json_paths() {
        let json = br#"{"name": "X", "items": [{"a": 1, "b": ""}, {"a": true}], "n": null}"#;
        let doc = load_json(
            Path::new("a.json"),
            json,
            &Budget::unlimited(Path::new("a.json")),
        )
        .unwrap();
        assert_eq!(doc.title.as_deref(), Some("X"));
        // Key order depends on serde_json's `preserve_order` feature.
        let text = &doc.sections[0].text;
        assert!(text.contains("items[0].a: 1\n\nitems[1].a: true"), "{text}");
        assert!(text.lines().any(|l| l == "name: X"), "{text}");
        assert!(
            !text.contains("items[0].b") && !text.contains("null"),
            "{text}"
        );
    }
}
