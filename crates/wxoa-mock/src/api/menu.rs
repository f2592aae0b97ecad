//! Custom menus: `menu/create|get|delete`, conditional menus (`addconditional`, `delconditional`, `trymatch`) and `get_current_selfmenu_info`.
//!
//! Validation and errcodes (PROTOCOL §9.3, §10), checked in this order:
//! `\uXXXX` escapes in the body 40033; 1–3 top-level buttons 40016; for each button
//! (sub-button codes in brackets): name 1–16 bytes, 1–60 below 40018 [40025]; 1–5 sub-buttons
//! 40023; a sub-button with sub-buttons 40022; type missing or unknown 40017 [40024]; `key`
//! 1–128 bytes for click/scancode/pic/location types 40019 [40026]; `url` 1–1024 bytes for
//! view/miniprogram 40020 [40027] and http(s) 40055 [40054]; `media_id` for media_id /
//! view_limited 40007; `article_id`, `appid`, `pagepath` where required 40097; more than three
//! link domains 65316. `menu/get` answers what was stored, with `sub_button: []` added to
//! every button as the platform does.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use rand::Rng;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok};
use super::state::MockPlatform;
use super::user::Follower;
use super::{json_body, str_field};

const MAX_BUTTONS: usize = 3;
const MAX_SUB_BUTTONS: usize = 5;
const MAX_NAME_BYTES: usize = 16;
const MAX_SUB_NAME_BYTES: usize = 60;
const MAX_KEY_BYTES: usize = 128;
const MAX_URL_BYTES: usize = 1024;
const MAX_DOMAINS: usize = 3;

const KEY_TYPES: &[&str] = &[
    "click",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
];

#[derive(Debug, Clone)]
struct StoredMenu {
    button: Value,
    matchrule: Option<Value>,
    menuid: u64,
}

/// The default menu and the conditional ones.
#[derive(Debug, Default)]
pub(crate) struct MenuState {
    default: Option<StoredMenu>,
    conditional: Vec<StoredMenu>,
    next_id: u64,
}

impl MenuState {
    fn new_id(&mut self) -> u64 {
        if self.next_id == 0 {
            self.next_id = 208_396_938 + u64::from(rand::rng().random::<u16>());
        }
        self.next_id += 1;
        self.next_id
    }

    /// The `menu/get` answer, or `None` without a default menu.
    pub(crate) fn get_json(&self) -> Option<Value> {
        let menu = self.default.as_ref()?;
        let mut out = json!({
            "menu": { "button": normalized(&menu.button), "menuid": menu.menuid }
        });
        if !self.conditional.is_empty()
            && let Some(o) = out.as_object_mut()
        {
            let list: Vec<Value> = self
                .conditional
                .iter()
                .map(|c| {
                    json!({
                        "button": normalized(&c.button),
                        "matchrule": c.matchrule.clone().unwrap_or_else(|| json!({})),
                        "menuid": c.menuid,
                    })
                })
                .collect();
            o.insert("conditionalmenu".to_owned(), Value::Array(list));
        }
        Some(out)
    }
}

/// Buttons with `sub_button: []` added where missing (recursively), as `menu/get` shows them.
fn normalized(buttons: &Value) -> Value {
    match buttons {
        Value::Array(list) => Value::Array(list.iter().map(normalized_button).collect()),
        other => other.clone(),
    }
}

fn normalized_button(b: &Value) -> Value {
    let mut b = b.clone();
    if let Some(o) = b.as_object_mut() {
        let subs = o.get("sub_button").map_or_else(|| json!([]), normalized);
        o.insert("sub_button".to_owned(), subs);
    }
    b
}

/// Whether `body` holds a `\uXXXX` escape inside the JSON text (40033 on the platform).
fn has_unicode_escape(body: &[u8]) -> bool {
    let mut backslashes = 0_usize;
    for &c in body {
        if c == b'\\' {
            backslashes += 1;
            continue;
        }
        if c == b'u' && backslashes % 2 == 1 {
            return true;
        }
        backslashes = 0;
    }
    false
}

fn sized(v: &Value, field: &str, max: usize) -> Option<String> {
    str_field(v, field).filter(|s| !s.trim().is_empty() && s.len() <= max)
}

