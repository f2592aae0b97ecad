//! Fuzz target: `Inbound::parse` on arbitrary bytes must return Ok or Err, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxoa_proto::message::Inbound;
use wxoa_proto::xml::XmlLimits;

fuzz_target!(|data: &[u8]| {
    if let Ok(inbound) = Inbound::parse(data, XmlLimits::default()) {
        // Exercise the accessors on whatever parsed.
        let _ = inbound.dedup_key();
        let _ = inbound.msg_id();
    }
});
