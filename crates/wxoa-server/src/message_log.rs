//! The message log writer: each answered push becomes one `message_log` row, written off the
//! reply path through a bounded queue by one background task, in batches.
//!
//! A push only offers itself and its answer to the queue ([`MessageLog::record`]: no
//! copy, no lock, no await; the row is built by the writer); a full queue drops it and counts
//! it rather than make a reply wait. The
//! writer task takes whatever has queued up (up to [`MAX_BATCH`] entries) and writes it in one
//! transaction, retrying a failed write a few times before giving the batch up (counted). It
//! spends at most about a twentieth of its time writing ([`WRITER_DUTY`]): under a load no
//! account sees, the log keeps what it can and drops the rest, instead of taking the CPU the
//! replies need. [`LogWriter::shutdown`] writes everything still queued, for a clean SIGTERM.
//! Once an hour the writer deletes rows older than `store.log_retention_days`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use metrics::{Counter, Gauge};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use wxoa_api::StoreError;
use wxoa_proto::message::Message;
use wxoa_proto::reply::Reply;
use wxoa_store::{MessageLogEntry, SqlMessageLog};

use crate::app::{Handled, Source};
use crate::clock::Clock;
use crate::push::DecodedPush;

/// Entries written by one transaction at most.
pub const MAX_BATCH: usize = 512;
/// The writer's time spent writing is at most this fraction of the time it runs: after a
/// write that took `t`, it waits `t × (1 / WRITER_DUTY − 1)` before the next.
pub const WRITER_DUTY: f64 = 0.05;
/// The longest pause the duty cycle makes between two writes: a write that waited seconds on
/// a lock held elsewhere (or a database coming back) spent that time waiting, not working, so
/// it must not stop the log for twenty times as long.
pub const MAX_WRITER_PAUSE: Duration = Duration::from_secs(2);
/// Waits before the second, third and fourth attempt at a failed write.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(5),
];
/// How often old rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// When the first prune runs after the writer starts.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(60);

/// Rows written.
pub const LOG_WRITTEN: &str = "wxoa_log_written_total";
/// Entries dropped because the queue was full (or the writer had stopped).
pub const LOG_DROPPED: &str = "wxoa_log_dropped_total";
/// Failed write attempts (each retried), and batches given up after the last attempt.
pub const LOG_WRITE_FAILURES: &str = "wxoa_log_write_failures_total";
/// Entries lost with a batch that could not be written.
pub const LOG_LOST: &str = "wxoa_log_lost_total";
/// Entries waiting in the queue.
pub const LOG_QUEUE_DEPTH: &str = "wxoa_log_queue_depth";
/// Rows deleted by retention.
pub const LOG_PRUNED: &str = "wxoa_log_pruned_total";

/// Where the writer puts batches: the SQL store, or a fake in tests.
#[async_trait]
pub trait LogSink: std::fmt::Debug + Send + Sync + 'static {
    /// Writes `batch` as one unit.
    ///
    /// # Errors
    /// Nothing of the batch was written.
    async fn write(&self, batch: &[MessageLogEntry]) -> Result<(), StoreError>;

    /// Deletes rows logged before `before` (Unix seconds); returns how many.
    ///
    /// # Errors
    /// The statement failed.
    async fn prune(&self, before: i64) -> Result<u64, StoreError>;
}

#[async_trait]
impl LogSink for SqlMessageLog {
    async fn write(&self, batch: &[MessageLogEntry]) -> Result<(), StoreError> {
        self.log_batch(batch).await.map(drop)
    }

    async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        self.prune_messages(before).await
    }
}

/// How the writer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogWriterConfig {
    /// Entries the queue holds before it drops.
    pub capacity: usize,
    /// Rows older than this many days are deleted; 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for LogWriterConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            retention_days: 30,
        }
    }
}

/// What the log has done so far, for the console and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Entries waiting in the queue.
    pub queue_depth: u64,
    /// Entries dropped (queue full or writer stopped).
    pub dropped: u64,
    /// Rows written.
    pub written: u64,
    /// Entries lost with batches that could not be written after every retry.
    pub lost: u64,
}

