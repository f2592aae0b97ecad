//! The server's log writer: lines are gathered in memory and written to stderr in batches by a
//! background thread, so a busy server makes one write(2) per batch instead of one per request.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written (warnings and errors go at once).
const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// A batch this large is written without waiting for the interval.
const FLUSH_BYTES: usize = 64 * 1024;
/// A batch buffer keeps up to this much capacity between batches.
const KEPT_BYTES: usize = 512 * 1024;
/// Past this, stderr is not keeping up (a full pipe, a stopped reader): lines are dropped and
/// counted rather than making requests wait or memory grow.
const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// The `MakeWriter` the subscriber writes through: batched, or straight to stderr for the
/// short-lived commands (and when the writer thread cannot start).
#[derive(Clone)]
pub(crate) struct BatchedStderr {
    shared: Option<Arc<Shared>>,
}

/// Flushes what is pending and stops the writer thread when dropped; hold it for the
/// process's life.
pub(crate) struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

pub(crate) struct Shared {
    state: Mutex<Pending>,
    wake: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    urgent: bool,
    closed: bool,
}

impl BatchedStderr {
    /// Every line written at once, as `std::io::stderr` does.
    pub(crate) fn direct() -> Self {
        Self { shared: None }
    }

    /// Start the writer thread; `None` if it cannot be started.
    pub(crate) fn start() -> Option<(Self, FlushGuard)> {
        let shared = Arc::new(Shared::new());
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wxoa-log".into())
            .spawn(move || worker.run(&mut io::stderr()))
            .ok()?;
        Some((
            Self {
                shared: Some(Arc::clone(&shared)),
            },
            FlushGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }
}

impl Shared {
    fn new() -> Self {
        Self {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain bytes behind: still fine to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8], urgent: bool) {
        let mut pending = self.lock();
        if pending.bytes.len() + line.len() > MAX_PENDING_BYTES {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.bytes.extend_from_slice(line);
        let wake = urgent || pending.bytes.len() >= FLUSH_BYTES;
        pending.urgent |= urgent;
        drop(pending);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The writer thread: take what is pending every interval (sooner when urgent or large)
    /// and write it outside the lock.
    fn run(&self, out: &mut impl io::Write) {
        let mut batch = Vec::with_capacity(FLUSH_BYTES);
        loop {
            let closed = {
                let mut pending = self.lock();
                if !pending.closed && !pending.urgent && pending.bytes.len() < FLUSH_BYTES {
                    pending = self
                        .wake
                        .wait_timeout(pending, FLUSH_INTERVAL)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::swap(&mut pending.bytes, &mut batch);
                pending.urgent = false;
                pending.closed
            };
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                batch.extend_from_slice(
                    format!("log writer: {dropped} lines dropped, stderr was not keeping up\n")
                        .as_bytes(),
                );
            }
            if !batch.is_empty() {
                // Nowhere left to report a failing stderr; the lines are gone either way.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                batch.clear();
                // Keep the buffer for the next batch (no regrowing, no fresh mapping each
                // time), but not a rare burst's.
                batch.shrink_to(KEPT_BYTES);
            }
            if closed {
                return;
            }
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's writer: the formatter writes the whole line through it.
pub(crate) enum LineWriter<'a> {
    Batched { shared: &'a Shared, urgent: bool },
    Direct(io::Stderr),
}

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Batched { shared, urgent } => {
                shared.append(buf, *urgent);
                Ok(buf.len())
            }
            Self::Direct(stderr) => stderr.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Batched { shared, urgent } => {
                shared.append(buf, *urgent);
                Ok(())
            }
            Self::Direct(stderr) => stderr.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Batched { .. } => Ok(()),
            Self::Direct(stderr) => stderr.flush(),
        }
    }
}

impl BatchedStderr {
    /// The writer of one INFO (or lower) line: batched, not urgent.
    pub(crate) fn info_writer(&self) -> LineWriter<'_> {
        self.writer(false)
    }

    fn writer(&self, urgent: bool) -> LineWriter<'_> {
        match &self.shared {
            Some(shared) => LineWriter::Batched { shared, urgent },
            None => LineWriter::Direct(io::stderr()),
        }
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer(true)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.writer(*meta.level() <= Level::WARN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stderr stand-in the writer thread fills.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn start_with(sink: &Sink) -> (Arc<Shared>, JoinHandle<()>) {
        let shared = Arc::new(Shared::new());
        let worker = Arc::clone(&shared);
        let mut out = sink.clone();
        let thread = std::thread::spawn(move || worker.run(&mut out));
        (shared, thread)
    }

    #[test]
    fn closing_writes_every_line_in_order() {
        let sink = Sink::default();
        let (shared, thread) = start_with(&sink);
        for i in 0..10_000 {
            shared.append(format!("line {i}\n").as_bytes(), false);
        }
        let guard = FlushGuard {
            shared,
            thread: Some(thread),
        };
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[9_999], "line 9999");
    }

    #[test]
    fn an_urgent_line_is_written_without_closing() {
        let sink = Sink::default();
        let (shared, thread) = start_with(&sink);
        shared.append(b"WARN something\n", true);
        let mut seen = false;
        for _ in 0..500 {
            if sink.0.lock().unwrap().ends_with(b"WARN something\n") {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(FlushGuard {
            shared,
            thread: Some(thread),
        });
        assert!(seen, "the warning stayed in memory");
    }

    #[test]
    fn lines_past_the_cap_are_dropped_and_reported() {
        let shared = Shared::new();
        let line = vec![b'x'; 1024 * 1024];
        for _ in 0..10 {
            shared.append(&line, false);
        }
        assert_eq!(shared.lock().bytes.len(), 8 * 1024 * 1024);
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 2);
        shared.lock().closed = true;
        let mut out = Vec::new();
        shared.run(&mut out);
        assert!(
            String::from_utf8_lossy(&out)
                .ends_with("log writer: 2 lines dropped, stderr was not keeping up\n"),
        );
    }
}
