//! Errors of the rules engine: a rule that does not compile, a template that fails to render.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A rule of the config that does not compile; names the file, the rule and the field.
///
/// Displays as `wxoa.toml: rule #3 "help": regex: unclosed group …` (rules counted from 1
/// in file order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    file: PathBuf,
    index: usize,
    name: String,
    field: String,
    message: String,
}

impl RuleError {
    pub(crate) fn new(
        file: &Path,
        index: usize,
        name: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            index,
            name: name.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The config file the rule comes from.
    #[must_use]
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Position of the rule in the `[[rules]]` array, counted from 1.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The rule's `name` as written (possibly empty when that is the error).
    #[must_use]
    pub fn rule_name(&self) -> &str {
        &self.name
    }

    /// The offending key, e.g. `regex`, `reply.text` or `reply.news[2].title`.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong and, where possible, how to fix it.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: rule #{} {:?}: {}: {}",
            self.file.display(),
            self.index,
            self.name,
            self.field,
            self.message
        )
    }
}

impl std::error::Error for RuleError {}

/// A reply template that compiled but failed while rendering a message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The template engine refused to render (unknown filter or method in a branch taken
    /// only for this message, a filter given a value it cannot handle, …).
    #[error("rule {rule:?}: {field}: template failed to render: {reason}")]
    Template {
        /// Name of the rule whose reply failed.
        rule: Arc<str>,
        /// The reply field, e.g. `reply.text` or `reply.news[1].url`.
        field: Arc<str>,
        /// The template engine's explanation, with the line in the template.
        reason: String,
    },
}

impl RenderError {
    /// The name of the rule whose reply failed.
    #[must_use]
    pub fn rule(&self) -> &str {
        match self {
            Self::Template { rule, .. } => rule,
        }
    }

    /// The reply field whose template failed.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            Self::Template { field, .. } => field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_error_display_names_file_rule_and_field() {
        let e = RuleError::new(Path::new("wxoa.toml"), 3, "help", "regex", "unclosed group");
        assert_eq!(
            e.to_string(),
            "wxoa.toml: rule #3 \"help\": regex: unclosed group"
        );
        assert_eq!(e.file(), Path::new("wxoa.toml"));
        assert_eq!((e.index(), e.rule_name(), e.field()), (3, "help", "regex"));
        assert_eq!(e.message(), "unclosed group");
    }

    #[test]
    fn render_error_display_names_rule_and_field() {
        let e = RenderError::Template {
            rule: "echo".into(),
            field: "reply.text".into(),
            reason: "unknown filter (line 1)".into(),
        };
        assert_eq!(
            e.to_string(),
            "rule \"echo\": reply.text: template failed to render: unknown filter (line 1)"
        );
        assert_eq!((e.rule(), e.field()), ("echo", "reply.text"));
    }
}