#[derive(Debug, Default)]
struct Counts {
    dropped: AtomicU64,
    written: AtomicU64,
    lost: AtomicU64,
    /// Failed attempts since the last write that went through (0: writing fine).
    failing: AtomicU64,
    /// The last write error, while `failing` is not 0.
    last_error: std::sync::Mutex<String>,
    dropped_counter: OnceLock<Counter>,
}

impl Counts {
    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.dropped_counter
            .get_or_init(|| metrics::counter!(LOG_DROPPED))
            .increment(1);
    }
}

/// An answered push as it waits in the queue: the push and its answer themselves, moved in,
/// so the reply path copies nothing; the writer builds the row ([`entry`]).
#[derive(Debug)]
pub struct Answered {
    appid: Arc<str>,
    push: DecodedPush,
    handled: Arc<Handled>,
    source: Source,
    latency: Duration,
}

impl Answered {
    /// The row this push makes.
    fn into_entry(self) -> MessageLogEntry {
        entry(
            &self.appid,
            &self.push,
            &self.handled,
            self.source,
            self.latency,
        )
    }

    /// `push` (of the account `appid`), answered with `handled` (obtained as `source`) after
    /// `latency`. Of the push's document only the fields the row reads beside the typed view
    /// are kept: a queue of whole documents would hold several times the memory.
    #[must_use]
    pub fn new(
        appid: Arc<str>,
        mut push: DecodedPush,
        handled: Arc<Handled>,
        source: Source,
        latency: Duration,
    ) -> Self {
        push.inbound
            .retain_fields(|field| ROW_FIELDS.contains(&field));
        Self {
            appid,
            push,
            handled,
            source,
            latency,
        }
    }
}

/// The fields of a push's document [`entry`] reads through [`wxoa_proto::message::Inbound`]'s
/// accessors (the rest it reads from the typed view).
const ROW_FIELDS: [&str; 4] = ["Event", "EventKey", "MsgId", "MsgID"];

/// The recording side of the log, held by the app: cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageLog {
    /// Boxed, so the queue's slots stay small while it is empty.
    tx: mpsc::Sender<Box<Answered>>,
    counts: Arc<Counts>,
}

impl MessageLog {
    /// Offers an answered push to the writer, which builds its row; when the queue is full it
    /// is dropped and counted. Never waits.
    pub fn record(&self, answered: Answered) {
        self.record_with(|| answered);
    }

    /// [`MessageLog::record`] for the entry `make` builds, which it calls only when the queue
    /// has room: a full queue stays full for a while under overload, and then each push is
    /// dropped without being trimmed and boxed first.
    pub fn record_with(&self, make: impl FnOnce() -> Answered) {
        match self.tx.try_reserve() {
            Ok(slot) => slot.send(Box::new(make())),
            Err(_) => self.counts.drop_one(),
        }
    }

    /// The queue's depth and the counts so far.
    #[must_use]
    pub fn stats(&self) -> LogStats {
        let depth = self.tx.max_capacity().saturating_sub(self.tx.capacity());
        LogStats {
            queue_depth: u64::try_from(depth).unwrap_or(u64::MAX),
            dropped: self.counts.dropped.load(Ordering::Relaxed),
            written: self.counts.written.load(Ordering::Relaxed),
            lost: self.counts.lost.load(Ordering::Relaxed),
        }
    }

    /// While writes fail: what `/readyz` says about it (the failing attempts, the last error,
    /// what was lost so far).
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        let failing = self.counts.failing.load(Ordering::Relaxed);
        if failing == 0 {
            return None;
        }
        let error = self
            .counts
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Some(format!(
            "message log: {failing} write attempts failed in a row ({error}); retrying, {} entries lost so far",
            self.counts.lost.load(Ordering::Relaxed)
        ))
    }
}

impl crate::admin::log_stats::LogWriterStats for MessageLog {
    fn snapshot(&self) -> crate::admin::log_stats::LogWriterSnapshot {
        let stats = self.stats();
        crate::admin::log_stats::LogWriterSnapshot {
            queue_depth: stats.queue_depth,
            dropped: stats.dropped,
            written: stats.written,
        }
    }
}

