//! The message log wired into the edge: every answered push is one `message_log` row (with
//! its rule, reply, mode and source), followers are kept from every push, a retry of the same
//! push is not logged twice, and stopping the writer leaves nothing queued.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use wxoa_server::App;
use wxoa_server::backends::{Connected, DedupScope, connect};
use wxoa_server::clock::FixedClock;
use wxoa_server::service::{EdgeRequest, respond};
use wxoa_store::LoggedMessage;

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wxoa-message-log-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

async fn connected_app(dir: &TempDir, store_extra: &str) -> (Arc<App>, Connected) {
    let text = config_text("").replace(
        "[account]",
        &format!("[store]\nurl = \"sqlite://wxoa.db\"\n{store_extra}\n\n[account]"),
    );
    let config = wxoa_server::Config::from_toml(&text, &dir.0.join("wxoa.toml")).unwrap();
    let clock = Arc::new(FixedClock::new(NOW));
    let connected = connect(&config, clock.clone(), DedupScope::Process)
        .await
        .unwrap();
    let app = Arc::new(App::with_backends(
        &config,
        clock,
        connected.backends.clone(),
    ));
    (app, connected)
}

async fn push(app: &Arc<App>, xml: &str, nonce: &str) -> u16 {
    let (query, body) = encrypted_push(xml, NOW, nonce, false);
    respond(
        app,
        EdgeRequest {
            method: "POST",
            query: &query,
            body: body.as_bytes(),
        },
    )
    .await
    .status
}

/// Stops the writer (writing out its queue) and reads the log back, oldest first.
async fn written(connected: Connected) -> (Vec<LoggedMessage>, wxoa_store::Store) {
    let writer = connected.log_writer.expect("the log is on by default");
    assert!(writer.shutdown(Duration::from_secs(10)).await);
    let mut rows = connected
        .store
        .message_log()
        .recent_messages(100)
        .await
        .unwrap();
    rows.reverse();
    (rows, connected.store)
}

#[tokio::test]
async fn each_push_is_logged_once_with_its_answer_and_follower() {
    let dir = TempDir::new();
    let (app, connected) = connected_app(&dir, "").await;
    assert_eq!(
        push(&app, &event_xml("subscribe", "qrscene_42"), "n1").await,
        200
    );
    assert_eq!(push(&app, &text_xml("产品 Rust", 101), "n2").await, 200);
    // The platform's retry of the same message: answered from the cache, not logged again.
    assert_eq!(push(&app, &text_xml("产品 Rust", 101), "n3").await, 200);
    assert_eq!(
        push(&app, &event_xml("VIEW", "https://example.com/a"), "n4").await,
        200
    );
    let log = app.backends().message_log.clone().unwrap();

    let (rows, store) = written(connected).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let subscribe = &rows[0].entry;
    assert_eq!(subscribe.msg_type, "event");
    assert_eq!(subscribe.event.as_deref(), Some("subscribe"));
    assert_eq!(subscribe.event_key.as_deref(), Some("qrscene_42"));
    assert_eq!(subscribe.rule.as_deref(), Some("welcome"));
    assert_eq!(subscribe.reply.as_deref(), Some("欢迎关注！"));
    let text = &rows[1].entry;
    assert_eq!(text.appid, APPID);
    assert_eq!(text.openid, "oUser");
    assert_eq!(text.msg_id, Some(101));
    assert_eq!(text.content.as_deref(), Some("产品 Rust"));
    assert_eq!(text.rule.as_deref(), Some("product"));
    assert_eq!(text.reply_type.as_deref(), Some("text"));
    assert_eq!(text.reply.as_deref(), Some("产品：Rust/Rust"));
    assert_eq!(text.mode, "safe");
    assert_eq!(text.source, "fresh");
    assert_eq!(text.at, NOW);
    let view = &rows[2].entry;
    assert_eq!(view.rule, None);
    assert_eq!(view.reply_type.as_deref(), Some("success"));
    assert_eq!(view.reply, None);

    let follower = store
        .followers()
        .follower(APPID, "oUser")
        .await
        .unwrap()
        .expect("kept from the pushes");
    assert!(follower.subscribed);
    assert_eq!(follower.scene.as_deref(), Some("qrscene_42"));
    assert_eq!(follower.messages, 3);
    assert_eq!(follower.last_seen_at, Some(NOW));
    assert_eq!(follower.last_message_at, Some(NOW));
    let stats = log.stats();
    assert_eq!((stats.written, stats.dropped, stats.queue_depth), (3, 0, 0));
    store.close().await;
}

#[tokio::test]
async fn the_log_can_be_switched_off() {
    let dir = TempDir::new();
    let (app, connected) = connected_app(&dir, "message_log = false").await;
    assert!(app.backends().message_log.is_none());
    assert!(connected.log_writer.is_none());
    assert_eq!(push(&app, &text_xml("使用", 7), "n1").await, 200);
    let rows = connected
        .store
        .message_log()
        .recent_messages(10)
        .await
        .unwrap();
    assert!(rows.is_empty());
    connected.store.close().await;
}

#[test]
fn a_queue_below_its_floor_is_refused_by_name() {
    let text = config_text("").replace("[account]", "[store]\nlog_queue = 5\n\n[account]");
    let e = wxoa_server::Config::from_toml(&text, std::path::Path::new("wxoa.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("store.log_queue must be between 100"), "{e}");
}
