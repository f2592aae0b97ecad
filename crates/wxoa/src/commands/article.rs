//! An article file (TOML) turned into draft articles: the Markdown or HTML body rendered, its local images uploaded with `uploadimg`, the cover uploaded as a permanent image.
//!
//! ```toml
//! title = "春季上新"
//! author = "小编"
//! digest = "三款新品"             # optional
//! cover = "cover.jpg"             # uploaded as a permanent image; or cover_media_id = "…"
//! body = "post.md"                # .md / .markdown → Markdown, .html / .htm → HTML
//! # markdown = """…""" or html = """…""" instead of body
//! source_url = "https://example.com/spring"   # 阅读原文
//! open_comment = true
//! fans_only_comment = false
//! ```
//! Several articles: the same keys in `[[articles]]` tables. Paths are relative to the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use regex::Regex;
use serde::Deserialize;
use wxoa_api::Client;
use wxoa_api::draft::Article;
use wxoa_api::material::MaterialType;

use crate::commands::material::read_upload;

/// One article as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArticleSpec {
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) author: Option<String>,
    #[serde(default)]
    pub(crate) digest: Option<String>,
    #[serde(default)]
    pub(crate) cover: Option<PathBuf>,
    #[serde(default)]
    pub(crate) cover_media_id: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<PathBuf>,
    #[serde(default)]
    pub(crate) markdown: Option<String>,
    #[serde(default)]
    pub(crate) html: Option<String>,
    #[serde(default)]
    pub(crate) source_url: Option<String>,
    #[serde(default)]
    pub(crate) open_comment: bool,
    #[serde(default)]
    pub(crate) fans_only_comment: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManyArticles {
    articles: Vec<ArticleSpec>,
}

/// The articles of a file, and the directory its paths are relative to.
#[derive(Debug)]
pub(crate) struct ArticleFile {
    pub(crate) dir: PathBuf,
    pub(crate) articles: Vec<ArticleSpec>,
}

impl ArticleFile {
    /// Read and parse `path`.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the article file {}", path.display()))?;
        let articles = parse(&text).with_context(|| format!("in {}", path.display()))?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Self { dir, articles })
    }
}

/// The articles of a file's text: `[[articles]]` tables or one article at the top level.
pub(crate) fn parse(text: &str) -> anyhow::Result<Vec<ArticleSpec>> {
    let value: toml::Table = toml::from_str(text).context("not valid TOML")?;
    let articles = if value.contains_key("articles") {
        let many: ManyArticles = toml::from_str(text).context("bad [[articles]]")?;
        many.articles
    } else {
        vec![toml::from_str::<ArticleSpec>(text).context("bad article")?]
    };
    if articles.is_empty() {
        bail!("no article in the file");
    }
    for a in &articles {
        let bodies = [a.body.is_some(), a.markdown.is_some(), a.html.is_some()];
        if bodies.iter().filter(|b| **b).count() != 1 {
            bail!(
                "article {:?}: give exactly one of body (a .md or .html file), markdown or html",
                a.title
            );
        }
        if a.cover.is_some() == a.cover_media_id.is_some() {
            bail!(
                "article {:?}: give exactly one of cover (an image file) or cover_media_id",
                a.title
            );
        }
    }
    Ok(articles)
}

/// Markdown to HTML (tables, strikethrough and footnotes on).
pub(crate) fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_FOOTNOTES);
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

/// The body of `spec` as HTML.
pub(crate) fn body_html(spec: &ArticleSpec, dir: &Path) -> anyhow::Result<String> {
    if let Some(html) = &spec.html {
        return Ok(html.clone());
    }
    if let Some(md) = &spec.markdown {
        return Ok(markdown_to_html(md));
    }
    let Some(rel) = &spec.body else {
        bail!("article {:?} has no body", spec.title);
    };
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the body {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "md" | "markdown" => Ok(markdown_to_html(&text)),
        "html" | "htm" => Ok(text),
        other => bail!(
            "the body {} has the extension {other:?}; use .md / .markdown or .html / .htm",
            path.display()
        ),
    }
}

