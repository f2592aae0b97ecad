//! `wxoa sim`: chat with the bot as a follower, from the platform's side of the wire.
//!
//! Every push is built, signed and encrypted by the callback driver (`wxoa_mock::driver`) as the
//! platform does it, posted to the server of the same wxoa.toml with the platform's timing (5 s
//! per attempt, three attempts of the same bytes), and its reply judged as the platform judges
//! it, so the chat shows what the follower would see: the reply, nothing, or the banner.
//!
//! - `--send TEXT`, `--event NAME [--key KEY]`, `--push JSON`: one exchange; the follower's view
//!   on stdout, the attempts on stderr; exit code 1 when the follower would see the banner.
//! - otherwise a line-based chat (`chat.rs`) with `/commands`, where 客服 messages the bot sends
//!   later through a running `wxoa mock` (`mock_link.rs`) show up as they arrive.
//! - `target.rs`: the callback URL and the account's keys from the config (shared with `wxoa mock`).

mod chat;
mod mock_link;
pub(crate) mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use url::Url;
use wxoa_mock::driver::{
    Attempt, DEFAULT_OPENID, Delivery, Driver, Event, FollowerSees, Mode, OtherEvent, Push,
};

use self::mock_link::MockLink;
use crate::cli::{SimArgs, SimMode};
use crate::commands::load_account_config;

/// Everything one chat (or one exchange) needs: the driver, the follower and the mock.
#[derive(Debug)]
pub(super) struct Session {
    driver: Driver,
    config_path: PathBuf,
    /// The mode of the next push.
    mode: Mode,
    /// The follower of the next push.
    openid: String,
    /// The mock whose outbox holds the 客服 messages, if any.
    mock: Option<MockLink>,
    /// Whether the mock was named with `--mock` (else it is `api.base_url` on this machine).
    mock_named: bool,
}

pub(crate) fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open(args)?;
    let one_shot = one_shot_push(args).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match one_shot {
            Some(push) => exchange_once(&session, push, args.json).await,
            None => chat::run(session).await,
        }
    })
}

impl Session {
    fn open(args: &SimArgs) -> anyhow::Result<Self> {
        let config = load_account_config(&args.config)?;
        let (target, local_tls) = match &args.url {
            Some(url) => (
                Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?,
                false,
            ),
            None => (target::callback_url(&config)?, target::serves_tls(&config)),
        };
        if !matches!(target.scheme(), "http" | "https") {
            anyhow::bail!("--url {target} must start with http:// or https://");
        }
        let timeout = Duration::from_millis(args.timeout_ms.max(1));
        let mut driver_config = target::driver_config(&config, target, Some(timeout))?;
        if let Some(openid) = &args.openid {
            driver_config.openid.clone_from(openid);
        }
        let driver = target::driver(driver_config, local_tls)?;
        let config_path = config.source.clone();
        let mode = match args.mode {
            Some(mode) => mode_of(mode),
            None => driver.default_mode(),
        };
        let session_openid = args
            .openid
            .clone()
            .unwrap_or_else(|| DEFAULT_OPENID.to_owned());
        let (mock, mock_named) = match &args.mock {
            Some(url) => (Some(MockLink::new(url)?), true),
            None => {
                let local = Url::parse(&config.api.base_url)
                    .ok()
                    .filter(mock_link::is_local);
                (
                    local.and_then(|url| MockLink::new(url.as_str()).ok()),
                    false,
                )
            }
        };
        let session = Self {
            driver,
            config_path,
            mode,
            openid: session_openid,
            mock,
            mock_named,
        };
        session.check_mode(mode).map_err(anyhow::Error::msg)?;
        if session.openid.trim().is_empty() {
            anyhow::bail!("--as needs the follower's openid, e.g. --as oUser123");
        }
        Ok(session)
    }

    /// Whether pushes in `mode` can be made: compat and safe need the EncodingAESKey.
    fn check_mode(&self, mode: Mode) -> Result<(), String> {
        if mode.is_encrypted() && self.driver.default_mode() == Mode::Plain {
            return Err(needs_key(mode, &self.config_path));
        }
        Ok(())
    }

