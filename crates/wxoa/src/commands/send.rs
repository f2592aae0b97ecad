//! `wxoa send text|image|voice|news OPENID …`: one 客服消息 to a follower (never sent twice).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::Client;
use wxoa_api::custom::{CustomBody, CustomMessage, NewsArticle};
use wxoa_api::media::MediaType;

use crate::cli::{SendArgs, SendCommand, SendMediaArgs, SendTarget};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &SendArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        SendCommand::Text(a) => {
            let text = if a.text == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the text from stdin")?;
                s.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                a.text.clone()
            };
            let config = load_account_config(&a.config)?;
            let body = CustomBody::Text { content: text };
            with_client(&config, async |client| {
                send(client, &a.target, body, "text").await
            })
        }
        SendCommand::Image(a) => media(a, MediaType::Image),
        SendCommand::Voice(a) => media(a, MediaType::Voice),
        SendCommand::News(a) => {
            let config = load_account_config(&a.config)?;
            let body = CustomBody::News(vec![NewsArticle {
                title: a.title.clone(),
                description: a.description.clone(),
                url: a.url.clone(),
                picurl: a.pic_url.clone(),
            }]);
            with_client(&config, async |client| {
                send(client, &a.target, body, "news").await
            })
        }
    }
}

fn media(args: &SendMediaArgs, kind: MediaType) -> anyhow::Result<ExitCode> {
    // Read the file before anything goes out, so a wrong path costs no API call.
    let file = match &args.file {
        Some(path) => Some((
            file_name(path)?,
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )),
        None => None,
    };
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let media_id = match (file, &args.media_id) {
            (Some((name, bytes)), _) => {
                let uploaded = client
                    .media_upload(kind, &name, bytes)
                    .await
                    .with_context(|| format!("uploading {name} as temporary {}", kind.as_str()))?;
                eprintln!(
                    "uploaded {name}: media_id {} (temporary media, kept 3 days)",
                    uploaded.media_id
                );
                uploaded.media_id
            }
            (None, Some(id)) => id.clone(),
            (None, None) => anyhow::bail!("give --media-id or --file"),
        };
        let body = match kind {
            MediaType::Voice => CustomBody::Voice { media_id },
            _ => CustomBody::Image { media_id },
        };
        send(client, &args.target, body, kind.as_str()).await
    })
}

fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no usable file name", path.display()))
}

async fn send(
    client: &Client,
    target: &SendTarget,
    body: CustomBody,
    what: &str,
) -> anyhow::Result<ExitCode> {
    let mut msg = CustomMessage::new(target.openid.clone(), body);
    if let Some(kf) = &target.kf_account {
        msg = msg.with_kf_account(kf.clone());
    }
    client
        .send_custom(&msg)
        .await
        .with_context(|| format!("sending the {what} message to {}", target.openid))?;
    println!("sent {what} message to {}", target.openid);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_is_the_last_component() {
        assert_eq!(
            file_name(Path::new("/tmp/x/photo.JPG")).unwrap(),
            "photo.JPG"
        );
        assert!(file_name(Path::new("/")).is_err());
    }
}
