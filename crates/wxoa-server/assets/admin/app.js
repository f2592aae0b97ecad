// The owner's console: a small page over the JSON API under /api/v1 (hash routes, no framework).
//
// Everything shown is built with DOM calls and textContent; nothing from the server is ever
// parsed as HTML. Every string the page shows is in STRINGS below (Chinese first, English too).
"use strict";

(function () {
  // ---------------------------------------------------------------------------------------------
  // Strings
  // ---------------------------------------------------------------------------------------------

  const STRINGS = {
    zh: {
      "app.title": "wxoa 控制台",
      "nav.dashboard": "概览",
      "nav.messages": "消息",
      "nav.followers": "粉丝",
      "nav.rules": "规则",
      "nav.menu": "菜单",
      "nav.audit": "操作记录",
      "lang.toggle": "English",
      "logout": "退出",
      "logout.done": "已退出登录",
      "loading": "加载中…",
      "none": "无",
      "never": "从未",
      "save": "保存",
      "cancel": "取消",
      "edit": "编辑",
      "delete": "删除",
      "close": "关闭",
      "apply": "筛选",
      "reset": "重置",
      "prev": "上一页",
      "next": "下一页",
      "load.older": "加载更早的",
      "error.network": "无法连接服务器：{0}",
      "error.status": "请求失败（HTTP {0}）",
      "error.csrf": "会话令牌失效，请刷新页面后重试",
      "error.platform": "微信平台拒绝了请求（errcode {0}）：{1}",
      "error.nosecret": "未配置 AppSecret，无法调用微信接口",
      "error.session": "登录已过期，请重新登录",
      "login.title": "登录控制台",
      "login.password": "管理密码",
      "login.submit": "登录",
      "login.wrong": "密码错误",
      "login.limited": "尝试次数过多，请 {0} 秒后再试",
      "login.off": "控制台未开启：请在配置文件 [admin] 中设置密码（wxoa admin passwd）",
      "dash.title": "概览",
      "dash.pushes": "每分钟推送（最近 60 分钟）",
      "dash.pushes.total": "共 {0} 条",
      "dash.minutes.ago": "{0} 分钟前",
      "dash.now": "现在",
      "dash.rules": "各规则回复数（24 小时）",
      "dash.rule.none": "（未匹配）",
      "dash.latency": "回复耗时（24 小时）",
      "dash.latency.budget": "预算 {0} ms",
      "dash.latency.count": "{0} 次回复，{1} 次超出预算",
      "dash.outcomes": "处理结果（24 小时）",
      "dash.followers": "粉丝",
      "dash.subscribed": "已关注",
      "dash.unsubscribed": "已取关",
      "dash.token": "access_token",
      "dash.token.valid": "有效",
      "dash.token.expired": "已过期",
      "dash.token.none": "尚未获取",
      "dash.token.no_secret": "未配置 AppSecret",
      "dash.token.expires": "{0} 后过期",
      "dash.token.fetches": "今日获取 {0} / {1} 次",
      "dash.errors": "最近一小时的错误与警告",
      "dash.errors.none": "最近一小时没有错误",
      "dash.log": "消息日志队列",
      "dash.log.depth": "队列长度",
      "dash.log.dropped": "丢弃",
      "dash.log.written": "已写入",
      "dash.updated": "更新于 {0}",
      "msg.title": "消息记录",
      "msg.live.on": "实时更新中",
      "msg.live.off": "已暂停",
      "msg.live.paused": "有筛选结束时间，实时更新已暂停",
      "msg.new": "新消息 {0} 条",
      "msg.empty": "没有符合条件的消息",
      "msg.f.openid": "粉丝 openid",
      "msg.f.rule": "规则",
      "msg.f.type": "类型",
      "msg.f.q": "内容包含",
      "msg.f.since": "开始时间",
      "msg.f.until": "结束时间",
      "msg.f.any": "全部",
      "msg.c.time": "时间",
      "msg.c.follower": "粉丝",
      "msg.c.type": "类型",
      "msg.c.content": "内容",
      "msg.c.rule": "规则",
      "msg.c.reply": "回复",
      "msg.c.latency": "耗时",
      "msg.c.source": "处理",
      "msg.conversation": "查看对话",
      "type.text": "文本",
      "type.image": "图片",
      "type.voice": "语音",
      "type.video": "视频",
      "type.shortvideo": "小视频",
      "type.location": "位置",
      "type.link": "链接",
      "type.event": "事件",
      "type.music": "音乐",
      "type.news": "图文",
      "type.transfer_customer_service": "转客服",
      "type.none": "不回复",
      "type.success": "不回复",
      "source.fresh": "直接回复",
      "source.coalesced": "重试合并",
      "source.cached": "重试缓存",
      "source.deadline": "超时策略",
      "source.kf": "客服消息",
      "source.parked": "暂存待发",
      "fol.title": "粉丝",
      "fol.search": "搜索 openid 或备注",
      "fol.f.subscribed": "关注状态",
      "fol.f.tag": "标签",
      "fol.total": "共 {0} 人，第 {1} / {2} 页",
      "fol.empty": "没有符合条件的粉丝",
      "fol.c.openid": "openid",
      "fol.c.remark": "备注",
      "fol.c.tags": "标签",
      "fol.c.state": "状态",
      "fol.c.last": "最近活动",
      "fol.c.messages": "消息数",
      "fol.subscribed": "已关注",
      "fol.unsubscribed": "已取关",
      "fol.refresh": "从微信同步粉丝",
      "fol.refresh.confirm": "从微信平台重新读取全部粉丝？粉丝多时需要一些时间。",
      "fol.refresh.started": "已开始同步粉丝",
      "fol.refresh.running": "同步中：{0} / {1}",
      "fol.refresh.done": "同步完成：{0} 人",
      "fol.refresh.failed": "同步失败：{0}",
      "fol.refresh.busy": "已有同步任务在进行",
      "fol.back": "← 粉丝列表",
      "fol.first": "首次出现",
      "fol.lastseen": "最近出现",
      "fol.lastmsg": "最近发消息",
      "fol.subscribed_at": "关注时间",
      "fol.unsubscribed_at": "取关时间",
      "fol.scene": "关注来源",
      "fol.remark": "备注",
      "fol.tags": "标签（逗号分隔）",
      "fol.saved": "已保存备注和标签",
      "fol.timeline": "对话",
      "fol.timeline.empty": "还没有消息",
      "fol.event.subscribe": "关注了公众号",
      "fol.event.unsubscribe": "取消了关注",
      "fol.event.scene": "（来源 {0}）",
      "fol.reply.by": "规则 {0} · {1} ms",
      "kf.title": "发送客服消息",
      "kf.open": "48 小时客服窗口：开放至 {0}",
      "kf.closed": "48 小时客服窗口已关闭（最后一条消息 {0}）",
      "kf.never": "该粉丝从未发过消息，不能发送客服消息",
      "kf.placeholder": "输入要发送的文字",
      "kf.send": "发送",
      "kf.sent": "客服消息已发送",
      "kf.sent.label": "客服消息",
      "kf.bytes": "{0} 字节",
      "rules.title": "规则",
      "rules.source": "来自 {0}，按顺序匹配，第一条匹配的规则生效",
      "rules.try": "试一试",
      "rules.try.kind": "发送",
      "rules.try.text": "文本消息",
      "rules.try.event": "事件",
      "rules.try.type": "其他类型",
      "rules.try.content": "文本内容",
      "rules.try.eventname": "事件（Event）",
      "rules.try.key": "EventKey",
      "rules.try.msgtype": "消息类型",
      "rules.try.run": "测试",
      "rules.try.matched": "匹配规则：{0}",
      "rules.try.nomatch": "没有规则匹配（回复 success，用户看不到任何消息）",
      "rules.try.reply": "回复（{0}）",
      "rules.try.xml": "回复 XML",
      "rules.try.notes": "说明",
      "rules.empty": "还没有规则",
      "rules.up": "上移",
      "rules.down": "下移",
      "rules.toml": "规则 TOML",
      "rules.toml.hint": "一条规则的字段（不写 [[rules]] 标题）；保存前按重新加载的规则检查，通过后写回配置文件并立即生效",
      "rules.saved": "规则 {0} 已保存并重新加载",
      "rules.deleted": "规则 {0} 已删除",
      "rules.moved": "规则 {0} 已移动",
      "rules.added": "已添加规则",
      "rules.delete.confirm": "删除规则 {0}？",
      "rules.refused": "修改被拒绝：{0}",
      "rules.add": "添加规则",
      "rules.add.at": "位置",
      "rules.add.end": "最后",
      "rules.add.before": "在 #{0} {1} 之前",
      "rules.add.submit": "添加",
      "menu.title": "自定义菜单",
      "menu.preview": "手机上的样子",
      "menu.preview.empty": "未设置菜单",
      "menu.current.none": "微信平台上当前没有菜单",
      "menu.current.loaded": "已读取微信平台上的当前菜单",
      "menu.reload": "重新读取",
      "menu.form": "表单",
      "menu.json": "JSON",
      "menu.add.button": "添加一级菜单",
      "menu.add.sub": "添加子菜单",
      "menu.remove": "移除",
      "menu.name": "名称",
      "menu.type": "类型",
      "menu.type.parent": "包含子菜单",
      "menu.key": "key",
      "menu.url": "url",
      "menu.media_id": "media_id",
      "menu.article_id": "article_id",
      "menu.appid": "小程序 appid",
      "menu.pagepath": "小程序页面",
      "menu.bytes": "{0} / {1} 字节",
      "menu.json.bad": "JSON 格式错误：{0}",
      "menu.ok": "菜单符合平台限制",
      "menu.server.issues": "服务器检查：",
      "menu.push": "发布到微信",
      "menu.push.confirm": "发布这个菜单？关注者最晚约 5 分钟后看到新菜单。",
      "menu.pushed": "菜单已发布",
      "menu.delete": "删除菜单",
      "menu.delete.confirm": "删除微信平台上的菜单（包括个性化菜单）？",
      "menu.deleted": "菜单已删除",
      "menu.invalid": "菜单有 {0} 处问题，请先修正",
      "v.buttons.none": "至少需要 1 个一级菜单",
      "v.buttons.many": "一级菜单最多 {0} 个（现在 {1} 个）",
      "v.subs.many": "子菜单最多 {0} 个（现在 {1} 个）",
      "v.name.required": "名称不能为空",
      "v.name.long": "名称 {0} 字节，最多 {1} 字节（一个汉字 3 字节）",
      "v.key.long": "key {0} 字节，最多 {1} 字节",
      "v.url.long": "url {0} 字节，最多 {1} 字节",
      "v.url.scheme": "url 必须以 http:// 或 https:// 开头",
      "v.required": "类型 {1} 需要填写 {0}",
      "v.type.required": "请选择类型，或添加子菜单",
      "v.type.unknown": "未知类型 {0}",
      "v.sub.nested": "子菜单不能再有子菜单",
      "audit.title": "操作记录",
      "audit.empty": "还没有操作记录",
      "audit.c.time": "时间",
      "audit.c.actor": "操作人",
      "audit.c.action": "操作",
      "audit.c.target": "对象",
      "audit.c.detail": "详情",
      "notfound": "页面不存在",
      "ago.s": "{0} 秒",
      "ago.m": "{0} 分钟",
      "ago.h": "{0} 小时",
      "ago.d": "{0} 天",
    },
    en: {
      "app.title": "wxoa console",
      "nav.dashboard": "Dashboard",
      "nav.messages": "Messages",
      "nav.followers": "Followers",
      "nav.rules": "Rules",
      "nav.menu": "Menu",
      "nav.audit": "Audit",
      "lang.toggle": "中文",
      "logout": "Log out",
      "logout.done": "Logged out",
      "loading": "Loading…",
      "none": "none",
      "never": "never",
      "save": "Save",
      "cancel": "Cancel",
      "edit": "Edit",
      "delete": "Delete",
      "close": "Close",
      "apply": "Filter",
      "reset": "Reset",
      "prev": "Previous",
      "next": "Next",
      "load.older": "Load older",
      "error.network": "Cannot reach the server: {0}",
      "error.status": "Request failed (HTTP {0})",
      "error.csrf": "The session token is stale; reload the page and try again",
      "error.platform": "The WeChat platform refused (errcode {0}): {1}",
      "error.nosecret": "No AppSecret configured: the WeChat API cannot be called",
      "error.session": "Your session ended; please log in again",
      "login.title": "Log in to the console",
      "login.password": "Admin password",
      "login.submit": "Log in",
      "login.wrong": "Wrong password",
      "login.limited": "Too many attempts; try again in {0} s",
      "login.off": "The console is off: set a password in [admin] (wxoa admin passwd)",
      "dash.title": "Dashboard",
      "dash.pushes": "Pushes per minute (last 60 minutes)",
      "dash.pushes.total": "{0} in all",
      "dash.minutes.ago": "{0} min ago",
      "dash.now": "now",
      "dash.rules": "Answers by rule (24 h)",
      "dash.rule.none": "(no rule matched)",
      "dash.latency": "Answer latency (24 h)",
      "dash.latency.budget": "budget {0} ms",
      "dash.latency.count": "{0} answers, {1} over budget",
      "dash.outcomes": "Outcomes (24 h)",
      "dash.followers": "Followers",
      "dash.subscribed": "subscribed",
      "dash.unsubscribed": "unsubscribed",
      "dash.token": "access_token",
      "dash.token.valid": "valid",
      "dash.token.expired": "expired",
      "dash.token.none": "never fetched",
      "dash.token.no_secret": "no AppSecret configured",
      "dash.token.expires": "expires in {0}",
      "dash.token.fetches": "{0} / {1} fetches today",
      "dash.errors": "Errors and warnings, last hour",
      "dash.errors.none": "No errors in the last hour",
      "dash.log": "Message log queue",
      "dash.log.depth": "queue depth",
      "dash.log.dropped": "dropped",
      "dash.log.written": "written",
      "dash.updated": "updated {0}",
      "msg.title": "Message log",
      "msg.live.on": "live",
      "msg.live.off": "paused",
      "msg.live.paused": "An end time is set: live updates are paused",
      "msg.new": "{0} new",
      "msg.empty": "No messages match",
      "msg.f.openid": "Follower openid",
      "msg.f.rule": "Rule",
      "msg.f.type": "Type",
      "msg.f.q": "Text contains",
      "msg.f.since": "From",
      "msg.f.until": "Until",
      "msg.f.any": "any",
      "msg.c.time": "Time",
      "msg.c.follower": "Follower",
      "msg.c.type": "Type",
      "msg.c.content": "Content",
      "msg.c.rule": "Rule",
      "msg.c.reply": "Reply",
      "msg.c.latency": "Latency",
      "msg.c.source": "Handled",
      "msg.conversation": "Conversation",
      "type.text": "text",
      "type.image": "image",
      "type.voice": "voice",
      "type.video": "video",
      "type.shortvideo": "short video",
      "type.location": "location",
      "type.link": "link",
      "type.event": "event",
      "type.music": "music",
      "type.news": "news",
      "type.transfer_customer_service": "to agent",
      "type.none": "no reply",
      "type.success": "no reply",
      "source.fresh": "answered",
      "source.coalesced": "retry joined",
      "source.cached": "retry cached",
      "source.deadline": "slow policy",
      "source.kf": "by 客服",
      "source.parked": "parked",
      "fol.title": "Followers",
      "fol.search": "Search openid or remark",
      "fol.f.subscribed": "State",
      "fol.f.tag": "Tag",
      "fol.total": "{0} followers, page {1} / {2}",
      "fol.empty": "No followers match",
      "fol.c.openid": "openid",
      "fol.c.remark": "Remark",
      "fol.c.tags": "Tags",
      "fol.c.state": "State",
      "fol.c.last": "Last seen",
      "fol.c.messages": "Messages",
      "fol.subscribed": "subscribed",
      "fol.unsubscribed": "unsubscribed",
      "fol.refresh": "Refresh from platform",
      "fol.refresh.confirm": "Read every follower from the platform again? With many followers this takes a while.",
      "fol.refresh.started": "Refresh started",
      "fol.refresh.running": "Refreshing: {0} / {1}",
      "fol.refresh.done": "Refresh finished: {0} followers",
      "fol.refresh.failed": "Refresh failed: {0}",
      "fol.refresh.busy": "A refresh is already running",
      "fol.back": "← Followers",
      "fol.first": "First seen",
      "fol.lastseen": "Last seen",
      "fol.lastmsg": "Last message",
      "fol.subscribed_at": "Subscribed",
      "fol.unsubscribed_at": "Unsubscribed",
      "fol.scene": "Scene",
      "fol.remark": "Remark",
      "fol.tags": "Tags (comma separated)",
      "fol.saved": "Remark and tags saved",
      "fol.timeline": "Conversation",
      "fol.timeline.empty": "No messages yet",
      "fol.event.subscribe": "subscribed",
      "fol.event.unsubscribe": "unsubscribed",
      "fol.event.scene": " (scene {0})",
      "fol.reply.by": "rule {0} · {1} ms",
      "kf.title": "Send a 客服 message",
      "kf.open": "48-hour window: open until {0}",
      "kf.closed": "48-hour window closed (last message {0})",
      "kf.never": "This follower never wrote: no 客服 message can be sent",
      "kf.placeholder": "Text to send",
      "kf.send": "Send",
      "kf.sent": "Message sent",
      "kf.sent.label": "客服 message",
      "kf.bytes": "{0} bytes",
      "rules.title": "Rules",
      "rules.source": "From {0}, tried in order; the first match answers",
      "rules.try": "Try it",
      "rules.try.kind": "Send",
      "rules.try.text": "a text",
      "rules.try.event": "an event",
      "rules.try.type": "another type",
      "rules.try.content": "Text",
      "rules.try.eventname": "Event",
      "rules.try.key": "EventKey",
      "rules.try.msgtype": "Message type",
      "rules.try.run": "Test",
      "rules.try.matched": "Matched rule: {0}",
      "rules.try.nomatch": "No rule matches (answered success: the follower sees nothing)",
      "rules.try.reply": "Reply ({0})",
      "rules.try.xml": "Reply XML",
      "rules.try.notes": "Notes",
      "rules.empty": "No rules yet",
      "rules.up": "Up",
      "rules.down": "Down",
      "rules.toml": "Rule TOML",
      "rules.toml.hint": "One rule's fields (no [[rules]] header); checked as a reload checks the file, then written back to the config file and in force at once",
      "rules.saved": "Rule {0} saved and reloaded",
      "rules.deleted": "Rule {0} deleted",
      "rules.moved": "Rule {0} moved",
      "rules.added": "Rule added",
      "rules.delete.confirm": "Delete rule {0}?",
      "rules.refused": "Refused: {0}",
      "rules.add": "Add a rule",
      "rules.add.at": "Position",
      "rules.add.end": "at the end",
      "rules.add.before": "before #{0} {1}",
      "rules.add.submit": "Add",
      "menu.title": "Custom menu",
      "menu.preview": "As the phone shows it",
      "menu.preview.empty": "No menu",
      "menu.current.none": "The platform has no menu now",
      "menu.current.loaded": "Loaded the platform's current menu",
      "menu.reload": "Reload",
      "menu.form": "Form",
      "menu.json": "JSON",
      "menu.add.button": "Add a button",
      "menu.add.sub": "Add a sub-button",
      "menu.remove": "Remove",
      "menu.name": "Name",
      "menu.type": "Type",
      "menu.type.parent": "has sub-buttons",
      "menu.key": "key",
      "menu.url": "url",
      "menu.media_id": "media_id",
      "menu.article_id": "article_id",
      "menu.appid": "mini program appid",
      "menu.pagepath": "mini program page",
      "menu.bytes": "{0} / {1} bytes",
      "menu.json.bad": "Not valid JSON: {0}",
      "menu.ok": "The menu is within the platform's limits",
      "menu.server.issues": "Server check:",
      "menu.push": "Push to WeChat",
      "menu.push.confirm": "Push this menu? Followers see it within about 5 minutes.",
      "menu.pushed": "Menu pushed",
      "menu.delete": "Delete menu",
      "menu.delete.confirm": "Delete the menu on the platform (conditional menus too)?",
      "menu.deleted": "Menu deleted",
      "menu.invalid": "The menu has {0} problem(s); fix them first",
      "v.buttons.none": "At least 1 button is required",
      "v.buttons.many": "At most {0} buttons (now {1})",
      "v.subs.many": "At most {0} sub-buttons (now {1})",
      "v.name.required": "Name is required",
      "v.name.long": "Name is {0} bytes; at most {1} (a CJK character takes 3)",
      "v.key.long": "key is {0} bytes; at most {1}",
      "v.url.long": "url is {0} bytes; at most {1}",
      "v.url.scheme": "url must start with http:// or https://",
      "v.required": "{0} is required for type {1}",
      "v.type.required": "Choose a type, or add sub-buttons",
      "v.type.unknown": "Unknown type {0}",
      "v.sub.nested": "A sub-button cannot have sub-buttons",
      "audit.title": "Audit trail",
      "audit.empty": "No changes recorded yet",
      "audit.c.time": "Time",
      "audit.c.actor": "Who",
      "audit.c.action": "Action",
      "audit.c.target": "Target",
      "audit.c.detail": "Detail",
      "notfound": "No such page",
      "ago.s": "{0} s",
      "ago.m": "{0} min",
      "ago.h": "{0} h",
      "ago.d": "{0} d",
    },
  };

  const LANG_KEY = "wxoa.console.lang";
  let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";

  /** The string `key` in the current language, `{0}`, `{1}`… replaced by `args`. */
  function t(key, ...args) {
    const table = STRINGS[lang];
    let s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : STRINGS.zh[key];
    if (s === undefined) {
      s = key;
    }
    return s.replace(/\{(\d+)\}/g, (m, i) => (args[i] === undefined ? m : String(args[i])));
  }

  /** A translated label for `prefix.value`, the value itself when there is none. */
  function label(prefix, value) {
    const key = prefix + "." + value;
    return Object.prototype.hasOwnProperty.call(STRINGS[lang], key) ? t(key) : String(value);
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers (text only: never innerHTML)
  // ---------------------------------------------------------------------------------------------

  /**
   * An element: `props` sets `class`, `text`, `on<event>` handlers, DOM properties (`value`,
   * `checked`, `disabled`, `type`…) or attributes; `children` are nodes or strings (text nodes).
   */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    setProps(node, props);
    append(node, children);
    return node;
  }

  const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "type", "id", "hidden", "open", "href", "name", "placeholder", "title", "rows", "htmlFor", "min", "max", "autocomplete", "required"]);

  function setProps(node, props) {
    if (!props) {
      return;
    }
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) {
        if (name === "disabled" || name === "checked" || name === "hidden" || name === "open") {
          node[name] = false;
        }
        continue;
      }
      if (name === "class") {
        node.className = value;
      } else if (name === "text") {
        node.textContent = String(value);
      } else if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(node.dataset, value);
      } else if (PROPERTIES.has(name)) {
        node[name] = value;
      } else {
        node.setAttribute(name, String(value));
      }
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) {
        continue;
      }
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  /** An SVG element with attributes `attrs`; `title` adds a tooltip. */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") {
        node.textContent = String(value);
      } else if (name === "title") {
        const title = document.createElementNS(SVG_NS, "title");
        title.textContent = String(value);
        node.appendChild(title);
      } else {
        node.setAttribute(name, String(value));
      }
    }
    append(node, children);
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
    return node;
  }

  function field(labelText, input, extra) {
    return h("div", { class: "field" }, h("label", { text: labelText }, input), extra || null);
  }

  /** UTF-8 length of `s`: the platform counts menu names and texts in bytes. */
  const encoder = new TextEncoder();
  function bytes(s) {
    return encoder.encode(s || "").length;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  /** A Unix time as local `YYYY-MM-DD HH:MM:SS` (the date left out for today). */
  function fmtTime(secs) {
    if (secs === null || secs === undefined) {
      return t("never");
    }
    const d = new Date(secs * 1000);
    const now = new Date();
    const time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (d.toDateString() === now.toDateString()) {
      return time;
    }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }

  function fmtDuration(secs) {
    secs = Math.max(0, Math.round(secs));
    if (secs < 60) return t("ago.s", secs);
    if (secs < 3600) return t("ago.m", Math.round(secs / 60));
    if (secs < 86400) return t("ago.h", Math.round(secs / 360) / 10);
    return t("ago.d", Math.round(secs / 8640) / 10);
  }

  /** `<input type="datetime-local">` value ⇄ Unix seconds. */
  function localInputToSecs(value) {
    if (!value) return null;
    const ms = new Date(value).getTime();
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
  }
  function secsToLocalInput(secs) {
    if (!secs) return "";
    const d = new Date(Number(secs) * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  // ---------------------------------------------------------------------------------------------
  // Notifications
  // ---------------------------------------------------------------------------------------------

  /** A message in the corner: `ok` ones fade after 4 s, errors stay 10 s or until closed. */
  function toast(kind, text) {
    const box = document.getElementById("toasts");
    const node = h("div", { class: "toast " + kind, role: kind === "error" ? "alert" : "status", dataset: { born: String(Date.now()) } },
      h("span", { class: "toast-text", text }),
      h("button", { type: "button", title: t("close"), text: "×", onclick: () => node.remove() }));
    box.appendChild(node);
    setTimeout(() => node.remove(), kind === "error" ? 10000 : 4000);
  }

  /** An inline notice (replaces what `slot` shows). */
  function notice(slot, kind, text) {
    clear(slot);
    if (text) {
      slot.appendChild(h("div", { class: "notice " + kind, role: kind === "error" ? "alert" : "status", text }));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The API
  // ---------------------------------------------------------------------------------------------

  let session = null; // {user, csrf, expires_at, appid}

  class ApiError extends Error {
    constructor(status, body, message) {
      super(message);
      this.status = status;
      this.body = body || {};
    }
  }

  /** A readable sentence for a failed call. */
  function describeError(status, body) {
    if (status === 0) return t("error.network", body.error || "");
    if (status === 403) return body.error ? body.error : t("error.csrf");
    if (status === 502 && body.errcode !== undefined) {
      return t("error.platform", body.errcode, body.error || "") + (body.hint ? " — " + body.hint : "");
    }
    if (status === 503 && !body.error) return t("error.nosecret");
    if (body.error) return body.field ? body.field + ": " + body.error : body.error;
    return t("error.status", status);
  }

  /**
   * Call the API. Resolves with the JSON body (or null for 204); rejects with an ApiError whose
   * message is readable. A 401 outside login sends the page to the login form.
   */
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && session && session.csrf) headers["X-CSRF-Token"] = session.csrf;
    let response;
    try {
      response = await fetch("/api/v1" + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError(0, { error: e.message }, t("error.network", e.message));
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { error: text.slice(0, 300) };
      }
    }
    if (!response.ok) {
      const err = new ApiError(response.status, data, describeError(response.status, data || {}));
      if (response.status === 401 && path !== "/login" && path !== "/session") {
        session = null;
        toast("error", t("error.session"));
        go("#/login?next=" + encodeURIComponent(currentHash()));
      }
      throw err;
    }
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }

  // ---------------------------------------------------------------------------------------------
  // Routing and page life cycle
  // ---------------------------------------------------------------------------------------------

  const NAV = [
    ["dashboard", "#/dashboard"],
    ["messages", "#/messages"],
    ["followers", "#/followers"],
    ["rules", "#/rules"],
    ["menu", "#/menu"],
    ["audit", "#/audit"],
  ];

  let page = { alive: false, cleanups: [] };

  /** A fresh page: stops the timers of the one before. */
  function newPage() {
    page.alive = false;
    for (const fn of page.cleanups) {
      try { fn(); } catch (e) { /* a cleanup never stops the next page */ }
    }
    page = { alive: true, cleanups: [] };
    return page;
  }

  /** Run `fn` every `ms` while `owner` is the current page (after each run finishes). */
  function every(owner, ms, fn) {
    let timer = null;
    const tick = async () => {
      if (!owner.alive) return;
      try {
        if (document.visibilityState !== "hidden") await fn();
      } finally {
        if (owner.alive) timer = setTimeout(tick, ms);
      }
    };
    timer = setTimeout(tick, ms);
    owner.cleanups.push(() => clearTimeout(timer));
  }

  function currentHash() {
    return location.hash || "#/dashboard";
  }

  function go(hash) {
    if (location.hash === hash) {
      route();
    } else {
      location.hash = hash;
    }
  }

  function parseHash() {
    const raw = currentHash().slice(1);
    const [path, qs] = raw.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { parts, params: new URLSearchParams(qs || "") };
  }

  /** Toasts of an earlier page go when another page opens (those just raised stay). */
  function clearOldToasts() {
    for (const node of document.querySelectorAll("#toasts .toast")) {
      if (Date.now() - Number(node.dataset.born) > 1500) node.remove();
    }
  }

  async function route() {
    const owner = newPage();
    clearOldToasts();
    const { parts, params } = parseHash();
    const main = clear(document.getElementById("main"));
    document.title = t("app.title");
    if (!session && parts[0] !== "login") {
      try {
        session = await api("GET", "/session");
      } catch (e) {
        if (!owner.alive) return;
        go("#/login?next=" + encodeURIComponent(currentHash()));
        return;
      }
      if (!owner.alive) return;
    }
    renderChrome(parts[0]);
    const view = {
      login: loginPage,
      dashboard: dashboardPage,
      messages: messagesPage,
      followers: parts[1] ? followerPage : followersPage,
      rules: rulesPage,
      menu: menuPage,
      audit: auditPage,
    }[parts[0] || "dashboard"];
    if (!view) {
      main.appendChild(h("div", { class: "card", text: t("notfound") }));
      return;
    }
    try {
      await view(main, owner, parts, params);
    } catch (e) {
      if (owner.alive && e instanceof ApiError && e.status !== 401) {
        main.appendChild(h("div", { class: "notice error", role: "alert", text: e.message }));
      } else if (!(e instanceof ApiError)) {
        throw e;
      }
    }
  }

  function renderChrome(current) {
    const bar = document.getElementById("topbar");
    const nav = clear(document.getElementById("nav"));
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.getElementById("lang-toggle").textContent = t("lang.toggle");
    document.getElementById("logout").textContent = t("logout");
    if (current === "login" || !session) {
      bar.hidden = true;
      return;
    }
    bar.hidden = false;
    document.getElementById("appid").textContent = session.appid || "";
    document.getElementById("who").textContent = session.user || "";
    for (const [name, href] of NAV) {
      nav.appendChild(h("a", { href, class: name === current ? "active" : "", id: "nav-" + name, text: t("nav." + name) }));
    }
  }

  function loading(main) {
    const node = h("p", { class: "muted", text: t("loading") });
    main.appendChild(node);
    return node;
  }

  // ---------------------------------------------------------------------------------------------
  // Login
  // ---------------------------------------------------------------------------------------------

  async function loginPage(main, owner, parts, params) {
    const next = params.get("next") || "#/dashboard";
    // Already logged in (or logged in by the SSO proxy): go on.
    try {
      session = await api("GET", "/session");
      if (owner.alive) go(next.startsWith("#/login") ? "#/dashboard" : next);
      return;
    } catch (e) {
      if (!owner.alive) return;
      if (e.status === 404) {
        main.appendChild(h("div", { class: "notice warn login", text: t("login.off") }));
        return;
      }
    }
    const status = h("div");
    const password = h("input", { type: "password", id: "login-password", autocomplete: "current-password", required: true });
    const submit = h("button", { type: "submit", class: "primary", id: "login-submit", text: t("login.submit") });
    const form = h("form", {
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        notice(status, "", "");
        try {
          session = await api("POST", "/login", { password: password.value });
          try {
            session = await api("GET", "/session");
          } catch (e) {
            /* the login answer has what the page needs */
          }
          go(next.startsWith("#/login") ? "#/dashboard" : next);
        } catch (e) {
          let text = e.message;
          if (e.status === 401 && e.body && e.body.field === "password") text = t("login.wrong");
          if (e.status === 429) text = t("login.limited", (e.body && e.body.retry_after_secs) || 60);
          notice(status, "error", text);
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    }, field(t("login.password"), password), submit, status);
    main.appendChild(h("div", { class: "card login" },
      h("span", { class: "brand-name", text: "wxoa" }),
      h("h1", { text: t("login.title") }),
      form));
    password.focus();
  }

  // ---------------------------------------------------------------------------------------------
  // Dashboard
  // ---------------------------------------------------------------------------------------------

  async function dashboardPage(main, owner) {
    main.appendChild(h("div", { class: "page-head" }, h("h1", { text: t("dash.title") })));
    const updated = h("span", { class: "muted small" });
    main.firstChild.appendChild(updated);
    const body = h("div", { id: "dashboard" });
    main.appendChild(body);
    const wait = loading(body);
    const draw = async () => {
      const data = await api("GET", "/dashboard");
      if (!owner.alive) return;
      wait.remove();
      clear(body).appendChild(dashboardView(data));
      updated.textContent = t("dash.updated", fmtTime(data.now));
    };
    await draw();
    every(owner, 10000, () => draw().catch(() => {}));
  }

  function dashboardView(d) {
    const grid = h("div", { class: "grid" });
    grid.appendChild(h("div", { class: "card", id: "dash-pushes" },
      h("h2", { text: t("dash.pushes") }),
      pushesChart(d.pushes_per_minute || [], d.now)));
    grid.appendChild(h("div", { class: "card", id: "dash-latency" }, h("h2", { text: t("dash.latency") }), latencyView(d.latency_ms)));
    grid.appendChild(h("div", { class: "card", id: "dash-rules" }, h("h2", { text: t("dash.rules") }),
      hbars((d.answers_by_rule || []).map((r) => [r.rule === null || r.rule === undefined ? t("dash.rule.none") : r.rule, r.count]))));
    grid.appendChild(h("div", { class: "card", id: "dash-outcomes" }, h("h2", { text: t("dash.outcomes") }),
      hbars((d.outcomes || []).map((o) => [label("source", o.source), o.count]))));
    const f = d.followers || {};
    grid.appendChild(h("div", { class: "card" }, h("h2", { text: t("dash.followers") }),
      h("div", { class: "stats" },
        stat(f.subscribed ?? 0, t("dash.subscribed")),
        stat(f.unsubscribed ?? 0, t("dash.unsubscribed")))));
    grid.appendChild(h("div", { class: "card", id: "dash-token" }, h("h2", { text: t("dash.token") }), tokenView(d.token || {})));
    const log = d.log || {};
    grid.appendChild(h("div", { class: "card", id: "dash-log" }, h("h2", { text: t("dash.log") }),
      h("div", { class: "stats" },
        stat(log.queue_depth ?? 0, t("dash.log.depth")),
        stat(log.dropped ?? 0, t("dash.log.dropped"), (log.dropped || 0) > 0 ? "bad" : ""),
        stat(log.written ?? 0, t("dash.log.written")))));
    const errors = d.errors || [];
    const errorCard = h("div", { class: "card", id: "dash-errors" }, h("h2", { text: t("dash.errors") }));
    if (errors.length === 0) {
      errorCard.appendChild(h("p", { class: "muted", text: t("dash.errors.none") }));
    } else {
      const rows = errors.map((e) => h("tr", null,
        h("td", { class: "nowrap", "data-label": t("msg.c.time"), text: fmtTime(e.at) }),
        h("td", { "data-label": "" }, h("span", { class: "badge " + (e.level === "ERROR" ? "bad" : "warn"), text: e.level })),
        h("td", { class: "mono small", text: e.target || "" }),
        h("td", { class: "cell-text", text: e.message })));
      errorCard.appendChild(h("div", { class: "table-wrap" }, h("table", { class: "data stack" }, h("tbody", null, rows))));
    }
    errorCard.classList.add("after-grid");
    return h("div", null, grid, errorCard);
  }

  function stat(value, caption, kind) {
    return h("div", null, h("div", { class: "stat" + (kind === "bad" ? " field-error" : ""), text: value }), h("div", { class: "stat-label", text: caption }));
  }

  /** 60 one-minute bars, oldest on the left. */
  function pushesChart(minutes, now) {
    const W = 360, H = 130, left = 24, bottom = 18, top = 8;
    const max = Math.max(1, ...minutes.map((m) => m.count));
    const n = Math.max(minutes.length, 1);
    const slot = (W - left) / n;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("dash.pushes") });
    chart.appendChild(svg("line", { class: "axis", x1: left, y1: H - bottom, x2: W, y2: H - bottom }));
    chart.appendChild(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end", text: max }));
    chart.appendChild(svg("text", { x: left - 4, y: H - bottom, "text-anchor": "end", text: 0 }));
    minutes.forEach((m, i) => {
      const height = ((H - bottom - top) * m.count) / max;
      chart.appendChild(svg("rect", {
        class: "bar", x: left + i * slot + 1, y: H - bottom - height, width: Math.max(1, slot - 2), height: Math.max(0, height),
        title: fmtTime(m.minute) + " · " + m.count,
      }));
    });
    chart.appendChild(svg("text", { x: left, y: H - 4, text: t("dash.minutes.ago", minutes.length || 60) }));
    chart.appendChild(svg("text", { x: W, y: H - 4, "text-anchor": "end", text: t("dash.now") }));
    const total = minutes.reduce((a, m) => a + m.count, 0);
    return h("div", null, chart, h("div", { class: "muted small", text: t("dash.pushes.total", total) }));
  }

  /** p50 / p90 / p99 / max as horizontal bars against the budget line. */
  function latencyView(l) {
    l = l || {};
    const budget = l.budget_ms || 5000;
    const values = [["p50", l.p50], ["p90", l.p90], ["p99", l.p99], ["max", l.max]];
    const scale = Math.max(budget * 1.2, ...values.map((v) => v[1] || 0));
    const W = 360, row = 24, left = 34, H = values.length * row + 22;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("dash.latency") });
    const x = (ms) => left + ((W - left - 64) * ms) / scale;
    values.forEach(([name, ms], i) => {
      const y = i * row + 4;
      chart.appendChild(svg("text", { x: 0, y: y + 14, text: name }));
      chart.appendChild(svg("rect", {
        class: "bar" + ((ms || 0) > budget ? " over" : ""), x: left, y, height: row - 8, width: Math.max(1, x(ms || 0) - left),
        title: name + " " + (ms ?? "–") + " ms",
      }));
      chart.appendChild(svg("text", { x: x(ms || 0) + 4, y: y + 14, text: (ms ?? "–") + " ms" }));
    });
    chart.appendChild(svg("line", { class: "budget", x1: x(budget), y1: 0, x2: x(budget), y2: H - 16 }));
    chart.appendChild(svg("text", { x: x(budget), y: H - 4, "text-anchor": "middle", text: t("dash.latency.budget", budget) }));
    const over = l.over_budget || 0;
    return h("div", null, chart,
      h("div", { class: "small " + (over > 0 ? "field-error" : "muted"), text: t("dash.latency.count", l.count || 0, over) }));
  }

  function hbars(pairs) {
    if (pairs.length === 0) return h("p", { class: "muted", text: t("none") });
    const max = Math.max(1, ...pairs.map((p) => p[1]));
    return h("div", null, pairs.map(([name, count]) => {
      const fill = h("div", { class: "hbar-fill" });
      fill.style.width = (100 * count) / max + "%";
      return h("div", { class: "hbar" },
        h("span", { class: "hbar-label", title: name, text: name }),
        h("span", { class: "hbar-track" }, fill),
        h("span", { class: "hbar-value", text: count }));
    }));
  }

  function tokenView(tok) {
    const kind = { valid: "ok", expired: "warn", none: "warn", no_secret: "bad" }[tok.state] || "";
    const lines = [h("span", { class: "badge " + kind, text: label("dash.token", tok.state || "none") })];
    if (tok.state === "valid" && tok.expires_in_secs !== undefined && tok.expires_in_secs !== null) {
      lines.push(h("div", { class: "muted", text: t("dash.token.expires", fmtDuration(tok.expires_in_secs)) }));
    }
    if (tok.fetches_today !== undefined) {
      const near = tok.daily_limit && tok.fetches_today >= tok.daily_limit * 0.8;
      lines.push(h("div", { class: near ? "field-error" : "", text: t("dash.token.fetches", tok.fetches_today, tok.daily_limit || 2000) }));
    }
    return h("div", null, lines);
  }

  // ---------------------------------------------------------------------------------------------
  // Message log
  // ---------------------------------------------------------------------------------------------

  const MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "event"];
  const MSG_FILTERS = ["openid", "rule", "msg_type", "q", "since", "until"];

  /** What a follower sent, in one line. */
  function describeInbound(m) {
    if (m.msg_type === "text") return m.content || "";
    if (m.msg_type === "event") {
      return "[" + (m.event || "event") + "]" + (m.event_key ? " " + m.event_key : "");
    }
    return "[" + label("type", m.msg_type) + "]" + (m.content ? " " + m.content : "");
  }

  /** What was answered, in one line. */
  function describeReply(m) {
    if (!m.reply_type || m.reply_type === "none" || m.reply_type === "success") {
      return m.reply ? m.reply : "";
    }
    if (m.reply_type === "text") return m.reply || "";
    return "[" + label("type", m.reply_type) + "]" + (m.reply ? " " + m.reply : "");
  }

  function followerLink(openid) {
    return h("a", { href: "#/followers/" + encodeURIComponent(openid), class: "mono follower-link", title: t("msg.conversation"), text: openid });
  }

  function messageRow(m) {
    const latency = m.latency_ms === null || m.latency_ms === undefined ? "" : m.latency_ms + " ms";
    const sourceKind = m.source === "fresh" || m.source === "cached" || m.source === "coalesced" ? "" : "warn";
    return h("tr", { dataset: { id: String(m.id) } },
      h("td", { class: "nowrap", "data-label": t("msg.c.time"), text: fmtTime(m.at) }),
      h("td", { "data-label": t("msg.c.follower") }, followerLink(m.openid)),
      h("td", { "data-label": t("msg.c.type"), text: label("type", m.msg_type) }),
      h("td", { class: "cell-text msg-content", "data-label": t("msg.c.content"), text: describeInbound(m) }),
      h("td", { "data-label": t("msg.c.rule"), text: m.rule || "" }),
      h("td", { class: "cell-text msg-reply", "data-label": t("msg.c.reply"), text: describeReply(m) }),
      h("td", { class: "num nowrap", "data-label": t("msg.c.latency"), text: latency }),
      h("td", { "data-label": t("msg.c.source") }, m.source ? h("span", { class: "badge " + sourceKind, text: label("source", m.source) }) : null));
  }

  async function messagesPage(main, owner, parts, params) {
    const filters = {};
    for (const k of MSG_FILTERS) filters[k] = params.get(k) || "";

    const inputs = {
      openid: h("input", { id: "f-openid", value: filters.openid, placeholder: "oUser…" }),
      rule: h("input", { id: "f-rule", value: filters.rule, list: "f-rule-names", autocomplete: "off" }),
      msg_type: h("select", { id: "f-type" },
        h("option", { value: "", text: t("msg.f.any") }),
        MSG_TYPES.map((ty) => h("option", { value: ty, text: label("type", ty), selected: filters.msg_type === ty }))),
      q: h("input", { id: "f-q", value: filters.q, type: "search" }),
      since: h("input", { id: "f-since", type: "datetime-local", value: secsToLocalInput(filters.since) }),
      until: h("input", { id: "f-until", type: "datetime-local", value: secsToLocalInput(filters.until) }),
    };
    const readFilters = () => ({
      openid: inputs.openid.value.trim(),
      rule: inputs.rule.value.trim(),
      msg_type: inputs.msg_type.value,
      q: inputs.q.value.trim(),
      since: localInputToSecs(inputs.since.value) || "",
      until: localInputToSecs(inputs.until.value) || "",
    });
    // The rule filter suggests the rules loaded now.
    const ruleNames = h("datalist", { id: "f-rule-names" });
    api("GET", "/rules").then((r) => {
      for (const rule of (r && r.rules) || []) ruleNames.appendChild(h("option", { value: rule.name }));
    }).catch(() => {});
    const form = h("form", {
      class: "filters", id: "msg-filters",
      onsubmit: (e) => {
        e.preventDefault();
        go("#/messages" + query(readFilters()));
      },
    },
    field(t("msg.f.openid"), inputs.openid),
    field(t("msg.f.rule"), inputs.rule, ruleNames),
    field(t("msg.f.type"), inputs.msg_type),
    field(t("msg.f.q"), inputs.q),
    field(t("msg.f.since"), inputs.since),
    field(t("msg.f.until"), inputs.until),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary", text: t("apply") }),
      h("button", { type: "button", text: t("reset"), onclick: () => go("#/messages") })));

    const liveDot = h("span", { class: "live-dot" });
    const liveText = h("span", { class: "small muted", id: "live-state" });
    const liveToggle = h("input", { type: "checkbox", id: "live-toggle", checked: !filters.until });
    const head = h("div", { class: "page-head" },
      h("h1", { text: t("msg.title") }),
      h("label", { class: "row" }, liveToggle, liveDot, liveText));
    const tbody = h("tbody", { id: "msg-rows" });
    const table = h("table", { class: "data stack", id: "msg-table" },
      h("thead", null, h("tr", null,
        ["time", "follower", "type", "content", "rule", "reply", "latency", "source"].map((c) => h("th", { text: t("msg.c." + c) })))),
      tbody);
    const empty = h("p", { class: "muted", text: t("msg.empty"), hidden: true });
    const older = h("button", { type: "button", text: t("load.older"), hidden: true });
    // Filters fold away on a phone unless some are set.
    const active = MSG_FILTERS.filter((k) => filters[k]).length;
    const filterBox = h("details", { class: "card filter-box", open: active > 0 || window.matchMedia("(min-width: 761px)").matches },
      h("summary", { text: t("apply") + (active ? " (" + active + ")" : "") }), form);
    main.append(head, filterBox, h("div", { class: "card" }, h("div", { class: "table-wrap" }, table), empty, older));

    let newestId = 0;
    let oldestId = null;
    let arrived = 0; // rows the live view added since the page opened
    const base = {};
    for (const k of MSG_FILTERS) if (filters[k]) base[k] = filters[k];

    const first = await api("GET", "/messages" + query({ ...base, limit: 50 }));
    if (!owner.alive) return;
    for (const m of first.messages) tbody.appendChild(messageRow(m));
    if (first.messages.length) {
      newestId = first.messages[0].id;
      oldestId = first.messages[first.messages.length - 1].id;
    }
    empty.hidden = first.messages.length > 0;
    older.hidden = !first.has_more;
    older.onclick = async () => {
      older.disabled = true;
      try {
        const page2 = await api("GET", "/messages" + query({ ...base, before_id: oldestId, limit: 50 }));
        for (const m of page2.messages) tbody.appendChild(messageRow(m));
        if (page2.messages.length) oldestId = page2.messages[page2.messages.length - 1].id;
        older.hidden = !page2.has_more;
      } catch (e) {
        toast("error", e.message);
      } finally {
        older.disabled = false;
      }
    };

    const showLive = () => {
      const on = liveToggle.checked;
      liveDot.className = "live-dot" + (on ? " on" : "");
      liveText.textContent = (filters.until && on ? t("msg.live.paused") : on ? t("msg.live.on") : t("msg.live.off")) +
        (arrived ? " · " + t("msg.new", arrived) : "");
    };
    liveToggle.onchange = showLive;
    showLive();

    // Live: every 2 s ask for rows newer than the newest shown and put them on top.
    every(owner, 2000, async () => {
      if (!liveToggle.checked || filters.until) return;
      try {
        let more = true;
        while (more && owner.alive) {
          const fresh = await api("GET", "/messages" + query({ ...base, after_id: newestId, limit: 200 }));
          if (!owner.alive || fresh.messages.length === 0) break;
          // Rows come newest first: insert from the oldest so the newest ends on top.
          const rows = fresh.messages.slice().sort((a, b) => a.id - b.id);
          for (const m of rows) {
            if (m.id <= newestId) continue;
            const tr = messageRow(m);
            tr.classList.add("fresh-row");
            tbody.insertBefore(tr, tbody.firstChild);
            newestId = m.id;
            arrived += 1;
            if (oldestId === null) oldestId = m.id;
          }
          showLive();
          empty.hidden = tbody.childElementCount > 0;
          more = fresh.has_more === true;
        }
        liveDot.className = "live-dot on";
      } catch (e) {
        liveDot.className = "live-dot";
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Followers
  // ---------------------------------------------------------------------------------------------

  async function followersPage(main, owner, parts, params) {
    const q = params.get("q") || "";
    const subscribed = params.get("subscribed") || "";
    const tag = params.get("tag") || "";
    const pageNo = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    const perPage = 20;

    const search = h("input", { id: "fol-q", type: "search", value: q, placeholder: t("fol.search") });
    const state = h("select", { id: "fol-subscribed" },
      h("option", { value: "", text: t("msg.f.any") }),
      h("option", { value: "true", text: t("fol.subscribed"), selected: subscribed === "true" }),
      h("option", { value: "false", text: t("fol.unsubscribed"), selected: subscribed === "false" }));
    const tagInput = h("input", { id: "fol-tag", value: tag });
    const to = (p) => "#/followers" + query({ q: search.value.trim(), subscribed: state.value, tag: tagInput.value.trim(), page: p > 1 ? p : "" });
    const form = h("form", { class: "card filters", onsubmit: (e) => { e.preventDefault(); go(to(1)); } },
      field(t("fol.search"), search),
      field(t("fol.f.subscribed"), state),
      field(t("fol.f.tag"), tagInput),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary", text: t("apply") })));

    const refreshButton = h("button", { type: "button", id: "fol-refresh", text: t("fol.refresh") });
    const refreshBox = h("div", { id: "fol-refresh-state" });
    main.append(h("div", { class: "page-head" }, h("h1", { text: t("fol.title") }), h("span", { class: "spacer" }), refreshButton), refreshBox, form);

    const listCard = h("div", { class: "card" });
    main.appendChild(listCard);
    /** The page of followers; drawn again when a refresh from the platform ends. */
    const drawList = async () => {
      const wait = loading(clear(listCard));
      const data = await api("GET", "/followers" + query({ q, subscribed, tag, page: pageNo, per_page: perPage }));
      if (!owner.alive) return;
      wait.remove();
      const pages = Math.max(1, Math.ceil((data.total || 0) / (data.per_page || perPage)));
      if (data.followers.length === 0) {
        listCard.appendChild(h("p", { class: "muted", text: t("fol.empty") }));
      } else {
        const rows = data.followers.map((f) => h("tr", { dataset: { openid: f.openid } },
          h("td", { "data-label": t("fol.c.openid") }, followerLink(f.openid)),
          h("td", { "data-label": t("fol.c.remark"), text: f.remark || "" }),
          h("td", { "data-label": t("fol.c.tags") }, (f.tags || []).map((tg) => h("span", { class: "tag", text: tg }))),
          h("td", { "data-label": t("fol.c.state") }, h("span", { class: "badge " + (f.subscribed ? "ok" : ""), text: f.subscribed ? t("fol.subscribed") : t("fol.unsubscribed") })),
          h("td", { class: "nowrap", "data-label": t("fol.c.last"), text: fmtTime(f.last_seen_at) }),
          h("td", { class: "num", "data-label": t("fol.c.messages"), text: f.messages ?? 0 })));
        listCard.appendChild(h("div", { class: "table-wrap" }, h("table", { class: "data stack", id: "fol-table" },
          h("thead", null, h("tr", null, ["openid", "remark", "tags", "state", "last", "messages"].map((c) => h("th", { text: t("fol.c." + c) })))),
          h("tbody", null, rows))));
      }
      listCard.appendChild(h("div", { class: "row" },
        h("span", { class: "muted small", text: t("fol.total", data.total || 0, pageNo, pages) }),
        h("span", { class: "spacer" }),
        h("button", { type: "button", text: t("prev"), disabled: pageNo <= 1, onclick: () => go(to(pageNo - 1)) }),
        h("button", { type: "button", text: t("next"), disabled: pageNo >= pages, onclick: () => go(to(pageNo + 1)) })));
    };
    await drawList();

    // The refresh job: a progress bar that follows GET /followers/refresh.
    const bar = h("div", { class: "progress-fill" });
    const caption = h("div", { class: "small" });
    let polling = false;
    const showJob = (job) => {
      clear(refreshBox);
      if (!job || (!job.running && !job.finished_at)) return;
      const done = job.done || 0;
      const total = job.total || 0;
      bar.style.width = (total > 0 ? Math.min(100, (100 * done) / total) : job.running ? 5 : 100) + "%";
      if (job.running) {
        caption.textContent = t("fol.refresh.running", done, total || "?");
        caption.className = "small";
      } else if (job.error) {
        caption.textContent = t("fol.refresh.failed", job.error);
        caption.className = "small field-error";
      } else {
        caption.textContent = t("fol.refresh.done", done);
        caption.className = "small";
      }
      refreshBox.appendChild(h("div", { class: "card" }, h("div", { class: "progress", role: "progressbar", "aria-valuenow": done, "aria-valuemax": total }, bar), caption));
      refreshButton.disabled = !!job.running;
    };
    const follow = () => {
      if (polling) return;
      polling = true;
      const poll = async () => {
        if (!owner.alive) return;
        try {
          const job = await api("GET", "/followers/refresh");
          if (!owner.alive) return;
          showJob(job);
          if (job.running) {
            const timer = setTimeout(poll, 1000);
            owner.cleanups.push(() => clearTimeout(timer));
            return;
          }
          polling = false;
          if (job.error) toast("error", t("fol.refresh.failed", job.error));
          else toast("ok", t("fol.refresh.done", job.done || 0));
          await drawList();
        } catch (e) {
          polling = false;
          toast("error", e.message);
        }
      };
      poll();
    };
    refreshButton.onclick = async () => {
      if (!confirm(t("fol.refresh.confirm"))) return;
      refreshButton.disabled = true;
      try {
        const job = await api("POST", "/followers/refresh", {});
        toast("ok", t("fol.refresh.started"));
        showJob(job);
        follow();
      } catch (e) {
        refreshButton.disabled = false;
        toast("error", e.status === 409 ? t("fol.refresh.busy") : e.message);
        if (e.status === 409) follow();
      }
    };
    // A job started earlier (by another tab, or before a reload) is shown as it goes.
    try {
      const job = await api("GET", "/followers/refresh");
      if (owner.alive && job.running) {
        showJob(job);
        follow();
      }
    } catch (e) {
      /* no job status: the button still works */
    }
  }

  /** Tags typed as "a, b，c、d" → ["a", "b", "c", "d"]. */
  function splitTags(text) {
    return text.split(/[,，、;；]/).map((s) => s.trim()).filter(Boolean);
  }

  async function followerPage(main, owner, parts) {
    const openid = parts[1];
    const path = "/followers/" + encodeURIComponent(openid);
    main.appendChild(h("p", null, h("a", { href: "#/followers", text: t("fol.back") })));
    const detail = await api("GET", path);
    if (!owner.alive) return;
    let follower = detail.follower;

    // Who they are, remark and tags.
    const info = h("dl", { class: "stats small" });
    const drawInfo = () => {
      clear(info);
      const item = (k, v) => h("div", null, h("dt", { class: "stat-label", text: t(k) }), h("dd", { text: v }));
      info.append(
        item("fol.first", fmtTime(follower.first_seen_at)),
        item("fol.lastseen", fmtTime(follower.last_seen_at)),
        item("fol.lastmsg", fmtTime(follower.last_message_at)),
        item(follower.subscribed ? "fol.subscribed_at" : "fol.unsubscribed_at", fmtTime(follower.subscribed ? follower.subscribed_at : follower.unsubscribed_at)),
        item("fol.scene", follower.scene || t("none")),
        item("fol.c.messages", follower.messages ?? 0));
    };
    drawInfo();
    const badge = h("span", { class: "badge " + (follower.subscribed ? "ok" : ""), text: follower.subscribed ? t("fol.subscribed") : t("fol.unsubscribed") });
    const remark = h("input", { id: "fol-remark", value: follower.remark || "", maxlength: 30 });
    const tags = h("input", { id: "fol-tags", value: (follower.tags || []).join(", ") });
    const saveStatus = h("div");
    const saveButton = h("button", { type: "submit", class: "primary", text: t("save") });
    const editForm = h("form", {
      class: "filters",
      onsubmit: async (e) => {
        e.preventDefault();
        saveButton.disabled = true;
        try {
          const answer = await api("PUT", path, { remark: remark.value.trim(), tags: splitTags(tags.value) });
          if (answer && answer.follower) follower = answer.follower;
          tags.value = (follower.tags || []).join(", ");
          notice(saveStatus, "ok", t("fol.saved"));
          toast("ok", t("fol.saved"));
        } catch (err) {
          notice(saveStatus, "error", err.message);
          toast("error", err.message);
        } finally {
          saveButton.disabled = false;
        }
      },
    }, field(t("fol.remark"), remark), field(t("fol.tags"), tags), h("div", { class: "row" }, saveButton));
    main.appendChild(h("div", { class: "card" },
      h("div", { class: "page-head" }, h("h1", { class: "mono", id: "fol-openid", text: openid }), badge),
      info, editForm, saveStatus));

    // The 48-hour window and the send box.
    const windowLine = h("div", { id: "kf-window" });
    const drawWindow = (w) => {
      if (w && w.open) {
        notice(windowLine, "ok", t("kf.open", fmtTime(w.until)));
      } else if (w && w.until) {
        notice(windowLine, "warn", t("kf.closed", fmtTime(follower.last_message_at)));
      } else {
        notice(windowLine, "warn", t("kf.never"));
      }
    };
    drawWindow(detail.kf_window);
    const text = h("textarea", { id: "kf-text", placeholder: t("kf.placeholder"), rows: 3 });
    // The platform takes at most 2047 bytes of text in one message.
    const KF_MAX_BYTES = 2047;
    const counter = h("span", { class: "field-hint", text: t("kf.bytes", 0 + " / " + KF_MAX_BYTES) });
    const windowOpen = () => !!(detail.kf_window && detail.kf_window.open);
    text.addEventListener("input", () => {
      const n = bytes(text.value);
      counter.textContent = t("kf.bytes", n + " / " + KF_MAX_BYTES);
      counter.classList.toggle("over", n > KF_MAX_BYTES);
      sendButton.disabled = !windowOpen() || n > KF_MAX_BYTES;
    });
    const sendButton = h("button", { type: "submit", class: "primary", id: "kf-send", text: t("kf.send"), disabled: !(detail.kf_window && detail.kf_window.open) });
    const sendStatus = h("div", { id: "kf-status" });

    // The conversation: messages and subscribe events, oldest at the top.
    const chat = h("div", { class: "chat", id: "timeline" });
    const chatBox = h("div", { class: "chat-box" }, chat);
    const olderButton = h("button", { type: "button", class: "small", text: t("load.older"), hidden: true });
    const sendForm = h("form", {
      onsubmit: async (e) => {
        e.preventDefault();
        const body = text.value;
        if (!body.trim()) return;
        sendButton.disabled = true;
        try {
          await api("POST", path + "/send", { text: body });
          notice(sendStatus, "ok", t("kf.sent"));
          toast("ok", t("kf.sent"));
          chat.appendChild(h("div", { class: "bubble bubble-kf" }, body, h("span", { class: "bubble-meta", text: t("kf.sent.label") + " · " + fmtTime(Date.now() / 1000) })));
          chatBox.scrollTop = chatBox.scrollHeight;
          text.value = "";
          counter.textContent = t("kf.bytes", 0 + " / " + KF_MAX_BYTES);
        } catch (err) {
          notice(sendStatus, "error", err.message);
          toast("error", err.message);
        } finally {
          sendButton.disabled = !windowOpen() || bytes(text.value) > KF_MAX_BYTES;
        }
      },
    }, h("div", { class: "field" }, text, counter), h("div", { class: "row" }, sendButton));
    main.appendChild(h("div", { class: "card" },
      h("div", { class: "row" }, h("h2", { text: t("fol.timeline") }), h("span", { class: "spacer" }), olderButton),
      chatBox,
      h("h3", { text: t("kf.title"), class: "kf-title" }),
      windowLine, sendForm, sendStatus));

    const events = detail.events || [];
    let messages = [];
    let hasMore = false;
    const draw = () => {
      clear(chat);
      const items = [];
      for (const m of messages) items.push({ at: m.at, id: m.id, message: m });
      for (const ev of events) {
        const kind = ev.subscribed ? "subscribe" : "unsubscribe";
        const logged = messages.some((m) => m.msg_type === "event" && String(m.event).toLowerCase() === kind && Math.abs(m.at - ev.at) <= 2);
        if (!logged) items.push({ at: ev.at, id: -1, event: ev });
      }
      items.sort((a, b) => a.at - b.at || a.id - b.id);
      if (items.length === 0) chat.appendChild(h("p", { class: "muted", text: t("fol.timeline.empty") }));
      for (const it of items) chat.append(...timelineItem(it));
    };
    const timelineItem = (it) => {
      if (it.event) {
        const kind = it.event.subscribed ? "subscribe" : "unsubscribe";
        return [h("div", { class: "chat-note", text: fmtTime(it.at) + " " + t("fol.event." + kind) + (it.event.scene ? t("fol.event.scene", it.event.scene) : "") })];
      }
      const m = it.message;
      const out = [];
      if (m.msg_type === "event" && (m.event === "subscribe" || m.event === "unsubscribe")) {
        out.push(h("div", { class: "chat-note", text: fmtTime(m.at) + " " + t("fol.event." + m.event) + (m.event_key ? t("fol.event.scene", m.event_key) : "") }));
      } else {
        out.push(h("div", { class: "bubble bubble-in", dataset: { id: String(m.id) } }, describeInbound(m), h("span", { class: "bubble-meta", text: fmtTime(m.at) })));
      }
      const reply = describeReply(m);
      if (reply) {
        const cls = m.source === "kf" ? "bubble bubble-kf" : "bubble bubble-out";
        out.push(h("div", { class: cls }, reply, h("span", { class: "bubble-meta", text: t("fol.reply.by", m.rule || "–", m.latency_ms ?? "–") + " · " + label("source", m.source || "fresh") })));
      }
      return out;
    };

    const first = await api("GET", "/messages" + query({ openid, limit: 100 }));
    if (!owner.alive) return;
    messages = first.messages.slice().reverse();
    hasMore = first.has_more;
    olderButton.hidden = !hasMore;
    draw();
    chatBox.scrollTop = chatBox.scrollHeight;
    olderButton.onclick = async () => {
      try {
        const more = await api("GET", "/messages" + query({ openid, before_id: messages.length ? messages[0].id : "", limit: 100 }));
        messages = more.messages.slice().reverse().concat(messages);
        olderButton.hidden = !more.has_more;
        draw();
      } catch (e) {
        toast("error", e.message);
      }
    };

    // New messages of this follower appear as they come (and reopen the 48-hour window).
    every(owner, 2000, async () => {
      const newest = messages.length ? messages[messages.length - 1].id : 0;
      const fresh = await api("GET", "/messages" + query({ openid, after_id: newest, limit: 200 })).catch(() => null);
      if (!owner.alive || !fresh || fresh.messages.length === 0) return;
      const atBottom = chatBox.scrollTop + chatBox.clientHeight >= chatBox.scrollHeight - 20;
      messages = messages.concat(fresh.messages.slice().sort((a, b) => a.id - b.id).filter((m) => m.id > newest));
      draw();
      if (atBottom) chatBox.scrollTop = chatBox.scrollHeight;
      const again = await api("GET", path).catch(() => null);
      if (again && owner.alive) {
        follower = again.follower;
        detail.kf_window = again.kf_window;
        drawInfo();
        drawWindow(again.kf_window);
        sendButton.disabled = !windowOpen() || bytes(text.value) > KF_MAX_BYTES;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Rules
  // ---------------------------------------------------------------------------------------------

  async function rulesPage(main, owner) {
    main.appendChild(h("div", { class: "page-head" }, h("h1", { text: t("rules.title") })));
    main.appendChild(tryBox());
    const listCard = h("div", { class: "card", id: "rules" });
    main.appendChild(listCard);
    const wait = loading(listCard);
    let data = await api("GET", "/rules");
    if (!owner.alive) return;
    wait.remove();

    const draw = () => {
      clear(listCard);
      listCard.appendChild(h("p", { class: "muted small", text: t("rules.source", data.source || "") }));
      if (data.rules.length === 0) listCard.appendChild(h("p", { class: "muted", text: t("rules.empty") }));
      data.rules.forEach((rule) => listCard.appendChild(ruleCard(rule)));
      listCard.appendChild(addRuleCard());
    };

    /** Apply a change; the answer is the new rule list. A 422 names what is wrong. */
    const change = async (method, path, body, okText, errorSlot) => {
      try {
        const answer = await api(method, path, body);
        data = answer && answer.rules ? answer : await api("GET", "/rules");
        draw();
        toast("ok", okText);
        return true;
      } catch (e) {
        const text = e.status === 422 ? t("rules.refused", e.body.error || e.message) : e.message;
        if (errorSlot) {
          errorSlot.textContent = (e.body && e.body.field ? e.body.field + ": " : "") + (e.body.error || e.message);
          errorSlot.hidden = false;
          const fieldNode = errorSlot.closest(".field");
          if (fieldNode) fieldNode.classList.add("invalid");
        }
        toast("error", text);
        return false;
      }
    };

    const ruleCard = (rule) => {
      const n = data.rules.length;
      const textarea = h("textarea", { class: "code", spellcheck: "false", value: rule.toml, rows: Math.min(14, Math.max(4, rule.toml.split("\n").length + 1)) });
      const error = h("div", { class: "field-error rule-error", role: "alert", hidden: true });
      const saveButton = h("button", { type: "button", class: "primary rule-save", text: t("save") });
      const editor = h("div", { class: "rule-edit", hidden: true },
        h("div", { class: "field" }, h("label", { text: t("rules.toml") }, textarea), error,
          h("span", { class: "field-hint", text: t("rules.toml.hint") })),
        h("div", { class: "row" }, saveButton, h("button", { type: "button", text: t("cancel"), onclick: () => {
          textarea.value = rule.toml;
          error.hidden = true;
          editor.hidden = true;
        } })));
      textarea.addEventListener("input", () => {
        error.hidden = true;
        editor.querySelector(".field").classList.remove("invalid");
      });
      saveButton.onclick = async () => {
        saveButton.disabled = true;
        await change("PUT", "/rules/" + rule.index, { toml: textarea.value }, t("rules.saved", rule.name), error);
        saveButton.disabled = false;
      };
      const move = (to) => change("POST", "/rules/" + rule.index + "/move", { to }, t("rules.moved", rule.name));
      return h("div", { class: "rule", dataset: { index: String(rule.index), name: rule.name } },
        h("div", { class: "rule-head" },
          h("span", { class: "rule-index", text: "#" + (rule.index + 1) }),
          h("span", { class: "rule-name", text: rule.name }),
          h("span", { class: "badge", text: rule.reply_kind }),
          h("span", { class: "spacer" }),
          h("button", { type: "button", class: "small rule-up", text: "↑", title: t("rules.up"), disabled: rule.index === 0, onclick: () => move(rule.index - 1) }),
          h("button", { type: "button", class: "small rule-down", text: "↓", title: t("rules.down"), disabled: rule.index >= n - 1, onclick: () => move(rule.index + 1) }),
          h("button", { type: "button", class: "small rule-edit-open", text: t("edit"), onclick: () => { editor.hidden = !editor.hidden; if (!editor.hidden) textarea.focus(); } }),
          h("button", { type: "button", class: "small danger rule-delete", text: t("delete"), onclick: () => {
            if (confirm(t("rules.delete.confirm", rule.name))) change("DELETE", "/rules/" + rule.index, undefined, t("rules.deleted", rule.name));
          } })),
        h("div", { class: "rule-matchers", text: rule.matchers || "" }),
        editor);
    };

    const addRuleCard = () => {
      const textarea = h("textarea", { class: "code", spellcheck: "false", id: "rule-new", value: 'name = "new-rule"\nkeyword = "你好"\nreply = { text = "你好！" }\n' });
      const position = h("select", { id: "rule-new-at" },
        h("option", { value: "", text: t("rules.add.end") }),
        data.rules.map((r) => h("option", { value: String(r.index), text: t("rules.add.before", r.index + 1, r.name) })));
      const error = h("div", { class: "field-error", role: "alert", hidden: true });
      const add = h("button", { type: "button", class: "primary", id: "rule-new-add", text: t("rules.add.submit") });
      add.onclick = async () => {
        add.disabled = true;
        const body = { toml: textarea.value };
        if (position.value !== "") body.index = Number(position.value);
        await change("POST", "/rules", body, t("rules.added"), error);
        add.disabled = false;
      };
      textarea.addEventListener("input", () => { error.hidden = true; });
      return h("details", { class: "rule", id: "rule-new-box" },
        h("summary", { text: t("rules.add") }),
        h("div", { class: "rule-edit" },
          h("div", { class: "field" }, h("label", { text: t("rules.toml") }, textarea), error,
            h("span", { class: "field-hint", text: t("rules.toml.hint") })),
          field(t("rules.add.at"), position),
          add));
    };
    draw();
  }

  /** "Try it": what `wxoa rules test` answers, for a text, an event or a message type. */
  function tryBox() {
    const kind = h("select", { id: "try-kind" },
      h("option", { value: "text", text: t("rules.try.text") }),
      h("option", { value: "event", text: t("rules.try.event") }),
      h("option", { value: "type", text: t("rules.try.type") }));
    const text = h("input", { id: "try-text", value: "" });
    const eventName = h("select", { id: "try-event" },
      ["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN", "LOCATION", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"].map((e) => h("option", { value: e, text: e })));
    const key = h("input", { id: "try-key" });
    const msgType = h("select", { id: "try-type" }, MSG_TYPES.filter((m) => m !== "text" && m !== "event").map((m) => h("option", { value: m, text: label("type", m) })));
    const textField = field(t("rules.try.content"), text);
    const eventField = field(t("rules.try.eventname"), eventName);
    const keyField = field(t("rules.try.key"), key);
    const typeField = field(t("rules.try.msgtype"), msgType);
    const show = () => {
      textField.hidden = kind.value !== "text";
      eventField.hidden = keyField.hidden = kind.value !== "event";
      typeField.hidden = kind.value !== "type";
    };
    kind.onchange = show;
    show();
    const result = h("div", { id: "try-result" });
    const run = h("button", { type: "submit", class: "primary", text: t("rules.try.run") });
    const form = h("form", {
      class: "filters",
      onsubmit: async (e) => {
        e.preventDefault();
        let body;
        if (kind.value === "text") body = { text: text.value };
        else if (kind.value === "event") body = key.value ? { event: eventName.value, key: key.value } : { event: eventName.value };
        else body = { msg_type: msgType.value };
        run.disabled = true;
        clear(result);
        try {
          const r = await api("POST", "/rules/test", body);
          result.appendChild(tryResult(r));
        } catch (err) {
          notice(result, "error", err.message);
        } finally {
          run.disabled = false;
        }
      },
    }, field(t("rules.try.kind"), kind), textField, eventField, keyField, typeField, h("div", { class: "row" }, run));
    return h("div", { class: "card", id: "try" }, h("h2", { text: t("rules.try") }), form, result);
  }

  function tryResult(r) {
    const box = h("div", { class: "try-answer" });
    if (!r.matched) {
      box.appendChild(h("div", { class: "notice warn", text: t("rules.try.nomatch") }));
    } else {
      box.appendChild(h("div", { class: "notice ok", text: t("rules.try.matched", r.rule) }));
    }
    if (r.reply) {
      const reply = r.reply;
      const shown = reply.text !== undefined ? reply.text : JSON.stringify(Object.fromEntries(Object.entries(reply).filter(([k]) => k !== "kind")), null, 2);
      box.appendChild(h("h3", { text: t("rules.try.reply", reply.kind || "") }));
      box.appendChild(h("div", { class: "chat-box" }, h("div", { class: "chat" }, h("div", { class: "bubble bubble-out try-reply", text: shown }))));
    }
    if (r.notes && r.notes.length) {
      box.appendChild(h("h3", { text: t("rules.try.notes") }));
      box.appendChild(h("ul", { class: "small" }, r.notes.map((n) => h("li", { text: n }))));
    }
    if (r.xml) {
      box.appendChild(h("details", null, h("summary", { text: t("rules.try.xml") }), h("pre", { class: "mono small", text: r.xml })));
    }
    return box;
  }

  // ---------------------------------------------------------------------------------------------
  // Menu
  // ---------------------------------------------------------------------------------------------

  // The platform's limits (wxoa-api's menu.rs, PROTOCOL §9.3).
  const MENU = { buttons: 3, subs: 5, name: 16, subName: 60, key: 128, url: 1024 };
  const KEY_TYPES = ["click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"];
  const BUTTON_TYPES = KEY_TYPES.concat(["view", "miniprogram", "media_id", "view_limited", "article_id", "article_view_limited"]);
  const FIELDS = ["key", "url", "media_id", "article_id", "appid", "pagepath"];

  /** The fields a button of `type` needs. */
  function requiredFields(type) {
    if (KEY_TYPES.includes(type)) return ["key"];
    if (type === "view") return ["url"];
    if (type === "media_id" || type === "view_limited") return ["media_id"];
    if (type === "article_id" || type === "article_view_limited") return ["article_id"];
    if (type === "miniprogram") return ["appid", "pagepath", "url"];
    return [];
  }

  /** Every problem of `menu` as `{path, field, message}`, the same checks the server makes. */
  function validateMenu(menu) {
    const issues = [];
    const buttons = (menu && Array.isArray(menu.button)) ? menu.button : [];
    if (buttons.length === 0) issues.push({ path: "menu", field: "", message: t("v.buttons.none") });
    if (buttons.length > MENU.buttons) issues.push({ path: "menu", field: "", message: t("v.buttons.many", MENU.buttons, buttons.length) });
    buttons.forEach((b, i) => validateButton(b, "button[" + i + "]", true, issues));
    return issues;
  }

  function validateButton(b, path, top, issues) {
    const push = (fieldName, message) => issues.push({ path, field: fieldName, name: b.name || "", message });
    const limit = top ? MENU.name : MENU.subName;
    const name = typeof b.name === "string" ? b.name : "";
    if (!name.trim()) push("name", t("v.name.required"));
    else if (bytes(name) > limit) push("name", t("v.name.long", bytes(name), limit));
    if (typeof b.key === "string" && bytes(b.key) > MENU.key) push("key", t("v.key.long", bytes(b.key), MENU.key));
    if (typeof b.url === "string" && b.url !== "") {
      if (bytes(b.url) > MENU.url) push("url", t("v.url.long", bytes(b.url), MENU.url));
      if (!/^https?:\/\//.test(b.url)) push("url", t("v.url.scheme"));
    }
    const subs = Array.isArray(b.sub_button) ? b.sub_button : [];
    if (subs.length > 0) {
      if (!top) {
        push("sub_button", t("v.sub.nested"));
        return;
      }
      if (subs.length > MENU.subs) push("sub_button", t("v.subs.many", MENU.subs, subs.length));
      subs.forEach((s, j) => validateButton(s, path + ".sub_button[" + j + "]", false, issues));
      return;
    }
    if (!b.type) {
      push("type", t("v.type.required"));
      return;
    }
    if (!BUTTON_TYPES.includes(b.type)) {
      push("type", t("v.type.unknown", b.type));
      return;
    }
    for (const f of requiredFields(b.type)) {
      if (typeof b[f] !== "string" || !b[f].trim()) push(f, t("v.required", f, b.type));
    }
  }

  /** A menu as the platform takes it: only the fields its type uses, no empty strings. */
  function cleanMenu(menu) {
    const cleanButton = (b, top) => {
      const out = { name: b.name || "" };
      const subs = Array.isArray(b.sub_button) ? b.sub_button : [];
      if (top && subs.length > 0 && !b.type) {
        out.sub_button = subs.map((s) => cleanButton(s, false));
        return out;
      }
      if (b.type) out.type = b.type;
      for (const f of FIELDS) {
        if (typeof b[f] === "string" && b[f] !== "") out[f] = b[f];
      }
      if (subs.length > 0) out.sub_button = subs.map((s) => cleanButton(s, false));
      return out;
    };
    return { button: ((menu && menu.button) || []).map((b) => cleanButton(b, true)) };
  }

  /** The menu bar of the WeChat chat screen: up to 3 buttons, a pop-up of sub-buttons. */
  function phonePreview(menu, title) {
    const buttons = (menu && Array.isArray(menu.button)) ? menu.button : [];
    const bar = h("div", { class: "phone-bar" });
    const body = h("div", { class: "phone-body" });
    if (buttons.length === 0) {
      body.appendChild(h("div", { class: "phone-empty", text: t("menu.preview.empty") }));
    } else {
      bar.appendChild(h("div", { class: "phone-kbd", text: "⌨", "aria-hidden": "true" }));
    }
    let popup = null;
    buttons.forEach((b, i) => {
      const subs = Array.isArray(b.sub_button) ? b.sub_button : [];
      const tooLong = bytes(b.name) > MENU.name || i >= MENU.buttons;
      const btn = h("button", { type: "button", class: "phone-btn" + (subs.length ? " parent" : "") + (tooLong ? " bad" : ""), title: b.name || "", text: b.name || "…" });
      btn.onclick = () => {
        if (popup) {
          const same = popup.dataset.index === String(i);
          popup.remove();
          popup = null;
          if (same) return;
        }
        if (!subs.length) return;
        popup = h("div", { class: "phone-sub", dataset: { index: String(i) } }, subs.map((s) => h("div", { title: s.name || "", text: s.name || "…" })));
        const slot = (100 / buttons.length);
        popup.style.left = "calc(40px + (100% - 40px) * " + (i * slot + slot / 2) / 100 + " - 45px)";
        body.appendChild(popup);
      };
      bar.appendChild(btn);
    });
    return h("div", { class: "phone", id: "menu-phone" },
      h("div", { class: "phone-title", text: title }),
      body, bar);
  }

  async function menuPage(main, owner) {
    main.appendChild(h("div", { class: "page-head" }, h("h1", { text: t("menu.title") })));
    const status = h("div", { id: "menu-status" });
    main.appendChild(status);
    let draft = { button: [] };
    let mode = "form";
    let serverIssues = [];

    const previewBox = h("div");
    const issuesBox = h("div", { id: "menu-issues" });
    const editorBox = h("div", { id: "menu-editor" });
    const pushButton = h("button", { type: "button", class: "primary", id: "menu-push", text: t("menu.push") });
    const deleteButton = h("button", { type: "button", class: "danger", id: "menu-delete", text: t("menu.delete") });
    const reloadButton = h("button", { type: "button", text: t("menu.reload") });
    const tabForm = h("button", { type: "button", id: "menu-tab-form", text: t("menu.form") });
    const tabJson = h("button", { type: "button", id: "menu-tab-json", text: t("menu.json") });
    main.appendChild(h("div", { class: "menu-layout" },
      h("div", { class: "card" }, h("h2", { text: t("menu.preview") }), previewBox),
      h("div", { class: "card" },
        h("div", { class: "tabs" }, tabForm, tabJson, h("span", { class: "spacer" }), reloadButton),
        editorBox, issuesBox,
        h("div", { class: "row" }, pushButton, h("span", { class: "spacer" }), deleteButton))));

    // Validation as you type: the local checks at once, the server's a moment later.
    let validateTimer = null;
    const refresh = () => {
      const local = validateMenu(draft);
      clear(previewBox).appendChild(phonePreview(draft, session && session.appid ? session.appid : "wxoa"));
      for (const node of editorBox.querySelectorAll("[data-issue-for]")) {
        const key = node.dataset.issueFor;
        const mine = local.filter((i) => i.path + "/" + i.field === key);
        node.textContent = mine.map((i) => i.message).join("；");
        node.hidden = mine.length === 0;
        const f = node.closest(".field");
        if (f) f.classList.toggle("invalid", mine.length > 0);
      }
      for (const node of editorBox.querySelectorAll("[data-bytes-for]")) {
        const [path, limit] = node.dataset.bytesFor.split("|");
        const b = buttonAt(path);
        const n = bytes(b ? b.name : "");
        node.textContent = t("menu.bytes", n, limit);
        node.classList.toggle("over", n > Number(limit));
      }
      clear(issuesBox);
      if (local.length) {
        issuesBox.appendChild(h("ul", { class: "issues" }, local.map((i) => h("li", { text: i.path + (i.name ? " “" + i.name + "”" : "") + ": " + i.message }))));
      } else if (serverIssues.length) {
        issuesBox.appendChild(h("div", { class: "small field-error", text: t("menu.server.issues") }));
        issuesBox.appendChild(h("ul", { class: "issues" }, serverIssues.map((i) => h("li", { text: (i.path || "") + (i.name ? " “" + i.name + "”" : "") + ": " + i.message }))));
      } else {
        issuesBox.appendChild(h("div", { class: "notice ok small", text: t("menu.ok") }));
      }
      pushButton.disabled = local.length > 0 || serverIssues.length > 0;
      clearTimeout(validateTimer);
      if (local.length === 0) {
        const sent = JSON.stringify(cleanMenu(draft));
        validateTimer = setTimeout(async () => {
          try {
            const r = await api("POST", "/menu/validate", { menu: JSON.parse(sent) });
            if (!owner.alive || sent !== JSON.stringify(cleanMenu(draft))) return;
            const before = serverIssues.length;
            serverIssues = r && r.ok === false ? (r.issues || []) : [];
            if (before !== serverIssues.length) refresh();
          } catch (e) {
            /* the local checks stand; the push will say what the server thinks */
          }
        }, 500);
      } else {
        serverIssues = [];
      }
    };
    owner.cleanups.push(() => clearTimeout(validateTimer));

    const buttonAt = (path) => {
      const m = /^button\[(\d+)\](?:\.sub_button\[(\d+)\])?$/.exec(path);
      if (!m) return null;
      const top = draft.button[Number(m[1])];
      if (!top || m[2] === undefined) return top || null;
      return (top.sub_button || [])[Number(m[2])] || null;
    };

    /** The editor for one button (top level or sub). */
    const buttonEditor = (b, path, top, siblings, index) => {
      const subs = Array.isArray(b.sub_button) ? b.sub_button : [];
      const isParent = top && subs.length > 0 && !b.type;
      const issueSlot = (f) => h("div", { class: "field-error", hidden: true, dataset: { issueFor: path + "/" + f } });
      const limit = top ? MENU.name : MENU.subName;
      const name = h("input", { value: b.name || "", class: "menu-name", dataset: { path } });
      name.addEventListener("input", () => { b.name = name.value; refresh(); });
      const type = h("select", { class: "menu-type", dataset: { path } },
        top ? h("option", { value: "", text: t("menu.type.parent"), selected: isParent }) : h("option", { value: "", text: "—", selected: !b.type }),
        BUTTON_TYPES.map((ty) => h("option", { value: ty, text: ty, selected: b.type === ty })));
      type.addEventListener("change", () => {
        if (type.value === "") {
          delete b.type;
          if (top && subs.length === 0) b.sub_button = [{ name: "", type: "click", key: "" }];
        } else {
          b.type = type.value;
          delete b.sub_button;
          for (const f of requiredFields(b.type)) if (typeof b[f] !== "string") b[f] = "";
        }
        drawEditor();
      });
      const fields = [
        h("div", { class: "field" }, h("label", { text: t("menu.name") }, name),
          h("span", { class: "field-hint", dataset: { bytesFor: path + "|" + limit } }), issueSlot("name")),
        h("div", { class: "field" }, h("label", { text: t("menu.type") }, type), issueSlot("type"), issueSlot("sub_button")),
      ];
      if (!isParent && b.type) {
        const needed = requiredFields(b.type);
        const shown = FIELDS.filter((f) => needed.includes(f) || (typeof b[f] === "string" && b[f] !== ""));
        for (const f of shown) {
          const input = h("input", { value: b[f] || "", class: "menu-" + f, dataset: { path } });
          input.addEventListener("input", () => { b[f] = input.value; refresh(); });
          fields.push(h("div", { class: "field" }, h("label", { text: t("menu." + f) }, input), issueSlot(f)));
        }
      }
      const tools = h("div", { class: "row" },
        h("span", { class: "mono small muted", text: path }),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "small", text: "↑", disabled: index === 0, onclick: () => { siblings.splice(index - 1, 0, siblings.splice(index, 1)[0]); drawEditor(); } }),
        h("button", { type: "button", class: "small", text: "↓", disabled: index >= siblings.length - 1, onclick: () => { siblings.splice(index + 1, 0, siblings.splice(index, 1)[0]); drawEditor(); } }),
        h("button", { type: "button", class: "small danger", text: t("menu.remove"), onclick: () => { siblings.splice(index, 1); drawEditor(); } }));
      const card = h("div", { class: top ? "menu-btn-card" : "menu-sub-card" }, tools, h("div", { class: "menu-fields" }, fields));
      if (isParent) {
        subs.forEach((s, j) => card.appendChild(buttonEditor(s, path + ".sub_button[" + j + "]", false, subs, j)));
        card.appendChild(h("button", { type: "button", class: "small", text: t("menu.add.sub"), disabled: subs.length >= MENU.subs, onclick: () => { subs.push({ name: "", type: "click", key: "" }); drawEditor(); } }));
      }
      return card;
    };

    const drawEditor = () => {
      tabForm.className = mode === "form" ? "active" : "";
      tabJson.className = mode === "json" ? "active" : "";
      clear(editorBox);
      if (mode === "form") {
        draft.button = Array.isArray(draft.button) ? draft.button : [];
        draft.button.forEach((b, i) => editorBox.appendChild(buttonEditor(b, "button[" + i + "]", true, draft.button, i)));
        editorBox.appendChild(h("button", { type: "button", id: "menu-add", text: t("menu.add.button"), disabled: draft.button.length >= MENU.buttons, onclick: () => { draft.button.push({ name: "", type: "click", key: "" }); drawEditor(); } }));
      } else {
        const area = h("textarea", { class: "code", id: "menu-json", spellcheck: "false", rows: 18, value: JSON.stringify(cleanMenu(draft), null, 2) });
        const bad = h("div", { class: "field-error", hidden: true });
        area.addEventListener("input", () => {
          try {
            const parsed = JSON.parse(area.value);
            draft = parsed && parsed.menu && !parsed.button ? parsed.menu : parsed;
            if (!draft || typeof draft !== "object") throw new Error("{ \"button\": [...] }");
            bad.hidden = true;
            refresh();
          } catch (e) {
            bad.textContent = t("menu.json.bad", e.message);
            bad.hidden = false;
            pushButton.disabled = true;
          }
        });
        editorBox.appendChild(h("div", { class: "field" }, area, bad));
      }
      refresh();
    };
    tabForm.onclick = () => { mode = "form"; drawEditor(); };
    tabJson.onclick = () => { mode = "json"; drawEditor(); };

    const load = async () => {
      try {
        const r = await api("GET", "/menu");
        if (!owner.alive) return;
        draft = r && r.menu ? cleanMenu(r.menu) : { button: [] };
        notice(status, r && r.menu ? "ok" : "warn", r && r.menu ? t("menu.current.loaded") : t("menu.current.none"));
      } catch (e) {
        if (!owner.alive) return;
        draft = { button: [] };
        notice(status, "error", e.message);
      }
      serverIssues = [];
      drawEditor();
    };
    reloadButton.onclick = load;

    pushButton.onclick = async () => {
      const issues = validateMenu(draft);
      if (issues.length) {
        toast("error", t("menu.invalid", issues.length));
        return;
      }
      if (!confirm(t("menu.push.confirm"))) return;
      pushButton.disabled = true;
      try {
        await api("PUT", "/menu", { menu: cleanMenu(draft) });
        notice(status, "ok", t("menu.pushed"));
        toast("ok", t("menu.pushed"));
      } catch (e) {
        if (e.status === 422 && e.body && Array.isArray(e.body.issues)) {
          serverIssues = e.body.issues;
          refresh();
        }
        notice(status, "error", e.message);
        toast("error", e.message);
      } finally {
        pushButton.disabled = validateMenu(draft).length > 0 || serverIssues.length > 0;
      }
    };
    deleteButton.onclick = async () => {
      if (!confirm(t("menu.delete.confirm"))) return;
      deleteButton.disabled = true;
      try {
        await api("DELETE", "/menu");
        notice(status, "ok", t("menu.deleted"));
        toast("ok", t("menu.deleted"));
      } catch (e) {
        notice(status, "error", e.message);
        toast("error", e.message);
      } finally {
        deleteButton.disabled = false;
      }
    };
    await load();
  }

  // ---------------------------------------------------------------------------------------------
  // Audit
  // ---------------------------------------------------------------------------------------------

  async function auditPage(main, owner) {
    main.appendChild(h("div", { class: "page-head" }, h("h1", { text: t("audit.title") })));
    const card = h("div", { class: "card" });
    main.appendChild(card);
    const data = await api("GET", "/audit" + query({ limit: 100 }));
    if (!owner.alive) return;
    if (!data.entries || data.entries.length === 0) {
      card.appendChild(h("p", { class: "muted", text: t("audit.empty") }));
      return;
    }
    card.appendChild(h("div", { class: "table-wrap" }, h("table", { class: "data stack", id: "audit-table" },
      h("thead", null, h("tr", null, ["time", "actor", "action", "target", "detail"].map((c) => h("th", { text: t("audit.c." + c) })))),
      h("tbody", null, data.entries.map((e) => h("tr", null,
        h("td", { class: "nowrap", "data-label": t("audit.c.time"), text: fmtTime(e.at) }),
        h("td", { "data-label": t("audit.c.actor"), text: e.actor }),
        h("td", { "data-label": t("audit.c.action") }, h("span", { class: "badge", text: e.action })),
        h("td", { class: "cell-text", "data-label": t("audit.c.target"), text: e.target || "" }),
        h("td", { class: "cell-text small pre", "data-label": t("audit.c.detail"), text: e.detail || "" })))))));
  }

  // ---------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------

  document.getElementById("lang-toggle").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    route();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/logout", {});
      toast("ok", t("logout.done"));
    } catch (e) {
      toast("error", e.message);
    }
    session = null;
    go("#/login");
  });
  window.addEventListener("hashchange", route);
  route();
})();
