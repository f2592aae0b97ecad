//! User tags (标签管理): create, list, rename, delete, tag / untag users (≤ 50 a call), a user's tags, a tag's users.
//!
//! Tags 0, 1 and 2 are reserved by the platform (45058); an account has at most 100 tags (45056).

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req, decode, decode_ok};
use crate::error::ApiError;
use crate::user::{FollowerPage, RawPage};

/// Most openids per tag / untag call.
pub const MAX_TAG_USERS: usize = 50;
/// Most characters in a tag name.
pub const MAX_TAG_NAME_CHARS: usize = 30;

/// A tag (`tags/create`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Tag {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
}

/// A tag with its follower count (`tags/get`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct TagInfo {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
    /// Followers with this tag.
    #[serde(default)]
    pub count: u64,
}

#[derive(Deserialize)]
struct TagResponse {
    tag: Tag,
}

#[derive(Deserialize)]
struct TagsResponse {
    #[serde(default)]
    tags: Vec<TagInfo>,
}

#[derive(Deserialize)]
struct IdListResponse {
    #[serde(default)]
    tagid_list: Vec<i64>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_TAG_NAME_CHARS {
        return Err(ApiError::Validation(format!(
            "tag name must be 1 to {MAX_TAG_NAME_CHARS} characters, got {n}"
        )));
    }
    Ok(())
}

fn check_not_reserved(id: i64) -> Result<(), ApiError> {
    if (0..=2).contains(&id) {
        return Err(ApiError::Validation(format!(
            "tag {id} is a system tag and cannot be changed or deleted"
        )));
    }
    Ok(())
}

fn check_users(openids: &[&str]) -> Result<(), ApiError> {
    if openids.is_empty() || openids.len() > MAX_TAG_USERS {
        return Err(ApiError::Validation(format!(
            "tagging takes 1 to {MAX_TAG_USERS} openids, got {}",
            openids.len()
        )));
    }
    Ok(())
}

impl Client {
    /// `POST tags/create`. Not repeated on `-1` (a repeat would fail with 45157 name exists).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for an empty or too long name; the platform's error.
    pub async fn tag_create(&self, name: &str) -> Result<Tag, ApiError> {
        check_name(name)?;
        let req = Req::post(
            "/cgi-bin/tags/create",
            &serde_json::json!({ "tag": { "name": name } }),
        )?;
        let r: TagResponse = self.inner.call(&req, decode).await?;
        Ok(r.tag)
    }

    /// `GET tags/get`: every tag with its count.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn tags(&self) -> Result<Vec<TagInfo>, ApiError> {
        let r: TagsResponse = self
            .inner
            .call(&Req::get("/cgi-bin/tags/get"), decode)
            .await?;
        Ok(r.tags)
    }

    /// `POST tags/update`: rename a tag. Safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error.
    pub async fn tag_update(&self, id: i64, name: &str) -> Result<(), ApiError> {
        check_not_reserved(id)?;
        check_name(name)?;
        let req = Req::post(
            "/cgi-bin/tags/update",
            &serde_json::json!({ "tag": { "id": id, "name": name } }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST tags/delete`. Safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a system tag; the platform's error.
    pub async fn tag_delete(&self, id: i64) -> Result<(), ApiError> {
        check_not_reserved(id)?;
        let req = Req::post(
            "/cgi-bin/tags/delete",
            &serde_json::json!({ "tag": { "id": id } }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST tags/members/batchtagging`: give up to 50 users the tag. Safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`] for 0 or more than 50 openids; the platform's error.
    pub async fn tag_users(&self, tagid: i64, openids: &[&str]) -> Result<(), ApiError> {
        check_users(openids)?;
        let req = Req::post(
            "/cgi-bin/tags/members/batchtagging",
            &serde_json::json!({ "openid_list": openids, "tagid": tagid }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST tags/members/batchuntagging`: remove the tag from up to 50 users. Safe to repeat.
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error.
    pub async fn untag_users(&self, tagid: i64, openids: &[&str]) -> Result<(), ApiError> {
        check_users(openids)?;
        let req = Req::post(
            "/cgi-bin/tags/members/batchuntagging",
            &serde_json::json!({ "openid_list": openids, "tagid": tagid }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }

    /// `POST tags/getidlist`: the tag ids of one user.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn user_tags(&self, openid: &str) -> Result<Vec<i64>, ApiError> {
        let req = Req::post(
            "/cgi-bin/tags/getidlist",
            &serde_json::json!({ "openid": openid }),
        )?
        .safe();
        let r: IdListResponse = self.inner.call(&req, decode).await?;
        Ok(r.tagid_list)
    }

    /// `POST user/tag/get`: one page of the users with a tag, starting after `next_openid`.
    ///
    /// # Errors
    /// The platform's error.
    pub async fn tag_followers(
        &self,
        tagid: i64,
        next_openid: Option<&str>,
    ) -> Result<FollowerPage, ApiError> {
        let body =
            serde_json::json!({ "tagid": tagid, "next_openid": next_openid.unwrap_or_default() });
        let req = Req::post("/cgi-bin/user/tag/get", &body)?.safe();
        let raw: RawPage = self.inner.call(&req, decode).await?;
        Ok(raw.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(check_name("").is_err());
        assert!(check_name(&"标".repeat(31)).is_err());
        check_name(&"标".repeat(30)).unwrap();
        assert!(
            check_not_reserved(2)
                .unwrap_err()
                .to_string()
                .contains("system tag")
        );
        check_not_reserved(100).unwrap();
        let many: Vec<&str> = vec!["o"; 51];
        assert!(
            check_users(&many)
                .unwrap_err()
                .to_string()
                .contains("got 51")
        );
        assert!(check_users(&[]).is_err());
        check_users(&many[..50]).unwrap();
    }
}
