//! Logging: human-readable on a terminal, JSON with `--log-format json`; `RUST_LOG` overrides
//! the level.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::access_writer::TextAccessLine;
use crate::batched_stderr::{BatchedStderr, FlushGuard};
use crate::cli::LogFormat;
use crate::log_fields::TextFields;
use crate::log_format::TextFormat;

/// Install the global subscriber (stderr, so stdout stays for command output), with the
/// layer that keeps the latest warnings and errors for the console's dashboard. `batched`
/// (the server) writes lines in batches from a thread of their own: keep the returned guard
/// until the end, its drop writes out what is pending.
pub(crate) fn init(format: LogFormat, verbose: u8, batched: bool) -> Option<FlushGuard> {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (writer, guard) = match batched.then(BatchedStderr::start).flatten() {
        Some((writer, guard)) => (writer, Some(guard)),
        None => (BatchedStderr::direct(), None),
    };
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(writer.clone());
    let recent_errors = wxoa_server::admin::RecentErrors::process().layer();
    let result = match format {
        // Colours on a terminal; to a file or a journal, the same layout written cheaply.
        LogFormat::Text if terminal => builder.finish().with(recent_errors).try_init(),
        LogFormat::Text => {
            let installed = builder
                .event_format(TextFormat)
                .fmt_fields(TextFields)
                .finish()
                .with(recent_errors)
                .try_init();
            if installed.is_ok() {
                // The access line skips the event's dispatch: written straight in this format.
                wxoa_server::access_line::install(Box::new(TextAccessLine::new(writer)));
            }
            installed
        }
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(recent_errors)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: logging not initialised: {e}");
    }
    guard
}
