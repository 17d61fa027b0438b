//! Stream format: size edges, async round trips, tampering, wrong keys, range reads, golden files.

use std::ops::Range;
use std::path::PathBuf;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ward_crypto::stream::{
    self, MAX_HEADER_LEN, StreamDecryptor, StreamEncryptor, StreamHeader, StreamOptions,
    decrypt_range, decrypt_to_vec, encrypt_to_vec, encrypt_to_vec_with, open_range, read_header,
};
use ward_crypto::{DataKey, DekId, Error, KeyMaterial};

const HEADER: usize = MAX_HEADER_LEN;
/// The context every test object is bound to (an object key, as a store passes it).
const CTX: &[u8] = b"workspaces/w/clients/c/attachments/a.jpg";
const SMALL: u32 = 1024;
const SEALED: usize = SMALL as usize + 16;

fn dek() -> DataKey {
    DataKey::new(DekId(7), KeyMaterial::from_bytes(&[0x42; 32]).unwrap())
}

fn small() -> StreamOptions {
    StreamOptions::new().with_chunk_size(SMALL)
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7).wrapping_add(3)) as u8)
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Decrypts through the `AsyncRead` path, reading `read_size` bytes at a time.
async fn decrypt_async(
    dek: &DataKey,
    ciphertext: &[u8],
    read_size: usize,
) -> Result<Vec<u8>, Error> {
    let mut dec = StreamDecryptor::new(dek, ciphertext, CTX);
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        let n = dec.read(&mut buf).await.map_err(Error::from_io)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Both decryption paths must refuse `ciphertext`; returns the buffer path's error.
fn refused(ciphertext: &[u8]) -> Error {
    let sync = decrypt_to_vec(&dek(), ciphertext, CTX).expect_err("buffer decryption must fail");
    let streamed = rt().block_on(decrypt_async(&dek(), ciphertext, 4096));
    assert!(streamed.is_err(), "async decryption must fail too");
    sync
}

// ---- size edges and round trips ----

#[test]
fn stream_round_trips_at_chunk_size_edges() {
    for len in [0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 10 * 1024 + 17] {
        let pt = plaintext(len);
        let ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
        let header = StreamHeader::parse(&ct).unwrap();
        assert_eq!(
            ct.len() as u64,
            header.ciphertext_len(len as u64).unwrap(),
            "len {len}"
        );
        assert_eq!(header.plaintext_len(ct.len() as u64).unwrap(), len as u64);
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..],
            &pt[..],
            "len {len}"
        );
        let streamed = rt().block_on(decrypt_async(&dek(), &ct, 100)).unwrap();
        assert_eq!(streamed, pt, "len {len}");
    }
}

#[test]
fn empty_plaintext_is_one_empty_final_chunk() {
    let ct = encrypt_to_vec(&dek(), b"", CTX).unwrap();
    assert_eq!(ct.len(), HEADER + 16);
    assert!(decrypt_to_vec(&dek(), &ct, CTX).unwrap().is_empty());
    // Without its final chunk, the empty stream is refused rather than read as empty.
    assert!(matches!(
        refused(&ct[..HEADER]),
        Error::Malformed {
            reason: "final chunk missing",
            ..
        }
    ));
}

#[test]
fn default_chunk_size_round_trips_many_chunks() {
    let pt = plaintext(5 * 64 * 1024 + 3);
    let ct = encrypt_to_vec(&dek(), &pt, CTX).unwrap();
    let header = StreamHeader::parse(&ct).unwrap();
    assert_eq!(header.chunk_size(), 64 * 1024);
    assert_eq!(header.chunk_count(pt.len() as u64), 6);
    assert_eq!(ct.len(), HEADER + pt.len() + 6 * 16);
    assert_eq!(&decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..], &pt[..]);
}

#[tokio::test]
async fn async_round_trip_through_a_small_pipe_with_odd_write_and_read_sizes() {
    let pt = plaintext(7 * 1024 + 333);
    // A 97-byte pipe: the encryptor's writes and the decryptor's reads both return `Pending`
    // and short counts, exercising every resume point.
    let (writer, reader) = tokio::io::duplex(97);
    let data = pt.clone();
    let writing = tokio::spawn(async move {
        let mut enc = StreamEncryptor::with_options(&dek(), writer, CTX, &small()).unwrap();
        let sizes = [1usize, 7, 1000, 3333, 13, 1024];
        let (mut at, mut i) = (0, 0);
        while at < data.len() {
            let n = sizes[i % sizes.len()].min(data.len() - at);
            enc.write_all(&data[at..at + n]).await.unwrap();
            at += n;
            i += 1;
        }
        enc.shutdown().await.unwrap();
    });
    let mut dec = StreamDecryptor::new(&dek(), reader, CTX);
    let mut out = Vec::new();
    let mut buf = [0u8; 61];
    loop {
        let n = dec.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    writing.await.unwrap();
    assert_eq!(out, pt);
}

#[tokio::test]
async fn stream_written_with_exact_chunk_multiple_round_trips_async() {
    for len in [0usize, 1024, 3072] {
        let pt = plaintext(len);
        let mut enc = StreamEncryptor::with_options(&dek(), Vec::new(), CTX, &small()).unwrap();
        enc.write_all(&pt).await.unwrap();
        enc.flush().await.unwrap();
        enc.shutdown().await.unwrap();
        let ct = enc.into_inner();
        assert_eq!(ct.len(), HEADER + len + 16 * len.div_ceil(1024).max(1));
        assert_eq!(decrypt_async(&dek(), &ct, 1024).await.unwrap(), pt);
    }
}

#[tokio::test]
async fn encryptor_dropped_without_shutdown_leaves_a_stream_that_never_opens() {
    let mut enc = StreamEncryptor::with_options(&dek(), Vec::new(), CTX, &small()).unwrap();
    enc.write_all(&plaintext(40_000)).await.unwrap();
    enc.flush().await.unwrap();
    let ct = enc.into_inner();
    // Two full batches (16 chunks each) were sealed and flushed; the rest was never sealed.
    assert_eq!(ct.len(), HEADER + 32 * SEALED);
    assert!(matches!(
        decrypt_to_vec(&dek(), &ct, CTX),
        Err(Error::Decrypt)
    ));
    assert!(decrypt_async(&dek(), &ct, 512).await.is_err());
}

#[tokio::test]
async fn writing_after_shutdown_is_api_misuse() {
    let mut enc = StreamEncryptor::new(&dek(), Vec::new(), CTX).unwrap();
    enc.write_all(b"abc").await.unwrap();
    enc.shutdown().await.unwrap();
    let err = enc.write_all(b"more").await.unwrap_err();
    assert!(matches!(Error::from_io(err), Error::ApiMisuse(_)));
    // A second shutdown does not add a second final chunk.
    enc.shutdown().await.unwrap();
    let ct = enc.into_inner();
    assert_eq!(&decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..], b"abc");
}

