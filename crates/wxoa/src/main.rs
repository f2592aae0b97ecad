//! The `wxoa` binary: parses the command line, sets up logging, runs one command.

mod access_writer;
mod batched_stderr;
mod cli;
mod commands;
mod log_fields;
mod log_format;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Run by a web server as a CGI program (a ScriptAlias pointing at the binary itself).
    if std::env::args_os().len() == 1 && std::env::var_os("GATEWAY_INTERFACE").is_some() {
        logging::init(cli::LogFormat::Text, 0, false);
        return commands::cgi::run_from_environment(None);
    }
    let cli = cli::Cli::parse();
    // The server logs a line per request: batched, so that is not a write(2) each.
    let serving = matches!(cli.command, cli::Command::Serve(_));
    let log = logging::init(cli.log_format, cli.verbose, serving);
    let result = commands::run(cli);
    // What the server logged last is written before the error line below.
    drop(log);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
