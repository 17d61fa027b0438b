//! Bearer tokens (JWT, RFC 7519) and the signed download links.
//!
//! A token carries `sub` (the user), `workspace_id`, `role` and `exp`, and is signed either with
//! HS256 under the service's token secret (at least 32 bytes), or, when a public key is
//! configured ([`Keys::with_public_key_pem`]), by the identity provider's Ed25519 (EdDSA) or RSA
//! (RS256) key; exactly one algorithm is accepted, `exp` is required and checked with no leeway
//! beyond 30 seconds. Every query the caller makes is scoped by `workspace_id`.
//!
//! A download link is `/api/v1/files/{attachment}?w={workspace}&u={actor}&e={expiry}&s={signature}`:
//! an HMAC-SHA256 over the four values (and the link format's version) under a key derived from
//! the token secret with HKDF (`ward/v1/download-link`), so a link cannot be made, stretched,
//! moved to another file or workspace or credited to another user, and stops working at its
//! expiry. The download is audited in the name of the user the link was issued to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;
use ward_domain::{Actor, WorkspaceId};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The shortest token secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The longest a token header may be, in bytes: anything longer is refused unread.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// What a caller may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A workspace member: clients, sessions and their files.
    #[default]
    Member,
    /// A workspace administrator: also the workspace's quota.
    Admin,
}

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (an actor id: 1–120 ASCII letters, digits or `-_.:@`).
    pub sub: String,
    /// The workspace every request of this token is scoped to.
    pub workspace_id: Uuid,
    /// The role in that workspace.
    #[serde(default)]
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// What a download link grants: one attachment of one workspace, to one user, until a time.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// The attachment.
    pub attachment: Uuid,
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// The actor id the link was issued to (the audit log's name for the download).
    pub actor: &'a str,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, as the audit log names them (`user:<sub>`).
    pub actor: Actor,
    /// The workspace the token is scoped to.
    pub workspace: WorkspaceId,
    /// The role.
    pub role: Role,
}

