//! Lookup tables (`[[tables]]`, CSV with a header row, loaded with the config) and the `lookup`
//! reply kind: a key matched case-insensitively on one or more key columns, rendered through a
//! `found` or `not_found` template.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object};
use serde::{Deserialize, Serialize};
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_proto::reply::Reply;

use super::SetupError;
use crate::rules::spec::LookupSpec;
use crate::rules::template::{ReplyCompiler, Templates, Tpl, describe};
use crate::rules::{RenderError, RuleError};

/// Largest CSV file a table may come from.
pub const MAX_TABLE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The default `key_separator` of a lookup reply.
pub const DEFAULT_KEY_SEPARATOR: &str = "或";

/// One `[[tables]]` entry as written:
/// `{ name = "products", file = "products.csv", keys = ["name", "shortname"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The name rules and scripts use.
    pub name: String,
    /// The CSV file (UTF-8, header row first), relative to the config file's directory.
    pub file: String,
    /// Columns a key is matched against; the first column when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

/// The loaded `[[tables]]`, by name.
#[derive(Debug, Default)]
pub struct Tables {
    tables: Vec<Arc<Table>>,
}

impl Tables {
    /// Load every table of `specs`; relative files are relative to `base_dir`.
    ///
    /// # Errors
    /// A name that is empty or repeated, a file that cannot be read, a malformed CSV, an
    /// unknown key column, or a key two rows share.
    pub fn load(specs: &[TableSpec], base_dir: &Path) -> Result<Self, SetupError> {
        let mut tables: Vec<Arc<Table>> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let err = |message: String| SetupError::Table {
                index: i + 1,
                name: spec.name.clone(),
                message,
            };
            if spec.name.trim().is_empty() {
                return Err(err("`name` must not be empty".to_owned()));
            }
            if tables.iter().any(|t| t.name == spec.name) {
                return Err(err(
                    "another table has the same name; names must be unique".to_owned()
                ));
            }
            if spec.file.trim().is_empty() {
                return Err(err("`file` must name a CSV file".to_owned()));
            }
            let path = base_dir.join(&spec.file);
            let bytes = read_capped(&path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            let table = Table::from_csv(&spec.name, &path, &bytes, &spec.keys)
                .map_err(|m| err(format!("{}: {m}", path.display())))?;
            tables.push(Arc::new(table));
        }
        Ok(Self { tables })
    }

    /// The table called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The table names, in config order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|t| t.name.as_str())
    }

    /// Number of tables.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// True when no table is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// `products, jokes` or `none`, for messages.
    pub(crate) fn name_list(&self) -> String {
        if self.tables.is_empty() {
            return "none".to_owned();
        }
        self.names().collect::<Vec<_>>().join(", ")
    }
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_TABLE_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "the file has {len} bytes; a table file may have at most {MAX_TABLE_FILE_BYTES}"
        )));
    }
    std::fs::read(path)
}

/// A key as it is compared: trimmed, in lower case.
#[must_use]
pub fn normalize_key(key: &str) -> String {
    key.trim().to_lowercase()
}

/// A table from a CSV file: columns from the header row, rows in file order, and an index of
/// every row's keys (normalized).
#[derive(Debug)]
pub struct Table {
    name: String,
    file: PathBuf,
    columns: Arc<[String]>,
    key_columns: Vec<usize>,
    rows: Vec<Arc<[String]>>,
    index: HashMap<String, usize>,
    /// Every row as a template value, in file order.
    row_values: Vec<Value>,
}

