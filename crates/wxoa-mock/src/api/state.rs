//! Configuration, the injectable clock, `MockPlatform` (shared in-memory state) and the Rust-side inspection/control API.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::blacklist::Blacklist;
use super::control::{Injection, MockStats, RidRecord, TokenFetches};
use super::draft::Drafts;
use super::inspect::Delay;
use super::kf::KfState;
use super::mass::MassState;
use super::material::Materials;
use super::media::{MediaKind, StoredMedia};
use super::menu::MenuState;
use super::oauth::OAuthState;
use super::publish::Publishing;
use super::qrcode::QrCode;
use super::shorten::ShortKeys;
use super::subscribe::SubscribeState;
use super::tags::TagState;
use super::template::MockTemplate;
use super::token::TokenState;
use super::user::{Follower, Followers, UserEvent};

/// Lifetime of an access_token, a jsapi_ticket and an OAuth access_token, in seconds.
pub const TOKEN_TTL_SECS: i64 = 7200;
/// Default window in which a superseded classic token keeps working (the platform's 5 minutes).
pub const DEFAULT_TOKEN_OVERLAP: Duration = Duration::from_secs(300);
/// Default daily quota of classic `/cgi-bin/token` fetches.
pub const DEFAULT_DAILY_TOKEN_LIMIT: u32 = 2000;
/// Default 客服 window after the follower's last message (48 h).
pub const DEFAULT_CUSTOM_WINDOW: Duration = Duration::from_secs(48 * 3600);
/// Default number of 客服 messages allowed per follower message (2023 rules: 5 in 48 h).
pub const DEFAULT_CUSTOM_QUOTA: u32 = 5;
/// Default page size of `user/get` and `user/tag/get` (the platform's 10 000).
pub const DEFAULT_FOLLOWER_PAGE_SIZE: usize = 10_000;

/// Time as seen by the fake platform: Unix seconds.
///
/// Inject a [`ManualClock`] in tests to move time without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; share it (`Arc`) between the test and the platform.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start` (Unix seconds).
    #[must_use]
    pub fn new(start: i64) -> Self {
        Self {
            now: AtomicI64::new(start),
        }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    /// Jump to `t`.
    pub fn set(&self, t: i64) {
        self.now.store(t, Ordering::SeqCst);
    }

    /// Move forward by `by` (whole seconds).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.now()
    }
}

/// How the fake platform behaves. Build with [`MockConfig::new`] and adjust the public fields
/// (struct update syntax works: `MockConfig { daily_token_limit: 3, ..MockConfig::new(a, s) }`).
#[derive(Clone)]
pub struct MockConfig {
    /// The account's AppID; any other gets 40013.
    pub appid: String,
    /// The account's AppSecret; any other gets 40125.
    pub secret: String,
    /// Further `(AppID, AppSecret)` pairs served (several accounts pointed at one mock): each
    /// has its own access tokens; the rest of the state (followers, menus, outbox) is shared.
    pub more_apps: Vec<(String, String)>,
    /// How long a superseded classic token keeps working after a new fetch (default 5 min).
    /// stable_token also uses it: the token is rotated this long before it expires.
    pub token_overlap: Duration,
    /// Classic `/cgi-bin/token` fetches allowed per Beijing day before 45009 (default 2000).
    pub daily_token_limit: u32,
    /// Callers allowed to fetch tokens; `None` allows everyone. Others get 40164 naming their IP.
    pub ip_whitelist: Option<Vec<IpAddr>>,
    /// The platform's clock.
    pub clock: Arc<dyn Clock>,
    /// 客服 window after a follower's message (default 48 h).
    pub custom_window: Duration,
    /// 客服 messages allowed per follower message inside the window (default 5; then 45047).
    pub custom_quota: u32,
    /// Openids per page of `user/get` / `user/tag/get` (default 10 000).
    pub follower_page_size: usize,
    /// The account's template-message templates (default: one demo template,
    /// [`DEMO_TEMPLATE_ID`](super::DEMO_TEMPLATE_ID)).
    pub templates: Vec<MockTemplate>,
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("appid", &self.appid)
            .field("secret", &"…")
            .field(
                "more_apps",
                &self.more_apps.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            )
            .field("token_overlap", &self.token_overlap)
            .field("daily_token_limit", &self.daily_token_limit)
            .field("ip_whitelist", &self.ip_whitelist)
            .field("custom_window", &self.custom_window)
            .field("custom_quota", &self.custom_quota)
            .field("follower_page_size", &self.follower_page_size)
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

impl MockConfig {
    /// The defaults for the account `appid` / `secret`: 5-minute overlap, 2000 fetches a day,
    /// no IP whitelist, the system clock, 48 h / 5 messages 客服 window, 10 000 per page,
    /// one demo template.
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            appid: appid.into(),
            secret: secret.into(),
            more_apps: Vec::new(),
            token_overlap: DEFAULT_TOKEN_OVERLAP,
            daily_token_limit: DEFAULT_DAILY_TOKEN_LIMIT,
            ip_whitelist: None,
            clock: Arc::new(SystemClock),
            custom_window: DEFAULT_CUSTOM_WINDOW,
            custom_quota: DEFAULT_CUSTOM_QUOTA,
            follower_page_size: DEFAULT_FOLLOWER_PAGE_SIZE,
            templates: vec![MockTemplate::demo()],
        }
    }

    /// Also serve the account `appid` / `secret`.
    #[must_use]
    pub fn with_app(mut self, appid: impl Into<String>, secret: impl Into<String>) -> Self {
        self.more_apps.push((appid.into(), secret.into()));
        self
    }

    /// The AppSecret of the served account `appid`.
    #[must_use]
    pub fn secret_of(&self, appid: &str) -> Option<&str> {
        if appid == self.appid {
            return Some(&self.secret);
        }
        self.more_apps
            .iter()
            .find(|(a, _)| a == appid)
            .map(|(_, s)| s.as_str())
    }

    /// Use `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn overlap_secs(&self) -> i64 {
        i64::try_from(self.token_overlap.as_secs()).unwrap_or(i64::MAX)
    }
}

