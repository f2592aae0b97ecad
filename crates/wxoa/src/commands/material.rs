//! `wxoa material upload|uploadimg|list|count|get|delete|export`: permanent materials (永久素材), with a progress bar for large uploads and a resumable export.
//!
//! The export writes `DIR/<type>/<media_id>.<ext>` (a video: `<media_id>.json` with its title,
//! introduction and download URL) through a temporary file renamed into place, so a file that
//! exists is complete: a second run downloads only what is missing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use wxoa_api::Client;
use wxoa_api::Progress;
use wxoa_api::material::{
    MAX_PAGE, MaterialDownload, MaterialItem, MaterialType, Upload, VideoDescription,
};

use crate::cli::{
    MaterialArgs, MaterialCommand, MaterialCountArgs, MaterialDeleteArgs, MaterialExportArgs,
    MaterialGetArgs, MaterialListArgs, MaterialUploadArgs, MaterialUploadimgArgs,
};
use crate::commands::api::with_client;
use crate::commands::confirm::confirm;
use crate::commands::load_account_config;
use crate::commands::paging::all_pages;

/// Uploads at least this large show a progress bar (on a terminal).
const PROGRESS_THRESHOLD: usize = 512 * 1024;

pub(crate) fn run(args: &MaterialArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        MaterialCommand::Upload(a) => upload(a),
        MaterialCommand::Uploadimg(a) => uploadimg(a),
        MaterialCommand::List(a) => list(a),
        MaterialCommand::Count(a) => count(a),
        MaterialCommand::Get(a) => get(a),
        MaterialCommand::Delete(a) => delete(a),
        MaterialCommand::Export(a) => export(a),
    }
}

/// The type named, or the one the file's extension suggests.
pub(crate) fn kind_for(kind: Option<&str>, file: &Path) -> anyhow::Result<MaterialType> {
    if let Some(k) = kind {
        return match MaterialType::parse(k) {
            Some(MaterialType::News) | None => {
                bail!("--type {k:?}: expected image, voice, video or thumb")
            }
            Some(t) => Ok(t),
        };
    }
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    [
        MaterialType::Image,
        MaterialType::Voice,
        MaterialType::Video,
    ]
    .into_iter()
    .find(|t| t.extensions().contains(&ext.as_str()))
    .with_context(|| {
        format!(
            "cannot tell the type of {} from its extension; pass --type",
            file.display()
        )
    })
}

/// A file read as an upload (named after the file), without progress.
pub(crate) fn read_upload(path: &Path) -> anyhow::Result<Upload> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_owned();
    Ok(Upload::new(name, bytes))
}

