//! Rule reloading: when the config file or a rules file, script or table it loads changes, or
//! on SIGHUP, every account's rules are recompiled and swapped in; a bad edit keeps the old
//! rules and logs exactly what is wrong.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::accounts::Accounts;
use crate::app::App;
use crate::config::{Config, ConfigError};

/// Reload the rules from `path` into `app`: the rules of the account with `app`'s name (of
/// the only account, when the config has one). Returns the number of rules now in force.
///
/// # Errors
/// The config does not load, or no longer has the account; the old rules stay in force.
pub fn reload_rules(app: &App, path: &Path) -> Result<usize, ConfigError> {
    let config = Config::load(path)?;
    reload_from(app, &config)
}

/// Set `app`'s rules from the loaded `config` (see [`reload_rules`]).
fn reload_from(app: &App, config: &Config) -> Result<usize, ConfigError> {
    let rules = if config.multi_account {
        config.account_named(&app.account().name)?.rules
    } else {
        std::sync::Arc::clone(&config.rules)
    };
    let count = rules.len();
    app.set_rules(rules);
    Ok(count)
}

/// Reload every account's rules; a config that does not load changes none of them.
fn reload_and_log(accounts: &Accounts, path: &Path, why: &str) {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(
                file = %path.display(),
                why,
                error = %e,
                "rules not reloaded; the previous rules stay in force"
            );
            return;
        }
    };
    for app in accounts.iter() {
        let account = app.account().name.as_str();
        match reload_from(app, &config) {
            Ok(count) => {
                tracing::info!(file = %path.display(), account, rules = count, why, "rules reloaded");
            }
            Err(e) => tracing::error!(
                file = %path.display(),
                account,
                why,
                error = %e,
                "rules not reloaded; the previous rules stay in force"
            ),
        }
    }
}

/// Watch `path` (and listen for SIGHUP on Unix) and reload the rules on every change, for as
/// long as the returned task runs.
///
/// # Errors
/// The file watcher cannot be set up.
pub fn spawn_reloader(
    accounts: impl Into<Accounts>,
    path: PathBuf,
) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
    let accounts: Accounts = accounts.into();
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    // The config file and what it loads (rules files, scripts, tables): editing any of them
    // reloads.
    let mut files: HashSet<PathBuf> = HashSet::new();
    files.insert(absolute(&path));
    for app in accounts.iter() {
        files.extend(app.rules().script_files().iter().map(|p| absolute(p)));
    }
    if let Ok(config) = Config::load(&path) {
        files.extend(config.resources.table_files().iter().map(|p| absolute(p)));
        files.extend(config.rules_files().iter().map(|p| absolute(p)));
    }
    // Watch the directories: editors replace files by renaming, which a file watch would miss.
    let dirs: HashSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_owned))
        .collect();
    let watch_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let ours = event.paths.iter().any(|p| files.contains(&absolute(p)));
            if ours && (event.kind.is_modify() || event.kind.is_create()) {
                let _ = watch_tx.send("file changed");
            }
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }

    #[cfg(unix)]
    {
        let hup_tx = tx;
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload on file change only");
                return;
            };
            while hup.recv().await.is_some() {
                if hup_tx.send("SIGHUP").is_err() {
                    break;
                }
            }
        });
    }

    Ok(tokio::spawn(async move {
        let _watcher = watcher;
        while let Some(why) = rx.recv().await {
            // Editors write in several steps; let them finish, then reload once.
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            reload_and_log(&accounts, &path, why);
        }
    }))
}

/// `path` made absolute against the working directory (unchanged when that fails).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