/// Check a top-level button list (`None`: the `button` key is missing).
fn validate_buttons(buttons: Option<&Value>) -> Result<(), WxError> {
    let list = match buttons {
        None | Some(Value::Null) => return Err(WxError::new(40016)),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(WxError::new(47001)),
    };
    if list.is_empty() || list.len() > MAX_BUTTONS {
        return Err(WxError::new(40016));
    }
    let mut domains = BTreeSet::new();
    for b in list {
        validate_button(b, true, &mut domains)?;
    }
    if domains.len() > MAX_DOMAINS {
        return Err(WxError::new(65316));
    }
    Ok(())
}

fn validate_button(b: &Value, top: bool, domains: &mut BTreeSet<String>) -> Result<(), WxError> {
    // (top-level code, sub-button code)
    let code = |top_code: i64, sub_code: i64| WxError::new(if top { top_code } else { sub_code });
    if !b.is_object() {
        return Err(WxError::new(47001));
    }
    let name_max = if top {
        MAX_NAME_BYTES
    } else {
        MAX_SUB_NAME_BYTES
    };
    if sized(b, "name", name_max).is_none() {
        return Err(code(40018, 40025));
    }
    let subs = b
        .get("sub_button")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty());
    if let Some(subs) = subs {
        if !top {
            return Err(WxError::new(40022));
        }
        if subs.len() > MAX_SUB_BUTTONS {
            return Err(WxError::new(40023));
        }
        for s in subs {
            validate_button(s, false, domains)?;
        }
        return Ok(());
    }
    let kind = str_field(b, "type").unwrap_or_default();
    let mut need_url = || -> Result<(), WxError> {
        let url = sized(b, "url", MAX_URL_BYTES).ok_or_else(|| code(40020, 40027))?;
        match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                if let Some(host) = u.host_str() {
                    domains.insert(host.to_ascii_lowercase());
                }
                Ok(())
            }
            _ => Err(code(40055, 40054)),
        }
    };
    match kind.as_str() {
        k if KEY_TYPES.contains(&k) => {
            sized(b, "key", MAX_KEY_BYTES).ok_or_else(|| code(40019, 40026))?;
        }
        "view" => need_url()?,
        "miniprogram" => {
            need_url()?;
            if sized(b, "appid", 64).is_none() || sized(b, "pagepath", MAX_URL_BYTES).is_none() {
                return Err(WxError::new(40097));
            }
        }
        "media_id" | "view_limited" => {
            sized(b, "media_id", 256).ok_or_else(|| WxError::new(40007))?;
        }
        "article_id" | "article_view_limited" => {
            sized(b, "article_id", 256).ok_or_else(|| WxError::new(40097))?;
        }
        _ => return Err(code(40017, 40024)),
    }
    Ok(())
}

fn parse_menu_body(body: &[u8]) -> Result<Value, WxError> {
    if has_unicode_escape(body) {
        return Err(WxError::new(40033));
    }
    let v = json_body(body)?;
    validate_buttons(v.get("button"))?;
    Ok(v)
}

/// `POST /cgi-bin/menu/create` `{"button":[…]}`: replaces the default menu.
pub(crate) async fn create(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = parse_menu_body(&body)?;
    let mut s = p.lock();
    let menuid = s.menus.new_id();
    s.menus.default = Some(StoredMenu {
        button: v.get("button").cloned().unwrap_or_else(|| json!([])),
        matchrule: None,
        menuid,
    });
    Ok(ok())
}

/// `GET /cgi-bin/menu/get`: 46003 without a menu.
pub(crate) async fn get_menu(State(p): State<MockPlatform>) -> WxResult {
    p.lock()
        .menus
        .get_json()
        .map(Json)
        .ok_or_else(|| WxError::new(46003))
}

/// `GET /cgi-bin/menu/delete`: deletes the default and every conditional menu.
pub(crate) async fn delete(State(p): State<MockPlatform>) -> WxResult {
    let mut s = p.lock();
    s.menus.default = None;
    s.menus.conditional.clear();
    Ok(ok())
}

const RULE_FIELDS: &[&str] = &[
    "tag_id",
    "client_platform_type",
    "language",
    "group_id",
    "sex",
    "country",
    "province",
    "city",
];

