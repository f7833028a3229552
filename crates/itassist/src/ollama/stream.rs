//! Framing of streamed responses: NDJSON lines (Ollama) and server-sent events (OpenAI).
//!
//! The parsers are pure ([`LineBuffer`], [`SseParser`]) so they can be tested on any split of
//! the bytes; [`LineReader`] feeds them from an HTTP response, under a deadline.

use reqwest::Response;

use super::http::Deadline;
use crate::error::{Error, Result};

/// Longest line accepted (a line longer than this is a broken server, not an answer).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Splits bytes into `\n`-terminated lines (a trailing `\r` is removed), whatever the chunk
/// boundaries.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
}

impl LineBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes waiting for their newline.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete line, if one is buffered.
    pub fn next_line(&mut self) -> Option<String> {
        let pos = self.buf[self.scanned..].iter().position(|&b| b == b'\n');
        match pos {
            Some(offset) => {
                let end = self.scanned + offset;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.scanned = 0;
                Some(String::from_utf8_lossy(&line).into_owned())
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// At the end of the body: the last line when it had no newline.
    pub fn finish(&mut self) -> Option<String> {
        if self.buf.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.buf);
        self.scanned = 0;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(String::from_utf8_lossy(&line).into_owned())
    }
}

/// Reads the lines of a streamed HTTP response. Dropping it closes the connection.
#[derive(Debug)]
pub(crate) struct LineReader {
    response: Option<Response>,
    lines: LineBuffer,
}

impl LineReader {
    pub fn new(response: Response) -> Self {
        LineReader {
            response: Some(response),
            lines: LineBuffer::new(),
        }
    }

    /// The next line, `Ok(None)` at the end of the body. Each read must finish before
    /// `deadline`.
    pub async fn next_line(&mut self, deadline: &Deadline) -> Result<Option<String>> {
        loop {
            if let Some(line) = self.lines.next_line() {
                return Ok(Some(line));
            }
            let Some(response) = self.response.as_mut() else {
                return Ok(self.lines.finish());
            };
            let chunk = deadline
                .run(async {
                    response.chunk().await.map_err(|e| Error::Ollama {
                        status: None,
                        message: format!(
                            "the connection broke while reading the response: {}",
                            super::http::root_cause(&e)
                        ),
                    })
                })
                .await?;
            match chunk {
                Some(bytes) => {
                    self.lines.push(&bytes);
                    if self.lines.pending() > MAX_LINE_BYTES {
                        return Err(Error::Ollama {
                            status: None,
                            message: format!(
                                "the server sent a line longer than {MAX_LINE_BYTES} bytes"
                            ),
                        });
                    }
                }
                None => self.response = None,
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Assembles server-sent events from lines (per the WHATWG `text/event-stream` rules:
/// `data:` lines accumulate, a blank line dispatches, `:` starts a comment).
#[derive(Debug, Default)]
pub struct SseParser {
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line; returns an event when the line completes one.
    pub fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
        None
    }

    /// At the end of the stream: the last event when no blank line followed it.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.dispatch()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        if self.data.is_empty() {
            self.event = None;
            return None;
        }
        Some(SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data).join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_survive_any_split() {
        let text = b"{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}";
        for split in 0..text.len() {
            let mut buf = LineBuffer::new();
            let mut lines = Vec::new();
            buf.push(&text[..split]);
            while let Some(l) = buf.next_line() {
                lines.push(l);
            }
            buf.push(&text[split..]);
            while let Some(l) = buf.next_line() {
                lines.push(l);
            }
            lines.extend(buf.finish());
            assert_eq!(
                lines,
                ["{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"],
                "split {split}"
            );
        }
    }

    #[test]
    fn sse_events() {
        let mut p = SseParser::new();
        let mut events = Vec::new();
        for line in [
            ": comment",
            "data: {\"x\":1}",
            "",
            "event: error",
            "data: a",
            "data:b",
            "",
            "",
            "data: [DONE]",
        ] {
            events.extend(p.line(line));
        }
        events.extend(p.finish());
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].data, "{\"x\":1}");
        assert_eq!(events[1].event.as_deref(), Some("error"));
        assert_eq!(events[1].data, "a\nb");
        assert_eq!(events[2].data, "[DONE]");
    }
}
