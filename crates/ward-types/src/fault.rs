//! `Fault`: whose fault an error is, for mapping errors to a response.

use std::fmt;

/// Whose fault an error is: the one question a service asks of any ward error before answering.
///
/// Each ward crate's `Error::fault()` classifies every one of its variants; a service maps the
/// class to a status without matching on crate-specific variants:
///
/// | fault | meaning | HTTP status |
/// |---|---|---|
/// | [`ClientInput`](Self::ClientInput) | the request's own input is malformed or refused | 400 (unparseable) or 422 (well-formed but refused) |
/// | [`NotFound`](Self::NotFound) | the thing named does not exist (or no longer does) | 404 |
/// | [`Conflict`](Self::Conflict) | the request clashes with the current state | 409 |
/// | [`Limit`](Self::Limit) | the input exceeds a size or complexity bound | 413 (body too large) or 422 (too complex) |
/// | [`Server`](Self::Server) | ward or its configuration is at fault, or stored data failed an integrity check | 500 |
/// | [`Unavailable`](Self::Unavailable) | a dependency (store, KMS) failed or timed out; retrying may help | 503 |
///
/// A service logs `Server` and `Unavailable` faults with their detail and tells the client no
/// more than the status: their messages are for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The client's input is malformed or refused (HTTP 400 or 422).
    ClientInput,
    /// The thing named does not exist (HTTP 404).
    NotFound,
    /// The request conflicts with the current state (HTTP 409).
    Conflict,
    /// The input exceeds a size or complexity limit (HTTP 413 or 422).
    Limit,
    /// A server-side failure: a bug, a misconfiguration or stored data that fails an integrity
    /// check (HTTP 500).
    Server,
    /// A dependency is unavailable or timed out; the request may succeed later (HTTP 503).
    Unavailable,
}

impl Fault {
    /// Whether the client can fix this by changing its request: `ClientInput`, `NotFound`,
    /// `Conflict` and `Limit` (the 4xx classes).
    pub fn is_client_fault(self) -> bool {
        match self {
            Self::ClientInput | Self::NotFound | Self::Conflict | Self::Limit => true,
            Self::Server | Self::Unavailable => false,
        }
    }

    /// The snake_case name (`client_input`, `not_found`, …), for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientInput => "client_input",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Limit => "limit",
            Self::Server => "server",
            Self::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Fault {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_the_4xx_classes() {
        for (fault, client) in [
            (Fault::ClientInput, true),
            (Fault::NotFound, true),
            (Fault::Conflict, true),
            (Fault::Limit, true),
            (Fault::Server, false),
            (Fault::Unavailable, false),
        ] {
            assert_eq!(fault.is_client_fault(), client, "{fault}");
        }
    }
}
