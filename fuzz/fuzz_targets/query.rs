//! Fuzz target: `PushQuery::parse` on an arbitrary query string must return Ok or Err, never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxoa_server::push::PushQuery;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    if let Ok(parsed) = PushQuery::parse(&query) {
        // Whatever parsed is text the checks can read.
        for value in [
            &parsed.signature,
            &parsed.timestamp,
            &parsed.nonce,
            &parsed.echostr,
            &parsed.openid,
            &parsed.encrypt_type,
            &parsed.msg_signature,
        ]
        .into_iter()
        .flatten()
        {
            assert!(value.len() <= query.len() * 3);
        }
    }
});
