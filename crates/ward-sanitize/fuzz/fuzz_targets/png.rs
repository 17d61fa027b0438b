//! Fuzz target: the whole pipeline on input named `.png`, with active content removed rather
//! than rejected so the PDF removal path is reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sanitize::{ActiveContentPolicy, Sanitizer};

fuzz_target!(|data: &[u8]| {
    let sanitizer = Sanitizer::new().with_active_content(ActiveContentPolicy::Remove);
    if let Ok(out) = sanitizer.sanitize("f.png", data) {
        // An accepted output must be accepted again.
        assert!(sanitizer.sanitize("f.png", out.bytes()).is_ok());
    }
});
