//! The interactive chat of `wxoa sim`: read a line, push it as the follower, show the attempts
//! and what the follower sees; `/commands` for events, other message types, the mode and the
//! follower; 客服 messages from the mock's outbox printed as they arrive.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use wxoa_mock::driver::{
    BANNER, Delivery, Event, FollowerSees, ImageSpec, LocationSpec, Message, Mode, Push, VoiceSpec,
};

use super::mock_link::{LinkError, MockLink, chat_line};
use super::{Session, event_push, mode_name, parse_push, waited};

/// How often the mock's outbox is read.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// The prompt on a terminal.
const PROMPT: &str = "> ";

const HELP: &[(&str, &str)] = &[
    (
        "TEXT",
        "send TEXT as a message (start with // to send text beginning with /)",
    ),
    (
        "/subscribe [SCENE]",
        "follow the account (from a QR code with SCENE)",
    ),
    ("/unsubscribe", "unfollow (WeChat shows no reply to it)"),
    ("/click KEY", "tap the menu button whose key is KEY"),
    ("/view URL", "tap a menu link"),
    ("/scan SCENE", "scan a QR code with SCENE as a follower"),
    ("/image [PIC_URL]", "send a picture"),
    (
        "/voice [TEXT]",
        "send a voice message; TEXT is its speech recognition",
    ),
    ("/location LAT LNG [LABEL]", "share a location"),
    (
        "/event NAME [KEY]",
        "any other event (KEY becomes its EventKey)",
    ),
    (
        "/push JSON",
        "any push as POST /mock/push takes it, e.g. {\"link\":{\"title\":\"t\"}}",
    ),
    (
        "/mode [plain|compat|safe]",
        "show or change the encryption mode (明文 / 兼容 / 安全)",
    ),
    ("/as [OPENID]", "show or change who you are"),
    ("/help", "this list"),
    ("/quit", "leave (Ctrl-D too)"),
];