/// The background writer: stop it with [`LogWriter::shutdown`] to write what is queued.
#[derive(Debug)]
pub struct LogWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LogWriter {
    /// Starts the writer task on the current runtime, writing into `sink`; `clock` dates the
    /// retention cut-off.
    #[must_use]
    pub fn spawn(
        sink: Arc<dyn LogSink>,
        config: LogWriterConfig,
        clock: Arc<dyn Clock>,
    ) -> (MessageLog, Self) {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let counts = Arc::new(Counts::default());
        let (stop, stopped) = oneshot::channel();
        let task = Task {
            sink,
            rx,
            counts: Arc::clone(&counts),
            retention_days: config.retention_days,
            clock,
            depth: metrics::gauge!(LOG_QUEUE_DEPTH),
            written: metrics::counter!(LOG_WRITTEN),
        };
        let task = tokio::spawn(task.run(stopped));
        (MessageLog { tx, counts }, Self { stop, task })
    }

    /// Stops taking new entries, writes every queued one, and waits up to `timeout` for that.
    /// Returns whether the queue was written out in time (what was not is counted as lost by
    /// the caller's log line, never silently).
    pub async fn shutdown(self, timeout: Duration) -> bool {
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                false
            }
        }
    }
}

struct Task {
    sink: Arc<dyn LogSink>,
    rx: mpsc::Receiver<Box<Answered>>,
    counts: Arc<Counts>,
    retention_days: u32,
    clock: Arc<dyn Clock>,
    depth: Gauge,
    written: Counter,
}

impl Task {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut rows = Vec::with_capacity(MAX_BATCH);
        // The first prune a minute after start: a short-lived process (CGI) never prunes.
        let mut prune = tokio::time::interval_at(Instant::now() + FIRST_PRUNE_AFTER, PRUNE_EVERY);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The earliest moment the next write may start (the duty cycle).
        let mut next_write = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                received = self.rx.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    // Wait out the duty cycle, then take what queued meanwhile too.
                    if Instant::now() < next_write {
                        tokio::select! {
                            biased;
                            _ = &mut stopped => break,
                            () = tokio::time::sleep_until(next_write) => {}
                        }
                        while batch.len() < MAX_BATCH {
                            match self.rx.try_recv() {
                                Ok(entry) => batch.push(entry),
                                Err(_) => break,
                            }
                        }
                    }
                    rows.extend(batch.drain(..).map(|answered| answered.into_entry()));
                    let busy = self.write(&rows, true).await;
                    rows.clear();
                    next_write = Instant::now()
                        + busy.mul_f64(1.0 / WRITER_DUTY - 1.0).min(MAX_WRITER_PAUSE);
                    self.depth.set(self.rx.len() as f64);
                }
                _ = prune.tick() => self.prune().await,
            }
        }
        // Shutting down: no new entries; write out what is queued (and what was taken).
        self.rx.close();
        loop {
            if batch.is_empty() && self.rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                break;
            }
            rows.extend(batch.drain(..).map(|answered| answered.into_entry()));
            let _ = self.write(&rows, false).await;
            rows.clear();
        }
        self.depth.set(0.0);
    }

    /// Writes `batch`, retrying failures; a batch that fails every attempt is counted lost.
    /// While shutting down (`patient` false) only one retry is made, quickly. Returns the time
    /// the last attempt spent in the database (not the failed attempts before it, nor the waits
    /// between attempts).
    async fn write(&self, batch: &[MessageLogEntry], patient: bool) -> Duration {
        let delays: &[Duration] = if patient {
            &RETRY_DELAYS
        } else {
            &RETRY_DELAYS[..1]
        };
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let result = self.sink.write(batch).await;
            let busy = started.elapsed();
            match result {
                Ok(()) => {
                    let rows = batch.len() as u64;
                    self.counts.failing.store(0, Ordering::Relaxed);
                    self.counts.written.fetch_add(rows, Ordering::Relaxed);
                    self.written.increment(rows);
                    return busy;
                }
                Err(e) => {
                    metrics::counter!(LOG_WRITE_FAILURES).increment(1);
                    self.counts.failing.fetch_add(1, Ordering::Relaxed);
                    *self
                        .counts
                        .last_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = e.to_string();
                    let Some(delay) = delays.get(attempt) else {
                        let rows = batch.len() as u64;
                        self.counts.lost.fetch_add(rows, Ordering::Relaxed);
                        metrics::counter!(LOG_LOST).increment(rows);
                        tracing::error!(error = %e, rows, "message log: batch not written after retries; lost");
                        return busy;
                    };
                    tracing::warn!(error = %e, rows = batch.len(), retry_in_ms = delay.as_millis() as u64, "message log: write failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(*delay).await;
                }
            }
        }
    }

    async fn prune(&self) {
        if self.retention_days == 0 {
            return;
        }
        let before = self
            .clock
            .now_unix()
            .saturating_sub(i64::from(self.retention_days) * 86_400);
        match self.sink.prune(before).await {
            Ok(0) => {}
            Ok(rows) => {
                metrics::counter!(LOG_PRUNED).increment(rows);
                tracing::info!(
                    rows,
                    retention_days = self.retention_days,
                    "message log: old rows deleted"
                );
            }
            Err(e) => tracing::warn!(error = %e, "message log: pruning failed; will try again"),
        }
    }
}

