//! Golden files of the field format, version 1, under `tests/data/field/`.
//!
//! Each file was written once by [`generate`] (an independent implementation of the format over
//! plain hkdf and aes-gcm, with a fixed key and nonce) and committed. They are never regenerated:
//! a reader that stops accepting them has broken stored data. To add a *new* case, add it to
//! [`CASES`] and run once with `WARD_GOLDEN_GENERATE=1`; existing files are never overwritten.

use std::path::PathBuf;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use ward_crypto::{DataKey, DekId, Error, FieldCipher, KeyMaterial};

/// The fixed DEK of every golden file: bytes 0, 1, …, 31, id 7.
fn dek_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

const KEY_ID: u32 = 7;
const NONCE: [u8; 12] = [
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB,
];

/// What opening a golden file must give.
enum Expect {
    Plaintext(&'static [u8]),
    Malformed,
    UnsupportedVersion(u8),
    Decrypt,
}

struct Case {
    file: &'static str,
    context: &'static [u8],
    expect: Expect,
}

const SHORT: &[u8] = b"jane.doe@example.org";
const NOTE: &[u8] = b"S: patient reports mild headache for 3 days.\nO: BP 120/80.\nA: tension headache.\nP: rest, fluids, review in 1 week.";

const CASES: &[Case] = &[
    Case {
        file: "v1_empty.bin",
        context: b"clients.notes:1",
        expect: Expect::Plaintext(b""),
    },
    Case {
        file: "v1_email.bin",
        context: b"clients.email:42",
        expect: Expect::Plaintext(SHORT),
    },
    Case {
        file: "v1_note.bin",
        context: b"sessions.soap:7",
        expect: Expect::Plaintext(NOTE),
    },
    Case {
        file: "v1_email.bin",
        context: b"clients.email:43",
        expect: Expect::Decrypt,
    },
    Case {
        file: "v1_truncated_header.bin",
        context: b"clients.email:42",
        expect: Expect::Malformed,
    },
    Case {
        file: "v1_truncated_tag.bin",
        context: b"clients.email:42",
        expect: Expect::Decrypt,
    },
    Case {
        file: "v1_trailing_garbage.bin",
        context: b"clients.email:42",
        expect: Expect::Decrypt,
    },
    Case {
        file: "unknown_version.bin",
        context: b"clients.email:42",
        expect: Expect::UnsupportedVersion(0x02),
    },
    Case {
        file: "v1_bad_commitment.bin",
        context: b"clients.email:42",
        expect: Expect::Decrypt,
    },
    Case {
        file: "v1_flipped_ciphertext.bin",
        context: b"sessions.soap:7",
        expect: Expect::Decrypt,
    },
    Case {
        file: "empty.bin",
        context: b"clients.email:42",
        expect: Expect::Malformed,
    },
    // Tags valid under the DEK, commitment of another key: refused by the commitment check alone
    // (`commitment_check_alone_refuses_a_value_whose_tag_is_valid` proves the tag is valid).
    Case {
        file: "v1_other_key_commitment.bin",
        context: b"clients.email:42",
        expect: Expect::Decrypt,
    },
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/field")
}

/// Independent field-format v1 writer (test helper only; fixed nonce).
fn seal_v1(plaintext: &[u8], context: &[u8]) -> Vec<u8> {
    seal_v1_committing_to(plaintext, context, &dek_bytes())
}

/// The v1 writer, with the header's commitment taken from `committed_key` while the AES key
/// always comes from the golden DEK: with another key there, every tag is valid and only the
/// commitment check can refuse the value.
fn seal_v1_committing_to(plaintext: &[u8], context: &[u8], committed_key: &[u8; 32]) -> Vec<u8> {
    let hk = Hkdf::<Sha256>::new(Some(b""), &dek_bytes());
    let mut key = [0u8; 32];
    hk.expand(b"ward/v1/field/key", &mut key).unwrap();
    let mut commitment = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b""), committed_key)
        .expand(b"ward/v1/field/commitment", &mut commitment)
        .unwrap();
    let mut out = vec![1u8];
    out.extend_from_slice(&KEY_ID.to_be_bytes());
    out.extend_from_slice(&commitment);
    out.extend_from_slice(&NONCE);
    let mut aad = out.clone();
    aad.extend_from_slice(context);
    let mut body = plaintext.to_vec();
    let tag = Aes256Gcm::new((&key).into())
        .encrypt_inout_detached(&Nonce::from(NONCE), &aad, body.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    out
}

