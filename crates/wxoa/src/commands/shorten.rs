//! `wxoa shorten gen|fetch`: short keys.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{ShortenArgs, ShortenCommand, ShortenFetchArgs, ShortenGenArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &ShortenArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ShortenCommand::Gen(a) => generate(a),
        ShortenCommand::Fetch(a) => fetch(a),
    }
}

fn generate(args: &ShortenGenArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let key = client
            .shorten(&args.long_data, args.expire)
            .await
            .context("making a short key (shorten/gen)")?;
        println!("{key}");
        Ok(ExitCode::SUCCESS)
    })
}

fn fetch(args: &ShortenFetchArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let d = client
            .shorten_fetch(&args.short_key)
            .await
            .with_context(|| format!("reading short key {} (shorten/fetch)", args.short_key))?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&d).context("formatting")?
            );
        } else {
            println!("{}", d.long_data);
        }
        Ok(ExitCode::SUCCESS)
    })
}