/// The `src` of every `<img>` in `html`, in order, without repeats.
pub(crate) fn image_sources(html: &str) -> Vec<String> {
    let re = Regex::new(r#"(?i)<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']"#).expect("valid regex");
    let mut seen = Vec::new();
    for cap in re.captures_iter(html) {
        let src = cap[1].to_owned();
        if !seen.contains(&src) {
            seen.push(src);
        }
    }
    seen
}

/// Whether an image `src` is a local file (not a URL).
pub(crate) fn is_local(src: &str) -> bool {
    !(src.starts_with("http://")
        || src.starts_with("https://")
        || src.starts_with("data:")
        || src.starts_with("//"))
}

/// `html` with each `src="from"` replaced by its URL in `urls`.
pub(crate) fn replace_sources(html: &str, urls: &HashMap<String, String>) -> String {
    let mut out = html.to_owned();
    for (from, to) in urls {
        out = out
            .replace(&format!("src=\"{from}\""), &format!("src=\"{to}\""))
            .replace(&format!("src='{from}'"), &format!("src='{to}'"));
    }
    out
}

/// Build the draft articles: render the bodies, upload local images and covers.
pub(crate) async fn build(client: &Client, file: &ArticleFile) -> anyhow::Result<Vec<Article>> {
    let mut out = Vec::with_capacity(file.articles.len());
    let mut uploaded: HashMap<PathBuf, String> = HashMap::new();
    for spec in &file.articles {
        let mut html = body_html(spec, &file.dir)?;
        let mut urls = HashMap::new();
        for src in image_sources(&html) {
            if !is_local(&src) {
                if !src.contains("mmbiz.qpic.cn") {
                    eprintln!(
                        "warning: {src} is not an image uploaded to WeChat; the platform may drop it (use a local file to have it uploaded)"
                    );
                }
                continue;
            }
            let path = file.dir.join(&src);
            let url = match uploaded.get(&path) {
                Some(u) => u.clone(),
                None => {
                    let url = client
                        .upload_article_image(read_upload(&path)?)
                        .await
                        .with_context(|| format!("uploading the image {}", path.display()))?;
                    uploaded.insert(path.clone(), url.clone());
                    url
                }
            };
            urls.insert(src, url);
        }
        html = replace_sources(&html, &urls);
        let thumb = match (&spec.cover_media_id, &spec.cover) {
            (Some(id), _) => id.clone(),
            (None, Some(cover)) => {
                let path = file.dir.join(cover);
                client
                    .material_add(MaterialType::Image, read_upload(&path)?, None)
                    .await
                    .with_context(|| format!("uploading the cover {}", path.display()))?
                    .media_id
            }
            (None, None) => bail!("article {:?} has no cover", spec.title),
        };
        out.push(to_article(spec, html, thumb));
    }
    Ok(out)
}

/// The API article of a spec with its rendered body and cover.
pub(crate) fn to_article(spec: &ArticleSpec, html: String, thumb_media_id: String) -> Article {
    Article {
        author: spec.author.clone(),
        digest: spec.digest.clone(),
        content_source_url: spec.source_url.clone(),
        need_open_comment: Some(u8::from(spec.open_comment)),
        only_fans_can_comment: Some(u8::from(spec.fans_only_comment)),
        ..Article::new(spec.title.clone(), html, thumb_media_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_article_or_many() {
        let one = parse("title = \"T\"\ncover = \"c.jpg\"\nmarkdown = \"# Hi\"\n").unwrap();
        assert_eq!(one.len(), 1);
        let many = parse(
            "[[articles]]\ntitle = \"A\"\ncover_media_id = \"M\"\nhtml = \"<p>a</p>\"\n\
             [[articles]]\ntitle = \"B\"\ncover_media_id = \"M\"\nbody = \"b.md\"\n",
        )
        .unwrap();
        assert_eq!(many.len(), 2);
        let err = parse("title = \"T\"\ncover = \"c.jpg\"\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("exactly one of body"),
            "{err:#}"
        );
        let err = parse("title = \"T\"\nmarkdown = \"x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("cover"), "{err:#}");
        assert!(parse("title = \"T\"\ncover = \"c\"\nmarkdown = \"x\"\ncolour = 1\n").is_err());
    }

    #[test]
    fn markdown_renders_and_local_images_are_found_and_replaced() {
        let html =
            markdown_to_html("# 标题\n\n![图](img/a.png) ![远](https://x/y.png) ![图](img/a.png)");
        assert!(html.contains("<h1>标题</h1>"), "{html}");
        let srcs = image_sources(&html);
        assert_eq!(srcs, vec!["img/a.png", "https://x/y.png"]);
        assert!(is_local(&srcs[0]) && !is_local(&srcs[1]));
        let urls = HashMap::from([("img/a.png".to_owned(), "http://mmbiz.qpic.cn/a".to_owned())]);
        let out = replace_sources(&html, &urls);
        assert!(
            !out.contains("img/a.png") && out.matches("http://mmbiz.qpic.cn/a").count() == 2,
            "{out}"
        );
    }
}
