//! Typed events (`MsgType` = `event`, PROTOCOL.md §6), matched case-insensitively by `Event`.
//!
//! Every event the protocol digest lists has a variant; card events share [`Event::Card`] and
//! anything else is [`Event::Unknown`]. The raw fields of every event stay available in
//! [`Inbound::root`](crate::message::Inbound::root). Repeated elements (`PicList/item`,
//! `SubscribeMsg*Event/List`, `ResultList/item`) are always a `Vec`, whether one or many arrive.

use crate::message::{SHORT_NAME_MAX, float, lowercase_short, number, opt_string, string};
use crate::xml::{EMPTY_ELEMENT, Element};

/// An event push, typed by its `Event` name.
///
/// Required strings are empty when missing; numbers are `None` when missing or unparseable;
/// optional strings are `None` when missing or empty.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `subscribe`: a follow. Via a parametric QR code `event_key` is `qrscene_` + scene (prefix
    /// kept) and `ticket` is set; a plain follow has neither.
    Subscribe {
        /// `EventKey`, prefix kept.
        event_key: Option<String>,
        /// `Ticket` of the scanned QR code.
        ticket: Option<String>,
    },
    /// `unsubscribe`: an unfollow (WeChat ignores any reply).
    Unsubscribe,
    /// `SCAN`: an existing follower scanned a parametric QR code.
    Scan {
        /// `EventKey`: the bare scene value (no prefix; may be a `scene_str`).
        event_key: String,
        /// `Ticket` of the QR code.
        ticket: Option<String>,
    },
    /// `LOCATION`: periodic location report (if the account enabled it).
    Location {
        /// `Latitude`.
        latitude: Option<f64>,
        /// `Longitude`.
        longitude: Option<f64>,
        /// `Precision`.
        precision: Option<f64>,
    },
    /// `CLICK`: a menu button of type `click`.
    Click {
        /// `EventKey`: the button's `key`.
        event_key: String,
    },
    /// `VIEW`: a menu link was opened (a passive reply is pointless).
    View {
        /// `EventKey`: the URL.
        url: String,
        /// `MenuId`: the conditional menu's id, as sent.
        menu_id: Option<String>,
    },
    /// `view_miniprogram`: a menu button opened a Mini Program page.
    ViewMiniProgram {
        /// `EventKey`: the page path.
        page_path: String,
        /// `MenuId`, as sent.
        menu_id: Option<String>,
    },
    /// `scancode_push`: a menu scan whose result WeChat handles.
    ScancodePush {
        /// `EventKey`: the button's key.
        event_key: String,
        /// `ScanCodeInfo/ScanType` (`qrcode`, `barcode`).
        scan_type: String,
        /// `ScanCodeInfo/ScanResult`.
        scan_result: String,
    },
    /// `scancode_waitmsg`: a menu scan that waits for the account's reply.
    ScancodeWaitmsg {
        /// `EventKey`: the button's key.
        event_key: String,
        /// `ScanCodeInfo/ScanType`.
        scan_type: String,
        /// `ScanCodeInfo/ScanResult`.
        scan_result: String,
    },
    /// `pic_sysphoto`: the camera was opened from the menu.
    PicSysphoto {
        /// `EventKey`.
        event_key: String,
        /// `SendPicsInfo/Count`.
        count: Option<u32>,
        /// `SendPicsInfo/PicList/item/PicMd5Sum`, one per picture.
        pic_md5_sums: Vec<String>,
    },
    /// `pic_photo_or_album`: camera or album from the menu.
    PicPhotoOrAlbum {
        /// `EventKey`.
        event_key: String,
        /// `SendPicsInfo/Count`.
        count: Option<u32>,
        /// `SendPicsInfo/PicList/item/PicMd5Sum`.
        pic_md5_sums: Vec<String>,
    },
    /// `pic_weixin`: the WeChat album from the menu.
    PicWeixin {
        /// `EventKey`.
        event_key: String,
        /// `SendPicsInfo/Count`.
        count: Option<u32>,
        /// `SendPicsInfo/PicList/item/PicMd5Sum`.
        pic_md5_sums: Vec<String>,
    },
    /// `location_select`: a location picked from the menu.
    LocationSelect {
        /// `EventKey`.
        event_key: String,
        /// `SendLocationInfo/Location_X` (latitude).
        latitude: Option<f64>,
        /// `SendLocationInfo/Location_Y` (longitude).
        longitude: Option<f64>,
        /// `SendLocationInfo/Scale`.
        scale: Option<f64>,
        /// `SendLocationInfo/Label`, as sent.
        label: String,
        /// `SendLocationInfo/Poiname` (often empty, then `None`).
        poiname: Option<String>,
    },
    /// `TEMPLATESENDJOBFINISH`: delivery result of a template message.
    TemplateSendJobFinish {
        /// `MsgID`.
        msg_id: Option<u64>,
        /// `Status` (`success`, `failed:user block`, `failed: system failed`, …).
        status: String,
    },
    /// `MASSSENDJOBFINISH`: result of a mass send.
    MassSendJobFinish {
        /// `MsgID`.
        msg_id: Option<u64>,
        /// `Status` (`send success`, `send fail`, `err(NNNNN)`).
        status: String,
        /// `TotalCount`.
        total_count: Option<u64>,
        /// `FilterCount`.
        filter_count: Option<u64>,
        /// `SentCount`.
        sent_count: Option<u64>,
        /// `ErrorCount`.
        error_count: Option<u64>,
        /// `CopyrightCheckResult`, when present.
        copyright_check: Option<CopyrightCheck>,
        /// `ArticleUrlResult/ResultList/item`.
        article_urls: Vec<ArticleUrl>,
    },
    /// `PUBLISHJOBFINISH`: result of a free publish (`freepublish/submit`).
    PublishJobFinish {
        /// `PublishEventInfo/publish_id`, as sent.
        publish_id: Option<String>,
        /// `PublishEventInfo/publish_status` (0 = success).
        publish_status: Option<i64>,
        /// `PublishEventInfo/article_id`.
        article_id: Option<String>,
        /// `PublishEventInfo/article_detail/item`.
        articles: Vec<PublishedArticle>,
        /// `PublishEventInfo/fail_idx` (one element per failed article).
        fail_idx: Vec<u32>,
    },
    /// `subscribe_msg_popup_event`: the user answered a subscription-message prompt.
    SubscribeMsgPopup {
        /// `SubscribeMsgPopupEvent/List`.
        items: Vec<SubscribePopupItem>,
    },
    /// `subscribe_msg_change_event`: the user changed a subscription in settings.
    SubscribeMsgChange {
        /// `SubscribeMsgChangeEvent/List`.
        items: Vec<SubscribeChangeItem>,
    },
    /// `subscribe_msg_sent_event`: delivery result of subscription messages.
    SubscribeMsgSent {
        /// `SubscribeMsgSentEvent/List`.
        items: Vec<SubscribeSentItem>,
    },
    /// `qualification_verify_success`.
    QualificationVerifySuccess {
        /// `ExpiredTime` (Unix seconds).
        expired_time: Option<i64>,
    },
    /// `qualification_verify_fail`.
    QualificationVerifyFail {
        /// `FailTime` (Unix seconds).
        fail_time: Option<i64>,
        /// `FailReason`.
        fail_reason: String,
    },
    /// `naming_verify_success`.
    NamingVerifySuccess {
        /// `ExpiredTime` (Unix seconds).
        expired_time: Option<i64>,
    },
    /// `naming_verify_fail`.
    NamingVerifyFail {
        /// `FailTime` (Unix seconds).
        fail_time: Option<i64>,
        /// `FailReason`.
        fail_reason: String,
    },
    /// `annual_renew`: the yearly verification is due.
    AnnualRenew {
        /// `ExpiredTime` (Unix seconds).
        expired_time: Option<i64>,
    },
    /// `verify_expired`: the verification lapsed.
    VerifyExpired {
        /// `ExpiredTime` (Unix seconds).
        expired_time: Option<i64>,
    },
    /// `kf_create_session`: a customer-service agent took the session.
    KfCreateSession {
        /// `KfAccount`.
        kf_account: String,
    },
    /// `kf_close_session`: an agent closed the session.
    KfCloseSession {
        /// `KfAccount`.
        kf_account: String,
    },
    /// `kf_switch_session`: the session moved between agents.
    KfSwitchSession {
        /// `FromKfAccount`.
        from_kf_account: String,
        /// `ToKfAccount`.
        to_kf_account: String,
    },
    /// A card/coupon event (`user_get_card`, `card_pass_check`, …); fields stay in the raw root.
    Card {
        /// `Event` as sent.
        event: String,
    },
    /// Any other event; fields stay in the raw root.
    Unknown {
        /// `Event` as sent (empty when missing).
        event: String,
    },
}

