//! `wxoa mass send|preview|status|delete|speed`: mass messages (群发), asked before sending, never sent twice.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use wxoa_api::mass::{MassContent, MassMessage, MassTarget, PreviewTo};

use crate::cli::{
    MassArgs, MassCommand, MassContentArgs, MassDeleteArgs, MassIdArgs, MassPreviewArgs,
    MassSendArgs, MassSpeedArgs,
};
use crate::commands::api::with_client;
use crate::commands::confirm::confirm;
use crate::commands::load_account_config;

pub(crate) fn run(args: &MassArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        MassCommand::Send(a) => send(a),
        MassCommand::Preview(a) => preview(a),
        MassCommand::Status(a) => status(a),
        MassCommand::Delete(a) => delete(a),
        MassCommand::Speed(a) => speed(a),
    }
}

/// The content the flags name.
pub(crate) fn content(args: &MassContentArgs) -> anyhow::Result<MassContent> {
    Ok(match args {
        MassContentArgs {
            draft: Some(id), ..
        } => MassContent::News {
            media_id: id.clone(),
        },
        MassContentArgs { text: Some(t), .. } => MassContent::Text(t.clone()),
        MassContentArgs {
            voice: Some(id), ..
        } => MassContent::Voice {
            media_id: id.clone(),
        },
        MassContentArgs {
            video: Some(id), ..
        } => MassContent::Video {
            media_id: id.clone(),
        },
        MassContentArgs { image, .. } if !image.is_empty() => MassContent::Images {
            media_ids: image.clone(),
        },
        _ => bail!("give the content: --draft, --text, --image, --voice or --video"),
    })
}

/// The message the send flags describe.
pub(crate) fn message(args: &MassSendArgs) -> anyhow::Result<MassMessage> {
    let target = match (args.all, args.tag, args.to.is_empty()) {
        (true, None, true) => MassTarget::All,
        (false, Some(tag), true) => MassTarget::Tag(tag),
        (false, None, false) => MassTarget::Openids(args.to.clone()),
        _ => bail!("give exactly one of --all, --tag or --to"),
    };
    let mut msg = MassMessage::new(target, content(&args.content)?);
    msg.send_ignore_reprint = args.ignore_reprint;
    msg.clientmsgid.clone_from(&args.client_msg_id);
    msg.validate()
        .map_err(|e| anyhow::anyhow!("invalid mass message: {e}"))?;
    Ok(msg)
}

fn send(args: &MassSendArgs) -> anyhow::Result<ExitCode> {
    let msg = message(args)?;
    let summary = format!(
        "{} to {} (clientmsgid {})",
        msg.content.summary(),
        msg.target.summary(),
        msg.clientmsgid()
    );
    if args.dry_run {
        println!("dry run: would send {summary}");
        println!("POST {}", msg.path());
        println!(
            "{}",
            serde_json::to_string_pretty(&msg.body()).context("formatting")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_account_config(&args.config)?;
    if !confirm(
        args.yes,
        "mass-send",
        &format!(
            "Mass-send {summary} from {}? It cannot be recalled (only deleted for articles).",
            config.account.appid
        ),
    )? {
        eprintln!("cancelled; nothing sent");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        let sent = client
            .mass_send(&msg)
            .await
            .with_context(|| format!("mass-sending {}", msg.content.summary()))?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&sent).context("formatting")?
            );
        } else if sent.already_sent {
            println!(
                "already sent: the platform has job {} with clientmsgid {}; nothing was sent again (give another --client-msg-id to send the same content again)",
                sent.msg_id, sent.clientmsgid
            );
        } else {
            println!(
                "mass send submitted: msg_id {} (clientmsgid {}); the outcome arrives as a MASSSENDJOBFINISH event",
                sent.msg_id, sent.clientmsgid
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn preview(args: &MassPreviewArgs) -> anyhow::Result<ExitCode> {
    let content = content(&args.content)?;
    let to = match (&args.to, &args.wxname) {
        (Some(o), _) => PreviewTo::Openid(o.clone()),
        (None, Some(n)) => PreviewTo::WxName(n.clone()),
        (None, None) => bail!("give --to OPENID or --wxname WECHAT_ID"),
    };
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let id = client
            .mass_preview(&to, &content)
            .await
            .context("sending the preview (message/mass/preview)")?;
        match id {
            Some(id) => println!("preview sent: msg_id {id}"),
            None => println!("preview sent"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn status(args: &MassIdArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let st = client
            .mass_status(args.msg_id)
            .await
            .with_context(|| format!("reading mass job {} (message/mass/get)", args.msg_id))?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&st).context("formatting")?
            );
        } else {
            println!("{} {}", st.msg_id, st.msg_status);
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &MassDeleteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    let what = match args.article {
        Some(i) => format!("article {i} of mass job {}", args.msg_id),
        None => format!("the articles of mass job {}", args.msg_id),
    };
    if !confirm(args.yes, "delete a mass send", &format!("Delete {what}?"))? {
        eprintln!("cancelled; nothing deleted");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        client
            .mass_delete(args.msg_id, args.article)
            .await
            .with_context(|| format!("deleting {what} (message/mass/delete)"))?;
        println!("deleted {what}");
        Ok(ExitCode::SUCCESS)
    })
}

fn speed(args: &MassSpeedArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        if let Some(level) = args.set {
            client
                .mass_speed_set(level)
                .await
                .context("setting the mass speed (message/mass/speed/set)")?;
        }
        let s = client
            .mass_speed()
            .await
            .context("reading the mass speed (message/mass/speed/get)")?;
        println!(
            "speed level {} ({} 万 messages a minute)",
            s.speed, s.realspeed
        );
        Ok(ExitCode::SUCCESS)
    })
}
