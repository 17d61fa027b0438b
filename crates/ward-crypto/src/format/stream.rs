//! The stream header's byte layout and the length arithmetic of the chunk grid: bytes only, no keys.

use crate::error::{Error, Result};
use crate::keys::DekId;

/// The eight bytes every ward stream starts with.
pub const MAGIC: [u8; 8] = *b"WARDSTRM";

/// The newest stream format version this build writes: 2, whose chunks also authenticate the
/// caller's context (version 1 authenticated the header alone; it is still read).
pub const CURRENT_VERSION: u8 = 2;

/// Length of the per-object random salt in bytes.
pub(crate) const SALT_LEN: usize = 32;

/// Length of the key commitment in bytes.
pub(crate) const COMMITMENT_LEN: usize = 32;

/// Length of the authentication tag that ends every chunk.
pub(crate) const TAG_LEN: usize = crate::aead::TAG_LEN;

/// Length of a version 1 or version 2 header in bytes (the two share one layout).
const HEADER_LEN: usize = MAGIC.len() + 1 + 4 + 4 + SALT_LEN + COMMITMENT_LEN;

/// The longest header of any version this build reads. Fetching this many bytes from the start of
/// an object (or the whole object, if shorter) is always enough to parse its header.
pub const MAX_HEADER_LEN: usize = HEADER_LEN;

/// The default plaintext bytes per chunk: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;

/// The smallest chunk size a writer may choose or a reader accepts: 1 KiB.
pub const MIN_CHUNK_SIZE: u32 = 1024;

/// The largest chunk size a writer may choose or a reader accepts: 4 MiB. Readers and writers hold
/// about two chunks in memory, so this bound also bounds their memory.
pub const MAX_CHUNK_SIZE: u32 = 4 * 1024 * 1024;

const FORMAT: &str = "stream header";

fn malformed(reason: &'static str) -> Error {
    Error::Malformed {
        format: FORMAT,
        reason,
    }
}

fn length_error(reason: &'static str) -> Error {
    Error::Malformed {
        format: "stream length",
        reason,
    }
}

/// Reads the magic and version at the start of `prefix` and returns the length of the whole
/// header, so a caller knows how many bytes to fetch before [`StreamHeader::parse`].
///
/// Needs at least the first 9 bytes (magic and version).
///
/// ```
/// use ward_crypto::stream::{header_len, MAX_HEADER_LEN};
///
/// let mut start = b"WARDSTRM".to_vec();
/// start.push(2);
/// assert_eq!(header_len(&start)?, MAX_HEADER_LEN);
/// start[8] = 9;
/// assert!(matches!(
///     header_len(&start),
///     Err(ward_crypto::Error::UnsupportedVersion { version: 9 })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn header_len(prefix: &[u8]) -> Result<usize> {
    let (magic, rest) = prefix
        .split_at_checked(MAGIC.len())
        .ok_or_else(|| malformed("shorter than the magic bytes"))?;
    if magic != MAGIC {
        return Err(malformed("not a ward stream (bad magic)"));
    }
    match rest.first() {
        None => Err(malformed("missing version byte")),
        Some(1 | 2) => Ok(HEADER_LEN),
        Some(&version) => Err(Error::UnsupportedVersion { version }),
    }
}

/// A parsed stream header: everything needed to choose the key and lay out the chunks, and
/// nothing secret.
///
/// Parse it from the first bytes of an object without any key, read [`StreamHeader::key_id`] to
/// resolve the data key, and use the length functions to map plaintext offsets to ciphertext
/// offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    version: u8,
    key_id: DekId,
    chunk_size: u32,
    salt: [u8; SALT_LEN],
    commitment: [u8; COMMITMENT_LEN],
}

impl StreamHeader {
    /// A header for a new object (the writer fills in the commitment it derived). `version` is
    /// [`CURRENT_VERSION`] except where tests write version 1 to check the reader.
    pub(crate) fn new(
        version: u8,
        key_id: DekId,
        chunk_size: u32,
        salt: [u8; SALT_LEN],
        commitment: [u8; COMMITMENT_LEN],
    ) -> Self {
        Self {
            version,
            key_id,
            chunk_size,
            salt,
            commitment,
        }
    }

