//! HTTPS for the key services ward speaks to itself (Vault) or gives an SDK as its transport
//! (Azure):
//! rustls on ring with the system's roots or a given CA, a timeout per attempt, retries with
//! backoff on throttling and server errors, and bounded response bodies.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::env::Environment;
use crate::error::{Error, Result};

/// The largest response body read from a key service; its answers are a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Timeouts and retries of the calls a provider makes to its key service.
///
/// A call is tried up to `attempts` times: again after a connection failure, a timeout, `429 Too
/// Many Requests` or a `500`, `502`, `503` or `504` answer, waiting `initial_backoff`, then twice
/// as long each time up to `max_backoff` (or what the service's `Retry-After` asks, up to
/// `max_backoff`). Every call a provider makes can be repeated safely: reading key metadata,
/// encrypting (a new ciphertext each time) and decrypting change nothing on the service.
///
/// ```
/// use std::time::Duration;
/// use ward_crypto::HttpPolicy;
///
/// let policy = HttpPolicy::default();
/// assert_eq!(policy.attempts, 4);
/// assert_eq!(policy.request_timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpPolicy {
    /// How long opening a connection (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long one attempt may take, from sending the request to the end of the answer.
    pub request_timeout: Duration,
    /// How many times a call is tried in all (at least once).
    pub attempts: u32,
    /// The wait before the second attempt.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// An answer: its status, headers and body (at most [`MAX_RESPONSE_BYTES`]).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A client for one key service.
pub(crate) struct HttpClient {
    provider: &'static str,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    policy: HttpPolicy,
}

impl HttpClient {
    /// A client trusting the system's roots, or only the certificates of `ca_pem` when given.
    pub(crate) fn new(
        provider: &'static str,
        ca_pem: Option<&[u8]>,
        policy: HttpPolicy,
    ) -> Result<Self> {
        let fail = |message: String| Error::Provider { provider, message };
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                for (n, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
                    let cert = cert.map_err(|e| {
                        fail(format!("certificate {} of the CA bundle: {e}", n + 1))
                    })?;
                    roots.add(cert).map_err(|e| {
                        fail(format!("certificate {} of the CA bundle: {e}", n + 1))
                    })?;
                }
                if roots.is_empty() {
                    return Err(fail("the CA bundle holds no certificate".to_owned()));
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(policy.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            provider,
            client: Client::builder(TokioExecutor::new()).build(connector),
            policy,
        })
    }

    /// Sends a request (retrying as the policy says) and returns the last answer, whatever its
    /// status; `what` names the call in errors.
    pub(crate) async fn send(
        &self,
        what: &str,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        let attempts = self.policy.attempts.max(1);
        let mut backoff = self.policy.initial_backoff;
        let mut attempt = 1;
        loop {
            let outcome = self
                .attempt(method.clone(), uri, headers, body.clone())
                .await;
            let (retryable, retry_after) = match &outcome {
                Ok((reply, retry_after)) => (is_retryable(reply.status), *retry_after),
                Err(_) => (true, None),
            };
            if !retryable || attempt >= attempts {
                return match outcome {
                    Ok((reply, _)) => Ok(reply),
                    Err(problem) => Err(Error::Provider {
                        provider: self.provider,
                        message: format!("{what}: {problem} (after {attempt} attempts)"),
                    }),
                };
            }
            let wait = retry_after.unwrap_or(backoff).min(self.policy.max_backoff);
            tracing::debug!(
                provider = self.provider,
                call = what,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying a key service call"
            );
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2).min(self.policy.max_backoff);
            attempt += 1;
        }
    }

    /// One attempt: the answer and its `Retry-After`, or what went wrong.
    async fn attempt(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> std::result::Result<(Reply, Option<Duration>), String> {
        let mut request = Request::builder().method(method).uri(uri.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if body.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("building the request: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            let retry_after = parts
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok((
                Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                },
                retry_after,
            ))
        };
        tokio::time::timeout(self.policy.request_timeout, exchange)
            .await
            .map_err(|_| {
                format!(
                    "no answer within {} ms",
                    self.policy.request_timeout.as_millis()
                )
            })?
    }
}

/// Whether an answer with this status is worth another attempt.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// An error and its causes, as one line.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Parses a key service's base address: `https://host[:port][/path]`, or `http://` in
/// `development` only ([`Error::HttpsRequired`] otherwise). Any other form is a provider error.
pub(crate) fn base_address(
    provider: &'static str,
    service: &'static str,
    address: &str,
    environment: Environment,
) -> Result<String> {
    let fail = |reason: &str| Error::Provider {
        provider,
        message: format!("the {service} address {reason}"),
    };
    let trimmed = address.trim().trim_end_matches('/');
    let uri: Uri = trimmed.parse().map_err(|_| fail("is not a valid url"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| fail("must start with https://"))?;
    if uri.authority().is_none() {
        return Err(fail("has no host"));
    }
    if uri.query().is_some() {
        return Err(fail("must not have a query"));
    }
    match scheme {
        "https" => {}
        "http" if !environment.is_strict() => {}
        "http" => {
            return Err(Error::HttpsRequired {
                environment: environment.as_str(),
                service,
            });
        }
        _ => return Err(fail("must start with https://")),
    }
    Ok(trimmed.to_owned())
}

/// A header value from configuration text; refuses control characters.
pub(crate) fn header_value(provider: &'static str, what: &str, text: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(text).map_err(|_| Error::Provider {
        provider,
        message: format!("the {what} holds characters a header cannot carry"),
    })
}

/// A header map of `(name, value)` pairs.
pub(crate) fn headers(pairs: impl IntoIterator<Item = (HeaderName, HeaderValue)>) -> HeaderMap {
    pairs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_http_is_refused_outside_development() {
        let parse = |a: &str, env| base_address("vault-transit", "vault", a, env);
        assert_eq!(
            parse(" https://vault.example:8200/ ", Environment::Production).unwrap(),
            "https://vault.example:8200"
        );
        for env in [
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            assert!(matches!(
                parse("http://127.0.0.1:8200", env),
                Err(Error::HttpsRequired {
                    service: "vault",
                    ..
                })
            ));
        }
        assert_eq!(
            parse("http://127.0.0.1:8200", Environment::Development).unwrap(),
            "http://127.0.0.1:8200"
        );
        for (bad, reason) in [
            ("vault.example:8200", "must start with https://"),
            ("ftp://vault.example", "must start with https://"),
            ("https://vault.example/?x=1", "must not have a query"),
            ("https:// vault", "is not a valid url"),
            ("/v1/transit", "must start with https://"),
        ] {
            let err = parse(bad, Environment::Production).unwrap_err();
            assert!(err.to_string().contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn only_throttling_and_passing_server_errors_are_retried() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 204, 400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
