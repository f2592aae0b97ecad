//! `wxoa blacklist list|add|remove`: the account's blacklist (黑名单).

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::blacklist::MAX_BATCH;

use crate::cli::{BlacklistArgs, BlacklistCommand, BlacklistEditArgs, BlacklistListArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &BlacklistArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        BlacklistCommand::List(a) => list(a),
        BlacklistCommand::Add(a) => edit(a, true),
        BlacklistCommand::Remove(a) => edit(a, false),
    }
}

fn list(args: &BlacklistListArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let all = client
            .blacklist_all()
            .await
            .context("reading the blacklist (tags/members/getblacklist)")?;
        for o in &all {
            println!("{o}");
        }
        eprintln!("{} blacklisted", all.len());
        Ok(ExitCode::SUCCESS)
    })
}

fn edit(args: &BlacklistEditArgs, add: bool) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let ids: Vec<&str> = args.openids.iter().map(String::as_str).collect();
        let mut done = 0;
        for chunk in ids.chunks(MAX_BATCH) {
            if add {
                client.blacklist_add(chunk).await.with_context(|| {
                    format!("blacklisting (tags/members/batchblacklist; {done} done before)")
                })?;
            } else {
                client.blacklist_remove(chunk).await.with_context(|| {
                    format!("unblacklisting (tags/members/batchunblacklist; {done} done before)")
                })?;
            }
            done += chunk.len();
        }
        let verb = if add {
            "blacklisted"
        } else {
            "taken off the blacklist"
        };
        println!("{done} follower(s) {verb}");
        Ok(ExitCode::SUCCESS)
    })
}