#[test]
fn chunk_sizes_outside_the_bounds_are_refused() {
    for size in [0, 1023, 4 * 1024 * 1024 + 1] {
        let options = StreamOptions::new().with_chunk_size(size);
        assert!(matches!(
            encrypt_to_vec_with(&dek(), b"x", CTX, &options),
            Err(Error::ApiMisuse(_))
        ));
        assert!(matches!(
            StreamEncryptor::with_options(&dek(), Vec::new(), CTX, &options),
            Err(Error::ApiMisuse(_))
        ));
    }
    for size in [stream::MIN_CHUNK_SIZE, stream::MAX_CHUNK_SIZE] {
        let options = StreamOptions::new().with_chunk_size(size);
        let ct = encrypt_to_vec_with(&dek(), b"bounds", CTX, &options).unwrap();
        assert_eq!(&decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..], b"bounds");
    }
}

#[test]
fn each_object_gets_a_fresh_salt_and_ciphertext() {
    let a = encrypt_to_vec(&dek(), b"same plaintext", CTX).unwrap();
    let b = encrypt_to_vec(&dek(), b"same plaintext", CTX).unwrap();
    assert_ne!(a[17..49], b[17..49], "salts must differ");
    assert_ne!(a[HEADER..], b[HEADER..]);
}

// ---- tampering ----

fn three_chunks() -> Vec<u8> {
    encrypt_to_vec_with(&dek(), &plaintext(2600), CTX, &small()).unwrap()
}

fn chunk(ct: &[u8], i: usize) -> &[u8] {
    &ct[HEADER + i * SEALED..(HEADER + (i + 1) * SEALED).min(ct.len())]
}

#[test]
fn stream_fails_to_decrypt_truncated_file() {
    let ct = three_chunks();
    let boundaries = [HEADER, HEADER + SEALED, HEADER + 2 * SEALED];
    let inside = [
        HEADER + 1,
        HEADER + 15,
        HEADER + 16,
        HEADER + 500,
        HEADER + SEALED + 17,
    ];
    for cut in boundaries.into_iter().chain(inside).chain([ct.len() - 1]) {
        let err = refused(&ct[..cut]);
        assert!(
            matches!(err, Error::Decrypt | Error::Malformed { .. }),
            "cut at {cut}: {err:?}"
        );
    }
}

/// A stream cut so that only a bare tag's worth of bytes follows a full batch of chunks: the
/// reader calls it truncated (an empty chunk is final only as the stream's only chunk) rather
/// than trying to open those bytes as a final chunk.
#[test]
fn a_bare_tag_after_full_batches_reads_as_truncated() {
    // 1 KiB chunks go 16 to a batch: 17 chunks, cut 16 bytes into the 17th.
    let ct = encrypt_to_vec_with(&dek(), &plaintext(17 * 1024), CTX, &small()).unwrap();
    let cut = ct[..HEADER + 16 * SEALED + 16].to_vec();
    let err = rt().block_on(async {
        let mut out = Vec::new();
        StreamDecryptor::new(&dek(), &cut[..], CTX)
            .read_to_end(&mut out)
            .await
            .unwrap_err()
    });
    assert!(
        matches!(
            Error::from_io(err),
            Error::Malformed {
                reason: "truncated: final chunk missing",
                ..
            }
        ),
        "a cut stream is reported as truncated"
    );
}

/// Within one batch too: input that ends less than a tag into a chunk, or with a bare tag
/// after other chunks, is reported as truncated by the reader, before any chunk is opened.
#[test]
fn a_last_chunk_too_short_for_its_tag_reads_as_truncated() {
    let ct = three_chunks();
    for cut in [
        HEADER + 5,
        HEADER + SEALED + 5,
        HEADER + SEALED + 16,
        HEADER + 2 * SEALED + 15,
    ] {
        let err = rt()
            .block_on(decrypt_async(&dek(), &ct[..cut], 4096))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    reason: "truncated: final chunk missing",
                    ..
                }
            ),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn stream_fails_to_decrypt_with_trailing_bytes() {
    let mut ct = three_chunks();
    ct.push(0);
    assert!(matches!(refused(&ct), Error::Decrypt));
    // A whole extra chunk copied from the object is refused as well.
    let mut ct = three_chunks();
    let extra = chunk(&ct, 1).to_vec();
    ct.extend_from_slice(&extra);
    refused(&ct);
}

