//! `wxoa publish DRAFT_ID [--wait]`, `wxoa publish status|list|delete`: free publishing (发布).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use wxoa_api::draft::MAX_PAGE;
use wxoa_api::publish::{PublishState, PublishStatus};

use crate::cli::{
    PublishArgs, PublishCommand, PublishDeleteArgs, PublishListArgs, PublishStatusArgs,
    PublishSubmitArgs,
};
use crate::commands::api::with_client;
use crate::commands::confirm::confirm;
use crate::commands::load_account_config;
use crate::commands::paging::all_pages;

pub(crate) fn run(args: &PublishArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(PublishCommand::Status(a)) => status(a),
        Some(PublishCommand::List(a)) => list(a),
        Some(PublishCommand::Delete(a)) => delete(a),
        None => submit(&args.submit),
    }
}

/// The status in lines: state, article URLs, failed articles.
fn describe(st: &PublishStatus) -> String {
    let mut out = format!(
        "publish {}: {}\n",
        st.publish_id,
        st.publish_status.describe()
    );
    if let Some(id) = st.article_id.as_deref().filter(|i| !i.is_empty()) {
        out.push_str(&format!("  article_id: {id}\n"));
    }
    for item in &st.article_detail.item {
        out.push_str(&format!("  [{}] {}\n", item.idx, item.article_url));
    }
    if !st.fail_idx.is_empty() {
        let idx: Vec<String> = st.fail_idx.iter().map(ToString::to_string).collect();
        out.push_str(&format!("  failed articles: {}\n", idx.join(", ")));
    }
    out
}

fn print_status(st: &PublishStatus, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(st).context("formatting")?
        );
    } else {
        print!("{}", describe(st));
    }
    Ok(())
}

fn exit_for(state: PublishState) -> ExitCode {
    if state == PublishState::Published {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn submit(args: &PublishSubmitArgs) -> anyhow::Result<ExitCode> {
    let Some(draft_id) = &args.draft_id else {
        bail!("give the draft's media_id (`wxoa publish DRAFT_ID --wait`; see `wxoa draft list`)");
    };
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let publish_id = client
            .publish_submit(draft_id)
            .await
            .with_context(|| format!("publishing draft {draft_id} (freepublish/submit)"))?;
        if !args.wait {
            if args.json {
                println!("{}", serde_json::json!({ "publish_id": publish_id }));
            } else {
                println!(
                    "publish job {publish_id} submitted; follow it with `wxoa publish status {publish_id}` (a PUBLISHJOBFINISH event also reports the outcome)"
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let started = Instant::now();
        let interval = Duration::from_secs(args.interval);
        loop {
            let st = client
                .publish_status(&publish_id)
                .await
                .with_context(|| format!("polling publish job {publish_id} (freepublish/get)"))?;
            if st.publish_status.is_final() {
                print_status(&st, args.json)?;
                return Ok(exit_for(st.publish_status));
            }
            if started.elapsed() >= Duration::from_secs(args.timeout) {
                eprintln!(
                    "publish job {publish_id} is still publishing after {} s; check later with `wxoa publish status {publish_id}`",
                    args.timeout
                );
                return Ok(ExitCode::FAILURE);
            }
            tokio::time::sleep(interval).await;
        }
    })
}

fn status(args: &PublishStatusArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let st = client
            .publish_status(&args.publish_id)
            .await
            .with_context(|| {
                format!("reading publish job {} (freepublish/get)", args.publish_id)
            })?;
        print_status(&st, args.json)?;
        Ok(if st.publish_status.is_final() {
            exit_for(st.publish_status)
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn list(args: &PublishListArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let all = all_pages(async |offset| {
            let page = client
                .published_list(offset, MAX_PAGE, !args.json)
                .await
                .context("listing the published posts (freepublish/batchget)")?;
            Ok((page.item, page.total_count))
        })
        .await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&all).context("formatting")?
            );
            return Ok(ExitCode::SUCCESS);
        }
        if all.is_empty() {
            println!("nothing published yet");
        }
        for post in &all {
            for a in &post.content.news_item {
                let deleted = if a.is_deleted == Some(true) {
                    "  (deleted)"
                } else {
                    ""
                };
                println!(
                    "{}  {}  {}{deleted}",
                    post.article_id,
                    a.title,
                    a.url.as_deref().unwrap_or_default()
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &PublishDeleteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    let what = match args.index {
        Some(i) => format!("article {i} of post {}", args.article_id),
        None => format!("every article of post {}", args.article_id),
    };
    if !confirm(
        args.yes,
        "delete a published post",
        &format!("Delete {what}? Followers will see it as deleted; this cannot be undone."),
    )? {
        eprintln!("cancelled; nothing deleted");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        client
            .published_delete(&args.article_id, args.index.unwrap_or(0))
            .await
            .with_context(|| format!("deleting {what} (freepublish/delete)"))?;
        println!("deleted {what}");
        Ok(ExitCode::SUCCESS)
    })
}
