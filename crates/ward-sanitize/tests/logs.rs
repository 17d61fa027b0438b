//! Log output carries no PHI: everything the crate logs while cleaning and refusing inputs that
//! carry a canary (in the file name, the metadata and the content) is captured at the most
//! verbose level and searched for it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ward_sanitize::Sanitizer;

use crate::common::{
    SECRET, encode_png, jpeg_with_metadata, pdf_with_metadata, picture, png_insert,
    png_metadata_chunks, save, webp_with_metadata,
};

/// A writer into a shared buffer, for the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn nothing_logged_while_cleaning_or_refusing_carries_the_canary() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let canary = std::str::from_utf8(SECRET).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let sanitizer = Sanitizer::new();
        let img = picture(64, 48);
        let png = png_insert(&encode_png(&img), &png_metadata_chunks(Some(6)));
        let pdf = save(&mut pdf_with_metadata(2));
        for (ext, bytes) in [
            ("jpg", jpeg_with_metadata(&img, Some(6))),
            ("png", png),
            ("webp", webp_with_metadata(&img, Some(6))),
            ("pdf", pdf),
        ] {
            let name = format!("{canary} consent.{ext}");
            let cleaned = sanitizer.sanitize(&name, &bytes).unwrap();
            assert!(!cleaned.bytes().windows(SECRET.len()).any(|w| w == SECRET));
            // Refusals: a content/extension mismatch, a cut file, a refused extension.
            let other = if ext == "pdf" { "jpg" } else { "pdf" };
            assert!(
                sanitizer
                    .sanitize(&format!("{canary}.{other}"), &bytes)
                    .is_err()
            );
            assert!(
                sanitizer
                    .sanitize(&name, &bytes[..bytes.len() / 2])
                    .is_err()
            );
            assert!(
                sanitizer
                    .sanitize(&format!("{canary}.exe"), &bytes)
                    .is_err()
            );
            let _ = ward_sanitize::display_name(&name, cleaned.kind());
        }
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("upload sanitized") && logs.contains("upload rejected"),
        "the capture saw no log lines, so it proves nothing:\n{logs}"
    );
    assert!(
        !logs.contains(canary),
        "a log line carries the canary:\n{logs}"
    );
}