#[test]
fn stream_fails_to_decrypt_reordered_duplicated_or_dropped_chunks() {
    let ct = three_chunks();
    let head = &ct[..HEADER];
    let cases: [&[usize]; 5] = [&[1, 0, 2], &[0, 2, 1], &[0, 0, 1, 2], &[0, 2], &[1, 2]];
    for order in cases {
        let mut bad = head.to_vec();
        for &i in order {
            bad.extend_from_slice(chunk(&ct, i));
        }
        assert!(
            matches!(refused(&bad), Error::Decrypt | Error::Malformed { .. }),
            "{order:?}"
        );
    }
}

#[test]
fn chunks_cannot_be_moved_between_objects_under_one_key() {
    let a = three_chunks();
    let b = three_chunks();
    let mut mixed = a[..HEADER + SEALED].to_vec();
    mixed.extend_from_slice(chunk(&b, 1));
    mixed.extend_from_slice(chunk(&a, 2));
    assert!(matches!(refused(&mixed), Error::Decrypt));
}

#[test]
fn stream_fails_when_any_header_field_changes() {
    let ct = three_chunks();
    // Magic.
    let mut bad = ct.clone();
    bad[0] ^= 1;
    assert!(matches!(
        refused(&bad),
        Error::Malformed {
            reason: "not a ward stream (bad magic)",
            ..
        }
    ));
    // Version: relabelled as version 1 (which binds no context) it fails; unknown is refused.
    let mut bad = ct.clone();
    bad[8] = 1;
    assert!(matches!(refused(&bad), Error::Decrypt));
    let mut bad = ct.clone();
    bad[8] = 3;
    assert!(matches!(
        refused(&bad),
        Error::UnsupportedVersion { version: 3 }
    ));
    // Key id: refused by id; and a key with the new id but the same bytes still fails, because
    // the header is every chunk's associated data.
    let mut bad = ct.clone();
    bad[12] ^= 1;
    assert!(matches!(
        refused(&bad),
        Error::KeyIdMismatch {
            expected: DekId(6),
            actual: DekId(7)
        }
    ));
    let renamed = DataKey::new(DekId(6), KeyMaterial::from_bytes(&[0x42; 32]).unwrap());
    assert!(matches!(
        decrypt_to_vec(&renamed, &bad, CTX),
        Err(Error::Decrypt)
    ));
    // Chunk size: 2048 makes the length impossible or the chunks fail.
    let mut bad = ct.clone();
    bad[13..17].copy_from_slice(&2048u32.to_be_bytes());
    refused(&bad);
    // Every byte of salt and commitment.
    for at in 17..HEADER {
        let mut bad = ct.clone();
        bad[at] ^= 0x80;
        assert!(matches!(refused(&bad), Error::Decrypt), "byte {at}");
    }
}

#[test]
fn every_single_bit_flip_in_a_small_stream_is_detected() {
    let ct = encrypt_to_vec_with(&dek(), &plaintext(1500), CTX, &small()).unwrap();
    for byte in 0..ct.len() {
        for bit in 0..8 {
            let mut bad = ct.clone();
            bad[byte] ^= 1 << bit;
            assert!(
                decrypt_to_vec(&dek(), &bad, CTX).is_err(),
                "flip {byte}:{bit}"
            );
        }
    }
}

#[tokio::test]
async fn decryptor_releases_only_verified_batches_and_fails_for_good_after_a_bad_chunk() {
    // 1 KiB chunks are opened 16 at a time; chunk 17 (in the second batch) is damaged.
    let pt = plaintext(40_000);
    let mut ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
    ct[HEADER + 17 * SEALED + 3] ^= 1;
    let mut dec = StreamDecryptor::new(&dek(), &ct[..], CTX);
    let mut released = Vec::new();
    let mut buf = vec![0u8; 3000];
    let err = loop {
        match dec.read(&mut buf).await {
            Ok(0) => panic!("a damaged stream must not end cleanly"),
            Ok(n) => released.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    // Exactly the first batch, verified, was released; nothing of the damaged batch.
    assert_eq!(released.len(), 16 * 1024);
    assert_eq!(released, &pt[..16 * 1024]);
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(matches!(Error::from_io(err), Error::Decrypt));
    assert!(dec.read(&mut buf).await.is_err());
}

#[test]
fn round_trips_and_tamper_detection_across_batch_boundaries() {
    // 1 KiB chunks are sealed and opened 16 at a time.
    for len in [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 32 * 1024, 50_000] {
        let pt = plaintext(len);
        let ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
        let streamed = rt().block_on(async {
            let (writer, reader) = tokio::io::duplex(4096);
            let data = pt.clone();
            let writing = tokio::spawn(async move {
                let mut enc = StreamEncryptor::with_options(&dek(), writer, CTX, &small()).unwrap();
                for piece in data.chunks(777) {
                    enc.write_all(piece).await.unwrap();
                }
                enc.shutdown().await.unwrap();
            });
            let mut out = Vec::new();
            StreamDecryptor::new(&dek(), reader, CTX)
                .read_to_end(&mut out)
                .await
                .unwrap();
            writing.await.unwrap();
            out
        });
        assert_eq!(streamed, pt, "len {len}");
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..],
            &pt[..],
            "len {len}"
        );
        let chunks = len.div_ceil(1024);
        // Truncated at every chunk boundary near the batch edge, and one byte short.
        for cut_chunks in [15usize, 16, 17].into_iter().filter(|&c| c < chunks) {
            refused(&ct[..HEADER + cut_chunks * SEALED]);
        }
        refused(&ct[..ct.len() - 1]);
        // Chunks swapped across the batch edge.
        if chunks > 17 {
            let mut bad = ct[..HEADER + 15 * SEALED].to_vec();
            bad.extend_from_slice(chunk(&ct, 16));
            bad.extend_from_slice(chunk(&ct, 15));
            bad.extend_from_slice(&ct[HEADER + 17 * SEALED..]);
            assert!(matches!(refused(&bad), Error::Decrypt), "len {len}");
        }
    }
}

