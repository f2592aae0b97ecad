//! Server-sent events as the chat-completions stream sends them: `data:` lines grouped in
//! events separated by a blank line; the payloads are given whole, in order.

/// Collects bytes and gives the `data` of each complete event.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    /// Add `bytes`; the data of every event completed by them.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep)) = find_event_end(&self.buffer) {
            let raw: Vec<u8> = self.buffer.drain(..end + sep).collect();
            if let Some(data) = event_data(&raw[..end]) {
                events.push(data);
            }
        }
        events
    }

    /// Data of an event left without its closing blank line when the stream ended.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let raw = std::mem::take(&mut self.buffer);
        event_data(&raw)
    }
}

/// The end of the first complete event and the length of its separator.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The `data:` lines of one event, joined by newlines; `None` when it has none.
fn event_data(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut data: Option<String> = None;
    for line in text.lines() {
        let Some(value) = line.strip_prefix("data:") else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut data {
            Some(d) => {
                d.push('\n');
                d.push_str(value);
            }
            None => data = Some(value.to_owned()),
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_across_chunks_and_line_endings() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").is_empty());
        assert_eq!(
            p.feed(b":1}\n\n: comment\n\ndata: x\r\n\r\ndata: [DONE]\n\n"),
            vec!["{\"a\":1}".to_owned(), "x".to_owned(), "[DONE]".to_owned()]
        );
        assert_eq!(p.feed(b"data: a\ndata: b\n\n"), vec!["a\nb".to_owned()]);
        assert!(p.feed(b"data: tail").is_empty());
        assert_eq!(p.finish().as_deref(), Some("tail"));
    }

    #[test]
    fn multibyte_characters_split_across_chunks() {
        let mut p = SseParser::default();
        let bytes = "data: 你好\n\n".as_bytes();
        assert!(p.feed(&bytes[..8]).is_empty());
        assert_eq!(p.feed(&bytes[8..]), vec!["你好".to_owned()]);
    }
}
