//! KEK rings and the local provider: loading (and every way it fails), wrap and unwrap.

use std::io::Write as _;

use ward_crypto::{
    DataKey, DekId, Error, KekId, KeyEncryptionKey, KeyMaterial, KeyRing, KeyRingEntry,
    KeyRingError, LocalKek, WrappedDataKey,
};

fn b64() -> String {
    KeyMaterial::generate().unwrap().to_base64().to_string()
}

fn ring_error(text: &str) -> KeyRingError {
    match LocalKek::parse(text) {
        Err(Error::KeyRing(e)) => e,
        other => panic!("expected a key ring error, got {other:?}"),
    }
}

#[test]
fn ring_with_no_active_key_is_refused() {
    assert_eq!(
        ring_error(&format!("1:{}\n2:{}", b64(), b64())),
        KeyRingError::NoActiveKey
    );
}

#[test]
fn ring_with_two_active_keys_is_refused() {
    assert_eq!(
        ring_error(&format!("1:{}:active\n2:{}:active", b64(), b64())),
        KeyRingError::SeveralActiveKeys {
            first: KekId(1),
            second: KekId(2)
        }
    );
}

#[test]
fn ring_with_duplicate_ids_is_refused() {
    assert_eq!(
        ring_error(&format!("3:{}:active\n3:{}", b64(), b64())),
        KeyRingError::DuplicateKekId { kek_id: KekId(3) }
    );
}

#[test]
fn ring_with_bad_key_length_is_refused_naming_the_entry_not_the_bytes() {
    // 16 bytes of key: valid base64, wrong length.
    let short = "AAECAwQFBgcICQoLDA0ODw==";
    let err = ring_error(&format!("1:{}:active\n2:{short}", b64()));
    assert_eq!(
        err,
        KeyRingError::BadEntry {
            entry: 2,
            reason: "key material must be 32 bytes, got 16".to_owned()
        }
    );
    assert!(!err.to_string().contains(short));
}

#[test]
fn ring_with_a_degenerate_key_is_refused_naming_the_entry_and_rule_not_the_bytes() {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut pattern = [0u8; 32];
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = b"0123456789"[i % 10];
    }
    for bad in [encode(&[0; 32]), encode(&[0x42; 32]), encode(&pattern)] {
        let err = ring_error(&format!("1:{}:active\n2:{bad}", b64()));
        assert_eq!(
            err,
            KeyRingError::DegenerateKey {
                entry: 2,
                min_distinct: 16
            }
        );
        let shown = err.to_string();
        assert_eq!(
            shown,
            "key entry 2: degenerate key material (fewer than 16 distinct byte values)"
        );
        assert!(!shown.contains(&bad[..8]));
    }
}

