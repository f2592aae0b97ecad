//! 群发: `message/mass/sendall`, `send`, `preview`, `get`, `delete`, `speed/get|set`; jobs kept for `/mock/mass`.
//!
//! Checks: `msgtype` not mpnews / text / voice / image / mpvideo 40008; its content missing
//! 44003 / 44004; a media_id that is not a draft (mpnews), a permanent voice / image / video
//! 40007; `filter` without `is_to_all` or `tag_id` 40097 and an unknown tag 45159; `touser`
//! fewer than 2 40130, more than 10 000 40032; `clientmsgid` over 64 characters 45067; a
//! `clientmsgid` seen within [`CLIENTMSGID_WINDOW_SECS`] 45065 with the first job's `msg_id`
//! (nothing is sent again). A job is delivered at once to the subscribed followers it
//! targets (`SEND_SUCCESS`), and with a callback driver set `MASSSENDJOBFINISH` is pushed to
//! the server with the counts. Preview: the follower must follow (40003 / 43004).

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::announce::{announce, mass_finished};
use super::errors::{WxError, WxResult, ok, ok_with};
use super::media::MediaKind;
use super::state::{MockPlatform, State as PlatformState};
use super::{int_field, json_body, str_field, str_list};

/// How long a clientmsgid is remembered (the platform keeps them about a day).
pub const CLIENTMSGID_WINDOW_SECS: i64 = 24 * 3600;
/// Real speed (万/minute) of each level.
const REAL_SPEED: [u32; 5] = [80, 60, 45, 30, 10];

/// A mass job or preview as the mock recorded it (`GET /mock/mass`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MassJob {
    /// Its msg_id.
    pub msg_id: u64,
    /// Its msg_data_id (mpnews only).
    pub msg_data_id: Option<u64>,
    /// `sendall`, `send` or `preview`.
    pub api: String,
    /// The message type.
    pub msgtype: String,
    /// The clientmsgid it carried.
    pub clientmsgid: Option<String>,
    /// The openids it was delivered to.
    pub recipients: Vec<String>,
    /// `SEND_SUCCESS` or `DELETE`.
    pub msg_status: String,
    /// When it was accepted.
    pub at: i64,
    /// The request body as received.
    pub body: Value,
}

/// Mass jobs and the speed setting.
#[derive(Debug)]
pub(crate) struct MassState {
    pub(crate) jobs: Vec<MassJob>,
    pub(crate) speed: u8,
    next_id: u64,
}

impl Default for MassState {
    fn default() -> Self {
        Self {
            jobs: Vec::new(),
            speed: 0,
            next_id: 1_000_000_000,
        }
    }
}

/// Check the content of a mass body; the error for a missing or unknown one.
fn check_content(s: &PlatformState, v: &Value) -> Result<String, WxError> {
    let msgtype = str_field(v, "msgtype").unwrap_or_default();
    let part = v.get(msgtype.as_str());
    let media_id = || {
        part.and_then(|c| str_field(c, "media_id"))
            .filter(|m| !m.is_empty())
            .ok_or_else(|| WxError::new(44003))
    };
    match msgtype.as_str() {
        "mpnews" => {
            let id = media_id()?;
            s.drafts.get(&id)?;
        }
        "text" => {
            let text = part
                .and_then(|c| str_field(c, "content"))
                .unwrap_or_default();
            if text.trim().is_empty() {
                return Err(WxError::new(44004));
            }
        }
        "voice" | "mpvideo" => {
            let id = media_id()?;
            let kind = if msgtype == "voice" {
                MediaKind::Voice
            } else {
                MediaKind::Video
            };
            if !s.materials.is(&id, kind) {
                return Err(WxError::new(40007));
            }
        }
        "image" => {
            let ids = part.map(|c| str_list(c, "media_ids")).unwrap_or_default();
            if ids.is_empty() {
                return Err(WxError::new(44003));
            }
            if ids.iter().any(|i| !s.materials.is(i, MediaKind::Image)) {
                return Err(WxError::new(40007));
            }
        }
        _ => return Err(WxError::new(40008)),
    }
    Ok(msgtype)
}

/// Record a delivered job (the lock is held by the caller).
fn record(
    s: &mut PlatformState,
    api: &str,
    msgtype: String,
    clientmsgid: Option<String>,
    recipients: Vec<String>,
    now: i64,
    body: Value,
) -> (u64, Option<u64>) {
    s.mass.next_id += 1;
    let msg_id = s.mass.next_id;
    let msg_data_id = (msgtype == "mpnews").then_some(msg_id + 1_000_000_000);
    s.mass.jobs.push(MassJob {
        msg_id,
        msg_data_id,
        api: api.to_owned(),
        msgtype,
        clientmsgid,
        recipients,
        msg_status: "SEND_SUCCESS".to_owned(),
        at: now,
        body,
    });
    (msg_id, msg_data_id)
}

/// The clientmsgid of a send, checked (45067), and the earlier job with it (45065).
fn check_clientmsgid(s: &PlatformState, v: &Value, now: i64) -> Result<Option<String>, WxError> {
    let Some(id) = str_field(v, "clientmsgid").filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    if id.chars().count() > 64 {
        return Err(WxError::new(45067));
    }
    if let Some(earlier) = s.mass.jobs.iter().find(|j| {
        j.clientmsgid.as_deref() == Some(id.as_str()) && now - j.at < CLIENTMSGID_WINDOW_SECS
    }) {
        let mut err = WxError::new(45065);
        err.extra = Some(json!({ "msg_id": earlier.msg_id }));
        return Err(err);
    }
    Ok(Some(id))
}

