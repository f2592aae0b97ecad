//! The platform's `errcode` values: a table of hints (Chinese and English) for the common ones.
//!
//! Sources: PROTOCOL.md §8.1 and §10 (wechatpy `constants.py`, WxJava `WxMpErrorMsgEnum`, the
//! official global error page). A hint says what the code means *for this account* and what to
//! do; `{ip}` in a hint is replaced by the IP address found in the `errmsg` (40164).

use std::net::IpAddr;

/// `errcode` for "system busy": retried with back-off, but only for calls safe to repeat.
pub const SYSTEM_BUSY: i64 = -1;

/// `errcode`s meaning the access_token was rejected (invalid / not latest, malformed, expired).
///
/// On these the provider expires the failing token (compare-and-expire), fetches once and
/// retries the call once.
pub const TOKEN_REJECTED: [i64; 3] = [40001, 40014, 42001];

/// Whether `code` is one of [`TOKEN_REJECTED`].
#[must_use]
pub fn is_token_rejected(code: i64) -> bool {
    TOKEN_REJECTED.contains(&code)
}

/// What an `errcode` means and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// The `errcode`.
    pub code: i64,
    /// Explanation and action in Chinese; may contain the `{ip}` placeholder.
    pub zh: &'static str,
    /// Explanation and action in English; may contain the `{ip}` placeholder.
    pub en: &'static str,
}

impl Hint {
    /// The Chinese hint with `{ip}` filled from `errmsg`.
    #[must_use]
    pub fn render_zh(&self, errmsg: &str) -> String {
        fill(self.zh, errmsg, "（错误信息中的 IP）")
    }

    /// The English hint with `{ip}` filled from `errmsg`.
    #[must_use]
    pub fn render_en(&self, errmsg: &str) -> String {
        fill(self.en, errmsg, "(the IP in the error message)")
    }
}

fn fill(text: &str, errmsg: &str, unknown: &str) -> String {
    if text.contains("{ip}") {
        text.replace("{ip}", whitelist_ip(errmsg).unwrap_or(unknown))
    } else {
        text.to_owned()
    }
}

/// The caller IP the platform names in a 40164 `errmsg`
/// (`"invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: …"`).
///
/// Prefers the IPv4 form; falls back to the `ipv6` one.
#[must_use]
pub fn whitelist_ip(errmsg: &str) -> Option<&str> {
    let first = ip_after(errmsg, "invalid ip ");
    first.or_else(|| ip_after(errmsg, "ipv6 "))
}

fn ip_after<'a>(errmsg: &'a str, marker: &str) -> Option<&'a str> {
    let start = errmsg.find(marker)? + marker.len();
    let rest = &errmsg[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .unwrap_or(rest.len());
    let candidate = &rest[..end];
    candidate.parse::<IpAddr>().ok().map(|_| candidate)
}

/// The hint for `code`, if the table has one.
#[must_use]
pub fn hint(code: i64) -> Option<&'static Hint> {
    HINTS.iter().find(|h| h.code == code)
}

/// Every hint in the table, ordered by code.
#[must_use]
pub fn hints() -> &'static [Hint] {
    HINTS
}

const fn h(code: i64, zh: &'static str, en: &'static str) -> Hint {
    Hint { code, zh, en }
}

