//! Fuzz target: `cgi::read_request` on an arbitrary environment and stdin must return the
//! request or an error, never panic, and never read more than the body limit.
//!
//! Input: REQUEST_METHOD, QUERY_STRING and CONTENT_LENGTH as the first three lines, stdin after
//! them. A line that is exactly `-` leaves its variable unset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxoa_server::cgi::read_request;
use wxoa_server::push::PushQuery;

const MAX_BODY_BYTES: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let mut next_var = || {
        parts
            .next()
            .filter(|line| *line != b"-")
            .map(|line| String::from_utf8_lossy(line).into_owned())
    };
    let (method, query, length) = (next_var(), next_var(), next_var());
    let stdin: &[u8] = parts.next().unwrap_or_default();
    let var = |name: &str| match name {
        "REQUEST_METHOD" => method.clone(),
        "QUERY_STRING" => query.clone(),
        "CONTENT_LENGTH" => length.clone(),
        _ => None,
    };
    let mut reader = stdin;
    if let Ok(request) = read_request(var, &mut reader, MAX_BODY_BYTES) {
        assert!(request.body.len() <= MAX_BODY_BYTES);
        assert!(request.body.len() <= stdin.len());
        let _ = PushQuery::parse(&request.query);
    }
});