fn sent(msg_id: u64, msg_data_id: Option<u64>) -> axum::Json<Value> {
    let mut out =
        json!({ "errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id });
    if let Some(d) = msg_data_id {
        out["msg_data_id"] = json!(d);
    }
    axum::Json(out)
}

/// `POST /cgi-bin/message/mass/sendall` `{"filter":{"is_to_all"|"tag_id"},"msgtype",…,"clientmsgid"}`
pub(crate) async fn send_all(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let now = p.now();
    let mut s = p.lock();
    let msgtype = check_content(&s, &v)?;
    let filter = v.get("filter").ok_or_else(|| WxError::new(40097))?;
    let to_all = filter
        .get("is_to_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let recipients: Vec<String> = if to_all {
        s.followers.subscribed_where(|_| true)
    } else {
        let tag = int_field(filter, "tag_id").ok_or_else(|| WxError::new(40097))?;
        if !s.tags.exists(tag) {
            return Err(WxError::new(45159));
        }
        s.followers
            .subscribed_where(|f| f.tagid_list.contains(&tag))
    }
    .into_iter()
    .map(str::to_owned)
    .collect();
    let clientmsgid = check_clientmsgid(&s, &v, now)?;
    let n = recipients.len() as u64;
    let (id, data) = record(&mut s, "sendall", msgtype, clientmsgid, recipients, now, v);
    drop(s);
    announce(&p, mass_finished(id, n));
    Ok(sent(id, data))
}

/// `POST /cgi-bin/message/mass/send` `{"touser":[…],"msgtype",…,"clientmsgid"}`
pub(crate) async fn send_list(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let now = p.now();
    let mut s = p.lock();
    let msgtype = check_content(&s, &v)?;
    let list = str_list(&v, "touser");
    if list.len() < 2 {
        return Err(WxError::new(40130));
    }
    if list.len() > 10_000 {
        return Err(WxError::new(40032));
    }
    let recipients: Vec<String> = list
        .into_iter()
        .filter(|o| s.followers.subscribed(o).is_ok())
        .collect();
    let clientmsgid = check_clientmsgid(&s, &v, now)?;
    let n = recipients.len() as u64;
    let (id, data) = record(&mut s, "send", msgtype, clientmsgid, recipients, now, v);
    drop(s);
    announce(&p, mass_finished(id, n));
    Ok(sent(id, data))
}

/// `POST /cgi-bin/message/mass/preview` `{"touser"|"towxname","msgtype",…}`
pub(crate) async fn preview(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let now = p.now();
    let mut s = p.lock();
    let msgtype = check_content(&s, &v)?;
    let to = match (str_field(&v, "touser"), str_field(&v, "towxname")) {
        (Some(openid), _) if !openid.is_empty() => {
            s.followers.subscribed(&openid)?;
            openid
        }
        (_, Some(name)) if !name.is_empty() => name,
        _ => return Err(WxError::new(40003)),
    };
    let (id, _) = record(&mut s, "preview", msgtype, None, vec![to], now, v);
    Ok(ok_with(
        json!({ "errmsg": "preview success", "msg_id": id }),
    ))
}

fn job_mut(s: &mut PlatformState, v: &Value) -> Result<usize, WxError> {
    let id = int_field(v, "msg_id").ok_or_else(|| WxError::new(40097))?;
    s.mass
        .jobs
        .iter()
        .position(|j| i64::try_from(j.msg_id).ok() == Some(id) && j.api != "preview")
        .ok_or_else(|| WxError::with_msg(40097, "invalid args: unknown msg_id"))
}

/// `POST /cgi-bin/message/mass/get` `{"msg_id"}` → `{"msg_id","msg_status"}`
pub(crate) async fn get_job(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let mut s = p.lock();
    let i = job_mut(&mut s, &v)?;
    let job = &s.mass.jobs[i];
    Ok(axum::Json(
        json!({ "msg_id": job.msg_id, "msg_status": job.msg_status }),
    ))
}

/// `POST /cgi-bin/message/mass/delete` `{"msg_id","article_idx"?}`: mpnews and mpvideo only.
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let mut s = p.lock();
    let i = job_mut(&mut s, &v)?;
    let job = &mut s.mass.jobs[i];
    if job.msgtype != "mpnews" && job.msgtype != "mpvideo" {
        return Err(WxError::with_msg(
            40097,
            "invalid args: only mpnews and mpvideo sends can be deleted",
        ));
    }
    if int_field(&v, "article_idx").unwrap_or(0) == 0 {
        job.msg_status = "DELETE".to_owned();
    }
    Ok(ok())
}

/// `POST /cgi-bin/message/mass/speed/get` → `{"speed","realspeed"}`
pub(crate) async fn speed_get(State(p): State<MockPlatform>) -> WxResult {
    let speed = p.lock().mass.speed;
    Ok(axum::Json(
        json!({ "speed": speed, "realspeed": REAL_SPEED[usize::from(speed)] }),
    ))
}

/// `POST /cgi-bin/message/mass/speed/set` `{"speed"}`: 0–4 (45083), missing 45084.
pub(crate) async fn speed_set(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let speed = int_field(&v, "speed").ok_or_else(|| WxError::new(45084))?;
    let speed = u8::try_from(speed)
        .ok()
        .filter(|s| *s <= 4)
        .ok_or_else(|| WxError::new(45083))?;
    p.lock().mass.speed = speed;
    Ok(ok())
}
