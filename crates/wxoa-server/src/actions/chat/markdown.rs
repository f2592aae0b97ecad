//! Markdown as the WeChat chat window shows it: plain text without `**`, `#` or backticks,
//! list items kept (bullets become `•`), links and images as plain URLs.
//!
//! Works line by line, and each line depends only on itself and on the lines before it, so the
//! rendering of a prefix of an answer is a prefix of the rendering of the whole answer (the
//! deadline logic shows a partial answer and later the rest).

/// Render `markdown` as chat text.
#[must_use]
pub fn render(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut in_fence = false;
    let mut lines = markdown.split('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if in_fence {
            out.push_str(line);
            push_newline(&mut out, lines.peek().is_some());
        } else {
            out.push_str(&render_line(line));
            push_newline(&mut out, lines.peek().is_some());
        }
    }
    out
}

fn push_newline(out: &mut String, more: bool) {
    if more {
        out.push('\n');
    }
}

/// One line outside code fences.
fn render_line(line: &str) -> String {
    let indent_len = line.len() - line.trim_start().len();
    let (indent, body) = line.split_at(indent_len);
    // Headings: the text alone.
    let hashes = body.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && body[hashes..].starts_with(' ') {
        return inline(body[hashes..].trim());
    }
    // Block quotes.
    if let Some(rest) = body.strip_prefix('>') {
        return inline(rest.trim_start());
    }
    // Horizontal rules.
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() >= 3
        && (compact.chars().all(|c| c == '-')
            || compact.chars().all(|c| c == '*')
            || compact.chars().all(|c| c == '_'))
    {
        return String::new();
    }
    // Bullets.
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = body.strip_prefix(marker) {
            let rest = rest
                .strip_prefix("[ ] ")
                .map(|r| format!("☐ {r}"))
                .or_else(|| rest.strip_prefix("[x] ").map(|r| format!("☑ {r}")))
                .unwrap_or_else(|| rest.to_owned());
            return format!("{indent}• {}", inline(&rest));
        }
    }
    format!("{indent}{}", inline(body))
}

/// Inline markup: emphasis markers and backticks removed, links and images as URLs.
fn inline(text: &str) -> String {
    let text = text.replace("**", "").replace("__", "").replace('`', "");
    links(&text)
}

/// `[label](url)` → `label url` (just `url` when the label is the URL or empty);
/// `![alt](url)` → `url`.
fn links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest[open..].find("](") else {
            break;
        };
        let close = open + close_rel;
        let Some(end_rel) = rest[close + 2..].find(')') else {
            break;
        };
        let end = close + 2 + end_rel;
        let label = &rest[open + 1..close];
        let url = rest[close + 2..end].trim();
        if label.contains('[') || url.contains(char::is_whitespace) || url.is_empty() {
            out.push_str(&rest[..=open]);
            rest = &rest[open + 1..];
            continue;
        }
        let image = open > 0 && rest[..open].ends_with('!');
        out.push_str(if image {
            &rest[..open - 1]
        } else {
            &rest[..open]
        });
        if image || label.trim().is_empty() || label.trim() == url {
            out.push_str(url);
        } else {
            out.push_str(label);
            out.push(' ');
            out.push_str(url);
        }
        // Keep the URL apart from Chinese text that follows, so it stays tappable.
        if rest[end + 1..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && !c.is_ascii_punctuation())
        {
            out.push(' ');
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_headings_and_code_are_plain() {
        assert_eq!(
            render("## 标题\n这是**重点**和`代码`。"),
            "标题\n这是重点和代码。"
        );
        assert_eq!(render("```rust\nlet x = 1;\n```\n好"), "let x = 1;\n好");
        assert_eq!(render("> 引用\n---\n尾"), "引用\n\n尾");
    }

    #[test]
    fn lists_are_kept() {
        assert_eq!(
            render("- 一\n* 二\n  - 子项\n1. 甲\n2. **乙**"),
            "• 一\n• 二\n  • 子项\n1. 甲\n2. 乙"
        );
    }

    #[test]
    fn links_become_plain_urls() {
        assert_eq!(
            render("见[文档](https://wxoa.dev/ai)了解"),
            "见文档 https://wxoa.dev/ai 了解"
        );
        assert_eq!(
            render("![图](https://x.test/a.png)"),
            "https://x.test/a.png"
        );
        assert_eq!(
            render("[https://a.test](https://a.test)."),
            "https://a.test."
        );
        assert_eq!(render("数组[0](不是链接 吧)"), "数组[0](不是链接 吧)");
    }

    #[test]
    fn rendering_a_prefix_at_a_sentence_end_gives_a_prefix() {
        let answer =
            "# 题\n这是**第一句**。这是[链接](https://a.test)。\n- 项目一\n- 项目二\n结尾。";
        let full = render(answer);
        for (i, c) in answer.char_indices() {
            if c == '。' || c == '\n' {
                let head = render(&answer[..i + c.len_utf8()]);
                assert!(full.starts_with(&head), "{i}: {head:?} vs {full:?}");
            }
        }
    }
}
