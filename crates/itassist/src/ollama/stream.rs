//! Framing of streamed responses: NDJSON lines (Ollama) and server-sent events (OpenAI).
//!
//! [`LineReader`] splits a streamed HTTP response into lines with tokio-util's delimiter codec
//! (the bytes-level twin of `LinesCodec`: same framing and length limit, but a line that is not
//! valid UTF-8 is decoded lossily instead of ending the answer), under a deadline per read.
//! [`SseParser`] assembles server-sent events from those lines.
//!
//! The SSE field rules stay here rather than in `eventsource-stream`: that crate has no limit
//! on a line or an event (an endless line from a broken server grows its buffer without
//! bound) and re-parses its whole buffer for every received chunk, so one long line costs
//! quadratic time; on top of the length-limited lines, the WHATWG rules are the few lines of
//! [`SseParser`].

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::Response;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, FramedRead};
use tokio_util::io::StreamReader;

use super::http::{root_cause, Deadline};
use crate::error::{Error, Result};

/// Longest line accepted (a line longer than this is a broken server, not an answer).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The body of a response, as a stream of byte chunks.
type Body = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Reads the lines of a streamed HTTP response (a trailing `\r` is removed; the last line
/// may lack its newline). Dropping it closes the connection.
pub(crate) struct LineReader {
    lines: FramedRead<StreamReader<Body, Bytes>, AnyDelimiterCodec>,
}

impl std::fmt::Debug for LineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("buffered", &self.lines.read_buffer().len())
            .finish()
    }
}

impl LineReader {
    pub fn new(response: Response) -> Self {
        Self::from_body(Box::pin(
            response
                .bytes_stream()
                .map_err(|e| std::io::Error::other(root_cause(&e))),
        ))
    }

    fn from_body(body: Body) -> Self {
        let codec =
            AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), b"\n".to_vec(), MAX_LINE_BYTES);
        LineReader {
            lines: FramedRead::new(StreamReader::new(body), codec),
        }
    }

    /// The next line, `Ok(None)` at the end of the body. Each read must finish before
    /// `deadline`.
    pub async fn next_line(&mut self, deadline: &Deadline) -> Result<Option<String>> {
        let next = deadline.run(async { Ok(self.lines.next().await) }).await?;
        match next {
            None => Ok(None),
            Some(Ok(line)) => {
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                Ok(Some(String::from_utf8_lossy(line).into_owned()))
            }
            Some(Err(AnyDelimiterCodecError::MaxChunkLengthExceeded)) => Err(Error::Ollama {
                status: None,
                message: format!("the server sent a line longer than {MAX_LINE_BYTES} bytes"),
            }),
            Some(Err(AnyDelimiterCodecError::Io(e))) => Err(Error::Ollama {
                status: None,
                message: format!("the connection broke while reading the response: {e}"),
            }),
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

    fn reader(chunks: Vec<Vec<u8>>) -> LineReader {
        LineReader::from_body(Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from(c))),
        )))
    }

    async fn all_lines(mut lines: LineReader) -> Result<Vec<String>> {
        let deadline = Deadline::after(std::time::Duration::from_secs(10));
        let mut out = Vec::new();
        while let Some(line) = lines.next_line(&deadline).await? {
            out.push(line);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn lines_survive_any_split() {
        let text = b"{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}";
        for split in 0..text.len() {
            let chunks = vec![text[..split].to_vec(), text[split..].to_vec()];
            let lines = all_lines(reader(chunks)).await.unwrap();
            assert_eq!(
                lines,
                ["{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"],
                "split {split}"
            );
        }
    }

    #[tokio::test]
    async fn an_endless_line_is_an_error_not_unbounded_memory() {
        let chunk = Bytes::from(vec![b'x'; 1 << 16]);
        let endless = futures_util::stream::repeat_with(move || Ok(chunk.clone()));
        let mut lines = LineReader::from_body(Box::pin(endless));
        let deadline = Deadline::after(std::time::Duration::from_secs(30));
        let err = lines.next_line(&deadline).await.unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
        // Bounded: the limit plus what one read brings (the buffer's capacity may double).
        let buffered = lines.lines.read_buffer();
        assert!(
            buffered.len() <= MAX_LINE_BYTES + (1 << 16),
            "{}",
            buffered.len()
        );
        assert!(
            buffered.capacity() <= 4 * MAX_LINE_BYTES,
            "{}",
            buffered.capacity()
        );
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        let lines = all_lines(reader(vec![b"ok \xff\n".to_vec()]))
            .await
            .unwrap();
        assert_eq!(lines, ["ok \u{fffd}"]);
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