#[tokio::test]
async fn default_size_batches_detect_any_damage_and_serve_ranges() {
    // Default 64 KiB chunks: batches of four chunks (256 KiB).
    let pt = plaintext(1024 * 1024 + 12_345);
    let ct = encrypt_to_vec(&dek(), &pt, CTX).unwrap();
    assert_eq!(decrypt_async(&dek(), &ct, 100_000).await.unwrap(), pt);
    let sealed = 64 * 1024 + 16;
    for at in [
        HEADER + 5,
        HEADER + 3 * sealed + 7,
        HEADER + 9 * sealed / 2,
        ct.len() - 1,
    ] {
        let mut bad = ct.clone();
        bad[at] ^= 0x40;
        assert!(
            matches!(decrypt_to_vec(&dek(), &bad, CTX), Err(Error::Decrypt)),
            "byte {at}"
        );
        assert!(
            decrypt_async(&dek(), &bad, 65_536).await.is_err(),
            "byte {at}"
        );
    }
    // Chunks 1 and 2 swapped inside one batch.
    let mut bad = ct[..HEADER + sealed].to_vec();
    bad.extend_from_slice(&ct[HEADER + 2 * sealed..HEADER + 3 * sealed]);
    bad.extend_from_slice(&ct[HEADER + sealed..HEADER + 2 * sealed]);
    bad.extend_from_slice(&ct[HEADER + 3 * sealed..]);
    assert!(matches!(
        decrypt_to_vec(&dek(), &bad, CTX),
        Err(Error::Decrypt)
    ));
    assert!(decrypt_async(&dek(), &bad, 65_536).await.is_err());
    // A range across several batches equals the slice.
    let header = StreamHeader::parse(&ct).unwrap();
    let plan = header.plan_range(100..1_000_000, ct.len() as u64).unwrap();
    let fetch = plan.ciphertext_range();
    let fetched = &ct[fetch.start as usize..fetch.end as usize];
    let mut out = Vec::new();
    StreamDecryptor::for_range(&dek(), &header, &plan, fetched, CTX)
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    assert_eq!(out, &pt[100..1_000_000]);
}

// ---- keys ----

#[tokio::test]
async fn debug_output_shows_no_key_or_plaintext() {
    let mut enc = StreamEncryptor::with_options(&dek(), Vec::new(), CTX, &small()).unwrap();
    enc.write_all(b"SECRET-PATIENT-NAME").await.unwrap();
    let shown = format!("{enc:?}");
    assert!(shown.contains("key_id: DekId(7)"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(!shown.to_lowercase().contains("4242"), "{shown}");
    enc.shutdown().await.unwrap();
    let ct = enc.into_inner();
    let mut dec = StreamDecryptor::new(&dek(), &ct[..], CTX);
    let mut first = [0u8; 3];
    dec.read_exact(&mut first).await.unwrap();
    let shown = format!("{dec:?}");
    assert!(shown.contains("buffered_plaintext: 16"), "{shown}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("PATIENT"),
        "{shown}"
    );
}

#[test]
fn wrong_data_key_with_the_same_id_fails_to_decrypt() {
    let ct = three_chunks();
    let other = DataKey::new(DekId(7), KeyMaterial::from_bytes(&[0x43; 32]).unwrap());
    assert!(matches!(
        decrypt_to_vec(&other, &ct, CTX),
        Err(Error::Decrypt)
    ));
    let err = rt().block_on(decrypt_async(&other, &ct, 64)).unwrap_err();
    assert!(matches!(err, Error::Decrypt));
}

#[test]
fn data_key_with_another_id_is_refused_by_id() {
    let ct = three_chunks();
    let other = DataKey::new(DekId(8), KeyMaterial::from_bytes(&[0x42; 32]).unwrap());
    let err = decrypt_to_vec(&other, &ct, CTX).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ciphertext was written under key id 7, not key id 8"
    );
    let header = StreamHeader::parse(&ct).unwrap();
    assert!(matches!(
        StreamDecryptor::with_header(&other, &header, &ct[HEADER..], CTX),
        Err(Error::KeyIdMismatch { .. })
    ));
}

#[tokio::test]
async fn header_parses_without_a_key_and_resolves_the_key_first() {
    let ct = three_chunks();
    let header = StreamHeader::parse(&ct[..MAX_HEADER_LEN]).unwrap();
    assert_eq!(header.key_id(), DekId(7));
    assert_eq!(header.version(), stream::CURRENT_VERSION);
    assert_eq!(header.chunk_size(), SMALL);
    assert_eq!(header.encoded_len(), stream::header_len(&ct).unwrap());
    assert_eq!(header.to_bytes(), &ct[..HEADER]);
    assert_eq!(header.plaintext_len(ct.len() as u64).unwrap(), 2600);

    // Streamed: read the header, resolve the key by id, decrypt the rest.
    let mut reader = &ct[..];
    let read = read_header(&mut reader).await.unwrap();
    assert_eq!(read, header);
    assert_eq!(reader.len(), ct.len() - HEADER);
    let key = dek(); // resolved by `read.key_id()` in a real store
    let mut dec = StreamDecryptor::with_header(&key, &read, reader, CTX).unwrap();
    let mut out = Vec::new();
    dec.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, plaintext(2600));

    let mut short = &ct[..50];
    assert!(matches!(
        read_header(&mut short).await,
        Err(Error::Malformed {
            reason: "truncated header",
            ..
        })
    ));
}