/// Independent field-format v1 reader, to check what ward writes.
fn open_v1(bytes: &[u8], context: &[u8]) -> Option<Vec<u8>> {
    let hk = Hkdf::<Sha256>::new(Some(b""), &dek_bytes());
    let mut key = [0u8; 32];
    hk.expand(b"ward/v1/field/key", &mut key).unwrap();
    let (header, rest) = bytes.split_at(49);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut aad = header.to_vec();
    aad.extend_from_slice(context);
    let nonce: [u8; 12] = header[37..49].try_into().unwrap();
    let tag: [u8; 16] = tag.try_into().unwrap();
    let mut body = body.to_vec();
    Aes256Gcm::new((&key).into())
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            &aad,
            body.as_mut_slice().into(),
            &Tag::from(tag),
        )
        .ok()?;
    Some(body)
}

/// The bytes of each golden file, as first generated.
fn generate(file: &str) -> Vec<u8> {
    let email = || seal_v1(SHORT, b"clients.email:42");
    match file {
        "v1_empty.bin" => seal_v1(b"", b"clients.notes:1"),
        "v1_email.bin" => email(),
        "v1_note.bin" => seal_v1(NOTE, b"sessions.soap:7"),
        "v1_truncated_header.bin" => email()[..40].to_vec(),
        "v1_truncated_tag.bin" => {
            let e = email();
            e[..e.len() - 1].to_vec()
        }
        "v1_trailing_garbage.bin" => {
            let mut e = email();
            e.extend_from_slice(b"\x00garbage");
            e
        }
        "unknown_version.bin" => {
            let mut e = email();
            e[0] = 0x02;
            e
        }
        "v1_bad_commitment.bin" => {
            let mut e = email();
            e[5] ^= 0x01;
            e
        }
        "v1_flipped_ciphertext.bin" => {
            let mut n = seal_v1(NOTE, b"sessions.soap:7");
            n[60] ^= 0x40;
            n
        }
        "empty.bin" => Vec::new(),
        "v1_other_key_commitment.bin" => {
            seal_v1_committing_to(SHORT, b"clients.email:42", &[0xEE; 32])
        }
        other => panic!("no generator for {other}"),
    }
}

#[test]
fn golden_files_open_as_recorded() {
    let generate_missing = std::env::var_os("WARD_GOLDEN_GENERATE").is_some();
    let cipher = FieldCipher::new(&DataKey::new(
        DekId(KEY_ID),
        KeyMaterial::from_bytes(&dek_bytes()).unwrap(),
    ));
    for case in CASES {
        let path = dir().join(case.file);
        if !path.exists() && generate_missing {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, generate(case.file)).unwrap();
        }
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("golden file {} missing ({e})", path.display()));
        let got = cipher.open(&bytes, case.context);
        match (&case.expect, got) {
            (Expect::Plaintext(want), Ok(plain)) => {
                assert_eq!(plain.as_slice(), *want, "{}", case.file)
            }
            (Expect::Malformed, Err(Error::Malformed { .. })) => {}
            (Expect::UnsupportedVersion(v), Err(Error::UnsupportedVersion { version })) => {
                assert_eq!(*v, version, "{}", case.file)
            }
            (Expect::Decrypt, Err(Error::Decrypt)) => {}
            (_, other) => panic!("{}: unexpected outcome {other:?}", case.file),
        }
    }
}

#[test]
fn golden_files_match_the_independent_writer() {
    // The committed bytes are what the independent writer produces: the format did not drift.
    for case in CASES {
        let bytes = std::fs::read(dir().join(case.file)).unwrap();
        assert_eq!(bytes, generate(case.file), "{}", case.file);
    }
}

#[test]
fn ward_output_opens_with_the_independent_reader() {
    let cipher = FieldCipher::new(&DataKey::new(
        DekId(KEY_ID),
        KeyMaterial::from_bytes(&dek_bytes()).unwrap(),
    ));
    let sealed = cipher.seal(NOTE, b"sessions.soap:7").unwrap();
    assert_eq!(&sealed[..5], &[1, 0, 0, 0, 7]);
    assert_eq!(
        &sealed[5..37],
        &generate("v1_email.bin")[5..37],
        "same key, same commitment"
    );
    assert_eq!(open_v1(&sealed, b"sessions.soap:7").unwrap(), NOTE);
    assert_eq!(open_v1(&sealed, b"sessions.soap:8"), None);
}

#[test]
fn commitment_check_alone_refuses_a_value_whose_tag_is_valid() {
    let forged = std::fs::read(dir().join("v1_other_key_commitment.bin")).unwrap();
    // The independent reader (which checks no commitment) opens it: the tag is valid.
    assert_eq!(open_v1(&forged, b"clients.email:42").unwrap(), SHORT);
    // ward refuses it, so ward checks the commitment.
    let cipher = FieldCipher::new(&DataKey::new(
        DekId(KEY_ID),
        KeyMaterial::from_bytes(&dek_bytes()).unwrap(),
    ));
    assert!(matches!(
        cipher.open(&forged, b"clients.email:42"),
        Err(Error::Decrypt)
    ));
}
