//! Percent-encoding of one URL component (everything but RFC 3986 unreserved characters), as Python's `quote(s, safe="")`.

use std::fmt::Write;

/// `s` with every byte outside `A-Z a-z 0-9 - . _ ~` written as `%XX`.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(encode_component("a+b/c=d"), "a%2Bb%2Fc%3Dd");
        assert_eq!(
            encode_component("http://x.com/?a=1&b=2#f"),
            "http%3A%2F%2Fx.com%2F%3Fa%3D1%26b%3D2%23f"
        );
        assert_eq!(encode_component("中 ~"), "%E4%B8%AD%20~");
    }

    proptest::proptest! {
        #[test]
        fn decodes_back_to_the_input(s in "\\PC*") {
            let enc = encode_component(&s);
            proptest::prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            let back: Vec<(String, String)> = url::form_urlencoded::parse(format!("k={enc}").as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(&back[0].1, &s);
        }
    }
}
