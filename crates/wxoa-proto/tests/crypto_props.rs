//! Property tests for WXBizMsgCrypt round trips, decrypt robustness and signature order independence.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use wxoa_proto::crypto::{AesKey, CryptoError, MsgCrypt};
use wxoa_proto::signature::{sign, verify};

/// Any syntactically valid EncodingAESKey, spare bits included.
fn encoding_aes_key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{43}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encrypt_decrypt_round_trip(
        key in encoding_aes_key(),
        appid in any::<String>(),
        msg in proptest::collection::vec(any::<u8>(), 0..2048),
        random in any::<[u8; 16]>(),
    ) {
        let crypt = MsgCrypt::new(&key, &appid).unwrap();
        let encrypt = crypt.encrypt_with_random(&msg, &random);
        let decoded = STANDARD.decode(&encrypt).unwrap();
        prop_assert!(decoded.len().is_multiple_of(32));
        let frame = 16 + 4 + msg.len() + appid.len();
        prop_assert!(decoded.len() > frame && decoded.len() <= frame + 32);
        prop_assert_eq!(crypt.decrypt(&encrypt).unwrap(), msg.clone());
        let (m, a) = crypt.decrypt_unchecked(&encrypt).unwrap();
        prop_assert_eq!(m, msg);
        prop_assert_eq!(a, appid);
    }

    #[test]
    fn random_encrypt_round_trip(
        key in encoding_aes_key(),
        appid in "wx[0-9a-f]{16}",
        msg in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let crypt = MsgCrypt::new(&key, &appid).unwrap();
        prop_assert_eq!(crypt.decrypt(&crypt.encrypt(&msg)).unwrap(), msg);
    }

    #[test]
    fn other_appid_is_a_mismatch(
        key in encoding_aes_key(),
        appid in "wx[0-9a-f]{16}",
        other in "wx[0-9a-f]{16}",
        msg in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assume!(appid != other);
        let sender = MsgCrypt::new(&key, &appid).unwrap();
        let receiver = MsgCrypt::new(&key, &other).unwrap();
        let err = receiver.decrypt(&sender.encrypt(&msg)).unwrap_err();
        prop_assert_eq!(err, CryptoError::AppIdMismatch { expected: other, found: appid });
    }

    #[test]
    fn decrypt_never_panics_on_arbitrary_strings(
        key in encoding_aes_key(),
        input in any::<String>(),
    ) {
        let crypt = MsgCrypt::new(&key, "wx1234567890abcdef").unwrap();
        let result = crypt.decrypt(&input);
        match STANDARD.decode(&input) {
            Err(_) => prop_assert_eq!(result, Err(CryptoError::Base64)),
            Ok(bytes) if bytes.is_empty() || !bytes.len().is_multiple_of(32) => {
                prop_assert_eq!(result, Err(CryptoError::CiphertextLength { len: bytes.len() }));
            }
            Ok(_) => {}
        }
    }

    #[test]
    fn decrypt_never_panics_on_arbitrary_ciphertext(
        key in encoding_aes_key(),
        blocks in proptest::collection::vec(any::<[u8; 32]>(), 0..8),
        extra in 0usize..32,
    ) {
        let crypt = MsgCrypt::new(&key, "wx1234567890abcdef").unwrap();
        let mut bytes: Vec<u8> = blocks.concat();
        bytes.extend(std::iter::repeat_n(0xA5, extra));
        let result = crypt.decrypt(&STANDARD.encode(&bytes));
        if bytes.is_empty() || !bytes.len().is_multiple_of(32) {
            prop_assert_eq!(result, Err(CryptoError::CiphertextLength { len: bytes.len() }));
        }
    }

    #[test]
    fn key_parsing_never_panics(s in any::<String>()) {
        match AesKey::from_encoding_aes_key(&s) {
            Ok(key) => prop_assert_eq!(key.as_bytes().len(), 32),
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    #[test]
    fn sign_is_order_independent(
        parts in proptest::collection::vec(any::<String>(), 0..6)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
    ) {
        let (original, shuffled) = parts;
        let a: Vec<&str> = original.iter().map(String::as_str).collect();
        let b: Vec<&str> = shuffled.iter().map(String::as_str).collect();
        let sig = sign(&a);
        prop_assert_eq!(sig.len(), 40);
        prop_assert_eq!(&sign(&b), &sig);
        prop_assert!(verify(&b, &sig));
        prop_assert!(verify(&b, &sig.to_ascii_uppercase()));
    }
}