/// `MASSSENDJOBFINISH` → `CopyrightCheckResult`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyrightCheck {
    /// `Count`.
    pub count: Option<u32>,
    /// `ResultList/item`.
    pub results: Vec<CopyrightCheckItem>,
    /// `CheckState` (1 = passed, 2 = refused, …).
    pub check_state: Option<i64>,
}

/// One `CopyrightCheckResult/ResultList/item`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyrightCheckItem {
    /// `ArticleIdx` (1-based).
    pub article_idx: Option<u32>,
    /// `UserDeclareState`.
    pub user_declare_state: Option<i64>,
    /// `AuditState`.
    pub audit_state: Option<i64>,
    /// `OriginalArticleUrl`.
    pub original_article_url: Option<String>,
    /// `OriginalArticleType`.
    pub original_article_type: Option<i64>,
    /// `CanReprint`.
    pub can_reprint: Option<i64>,
    /// `NeedReplaceContent`.
    pub need_replace_content: Option<i64>,
    /// `NeedShowReprintSource`.
    pub need_show_reprint_source: Option<i64>,
}

/// One `ArticleUrlResult/ResultList/item`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArticleUrl {
    /// `ArticleIdx` (1-based).
    pub article_idx: Option<u32>,
    /// `ArticleUrl`.
    pub article_url: String,
}

