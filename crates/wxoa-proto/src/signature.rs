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

/// Lower-case hex digits, by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Marks a byte that is not a hex digit in [`HEX_VALUES`] (its high bit is what is tested).
const NOT_HEX: u8 = 0xff;

/// The value of every byte as a hex digit (either case), or [`NOT_HEX`]. A table rather than
/// branches: signatures are random, so a branch on "digit or letter" mispredicts half the time.
const HEX_VALUES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX_DIGITS[i] as usize] = i as u8;
        table[HEX_DIGITS[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    table
};

/// A signature as 40 lower-case hex characters, kept on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHex([u8; HEX_LEN]);

impl SignatureHex {
    fn of(digest: [u8; 20]) -> Self {
        let mut hex = [0u8; HEX_LEN];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
        }
        Self(hex)
    }

    /// The hex text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Every byte is one of `HEX_DIGITS`, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

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
    sign_hex(parts).as_str().to_owned()
}

/// [`sign`] without allocating: the hex text on the stack.
#[must_use]
pub fn sign_hex(parts: &[&str]) -> SignatureHex {
    SignatureHex::of(digest(parts))
}

/// The 20 bytes `expected` spells in hex (either case), or `None` when it is not 40 hex digits.
fn decode_hex(expected: &str) -> Option<[u8; 20]> {
    let bytes = expected.as_bytes();
    if bytes.len() != HEX_LEN {
        return None;
    }
    let mut decoded = [0u8; 20];
    let mut not_hex = 0u8;
    for (out, pair) in decoded.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = HEX_VALUES[usize::from(pair[0])];
        let low = HEX_VALUES[usize::from(pair[1])];
        not_hex |= high | low;
        *out = (high << 4) | (low & 0x0f);
    }
    (not_hex & 0x80 == 0).then_some(decoded)
}

/// Whether `expected` is the signature of `parts`, compared in constant time.
///
/// Upper- and lower-case hex are both accepted; anything that is not 40 hex characters is `false`.
#[must_use]
pub fn verify(parts: &[&str], expected: &str) -> bool {
    let Some(wanted) = decode_hex(expected) else {
        return false;
    };
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
    fn hex_table_matches_the_standard_library_for_every_byte() {
        for byte in 0..=255u8 {
            let expected = char::from(byte).to_digit(16).filter(|_| byte.is_ascii());
            let found = HEX_VALUES[usize::from(byte)];
            match expected {
                Some(value) => assert_eq!(u32::from(found), value, "byte {byte:#04x}"),
                None => assert_eq!(found, NOT_HEX, "byte {byte:#04x}"),
            }
        }
    }

    #[test]
    fn sign_hex_is_the_hex_crate_encoding() {
        for parts in [
            &["a", "b", "c"][..],
            &["x"],
            &["", "", "", ""],
            &["1", "2", "3", "4", "5"],
        ] {
            let hex = sign_hex(parts);
            assert_eq!(hex.as_str(), hex::encode(digest(parts)), "{parts:?}");
            assert_eq!(sign(parts), hex.as_str());
        }
    }

    #[test]
    fn verify_rejects_multibyte_of_right_byte_length() {
        // 38 ASCII bytes + one 2-byte char = 40 bytes, but not hex.
        let s = format!("{}é", "a".repeat(38));
        assert_eq!(s.len(), 40);
        assert!(!verify(&["a"], &s));
    }
}
