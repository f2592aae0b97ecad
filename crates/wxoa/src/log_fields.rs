//! The text log's fields (`message key=value …`), written as tracing-subscriber's default
//! writes them without colours, straight into the line rather than through its styling
//! wrappers (one formatting pass per field instead of four).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// The fields of an event or span: the message first as it was written, then `name=value`
/// with each value's `Debug` (strings quoted), separated by spaces; `log.*` fields (the
/// `log` crate's metadata) left out and a raw identifier's `r#` dropped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldWriter {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldWriter<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_> {
    fn write(&mut self, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
        let name = field.name();
        if name.starts_with("log.") {
            return Ok(());
        }
        if self.first {
            self.first = false;
        } else {
            self.writer.write_char(' ')?;
        }
        if name == "message" {
            write!(self.writer, "{value:?}")
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{name}={value:?}")
        }
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = if field.name() == "message" {
                self.write(field, &format_args!("{value}"))
            } else {
                self.write(field, &value)
            };
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.result = match value.source() {
                Some(source) => self.write(
                    field,
                    &format_args!("{value} {}.sources={}", field.name(), Sources(source)),
                ),
                None => self.write(field, &format_args!("{value}")),
            };
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.write(field, value);
        }
    }
}

/// An error's chain of sources as `[first, second, …]`.
struct Sources<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        let mut next = Some(self.0);
        let mut first = true;
        while let Some(error) = next {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{error}")?;
            next = error.source();
        }
        f.write_char(']')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_format::tests::Captured;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the store failed")
        }
    }
    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("disk \"full\"")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::error::Error for Inner {}

    /// Every kind of field, logged in a span, with the given fields formatter; the lines
    /// without their timestamps.
    fn lines<N>(fields: N) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(captured.clone())
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("push", openid = "o\"A", n = 3_u64);
            let _entered = span.enter();
            span.record("n", 4_u64);
            let error = Outer(Inner);
            let plain = Inner;
            tracing::warn!(
                rule = %"help",
                quoted = "a \"b\"\n中文",
                status = 200,
                negative = -7_i64,
                ratio = 0.5_f64,
                ok = true,
                list = ?[1, 2],
                missing = tracing::field::Empty,
                r#type = "text",
                "push answered in {} µs", 12
            );
            tracing::error!(
                error = &error as &(dyn std::error::Error + 'static),
                "store down"
            );
            tracing::error!(error = &plain as &(dyn std::error::Error + 'static));
            tracing::info!(message = "only a message");
        });
        captured.text()
    }

    #[test]
    fn fields_read_as_the_default_format_writes_them() {
        let ours = lines(TextFields);
        let default = lines(tracing_subscriber::fmt::format::DefaultFields::new());
        assert_eq!(ours, default);
        // And what that is, so a change in either shows here.
        assert!(
            ours.contains(
                "push{openid=\"o\\\"A\" n=3 n=4}: wxoa::log_fields::tests: push answered in 12 µs rule=help quoted=\"a \\\"b\\\"\\n中文\" status=200 negative=-7 ratio=0.5 ok=true list=[1, 2] type=\"text\"\n"
            ),
            "{ours}"
        );
        assert!(
            ours.contains("store down error=the store failed error.sources=[disk \"full\"]\n"),
            "{ours}"
        );
        assert!(ours.contains("tests: error=disk \"full\"\n"), "{ours}");
        assert!(ours.contains("tests: only a message\n"), "{ours}");
    }
}