/// One message sent through the API, as recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Position in the outbox; increases by one per message and never goes back (not even
    /// after a reset), so a poller can ask for `?since=SEQ`.
    pub seq: u64,
    /// 客服 or template message.
    pub kind: OutboxKind,
    /// When the platform accepted it (Unix seconds).
    pub at: i64,
    /// The follower's openid.
    pub touser: String,
    /// `msgtype` of a 客服 message (`text`, `image`, …) or `"template"`.
    pub msgtype: String,
    /// What the follower sees, as one line of text (e.g. the text content, `[图片] MEDIA_ID`,
    /// or a rendered template).
    pub text: String,
    /// The template message's `msgid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgid: Option<u64>,
    /// The request body exactly as the platform received it.
    pub body: Value,
}

/// Kind of an [`OutboxMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// `message/custom/send` (客服消息).
    Custom,
    /// `message/template/send` (模板消息).
    Template,
}

/// Counters that reset at Beijing midnight (and on `clear_quota`).
#[derive(Debug, Default)]
pub(crate) struct Quota {
    /// Beijing day the counters belong to.
    pub(crate) day: i64,
    pub(crate) classic_fetches: u64,
    pub(crate) stable_calls: u64,
    pub(crate) stable_forced: u64,
    pub(crate) calls: HashMap<String, u64>,
    /// `year * 12 + month` (Beijing) of `clear_quota_used`.
    pub(crate) clear_month: i64,
    pub(crate) clear_quota_used: u32,
}

impl Quota {
    /// Start a new day's counters if the Beijing day changed.
    pub(crate) fn roll(&mut self, now: i64) {
        let day = beijing_day(now);
        if day != self.day {
            self.day = day;
            self.clear_counts();
        }
    }

    pub(crate) fn clear_counts(&mut self) {
        self.classic_fetches = 0;
        self.stable_calls = 0;
        self.stable_forced = 0;
        self.calls.clear();
    }
}

/// Everything the fake platform remembers. Replaced wholesale by a reset.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) tokens: TokenState,
    pub(crate) quota: Quota,
    pub(crate) fetches: TokenFetches,
    pub(crate) calls: BTreeMap<String, u64>,
    pub(crate) injections: VecDeque<Injection>,
    pub(crate) followers: Followers,
    pub(crate) tags: TagState,
    pub(crate) menus: MenuState,
    pub(crate) outbox: Vec<OutboxMessage>,
    pub(crate) next_msgid: u64,
    pub(crate) templates: Vec<MockTemplate>,
    pub(crate) media: HashMap<String, StoredMedia>,
    pub(crate) qr: Vec<QrCode>,
    pub(crate) oauth: OAuthState,
    pub(crate) rids: VecDeque<RidRecord>,
    pub(crate) delays: Vec<Delay>,
    pub(crate) drafts: Drafts,
    pub(crate) publishing: Publishing,
    pub(crate) materials: Materials,
    pub(crate) mass: MassState,
    pub(crate) subscribe: SubscribeState,
    pub(crate) kf: KfState,
    pub(crate) blacklist: Blacklist,
    pub(crate) short_keys: ShortKeys,
}

