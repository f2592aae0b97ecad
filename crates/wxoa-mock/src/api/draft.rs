//! 草稿箱: `draft/add`, `update`, `get`, `batchget`, `delete`, `count`, with the platform's checks.
//!
//! Checks: `articles` missing or empty 44003, more than 8 40097 (the platform answers
//! "invalid args"); a title empty 44003 or over 32 characters 45003, an author over 16 45110,
//! a digest over 128 45111 (the mock's codes for them: 45003 and 45002), `content` empty
//! 44004 or over 1 MB 45002, `thumb_media_id` not a permanent image or thumb material 40007;
//! an unknown draft 40007; an update `index` past the last article 40097; `batchget` count
//! outside 1–20 40097.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::{MockPlatform, State as PlatformState, random_string};
use super::{int_field, json_body, str_field};

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MockDraft {
    /// Its media_id.
    pub media_id: String,
    /// Its articles as sent (each an object).
    pub articles: Vec<Value>,
    /// Last change (Unix seconds).
    pub update_time: i64,
    /// Order of creation (the list is newest first).
    #[serde(skip)]
    pub(crate) seq: u64,
}

/// The drafts of the account.
#[derive(Debug, Default)]
pub(crate) struct Drafts {
    pub(crate) by_id: BTreeMap<String, MockDraft>,
    next_seq: u64,
}

impl Drafts {
    /// A draft or 40007.
    pub(crate) fn get(&self, media_id: &str) -> Result<&MockDraft, WxError> {
        self.by_id.get(media_id).ok_or_else(|| WxError::new(40007))
    }

    /// Newest first.
    pub(crate) fn newest_first(&self) -> Vec<&MockDraft> {
        let mut all: Vec<&MockDraft> = self.by_id.values().collect();
        all.sort_by_key(|x| std::cmp::Reverse(x.seq));
        all
    }
}

/// Most articles in a draft.
const MAX_ARTICLES: usize = 8;

/// Check one article like the platform; returns it with the answer-only fields added.
pub(crate) fn check_article(s: &PlatformState, a: &Value) -> Result<Value, WxError> {
    if !a.is_object() {
        return Err(WxError::new(47001));
    }
    let chars = |name: &str| str_field(a, name).map_or(0, |v| v.chars().count());
    let title = str_field(a, "title").unwrap_or_default();
    if title.trim().is_empty() {
        return Err(WxError::new(44003));
    }
    if chars("title") > 32 {
        return Err(WxError::new(45003));
    }
    if chars("author") > 16 || chars("digest") > 128 {
        return Err(WxError::with_msg(
            45002,
            "author or digest size out of limit",
        ));
    }
    let content = str_field(a, "content").unwrap_or_default();
    if content.trim().is_empty() {
        return Err(WxError::new(44004));
    }
    if content.len() > 1024 * 1024 {
        return Err(WxError::new(45002));
    }
    let thumb = str_field(a, "thumb_media_id").unwrap_or_default();
    if !s.materials.is_cover(&thumb) {
        return Err(WxError::with_msg(
            40007,
            "invalid media_id (thumb_media_id must be a permanent image material)",
        ));
    }
    Ok(a.clone())
}

/// The articles as the platform answers them (with a preview `url`).
pub(crate) fn news_items(media_id: &str, articles: &[Value]) -> Value {
    let items: Vec<Value> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut a = a.clone();
            a["url"] = json!(format!(
                "http://mp.weixin.qq.com/s?__biz=MOCK&mid={media_id}&idx={}",
                i + 1
            ));
            a
        })
        .collect();
    json!(items)
}

