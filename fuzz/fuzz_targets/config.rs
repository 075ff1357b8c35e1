//! Configuration text: a clear error or a configuration that saves and reads back the same.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use netmon_core::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz-config.json");
    if let Ok(config) = Config::parse(text, path) {
        let saved = config.to_json_pretty();
        let read_back = Config::parse(&saved, path).expect("a saved configuration reads back");
        assert_eq!(
            read_back, config,
            "the configuration changed when saved and read back"
        );
    }
});