impl Table {
    /// Parse `csv` (UTF-8, header row first; a UTF-8 BOM is skipped; fields are trimmed).
    /// `keys` names the key columns (the first column when empty); `file` is for messages.
    ///
    /// # Errors
    /// Malformed CSV (with its line), empty or repeated column names, an unknown key column,
    /// a row without any key, or a key two rows share.
    pub fn from_csv(name: &str, file: &Path, csv: &[u8], keys: &[String]) -> Result<Self, String> {
        let csv = csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(csv);
        let header = reader
            .headers()
            .map_err(|e| csv_message(&e))?
            .iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err("has no header row (the first line must name the columns)".to_owned());
        }
        for (i, col) in header.iter().enumerate() {
            if col.is_empty() {
                return Err(format!("column {} of the header row has no name", i + 1));
            }
            if header[..i].contains(col) {
                return Err(format!("column `{col}` appears twice in the header row"));
            }
        }
        let key_columns = if keys.is_empty() {
            vec![0]
        } else {
            keys.iter()
                .map(|k| {
                    header.iter().position(|c| c == k).ok_or_else(|| {
                        format!(
                            "key column `{k}` is not in the header row ({})",
                            header.join(", ")
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let columns: Arc<[String]> = header.into();
        let mut rows = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut lines = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_message(&e))?;
            let line = record.position().map_or(0, csv::Position::line);
            let values: Arc<[String]> = record.iter().map(str::to_owned).collect();
            let row = rows.len();
            let mut any_key = false;
            for &k in &key_columns {
                let key = normalize_key(&values[k]);
                if key.is_empty() {
                    continue;
                }
                any_key = true;
                match index.get(&key) {
                    Some(&other) if other != row => {
                        return Err(format!(
                            "line {line}: key `{}` (column `{}`) is also a key of the row on line {}; keys must identify one row (compared case-insensitively)",
                            values[k], columns[k], lines[other]
                        ));
                    }
                    Some(_) => {}
                    None => {
                        index.insert(key, row);
                    }
                }
            }
            if !any_key {
                let names: Vec<&str> = key_columns.iter().map(|&k| columns[k].as_str()).collect();
                return Err(format!(
                    "line {line}: the row has no key (column {} empty)",
                    names.join(", ")
                ));
            }
            lines.push(line);
            rows.push(values);
        }
        let row_values = rows
            .iter()
            .map(|values| {
                Value::from_object(RowValue {
                    columns: columns.clone(),
                    values: values.clone(),
                })
            })
            .collect();
        Ok(Self {
            name: name.to_owned(),
            file: file.to_owned(),
            columns,
            key_columns,
            rows,
            index,
            row_values,
        })
    }

    /// The table's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    #[must_use]
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The column names, in header order.
    #[must_use]
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the file has only a header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row whose key column holds `key` (trimmed, case-insensitive), as `(column, value)`
    /// pairs in header order.
    #[must_use]
    pub fn find(&self, key: &str) -> Option<Vec<(&str, &str)>> {
        let row = self.find_index(key)?;
        Some(
            self.columns
                .iter()
                .zip(self.rows[row].iter())
                .map(|(c, v)| (c.as_str(), v.as_str()))
                .collect(),
        )
    }

    pub(crate) fn find_index(&self, key: &str) -> Option<usize> {
        self.index.get(&normalize_key(key)).copied()
    }

    /// The values of row `row`, in header order.
    pub(crate) fn values(&self, row: usize) -> &[String] {
        &self.rows[row]
    }

    /// The non-empty keys of every row (repeats within a row dropped), joined by `separator`.
    #[must_use]
    pub fn key_list(&self, separator: &str) -> Vec<String> {
        self.rows
            .iter()
            .map(|values| {
                let mut seen: Vec<String> = Vec::new();
                let mut keys: Vec<&str> = Vec::new();
                for &k in &self.key_columns {
                    let v = values[k].as_str();
                    let n = normalize_key(v);
                    if !n.is_empty() && !seen.contains(&n) {
                        seen.push(n);
                        keys.push(v);
                    }
                }
                keys.join(separator)
            })
            .collect()
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: the row has {len} fields but the header has {expected_len}",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not valid UTF-8 (save the file as UTF-8)",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        _ => e.to_string(),
    }
}

/// A row for templates: `row.name`, `row["has_chinese_ui"]`, iterated in header order.
#[derive(Debug)]
struct RowValue {
    columns: Arc<[String]>,
    values: Arc<[String]>,
}

impl Object for RowValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let i = self.columns.iter().position(|c| c == key)?;
        Some(Value::from(self.values[i].as_str()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.columns
                .iter()
                .map(|c| Value::from(c.as_str()))
                .collect(),
        )
    }
}

/// What a lookup gave for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupOutcome {
    /// The found or not-found template rendered (`None`: it rendered blank, answer nothing).
    Answer(Option<Reply>),
    /// The key is not in the table and the reply has no `not_found`: try the next rule.
    NotFound,
}

/// A compiled `lookup` reply.
#[derive(Debug, Clone)]
pub(crate) struct CompiledLookup {
    table: Arc<Table>,
    key: Tpl,
    found: Tpl,
    not_found: Option<Tpl>,
    /// Template values shared by every render: `table`, `rows`, `keys`.
    table_name: Value,
    rows: Value,
    keys: Value,
}

impl CompiledLookup {
    /// Check `spec` against the loaded `tables` and compile its templates.
    pub(crate) fn compile(
        spec: &LookupSpec,
        compiler: &mut ReplyCompiler<'_>,
        tables: &Tables,
    ) -> Result<Self, RuleError> {
        let Some(table) = tables.get(&spec.table) else {
            return Err(compiler.err(
                "reply.lookup.table",
                format!(
                    "no table named `{}`; define it under [[tables]] (tables: {})",
                    spec.table,
                    tables.name_list()
                ),
            ));
        };
        let separator = spec
            .key_separator
            .as_deref()
            .unwrap_or(DEFAULT_KEY_SEPARATOR);
        let table_name = Value::from(table.name.as_str());
        let rows = Value::from(table.row_values.clone());
        let keys = Value::from(table.key_list(separator));
        let probe = |row: Value| {
            minijinja::value::merge_maps([
                minijinja::context! {
                    row => row,
                    rows => rows.clone(),
                    keys => keys.clone(),
                    key => "",
                    table => table_name.clone(),
                },
                compiler.probe_vars(),
            ])
        };
        let empty_row = Value::from_object(RowValue {
            columns: table.columns.clone(),
            values: table.columns.iter().map(|_| String::new()).collect(),
        });
        let found_probe = probe(empty_row);
        let not_found_probe = probe(Value::UNDEFINED);
        let key_probe = compiler.probe_vars();
        if spec.key.trim().is_empty() {
            return Err(compiler.err(
                "reply.lookup.key",
                "must not be empty; e.g. \"{{ captures[1] }}\" or \"{{ content }}\"",
            ));
        }
        let text = |field: &str, source: &str| -> Result<(), RuleError> {
            if source.trim().is_empty() {
                return Err(compiler.err(
                    field,
                    "is empty, which the platform shows as an error; write the answer text",
                ));
            }
            if source.len() > 64 * MAX_TEXT_REPLY_BYTES {
                return Err(compiler.err(field, "is too long for a reply template"));
            }
            Ok(())
        };
        text("reply.lookup.found", &spec.found)?;
        if let Some(nf) = &spec.not_found {
            text("reply.lookup.not_found", nf)?;
        }
        let key = compiler.tpl_probed("reply.lookup.key", &spec.key, &key_probe)?;
        let found = compiler.tpl_probed("reply.lookup.found", &spec.found, &found_probe)?;
        let not_found = spec
            .not_found
            .as_deref()
            .map(|nf| compiler.tpl_probed("reply.lookup.not_found", nf, &not_found_probe))
            .transpose()?;
        Ok(Self {
            table: table.clone(),
            key,
            found,
            not_found,
            table_name,
            rows,
            keys,
        })
    }