/// One `PublishEventInfo/article_detail/item`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishedArticle {
    /// `idx` (1-based).
    pub idx: Option<u32>,
    /// `article_url`.
    pub article_url: String,
}

/// One `SubscribeMsgPopupEvent/List`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribePopupItem {
    /// `TemplateId`.
    pub template_id: String,
    /// `SubscribeStatusString` (`accept`, `reject`).
    pub subscribe_status: String,
    /// `PopupScene`.
    pub popup_scene: Option<i64>,
}

/// One `SubscribeMsgChangeEvent/List`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeChangeItem {
    /// `TemplateId`.
    pub template_id: String,
    /// `SubscribeStatusString` (`reject` when the user turned it off).
    pub subscribe_status: String,
}

/// One `SubscribeMsgSentEvent/List`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeSentItem {
    /// `TemplateId`.
    pub template_id: String,
    /// `MsgID`.
    pub msg_id: Option<u64>,
    /// `ErrorCode` (0 = delivered).
    pub error_code: Option<i64>,
    /// `ErrorStatus` (`success`, `fail:user refuse`, …).
    pub error_status: String,
}

/// The card/coupon event names (PROTOCOL.md §6), lower-case.
const CARD_EVENTS: &[&str] = &[
    "card_pass_check",
    "card_not_pass_check",
    "user_get_card",
    "user_gifting_card",
    "user_del_card",
    "user_consume_card",
    "user_pay_from_pay_cell",
    "user_view_card",
    "user_enter_session_from_card",
    "update_member_card",
    "card_sku_remind",
    "card_pay_order",
    "submit_membercard_user_info",
];