impl State {
    fn new(config: &MockConfig) -> Self {
        Self {
            tokens: TokenState::default(),
            quota: Quota::default(),
            fetches: TokenFetches::default(),
            calls: BTreeMap::new(),
            injections: VecDeque::new(),
            followers: Followers::default(),
            tags: TagState::default(),
            menus: MenuState::default(),
            outbox: Vec::new(),
            next_msgid: 2_002_283_320 + u64::from(rand::rng().random::<u16>()),
            templates: config.templates.clone(),
            media: HashMap::new(),
            qr: Vec::new(),
            oauth: OAuthState::default(),
            rids: VecDeque::new(),
            delays: Vec::new(),
            drafts: Drafts::default(),
            publishing: Publishing::default(),
            materials: Materials::default(),
            mass: MassState::default(),
            subscribe: SubscribeState::default(),
            kf: KfState::default(),
            blacklist: Blacklist::default(),
            short_keys: ShortKeys::default(),
        }
    }
}

struct Shared {
    config: MockConfig,
    state: Mutex<State>,
    /// Next outbox `seq`; survives resets.
    next_seq: AtomicU64,
    /// The callback driver behind `POST /mock/push`; survives resets.
    driver: Mutex<Option<crate::driver::Driver>>,
}

/// The fake WeChat platform: its configuration and in-memory state. Cheap to clone (an `Arc`).
///
/// Serve [`router`](Self::router) over HTTP with
/// `into_make_service_with_connect_info::<SocketAddr>()` (or use [`serve`](Self::serve)): the
/// caller's IP, needed for the whitelist (40164), comes from `ConnectInfo<SocketAddr>`. Without
/// it every caller counts as `127.0.0.1`.
#[derive(Clone)]
pub struct MockPlatform {
    shared: Arc<Shared>,
}

impl fmt::Debug for MockPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockPlatform")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl MockPlatform {
    /// A platform with empty state (no followers, no menu, no tokens issued).
    #[must_use]
    pub fn new(config: MockConfig) -> Self {
        let state = State::new(&config);
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
                next_seq: AtomicU64::new(1),
                driver: Mutex::new(None),
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// The platform's current time (Unix seconds).
    #[must_use]
    pub fn now(&self) -> i64 {
        self.shared.config.clock.now_unix()
    }

    /// Serve the API on `listener` until the task is dropped, with the caller IP available.
    ///
    /// # Errors
    /// The I/O error that stopped the server.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }

    /// [`serve`](Self::serve) until `shutdown` completes, then finish the requests in flight.
    ///
    /// # Errors
    /// The I/O error that stopped the server.
    pub async fn serve_with_shutdown<F>(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: F,
    ) -> std::io::Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn driver_slot(&self) -> MutexGuard<'_, Option<crate::driver::Driver>> {
        self.shared
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.shared.next_seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Forget everything: tokens (every issued token becomes unknown → 40001), followers, tags,
    /// menus, outbox, media, QR codes, OAuth codes, injections, counters. The configuration
    /// (and its templates) stays; outbox `seq` numbers keep increasing.
    pub fn reset(&self) {
        *self.lock() = State::new(&self.shared.config);
    }

    /// Every message sent so far (客服 and template), oldest first.
    #[must_use]
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.lock().outbox.clone()
    }

    /// Messages with `seq` greater than `since`, oldest first.
    #[must_use]
    pub fn outbox_since(&self, since: u64) -> Vec<OutboxMessage> {
        self.lock()
            .outbox
            .iter()
            .filter(|m| m.seq > since)
            .cloned()
            .collect()
    }

    /// The menus as `menu/get` would return them, or `None` when no menu was created.
    #[must_use]
    pub fn menu(&self) -> Option<Value> {
        self.lock().menus.get_json()
    }

    /// Token fetch counters since the last reset.
    #[must_use]
    pub fn token_fetches(&self) -> TokenFetches {
        self.lock().fetches.clone()
    }

    /// Calls of one API path since the last reset (every call, failed ones included).
    #[must_use]
    pub fn calls(&self, path: &str) -> u64 {
        self.lock().calls.get(path).copied().unwrap_or(0)
    }

    /// All counters, as `GET /mock/stats` shows them.
    #[must_use]
    pub fn stats(&self) -> MockStats {
        let now = self.now();
        let mut s = self.lock();
        s.quota.roll(now);
        MockStats {
            token_fetches: s.fetches.clone(),
            classic_fetches_today: s.quota.classic_fetches,
            calls: s.calls.clone(),
            pending_injections: s.injections.iter().cloned().collect(),
            outbox: s.outbox.len(),
            followers: s.followers.len(),
            media: s.media.len(),
        }
    }

    /// Make the next `count` calls (to `path`, or to any API path) fail; see [`Injection`].
    pub fn inject(&self, injection: Injection) {
        self.lock().injections.push_back(injection.normalized());
    }

    /// Add a follower, or replace the one with the same openid (its 客服 counters restart when
    /// `last_message_at` changes). A missing `subscribe_time` becomes now.
    pub fn add_follower(&self, follower: Follower) {
        let now = self.now();
        self.lock().followers.upsert(follower, now);
    }

    /// One follower.
    #[must_use]
    pub fn follower(&self, openid: &str) -> Option<Follower> {
        self.lock().followers.get(openid).map(|r| r.info.clone())
    }

    /// Every follower (subscribed or not), in subscription order.
    #[must_use]
    pub fn followers(&self) -> Vec<Follower> {
        self.lock().followers.all()
    }

    /// The follower `openid` sent a message at `at`: opens the 48 h 客服 window (and restarts its
    /// quota). Creates a subscribed follower if unknown. Call it when a push is driven.
    pub fn record_user_message(&self, openid: &str, at: i64) {
        self.lock().followers.record_message(openid, at);
    }

    /// The follower `openid` did `event` at `at`: subscribe / unsubscribe change the follow
    /// state; subscribe, scan and menu clicks open the 1-minute window (3 messages).
    pub fn record_user_event(&self, openid: &str, event: UserEvent, at: i64) {
        self.lock().followers.record_event(openid, event, at);
    }

    /// Add (or replace, by id) a template-message template.
    pub fn add_template(&self, template: MockTemplate) {
        let mut s = self.lock();
        s.templates
            .retain(|t| t.template_id != template.template_id);
        s.templates.push(template);
    }

    /// Issue a single-use OAuth code (valid 5 minutes) for `openid` with `scope`
    /// (`snsapi_base` or `snsapi_userinfo`), as if the user had gone through the authorize page.
    #[must_use]
    pub fn issue_oauth_code(&self, openid: &str, scope: &str) -> String {
        let now = self.now();
        self.lock().oauth.issue_code(openid, scope, now)
    }

    /// QR codes created so far.
    #[must_use]
    pub fn qr_codes(&self) -> Vec<QrCode> {
        self.lock().qr.clone()
    }

    /// A stored temporary medium.
    #[must_use]
    pub fn media(&self, media_id: &str) -> Option<StoredMedia> {
        self.lock().media.get(media_id).cloned()
    }

    /// Store a temporary medium as if uploaded; returns its media_id.
    #[must_use]
    pub fn add_media(&self, kind: MediaKind, filename: &str, bytes: Vec<u8>) -> String {
        let now = self.now();
        let media = StoredMedia::new(kind, filename, bytes, now);
        let id = media.media_id.clone();
        self.lock().media.insert(id.clone(), media);
        id
    }
}

