use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use time::macros::date;
use ward_crypto::{DekId, KeyMaterial, LegacyDecryptor};
use ward_domain::entity::{audit_event, client};
use ward_domain::{ClientFields, Error, Fault, Imported, LegacyImport, LegacyValue, SoapNotes};

use crate::common::Fixture;

/// A legacy key with 32 distinct byte values (loaded keys must not be degenerate).
fn legacy_key(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_add((i as u8).wrapping_mul(37)))
}

/// The seed application's raw form (ward never writes it): nonce ‖ ciphertext ‖ tag.
fn seal(key: &[u8; 32], nonce: u8, plaintext: &str) -> Vec<u8> {
    let sealed = Aes256Gcm::new(key.into())
        .encrypt(&Nonce::from([nonce; 12]), plaintext.as_bytes())
        .unwrap();
    [vec![nonce; 12], sealed].concat()
}

fn text(version: u32, key: &[u8; 32], nonce: u8, plaintext: &str) -> String {
    format!(
        "v{version}:{}",
        STANDARD.encode(seal(key, nonce, plaintext))
    )
}

fn json(version: u32, key: &[u8; 32], nonce: u8, plaintext: &str) -> String {
    let raw = seal(key, nonce, plaintext);
    format!(
        r#"{{"ciphertext":"{}","nonce":"{}","version":{version},"alg":"AES-256-GCM"}}"#,
        STANDARD.encode(&raw[12..]),
        STANDARD.encode(&raw[..12]),
    )
}

#[tokio::test]
async fn the_seed_formats_are_resealed_once_and_a_rerun_finds_what_was_made() {
    let (k1, k2) = (legacy_key(0x11), legacy_key(0x52));
    let mut keys = LegacyDecryptor::new();
    keys.add_key(DekId(1), KeyMaterial::from_bytes(&k1).unwrap())
        .unwrap();
    keys.add_key(DekId(2), KeyMaterial::from_bytes(&k2).unwrap())
        .unwrap();
    let legacy = LegacyImport::new(keys);
    // The seed's rows: (id, name as text, email as JSON, notes raw under version 2).
    let rows = [
        (
            "17",
            text(1, &k1, 1, "Jane Roe"),
            json(2, &k2, 2, "jane@example.org"),
            seal(&k2, 3, "asthma"),
        ),
        (
            "18",
            text(2, &k2, 4, "John Doe"),
            json(1, &k1, 5, "john@example.org"),
            seal(&k2, 6, "none"),
        ),
    ];
    let notes = json(1, &k1, 7, "S: better. O: healed.");
    for f in Fixture::all().await {
        let mut first = Vec::new();
        for pass in 0..2 {
            let mut ids = Vec::new();
            for (legacy_id, name, email, notes) in &rows {
                let fields = ClientFields::named(
                    legacy.open_text(LegacyValue::Text(name)).unwrap().as_str(),
                )
                .with_email(legacy.open_text(LegacyValue::Json(email)).unwrap().as_str())
                .with_notes(
                    legacy
                        .open_text(LegacyValue::Raw {
                            version: 2,
                            bytes: notes,
                        })
                        .unwrap()
                        .as_str(),
                );
                let done = f
                    .domain
                    .clients()
                    .import(&f.actor, f.ws.id, legacy_id, fields)
                    .await
                    .unwrap();
                assert_eq!(
                    matches!(done, Imported::Created(_)),
                    pass == 0,
                    "pass {pass}: {done:?}"
                );
                ids.push(done.id());
            }
            if pass == 0 {
                first = ids;
            } else {
                assert_eq!(ids, first, "a rerun finds the same rows");
            }
        }
        let count = client::Entity::find()
            .filter(client::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
            .count(f.db())
            .await
            .unwrap();
        assert_eq!(count, 2);
        let jane = f
            .domain
            .clients()
            .get(&f.actor, f.ws.id, first[0])
            .await
            .unwrap();
        assert_eq!(jane.fields.name, "Jane Roe");
        assert_eq!(jane.fields.notes.as_deref(), Some("asthma"));
        let found = f
            .domain
            .clients()
            .find_by_email(&f.actor, f.ws.id, "john@example.org")
            .await
            .unwrap();
        assert_eq!(found[0].id, first[1]);

        let opened = legacy.open_text(LegacyValue::Json(&notes)).unwrap();
        for _ in 0..2 {
            f.domain
                .sessions()
                .import(
                    &f.actor,
                    f.ws.id,
                    "s-900",
                    first[0],
                    date!(2024 - 03 - 01),
                    Some(SoapNotes(opened.to_string())),
                )
                .await
                .unwrap();
        }
        let imported = audit_event::Entity::find()
            .filter(audit_event::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
            .all(f.db())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.metadata["source"] == "import")
            .count();
        assert_eq!(imported, 3, "two clients and one session, each once");
        // Another workspace importing the same legacy id gets its own row.
        let other = f.domain.workspaces().create("Other", None).await.unwrap();
        let there = f
            .domain
            .clients()
            .import(&f.actor, other.id, "17", ClientFields::named("Jane Roe"))
            .await
            .unwrap();
        assert_ne!(there.id(), first[0]);
        for bad in ["", "a\nb", &"9".repeat(129)] {
            let err = f
                .domain
                .clients()
                .import(&f.actor, f.ws.id, bad, ClientFields::named("X"))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: "legacy id",
                        ..
                    }
                ),
                "{err}"
            );
        }
        f.cleanup().await;
    }
}

