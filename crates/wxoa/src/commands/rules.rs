//! `wxoa rules test|list`: see which rule answers a message, and what it renders, without a
//! server.

use std::process::ExitCode;

use std::sync::Arc;
use wxoa_server::clock::{Clock, SystemClock};

use wxoa_server::actions::{HttpClient, MemoryLaterSender, MemorySessionStore, Services};
use wxoa_server::rules::{Outcome, probe};

use crate::cli::{RulesListArgs, RulesTestArgs};
use crate::commands::load_config;

pub(crate) fn test(args: &RulesTestArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.config)?;
    let inbound = match (&args.text, &args.event, &args.msg_type) {
        (_, Some(event), _) => probe::event_message(event, args.key.as_deref()),
        (_, None, Some(msg_type)) => probe::message_of_type(msg_type),
        (Some(text), None, None) => probe::text_message(text),
        (None, None, None) => anyhow::bail!("give a text, --event or --msg-type"),
    };
    let now = SystemClock.now_unix();
    let outcome = match config.rules.respond(&inbound, now)? {
        Outcome::Action {
            rule,
            call,
            on_error,
            ..
        } => {
            let kind = call.kind();
            let later = Arc::new(MemoryLaterSender::new());
            let services = Services::new(
                Arc::new(MemorySessionStore::new()),
                later.clone(),
                HttpClient::new()?,
            );
            let started = std::time::Instant::now();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let result = runtime.block_on(call.run(&services));
            println!("({kind} ran in {} ms)", started.elapsed().as_millis());
            for (openid, reply) in later.sent() {
                println!("send_later to {openid}: {}", describe(&reply));
            }
            let reply = match result {
                Ok(reply) => reply,
                Err(e) => {
                    println!("{kind} failed: {e}");
                    on_error.map(wxoa_proto::reply::Reply::text)
                }
            };
            Outcome::Matched {
                rule,
                reply,
                on_slow: Default::default(),
                placeholder: None,
                on_error: None,
            }
        }
        other => other,
    };
    match outcome {
        Outcome::NoMatch => {
            println!("no rule matches: the follower gets nothing (answer: success)");
        }
        Outcome::Action { rule, .. } => println!("rule: {rule} (not run)"),
        Outcome::Matched { rule, reply, .. } => {
            println!("rule: {rule}");
            match reply {
                None => println!("reply: none (answer: success)"),
                Some(reply) => {
                    let prepared = reply.prepare()?;
                    if args.xml {
                        println!(
                            "{}",
                            prepared.reply.to_xml(
                                &inbound.from_user_name,
                                &inbound.to_user_name,
                                now
                            )
                        );
                    } else {
                        println!("reply ({}):", prepared.reply.msg_type());
                        println!("{}", describe(&prepared.reply));
                    }
                    if let Some(rest) = prepared.overflow {
                        println!(
                            "note: the text is over 2047 bytes; {} more bytes would follow by 客服消息",
                            rest.len()
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(args: &RulesListArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.config)?;
    for (i, name) in config.rules.names().enumerate() {
        println!("{:>3}  {name}", i + 1);
    }
    println!(
        "{} rules in {}",
        config.rules.len(),
        config.source.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A readable rendering of a reply for the terminal.
fn describe(reply: &wxoa_proto::reply::Reply) -> String {
    use wxoa_proto::reply::Reply;
    match reply {
        Reply::Text { content } => content.clone(),
        Reply::Image { media_id } => format!("image media_id={media_id}"),
        Reply::Voice { media_id } => format!("voice media_id={media_id}"),
        Reply::Video {
            media_id, title, ..
        } => format!(
            "video media_id={media_id} title={}",
            title.as_deref().unwrap_or("")
        ),
        Reply::Music {
            title,
            thumb_media_id,
            ..
        } => format!(
            "music title={} thumb_media_id={thumb_media_id}",
            title.as_deref().unwrap_or("")
        ),
        Reply::News { articles } => articles
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}. {} — {} <{}>", i + 1, a.title, a.description, a.url))
            .collect::<Vec<_>>()
            .join("\n"),
        Reply::TransferCustomerService { kf_account } => format!(
            "transfer to 客服 {}",
            kf_account.as_deref().unwrap_or("(any agent)")
        ),
        other => format!("{other:?}"),
    }
}
