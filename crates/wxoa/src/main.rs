//! The `wxoa` binary: parses the command line, sets up logging, runs one command.

mod cli;
mod commands;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Run by a web server as a CGI program (a ScriptAlias pointing at the binary itself).
    if std::env::args_os().len() == 1 && std::env::var_os("GATEWAY_INTERFACE").is_some() {
        logging::init(cli::LogFormat::Text, 0);
        return commands::cgi::run_from_environment(None);
    }
    let cli = cli::Cli::parse();
    logging::init(cli.log_format, cli.verbose);
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
