//! WXBizMsgCrypt, Official Account flavour: AES-256-CBC with 32-byte PKCS#7 blocks and an appid trailer.
//!
//! Wire format (PROTOCOL.md §4.1–§4.2):
//!
//! ```text
//! AESKey  = base64_decode(EncodingAESKey + "=")        32 bytes; the 43rd char has 2 spare bits
//! IV      = AESKey[0..16]
//! FULL    = random(16) || u32_be(len(msg)) || msg || appid
//! PADDED  = FULL || [p; p]   with p = 32 - len(FULL) % 32, p in 1..=32  (PKCS#7, block size 32)
//! Encrypt = base64_std(AES-256-CBC(AESKey, IV, PADDED))
//! ```
//!
//! The cipher runs without library padding; the 32-byte PKCS#7 is done here by hand, because the
//! 16-byte `Pkcs7` of the `cipher` crate rejects valid messages whose pad is 17..=32.

use std::fmt;

use aes::Aes256;
use base64_simd::STANDARD as BASE64;
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};

/// Length of an EncodingAESKey in characters.
const ENCODING_AES_KEY_LEN: usize = 43;
/// Block size of WeChat's PKCS#7 padding (not the AES block size).
const PAD_BLOCK: usize = 32;
/// Length of the random prefix of the plaintext frame.
const RANDOM_LEN: usize = 16;
/// Length of the random prefix plus the big-endian u32 message length.
const HEADER_LEN: usize = RANDOM_LEN + 4;

type Aes256CbcEnc = cbc::Encryptor<Aes256>;
type Aes256CbcDec = cbc::Decryptor<Aes256>;

/// The 32-byte AES key decoded from a 43-character EncodingAESKey.
///
/// Decoding is lenient about the 2 spare trailing bits, as WeChat and every reference
/// implementation are. The `Debug` output never shows the key.
#[derive(Clone)]
pub struct AesKey {
    bytes: [u8; 32],
}

impl AesKey {
    /// Decode an EncodingAESKey (exactly 43 characters from `A-Z a-z 0-9 + /`, no trailing `=`).
    ///
    /// # Errors
    /// [`KeyError::WrongLength`] for any other length, [`KeyError::InvalidCharacter`] with the
    /// (0-based) position of the first character outside the alphabet.
    pub fn from_encoding_aes_key(s: &str) -> Result<Self, KeyError> {
        let got = s.chars().count();
        if got != ENCODING_AES_KEY_LEN {
            return Err(KeyError::WrongLength { got });
        }
        if let Some((position, character)) = s
            .chars()
            .enumerate()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
        {
            return Err(KeyError::InvalidCharacter {
                position,
                character,
            });
        }
        // Forgiving base64 (WHATWG) ignores the 2 spare bits of the 43rd character, which are
        // not zero in every key (both official sample keys have them set); the length and the
        // alphabet were checked above.
        let decoded =
            base64_simd::forgiving_decode_to_vec(s.as_bytes()).map_err(|_| KeyError::Decode)?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| KeyError::Decode)?;
        Ok(Self { bytes })
    }

    /// The raw AES-256 key. Its first 16 bytes are also the IV.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.bytes[..16]);
        iv
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

/// Why an EncodingAESKey was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key does not have 43 characters.
    #[error(
        "EncodingAESKey must be 43 base64 characters, got {got} \
         (copy it from the account's developer settings without spaces or a trailing '=')"
    )]
    WrongLength {
        /// Number of characters found.
        got: usize,
    },
    /// The key contains a character outside `A-Z a-z 0-9 + /`.
    #[error(
        "EncodingAESKey has invalid character {character:?} at position {position} (0-based); \
         only A-Z, a-z, 0-9, '+' and '/' are allowed"
    )]
    InvalidCharacter {
        /// 0-based character index of the first invalid character.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The key has the right shape but does not decode to 32 bytes.
    #[error("EncodingAESKey does not base64-decode to a 32-byte AES key")]
    Decode,
}

