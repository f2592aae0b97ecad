//! Fuzz target: `Config::from_toml` (the config and rules loader) on arbitrary text must return
//! a config or an error naming what is wrong, never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wxoa_server::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // A directory that does not exist: rules naming files find nothing to read.
        let _ = Config::from_toml(text, Path::new("/nonexistent/wxoa-fuzz/wxoa.toml"));
    }
});
