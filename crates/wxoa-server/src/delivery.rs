//! Delivery outside the passive reply: results that missed the 5-second window (or text past
//! the 2047-byte limit) are sent by 客服消息, or parked for the follower's next message when
//! that is not possible (no AppSecret, no permission — 48001 —, or the 48-hour window closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use wxoa_api::StoreError;
use wxoa_api::custom::{CustomBody, CustomMessage, Music, NewsArticle, Video};
use wxoa_proto::reply::Reply;
use wxoa_store::{DEFAULT_PARKED_MAX_AGE, Parked, ParkingBackend};

use crate::actions::{LaterSender, ServiceError};
use crate::clock::Clock;
use crate::codec::{reply_from_json, reply_to_json};

/// Parked results in this process's memory (when no store is configured, and in tests).
#[derive(Debug)]
pub struct MemoryParking {
    parked: Mutex<HashMap<(String, String), Vec<Parked>>>,
    clock: Arc<dyn Clock>,
}

impl MemoryParking {
    /// An empty parking lot reading time from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            parked: Mutex::new(HashMap::new()),
            clock,
        }
    }
}

#[async_trait]
impl ParkingBackend for MemoryParking {
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((appid.to_owned(), openid.to_owned()))
            .or_default()
            .push(Parked {
                rule: rule.to_owned(),
                answer: answer_json.to_owned(),
                created_at,
            });
        Ok(())
    }

    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError> {
        let oldest = self.clock.now_unix()
            - i64::try_from(DEFAULT_PARKED_MAX_AGE.as_secs()).unwrap_or(i64::MAX);
        let taken = self
            .parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(appid.to_owned(), openid.to_owned()))
            .unwrap_or_default();
        Ok(taken
            .into_iter()
            .filter(|p| p.created_at >= oldest)
            .collect())
    }

    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn may_have_parked(&self, appid: &str, openid: &str) -> bool {
        let parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        // The common case, nothing parked at all, costs no key allocation.
        !parked.is_empty() && parked.contains_key(&(appid.to_owned(), openid.to_owned()))
    }
}

/// Parking with an in-process index of the followers who have parked results, so the common
/// push (nobody parked anything for this follower) costs no store round trip. Only correct
/// when this process is the store's one writer of parked results (`wxoa serve` without
/// Redis); CGI processes and Redis deployments query the store every time.
#[derive(Debug)]
pub struct IndexedParking {
    inner: Arc<dyn ParkingBackend>,
    openids: Mutex<std::collections::HashSet<(String, String)>>,
}

impl IndexedParking {
    /// Index over `inner`, starting with the `(appid, openid)` pairs it already holds.
    #[must_use]
    pub fn new(
        inner: Arc<dyn ParkingBackend>,
        parked: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            inner,
            openids: Mutex::new(parked.into_iter().collect()),
        }
    }
}

#[async_trait]
impl ParkingBackend for IndexedParking {
    async fn park(
        &self,
        appid: &str,
        openid: &str,
        rule: &str,
        answer_json: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .park(appid, openid, rule, answer_json, created_at)
            .await?;
        self.openids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((appid.to_owned(), openid.to_owned()));
        Ok(())
    }

    async fn take_parked(&self, appid: &str, openid: &str) -> Result<Vec<Parked>, StoreError> {
        let key = (appid.to_owned(), openid.to_owned());
        if !self
            .openids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
        {
            return Ok(Vec::new());
        }
        self.inner.take_parked(appid, openid).await
    }

    async fn sweep_parked(&self) -> Result<u64, StoreError> {
        self.inner.sweep_parked().await
    }

    fn may_have_parked(&self, appid: &str, openid: &str) -> bool {
        let openids = self.openids.lock().unwrap_or_else(PoisonError::into_inner);
        // The common case, nothing parked at all, costs no key allocation.
        !openids.is_empty() && openids.contains(&(appid.to_owned(), openid.to_owned()))
    }
}

/// The 客服消息 form of a passive reply, if it has one.
#[must_use]
pub fn custom_message(openid: &str, reply: &Reply) -> Option<CustomMessage> {
    let body = match reply {
        Reply::Text { content } => CustomBody::Text {
            content: content.clone(),
        },
        Reply::Image { media_id } => CustomBody::Image {
            media_id: media_id.clone(),
        },
        Reply::Voice { media_id } => CustomBody::Voice {
            media_id: media_id.clone(),
        },
        Reply::Video {
            media_id,
            title,
            description,
        } => CustomBody::Video(Video {
            media_id: media_id.clone(),
            // The passive reply has no thumbnail; the platform accepts the video's own id.
            thumb_media_id: media_id.clone(),
            title: title.clone(),
            description: description.clone(),
        }),
        Reply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => CustomBody::Music(Music {
            title: title.clone(),
            description: description.clone(),
            musicurl: music_url.clone().unwrap_or_default(),
            hqmusicurl: hq_music_url.clone().unwrap_or_default(),
            thumb_media_id: thumb_media_id.clone(),
        }),
        Reply::News { articles } => CustomBody::News(
            articles
                .iter()
                .take(1) // 客服 news carries one article
                .map(|a| NewsArticle {
                    title: a.title.clone(),
                    description: Some(a.description.clone()).filter(|d| !d.is_empty()),
                    url: a.url.clone(),
                    picurl: Some(a.pic_url.clone()).filter(|p| !p.is_empty()),
                })
                .collect(),
        ),
        _ => return None,
    };
    Some(CustomMessage::new(openid, body))
}

/// Sends late results by 客服消息 and parks what cannot be sent.
#[derive(Debug, Clone)]
pub struct Delivery {
    appid: String,
    api: Option<wxoa_api::Client>,
    parking: Arc<dyn ParkingBackend>,
    clock: Arc<dyn Clock>,
}

