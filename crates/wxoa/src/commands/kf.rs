//! `wxoa kf list|online|add|update|delete|invite`: 客服 accounts.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{KfAccountArgs, KfArgs, KfCommand, KfInviteArgs, KfListArgs, KfNickArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &KfArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        KfCommand::List(a) => list(a, false),
        KfCommand::Online(a) => list(a, true),
        KfCommand::Add(a) => nick(a, true),
        KfCommand::Update(a) => nick(a, false),
        KfCommand::Delete(a) => delete(a),
        KfCommand::Invite(a) => invite(a),
    }
}

fn list(args: &KfListArgs, online: bool) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        if online {
            let list = client
                .kf_online()
                .await
                .context("listing the 客服 online (customservice/getonlinekflist)")?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).context("formatting")?
                );
            } else {
                for k in &list {
                    println!(
                        "{}  status {}  sessions {}",
                        k.kf_account, k.status, k.accepted_case
                    );
                }
                if list.is_empty() {
                    println!("no 客服 online");
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let list = client
            .kf_list()
            .await
            .context("listing the 客服 accounts (customservice/getkflist)")?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).context("formatting")?
            );
            return Ok(ExitCode::SUCCESS);
        }
        for k in &list {
            let bound = match (&k.kf_wx, &k.invite_wx, &k.invite_status) {
                (Some(wx), _, _) => format!("bound to {wx}"),
                (None, Some(wx), status) => {
                    format!("invited {wx} ({})", status.as_deref().unwrap_or("waiting"))
                }
                _ => "not bound".to_owned(),
            };
            println!("{}  {}  {bound}", k.kf_account, k.kf_nick);
        }
        if list.is_empty() {
            println!("no 客服 accounts");
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn nick(args: &KfNickArgs, add: bool) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        if add {
            client
                .kf_add(&args.kf_account, &args.nickname)
                .await
                .with_context(|| {
                    format!(
                        "adding 客服 {} (customservice/kfaccount/add)",
                        args.kf_account
                    )
                })?;
            println!(
                "added {}; bind it to a WeChat user with `wxoa kf invite {} WECHAT_ID`",
                args.kf_account, args.kf_account
            );
        } else {
            client
                .kf_update(&args.kf_account, &args.nickname)
                .await
                .with_context(|| {
                    format!(
                        "renaming 客服 {} (customservice/kfaccount/update)",
                        args.kf_account
                    )
                })?;
            println!("{} is now {}", args.kf_account, args.nickname);
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &KfAccountArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        client.kf_delete(&args.kf_account).await.with_context(|| {
            format!(
                "deleting 客服 {} (customservice/kfaccount/del)",
                args.kf_account
            )
        })?;
        println!("deleted {}", args.kf_account);
        Ok(ExitCode::SUCCESS)
    })
}

fn invite(args: &KfInviteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        client
            .kf_invite(&args.kf_account, &args.invite_wx)
            .await
            .with_context(|| {
                format!(
                    "inviting {} to {} (customservice/kfaccount/inviteworker)",
                    args.invite_wx, args.kf_account
                )
            })?;
        println!(
            "invited {} to {}; they accept in WeChat within 7 days",
            args.invite_wx, args.kf_account
        );
        Ok(ExitCode::SUCCESS)
    })
}