/// Why an `Encrypt` value could not be decrypted.
///
/// Every variant names the setting that is most likely wrong, so logs are actionable.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// `Encrypt` is not canonical standard base64.
    #[error(
        "Encrypt is not valid base64: the body is damaged or is not a WeChat encrypted message"
    )]
    Base64,
    /// The ciphertext is empty or not a multiple of 32 bytes.
    #[error(
        "Encrypt decodes to {len} bytes, not a non-zero multiple of 32: the body is truncated \
         or is not a WeChat encrypted message"
    )]
    CiphertextLength {
        /// Decoded ciphertext length in bytes.
        len: usize,
    },
    /// The last decrypted byte is not a valid 32-byte PKCS#7 pad (1..=32).
    #[error(
        "decrypted padding byte is {pad}, outside 1..=32: the message does not decrypt with the \
         configured EncodingAESKey (is it this account's current key?)"
    )]
    Padding {
        /// The last byte of the decrypted plaintext.
        pad: u8,
    },
    /// The unpadded plaintext is shorter than the 20-byte header (16 random bytes + length).
    #[error(
        "decrypted frame is {len} bytes, shorter than its 20-byte header: the configured \
         EncodingAESKey is probably wrong"
    )]
    FrameTooShort {
        /// Unpadded plaintext length in bytes.
        len: usize,
    },
    /// The length field of the frame is larger than the bytes that follow it.
    #[error(
        "decrypted length field says {declared} bytes but only {available} follow: the configured \
         EncodingAESKey is probably wrong"
    )]
    Length {
        /// The message length declared in the frame.
        declared: usize,
        /// Bytes available after the header.
        available: usize,
    },
    /// The appid trailer of the frame is not the configured AppID.
    #[error(
        "appid inside the message is {found:?}, the config says {expected:?}: check the configured \
         AppID (or the EncodingAESKey belongs to another account)"
    )]
    AppIdMismatch {
        /// The configured AppID.
        expected: String,
        /// The appid found in the message (lossily decoded if it is not UTF-8).
        found: String,
    },
}

/// Encrypts and decrypts message bodies for one account (AES key + AppID).
///
/// The `Debug` output shows the AppID but never the key.
#[derive(Clone)]
pub struct MsgCrypt {
    key: AesKey,
    appid: String,
    /// The key, expanded once: every push is decrypted and every reply encrypted with it.
    cipher: Aes256,
}

impl fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("appid", &self.appid)
            .field("key", &self.key)
            .finish()
    }
}

impl MsgCrypt {
    /// Build from the account's EncodingAESKey and AppID.
    ///
    /// # Errors
    /// Any [`KeyError`] of [`AesKey::from_encoding_aes_key`].
    pub fn new(encoding_aes_key: &str, appid: &str) -> Result<Self, KeyError> {
        Ok(Self::from_key(
            AesKey::from_encoding_aes_key(encoding_aes_key)?,
            appid,
        ))
    }

    /// Build from an already decoded key.
    #[must_use]
    pub fn from_key(key: AesKey, appid: &str) -> Self {
        let cipher = Aes256::new(&Array::from(*key.as_bytes()));
        Self {
            key,
            appid: appid.to_owned(),
            cipher,
        }
    }

    /// The configured AppID.
    #[must_use]
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// Decrypt the base64 `<Encrypt>` text and check that its appid trailer equals [`Self::appid`]
    /// (exact byte comparison, no trimming). Returns the message bytes (normally UTF-8 XML).
    ///
    /// # Errors
    /// Every [`CryptoError`] variant; [`CryptoError::AppIdMismatch`] names both appids.
    pub fn decrypt(&self, encrypt: &str) -> Result<Vec<u8>, CryptoError> {
        let (frame, msg_end) = self.decrypt_frame(encrypt)?;
        let appid = &frame[msg_end..];
        if appid != self.appid.as_bytes() {
            return Err(CryptoError::AppIdMismatch {
                expected: self.appid.clone(),
                found: String::from_utf8_lossy(appid).into_owned(),
            });
        }
        Ok(into_message(frame, msg_end))
    }

    /// Decrypt without the appid check, returning `(msg, appid)`; for tools that need to see the
    /// appid. A non-UTF-8 appid is decoded lossily.
    ///
    /// # Errors
    /// Every [`CryptoError`] variant except [`CryptoError::AppIdMismatch`].
    pub fn decrypt_unchecked(&self, encrypt: &str) -> Result<(Vec<u8>, String), CryptoError> {
        let (frame, msg_end) = self.decrypt_frame(encrypt)?;
        let appid = String::from_utf8_lossy(&frame[msg_end..]).into_owned();
        Ok((into_message(frame, msg_end), appid))
    }

