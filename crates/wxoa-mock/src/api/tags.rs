//! User tags: `tags/create|get|update|delete`, `tags/members/batchtagging|batchuntagging`, `tags/getidlist`, `user/tag/get`.
//!
//! Like the platform: ids 0–2 are system tags (45058 on change; `tags/get` lists 2 "星标组"),
//! at most 100 tags (45056), names 1–30 characters and unique (45158 / 45157), unknown id 45159,
//! 1–50 openids per tagging call (40032), at most 20 tags per user (45059).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok};
use super::state::MockPlatform;
use super::user::page;
use super::{int_field, json_body, str_field};

const MAX_TAGS: usize = 100;
const MAX_NAME_CHARS: usize = 30;
const MAX_USERS_PER_CALL: usize = 50;
const MAX_TAGS_PER_USER: usize = 20;
/// The system tag every account has.
const STAR_TAG: (i64, &str) = (2, "星标组");
/// First id handed to a created tag.
const FIRST_TAG_ID: i64 = 100;

/// The account's own tags (the system tag is implicit).
#[derive(Debug)]
pub(crate) struct TagState {
    names: BTreeMap<i64, String>,
    next_id: i64,
}

impl Default for TagState {
    fn default() -> Self {
        Self {
            names: BTreeMap::new(),
            next_id: FIRST_TAG_ID,
        }
    }
}

impl TagState {
    /// Whether `id` can be given to users (a created tag or the system tag).
    pub(crate) fn exists(&self, id: i64) -> bool {
        id == STAR_TAG.0 || self.names.contains_key(&id)
    }

    fn check_name(&self, name: &str, except: Option<i64>) -> Result<(), WxError> {
        let n = name.trim().chars().count();
        if n == 0 {
            return Err(WxError::new(45157));
        }
        if n > MAX_NAME_CHARS {
            return Err(WxError::new(45158));
        }
        let taken = name == STAR_TAG.1
            || self
                .names
                .iter()
                .any(|(id, existing)| existing == name && Some(*id) != except);
        if taken {
            return Err(WxError::new(45157));
        }
        Ok(())
    }
}

fn tag_object(v: &Value) -> Result<&Value, WxError> {
    v.get("tag")
        .filter(|t| t.is_object())
        .ok_or_else(|| WxError::new(47001))
}

fn user_tag_id(v: &Value, s: &TagState) -> Result<i64, WxError> {
    let id = int_field(v, "id").ok_or_else(|| WxError::new(47001))?;
    if (0..=2).contains(&id) {
        return Err(WxError::new(45058));
    }
    if !s.names.contains_key(&id) {
        return Err(WxError::new(45159));
    }
    Ok(id)
}

/// `POST /cgi-bin/tags/create` `{"tag":{"name"}}`
pub(crate) async fn create(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let name = str_field(tag_object(&v)?, "name").ok_or_else(|| WxError::new(47001))?;
    let mut s = p.lock();
    s.tags.check_name(&name, None)?;
    if s.tags.names.len() >= MAX_TAGS {
        return Err(WxError::new(45056));
    }
    let id = s.tags.next_id;
    s.tags.next_id += 1;
    s.tags.names.insert(id, name.clone());
    Ok(Json(json!({ "tag": { "id": id, "name": name } })))
}

/// `GET /cgi-bin/tags/get`
pub(crate) async fn list(State(p): State<MockPlatform>) -> WxResult {
    let s = p.lock();
    let count = |id: i64| {
        s.followers
            .subscribed_where(|f| f.tagid_list.contains(&id))
            .len()
    };
    let mut tags =
        vec![json!({ "id": STAR_TAG.0, "name": STAR_TAG.1, "count": count(STAR_TAG.0) })];
    tags.extend(
        s.tags
            .names
            .iter()
            .map(|(id, name)| json!({ "id": id, "name": name, "count": count(*id) })),
    );
    Ok(Json(json!({ "tags": tags })))
}

/// `POST /cgi-bin/tags/update` `{"tag":{"id","name"}}`
pub(crate) async fn update(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let tag = tag_object(&v)?;
    let name = str_field(tag, "name").ok_or_else(|| WxError::new(47001))?;
    let mut s = p.lock();
    let id = user_tag_id(tag, &s.tags)?;
    s.tags.check_name(&name, Some(id))?;
    s.tags.names.insert(id, name);
    Ok(ok())
}

