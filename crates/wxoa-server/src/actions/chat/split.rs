//! Splitting a long answer into parts of at most N bytes at paragraph, line or sentence
//! boundaries (never inside a character), and finding the useful prefix of a partial answer.

/// Sentence-ending characters: a cut may follow them.
const SENTENCE_ENDS: &[char] = &['。', '！', '？', '!', '?', '；', ';', '…', '\n'];
/// Clause separators: a cut may follow them when no sentence ends in reach.
const CLAUSE_ENDS: &[char] = &['，', '、', ',', '：', ':', ' '];

/// Split `text` into non-empty parts of at most `max` bytes (`max` ≥ 4, so any character fits).
///
/// Each cut is at the last paragraph break in reach when that keeps the part at least a third
/// full, else the last line break or sentence end, else the last clause separator or space,
/// else the last character boundary. Whitespace around a cut is dropped; nothing else is.
#[must_use]
pub fn split_answer(text: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.len() <= max {
            parts.push(rest.to_owned());
            break;
        }
        let cut = cut_point(rest, max);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim_end();
        if !head.is_empty() {
            parts.push(head.to_owned());
        }
        rest = tail.trim_start();
    }
    parts
}

/// Where to cut `text` (longer than `max`): a byte index in `1..=max` on a char boundary.
fn cut_point(text: &str, max: usize) -> usize {
    let mut window_end = max;
    while !text.is_char_boundary(window_end) {
        window_end -= 1;
    }
    let window = &text[..window_end];
    let floor = window_end / 3;
    if let Some(i) = window.rfind("\n\n")
        && i >= floor
    {
        return i + 2;
    }
    if let Some(end) = last_end(window, SENTENCE_ENDS) {
        return end;
    }
    // A '.' ends an English sentence only when followed by whitespace.
    if let Some(i) = window.rfind(". ") {
        return i + 2;
    }
    if let Some(end) = last_end(window, CLAUSE_ENDS) {
        return end;
    }
    window_end.max(first_char_len(text))
}

/// The byte index just after the last char of `set` in `window`, if past the start.
fn last_end(window: &str, set: &[char]) -> Option<usize> {
    window
        .char_indices()
        .rev()
        .find(|(_, c)| set.contains(c))
        .map(|(i, c)| i + c.len_utf8())
        .filter(|&end| end > 0)
}

fn first_char_len(text: &str) -> usize {
    text.chars().next().map_or(0, char::len_utf8)
}

/// The longest prefix of `text` that ends a sentence (or a line) and fits in `max` bytes,
/// when it has at least `min_chars` characters: what can be shown of a partial answer.
#[must_use]
pub fn sentence_prefix(text: &str, max: usize, min_chars: usize) -> Option<&str> {
    let mut window_end = max.min(text.len());
    while !text.is_char_boundary(window_end) {
        window_end -= 1;
    }
    let window = &text[..window_end];
    let end = last_end(window, SENTENCE_ENDS)
        .into_iter()
        .chain(window.rfind(". ").map(|i| i + 1))
        .max()?;
    let prefix = window[..end].trim_end();
    (prefix.chars().count() >= min_chars).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_answer("  你好。 ", 2047), vec!["你好。"]);
        assert!(split_answer("   ", 2047).is_empty());
    }

    #[test]
    fn six_thousand_chinese_characters_split_at_sentences() {
        let sentence = "这是一个用于测试的中文句子，它有逗号也有句号。";
        let mut text = String::new();
        while text.chars().count() < 6000 {
            text.push_str(sentence);
        }
        let parts = split_answer(&text, 2047);
        assert!(parts.len() >= 9, "{}", parts.len());
        for part in &parts {
            assert!(part.len() <= 2047, "{}", part.len());
            assert!(
                part.ends_with('。'),
                "cut inside a sentence: …{:?}",
                &part[part.len() - 9..]
            );
        }
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn paragraphs_win_when_not_too_early() {
        let text = format!("{}\n\n{}", "甲。".repeat(300), "乙。".repeat(300));
        let parts = split_answer(&text, 2047);
        assert_eq!(parts[0], "甲。".repeat(300));
        assert!(parts[1].starts_with('乙'));
    }

    #[test]
    fn no_boundary_cuts_on_a_character() {
        let text = "字".repeat(1000);
        let parts = split_answer(&text, 2047);
        assert_eq!(parts[0].len(), 2046);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn prefix_ends_a_sentence() {
        assert_eq!(
            sentence_prefix("第一句。第二句写了一半", 2047, 2),
            Some("第一句。")
        );
        assert_eq!(
            sentence_prefix("Hello there. And th", 2047, 2),
            Some("Hello there.")
        );
        assert_eq!(sentence_prefix("没有句号", 2047, 2), None);
        assert_eq!(sentence_prefix("短。", 2047, 5), None);
        assert_eq!(sentence_prefix("一。二。三。", 7, 1), Some("一。"));
    }

    fn strip_ws(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    proptest! {
        #[test]
        fn parts_fit_and_lose_nothing(text in "[a-z 。！？，\\n中文字éü.]{0,3000}", max in 4usize..600) {
            let parts = split_answer(&text, max);
            for part in &parts {
                prop_assert!(!part.is_empty());
                prop_assert!(part.len() <= max, "{} > {}", part.len(), max);
            }
            prop_assert_eq!(strip_ws(&parts.concat()), strip_ws(&text));
        }

        #[test]
        fn prefix_is_a_prefix(text in "[a-z 。！？中文.]{0,500}", max in 1usize..400) {
            if let Some(p) = sentence_prefix(&text, max, 1) {
                prop_assert!(text.starts_with(p));
                prop_assert!(p.len() <= max);
            }
        }
    }
}
