//! Job-finish events the platform pushes after an API call (`MASSSENDJOBFINISH`, `PUBLISHJOBFINISH`), sent through the callback driver when one is set.

use std::collections::BTreeMap;

use serde_json::Value;

use super::state::MockPlatform;
use crate::driver::{Event, OtherEvent, Push};

/// Push `push` to the server in the background, if a driver is set; a failed delivery is
/// logged (the API answer does not wait for the callback, as on the platform).
pub(crate) fn announce(p: &MockPlatform, push: Push) {
    let Some(driver) = p.driver() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        match driver.push(&push).await {
            Ok(delivery) if delivery.is_banner() => {
                tracing::warn!(event = %delivery.push.msg_type, "the server did not accept the job-finish event");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the job-finish event could not be pushed"),
        }
    });
}

/// `MASSSENDJOBFINISH` for job `msg_id` delivered to `recipients` followers.
pub(crate) fn mass_finished(msg_id: u64, recipients: u64) -> Push {
    let mut push = Push::new(Event::MassSendJobFinish {
        status: Some("send success".to_owned()),
        total_count: Some(recipients),
        filter_count: Some(recipients),
        sent_count: Some(recipients),
        error_count: Some(0),
    });
    push.msg_id = Some(msg_id);
    push
}

/// `PUBLISHJOBFINISH` with `PublishEventInfo` = `info`.
pub(crate) fn publish_finished(info: Value) -> Push {
    Push::new(OtherEvent {
        event: "PUBLISHJOBFINISH".to_owned(),
        fields: BTreeMap::from([("PublishEventInfo".to_owned(), info)]),
    })
}
