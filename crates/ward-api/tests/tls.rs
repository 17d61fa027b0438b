use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use ward_api::tls::{TlsFiles, serve_tls};

use crate::common;

type Issuer = CertifiedIssuer<'static, KeyPair>;

fn ca() -> Issuer {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ward test ca");
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

/// Writes a fresh `localhost` certificate signed by `ca` and its key; returns the certificate.
fn write_leaf(ca: &Issuer, files: &TlsFiles) -> CertificateDer<'static> {
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, ca)
        .expect("leaf");
    // Write both files next to their places, then rename, as a certificate manager does.
    let swap = |path: &Path, text: String| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, path).expect("rename");
    };
    swap(&files.key, key.serialize_pem());
    swap(&files.cert, leaf.pem());
    leaf.der().clone()
}

fn client(ca: &Issuer, versions: &[&'static rustls::SupportedProtocolVersion]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).expect("root");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Connects, asks `GET /health` over HTTP/1.1, and returns the answer's status line, the
/// negotiated suite and the server's certificate.
async fn ask(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
) -> std::io::Result<(
    String,
    rustls::SupportedCipherSuite,
    CertificateDer<'static>,
)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await?;
    let (_, session) = tls.get_ref();
    assert_eq!(
        session.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let suite = session.negotiated_cipher_suite().expect("suite");
    let cert = session.peer_certificates().expect("certs")[0]
        .clone()
        .into_owned();
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    Ok((
        text.lines().next().unwrap_or_default().to_owned(),
        suite,
        cert,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_13_only_with_two_suites_and_a_certificate_reloaded_when_it_changes() {
    let stack = common::embedded().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let ca = ca();
    let first = write_leaf(&ca, &files);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(
        listener,
        stack.service.clone(),
        files.clone(),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(2),
        Duration::from_millis(100),
    ));

    let tls13 = client(&ca, &[&rustls::version::TLS13]);
    let (status, suite, cert) = ask(&tls13, addr).await.expect("a TLS 1.3 answer");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        matches!(
            suite.suite(),
            rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
                | rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        ),
        "{suite:?}"
    );
    assert_eq!(cert, first);

    // A client offering only TLS 1.2 gets no connection.
    let tls12 = client(&ca, &[&rustls::version::TLS12]);
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    assert!(
        tls12
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .is_err(),
        "TLS 1.2 must be refused"
    );
    // Nor does a client offering only AES-128.
    let mut only_128 = rustls::crypto::ring::default_provider();
    only_128.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).expect("root");
    let weak = TlsConnector::from(Arc::new(
        ClientConfig::builder_with_provider(Arc::new(only_128))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    assert!(
        weak.connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .is_err(),
        "only the two suites are offered"
    );

    // A renewed certificate is served without a restart; a broken one is refused and the
    // renewed one stays.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = write_leaf(&ca, &files);
    let mut served = first.clone();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        served = ask(&tls13, addr).await.expect("answer").2;
        if served == second {
            break;
        }
    }
    assert_eq!(served, second, "the renewed certificate is served");
    std::fs::write(&files.cert, "not a certificate").expect("write");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _, cert) = ask(&tls13, addr).await.expect("still serving");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(cert, second);

    stop.send(()).expect("stop");
    server.await.expect("task").expect("serve");
    stack.stop().await;
}

#[test]
fn a_key_that_is_not_pem_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    write_leaf(&ca(), &files);
    std::fs::write(&files.key, "-----BEGIN PRIVATE KEY-----\nnot base64\n").expect("write");
    let Err(ward_api::Error::Config { problems }) = ward_api::tls::server_config(&files) else {
        panic!("a broken key must be refused");
    };
    assert!(problems[0].contains("key.pem"), "{problems:?}");
}
