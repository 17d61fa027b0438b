//! Fuzz target: the first byte picks the upload name's extension, the rest is the file; also
//! drives the display-name function with the same bytes as text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sanitize::{FileKind, Sanitizer, display_name};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let name = ["a.jpg", "a.png", "a.webp", "a.pdf", "a.heic", "a"][usize::from(pick) % 6];
    let _ = Sanitizer::new().sanitize(name, body);
    let shown = display_name(&String::from_utf8_lossy(body), FileKind::Pdf);
    assert!(shown.len() <= 255);
});
