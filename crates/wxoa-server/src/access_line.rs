//! The access line of each answered push: a `tracing` event, or, when the binary has installed
//! a [`LineWriter`], the same line formatted straight into the log without an event's dispatch.
//!
//! The line is written at INFO under the target [`TARGET`], so `RUST_LOG` filters it as before
//! (`RUST_LOG=info,wxoa_server::service=warn` leaves it out) whichever way it is written.

use std::sync::OnceLock;

/// The target the access line is written under (the module that answers pushes).
pub const TARGET: &str = "wxoa_server::service";

/// The access line's message.
pub const MESSAGE: &str = "push answered";

/// What the access line says about one answered push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLine<'a> {
    /// The account's name (`[account] name`).
    pub account: &'a str,
    /// `plain`, `compat` or `safe`.
    pub mode: &'a str,
    /// The push's `MsgType`.
    pub msg_type: &'a str,
    /// The event's name, for an event.
    pub event: Option<&'a str>,
    /// The rule that answered, `-` for none.
    pub rule: &'a str,
    /// The reply's type, `success` for none.
    pub reply: &'a str,
    /// Where the answer came from (`fresh`, `cached`, …).
    pub source: &'a str,
    /// The HTTP status answered.
    pub status: u16,
    /// Microseconds from the request's arrival to its answer.
    pub latency_us: u64,
}

/// Writes access lines in the log's own format, bypassing `tracing`'s dispatch.
pub trait LineWriter: Send + Sync + 'static {
    /// Write `line`; only called when INFO is enabled for [`TARGET`].
    fn write(&self, line: &AccessLine<'_>);
}

static WRITER: OnceLock<Box<dyn LineWriter>> = OnceLock::new();

/// Write access lines through `writer` from now on, for the life of the process. The binary
/// installs one when its log format is one the writer reproduces exactly; without one the line
/// is a `tracing` event. Returns `false` (and changes nothing) when a writer was installed
/// already.
pub fn install(writer: Box<dyn LineWriter>) -> bool {
    WRITER.set(writer).is_ok()
}

/// Whether the access line is written at all (INFO enabled for [`TARGET`]).
#[must_use]
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Write the access line of one answered push.
pub fn write(line: &AccessLine<'_>) {
    match WRITER.get() {
        Some(writer) => {
            if enabled() {
                writer.write(line);
            }
        }
        // Values are recorded with Display (`%`): none needs quoting, and Debug would escape
        // every character of each one.
        None => tracing::info!(
            target: TARGET,
            account = %line.account,
            mode = %line.mode,
            msg_type = %line.msg_type,
            event = line.event.map(tracing::field::display),
            rule = %line.rule,
            reply = %line.reply,
            source = %line.source,
            status = line.status,
            latency_us = line.latency_us,
            "push answered"
        ),
    }
}
