//! Statements built from optional filters: the values they bind, binding them in order, and
//! LIKE patterns that take the searched text literally.

/// A value bound to a built statement (`$N` in the order pushed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Adds `p` to `params` and returns its placeholder (`$N`).
pub(crate) fn push(params: &mut Vec<Param>, p: Param) -> String {
    params.push(p);
    format!("${}", params.len())
}

/// Binds every [`Param`] of `$params` to the query `$query`, in order (a macro because the
/// query's type differs per backend and per statement kind).
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for p in $params {
            query = match p {
                $crate::sql::filters::Param::Text(t) => query.bind(t),
                $crate::sql::filters::Param::Int(n) => query.bind(n),
                $crate::sql::filters::Param::Bool(b) => query.bind(b),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// A LIKE pattern (with `ESCAPE '\'`) matching `text` anywhere, with `%`, `_` and `\` in it
/// taken literally.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern("帮助"), "%帮助%");
    }

    #[test]
    fn placeholders_count_up() {
        let mut params = Vec::new();
        assert_eq!(push(&mut params, Param::Int(1)), "$1");
        assert_eq!(push(&mut params, Param::Text("a".into())), "$2");
        assert_eq!(params.len(), 2);
    }
}
