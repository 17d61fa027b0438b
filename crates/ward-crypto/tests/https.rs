//! An HTTPS server on loopback for the key-service imitations (Vault Transit, Azure Key Vault):
//! a certificate for 127.0.0.1 from a CA made here, hyper's HTTP/1 server, and a handler per
//! request.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use ward_crypto::{DataKey, DekId, KeyEncryptionKey, KeyMaterial};

/// Serves `handler` on a loopback port over plain HTTP; returns the port.
pub(crate) async fn serve_plain<H, F>(handler: H) -> u16
where
    H: Fn(Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(serve_connection(hyper_util::rt::TokioIo::new(tcp), handler));
        }
    });
    port
}

/// Serves one connection's requests with `handler`.
async fn serve_connection<I, H, F>(io: I, handler: H)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let answer = handler(request);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Serves `handler` on a loopback port over TLS; returns the port and the CA's PEM.
pub(crate) async fn serve<H, F>(handler: H) -> (u16, String)
where
    H: Fn(Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let (acceptor, ca_pem) = tls();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                serve_connection(hyper_util::rt::TokioIo::new(tls), handler).await;
            });
        }
    });
    (port, ca_pem)
}

/// A TLS acceptor with a certificate for 127.0.0.1 from a CA made here, and the CA's PEM.
pub(crate) fn tls() -> (tokio_rustls::TlsAcceptor, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ward test vault ca");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem())
}

/// An imitated key service that can be told to misbehave.
pub(crate) trait Troubled {
    /// Answers the next requests with these statuses (429 with `Retry-After: 0`), in order, in
    /// place of any not given yet.
    fn refuse(&self, statuses: &[u16]);
    /// Waits this long before every answer.
    fn stall(&self, delay: Duration);
    /// How many requests the service has seen.
    fn requests(&self) -> usize;
}

/// What every HTTP provider does when its service misbehaves: throttling and passing errors are
/// retried; a service that stays down is a typed error (`says` in it) that shows none of `hidden`
/// and no key bytes; a service that does not answer within `impatient`'s 200 ms timeout is an
/// error (`timed_out` in it) at once.
pub(crate) async fn resilience(
    service: &dyn Troubled,
    kek: &dyn KeyEncryptionKey,
    impatient: &dyn KeyEncryptionKey,
    provider: &str,
    says: &str,
    timed_out: &str,
    hidden: &[&str],
) {
    let material = KeyMaterial::generate().unwrap();
    let secret = material.to_base64().to_string();
    let dek = DataKey::new(DekId(5), material);
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();

    service.refuse(&[429, 503, 429]);
    let before = service.requests();
    assert_eq!(kek.unwrap(&wrapped, b"ws").await.unwrap().id(), DekId(5));
    assert_eq!(
        service.requests() - before,
        4,
        "three refusals, then the answer"
    );

    service.refuse(&[500; 8]);
    let mut hidden = hidden.to_vec();
    hidden.push(&secret);
    for result in [
        kek.unwrap(&wrapped, b"ws").await.map(|_| ()),
        kek.wrap(&dek, b"ws").await.map(|_| ()),
    ] {
        crate::conformance::assert_service_failure(&result.unwrap_err(), provider, says, &hidden);
    }

    service.refuse(&[]);
    service.stall(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = impatient.wrap(&dek, b"ws").await.unwrap_err();
    crate::conformance::assert_service_failure(&err, provider, timed_out, &hidden);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    service.stall(Duration::ZERO);
}

/// A policy that gives up after 200 ms and one retry.
pub(crate) fn impatient() -> ward_crypto::HttpPolicy {
    ward_crypto::HttpPolicy {
        request_timeout: Duration::from_millis(200),
        attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        ..ward_crypto::HttpPolicy::default()
    }
}
