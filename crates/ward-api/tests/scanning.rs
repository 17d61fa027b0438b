//! Malware scanning through the service, against the real clamd `cargo xtask services up`
//! starts (ward's test signatures: the marker below, hidden in a valid JPEG). Without
//! `WARD_TEST_INTEGRATION` a missing clamd skips with a message; with it, that is a failure. The
//! stopped scanner is a loopback port nothing listens on.

use std::sync::Arc;

use ward_domain::{ClamdAddress, ClamdScanner, Scanner as _};

use crate::common::{self, client_and_session, get, jpeg, upload};

/// The byte pattern of the test signature `Ward.Test.Marker`.
const MARKER: &[u8] = b"WARD-TEST-MALWARE-MARKER-3f9c2a71";

/// clamd at `WARD_TEST_CLAMD` if it answers; `None` (after saying why) when the test should skip.
async fn clamd() -> Option<ClamdScanner> {
    let address =
        std::env::var("WARD_TEST_CLAMD").unwrap_or_else(|_| "tcp://127.0.0.1:3310".to_owned());
    let scanner = ClamdScanner::new(ClamdAddress::parse(&address).expect("a clamd address"));
    if scanner.ping().await.is_ok() {
        return Some(scanner);
    }
    let why =
        format!("clamd does not answer at {address}; start it with `cargo xtask services up`");
    assert!(
        std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
        "WARD_TEST_INTEGRATION is set and {why}"
    );
    eprintln!("skipping the clamd test: {why}");
    None
}

/// A valid JPEG carrying [`MARKER`] in a comment segment.
fn marked_jpeg() -> Vec<u8> {
    let plain = jpeg(7);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(
        &u16::try_from(MARKER.len() + 2)
            .expect("short")
            .to_be_bytes(),
    );
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&plain[2..]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infected_uploads_are_refused_without_naming_the_signature_and_counted() {
    let Some(clamd) = clamd().await else {
        return;
    };
    let stack = common::embedded_with(|s| s.with_scanner(Arc::new(clamd))).await;
    let (client, _) = client_and_session(&stack).await;
    let owner = format!("/clients/{client}");

    let clean = upload(&stack, &stack.token, &owner, "wound.jpg", &jpeg(3)).await;
    assert_eq!(
        clean.status,
        201,
        "{}",
        String::from_utf8_lossy(&clean.body)
    );

    let infected = upload(&stack, &stack.token, &owner, "marked.jpg", &marked_jpeg()).await;
    assert_eq!(infected.status, 422);
    assert_eq!(infected.json()["code"], "upload.malware");
    let body = String::from_utf8_lossy(&infected.body);
    assert!(
        !body.contains("Ward.Test"),
        "the signature reached the client: {body}"
    );

    let listed = get(
        &format!("{}/api/v1{owner}/attachments", stack.base),
        Some(&stack.token),
    )
    .await;
    assert_eq!(
        listed.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        String::from_utf8_lossy(&listed.body)
    );

    let ready = get(&format!("{}/ready", stack.base), None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["scanner"], "ok");

    let metrics = get(&format!("{}/metrics", stack.base), None).await;
    let text = String::from_utf8_lossy(&metrics.body);
    for outcome in ["clean", "infected"] {
        assert!(
            text.contains(&format!("ward_upload_scans_total{{outcome=\"{outcome}\"}}")),
            "{text}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scanner_that_answers_uploads_are_refused_and_the_service_is_not_ready() {
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let stopped = ClamdScanner::tcp(nowhere.to_string());
    let stack = common::embedded_with(|s| s.with_scanner(Arc::new(stopped))).await;
    let (client, _) = client_and_session(&stack).await;

    let refused = upload(
        &stack,
        &stack.token,
        &format!("/clients/{client}"),
        "wound.jpg",
        &jpeg(4),
    )
    .await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["code"], "scan.unavailable");

    let ready = get(&format!("{}/ready", stack.base), None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["scanner"], "unavailable");
    stack.stop().await;
}
