//! Log output carries no PHI: everything logged while objects carrying a canary are sealed,
//! proven, refused, read back and deleted is captured at the most verbose level and searched
//! for the canary.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ward_crypto::{DataKey, DekId, InMemoryKeySource};
use ward_storage::conformance::fresh_key;
use ward_storage::{
    EncryptedStore, EncryptionExpectation, FileKind, MemoryStore, ObjectStoreExt as _, PutOptions,
    RequiredProof, SharedAcrossWorkspaces, SsePolicy, verify_file_encrypted,
};

const CANARY: &str = "JANE-ROE-CANARY-1957-03-14";

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
fn nothing_logged_while_sealing_proving_or_refusing_carries_the_canary() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
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
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("encryption verified") && logs.contains("object deleted"),
        "the capture saw no log lines, so it proves nothing:\n{logs}"
    );
    assert!(
        !logs.contains(CANARY),
        "a log line carries the canary:\n{logs}"
    );
}
