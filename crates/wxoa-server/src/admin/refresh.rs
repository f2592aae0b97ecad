//! Reading every follower from the platform into the follower table, in the background with
//! progress: the follower list page by page (`user/get`), then their profiles in batches of
//! 100 (`user/info/batchget`), as `wxoa users export` reads them. After a complete read,
//! followers not on the list are marked unsubscribed.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use wxoa_api::user::{MAX_BATCH_USERS, UserInfo};
use wxoa_store::PlatformFollower;

use crate::admin::{Caller, Console};

/// Where the latest refresh stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshStatus {
    /// Whether one runs now.
    pub running: bool,
    /// Followers read so far.
    pub done: u64,
    /// Followers the platform counts (known after the first page).
    pub total: Option<u64>,
    /// Why the latest run stopped early.
    pub error: Option<String>,
    /// Unix seconds at which the latest run started.
    pub started_at: Option<i64>,
    /// Unix seconds at which it ended.
    pub finished_at: Option<i64>,
}

/// The one refresh job of the console.
#[derive(Debug, Default)]
pub struct RefreshJob {
    status: Mutex<RefreshStatus>,
}

impl RefreshJob {
    /// Where the latest refresh stands.
    #[must_use]
    pub fn status(&self) -> RefreshStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut RefreshStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Marks a run started at `now`; `false` when one runs already.
    fn begin(&self, now: i64) -> bool {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if status.running {
            return false;
        }
        *status = RefreshStatus {
            running: true,
            started_at: Some(now),
            ..RefreshStatus::default()
        };
        true
    }
}

/// Starts a refresh in the background unless one runs; returns whether it started.
pub(crate) fn start(console: &Arc<Console>, api: wxoa_api::Client, caller: Caller) -> bool {
    if !console.refresh.begin(console.now()) {
        return false;
    }
    let console = Arc::clone(console);
    tokio::spawn(async move {
        let result = run(&console, &api).await;
        let now = console.now();
        let status = {
            let mut ended = None;
            console.refresh.update(|s| {
                s.running = false;
                s.finished_at = Some(now);
                s.error = result.as_ref().err().cloned();
                ended = Some(s.clone());
            });
            ended.unwrap_or_default()
        };
        match &result {
            Ok(()) => tracing::info!(
                done = status.done,
                "console: followers refreshed from the platform"
            ),
            Err(e) => {
                tracing::warn!(done = status.done, error = %e, "console: the follower refresh stopped")
            }
        }
        let detail = match &status.error {
            None => format!("{} followers read", status.done),
            Some(e) => format!("stopped after {} followers: {e}", status.done),
        };
        console
            .audit(&caller, "followers.refresh", "followers", &detail)
            .await;
    });
    true
}

async fn run(console: &Console, api: &wxoa_api::Client) -> Result<(), String> {
    let directory = console.store.follower_directory();
    let appid = console.appid().to_owned();
    let mut pager = api.follower_pager(None);
    while let Some(page) = pager
        .next_page()
        .await
        .map_err(|e| format!("reading the follower list (user/get): {e}"))?
    {
        if let Some(total) = page.total {
            console.refresh.update(|s| s.total = Some(total));
        }
        for chunk in page.openids.chunks(MAX_BATCH_USERS) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let users = api
                .users_info(&ids, None)
                .await
                .map_err(|e| format!("reading user info (user/info/batchget): {e}"))?;
            let now = console.now();
            for user in &users {
                directory
                    .merge_platform_follower(&appid, &platform_follower(user), now)
                    .await
                    .map_err(|e| format!("saving a follower: {e}"))?;
            }
            let read = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            console.refresh.update(|s| s.done += read);
        }
    }
    // The whole list was read: whoever is not on it has left.
    let started_at = console
        .refresh
        .status()
        .started_at
        .unwrap_or_else(|| console.now());
    let left = directory
        .mark_missing_unsubscribed(&appid, started_at)
        .await
        .map_err(|e| format!("marking followers who left: {e}"))?;
    if left > 0 {
        tracing::info!(
            left,
            "console: followers no longer on the platform's list marked unsubscribed"
        );
    }
    Ok(())
}

fn platform_follower(user: &UserInfo) -> PlatformFollower {
    PlatformFollower {
        openid: user.openid.clone(),
        subscribed: user.subscribe == 1,
        subscribe_time: Some(user.subscribe_time).filter(|t| *t > 0),
        scene: Some(user.subscribe_scene.clone()).filter(|s| !s.is_empty()),
        remark: Some(user.remark.clone()).filter(|r| !r.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_at_a_time() {
        let job = RefreshJob::default();
        assert!(job.begin(10));
        assert!(!job.begin(11), "a second run is refused while one runs");
        job.update(|s| {
            s.done = 3;
            s.running = false;
        });
        assert!(job.begin(12));
        let status = job.status();
        assert_eq!(
            (status.running, status.done, status.started_at),
            (true, 0, Some(12))
        );
    }
}
