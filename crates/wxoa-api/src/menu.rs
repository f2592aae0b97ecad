//! Custom menus (自定义菜单): the `Menu` / `Button` model with the platform's limits, and menu create/get/delete plus conditional menus.
//!
//! Limits (official createCustomMenu page, PROTOCOL §9.3): 1–3 top-level buttons, 1–5
//! sub-buttons each, `name` ≤ 16 bytes at top level and ≤ 60 bytes below (UTF-8 bytes: a CJK
//! character takes 3), `key` ≤ 128 bytes, `url` ≤ 1024 bytes. [`Menu::validate`] checks them
//! all before any call and names each offending button, e.g.
//! `button[1].sub_button[2] "Foo": key is required for type click` (indices from 0).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::de::opt_string_lenient;
use crate::error::ApiError;

/// At most this many top-level buttons.
pub const MAX_BUTTONS: usize = 3;
/// At most this many sub-buttons under one button.
pub const MAX_SUB_BUTTONS: usize = 5;
/// Byte limit of a top-level button's name.
pub const MAX_NAME_BYTES: usize = 16;
/// Byte limit of a sub-button's name.
pub const MAX_SUB_NAME_BYTES: usize = 60;
/// Byte limit of `key`.
pub const MAX_KEY_BYTES: usize = 128;
/// Byte limit of `url`.
pub const MAX_URL_BYTES: usize = 1024;

/// A menu: the body of `menu/create`, the `menu` of `menu/get`, the answer of `menu/trymatch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Menu {
    /// Top-level buttons (1–3).
    #[serde(default)]
    pub button: Vec<Button>,
    /// Set by `menu/get` (never sent).
    #[serde(default, skip_serializing, deserialize_with = "opt_string_lenient")]
    pub menuid: Option<String>,
}

/// One menu button: either a leaf with a `type` or a parent with `sub_button`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Button {
    /// What the button does; absent on a parent of sub-buttons.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ButtonType>,
    /// Label (≤ 16 bytes at top level, ≤ 60 below).
    pub name: String,
    /// Event key for click, scancode_*, pic_*, location_select (≤ 128 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Page for view; fallback page for miniprogram (≤ 1024 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Permanent media for media_id / view_limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// Published article for article_id / article_view_limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    /// Mini program AppID for miniprogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Mini program page for miniprogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    /// Sub-buttons (1–5), only on a top-level button without `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<Button>,
}

/// A button `type`. Unknown strings are kept as [`ButtonType::Other`] (and fail validation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum ButtonType {
    /// `click`: pushes a CLICK event with `key`.
    Click,
    /// `view`: opens `url`.
    View,
    /// `scancode_push`: scans a code and pushes the result.
    ScancodePush,
    /// `scancode_waitmsg`: scans and waits for a reply.
    ScancodeWaitmsg,
    /// `pic_sysphoto`: camera.
    PicSysphoto,
    /// `pic_photo_or_album`: camera or album.
    PicPhotoOrAlbum,
    /// `pic_weixin`: WeChat album.
    PicWeixin,
    /// `location_select`: location picker.
    LocationSelect,
    /// `media_id`: sends a permanent material.
    MediaId,
    /// `view_limited`: opens a permanent news material (legacy).
    ViewLimited,
    /// `article_id`: sends a published article.
    ArticleId,
    /// `article_view_limited`: opens a published article.
    ArticleViewLimited,
    /// `miniprogram`: opens a mini program page.
    Miniprogram,
    /// Anything else, verbatim.
    Other(String),
}

const BUTTON_TYPES: &[(&str, ButtonType)] = &[
    ("click", ButtonType::Click),
    ("view", ButtonType::View),
    ("scancode_push", ButtonType::ScancodePush),
    ("scancode_waitmsg", ButtonType::ScancodeWaitmsg),
    ("pic_sysphoto", ButtonType::PicSysphoto),
    ("pic_photo_or_album", ButtonType::PicPhotoOrAlbum),
    ("pic_weixin", ButtonType::PicWeixin),
    ("location_select", ButtonType::LocationSelect),
    ("media_id", ButtonType::MediaId),
    ("view_limited", ButtonType::ViewLimited),
    ("article_id", ButtonType::ArticleId),
    ("article_view_limited", ButtonType::ArticleViewLimited),
    ("miniprogram", ButtonType::Miniprogram),
];

