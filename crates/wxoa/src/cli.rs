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

/// The config file option every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArg {
    /// The config file.
    #[arg(long, short = 'c', env = "WXOA_CONFIG", default_value = "wxoa.toml")]
    pub(crate) config: PathBuf,
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
    // --- end of outbound API commands ---

    // --- The platform on this machine: `mock` and `sim` ---
    /// Run a fake WeChat platform for the account in the config: its API (point api.base_url
    /// at it) and, through `POST /mock/push`, pushes to your server.
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
    /// Print a JSON array of {name, status, detail, fix_zh, fix_en} instead of the list.
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
// The platform on this machine: `mock` (the fake API and the push driver) and `sim` (a follower).
// =============================================================================================

#[derive(Debug, Args)]
pub(crate) struct MockArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Where the fake platform listens; `http://ADDR` is what api.base_url should be.
    #[arg(long, default_value = "127.0.0.1:9200")]
    pub(crate) listen: SocketAddr,
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
    }
}