impl Event {
    /// Type the fields of an event push's `<xml>` root by its `Event` name (case-insensitive).
    pub(crate) fn from_root(root: &Element) -> Self {
        let name = root.child_text("Event").map(str::trim).unwrap_or("");
        let key = || string(root, "EventKey");
        let mut lower = [0u8; SHORT_NAME_MAX];
        match lowercase_short(name, &mut lower) {
            "subscribe" => Event::Subscribe {
                event_key: opt_string(root, "EventKey"),
                ticket: opt_string(root, "Ticket"),
            },
            "unsubscribe" => Event::Unsubscribe,
            "scan" => Event::Scan {
                event_key: key(),
                ticket: opt_string(root, "Ticket"),
            },
            "location" => Event::Location {
                latitude: float(root, "Latitude"),
                longitude: float(root, "Longitude"),
                precision: float(root, "Precision"),
            },
            "click" => Event::Click { event_key: key() },
            "view" => Event::View {
                url: key(),
                menu_id: opt_string(root, "MenuId"),
            },
            "view_miniprogram" => Event::ViewMiniProgram {
                page_path: key(),
                menu_id: opt_string(root, "MenuId"),
            },
            "scancode_push" => {
                let info = section(root, "ScanCodeInfo");
                Event::ScancodePush {
                    event_key: key(),
                    scan_type: string(info, "ScanType"),
                    scan_result: string(info, "ScanResult"),
                }
            }
            "scancode_waitmsg" => {
                let info = section(root, "ScanCodeInfo");
                Event::ScancodeWaitmsg {
                    event_key: key(),
                    scan_type: string(info, "ScanType"),
                    scan_result: string(info, "ScanResult"),
                }
            }
            "pic_sysphoto" => {
                let (count, pic_md5_sums) = pics(root);
                Event::PicSysphoto {
                    event_key: key(),
                    count,
                    pic_md5_sums,
                }
            }
            "pic_photo_or_album" => {
                let (count, pic_md5_sums) = pics(root);
                Event::PicPhotoOrAlbum {
                    event_key: key(),
                    count,
                    pic_md5_sums,
                }
            }
            "pic_weixin" => {
                let (count, pic_md5_sums) = pics(root);
                Event::PicWeixin {
                    event_key: key(),
                    count,
                    pic_md5_sums,
                }
            }
            "location_select" => {
                let info = section(root, "SendLocationInfo");
                Event::LocationSelect {
                    event_key: key(),
                    latitude: float(info, "Location_X"),
                    longitude: float(info, "Location_Y"),
                    scale: float(info, "Scale"),
                    label: string(info, "Label"),
                    poiname: opt_string(info, "Poiname"),
                }
            }
            "templatesendjobfinish" => Event::TemplateSendJobFinish {
                msg_id: number(root, "MsgID"),
                status: string(root, "Status"),
            },
            "masssendjobfinish" => mass_send_job_finish(root),
            "publishjobfinish" => publish_job_finish(root),
            "subscribe_msg_popup_event" => Event::SubscribeMsgPopup {
                items: section(root, "SubscribeMsgPopupEvent")
                    .children_named("List")
                    .map(|l| SubscribePopupItem {
                        template_id: string(l, "TemplateId"),
                        subscribe_status: string(l, "SubscribeStatusString"),
                        popup_scene: number(l, "PopupScene"),
                    })
                    .collect(),
            },
            "subscribe_msg_change_event" => Event::SubscribeMsgChange {
                items: section(root, "SubscribeMsgChangeEvent")
                    .children_named("List")
                    .map(|l| SubscribeChangeItem {
                        template_id: string(l, "TemplateId"),
                        subscribe_status: string(l, "SubscribeStatusString"),
                    })
                    .collect(),
            },
            "subscribe_msg_sent_event" => Event::SubscribeMsgSent {
                items: section(root, "SubscribeMsgSentEvent")
                    .children_named("List")
                    .map(|l| SubscribeSentItem {
                        template_id: string(l, "TemplateId"),
                        msg_id: number(l, "MsgID"),
                        error_code: number(l, "ErrorCode"),
                        error_status: string(l, "ErrorStatus"),
                    })
                    .collect(),
            },
            "qualification_verify_success" => Event::QualificationVerifySuccess {
                expired_time: number(root, "ExpiredTime"),
            },
            "qualification_verify_fail" => Event::QualificationVerifyFail {
                fail_time: number(root, "FailTime"),
                fail_reason: string(root, "FailReason"),
            },
            "naming_verify_success" => Event::NamingVerifySuccess {
                expired_time: number(root, "ExpiredTime"),
            },
            "naming_verify_fail" => Event::NamingVerifyFail {
                fail_time: number(root, "FailTime"),
                fail_reason: string(root, "FailReason"),
            },
            "annual_renew" => Event::AnnualRenew {
                expired_time: number(root, "ExpiredTime"),
            },
            "verify_expired" => Event::VerifyExpired {
                expired_time: number(root, "ExpiredTime"),
            },
            "kf_create_session" => Event::KfCreateSession {
                kf_account: string(root, "KfAccount"),
            },
            "kf_close_session" => Event::KfCloseSession {
                kf_account: string(root, "KfAccount"),
            },
            "kf_switch_session" => Event::KfSwitchSession {
                from_kf_account: string(root, "FromKfAccount"),
                to_kf_account: string(root, "ToKfAccount"),
            },
            lower if CARD_EVENTS.contains(&lower) => Event::Card {
                event: name.to_owned(),
            },
            _ => Event::Unknown {
                event: name.to_owned(),
            },
        }
    }

    /// The scene of a parametric QR code: `subscribe`'s `EventKey` without its `qrscene_` prefix,
    /// or `SCAN`'s `EventKey`. `None` for other events and for a plain follow.
    #[must_use]
    pub fn qr_scene(&self) -> Option<&str> {
        match self {
            Event::Subscribe {
                event_key: Some(key),
                ..
            } => key.strip_prefix("qrscene_"),
            Event::Scan { event_key, .. } if !event_key.is_empty() => Some(event_key),
            _ => None,
        }
    }
}

