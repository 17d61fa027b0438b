//! What the AWS providers share (features `aws-kms`, `aws-secrets-manager`): the SDK
//! configuration from the standard sources over rustls on ring, and the https rule for endpoints.

use crate::error::{Error, Result};

/// The SDK configuration from the standard AWS sources (environment, shared config files, web
/// identity, container or instance role) over HTTPS (rustls on ring), after checking that neither
/// `service_endpoint_var` (say `AWS_ENDPOINT_URL_KMS`) nor the general endpoint names an
/// `http://` endpoint outside `development` ([`Error::HttpsRequired`]).
pub(crate) async fn sdk_config(
    service: &'static str,
    service_endpoint_var: &str,
) -> Result<aws_config::SdkConfig> {
    let environment = crate::env::from_env()?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let service_endpoint = std::env::var(service_endpoint_var).ok();
    crate::env::check_endpoints(
        environment,
        service,
        [service_endpoint.as_deref(), config.endpoint_url()],
    )?;
    Ok(config)
}

/// An SDK failure as a provider error, with the SDK's message and its causes (which hold no key
/// material: request bodies are never part of them).
pub(crate) fn provider_error(
    provider: &'static str,
    operation: &str,
    err: impl std::error::Error,
) -> Error {
    Error::Provider {
        provider,
        message: format!(
            "{operation}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        ),
    }
}
