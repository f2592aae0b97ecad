//! `wxoa qrcode create --scene S [--expire SECS]`: a parametric QR code and its image URL.

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::qrcode::{QrCodeRequest, QrCodeTicket, QrScene, showqrcode_url};

use crate::cli::{QrcodeArgs, QrcodeCommand, QrcodeCreateArgs};
use crate::commands::api::with_client;
use crate::commands::load_account_config;

pub(crate) fn run(args: &QrcodeArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        QrcodeCommand::Create(a) => create(a),
    }
}

/// The request the arguments describe: a number is a scene_id unless `--str`; permanent
/// unless `--expire`.
fn request(args: &QrcodeCreateArgs) -> QrCodeRequest {
    let scene = if args.as_str {
        QrScene::Str(args.scene.clone())
    } else {
        QrScene::parse(&args.scene)
    };
    match args.expire {
        Some(expire_seconds) => QrCodeRequest::Temporary {
            scene,
            expire_seconds,
        },
        None => QrCodeRequest::Permanent { scene },
    }
}

fn create(args: &QrcodeCreateArgs) -> anyhow::Result<ExitCode> {
    let req = request(args);
    req.validate()
        .map_err(|e| anyhow::anyhow!("invalid QR code request: {e}"))?;
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let ticket = client
            .qrcode_create(&req)
            .await
            .with_context(|| format!("creating a {} code (qrcode/create)", req.action_name()))?;
        if args.json {
            println!("{}", json(&req, &ticket));
        } else {
            print!("{}", describe(&req, &ticket));
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn json(req: &QrCodeRequest, t: &QrCodeTicket) -> serde_json::Value {
    serde_json::json!({
        "action_name": req.action_name(),
        "ticket": t.ticket,
        "url": t.url,
        "image_url": showqrcode_url(&t.ticket),
        "expire_seconds": t.expire_seconds,
    })
}

fn describe(req: &QrCodeRequest, t: &QrCodeTicket) -> String {
    let life = match (req, t.expire_seconds) {
        (QrCodeRequest::Permanent { .. }, _) => {
            "permanent (at most 100 000 per account)".to_owned()
        }
        (QrCodeRequest::Temporary { .. }, Some(secs)) => format!("expires in {secs} s"),
        (QrCodeRequest::Temporary { expire_seconds, .. }, None) => {
            format!("expires in {expire_seconds} s")
        }
    };
    format!(
        "type:   {}\nticket: {}\nurl:    {}\nimage:  {}\nlife:   {life}\n",
        req.action_name(),
        t.ticket,
        t.url,
        showqrcode_url(&t.ticket)
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::cli::ConfigArg;

    fn args(scene: &str, expire: Option<u32>, as_str: bool) -> QrcodeCreateArgs {
        QrcodeCreateArgs {
            config: ConfigArg {
                config: PathBuf::from("wxoa.toml"),
                account: None,
            },
            scene: scene.to_owned(),
            expire,
            as_str,
            json: false,
        }
    }

    #[test]
    fn scene_and_expiry_pick_the_action() {
        assert_eq!(
            request(&args("123", None, false)).action_name(),
            "QR_LIMIT_SCENE"
        );
        assert_eq!(
            request(&args("123", Some(60), false)).action_name(),
            "QR_SCENE"
        );
        assert_eq!(
            request(&args("shop-1", None, false)).action_name(),
            "QR_LIMIT_STR_SCENE"
        );
        assert_eq!(
            request(&args("shop-1", Some(60), false)).action_name(),
            "QR_STR_SCENE"
        );
        assert_eq!(
            request(&args("123", None, true)).action_name(),
            "QR_LIMIT_STR_SCENE"
        );
        // Out of the permanent range: refused before any call, with the range named.
        let e = request(&args("100001", None, false))
            .validate()
            .unwrap_err();
        assert!(e.contains("1 to 100000"), "{e}");
    }

    #[test]
    fn output_names_the_image_url() {
        let t = QrCodeTicket {
            ticket: "gQH4+/=".to_owned(),
            expire_seconds: Some(1800),
            url: "https://weixin.qq.com/q/x".to_owned(),
        };
        let text = describe(&request(&args("1", Some(1800), false)), &t);
        assert!(
            text.contains(
                "image:  https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH4%2B%2F%3D"
            ),
            "{text}"
        );
        assert!(text.contains("life:   expires in 1800 s"), "{text}");
        let v = json(&request(&args("1", None, false)), &t);
        assert_eq!(v["action_name"], "QR_LIMIT_SCENE");
        assert_eq!(v["ticket"], "gQH4+/=");
    }
}
