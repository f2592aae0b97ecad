//! `wxoa users export --out users.csv [--resume]`: every follower to CSV (follower list pages +
//! batch user info), with a progress line on a terminal and a state file for resuming.
//!
//! Order of writes, so an export killed at any moment resumes without duplicates or gaps: rows
//! of one batch are appended and flushed, then `<out>.state` is replaced atomically with the
//! new row count, file length and position in the follower list. On `--resume` the file is
//! cut back to the recorded length (dropping rows written after the last checkpoint), the page
//! being worked on is fetched again from its `next_openid`, and the openids already done are
//! skipped (found by the last one written; by count if that follower has left meanwhile).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use wxoa_api::Client;
use wxoa_api::user::{MAX_BATCH_USERS, UserInfo};

use crate::cli::{UsersArgs, UsersCommand, UsersExportArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

/// The CSV columns, in order.
const HEADER: [&str; 10] = [
    "openid",
    "subscribe",
    "subscribe_time",
    "language",
    "remark",
    "tagid_list",
    "subscribe_scene",
    "qr_scene",
    "qr_scene_str",
    "unionid",
];

/// Format of the state file; a file of another version is refused.
const STATE_VERSION: u32 = 1;

pub(crate) fn run(args: &UsersArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        UsersCommand::Export(a) => export(a),
    }
}

/// Where an export stands, kept in `<out>.state` until it completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExportState {
    version: u32,
    /// The account exported (a state file of another account is refused).
    appid: String,
    /// The `next_openid` the current page was fetched with (`None`: the first page).
    page_cursor: Option<String>,
    /// Openids of the current page already written.
    done_in_page: usize,
    /// The last openid written, to find the place again in the re-fetched page.
    last_openid: Option<String>,
    /// Data rows in the file.
    rows: u64,
    /// The file's length after those rows (and the header).
    bytes: u64,
}

impl ExportState {
    fn new(appid: &str) -> Self {
        Self {
            version: STATE_VERSION,
            appid: appid.to_owned(),
            page_cursor: None,
            done_in_page: 0,
            last_openid: None,
            rows: 0,
            bytes: 0,
        }
    }
}

/// `<out>.state`.
fn state_path(out: &Path) -> PathBuf {
    let mut name = OsString::from(out.as_os_str());
    name.push(".state");
    PathBuf::from(name)
}

fn load_state(path: &Path) -> anyhow::Result<Option<ExportState>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let state: ExportState = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an export state file; delete it or pass --force",
            path.display()
        )
    })?;
    Ok(Some(state))
}

