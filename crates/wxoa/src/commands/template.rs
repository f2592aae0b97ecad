//! `wxoa template send|list`: template messages (模板消息) and the account's templates.

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::template::{TemplateInfo, TemplateMessage, TemplateMiniProgram};

use crate::cli::{TemplateArgs, TemplateCommand, TemplateListArgs, TemplateSendArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &TemplateArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        TemplateCommand::Send(a) => send(a),
        TemplateCommand::List(a) => list(a),
    }
}

/// The message the arguments describe.
fn message(args: &TemplateSendArgs) -> TemplateMessage {
    let mut msg = TemplateMessage::new(args.to.clone(), args.template_id.clone());
    for (key, value) in &args.data {
        msg = msg.field(key.clone(), value.clone());
    }
    msg.url.clone_from(&args.url);
    msg.miniprogram = args
        .miniprogram_appid
        .as_ref()
        .map(|appid| TemplateMiniProgram {
            appid: appid.clone(),
            pagepath: args.pagepath.clone(),
        });
    msg.client_msg_id.clone_from(&args.client_msg_id);
    msg
}

fn send(args: &TemplateSendArgs) -> anyhow::Result<ExitCode> {
    let msg = message(args);
    msg.validate()
        .map_err(|e| anyhow::anyhow!("invalid template message: {e}"))?;
    if msg.data.is_empty() {
        eprintln!("warning: no --data given; the template's keywords will be empty");
    }
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let msgid = client
            .send_template(&msg)
            .await
            .with_context(|| format!("sending template {} to {}", msg.template_id, msg.touser))?;
        println!(
            "sent template message to {}: msgid {msgid} (the delivery result arrives as a TEMPLATESENDJOBFINISH event)",
            msg.touser
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn list(args: &TemplateListArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let templates = client
            .template_list()
            .await
            .context("listing the templates (template/get_all_private_template)")?;
        if args.json {
            let text = serde_json::to_string_pretty(&templates).context("formatting the list")?;
            println!("{text}");
        } else {
            print!("{}", describe(&templates));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One block a template: id and title, industry, then the content indented.
fn describe(templates: &[TemplateInfo]) -> String {
    if templates.is_empty() {
        return "no templates (add some in 公众号后台 → 广告与服务 → 模版消息)\n".to_owned();
    }
    let mut out = String::new();
    for t in templates {
        out.push_str(&format!("{}  {}\n", t.template_id, t.title));
        let industry = [t.primary_industry.as_str(), t.deputy_industry.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        if !industry.is_empty() {
            out.push_str(&format!("    industry: {industry}\n"));
        }
        for line in t.content.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::cli::ConfigArg;

    fn args() -> TemplateSendArgs {
        TemplateSendArgs {
            config: ConfigArg {
                config: PathBuf::from("wxoa.toml"),
                account: None,
            },
            to: "OPENID".to_owned(),
            template_id: "T1".to_owned(),
            data: vec![
                ("keyword1".to_owned(), "巧克力".to_owned()),
                ("keyword2".to_owned(), "39.8元".to_owned()),
            ],
            url: Some("http://weixin.qq.com/download".to_owned()),
            miniprogram_appid: Some("wxmini".to_owned()),
            pagepath: Some("index?foo=bar".to_owned()),
            client_msg_id: Some("MSG_000001".to_owned()),
        }
    }

    #[test]
    fn message_has_the_platform_shape() {
        let json = serde_json::to_value(message(&args())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "touser": "OPENID", "template_id": "T1", "url": "http://weixin.qq.com/download",
                "miniprogram": {"appid": "wxmini", "pagepath": "index?foo=bar"},
                "client_msg_id": "MSG_000001",
                "data": {"keyword1": {"value": "巧克力"}, "keyword2": {"value": "39.8元"}}
            })
        );
    }

    #[test]
    fn list_shows_id_title_and_content() {
        let t = TemplateInfo {
            template_id: "iPk5".to_owned(),
            title: "领取奖金提醒".to_owned(),
            primary_industry: "IT科技".to_owned(),
            deputy_industry: "互联网|电子商务".to_owned(),
            content: "{{result.DATA}}\n\n领奖金额:{{withdrawMoney.DATA}}".to_owned(),
            example: String::new(),
        };
        assert_eq!(
            describe(&[t]),
            "iPk5  领取奖金提醒\n    industry: IT科技 / 互联网|电子商务\n    {{result.DATA}}\n    领奖金额:{{withdrawMoney.DATA}}\n"
        );
        assert!(describe(&[]).starts_with("no templates"));
    }
}
