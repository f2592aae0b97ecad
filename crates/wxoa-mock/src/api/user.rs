//! Followers: the in-memory follower list, 客服 windows, and `user/info`, `user/info/batchget`, `user/get`, `user/info/updateremark`.
//!
//! `user/get` pages through subscribed followers in subscription order,
//! [`MockConfig::follower_page_size`](super::MockConfig::follower_page_size) at a time; every
//! non-empty page carries `next_openid` = its last openid, and the page after the last one has
//! `count` 0, no `data` key and an empty `next_openid` (PROTOCOL §9.4).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::{WxError, WxResult, ok};
use super::state::MockPlatform;
use super::{json_body, str_field};

/// Users who may receive 客服 messages within a minute of these events, 3 messages (PROTOCOL §9.1).
const EVENT_WINDOW_SECS: i64 = 60;
/// Messages allowed in the event window.
const EVENT_QUOTA: u32 = 3;
/// Longest remark (characters).
const MAX_REMARK_CHARS: usize = 30;
/// Most openids per `user/info/batchget`.
const MAX_BATCH: usize = 100;

/// A follower of the fake account. Deserializable for `POST /mock/followers`; only `openid` is
/// required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    /// The follower's openid.
    pub openid: String,
    /// Whether they follow the account now (default `true`).
    #[serde(default = "yes")]
    pub subscribed: bool,
    /// When they followed (Unix seconds); `None` becomes "now" when added.
    #[serde(default)]
    pub subscribe_time: Option<i64>,
    /// When they last sent a message (opens the 48 h 客服 window); `None`: never.
    #[serde(default)]
    pub last_message_at: Option<i64>,
    /// When they last subscribed, scanned a QR code or clicked a menu (opens a 1-minute window).
    #[serde(default)]
    pub last_event_at: Option<i64>,
    /// UnionID, if the account is bound to an open platform.
    #[serde(default)]
    pub unionid: Option<String>,
    /// Client language (default `zh_CN`).
    #[serde(default = "zh_cn")]
    pub language: String,
    /// The account's remark for them.
    #[serde(default)]
    pub remark: String,
    /// Nickname, shown only by OAuth `sns/userinfo` (`user/info` returns it empty, like the
    /// platform since 2021-12-27).
    #[serde(default)]
    pub nickname: String,
    /// How they followed (default `ADD_SCENE_QR_CODE`).
    #[serde(default = "default_scene")]
    pub subscribe_scene: String,
    /// QR scene id they followed through (0 if none).
    #[serde(default)]
    pub qr_scene: i64,
    /// QR scene string they followed through.
    #[serde(default)]
    pub qr_scene_str: String,
    /// Tags (`tags/members/batchtagging` edits this).
    #[serde(default)]
    pub tagid_list: Vec<i64>,
    /// Client OS for conditional menus: `"1"` iOS, `"2"` Android, `"3"` others; `None` unknown.
    #[serde(default)]
    pub client_platform_type: Option<String>,
}

fn yes() -> bool {
    true
}

fn zh_cn() -> String {
    "zh_CN".to_owned()
}

fn default_scene() -> String {
    "ADD_SCENE_QR_CODE".to_owned()
}

impl Follower {
    /// A subscribed follower with the defaults and no message yet.
    pub fn new(openid: impl Into<String>) -> Self {
        Self {
            openid: openid.into(),
            subscribed: true,
            subscribe_time: None,
            last_message_at: None,
            last_event_at: None,
            unionid: None,
            language: zh_cn(),
            remark: String::new(),
            nickname: String::new(),
            subscribe_scene: default_scene(),
            qr_scene: 0,
            qr_scene_str: String::new(),
            tagid_list: Vec::new(),
            client_platform_type: None,
        }
    }

    /// Set when the follower last sent a message.
    #[must_use]
    pub fn last_message_at(mut self, at: i64) -> Self {
        self.last_message_at = Some(at);
        self
    }

    /// Mark as not following (any more).
    #[must_use]
    pub fn unsubscribed(mut self) -> Self {
        self.subscribed = false;
        self
    }

