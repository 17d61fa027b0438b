//! Unit tests that need crate-private access: fixed salts, the golden files' writer check, and
//! their one-time generator.

use std::path::PathBuf;

use super::*;
use crate::keys::{KeyId, KeyMaterial};

/// The golden files' data key: id 7, 32 bytes of 0x42. Test data only.
fn golden_key() -> DataKey {
    DataKey::new(KeyId(7), KeyMaterial::from_bytes(&[0x42; 32]).unwrap())
}

const GOLDEN_SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];

/// The golden plaintext of `len` bytes: byte i is (7i + 3) mod 256.
fn golden_plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7).wrapping_add(3)) as u8)
        .collect()
}

/// The well-formed golden cases: file name, plaintext length, chunk size.
const GOOD_CASES: &[(&str, usize, u32)] = &[
    ("v1-empty.ward", 0, 1024),
    ("v1-one-byte.ward", 1, 1024),
    ("v1-one-chunk.ward", 1024, 1024),
    ("v1-chunk-plus-one.ward", 1025, 1024),
    ("v1-three-chunks.ward", 2600, 1024),
    ("v1-default-chunk-size.ward", 70_000, DEFAULT_CHUNK_SIZE),
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/stream")
}

fn encrypt_golden(len: usize, chunk_size: u32) -> Vec<u8> {
    let options = StreamOptions::new().with_chunk_size(chunk_size);
    encrypt_with_salt(&golden_key(), &golden_plaintext(len), &options, GOLDEN_SALT).unwrap()
}

#[tokio::test]
async fn async_writer_matches_the_buffer_writer_byte_for_byte() {
    use tokio::io::AsyncWriteExt;
    for &(name, len, chunk_size) in GOOD_CASES {
        let options = StreamOptions::new().with_chunk_size(chunk_size);
        let mut enc =
            StreamEncryptor::with_salt(&golden_key(), Vec::new(), &options, GOLDEN_SALT).unwrap();
        for piece in golden_plaintext(len).chunks(333) {
            enc.write_all(piece).await.unwrap();
        }
        enc.shutdown().await.unwrap();
        assert_eq!(enc.into_inner(), encrypt_golden(len, chunk_size), "{name}");
    }
}

/// Every golden file, good and must-fail, as the v1 writer and the documented mutations make it.
fn golden_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut files: Vec<(&'static str, Vec<u8>)> = GOOD_CASES
        .iter()
        .map(|&(name, len, chunk)| (name, encrypt_golden(len, chunk)))
        .collect();

    // Must-fail cases, all cut from the three-chunk object (chunks of 1024 + 16 bytes).
    let good = encrypt_golden(2600, 1024);
    let (h, c) = (81usize, 1040usize);
    let chunk = |i: usize| good[h + i * c..(h + (i + 1) * c).min(good.len())].to_vec();
    files.push((
        "v1-truncated-final-chunk-dropped.ward",
        good[..h + 2 * c].to_vec(),
    ));
    files.push(("v1-truncated-mid-chunk.ward", good[..h + c + 100].to_vec()));
    files.push(("v1-truncated-header.ward", good[..40].to_vec()));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    files.push(("v1-trailing-garbage.ward", trailing));
    let mut swapped = good[..h].to_vec();
    swapped.extend(chunk(1));
    swapped.extend(chunk(0));
    swapped.extend(chunk(2));
    files.push(("v1-swapped-chunks.ward", swapped));
    let mut duplicated = good[..h + 2 * c].to_vec();
    duplicated.extend(chunk(1));
    duplicated.extend(chunk(2));
    files.push(("v1-duplicated-chunk.ward", duplicated));
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    files.push(("v1-flipped-tag-bit.ward", flipped));
    let mut version = good;
    version[8] = 2;
    files.push(("v2-unknown-version.ward", version));
    files
}

/// The committed golden files are exactly what the v1 writer and the documented mutations
/// produce: the writer has not drifted and no file was edited by hand.
///
/// With `WARD_WRITE_STREAM_GOLDEN=1`, missing files are written first (that is how they were made,
/// once); an existing file is never overwritten, since golden files are never regenerated.
#[test]
fn golden_files_match_the_v1_writer_and_their_documented_mutations() {
    let dir = golden_dir();
    let write_missing = std::env::var("WARD_WRITE_STREAM_GOLDEN").as_deref() == Ok("1");
    for (name, expected) in golden_files() {
        let path = dir.join(name);
        if write_missing && !path.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            committed, expected,
            "{name} differs from the v1 writer's output"
        );
    }
}
