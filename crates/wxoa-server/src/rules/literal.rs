//! Replies given as data (a webhook's JSON, a script's value): checked and used verbatim,
//! never rendered as templates.

use wxoa_proto::limits::MAX_NEWS_ARTICLES;
use wxoa_proto::reply::{Article, Reply};

use super::spec::ReplySpec;

/// The reply a backend or a script answered, as sent. `Ok(None)` answers nothing: `none`, or
/// a blank text (which the platform would show as an error).
///
/// # Errors
/// A dynamic kind (`lookup`, `script`, `webhook`), an empty required field, or a news reply
/// without articles or with too many; the message says which.
pub(crate) fn literal_reply(spec: ReplySpec) -> Result<Option<Reply>, String> {
    fn required(field: &str, value: String) -> Result<String, String> {
        if value.trim().is_empty() {
            Err(format!("`{field}` must not be empty"))
        } else {
            Ok(value)
        }
    }
    fn optional(value: Option<String>) -> Option<String> {
        value.filter(|v| !v.is_empty())
    }
    Ok(Some(match spec {
        ReplySpec::Text(content) => {
            if content.trim().is_empty() {
                return Ok(None);
            }
            Reply::Text { content }
        }
        ReplySpec::Image(id) => Reply::Image {
            media_id: required("image", id)?,
        },
        ReplySpec::Voice(id) => Reply::Voice {
            media_id: required("voice", id)?,
        },
        ReplySpec::Video {
            media_id,
            title,
            description,
        } => Reply::Video {
            media_id: required("video.media_id", media_id)?,
            title: optional(title),
            description: optional(description),
        },
        ReplySpec::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => Reply::Music {
            title: optional(title),
            description: optional(description),
            music_url: optional(music_url),
            hq_music_url: optional(hq_music_url),
            thumb_media_id: required("music.thumb_media_id", thumb_media_id)?,
        },
        ReplySpec::News(articles) => {
            if articles.is_empty() {
                return Err("`news` needs at least one article".to_owned());
            }
            if articles.len() > MAX_NEWS_ARTICLES {
                return Err(format!(
                    "`news` has {} articles; a reply carries at most {MAX_NEWS_ARTICLES}",
                    articles.len()
                ));
            }
            let articles = articles
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    Ok(Article {
                        title: required(&format!("news[{}].title", i + 1), a.title)?,
                        description: a.description,
                        pic_url: a.pic_url,
                        url: a.url,
                    })
                })
                .collect::<Result<_, String>>()?;
            Reply::News { articles }
        }
        ReplySpec::TransferKf(account) => Reply::TransferCustomerService {
            kf_account: Some(account).filter(|a| !a.trim().is_empty()),
        },
        ReplySpec::None => return Ok(None),
        other @ (ReplySpec::Lookup(_)
        | ReplySpec::Script(_)
        | ReplySpec::Webhook(_)
        | ReplySpec::Chat(_)) => {
            return Err(format!(
                "reply kind `{}` cannot be given as an answer; answer with text, image, voice, \
                 video, music, news, transfer_kf or none",
                other.kind()
            ));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::spec::ArticleSpec;

    #[test]
    fn text_is_used_verbatim_and_blank_answers_nothing() {
        assert_eq!(
            literal_reply(ReplySpec::Text("{{ content }}".into())),
            Ok(Some(Reply::text("{{ content }}")))
        );
        assert_eq!(literal_reply(ReplySpec::Text("  \n".into())), Ok(None));
        assert_eq!(literal_reply(ReplySpec::None), Ok(None));
    }

    #[test]
    fn required_fields_and_news_limits() {
        let e = literal_reply(ReplySpec::Image(" ".into())).unwrap_err();
        assert!(e.contains("`image` must not be empty"), "{e}");
        let e = literal_reply(ReplySpec::News(Vec::new())).unwrap_err();
        assert!(e.contains("at least one"), "{e}");
        let many = vec![
            ArticleSpec {
                title: "t".into(),
                ..ArticleSpec::default()
            };
            9
        ];
        let e = literal_reply(ReplySpec::News(many)).unwrap_err();
        assert!(e.contains("9 articles"), "{e}");
        let e = literal_reply(ReplySpec::News(vec![ArticleSpec::default()])).unwrap_err();
        assert!(e.contains("news[1].title"), "{e}");
    }

    #[test]
    fn dynamic_kinds_are_refused_and_transfer_any_agent() {
        let e = literal_reply(ReplySpec::Script("x.rhai".into())).unwrap_err();
        assert!(e.contains("`script` cannot be given"), "{e}");
        assert_eq!(
            literal_reply(ReplySpec::TransferKf(String::new())),
            Ok(Some(Reply::TransferCustomerService { kf_account: None }))
        );
    }
}