    /// Encrypt `msg` with 16 random bytes from the thread-local CSPRNG; returns canonical base64.
    ///
    /// # Panics
    /// If `msg` is longer than `u32::MAX` bytes, which the frame's length field cannot express.
    #[must_use]
    pub fn encrypt(&self, msg: &[u8]) -> String {
        let random: [u8; RANDOM_LEN] = rand::random();
        self.encrypt_with_random(msg, &random)
    }

    /// Encrypt `msg` with the given 16-byte random prefix (deterministic; for tests and vectors).
    ///
    /// # Panics
    /// If `msg` is longer than `u32::MAX` bytes, which the frame's length field cannot express.
    #[must_use]
    pub fn encrypt_with_random(&self, msg: &[u8], random: &[u8; 16]) -> String {
        let mut out = String::with_capacity(encrypted_len(msg.len(), self.appid.len()));
        self.encrypt_into(msg, random, &mut out);
        out
    }

    /// Encrypt `msg` with the given random prefix and append the base64 to `out`.
    ///
    /// # Panics
    /// If `msg` is longer than `u32::MAX` bytes, which the frame's length field cannot express.
    pub(crate) fn encrypt_into(&self, msg: &[u8], random: &[u8; 16], out: &mut String) {
        let declared = u32::try_from(msg.len()).unwrap_or_else(|_| {
            panic!(
                "message of {} bytes exceeds the u32 frame length",
                msg.len()
            )
        });
        let full_len = HEADER_LEN + msg.len() + self.appid.len();
        let pad = pad_len(full_len);
        let mut buf = Vec::with_capacity(full_len + pad);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&declared.to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(self.appid.as_bytes());
        // `pad` is in 1..=32, so the cast cannot truncate.
        buf.resize(full_len + pad, pad as u8);

        let iv = Array::from(self.key.iv());
        let mut enc = Aes256CbcEnc::inner_iv_init(self.cipher.clone(), &iv);
        let (blocks, tail) = Array::slice_as_chunks_mut(&mut buf);
        debug_assert!(tail.is_empty(), "padded length is a multiple of 32");
        enc.encrypt_blocks(blocks);
        BASE64.encode_append(&buf, out);
    }

    /// The length of the base64 [`MsgCrypt::encrypt`] returns for a message of `msg_len` bytes.
    pub(crate) fn encrypted_len_of(&self, msg_len: usize) -> usize {
        encrypted_len(msg_len, self.appid.len())
    }

    /// Base64-decode, decrypt and unpad the frame: the frame without its padding, and where the
    /// message ends (the appid follows it).
    fn decrypt_frame(&self, encrypt: &str) -> Result<(Vec<u8>, usize), CryptoError> {
        let mut buf = BASE64
            .decode_to_vec(encrypt)
            .map_err(|_| CryptoError::Base64)?;
        let len = buf.len();
        if len == 0 || !len.is_multiple_of(PAD_BLOCK) {
            return Err(CryptoError::CiphertextLength { len });
        }

        let iv = Array::from(self.key.iv());
        let mut dec = Aes256CbcDec::inner_iv_init(self.cipher.clone(), &iv);
        let (blocks, tail) = Array::slice_as_chunks_mut(&mut buf);
        debug_assert!(tail.is_empty(), "length checked to be a multiple of 32");
        dec.decrypt_blocks(blocks);

        let content_len = unpad(&buf)?;
        if content_len < HEADER_LEN {
            return Err(CryptoError::FrameTooShort { len: content_len });
        }
        let mut declared = [0u8; 4];
        declared.copy_from_slice(&buf[RANDOM_LEN..HEADER_LEN]);
        let declared = u32::from_be_bytes(declared) as usize;
        let available = content_len - HEADER_LEN;
        if declared > available {
            return Err(CryptoError::Length {
                declared,
                available,
            });
        }
        buf.truncate(content_len);
        Ok((buf, HEADER_LEN + declared))
    }
}

/// The message of an unpadded frame whose message ends at `msg_end`, in the frame's buffer.
fn into_message(mut frame: Vec<u8>, msg_end: usize) -> Vec<u8> {
    frame.truncate(msg_end);
    frame.drain(..HEADER_LEN);
    frame
}

/// Length of the base64 of a frame holding `msg_len` bytes of message and `appid_len` of appid.
fn encrypted_len(msg_len: usize, appid_len: usize) -> usize {
    let frame = HEADER_LEN + msg_len + appid_len;
    (frame + pad_len(frame)).div_ceil(3) * 4
}

