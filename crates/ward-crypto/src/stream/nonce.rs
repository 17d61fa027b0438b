//! The STREAM nonce: a chunk counter and a last-chunk flag that can never repeat under one key.

use crate::aead::NONCE_LEN;
use crate::error::{Error, Result};

/// Bytes of the all-zero nonce prefix. Every object has its own key, so the prefix need not vary.
const PREFIX_LEN: usize = NONCE_LEN - 8 - 1;

/// The nonce sequence of one stream: `prefix(3, zero) ‖ counter(8, big-endian) ‖ last(1)`.
///
/// Each call to [`StreamNonce::advance`] yields the nonce of the next chunk and moves the counter
/// on, so a nonce is never handed out twice. Once a final chunk's nonce has been handed out the
/// sequence refuses every further call, and a counter that would wrap is refused too.
#[derive(Debug)]
pub(crate) struct StreamNonce {
    counter: u64,
    finished: bool,
}

impl StreamNonce {
    /// A sequence whose next nonce is for chunk `counter` (0 for a whole stream; a range read
    /// starts at its first chunk).
    pub(crate) fn starting_at(counter: u64) -> Self {
        Self {
            counter,
            finished: false,
        }
    }

    /// The counter of the chunk the next nonce is for.
    pub(crate) fn counter(&self) -> u64 {
        self.counter
    }

    /// The nonce for the next chunk, `last` marking the stream's final chunk.
    pub(crate) fn advance(&mut self, last: bool) -> Result<[u8; NONCE_LEN]> {
        if self.finished {
            return Err(Error::Internal("stream already has its final chunk"));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce[PREFIX_LEN..NONCE_LEN - 1].copy_from_slice(&self.counter.to_be_bytes());
        nonce[NONCE_LEN - 1] = u8::from(last);
        if last {
            self.finished = true;
        } else {
            self.counter = self
                .counter
                .checked_add(1)
                .ok_or(Error::Internal("stream chunk counter overflow"))?;
        }
        Ok(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_count_up_and_flag_the_last_chunk() {
        let mut n = StreamNonce::starting_at(0);
        assert_eq!(
            n.advance(false).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            n.advance(false).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
        );
        assert_eq!(n.counter(), 2);
        assert_eq!(
            n.advance(true).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1]
        );
    }

    #[test]
    fn a_second_final_chunk_is_refused() {
        let mut n = StreamNonce::starting_at(5);
        n.advance(true).unwrap();
        assert!(matches!(n.advance(true), Err(Error::Internal(_))));
        assert!(matches!(n.advance(false), Err(Error::Internal(_))));
    }

    #[test]
    fn counter_overflow_is_refused() {
        let mut n = StreamNonce::starting_at(u64::MAX);
        assert!(matches!(
            n.advance(false),
            Err(Error::Internal("stream chunk counter overflow"))
        ));
        // The last chunk may still carry the largest counter.
        let mut n = StreamNonce::starting_at(u64::MAX);
        let last = n.advance(true).unwrap();
        assert_eq!(&last[3..11], &u64::MAX.to_be_bytes());
    }
}
