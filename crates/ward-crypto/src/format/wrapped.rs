//! The wrapped-DEK format: parsing and writing of its bytes, no cryptography.
//!
//! Version 1 (integers big-endian):
//!
//! ```text
//! offset  len  field
//!      0    1  version   = 0x01
//!      1    4  kek_id    the KEK version that wrapped it
//!      5    4  dek_id    the id of the wrapped DEK
//!      9    n  body      provider-specific sealed key:
//!                        local:   nonce(12) ‖ AES-256-GCM(KEK, DEK)(32) ‖ tag(16)
//!                        aws-kms: the KMS `CiphertextBlob`
//! ```
//!
//! The 9 header bytes and the caller's context are authenticated with the body (local: as AAD;
//! aws-kms: as the KMS encryption context), so a wrapped key cannot be relabelled with another
//! DEK id or moved to another workspace.

use crate::error::{Error, Result};
use crate::keys::{DekId, KekId};

/// The only wrapped-DEK version written so far.
pub(crate) const VERSION_1: u8 = 1;
/// Length of a version-1 header.
pub(crate) const HEADER_LEN: usize = 9;

const FORMAT: &str = "wrapped data key";

/// The header of a wrapped DEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kek_id: KekId,
    pub(crate) dek_id: DekId,
}

impl Header {
    /// The header's 9 bytes.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION_1;
        out[1..5].copy_from_slice(&self.kek_id.to_be_bytes());
        out[5..9].copy_from_slice(&self.dek_id.to_be_bytes());
        out
    }
}

/// Splits wrapped-DEK bytes into header and body.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Header, &[u8])> {
    super::check_version(bytes, FORMAT, VERSION_1)?;
    let too_short = || Error::Malformed {
        format: FORMAT,
        reason: "no body after the header",
    };
    if bytes.len() <= HEADER_LEN {
        return Err(too_short());
    }
    let kek_id: [u8; 4] = bytes[1..5].try_into().map_err(|_| too_short())?;
    let dek_id: [u8; 4] = bytes[5..9].try_into().map_err(|_| too_short())?;
    Ok((
        Header {
            kek_id: KekId::from_be_bytes(kek_id),
            dek_id: DekId::from_be_bytes(dek_id),
        },
        &bytes[HEADER_LEN..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_short_input_is_refused() {
        let header = Header {
            kek_id: KekId(3),
            dek_id: DekId(0x0A0B_0C0D),
        };
        let mut bytes = header.to_bytes().to_vec();
        assert_eq!(bytes, [1, 0, 0, 0, 3, 0x0A, 0x0B, 0x0C, 0x0D]);
        assert!(matches!(parse(&bytes), Err(Error::Malformed { .. })));
        bytes.push(0xFF);
        let (parsed, body) = parse(&bytes).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(body, [0xFF]);
        bytes[0] = 9;
        assert!(matches!(
            parse(&bytes),
            Err(Error::UnsupportedVersion { version: 9 })
        ));
        assert!(matches!(parse(&[]), Err(Error::Malformed { .. })));
    }
}