    /// The `user/info` JSON for this follower.
    fn info_json(&self) -> Value {
        if !self.subscribed {
            let mut v = json!({ "subscribe": 0, "openid": self.openid });
            if let (Some(u), Some(o)) = (&self.unionid, v.as_object_mut()) {
                o.insert("unionid".to_owned(), json!(u));
            }
            return v;
        }
        let mut v = json!({
            "subscribe": 1,
            "openid": self.openid,
            "nickname": "",
            "sex": 0,
            "language": self.language,
            "city": "",
            "province": "",
            "country": "",
            "headimgurl": "",
            "subscribe_time": self.subscribe_time.unwrap_or_default(),
            "remark": self.remark,
            "groupid": 0,
            "tagid_list": self.tagid_list,
            "subscribe_scene": self.subscribe_scene,
            "qr_scene": self.qr_scene,
            "qr_scene_str": self.qr_scene_str,
        });
        if let (Some(u), Some(o)) = (&self.unionid, v.as_object_mut()) {
            o.insert("unionid".to_owned(), json!(u));
        }
        v
    }
}

/// What a follower did, for [`MockPlatform::record_user_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserEvent {
    /// Followed the account (opens a 1-minute 客服 window).
    Subscribe,
    /// Stopped following.
    Unsubscribe,
    /// Scanned a parametric QR code (opens a 1-minute window).
    Scan,
    /// Clicked a `click` / `scancode_push` / `scancode_waitmsg` menu button (1-minute window).
    MenuClick,
}

/// A follower with the platform's 客服 counters.
#[derive(Debug, Clone)]
pub(crate) struct FollowerRecord {
    pub(crate) info: Follower,
    sent_after_message: u32,
    sent_after_event: u32,
}

/// All followers, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Followers {
    list: Vec<FollowerRecord>,
    index: HashMap<String, usize>,
}

impl Followers {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn get(&self, openid: &str) -> Option<&FollowerRecord> {
        self.index.get(openid).and_then(|&i| self.list.get(i))
    }

    pub(crate) fn get_mut(&mut self, openid: &str) -> Option<&mut FollowerRecord> {
        let i = *self.index.get(openid)?;
        self.list.get_mut(i)
    }