/// A nested element, or an empty one when it is missing (so its fields read as absent).
fn section<'a>(root: &'a Element, name: &str) -> &'a Element {
    root.child(name).unwrap_or(&EMPTY_ELEMENT)
}

fn pics(root: &Element) -> (Option<u32>, Vec<String>) {
    let info = section(root, "SendPicsInfo");
    let sums = section(info, "PicList")
        .children_named("item")
        .map(|item| string(item, "PicMd5Sum"))
        .collect();
    (number(info, "Count"), sums)
}

fn mass_send_job_finish(root: &Element) -> Event {
    let copyright_check = root.child("CopyrightCheckResult").map(|c| CopyrightCheck {
        count: number(c, "Count"),
        results: section(c, "ResultList")
            .children_named("item")
            .map(|i| CopyrightCheckItem {
                article_idx: number(i, "ArticleIdx"),
                user_declare_state: number(i, "UserDeclareState"),
                audit_state: number(i, "AuditState"),
                original_article_url: opt_string(i, "OriginalArticleUrl"),
                original_article_type: number(i, "OriginalArticleType"),
                can_reprint: number(i, "CanReprint"),
                need_replace_content: number(i, "NeedReplaceContent"),
                need_show_reprint_source: number(i, "NeedShowReprintSource"),
            })
            .collect(),
        check_state: number(c, "CheckState"),
    });
    let article_urls = section(section(root, "ArticleUrlResult"), "ResultList")
        .children_named("item")
        .map(|i| ArticleUrl {
            article_idx: number(i, "ArticleIdx"),
            article_url: string(i, "ArticleUrl"),
        })
        .collect();
    Event::MassSendJobFinish {
        msg_id: number(root, "MsgID"),
        status: string(root, "Status"),
        total_count: number(root, "TotalCount"),
        filter_count: number(root, "FilterCount"),
        sent_count: number(root, "SentCount"),
        error_count: number(root, "ErrorCount"),
        copyright_check,
        article_urls,
    }
}

fn publish_job_finish(root: &Element) -> Event {
    let info = section(root, "PublishEventInfo");
    Event::PublishJobFinish {
        publish_id: opt_string(info, "publish_id").map(|s| s.trim().to_owned()),
        publish_status: number(info, "publish_status"),
        article_id: opt_string(info, "article_id"),
        articles: section(info, "article_detail")
            .children_named("item")
            .map(|i| PublishedArticle {
                idx: number(i, "idx"),
                article_url: string(i, "article_url"),
            })
            .collect(),
        fail_idx: info
            .children_named("fail_idx")
            .filter_map(|f| f.text.trim().parse().ok())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{XmlLimits, parse_document};

    fn event(body: &str) -> Event {
        let doc = format!("<xml><MsgType>event</MsgType>{body}</xml>");
        Event::from_root(&parse_document(doc.as_bytes(), XmlLimits::default()).unwrap())
    }

    #[test]
    fn names_match_case_insensitively() {
        assert_eq!(
            event("<Event>scan</Event><EventKey>42</EventKey>"),
            Event::Scan {
                event_key: "42".to_owned(),
                ticket: None
            }
        );
        assert_eq!(event("<Event>UNSUBSCRIBE</Event>"), Event::Unsubscribe);
        assert_eq!(
            event("<Event>User_Get_Card</Event>"),
            Event::Card {
                event: "User_Get_Card".to_owned()
            }
        );
    }

    #[test]
    fn missing_or_unknown_event_is_unknown() {
        assert_eq!(
            event(""),
            Event::Unknown {
                event: String::new()
            }
        );
        assert_eq!(
            event("<Event>WifiConnected</Event>"),
            Event::Unknown {
                event: "WifiConnected".to_owned()
            }
        );
    }

    #[test]
    fn qr_scene_strips_the_subscribe_prefix_only() {
        let sub = event("<Event>subscribe</Event><EventKey>qrscene_123</EventKey>");
        assert_eq!(sub.qr_scene(), Some("123"));
        let plain = event("<Event>subscribe</Event><EventKey><![CDATA[]]></EventKey>");
        assert_eq!(plain.qr_scene(), None);
        let scan = event("<Event>SCAN</Event><EventKey>abc</EventKey>");
        assert_eq!(scan.qr_scene(), Some("abc"));
    }

    #[test]
    fn missing_sections_read_as_absent() {
        assert_eq!(
            event("<Event>pic_weixin</Event>"),
            Event::PicWeixin {
                event_key: String::new(),
                count: None,
                pic_md5_sums: Vec::new()
            }
        );
    }
}