/// `POST /cgi-bin/tags/delete` `{"tag":{"id"}}`: also untags every follower.
pub(crate) async fn delete(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let mut s = p.lock();
    let id = user_tag_id(tag_object(&v)?, &s.tags)?;
    s.tags.names.remove(&id);
    for r in s.followers.iter_mut() {
        r.info.tagid_list.retain(|t| *t != id);
    }
    Ok(ok())
}

fn members_request(v: &Value, s: &super::state::State) -> Result<(i64, Vec<String>), WxError> {
    let list = v
        .get("openid_list")
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::new(47001))?;
    if list.is_empty() || list.len() > MAX_USERS_PER_CALL {
        return Err(WxError::new(40032));
    }
    let tagid = int_field(v, "tagid").ok_or_else(|| WxError::new(47001))?;
    if !s.tags.exists(tagid) {
        return Err(WxError::new(45159));
    }
    let mut openids = Vec::with_capacity(list.len());
    for o in list {
        let openid = o.as_str().ok_or_else(|| WxError::new(47001))?;
        if s.followers.get(openid).is_none() {
            return Err(WxError::new(40003));
        }
        openids.push(openid.to_owned());
    }
    Ok((tagid, openids))
}

/// `POST /cgi-bin/tags/members/batchtagging` `{"openid_list":[…],"tagid"}`
pub(crate) async fn tag_users(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let mut s = p.lock();
    let (tagid, openids) = members_request(&v, &s)?;
    let full = openids.iter().any(|o| {
        s.followers.get(o).is_some_and(|r| {
            !r.info.tagid_list.contains(&tagid) && r.info.tagid_list.len() >= MAX_TAGS_PER_USER
        })
    });
    if full {
        return Err(WxError::new(45059));
    }
    for o in &openids {
        if let Some(r) = s.followers.get_mut(o)
            && !r.info.tagid_list.contains(&tagid)
        {
            r.info.tagid_list.push(tagid);
        }
    }
    Ok(ok())
}

/// `POST /cgi-bin/tags/members/batchuntagging` `{"openid_list":[…],"tagid"}`
pub(crate) async fn untag_users(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let mut s = p.lock();
    let (tagid, openids) = members_request(&v, &s)?;
    for o in &openids {
        if let Some(r) = s.followers.get_mut(o) {
            r.info.tagid_list.retain(|t| *t != tagid);
        }
    }
    Ok(ok())
}

/// `POST /cgi-bin/tags/getidlist` `{"openid"}`
pub(crate) async fn user_tags(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let openid = str_field(&v, "openid").ok_or_else(|| WxError::new(41009))?;
    let s = p.lock();
    let r = s
        .followers
        .get(&openid)
        .ok_or_else(|| WxError::new(40003))?;
    Ok(Json(json!({ "tagid_list": r.info.tagid_list })))
}

/// `POST /cgi-bin/user/tag/get` `{"tagid","next_openid"}`
pub(crate) async fn tag_followers(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    let v = json_body(&body)?;
    let tagid = int_field(&v, "tagid").ok_or_else(|| WxError::new(47001))?;
    let next = str_field(&v, "next_openid");
    let size = p.config().follower_page_size;
    let s = p.lock();
    if !s.tags.exists(tagid) {
        return Err(WxError::new(45159));
    }
    let all = s.followers.subscribed_where(|_| true);
    let listed = s
        .followers
        .subscribed_where(|f| f.tagid_list.contains(&tagid));
    page(&all, &listed, next.as_deref(), size, None).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_length_and_uniqueness() {
        let mut t = TagState::default();
        t.names.insert(100, "广东".into());
        assert_eq!(t.check_name("", None).unwrap_err().code, 45157);
        assert_eq!(
            t.check_name(&"标".repeat(31), None).unwrap_err().code,
            45158
        );
        assert_eq!(t.check_name("广东", None).unwrap_err().code, 45157);
        assert_eq!(t.check_name("星标组", None).unwrap_err().code, 45157);
        t.check_name("广东", Some(100)).unwrap();
        t.check_name(&"标".repeat(30), None).unwrap();
        assert!(t.exists(2) && t.exists(100) && !t.exists(101));
    }
}
