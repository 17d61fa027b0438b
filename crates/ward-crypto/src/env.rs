//! The deployment environment, read from `WARD_ENV` exactly as ward-storage's S3 builder reads it.
//!
//! ward-crypto sits below ward-storage and cannot name its `Environment`, so this small private
//! copy mirrors its parsing: unset (or not Unicode) means `production`; `development`, `test`,
//! `staging` and `production` are the accepted values; anything else is refused. Only an explicit
//! `development` relaxes a rule. Both copies belong in a shared vocabulary crate later.

use crate::error::{Error, Result};

/// The variable naming the environment.
pub(crate) const WARD_ENV: &str = "WARD_ENV";

/// A deployment environment; every one but `Development` applies the strict rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Development,
    Test,
    Staging,
    Production,
}

impl Environment {
    /// The environment named by `WARD_ENV`; `Production` when it is unset.
    pub(crate) fn from_env() -> Result<Self> {
        parse(std::env::var(WARD_ENV).ok().as_deref())
    }

    /// The lowercase name, as configured.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Whether the strict rules apply: everywhere but `Development`.
    pub(crate) fn is_strict(self) -> bool {
        !matches!(self, Self::Development)
    }
}

/// Parses the value of `WARD_ENV` (`None` when unset).
fn parse(value: Option<&str>) -> Result<Environment> {
    match value {
        None | Some("production") => Ok(Environment::Production),
        Some("development") => Ok(Environment::Development),
        Some("test") => Ok(Environment::Test),
        Some("staging") => Ok(Environment::Staging),
        Some(_) => Err(Error::InvalidEnvironment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_means_production_and_only_development_relaxes() {
        assert_eq!(parse(None).unwrap(), Environment::Production);
        for (value, env) in [
            ("development", Environment::Development),
            ("test", Environment::Test),
            ("staging", Environment::Staging),
            ("production", Environment::Production),
        ] {
            let parsed = parse(Some(value)).unwrap();
            assert_eq!(parsed, env);
            assert_eq!(parsed.as_str(), value);
            assert_eq!(parsed.is_strict(), value != "development");
        }
        for bad in ["dev", "Development", "prod", ""] {
            assert!(matches!(parse(Some(bad)), Err(Error::InvalidEnvironment)));
        }
    }
}
