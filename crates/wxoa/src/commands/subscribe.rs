//! `wxoa subscribe templates|send`: subscribe messages (订阅通知).

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::subscribe::SubscribeMessage;

use crate::cli::{SubscribeArgs, SubscribeCommand, SubscribeSendArgs, SubscribeTemplatesArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &SubscribeArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        SubscribeCommand::Templates(a) => templates(a),
        SubscribeCommand::Send(a) => send(a),
    }
}

fn templates(args: &SubscribeTemplatesArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let list = client
            .subscribe_templates()
            .await
            .context("listing the subscribe templates (wxaapi/newtmpl/gettemplate)")?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).context("formatting")?
            );
            return Ok(ExitCode::SUCCESS);
        }
        if list.is_empty() {
            println!("no templates (choose some in 公众号后台 → 订阅通知)");
        }
        for t in &list {
            let kind = if t.kind == 3 { "long-term" } else { "one-time" };
            println!("{}  {}  ({kind})", t.pri_tmpl_id, t.title);
            for line in t.content.lines().filter(|l| !l.trim().is_empty()) {
                println!("    {line}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The message the arguments describe.
fn message(args: &SubscribeSendArgs) -> SubscribeMessage {
    let mut msg = SubscribeMessage::new(args.to.clone(), args.template_id.clone());
    for (k, v) in &args.data {
        msg = msg.field(k.clone(), v.clone());
    }
    msg.page.clone_from(&args.page);
    msg
}

fn send(args: &SubscribeSendArgs) -> anyhow::Result<ExitCode> {
    let msg = message(args);
    msg.validate()
        .map_err(|e| anyhow::anyhow!("invalid subscribe message: {e}"))?;
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        client.send_subscribe(&msg).await.with_context(|| {
            format!(
                "sending subscribe message {} to {}",
                msg.template_id, msg.touser
            )
        })?;
        println!(
            "sent subscribe message to {} (the outcome arrives as a subscribe_msg_sent_event)",
            msg.touser
        );
        Ok(ExitCode::SUCCESS)
    })
}
