//! The text log line: the layout of tracing-subscriber's default format without its colour
//! machinery, with the date part of the timestamp formatted once a second.

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// `2026-12-05T12:16:35.953044Z  INFO span{a=1}: target: message key=value`, as the default
/// format writes it without ANSI colours.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TextFormat;

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        write_timestamp(
            &mut writer,
            since_epoch.as_secs(),
            since_epoch.subsec_micros(),
        )?;
        let meta = event.metadata();
        write!(writer, " {:>5} ", meta.level().as_str())?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
                any = true;
            }
            if any {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS`.
    static DATE_CACHE: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds).
pub(crate) fn write_timestamp(out: &mut impl fmt::Write, secs: u64, micros: u32) -> fmt::Result {
    let (cached_secs, mut date) = DATE_CACHE.with(Cell::get);
    if cached_secs != secs {
        date = format_date(secs);
        DATE_CACHE.with(|cache| cache.set((secs, date)));
    }
    // Only ASCII digits and separators were written.
    out.write_str(std::str::from_utf8(&date).unwrap_or("????-??-??T??:??:??"))?;
    // `.ffffffZ`, written digit by digit rather than through a padded format.
    let mut fraction = *b".000000Z";
    let mut rest = micros.min(999_999);
    for digit in fraction[1..7].iter_mut().rev() {
        // A digit: `rest % 10` is below 10.
        *digit = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
    out.write_str(std::str::from_utf8(&fraction).unwrap_or(".??????Z"))
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (UTC; years 1970–9999).
fn format_date(secs: u64) -> [u8; 19] {
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = [0u8; 19];
    let mut put = |at: usize, value: u64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            // A digit: `v % 10` is below 10.
            out[at + i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
            v /= 10;
        }
    };
    put(0, year.min(9999), 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, of_day / 3600, 2);
    put(14, of_day / 60 % 60, 2);
    put(17, of_day % 60, 2);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
    out
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so a leap day ends its 400-year era's year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// A log writer keeping what is written, for tests of the line's layout.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    fn stamp(secs: u64, micros: u32) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, secs, micros).unwrap();
        s
    }

    #[test]
    fn timestamps_match_known_dates() {
        assert_eq!(stamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stamp(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(stamp(1_796_473_234, 885_119), "2026-12-05T12:20:34.885119Z");
        assert_eq!(stamp(4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z");
        // The same second again comes from the cache, with its own fraction.
        assert_eq!(stamp(4_102_444_799, 5), "2099-12-31T23:59:59.000005Z");
    }

    #[test]
    fn every_day_follows_the_last() {
        // Walk 1970..2400 day by day: each date is the previous one plus a day.
        let mut previous = civil_from_days(0);
        assert_eq!(previous, (1970, 1, 1));
        for days in 1..157_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1);
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {y}-{m}-{d}"
            );
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days_in_month = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            assert!(d <= days_in_month[usize::try_from(m - 1).unwrap()]);
            previous = (y, m, d);
        }
    }

    #[test]
    fn the_line_has_the_default_layout() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(captured.clone())
            .event_format(TextFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("push", openid = "oA");
            let _entered = span.enter();
            tracing::warn!(rule = %"help", status = 200, "push answered");
        });
        let line = captured.text();
        let (stamp, rest) = line.split_at(27);
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{line}"
        );
        assert_eq!(
            rest,
            "  WARN push{openid=\"oA\"}: wxoa::log_format::tests: push answered rule=help status=200\n"
        );
    }
}
