//! Deployment: the shipped Apache configs (CGI and reverse proxy) and the nginx config, run by
//! the real web servers on high ports (adapted only in ports, paths and module loading), driven
//! with URL verification, a 明文 push and a 安全 push over HTTP and HTTPS.

mod support;

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{TempDir, find_program, free_port};
use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::signature::{sign, verify};

const TOKEN: &str = "wxoaDeployToken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const APPID: &str = "wx49f0ab532d5d035a";
const ACCOUNT: &str = "gh_wxoadeploy";
const HOST: &str = "wx.example.com";

/// How long a web server or `wxoa serve` may take to answer on its port.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long one request may take (the configs' proxy timeouts are 30 s; a push answers at once).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Files, ports, programs

/// A temporary directory readable by the unprivileged user the web server's workers run as.
fn web_dir(label: &str) -> TempDir {
    let tmp = TempDir::new(&format!("deploy-{label}"));
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    tmp
}

/// A subdirectory of `dir` with `mode`.
fn subdir(dir: &Path, name: &str, mode: u32) -> PathBuf {
    let dir = dir.join(name);
    fs::create_dir_all(&dir).expect("create subdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).expect("chmod subdir");
    dir
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// The group of the user `nobody` (Debian: nogroup).
fn nobody_group() -> &'static str {
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    if groups.lines().any(|l| l.starts_with("nogroup:")) {
        "nogroup"
    } else {
        "nobody"
    }
}

/// Replace every `from` with `to`, insisting that the shipped file contains `from` (so a change
/// to the shipped file cannot silently escape the test).
fn adapt(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the shipped config no longer contains {from:?}; update the test's adaptation"
    );
    text.replace(from, to)
}

/// Insist that nothing host-specific is left in the directives (not the comments) of an
/// adapted config.
fn assert_fully_adapted(text: &str, leftovers: &[&str]) {
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for leftover in leftovers {
            assert!(
                !line.contains(leftover),
                "adapted config still contains {leftover:?}: {line}"
            );
        }
    }
}

