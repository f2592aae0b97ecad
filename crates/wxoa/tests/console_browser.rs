//! The owner's console in a real browser (issue 13): `wxoa serve` and `wxoa mock` run as child
//! processes of the built binary, Chromium is driven through chromedriver, and the test does what
//! an owner does: logs in, watches pushes arrive live, opens a conversation, edits a rule and sees
//! the next push answered by it, pushes a menu and sends a 客服 message, both checked on the mock.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them the
//! test prints that it skipped. A PNG of each page goes to `target/console-screenshots/`.

mod support;

use std::future::Future;
use std::io::Write as _;
use std::ops::Deref;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Process, TempDir, free_port, wxoa_command};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const APPID: &str = "wx49f0ab532d5d035a";
const SECRET: &str = "consolesecret0000000000000000000";
const TOKEN: &str = "wxoaconsoletoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const PASSWORD: &str = "owner-console-pass";
const FOLLOWER: &str = "oConsoleFan0000000000000001";
/// How long one step in the browser may take to show its result.
const STEP_DEADLINE: Duration = Duration::from_secs(20);
/// How often a step's result is looked for.
const POLL: Duration = Duration::from_millis(100);
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// A child process in a process group of its own, its stdout and stderr collected, killed with
/// the whole group when dropped (chromedriver's Chromium included), also when the test fails.
struct Group(Process);

impl Group {
    fn start(command: &mut Command) -> Self {
        Self(Process::spawn(
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0),
        ))
    }
}

