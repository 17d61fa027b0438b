//! Cleaned PDFs judged by qpdf, a reader independent of lopdf: every output must pass
//! `qpdf --check` with every stream decoded.

use std::path::Path;

use ward_sanitize::{ActiveContentPolicy, Sanitizer};

use crate::common::*;

/// Writes `pdf` to `dir` and runs `qpdf --check` on it.
fn judged(dir: &Path, name: &str, pdf: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    qpdf_check(&path)
}

#[test]
fn qpdf_finds_no_fault_in_the_cleaned_corpus_pdfs() {
    if !qpdf_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut pdfs: Vec<_> = std::fs::read_dir(corpus.join("pypdf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    pdfs.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in pdfs {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(&path).unwrap();
        // Active content removed rather than refused, so those files are judged too.
        let cleaned = Sanitizer::new()
            .with_active_content(ActiveContentPolicy::Remove)
            .sanitize(&name, &input);
        let Ok(out) = cleaned else {
            continue; // refused (encrypted): corpus.rs checks the rule
        };
        if let Err(report) = judged(tmp.path(), &name, out.bytes()) {
            failures.push(format!("{name}: {report}"));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 8, "only {checked} corpus pdfs were cleaned");
}

#[test]
fn qpdf_finds_no_fault_in_a_cleaned_pdf_with_a_jpeg_image() {
    if !qpdf_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = picture(32, 24);
    let (mut doc, _) = pdf_with_image(
        jpeg_with_gps_and_xmp(&img),
        "DCTDecode".into(),
        img.dimensions(),
    );
    let input = save(&mut doc);
    let out = Sanitizer::new().sanitize("scan.pdf", &input).unwrap();
    judged(tmp.path(), "in.pdf", &input).unwrap();
    judged(tmp.path(), "out.pdf", out.bytes()).unwrap();
}

#[test]
fn qpdf_reports_a_damaged_pdf() {
    // The judge can fail: a cleaned file cut short does not pass.
    if !qpdf_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Sanitizer::new()
        .sanitize("f.pdf", &save(&mut pdf_with_metadata(2)))
        .unwrap();
    let bytes = out.bytes();
    assert!(judged(tmp.path(), "whole.pdf", bytes).is_ok());
    assert!(judged(tmp.path(), "cut.pdf", &bytes[..bytes.len() * 2 / 3]).is_err());
}