// ---- range reads ----

fn range_of(ct: &[u8], dek: &DataKey, range: Range<u64>) -> Result<Vec<u8>, Error> {
    let header = StreamHeader::parse(ct)?;
    let plan = header.plan_range(range, ct.len() as u64)?;
    let fetch = plan.ciphertext_range();
    let fetched = &ct[fetch.start as usize..fetch.end as usize];
    let sync = decrypt_range(dek, &header, &plan, fetched, CTX)?;
    let streamed = rt().block_on(async {
        let mut dec = StreamDecryptor::for_range(dek, &header, &plan, fetched, CTX)?;
        let mut out = Vec::new();
        dec.read_to_end(&mut out).await.map_err(Error::from_io)?;
        Ok::<_, Error>(out)
    })?;
    assert_eq!(&sync[..], &streamed[..]);
    Ok(streamed)
}

#[test]
fn range_reads_fetch_only_the_covering_chunks() {
    let pt = plaintext(10 * 1024 + 100);
    let ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
    let header = StreamHeader::parse(&ct).unwrap();
    let total = ct.len() as u64;
    let h = HEADER as u64;
    let s = SEALED as u64;
    // (plaintext range, expected ciphertext range)
    let cases: [(Range<u64>, Range<u64>); 6] = [
        (0..1, h..h + s),                                // first chunk only
        (1023..1025, h..h + 2 * s),                      // straddles chunks 0 and 1
        (2048..3072, h + 2 * s..h + 3 * s),              // exactly chunk 2
        (10 * 1024..10 * 1024 + 100, h + 10 * s..total), // the short final chunk
        (5000..10 * 1024 + 100, h + 4 * s..total),       // to the end
        (0..10 * 1024 + 100, h..total),                  // everything
    ];
    for (range, expected) in cases {
        let plan = header.plan_range(range.clone(), total).unwrap();
        assert_eq!(plan.ciphertext_range(), expected, "{range:?}");
        assert_eq!(plan.plaintext_range(), range);
        let got = range_of(&ct, &dek(), range.clone()).unwrap();
        assert_eq!(
            got,
            &pt[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
    let plan = header.plan_range(2048..3072, total).unwrap();
    assert_eq!(
        plan.http_range().unwrap(),
        format!("bytes={}-{}", h + 2 * s, h + 3 * s - 1)
    );
}

#[test]
fn empty_ranges_yield_nothing_and_fetch_nothing() {
    let ct = three_chunks();
    let header = StreamHeader::parse(&ct).unwrap();
    let (h, s) = (HEADER as u64, SEALED as u64);
    // An empty plan sits, fetching nothing, at the start of the chunk that holds its offset.
    for (at, sits_at) in [(0u64, h), (1024, h + s), (2600, h + 2 * s)] {
        let plan = header.plan_range(at..at, ct.len() as u64).unwrap();
        assert!(plan.is_empty());
        assert_eq!(plan.ciphertext_range(), sits_at..sits_at, "at {at}");
        assert_eq!(plan.ciphertext_len(), 0);
        assert_eq!(plan.http_range(), None);
        assert!(range_of(&ct, &dek(), at..at).unwrap().is_empty());
    }
}

#[test]
fn reading_all_of_an_empty_object_still_verifies_its_final_chunk() {
    let empty = encrypt_to_vec(&dek(), b"", CTX).unwrap();
    let header = StreamHeader::parse(&empty).unwrap();
    let plan = header.plan_range(0..0, empty.len() as u64).unwrap();
    assert!(!plan.is_empty());
    assert_eq!(plan.ciphertext_range(), HEADER as u64..empty.len() as u64);
    assert!(range_of(&empty, &dek(), 0..0).unwrap().is_empty());
    let mut forged = empty;
    forged[HEADER] ^= 1;
    assert!(matches!(
        range_of(&forged, &dek(), 0..0),
        Err(Error::Decrypt)
    ));
}

#[test]
fn ranges_past_the_end_are_refused_clearly() {
    let ct = three_chunks();
    let header = StreamHeader::parse(&ct).unwrap();
    let total = ct.len() as u64;
    for range in [2600..2601, 0..2601, 3000..4000, 2601..2601] {
        let err = header.plan_range(range.clone(), total).unwrap_err();
        assert!(
            matches!(err, Error::RangeOutOfBounds { start, end, len: 2600 } if start == range.start && end == range.end),
            "{range:?}: {err:?}"
        );
    }
    #[expect(
        clippy::reversed_empty_ranges,
        reason = "a reversed range is the input under test"
    )]
    let reversed = 10..5;
    assert!(matches!(
        header.plan_range(reversed, total),
        Err(Error::RangeOutOfBounds { .. })
    ));
    assert_eq!(
        header.plan_range(0..3000, total).unwrap_err().to_string(),
        "byte range 0..3000 is outside the plaintext of 2600 bytes"
    );
}

#[test]
fn range_reads_detect_tampering_and_truncation_of_what_they_cover() {
    let ct = three_chunks();
    let header = StreamHeader::parse(&ct).unwrap();
    // A flipped bit inside the covered chunk.
    let mut bad = ct.clone();
    bad[HEADER + SEALED + 10] ^= 1;
    assert!(matches!(
        range_of(&bad, &dek(), 1030..1040),
        Err(Error::Decrypt)
    ));
    // Swapped chunks: chunk 0's bytes at chunk 1's place.
    let mut swapped = ct[..HEADER].to_vec();
    swapped.extend_from_slice(chunk(&ct, 1));
    swapped.extend_from_slice(chunk(&ct, 0));
    swapped.extend_from_slice(chunk(&ct, 2));
    assert!(matches!(
        range_of(&swapped, &dek(), 1030..1040),
        Err(Error::Decrypt)
    ));
    // Truncated at a chunk boundary: the last remaining chunk is read as final and fails.
    let cut = &ct[..HEADER + 2 * SEALED];
    assert!(matches!(
        range_of(cut, &dek(), 1030..1040),
        Err(Error::Decrypt)
    ));
    // Fetched bytes shorter than planned.
    let plan = header.plan_range(0..10, ct.len() as u64).unwrap();
    assert!(matches!(
        decrypt_range(&dek(), &header, &plan, &ct[HEADER..HEADER + 100], CTX),
        Err(Error::Malformed { .. })
    ));
    let short = rt().block_on(async {
        let mut dec =
            StreamDecryptor::for_range(&dek(), &header, &plan, &ct[HEADER..HEADER + 100], CTX)
                .unwrap();
        dec.read_to_end(&mut Vec::new()).await
    });
    assert!(matches!(
        Error::from_io(short.unwrap_err()),
        Error::Malformed { .. }
    ));
    // Wrong key.
    let other = DataKey::new(DekId(7), KeyMaterial::from_bytes(&[1; 32]).unwrap());
    assert!(matches!(range_of(&ct, &other, 0..10), Err(Error::Decrypt)));
}

#[tokio::test]
async fn open_range_reads_a_slice_of_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.ward");
    let pt = plaintext(200_000);
    {
        let file = tokio::fs::File::create(&path).await.unwrap();
        let mut enc = StreamEncryptor::new(&dek(), file, CTX).unwrap();
        enc.write_all(&pt).await.unwrap();
        enc.shutdown().await.unwrap();
    }
    for range in [
        0..10u64,
        65_530..65_545,
        131_072..200_000,
        199_999..200_000,
        500..500,
    ] {
        let file = tokio::fs::File::open(&path).await.unwrap();
        let mut reader = open_range(&dek(), file, range.clone(), CTX).await.unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(
            out,
            &pt[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
    let file = tokio::fs::File::open(&path).await.unwrap();
    assert!(matches!(
        open_range(&dek(), file, 199_999..200_001, CTX).await,
        Err(Error::RangeOutOfBounds { len: 200_000, .. })
    ));
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_plaintext_round_trips(pt in proptest::collection::vec(any::<u8>(), 0..5000), read in 1usize..3000) {
        let ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
        prop_assert_eq!(&decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..], &pt[..]);
        let streamed = rt().block_on(decrypt_async(&dek(), &ct, read)).unwrap();
        prop_assert_eq!(streamed, pt);
    }

    #[test]
    fn any_bit_flip_is_an_error(len in 0usize..4000, at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut ct = encrypt_to_vec_with(&dek(), &plaintext(len), CTX, &small()).unwrap();
        let i = at.index(ct.len());
        ct[i] ^= 1 << bit;
        prop_assert!(decrypt_to_vec(&dek(), &ct, CTX).is_err());
        prop_assert!(rt().block_on(decrypt_async(&dek(), &ct, 700)).is_err());
    }

    #[test]
    fn any_truncation_is_an_error(len in 0usize..4000, at in any::<prop::sample::Index>()) {
        let ct = encrypt_to_vec_with(&dek(), &plaintext(len), CTX, &small()).unwrap();
        let cut = at.index(ct.len());
        prop_assert!(decrypt_to_vec(&dek(), &ct[..cut], CTX).is_err());
        prop_assert!(rt().block_on(decrypt_async(&dek(), &ct[..cut], 700)).is_err());
    }

    #[test]
    fn any_extension_is_an_error(len in 0usize..4000, extra in proptest::collection::vec(any::<u8>(), 1..2000)) {
        let mut ct = encrypt_to_vec_with(&dek(), &plaintext(len), CTX, &small()).unwrap();
        ct.extend_from_slice(&extra);
        prop_assert!(decrypt_to_vec(&dek(), &ct, CTX).is_err());
        prop_assert!(rt().block_on(decrypt_async(&dek(), &ct, 700)).is_err());
    }

    #[test]
    fn any_chunk_rearrangement_is_an_error(
        len in 1025usize..6000,
        order in proptest::collection::vec(0usize..6, 1..8),
    ) {
        let ct = encrypt_to_vec_with(&dek(), &plaintext(len), CTX, &small()).unwrap();
        let chunks = len.div_ceil(1024);
        let order: Vec<usize> = order.into_iter().map(|i| i % chunks).collect();
        prop_assume!(order != (0..chunks).collect::<Vec<_>>());
        let mut bad = ct[..HEADER].to_vec();
        for i in order {
            bad.extend_from_slice(chunk(&ct, i));
        }
        prop_assert!(decrypt_to_vec(&dek(), &bad, CTX).is_err());
        prop_assert!(rt().block_on(decrypt_async(&dek(), &bad, 700)).is_err());
    }

    #[test]
    fn any_header_byte_change_is_an_error(len in 0usize..3000, at in 0usize..HEADER, xor in 1u8..=255) {
        let mut ct = encrypt_to_vec_with(&dek(), &plaintext(len), CTX, &small()).unwrap();
        ct[at] ^= xor;
        prop_assert!(decrypt_to_vec(&dek(), &ct, CTX).is_err());
        prop_assert!(rt().block_on(decrypt_async(&dek(), &ct, 700)).is_err());
    }

    #[test]
    fn any_range_equals_the_same_slice_of_a_full_decryption(
        len in 0usize..6000,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let pt = plaintext(len);
        let ct = encrypt_to_vec_with(&dek(), &pt, CTX, &small()).unwrap();
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let range = x.min(y) as u64..x.max(y) as u64;
        let full = decrypt_to_vec(&dek(), &ct, CTX).unwrap();
        let got = range_of(&ct, &dek(), range.clone()).unwrap();
        prop_assert_eq!(&got[..], &full[range.start as usize..range.end as usize]);
        // The plan fetches whole chunks, only those overlapping the range.
        let header = StreamHeader::parse(&ct).unwrap();
        let plan = header.plan_range(range.clone(), ct.len() as u64).unwrap();
        if !range.is_empty() {
            let chunks_fetched = plan.ciphertext_len().div_ceil(SEALED as u64);
            let chunks_needed = (range.end - 1) / 1024 - range.start / 1024 + 1;
            prop_assert_eq!(chunks_fetched, chunks_needed);
            prop_assert_eq!((plan.ciphertext_range().start - HEADER as u64) % SEALED as u64, 0);
        }
    }
}

// ---- golden files (format v1) ----

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/stream")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn golden_v1_files_decrypt_to_their_plaintexts() {
    for (name, len) in [
        ("v1-empty.ward", 0),
        ("v1-one-byte.ward", 1),
        ("v1-one-chunk.ward", 1024),
        ("v1-chunk-plus-one.ward", 1025),
        ("v1-three-chunks.ward", 2600),
        ("v1-default-chunk-size.ward", 70_000),
    ] {
        let ct = golden(name);
        assert_eq!(
            StreamHeader::parse(&ct).unwrap().key_id(),
            DekId(7),
            "{name}"
        );
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..],
            &plaintext(len)[..],
            "{name}"
        );
        assert_eq!(
            rt().block_on(decrypt_async(&dek(), &ct, 999)).unwrap(),
            plaintext(len),
            "{name}"
        );
    }
}

