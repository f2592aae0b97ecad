//! Editing the `[[rules]]` of the config file as text: list, replace, insert, delete and move
//! one rule with `toml_edit`, so comments and formatting of the rest of the file stay as they
//! were; and writing the file back atomically.

use std::io::Write as _;
use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::rules::spec::KINDS;

/// The matcher keys of a rule, in the order they are shown.
const MATCHERS: [&str; 7] = [
    "msg_type",
    "event",
    "event_key",
    "keyword",
    "prefix",
    "contains",
    "regex",
];

/// One `[[rules]]` table of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    /// Its place, from 0 (rules are tried in this order).
    pub index: usize,
    /// Its `name`.
    pub name: String,
    /// Its matchers as written, e.g. `event = "subscribe", event_key = "qrscene_1"`.
    pub matchers: String,
    /// The kind of its reply (`text`, `script`, ...).
    pub reply_kind: String,
    /// The table's own TOML, without the `[[rules]]` header.
    pub toml: String,
}

/// A change to the rules of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleEdit {
    /// Replace rule `index` with the rule written in `toml`.
    Replace {
        /// Which.
        index: usize,
        /// The new rule's fields.
        toml: String,
    },
    /// Insert the rule written in `toml` at `index` (at the end when `None`).
    Insert {
        /// Where.
        index: Option<usize>,
        /// The rule's fields.
        toml: String,
    },
    /// Delete rule `index`.
    Delete {
        /// Which.
        index: usize,
    },
    /// Move rule `from` to place `to`.
    Move {
        /// Which.
        from: usize,
        /// Where to.
        to: usize,
    },
}

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleFileError {
    /// The config file is not TOML.
    #[error("the config file does not parse: {0}")]
    File(String),
    /// The rules are written as an inline array, which this editor does not change.
    #[error(
        "the rules are written as `rules = [...]`; edit them as [[rules]] tables to use the console"
    )]
    InlineRules,
    /// No rule at that index.
    #[error("there is no rule {index} (the file has {len})")]
    NoSuchRule {
        /// The index asked for.
        index: usize,
        /// How many rules there are.
        len: usize,
    },
    /// The rule text given is not one rule's TOML.
    #[error("{0}")]
    Rule(String),
}

/// The rules of the config text `text`, in order.
///
/// # Errors
/// The text is not TOML, or its rules are an inline array.
pub fn list_rules(text: &str) -> Result<Vec<RuleText>, RuleFileError> {
    let doc = parse_file(text)?;
    let Some(rules) = rules_of(&doc)? else {
        return Ok(Vec::new());
    };
    Ok(rules
        .iter()
        .enumerate()
        .map(|(index, table)| RuleText {
            index,
            name: table
                .get("name")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_owned(),
            matchers: MATCHERS
                .iter()
                .filter_map(|key| {
                    let value = table.get(key)?.as_value()?;
                    Some(format!("{key} = {}", value.to_string().trim()))
                })
                .collect::<Vec<_>>()
                .join(", "),
            reply_kind: reply_kind(table),
            toml: table_text(table),
        })
        .collect())
}