impl Delivery {
    /// Delivery for `appid`; `api` is `None` when no AppSecret is configured (everything parks).
    #[must_use]
    pub fn new(
        appid: &str,
        api: Option<wxoa_api::Client>,
        parking: Arc<dyn ParkingBackend>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            appid: appid.to_owned(),
            api,
            parking,
            clock,
        }
    }

    /// Park `reply` for `openid`'s next message.
    ///
    /// # Errors
    /// The parking store fails.
    pub async fn park(&self, openid: &str, rule: &str, reply: &Reply) -> Result<(), StoreError> {
        let json = reply_to_json(reply).to_string();
        self.parking
            .park(&self.appid, openid, rule, &json, self.clock.now_unix())
            .await?;
        metrics::counter!(crate::metrics::DEADLINE, "policy" => "delivery", "outcome" => "parked")
            .increment(1);
        tracing::info!(
            openid,
            rule,
            "result parked for the follower's next message"
        );
        Ok(())
    }

    /// Send `reply` by 客服消息; park it when that is impossible.
    ///
    /// # Errors
    /// Neither sending nor parking worked.
    pub async fn send_or_park(
        &self,
        openid: &str,
        rule: &str,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let (Some(api), Some(message)) = (&self.api, custom_message(openid, reply)) else {
            return self.park(openid, rule, reply).await;
        };
        match api.send_custom(&message).await {
            Ok(()) => {
                metrics::counter!(crate::metrics::DEADLINE, "policy" => "delivery", "outcome" => "kf")
                    .increment(1);
                tracing::info!(openid, rule, "result sent by 客服消息");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(openid, rule, error = %e, "客服消息 failed; parking the result");
                self.park(openid, rule, reply).await
            }
        }
    }

    /// Whether results may be parked for `openid` (`false` only when certainly none are).
    #[must_use]
    pub fn may_have_parked(&self, openid: &str) -> bool {
        self.parking.may_have_parked(&self.appid, openid)
    }

    /// Take the results parked for `openid` (oldest first), dropping undecodable ones.
    pub async fn take_parked(&self, openid: &str) -> Vec<(String, Reply)> {
        if !self.may_have_parked(openid) {
            return Vec::new();
        }
        match self.parking.take_parked(&self.appid, openid).await {
            Ok(parked) => parked
                .into_iter()
                .filter_map(|p| {
                    let value: serde_json::Value = serde_json::from_str(&p.answer).ok()?;
                    match reply_from_json(&value) {
                        Ok(reply) => Some((p.rule, reply)),
                        Err(e) => {
                            tracing::warn!(error = %e, "dropping an undecodable parked result");
                            None
                        }
                    }
                })
                .collect(),
            Err(e) => {
                tracing::warn!(openid, error = %e, "cannot read parked results");
                Vec::new()
            }
        }
    }
}

#[async_trait]
impl LaterSender for Delivery {
    async fn send_later(&self, openid: &str, reply: Reply) -> Result<(), ServiceError> {
        self.send_or_park(openid, "send_later", &reply)
            .await
            .map_err(|e| ServiceError::Backend {
                what: "delivering a later reply".to_owned(),
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn without_api_everything_parks_and_is_taken_once() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_000_000));
        let parking = Arc::new(MemoryParking::new(Arc::clone(&clock)));
        let d = Delivery::new("wx1234567890abcdef", None, parking, clock);
        d.send_or_park("o1", "slow", &Reply::text("late"))
            .await
            .unwrap();
        d.park("o1", "slow", &Reply::text("later")).await.unwrap();
        let taken = d.take_parked("o1").await;
        assert_eq!(
            taken,
            vec![
                ("slow".to_owned(), Reply::text("late")),
                ("slow".to_owned(), Reply::text("later"))
            ]
        );
        assert!(d.take_parked("o1").await.is_empty());
    }

    #[tokio::test]
    async fn old_parked_results_expire() {
        let clock = Arc::new(FixedClock::new(1_000_000));
        let parking = MemoryParking::new(clock.clone());
        parking
            .park("a", "o", "r", "{\"text\":\"x\"}", 1_000_000)
            .await
            .unwrap();
        clock.set(1_000_000 + 49 * 3600);
        assert!(parking.take_parked("a", "o").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_index_skips_followers_without_parked_results_and_sees_earlier_ones() {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_000_000));
        let inner = Arc::new(MemoryParking::new(Arc::clone(&clock)));
        // Parked before this process started: known from the start-up index.
        inner
            .park("a", "old", "r", "{\"text\":\"x\"}", 1_000_000)
            .await
            .unwrap();
        let indexed = IndexedParking::new(inner.clone(), [("a".to_owned(), "old".to_owned())]);
        assert_eq!(indexed.take_parked("a", "old").await.unwrap().len(), 1);
        indexed
            .park("a", "new", "r", "{\"text\":\"y\"}", 1_000_000)
            .await
            .unwrap();
        // Something only the inner store holds is not looked up (the index is authoritative).
        inner
            .park("a", "other", "r", "{\"text\":\"z\"}", 1_000_000)
            .await
            .unwrap();
        assert!(indexed.take_parked("a", "other").await.unwrap().is_empty());
        assert_eq!(indexed.take_parked("a", "new").await.unwrap().len(), 1);
        assert!(indexed.take_parked("a", "new").await.unwrap().is_empty());
    }

    #[test]
    fn custom_messages_mirror_replies() {
        let m = custom_message("o", &Reply::text("hi")).unwrap();
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["touser"], "o");
        assert_eq!(json["msgtype"], "text");
        assert_eq!(json["text"]["content"], "hi");
        assert!(
            custom_message("o", &Reply::TransferCustomerService { kf_account: None }).is_none()
        );
    }
}