/// Replace the state file atomically (write a temporary file, then rename it).
fn save_state(path: &Path, state: &ExportState) -> anyhow::Result<()> {
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string(state).context("encoding the export state")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Open the output for this run: a new file with the header, or the interrupted one cut back
/// to its last checkpoint. Nothing is overwritten without `--force`.
fn prepare(
    out: &Path,
    appid: &str,
    resume: bool,
    force: bool,
) -> anyhow::Result<(File, ExportState)> {
    let state_file = state_path(out);
    let existing = if force {
        None
    } else {
        load_state(&state_file)?
    };
    match existing {
        // An export that wrote nothing may simply start again.
        Some(state) if resume || state.rows > 0 => {
            if !resume {
                anyhow::bail!(
                    "{} is an interrupted export ({} rows, state in {}); continue it with --resume or start over with --force",
                    out.display(),
                    state.rows,
                    state_file.display()
                );
            }
            if state.version != STATE_VERSION {
                anyhow::bail!(
                    "{} was written by another version of wxoa; start over with --force",
                    state_file.display()
                );
            }
            if state.appid != appid {
                anyhow::bail!(
                    "{} is an export of {}, not of {appid}; use another --out or start over with --force",
                    out.display(),
                    state.appid
                );
            }
            let file = OpenOptions::new()
                .append(true)
                .open(out)
                .with_context(|| format!("opening {} to resume", out.display()))?;
            let len = file
                .metadata()
                .with_context(|| format!("reading the size of {}", out.display()))?
                .len();
            if len < state.bytes {
                anyhow::bail!(
                    "{} is shorter ({len} bytes) than its state says ({} bytes): it was changed after the export stopped; start over with --force",
                    out.display(),
                    state.bytes
                );
            }
            if len > state.bytes {
                // Rows written after the last checkpoint: written again below.
                file.set_len(state.bytes)
                    .with_context(|| format!("cutting {} back to its checkpoint", out.display()))?;
            }
            Ok((file, state))
        }
        // No state, an empty one, or --force.
        existing => {
            if !force && existing.is_none() && out.exists() {
                if resume {
                    anyhow::bail!(
                        "nothing to resume: {} exists but {} does not (the export finished); pass --force to export again",
                        out.display(),
                        state_file.display()
                    );
                }
                anyhow::bail!("{} exists; pass --force to overwrite it", out.display());
            }
            let mut file =
                File::create(out).with_context(|| format!("creating {}", out.display()))?;
            let header = format!("{}\n", HEADER.join(","));
            file.write_all(header.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            let mut state = ExportState::new(appid);
            state.bytes = u64::try_from(header.len()).unwrap_or(u64::MAX);
            save_state(&state_file, &state)?;
            Ok((file, state))
        }
    }
}

/// How many openids at the start of a re-fetched page were already written.
fn already_done(openids: &[String], state: &ExportState) -> usize {
    let done = state.done_in_page;
    if done == 0 {
        return 0;
    }
    if let Some(last) = &state.last_openid {
        if openids.get(done - 1) == Some(last) {
            return done;
        }
        // Followers before it left or arrived: find it again.
        if let Some(pos) = openids.iter().position(|o| o == last) {
            return pos + 1;
        }
    }
    done.min(openids.len())
}

/// One CSV row in the order of [`HEADER`].
fn row(u: &UserInfo) -> [String; 10] {
    [
        u.openid.clone(),
        u.subscribe.to_string(),
        u.subscribe_time.to_string(),
        u.language.clone(),
        u.remark.clone(),
        u.tagid_list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(";"),
        u.subscribe_scene.clone(),
        u.qr_scene.to_string(),
        u.qr_scene_str.clone(),
        u.unionid.clone().unwrap_or_default(),
    ]
}

/// A one-line progress display on stderr, only when stderr is a terminal.
#[derive(Debug)]
struct Progress {
    on: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn update(&mut self, rows: u64, total: Option<u64>) {
        if !self.on {
            return;
        }
        self.shown = true;
        match total.filter(|t| *t > 0) {
            Some(t) => eprint!(
                "\r\x1b[Kexporting followers: {rows} / {t} ({}%)",
                rows.saturating_mul(100) / t
            ),
            None => eprint!("\r\x1b[Kexporting followers: {rows}"),
        }
        std::io::stderr().flush().ok();
    }

    fn finish(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

fn export(args: &UsersExportArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    let (file, mut state) = prepare(&args.out, &config.account.appid, args.resume, args.force)?;
    if state.rows > 0 {
        eprintln!(
            "resuming the export of {}: {} rows already written",
            args.out.display(),
            state.rows
        );
    }
    let state_file = state_path(&args.out);
    let mut progress = Progress::new();
    with_client(&config, async |client| {
        let result = export_pages(client, file, &mut state, &state_file, &mut progress).await;
        progress.finish();
        let total = match result {
            Ok(total) => total,
            Err(e) => {
                eprintln!(
                    "note: {} rows are in {}; run the same command with --resume to continue where it stopped",
                    state.rows,
                    args.out.display()
                );
                return Err(e);
            }
        };
        std::fs::remove_file(&state_file)
            .with_context(|| format!("removing {}", state_file.display()))?;
        print!(
            "exported {} followers to {}",
            state.rows,
            args.out.display()
        );
        match total {
            Some(t) if t != state.rows => {
                println!(" (the follower list counted {t}; followers come and go during an export)")
            }
            _ => println!(),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The export loop; returns the follower total the platform reported.
async fn export_pages(
    client: &Client,
    file: File,
    state: &mut ExportState,
    state_file: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Option<u64>> {
    let mut csv = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
    let mut pager = client.follower_pager(state.page_cursor.clone());
    let mut total = None;
    let mut first_page = true;
    loop {
        let cursor = pager.cursor().map(str::to_owned);
        let Some(page) = pager
            .next_page()
            .await
            .context("reading the follower list (user/get)")?
        else {
            break;
        };
        total = page.total.or(total);
        let skip = if first_page {
            // The page the state points at (a fresh export: the first page, nothing done).
            already_done(&page.openids, state)
        } else {
            state.page_cursor = cursor;
            state.done_in_page = 0;
            save_state(state_file, state)?;
            0
        };
        first_page = false;
        progress.update(state.rows, total);
        for chunk in page
            .openids
            .get(skip..)
            .unwrap_or_default()
            .chunks(MAX_BATCH_USERS)
        {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let users = client
                .users_info(&ids, None)
                .await
                .context("reading user info (user/info/batchget)")?;
            for u in &users {
                csv.write_record(row(u)).context("writing a CSV row")?;
            }
            csv.flush().context("writing the CSV file")?;
            state.rows += u64::try_from(users.len()).unwrap_or(u64::MAX);
            state.done_in_page += chunk.len();
            state.last_openid = chunk.last().cloned();
            state.bytes = csv
                .get_ref()
                .metadata()
                .context("reading the CSV file's size")?
                .len();
            save_state(state_file, state)?;
            progress.update(state.rows, total);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "wxoa-users-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
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

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_new_export_writes_the_header_and_a_state() {
        let dir = TempDir::new();
        let out = dir.0.join("users.csv");
        let (_file, state) = prepare(&out, "wx1", false, false).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "openid,subscribe,subscribe_time,language,remark,tagid_list,subscribe_scene,qr_scene,qr_scene_str,unionid\n"
        );
        assert_eq!(state.bytes, text.len() as u64);
        assert_eq!(load_state(&state_path(&out)).unwrap(), Some(state));
    }

    #[test]
    fn nothing_is_overwritten_without_force() {
        let dir = TempDir::new();
        let out = dir.0.join("users.csv");
        std::fs::write(&out, "finished export\n").unwrap();
        let e = prepare(&out, "wx1", false, false).unwrap_err().to_string();
        assert!(e.contains("--force"), "{e}");
        let e = prepare(&out, "wx1", true, false).unwrap_err().to_string();
        assert!(e.contains("nothing to resume"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "finished export\n");
        prepare(&out, "wx1", false, true).unwrap();
        assert!(
            std::fs::read_to_string(&out)
                .unwrap()
                .starts_with("openid,")
        );
    }

    #[test]
    fn resume_cuts_the_file_back_to_the_checkpoint() {
        let dir = TempDir::new();
        let out = dir.0.join("users.csv");
        let (mut file, mut state) = prepare(&out, "wx1", false, false).unwrap();
        file.write_all(b"o1,1\no2,1\n").unwrap();
        state.rows = 2;
        state.bytes += 10;
        state.done_in_page = 2;
        state.last_openid = Some("o2".to_owned());
        save_state(&state_path(&out), &state).unwrap();
        // Killed after writing a row but before the checkpoint.
        file.write_all(b"o3,1\npartial").unwrap();
        drop(file);

        let e = prepare(&out, "wx1", false, false).unwrap_err().to_string();
        assert!(e.contains("interrupted export (2 rows"), "{e}");
        let e = prepare(&out, "wx2", true, false).unwrap_err().to_string();
        assert!(e.contains("export of wx1"), "{e}");

        let (mut file, resumed) = prepare(&out, "wx1", true, false).unwrap();
        assert_eq!(resumed, state);
        file.write_all(b"o3,1\n").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.ends_with("\no1,1\no2,1\no3,1\n"), "{text}");
    }

    #[test]
    fn a_file_shorter_than_its_state_is_refused() {
        let dir = TempDir::new();
        let out = dir.0.join("users.csv");
        let (_file, mut state) = prepare(&out, "wx1", false, false).unwrap();
        state.rows = 5;
        state.bytes += 100;
        save_state(&state_path(&out), &state).unwrap();
        let e = prepare(&out, "wx1", true, false).unwrap_err().to_string();
        assert!(e.contains("shorter"), "{e}");
    }

    #[test]
    fn an_export_that_wrote_nothing_starts_again_freely() {
        let dir = TempDir::new();
        let out = dir.0.join("users.csv");
        prepare(&out, "wx1", false, false).unwrap();
        let (_file, state) = prepare(&out, "wx1", false, false).unwrap();
        assert_eq!(state.rows, 0);
    }

    #[test]
    fn the_place_in_a_page_is_found_again() {
        let mut state = ExportState::new("wx1");
        let page = ids(&["a", "b", "c", "d"]);
        assert_eq!(already_done(&page, &state), 0);
        state.done_in_page = 2;
        state.last_openid = Some("b".to_owned());
        assert_eq!(already_done(&page, &state), 2);
        // "a" left meanwhile: "b" is now first.
        assert_eq!(already_done(&ids(&["b", "c", "d"]), &state), 1);
        // "b" left: fall back to the count.
        assert_eq!(already_done(&ids(&["a", "c", "d"]), &state), 2);
        assert_eq!(already_done(&ids(&["a"]), &state), 1);
    }

    #[test]
    fn rows_follow_the_header() {
        let u: UserInfo = serde_json::from_str(
            r#"{"subscribe":1,"openid":"o1","language":"zh_CN","subscribe_time":1434093047,"unionid":"u1","remark":"a, \"b\"","tagid_list":[128,2],"subscribe_scene":"ADD_SCENE_QR_CODE","qr_scene":98765,"qr_scene_str":""}"#,
        )
        .unwrap();
        assert_eq!(
            row(&u),
            [
                "o1",
                "1",
                "1434093047",
                "zh_CN",
                "a, \"b\"",
                "128;2",
                "ADD_SCENE_QR_CODE",
                "98765",
                "",
                "u1"
            ]
        );
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.write_record(row(&u)).unwrap();
        let line = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(
            line,
            "o1,1,1434093047,zh_CN,\"a, \"\"b\"\"\",128;2,ADD_SCENE_QR_CODE,98765,,u1\n"
        );
    }
}