impl ButtonType {
    /// The platform's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => BUTTON_TYPES
                .iter()
                .find(|(_, t)| t == known)
                .map_or("", |(s, _)| s),
        }
    }
}

impl From<String> for ButtonType {
    fn from(s: String) -> Self {
        BUTTON_TYPES
            .iter()
            .find(|(name, _)| *name == s)
            .map_or(Self::Other(s), |(_, t)| t.clone())
    }
}

impl From<ButtonType> for String {
    fn from(t: ButtonType) -> Self {
        t.as_str().to_owned()
    }
}

impl fmt::Display for ButtonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found by [`Menu::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuIssue {
    /// Where: `menu`, `button[0]`, `button[1].sub_button[2]` (indices from 0).
    pub path: String,
    /// The button's name (empty for the menu itself).
    pub name: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for MenuIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path == "menu" {
            write!(f, "menu: {}", self.message)
        } else {
            write!(f, "{} {:?}: {}", self.path, self.name, self.message)
        }
    }
}

/// Every problem [`Menu::validate`] found, in menu order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid menu: {}", .issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct MenuError {
    /// The problems, at least one.
    pub issues: Vec<MenuIssue>,
}

impl Menu {
    /// A menu of these top-level buttons.
    #[must_use]
    pub fn new(button: Vec<Button>) -> Self {
        Self {
            button,
            menuid: None,
        }
    }

    /// Check the platform's limits and each type's required fields.
    ///
    /// # Errors
    /// [`MenuError`] listing every problem, each naming its button.
    pub fn validate(&self) -> Result<(), MenuError> {
        let mut issues = Vec::new();
        validate_buttons(&self.button, &mut issues);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(MenuError { issues })
        }
    }
}

fn validate_buttons(buttons: &[Button], issues: &mut Vec<MenuIssue>) {
    let menu_issue = |message: String| MenuIssue {
        path: "menu".to_owned(),
        name: String::new(),
        message,
    };
    if buttons.is_empty() {
        issues.push(menu_issue(format!(
            "has no buttons; 1 to {MAX_BUTTONS} are required"
        )));
    }
    if buttons.len() > MAX_BUTTONS {
        issues.push(menu_issue(format!(
            "has {} buttons; at most {MAX_BUTTONS} are allowed",
            buttons.len()
        )));
    }
    for (i, b) in buttons.iter().enumerate() {
        validate_button(b, &format!("button[{i}]"), true, issues);
    }
}

fn validate_button(b: &Button, path: &str, top: bool, issues: &mut Vec<MenuIssue>) {
    let mut push = |message: String| {
        issues.push(MenuIssue {
            path: path.to_owned(),
            name: b.name.clone(),
            message,
        })
    };
    let name_limit = if top {
        MAX_NAME_BYTES
    } else {
        MAX_SUB_NAME_BYTES
    };
    if b.name.trim().is_empty() {
        push("name is required".to_owned());
    } else if b.name.len() > name_limit {
        let level = if top {
            "a top-level button"
        } else {
            "a sub-button"
        };
        push(format!(
            "name is {} bytes; at most {name_limit} are allowed for {level} (a CJK character takes 3 bytes)",
            b.name.len()
        ));
    }
    if let Some(key) = &b.key
        && key.len() > MAX_KEY_BYTES
    {
        push(format!(
            "key is {} bytes; at most {MAX_KEY_BYTES} are allowed",
            key.len()
        ));
    }
    if let Some(url) = &b.url {
        if url.len() > MAX_URL_BYTES {
            push(format!(
                "url is {} bytes; at most {MAX_URL_BYTES} are allowed",
                url.len()
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            push(format!("url {url:?} must start with http:// or https://"));
        }
    }

    if !b.sub_button.is_empty() {
        if !top {
            push("a sub-button cannot have sub_button of its own".to_owned());
            return;
        }
        if let Some(kind) = &b.kind {
            push(format!(
                "has both type {kind} and sub_button; a button with sub-buttons has no type"
            ));
        }
        if b.sub_button.len() > MAX_SUB_BUTTONS {
            push(format!(
                "has {} sub-buttons; at most {MAX_SUB_BUTTONS} are allowed",
                b.sub_button.len()
            ));
        }
        for (j, sub) in b.sub_button.iter().enumerate() {
            validate_button(sub, &format!("{path}.sub_button[{j}]"), false, issues);
        }
        return;
    }

    let Some(kind) = &b.kind else {
        push("type is required (or give the button sub_button entries)".to_owned());
        return;
    };
    let missing = |field: &Option<String>| field.as_deref().is_none_or(|v| v.trim().is_empty());
    let mut require = |field: &str, value: &Option<String>| {
        if missing(value) {
            push(format!("{field} is required for type {kind}"));
        }
    };
    match kind {
        ButtonType::Click
        | ButtonType::ScancodePush
        | ButtonType::ScancodeWaitmsg
        | ButtonType::PicSysphoto
        | ButtonType::PicPhotoOrAlbum
        | ButtonType::PicWeixin
        | ButtonType::LocationSelect => require("key", &b.key),
        ButtonType::View => require("url", &b.url),
        ButtonType::MediaId | ButtonType::ViewLimited => require("media_id", &b.media_id),
        ButtonType::ArticleId | ButtonType::ArticleViewLimited => {
            require("article_id", &b.article_id)
        }
        ButtonType::Miniprogram => {
            require("appid", &b.appid);
            require("pagepath", &b.pagepath);
            // Clients too old for mini programs open this page instead; the platform requires it.
            require("url", &b.url);
        }
        ButtonType::Other(t) => {
            let known: Vec<&str> = BUTTON_TYPES.iter().map(|(s, _)| *s).collect();
            push(format!(
                "unknown type {t:?}; expected one of {}",
                known.join(", ")
            ));
        }
    }
}

/// Which users see a conditional menu (`matchrule`). Give at least one field.
///
/// sex / country / province / city rules were withdrawn by the platform in 2021.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MatchRule {
    /// User tag id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_lenient"
    )]
    pub tag_id: Option<String>,
    /// Client OS: `"1"` iOS, `"2"` Android, `"3"` others.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_lenient"
    )]
    pub client_platform_type: Option<String>,
    /// Client language, e.g. `zh_CN`, `en`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_string_lenient"
    )]
    pub language: Option<String>,
}

/// A conditional menu (个性化菜单): buttons plus a match rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConditionalMenu {
    /// Top-level buttons, same limits as [`Menu`].
    #[serde(default)]
    pub button: Vec<Button>,
    /// Who sees it.
    #[serde(default)]
    pub matchrule: MatchRule,
    /// Set by the platform (never sent).
    #[serde(default, skip_serializing, deserialize_with = "opt_string_lenient")]
    pub menuid: Option<String>,
}

impl ConditionalMenu {
    /// Check the buttons like [`Menu::validate`] and that the rule is not empty.
    ///
    /// # Errors
    /// [`MenuError`] listing every problem.
    pub fn validate(&self) -> Result<(), MenuError> {
        let mut issues = Vec::new();
        validate_buttons(&self.button, &mut issues);
        let r = &self.matchrule;
        if r.tag_id.is_none() && r.client_platform_type.is_none() && r.language.is_none() {
            issues.push(MenuIssue {
                path: "menu".to_owned(),
                name: String::new(),
                message: "matchrule is empty; give tag_id, client_platform_type or language"
                    .to_owned(),
            });
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(MenuError { issues })
        }
    }
}

/// The answer of `menu/get`: the default menu and the conditional ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct MenuInfo {
    /// The default menu.
    #[serde(default)]
    pub menu: Menu,
    /// Conditional menus.
    #[serde(default, rename = "conditionalmenu")]
    pub conditional: Vec<ConditionalMenu>,
}

#[derive(Deserialize)]
struct MenuIdResponse {
    #[serde(default, deserialize_with = "opt_string_lenient")]
    menuid: Option<String>,
}

impl Client {
    /// `POST menu/create`: replace the default menu. Validated first; safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the offending buttons, or the platform's error.
    pub async fn menu_create(&self, menu: &Menu) -> Result<(), ApiError> {
        menu.validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let req = Req::post("/cgi-bin/menu/create", menu)?.safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `GET menu/get`: the menu set through the API (46003 when there is none).
    ///
    /// # Errors
    /// The platform's error.
    pub async fn menu_get(&self) -> Result<MenuInfo, ApiError> {
        self.inner
            .call(&Req::get("/cgi-bin/menu/get"), decode)
            .await
    }

    /// `GET menu/delete`: delete the default menu and every conditional menu.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn menu_delete(&self) -> Result<(), ApiError> {
        self.inner
            .call(&Req::get("/cgi-bin/menu/delete"), decode_ok)
            .await
    }

    /// `POST menu/addconditional`: add a conditional menu; returns its `menuid`. Never repeated
    /// on `-1` (it would add a second menu). Needs a default menu (65303).
    ///
    /// # Errors
    /// [`ApiError::Validation`], or the platform's error.
    pub async fn menu_add_conditional(&self, menu: &ConditionalMenu) -> Result<String, ApiError> {
        menu.validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let req = Req::post("/cgi-bin/menu/addconditional", menu)?;
        let r: MenuIdResponse = self.inner.call(&req, decode).await?;
        r.menuid.ok_or_else(|| {
            ApiError::Validation("menu/addconditional answered without a menuid".to_owned())
        })
    }

    /// `POST menu/delconditional`: delete a conditional menu.
    ///
    /// # Errors
    /// The platform's error (65301 no such menu).
    pub async fn menu_delete_conditional(&self, menuid: &str) -> Result<(), ApiError> {
        let req = Req::post(
            "/cgi-bin/menu/delconditional",
            &serde_json::json!({ "menuid": menuid }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST menu/trymatch`: the menu a user (openid or WeChat id) would see.
    ///
    /// # Errors
    /// The platform's error (46002 / 65302 no such user).
    pub async fn menu_try_match(&self, user_id: &str) -> Result<Menu, ApiError> {
        let req = Req::post(
            "/cgi-bin/menu/trymatch",
            &serde_json::json!({ "user_id": user_id }),
        )?
        .safe();
        self.inner.call(&req, decode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(name: &str, key: &str) -> Button {
        Button {
            kind: Some(ButtonType::Click),
            name: name.to_owned(),
            key: Some(key.to_owned()),
            ..Button::default()
        }
    }

    fn parent(name: &str, subs: Vec<Button>) -> Button {
        Button {
            name: name.to_owned(),
            sub_button: subs,
            ..Button::default()
        }
    }

    #[test]
    fn a_good_menu_validates_and_serializes_like_the_platform() {
        let menu = Menu::new(vec![
            click("今日歌曲", "V1001_TODAY_MUSIC"),
            parent(
                "菜单",
                vec![
                    Button {
                        kind: Some(ButtonType::View),
                        name: "搜索".into(),
                        url: Some("http://www.soso.com/".into()),
                        ..Button::default()
                    },
                    Button {
                        kind: Some(ButtonType::Miniprogram),
                        name: "wxa".into(),
                        url: Some("http://mp.weixin.qq.com".into()),
                        appid: Some("wx286b93c14bbf93aa".into()),
                        pagepath: Some("pages/lunar/index".into()),
                        ..Button::default()
                    },
                ],
            ),
        ]);
        menu.validate().unwrap();
        let json = serde_json::to_string(&menu).unwrap();
        assert!(
            json.starts_with(
                r#"{"button":[{"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"}"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#"{"name":"菜单","sub_button":[{"type":"view""#),
            "{json}"
        );
        assert!(!json.contains("menuid"));
    }

    #[test]
    fn errors_name_the_button() {
        let mut bad = click("Foo", "");
        bad.key = None;
        let menu = Menu::new(vec![
            click("a", "a"),
            parent("More", vec![click("x", "x"), click("y", "y"), bad]),
        ]);
        let err = menu.validate().unwrap_err();
        assert_eq!(err.issues.len(), 1);
        assert_eq!(
            err.issues[0].to_string(),
            r#"button[1].sub_button[2] "Foo": key is required for type click"#
        );
    }

    #[test]
    fn limits_are_enforced_in_bytes() {
        // 6 CJK characters = 18 bytes > 16 at top level, fine below (≤ 60).
        let long = "一二三四五六";
        let err = Menu::new(vec![click(long, "k")]).validate().unwrap_err();
        assert!(err.issues[0].message.contains("18 bytes"), "{err}");
        Menu::new(vec![parent("p", vec![click(long, "k")])])
            .validate()
            .unwrap();

        let too_many = Menu::new(vec![
            click("a", "a"),
            click("b", "b"),
            click("c", "c"),
            click("d", "d"),
        ]);
        assert!(
            too_many
                .validate()
                .unwrap_err()
                .to_string()
                .contains("has 4 buttons; at most 3")
        );

        let subs = (0..6).map(|i| click(&format!("s{i}"), "k")).collect();
        let err = Menu::new(vec![parent("p", subs)]).validate().unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"button[0] "p": has 6 sub-buttons; at most 5"#),
            "{err}"
        );

        let err = Menu::new(vec![click("k", &"x".repeat(129))])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("key is 129 bytes"));

        let view = Button {
            kind: Some(ButtonType::View),
            name: "v".into(),
            url: Some(format!("https://e.com/{}", "a".repeat(1020))),
            ..Button::default()
        };
        assert!(
            Menu::new(vec![view])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("url is 1034 bytes")
        );
        assert!(
            Menu::default()
                .validate()
                .unwrap_err()
                .to_string()
                .contains("menu: has no buttons")
        );
    }

    #[test]
    fn types_and_required_fields() {
        let unknown: Button =
            serde_json::from_str(r#"{"type":"clik","name":"x","key":"k"}"#).unwrap();
        assert_eq!(unknown.kind, Some(ButtonType::Other("clik".into())));
        let err = Menu::new(vec![unknown]).validate().unwrap_err().to_string();
        assert!(err.contains(r#"unknown type "clik""#), "{err}");

        let mini = Button {
            kind: Some(ButtonType::Miniprogram),
            name: "m".into(),
            ..Button::default()
        };
        let err = Menu::new(vec![mini]).validate().unwrap_err();
        let msgs: Vec<_> = err.issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "appid is required for type miniprogram",
                "pagepath is required for type miniprogram",
                "url is required for type miniprogram"
            ]
        );

        let both = Button {
            kind: Some(ButtonType::Click),
            key: Some("k".into()),
            ..parent("p", vec![click("a", "a")])
        };
        assert!(
            Menu::new(vec![both])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("has both type click and sub_button")
        );

        let nested = parent("p", vec![parent("q", vec![click("a", "a")])]);
        assert!(
            Menu::new(vec![nested])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("cannot have sub_button")
        );

        let typeless = Button {
            name: "t".into(),
            ..Button::default()
        };
        assert!(
            Menu::new(vec![typeless])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("type is required")
        );

        let media = Button {
            kind: Some(ButtonType::MediaId),
            name: "m".into(),
            ..Button::default()
        };
        assert!(
            Menu::new(vec![media])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("media_id is required for type media_id")
        );
        let art = Button {
            kind: Some(ButtonType::ArticleViewLimited),
            name: "a".into(),
            ..Button::default()
        };
        assert!(
            Menu::new(vec![art])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("article_id is required")
        );
    }

    #[test]
    fn every_known_type_round_trips() {
        for (s, t) in BUTTON_TYPES {
            assert_eq!(ButtonType::from((*s).to_owned()), *t);
            assert_eq!(t.as_str(), *s);
        }
    }

    #[test]
    fn conditional_needs_a_rule() {
        let c = ConditionalMenu {
            button: vec![click("a", "a")],
            ..ConditionalMenu::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("matchrule is empty")
        );
        let c = ConditionalMenu {
            matchrule: MatchRule {
                tag_id: Some("2".into()),
                ..MatchRule::default()
            },
            ..c
        };
        c.validate().unwrap();
        assert_eq!(
            serde_json::to_string(&c.matchrule).unwrap(),
            r#"{"tag_id":"2"}"#
        );
    }
}
