//! What every imitation shares: a loopback listener (plain or TLS from a CA made here), the
//! record of requests, and the misbehaviour a test asks for.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};

/// An answer as the imitations build it.
pub(crate) type Answer = Response<Full<Bytes>>;

/// One request as an imitation saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, empty when there is none.
    pub query: String,
    /// The request's headers.
    pub headers: http::HeaderMap,
    /// The body as JSON; `Null` when it is empty or not JSON.
    pub body: serde_json::Value,
}

impl Seen {
    /// A header's value as text, when present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What one imitated service answers; the shared part (recording, stalling, refusing) is done
/// before these are called.
pub(crate) trait Protocol: Send + 'static {
    /// `Some` answer when the request lacks the service's authentication.
    fn authenticate(&self, request: &Seen) -> Option<Answer>;
    /// The service's error answer for a refusal with `status` (429, 500, 503, …).
    fn refusal(&self, status: StatusCode) -> Answer;
    /// The answer to an authenticated request.
    fn answer(&mut self, request: &Seen) -> Answer;
}

struct Shared<P> {
    protocol: P,
    refusals: VecDeque<u16>,
    delay: Duration,
    seen: Vec<Seen>,
}

/// A running imitation of a service whose state is `P`: its address, and the handle a test
/// uses to read what it saw, change its state and make it misbehave. Clones share the server.
pub struct Imitation<P> {
    shared: Arc<Mutex<Shared<P>>>,
    address: String,
    ca_pem: Option<String>,
}

impl<P> Clone for Imitation<P> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            address: self.address.clone(),
            ca_pem: self.ca_pem.clone(),
        }
    }
}

/// Whether a server speaks TLS (with a CA made for it) or plain HTTP.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Tls,
    Plain,
}

/// Serves `protocol` on a loopback port.
pub(crate) async fn start<P: Protocol>(protocol: P, transport: Transport) -> Imitation<P> {
    let shared = Arc::new(Mutex::new(Shared {
        protocol,
        refusals: VecDeque::new(),
        delay: Duration::ZERO,
        seen: Vec::new(),
    }));
    let tls = (transport == Transport::Tls).then(tls);
    let ca_pem = tls.as_ref().map(|(_, pem)| pem.clone());
    let port = listen(Arc::clone(&shared), tls.map(|(acceptor, _)| acceptor)).await;
    let scheme = if ca_pem.is_some() { "https" } else { "http" };
    Imitation {
        shared,
        address: format!("{scheme}://127.0.0.1:{port}"),
        ca_pem,
    }
}

/// Serves `imitation`'s service on a second, plain-HTTP loopback port (an identity or token
/// endpoint reached over http); returns its address.
pub(crate) async fn also_plain<P: Protocol>(imitation: &Imitation<P>) -> String {
    let port = listen(Arc::clone(&imitation.shared), None).await;
    format!("http://127.0.0.1:{port}")
}

impl<P> Imitation<P> {
    /// The base address: `https://127.0.0.1:<port>` or `http://…` for a plain server.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The PEM of the CA that signed the server's certificate (TLS servers only).
    ///
    /// # Panics
    /// On a plain-HTTP imitation.
    pub fn ca_pem(&self) -> &str {
        self.ca_pem
            .as_deref()
            .expect("this imitation speaks plain HTTP")
    }

    /// Runs `f` on the service's state (its keys, versions, switches).
    pub fn with<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut lock(&self.shared).protocol)
    }

    /// Every request seen so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared).seen.clone()
    }
}

fn lock<P>(shared: &Mutex<Shared<P>>) -> MutexGuard<'_, Shared<P>> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An imitated service that can be told to misbehave.
pub trait Troubled {
    /// Answers the next requests with these statuses (429 with `Retry-After: 0`), in order, in
    /// place of any not given yet.
    fn refuse(&self, statuses: &[u16]);
    /// Waits this long before every answer.
    fn stall(&self, delay: Duration);
    /// How many requests the service has seen.
    fn requests(&self) -> usize;
}

impl<P> Troubled for Imitation<P> {
    fn refuse(&self, statuses: &[u16]) {
        lock(&self.shared).refusals = statuses.iter().copied().collect();
    }
    fn stall(&self, delay: Duration) {
        lock(&self.shared).delay = delay;
    }
    fn requests(&self) -> usize {
        lock(&self.shared).seen.len()
    }
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    answer
}

/// `n` random bytes.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's randomness");
    out
}

/// Records, stalls, authenticates, refuses or answers one request.
async fn handle<P: Protocol>(
    shared: Arc<Mutex<Shared<P>>>,
    request: Request<hyper::body::Incoming>,
) -> Answer {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    };
    let delay = {
        let mut s = lock(&shared);
        s.seen.push(seen.clone());
        s.delay
    };
    tokio::time::sleep(delay).await;
    let mut s = lock(&shared);
    if let Some(answer) = s.protocol.authenticate(&seen) {
        return answer;
    }
    if let Some(status) = s.refusals.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut answer = s.protocol.refusal(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            answer
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("0"));
        }
        return answer;
    }
    s.protocol.answer(&seen)
}

/// Accepts connections on a loopback port (over TLS when `tls` is given); returns the port.
async fn listen<P: Protocol>(
    shared: Arc<Mutex<Shared<P>>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("the bound address").port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let shared = Arc::clone(&shared);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = handle(Arc::clone(&shared), request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            http.serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await
                        }
                        Err(_) => return,
                    },
                    None => {
                        http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                            .await
                    }
                };
            });
        }
    });
    port
}

/// A TLS acceptor with a certificate for 127.0.0.1 from a CA made here, and the CA's PEM.
fn tls() -> (tokio_rustls::TlsAcceptor, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ward test key service ca");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server parameters")
        .signed_by(&leaf_key, &ca)
        .expect("server certificate");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .expect("server configuration");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem())
}
