//! `Environment`: the deployment environment, read from `WARD_ENV`.

use std::fmt;
use std::str::FromStr;

/// The variable naming the environment.
pub const WARD_ENV: &str = "WARD_ENV";

/// The deployment environment.
///
/// Production rules are the default: every environment but `Development` applies the strict
/// rules (for instance https endpoints and no default or weak credentials), and an unset
/// `WARD_ENV` means `Production`. Only an explicit `Development` relaxes them. The accepted
/// values are exactly `development`, `test`, `staging` and `production`; anything else is
/// refused rather than guessed.
///
/// ```
/// use ward_types::Environment;
///
/// assert_eq!(Environment::from_env_value(None)?, Environment::Production);
/// assert_eq!(Environment::from_env_value(Some("development"))?, Environment::Development);
/// assert!(Environment::from_env_value(Some("dev")).is_err());
/// assert!(!Environment::Development.is_strict());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Environment {
    /// A developer machine: the only environment where relaxed rules (http endpoints, default
    /// or weak credentials, loose key-file permissions) are accepted.
    Development,
    /// Automated tests: strict rules (a test against a local server says `Development`).
    Test,
    /// Pre-production: strict rules.
    Staging,
    /// Production: strict rules. The default.
    #[default]
    Production,
}

impl Environment {
    /// Every environment.
    pub const ALL: [Self; 4] = [
        Self::Development,
        Self::Test,
        Self::Staging,
        Self::Production,
    ];

    /// The environment named by `WARD_ENV`; `Production` when it is unset (or not Unicode).
    pub fn from_env() -> Result<Self, InvalidEnvironment> {
        Self::from_env_value(std::env::var(WARD_ENV).ok().as_deref())
    }

    /// Parses a value of `WARD_ENV`, `None` meaning unset (`Production`).
    pub fn from_env_value(value: Option<&str>) -> Result<Self, InvalidEnvironment> {
        value.map_or(Ok(Self::Production), str::parse)
    }

    /// The lowercase name, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Whether the strict rules apply: everywhere but `Development`.
    pub fn is_strict(self) -> bool {
        !matches!(self, Self::Development)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`Environment`] from a value that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidEnvironment;

impl fmt::Display for InvalidEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected development, test, staging or production")
    }
}

impl std::error::Error for InvalidEnvironment {}

impl FromStr for Environment {
    type Err = InvalidEnvironment;

    /// Accepts exactly the lowercase names; no abbreviations, no other case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or(InvalidEnvironment)
    }
}

crate::serde_as_text!(Environment);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_means_production_and_only_development_relaxes() {
        assert_eq!(Environment::default(), Environment::Production);
        assert_eq!(
            Environment::from_env_value(None),
            Ok(Environment::Production)
        );
        for env in Environment::ALL {
            let parsed = Environment::from_env_value(Some(env.as_str())).unwrap();
            assert_eq!(parsed, env);
            assert_eq!(parsed.to_string(), env.as_str());
            assert_eq!(parsed.is_strict(), env != Environment::Development);
        }
        for bad in [
            "dev",
            "Development",
            "prod",
            "PRODUCTION",
            " production",
            "",
        ] {
            assert_eq!(
                Environment::from_env_value(Some(bad)),
                Err(InvalidEnvironment)
            );
        }
    }
}
