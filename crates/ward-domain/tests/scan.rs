//! Malware scanning against a real clamd, started by `cargo xtask services up` (Debian's
//! `clamav-daemon` with ward's test signatures, `xtask/clamav/ward-test.ndb`: the EICAR test file
//! and a marker this module hides inside a valid JPEG and a PDF stream). Without
//! `WARD_TEST_INTEGRATION` a missing clamd skips with a message; with it, that is a failure.
//!
//! The stopped and the slow scanner are not clamd: a port nothing listens on, and a listener that
//! accepts and never answers. The shared daemon cannot be made slow for one test without slowing
//! every other test that scans.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{ImageFormat, Rgb, RgbImage};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use ward_domain::entity::{attachment, audit_event, workspace};
use ward_domain::{ClamdAddress, ClamdScanner, Error, ScanError, Scanner, Verdict};
use ward_storage::Owner;

use crate::attachments::{assert_consistent, attachments, owners};
use crate::common::Fixture;
use crate::stores;

/// The byte pattern of the test signature `Ward.Test.Marker`.
const MARKER: &[u8] = b"WARD-TEST-MALWARE-MARKER-3f9c2a71";
/// The EICAR anti-virus test file (harmless by design; every scanner recognises it).
const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// clamd at `WARD_TEST_CLAMD` (default `tcp://127.0.0.1:3310`) if it answers `PING`; `None`
/// (after saying why) when the test should skip.
async fn clamd(variable: &str, default: &str) -> Option<ClamdScanner> {
    let address = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    let scanner = ClamdScanner::new(ClamdAddress::parse(&address).expect("a clamd address"));
    match scanner.ping().await {
        Ok(()) => Some(scanner),
        Err(e) => {
            let why = format!(
                "clamd does not answer at {address} ({e}); start it with `cargo xtask services up`"
            );
            assert!(
                std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
                "WARD_TEST_INTEGRATION is set and {why}"
            );
            eprintln!("skipping the clamd test: {why}");
            None
        }
    }
}

async fn clamd_tcp() -> Option<ClamdScanner> {
    clamd("WARD_TEST_CLAMD", "tcp://127.0.0.1:3310").await
}

fn jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(48, 32, |x, y| Rgb([x as u8 * 5, y as u8 * 7, 60]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Jpeg)
        .unwrap();
    out
}

