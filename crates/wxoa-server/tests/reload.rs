//! Rule reloading: a good edit takes effect, a bad edit keeps the old rules; the file watcher
//! and SIGHUP both trigger it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use wxoa_server::clock::FixedClock;
use wxoa_server::reload::{reload_rules, spawn_reloader};
use wxoa_server::{App, Config};

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wxoa-reload-{tag}-{}-{}",
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
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

fn names(app: &App) -> Vec<String> {
    app.rules().names().map(str::to_owned).collect()
}

#[test]
fn good_edit_replaces_rules_and_bad_edit_keeps_them() {
    let dir = TempDir::new("direct");
    let path = dir.0.join("wxoa.toml");
    std::fs::write(&path, config_text("")).unwrap();
    let app = App::new(
        &Config::load(&path).unwrap(),
        Arc::new(FixedClock::new(NOW)),
    );
    assert_eq!(names(&app).len(), 6);

    let edited = config_text("").replace("name = \"echo\"", "name = \"parrot\"");
    std::fs::write(&path, edited).unwrap();
    assert_eq!(reload_rules(&app, &path).unwrap(), 6);
    assert!(names(&app).contains(&"parrot".to_owned()));

    let broken = config_text("").replace("'^产品\\s*(?P<name>\\S+)$'", "'^产品(('");
    std::fs::write(&path, broken).unwrap();
    let err = reload_rules(&app, &path).unwrap_err().to_string();
    assert!(err.contains("product"), "names the rule: {err}");
    assert!(err.contains("regex"), "names the field: {err}");
    assert!(err.contains("wxoa.toml"), "names the file: {err}");
    assert!(names(&app).contains(&"parrot".to_owned()), "old rules stay");
}

#[tokio::test]
async fn file_change_triggers_reload() {
    let dir = TempDir::new("watch");
    let path = dir.0.join("wxoa.toml");
    std::fs::write(&path, config_text("")).unwrap();
    let app = Arc::new(App::new(
        &Config::load(&path).unwrap(),
        Arc::new(FixedClock::new(NOW)),
    ));
    let mut changes = app.watch_rules();
    let task = spawn_reloader(Arc::clone(&app), path.clone()).unwrap();
    let edited = config_text("").replace("name = \"echo\"", "name = \"parrot\"");
    std::fs::write(&path, edited).unwrap();
    tokio::time::timeout(Duration::from_secs(20), changes.changed())
        .await
        .expect("reload within 20 s")
        .unwrap();
    assert!(names(&app).contains(&"parrot".to_owned()));
    task.abort();
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_triggers_reload() {
    let dir = TempDir::new("hup");
    let path = dir.0.join("wxoa.toml");
    std::fs::write(&path, config_text("")).unwrap();
    let app = Arc::new(App::new(
        &Config::load(&path).unwrap(),
        Arc::new(FixedClock::new(NOW)),
    ));
    let task = spawn_reloader(Arc::clone(&app), path.clone()).unwrap();
    // Let the signal handler install before raising the signal.
    tokio::task::yield_now().await;
    let mut changes = app.watch_rules();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(20), changes.changed())
        .await
        .expect("reload within 20 s")
        .unwrap();
    assert_eq!(*changes.borrow(), 1);
    task.abort();
}

#[tokio::test]
async fn editing_a_script_reloads_it() {
    let dir = TempDir::new("script");
    std::fs::create_dir_all(dir.0.join("scripts")).unwrap();
    std::fs::write(dir.0.join("scripts/hi.rhai"), "\"v1\"").unwrap();
    let path = dir.0.join("wxoa.toml");
    std::fs::write(
        &path,
        format!(
            "[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\n\n[[rules]]\nname = \"hi\"\nmsg_type = \"text\"\nreply = {{ script = \"scripts/hi.rhai\" }}\n"
        ),
    )
    .unwrap();
    let app = Arc::new(App::new(
        &Config::load(&path).unwrap(),
        Arc::new(FixedClock::new(NOW)),
    ));
    let mut changes = app.watch_rules();
    let task = spawn_reloader(Arc::clone(&app), path.clone()).unwrap();
    std::fs::write(dir.0.join("scripts/hi.rhai"), "\"v2\"").unwrap();
    tokio::time::timeout(Duration::from_secs(20), changes.changed())
        .await
        .expect("reload within 20 s")
        .unwrap();
    let outcome = app
        .rules()
        .respond(&wxoa_server::rules::probe::text_message("x"), NOW)
        .unwrap();
    let wxoa_server::rules::Outcome::Action { call, .. } = outcome else {
        panic!("a script rule needs work")
    };
    let services = app.backends().services.clone();
    let reply = call.run(&services).await.unwrap();
    assert_eq!(reply, Some(wxoa_proto::reply::Reply::text("v2")));
    task.abort();
}