    /// Parses the header at the start of `bytes`; bytes after the header are ignored, so the
    /// first [`MAX_HEADER_LEN`] bytes of an object (or all of it) can be passed.
    ///
    /// Errors: [`Error::Malformed`] for a short buffer, a bad magic or an out-of-bounds chunk size;
    /// [`Error::UnsupportedVersion`] for a version this build does not know.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let len = header_len(bytes)?;
        let header = bytes
            .get(..len)
            .ok_or_else(|| malformed("truncated header"))?;
        // Versions 1 and 2 share this layout; `header_len` has refused every other version.
        let version = header[MAGIC.len()];
        let (key_id, rest) = split_array::<4>(&header[MAGIC.len() + 1..]);
        let (chunk_size, rest) = split_array::<4>(rest);
        let (salt, rest) = split_array::<SALT_LEN>(rest);
        let (commitment, _) = split_array::<COMMITMENT_LEN>(rest);
        let chunk_size = u32::from_be_bytes(chunk_size);
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(malformed("chunk size outside 1 KiB..=4 MiB"));
        }
        Ok(Self {
            version,
            key_id: DekId::from_be_bytes(key_id),
            chunk_size,
            salt,
            commitment,
        })
    }

    /// The header's bytes exactly as written at the start of the object.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.commitment);
        out
    }

    /// The format version the object was written in.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Whether the object's chunks authenticate the caller's context (version 2 on). A version 1
    /// object opens whatever context is given: it was written before contexts existed, so it is
    /// bound to its data key but not to its place. Callers that must refuse unbound objects check
    /// this after parsing.
    pub fn binds_context(&self) -> bool {
        self.version >= 2
    }

    /// The id of the data key the object was encrypted under.
    pub fn key_id(&self) -> DekId {
        self.key_id
    }

    /// Plaintext bytes per chunk (every chunk but the final one holds exactly this many).
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// The length of this header in bytes: where the first chunk starts.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
    }

    pub(crate) fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    pub(crate) fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// Bytes of one full chunk on disk: chunk size plus tag.
    pub(crate) fn sealed_chunk_len(&self) -> u64 {
        u64::from(self.chunk_size) + TAG_LEN as u64
    }

    /// The number of chunks a plaintext of `plaintext_len` bytes is cut into (at least one: an
    /// empty plaintext is one empty final chunk).
    pub fn chunk_count(&self, plaintext_len: u64) -> u64 {
        plaintext_len.div_ceil(u64::from(self.chunk_size)).max(1)
    }

    /// The total object length (header, chunks and tags) for a plaintext of `plaintext_len` bytes.
    ///
    /// Errors with [`Error::Malformed`] only if the result would not fit in a `u64`.
    pub fn ciphertext_len(&self, plaintext_len: u64) -> Result<u64> {
        let tags = self
            .chunk_count(plaintext_len)
            .checked_mul(TAG_LEN as u64)
            .ok_or_else(|| length_error("length overflows u64"))?;
        plaintext_len
            .checked_add(tags)
            .and_then(|n| n.checked_add(self.encoded_len() as u64))
            .ok_or_else(|| length_error("length overflows u64"))
    }

    /// The plaintext length of an object whose total length (header included) is
    /// `ciphertext_len`.
    ///
    /// Errors with [`Error::Malformed`] when no plaintext length gives that object length (a
    /// stream cut inside a tag, or shorter than its header and one tag): such an object was
    /// truncated or extended.
    pub fn plaintext_len(&self, ciphertext_len: u64) -> Result<u64> {
        let body = ciphertext_len
            .checked_sub(self.encoded_len() as u64)
            .ok_or_else(|| length_error("shorter than its header"))?;
        if body < TAG_LEN as u64 {
            return Err(length_error("final chunk missing"));
        }
        let full = self.sealed_chunk_len();
        let chunks = body.div_ceil(full);
        let last = body - (chunks - 1) * full;
        // The final chunk carries at least its tag, and is empty only when it is the only chunk.
        if last < TAG_LEN as u64 || (last == TAG_LEN as u64 && chunks > 1) {
            return Err(length_error("length does not fit the chunk layout"));
        }
        Ok(body - chunks * TAG_LEN as u64)
    }
}

/// Splits a fixed-size array off the front of `bytes`, which the caller has sized.
fn split_array<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    let (head, rest) = bytes.split_at(N);
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    (out, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(chunk_size: u32) -> StreamHeader {
        StreamHeader::new(2, DekId(7), chunk_size, [1; SALT_LEN], [2; COMMITMENT_LEN])
    }

    #[test]
    fn header_round_trips_through_bytes() {
        let h = header(4096);
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), MAX_HEADER_LEN);
        assert_eq!(bytes.len(), h.encoded_len());
        assert_eq!(StreamHeader::parse(&bytes).unwrap(), h);
        let mut longer = bytes;
        longer.extend_from_slice(b"chunk bytes follow");
        assert_eq!(StreamHeader::parse(&longer).unwrap(), h);
    }

    #[test]
    fn header_parse_names_what_is_wrong() {
        let bytes = header(4096).to_bytes();
        let reason = |b: &[u8]| match StreamHeader::parse(b) {
            Err(Error::Malformed { reason, .. }) => reason,
            other => panic!("expected malformed, got {other:?}"),
        };
        assert_eq!(reason(&bytes[..3]), "shorter than the magic bytes");
        assert_eq!(reason(&bytes[..8]), "missing version byte");
        assert_eq!(reason(&bytes[..40]), "truncated header");
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(reason(&bad), "not a ward stream (bad magic)");
        for size in [0u32, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1] {
            let mut bad = bytes.clone();
            bad[13..17].copy_from_slice(&size.to_be_bytes());
            assert_eq!(reason(&bad), "chunk size outside 1 KiB..=4 MiB");
        }
        for version in [0u8, 3, 255] {
            let mut bad = bytes.clone();
            bad[8] = version;
            assert!(matches!(
                StreamHeader::parse(&bad),
                Err(Error::UnsupportedVersion { version: v }) if v == version
            ));
        }
    }

    #[test]
    fn lengths_map_both_ways_at_chunk_edges() {
        let h = header(1024);
        let hl = h.encoded_len() as u64;
        for (plain, chunks) in [
            (0u64, 1u64),
            (1, 1),
            (1023, 1),
            (1024, 1),
            (1025, 2),
            (2048, 2),
            (10_000, 10),
        ] {
            assert_eq!(h.chunk_count(plain), chunks, "plaintext {plain}");
            let ct = h.ciphertext_len(plain).unwrap();
            assert_eq!(ct, hl + plain + 16 * chunks, "plaintext {plain}");
            assert_eq!(h.plaintext_len(ct).unwrap(), plain, "ciphertext {ct}");
        }
    }

    #[test]
    fn impossible_ciphertext_lengths_are_refused() {
        let h = header(1024);
        let hl = h.encoded_len() as u64;
        // Shorter than the header, no final chunk, cut inside a tag, an empty chunk after a full one.
        for ct in [0, hl - 1, hl, hl + 15, hl + 1040 + 15, hl + 1040 + 16] {
            assert!(
                matches!(h.plaintext_len(ct), Err(Error::Malformed { .. })),
                "ciphertext length {ct}"
            );
        }
        assert!(h.ciphertext_len(u64::MAX - 10).is_err());
    }
}