    pub(crate) fn all(&self) -> Vec<Follower> {
        self.list.iter().map(|r| r.info.clone()).collect()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut FollowerRecord> {
        self.list.iter_mut()
    }

    /// Openids of subscribed followers matching `keep`, in order.
    pub(crate) fn subscribed_where(&self, keep: impl Fn(&Follower) -> bool) -> Vec<&str> {
        self.list
            .iter()
            .filter(|r| r.info.subscribed && keep(&r.info))
            .map(|r| r.info.openid.as_str())
            .collect()
    }

    pub(crate) fn upsert(&mut self, mut f: Follower, now: i64) {
        if f.subscribe_time.is_none() {
            f.subscribe_time = Some(now);
        }
        match self.get_mut(&f.openid) {
            Some(r) => {
                if r.info.last_message_at != f.last_message_at {
                    r.sent_after_message = 0;
                }
                if r.info.last_event_at != f.last_event_at {
                    r.sent_after_event = 0;
                }
                r.info = f;
            }
            None => {
                self.index.insert(f.openid.clone(), self.list.len());
                self.list.push(FollowerRecord {
                    info: f,
                    sent_after_message: 0,
                    sent_after_event: 0,
                });
            }
        }
    }

    fn entry(&mut self, openid: &str, at: i64) -> Option<&mut FollowerRecord> {
        if openid.is_empty() {
            return None;
        }
        if !self.index.contains_key(openid) {
            let mut f = Follower::new(openid);
            f.subscribe_time = Some(at);
            self.upsert(f, at);
        }
        self.get_mut(openid)
    }

    pub(crate) fn record_message(&mut self, openid: &str, at: i64) {
        if let Some(r) = self.entry(openid, at)
            && r.info.last_message_at.is_none_or(|t| t <= at)
        {
            r.info.last_message_at = Some(at);
            r.sent_after_message = 0;
        }
    }

    pub(crate) fn record_event(&mut self, openid: &str, event: UserEvent, at: i64) {
        let Some(r) = self.entry(openid, at) else {
            return;
        };
        match event {
            UserEvent::Unsubscribe => r.info.subscribed = false,
            UserEvent::Subscribe | UserEvent::Scan | UserEvent::MenuClick => {
                if event == UserEvent::Subscribe && !r.info.subscribed {
                    r.info.subscribed = true;
                    r.info.subscribe_time = Some(at);
                }
                r.info.last_event_at = Some(at);
                r.sent_after_event = 0;
            }
        }
    }

    /// A subscribed follower or 40003 (unknown) / 43004 (not following).
    pub(crate) fn subscribed(&self, openid: &str) -> Result<&FollowerRecord, WxError> {
        let r = self.get(openid).ok_or_else(|| WxError::new(40003))?;
        if r.info.subscribed {
            Ok(r)
        } else {
            Err(WxError::new(43004))
        }
    }

    /// Check the 客服 window of `openid` (45015 when closed) and, if `charge`, use one message of
    /// its quota (45047 when spent).
    pub(crate) fn custom_window(
        &mut self,
        openid: &str,
        now: i64,
        window_secs: i64,
        quota: u32,
        charge: bool,
    ) -> Result<(), WxError> {
        self.subscribed(openid)?;
        let Some(r) = self.get_mut(openid) else {
            return Err(WxError::new(40003));
        };
        let within = |at: Option<i64>, secs: i64| at.is_some_and(|t| now >= t && now - t < secs);
        let message_open = within(r.info.last_message_at, window_secs);
        let event_open = within(r.info.last_event_at, EVENT_WINDOW_SECS);
        if !message_open && !event_open {
            return Err(WxError::new(45015));
        }
        if !charge {
            return Ok(());
        }
        if message_open && r.sent_after_message < quota {
            r.sent_after_message += 1;
            Ok(())
        } else if event_open && r.sent_after_event < EVENT_QUOTA {
            r.sent_after_event += 1;
            Ok(())
        } else {
            Err(WxError::new(45047))
        }
    }
}

/// One page of openids after `next` (exclusive), in the `user/get` shape.
/// `all` is the full order (to locate `next`), `listed` the openids that may appear.
pub(crate) fn page(
    all: &[&str],
    listed: &[&str],
    next: Option<&str>,
    size: usize,
    total: Option<usize>,
) -> Result<Value, WxError> {
    let start = match next.filter(|n| !n.is_empty()) {
        None => 0,
        Some(n) => all
            .iter()
            .position(|o| *o == n)
            .map(|i| i + 1)
            .ok_or_else(|| WxError::new(40003))?,
    };
    let rank: HashMap<&str, usize> = all.iter().enumerate().map(|(i, o)| (*o, i)).collect();
    let openids: Vec<&str> = listed
        .iter()
        .filter(|o| rank.get(*o).is_some_and(|&i| i >= start))
        .take(size.max(1))
        .copied()
        .collect();
    let mut out = Map::new();
    if let Some(total) = total {
        out.insert("total".to_owned(), json!(total));
    }
    out.insert("count".to_owned(), json!(openids.len()));
    match openids.last() {
        Some(last) => {
            out.insert("next_openid".to_owned(), json!(last));
            out.insert("data".to_owned(), json!({ "openid": openids }));
        }
        None => {
            out.insert("next_openid".to_owned(), json!(""));
        }
    }
    Ok(Value::Object(out))
}

/// `GET /cgi-bin/user/info?openid=…&lang=zh_CN`
pub(crate) async fn info(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let openid = q
        .get("openid")
        .filter(|o| !o.is_empty())
        .ok_or_else(|| WxError::new(41009))?;
    let s = p.lock();
    let r = s.followers.get(openid).ok_or_else(|| WxError::new(40003))?;
    Ok(Json(r.info.info_json()))
}

/// `POST /cgi-bin/user/info/batchget` `{"user_list":[{"openid","lang"}]}` (≤ 100)
pub(crate) async fn batch_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let list = v
        .get("user_list")
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::new(47001))?;
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(WxError::new(40032));
    }
    let s = p.lock();
    let mut infos = Vec::with_capacity(list.len());
    for item in list {
        let openid = str_field(item, "openid").ok_or_else(|| WxError::new(47001))?;
        let r = s
            .followers
            .get(&openid)
            .ok_or_else(|| WxError::new(40003))?;
        infos.push(r.info.info_json());
    }
    Ok(Json(json!({ "user_info_list": infos })))
}