/// Number of PKCS#7 pad bytes (1..=32) appended to a frame of `len` bytes.
fn pad_len(len: usize) -> usize {
    PAD_BLOCK - len % PAD_BLOCK
}

/// Length of `plain` without its 32-byte PKCS#7 padding. Only the last byte is checked (the
/// reference implementations never validated the others).
fn unpad(plain: &[u8]) -> Result<usize, CryptoError> {
    let pad = plain.last().copied().unwrap_or(0);
    let n = usize::from(pad);
    if n == 0 || n > PAD_BLOCK || n > plain.len() {
        return Err(CryptoError::Padding { pad });
    }
    Ok(plain.len() - n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use cbc::cipher::KeyIvInit;

    const V1_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const V1_KEY_HEX: &str = "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051";

    fn raw_decrypt(crypt: &MsgCrypt, encrypt: &str) -> Vec<u8> {
        let mut buf = STANDARD.decode(encrypt).unwrap();
        let key = Array::from(*crypt.key.as_bytes());
        let iv = Array::from(crypt.key.iv());
        let (blocks, _) = Array::slice_as_chunks_mut(&mut buf);
        Aes256CbcDec::new(&key, &iv).decrypt_blocks(blocks);
        buf
    }

    fn raw_encrypt(crypt: &MsgCrypt, mut plain: Vec<u8>) -> String {
        let key = Array::from(*crypt.key.as_bytes());
        let iv = Array::from(crypt.key.iv());
        let (blocks, tail) = Array::slice_as_chunks_mut(&mut plain);
        assert!(tail.is_empty());
        Aes256CbcEnc::new(&key, &iv).encrypt_blocks(blocks);
        STANDARD.encode(&plain)
    }

    #[test]
    fn key_with_spare_bits_decodes_leniently() {
        let key = AesKey::from_encoding_aes_key(V1_KEY).unwrap();
        assert_eq!(hex::encode(key.as_bytes()), V1_KEY_HEX);
        assert_eq!(hex::encode(key.iv()), &V1_KEY_HEX[..32]);
    }

    #[test]
    fn key_ending_in_b_needs_the_lenient_engine() {
        // 'B' has base64 index 1: its 2 spare bits are non-zero, so strict STANDARD refuses it.
        let s = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFB";
        assert!(STANDARD.decode(format!("{s}=")).is_err());
        let key = AesKey::from_encoding_aes_key(s).unwrap();
        // Only the spare bits differ from the canonical 'A' ending.
        let canonical = STANDARD
            .decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFA=")
            .unwrap();
        assert_eq!(key.as_bytes().as_slice(), canonical.as_slice());
    }

    #[test]
    fn key_wrong_length() {
        assert_eq!(
            AesKey::from_encoding_aes_key(&V1_KEY[..42]).unwrap_err(),
            KeyError::WrongLength { got: 42 }
        );
        assert_eq!(
            AesKey::from_encoding_aes_key(&format!("{V1_KEY}=")).unwrap_err(),
            KeyError::WrongLength { got: 44 }
        );
        assert_eq!(
            AesKey::from_encoding_aes_key("").unwrap_err(),
            KeyError::WrongLength { got: 0 }
        );
        let msg = KeyError::WrongLength { got: 42 }.to_string();
        assert!(
            msg.contains("EncodingAESKey must be 43 base64 characters, got 42"),
            "{msg}"
        );
    }

    #[test]
    fn key_invalid_character_position() {
        let mut s = V1_KEY.to_owned();
        s.replace_range(10..11, "-");
        assert_eq!(
            AesKey::from_encoding_aes_key(&s).unwrap_err(),
            KeyError::InvalidCharacter {
                position: 10,
                character: '-'
            }
        );
        // A multi-byte character counts as one character, and its position is a char index.
        let s = format!("é{}", &V1_KEY[1..]);
        assert_eq!(
            AesKey::from_encoding_aes_key(&s).unwrap_err(),
            KeyError::InvalidCharacter {
                position: 0,
                character: 'é'
            }
        );
        let s = format!("{}=", &V1_KEY[..42]);
        let err = AesKey::from_encoding_aes_key(&s).unwrap_err();
        assert_eq!(
            err,
            KeyError::InvalidCharacter {
                position: 42,
                character: '='
            }
        );
        assert!(err.to_string().contains("position 42"), "{err}");
    }

    #[test]
    fn plus_and_slash_are_accepted() {
        let s = format!("{}+/", &V1_KEY[..41]);
        assert!(AesKey::from_encoding_aes_key(&s).is_ok());
    }

    #[test]
    fn debug_never_prints_key() {
        let crypt = MsgCrypt::new(V1_KEY, "wx1234567890abcdef").unwrap();
        let key = AesKey::from_encoding_aes_key(V1_KEY).unwrap();
        for out in [
            format!("{crypt:?}"),
            format!("{key:?}"),
            format!("{crypt:#?}"),
        ] {
            assert!(!out.contains(V1_KEY), "{out}");
            assert!(!out.contains(&V1_KEY_HEX[..8]), "{out}");
            assert!(!out.contains("105"), "decimal key bytes leaked: {out}");
            assert!(out.contains("redacted"), "{out}");
        }
        assert!(format!("{crypt:?}").contains("wx1234567890abcdef"));
    }

    #[test]
    fn pad_len_is_1_to_32() {
        assert_eq!(pad_len(0), 32);
        assert_eq!(pad_len(1), 31);
        assert_eq!(pad_len(31), 1);
        assert_eq!(pad_len(32), 32);
        assert_eq!(pad_len(64), 32);
        assert_eq!(pad_len(65), 31);
    }

    #[test]
    fn unpad_bounds() {
        let mut block = [0u8; 32];
        block[31] = 32;
        assert_eq!(unpad(&block), Ok(0));
        block[31] = 1;
        assert_eq!(unpad(&block), Ok(31));
        block[31] = 0;
        assert_eq!(unpad(&block), Err(CryptoError::Padding { pad: 0 }));
        block[31] = 33;
        assert_eq!(unpad(&block), Err(CryptoError::Padding { pad: 33 }));
        assert_eq!(unpad(&[]), Err(CryptoError::Padding { pad: 0 }));
    }

    #[test]
    fn encrypted_frame_layout() {
        let crypt = MsgCrypt::new(V1_KEY, "wxappid").unwrap();
        let random = *b"0123456789abcdef";
        let out = crypt.encrypt_with_random(b"hello", &random);
        let plain = raw_decrypt(&crypt, &out);
        // 16 + 4 + 5 + 7 = 32 -> a full extra block of 32 x 0x20.
        assert_eq!(plain.len(), 64);
        assert_eq!(&plain[..16], &random);
        assert_eq!(&plain[16..20], &[0, 0, 0, 5]);
        assert_eq!(&plain[20..25], b"hello");
        assert_eq!(&plain[25..32], b"wxappid");
        assert!(plain[32..].iter().all(|&b| b == 32));
    }

    #[test]
    fn round_trip_and_unchecked() {
        let crypt = MsgCrypt::new(V1_KEY, "wx1234567890abcdef").unwrap();
        let msg = "<xml><Content><![CDATA[你好]]></Content></xml>".as_bytes();
        let enc = crypt.encrypt(msg);
        assert_eq!(crypt.decrypt(&enc).unwrap(), msg);
        let (m, appid) = crypt.decrypt_unchecked(&enc).unwrap();
        assert_eq!(m, msg);
        assert_eq!(appid, "wx1234567890abcdef");
        // Two encryptions use different random prefixes.
        assert_ne!(crypt.encrypt(msg), crypt.encrypt(msg));
    }

    #[test]
    fn appid_mismatch_names_both() {
        let sender = MsgCrypt::new(V1_KEY, "wxsender").unwrap();
        let receiver = MsgCrypt::new(V1_KEY, "wxreceiver").unwrap();
        let enc = sender.encrypt(b"<xml/>");
        let err = receiver.decrypt(&enc).unwrap_err();
        assert_eq!(
            err,
            CryptoError::AppIdMismatch {
                expected: "wxreceiver".to_owned(),
                found: "wxsender".to_owned()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("wxsender") && text.contains("wxreceiver"),
            "{text}"
        );
        assert!(text.contains("AppID"), "{text}");
        // The unchecked variant still hands back the message and the foreign appid.
        let (msg, appid) = receiver.decrypt_unchecked(&enc).unwrap();
        assert_eq!(msg, b"<xml/>");
        assert_eq!(appid, "wxsender");
    }

    #[test]
    fn appid_comparison_is_exact() {
        let sender = MsgCrypt::new(V1_KEY, "wxid ").unwrap();
        let receiver = MsgCrypt::new(V1_KEY, "wxid").unwrap();
        assert!(matches!(
            receiver.decrypt(&sender.encrypt(b"x")),
            Err(CryptoError::AppIdMismatch { .. })
        ));
    }

    #[test]
    fn wrong_key_is_a_padding_or_framing_error() {
        let sender = MsgCrypt::new(V1_KEY, "wx1234567890abcdef").unwrap();
        let receiver = MsgCrypt::new(
            "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
            "wx1234567890abcdef",
        )
        .unwrap();
        let enc = sender.encrypt_with_random(b"<xml>hello</xml>", &[7; 16]);
        let err = receiver.decrypt(&enc).unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::Padding { .. }
                    | CryptoError::Length { .. }
                    | CryptoError::FrameTooShort { .. }
                    | CryptoError::AppIdMismatch { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bad_padding_blames_the_key() {
        let crypt = MsgCrypt::new(V1_KEY, "wx").unwrap();
        let mut plain = vec![0u8; 32];
        plain[31] = 0;
        let err = crypt
            .decrypt(&raw_encrypt(&crypt, plain.clone()))
            .unwrap_err();
        assert_eq!(err, CryptoError::Padding { pad: 0 });
        assert!(err.to_string().contains("EncodingAESKey"), "{err}");
        plain[31] = 200;
        assert_eq!(
            crypt.decrypt(&raw_encrypt(&crypt, plain)).unwrap_err(),
            CryptoError::Padding { pad: 200 }
        );
    }

    #[test]
    fn frame_shorter_than_header() {
        let crypt = MsgCrypt::new(V1_KEY, "wx").unwrap();
        let mut plain = vec![0u8; 32];
        plain[31] = 13; // 19 bytes left < 20-byte header
        let err = crypt.decrypt(&raw_encrypt(&crypt, plain)).unwrap_err();
        assert_eq!(err, CryptoError::FrameTooShort { len: 19 });
        assert!(err.to_string().contains("EncodingAESKey"), "{err}");
    }

    #[test]
    fn declared_length_too_large() {
        let crypt = MsgCrypt::new(V1_KEY, "wx").unwrap();
        let mut plain = vec![0u8; 32];
        plain[16..20].copy_from_slice(&11u32.to_be_bytes());
        plain[31] = 2; // 30 bytes left, 10 after the header
        let err = crypt.decrypt(&raw_encrypt(&crypt, plain)).unwrap_err();
        assert_eq!(
            err,
            CryptoError::Length {
                declared: 11,
                available: 10
            }
        );
        assert!(err.to_string().contains("EncodingAESKey"), "{err}");
    }

    #[test]
    fn ciphertext_length_and_base64_errors() {
        let crypt = MsgCrypt::new(V1_KEY, "wx").unwrap();
        assert_eq!(
            crypt.decrypt("").unwrap_err(),
            CryptoError::CiphertextLength { len: 0 }
        );
        // 16 bytes: a whole AES block, but not a whole 32-byte WeChat block.
        assert_eq!(
            crypt.decrypt(&STANDARD.encode([0u8; 16])).unwrap_err(),
            CryptoError::CiphertextLength { len: 16 }
        );
        assert_eq!(crypt.decrypt("!!!").unwrap_err(), CryptoError::Base64);
        // Non-canonical (non-zero trailing bits) is rejected for Encrypt.
        assert_eq!(crypt.decrypt("AB==").unwrap_err(), CryptoError::Base64);
        // Missing padding is rejected too.
        let canonical = STANDARD.encode([1u8; 32]);
        let unpadded = canonical.trim_end_matches('=');
        assert_eq!(crypt.decrypt(unpadded).unwrap_err(), CryptoError::Base64);
        // So are whitespace, line breaks and padding in the middle.
        for damaged in [
            format!(" {canonical}"),
            format!("{}\n{}", &canonical[..20], &canonical[20..]),
            format!("{}={}", &canonical[..20], &canonical[21..]),
        ] {
            assert_eq!(
                crypt.decrypt(&damaged).unwrap_err(),
                CryptoError::Base64,
                "{damaged}"
            );
        }
    }

    #[test]
    fn empty_message_and_empty_appid() {
        let crypt = MsgCrypt::new(V1_KEY, "").unwrap();
        let enc = crypt.encrypt(b"");
        assert_eq!(crypt.decrypt(&enc).unwrap(), b"");
        assert_eq!(STANDARD.decode(&enc).unwrap().len(), 32);
    }
}
