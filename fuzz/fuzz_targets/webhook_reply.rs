//! Fuzz target: the webhook reply parser on an arbitrary answer body must return a reply, no
//! reply, or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxoa_server::actions::webhook::parse_reply;

fuzz_target!(|data: &[u8]| {
    let _ = parse_reply(data);
});
