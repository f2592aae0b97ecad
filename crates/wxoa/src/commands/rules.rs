//! `wxoa rules test|list`: see which rule answers a message, and what it renders, without a
//! server.

use std::process::ExitCode;

use wxoa_server::clock::{Clock, SystemClock};
use wxoa_server::rules::trial::{TrialInput, describe, try_rules};

use crate::cli::{RulesListArgs, RulesTestArgs};
use crate::commands::load_account_config;

pub(crate) fn test(args: &RulesTestArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    let input = match (&args.text, &args.event, &args.msg_type) {
        (_, Some(event), _) => TrialInput::Event {
            event: event.clone(),
            key: args.key.clone(),
        },
        (_, None, Some(msg_type)) => TrialInput::MsgType(msg_type.clone()),
        (Some(text), None, None) => TrialInput::Text(text.clone()),
        (None, None, None) => anyhow::bail!("give a text, --event or --msg-type"),
    };
    let now = SystemClock.now_unix();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let trial = runtime.block_on(try_rules(&config.rules, &input, now))?;
    for note in trial
        .notes
        .iter()
        .filter(|n| !n.starts_with("the text is over"))
    {
        println!("({note})");
    }
    let Some(rule) = &trial.rule else {
        println!("no rule matches: the follower gets nothing (answer: success)");
        return Ok(ExitCode::SUCCESS);
    };
    println!("rule: {rule}");
    match (&trial.reply, trial.xml(now)) {
        (Some(reply), Some(xml)) => {
            if args.xml {
                println!("{xml}");
            } else {
                println!("reply ({}):", reply.msg_type());
                println!("{}", describe(reply));
            }
            if let Some(rest) = trial.overflow_bytes {
                println!(
                    "note: the text is over 2047 bytes; {rest} more bytes would follow by 客服消息"
                );
            }
        }
        _ => println!("reply: none (answer: success)"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(args: &RulesListArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
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
