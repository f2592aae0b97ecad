//! The console's read side, the same checks on every SQL backend: message search and paging,
//! the dashboard aggregates, the follower directory, the audit trail.

use wxoa_store::{
    AuditEntry, FollowerQuery, MessageLogEntry, MessageQuery, PlatformFollower, Store,
};

use crate::common::unique;

fn entry(
    at: i64,
    openid: &str,
    content: &str,
    rule: Option<&str>,
    latency_ms: u64,
) -> MessageLogEntry {
    MessageLogEntry {
        at,
        appid: "wx1234567890abcdef".to_owned(),
        openid: openid.to_owned(),
        msg_type: "text".to_owned(),
        content: Some(content.to_owned()),
        rule: rule.map(str::to_owned),
        reply_type: Some("text".to_owned()),
        reply: Some(format!("re: {content}")),
        latency_ms,
        mode: "plain".to_owned(),
        source: "fresh".to_owned(),
        ..MessageLogEntry::default()
    }
}

/// Filters, text search (wildcards literal), time range and keyset paging both ways.
pub(crate) async fn message_search(store: &Store) {
    let log = store.message_log();
    let t0 = 1_767_225_600;
    let mut ids = Vec::new();
    for (i, (openid, content, rule)) in [
        ("o1", "帮助", Some("help")),
        ("o2", "100% off_sale", None),
        ("o1", "产品 Rust", Some("product")),
        ("o3", "hello", Some("help")),
        ("o1", "bye", None),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0 + i64::try_from(i).unwrap() * 10;
        ids.push(
            log.log_message(&entry(at, openid, content, rule, 5))
                .await
                .unwrap(),
        );
    }
    let search = store.message_search();
    let ask = |q: MessageQuery| {
        let search = search.clone();
        async move {
            search
                .search(&MessageQuery { limit: 50, ..q })
                .await
                .unwrap()
        }
    };

    let all = ask(MessageQuery::default()).await;
    let got: Vec<i64> = all.messages.iter().map(|m| m.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    assert!(!all.has_more);

    let o1 = ask(MessageQuery {
        openid: Some("o1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(o1.messages.len(), 3);
    assert!(o1.messages.iter().all(|m| m.entry.openid == "o1"));

    let help = ask(MessageQuery {
        rule: Some("help".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(help.messages.len(), 2);

    let percent = ask(MessageQuery {
        text: Some("0% o".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(percent.messages.len(), 1);
    assert_eq!(percent.messages[0].entry.openid, "o2");
    // `_` is literal: "off_" matches, "of_s" would match any character as a wildcard.
    let wildcard = ask(MessageQuery {
        text: Some("o_f".into()),
        ..Default::default()
    })
    .await;
    assert!(wildcard.messages.is_empty(), "{:?}", wildcard.messages);
    // The reply is searched too.
    let reply = ask(MessageQuery {
        text: Some("re: 产品".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(reply.messages.len(), 1);

    let range = ask(MessageQuery {
        since: Some(t0 + 10),
        until: Some(t0 + 30),
        ..Default::default()
    })
    .await;
    assert_eq!(range.messages.len(), 3);

    let page1 = search
        .search(&MessageQuery {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.messages.len(), 2);
    assert!(page1.has_more);
    let page2 = search
        .search(&MessageQuery {
            limit: 2,
            before_id: Some(page1.messages[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.messages[0].id, ids[2]);
    let newer = ask(MessageQuery {
        after_id: Some(ids[3]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        newer.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ids[4]]
    );
}

/// Per-minute counts with zeros, answers by rule, latency percentiles, outcomes.
pub(crate) async fn dashboard(store: &Store) {
    let log = store.message_log();
    let now = 1_767_225_600 + 59; // the end of a minute
    let minute = now - now % 60;
    log.log_message(&entry(now - 5, "o1", "a", Some("help"), 3))
        .await
        .unwrap();
    log.log_message(&entry(now - 6, "o1", "b", Some("help"), 3))
        .await
        .unwrap();
    log.log_message(&entry(minute - 120, "o2", "c", None, 6000))
        .await
        .unwrap();
    let mut late = entry(now - 7, "o3", "d", Some("slow"), 4600);
    late.source = "deadline".to_owned();
    log.log_message(&late).await.unwrap();
    // Two days ago: outside the 24-hour window.
    log.log_message(&entry(now - 2 * 86_400, "o4", "e", Some("old"), 1))
        .await
        .unwrap();

    let d = store.dashboard();
    let per_minute = d.pushes_per_minute(now, 60).await.unwrap();
    assert_eq!(per_minute.len(), 60);
    assert_eq!(per_minute[59].minute, minute);
    assert_eq!(per_minute[59].count, 3);
    assert_eq!(per_minute[57].count, 1);
    assert_eq!(per_minute[58].count, 0);
    assert_eq!(per_minute[0].minute, minute - 59 * 60);

    let since = now - 86_400;
    let rules = d.answers_by_rule(since).await.unwrap();
    let rules: Vec<(Option<&str>, u64)> =
        rules.iter().map(|g| (g.key.as_deref(), g.count)).collect();
    assert_eq!(rules[0], (Some("help"), 2));
    assert!(rules.contains(&(None, 1)));
    assert!(!rules.iter().any(|(r, _)| *r == Some("old")));

    let latency = d.latency(since, 5000).await.unwrap();
    assert_eq!(latency.count, 4);
    assert_eq!(
        (latency.p50, latency.max, latency.over_budget),
        (3, 6000, 1)
    );

    let outcomes = d.outcomes(since).await.unwrap();
    assert!(
        outcomes
            .iter()
            .any(|g| g.key.as_deref() == Some("deadline") && g.count == 1)
    );
    assert!(
        outcomes
            .iter()
            .any(|g| g.key.as_deref() == Some("fresh") && g.count == 3)
    );
}

/// Listing with search, filters and paging; remark and tags; merging the platform's list.
pub(crate) async fn follower_directory(store: &Store) {
    let appid = format!("wx{}", unique());
    let events = store.followers();
    for (i, openid) in ["oA", "oB", "oC"].into_iter().enumerate() {
        let at = 100 + i64::try_from(i).unwrap();
        events
            .follower_event(&appid, openid, true, at, Some("ADD_SCENE_QR_CODE"))
            .await
            .unwrap();
    }
    events
        .follower_event(&appid, "oC", false, 200, None)
        .await
        .unwrap();

    let dir = store.follower_directory();
    let list = |q: FollowerQuery| {
        let dir = dir.clone();
        let appid = appid.clone();
        async move {
            dir.list(&appid, &FollowerQuery { per_page: 20, ..q })
                .await
                .unwrap()
        }
    };
    let all = list(FollowerQuery::default()).await;
    assert_eq!(all.total, 3);
    assert_eq!(all.followers[0].openid, "oC", "most recently changed first");

    let subscribed = list(FollowerQuery {
        subscribed: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(subscribed.total, 2);

    let tags = vec!["客户".to_owned(), "北京".to_owned()];
    let annotated = dir
        .annotate(&appid, "oA", Some("VIP 100%"), Some(&tags))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(annotated.remark.as_deref(), Some("VIP 100%"));
    assert_eq!(annotated.tags, tags);
    // Only the tags: the remark stays.
    let retagged = dir
        .annotate(&appid, "oA", None, Some(&["客户".to_owned()]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retagged.remark.as_deref(), Some("VIP 100%"));
    assert_eq!(retagged.tags, ["客户"]);
    assert_eq!(
        dir.annotate(&appid, "nobody", Some("x"), None)
            .await
            .unwrap(),
        None
    );

    let by_remark = list(FollowerQuery {
        text: Some("vip".into()),
        ..Default::default()
    })
    .await;
    let by_remark_exact = list(FollowerQuery {
        text: Some("VIP".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_remark_exact.total, 1);
    assert!(by_remark.total <= 1);
    let by_openid = list(FollowerQuery {
        text: Some("oB".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        by_openid
            .followers
            .iter()
            .map(|f| f.openid.as_str())
            .collect::<Vec<_>>(),
        ["oB"]
    );
    let tagged = list(FollowerQuery {
        tag: Some("客户".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(tagged.total, 1);
    // A tag is matched whole: "客" is not "客户".
    let partial = list(FollowerQuery {
        tag: Some("客".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(partial.total, 0);

    let page2 = dir
        .list(
            &appid,
            &FollowerQuery {
                page: 2,
                per_page: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page2.total, page2.followers.len()), (3, 1));

    // The platform's list: one new follower, one known (remark from the platform kept ours
    // only when it has none).
    dir.merge_platform_follower(
        &appid,
        &PlatformFollower {
            openid: "oD".into(),
            subscribed: true,
            subscribe_time: Some(90),
            scene: Some("ADD_SCENE_SEARCH".into()),
            remark: Some("新".into()),
        },
        500,
    )
    .await
    .unwrap();
    dir.merge_platform_follower(
        &appid,
        &PlatformFollower {
            openid: "oA".into(),
            subscribed: true,
            subscribe_time: Some(100),
            scene: None,
            remark: None,
        },
        500,
    )
    .await
    .unwrap();
    let d = dir.get(&appid, "oD").await.unwrap().unwrap();
    assert!(d.subscribed);
    assert_eq!((d.first_seen_at, d.subscribed_at), (90, Some(90)));
    assert_eq!(d.scene.as_deref(), Some("ADD_SCENE_SEARCH"));
    assert_eq!(d.remark.as_deref(), Some("新"));
    let a = dir.get(&appid, "oA").await.unwrap().unwrap();
    assert_eq!(a.remark.as_deref(), Some("VIP 100%"));
    assert_eq!(a.scene.as_deref(), Some("ADD_SCENE_QR_CODE"));
    assert_eq!(list(FollowerQuery::default()).await.total, 4);

    // A complete read of the platform's list started at 500 saw oA and oD: oB, still marked
    // subscribed, has left; oC had already.
    assert_eq!(dir.mark_missing_unsubscribed(&appid, 500).await.unwrap(), 1);
    let b = dir.get(&appid, "oB").await.unwrap().unwrap();
    assert!(!b.subscribed);
    assert_eq!(b.unsubscribed_at, Some(500));
    assert!(dir.get(&appid, "oA").await.unwrap().unwrap().subscribed);
    assert!(dir.get(&appid, "oD").await.unwrap().unwrap().subscribed);
    assert_eq!(
        dir.get(&appid, "oC")
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        Some(200)
    );
}

/// Audit entries come back newest first, details cut to their limit.
pub(crate) async fn audit(store: &Store) {
    let audit = store.audit();
    let first = audit
        .record(&AuditEntry {
            id: 0,
            at: 10,
            actor: "admin".into(),
            action: "rule.update".into(),
            target: "help".into(),
            detail: "长".repeat(5000),
        })
        .await
        .unwrap();
    let second = audit
        .record(&AuditEntry {
            id: 0,
            at: 11,
            actor: "alice".into(),
            action: "menu.push".into(),
            target: "menu".into(),
            detail: "{}".into(),
        })
        .await
        .unwrap();
    let entries = audit.list(10).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(entries[0].actor, "alice");
    assert!(entries[1].detail.len() <= wxoa_store::AUDIT_DETAIL_MAX_BYTES);
    assert!(entries[1].detail.starts_with("长长"));
    assert_eq!(audit.list(1).await.unwrap().len(), 1);
}
