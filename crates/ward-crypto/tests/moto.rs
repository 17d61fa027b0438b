//! moto on loopback (started by `cargo xtask services up`; endpoint in
//! `WARD_TEST_MOTO_ENDPOINT`, default `http://127.0.0.1:9100`), for the AWS providers' tests.
//! Without `WARD_TEST_INTEGRATION` a missing server skips with a message; with it, a missing
//! server fails the test.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use aws_credential_types::Credentials;

fn endpoint() -> String {
    std::env::var("WARD_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned())
}

/// The endpoint if its server answers; `None` (after saying why) when the test should skip.
pub(crate) fn server() -> Option<String> {
    let endpoint = endpoint();
    let authority = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let reachable = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    match (
        reachable,
        std::env::var_os("WARD_TEST_INTEGRATION").is_some(),
    ) {
        (true, _) => Some(endpoint),
        (false, true) => panic!(
            "WARD_TEST_INTEGRATION is set but no moto server answers at {endpoint}; \
             run `cargo xtask services up`"
        ),
        (false, false) => {
            eprintln!(
                "skipping test: no moto server at {endpoint} (run `cargo xtask services up`, \
                 or set WARD_TEST_INTEGRATION to make this a failure)"
            );
            None
        }
    }
}

/// An SDK configuration for moto at `endpoint`: plain http, a region, and credentials moto
/// accepts (any are; these are not secrets).
pub(crate) fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "ward-test",
            )),
        )
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build()
}