#[test]
fn a_bad_legacy_value_is_a_typed_error_that_echoes_nothing() {
    let k1 = legacy_key(0x11);
    let mut keys = LegacyDecryptor::new();
    keys.add_key(DekId(1), KeyMaterial::from_bytes(&k1).unwrap())
        .unwrap();
    let legacy = LegacyImport::new(keys);
    let under_2 = json(2, &legacy_key(0x52), 1, "jane@example.org");
    let err = legacy.open(LegacyValue::Json(&under_2)).unwrap_err();
    assert!(
        matches!(err, Error::Legacy(ward_crypto::Error::UnknownKeyId { .. })),
        "{err}"
    );
    assert_eq!(err.fault(), Fault::ClientInput);
    let mut altered = seal(&k1, 1, "jane@example.org");
    altered[20] ^= 1;
    let err = legacy
        .open(LegacyValue::Raw {
            version: 1,
            bytes: &altered,
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::Legacy(ward_crypto::Error::Decrypt)),
        "{err}"
    );
    for bad in ["", "[1,2]", r#"{"ciphertext":"jane@example.org"}"#] {
        let err = legacy.open(LegacyValue::Json(bad)).unwrap_err();
        assert!(!err.to_string().contains("jane"), "{err}");
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }
    let huge = "v1:".to_owned() + &"A".repeat(ward_domain::MAX_LEGACY_VALUE_BYTES);
    assert!(matches!(
        legacy.open(LegacyValue::Text(&huge)),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(
        format!("{:?}", LegacyValue::Text("v1:secret")),
        "LegacyValue::text(9 bytes)"
    );
}

/// The seed's keys 1 and 2, and an importer holding them.
fn importer() -> ([u8; 32], [u8; 32], LegacyImport) {
    let (k1, k2) = (legacy_key(0x11), legacy_key(0x52));
    let text = format!(
        "# the seed's keys\n1:{}\n2:{}\n",
        STANDARD.encode(k1),
        STANDARD.encode(k2)
    );
    (
        k1,
        k2,
        LegacyImport::new(LegacyDecryptor::parse(&text).unwrap()),
    )
}

fn nothing(_: ward_domain::Progress) {}

#[tokio::test]
async fn an_export_file_is_imported_row_by_row_refused_rows_named_by_line_and_a_rerun_finds_the_rest()
 {
    let (k1, k2, legacy) = importer();
    let canary = "CANARY-7741-PHI";
    let raw = STANDARD.encode(seal(&k2, 9, "+1 555 0100"));
    let lines = [
        // 1: every form of value.
        format!(
            r#"{{"table":"clients","id":"17","name":"{}","email":{},"phone":{{"raw":"{raw}","version":2}},"date_of_birth":{{"plain":"1980-04-02"}},"notes":null}}"#,
            text(1, &k1, 1, "Jane Roe"),
            json(2, &k2, 2, "jane@example.org"),
        ),
        // 2: blank, skipped.
        String::new(),
        // 3: not JSON, and it carries PHI that must not be echoed.
        format!("{{\"table\":\"clients\",\"id\":\"18\",\"name\":\"{canary}"),
        // 4: a misspelt member.
        format!(r#"{{"table":"clients","id":"19","name":{{"plain":"{canary}"}},"emial":{{"plain":"x@example.org"}}}}"#),
        // 5: a value under a key not configured.
        format!(r#"{{"table":"clients","id":"20","name":"{}"}}"#, text(3, &k1, 3, canary)),
        // 6: a session of client 17, notes as a JSON column.
        format!(
            r#"{{"table":"sessions","id":"s-1","client_id":"17","session_date":{{"plain":"2024-03-01"}},"soap_notes":{}}}"#,
            json(1, &k1, 4, "S: better.")
        ),
        // 7: a session of a client never imported.
        r#"{"table":"sessions","id":"s-2","client_id":"404","session_date":{"plain":"2024-03-02"}}"#.to_owned(),
        // 8: a date that is not one.
        format!(r#"{{"table":"sessions","id":"s-3","client_id":"17","session_date":{{"plain":"{canary}"}}}}"#),
        // 9: an unknown table.
        r#"{"table":"invoices","id":"1"}"#.to_owned(),
    ];
    let file = lines.join("\n");
    for f in Fixture::all().await {
        let first = legacy
            .import_file(&f.domain, &f.actor, f.ws.id, file.as_bytes(), &nothing)
            .await
            .unwrap();
        assert_eq!(
            (
                first.clients_created,
                first.sessions_created,
                first.failed_rows
            ),
            (1, 1, 6),
            "{first:?}"
        );
        let refused: Vec<(u64, Option<&str>)> =
            first.failed.iter().map(|r| (r.line, r.table)).collect();
        assert_eq!(
            refused,
            [
                (3, None),
                (4, None),
                (5, Some("clients")),
                (7, Some("sessions")),
                (8, Some("sessions")),
                (9, None),
            ]
        );
        for r in &first.failed {
            assert!(!r.to_string().contains(canary), "{r}");
            assert!(!r.reason.contains("CANARY"), "{r}");
        }
        let jane_id = f.domain.clients().imported_id(f.ws.id, "17").unwrap();
        let jane = f
            .domain
            .clients()
            .get(&f.actor, f.ws.id, jane_id)
            .await
            .unwrap();
        assert_eq!(jane.fields.name, "Jane Roe");
        assert_eq!(jane.fields.email.as_deref(), Some("jane@example.org"));
        assert_eq!(jane.fields.phone.as_deref(), Some("+1 555 0100"));
        assert_eq!(jane.fields.date_of_birth, Some(date!(1980 - 04 - 02)));
        assert_eq!(jane.fields.notes, None);

        let again = legacy
            .import_file(&f.domain, &f.actor, f.ws.id, file.as_bytes(), &nothing)
            .await
            .unwrap();
        assert_eq!(
            (
                again.clients_created,
                again.clients_existing,
                again.sessions_created,
                again.sessions_existing,
                again.failed_rows
            ),
            (0, 1, 0, 1, 6),
            "a rerun makes nothing twice"
        );
        f.cleanup().await;
    }
}

#[tokio::test]
async fn an_over_long_line_stops_the_import_having_read_no_more_than_the_bound() {
    let (_, _, legacy) = importer();
    let f = Fixture::new(crate::common::sqlite().await).await;
    // A hostile file: one line far past the bound, never ending; the reader counts what is
    // taken from it.
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let endless = Counting {
        taken: taken.clone(),
    };
    let err = legacy
        .import_file(
            &f.domain,
            &f.actor,
            f.ws.id,
            tokio::io::BufReader::new(endless),
            &nothing,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ImportFile { line: 1, .. }), "{err}");
    assert_eq!(err.fault(), Fault::ClientInput);
    let read = taken.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        read <= ward_domain::MAX_IMPORT_LINE_BYTES + 64 * 1024,
        "read {read} bytes of an endless line"
    );
    f.cleanup().await;
}

/// An endless line of `a`, counting the bytes handed out.
struct Counting {
    taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for Counting {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = buf.remaining();
        buf.put_slice(&vec![b'a'; n]);
        self.taken
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        std::task::Poll::Ready(Ok(()))
    }
}

#[test]
fn legacy_keys_parse_from_text_refusing_an_active_mark_and_a_repeated_version() {
    let key = STANDARD.encode(legacy_key(0x11));
    let keys = LegacyDecryptor::parse(&format!("1:{key}, 3:{key}")).unwrap();
    assert_eq!(keys.versions(), [DekId(1), DekId(3)]);
    let err = LegacyDecryptor::parse(&format!("1:{key}:active")).unwrap_err();
    assert!(err.to_string().contains("no active version"), "{err}");
    assert!(!err.to_string().contains(&key), "{err}");
    assert!(LegacyDecryptor::parse(&format!("1:{key}\n1:{key}")).is_err());
    assert!(LegacyDecryptor::parse(&format!("1:{}", STANDARD.encode([0_u8; 32]))).is_err());
}
