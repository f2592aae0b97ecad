//! 发布: `freepublish/submit`, `get`, `batchget`, `getarticle`, `delete`; a job is "publishing" on its first poll, then published.
//!
//! With a callback driver set ([`MockPlatform::set_driver`]), a submitted job is published at
//! once and `PUBLISHJOBFINISH` is pushed to the server.
//!
//! Checks: an unknown draft 40007; an unknown publish_id 40097; an unknown article_id 53600.
//! Publishing moves the draft out of the draft box into the published list (as the platform
//! does), with an `article_id` and one URL per article.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::announce::{announce, publish_finished};
use super::draft::{news_items, page_args, without_content};
use super::errors::{WxError, WxResult, ok, ok_with};
use super::state::{MockPlatform, State as PlatformState, random_string};
use super::{int_field, json_body, str_field};

/// A publish job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishJob {
    /// Its publish_id.
    pub publish_id: String,
    /// The draft it publishes.
    pub media_id: String,
    /// 1 publishing, 0 published.
    pub publish_status: i64,
    /// The post, once published.
    pub article_id: Option<String>,
    /// Its articles.
    #[serde(skip)]
    pub(crate) articles: Vec<Value>,
}

/// A published post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedPost {
    /// Its article_id.
    pub article_id: String,
    /// Its articles (`is_deleted` set on deleted ones).
    pub articles: Vec<Value>,
    /// When it was published.
    pub update_time: i64,
    /// Order (the list is newest first).
    #[serde(skip)]
    pub(crate) seq: u64,
}

/// Publish jobs and published posts.
#[derive(Debug, Default)]
pub(crate) struct Publishing {
    pub(crate) jobs: BTreeMap<String, PublishJob>,
    pub(crate) posts: BTreeMap<String, PublishedPost>,
    next_id: u64,
}

impl Publishing {
    fn newest_first(&self) -> Vec<&PublishedPost> {
        let mut all: Vec<&PublishedPost> = self.posts.values().collect();
        all.sort_by_key(|x| std::cmp::Reverse(x.seq));
        all
    }

    /// A published post or 53600.
    pub(crate) fn post(&self, article_id: &str) -> Result<&PublishedPost, WxError> {
        self.posts
            .get(article_id)
            .ok_or_else(|| WxError::new(53600))
    }
}

fn article_urls(article_id: &str, n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| json!({ "idx": i, "article_url": format!("https://mp.weixin.qq.com/s/{article_id}_{i}") }))
        .collect()
}

/// `POST /cgi-bin/freepublish/submit` `{"media_id"}` → `{"publish_id","msg_data_id"}`
pub(crate) async fn submit(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let media_id = str_field(&v, "media_id").unwrap_or_default();
    let has_driver = p.driver().is_some();
    let mut s = p.lock();
    let draft = s.drafts.get(&media_id)?.clone();
    s.publishing.next_id += 1;
    let publish_id = (2_247_483_647 + s.publishing.next_id).to_string();
    s.publishing.jobs.insert(
        publish_id.clone(),
        PublishJob {
            publish_id: publish_id.clone(),
            media_id,
            publish_status: 1,
            article_id: None,
            articles: draft.articles,
        },
    );
    if has_driver {
        // With a server to tell, the job finishes at once and PUBLISHJOBFINISH is pushed.
        let now = p.now();
        if let Some(info) = complete(&mut s, &publish_id, now) {
            drop(s);
            announce(&p, publish_finished(info));
        }
    }
    Ok(ok_with(
        json!({ "publish_id": publish_id, "msg_data_id": 2_247_483_647_u64 + 7 }),
    ))
}