#[test]
fn ring_entries_that_do_not_parse_are_refused_never_skipped() {
    let good = b64();
    for (text, reason) in [
        (
            format!("1:{good}:active\nx:{good}"),
            "the id is not a decimal number",
        ),
        (
            format!("1:{good}:active\n2"),
            "expected `<id>:<base64 key>[:active]`",
        ),
        (
            format!("1:{good}:actve"),
            "the third part may only be `active`",
        ),
        (format!("1:{good}:active:x"), "too many `:`-separated parts"),
        (
            format!("1:{good}:active\n2:not base64!"),
            "key material is not valid base64",
        ),
    ] {
        match ring_error(&text) {
            KeyRingError::BadEntry { reason: got, .. } => assert_eq!(got, reason, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(ring_error("# only a comment\n\n"), KeyRingError::Empty);
}

#[test]
fn generic_ring_validates_like_the_text_format() {
    let err = KeyRing::new([
        KeyRingEntry {
            id: KekId(1),
            key: (),
            active: true,
        },
        KeyRingEntry {
            id: KekId(2),
            key: (),
            active: true,
        },
    ])
    .unwrap_err();
    assert!(matches!(err, KeyRingError::SeveralActiveKeys { .. }));
    assert_eq!(KeyRing::<()>::new([]).unwrap_err(), KeyRingError::Empty);
}

#[tokio::test]
async fn local_ring_loads_from_a_file() {
    let text = format!("# ward KEK ring\n1:{}\n2:{}:active\n", b64(), b64());
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let from_file = LocalKek::from_file(file.path()).unwrap();
    assert_eq!(from_file.active_id(), KekId(2));
    assert_eq!(from_file.key_ids(), vec![KekId(1), KekId(2)]);

    let missing = LocalKek::from_file("/nonexistent/ward/kek-ring").unwrap_err();
    assert!(matches!(
        missing,
        Error::Provider {
            provider: "local",
            ..
        }
    ));

    // Both forms give the same keys: what one wraps, the other unwraps.
    let comma_form = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(",");
    let from_text = LocalKek::parse(&comma_form).unwrap();
    let dek = DataKey::generate(DekId(5)).unwrap();
    let wrapped = from_file.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(
        from_text.unwrap(&wrapped, b"ws").await.unwrap().id(),
        DekId(5)
    );
}

/// Environment variable the child run of [`from_env_child`] reads.
const ENV_VAR: &str = "WARD_TEST_KEK_RING_FROM_ENV";

#[test]
fn local_ring_loads_from_the_environment() {
    // Edition 2024 makes `set_var` unsafe (and unsafe code is forbidden), so the variable is
    // given to a child run of this test binary that executes `from_env_child` only.
    let ring = format!("1:{},2:{}:active", b64(), b64());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "kek::from_env_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_VAR, ring)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("from_env: active 2 of [1, 2]"), "{stdout}");
}

#[test]
fn from_env_child() {
    match std::env::var_os(ENV_VAR) {
        Some(_) => {
            let kek = LocalKek::from_env(ENV_VAR).unwrap();
            let ids: Vec<u32> = kek.key_ids().iter().map(|id| id.0).collect();
            assert_eq!(kek.active_id(), KekId(2));
            println!("from_env: active {} of {ids:?}", kek.active_id());
        }
        // Run directly (not as the child): an unset variable is a provider error, not an empty ring.
        None => assert!(matches!(
            LocalKek::from_env(ENV_VAR),
            Err(Error::Provider {
                provider: "local",
                ..
            })
        )),
    }
}

/// Environment variable naming the key file the child run of [`from_file_child`] loads.
const FILE_VAR: &str = "WARD_TEST_KEK_RING_FILE";

/// Runs [`from_file_child`] on `path` with the given `WARD_ENV` (unset for `None`); returns what
/// the child printed.
fn run_from_file_child(path: &std::path::Path, ward_env: Option<&str>) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "kek::from_file_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FILE_VAR, path);
    match ward_env {
        Some(value) => command.env("WARD_ENV", value),
        None => command.env_remove("WARD_ENV"),
    };
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    stdout
}

#[cfg(unix)]
#[test]
fn a_key_file_open_to_others_is_refused_unless_development() {
    use std::os::unix::fs::PermissionsExt as _;
    // `WARD_ENV` is read by `from_file`, so each environment is given to a child run.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "1:{}:active", b64()).unwrap();
    let path = file.path();

    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    for ward_env in [None, Some("production"), Some("development")] {
        let stdout = run_from_file_child(path, ward_env);
        assert!(
            stdout.contains("from_file: loaded, active 1"),
            "{ward_env:?}: {stdout}"
        );
    }

    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        for ward_env in [None, Some("production"), Some("staging"), Some("test")] {
            let shown = ward_env.unwrap_or("production");
            let stdout = run_from_file_child(path, ward_env);
            assert!(
                stdout.contains(&format!(
                    "from_file: key file {} is open to group or others (mode {mode:04o}); \
                     the {shown} environment requires it to be private to its owner (chmod 600)",
                    path.display()
                )),
                "{mode:o} {ward_env:?}: {stdout}"
            );
        }
        let stdout = run_from_file_child(path, Some("development"));
        assert!(stdout.contains("from_file: loaded, active 1"), "{stdout}");
    }
    let stdout = run_from_file_child(path, Some("dev"));
    assert!(
        stdout.contains("from_file: WARD_ENV must be development, test, staging or production"),
        "{stdout}"
    );
}

#[test]
fn from_file_child() {
    let Some(path) = std::env::var_os(FILE_VAR) else {
        return; // Run directly, not as the child: nothing to do.
    };
    match LocalKek::from_file(path) {
        Ok(kek) => println!("from_file: loaded, active {}", kek.active_id()),
        Err(e @ Error::KeyFilePermissions { .. }) => {
            assert!(matches!(e, Error::KeyFilePermissions { mode, .. } if mode & 0o077 != 0));
            println!("from_file: {e}");
        }
        Err(e) => println!("from_file: {e}"),
    }
}

/// Checks `wrapped` (`dek` wrapped by `kek` for context `workspace-a`): its stored bytes unwrap
/// to the same key there, but not for another context, not with the DEK id relabelled, and a
/// KEK version `unknown_kek` the ring does not hold is named, never tried with another.
pub(crate) async fn assert_wrapped_is_bound<K: KeyEncryptionKey + ?Sized>(
    kek: &K,
    dek: &DataKey,
    wrapped: &WrappedDataKey,
    unknown_kek: u32,
) {
    let stored = WrappedDataKey::from_bytes(wrapped.as_bytes().to_vec()).unwrap();
    let dek_again = kek.unwrap(&stored, b"workspace-a").await.unwrap();
    // Same key material: a field sealed with one opens with the other.
    let sealed = ward_crypto::FieldCipher::new(dek)
        .seal(b"phi", b"c")
        .unwrap();
    assert_eq!(
        ward_crypto::FieldCipher::new(&dek_again)
            .open(&sealed, b"c")
            .unwrap()
            .as_slice(),
        b"phi"
    );

    assert!(matches!(
        kek.unwrap(&stored, b"workspace-b").await,
        Err(Error::Decrypt)
    ));

    // Relabelling the DEK id breaks authentication.
    let mut relabelled = wrapped.as_bytes().to_vec();
    relabelled[8] ^= 1;
    let relabelled = WrappedDataKey::from_bytes(relabelled).unwrap();
    assert!(matches!(
        kek.unwrap(&relabelled, b"workspace-a").await,
        Err(Error::Decrypt)
    ));

    let mut other_kek = wrapped.as_bytes().to_vec();
    other_kek[1..5].copy_from_slice(&unknown_kek.to_be_bytes());
    let other_kek = WrappedDataKey::from_bytes(other_kek).unwrap();
    assert!(matches!(
        kek.unwrap(&other_kek, b"workspace-a").await,
        Err(Error::UnknownKekId { kek_id }) if kek_id == KekId(unknown_kek)
    ));
}

#[tokio::test]
async fn wrapped_keys_are_bound_to_context_and_header() {
    let kek = LocalKek::parse(&format!("1:{}:active", b64())).unwrap();
    let dek = DataKey::generate(DekId(9)).unwrap();
    let wrapped = kek.wrap(&dek, b"workspace-a").await.unwrap();
    assert_eq!(wrapped.kek_id(), KekId(1));
    assert_eq!(wrapped.dek_id(), DekId(9));
    assert_eq!(wrapped.as_bytes().len(), 9 + 12 + 32 + 16);

    assert_wrapped_is_bound(&kek, &dek, &wrapped, 7).await;

    assert!(matches!(
        WrappedDataKey::from_bytes(vec![2; 40]),
        Err(Error::UnsupportedVersion { version: 2 })
    ));
}

#[test]
fn debug_output_of_key_holders_lacks_the_secret() {
    let material = KeyMaterial::generate().unwrap();
    let encoded = material.to_base64().to_string();
    let kek = LocalKek::parse(&format!("1:{encoded}:active")).unwrap();
    let shown = format!("{kek:?}");
    assert!(!shown.contains(&encoded), "{shown}");
    assert!(shown.contains("LocalKek"));

    let dek = DataKey::new(DekId(1), material);
    let shown = format!("{dek:?}");
    assert!(!shown.contains(&encoded), "{shown}");
    assert!(shown.contains("******"));
}
