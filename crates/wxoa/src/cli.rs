//! The command line: global options and one subcommand per task.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A WeChat Official Account (公众号) server: point 服务器配置 at it and reply with rules.
#[derive(Debug, Parser)]
#[command(name = "wxoa", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Log format: human-readable text or one JSON object a line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WXOA_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
    /// More log output (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable.
    Text,
    /// JSON, one object a line.
    Json,
}

/// The config file option every command takes, and which of its accounts to act for.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArg {
    /// The config file.
    #[arg(long, short = 'c', env = "WXOA_CONFIG", default_value = "wxoa.toml")]
    pub(crate) config: PathBuf,
    /// The account to act for, by its name in [[accounts]] (default: its AppID). Needed by the
    /// API commands, `rules` and `sim` when the config has several accounts; `serve`, `mock`
    /// and `check` take every account unless it is given.
    #[arg(long, value_name = "NAME")]
    pub(crate) account: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the callback server.
    Serve(ServeArgs),
    /// Work with the rules without a server.
    Rules(RulesArgs),
    /// Serve one request as a CGI program (what `wxoa` does by itself when run by a web
    /// server with GATEWAY_INTERFACE set).
    Cgi(CgiArgs),
    /// Check the config, the store, the API and the callback URL; print each problem with
    /// its fix (exit code 1 when any check fails).
    Check(CheckArgs),
    /// The owner's console: set its password.
    Admin(AdminArgs),

    // --- Outbound API commands (commands/api.rs builds the client; one module each) ---
    /// Print the current access_token (fetched only if none is valid in the shared store).
    Token(TokenArgs),
    /// Push, show or delete the custom menu (自定义菜单).
    Menu(MenuArgs),
    /// Send a 客服消息 (customer-service message) to a follower.
    Send(SendArgs),
    /// Send template messages (模板消息) and list the account's templates.
    Template(TemplateArgs),
    /// Work with followers: export them to CSV.
    Users(UsersArgs),
    /// Create parametric QR codes (带参数二维码).
    Qrcode(QrcodeArgs),
    /// Sign a page URL for the JS-SDK's `wx.config`.
    Jssdk(JssdkArgs),
    /// Drafts (草稿箱): add an article from a TOML file (Markdown or HTML body), list, show, delete.
    Draft(DraftArgs),
    /// Publish a draft (发布), `--wait` for the outcome; list, show and delete published posts.
    Publish(PublishArgs),
    /// Mass messages (群发) to everyone, a tag or a list; preview, status, delete, speed.
    Mass(MassArgs),
    /// Permanent materials (永久素材): upload, list, count, download, delete, export.
    Material(MaterialArgs),
    /// Subscribe messages (订阅通知): the account's templates, send.
    Subscribe(SubscribeArgs),
    /// 客服 accounts: list, online, add, update, delete, invite a WeChat user.
    Kf(KfArgs),
    /// The blacklist (黑名单): list, add, remove followers.
    Blacklist(BlacklistArgs),
    /// Short keys: make one for a text, read one back.
    Shorten(ShortenArgs),
    /// Statistics (数据统计) as CSV: followers, articles, messages, by day.
    Datacube(DatacubeArgs),
    /// Set a follower's remark (备注名).
    Remark(RemarkArgs),
    // --- end of outbound API commands ---

    // --- The platform on this machine: `mock` and `sim` ---
    /// Run a fake WeChat platform for the accounts in the config: its API (point api.base_url
    /// at it) and, through `POST /mock/push`, pushes to your server (as the first account, or
    /// the one --account names).
    Mock(MockArgs),
    /// Chat with your bot as a follower: pushes signed and encrypted like the platform's, with
    /// its 5-second timeout and retries; shows what the follower would see.
    Sim(SimArgs),
    // --- end of mock and sim ---
}

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    #[command(subcommand)]
    pub(crate) command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Set the console password: asks twice (or reads one line with --stdin) and writes its
    /// argon2 hash as admin.password_hash into the config file, keeping the rest of it.
    Passwd(AdminPasswdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AdminPasswdArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Read the password from the first line of stdin instead of asking on the terminal.
    #[arg(long)]
    pub(crate) stdin: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print a JSON array of {name, status, detail, fix_zh, fix_en} (and account, with
    /// [[accounts]]) instead of the list.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CgiArgs {
    /// The config file (default: $WXOA_CONFIG, else wxoa.toml beside the binary).
    #[arg(long, short = 'c', env = "WXOA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Listen here instead of `server.listen`.
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    pub(crate) command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Show which rule answers a message and the reply it renders.
    Test(RulesTestArgs),
    /// List the rules in order.
    List(RulesListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RulesTestArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The text a follower sends.
    #[arg(required_unless_present_any = ["event", "msg_type"], conflicts_with_all = ["event", "msg_type"])]
    pub(crate) text: Option<String>,
    /// An event instead of text, e.g. subscribe, CLICK, SCAN.
    #[arg(long)]
    pub(crate) event: Option<String>,
    /// The EventKey of the event (menu key, scene, URL).
    #[arg(long, requires = "event")]
    pub(crate) key: Option<String>,
    /// A message of another type instead of text: image, voice, video, location, link.
    #[arg(long, conflicts_with = "event")]
    pub(crate) msg_type: Option<String>,
    /// Print the reply XML as the platform would receive it.
    #[arg(long)]
    pub(crate) xml: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RulesListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
}

// =============================================================================================
// Outbound API commands: `token`, `menu`, `send`, `template`, `users`, `qrcode`, `jssdk`.
// Every one calls `api.base_url` with the access_token shared through the token store.
// =============================================================================================

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Fetch a new token now, whatever is cached. With stable_token this invalidates the
    /// previous token at once (20 a day, 30 s apart): use it when a token leaked.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print {"access_token", "expires_at", "expires_in"} as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MenuArgs {
    #[command(subcommand)]
    pub(crate) command: MenuCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MenuCommand {
    /// Check a menu file (TOML like menu.example.toml, or the platform's JSON) and make it the
    /// menu. Every problem is printed, naming its button, before anything is sent.
    Push(MenuPushArgs),
    /// Show the menu set through the API, as a tree, JSON or a pushable TOML file.
    Show(MenuShowArgs),
    /// Delete the menu (and every conditional menu).
    Delete(MenuDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MenuPushArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The menu file: `.toml` (see menu.example.toml) or `.json` (`{"button": [...]}`).
    pub(crate) file: PathBuf,
    /// Check the file and print the JSON that would be sent, without sending it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MenuShowArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the platform's answer as JSON.
    #[arg(long, conflicts_with = "toml")]
    pub(crate) json: bool,
    /// Print the default menu as a TOML file that `wxoa menu push` accepts.
    #[arg(long)]
    pub(crate) toml: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MenuDeleteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    #[command(subcommand)]
    pub(crate) command: SendCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SendCommand {
    /// A text message.
    Text(SendTextArgs),
    /// An image: an uploaded media_id, or a file uploaded first as temporary media.
    Image(SendMediaArgs),
    /// A voice message: an uploaded media_id, or an AMR/MP3 file uploaded first.
    Voice(SendMediaArgs),
    /// A link card (news with one article).
    News(SendNewsArgs),
}

/// Who gets a 客服消息.
#[derive(Debug, Clone, Args)]
pub(crate) struct SendTarget {
    /// The follower's openid.
    pub(crate) openid: String,
    /// Send as this 客服 account (e.g. `kf2001@gh_123`).
    #[arg(long)]
    pub(crate) kf_account: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SendTextArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) target: SendTarget,
    /// The text; `-` reads it from stdin.
    pub(crate) text: String,
}

#[derive(Debug, Args)]
pub(crate) struct SendMediaArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) target: SendTarget,
    /// A media_id from an earlier upload.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub(crate) media_id: Option<String>,
    /// A file to upload as temporary media (kept 3 days) and send.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SendNewsArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) target: SendTarget,
    /// The card's title.
    #[arg(long)]
    pub(crate) title: String,
    /// The card's description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// The page opened on tap.
    #[arg(long)]
    pub(crate) url: String,
    /// The picture shown on the card.
    #[arg(long)]
    pub(crate) pic_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TemplateArgs {
    #[command(subcommand)]
    pub(crate) command: TemplateCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCommand {
    /// Send a template message to one follower.
    Send(TemplateSendArgs),
    /// List the account's templates with their keywords.
    List(TemplateListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TemplateSendArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The follower's openid.
    #[arg(long)]
    pub(crate) to: String,
    /// The template id (see `wxoa template list`).
    #[arg(long)]
    pub(crate) template_id: String,
    /// Keyword values as KEY=VALUE, e.g. `--data thing1=巧克力 --data amount2=39.8元`.
    #[arg(long, value_parser = parse_key_value, num_args = 1.., action = clap::ArgAction::Append)]
    pub(crate) data: Vec<(String, String)>,
    /// The page opened on tap.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// A mini program opened on tap instead of the page (its AppID).
    #[arg(long)]
    pub(crate) miniprogram_appid: Option<String>,
    /// The mini program page, e.g. `index?foo=bar`.
    #[arg(long, requires = "miniprogram_appid")]
    pub(crate) pagepath: Option<String>,
    /// Your idempotency key: the platform ignores a second send with the same id.
    #[arg(long)]
    pub(crate) client_msg_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TemplateListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the list as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(subcommand)]
    pub(crate) command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Export every follower to CSV (follower list + batch user info), resumable.
    Export(UsersExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UsersExportArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The CSV file to write. Progress is kept in `<FILE>.state` until the export completes.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Continue an interrupted export from its state file (no duplicates, nothing skipped).
    #[arg(long)]
    pub(crate) resume: bool,
    /// Start over even if the file or an interrupted export's state exists.
    #[arg(long, conflicts_with = "resume")]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct QrcodeArgs {
    #[command(subcommand)]
    pub(crate) command: QrcodeCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum QrcodeCommand {
    /// Create a QR code: permanent unless --expire is given.
    Create(QrcodeCreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct QrcodeCreateArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The scene: a number becomes scene_id (QR_SCENE / QR_LIMIT_SCENE), anything else
    /// scene_str (QR_STR_SCENE / QR_LIMIT_STR_SCENE).
    #[arg(long)]
    pub(crate) scene: String,
    /// Make a temporary code living this long: seconds, or with a unit (`90m`, `12h`, `7d`),
    /// at most 30 days.
    #[arg(long, value_parser = parse_expire)]
    pub(crate) expire: Option<u32>,
    /// Send the scene as scene_str even if it is a number.
    #[arg(long = "str")]
    pub(crate) as_str: bool,
    /// Print ticket, url, image URL and expiry as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct JssdkArgs {
    #[command(subcommand)]
    pub(crate) command: JssdkCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JssdkCommand {
    /// Print appId, timestamp, nonceStr and signature for `wx.config` on the page URL.
    Sign(JssdkSignArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JssdkSignArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The full page URL (any `#fragment` is dropped).
    pub(crate) url: String,
    /// Sign with this timestamp instead of now (to check a page's signature).
    #[arg(long, requires = "nonce")]
    pub(crate) timestamp: Option<i64>,
    /// Sign with this nonceStr instead of a random one.
    #[arg(long, requires = "timestamp")]
    pub(crate) nonce: Option<String>,
    /// Print the `wx.config` values as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `KEY=VALUE` (the value may contain `=`; the key may not be empty).
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Seconds, or a number with `s`, `m`, `h` or `d`, between 1 s and 30 days.
fn parse_expire(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 's'),
    };
    let factor: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("unknown unit in {s:?}; use s, m, h or d")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected seconds or a number with s, m, h or d, got {s:?}"))?;
    let secs = n.saturating_mul(factor);
    let max = u64::from(wxoa_api::qrcode::MAX_EXPIRE_SECONDS);
    if secs == 0 || secs > max {
        return Err(format!(
            "a temporary code lives 1 s to 30 days ({max} s), got {secs} s"
        ));
    }
    u32::try_from(secs).map_err(|_| format!("{s:?} is too long"))
}

// =============================================================================================
// Publishing and the rest of the outbound API: drafts, publish, mass, materials, subscribe
// messages, 客服 accounts, blacklist, short keys, statistics, remarks.
// =============================================================================================

#[derive(Debug, Args)]
pub(crate) struct DraftArgs {
    #[command(subcommand)]
    pub(crate) command: DraftCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DraftCommand {
    /// Make a draft from an article file (TOML: title, author, digest, cover, body = "post.md"
    /// or "post.html"); the cover and the body's local images are uploaded.
    Add(DraftAddArgs),
    /// Replace articles of a draft from an article file (its first article at --index).
    Update(DraftUpdateArgs),
    /// List the drafts, newest first.
    List(DraftListArgs),
    /// Show one draft's articles.
    Get(DraftIdArgs),
    /// Delete a draft.
    Delete(DraftDeleteArgs),
    /// Print the number of drafts.
    Count(DraftCountArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DraftAddArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The article file (TOML); `[[articles]]` tables make a draft of several articles.
    pub(crate) file: PathBuf,
    /// Print the HTML that would be sent and upload nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DraftUpdateArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The draft's media_id.
    pub(crate) media_id: String,
    /// The article file (TOML), as for `draft add`.
    pub(crate) file: PathBuf,
    /// Position (from 0) of the first article replaced; the file's next articles replace the
    /// ones after it.
    #[arg(long, default_value_t = 0)]
    pub(crate) index: u32,
}

#[derive(Debug, Args)]
pub(crate) struct DraftListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the drafts as JSON (with their articles).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DraftIdArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The draft's media_id.
    pub(crate) media_id: String,
    /// Print the articles as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DraftDeleteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The draft's media_id.
    pub(crate) media_id: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DraftCountArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct PublishArgs {
    #[command(subcommand)]
    pub(crate) command: Option<PublishCommand>,
    #[command(flatten)]
    pub(crate) submit: PublishSubmitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PublishSubmitArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The draft's media_id.
    pub(crate) draft_id: Option<String>,
    /// Wait until the job is over and print the articles' URLs (exit 1 unless published).
    #[arg(long)]
    pub(crate) wait: bool,
    /// Seconds between two polls with --wait.
    #[arg(long, default_value_t = 3)]
    pub(crate) interval: u64,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub(crate) timeout: u64,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PublishCommand {
    /// Where a publish job stands.
    Status(PublishStatusArgs),
    /// List the published posts, newest first.
    List(PublishListArgs),
    /// Delete a published post (or one article of it).
    Delete(PublishDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PublishStatusArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The publish_id `wxoa publish` printed.
    pub(crate) publish_id: String,
    /// Print the status as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PublishListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the posts as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PublishDeleteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The post's article_id.
    pub(crate) article_id: String,
    /// Only this article (from 1); by default the whole post.
    #[arg(long)]
    pub(crate) index: Option<u32>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MassArgs {
    #[command(subcommand)]
    pub(crate) command: MassCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MassCommand {
    /// Send to every follower, a tag or an openid list (asks first; sent once even if retried).
    Send(MassSendArgs),
    /// Send the content to one follower only, to check it.
    Preview(MassPreviewArgs),
    /// Where a mass job stands.
    Status(MassIdArgs),
    /// Delete the articles of a sent mpnews / video job.
    Delete(MassDeleteArgs),
    /// Show the send speed, or set it (0 fastest … 4).
    Speed(MassSpeedArgs),
}

/// What a mass message says (exactly one).
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct MassContentArgs {
    /// A draft's media_id (图文, mpnews).
    #[arg(long)]
    pub(crate) draft: Option<String>,
    /// A text.
    #[arg(long)]
    pub(crate) text: Option<String>,
    /// Permanent image materials (1 to 8).
    #[arg(long, num_args = 1..=8)]
    pub(crate) image: Vec<String>,
    /// A permanent voice material.
    #[arg(long)]
    pub(crate) voice: Option<String>,
    /// A video media_id (mpvideo).
    #[arg(long)]
    pub(crate) video: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MassSendArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) content: MassContentArgs,
    /// Every follower.
    #[arg(long, conflicts_with_all = ["tag", "to"], required_unless_present_any = ["tag", "to"])]
    pub(crate) all: bool,
    /// The followers with this tag id.
    #[arg(long, conflicts_with = "to")]
    pub(crate) tag: Option<i64>,
    /// These openids (2 to 10 000; repeat or separate with commas).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub(crate) to: Vec<String>,
    /// Your idempotency key (default: derived from the content and the recipients, so the
    /// same message to the same followers is never sent twice).
    #[arg(long)]
    pub(crate) client_msg_id: Option<String>,
    /// For a draft: send even if an article is judged a reprint.
    #[arg(long)]
    pub(crate) ignore_reprint: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Print what would be sent (path, body, clientmsgid) and send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MassPreviewArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) content: MassContentArgs,
    /// The follower's openid.
    #[arg(long, required_unless_present = "wxname", conflicts_with = "wxname")]
    pub(crate) to: Option<String>,
    /// The follower's WeChat id instead.
    #[arg(long)]
    pub(crate) wxname: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MassIdArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The job's msg_id.
    pub(crate) msg_id: u64,
    /// Print the status as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MassDeleteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The job's msg_id.
    pub(crate) msg_id: u64,
    /// Only this article (from 1).
    #[arg(long)]
    pub(crate) article: Option<u32>,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MassSpeedArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Set this level (0 fastest … 4 slowest); without it the current one is shown.
    pub(crate) set: Option<u8>,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialArgs {
    #[command(subcommand)]
    pub(crate) command: MaterialCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MaterialCommand {
    /// Upload a permanent image, voice, video (with --title) or thumb.
    Upload(MaterialUploadArgs),
    /// Upload an image for article bodies (jpg/png ≤ 1 MB); prints its URL.
    Uploadimg(MaterialUploadimgArgs),
    /// List the materials of a type (every page).
    List(MaterialListArgs),
    /// Print the number of materials of each type.
    Count(MaterialCountArgs),
    /// Download one material (a video: its description and download URL).
    Get(MaterialGetArgs),
    /// Delete a material.
    Delete(MaterialDeleteArgs),
    /// Download every image, voice and video to DIR; run again to fetch only what is missing.
    Export(MaterialExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MaterialUploadArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The file.
    pub(crate) file: PathBuf,
    /// image, voice, video or thumb (default: from the extension; jpg/png/gif → image).
    #[arg(long = "type")]
    pub(crate) kind: Option<String>,
    /// A video's title.
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// A video's introduction.
    #[arg(long, default_value = "")]
    pub(crate) introduction: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialUploadimgArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The image (jpg/png ≤ 1 MB).
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// image, voice, video or news.
    #[arg(long = "type", default_value = "image")]
    pub(crate) kind: String,
    /// Print the list as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialCountArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the counts as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialGetArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The material's media_id.
    pub(crate) media_id: String,
    /// Where to write a file (default: standard output); videos and news print JSON.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialDeleteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The material's media_id.
    pub(crate) media_id: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MaterialExportArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The directory (created if missing): `image/`, `voice/`, `video/` inside.
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SubscribeArgs {
    #[command(subcommand)]
    pub(crate) command: SubscribeCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubscribeCommand {
    /// List the account's subscribe-message templates.
    Templates(SubscribeTemplatesArgs),
    /// Send a subscribe message to a follower who accepted the template.
    Send(SubscribeSendArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SubscribeTemplatesArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the list as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SubscribeSendArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The follower's openid.
    #[arg(long)]
    pub(crate) to: String,
    /// The template id (see `wxoa subscribe templates`).
    #[arg(long)]
    pub(crate) template_id: String,
    /// Keyword values as KEY=VALUE, e.g. `--data thing1=体检 --data time2="2024-01-01 10:00"`.
    #[arg(long, value_parser = parse_key_value, num_args = 1.., action = clap::ArgAction::Append)]
    pub(crate) data: Vec<(String, String)>,
    /// The web page opened on tap.
    #[arg(long)]
    pub(crate) page: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KfArgs {
    #[command(subcommand)]
    pub(crate) command: KfCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KfCommand {
    /// List the 客服 accounts.
    List(KfListArgs),
    /// List the accounts online now.
    Online(KfListArgs),
    /// Add an account (`prefix@your_wechat_id`) with a nickname.
    Add(KfNickArgs),
    /// Change an account's nickname.
    Update(KfNickArgs),
    /// Delete an account.
    Delete(KfAccountArgs),
    /// Invite a WeChat user to bind an account (they accept in WeChat).
    Invite(KfInviteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KfListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Print the list as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KfNickArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The account, `prefix@your_wechat_id`.
    pub(crate) kf_account: String,
    /// Its nickname (≤ 16 characters).
    pub(crate) nickname: String,
}

#[derive(Debug, Args)]
pub(crate) struct KfAccountArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The account.
    pub(crate) kf_account: String,
}

#[derive(Debug, Args)]
pub(crate) struct KfInviteArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The account.
    pub(crate) kf_account: String,
    /// The WeChat id of the person to invite.
    pub(crate) invite_wx: String,
}

#[derive(Debug, Args)]
pub(crate) struct BlacklistArgs {
    #[command(subcommand)]
    pub(crate) command: BlacklistCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BlacklistCommand {
    /// Print every blacklisted openid, one a line.
    List(BlacklistListArgs),
    /// Blacklist followers (any number; sent 20 a call).
    Add(BlacklistEditArgs),
    /// Take followers off the blacklist.
    Remove(BlacklistEditArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BlacklistListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
}

#[derive(Debug, Args)]
pub(crate) struct BlacklistEditArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The openids.
    #[arg(required = true)]
    pub(crate) openids: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ShortenArgs {
    #[command(subcommand)]
    pub(crate) command: ShortenCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShortenCommand {
    /// Make a short key for a text.
    Gen(ShortenGenArgs),
    /// Print the text behind a short key.
    Fetch(ShortenFetchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ShortenGenArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The text (≤ 4 KB).
    pub(crate) long_data: String,
    /// Lifetime: seconds, or with a unit (`12h`, `7d`), at most 30 days.
    #[arg(long, value_parser = parse_expire, default_value = "30d")]
    pub(crate) expire: u32,
}

#[derive(Debug, Args)]
pub(crate) struct ShortenFetchArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The short key.
    pub(crate) short_key: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DatacubeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// user-summary, user-cumulate, article-summary, article-total, user-read, user-share or
    /// upstream-msg.
    pub(crate) report: String,
    /// First day (YYYY-MM-DD); default: the report's longest span ending on --to.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Last day (YYYY-MM-DD); default: yesterday (Beijing time).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// The CSV file (default: standard output). Long ranges are fetched in spans the report allows.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RemarkArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The follower's openid.
    pub(crate) openid: String,
    /// The remark (≤ 30 characters; empty clears it).
    pub(crate) remark: String,
}

// =============================================================================================
// The platform on this machine: `mock` (the fake API and the push driver) and `sim` (a follower).
// =============================================================================================

#[derive(Debug, Args)]
pub(crate) struct MockArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Where the fake platform listens; `http://ADDR` is what api.base_url should be.
    #[arg(long, default_value = "127.0.0.1:9200")]
    pub(crate) listen: SocketAddr,
    /// Also serve a fake OpenAI-compatible model at `http://ADDR/v1` (the `base_url` of a
    /// `chat` profile), to try chat rules offline.
    #[arg(long)]
    pub(crate) llm: bool,
    /// Characters the fake model streams per second.
    #[arg(long, value_name = "CHARS", default_value_t = 40, requires = "llm")]
    pub(crate) llm_rate: u32,
    /// Seconds the fake model thinks before its first word (try 20 to see the 5-second rule).
    #[arg(long, value_name = "SECS", default_value_t = 0, requires = "llm")]
    pub(crate) llm_delay: u64,
    /// The fake model's answer to every question (default: one made from the question).
    #[arg(long, value_name = "TEXT", requires = "llm")]
    pub(crate) llm_answer: Option<String>,
    /// Make the fake model fail every request: 429, 500, 401 (HTTP errors) or cut (the stream
    /// stops halfway).
    #[arg(long, value_name = "FAULT", value_parser = ["429", "500", "401", "cut"], requires = "llm")]
    pub(crate) llm_fail: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("one_exchange").args(["send", "event", "push"])))]
pub(crate) struct SimArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Encryption of the pushes (消息加解密方式); default: safe when account.encoding_aes_key is
    /// set, else plain.
    #[arg(long, value_enum)]
    pub(crate) mode: Option<SimMode>,
    /// Be this follower (openid).
    #[arg(long = "as", value_name = "OPENID")]
    pub(crate) openid: Option<String>,
    /// Send this text, print what the follower sees and exit (1 when they would see the error
    /// banner).
    #[arg(long, value_name = "TEXT")]
    pub(crate) send: Option<String>,
    /// Push this event instead and exit: subscribe, unsubscribe, CLICK, VIEW, SCAN or any other
    /// name.
    #[arg(long, value_name = "NAME")]
    pub(crate) event: Option<String>,
    /// The event's key: the menu key of CLICK, the URL of VIEW, the scene of SCAN / subscribe.
    #[arg(long, requires = "event")]
    pub(crate) key: Option<String>,
    /// Push this JSON (the form `POST /mock/push` takes, any message or event) and exit.
    #[arg(long, value_name = "JSON")]
    pub(crate) push: Option<String>,
    /// The `wxoa mock` whose 客服 messages to show in the chat (default: api.base_url when it
    /// is on this machine).
    #[arg(long, value_name = "URL")]
    pub(crate) mock: Option<String>,
    /// Push to this URL instead of http://{server.listen}{server.path} (e.g. through a proxy).
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// With --send / --event / --push: print the whole delivery (attempts, bytes, outcome) as
    /// JSON.
    #[arg(long, requires = "one_exchange")]
    pub(crate) json: bool,
    /// Timeout of one attempt in milliseconds (the platform's is 5000).
    #[arg(long, default_value_t = 5000, hide = true)]
    pub(crate) timeout_ms: u64,
}

/// The encryption mode of simulated pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimMode {
    /// 明文模式: plaintext XML.
    Plain,
    /// 兼容模式: plaintext and ciphertext side by side.
    Compat,
    /// 安全模式: ciphertext only; the reply must be encrypted.
    Safe,
}

#[cfg(test)]
mod api_command_tests {
    use super::*;

    #[test]
    fn token_flags() {
        let cli = Cli::try_parse_from(["wxoa", "token", "--force", "--json"]).unwrap();
        let Command::Token(args) = cli.command else {
            panic!("expected token")
        };
        assert!(args.force && args.json);
    }

    #[test]
    fn template_data_is_repeatable_and_splits_at_the_first_equals() {
        let cli = Cli::try_parse_from([
            "wxoa",
            "template",
            "send",
            "--to",
            "o1",
            "--template-id",
            "T",
            "--data",
            "a=1",
            "b=x=y",
            "--data",
            "c=",
        ])
        .unwrap();
        let Command::Template(TemplateArgs {
            command: TemplateCommand::Send(args),
        }) = cli.command
        else {
            panic!("expected template send")
        };
        let pairs: Vec<(&str, &str)> = args
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "1"), ("b", "x=y"), ("c", "")]);
        assert!(parse_key_value("=v").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn send_image_needs_exactly_one_source() {
        assert!(Cli::try_parse_from(["wxoa", "send", "image", "o1"]).is_err());
        assert!(
            Cli::try_parse_from([
                "wxoa",
                "send",
                "image",
                "o1",
                "--media-id",
                "M",
                "--file",
                "a.jpg"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["wxoa", "send", "image", "o1", "--file", "a.jpg"]).is_ok());
    }

    #[test]
    fn expire_takes_units_and_bounds() {
        assert_eq!(parse_expire("604800"), Ok(604_800));
        assert_eq!(parse_expire("90m"), Ok(5_400));
        assert_eq!(parse_expire("12h"), Ok(43_200));
        assert_eq!(parse_expire("30d"), Ok(2_592_000));
        assert!(parse_expire("31d").unwrap_err().contains("30 days"));
        assert!(parse_expire("0").is_err());
        assert!(parse_expire("7w").unwrap_err().contains("unknown unit"));
        assert!(parse_expire("d").is_err());
    }

    #[test]
    fn jssdk_timestamp_and_nonce_go_together() {
        assert!(
            Cli::try_parse_from([
                "wxoa",
                "jssdk",
                "sign",
                "https://e.com/",
                "--timestamp",
                "1"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "wxoa",
                "jssdk",
                "sign",
                "https://e.com/",
                "--timestamp",
                "1",
                "--nonce",
                "n"
            ])
            .is_ok()
        );
    }

    #[test]
    fn users_export_resume_and_force_conflict() {
        assert!(
            Cli::try_parse_from([
                "wxoa", "users", "export", "--out", "u.csv", "--resume", "--force"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["wxoa", "users", "export"]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_config_and_listen() {
        let cli = Cli::try_parse_from([
            "wxoa",
            "serve",
            "--config",
            "x.toml",
            "--listen",
            "0.0.0.0:80",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.config.config, PathBuf::from("x.toml"));
        assert_eq!(args.listen, Some("0.0.0.0:80".parse().unwrap()));
    }

    #[test]
    fn rules_test_needs_text_or_event() {
        assert!(Cli::try_parse_from(["wxoa", "rules", "test"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "rules", "test", "产品 abc"]).is_ok());
        assert!(Cli::try_parse_from(["wxoa", "rules", "test", "--event", "subscribe"]).is_ok());
        assert!(
            Cli::try_parse_from(["wxoa", "rules", "test", "x", "--event", "subscribe"]).is_err()
        );
    }
}

#[cfg(test)]
mod sim_command_tests {
    use super::*;

    #[test]
    fn sim_takes_one_of_send_event_push() {
        let cli = Cli::try_parse_from([
            "wxoa", "sim", "--send", "帮助", "--mode", "compat", "--as", "oA",
        ])
        .unwrap();
        let Command::Sim(args) = cli.command else {
            panic!("expected sim")
        };
        assert_eq!(args.send.as_deref(), Some("帮助"));
        assert_eq!(args.mode, Some(SimMode::Compat));
        assert_eq!(args.openid.as_deref(), Some("oA"));
        assert_eq!(args.timeout_ms, 5000);
        assert!(
            Cli::try_parse_from(["wxoa", "sim", "--send", "x", "--event", "subscribe"]).is_err()
        );
        assert!(Cli::try_parse_from(["wxoa", "sim", "--key", "K"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "sim", "--event", "CLICK", "--key", "K"]).is_ok());
        assert!(Cli::try_parse_from(["wxoa", "sim", "--mode", "loud"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "sim", "--json"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "sim", "--push", "{}", "--event", "x"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "sim", "--push", "{}", "--json"]).is_ok());
    }

    #[test]
    fn mock_listens_on_9200_by_default() {
        let cli = Cli::try_parse_from(["wxoa", "mock"]).unwrap();
        let Command::Mock(args) = cli.command else {
            panic!("expected mock")
        };
        assert_eq!(args.listen, "127.0.0.1:9200".parse().unwrap());
        assert!(!args.llm);
    }

    #[test]
    fn mock_llm_flags_need_llm_and_a_known_fault() {
        let cli = Cli::try_parse_from([
            "wxoa",
            "mock",
            "--llm",
            "--llm-rate",
            "20",
            "--llm-fail",
            "429",
        ])
        .unwrap();
        let Command::Mock(args) = cli.command else {
            panic!("expected mock")
        };
        assert!(args.llm);
        assert_eq!(args.llm_rate, 20);
        assert_eq!(args.llm_fail.as_deref(), Some("429"));
        assert!(Cli::try_parse_from(["wxoa", "mock", "--llm-rate", "20"]).is_err());
        assert!(Cli::try_parse_from(["wxoa", "mock", "--llm", "--llm-fail", "418"]).is_err());
    }
}
