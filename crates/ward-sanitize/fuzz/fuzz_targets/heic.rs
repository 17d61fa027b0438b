//! Fuzz target: the whole pipeline on input named `.heic`: the HEIF container parser and
//! rewrite, then libheif's decode of the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sanitize::{ActiveContentPolicy, Sanitizer};

fuzz_target!(|data: &[u8]| {
    let sanitizer = Sanitizer::new().with_active_content(ActiveContentPolicy::Remove);
    if let Ok(out) = sanitizer.sanitize("f.heic", data) {
        // An accepted output must be accepted again.
        assert!(sanitizer.sanitize("f.heic", out.bytes()).is_ok());
    }
});
