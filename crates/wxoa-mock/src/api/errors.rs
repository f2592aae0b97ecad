//! The platform's error answers: `{"errcode":…,"errmsg":"… rid: …"}` with the real errmsg texts.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

/// An error answer of the fake platform. Rendered as HTTP 200 with a JSON body (like the
/// platform), unless an injection asked for another HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WxError {
    pub(crate) code: i64,
    pub(crate) msg: String,
    pub(crate) status: StatusCode,
    /// Fields the answer carries besides errcode and errmsg (45065 names the earlier msg_id).
    pub(crate) extra: Option<Value>,
}

impl WxError {
    /// The error `code` with the platform's usual errmsg.
    pub(crate) fn new(code: i64) -> Self {
        Self::with_msg(code, errmsg(code))
    }

    /// The error `code` with a specific errmsg (the rid is appended when rendered).
    pub(crate) fn with_msg(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            status: StatusCode::OK,
            extra: None,
        }
    }

    /// 40164 naming the caller's IP as the platform does.
    pub(crate) fn ip_not_whitelisted(ip: std::net::IpAddr) -> Self {
        let msg = match ip {
            std::net::IpAddr::V4(v4) => {
                format!("invalid ip {v4} ipv6 ::ffff:{v4}, not in whitelist")
            }
            std::net::IpAddr::V6(v6) => format!("invalid ip {v6} ipv6 {v6}, not in whitelist"),
        };
        Self::with_msg(40164, msg)
    }

    /// The JSON body, with a fresh rid at the end of errmsg.
    pub(crate) fn body(&self) -> Value {
        let mut body =
            json!({ "errcode": self.code, "errmsg": format!("{} rid: {}", self.msg, new_rid()) });
        if let (Some(o), Some(Value::Object(extra))) = (body.as_object_mut(), &self.extra) {
            for (k, v) in extra {
                o.insert(k.clone(), v.clone());
            }
        }
        body
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Result of an endpoint handler.
pub(crate) type WxResult<T = Json<Value>> = Result<T, WxError>;

/// `{"errcode":0,"errmsg":"ok"}`.
pub(crate) fn ok() -> Json<Value> {
    Json(json!({ "errcode": 0, "errmsg": "ok" }))
}

/// `{"errcode":0,"errmsg":"ok"}` merged with the fields of `extra` (an object).
pub(crate) fn ok_with(extra: Value) -> Json<Value> {
    let mut out = json!({ "errcode": 0, "errmsg": "ok" });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    Json(out)
}

/// A request id like the platform's (`6577f3a1-0f1e2d3c-4b5a6978`).
pub(crate) fn new_rid() -> String {
    let mut r = rand::rng();
    format!(
        "{:08x}-{:08x}-{:08x}",
        r.random::<u32>(),
        r.random::<u32>(),
        r.random::<u32>()
    )
}

/// The platform's errmsg for `code` (without the rid), or a generic text for codes the mock
/// never produces on its own (they can still be injected).
#[must_use]
pub fn errmsg(code: i64) -> &'static str {
    match code {
        -1 => "system error",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40004 => "invalid media type",
        40005 => "invalid file type",
        40006 => "invalid meida size",
        40007 => "invalid media_id",
        40008 => "invalid message type",
        40009 => "invalid image size",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40016 => "invalid button size",
        40017 => "invalid button type",
        40018 => "invalid button name size",
        40019 => "invalid button key size",
        40020 => "invalid button url size",
        40021 => "invalid menu version",
        40022 => "invalid sub_button level",
        40023 => "invalid sub button size",
        40024 => "invalid sub button type",
        40025 => "invalid sub button name size",
        40026 => "invalid sub button key size",
        40027 => "invalid sub button url size",
        40029 => "invalid code",
        40030 => "invalid refresh_token",
        40032 => "invalid openid list size",
        40033 => "invalid charset. please check your request, if include \\uxxxx will create fail!",
        40037 => "invalid template_id",
        40054 => "invalid sub button url domain",
        40055 => "invalid button url domain",
        40097 => "invalid args",
        40125 => "invalid appsecret, view more at http://t.cn/RAEkdVq",
        40130 => "invalid openid list size, at least two openid",
        40163 => "code been used",
        40164 => "invalid ip, not in whitelist",
        40243 => "AppSecret已被冻结，请登录MP解冻后再次调用。",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41005 => "media data missing",
        41008 => "missing code",
        41009 => "missing openid",
        41030 => "invalid page",
        42001 => "access_token expired",
        42002 => "refresh_token expired",
        42003 => "code expired",
        42007 => "access_token and refresh_token exception",
        43002 => "require POST method",
        43004 => "require subscribe",
        43019 => "require remove blacklist",
        43101 => "user refuse to accept the msg",
        44002 => "empty post data",
        44003 => "empty news data",
        44004 => "empty content",
        45002 => "content size out of limit",
        45003 => "title size out of limit",
        45008 => "article size out of limit",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        45015 => "response out of time limit or subscription is canceled",
        45028 => "has no masssend quota",
        45047 => "out of response count limit",
        45056 => "too many tags now",
        45057 => "can't delete the tag that has too many fans",
        45058 => "can't modify sys tag",
        45059 => "too many tag now, no need to add new",
        45064 => "no permission to use weapp in menu",
        45065 => "clientmsgid exist",
        45066 => "same clientmsgid retry too fast",
        45067 => "clientmsgid size out of limit",
        45083 => "invalid speed",
        45084 => "no speed",
        45157 => "invalid tag name",
        45158 => "tag name too long",
        45159 => "invalid tag id",
        46003 => "menu no exist",
        46004 => "user no exist",
        47001 => "data format error",
        47003 => "argument invalid!",
        48001 => "api unauthorized",
        48002 => "user block msg",
        48004 => "api forbidden for irregularities",
        48006 => "forbid to clear quota because of reaching the limit",
        49003 => "not match openid with appid",
        50001 => "user unauthorized",
        50002 => "user limited",
        53503 => "draft check fail",
        53504 => "draft need to be opened in mp",
        53505 => "please save the draft manually",
        53600 => "invalid article_id",
        61500 => "date format error",
        61501 => "date range error",
        65301 => "menuid not exist",
        65302 => "no such user",
        65303 => "there is no selfmenu, please create selfmenu first",
        65304 => "match rule empty",
        65316 => "menu url domain count exceed",
        65400 => "please enable new custom service, or wait for a while if you have enabled",
        65401 => "invalid custom service account",
        65403 => "invalid nickname",
        65404 => "invalid custom service account",
        65405 => "account number exceeded",
        65406 => "custom service account exists",
        65407 => "the invitee is already a kf of this account",
        65408 => "invitation already sent to this wechat id",
        65409 => "invalid wechat id",
        65410 => "invitee bound too many kf accounts",
        65411 => "an invitation is pending for this account",
        65412 => "account already bound to a wechat id",
        76001 => "rid not found",
        76002 => "rid is error",
        76021 => "cgi_path not found, please check",
        89501 => "此IP正在等待管理员确认,请联系管理员",
        89503 => "此IP调用需要管理员确认,请联系管理员",
        89506 => "24小时内该IP被管理员拒绝调用两次，24小时内不可再使用该IP调用",
        89507 => "1小时内该IP被管理员拒绝调用一次，1小时内不可再使用该IP调用",
        _ => "mock injected error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_appends_a_rid_like_the_platform() {
        let v = WxError::new(45015).body();
        assert_eq!(v["errcode"], 45015);
        let msg = v["errmsg"].as_str().unwrap();
        let (text, rid) = msg.split_once(" rid: ").unwrap();
        assert_eq!(
            text,
            "response out of time limit or subscription is canceled"
        );
        let parts: Vec<_> = rid.split('-').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            parts
                .iter()
                .all(|p| p.len() == 8 && p.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn whitelist_message_names_the_ip_twice() {
        let e = WxError::ip_not_whitelisted("203.0.113.45".parse().unwrap());
        assert_eq!(
            e.msg,
            "invalid ip 203.0.113.45 ipv6 ::ffff:203.0.113.45, not in whitelist"
        );
    }

    #[test]
    fn ok_with_merges_fields() {
        let v = ok_with(json!({"msgid": 7})).0;
        assert_eq!(v, json!({"errcode":0,"errmsg":"ok","msgid":7}));
    }
}
