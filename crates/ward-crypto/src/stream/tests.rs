//! Unit tests that need crate-private access: fixed salts, the golden files' writer check, and
//! their one-time generator.

use std::path::PathBuf;

use super::*;
use crate::error::ApiMisuse;
use crate::keys::{DekId, KeyMaterial};

/// The golden files' data key: id 7, 32 bytes of 0x42. Test data only.
fn golden_key() -> DataKey {
    DataKey::new(DekId(7), KeyMaterial::from_bytes(&[0x42; 32]).unwrap())
}

const GOLDEN_SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];

/// The golden plaintext of `len` bytes: byte i is (7i + 3) mod 256.
fn golden_plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7).wrapping_add(3)) as u8)
        .collect()
}

/// The context every version 2 golden file is bound to: an object key as ward-storage writes it.
const GOLDEN_CONTEXT: &[u8] = b"workspaces/00000000-0000-4000-8000-000000000001/clients/00000000-0000-4000-8000-000000000002/attachments/00000000-0000-4000-8000-000000000003.pdf";

/// The well-formed golden cases: file name, plaintext length, chunk size, format version.
const GOOD_CASES: &[(&str, usize, u32, u8)] = &[
    ("v1-empty.ward", 0, 1024, 1),
    ("v1-one-byte.ward", 1, 1024, 1),
    ("v1-one-chunk.ward", 1024, 1024, 1),
    ("v1-chunk-plus-one.ward", 1025, 1024, 1),
    ("v1-three-chunks.ward", 2600, 1024, 1),
    ("v1-default-chunk-size.ward", 70_000, DEFAULT_CHUNK_SIZE, 1),
    ("v2-empty.ward", 0, 1024, 2),
    ("v2-one-byte.ward", 1, 1024, 2),
    ("v2-one-chunk.ward", 1024, 1024, 2),
    ("v2-three-chunks.ward", 2600, 1024, 2),
    ("v2-default-chunk-size.ward", 70_000, DEFAULT_CHUNK_SIZE, 2),
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/stream")
}

/// The context a golden file of `version` was written with (version 1 bound none).
fn golden_context(version: u8) -> &'static [u8] {
    if version >= 2 { GOLDEN_CONTEXT } else { b"" }
}

fn start_golden(chunk_size: u32, version: u8) -> (StreamHeader, ChunkSealer) {
    ChunkSealer::start(
        &golden_key(),
        golden_context(version),
        chunk_size,
        GOLDEN_SALT,
        version,
    )
    .unwrap()
}

fn encrypt_golden(len: usize, chunk_size: u32, version: u8) -> Vec<u8> {
    let (header, sealer) = start_golden(chunk_size, version);
    seal_whole(header, sealer, &golden_plaintext(len)).unwrap()
}

#[tokio::test]
async fn async_writer_and_reader_match_the_buffer_writer_byte_for_byte() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for &(name, len, chunk_size, version) in GOOD_CASES {
        let expected = encrypt_golden(len, chunk_size, version);
        let mut enc = StreamEncryptor::started(Vec::new(), start_golden(chunk_size, version));
        for piece in golden_plaintext(len).chunks(333) {
            enc.write_all(piece).await.unwrap();
        }
        enc.shutdown().await.unwrap();
        assert_eq!(enc.into_inner(), expected, "{name}: writer");

        let plaintext = golden_plaintext(len);
        let mut pulled = Vec::new();
        EncryptingReader::started(&plaintext[..], start_golden(chunk_size, version))
            .read_to_end(&mut pulled)
            .await
            .unwrap();
        assert_eq!(pulled, expected, "{name}: reader");
    }
}

/// Every golden file, good and must-fail, as the writer and the documented mutations make it.
fn golden_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut files: Vec<(&'static str, Vec<u8>)> = GOOD_CASES
        .iter()
        .map(|&(name, len, chunk, version)| (name, encrypt_golden(len, chunk, version)))
        .collect();

    // Must-fail cases, all cut from the three-chunk object (chunks of 1024 + 16 bytes).
    let good = encrypt_golden(2600, 1024, 1);
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
    // Written when version 2 did not exist; it now reads as a version 2 object whose chunks were
    // not sealed with its header and context, so it fails as `Decrypt`.
    files.push(("v2-unknown-version.ward", version));

    // Version 2 must-fail cases, from the version 2 three-chunk object.
    let good = encrypt_golden(2600, 1024, 2);
    let mut downgraded = good.clone();
    downgraded[8] = 1;
    files.push(("v2-downgraded-to-v1.ward", downgraded));
    let mut unknown = good;
    unknown[8] = 3;
    files.push(("v3-unknown-version.ward", unknown));
    files.push(("v2-other-key-commitment.ward", other_key_commitment()));
    files
}

/// The golden key's twin: the same id 7, other key material (32 bytes of 0x43).
fn twin_key() -> DataKey {
    DataKey::new(DekId(7), KeyMaterial::from_bytes(&[0x43; 32]).unwrap())
}