/// The Beijing (UTC+8) day number of `t`: the platform's quotas reset at Beijing midnight.
pub(crate) fn beijing_day(t: i64) -> i64 {
    (t + 8 * 3600).div_euclid(86_400)
}

/// `year * 12 + month - 1` of the Beijing date of `t` (for the monthly clear_quota limit).
pub(crate) fn beijing_month(t: i64) -> i64 {
    // Howard Hinnant's civil_from_days.
    let z = beijing_day(t) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    year * 12 + month - 1
}

/// A random string of `len` characters from the token alphabet (`A-Za-z0-9_-`).
pub(crate) fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut r = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[r.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_day_turns_at_16_utc() {
        // 2024-01-01T15:59:59Z is 23:59:59 in Beijing; one second later is the next day.
        let before = 1_704_124_799;
        assert_eq!(beijing_day(before) + 1, beijing_day(before + 1));
    }

    #[test]
    fn beijing_month_matches_the_calendar() {
        // 2024-01-31T16:00:00Z = 2024-02-01 00:00 Beijing.
        assert_eq!(beijing_month(1_706_716_800), 2024 * 12 + 1);
        assert_eq!(beijing_month(1_706_716_799), 2024 * 12);
        // 2000-03-01T00:00:00Z.
        assert_eq!(beijing_month(951_868_800), 2000 * 12 + 2);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(100);
        assert_eq!(c.now_unix(), 100);
        c.advance(Duration::from_secs(50));
        assert_eq!(c.now_unix(), 150);
        c.set(7);
        assert_eq!(c.now_unix(), 7);
    }

    #[test]
    fn config_debug_hides_the_secret() {
        let c = MockConfig::new("wx1", "TOP-SECRET");
        let s = format!("{c:?}");
        assert!(!s.contains("TOP-SECRET") && s.contains("wx1"), "{s}");
    }

    #[test]
    fn random_strings_use_the_token_alphabet() {
        let s = random_string(64);
        assert_eq!(s.len(), 64);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }
}