impl Deref for Group {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.0
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // The whole group: chromedriver starts Chromium and its helpers in it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The config: the callback and the console on free ports, the API at the mock, three rules.
fn write_config(dir: &Path, mock_port: u16) -> (PathBuf, u16) {
    let admin_port = free_port();
    let path = dir.join("wxoa.toml");
    let text = format!(
        r#"# The console's browser test.
[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"

[account]
appid = "{APPID}"
secret = "{SECRET}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"

[api]
base_url = "http://127.0.0.1:{mock_port}"

[store]
url = "sqlite://wxoa.db"

[[rules]]
name = "welcome"
event = "subscribe"
reply = {{ text = "欢迎关注！" }}

[[rules]]
name = "help"
keyword = "帮助"
reply = {{ text = "可用命令：帮助" }}

[[rules]]
name = "fallback"
msg_type = "text"
reply = {{ text = "收到：{{{{ content }}}}" }}
"#,
        port = free_port()
    );
    std::fs::write(&path, text).expect("write config");
    (path, admin_port)
}

/// `wxoa admin passwd --stdin`: the admin password's hash into the config.
fn set_password(config: &Path) {
    let mut child = wxoa_command(&["admin", "passwd", "--stdin"], config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wxoa admin passwd");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write the password");
    let out = child.wait_with_output().expect("wxoa admin passwd");
    assert!(out.status.success(), "wxoa admin passwd: {out:?}");
    let text = std::fs::read_to_string(config).expect("read config");
    assert!(text.contains("$argon2"), "no hash written:\n{text}");
}

/// Everything the test runs: the processes (killed on drop), the browser, and where they listen.
struct Console {
    browser: Client,
    console: String,
    mock: String,
    http: reqwest::Client,
    shots: PathBuf,
    server: Group,
    _mock: Group,
    _driver: Group,
    _dir: TempDir,
}

impl Console {
    async fn start(dir: TempDir) -> Self {
        let mock_port = free_port();
        let (config, admin_port) = write_config(dir.path(), mock_port);
        set_password(&config);

        let server = Group::start(&mut wxoa_command(&["serve"], &config));
        server.wait_for_line("wxoa serving");
        let mock = Group::start(&mut wxoa_command(
            &["mock", "--listen", &format!("127.0.0.1:{mock_port}")],
            &config,
        ));
        mock.wait_for_line("Ctrl-C stops the mock");

        let driver_port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command.arg(format!("--port={driver_port}"));
        let driver = Group::start(&mut command);
        driver.wait_for_line("started successfully");

        let profile = dir.path().join("chromium-profile");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--no-proxy-server",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .unwrap_or_else(|e| panic!("start Chromium: {e}\n{}", driver.output()));
        browser
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("window size");

        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target dir")
            .join("console-screenshots");
        std::fs::create_dir_all(&shots).expect("create the screenshot dir");
        Self {
            browser,
            console: format!("http://127.0.0.1:{admin_port}"),
            mock: format!("http://127.0.0.1:{mock_port}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            shots,
            server,
            _mock: mock,
            _driver: driver,
            _dir: dir,
        }
    }

    /// Poll `probe` until it gives a value; panic after [`STEP_DEADLINE`] with the server's log.
    async fn eventually<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.browser.source().await.unwrap_or_default();
                panic!(
                    "timed out waiting for {what}\n--- page ---\n{page}\n--- wxoa serve ---\n{}",
                    self.server.output()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element for `css`, once it is there.
    async fn find(&self, css: &str) -> Element {
        self.eventually(css, || async move {
            self.browser.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The first element for `css` whose text contains `needle`, once there is one.
    async fn find_text(&self, css: &str, needle: &str) -> Element {
        self.eventually(&format!("{css} containing {needle:?}"), || async move {
            for element in self.browser.find_all(Locator::Css(css)).await.ok()? {
                if element.text().await.ok()?.contains(needle) {
                    return Some(element);
                }
            }
            None
        })
        .await
    }

    /// Wait until the element for `css` is enabled or disabled, as `enabled` says.
    async fn wait_enabled(&self, css: &str, enabled: bool) -> Element {
        self.eventually(&format!("{css} enabled = {enabled}"), || async move {
            let element = self.browser.find(Locator::Css(css)).await.ok()?;
            (element.is_enabled().await.ok()? == enabled).then_some(element)
        })
        .await
    }

    /// Replace what the input or textarea for `css` holds by typing `text`.
    async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Accept the `confirm()` the last click opened.
    async fn confirm(&self) {
        self.eventually("a confirmation dialog", || async move {
            self.browser.accept_alert().await.ok()
        })
        .await;
    }

    async fn open(&self, hash: &str) {
        self.browser
            .goto(&format!("{}/{hash}", self.console))
            .await
            .expect("navigate");
    }

    /// A screenshot of the window as `name.png`.
    async fn shot(&self, name: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// A message or event from the follower through the mock platform; its delivery record.
    async fn push(&self, what: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/mock/push", self.mock))
            .json(&what)
            .send()
            .await
            .expect("POST /mock/push");
        assert!(response.status().is_success(), "{response:?}");
        response.json().await.expect("delivery JSON")
    }

    /// What the mock platform's control API shows at `path`.
    async fn mock_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.mock))
            .send()
            .await
            .expect("GET the mock");
        assert!(response.status().is_success(), "{response:?}");
        response.json().await.expect("JSON")
    }
}

/// The text a push was answered with (`None` when the follower saw no reply).
fn reply_text(delivery: &Value) -> Option<String> {
    delivery["outcome"]["reply"]["content"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn the_console_in_chromium() {
    for program in [CHROMEDRIVER, CHROMIUM] {
        if !Path::new(program).exists() {
            eprintln!(
                "skipped: {program} is not installed (.ci/run installs chromium and chromium-driver)"
            );
            return;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let console = Console::start(TempDir::new("console-browser")).await;
        owner_session(&console).await;
        let Console { browser, .. } = console;
        let _ = browser.close().await;
    });
}

async fn owner_session(c: &Console) {
    // Log in: a wrong password is refused on the form, the right one opens the dashboard.
    c.open("").await;
    c.find("#login-password").await;
    c.shot("01-login").await;
    c.type_into("#login-password", "not the password").await;
    c.click("#login-submit").await;
    c.find(".login .notice.error").await;
    c.type_into("#login-password", PASSWORD).await;
    c.click("#login-submit").await;
    c.find("#nav-dashboard.active").await;
    c.find("#dash-pushes svg").await;

    // The follower subscribes before the console watches; the welcome rule answers.
    let welcome = c
        .push(json!({"event": "subscribe", "from": FOLLOWER, "scene": "console"}))
        .await;
    assert_eq!(
        reply_text(&welcome).as_deref(),
        Some("欢迎关注！"),
        "{welcome}"
    );

    // The message log shows new pushes without a reload (a marker set on the page survives).
    c.open("#/messages").await;
    c.find("#msg-table").await;
    c.find_text("#msg-rows", "[subscribe]").await;
    c.browser
        .execute("window.consoleTestMarker = 'same page';", vec![])
        .await
        .expect("set marker");
    let texts = ["帮助", "第一条留言 <b>不是标签</b>", "最后一条"];
    for text in texts {
        let delivery = c.push(json!({"text": text, "from": FOLLOWER})).await;
        assert!(reply_text(&delivery).is_some(), "{delivery}");
    }
    for text in texts {
        c.find_text("#msg-rows", text).await;
    }
    let newest = c.find("#msg-rows tr:first-child .msg-content").await;
    assert_eq!(newest.text().await.expect("text"), "最后一条");
    let marker = c
        .browser
        .execute("return window.consoleTestMarker || null;", vec![])
        .await
        .expect("read marker");
    assert_eq!(marker, json!("same page"), "the page was reloaded");
    // Text from a follower is shown as text, never parsed as markup.
    let bold = c
        .browser
        .execute(
            "return document.querySelectorAll('#msg-rows b').length;",
            vec![],
        )
        .await
        .expect("count");
    assert_eq!(bold, json!(0));
    c.shot("03-messages").await;

    // Phone width: the same log as cards, the filters folded away.
    c.browser
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .expect("phone size");
    c.browser.refresh().await.expect("reload at phone width");
    c.find_text("#msg-rows", "最后一条").await;
    c.shot("04-messages-phone").await;
    c.browser
        .set_window_size(DESKTOP.0, DESKTOP.1)
        .await
        .expect("desktop size");

    // Click the follower: the whole conversation, subscribe included.
    c.click("#msg-rows tr:first-child a.follower-link").await;
    c.find_text("#fol-openid", FOLLOWER).await;
    for text in texts {
        c.find_text("#timeline", text).await;
    }
    c.find_text("#timeline", "欢迎关注！").await;
    c.find_text("#kf-window", "48").await;

    // Send a 客服 message from the conversation; the platform (the mock) has it.
    let kf_text = "您好，这是一条客服消息";
    c.type_into("#kf-text", kf_text).await;
    c.wait_enabled("#kf-send", true)
        .await
        .click()
        .await
        .expect("send");
    c.find("#kf-status .notice.ok").await;
    c.find_text("#timeline", kf_text).await;
    let outbox = c.mock_get(&format!("/mock/outbox?touser={FOLLOWER}")).await;
    let sent = outbox["messages"].as_array().expect("messages");
    assert!(
        sent.iter()
            .any(|m| m["kind"] == "custom" && m["text"] == kf_text),
        "{outbox}"
    );
    c.shot("05-follower").await;

    // The follower list and the dashboard with data in it.
    c.open("#/followers").await;
    c.find_text("#fol-table", FOLLOWER).await;
    // Refresh from the platform: the progress bar follows the job to its end.
    c.click("#fol-refresh").await;
    c.confirm().await;
    c.find_text("#fol-refresh-state", "同步完成").await;
    c.find_text("#fol-table", FOLLOWER).await;
    c.shot("06-followers").await;
    c.open("#/dashboard").await;
    c.find("#dash-pushes svg rect").await;
    c.shot("02-dashboard").await;

    // Rules: try it, a refused edit shows the error at the field, a good one answers the next push.
    c.open("#/rules").await;
    c.find("#rules .rule[data-name='fallback']").await;
    c.type_into("#try-text", "随便说点什么").await;
    c.click("#try form button[type='submit']").await;
    c.find_text("#try-result", "fallback").await;
    c.find_text("#try-result .try-reply", "收到：随便说点什么")
        .await;
    c.find("#try-kind")
        .await
        .select_by_value("event")
        .await
        .expect("try an event");
    c.find("#try-event")
        .await
        .select_by_value("CLICK")
        .await
        .expect("a menu click");
    c.type_into("#try-key", "MENU_NOWHERE").await;
    c.click("#try form button[type='submit']").await;
    c.find_text("#try-result .notice.warn", "没有规则匹配")
        .await;

    let fallback = "#rules .rule[data-name='fallback']";
    c.click(&format!("{fallback} .rule-edit-open")).await;
    c.type_into(
        &format!("{fallback} textarea"),
        "name = \"fallback\"\nmsg_type = \"text\"\nregex = \"(\"\nreply = { text = \"坏的\" }\n",
    )
    .await;
    c.click(&format!("{fallback} .rule-save")).await;
    let error = &c.find(&format!("{fallback} .rule-error")).await;
    let error_text = c
        .eventually("the refused edit's error", || async move {
            let text = error.text().await.ok()?;
            (!text.is_empty()).then_some(text)
        })
        .await;
    c.shot("07-rules-refused").await;
    let still = c
        .push(json!({"text": "还是旧的吗", "from": FOLLOWER}))
        .await;
    assert_eq!(
        reply_text(&still).as_deref(),
        Some("收到：还是旧的吗"),
        "a refused edit ({error_text}) changed the rule: {still}"
    );

    c.type_into(
        &format!("{fallback} textarea"),
        "name = \"fallback\"\nmsg_type = \"text\"\nreply = { text = \"新的回答：{{ content }}\" }\n",
    )
    .await;
    c.click(&format!("{fallback} .rule-save")).await;
    c.find_text(".toast.ok", "fallback").await;
    let answered = c
        .eventually("the edited rule to answer", || async move {
            let delivery = c.push(json!({"text": "你好", "from": FOLLOWER})).await;
            (reply_text(&delivery).as_deref() == Some("新的回答：你好")).then_some(delivery)
        })
        .await;
    assert_eq!(answered["outcome"]["sees"], "reply", "{answered}");

    // Insert a rule before the fallback, move it below, delete it.
    c.click("#rule-new-box > summary").await;
    c.type_into(
        "#rule-new",
        "name = \"morning\"\nkeyword = \"早上好\"\nreply = { text = \"早！\" }\n",
    )
    .await;
    c.find("#rule-new-at")
        .await
        .select_by_value("2")
        .await
        .expect("choose the position");
    c.click("#rule-new-add").await;
    let morning = "#rules .rule[data-name='morning']";
    c.find(&format!("{morning}[data-index='2']")).await;
    let early = c.push(json!({"text": "早上好", "from": FOLLOWER})).await;
    assert_eq!(reply_text(&early).as_deref(), Some("早！"), "{early}");
    c.shot("08-rules").await;
    c.click(&format!("{morning} .rule-down")).await;
    c.find(&format!("{morning}[data-index='3']")).await;
    c.find("#rules .rule[data-name='fallback'][data-index='2']")
        .await;
    let late = c.push(json!({"text": "早上好", "from": FOLLOWER})).await;
    assert_eq!(
        reply_text(&late).as_deref(),
        Some("新的回答：早上好"),
        "{late}"
    );
    c.click(&format!("{morning} .rule-delete")).await;
    c.confirm().await;
    c.eventually("the deleted rule to go", || async move {
        let left = c.browser.find_all(Locator::Css(morning)).await.ok()?;
        left.is_empty().then_some(())
    })
    .await;

    // Menu: limits checked as you type, then pushed to the platform.
    c.open("#/menu").await;
    c.find("#menu-editor").await;
    c.click("#menu-add").await;
    c.type_into(".menu-name[data-path='button[0]']", "一二三四五六")
        .await;
    c.find_text("[data-issue-for='button[0]/name']", "18").await;
    c.wait_enabled("#menu-push", false).await;
    c.type_into(".menu-name[data-path='button[0]']", "帮助")
        .await;
    c.type_into(".menu-key[data-path='button[0]']", "MENU_HELP")
        .await;
    c.click("#menu-add").await;
    c.find(".menu-type[data-path='button[1]']")
        .await
        .select_by_value("")
        .await
        .expect("choose sub-buttons");
    c.type_into(".menu-name[data-path='button[1]']", "更多")
        .await;
    c.type_into(
        ".menu-name[data-path='button[1].sub_button[0]']",
        "联系我们",
    )
    .await;
    c.type_into(
        ".menu-key[data-path='button[1].sub_button[0]']",
        "MENU_CONTACT",
    )
    .await;
    c.find("#menu-issues .notice.ok").await;
    // The same menu as JSON, and back to the form.
    c.click("#menu-tab-json").await;
    c.eventually("the menu as JSON", || async move {
        let area = c.browser.find(Locator::Css("#menu-json")).await.ok()?;
        let json = area.prop("value").await.ok()??;
        json.contains("MENU_CONTACT").then_some(())
    })
    .await;
    c.click("#menu-tab-form").await;
    c.find(".menu-key[data-path='button[1].sub_button[0]']")
        .await;
    c.find_text("#menu-phone", "更多").await;
    c.click("#menu-phone .phone-btn.parent").await;
    c.find_text("#menu-phone .phone-sub", "联系我们").await;
    c.wait_enabled("#menu-push", true)
        .await
        .click()
        .await
        .expect("push");
    c.confirm().await;
    c.find("#menu-status .notice.ok").await;
    c.shot("09-menu").await;
    let menu = c.mock_get("/mock/menu").await;
    let buttons = menu["menu"]["button"].as_array().expect("buttons");
    assert_eq!(buttons.len(), 2, "{menu}");
    assert_eq!(buttons[0]["name"], "帮助", "{menu}");
    assert_eq!(buttons[0]["key"], "MENU_HELP", "{menu}");
    assert_eq!(buttons[1]["sub_button"][0]["name"], "联系我们", "{menu}");

    // Every change is in the audit trail; English is one click away and remembered.
    c.open("#/audit").await;
    c.find_text("#audit-table", "rule").await;
    c.find_text("#audit-table", "menu").await;
    c.shot("10-audit").await;
    c.click("#lang-toggle").await;
    c.find_text("#nav-dashboard", "Dashboard").await;
    c.open("#/dashboard").await;
    c.find_text("#nav-messages", "Messages").await;
    c.find("#dash-pushes svg rect").await;
    c.shot("11-dashboard-en").await;
}
