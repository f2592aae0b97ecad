//! The SHA-1 signatures of URL verification, pushes (`signature`) and encrypted bodies (`msg_signature`).
//!
//! Both are `lower_hex(SHA1(concat(sort_bytewise(parts))))` (PROTOCOL.md §1 and §4.3):
//! `signature` over `[token, timestamp, nonce]`, `msg_signature` over
//! `[token, timestamp, nonce, Encrypt]`, with `Encrypt` exactly as it appears in the XML.
//!
//! SHA-1 is weak against collisions, but the protocol mandates it: WeChat computes these values
//! and we can only recompute them. Do not "upgrade" the hash.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Length of a SHA-1 digest in hex characters.
const HEX_LEN: usize = 40;

/// The most parts a signature covers (`token, timestamp, nonce, Encrypt`); longer lists are
/// sorted on the heap.
const INLINE_PARTS: usize = 4;

/// SHA-1 of the byte-wise sorted, concatenated `parts`, without allocating for up to four parts.
fn digest(parts: &[&str]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    if parts.len() <= INLINE_PARTS {
        let mut sorted = [""; INLINE_PARTS];
        let sorted = &mut sorted[..parts.len()];
        sorted.copy_from_slice(parts);
        // `str`'s `Ord` is byte-wise lexicographic, which is what every implementation uses.
        sorted.sort_unstable();
        for part in sorted.iter() {
            hasher.update(part.as_bytes());
        }
    } else {
        let mut sorted: Vec<&str> = parts.to_vec();
        sorted.sort_unstable();
        for part in sorted {
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

/// Lower-hex SHA-1 of the byte-wise sorted, concatenated `parts`
/// (`token, timestamp, nonce[, encrypt]` in any order).
///
/// The sort is plain lexicographic byte order, not numeric: `"1714037059" < "486452656" < "AAAAA"`.
#[must_use]
pub fn sign(parts: &[&str]) -> String {
    hex::encode(digest(parts))
}

/// Whether `expected` is the signature of `parts`, compared in constant time.
///
/// Upper- and lower-case hex are both accepted; anything that is not 40 hex characters is `false`.
#[must_use]
pub fn verify(parts: &[&str], expected: &str) -> bool {
    let mut wanted = [0u8; 20];
    if expected.len() != HEX_LEN || hex::decode_to_slice(expected, &mut wanted).is_err() {
        return false;
    }
    digest(parts).ct_eq(&wanted).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abc_vector() {
        // silenceper util/signature_test.go: Signature("a","b","c").
        assert_eq!(
            sign(&["a", "b", "c"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn official_url_verification_vector() {
        // PROTOCOL.md §1 / V5: the official example sorts as strings, not numbers.
        assert_eq!(
            sign(&["AAAAA", "1714037059", "486452656"]),
            "899cf89e464efb63f54ddac96b0a0a235f53aa78"
        );
    }

    #[test]
    fn order_independent() {
        let expected = sign(&["a", "b", "c"]);
        for parts in [
            ["a", "c", "b"],
            ["b", "a", "c"],
            ["b", "c", "a"],
            ["c", "a", "b"],
            ["c", "b", "a"],
        ] {
            assert_eq!(sign(&parts), expected, "{parts:?}");
        }
    }

    #[test]
    fn sort_is_bytewise_not_numeric() {
        // "10" < "2" byte-wise, so the concatenation is "10" + "2" + "a".
        assert_eq!(sign(&["a", "2", "10"]), sign(&["102a"]));
        assert_ne!(sign(&["a", "2", "10"]), sign(&["210a"]));
    }

    #[test]
    fn verify_accepts_lower_and_upper_hex() {
        let parts = ["a", "b", "c"];
        assert!(verify(&parts, "a9993e364706816aba3e25717850c26c9cd0d89d"));
        assert!(verify(&parts, "A9993E364706816ABA3E25717850C26C9CD0D89D"));
    }

    #[test]
    fn verify_rejects_wrong_length_charset_and_value() {
        let parts = ["a", "b", "c"];
        assert!(!verify(&parts, ""));
        assert!(!verify(&parts, "a9993e364706816aba3e25717850c26c9cd0d89"));
        assert!(!verify(&parts, "a9993e364706816aba3e25717850c26c9cd0d89d0"));
        assert!(!verify(&parts, "g9993e364706816aba3e25717850c26c9cd0d89d"));
        assert!(!verify(&parts, " a9993e364706816aba3e25717850c26c9cd0d89d"));
        assert!(!verify(&parts, "b9993e364706816aba3e25717850c26c9cd0d89d"));
        assert!(!verify(
            &["a", "b", "d"],
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        ));
    }

    #[test]
    fn verify_rejects_multibyte_of_right_byte_length() {
        // 38 ASCII bytes + one 2-byte char = 40 bytes, but not hex.
        let s = format!("{}é", "a".repeat(38));
        assert_eq!(s.len(), 40);
        assert!(!verify(&["a"], &s));
    }
}