    /// Look the message up and render the answer; `vars` are the message's template variables.
    pub(crate) fn render(
        &self,
        templates: &Templates,
        vars: &Value,
        rule: &Arc<str>,
    ) -> Result<LookupOutcome, RenderError> {
        let fail = |tpl: &Tpl, e: &minijinja::Error| RenderError::Template {
            rule: rule.clone(),
            field: match tpl {
                Tpl::Template { field, .. } => field.clone(),
                Tpl::Literal(_) => Arc::from("reply.lookup"),
            },
            reason: describe(e),
        };
        let key = templates
            .render(&self.key, vars)
            .map_err(|e| fail(&self.key, &e))?;
        let row = self.table.find_index(&key);
        let template = match (row, &self.not_found) {
            (Some(_), _) => &self.found,
            (None, Some(nf)) => nf,
            (None, None) => return Ok(LookupOutcome::NotFound),
        };
        let ctx = minijinja::value::merge_maps([
            minijinja::context! {
                row => row.map_or(Value::UNDEFINED, |r| self.table.row_values[r].clone()),
                rows => self.rows.clone(),
                keys => self.keys.clone(),
                key => key.trim(),
                table => self.table_name.clone(),
            },
            vars.clone(),
        ]);
        let content = templates
            .render(template, &ctx)
            .map_err(|e| fail(template, &e))?;
        Ok(LookupOutcome::Answer(if content.trim().is_empty() {
            None
        } else {
            Some(Reply::Text { content })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: &str = "\u{feff}name,shortname,description\n\
        Visual Studio Code, vscode ,Editor\n\
        \"Vim\",,\"Modal, editor\"\n\
        GIMP,gimp,Images\n";

    fn table(csv: &str, keys: &[&str]) -> Result<Table, String> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        Table::from_csv("products", Path::new("p.csv"), csv.as_bytes(), &keys)
    }

    #[test]
    fn keys_match_case_insensitively_on_every_key_column() {
        let t = table(PRODUCTS, &["name", "shortname"]).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.columns(), ["name", "shortname", "description"]);
        assert_eq!(
            t.find("  VSCODE ").unwrap()[0],
            ("name", "Visual Studio Code")
        );
        assert_eq!(
            t.find("visual studio code").unwrap()[2],
            ("description", "Editor")
        );
        assert_eq!(t.find("vim").unwrap()[2], ("description", "Modal, editor"));
        assert!(t.find("emacs").is_none());
        assert!(t.find("").is_none());
        assert_eq!(
            t.key_list("或"),
            ["Visual Studio Code或vscode", "Vim", "GIMP"]
        );
    }

    #[test]
    fn first_column_is_the_default_key() {
        let t = table(PRODUCTS, &[]).unwrap();
        assert!(t.find("gimp").is_some());
        assert!(t.find("vscode").is_none());
    }

    #[test]
    fn malformed_tables_are_refused_with_lines() {
        let e = table("name,shortname\na,b\nc\n", &[]).unwrap_err();
        assert!(e.contains("line 3") && e.contains("1 fields"), "{e}");
        let e = table("name,name\na,b\n", &[]).unwrap_err();
        assert!(e.contains("appears twice"), "{e}");
        let e = table("name,short\na,b\n", &["nmae"]).unwrap_err();
        assert!(
            e.contains("`nmae` is not in the header row (name, short)"),
            "{e}"
        );
        let e = table("name,short\na,b\nB,c\n", &["name", "short"]).unwrap_err();
        assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
        let e = table("name,short\n,b\n", &[]).unwrap_err();
        assert!(e.contains("no key"), "{e}");
        let e = table("", &[]).unwrap_err();
        assert!(e.contains("header"), "{e}");
        let bad = b"name\n\xff\xfe\n";
        let e = Table::from_csv("t", Path::new("t.csv"), bad, &[]).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn same_key_twice_in_one_row_is_fine() {
        let t = table("name,short\nVim,vim\n", &["name", "short"]).unwrap();
        assert_eq!(t.key_list(" / "), ["Vim"]);
    }

    #[test]
    fn tables_load_relative_to_base_and_name_errors() {
        let dir = std::env::temp_dir().join(format!("wxoa-lookup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.csv"), PRODUCTS).unwrap();
        let spec = |name: &str, file: &str| TableSpec {
            name: name.into(),
            file: file.into(),
            keys: vec!["name".into(), "shortname".into()],
        };
        let tables = Tables::load(&[spec("products", "p.csv")], &dir).unwrap();
        assert_eq!(tables.names().collect::<Vec<_>>(), ["products"]);
        assert_eq!(tables.get("products").unwrap().len(), 3);
        let e = Tables::load(&[spec("a", "p.csv"), spec("a", "p.csv")], &dir).unwrap_err();
        assert!(e.to_string().contains("tables[2] \"a\""), "{e}");
        let e = Tables::load(&[spec("b", "missing.csv")], &dir).unwrap_err();
        assert!(e.to_string().contains("missing.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