#[test]
fn golden_v1_must_fail_files_are_refused() {
    for name in [
        "v1-truncated-final-chunk-dropped.ward",
        "v1-truncated-mid-chunk.ward",
        "v1-trailing-garbage.ward",
        "v1-swapped-chunks.ward",
        "v1-duplicated-chunk.ward",
        "v1-flipped-tag-bit.ward",
    ] {
        assert!(matches!(refused(&golden(name)), Error::Decrypt), "{name}");
    }
    assert!(matches!(
        refused(&golden("v1-truncated-header.ward")),
        Error::Malformed {
            reason: "truncated header",
            ..
        }
    ));
    // Made when no version 2 existed (a v1 object with its version byte set to 2): it now reads
    // as a version 2 object whose chunks were sealed with another header and no context.
    assert!(matches!(
        refused(&golden("v2-unknown-version.ward")),
        Error::Decrypt
    ));
}

// ---- golden files (format v2: chunks bound to a context) ----

/// The context the version 2 golden files were written for (tests/data/stream/README.md).
const GOLDEN_CONTEXT: &[u8] = b"workspaces/00000000-0000-4000-8000-000000000001/clients/00000000-0000-4000-8000-000000000002/attachments/00000000-0000-4000-8000-000000000003.pdf";

#[test]
fn golden_v2_files_decrypt_to_their_plaintexts_only_in_their_context() {
    for (name, len) in [
        ("v2-empty.ward", 0),
        ("v2-one-byte.ward", 1),
        ("v2-one-chunk.ward", 1024),
        ("v2-three-chunks.ward", 2600),
        ("v2-default-chunk-size.ward", 70_000),
    ] {
        let ct = golden(name);
        let header = StreamHeader::parse(&ct).unwrap();
        assert_eq!((header.version(), header.key_id()), (2, DekId(7)), "{name}");
        assert!(header.binds_context());
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, GOLDEN_CONTEXT).unwrap()[..],
            &plaintext(len)[..],
            "{name}"
        );
        let mut moved = GOLDEN_CONTEXT.to_vec();
        let last = moved.len() - 5;
        moved[last] = b'4'; // another attachment id
        for context in [&moved[..], b"", CTX] {
            assert!(
                matches!(decrypt_to_vec(&dek(), &ct, context), Err(Error::Decrypt)),
                "{name} opened in another context"
            );
            let mut dec = StreamDecryptor::new(&dek(), &ct[..], context);
            let err = rt().block_on(dec.read_to_end(&mut Vec::new())).unwrap_err();
            assert!(matches!(Error::from_io(err), Error::Decrypt), "{name}");
        }
    }
}

