//! One module a subcommand; each turns parsed arguments into calls on the libraries.

pub(crate) mod cgi;
mod rules;
mod serve;

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_server::Config;

use crate::cli::{Cli, Command, ConfigArg, RulesCommand};

/// Run the chosen command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Cgi(args) => Ok(cgi::run_from_environment(args.config)),
        Command::Rules(args) => match args.command {
            RulesCommand::Test(args) => rules::test(&args),
            RulesCommand::List(args) => rules::list(&args),
        },
    }
}

/// Load and validate the config named on the command line.
pub(crate) fn load_config(arg: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&arg.config).with_context(|| {
        format!(
            "loading config {} (set --config or WXOA_CONFIG)",
            arg.config.display()
        )
    })
}
