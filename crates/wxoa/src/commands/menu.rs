//! `wxoa menu push|show|delete`: the custom menu from a TOML (or JSON) file, checked against the
//! platform's limits before anything is sent.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Deserialize;
use wxoa_api::menu::{Button, ButtonType, MatchRule, Menu, MenuInfo};

use crate::cli::{MenuArgs, MenuCommand, MenuDeleteArgs, MenuPushArgs, MenuShowArgs};
use crate::commands::api::with_client;
use crate::commands::confirm::confirm;
use crate::commands::load_account_config;

pub(crate) fn run(args: &MenuArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        MenuCommand::Push(args) => push(args),
        MenuCommand::Show(args) => show(args),
        MenuCommand::Delete(args) => delete(args),
    }
}

fn push(args: &MenuPushArgs) -> anyhow::Result<ExitCode> {
    let menu = read_menu_file(&args.file)?;
    // Every problem, each naming its button, before the config, the store or the network.
    if let Err(e) = menu.validate() {
        eprintln!(
            "error: {} breaks the platform's menu rules ({} problem{}):",
            args.file.display(),
            e.issues.len(),
            if e.issues.len() == 1 { "" } else { "s" }
        );
        for issue in &e.issues {
            eprintln!("  {issue}");
        }
        eprintln!("nothing was sent; fix the file and run again");
        return Ok(ExitCode::FAILURE);
    }
    if args.dry_run {
        let body = serde_json::to_string_pretty(&menu).context("encoding the menu as JSON")?;
        println!("{body}");
        eprintln!("{} is valid; not sent (--dry-run)", args.file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        client
            .menu_create(&menu)
            .await
            .context("pushing the menu (menu/create)")?;
        println!(
            "menu pushed: {} buttons, {} sub-buttons; followers see it the next time they open the chat (clients refresh a menu older than 5 minutes)",
            menu.button.len(),
            menu.button
                .iter()
                .map(|b| b.sub_button.len())
                .sum::<usize>()
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn show(args: &MenuShowArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        if args.json {
            let raw = client
                .get_json("/cgi-bin/menu/get", &[])
                .await
                .context("reading the menu (menu/get)")?;
            let text = serde_json::to_string_pretty(&raw).context("formatting the menu")?;
            println!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        let info = client
            .menu_get()
            .await
            .context("reading the menu (menu/get)")?;
        if args.toml {
            print!("{}", to_toml(&info, client.appid())?);
        } else {
            print!("{}", tree(&info));
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &MenuDeleteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    if !confirm(
        args.yes,
        "delete the menu",
        &format!(
            "Delete the custom menu of {} and every conditional menu?",
            config.account.appid
        ),
    )? {
        eprintln!("cancelled; the menu is unchanged");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        client
            .menu_delete()
            .await
            .context("deleting the menu (menu/delete)")?;
        println!("menu deleted (with every conditional menu)");
        Ok(ExitCode::SUCCESS)
    })
}

/// A menu file as written: the platform's JSON shape, unknown keys refused (a typo such as
/// `sub_buttons` would otherwise vanish silently).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuFile {
    #[serde(default)]
    button: Vec<ButtonFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ButtonFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    /// Missing names are reported by `Menu::validate`, which names the button.
    #[serde(default)]
    name: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default)]
    article_id: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    pagepath: Option<String>,
    #[serde(default)]
    sub_button: Vec<ButtonFile>,
}

impl From<ButtonFile> for Button {
    fn from(b: ButtonFile) -> Self {
        Self {
            kind: b.kind.map(ButtonType::from),
            name: b.name,
            key: b.key,
            url: b.url,
            media_id: b.media_id,
            article_id: b.article_id,
            appid: b.appid,
            pagepath: b.pagepath,
            sub_button: b.sub_button.into_iter().map(Self::from).collect(),
        }
    }
}

/// Parse a menu file: JSON if it ends in `.json`, TOML otherwise.
fn parse_menu(text: &str, json: bool) -> Result<Menu, String> {
    let file: MenuFile = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    } else {
        toml::from_str(text).map_err(|e| e.to_string())?
    };
    Ok(Menu::new(
        file.button.into_iter().map(Button::from).collect(),
    ))
}

fn read_menu_file(path: &Path) -> anyhow::Result<Menu> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the menu file {}", path.display()))?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    parse_menu(&text, json).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.trim_end()))
}

/// The menus as a tree, one button a line.
fn tree(info: &MenuInfo) -> String {
    let mut out = String::new();
    match &info.menu.menuid {
        Some(id) => {
            let _ = writeln!(out, "menu (menuid {id})");
        }
        None => out.push_str("menu\n"),
    }
    write_buttons(&mut out, &info.menu.button);
    for c in &info.conditional {
        let id = c.menuid.as_deref().unwrap_or("?");
        let _ = writeln!(out, "conditional menu {id} ({})", rule(&c.matchrule));
        write_buttons(&mut out, &c.button);
    }
    out
}

fn rule(r: &MatchRule) -> String {
    let parts: Vec<String> = [
        ("tag_id", &r.tag_id),
        ("client_platform_type", &r.client_platform_type),
        ("language", &r.language),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={v}"))
    })
    .collect();
    if parts.is_empty() {
        "no rule".to_owned()
    } else {
        parts.join(" ")
    }
}

