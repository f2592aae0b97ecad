//! One line of the `wxoa check` list: its status, what was found and how to fix it (in Chinese
//! and English), printed as text for people or as JSON for machines.

use std::fmt::Write as _;

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Fine.
    Ok,
    /// Broken: the platform or the followers will notice. Makes the exit code non-zero.
    Fail,
    /// Works, but probably not as intended.
    Warn,
    /// Not checked (not configured, or an earlier check failed).
    Skip,
}

impl Status {
    /// The mark at the start of the line.
    pub(crate) fn mark(self) -> char {
        match self {
            Self::Ok => '✓',
            Self::Fail => '✗',
            Self::Warn => '!',
            Self::Skip => '-',
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Check {
    /// A stable identifier, e.g. `access_token`.
    pub(crate) name: &'static str,
    /// The outcome.
    pub(crate) status: Status,
    /// What was found.
    pub(crate) detail: String,
    /// What to do, in Chinese (none when there is nothing to do).
    pub(crate) fix_zh: Option<String>,
    /// What to do, in English.
    pub(crate) fix_en: Option<String>,
    /// The account the check is about, when the config has several (`[[accounts]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
}

impl Check {
    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix_zh: None,
            fix_en: None,
            account: None,
        }
    }

    pub(crate) fn fail(
        name: &'static str,
        detail: impl Into<String>,
        fix_zh: impl Into<String>,
        fix_en: impl Into<String>,
    ) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix_zh: Some(fix_zh.into()),
            fix_en: Some(fix_en.into()),
            account: None,
        }
    }

    pub(crate) fn warn(
        name: &'static str,
        detail: impl Into<String>,
        fix_zh: impl Into<String>,
        fix_en: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Warn,
            ..Self::fail(name, detail, fix_zh, fix_en)
        }
    }

    pub(crate) fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: detail.into(),
            fix_zh: None,
            fix_en: None,
            account: None,
        }
    }

    /// A skipped check with a note on how to enable it.
    pub(crate) fn skip_with_note(
        name: &'static str,
        detail: impl Into<String>,
        note_zh: impl Into<String>,
        note_en: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Skip,
            ..Self::fail(name, detail, note_zh, note_en)
        }
    }
}

impl Check {
    /// The check, about the account called `name`.
    pub(crate) fn for_account(self, name: &str) -> Self {
        Self {
            account: Some(name.to_owned()),
            ..self
        }
    }
}

/// Width of the name column in the text output.
const NAME_WIDTH: usize = 18;

/// The checklist as text: one line a check, the fixes indented below failures and warnings,
/// and a summary line.
pub(crate) fn render_text(checks: &[Check]) -> String {
    let mut out = String::new();
    let indent = " ".repeat(NAME_WIDTH + 3);
    let mut section: Option<&str> = None;
    for check in checks {
        if let Some(account) = check.account.as_deref()
            && section != Some(account)
        {
            let _ = writeln!(out, "[account {account}]");
            section = Some(account);
        }
        let _ = writeln!(
            out,
            "{} {:<width$} {}",
            check.status.mark(),
            check.name,
            check.detail,
            width = NAME_WIDTH
        );
        if let Some(zh) = &check.fix_zh {
            let _ = writeln!(out, "{indent}修复：{zh}");
        }
        if let Some(en) = &check.fix_en {
            let _ = writeln!(out, "{indent}fix: {en}");
        }
    }
    let count = |status| checks.iter().filter(|c| c.status == status).count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (all, warnings) = (checks.len(), count(Status::Warn));
    let _ = writeln!(
        out,
        "{all} check{}: {} ok, {} failed, {warnings} warning{}, {} skipped",
        plural(all),
        count(Status::Ok),
        count(Status::Fail),
        plural(warnings),
        count(Status::Skip)
    );
    out
}

/// The checklist as a JSON array of `{name, status, detail, fix_zh, fix_en}` (and `account`
/// when the config has several).
pub(crate) fn render_json(checks: &[Check]) -> String {
    serde_json::to_string_pretty(checks).unwrap_or_else(|e| {
        // Plain strings and enums always serialize; keep the output JSON regardless.
        serde_json::json!([{ "name": "check", "status": "fail", "detail": e.to_string() }])
            .to_string()
    })
}

/// Whether any check failed.
pub(crate) fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_marks_fixes_and_a_summary() {
        let checks = vec![
            Check::ok("config", "wxoa.toml parses"),
            Check::fail("token", "too short", "改长一点", "make it longer"),
            Check::warn("encoding_aes_key", "empty", "填写", "fill it in"),
            Check::skip("public_url", "not set"),
        ];
        let text = render_text(&checks);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("✓ config "), "{text}");
        assert!(lines[1].starts_with("✗ token ") && lines[1].ends_with("too short"));
        assert!(
            lines[2].trim_start().starts_with("修复：改长一点"),
            "{text}"
        );
        assert!(
            lines[3].trim_start().starts_with("fix: make it longer"),
            "{text}"
        );
        assert!(lines[4].starts_with("! encoding_aes_key"), "{text}");
        assert!(lines[7].starts_with("- public_url"), "{text}");
        assert_eq!(lines[8], "4 checks: 1 ok, 1 failed, 1 warning, 1 skipped");
        assert!(any_failed(&checks));
        assert!(!any_failed(&checks[..1]));
    }

    #[test]
    fn json_is_an_array_of_named_fields() {
        let checks = vec![
            Check::ok("config", "fine"),
            Check::fail("token", "bad", "中文", "english"),
        ];
        let v: serde_json::Value = serde_json::from_str(&render_json(&checks)).unwrap();
        assert_eq!(v[0]["status"], "ok");
        assert!(v[0]["fix_zh"].is_null());
        assert_eq!(v[1]["name"], "token");
        assert_eq!(v[1]["status"], "fail");
        assert_eq!(v[1]["fix_en"], "english");
        assert_eq!(v[1]["fix_zh"], "中文");
    }
}
