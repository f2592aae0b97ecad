//! The publishing commands as an owner runs them: the built `wxoa` against the fake platform
//! (wxoa-mock in this process): an article file with a Markdown body becomes a draft (cover
//! and body image uploaded), is published with `--wait`, mass-sent once (confirmation,
//! `--dry-run`, a repeat answered "already sent"), materials exported and resumed, statistics
//! written as CSV.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::TempDir;
use wxoa_mock::api::{Follower, MediaKind, MockConfig, MockPlatform};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "test-app-secret";

/// The fake platform on a free port, served by a runtime of its own.
struct Platform {
    mock: MockPlatform,
    base: String,
    _runtime: tokio::runtime::Runtime,
}

fn platform() -> Platform {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mock = MockPlatform::new(MockConfig::new(APPID, SECRET));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = mock.clone();
    runtime.spawn(async move { served.serve(listener).await });
    Platform {
        mock,
        base,
        _runtime: runtime,
    }
}

fn write_config(dir: &Path, base: &str) -> PathBuf {
    let path = dir.join("wxoa.toml");
    let text = format!(
        "[account]\nappid = \"{APPID}\"\nsecret = \"{SECRET}\"\ntoken = \"wxoaTest\"\n\n\
         [api]\nbase_url = \"{base}\"\n\n[store]\nurl = \"sqlite://data/wxoa.db\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn wxoa(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    cmd.args(args)
        .env("WXOA_CONFIG", config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("WXOA_") && key.contains("__") {
            cmd.env_remove(key);
        }
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn article_to_draft_to_published_to_mass_send() {
    let p = platform();
    let dir = TempDir::new("publishing-cli-flow");
    let config = write_config(dir.path(), &p.base);
    std::fs::write(dir.path().join("cover.jpg"), [0xFF, 0xD8, 0xFF, 0xE0]).unwrap();
    std::fs::create_dir_all(dir.path().join("img")).unwrap();
    std::fs::write(dir.path().join("img/chart.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(
        dir.path().join("post.md"),
        "# 春季上新\n\n三款新品：\n\n![图表](img/chart.png)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("article.toml"),
        "title = \"春季上新\"\nauthor = \"小编\"\ncover = \"cover.jpg\"\nbody = \"post.md\"\nopen_comment = true\n",
    )
    .unwrap();

    // --dry-run renders without uploading.
    let o = wxoa(
        &config,
        &[
            "draft",
            "add",
            dir.path().join("article.toml").to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("<h1>春季上新</h1>") && out.contains("images to upload: img/chart.png"),
        "{out}"
    );
    assert!(p.mock.materials().is_empty());

    let o = wxoa(
        &config,
        &[
            "draft",
            "add",
            dir.path().join("article.toml").to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let draft_id = stdout_json(&o)["media_id"].as_str().unwrap().to_owned();
    let drafts = p.mock.drafts();
    assert_eq!(drafts.len(), 1);
    let article = &drafts[0].articles[0];
    let content = article["content"].as_str().unwrap();
    assert!(content.contains("src=\"http://mmbiz.qpic.cn/"), "{content}");
    assert!(!content.contains("img/chart.png"), "{content}");
    assert_eq!(article["need_open_comment"], 1);
    let cover = article["thumb_media_id"].as_str().unwrap();
    assert!(
        p.mock
            .materials()
            .iter()
            .any(|m| m.media_id == cover && m.kind == MediaKind::Image)
    );

    let o = wxoa(
        &config,
        &["publish", &draft_id, "--wait", "--interval", "0", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let st = stdout_json(&o);
    assert_eq!(st["publish_status"], 0, "{st}");
    assert_eq!(p.mock.published().len(), 1);

    // A mass send of a draft (a fresh one: the published one left the draft box).
    for id in ["o1", "o2"] {
        p.mock.add_follower(Follower::new(id));
    }
    let o = wxoa(
        &config,
        &[
            "draft",
            "add",
            dir.path().join("article.toml").to_str().unwrap(),
            "--json",
        ],
    );
    let draft_id = stdout_json(&o)["media_id"].as_str().unwrap().to_owned();

    let o = wxoa(&config, &["mass", "send", "--all", "--draft", &draft_id]);
    assert!(!o.status.success());
    assert!(text(&o).contains("pass --yes"), "{}", text(&o));
    let o = wxoa(
        &config,
        &["mass", "send", "--all", "--draft", &draft_id, "--dry-run"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("\"clientmsgid\": \"wxoa-"),
        "{}",
        text(&o)
    );
    assert!(p.mock.mass_jobs().is_empty(), "nothing sent before --yes");

    let o = wxoa(
        &config,
        &[
            "mass", "send", "--all", "--draft", &draft_id, "--yes", "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let sent = stdout_json(&o);
    assert_eq!(sent["already_sent"], false);
    let o = wxoa(
        &config,
        &["mass", "send", "--all", "--draft", &draft_id, "--yes"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already sent"), "{}", text(&o));
    let jobs = p.mock.mass_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].recipients.len(), 2);
    assert_eq!(sent["msg_id"], jobs[0].msg_id);

    // An API error is printed with its code and hint.
    let o = wxoa(
        &config,
        &["mass", "send", "--all", "--voice", "nope", "--yes"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("errcode: 40007"), "{}", text(&o));
}

#[test]
fn material_export_resumes() {
    let p = platform();
    let dir = TempDir::new("publishing-cli-export");
    let config = write_config(dir.path(), &p.base);
    std::fs::write(dir.path().join("a.png"), [1, 2, 3]).unwrap();
    let o = wxoa(
        &config,
        &[
            "material",
            "upload",
            dir.path().join("a.png").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let _ = p.mock.add_material(MediaKind::Voice, "v.mp3", vec![4; 5]);
    let _ = p
        .mock
        .add_material(MediaKind::Video, "clip.mp4", vec![5; 5]);
    let out = dir.path().join("export");
    let o = wxoa(&config, &["material", "export", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3 downloaded, 0 already there"),
        "{}",
        text(&o)
    );
    let image: Vec<_> = std::fs::read_dir(out.join("image")).unwrap().collect();
    assert_eq!(image.len(), 1);
    let path = image[0].as_ref().unwrap().path();
    assert_eq!(std::fs::read(&path).unwrap(), vec![1, 2, 3]);
    // One file lost: only it is fetched again.
    std::fs::remove_file(&path).unwrap();
    let o = wxoa(&config, &["material", "export", out.to_str().unwrap()]);
    assert!(
        text(&o).contains("1 downloaded, 2 already there"),
        "{}",
        text(&o)
    );
    let video: Vec<_> = std::fs::read_dir(out.join("video")).unwrap().collect();
    let meta = std::fs::read_to_string(video[0].as_ref().unwrap().path()).unwrap();
    assert!(meta.contains("/mock/material/"), "{meta}");

    let o = wxoa(&config, &["material", "count", "--json"]);
    assert_eq!(stdout_json(&o)["image_count"], 1);
}

#[test]
fn datacube_writes_csv() {
    let p = platform();
    let dir = TempDir::new("publishing-cli-cube");
    let config = write_config(dir.path(), &p.base);
    p.mock.add_follower(Follower::new("o1"));
    let csv = dir.path().join("users.csv");
    let o = wxoa(
        &config,
        &["datacube", "user-cumulate", "--out", csv.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let body = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "ref_date,cumulate_user");
    assert_eq!(lines.len(), 8, "{body}");
    let o = wxoa(&config, &["datacube", "nonsense"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("unknown report"), "{}", text(&o));
}
