//! The field ciphertext format: parsing and writing of its bytes, no cryptography.
//!
//! Version 1 (all integers big-endian):
//!
//! ```text
//! offset  len  field
//!      0    1  version       = 0x01
//!      1    4  key_id        id of the workspace DEK
//!      5   32  commitment    HKDF-SHA256(DEK, salt = "", "ward/v1/field/commitment")
//!     37   12  nonce         random, fresh for every seal
//!     49    n  ciphertext    AES-256-GCM under HKDF-SHA256(DEK, salt = "", "ward/v1/field/key")
//!   49+n   16  tag
//! ```
//!
//! The header is bytes `0..49`; the AEAD's associated data is `header ‖ context`. The header has a
//! fixed length, so the concatenation is unambiguous.

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::keys::DekId;

/// The only field format version written so far.
pub(crate) const VERSION_1: u8 = 1;
/// Length of the key commitment in a version-1 header.
pub(crate) const COMMITMENT_LEN: usize = 32;
/// Length of a version-1 header: version, key id, commitment, nonce.
pub(crate) const HEADER_LEN: usize = 1 + 4 + COMMITMENT_LEN + NONCE_LEN;
/// Bytes a version-1 ciphertext adds to its plaintext.
pub(crate) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const FORMAT: &str = "field ciphertext";

/// A parsed version-1 field ciphertext, borrowing the input.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    /// The id of the DEK it was sealed with.
    pub(crate) key_id: DekId,
    /// The key commitment written at seal time.
    pub(crate) commitment: &'a [u8; COMMITMENT_LEN],
    /// The AES-GCM nonce.
    pub(crate) nonce: &'a [u8; NONCE_LEN],
    /// The header bytes, the first part of the associated data.
    pub(crate) header: &'a [u8],
    /// Ciphertext followed by the tag.
    pub(crate) sealed: &'a [u8],
}

/// Reads the version byte and key id only: what key-usage reports need.
pub(crate) fn peek_key_id(bytes: &[u8]) -> Result<DekId> {
    parse(bytes).map(|f| f.key_id)
}

/// Splits a field ciphertext into its parts, checking version and minimum length.
pub(crate) fn parse(bytes: &[u8]) -> Result<Field<'_>> {
    super::check_version(bytes, FORMAT, VERSION_1)?;
    if bytes.len() < OVERHEAD {
        return Err(Error::Malformed {
            format: FORMAT,
            reason: "shorter than header and tag",
        });
    }
    let (header, sealed) = bytes.split_at(HEADER_LEN);
    let too_short = || Error::Malformed {
        format: FORMAT,
        reason: "shorter than header and tag",
    };
    let key_id: [u8; 4] = header[1..5].try_into().map_err(|_| too_short())?;
    let commitment = header[5..5 + COMMITMENT_LEN]
        .try_into()
        .map_err(|_| too_short())?;
    let nonce = header[5 + COMMITMENT_LEN..HEADER_LEN]
        .try_into()
        .map_err(|_| too_short())?;
    Ok(Field {
        key_id: DekId::from_be_bytes(key_id),
        commitment,
        nonce,
        header,
        sealed,
    })
}

/// Starts a version-1 ciphertext: writes the header into a buffer with room for the body and tag.
pub(crate) fn begin(
    key_id: DekId,
    commitment: &[u8; COMMITMENT_LEN],
    nonce: &[u8; NONCE_LEN],
    plaintext_len: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext_len);
    out.push(VERSION_1);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(commitment);
    out.extend_from_slice(nonce);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_what_begin_wrote() {
        let mut bytes = begin(DekId(0x0102_0304), &[7; COMMITMENT_LEN], &[9; NONCE_LEN], 3);
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(&bytes[..5], &[1, 1, 2, 3, 4]);
        bytes.extend_from_slice(&[0xAA; 3 + TAG_LEN]);
        let field = parse(&bytes).unwrap();
        assert_eq!(field.key_id, DekId(0x0102_0304));
        assert_eq!(field.commitment, &[7; COMMITMENT_LEN]);
        assert_eq!(field.nonce, &[9; NONCE_LEN]);
        assert_eq!(field.header.len(), HEADER_LEN);
        assert_eq!(field.sealed.len(), 3 + TAG_LEN);
    }

    #[test]
    fn parse_refuses_empty_short_and_unknown_versions() {
        assert!(matches!(parse(&[]), Err(Error::Malformed { .. })));
        assert!(matches!(
            parse(&[2; 100]),
            Err(Error::UnsupportedVersion { version: 2 })
        ));
        let short = [VERSION_1; OVERHEAD - 1];
        assert!(matches!(parse(&short), Err(Error::Malformed { .. })));
        assert!(parse(&[VERSION_1; OVERHEAD]).is_ok());
    }
}
