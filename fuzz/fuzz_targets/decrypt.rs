//! Fuzz target: `MsgCrypt::decrypt` on an arbitrary `Encrypt` string must never panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wxoa_proto::crypto::MsgCrypt;

static CRYPT: LazyLock<MsgCrypt> = LazyLock::new(|| {
    MsgCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1234567890abcdef")
        .expect("the fixed EncodingAESKey is valid")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(encrypt) = std::str::from_utf8(data) {
        let _ = CRYPT.decrypt(encrypt);
        let _ = CRYPT.decrypt_unchecked(encrypt);
    }
});
