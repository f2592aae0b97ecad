//! Lenient serde helpers for fields the platform sends sometimes as a number, sometimes as a string.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number, a numeric string (`"1"`), `""` or `null` → `i64` (0 when absent or not numeric).
pub(crate) fn int_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        Value::String(s) => s.trim().parse().unwrap_or_default(),
        Value::Bool(b) => i64::from(b),
        _ => 0,
    })
}

/// A string or a number → `Some(String)`; `null` or `""` → `None`.
pub(crate) fn opt_string_lenient<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A string or a number → `String` (`""` when absent or of another type).
pub(crate) fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string_lenient(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "int_lenient")]
        n: i64,
        #[serde(default, deserialize_with = "opt_string_lenient")]
        s: Option<String>,
    }

    #[test]
    fn numbers_and_strings_both_parse() {
        let a: T = serde_json::from_str(r#"{"n":"1","s":208379533}"#).unwrap();
        assert_eq!((a.n, a.s.as_deref()), (1, Some("208379533")));
        let b: T = serde_json::from_str(r#"{"n":2,"s":"x"}"#).unwrap();
        assert_eq!((b.n, b.s.as_deref()), (2, Some("x")));
        let c: T = serde_json::from_str(r#"{"n":null,"s":""}"#).unwrap();
        assert_eq!((c.n, c.s), (0, None));
        let d: T = serde_json::from_str("{}").unwrap();
        assert_eq!((d.n, d.s), (0, None));
    }
}