    /// Push `push` (in the session's mode, from its follower unless the push says otherwise)
    /// and report each attempt to `on_attempt` as soon as it ends.
    async fn exchange<F>(&self, mut push: Push, on_attempt: F) -> anyhow::Result<Delivery>
    where
        F: FnMut(&Attempt) + Send,
    {
        push.mode = push.mode.or(Some(self.mode));
        if push.from.is_none() {
            push.from = Some(self.openid.clone());
        }
        let prepared = self.driver.prepare(&push)?;
        if let Some(mock) = &self.mock {
            mock.record(prepared.summary()).await;
        }
        Ok(self.driver.deliver_observed(&prepared, on_attempt).await)
    }
}

/// The push of `--send`, `--event` or `--push`; `None` for a chat.
fn one_shot_push(args: &SimArgs) -> Result<Option<Push>, String> {
    if let Some(text) = &args.send {
        return Ok(Some(Push::text(text.clone())));
    }
    if let Some(name) = &args.event {
        return event_push(name, args.key.as_deref()).map(Some);
    }
    if let Some(json) = &args.push {
        return parse_push(json).map(Some);
    }
    Ok(None)
}

/// One exchange: the attempts on stderr as they end, what the follower sees on stdout.
async fn exchange_once(session: &Session, push: Push, json: bool) -> anyhow::Result<ExitCode> {
    if !json {
        eprintln!(
            "  {}, as {}, to {}",
            mode_name(push.mode.unwrap_or(session.mode)),
            push.from.as_deref().unwrap_or(&session.openid),
            session.driver.config().target
        );
    }
    let delivery = session
        .exchange(push, |attempt| {
            if !json {
                eprintln!("  {attempt}");
            }
        })
        .await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&delivery).context("writing the delivery as JSON")?
        );
    } else {
        for note in &delivery.notes {
            eprintln!("  note: {note}");
        }
        if let Some(line) = waited(&delivery) {
            eprintln!("  {line}");
        }
        println!("{}", delivery.outcome);
        if let FollowerSees::Banner { reason } = &delivery.outcome {
            eprintln!("  why: {reason}");
        }
    }
    Ok(if delivery.is_banner() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// "the follower waited 10 012 ms over 3 attempts", when there was more than one attempt.
fn waited(delivery: &Delivery) -> Option<String> {
    let n = delivery.attempts.len();
    (n > 1).then(|| {
        format!(
            "the follower waited {} ms over {n} attempts",
            delivery.elapsed().as_millis()
        )
    })
}

/// An event push from its name and key: `subscribe [SCENE]`, `unsubscribe`, `CLICK KEY`,
/// `VIEW URL`, `SCAN SCENE`; any other name is pushed as is, with the key as `EventKey`.
fn event_push(name: &str, key: Option<&str>) -> Result<Push, String> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    let needs = |what: &str| {
        key.map(str::to_owned)
            .ok_or_else(|| format!("the {name} event needs {what} (--key, or after the name)"))
    };
    let event = match name.trim().to_ascii_lowercase().as_str() {
        "" => return Err("which event? e.g. subscribe, CLICK, VIEW, SCAN".to_owned()),
        "subscribe" => match key {
            Some(scene) => Event::subscribe_scene(scene),
            None => Event::subscribe(),
        },
        "unsubscribe" => Event::Unsubscribe,
        "click" => Event::click(needs("the menu button's key")?),
        "view" => Event::view(needs("the link's URL")?),
        "scan" => Event::scan(needs("the QR code's scene")?),
        _ if Event::is_known(name.trim()) => {
            return Err(format!(
                "the {name} event has more fields than a key: describe it as JSON, e.g. \
                 --push '{{\"event\":\"LOCATION\",\"latitude\":23.13,\"longitude\":113.26}}'"
            ));
        }
        _ => {
            let mut fields = std::collections::BTreeMap::new();
            if let Some(key) = key {
                fields.insert("EventKey".to_owned(), serde_json::Value::from(key));
            }
            return Ok(Push::new(OtherEvent {
                event: name.trim().to_owned(),
                fields,
            }));
        }
    };
    Ok(Push::event(event))
}

/// A push described as JSON (the shape of `POST /mock/push`).
fn parse_push(json: &str) -> Result<Push, String> {
    serde_json::from_str(json).map_err(|e| {
        format!(
            "the push is not valid: {e}; e.g. {{\"text\":\"你好\"}}, {{\"event\":\"CLICK\",\"key\":\"MENU_HELP\"}}, \
             {{\"location\":{{\"latitude\":23.13,\"longitude\":113.26}}}}"
        )
    })
}