/// A valid JPEG with `payload` in a comment segment right after its start marker.
fn jpeg_carrying(payload: &[u8]) -> Vec<u8> {
    let plain = jpeg();
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A one-page PDF whose content stream (uncompressed) holds `payload` in a comment.
fn pdf_carrying(payload: &[u8]) -> Vec<u8> {
    let mut content = b"q 1 0 0 1 72 720 cm Q\n% ".to_vec();
    content.extend_from_slice(payload);
    content.push(b'\n');
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>"
            .to_vec(),
    ];
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(&content);
    stream.extend_from_slice(b"endstream");
    objects.push(stream);
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn infected(verdict: Verdict, signature: &str) {
    match verdict {
        Verdict::Infected { signature: found } => assert!(
            found.as_str().starts_with(signature),
            "{found} is not {signature}"
        ),
        other => panic!("expected {signature}, got {other:?}"),
    }
}

#[tokio::test]
async fn clamd_tells_clean_files_from_infected_ones_over_tcp_and_a_unix_socket() {
    let Some(tcp) = clamd_tcp().await else {
        return;
    };
    let mut scanners = vec![tcp];
    if let Some(unix) = clamd(
        "WARD_TEST_CLAMD_SOCKET",
        &format!(
            "unix:{}/../../.services/clamd/clamd.sock",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .await
    {
        scanners.push(unix);
    }
    for scanner in &scanners {
        assert_eq!(scanner.scan(&jpeg()).await.unwrap(), Verdict::Clean);
        assert_eq!(
            scanner
                .scan(&pdf_carrying(b"nothing to see"))
                .await
                .unwrap(),
            Verdict::Clean
        );
        assert_eq!(scanner.scan(b"").await.unwrap(), Verdict::Clean);
        infected(scanner.scan(EICAR).await.unwrap(), "Ward.Test.Eicar");
        infected(
            scanner.scan(&jpeg_carrying(MARKER)).await.unwrap(),
            "Ward.Test.Marker",
        );
        infected(
            scanner.scan(&pdf_carrying(MARKER)).await.unwrap(),
            "Ward.Test.Marker",
        );
        // Chunk boundaries do not hide a pattern: the marker straddles the first 64 KiB chunk.
        let mut straddling = vec![b'.'; 64 * 1024 - MARKER.len() / 2];
        straddling.extend_from_slice(MARKER);
        straddling.extend_from_slice(&[b'.'; 100]);
        infected(scanner.scan(&straddling).await.unwrap(), "Ward.Test.Marker");
    }
}

#[tokio::test]
async fn a_file_over_the_stream_limit_is_a_typed_limit_error() {
    let Some(tcp) = clamd_tcp().await else {
        return;
    };
    // Over ward's own limit: refused before a byte is sent (nothing listens at this address).
    let nowhere = ClamdScanner::tcp(closed_port().to_string()).with_max_stream_bytes(1024);
    let err = nowhere.scan(&[0u8; 1025]).await.unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::TooLarge {
                size: 1025,
                limit: Some(1024)
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.fault(), ward_domain::Fault::Limit);

    // Over clamd's StreamMaxLength (12 MiB) while ward's limit is higher: clamd's own refusal,
    // heard even though it stops reading mid-stream.
    let trusting = tcp.with_max_stream_bytes(64 * 1024 * 1024);
    let err = trusting
        .scan(&vec![b'a'; 13 * 1024 * 1024])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ScanError::TooLarge { limit: None, .. }),
        "{err:?}"
    );
}

/// A loopback port nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A listener that accepts connections, reads what is sent and never answers; returns its
/// address.
async fn stalled_scanner() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut socket, &mut sink).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_stopped_or_stalled_scanner_is_an_error_never_a_verdict() {
    let stopped = ClamdScanner::tcp(closed_port().to_string());
    let err = stopped.scan(&jpeg()).await.unwrap_err();
    assert!(matches!(err, ScanError::Unavailable { .. }), "{err:?}");
    assert!(stopped.ping().await.is_err());

    let stalled = ClamdScanner::tcp(stalled_scanner().await.to_string())
        .with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
    let started = Instant::now();
    let err = stalled.scan(&jpeg()).await.unwrap_err();
    assert!(matches!(err, ScanError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(stalled.ping().await, Err(ScanError::Timeout(_))));

    // A scan waiting for a free slot counts that wait against its deadline.
    let one_at_a_time = stalled.with_max_concurrent(1);
    let (a, b) = tokio::join!(one_at_a_time.scan(b"a"), one_at_a_time.scan(b"b"));
    assert!(matches!(a, Err(ScanError::Timeout(_))) && matches!(b, Err(ScanError::Timeout(_))));
}

/// Audit events of `action` in the fixture's workspace.
async fn events(f: &Fixture, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
        .filter(audit_event::Column::Action.eq(action))
        .all(f.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_pipeline_refuses_infected_and_unscanned_files_and_stores_nothing() {
    let Some(clamd) = clamd_tcp().await else {
        return;
    };
    let clamd: Arc<dyn Scanner> = Arc::new(clamd);
    let stopped: Arc<dyn Scanner> = Arc::new(ClamdScanner::tcp(closed_port().to_string()));
    let stalled: Arc<dyn Scanner> = Arc::new(
        ClamdScanner::tcp(stalled_scanner().await.to_string())
            .with_timeouts(Duration::from_millis(500), Duration::from_millis(300)),
    );
    for f in Fixture::all().await {
        let store = stores::local();
        let (client_id, session_id) = owners(&f).await;
        let files = attachments(&f, &store).with_scanner(Arc::clone(&clamd));

        let clean = files
            .upload(
                &f.actor,
                f.ws.id,
                Owner::Session(session_id),
                "wound.jpg",
                jpeg().as_slice(),
            )
            .await
            .unwrap();

        for (name, body, signature) in [
            ("marked.jpg", jpeg_carrying(MARKER), "Ward.Test.Marker"),
            ("eicar.jpg", jpeg_carrying(EICAR), "Ward.Test.Eicar"),
            ("consent.pdf", pdf_carrying(MARKER), "Ward.Test.Marker"),
        ] {
            let err = files
                .upload(
                    &f.actor,
                    f.ws.id,
                    Owner::Session(session_id),
                    name,
                    body.as_slice(),
                )
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Infected), "{name}: {err:?}");
            assert!(!err.to_string().contains("Ward.Test"), "{err}");
            assert_eq!(err.fault(), ward_domain::Fault::ClientInput);
            let audited = events(&f, "attachment.malware").await;
            let last = audited.last().expect("an audit event");
            let meta = &last.metadata;
            assert!(
                meta["signature"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(signature)),
                "{meta}"
            );
            assert_eq!(meta["session_id"], session_id.to_string());
            assert_eq!(meta["size_bytes"], body.len() as i64);
        }
        // A file that is not what it says is refused for that, infected or not.
        let err = files
            .upload(
                &f.actor,
                f.ws.id,
                Owner::Client(client_id),
                "eicar.pdf",
                EICAR,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Sanitize(_)), "{err:?}");

        // No verdict, no upload: a stopped scanner and a stalled one both refuse.
        for (scanner, expected) in [(&stopped, "Unavailable"), (&stalled, "Timeout")] {
            let files = attachments(&f, &store).with_scanner(Arc::clone(scanner));
            let err = files
                .upload(
                    &f.actor,
                    f.ws.id,
                    Owner::Client(client_id),
                    "later.jpg",
                    jpeg().as_slice(),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::Scan(e) if format!("{e:?}").starts_with(expected)),
                "{err:?}"
            );
            assert_eq!(err.fault(), ward_domain::Fault::Unavailable);
        }

        // Only the clean file is stored and counted.
        let rows = attachment::Entity::find().all(f.db()).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, clean.id);
        let ws = workspace::Entity::find_by_id(f.ws.id.as_uuid())
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ws.used_bytes, rows[0].size_bytes);
        assert_consistent(&f, &store).await;
        f.cleanup_checking_audit().await;
    }
}
