//! The deployment environment, read from `WARD_ENV`: ward-types' [`Environment`], shared with
//! ward-storage, so both crates parse the variable the same way.

pub(crate) use ward_types::Environment;

use crate::error::{Error, Result};

/// The environment named by `WARD_ENV`; `Production` when it is unset, and
/// [`Error::InvalidEnvironment`] for a value that names none.
pub(crate) fn from_env() -> Result<Environment> {
    Environment::from_env().map_err(|_| Error::InvalidEnvironment)
}

/// Refuses any configured endpoint that is not `https://` outside `development`.
#[cfg(any(
    feature = "aws-kms",
    feature = "aws-secrets-manager",
    feature = "gcp-kms"
))]
pub(crate) fn check_endpoints<'a>(
    environment: Environment,
    service: &'static str,
    endpoints: impl IntoIterator<Item = Option<&'a str>>,
) -> Result<()> {
    if !environment.is_strict() {
        return Ok(());
    }
    for endpoint in endpoints.into_iter().flatten() {
        let scheme = endpoint.trim().split_once("://").map(|(s, _)| s);
        if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("https")) {
            return Err(Error::HttpsRequired {
                environment: environment.as_str(),
                service,
            });
        }
    }
    Ok(())
}

#[cfg(all(
    test,
    any(
        feature = "aws-kms",
        feature = "aws-secrets-manager",
        feature = "gcp-kms"
    )
))]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_are_refused_outside_development() {
        let http = Some("http://127.0.0.1:9100");
        let https = Some("https://kms.eu-west-1.amazonaws.com");
        for env in [
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            assert!(matches!(
                check_endpoints(env, "kms", [None, http]),
                Err(Error::HttpsRequired { environment, service: "kms" }) if environment == env.as_str()
            ));
            assert!(matches!(
                check_endpoints(env, "kms", [Some("127.0.0.1:9100")]),
                Err(Error::HttpsRequired { .. })
            ));
            assert!(check_endpoints(env, "kms", [https, None, Some("HTTPS://kms.local")]).is_ok());
            assert!(check_endpoints(env, "kms", [None, None]).is_ok());
        }
        assert!(check_endpoints(Environment::Development, "kms", [http]).is_ok());
    }
}