/// `POST /cgi-bin/menu/addconditional` `{"button":[…],"matchrule":{…}}` → `{"menuid":"…"}`
pub(crate) async fn add_conditional(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = parse_menu_body(&body)?;
    let rule = v.get("matchrule").filter(|r| r.is_object());
    let has_rule = rule.is_some_and(|r| {
        RULE_FIELDS
            .iter()
            .any(|f| str_field(r, f).is_some_and(|x| !x.is_empty()))
    });
    let mut s = p.lock();
    if s.menus.default.is_none() {
        return Err(WxError::new(65303));
    }
    let (Some(rule), true) = (rule, has_rule) else {
        return Err(WxError::new(65304));
    };
    if let Some(tag) = str_field(rule, "tag_id").filter(|t| !t.is_empty()) {
        let known = tag.parse::<i64>().is_ok_and(|id| s.tags.exists(id));
        if !known {
            return Err(WxError::new(45159));
        }
    }
    let menuid = s.menus.new_id();
    s.menus.conditional.push(StoredMenu {
        button: v.get("button").cloned().unwrap_or_else(|| json!([])),
        matchrule: Some(rule.clone()),
        menuid,
    });
    Ok(Json(json!({ "menuid": menuid.to_string() })))
}

/// `POST /cgi-bin/menu/delconditional` `{"menuid"}`: 65301 when unknown.
pub(crate) async fn del_conditional(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let id: u64 = str_field(&v, "menuid")
        .and_then(|m| m.trim().parse().ok())
        .ok_or_else(|| WxError::new(65301))?;
    let mut s = p.lock();
    let before = s.menus.conditional.len();
    s.menus.conditional.retain(|c| c.menuid != id);
    if s.menus.conditional.len() == before {
        return Err(WxError::new(65301));
    }
    Ok(ok())
}

fn rule_matches(rule: &Value, f: &Follower) -> bool {
    let given = |name: &str| str_field(rule, name).filter(|x| !x.is_empty());
    let tag_ok =
        given("tag_id").is_none_or(|t| t.parse::<i64>().is_ok_and(|id| f.tagid_list.contains(&id)));
    let os_ok = given("client_platform_type")
        .is_none_or(|os| f.client_platform_type.as_deref() == Some(os.as_str()));
    let lang_ok = given("language").is_none_or(|l| l == f.language);
    tag_ok && os_ok && lang_ok
}

/// `POST /cgi-bin/menu/trymatch` `{"user_id"}` → `{"button":[…]}` (newest matching conditional
/// menu first, else the default one).
pub(crate) async fn try_match(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let user = str_field(&v, "user_id").ok_or_else(|| WxError::new(65302))?;
    let s = p.lock();
    let f = s.followers.get(&user).ok_or_else(|| WxError::new(65302))?;
    let default = s
        .menus
        .default
        .as_ref()
        .ok_or_else(|| WxError::new(46003))?;
    let chosen = s
        .menus
        .conditional
        .iter()
        .rev()
        .find(|c| {
            c.matchrule
                .as_ref()
                .is_some_and(|r| rule_matches(r, &f.info))
        })
        .unwrap_or(default);
    Ok(Json(json!({ "button": normalized(&chosen.button) })))
}

fn selfmenu_button(b: &Value) -> Value {
    let mut b = b.clone();
    if let Some(o) = b.as_object_mut()
        && let Some(subs) = o.remove("sub_button").and_then(|s| s.as_array().cloned())
        && !subs.is_empty()
    {
        let list: Vec<Value> = subs.iter().map(selfmenu_button).collect();
        o.insert("sub_button".to_owned(), json!({ "list": list }));
    }
    b
}