static HINTS: &[Hint] = &[
    h(
        -1,
        "系统繁忙，请稍后重试（读取类接口会自动退避重试，发送消息不会重复发送）。",
        "The platform is busy; try again shortly (read calls are retried with back-off automatically; messages are never sent twice).",
    ),
    h(
        40001,
        "获取 access_token 时出现表示 AppSecret 错误；调用接口时出现表示 access_token 无效或已被另一次获取顶替——所有进程/主机必须共用同一个令牌存储（store.url / store.redis_url），不要各自获取。",
        "On a token fetch: the AppSecret is wrong. On any other call: the access_token is invalid or was superseded by another fetch; every process and host must share one token store (store.url / store.redis_url) instead of fetching on its own.",
    ),
    h(
        40002,
        "grant_type 不合法（应为 client_credential），属于程序配置错误。",
        "Invalid grant_type (must be client_credential): a client bug.",
    ),
    h(
        40003,
        "openid 不合法：不是本公众号的用户，或用户未关注。不要重试。",
        "Invalid openid: it does not belong to this account's followers (or was issued by another account). Do not retry.",
    ),
    h(
        40004,
        "媒体文件类型不合法（type 应为 image / voice / video / thumb）。",
        "Invalid media type (image, voice, video or thumb).",
    ),
    h(
        40005,
        "上传的文件格式不被支持，请检查文件扩展名和内容。",
        "Unsupported file format for this media type; check the file extension and contents.",
    ),
    h(
        40007,
        "media_id 无效：临时素材只保存 3 天，或该 media_id 不属于本公众号。",
        "Invalid media_id: temporary media expire after 3 days, or the id belongs to another account.",
    ),
    h(40008, "消息类型不合法。", "Invalid message type."),
    h(
        40009,
        "图片尺寸太大（图文消息内的图片 uploadimg 限 1MB，jpg/png）。",
        "The image is too large (article images via uploadimg: at most 1 MB, jpg/png).",
    ),
    h(
        40013,
        "AppID 不合法：请核对配置中的 account.appid（公众号后台 → 设置与开发 → 基本配置）。",
        "Invalid AppID: check account.appid against 公众号后台 → 设置与开发 → 基本配置 (Settings and Development → Basic Configuration).",
    ),
    h(
        40014,
        "access_token 不合法（格式错误或不属于本账号），将自动重新获取一次。",
        "The access_token is malformed or belongs to another account; it is refetched once automatically.",
    ),
    h(
        40016,
        "菜单一级按钮个数不合法（1 到 3 个）。",
        "Invalid number of top-level menu buttons (1 to 3).",
    ),
    h(40017, "菜单按钮类型不合法。", "Invalid menu button type."),
    h(
        40018,
        "菜单一级按钮名称过长（不超过 16 字节，汉字占 3 字节）。",
        "Top-level menu button name too long (16 bytes; a CJK character takes 3).",
    ),
    h(
        40019,
        "菜单按钮 key 过长（不超过 128 字节）。",
        "Menu button key too long (128 bytes at most).",
    ),
    h(
        40020,
        "菜单按钮 url 过长（不超过 1024 字节）。",
        "Menu button url too long (1024 bytes at most).",
    ),
    h(
        40023,
        "子菜单按钮个数不合法（1 到 5 个）。",
        "Invalid number of sub-buttons (1 to 5).",
    ),
    h(40024, "子菜单按钮类型不合法。", "Invalid sub-button type."),
    h(
        40025,
        "子菜单按钮名称过长（不超过 60 字节）。",
        "Sub-button name too long (60 bytes at most).",
    ),
    h(
        40026,
        "子菜单按钮 key 过长（不超过 128 字节）。",
        "Sub-button key too long (128 bytes at most).",
    ),
    h(
        40027,
        "子菜单按钮 url 过长（不超过 1024 字节）。",
        "Sub-button url too long (1024 bytes at most).",
    ),
    h(
        40029,
        "网页授权 code 无效或已过期（5 分钟内有效、只能用一次），请重新发起授权。",
        "Invalid or expired OAuth code (single use, valid 5 minutes): restart the authorization.",
    ),
    h(
        40030,
        "网页授权 refresh_token 无效，请重新发起授权。",
        "Invalid OAuth refresh_token: restart the authorization.",
    ),
    h(
        40032,
        "openid 列表数量不合法：群发按 openid 发送需 2 到 10000 个；拉黑/取消拉黑一次最多 20 个。",
        "Invalid openid list size: a mass send by openid takes 2 to 10 000; black/unblack at most 20 a call.",
    ),
    h(
        40033,
        "请求中包含 \\uxxxx 转义字符：请求体必须是未转义的 UTF-8（本客户端始终如此发送）。",
        "The request contained \\uxxxx escapes; bodies must be raw UTF-8 (this client always sends them so).",
    ),
    h(
        40037,
        "template_id 不合法：模板不存在或不属于本公众号。",
        "Invalid template_id: no such template in this account.",
    ),
    h(
        40054,
        "子菜单按钮 url 域名不合法。",
        "Invalid sub-button url domain.",
    ),
    h(
        40055,
        "菜单按钮 url 域名不合法。",
        "Invalid button url domain.",
    ),
    h(
        40097,
        "参数不合法：请对照接口文档检查字段取值（例如草稿的 index、发布的 publish_id、短 key）。",
        "Invalid arguments: check the field values against the API docs (a draft index, a publish_id, a short key, ...).",
    ),
    h(
        40125,
        "AppSecret 不合法：请在 公众号后台 → 设置与开发 → 基本配置 核对或重置 AppSecret，并更新配置（建议用环境变量 WXOA_ACCOUNT__SECRET）。",
        "Invalid AppSecret: check or reset it in 公众号后台 → 设置与开发 → 基本配置 (Basic Configuration) and update the config (preferably the WXOA_ACCOUNT__SECRET environment variable).",
    ),
    h(
        40130,
        "群发按 openid 发送至少需要 2 个 openid；只发给一个人请用预览接口（wxoa mass preview）。",
        "A mass send by openid needs at least 2 openids; to send to one follower use preview (wxoa mass preview).",
    ),
    h(
        40163,
        "网页授权 code 已被使用，请重新发起授权。",
        "The OAuth code was already used: restart the authorization.",
    ),
    h(
        40164,
        "调用接口的 IP 地址 {ip} 不在白名单中：请到 公众号后台 → 设置与开发 → 基本配置 → IP白名单 添加 {ip}（修改后几分钟内生效）。",
        "The caller IP {ip} is not in the API IP whitelist: add {ip} in 公众号后台 → 设置与开发 → 基本配置 → IP白名单 (Settings and Development → Basic Configuration → IP whitelist); it takes effect within minutes.",
    ),
    h(
        40243,
        "AppSecret 已被冻结，请到公众号后台解冻或重置。",
        "The AppSecret is frozen: unfreeze or reset it in the account backend.",
    ),
    h(
        41001,
        "缺少 access_token 参数。",
        "The access_token parameter is missing.",
    ),
    h(
        41002,
        "缺少 appid 参数：请检查 account.appid。",
        "The appid parameter is missing: check account.appid.",
    ),
    h(
        41004,
        "缺少 secret 参数：请设置 account.secret（或环境变量 WXOA_ACCOUNT__SECRET）。",
        "The secret parameter is missing: set account.secret (or WXOA_ACCOUNT__SECRET).",
    ),
    h(
        41005,
        "缺少多媒体文件数据（表单字段应为 media）。",
        "The media file is missing from the upload (form field `media`).",
    ),
    h(
        41030,
        "page 路径不正确：订阅通知跳转的小程序页面需已发布且存在。",
        "Invalid page: the mini program page of a subscribe message must exist in the released version.",
    ),
    h(
        42001,
        "access_token 已过期，将自动重新获取并重试一次。",
        "The access_token expired; it is refetched and the call retried once automatically.",
    ),
    h(
        42002,
        "网页授权 refresh_token 已过期（约 30 天），请重新授权。",
        "The OAuth refresh_token expired (about 30 days): authorize again.",
    ),
    h(
        42003,
        "网页授权 code 已过期，请重新授权。",
        "The OAuth code expired: authorize again.",
    ),
    h(
        42007,
        "用户修改了微信密码，网页授权的令牌已失效，请重新授权。",
        "The user changed their WeChat password; OAuth tokens are void: authorize again.",
    ),
    h(
        43004,
        "用户未关注本公众号，无法发送。不要重试。",
        "The user does not follow this account; nothing can be sent. Do not retry.",
    ),
    h(
        43019,
        "用户在本公众号的黑名单中。",
        "The user is in this account's blacklist.",
    ),
    h(
        43101,
        "用户拒绝接收此消息（已取消订阅模板/订阅消息）。",
        "The user refused this message (unsubscribed from template or subscription messages).",
    ),
    h(44002, "POST 请求体为空。", "The POST body is empty."),
    h(
        45001,
        "多媒体文件大小超过限制（图片/视频 10MB，语音 2MB，缩略图 64KB）。",
        "Media file too large (image/video 10 MB, voice 2 MB, thumb 64 KB).",
    ),
    h(
        45002,
        "消息内容超过长度限制。",
        "Message content exceeds the size limit.",
    ),
    h(
        45008,
        "图文消息的文章数量超过限制。",
        "Too many articles in the news message.",
    ),
    h(
        45009,
        "接口调用次数已达每日上限（按北京时间零点重置；获取 access_token 约 2000 次/天）。可等待次日重置，或调用 clear_quota 清零（每月仅 10 次，与 clear_quota/v2 共用）。频繁获取令牌通常说明多个进程在各自获取——请共用一个令牌存储。",
        "The daily quota of this API is used up (resets at midnight Beijing time; about 2000 access_token fetches a day). Wait for the reset or call clear_quota (only 10 resets a month, shared with clear_quota/v2). Frequent token fetches usually mean several processes fetch on their own: share one token store.",
    ),
    h(
        45011,
        "接口调用过于频繁（每分钟上限），请等到下一分钟再试。",
        "Per-minute limit of this API reached: back off until the next minute.",
    ),
    h(
        45015,
        "回复时间超过限制：客服消息只能在用户 48 小时内与公众号互动（发消息、点击菜单、关注、扫码）后发送；请改用模板消息或订阅消息。",
        "Outside the 48-hour window: 客服 messages can only be sent within 48 hours after the user messaged, clicked a menu, followed or scanned; use a template or subscription message instead.",
    ),
    h(
        45028,
        "群发次数已用完：订阅号每天 1 次，服务号每月 4 次（按北京时间计算）。",
        "No mass-send quota left: a subscription account sends once a day, a service account 4 times a month (Beijing time).",
    ),
    h(
        45047,
        "本次互动窗口内的客服消息条数已用完（如 48 小时内 5 条），请等待用户下次互动。",
        "The 客服 message quota of this interaction window is used up (e.g. 5 within 48 hours): wait for the user's next action.",
    ),
    h(
        45056,
        "标签数量已达上限（100 个）。",
        "Too many tags (100 at most).",
    ),
    h(
        45058,
        "不能修改或删除系统保留标签（0 / 1 / 2）。",
        "System tags 0, 1 and 2 cannot be changed or deleted.",
    ),
    h(
        45064,
        "菜单中的小程序未与本公众号关联。",
        "The menu references a mini program not linked to this account.",
    ),
    h(
        45065,
        "相同 clientmsgid 已有群发任务：这条群发已经发过，不会重复发送（返回内容中有原任务的 msg_id）；要再次发送同样内容请换一个 clientmsgid。",
        "A mass send with this clientmsgid already exists: it was sent before and is not sent again (the answer names the original msg_id); give another clientmsgid to send the same content again.",
    ),
    h(
        45066,
        "相同 clientmsgid 重试过快，请间隔 1 分钟后重试（wxoa 会自动等待）。",
        "The same clientmsgid was retried too fast; retry after a minute (wxoa waits by itself).",
    ),
    h(
        45067,
        "clientmsgid 太长，最多 64 个字符。",
        "The clientmsgid is too long (at most 64 characters).",
    ),
    h(
        45083,
        "群发速度 speed 必须是 0 到 4 的档位。",
        "The mass send speed must be a level from 0 to 4.",
    ),
    h(
        45084,
        "没有设置群发速度 speed 参数。",
        "The speed parameter is missing.",
    ),
    h(
        45157,
        "标签名已存在。",
        "A tag with this name already exists.",
    ),
    h(
        45158,
        "标签名过长（不超过 30 个字符）。",
        "Tag name too long (30 characters at most).",
    ),
    h(45159, "tag_id 不合法。", "Invalid tag id."),
    h(46003, "菜单不存在（尚未创建菜单）。", "No menu exists yet."),
    h(46004, "用户不存在。", "No such user."),
    h(
        47001,
        "请求数据格式错误（JSON/XML 解析失败）。",
        "Malformed request body (JSON/XML did not parse).",
    ),
    h(
        47003,
        "参数值不合法（模板消息的 data 字段与模板不符时常见）。",
        "Invalid argument (common when template data does not match the template's fields).",
    ),
    h(
        48001,
        "公众号没有此接口的权限：请在 公众号后台 → 设置与开发 → 接口权限 查看（多数高级接口需要认证服务号）；也可能是使用了其他类型账号（如小程序）的令牌。",
        "The account lacks permission for this API: see 公众号后台 → 设置与开发 → 接口权限 (most advanced APIs need a verified service account); or a token of another account type (e.g. a mini program) was used.",
    ),
    h(
        48002,
        "用户已关闭“接收消息”，无法发送。",
        "The user turned off receiving messages from this account.",
    ),
    h(
        48004,
        "接口因违规被封禁，请查看公众号后台通知。",
        "The API is banned for this account because of a violation; see the backend notices.",
    ),
    h(
        48006,
        "本月 clear_quota 清零次数（10 次）已用完。",
        "clear_quota is exhausted for this month (10 resets).",
    ),
    h(
        49003,
        "openid 不属于本公众号。",
        "The openid does not belong to this account.",
    ),
    h(
        50001,
        "用户未授权该接口。",
        "The user has not authorized this API.",
    ),
    h(
        50002,
        "用户受限（可能因违规被封禁）。",
        "The user is restricted (possibly banned).",
    ),
    h(
        53404,
        "账号已被限制带货能力，草稿中的商品卡片无法保存。",
        "The account may not sell products: drafts with product cards cannot be saved.",
    ),
    h(
        53405,
        "草稿中插入的商品信息不合法。",
        "The product information inserted in the draft is invalid.",
    ),
    h(
        53406,
        "请先开通带货能力再插入商品。",
        "Enable product selling before inserting products.",
    ),
    h(
        53503,
        "该草稿未通过发布检查（内容或封面不合规），请在公众号后台打开草稿查看原因。",
        "The draft failed the pre-publish check (content or cover); open it in the web console to see why.",
    ),
    h(
        53504,
        "需前往公众平台官网使用草稿（该草稿含有接口不支持的内容）。",
        "The draft must be used in the web console (it holds content the API cannot publish).",
    ),
    h(
        53505,
        "请在公众号后台手动保存草稿成功后再发布。",
        "Save the draft manually in the web console, then publish.",
    ),
    h(
        53600,
        "article_id 无效：不是本公众号已发布的文章。",
        "Invalid article_id: not a post this account published.",
    ),
    h(
        61023,
        "第三方平台授权方 refresh_token 无效。",
        "The third-party platform's authorizer refresh_token is invalid.",
    ),
    h(
        61024,
        "该公众号的接口由第三方平台代为调用，不能直接使用 AppSecret 获取令牌（未经官方确认）。",
        "The account's API access appears to be delegated to a third-party platform, so the AppSecret cannot fetch tokens (unconfirmed by official docs).",
    ),
    h(
        61500,
        "日期格式错误，应为 YYYY-MM-DD。",
        "Bad date format: use YYYY-MM-DD.",
    ),
    h(
        61501,
        "日期范围错误：结束日期最晚为昨天，且每个接口有最大跨度（用户分析 7 天、图文群发每日数据 1 天、图文统计 3 天、消息分析 7 天）。",
        "Bad date range: the end date is yesterday at the latest, and each report has a maximum span (user 7 days, article summary 1 day, user read 3 days, messages 7 days).",
    ),
    h(65301, "个性化菜单不存在。", "No such conditional menu."),
    h(65302, "没有相应的用户。", "No such user."),
    h(
        65303,
        "没有默认菜单，不能创建个性化菜单：请先创建默认菜单。",
        "No default menu: create the default menu before any conditional menu.",
    ),
    h(
        65304,
        "个性化菜单的匹配规则为空。",
        "The conditional menu's matchrule is empty.",
    ),
    h(
        65316,
        "菜单中的外部链接域名过多（最多 3 个）。",
        "Too many external domains in the menu (3 at most).",
    ),
    h(
        65400,
        "API 不可用：未开通新版客服功能，请在公众号后台开通（客服功能 → 开通）。",
        "The API is unavailable: enable the new 客服 feature in the web console first.",
    ),
    h(65401, "无效的客服帐号。", "No such 客服 account."),
    h(
        65403,
        "客服昵称不合法（1 到 16 个字符）。",
        "Invalid 客服 nickname (1 to 16 characters).",
    ),
    h(
        65404,
        "客服帐号不合法：应为 前缀@公众号微信号，前缀最多 10 个字母或数字。",
        "Invalid 客服 account: PREFIX@ACCOUNT, the prefix at most 10 letters or digits.",
    ),
    h(
        65405,
        "客服帐号数目已达上限（100 个）。",
        "Too many 客服 accounts (at most 100).",
    ),
    h(65406, "客服帐号已存在。", "The 客服 account exists."),
    h(
        65407,
        "邀请对象已经是本公众号的客服。",
        "The invited user is already a 客服 of this account.",
    ),
    h(
        65408,
        "本公众号已经有一个邀请发给该微信号。",
        "An invitation to this WeChat user is already pending.",
    ),
    h(65409, "无效的微信号。", "Invalid WeChat id."),
    h(
        65410,
        "邀请对象绑定的公众号客服数已达上限。",
        "The invited user is 客服 of too many accounts.",
    ),
    h(
        65411,
        "该客服帐号已有一个待确认的邀请，不能重复邀请。",
        "This 客服 account has a pending invitation.",
    ),
    h(
        65412,
        "该客服帐号已经绑定微信号，不能再邀请。",
        "This 客服 account is already bound to a WeChat user.",
    ),
    h(
        89501,
        "该 IP 正在等待管理员确认，请联系公众号管理员在微信中确认。",
        "This IP is waiting for the administrator's confirmation: ask the account administrator to confirm it in WeChat.",
    ),
    h(
        89503,
        "该 IP 调用需要管理员确认：平台已向管理员发送确认消息，请确认后重试；或把 IP 加入 IP白名单。",
        "Calls from this IP need the administrator's confirmation: a confirmation message was sent to the administrator; confirm and retry, or add the IP to the IP whitelist.",
    ),
    h(
        89506,
        "该 IP 在 24 小时内被管理员拒绝两次，24 小时内不能再调用。",
        "The administrator rejected this IP twice within 24 hours; it is blocked for 24 hours.",
    ),
    h(
        89507,
        "该 IP 被管理员拒绝，1 小时内不能再调用。",
        "The administrator rejected this IP; it is blocked for 1 hour.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_big_enough() {
        assert!(HINTS.len() >= 30, "only {} hints", HINTS.len());
        for pair in HINTS.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} then {}",
                pair[0].code,
                pair[1].code
            );
        }
        for h in HINTS {
            assert!(!h.zh.is_empty() && !h.en.is_empty(), "{}", h.code);
        }
    }

    #[test]
    fn key_codes_have_specific_hints() {
        assert!(hint(40125).unwrap().en.contains("AppSecret"));
        assert!(hint(40013).unwrap().en.contains("AppID"));
        assert!(hint(48001).unwrap().en.contains("permission"));
        assert!(hint(45015).unwrap().en.contains("48-hour"));
        assert!(hint(45009).unwrap().en.contains("clear_quota"));
        assert!(hint(45009).unwrap().zh.contains("每日"));
        assert_eq!(hint(12345), None);
    }

    #[test]
    fn whitelist_ip_is_extracted_from_the_errmsg() {
        let msg = "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 6577-1a2b";
        assert_eq!(whitelist_ip(msg), Some("203.0.113.7"));
        let h = hint(40164).unwrap();
        let en = h.render_en(msg);
        assert!(en.contains("add 203.0.113.7 in"), "{en}");
        assert!(
            h.render_zh(msg)
                .contains("基本配置 → IP白名单 添加 203.0.113.7")
        );
    }

    #[test]
    fn whitelist_ip_falls_back_to_ipv6_and_to_a_placeholder() {
        assert_eq!(
            whitelist_ip("invalid ip  ipv6 2001:db8::1, not in whitelist"),
            Some("2001:db8::1")
        );
        assert_eq!(whitelist_ip("not in whitelist"), None);
        assert!(
            hint(40164)
                .unwrap()
                .render_en("garbled")
                .contains("(the IP in the error message)")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_ipv4_in_a_40164_message_is_found(a: u8, b: u8, c: u8, d: u8, rid in "[0-9a-f-]{0,30}") {
            let ip = format!("{a}.{b}.{c}.{d}");
            let msg = format!("invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist rid: {rid}");
            proptest::prop_assert_eq!(whitelist_ip(&msg), Some(ip.as_str()));
        }
    }

    #[test]
    fn token_rejected_codes() {
        assert!(is_token_rejected(40001) && is_token_rejected(40014) && is_token_rejected(42001));
        assert!(!is_token_rejected(40013) && !is_token_rejected(SYSTEM_BUSY));
    }
}
