//! The platform's numeric limits (reply sizes, time budgets) and the XML reader's defaults.

use std::time::Duration;

/// Longest passive text reply WeChat shows whole, in UTF-8 bytes.
///
/// Undocumented; ~2047 bytes is the community measurement (PROTOCOL.md §7.4), so
/// [`Reply::prepare`](crate::reply::Reply::prepare) splits longer text on a char boundary.
pub const MAX_TEXT_REPLY_BYTES: usize = 2047;

/// Most articles a passive `news` reply may carry (the platform drops the rest; 10 before 2018).
pub const MAX_NEWS_ARTICLES: usize = 8;

/// Articles WeChat actually shows for a news reply to a user *message* (since 2018-10); other
/// scenes (menu click, subscribe) show up to [`MAX_NEWS_ARTICLES`].
pub const MAX_NEWS_ARTICLES_FOR_MESSAGE_REPLY: usize = 1;

/// Default largest XML document the reader accepts, in bytes (pushes are a few KiB).
pub const DEFAULT_XML_MAX_BYTES: usize = 1024 * 1024;

/// Default deepest element nesting the reader accepts (the root counts as depth 1; real pushes
/// reach 5 in `MASSSENDJOBFINISH`).
pub const DEFAULT_XML_MAX_DEPTH: usize = 16;

/// WeChat drops the connection of a push that has not been answered within this time and retries.
pub const PASSIVE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Time a server should budget for a passive reply, leaving margin under [`PASSIVE_REPLY_TIMEOUT`].
pub const PASSIVE_REPLY_BUDGET: Duration = Duration::from_millis(4500);

/// Window in which WeChat re-delivers an unanswered push (about three tries five seconds apart).
pub const RETRY_WINDOW: Duration = Duration::from_secs(15);

/// Recommended lifetime of a dedup entry (PROTOCOL.md §7.3: at least 60 s).
pub const DEDUP_TTL: Duration = Duration::from_secs(60);

/// Length of an EncodingAESKey in base64 characters.
pub const ENCODING_AES_KEY_LEN: usize = 43;

/// Shortest Token the admin console accepts.
pub const TOKEN_MIN_LEN: usize = 3;

/// Longest Token the admin console accepts.
pub const TOKEN_MAX_LEN: usize = 32;

// Compile-time consistency checks.
const _: () = assert!(MAX_NEWS_ARTICLES_FOR_MESSAGE_REPLY <= MAX_NEWS_ARTICLES);
const _: () = assert!(TOKEN_MIN_LEN <= TOKEN_MAX_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_fits_inside_the_timeout_and_dedup_outlives_retries() {
        assert!(PASSIVE_REPLY_BUDGET.as_millis() < PASSIVE_REPLY_TIMEOUT.as_millis());
        assert!(DEDUP_TTL.as_secs() > RETRY_WINDOW.as_secs());
    }
}