fn write_buttons(out: &mut String, buttons: &[Button]) {
    for (i, b) in buttons.iter().enumerate() {
        let last = i + 1 == buttons.len();
        let _ = writeln!(out, "{}{}", if last { "└── " } else { "├── " }, label(b));
        for (j, s) in b.sub_button.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}{}{}",
                if last { "    " } else { "│   " },
                if j + 1 == b.sub_button.len() {
                    "└── "
                } else {
                    "├── "
                },
                label(s)
            );
        }
    }
}

/// `name  [type]  key=… url=…` (a parent of sub-buttons shows only its name).
fn label(b: &Button) -> String {
    let mut s = b.name.clone();
    if let Some(kind) = &b.kind {
        let _ = write!(s, "  [{kind}]");
        for (k, v) in [
            ("key", &b.key),
            ("url", &b.url),
            ("media_id", &b.media_id),
            ("article_id", &b.article_id),
            ("appid", &b.appid),
            ("pagepath", &b.pagepath),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                let _ = write!(s, " {k}={v}");
            }
        }
    }
    s
}

/// The default menu as a file `wxoa menu push` accepts.
fn to_toml(info: &MenuInfo, appid: &str) -> anyhow::Result<String> {
    let body = toml::to_string(&info.menu).context("writing the menu as TOML")?;
    let mut out = format!(
        "# The custom menu of {appid}, from `wxoa menu show --toml`.\n# Edit and push it back with `wxoa menu push FILE`.\n"
    );
    if !info.conditional.is_empty() {
        let _ = writeln!(
            out,
            "# Not included: {} conditional menu(s); see `wxoa menu show`.",
            info.conditional.len()
        );
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use wxoa_api::menu::ConditionalMenu;

    use super::*;

    fn conditional(menuid: &str, tag: &str, button: Vec<Button>) -> ConditionalMenu {
        ConditionalMenu {
            button,
            matchrule: MatchRule {
                tag_id: Some(tag.to_owned()),
                ..MatchRule::default()
            },
            menuid: Some(menuid.to_owned()),
        }
    }

    const GOOD: &str = r#"
[[button]]
type = "click"
name = "今日歌曲"
key = "V1001_TODAY_MUSIC"

[[button]]
name = "菜单"

[[button.sub_button]]
type = "view"
name = "搜索"
url = "http://www.soso.com/"

[[button.sub_button]]
type = "miniprogram"
name = "wxa"
url = "http://mp.weixin.qq.com"
appid = "wx286b93c14bbf93aa"
pagepath = "pages/lunar/index"
"#;

    #[test]
    fn toml_mirrors_the_platform_json() {
        let menu = parse_menu(GOOD, false).unwrap();
        menu.validate().unwrap();
        let json = serde_json::to_value(&menu).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"button": [
                {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
                {"name": "菜单", "sub_button": [
                    {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                    {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
                     "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"}
                ]}
            ]})
        );
        // The same menu as JSON parses to the same thing.
        let again = parse_menu(&json.to_string(), true).unwrap();
        assert_eq!(again, menu);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let e = parse_menu(
            "[[button]]\nname = \"a\"\ntype = \"click\"\nkye = \"k\"\n",
            false,
        )
        .unwrap_err();
        assert!(e.contains("kye"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        let e = parse_menu(
            "[[button]]\nname = \"a\"\n[[button.sub_buttons]]\nname = \"b\"\n",
            false,
        )
        .unwrap_err();
        assert!(e.contains("sub_buttons"), "{e}");
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../menu.example.toml");
        let menu = read_menu_file(&path).unwrap();
        menu.validate().unwrap();
        assert!(!menu.button.is_empty());
    }

    #[test]
    fn tree_shows_every_button_and_conditional_menus() {
        let mut menu = parse_menu(GOOD, false).unwrap();
        menu.menuid = Some("208396938".to_owned());
        let info = MenuInfo {
            conditional: vec![conditional("208396993", "2", vec![menu.button[0].clone()])],
            menu,
        };
        let text = tree(&info);
        assert_eq!(
            text,
            "menu (menuid 208396938)\n\
             ├── 今日歌曲  [click] key=V1001_TODAY_MUSIC\n\
             └── 菜单\n    \
             ├── 搜索  [view] url=http://www.soso.com/\n    \
             └── wxa  [miniprogram] url=http://mp.weixin.qq.com appid=wx286b93c14bbf93aa pagepath=pages/lunar/index\n\
             conditional menu 208396993 (tag_id=2)\n\
             └── 今日歌曲  [click] key=V1001_TODAY_MUSIC\n"
        );
    }

    #[test]
    fn toml_output_parses_back_to_the_same_menu() {
        let menu = parse_menu(GOOD, false).unwrap();
        let info = MenuInfo {
            menu: menu.clone(),
            conditional: vec![conditional("1", "2", vec![])],
        };
        let text = to_toml(&info, "wx1234567890abcdef").unwrap();
        assert!(
            text.starts_with("# The custom menu of wx1234567890abcdef"),
            "{text}"
        );
        assert!(
            text.contains("Not included: 1 conditional menu(s)"),
            "{text}"
        );
        assert_eq!(parse_menu(&text, false).unwrap(), menu);
    }
}