/// The config text after `edit`, and the name of the rule it concerns.
///
/// # Errors
/// The file or the rule text does not parse, or the index is out of range.
pub fn apply(text: &str, edit: &RuleEdit) -> Result<(String, String), RuleFileError> {
    let mut doc = parse_file(text)?;
    let existing: Vec<Table> = rules_of(&doc)?
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    let positions: Vec<Option<isize>> = existing.iter().map(Table::position).collect();
    let mut tables = existing;
    let len = tables.len();
    let check = |index: usize| {
        if index < len {
            Ok(())
        } else {
            Err(RuleFileError::NoSuchRule { index, len })
        }
    };
    let name = match edit {
        RuleEdit::Replace { index, toml } => {
            check(*index)?;
            let mut table = parse_rule(toml)?;
            *table.decor_mut() = tables[*index].decor().clone();
            let name = rule_name(&table);
            tables[*index] = table;
            name
        }
        RuleEdit::Insert { index, toml } => {
            let at = index.unwrap_or(len);
            if at > len {
                return Err(RuleFileError::NoSuchRule { index: at, len });
            }
            let mut table = parse_rule(toml)?;
            table.decor_mut().set_prefix("\n");
            let name = rule_name(&table);
            tables.insert(at, table);
            name
        }
        RuleEdit::Delete { index } => {
            check(*index)?;
            rule_name(&tables.remove(*index))
        }
        RuleEdit::Move { from, to } => {
            check(*from)?;
            check(*to)?;
            let table = tables.remove(*from);
            let name = rule_name(&table);
            tables.insert(*to, table);
            name
        }
    };
    // Each table takes the place in the file of the rule that was there; a table beyond the
    // old count follows the last one. Tables nested in a rule follow their rule.
    let mut array = ArrayOfTables::new();
    for (i, mut table) in tables.into_iter().enumerate() {
        clear_nested_positions(&mut table);
        table.set_position(positions.get(i).copied().flatten());
        array.push(table);
    }
    if array.is_empty() {
        doc.remove("rules");
    } else {
        doc.insert("rules", Item::ArrayOfTables(array));
    }
    Ok((doc.to_string(), name))
}

/// Replaces `path` with `text` atomically: a temporary file in the same directory (with the
/// original's permissions, as the file may hold secrets), synced, then renamed over it.
///
/// # Errors
/// The temporary file cannot be written or renamed.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename durable; not every platform can open a directory.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn parse_file(text: &str) -> Result<DocumentMut, RuleFileError> {
    text.parse::<DocumentMut>()
        .map_err(|e| RuleFileError::File(e.to_string()))
}

fn rules_of(doc: &DocumentMut) -> Result<Option<&ArrayOfTables>, RuleFileError> {
    match doc.get("rules") {
        None => Ok(None),
        Some(Item::ArrayOfTables(a)) => Ok(Some(a)),
        Some(_) => Err(RuleFileError::InlineRules),
    }
}

/// The rule written in `toml` (its fields, without a header) as a table.
fn parse_rule(toml: &str) -> Result<Table, RuleFileError> {
    let doc = toml
        .parse::<DocumentMut>()
        .map_err(|e| RuleFileError::Rule(format!("the rule is not valid TOML: {e}")))?;
    let mut table = doc.as_table().clone();
    if table.contains_key("rules") {
        return Err(RuleFileError::Rule(
            "give the fields of one rule (name = …, keyword = …, reply = …) without a [[rules]] header".to_owned(),
        ));
    }
    if table.is_empty() {
        return Err(RuleFileError::Rule("the rule is empty".to_owned()));
    }
    table.set_implicit(false);
    table.decor_mut().clear();
    Ok(table)
}

fn rule_name(table: &Table) -> String {
    table
        .get("name")
        .and_then(Item::as_str)
        .unwrap_or("(unnamed)")
        .to_owned()
}

fn reply_kind(table: &Table) -> String {
    let Some(reply) = table.get("reply").and_then(Item::as_table_like) else {
        return String::new();
    };
    KINDS
        .iter()
        .find(|kind| reply.contains_key(kind))
        .map_or_else(String::new, |k| (*k).to_owned())
}

/// A rule table as its own TOML text.
fn table_text(table: &Table) -> String {
    let mut root = table.clone();
    root.decor_mut().clear();
    let mut doc = DocumentMut::new();
    *doc.as_table_mut() = root;
    doc.to_string().trim().to_owned()
}