/// The log entry of `push`, answered with `handled` (obtained as `source`) after `latency`.
#[must_use]
pub fn entry(
    appid: &str,
    push: &DecodedPush,
    handled: &Handled,
    source: Source,
    latency: Duration,
) -> MessageLogEntry {
    let inbound = &push.inbound;
    MessageLogEntry {
        at: push.received_at,
        appid: appid.to_owned(),
        openid: inbound.from_user_name.clone(),
        msg_type: inbound.msg_type.clone(),
        event: inbound.event_name().map(str::to_owned),
        event_key: inbound
            .event_key()
            .filter(|key| !key.is_empty())
            .map(str::to_owned),
        msg_id: inbound.msg_id(),
        content: inbound.message().and_then(message_summary),
        rule: handled.rule.as_deref().map(str::to_owned),
        reply_type: Some(
            handled
                .reply
                .as_ref()
                .map_or("success", Reply::msg_type)
                .to_owned(),
        ),
        reply: handled.reply.as_ref().and_then(reply_summary),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        mode: push.mode.as_str().to_owned(),
        source: source.as_str().to_owned(),
        opens_window: crate::app::user_initiated(inbound),
    }
}

/// What a follower's message says, as the console shows it: the text, the recognised speech,
/// a link, a place; a media id for media without text.
fn message_summary(message: &Message) -> Option<String> {
    let text = match message {
        Message::Text { content, .. } => content.clone(),
        Message::Image { pic_url, .. } => pic_url.clone(),
        Message::Voice {
            recognition,
            media_id,
            ..
        } => recognition
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| media_id.clone()),
        Message::Video { media_id, .. } | Message::ShortVideo { media_id, .. } => media_id.clone(),
        Message::Location {
            latitude,
            longitude,
            label,
            ..
        } => {
            let at = match (latitude, longitude) {
                (Some(lat), Some(lng)) => format!("{lat},{lng}"),
                _ => String::new(),
            };
            format!("{label} {at}").trim().to_owned()
        }
        Message::Link { title, url, .. } => format!("{title} {url}").trim().to_owned(),
        Message::MiniProgramPage {
            title, page_path, ..
        } => format!("{title} {page_path}").trim().to_owned(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// What a reply says, as the console shows it: the text, article titles, a media id.
fn reply_summary(reply: &Reply) -> Option<String> {
    let text = match reply {
        Reply::Text { content } => content.clone(),
        Reply::Image { media_id } | Reply::Voice { media_id } => media_id.clone(),
        Reply::Video {
            media_id, title, ..
        } => title.clone().unwrap_or_else(|| media_id.clone()),
        Reply::Music {
            title,
            thumb_media_id,
            ..
        } => title.clone().unwrap_or_else(|| thumb_media_id.clone()),
        Reply::News { articles } => articles
            .iter()
            .map(|a| a.title.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        Reply::TransferCustomerService { kf_account } => kf_account.clone().unwrap_or_default(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Notify;

    use super::*;
    use crate::clock::FixedClock;

    /// A sink that keeps what it is given; it can be held shut, fail a number of writes, and
    /// take (paused) time per write.
    #[derive(Debug, Default)]
    struct FakeSink {
        batches: Mutex<Vec<Vec<MessageLogEntry>>>,
        pruned_before: Mutex<Vec<i64>>,
        failures_left: AtomicU64,
        attempts: AtomicU64,
        write_takes: Option<Duration>,
        gate: Option<Arc<Notify>>,
        entered: Arc<Notify>,
    }

    #[async_trait]
    impl LogSink for FakeSink {
        async fn write(&self, batch: &[MessageLogEntry]) -> Result<(), StoreError> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            self.entered.notify_one();
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            if let Some(takes) = self.write_takes {
                tokio::time::sleep(takes).await;
            }
            if self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(StoreError(Box::new(std::io::Error::other(
                    "database is locked",
                ))));
            }
            self.batches.lock().unwrap().push(batch.to_vec());
            Ok(())
        }

        async fn prune(&self, before: i64) -> Result<u64, StoreError> {
            self.pruned_before.lock().unwrap().push(before);
            Ok(3)
        }
    }

    impl FakeSink {
        fn written(&self) -> Vec<i64> {
            self.batches
                .lock()
                .unwrap()
                .iter()
                .flatten()
                .map(|e| e.at)
                .collect()
        }

        fn batch_sizes(&self) -> Vec<usize> {
            self.batches.lock().unwrap().iter().map(Vec::len).collect()
        }
    }

    fn decoded(xml: &str) -> DecodedPush {
        DecodedPush {
            mode: crate::push::Mode::Safe,
            inbound: wxoa_proto::message::Inbound::parse(
                xml.as_bytes(),
                wxoa_proto::xml::XmlLimits::default(),
            )
            .unwrap(),
            nonce: "n1".to_owned(),
            received_at: 1_700_000_000,
        }
    }

    #[test]
    fn a_queued_push_makes_the_row_its_whole_document_makes() {
        let handled = Arc::new(Handled {
            rule: Some(Arc::from("welcome")),
            reply: Some(Reply::text("欢迎")),
        });
        let pushes = [
            "<xml><ToUserName>gh_a</ToUserName><FromUserName>oU</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>产品 Rust</Content><MsgId>101</MsgId><Extra>x</Extra></xml>",
            "<xml><ToUserName>gh_a</ToUserName><FromUserName>oU</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_42</EventKey><Ticket>t</Ticket></xml>",
            "<xml><ToUserName>gh_a</ToUserName><FromUserName>oU</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>77</MsgID><Status>success</Status></xml>",
            "<xml><ToUserName>gh_a</ToUserName><FromUserName>oU</FromUserName><CreateTime>1700000000</CreateTime><MsgType>location</MsgType><Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label>广州</Label><MsgId>102</MsgId></xml>",
        ];
        for xml in pushes {
            let push = decoded(xml);
            let latency = Duration::from_millis(3);
            let whole = super::entry("wxAPP", &push, &handled, Source::Fresh, latency);
            let queued = Answered::new(
                Arc::from("wxAPP"),
                push,
                Arc::clone(&handled),
                Source::Fresh,
                latency,
            );
            assert!(queued.push.inbound.root().children.len() <= 2, "{xml}");
            assert_eq!(queued.into_entry(), whole, "{xml}");
        }
    }

    /// A push received at `at` (its row's `at`), answered `success`.
    fn entry(at: i64) -> Answered {
        let mut push = decoded(&format!(
            "<xml><ToUserName>gh_a</ToUserName><FromUserName>o{at}</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>{at}</MsgId></xml>"
        ));
        push.received_at = at;
        Answered::new(
            Arc::from("wxAPP"),
            push,
            Arc::new(Handled::default()),
            Source::Fresh,
            Duration::ZERO,
        )
    }

    fn spawn(sink: &Arc<FakeSink>, capacity: usize) -> (MessageLog, LogWriter) {
        LogWriter::spawn(
            Arc::clone(sink) as Arc<dyn LogSink>,
            LogWriterConfig {
                capacity,
                retention_days: 30,
            },
            Arc::new(FixedClock::new(1_767_225_600)),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_writes_everything_queued_in_order() {
        let sink = Arc::new(FakeSink::default());
        let (log, writer) = spawn(&sink, 1000);
        for at in 0..700 {
            log.record(entry(at));
        }
        assert!(writer.shutdown(Duration::from_secs(10)).await);
        assert_eq!(sink.written(), (0..700).collect::<Vec<_>>());
        assert!(sink.batch_sizes().iter().all(|&n| n <= MAX_BATCH));
        let stats = log.stats();
        assert_eq!((stats.written, stats.dropped, stats.lost), (700, 0, 0));
        // The writer has stopped: later entries are dropped and counted, never block.
        log.record(entry(700));
        assert_eq!(log.stats().dropped, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let gate = Arc::new(Notify::new());
        let sink = Arc::new(FakeSink {
            gate: Some(Arc::clone(&gate)),
            ..FakeSink::default()
        });
        let (log, writer) = spawn(&sink, 4);
        log.record(entry(0));
        // The writer takes the first entry and is stuck in the database.
        sink.entered.notified().await;
        for at in 1..=7 {
            log.record(entry(at));
        }
        let stats = log.stats();
        assert_eq!(stats.queue_depth, 4, "{stats:?}");
        assert_eq!(stats.dropped, 3, "{stats:?}");
        // With the queue full, the entry is not even built.
        let mut built = false;
        log.record_with(|| {
            built = true;
            entry(8)
        });
        assert!(!built);
        assert_eq!(log.stats().dropped, 4);
        gate.notify_one();
        gate.notify_one();
        assert!(writer.shutdown(Duration::from_secs(10)).await);
        assert_eq!(sink.written(), vec![0, 1, 2, 3, 4]);
        assert_eq!(log.stats().written, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_write_is_retried_then_given_up_and_counted() {
        let sink = Arc::new(FakeSink {
            failures_left: AtomicU64::new(2),
            ..FakeSink::default()
        });
        let (log, writer) = spawn(&sink, 100);
        log.record(entry(1));
        // Two failures, then the third attempt (after 100 ms and 1 s) goes through.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(sink.written(), vec![1]);
        assert_eq!(sink.attempts.load(Ordering::SeqCst), 3);

        sink.failures_left.store(100, Ordering::SeqCst);
        log.record(entry(2));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(
            sink.attempts.load(Ordering::SeqCst),
            3 + 1 + RETRY_DELAYS.len() as u64
        );
        let stats = log.stats();
        assert_eq!((stats.written, stats.lost), (1, 1), "{stats:?}");
        assert!(writer.shutdown(Duration::from_secs(10)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_spaced_to_the_duty_cycle_and_batch_what_waited() {
        let sink = Arc::new(FakeSink {
            write_takes: Some(Duration::from_millis(10)),
            ..FakeSink::default()
        });
        let (log, writer) = spawn(&sink, 100);
        let started = Instant::now();
        log.record(entry(1));
        sink.entered.notified().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        for at in 2..=5 {
            log.record(entry(at));
        }
        sink.entered.notified().await;
        // The first write took 10 ms, so the second started no sooner than 10 ms × 19 later.
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
        assert!(writer.shutdown(Duration::from_secs(10)).await);
        assert_eq!(
            sink.batch_sizes(),
            vec![1, 4],
            "what queued meanwhile went as one batch"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn old_rows_are_pruned_a_minute_after_start_then_hourly() {
        let sink = Arc::new(FakeSink::default());
        let (_log, writer) = spawn(&sink, 100);
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(
            sink.pruned_before.lock().unwrap().is_empty(),
            "not at start"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let thirty_days_ago = 1_767_225_600 - 30 * 86_400;
        assert_eq!(*sink.pruned_before.lock().unwrap(), vec![thirty_days_ago]);
        tokio::time::sleep(PRUNE_EVERY).await;
        assert_eq!(sink.pruned_before.lock().unwrap().len(), 2);
        assert!(writer.shutdown(Duration::from_secs(1)).await);
    }
}