#[test]
fn golden_v2_must_fail_files_are_refused() {
    let open = |name: &str| decrypt_to_vec(&dek(), &golden(name), GOLDEN_CONTEXT).map(|_| ());
    // A v2 object relabelled v1 (to skip the context) fails: the version byte is authenticated.
    assert!(matches!(
        open("v2-downgraded-to-v1.ward"),
        Err(Error::Decrypt)
    ));
    // Tags valid under the key, but another key's commitment: the commitment check refuses it.
    assert!(matches!(
        open("v2-other-key-commitment.ward"),
        Err(Error::Decrypt)
    ));
    assert!(matches!(
        open("v3-unknown-version.ward"),
        Err(Error::UnsupportedVersion { version: 3 })
    ));
}

#[test]
fn version_1_objects_still_open_and_say_they_bind_no_context() {
    let ct = golden("v1-three-chunks.ward");
    let header = StreamHeader::parse(&ct).unwrap();
    assert_eq!(header.version(), 1);
    assert!(!header.binds_context());
    for context in [b"" as &[u8], CTX, GOLDEN_CONTEXT] {
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, context).unwrap()[..],
            &plaintext(2600)[..]
        );
    }
}

// ---- contexts: an object copied onto another object fails ----

#[test]
fn a_stream_opens_only_in_the_context_it_was_written_for() {
    let ct = encrypt_to_vec_with(&dek(), &plaintext(5000), CTX, &small()).unwrap();
    assert_eq!(StreamHeader::parse(&ct).unwrap().version(), 2);
    let header = StreamHeader::parse(&ct).unwrap();
    let plan = header.plan_range(3000..3100, ct.len() as u64).unwrap();
    let fetched = &ct[plan.ciphertext_range().start as usize..plan.ciphertext_range().end as usize];
    for other in [
        b"workspaces/w/clients/c/attachments/b.jpg" as &[u8],
        b"workspaces/x/clients/c/attachments/a.jpg",
        b"workspaces/w/clients/c/attachments/a.jpg\0",
        b"",
    ] {
        assert!(matches!(
            decrypt_to_vec(&dek(), &ct, other),
            Err(Error::Decrypt)
        ));
        assert!(matches!(
            decrypt_range(&dek(), &header, &plan, fetched, other),
            Err(Error::Decrypt)
        ));
    }
    assert_eq!(
        &decrypt_range(&dek(), &header, &plan, fetched, CTX).unwrap()[..],
        &plaintext(5000)[3000..3100]
    );
}

