//! Fuzz target: the whole pipeline on input named `.webp`, with active content removed rather
//! than rejected so the PDF removal path is reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sanitize::{ActiveContentPolicy, Sanitizer};

fuzz_target!(|data: &[u8]| {
    let sanitizer = Sanitizer::new().with_active_content(ActiveContentPolicy::Remove);
    if let Ok(out) = sanitizer.sanitize("f.webp", data) {
        // An accepted output must be accepted again.
        assert!(sanitizer.sanitize("f.webp", out.bytes()).is_ok());
    }
});
