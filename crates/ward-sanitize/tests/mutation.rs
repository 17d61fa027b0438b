//! Proptest-driven mutation fuzzing of every parser, on the pinned toolchain.
//!
//! Seeds are valid files (synthetic and from the corpus); each case flips, inserts, removes
//! or duplicates bytes, then runs the whole pipeline. Properties: no panic, an error names a
//! rule, and an accepted output is accepted again unchanged. `WARD_FUZZ_CASES` sets the number
//! of cases per parser (default 48); `cargo xtask fuzz --smoke` raises it.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use ward_sanitize::{ActiveContentPolicy, Sanitizer};

use crate::common::*;

fn cases() -> u32 {
    std::env::var("WARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

fn corpus(names: &[&str]) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        if b.is_empty() {
            break;
        }
        let len = b.len();
        match m {
            Mutation::Flip(i, x) => b[i % len] ^= x | 1,
            Mutation::Insert(i, v) => {
                let at = i % len;
                b.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = i % len;
                b.drain(at..(at + n).min(len));
            }
            Mutation::Duplicate(i, n) => {
                let at = i % len;
                let piece = b[at..(at + n).min(len)].to_vec();
                b.splice(at..at, piece);
            }
            Mutation::Truncate(i) => b.truncate(i % len),
        }
    }
    b
}

/// Runs `cases()` mutated inputs per seed set through the whole pipeline; returns executions.
pub(crate) fn fuzz(name: &str, seeds: Vec<Vec<u8>>) -> u64 {
    let sanitizer = Sanitizer::new().with_active_content(ActiveContentPolicy::Remove);
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let executions = std::cell::Cell::new(0u64);
    let strategy = (0..seeds.len(), proptest::collection::vec(mutation(), 1..6));
    runner
        .run(&strategy, |(seed, mutations)| {
            let input = apply(&seeds[seed], &mutations);
            executions.set(executions.get() + 1);
            match sanitizer.sanitize(name, &input) {
                Ok(out) => {
                    let again = sanitizer.sanitize(name, out.bytes());
                    prop_assert!(again.is_ok(), "output rejected: {:?}", again.err());
                }
                Err(e) => prop_assert!(!e.rule().is_empty()),
            }
            Ok(())
        })
        .unwrap();
    println!("fuzz {name}: {} executions", executions.get());
    executions.get()
}

#[test]
fn fuzz_jpeg() {
    let mut seeds = corpus(&[
        "pillow/exif_gps.jpg",
        "pillow/photoshop-200dpi.jpg",
        "pillow/hopper_orientation_6.jpg",
    ]);
    seeds.push(jpeg_with_metadata(&picture(24, 16), Some(3)));
    assert!(fuzz("f.jpg", seeds) >= u64::from(cases()));
}

#[test]
fn fuzz_png() {
    let mut seeds = corpus(&[
        "pillow/1_trns.png",
        "pillow/apng_delay.png",
        "pillow/icc_profile.png",
    ]);
    seeds.push(png_insert(
        &encode_png(&picture(24, 16)),
        &png_metadata_chunks(Some(6)),
    ));
    assert!(fuzz("f.png", seeds) >= u64::from(cases()));
}

#[test]
fn fuzz_webp() {
    let mut seeds = corpus(&["pillow/hopper.webp", "pillow/flower2.webp"]);
    seeds.push(webp_with_metadata(&picture(24, 16), Some(8)));
    assert!(fuzz("f.webp", seeds) >= u64::from(cases()));
}

#[test]
fn fuzz_pdf() {
    let mut seeds = corpus(&["pypdf/crazyones.pdf", "pypdf/issue-297.pdf"]);
    seeds.push(save(&mut pdf_with_metadata(2)));
    assert!(fuzz("f.pdf", seeds) >= u64::from(cases()));
}

#[cfg(feature = "heic")]
#[test]
fn fuzz_heic() {
    let seeds = corpus(&[
        "heic/L_exif_xmp_iptc.heic",
        "heic/RGBA_8__29x100.heif",
        "heic/zPug_3.heic",
    ]);
    assert!(fuzz("f.heic", seeds) >= u64::from(cases()));
}

#[test]
fn fuzz_names() {
    let mut runner = TestRunner::new(Config {
        cases: cases() * 4,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&".{0,300}", |raw| {
            let name = ward_sanitize::display_name(&raw, ward_sanitize::FileKind::Pdf);
            prop_assert!(name.len() <= ward_sanitize::MAX_DISPLAY_NAME_BYTES);
            prop_assert!(!name.is_empty() && !name.starts_with('.'));
            prop_assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
            prop_assert_eq!(
                ward_sanitize::display_name(&name, ward_sanitize::FileKind::Pdf),
                name
            );
            Ok(())
        })
        .unwrap();
}