/// The command list, one command a line.
fn help() -> String {
    let width = HELP.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    HELP.iter()
        .map(|(command, what)| format!("  {command:<width$}  {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line typed in the chat.
#[derive(Debug, PartialEq)]
enum Input {
    /// An empty line.
    Nothing,
    /// Something to push.
    Push(Box<Push>),
    /// `/mode`, with the new mode if one was given.
    Mode(Option<Mode>),
    /// `/as`, with the new openid if one was given.
    As(Option<String>),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
    /// A command that cannot be used as typed, and why.
    Invalid(String),
}

/// Run the chat until `/quit` or the end of input.
pub(super) async fn run(mut session: Session) -> anyhow::Result<ExitCode> {
    let out = Arc::new(Printer::new(std::io::stdin().is_terminal()));
    intro(&session, &out);
    let (openid_tx, openid_rx) = watch::channel(session.openid.clone());
    let watcher = session.mock.clone().map(|link| {
        tokio::spawn(watch_outbox(
            link,
            openid_rx,
            Arc::clone(&out),
            session.mock_named,
        ))
    });
    let mut lines = stdin_lines();
    loop {
        out.prompt();
        let Some(line) = lines.recv().await else {
            out.end_of_input();
            break;
        };
        out.input_taken();
        if !out.terminal {
            out.line(&format!("{PROMPT}{line}"));
        }
        match parse(&line) {
            Input::Nothing => {}
            Input::Quit => break,
            Input::Help => out.line(&help()),
            Input::Invalid(why) => out.line(&format!("  {why}")),
            Input::Mode(None) => out.line(&format!("  pushing in {}", mode_name(session.mode))),
            Input::Mode(Some(mode)) => match session.check_mode(mode) {
                Ok(()) => {
                    session.mode = mode;
                    out.line(&format!("  now pushing in {}", mode_name(mode)));
                }
                Err(why) => out.line(&format!("  {why}")),
            },
            Input::As(None) => out.line(&format!("  you are {}", session.openid)),
            Input::As(Some(openid)) => {
                session.openid.clone_from(&openid);
                let _ = openid_tx.send(openid.clone());
                out.line(&format!("  you are now {openid}"));
            }
            Input::Push(push) => exchange(&session, *push, &out).await,
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    Ok(ExitCode::SUCCESS)
}

fn intro(session: &Session, out: &Printer) {
    let config = session.driver.config();
    out.line(&format!(
        "wxoa sim: chatting with the bot as follower {}",
        session.openid
    ));
    out.line(&format!(
        "  pushes go to {} in {}, as the platform sends them ({} ms per attempt, {} attempts)",
        config.target,
        mode_name(session.mode),
        config.timeout.as_millis(),
        config.attempts
    ));
    match &session.mock {
        Some(link) => out.line(&format!(
            "  客服 messages: shown as they reach the mock at {}",
            link.base()
        )),
        None => out.line(
            "  客服 messages: not shown; give --mock URL of a running `wxoa mock` \
             (or point api.base_url at it)",
        ),
    }
    out.line("  type a message, or /help for the commands; /quit or Ctrl-D leaves");
}

/// Push one thing and show what happens.
async fn exchange(session: &Session, push: Push, out: &Printer) {
    let result = session
        .exchange(push, |attempt| out.line(&format!("  {attempt}")))
        .await;
    match result {
        Ok(delivery) => show(&delivery, out),
        Err(e) => out.line(&format!("  cannot push: {e:#}")),
    }
}

fn show(delivery: &Delivery, out: &Printer) {
    for note in &delivery.notes {
        out.line(&format!("  note: {note}"));
    }
    if let Some(line) = waited(delivery) {
        out.line(&format!("  {line}"));
    }
    match &delivery.outcome {
        FollowerSees::Reply(reply) => out.line(&bubble("< ", &reply.to_string())),
        FollowerSees::Nothing => out.line("  (no reply)"),
        FollowerSees::Banner { reason } => {
            out.line(&format!("! {BANNER}"));
            out.line(&format!("  why: {reason}"));
        }
    }
}

/// `text` with `prefix` on the first line and the others indented to match.
fn bubble(prefix: &str, text: &str) -> String {
    let indent = " ".repeat(prefix.chars().count());
    let mut lines = text.lines();
    let mut shown = format!("{prefix}{}", lines.next().unwrap_or(""));
    for line in lines {
        shown.push('\n');
        shown.push_str(&indent);
        shown.push_str(line);
    }
    shown
}

fn parse(line: &str) -> Input {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Input::Nothing;
    }
    if let Some(text) = line.strip_prefix("//") {
        return Input::Push(Box::new(Push::text(format!("/{text}"))));
    }
    let Some(command) = line.trim_start().strip_prefix('/') else {
        return Input::Push(Box::new(Push::text(line)));
    };
    let (name, rest) = match command.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (command, ""),
    };
    let arg = (!rest.is_empty()).then_some(rest);
    let push = |push: Push| Input::Push(Box::new(push));
    let usage = |text: &str| Input::Invalid(format!("usage: {text}"));
    match name.to_ascii_lowercase().as_str() {
        "quit" | "exit" | "q" => Input::Quit,
        "help" | "h" | "?" => Input::Help,
        "subscribe" => push(Push::event(match arg {
            Some(scene) => Event::subscribe_scene(scene),
            None => Event::subscribe(),
        })),
        "unsubscribe" => push(Push::event(Event::Unsubscribe)),
        "click" => arg.map_or_else(
            || usage("/click KEY"),
            |k| push(Push::event(Event::click(k))),
        ),
        "view" => arg.map_or_else(|| usage("/view URL"), |u| push(Push::event(Event::view(u)))),
        "scan" => arg.map_or_else(
            || usage("/scan SCENE"),
            |s| push(Push::event(Event::scan(s))),
        ),
        "image" => push(Push::new(Message::Image(ImageSpec {
            pic_url: arg.map(str::to_owned),
            media_id: None,
        }))),
        "voice" => push(Push::new(Message::Voice(VoiceSpec {
            recognition: arg.map(str::to_owned),
            ..VoiceSpec::default()
        }))),
        "location" => location(rest).map_or_else(Input::Invalid, push),
        "event" => {
            let mut words = rest.splitn(2, char::is_whitespace);
            let event = words.next().unwrap_or("");
            let key = words.next().map(str::trim);
            if event.is_empty() {
                return usage("/event NAME [KEY]");
            }
            event_push(event, key).map_or_else(Input::Invalid, push)
        }
        "push" => match arg {
            None => usage("/push JSON, e.g. /push {\"text\":\"你好\"}"),
            Some(json) => parse_push(json).map_or_else(Input::Invalid, push),
        },
        "mode" => match arg {
            None => Input::Mode(None),
            Some(m) => Mode::from_str(m)
                .map(|m| Input::Mode(Some(m)))
                .unwrap_or_else(|e| Input::Invalid(e.to_string())),
        },
        "as" => Input::As(arg.map(str::to_owned)),
        _ => Input::Invalid(format!("unknown command /{name}; /help lists the commands")),
    }
}

/// `/location LAT LNG [LABEL]`.
fn location(rest: &str) -> Result<Push, String> {
    const USAGE: &str = "usage: /location LAT LNG [LABEL], e.g. /location 23.13 113.26 广州塔";
    let mut words = rest.split_whitespace();
    let (Some(lat), Some(lng)) = (words.next(), words.next()) else {
        return Err(USAGE.to_owned());
    };
    let (Ok(latitude), Ok(longitude)) = (lat.parse::<f64>(), lng.parse::<f64>()) else {
        return Err(USAGE.to_owned());
    };
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(format!(
            "latitude is -90…90 and longitude -180…180, got {latitude} {longitude}"
        ));
    }
    let label: Vec<&str> = words.collect();
    Ok(Push::new(Message::Location(LocationSpec {
        latitude,
        longitude,
        scale: None,
        label: (!label.is_empty()).then(|| label.join(" ")),
    })))
}

/// Lines of standard input, read on their own thread (a blocked read must not hold the chat,
/// and the thread is not waited for when the chat ends).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Print the mock's new messages to the current follower every [`POLL_EVERY`].
async fn watch_outbox(
    link: MockLink,
    openid: watch::Receiver<String>,
    out: Arc<Printer>,
    named: bool,
) {
    let mut since: Option<u64> = None;
    let mut down = false;
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if since.is_none() || down {
            match link.position().await {
                Ok(position) => {
                    if down {
                        out.line(&format!(
                            "  (客服 messages: the mock at {} answers again)",
                            link.base()
                        ));
                    }
                    down = false;
                    // A mock that restarted counts from 1 again: show all of its messages.
                    since = Some(match since {
                        Some(s) if position < s => 0,
                        Some(s) => s,
                        None => position,
                    });
                }
                Err(e) => {
                    if !outbox_failed(&e, &link, &out, named, &mut down) {
                        return;
                    }
                    continue;
                }
            }
        }
        let Some(from) = since else { continue };
        let who = openid.borrow().clone();
        match link.messages(from, &who).await {
            Ok((messages, last)) => {
                for message in &messages {
                    out.line(&chat_line(message));
                }
                since = Some(last.max(from));
            }
            Err(e) => {
                if !outbox_failed(&e, &link, &out, named, &mut down) {
                    return;
                }
            }
        }
    }
}

/// Say once why the outbox cannot be read; `false` when watching it is pointless.
fn outbox_failed(
    e: &LinkError,
    link: &MockLink,
    out: &Printer,
    named: bool,
    down: &mut bool,
) -> bool {
    let origin = if named {
        "--mock"
    } else {
        "api.base_url (on this machine)"
    };
    match e {
        LinkError::Unreachable(reason) => {
            if !*down {
                out.line(&format!(
                    "  (客服 messages: no wxoa mock answers at {} ({origin}): {reason}; \
                     start `wxoa mock` and they will show)",
                    link.base()
                ));
                *down = true;
            }
            true
        }
        LinkError::NotAMock(_) => {
            out.line(&format!(
                "  (客服 messages: {} ({origin}) is {e}; not watching it)",
                link.base()
            ));
            false
        }
    }
}

/// Writes the chat to stdout; on a terminal it keeps the prompt after lines that arrive while
/// it is shown (客服 messages).
#[derive(Debug)]
struct Printer {
    terminal: bool,
    prompt_shown: AtomicBool,
}

impl Printer {
    fn new(terminal: bool) -> Self {
        Self {
            terminal,
            prompt_shown: AtomicBool::new(false),
        }
    }

    fn prompt(&self) {
        if self.terminal {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{PROMPT}");
            let _ = stdout.flush();
            self.prompt_shown.store(true, Ordering::SeqCst);
        }
    }

    fn input_taken(&self) {
        self.prompt_shown.store(false, Ordering::SeqCst);
    }

    fn end_of_input(&self) {
        if self.prompt_shown.swap(false, Ordering::SeqCst) {
            let _ = writeln!(std::io::stdout().lock());
        }
    }

    fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let prompt = self.terminal && self.prompt_shown.load(Ordering::SeqCst);
        if prompt {
            // Replace the prompt line, then draw the prompt again below.
            let _ = write!(stdout, "\r\x1b[K");
        }
        let _ = writeln!(stdout, "{text}");
        if prompt {
            let _ = write!(stdout, "{PROMPT}");
        }
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use wxoa_mock::driver::What;

    use super::*;

    fn pushed(line: &str) -> What {
        match parse(line) {
            Input::Push(push) => push.what,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn text_and_escaped_slashes_are_messages() {
        assert_eq!(
            pushed("帮助"),
            What::Message(Message::Text("帮助".to_owned()))
        );
        assert_eq!(
            pushed("//help"),
            What::Message(Message::Text("/help".to_owned()))
        );
        assert_eq!(parse("   "), Input::Nothing);
    }

    #[test]
    fn event_commands() {
        assert_eq!(pushed("/subscribe"), What::Event(Event::subscribe()));
        assert_eq!(
            pushed("/subscribe 123"),
            What::Event(Event::subscribe_scene("123"))
        );
        assert_eq!(pushed("/unsubscribe"), What::Event(Event::Unsubscribe));
        assert_eq!(
            pushed("/click MENU_HELP"),
            What::Event(Event::click("MENU_HELP"))
        );
        assert_eq!(
            pushed("/view https://e.com/a"),
            What::Event(Event::view("https://e.com/a"))
        );
        assert_eq!(pushed("/scan shop-7"), What::Event(Event::scan("shop-7")));
        assert_eq!(pushed("/event CLICK K"), What::Event(Event::click("K")));
        assert!(matches!(parse("/click"), Input::Invalid(u) if u.contains("/click KEY")));
        assert!(matches!(parse("/event"), Input::Invalid(_)));
    }

    #[test]
    fn message_commands() {
        assert_eq!(
            pushed("/voice 今天天气"),
            What::Message(Message::Voice(VoiceSpec {
                recognition: Some("今天天气".to_owned()),
                ..VoiceSpec::default()
            }))
        );
        assert_eq!(
            pushed("/image"),
            What::Message(Message::Image(ImageSpec::default()))
        );
        assert_eq!(
            pushed("/location 23.13 113.26 广州 塔"),
            What::Message(Message::Location(LocationSpec {
                latitude: 23.13,
                longitude: 113.26,
                scale: None,
                label: Some("广州 塔".to_owned()),
            }))
        );
        assert!(matches!(parse("/location 23"), Input::Invalid(u) if u.contains("usage")));
        assert!(matches!(parse("/location 91 0"), Input::Invalid(u) if u.contains("-90")));
        assert_eq!(
            pushed(r#"/push {"text":"x"}"#),
            What::Message(Message::Text("x".to_owned()))
        );
        assert!(matches!(parse("/push {"), Input::Invalid(_)));
    }

    #[test]
    fn session_commands() {
        assert_eq!(parse("/mode"), Input::Mode(None));
        assert_eq!(parse("/mode safe"), Input::Mode(Some(Mode::Safe)));
        assert_eq!(parse("/mode 兼容"), Input::Mode(Some(Mode::Compat)));
        assert!(
            matches!(parse("/mode loud"), Input::Invalid(e) if e.contains("plain, compat or safe"))
        );
        assert_eq!(parse("/as oUser2"), Input::As(Some("oUser2".to_owned())));
        assert_eq!(parse("/as"), Input::As(None));
        assert_eq!(parse("/quit"), Input::Quit);
        assert_eq!(parse("/EXIT"), Input::Quit);
        assert_eq!(parse("/help"), Input::Help);
        assert!(matches!(parse("/dance"), Input::Invalid(e) if e.contains("/help")));
    }

    #[test]
    fn help_lists_every_command_aligned() {
        let text = help();
        assert_eq!(text.lines().count(), HELP.len());
        assert!(text.starts_with("  TEXT "), "{text}");
        let column = |line: &str| line.find("send TEXT").or_else(|| line.find("leave"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(column(lines[0]), column(lines[lines.len() - 1]));
    }

    #[test]
    fn bubbles_indent_continuation_lines() {
        assert_eq!(bubble("< ", "a\nb"), "< a\n  b");
        assert_eq!(bubble("< ", ""), "< ");
    }
}
