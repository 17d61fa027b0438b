//! Log output carries no PHI: everything logged while objects carrying a canary are sealed,
//! proven, refused, read back and deleted is captured at the most verbose level and searched
//! for the canary.
//!
//! The work runs in a child process (this test binary again, running only [`capture_child`])
//! whose global subscriber is the capture. A scoped subscriber in the shared test binary is not
//! enough: a log call site that another test thread reached first can be cached as uninteresting,
//! and its lines are then silently missing from the capture.

use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use ward_crypto::{DataKey, DekId, InMemoryKeySource};
use ward_storage::conformance::fresh_key;
use ward_storage::{
    EncryptedStore, EncryptionExpectation, FileKind, MemoryStore, ObjectStoreExt as _, PutOptions,
    RequiredProof, SharedAcrossWorkspaces, SsePolicy, verify_file_encrypted,
};

const CANARY: &str = "JANE-ROE-CANARY-1957-03-14";

/// Set in the child process: run the logged work with the capture as global subscriber.
const CHILD_ENV: &str = "WARD_LOG_CAPTURE_CHILD";

#[test]
fn nothing_logged_while_sealing_proving_or_refusing_carries_the_canary() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "logs::capture_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed: {}\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        logs.contains("encryption verified") && logs.contains("object deleted"),
        "the capture saw no log lines, so it proves nothing:\n{logs}"
    );
    assert!(
        !logs.contains(CANARY),
        "a log line carries the canary:\n{logs}"
    );
}

/// The child's half: does nothing unless [`CHILD_ENV`] is set; logs to standard output at the
/// most verbose level.
#[test]
fn capture_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let raw = MemoryStore::new();
        let keys = SharedAcrossWorkspaces(InMemoryKeySource::with_active(
            DataKey::generate(DekId(1)).unwrap(),
        ));
        let store = EncryptedStore::new(raw.clone(), keys).with_proof(RequiredProof::ClientSide);
        let body = Bytes::from(format!("{CANARY} consent form ").repeat(10_000));
        let key = fresh_key(FileKind::Pdf);
        store
            .put_sealed(
                &key,
                Box::pin(std::io::Cursor::new(body.clone())),
                PutOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(store.get(&key).await.unwrap().bytes().await.unwrap(), body);
        // Refusals: plaintext where ciphertext should be, under both proofs; a tampered object.
        let plain = fresh_key(FileKind::Pdf);
        raw.put(&plain, body.clone()).await.unwrap();
        assert!(store.get(&plain).await.is_err());
        let dek = Arc::new(DataKey::generate(DekId(1)).unwrap());
        for expectation in [
            EncryptionExpectation::ClientSide { dek },
            EncryptionExpectation::ServerSide(SsePolicy::S3Managed),
        ] {
            raw.put(&plain, body.clone()).await.unwrap();
            assert!(
                verify_file_encrypted(&raw, &plain, &expectation)
                    .await
                    .is_err()
            );
        }
        let mut tampered = raw.get(&key).await.unwrap().bytes().await.unwrap().to_vec();
        tampered[200] ^= 1;
        raw.put(&key, tampered.into()).await.unwrap();
        assert!(store.get(&key).await.unwrap().bytes().await.is_err());
        store.delete(&key).await.unwrap();
    });
}