// ---- the pull-shaped encryptor ----

/// A plaintext source that yields its bytes in pieces of the given sizes, returning `Pending`
/// before every other piece, then fails or ends.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    step: usize,
    fail_at_end: bool,
    pending: bool,
}

impl tokio::io::AsyncRead for Trickle {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pending {
            self.pending = false;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.pending = true;
        if self.at == self.data.len() {
            return std::task::Poll::Ready(if self.fail_at_end {
                Err(std::io::Error::other("upload connection reset"))
            } else {
                Ok(())
            });
        }
        let size = self.sizes[self.step % self.sizes.len()];
        self.step += 1;
        let n = size.min(buf.remaining()).min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        std::task::Poll::Ready(Ok(()))
    }
}

fn trickle(data: Vec<u8>, fail_at_end: bool) -> Trickle {
    Trickle {
        data,
        at: 0,
        sizes: vec![1, 700, 4096, 13, 1024, 100_000],
        step: 0,
        fail_at_end,
        pending: false,
    }
}

#[tokio::test]
async fn encrypting_reader_round_trips_at_chunk_and_batch_edges() {
    // 1 KiB chunks: a batch is 16 chunks (16 KiB), so these cross chunk and batch edges.
    for len in [
        0,
        1,
        1023,
        1024,
        1025,
        16 * 1024 - 1,
        16 * 1024,
        16 * 1024 + 1,
        100_003,
    ] {
        let pt = plaintext(len);
        let mut reader = stream::EncryptingReader::with_options(
            &dek(),
            trickle(pt.clone(), false),
            CTX,
            &small(),
        )
        .unwrap();
        let mut ct = Vec::new();
        // Small reads from the consumer too.
        let mut buf = [0u8; 333];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            ct.extend_from_slice(&buf[..n]);
        }
        let header = StreamHeader::parse(&ct).unwrap();
        assert_eq!(header, *reader.header());
        assert_eq!(
            ct.len() as u64,
            header.ciphertext_len(len as u64).unwrap(),
            "len {len}"
        );
        assert_eq!(
            &decrypt_to_vec(&dek(), &ct, CTX).unwrap()[..],
            &pt[..],
            "len {len}"
        );
        // Reads after the end keep answering end of input.
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn encrypting_reader_passes_a_source_failure_on_and_never_seals_the_final_chunk() {
    for len in [0, 10, 16 * 1024, 50_000] {
        let mut reader = stream::EncryptingReader::with_options(
            &dek(),
            trickle(plaintext(len), true),
            CTX,
            &small(),
        )
        .unwrap();
        let mut ct = Vec::new();
        let mut buf = [0u8; 4096];
        let err = loop {
            match reader.read(&mut buf).await {
                Ok(0) => panic!("len {len}: a failing source must not end cleanly"),
                Ok(n) => ct.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(err.to_string(), "upload connection reset");
        // Fail closed: later reads fail too, and what came out before never opens.
        assert!(reader.read(&mut buf).await.is_err());
        assert!(decrypt_to_vec(&dek(), &ct, CTX).is_err(), "len {len}");
    }
}

/// A source that fails while the header is read is an I/O error, not a truncated header: the
/// caller may retry it.
#[tokio::test]
async fn a_failing_source_while_reading_the_header_is_an_io_error() {
    let ct = encrypt_to_vec(&dek(), b"abc", CTX).unwrap();
    for cut in [4, 9, 40] {
        let err = read_header(&mut trickle(ct[..cut].to_vec(), true))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.to_string() == "upload connection reset"),
            "cut {cut}: {err:?}"
        );
        // The same bytes ending cleanly are a truncated header.
        let err = read_header(&mut trickle(ct[..cut].to_vec(), false))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "cut {cut}: {err:?}");
    }
}