/// `GET /cgi-bin/get_current_selfmenu_info`: the effective menu in the platform's other shape
/// (`sub_button: {"list": […]}`), `is_menu_open` 0 without a menu.
pub(crate) async fn current_selfmenu_info(State(p): State<MockPlatform>) -> WxResult {
    let s = p.lock();
    let Some(menu) = &s.menus.default else {
        return Ok(Json(json!({ "is_menu_open": 0 })));
    };
    let buttons: Vec<Value> = menu
        .button
        .as_array()
        .map(|l| l.iter().map(selfmenu_button).collect())
        .unwrap_or_default();
    Ok(Json(
        json!({ "is_menu_open": 1, "selfmenu_info": { "button": buttons } }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(menu: Value) -> Result<(), i64> {
        validate_buttons(menu.get("button")).map_err(|e| e.code)
    }

    #[test]
    fn unicode_escapes_are_found_but_escaped_backslashes_are_not() {
        assert!(has_unicode_escape(br#"{"name":"\u83dc"}"#));
        assert!(!has_unicode_escape(br#"{"name":"\\u83dc"}"#));
        assert!(has_unicode_escape(br#"{"name":"\\\u83dc"}"#));
        assert!(!has_unicode_escape("{\"name\":\"菜单\"}".as_bytes()));
    }

    #[test]
    fn each_rule_has_its_errcode() {
        let click = |name: &str| json!({"type":"click","name":name,"key":"k"});
        assert_eq!(check(json!({})), Err(40016));
        assert_eq!(check(json!({"button":[]})), Err(40016));
        assert_eq!(
            check(json!({"button":[click("a"),click("b"),click("c"),click("d")]})),
            Err(40016)
        );
        assert_eq!(check(json!({"button":[click("一二三四五六")]})), Err(40018));
        assert_eq!(
            check(
                json!({"button":[{"name":"p","sub_button":[click("一二三四五六七八九十一二三四五六七八九十一")]}]})
            ),
            Err(40025)
        );
        let six: Vec<Value> = (0..6).map(|i| click(&format!("s{i}"))).collect();
        assert_eq!(
            check(json!({"button":[{"name":"p","sub_button":six}]})),
            Err(40023)
        );
        assert_eq!(
            check(
                json!({"button":[{"name":"p","sub_button":[{"name":"q","sub_button":[click("x")]}]}]})
            ),
            Err(40022)
        );
        assert_eq!(
            check(json!({"button":[{"type":"clik","name":"x","key":"k"}]})),
            Err(40017)
        );
        assert_eq!(
            check(json!({"button":[{"name":"p","sub_button":[{"name":"x","key":"k"}]}]})),
            Err(40024)
        );
        assert_eq!(
            check(json!({"button":[{"type":"click","name":"x"}]})),
            Err(40019)
        );
        assert_eq!(
            check(
                json!({"button":[{"name":"p","sub_button":[{"type":"click","name":"x","key":"k".repeat(129)}]}]})
            ),
            Err(40026)
        );
        let long_url = format!("https://e.com/{}", "a".repeat(1020));
        assert_eq!(
            check(json!({"button":[{"type":"view","name":"v","url":long_url}]})),
            Err(40020)
        );
        assert_eq!(
            check(json!({"button":[{"name":"p","sub_button":[{"type":"view","name":"v"}]}]})),
            Err(40027)
        );
        assert_eq!(
            check(json!({"button":[{"type":"view","name":"v","url":"ftp://e.com/"}]})),
            Err(40055)
        );
        assert_eq!(
            check(json!({"button":[{"type":"media_id","name":"m"}]})),
            Err(40007)
        );
        let view = |host: &str| json!({"type":"view","name":"v","url":format!("https://{host}/")});
        assert_eq!(
            check(
                json!({"button":[view("a.com"),view("b.com"),{"name":"p","sub_button":[view("c.com"),view("d.com")]}]})
            ),
            Err(65316)
        );
        assert_eq!(
            check(json!({"button":[click("ok"), view("a.com")]})),
            Ok(())
        );
    }

    #[test]
    fn get_adds_empty_sub_buttons() {
        let m = MenuState {
            default: Some(StoredMenu {
                button: json!([{"type":"click","name":"a","key":"k"},{"name":"p","sub_button":[{"type":"click","name":"b","key":"k"}]}]),
                matchrule: None,
                menuid: 7,
            }),
            ..MenuState::default()
        };
        let v = m.get_json().unwrap();
        assert_eq!(
            v,
            json!({"menu":{"button":[
                {"type":"click","name":"a","key":"k","sub_button":[]},
                {"name":"p","sub_button":[{"type":"click","name":"b","key":"k","sub_button":[]}]}
            ],"menuid":7}})
        );
    }
}