/// `GET /cgi-bin/user/get?next_openid=…`
pub(crate) async fn list(
    State(p): State<MockPlatform>,
    Query(q): Query<HashMap<String, String>>,
) -> WxResult {
    let size = p.config().follower_page_size;
    let s = p.lock();
    let all: Vec<&str> = s
        .followers
        .list
        .iter()
        .map(|r| r.info.openid.as_str())
        .collect();
    let listed = s.followers.subscribed_where(|_| true);
    let total = listed.len();
    page(
        &all,
        &listed,
        q.get("next_openid").map(String::as_str),
        size,
        Some(total),
    )
    .map(Json)
}

/// `POST /cgi-bin/user/info/updateremark` `{"openid","remark"}`
pub(crate) async fn update_remark(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let openid = str_field(&v, "openid").ok_or_else(|| WxError::new(41009))?;
    let remark = str_field(&v, "remark").unwrap_or_default();
    if remark.chars().count() > MAX_REMARK_CHARS {
        return Err(WxError::with_msg(45003, "remark size out of limit"));
    }
    let mut s = p.lock();
    let r = s
        .followers
        .get_mut(&openid)
        .ok_or_else(|| WxError::new(40003))?;
    r.info.remark = remark;
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_ends_with_an_empty_page_without_data() {
        let all = ["a", "b", "c"];
        let p1 = page(&all, &all, None, 2, Some(3)).unwrap();
        assert_eq!(
            p1,
            json!({"total":3,"count":2,"data":{"openid":["a","b"]},"next_openid":"b"})
        );
        let p2 = page(&all, &all, Some("b"), 2, Some(3)).unwrap();
        assert_eq!(
            p2,
            json!({"total":3,"count":1,"data":{"openid":["c"]},"next_openid":"c"})
        );
        let p3 = page(&all, &all, Some("c"), 2, Some(3)).unwrap();
        assert_eq!(p3, json!({"total":3,"count":0,"next_openid":""}));
        assert_eq!(
            page(&all, &all, Some("zz"), 2, None).unwrap_err().code,
            40003
        );
    }

    #[test]
    fn unsubscribed_follower_shows_only_openid() {
        let mut f = Follower::new("o1").unsubscribed();
        f.unionid = Some("u1".into());
        assert_eq!(
            f.info_json(),
            json!({"subscribe":0,"openid":"o1","unionid":"u1"})
        );
    }

    #[test]
    fn event_window_allows_three_messages_in_a_minute() {
        let mut fs = Followers::default();
        fs.record_event("o1", UserEvent::Subscribe, 1000);
        for _ in 0..3 {
            fs.custom_window("o1", 1030, 172_800, 5, true).unwrap();
        }
        assert_eq!(
            fs.custom_window("o1", 1030, 172_800, 5, true)
                .unwrap_err()
                .code,
            45047
        );
        assert_eq!(
            fs.custom_window("o1", 1060, 172_800, 5, false)
                .unwrap_err()
                .code,
            45015
        );
        fs.record_event("o1", UserEvent::Unsubscribe, 1100);
        assert_eq!(
            fs.custom_window("o1", 1100, 172_800, 5, false)
                .unwrap_err()
                .code,
            43004
        );
    }

    #[test]
    fn message_window_quota_restarts_with_each_message() {
        let mut fs = Followers::default();
        fs.record_message("o1", 0);
        for _ in 0..5 {
            fs.custom_window("o1", 10, 172_800, 5, true).unwrap();
        }
        assert_eq!(
            fs.custom_window("o1", 10, 172_800, 5, true)
                .unwrap_err()
                .code,
            45047
        );
        fs.record_message("o1", 20);
        fs.custom_window("o1", 21, 172_800, 5, true).unwrap();
    }
}
