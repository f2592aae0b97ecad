//! `wxoa draft add|list|get|delete|count`: the draft box (草稿箱).

use std::process::ExitCode;

use anyhow::Context as _;
use wxoa_api::draft::{Article, MAX_PAGE};

use crate::cli::{
    DraftAddArgs, DraftArgs, DraftCommand, DraftCountArgs, DraftDeleteArgs, DraftIdArgs,
    DraftListArgs, DraftUpdateArgs,
};
use crate::commands::api::with_client;
use crate::commands::article::{ArticleFile, body_html, build, image_sources, is_local};
use crate::commands::confirm::confirm;
use crate::commands::load_account_config;
use crate::commands::paging::all_pages;

pub(crate) fn run(args: &DraftArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        DraftCommand::Add(a) => add(a),
        DraftCommand::Update(a) => update(a),
        DraftCommand::List(a) => list(a),
        DraftCommand::Get(a) => get(a),
        DraftCommand::Delete(a) => delete(a),
        DraftCommand::Count(a) => count(a),
    }
}

fn add(args: &DraftAddArgs) -> anyhow::Result<ExitCode> {
    let file = ArticleFile::load(&args.file)?;
    if args.dry_run {
        for spec in &file.articles {
            let html = body_html(spec, &file.dir)?;
            let local: Vec<String> = image_sources(&html)
                .into_iter()
                .filter(|s| is_local(s))
                .collect();
            println!("# {}", spec.title);
            if !local.is_empty() {
                println!("# images to upload: {}", local.join(", "));
            }
            println!("{html}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let articles = build(client, &file).await?;
        let media_id = client
            .draft_add(&articles)
            .await
            .context("adding the draft (draft/add)")?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "media_id": media_id, "articles": articles.len() })
            );
        } else {
            println!(
                "draft {media_id} added ({} article(s)); publish it with `wxoa publish {media_id} --wait`",
                articles.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn update(args: &DraftUpdateArgs) -> anyhow::Result<ExitCode> {
    let file = ArticleFile::load(&args.file)?;
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let articles = build(client, &file).await?;
        for (index, article) in (args.index..).zip(&articles) {
            client
                .draft_update(&args.media_id, index, article)
                .await
                .with_context(|| {
                    format!(
                        "replacing article {index} of draft {} (draft/update)",
                        args.media_id
                    )
                })?;
        }
        println!(
            "draft {}: {} article(s) replaced from index {}",
            args.media_id,
            articles.len(),
            args.index
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn list(args: &DraftListArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let all = all_pages(async |offset| {
            let page = client
                .draft_list(offset, MAX_PAGE, !args.json)
                .await
                .context("listing the drafts (draft/batchget)")?;
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
            println!("no drafts");
        }
        for d in &all {
            let titles: Vec<&str> = d
                .content
                .news_item
                .iter()
                .map(|a| a.title.as_str())
                .collect();
            println!("{}  {}  {}", d.media_id, d.update_time, titles.join(" | "));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One block an article: title, author, digest, cover, URL.
fn describe(articles: &[Article]) -> String {
    let mut out = String::new();
    for (i, a) in articles.iter().enumerate() {
        out.push_str(&format!("[{}] {}\n", i, a.title));
        for (k, v) in [
            ("author", a.author.as_deref()),
            ("digest", a.digest.as_deref()),
            ("cover", Some(a.thumb_media_id.as_str())),
            ("url", a.url.as_deref()),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push_str(&format!("    {k}: {v}\n"));
            }
        }
        out.push_str(&format!("    content: {} bytes of HTML\n", a.content.len()));
    }
    out
}

fn get(args: &DraftIdArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let articles = client
            .draft_get(&args.media_id)
            .await
            .with_context(|| format!("reading draft {} (draft/get)", args.media_id))?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&articles).context("formatting")?
            );
        } else {
            print!("{}", describe(&articles));
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &DraftDeleteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    if !confirm(
        args.yes,
        "delete the draft",
        &format!("Delete draft {}?", args.media_id),
    )? {
        eprintln!("cancelled; the draft is kept");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        client
            .draft_delete(&args.media_id)
            .await
            .with_context(|| format!("deleting draft {} (draft/delete)", args.media_id))?;
        println!("draft {} deleted", args.media_id);
        Ok(ExitCode::SUCCESS)
    })
}

fn count(args: &DraftCountArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let n = client
            .draft_count()
            .await
            .context("counting the drafts (draft/count)")?;
        println!("{n}");
        Ok(ExitCode::SUCCESS)
    })
}
