//! One module a subcommand; each turns parsed arguments into calls on the libraries.

mod admin;
pub(crate) mod cgi;
mod check;
mod rules;
pub(crate) mod serve;

// --- Outbound API commands ---
mod api;
mod article;
mod blacklist;
mod confirm;
mod datacube;
mod draft;
mod jssdk;
mod kf;
mod mass;
mod material;
mod menu;
mod paging;
mod publish;
mod qrcode;
mod remark;
mod send;
mod shorten;
mod subscribe;
mod template;
mod token;
mod users;
// --- end of outbound API commands ---

// --- The platform on this machine ---
mod mock;
mod sim;
// --- end of the platform on this machine ---

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_server::Config;

use crate::cli::{AdminCommand, Cli, Command, ConfigArg, RulesCommand};

/// Run the chosen command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Cgi(args) => Ok(cgi::run_from_environment(args.config)),
        Command::Check(args) => check::run(&args),
        Command::Admin(args) => match args.command {
            AdminCommand::Passwd(args) => admin::passwd(&args),
        },
        Command::Rules(args) => match args.command {
            RulesCommand::Test(args) => rules::test(&args),
            RulesCommand::List(args) => rules::list(&args),
        },

        // --- Outbound API commands: an API error is printed with its errcode and hints ---
        Command::Token(args) => api::report(token::run(&args)),
        Command::Menu(args) => api::report(menu::run(&args)),
        Command::Send(args) => api::report(send::run(&args)),
        Command::Template(args) => api::report(template::run(&args)),
        Command::Users(args) => api::report(users::run(&args)),
        Command::Qrcode(args) => api::report(qrcode::run(&args)),
        Command::Jssdk(args) => api::report(jssdk::run(&args)),
        Command::Draft(args) => api::report(draft::run(&args)),
        Command::Publish(args) => api::report(publish::run(&args)),
        Command::Mass(args) => api::report(mass::run(&args)),
        Command::Material(args) => api::report(material::run(&args)),
        Command::Subscribe(args) => api::report(subscribe::run(&args)),
        Command::Kf(args) => api::report(kf::run(&args)),
        Command::Blacklist(args) => api::report(blacklist::run(&args)),
        Command::Shorten(args) => api::report(shorten::run(&args)),
        Command::Datacube(args) => api::report(datacube::run(&args)),
        Command::Remark(args) => api::report(remark::run(&args)),
        // --- end of outbound API commands ---

        // --- The platform on this machine ---
        Command::Mock(args) => mock::run(&args),
        Command::Sim(args) => sim::run(&args),
        // --- end of the platform on this machine ---
    }
}

/// Load and validate the config named on the command line: every account, or only the one
/// `--account` names.
pub(crate) fn load_config(arg: &ConfigArg) -> anyhow::Result<Config> {
    let config = Config::load(&arg.config).with_context(|| {
        format!(
            "loading config {} (set --config or WXOA_CONFIG)",
            arg.config.display()
        )
    })?;
    match &arg.account {
        None => Ok(config),
        Some(name) => Ok(config.account_named(name)?),
    }
}

/// Load the config for a command that acts for one account: the one `--account` names, or
/// the only one. Several accounts and no `--account` is an error listing their names.
pub(crate) fn load_account_config(arg: &ConfigArg) -> anyhow::Result<Config> {
    let config = load_config(arg)?;
    if config.accounts.len() > 1 {
        anyhow::bail!(
            "{} has several accounts ({}): choose one with --account NAME",
            arg.config.display(),
            config.account_names().join(", ")
        );
    }
    Ok(config)
}