fn shipped(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A self-signed certificate for wx.example.com as `dir/fullchain.pem` + `dir/privkey.pem`.
fn self_signed_cert(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={HOST}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{HOST}"))
        .arg("-keyout")
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(dir.join("fullchain.pem"))
        .stdin(Stdio::null())
        .output()
        .expect("run openssl req");
    assert!(out.status.success(), "openssl req failed: {out:?}");
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A started process (and its process group), stopped when dropped, also on panic.
struct Proc {
    name: &'static str,
    child: Child,
    /// Log files shown when something fails.
    logs: Vec<PathBuf>,
}

impl Proc {
    fn spawn(name: &'static str, command: &mut Command, logs: Vec<PathBuf>) -> Self {
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child, logs }
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for log in &self.logs {
            let content = fs::read_to_string(log).unwrap_or_default();
            let _ = write!(text, "\n--- {} ---\n{content}", log.display());
        }
        text
    }

    /// Poll `port` until it accepts a connection: a bounded number of attempts with a short,
    /// growing pause, failing at once (with the logs) if the process exits.
    fn wait_for_port(&mut self, port: u16) {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        for _attempt in 0..400 {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!(
                    "{} exited with {status} before listening{}",
                    self.name,
                    self.logs()
                );
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "{} did not listen on {port} within {START_DEADLINE:?}{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        panic!("{} never listened on {port}{}", self.name, self.logs());
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // TERM lets Apache and nginx stop their workers (and mod_cgid's daemon); whatever of
        // the group is still there after the bounded wait is killed.
        self.signal_group("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group("KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP(S) by hand

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request as bytes (HTTP/1.1, Connection: close).
fn request_bytes(method: &str, target: &str, body: &str) -> Vec<u8> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: Mozilla/4.0\r\nAccept: */*\r\nConnection: close\r\n"
    );
    if method == "POST" {
        let _ = write!(
            head,
            "Content-Type: text/xml\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn first_line(request: &[u8]) -> String {
    String::from_utf8_lossy(request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// How requests reach the server under test.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    /// Plain HTTP over a socket.
    Http(u16),
    /// HTTPS through `openssl s_client`, verifying the served certificate against `ca`.
    Https(u16),
}

struct Client<'a> {
    scheme: Scheme,
    /// The self-signed certificate (for HTTPS).
    ca: &'a Path,
}

impl Client<'_> {
    fn send(&self, request: &[u8]) -> Response {
        let raw = match self.scheme {
            Scheme::Http(port) => {
                let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
                stream
                    .set_read_timeout(Some(REQUEST_TIMEOUT))
                    .expect("read timeout");
                // Written from another thread: a server may answer (413) before it has read a
                // large body, and then stops reading it.
                let mut writer = stream.try_clone().expect("clone stream");
                let bytes = request.to_vec();
                let sender = std::thread::spawn(move || {
                    let _ = writer.write_all(&bytes);
                });
                let mut raw = Vec::new();
                if let Err(e) = stream.read_to_end(&mut raw) {
                    // A reset after the answer (the server closing on an unread body) is fine.
                    assert!(
                        !raw.is_empty(),
                        "no response within {REQUEST_TIMEOUT:?} to {}: {e}",
                        first_line(request)
                    );
                }
                let _ = sender.join();
                raw
            }
            Scheme::Https(port) => {
                let mut child = Command::new("openssl")
                    .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
                    .arg(format!("127.0.0.1:{port}"))
                    .args(["-servername", HOST, "-verify_hostname", HOST, "-CAfile"])
                    .arg(self.ca)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run openssl s_client");
                let mut stdin = child.stdin.take().expect("stdin");
                let bytes = request.to_vec();
                let sender = std::thread::spawn(move || {
                    let _ = stdin.write_all(&bytes);
                });
                let out = child.wait_with_output().expect("openssl s_client output");
                let _ = sender.join();
                assert!(
                    !out.stdout.is_empty(),
                    "no HTTPS response to {}: {}",
                    first_line(request),
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        };
        parse_response(&raw)
    }
}

// ---------------------------------------------------------------------------------------------
// The account, the pushes, the checks

fn config_text() -> String {
    format!(
        r#"[server]
path = "/wechat"
timestamp_skew_secs = 300
admin_listen = "127.0.0.1:0"

[account]
appid = "{APPID}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"

[store]
url = "sqlite://data/wxoa.db"

[[rules]]
name = "product"
regex = '^产品\s*(?P<name>\S+)$'
reply = {{ text = "产品：{{{{ captures.name }}}}" }}

[[rules]]
name = "echo"
msg_type = "text"
reply = {{ text = "you said: {{{{ content }}}}" }}
"#
    )
}

/// The account's config in `dir/wxoa.toml`, with `dir/data` writable by the web server's user.
fn write_config(tmp: &TempDir) -> PathBuf {
    let path = tmp.path().join("wxoa.toml");
    fs::write(&path, config_text()).expect("write wxoa.toml");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod config");
    subdir(tmp.path(), "data", 0o777);
    path
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
    )
    .expect("seconds fit i64")
}

fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos(),
    );
    nanos * 1000 + NEXT.fetch_add(1, Ordering::Relaxed)
}

fn plain_query(timestamp: i64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let signature = sign(&[TOKEN, &ts, nonce]);
    format!("signature={signature}&timestamp={ts}&nonce={nonce}&openid=oDeployUser")
}

fn text_xml(content: &str, msg_id: u64, created: i64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[oDeployUser]]></FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

fn field(xml: &str, name: &str) -> Option<String> {
    let root = wxoa_proto::xml::parse_document(xml.as_bytes(), Default::default()).ok()?;
    root.child(name).map(|e| e.text.clone())
}

fn crypt() -> MsgCrypt {
    MsgCrypt::new(AES_KEY, APPID).expect("test key")
}

/// Who refuses a body over 1 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLimit {
    /// The web server itself (Apache's LimitRequestBody before the CGI, nginx's
    /// client_max_body_size): always a clean 413.
    WebServer,
    /// wxoa behind the proxy (Apache's LimitRequestBody does not apply to reverse-proxied
    /// requests). wxoa answers 413 as soon as it sees the Content-Length and closes; Apache
    /// relays that 413, or answers 502 when it was still sending the body. Never a 200.
    Backend,
}

/// Drive one endpoint as the platform would: URL verification, a bad signature, a 明文 push, a
/// 安全 push (checking the encrypted reply) and an oversized body.
fn drive(client: &Client<'_>, label: &str, limit: BodyLimit) {
    let ts = now();
    let nonce = format!("{}", unique() % 1_000_000_000);

    // URL verification (提交 in 服务器配置): the echostr comes back verbatim.
    let echostr = format!("echo{}", unique());
    let res = client.send(&request_bytes(
        "GET",
        &format!("/wechat?{}&echostr={echostr}", plain_query(ts, &nonce)),
        "",
    ));
    assert_eq!(res.status, 200, "{label}: verification: {res:?}");
    assert_eq!(res.body, echostr, "{label}: verification echoes echostr");

    // A wrong signature reaches wxoa and is refused by it (not by the web server).
    let res = client.send(&request_bytes(
        "GET",
        &format!(
            "/wechat?signature={}&timestamp={ts}&nonce={nonce}&echostr=x",
            "0".repeat(40)
        ),
        "",
    ));
    assert_eq!(res.status, 403, "{label}: bad signature: {res:?}");

    // A 明文 text push: a plaintext reply.
    let xml = text_xml("你好", unique(), ts);
    let res = client.send(&request_bytes(
        "POST",
        &format!("/wechat?{}", plain_query(ts, &nonce)),
        &xml,
    ));
    assert_eq!(res.status, 200, "{label}: 明文 push: {res:?}");
    assert!(
        res.header("content-type")
            .is_some_and(|v| v.contains("xml")),
        "{label}: reply is XML: {res:?}"
    );
    assert_eq!(
        field(&res.body, "MsgType").as_deref(),
        Some("text"),
        "{res:?}"
    );
    assert_eq!(
        field(&res.body, "Content").as_deref(),
        Some("you said: 你好"),
        "{label}: 明文 reply: {res:?}"
    );
    assert_eq!(
        field(&res.body, "ToUserName").as_deref(),
        Some("oDeployUser")
    );
    assert_eq!(field(&res.body, "FromUserName").as_deref(), Some(ACCOUNT));

    // A 安全 push: the reply is encrypted, signed, and decrypts to the rule's text.
    let inner = text_xml("产品 abc", unique(), ts);
    let encrypt = crypt().encrypt(inner.as_bytes());
    let ts_text = ts.to_string();
    let msg_signature = sign(&[TOKEN, &ts_text, &nonce, &encrypt]);
    let body = format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let res = client.send(&request_bytes(
        "POST",
        &format!(
            "/wechat?{}&encrypt_type=aes&msg_signature={msg_signature}",
            plain_query(ts, &nonce)
        ),
        &body,
    ));
    assert_eq!(res.status, 200, "{label}: 安全 push: {res:?}");
    assert!(
        !res.body.contains("产品"),
        "{label}: the reply must not be plaintext: {res:?}"
    );
    let reply_encrypt = field(&res.body, "Encrypt").expect("Encrypt in the reply");
    let reply_sig = field(&res.body, "MsgSignature").expect("MsgSignature in the reply");
    let reply_ts = field(&res.body, "TimeStamp").expect("TimeStamp in the reply");
    let reply_nonce = field(&res.body, "Nonce").expect("Nonce in the reply");
    assert!(
        verify(
            &[TOKEN, &reply_ts, &reply_nonce, &reply_encrypt],
            &reply_sig
        ),
        "{label}: the reply's MsgSignature verifies"
    );
    let reply = String::from_utf8(crypt().decrypt(&reply_encrypt).expect("reply decrypts"))
        .expect("UTF-8 reply");
    assert_eq!(
        field(&reply, "Content").as_deref(),
        Some("产品：abc"),
        "{label}: decrypted reply: {reply}"
    );
    assert_eq!(field(&reply, "ToUserName").as_deref(), Some("oDeployUser"));

    // A body over the configured limit (1 MiB) is refused.
    let res = client.send(&request_bytes(
        "POST",
        &format!("/wechat?{}", plain_query(ts, &nonce)),
        &"x".repeat(2 * 1024 * 1024),
    ));
    match limit {
        BodyLimit::WebServer => assert_eq!(res.status, 413, "{label}: oversized body: {res:?}"),
        BodyLimit::Backend => assert!(
            matches!(res.status, 413 | 502),
            "{label}: oversized body: {res:?}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Apache

/// Debian's apache2 binary, or a skip message.
fn apache() -> Option<PathBuf> {
    let found = find_program("apache2");
    if found.is_none() {
        println!("skipped: apache2 not installed (.ci/run installs it)");
    }
    found
}

fn openssl_present() -> bool {
    let found = find_program("openssl").is_some();
    if !found {
        println!("skipped: openssl not installed (.ci/run installs it)");
    }
    found
}

/// The module directory of Debian's apache2 (what a2enmod's LoadModule lines point into).
fn apache_module_dir() -> PathBuf {
    [
        "/usr/lib/apache2/modules",
        "/usr/lib64/httpd/modules",
        "/usr/libexec/apache2",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|d| d.join("mod_alias.so").exists())
    .expect("the apache2 module directory")
}

/// Ports, directories and the rewritten vhost file of one Apache run.
struct ApacheSite {
    tmp: TempDir,
    http: u16,
    https: u16,
    /// The self-signed certificate standing in for Let's Encrypt's.
    tls: PathBuf,
    /// Logs (ErrorLog/CustomLog of the vhosts via APACHE_LOG_DIR, and the server's own).
    logs: PathBuf,
    run: PathBuf,
}

impl ApacheSite {
    fn new(label: &str) -> Self {
        let tmp = web_dir(label);
        let tls = subdir(tmp.path(), "tls", 0o755);
        self_signed_cert(&tls);
        let logs = subdir(tmp.path(), "logs", 0o755);
        let run = subdir(tmp.path(), "run", 0o755);
        subdir(tmp.path(), "htdocs", 0o755);
        Self {
            http: free_port(),
            https: free_port(),
            tls,
            logs,
            run,
            tmp,
        }
    }

    /// The shipped vhost file with its ports and the certificate's path adapted.
    fn adapt_common(&self, shipped: &str) -> String {
        let text = adapt(
            shipped,
            "<VirtualHost *:80>",
            &format!("<VirtualHost 127.0.0.1:{}>", self.http),
        );
        let text = adapt(
            &text,
            "<VirtualHost *:443>",
            &format!("<VirtualHost 127.0.0.1:{}>", self.https),
        );
        adapt(
            &text,
            "/etc/letsencrypt/live/wx.example.com/",
            &format!("{}/", self.tls.display()),
        )
    }

    /// The top-level config Debian's apache2.conf + a2enmod would give, including `site`.
    fn write_httpd_conf(&self, site: &str) -> PathBuf {
        let site_path = self.tmp.path().join("site.conf");
        fs::write(&site_path, site).expect("write site.conf");
        let modules = apache_module_dir();
        let mut conf = String::new();
        let root = self.tmp.path().display();
        let run = self.run.display();
        let logs = self.logs.display();
        let _ = writeln!(conf, "ServerRoot \"{root}\"\nServerName localhost");
        let _ = writeln!(conf, "PidFile \"{run}/apache2.pid\"");
        let _ = writeln!(
            conf,
            "DefaultRuntimeDir \"{run}\"\nMutex file:{run} default"
        );
        let _ = writeln!(conf, "ErrorLog \"{logs}/error.log\"\nLogLevel info");
        let mpm = if modules.join("mod_mpm_event.so").exists() {
            "mpm_event"
        } else {
            "mpm_prefork"
        };
        let cgi = if mpm == "mpm_event" { "cgid" } else { "cgi" };
        for module in [
            mpm,
            "unixd",
            "log_config",
            "authz_core",
            "authz_host",
            "alias",
            "env",
            "mime",
            cgi,
            "proxy",
            "proxy_http",
            "headers",
            "socache_shmcb",
            "ssl",
        ] {
            // Modules compiled into the binary (Debian: unixd, log_config) are not loaded again.
            let _ = writeln!(
                conf,
                "<IfModule !{module}_module>\n  LoadModule {module}_module \"{}/mod_{module}.so\"\n</IfModule>",
                modules.display()
            );
        }
        if running_as_root() {
            // Apache refuses to serve as root; the workers (and the CGI) run as nobody.
            let _ = writeln!(conf, "User nobody\nGroup {}", nobody_group());
        }
        let _ = writeln!(
            conf,
            "Listen 127.0.0.1:{}\nListen 127.0.0.1:{}",
            self.http, self.https
        );
        let _ = writeln!(
            conf,
            "<IfModule cgid_module>\n  ScriptSock \"{run}/cgisock\"\n</IfModule>"
        );
        if Path::new("/etc/mime.types").exists() {
            let _ = writeln!(conf, "TypesConfig /etc/mime.types");
        }
        // As in Debian's apache2.conf.
        let _ = writeln!(
            conf,
            "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %O \\\"%{{Referer}}i\\\" \\\"%{{User-Agent}}i\\\"\" combined"
        );
        let _ = writeln!(
            conf,
            "<Directory />\n  Options FollowSymLinks\n  AllowOverride None\n  Require all denied\n</Directory>"
        );
        let _ = writeln!(conf, "Include \"{}\"", site_path.display());
        let path = self.tmp.path().join("httpd.conf");
        fs::write(&path, conf).expect("write httpd.conf");
        path
    }

    fn start(&self, apache: &Path, conf: &Path) -> Proc {
        let check = Command::new(apache)
            .arg("-t")
            .arg("-f")
            .arg(conf)
            .envs(self.env())
            .output()
            .expect("run apache2 -t");
        assert!(
            check.status.success(),
            "apache2 -t refuses the adapted config: {}\n{}",
            String::from_utf8_lossy(&check.stderr),
            fs::read_to_string(self.tmp.path().join("site.conf")).unwrap_or_default()
        );
        let mut command = Command::new(apache);
        command
            .arg("-f")
            .arg(conf)
            .arg("-DFOREGROUND")
            .envs(self.env());
        let mut proc = Proc::spawn(
            "apache2",
            &mut command,
            vec![
                self.logs.join("error.log"),
                self.logs.join("wxoa-error.log"),
            ],
        );
        proc.wait_for_port(self.http);
        proc.wait_for_port(self.https);
        proc
    }

    /// The variables Debian's apache2ctl sets (the shipped vhosts log to ${APACHE_LOG_DIR}).
    fn env(&self) -> Vec<(&'static str, String)> {
        let run = self.run.display().to_string();
        vec![
            ("APACHE_LOG_DIR", self.logs.display().to_string()),
            ("APACHE_RUN_DIR", run.clone()),
            ("APACHE_LOCK_DIR", run.clone()),
            ("APACHE_PID_FILE", format!("{run}/apache2.pid")),
            ("APACHE_RUN_USER", "nobody".to_owned()),
            ("APACHE_RUN_GROUP", nobody_group().to_owned()),
        ]
    }
}

/// `wxoa serve` on `port` with the test config.
fn start_wxoa_serve(config: &Path, port: u16, log: &Path) -> Proc {
    let log_file = fs::File::create(log).expect("create serve log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log_file.try_clone().expect("clone log handle"));
    let mut proc = Proc::spawn("wxoa serve", &mut command, vec![log.to_owned()]);
    proc.wait_for_port(port);
    proc
}

#[test]
fn apache_cgi_config_serves_verification_plain_and_safe_pushes() {
    let Some(apache) = apache() else { return };
    if !openssl_present() {
        return;
    }
    let site = ApacheSite::new("apache-cgi");
    let config = write_config(&site.tmp);
    let binary = Path::new(env!("CARGO_BIN_EXE_wxoa"));
    let bin_dir = binary.parent().expect("binary directory");

    let text = site.adapt_common(&shipped("apache/wxoa-cgi.conf"));
    let text = adapt(
        &text,
        "ScriptAlias /wechat /srv/wxoa/cgi-bin/wxoa",
        &format!("ScriptAlias /wechat {}", binary.display()),
    );
    let text = adapt(
        &text,
        "<Directory /srv/wxoa/cgi-bin>",
        &format!("<Directory {}>", bin_dir.display()),
    );
    let text = adapt(
        &text,
        "SetEnv WXOA_CONFIG /srv/wxoa/wxoa.toml",
        &format!("SetEnv WXOA_CONFIG {}", config.display()),
    );
    let text = adapt(
        &text,
        "/srv/wxoa/",
        &format!("{}/", site.tmp.path().display()),
    );
    assert_fully_adapted(&text, &["*:80", "*:443", "/srv/", "/etc/letsencrypt"]);

    let conf = site.write_httpd_conf(&text);
    let _apache = site.start(&apache, &conf);
    drive(
        &Client {
            scheme: Scheme::Http(site.http),
            ca: &site.tls.join("fullchain.pem"),
        },
        "apache cgi :80",
        BodyLimit::WebServer,
    );
    drive(
        &Client {
            scheme: Scheme::Https(site.https),
            ca: &site.tls.join("fullchain.pem"),
        },
        "apache cgi :443",
        BodyLimit::WebServer,
    );
}

#[test]
fn apache_proxy_config_serves_verification_plain_and_safe_pushes() {
    let Some(apache) = apache() else { return };
    if !openssl_present() {
        return;
    }
    let site = ApacheSite::new("apache-proxy");
    let config = write_config(&site.tmp);
    let backend = free_port();
    let _wxoa = start_wxoa_serve(&config, backend, &site.logs.join("wxoa-serve.log"));

    let text = site.adapt_common(&shipped("apache/wxoa-proxy.conf"));
    let text = adapt(
        &text,
        "http://127.0.0.1:8080/",
        &format!("http://127.0.0.1:{backend}/"),
    );
    let text = adapt(
        &text,
        "/var/www/letsencrypt",
        &site.tmp.path().join("htdocs").display().to_string(),
    );
    assert_fully_adapted(
        &text,
        &["*:80", "*:443", ":8080", "/var/www", "/etc/letsencrypt"],
    );

    let conf = site.write_httpd_conf(&text);
    let _apache = site.start(&apache, &conf);
    drive(
        &Client {
            scheme: Scheme::Http(site.http),
            ca: &site.tls.join("fullchain.pem"),
        },
        "apache proxy :80",
        BodyLimit::Backend,
    );
    drive(
        &Client {
            scheme: Scheme::Https(site.https),
            ca: &site.tls.join("fullchain.pem"),
        },
        "apache proxy :443",
        BodyLimit::Backend,
    );
}

// ---------------------------------------------------------------------------------------------
// nginx

#[test]
fn nginx_config_serves_verification_plain_and_safe_pushes() {
    let Some(nginx) = find_program("nginx") else {
        println!("skipped: nginx not installed (.ci/run installs it)");
        return;
    };
    if !openssl_present() {
        return;
    }
    let tmp = web_dir("nginx");
    let tls = subdir(tmp.path(), "tls", 0o755);
    self_signed_cert(&tls);
    let logs = subdir(tmp.path(), "logs", 0o755);
    let run = subdir(tmp.path(), "run", 0o755);
    let config = write_config(&tmp);
    let backend = free_port();
    let _wxoa = start_wxoa_serve(&config, backend, &logs.join("wxoa-serve.log"));
    let (http, https) = (free_port(), free_port());

    let text = shipped("nginx/wxoa.conf");
    let text = adapt(&text, "listen 80;", &format!("listen 127.0.0.1:{http};"));
    let text = adapt(
        &text,
        "listen 443 ssl",
        &format!("listen 127.0.0.1:{https} ssl"),
    );
    let text = adapt(
        &text,
        "server 127.0.0.1:8080;",
        &format!("server 127.0.0.1:{backend};"),
    );
    let text = adapt(
        &text,
        "/etc/letsencrypt/live/wx.example.com/",
        &format!("{}/", tls.display()),
    );
    let text = adapt(&text, "/var/log/nginx/", &format!("{}/", logs.display()));
    assert_fully_adapted(
        &text,
        &[
            "listen 80",
            "listen 443",
            ":8080",
            "/etc/letsencrypt",
            "/var/log",
        ],
    );
    let site_path = tmp.path().join("site.conf");
    fs::write(&site_path, text).expect("write site.conf");

    // The top level Debian's nginx.conf would give (the shipped file goes inside http {}).
    let run_s = run.display();
    let mut conf = String::new();
    if running_as_root() {
        let _ = writeln!(conf, "user nobody {};", nobody_group());
    }
    let _ = writeln!(
        conf,
        "worker_processes 1;\npid {run_s}/nginx.pid;\nerror_log {}/error.log info;\nevents {{ worker_connections 64; }}",
        logs.display()
    );
    let _ = writeln!(
        conf,
        "http {{\n  client_body_temp_path {run_s}/body;\n  proxy_temp_path {run_s}/proxy;\n  fastcgi_temp_path {run_s}/fastcgi;\n  uwsgi_temp_path {run_s}/uwsgi;\n  scgi_temp_path {run_s}/scgi;\n  access_log {}/access.log;\n  include {};\n}}",
        logs.display(),
        site_path.display()
    );
    let conf_path = tmp.path().join("nginx.conf");
    fs::write(&conf_path, conf).expect("write nginx.conf");

    let nginx_args = |extra: &[&str]| {
        let mut command = Command::new(&nginx);
        command
            .arg("-p")
            .arg(tmp.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(logs.join("startup.log"))
            .args(extra);
        command
    };
    let check = nginx_args(&["-t"]).output().expect("run nginx -t");
    assert!(
        check.status.success(),
        "nginx -t refuses the adapted config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut proc = Proc::spawn(
        "nginx",
        &mut nginx_args(&["-g", "daemon off;"]),
        vec![logs.join("startup.log"), logs.join("error.log")],
    );
    proc.wait_for_port(http);
    proc.wait_for_port(https);

    let ca = tls.join("fullchain.pem");
    drive(
        &Client {
            scheme: Scheme::Http(http),
            ca: &ca,
        },
        "nginx :80",
        BodyLimit::WebServer,
    );
    drive(
        &Client {
            scheme: Scheme::Https(https),
            ca: &ca,
        },
        "nginx :443",
        BodyLimit::WebServer,
    );
    drop(proc);
}

// ---------------------------------------------------------------------------------------------
// The other shipped files: checked as text (systemd and Docker do not run here)

#[test]
fn systemd_unit_is_hardened_and_reloads_on_sighup() {
    let unit = shipped("systemd/wxoa.service");
    let settings: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for wanted in [
        "DynamicUser=yes",
        "StateDirectory=wxoa",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Environment=WXOA_STORE__URL=sqlite:///var/lib/wxoa/wxoa.db",
    ] {
        assert!(settings.contains(&wanted), "wxoa.service lacks {wanted:?}");
    }
    assert!(
        settings
            .iter()
            .any(|l| l.starts_with("RestrictAddressFamilies=") && l.contains("AF_INET")),
        "wxoa.service restricts address families"
    );
    assert!(
        !settings
            .iter()
            .any(|l| l.starts_with("AmbientCapabilities=")),
        "binding :80 directly is opt-in (commented)"
    );
    assert!(
        settings
            .iter()
            .any(|l| l.starts_with("ExecStart=") && l.contains(" serve ")),
        "wxoa.service runs wxoa serve"
    );
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    let dockerfile = shipped("Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "a build stage and a final stage");
    assert!(froms[0].contains("rust:1-bookworm"), "{froms:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cargo build --release --locked -p wxoa")),
        "the build uses the lock file"
    );
    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.ends_with(" 0"), "{user}");
    assert!(lines.contains(&"EXPOSE 8080"));
    assert!(dockerfile.contains("WXOA_CONFIG=/etc/wxoa/wxoa.toml"));
    assert!(dockerfile.contains("sqlite:///var/lib/wxoa/wxoa.db"));
    // Every file the build copies from the context passes the context filter.
    let ignore = shipped("Dockerfile.dockerignore");
    for copied in ["Cargo.toml", "Cargo.lock", "wxoa.toml", "crates"] {
        assert!(
            ignore.lines().any(|l| l.trim() == format!("!{copied}")),
            "Dockerfile.dockerignore lets {copied} through"
        );
    }
}