/// The service's keys: token verification (and issue, for development tokens) and link signing.
pub struct Keys {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    link_key: Zeroizing<[u8; 32]>,
    issues: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// The keys from a token secret in base64 (surrounding whitespace ignored); refused when it
    /// is not base64 or shorter than [`MIN_SECRET_BYTES`].
    pub fn from_base64_secret(text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| Error::Config {
            problems: vec!["the token secret is not base64".to_owned()],
        })?);
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(Error::Config {
                problems: vec![format!(
                    "the token secret must be at least {MIN_SECRET_BYTES} bytes (it is {})",
                    bytes.len()
                )],
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let mut link_key = Zeroizing::new([0_u8; 32]);
        hkdf::Hkdf::<Sha256>::new(None, &bytes)
            .expand(b"ward/v1/download-link", link_key.as_mut())
            .map_err(|_| Error::Config {
                problems: vec!["deriving the link key failed".to_owned()],
            })?;
        let unusable = |_| Error::Config {
            problems: vec!["the token secret is not a usable HS256 key".to_owned()],
        };
        Ok(Self {
            decoding: DecodingKey::from_secret(&bytes).map_err(unusable)?,
            encoding: EncodingKey::from_secret(&bytes).map_err(unusable)?,
            validation,
            link_key,
            issues: true,
        })
    }

    /// Verifies tokens with the identity provider's public key instead of the secret: an
    /// Ed25519 key (EdDSA) or an RSA key (RS256), in PEM. Tokens signed any other way, HS256
    /// included, are refused; download links stay signed under the secret, and the service
    /// issues no tokens ([`issue`](Self::issue) is refused).
    pub fn with_public_key_pem(mut self, pem: &[u8]) -> Result<Self> {
        let (key, algorithm) = match DecodingKey::from_ed_pem(pem) {
            Ok(k) => (k, Algorithm::EdDSA),
            Err(_) => match DecodingKey::from_rsa_pem(pem) {
                Ok(k) => (k, Algorithm::RS256),
                Err(_) => {
                    return Err(Error::Config {
                        problems: vec![
                            "the token public key is not an Ed25519 or RSA public key in PEM"
                                .to_owned(),
                        ],
                    });
                }
            },
        };
        self.decoding = key;
        self.validation.algorithms = vec![algorithm];
        self.issues = false;
        Ok(self)
    }

    /// Signs `claims` into a token (HS256): development tokens, when tokens are verified with
    /// the secret.
    pub fn issue(&self, claims: &Claims) -> Result<String> {
        if !self.issues {
            return Err(Error::Config {
                problems: vec![
                    "tokens are verified with a public key: the identity provider issues them"
                        .to_owned(),
                ],
            });
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|_| {
            Error::Config {
                problems: vec!["signing the token failed".to_owned()],
            }
        })
    }

    /// The caller a token names, or 401.
    pub fn verify(&self, token: &str) -> Result<Caller> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::unauthorized("token.malformed"));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                Error::unauthorized(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "token.expired",
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => "token.signature",
                    _ => "token.malformed",
                })
            })?;
        let claims = data.claims;
        let actor = Actor::new(format!("user:{}", claims.sub))
            .map_err(|_| Error::unauthorized("token.subject"))?;
        Ok(Caller {
            actor,
            workspace: WorkspaceId::from(claims.workspace_id),
            role: claims.role,
        })
    }

    /// The signature of a download link for `attachment` of `workspace`, issued to `actor`,
    /// valid until `expires` (seconds since the Unix epoch).
    pub fn sign_link(&self, link: &Link<'_>) -> String {
        URL_SAFE_NO_PAD.encode(self.link_mac(link).finalize().into_bytes())
    }

    /// Whether `signature` is this service's for the link's values (compared in constant time).
    /// The expiry is the caller's to check.
    pub fn link_is_genuine(&self, link: &Link<'_>, signature: &str) -> bool {
        if signature.len() > 64 {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.link_mac(link).verify_slice(&tag).is_ok()
    }

    fn link_mac(&self, link: &Link<'_>) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256>>::new_from_slice(self.link_key.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(b"ward/v1/link\0");
        mac.update(link.attachment.as_bytes());
        mac.update(link.workspace.as_uuid().as_bytes());
        mac.update(&link.expires.to_be_bytes());
        // The actor is last and of any length: nothing follows it to be confused with.
        mac.update(link.actor.as_bytes());
        mac
    }
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync + AsRef<Keys>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| Error::unauthorized("token.missing"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| Error::unauthorized("token.malformed"))?;
        state.as_ref().verify(token.trim())
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_base64_secret(&STANDARD.encode([7_u8; 32])).expect("keys")
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "nurse-1".into(),
            workspace_id: Uuid::new_v4(),
            role: Role::Member,
            exp,
            iat: None,
        }
    }

    fn code(e: Error) -> &'static str {
        e.answer().1
    }

    #[test]
    fn a_token_round_trips_and_names_its_workspace() {
        let k = keys();
        let c = claims(unix_now() + 60);
        let caller = k.verify(&k.issue(&c).expect("issue")).expect("verify");
        assert_eq!(caller.workspace.as_uuid(), c.workspace_id);
        assert_eq!(caller.actor.as_str(), "user:nurse-1");
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let k = keys();
        let expired = k.issue(&claims(unix_now() - 3600)).expect("issue");
        assert_eq!(code(k.verify(&expired).unwrap_err()), "token.expired");
        let good = k.issue(&claims(unix_now() + 60)).expect("issue");
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        assert!(k.verify(&tampered).is_err());
        let other = Keys::from_base64_secret(&STANDARD.encode([8_u8; 32])).expect("keys");
        assert_eq!(code(other.verify(&good).unwrap_err()), "token.signature");
        assert_eq!(
            code(k.verify(&"a".repeat(9000)).unwrap_err()),
            "token.malformed"
        );
    }

    #[test]
    fn with_a_public_key_only_that_key_signs_tokens() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let k = keys()
            .with_public_key_pem(pair.public_key_pem().as_bytes())
            .expect("public key");
        let claims = claims(unix_now() + 60);
        let signer = EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).expect("signer");
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signer).expect("token");
        let caller = k.verify(&token).expect("an EdDSA token verifies");
        assert_eq!(caller.workspace.as_uuid(), claims.workspace_id);
        // An HS256 token under the secret no longer passes, and no token is issued.
        let hs = keys().issue(&claims).expect("hs256");
        assert!(k.verify(&hs).is_err());
        assert!(k.issue(&claims).is_err());
        // Another Ed25519 key's token is refused.
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_pem(other.serialize_pem().as_bytes()).expect("signer"),
        )
        .expect("token");
        assert_eq!(code(k.verify(&forged).unwrap_err()), "token.signature");
        assert!(matches!(
            keys().with_public_key_pem(b"not a key"),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(
            Keys::from_base64_secret(&STANDARD.encode([1_u8; 31])),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn a_link_is_bound_to_its_file_workspace_and_expiry() {
        let k = keys();
        let link = Link {
            attachment: Uuid::new_v4(),
            workspace: WorkspaceId::from(Uuid::new_v4()),
            actor: "user:nurse-1",
            expires: 100,
        };
        let s = k.sign_link(&link);
        assert!(k.link_is_genuine(&link, &s));
        for other in [
            Link {
                expires: 101,
                ..link
            },
            Link {
                attachment: Uuid::new_v4(),
                ..link
            },
            Link {
                workspace: WorkspaceId::from(Uuid::new_v4()),
                ..link
            },
            Link {
                actor: "user:nurse-2",
                ..link
            },
        ] {
            assert!(!k.link_is_genuine(&other, &s), "{other:?}");
        }
        assert!(!k.link_is_genuine(&link, "not-a-signature"));
    }
}
