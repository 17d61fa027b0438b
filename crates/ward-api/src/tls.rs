//! Optional TLS termination by the service itself: rustls on the ring provider, TLS 1.3 only,
//! offering `TLS_AES_256_GCM_SHA384` and `TLS_CHACHA20_POLY1305_SHA256`, HTTP/1.1 by ALPN.
//!
//! The certificate chain and key are read from PEM files and read again whenever either file
//! changes (checked every few seconds): renewed certificates take effect without a restart. A
//! new pair that does not load is refused with a warning and the one in use stays.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::cipher_suite::{
    TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};
use crate::routes::router;
use crate::service::Service;

/// How often the certificate files are checked for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// The PEM files of the certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn problem(files: &TlsFiles, what: impl std::fmt::Display) -> Error {
    Error::Config {
        problems: vec![format!(
            "TLS certificate {} / key {}: {what}",
            files.cert.display(),
            files.key.display()
        )],
    }
}

/// The server configuration for `files`: TLS 1.3 only, the two suites, HTTP/1.1.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| problem(files, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| problem(files, e))?;
    if certs.is_empty() {
        return Err(problem(files, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| problem(files, e))?;
    let provider = CryptoProvider {
        cipher_suites: vec![TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256],
        ..rustls::crypto::ring::default_provider()
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| problem(files, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| problem(files, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// When each file last changed.
fn stamps(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let at = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (at(&files.cert), at(&files.key))
}

/// Serves `service` over TLS on `listener` until `shutdown`, then drains for up to `deadline`
/// (as [`crate::server::serve`]); the files are checked for a change every `check`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    service: Service,
    files: TlsFiles,
    shutdown: impl Future<Output = ()> + Send,
    deadline: Duration,
    check: Duration,
) -> Result<()> {
    let tls = RustlsConfig::from_config(server_config(&files)?);
    let io = |source| Error::Io {
        what: "serving TLS".to_owned(),
        source,
    };
    listener.set_nonblocking(true).map_err(io)?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls.clone())
        .map_err(io)?
        .handle(handle.clone())
        .serve(router(service).into_make_service());
    let reloads = tokio::spawn(watch(files, tls, check));
    let mut server = std::pin::pin!(server);
    let done = tokio::select! {
        done = &mut server => Some(done),
        () = shutdown => None,
    };
    let done = match done {
        Some(done) => done,
        None => {
            tracing::info!(
                deadline_seconds = deadline.as_secs(),
                "shutting down: draining requests"
            );
            handle.graceful_shutdown(Some(deadline));
            server.await
        }
    };
    reloads.abort();
    done.map_err(io)
}

/// Reloads the certificate whenever its files change.
async fn watch(files: TlsFiles, tls: RustlsConfig, check: Duration) {
    let mut seen = stamps(&files);
    loop {
        tokio::time::sleep(check).await;
        let now = stamps(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match server_config(&files) {
            Ok(config) => {
                tls.reload_from_config(config);
                tracing::info!("TLS certificate reloaded");
            }
            Err(e) => {
                tracing::warn!(error = %e, "the changed TLS certificate does not load; the previous one stays");
            }
        }
    }
}