fn mode_of(mode: SimMode) -> Mode {
    match mode {
        SimMode::Plain => Mode::Plain,
        SimMode::Compat => Mode::Compat,
        SimMode::Safe => Mode::Safe,
    }
}

/// `safe mode (安全模式)`.
fn mode_name(mode: Mode) -> String {
    let zh = match mode {
        Mode::Plain => "明文模式",
        Mode::Compat => "兼容模式",
        Mode::Safe => "安全模式",
    };
    format!("{mode} mode ({zh})")
}

/// Why an encrypted mode cannot be used, and how to make it usable.
fn needs_key(mode: Mode, config: &std::path::Path) -> String {
    let example: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!(
        "{} encrypts every push, but {} has no account.encoding_aes_key.\n  \
         Set it to the account's 43-character EncodingAESKey (the server must have the same one), \
         or for a local test start both `wxoa serve` and `wxoa sim` with\n    \
         WXOA_ACCOUNT__ENCODING_AES_KEY={example}\n  \
         or use --mode plain.",
        mode_name(mode),
        config.display()
    )
}

#[cfg(test)]
mod tests {
    use wxoa_mock::driver::What;

    use super::*;

    #[test]
    fn events_from_name_and_key() {
        assert_eq!(
            event_push("subscribe", None).unwrap().what,
            What::Event(Event::subscribe())
        );
        assert_eq!(
            event_push("subscribe", Some("42")).unwrap().what,
            What::Event(Event::subscribe_scene("42"))
        );
        assert_eq!(
            event_push("CLICK", Some("MENU_HELP")).unwrap().what,
            What::Event(Event::click("MENU_HELP"))
        );
        assert_eq!(
            event_push("view", Some("https://e.com/")).unwrap().what,
            What::Event(Event::view("https://e.com/"))
        );
        assert!(event_push("click", None).unwrap_err().contains("key"));
        assert!(event_push("SCAN", Some(" ")).unwrap_err().contains("scene"));
        assert!(event_push("LOCATION", None).unwrap_err().contains("--push"));
        let other = event_push("annual_renew", Some("k")).unwrap();
        let What::OtherEvent(e) = other.what else {
            panic!("expected another event")
        };
        assert_eq!(e.event, "annual_renew");
        assert_eq!(e.fields["EventKey"], "k");
    }

    #[test]
    fn pushes_parse_from_json_with_an_example_on_error() {
        let push = parse_push(r#"{"text":"你好","mode":"plain"}"#).unwrap();
        assert_eq!(push.mode, Some(Mode::Plain));
        let err = parse_push(r#"{"nope":1}"#).unwrap_err();
        assert!(err.contains("{\"text\":\"你好\"}"), "{err}");
    }

    #[test]
    fn the_missing_key_message_says_how_to_fix_it() {
        let text = needs_key(Mode::Safe, std::path::Path::new("wxoa.toml"));
        assert!(text.starts_with("safe mode (安全模式) encrypts"), "{text}");
        assert!(
            text.contains("wxoa.toml has no account.encoding_aes_key"),
            "{text}"
        );
        let key = text
            .split("WXOA_ACCOUNT__ENCODING_AES_KEY=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        assert!(
            wxoa_proto::crypto::AesKey::from_encoding_aes_key(key).is_ok(),
            "{key}"
        );
        assert!(text.contains("--mode plain"));
    }

    #[test]
    fn waiting_is_reported_only_after_retries() {
        let attempt = |number| Attempt {
            number,
            status: None,
            elapsed_ms: 700,
            response: None,
            failure: None,
            reason: None,
        };
        let mut delivery: Delivery = serde_json::from_value(serde_json::json!({
            "push": {"mode": "plain", "from": "o", "to": "gh", "msg_type": "text",
                     "create_time": 1, "timestamp": "1", "nonce": "2", "url": "http://x/",
                     "xml": "", "body": ""},
            "attempts": [],
            "outcome": {"sees": "nothing"}
        }))
        .unwrap();
        delivery.attempts = vec![attempt(1)];
        assert_eq!(waited(&delivery), None);
        delivery.attempts = vec![attempt(1), attempt(2), attempt(3)];
        assert_eq!(
            waited(&delivery).as_deref(),
            Some("the follower waited 2100 ms over 3 attempts")
        );
    }
}