/// `POST /cgi-bin/draft/add` `{"articles":[…]}` → `{"media_id"}`
pub(crate) async fn add(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let list = match v.get("articles") {
        Some(Value::Array(l)) if !l.is_empty() => l.clone(),
        _ => return Err(WxError::new(44003)),
    };
    if list.len() > MAX_ARTICLES {
        return Err(WxError::with_msg(40097, "invalid args: at most 8 articles"));
    }
    let now = p.now();
    let mut s = p.lock();
    let articles = list
        .iter()
        .map(|a| check_article(&s, a))
        .collect::<Result<Vec<_>, _>>()?;
    let media_id = random_string(43);
    s.drafts.next_seq += 1;
    let seq = s.drafts.next_seq;
    s.drafts.by_id.insert(
        media_id.clone(),
        MockDraft {
            media_id: media_id.clone(),
            articles,
            update_time: now,
            seq,
        },
    );
    Ok(ok_with(json!({ "media_id": media_id })))
}

/// `POST /cgi-bin/draft/update` `{"media_id","index","articles":{…}}`
pub(crate) async fn update(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let media_id = str_field(&v, "media_id").unwrap_or_default();
    let index = int_field(&v, "index").ok_or_else(|| WxError::new(40097))?;
    let article = v.get("articles").ok_or_else(|| WxError::new(44003))?;
    let now = p.now();
    let mut s = p.lock();
    let checked = check_article(&s, article)?;
    let draft = s
        .drafts
        .by_id
        .get_mut(&media_id)
        .ok_or_else(|| WxError::new(40007))?;
    let slot = usize::try_from(index)
        .ok()
        .and_then(|i| draft.articles.get_mut(i))
        .ok_or_else(|| WxError::with_msg(40097, "invalid args: index out of range"))?;
    *slot = checked;
    draft.update_time = now;
    Ok(ok())
}

/// `POST /cgi-bin/draft/get` `{"media_id"}` → `{"news_item":[…]}`
pub(crate) async fn get_draft(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let media_id = str_field(&v, "media_id").unwrap_or_default();
    let s = p.lock();
    let d = s.drafts.get(&media_id)?;
    Ok(ok_with(
        json!({ "news_item": news_items(&d.media_id, &d.articles) }),
    ))
}

/// `POST /cgi-bin/draft/delete` `{"media_id"}`
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let media_id = str_field(&v, "media_id").unwrap_or_default();
    p.lock()
        .drafts
        .by_id
        .remove(&media_id)
        .ok_or_else(|| WxError::new(40007))?;
    Ok(ok())
}

/// `GET /cgi-bin/draft/count` → `{"total_count"}`
pub(crate) async fn count(State(p): State<MockPlatform>) -> WxResult {
    let n = p.lock().drafts.by_id.len();
    Ok(ok_with(json!({ "total_count": n })))
}

/// Offset and count of a `batchget` body (count 1–20, else 40097).
pub(crate) fn page_args(v: &Value) -> Result<(usize, usize, bool), WxError> {
    let offset = int_field(v, "offset").unwrap_or(0);
    let count = int_field(v, "count").unwrap_or(0);
    if offset < 0 || !(1..=20).contains(&count) {
        return Err(WxError::with_msg(
            40097,
            "invalid args: count must be 1 to 20",
        ));
    }
    let no_content = int_field(v, "no_content").unwrap_or(0) == 1;
    Ok((
        usize::try_from(offset).unwrap_or(usize::MAX),
        usize::try_from(count).unwrap_or(20),
        no_content,
    ))
}

/// Articles with their bodies blanked (for `no_content`).
pub(crate) fn without_content(items: Value) -> Value {
    match items {
        Value::Array(l) => Value::Array(
            l.into_iter()
                .map(|mut a| {
                    if let Some(o) = a.as_object_mut() {
                        o.remove("content");
                    }
                    a
                })
                .collect(),
        ),
        other => other,
    }
}

/// `POST /cgi-bin/draft/batchget` `{"offset","count","no_content"}`
pub(crate) async fn batch_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let (offset, count, no_content) = page_args(&v)?;
    let s = p.lock();
    let all = s.drafts.newest_first();
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(count)
        .map(|d| {
            let mut news = news_items(&d.media_id, &d.articles);
            if no_content {
                news = without_content(news);
            }
            json!({ "media_id": d.media_id, "content": { "news_item": news }, "update_time": d.update_time })
        })
        .collect();
    Ok(ok_with(json!({
        "total_count": all.len(),
        "item_count": items.len(),
        "item": items,
    })))
}