fn clear_nested_positions(table: &mut Table) {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => {
                t.set_position(None);
                clear_nested_positions(t);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    t.set_position(None);
                    clear_nested_positions(t);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# The bot's config.
[account]
appid = "wx1234567890abcdef"   # the AppID
token = "abc"

# Greets new followers.
[[rules]]
name = "welcome"
event = "subscribe"
reply = { text = "欢迎" }

# Help.
[[rules]]
name = "help"
keyword = "帮助"
reply = { text = "可用命令" }

[store]
url = "sqlite::memory:"
"#;

    #[test]
    fn lists_rules_with_their_text() {
        let rules = list_rules(FILE).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].name, "welcome");
        assert_eq!(rules[0].matchers, "event = \"subscribe\"");
        assert_eq!(rules[0].reply_kind, "text");
        assert_eq!(
            rules[1].toml,
            "name = \"help\"\nkeyword = \"帮助\"\nreply = { text = \"可用命令\" }"
        );
        assert!(list_rules("[account]\n").unwrap().is_empty());
        assert_eq!(
            list_rules("rules = [{ name = \"a\" }]\n").unwrap_err(),
            RuleFileError::InlineRules
        );
    }

    #[test]
    fn replace_keeps_comments_and_the_rest() {
        let edit = RuleEdit::Replace {
            index: 1,
            toml: "name = \"help\"\nkeyword = \"帮助\"\nreply = { text = \"新的帮助\" }".into(),
        };
        let (text, name) = apply(FILE, &edit).unwrap();
        assert_eq!(name, "help");
        assert_eq!(text, FILE.replace("可用命令", "新的帮助"));
    }

    #[test]
    fn insert_delete_and_move_keep_order_and_sections() {
        let (text, _) = apply(
            FILE,
            &RuleEdit::Insert {
                index: Some(1),
                toml: "name = \"echo\"\nmsg_type = \"text\"\nreply = { text = \"{{ content }}\" }"
                    .into(),
            },
        )
        .unwrap();
        let names: Vec<String> = list_rules(&text)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["welcome", "echo", "help"]);
        assert!(
            text.contains("# Help.\n[[rules]]\nname = \"help\""),
            "{text}"
        );
        assert!(
            text.ends_with("[store]\nurl = \"sqlite::memory:\"\n"),
            "{text}"
        );
        assert!(text.contains("appid = \"wx1234567890abcdef\"   # the AppID"));

        let (moved, name) = apply(&text, &RuleEdit::Move { from: 2, to: 0 }).unwrap();
        assert_eq!(name, "help");
        let names: Vec<String> = list_rules(&moved)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["help", "welcome", "echo"]);
        assert!(
            moved.find("[store]").unwrap() > moved.rfind("[[rules]]").unwrap(),
            "{moved}"
        );

        let (deleted, name) = apply(&moved, &RuleEdit::Delete { index: 1 }).unwrap();
        assert_eq!(name, "welcome");
        let names: Vec<String> = list_rules(&deleted)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["help", "echo"]);

        let (appended, _) = apply(
            FILE,
            &RuleEdit::Insert {
                index: None,
                toml: "name = \"last\"\nreply = { none = true }".into(),
            },
        )
        .unwrap();
        let rules = list_rules(&appended).unwrap();
        assert_eq!(rules[2].name, "last");
        assert!(
            appended.find("name = \"last\"").unwrap() < appended.find("[store]").unwrap(),
            "{appended}"
        );
    }

    #[test]
    fn bad_edits_are_refused() {
        let replace = |toml: &str| {
            apply(
                FILE,
                &RuleEdit::Replace {
                    index: 0,
                    toml: toml.into(),
                },
            )
        };
        assert!(
            matches!(replace("name = "), Err(RuleFileError::Rule(m)) if m.contains("not valid TOML"))
        );
        assert!(matches!(
            replace("[[rules]]\nname = \"x\""),
            Err(RuleFileError::Rule(_))
        ));
        assert!(matches!(replace(""), Err(RuleFileError::Rule(_))));
        assert_eq!(
            apply(FILE, &RuleEdit::Delete { index: 2 }).unwrap_err(),
            RuleFileError::NoSuchRule { index: 2, len: 2 }
        );
        assert!(apply(FILE, &RuleEdit::Move { from: 0, to: 5 }).is_err());
    }

    #[test]
    fn writes_atomically_keeping_permissions() {
        let dir = std::env::temp_dir().join(format!("wxoa-rule-file-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wxoa.toml");
        std::fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        write_atomically(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