/// A version 2 three-chunk object whose chunks authenticate under the golden key, but whose header
/// carries the commitment of its twin: only the commitment check refuses it, since every tag is
/// valid under the golden key with this header and context.
fn other_key_commitment() -> Vec<u8> {
    let (twin_header, _) =
        ChunkSealer::start(&twin_key(), GOLDEN_CONTEXT, 1024, GOLDEN_SALT, 2).unwrap();
    let sealer = ChunkSealer::forged(&golden_key(), &twin_header, GOLDEN_CONTEXT);
    seal_whole(twin_header, sealer, &golden_plaintext(2600)).unwrap()
}

#[test]
fn the_commitment_check_alone_refuses_a_stream_whose_tags_are_valid() {
    let forged = other_key_commitment();
    let header = StreamHeader::parse(&forged).unwrap();
    // Every chunk opens under the golden key with this header: the tags are valid.
    let key = StreamKey::for_writing(&golden_key(), &GOLDEN_SALT).0;
    let mut opener = ChunkOpener::new(key, &header, GOLDEN_CONTEXT, 0);
    let mut body = forged[header.encoded_len()..].to_vec();
    let n = opener.open_batch(&mut body, 1024, true).unwrap();
    assert_eq!(&body[..n], &golden_plaintext(2600)[..]);
    // Yet the golden key refuses it, before any chunk, on the commitment.
    assert!(matches!(
        decrypt_to_vec(&golden_key(), &forged, GOLDEN_CONTEXT),
        Err(Error::Decrypt)
    ));
    assert!(matches!(
        StreamKey::for_reading(&golden_key(), &header),
        Err(Error::Decrypt)
    ));
}

#[test]
fn a_range_plan_from_another_header_is_refused_not_a_panic() {
    let small = encrypt_golden(10_000, 1024, 2);
    let large = encrypt_golden(10_000, 4 * 1024 * 1024, 2);
    let (h_small, h_large) = (
        StreamHeader::parse(&small).unwrap(),
        StreamHeader::parse(&large).unwrap(),
    );
    let plan = h_large.plan_range(0..10_000, large.len() as u64).unwrap();
    let fetched = &large[plan.ciphertext_range().start as usize..];
    for result in [
        decrypt_range(&golden_key(), &h_small, &plan, fetched, GOLDEN_CONTEXT).map(|_| ()),
        StreamDecryptor::for_range(&golden_key(), &h_small, &plan, fetched, GOLDEN_CONTEXT)
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                result,
                Err(Error::ApiMisuse(ApiMisuse::RangePlanForAnotherHeader))
            ),
            "{result:?}"
        );
    }
}

/// The committed golden files are exactly what the writer and the documented mutations
/// produce: the writer has not drifted and no file was edited by hand.
///
/// With `WARD_WRITE_STREAM_GOLDEN=1`, missing files are written first (that is how they were made,
/// once); an existing file is never overwritten, since golden files are never regenerated.
#[test]
fn golden_files_match_the_writer_and_their_documented_mutations() {
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
            "{name} differs from the writer's output"
        );
    }
}

#[test]
fn io_errors_keep_their_kind_misuse_is_other_and_bad_input_is_invalid_data() {
    let reset = to_io(Error::Io(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "upload connection reset",
    )));
    assert_eq!(reset.kind(), io::ErrorKind::ConnectionReset);
    assert!(reset.get_ref().is_some_and(|e| !e.is::<Error>()));
    let misuse = to_io(Error::ApiMisuse(ApiMisuse::WriteAfterFinish));
    assert_eq!(misuse.kind(), io::ErrorKind::Other);
    assert!(matches!(Error::from_io(misuse), Error::ApiMisuse(_)));
    let forged = to_io(Error::Decrypt);
    assert_eq!(forged.kind(), io::ErrorKind::InvalidData);
    assert!(matches!(Error::from_io(forged), Error::Decrypt));
}

#[test]
fn batches_hold_about_256_kib_of_chunks_at_least_one_at_most_sixteen() {
    assert_eq!(chunk::batch_chunks(MIN_CHUNK_SIZE as usize), 16);
    assert_eq!(chunk::batch_chunks(DEFAULT_CHUNK_SIZE as usize), 4);
    assert_eq!(chunk::batch_chunks(128 * 1024), 2);
    // The largest chunks are opened one at a time, so memory stays at about two chunks.
    assert_eq!(chunk::batch_chunks(MAX_CHUNK_SIZE as usize), 1);
}

#[test]
fn batches_without_room_for_their_tags_are_refused_not_sealed_or_opened() {
    let (header, mut sealer) = start_golden(1024, CURRENT_VERSION);
    let region = 1024 + TAG_LEN;
    // Nothing at all, a lone chunk shorter than a tag, a full chunk then a stub shorter than a tag.
    for len in [0, TAG_LEN - 1, region + TAG_LEN - 1] {
        let mut batch = vec![0u8; len];
        assert!(
            matches!(
                sealer.seal_batch(&mut batch, 1024, true),
                Err(Error::Internal(_))
            ),
            "seal {len}"
        );
        let key = StreamKey::for_reading(&golden_key(), &header).unwrap();
        let mut opener = ChunkOpener::new(key, &header, GOLDEN_CONTEXT, 0);
        assert!(
            matches!(
                opener.open_batch(&mut batch, 1024, true),
                Err(Error::Malformed { .. })
            ),
            "open {len}"
        );
    }
}
