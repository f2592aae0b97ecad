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