/// The file as an upload, with a progress bar when it is large.
fn upload_of(path: &Path) -> anyhow::Result<(Upload, Option<ProgressBar>)> {
    let mut upload = read_upload(path)?;
    let size = upload.bytes.len();
    if size < PROGRESS_THRESHOLD {
        return Ok((upload, None));
    }
    let bar = ProgressBar::new(size as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reporter = bar.clone();
    upload = upload.with_progress(Progress::new(move |sent| reporter.set_position(sent)));
    Ok((upload, Some(bar)))
}

fn upload(args: &MaterialUploadArgs) -> anyhow::Result<ExitCode> {
    let kind = kind_for(args.kind.as_deref(), &args.file)?;
    let description = match (kind, &args.title) {
        (MaterialType::Video, Some(title)) => Some(VideoDescription {
            title: title.clone(),
            introduction: args.introduction.clone(),
        }),
        (MaterialType::Video, None) => {
            bail!("a video is uploaded with --title (and --introduction)")
        }
        _ => None,
    };
    let config = load_account_config(&args.config)?;
    let (file, bar) = upload_of(&args.file)?;
    with_client(&config, async |client| {
        let added = client
            .material_add(kind, file, description.as_ref())
            .await
            .with_context(|| format!("uploading {} (material/add_material)", args.file.display()));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let added = added?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&added).context("formatting")?
            );
        } else {
            println!("{} {}", kind.as_str(), added.media_id);
            if let Some(url) = &added.url {
                println!("url {url}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn uploadimg(args: &MaterialUploadimgArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    let (file, bar) = upload_of(&args.file)?;
    with_client(&config, async |client| {
        let url = client
            .upload_article_image(file)
            .await
            .with_context(|| format!("uploading {} (media/uploadimg)", args.file.display()));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        println!("{}", url?);
        Ok(ExitCode::SUCCESS)
    })
}

/// Every item of a type, page by page.
async fn all_items(client: &Client, kind: MaterialType) -> anyhow::Result<Vec<MaterialItem>> {
    all_pages(async |offset| {
        let page = client
            .material_list(kind, offset, MAX_PAGE)
            .await
            .with_context(|| {
                format!(
                    "listing {} materials (material/batchget_material)",
                    kind.as_str()
                )
            })?;
        Ok((page.item, page.total_count))
    })
    .await
}

fn list(args: &MaterialListArgs) -> anyhow::Result<ExitCode> {
    let Some(kind) = MaterialType::parse(&args.kind).filter(|k| *k != MaterialType::Thumb) else {
        bail!(
            "--type {:?}: expected image, voice, video or news",
            args.kind
        );
    };
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let items = all_items(client, kind).await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&items).context("formatting")?
            );
        } else {
            for i in &items {
                println!("{}  {}  {}", i.media_id, i.update_time, i.name);
            }
            if items.is_empty() {
                println!("no {} materials", kind.as_str());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn count(args: &MaterialCountArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let c = client
            .material_count()
            .await
            .context("counting materials (material/get_materialcount)")?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&c).context("formatting")?
            );
        } else {
            println!(
                "image {}\nvoice {}\nvideo {}\nnews {}",
                c.image_count, c.voice_count, c.video_count, c.news_count
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A video's or news material's JSON description.
fn download_json(d: &MaterialDownload) -> Option<serde_json::Value> {
    match d {
        MaterialDownload::File { .. } => None,
        MaterialDownload::Video {
            title,
            description,
            down_url,
        } => Some(
            serde_json::json!({ "title": title, "description": description, "down_url": down_url }),
        ),
        MaterialDownload::News(articles) => Some(serde_json::json!({ "news_item": articles })),
    }
}

fn get(args: &MaterialGetArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let d = client.material_get(&args.media_id).await.with_context(|| {
            format!(
                "downloading material {} (material/get_material)",
                args.media_id
            )
        })?;
        let bytes = match (&d, download_json(&d)) {
            (MaterialDownload::File { bytes, .. }, _) => bytes.clone(),
            (_, Some(json)) => {
                let mut text = serde_json::to_vec_pretty(&json).context("formatting")?;
                text.push(b'\n');
                text
            }
            (_, None) => Vec::new(),
        };
        match &args.out {
            Some(path) => {
                write_atomically(path, &bytes)?;
                eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
            }
            None => std::io::stdout()
                .write_all(&bytes)
                .context("writing to standard output")?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn delete(args: &MaterialDeleteArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    if !confirm(
        args.yes,
        "delete a material",
        &format!(
            "Delete material {}? Articles and menus using it will lose it.",
            args.media_id
        ),
    )? {
        eprintln!("cancelled; nothing deleted");
        return Ok(ExitCode::FAILURE);
    }
    with_client(&config, async |client| {
        client
            .material_delete(&args.media_id)
            .await
            .with_context(|| {
                format!(
                    "deleting material {} (material/del_material)",
                    args.media_id
                )
            })?;
        println!("material {} deleted", args.media_id);
        Ok(ExitCode::SUCCESS)
    })
}

/// Write `bytes` to `path` through a temporary file in the same directory, so `path` exists
/// only complete.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.part",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

/// Where the export keeps one item.
pub(crate) fn export_path(dir: &Path, kind: MaterialType, item: &MaterialItem) -> PathBuf {
    let ext = if kind == MaterialType::Video {
        "json".to_owned()
    } else {
        item.name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "bin".to_owned())
    };
    let safe_id: String = item
        .media_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(kind.as_str()).join(format!("{safe_id}.{ext}"))
}

fn export(args: &MaterialExportArgs) -> anyhow::Result<ExitCode> {
    let config = load_account_config(&args.config)?;
    with_client(&config, async |client| {
        let (mut fetched, mut skipped) = (0_usize, 0_usize);
        for kind in [
            MaterialType::Image,
            MaterialType::Voice,
            MaterialType::Video,
        ] {
            let items = all_items(client, kind).await?;
            let sub = args.dir.join(kind.as_str());
            std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
            let listing = serde_json::to_vec_pretty(&items).context("formatting the listing")?;
            write_atomically(&args.dir.join(format!("{}.json", kind.as_str())), &listing)?;
            for item in &items {
                let path = export_path(&args.dir, kind, item);
                if path.exists() {
                    skipped += 1;
                    continue;
                }
                let d = client.material_get(&item.media_id).await.with_context(|| {
                    format!(
                        "downloading {} {} (material/get_material)",
                        kind.as_str(),
                        item.media_id
                    )
                })?;
                let bytes = match (&d, download_json(&d)) {
                    (MaterialDownload::File { bytes, .. }, _) => bytes.clone(),
                    (_, Some(json)) => serde_json::to_vec_pretty(&json).context("formatting")?,
                    (_, None) => Vec::new(),
                };
                write_atomically(&path, &bytes)?;
                fetched += 1;
            }
        }
        println!(
            "exported to {}: {fetched} downloaded, {skipped} already there",
            args.dir.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_flag_or_the_extension() {
        assert_eq!(
            kind_for(None, Path::new("a.JPG")).unwrap(),
            MaterialType::Image
        );
        assert_eq!(
            kind_for(None, Path::new("a.mp3")).unwrap(),
            MaterialType::Voice
        );
        assert_eq!(
            kind_for(Some("thumb"), Path::new("a.jpg")).unwrap(),
            MaterialType::Thumb
        );
        assert!(kind_for(None, Path::new("a.txt")).is_err());
        assert!(kind_for(Some("news"), Path::new("a.jpg")).is_err());
    }

    #[test]
    fn export_paths_are_safe_and_typed() {
        let item = MaterialItem {
            media_id: "a/b..c".into(),
            name: "x.PNG".into(),
            ..MaterialItem::default()
        };
        let p = export_path(Path::new("out"), MaterialType::Image, &item);
        assert_eq!(p, Path::new("out/image/a_b__c.png"));
        let v = export_path(Path::new("out"), MaterialType::Video, &item);
        assert_eq!(v, Path::new("out/video/a_b__c.json"));
    }
}