/// Finish publish job `publish_id` (published): the post is created and the draft leaves
/// the draft box. Returns the `PUBLISHJOBFINISH` fields, or `None` if the job is unknown or over.
fn complete(s: &mut PlatformState, publish_id: &str, now: i64) -> Option<Value> {
    let job = s.publishing.jobs.get_mut(publish_id)?;
    if job.publish_status != 1 {
        return None;
    }
    let article_id = random_string(40);
    job.publish_status = 0;
    job.article_id = Some(article_id.clone());
    let articles = job.articles.clone();
    let media_id = job.media_id.clone();
    s.drafts.by_id.remove(&media_id);
    s.publishing.next_id += 1;
    let seq = s.publishing.next_id;
    let n = articles.len();
    s.publishing.posts.insert(
        article_id.clone(),
        PublishedPost {
            article_id: article_id.clone(),
            articles,
            update_time: now,
            seq,
        },
    );
    Some(json!({
        "publish_id": publish_id,
        "publish_status": 0,
        "article_id": article_id,
        "article_detail": { "count": n, "item": article_urls(&article_id, n) },
    }))
}

/// `POST /cgi-bin/freepublish/get` `{"publish_id"}`: 1 (publishing) on the first poll, then 0.
pub(crate) async fn get_status(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let publish_id = str_field(&v, "publish_id").unwrap_or_default();
    let now = p.now();
    let mut guard = p.lock();
    let s = &mut *guard;
    let job = s
        .publishing
        .jobs
        .get_mut(&publish_id)
        .ok_or_else(|| WxError::with_msg(40097, "invalid args: unknown publish_id"))?;
    if job.publish_status == 1 && job.article_id.is_none() {
        // The first poll sees the job running; it completes right after.
        job.article_id = Some(String::new());
        return Ok(ok_with(
            json!({ "publish_id": publish_id, "publish_status": 1, "fail_idx": [] }),
        ));
    }
    complete(s, &publish_id, now);
    let Some(job) = s.publishing.jobs.get(&publish_id) else {
        return Err(WxError::new(40097));
    };
    let article_id = job.article_id.clone().unwrap_or_default();
    let n = job.articles.len();
    Ok(ok_with(json!({
        "publish_id": publish_id,
        "publish_status": job.publish_status,
        "article_id": article_id,
        "article_detail": { "count": n, "item": article_urls(&article_id, n) },
        "fail_idx": [],
    })))
}

/// `POST /cgi-bin/freepublish/batchget` `{"offset","count","no_content"}`
pub(crate) async fn batch_get(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let (offset, count, no_content) = page_args(&v)?;
    let s = p.lock();
    let all = s.publishing.newest_first();
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(count)
        .map(|post| {
            let mut news = news_items(&post.article_id, &post.articles);
            if no_content {
                news = without_content(news);
            }
            json!({ "article_id": post.article_id, "content": { "news_item": news }, "update_time": post.update_time })
        })
        .collect();
    Ok(ok_with(json!({
        "total_count": all.len(),
        "item_count": items.len(),
        "item": items,
    })))
}

/// `POST /cgi-bin/freepublish/getarticle` `{"article_id"}` → `{"news_item":[…]}`
pub(crate) async fn get_article(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let article_id = str_field(&v, "article_id").unwrap_or_default();
    let s = p.lock();
    let post = s.publishing.post(&article_id)?;
    Ok(ok_with(
        json!({ "news_item": news_items(&post.article_id, &post.articles) }),
    ))
}

/// `POST /cgi-bin/freepublish/delete` `{"article_id","index"}` (index 0 or absent: every article).
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let article_id = str_field(&v, "article_id").unwrap_or_default();
    let index = int_field(&v, "index").unwrap_or(0);
    let mut s = p.lock();
    s.publishing.post(&article_id)?;
    let Some(post) = s.publishing.posts.get_mut(&article_id) else {
        return Err(WxError::new(53600));
    };
    if index == 0 {
        for a in &mut post.articles {
            a["is_deleted"] = json!(true);
        }
    } else {
        let slot = usize::try_from(index - 1)
            .ok()
            .and_then(|i| post.articles.get_mut(i))
            .ok_or_else(|| WxError::with_msg(40097, "invalid args: index out of range"))?;
        slot["is_deleted"] = json!(true);
    }
    Ok(ok())
}
