//! The access line of each answered push written straight into the text log: the bytes the
//! text format makes of the `tracing` event, without the event's dispatch and field visits.

use std::cell::RefCell;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use wxoa_server::access_line::{self, AccessLine, LineWriter};

use crate::batched_stderr::BatchedStderr;
use crate::log_format::write_timestamp;

/// Writes access lines in the text format through the server's log writer.
pub(crate) struct TextAccessLine {
    out: BatchedStderr,
}

impl TextAccessLine {
    pub(crate) fn new(out: BatchedStderr) -> Self {
        Self { out }
    }
}

thread_local! {
    /// The line being formatted, kept between lines.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl LineWriter for TextAccessLine {
    fn write(&self, line: &AccessLine<'_>) {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        LINE.with(|buffer| {
            let Ok(mut buffer) = buffer.try_borrow_mut() else {
                return; // not reentrant: nothing logs while a line is formatted
            };
            buffer.clear();
            format_line(
                &mut buffer,
                since_epoch.as_secs(),
                since_epoch.subsec_micros(),
                line,
            );
            // Nowhere to report a failing log writer; the line is gone either way.
            let _ = self.out.info_writer().write_all(buffer.as_bytes());
        });
    }
}

/// The access line as the text format writes it:
/// `2026-12-05T12:16:35.953044Z  INFO wxoa_server::service: push answered account=… latency_us=…`.
pub(crate) fn format_line(out: &mut String, secs: u64, micros: u32, line: &AccessLine<'_>) {
    // Writing into a String cannot fail.
    let _ = write_timestamp(out, secs, micros);
    out.push_str("  INFO ");
    out.push_str(access_line::TARGET);
    out.push_str(": ");
    out.push_str(access_line::MESSAGE);
    field(out, "account", line.account);
    field(out, "mode", line.mode);
    field(out, "msg_type", line.msg_type);
    if let Some(event) = line.event {
        field(out, "event", event);
    }
    field(out, "rule", line.rule);
    field(out, "reply", line.reply);
    field(out, "source", line.source);
    let mut number = itoa::Buffer::new();
    field(out, "status", number.format(line.status));
    field(out, "latency_us", number.format(line.latency_us));
    out.push('\n');
}

/// ` name=value`, the value as Display writes it.
fn field(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_fields::TextFields;
    use crate::log_format::TextFormat;
    use crate::log_format::tests::Captured;

    /// The line the `tracing` event makes, through the text format, timestamp cut off.
    fn through_tracing(line: &AccessLine<'_>) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(captured.clone())
            .event_format(TextFormat)
            .fmt_fields(TextFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || access_line::write(line));
        captured.text().split_off(27)
    }

    fn direct(line: &AccessLine<'_>) -> String {
        let mut out = String::new();
        format_line(&mut out, 1_796_473_234, 885_119, line);
        let (stamp, rest) = out.split_at(27);
        assert_eq!(stamp, "2026-12-05T12:20:34.885119Z");
        rest.to_owned()
    }

    #[test]
    fn the_direct_line_is_the_events_line() {
        let message = AccessLine {
            account: "bench",
            mode: "plain",
            msg_type: "text",
            event: None,
            rule: "help",
            reply: "text",
            source: "fresh",
            status: 200,
            latency_us: 12,
        };
        let event = AccessLine {
            account: "客服号",
            mode: "safe",
            msg_type: "event",
            event: Some("CLICK"),
            rule: "-",
            reply: "success",
            source: "coalesced",
            status: 200,
            latency_us: u64::MAX,
        };
        for line in [message, event] {
            assert_eq!(direct(&line), through_tracing(&line), "{line:?}");
        }
        assert_eq!(
            direct(&message),
            "  INFO wxoa_server::service: push answered account=bench mode=plain msg_type=text rule=help reply=text source=fresh status=200 latency_us=12\n"
        );
        assert!(direct(&event).contains(" msg_type=event event=CLICK rule=- "));
    }
}
