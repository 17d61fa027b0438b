//! Reads the one EXIF value cleaning needs: the orientation tag of IFD0, with bounded reads.

/// The orientation (1 to 8) in a TIFF-structured EXIF block, or `None` when absent or invalid.
///
/// Only IFD0 is read and every offset is bounds-checked, so a hostile block costs at most one
/// directory walk of 65,535 entries.
pub(crate) fn orientation(tiff: &[u8]) -> Option<u16> {
    let big_endian = match tiff.get(..4)? {
        b"II*\0" => false,
        b"MM\0*" => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at.checked_add(2)?)?;
        Some(if big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd0)?);
    for i in 0..entries {
        let entry = ifd0.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        let tag = u16_at(entry)?;
        if tag != 0x0112 {
            continue;
        }
        // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
        if u16_at(entry + 2)? != 3 || u32_at(entry + 4)? != 1 {
            return None;
        }
        let value = u16_at(entry + 8)?;
        return (1..=8).contains(&value).then_some(value);
    }
    None
}

/// Strips the `Exif\0\0` header some writers put before the TIFF block in PNG `eXIf` and WebP
/// `EXIF` chunks (the specifications say the chunk starts with the TIFF header itself).
pub(crate) fn tiff_body(chunk: &[u8]) -> &[u8] {
    chunk.strip_prefix(b"Exif\0\0").unwrap_or(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(big_endian: bool, value: u16) -> Vec<u8> {
        let mut b = Vec::new();
        if big_endian {
            b.extend_from_slice(b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01");
            b.extend_from_slice(&value.to_be_bytes());
        } else {
            b.extend_from_slice(b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0");
            b.extend_from_slice(&value.to_le_bytes());
        }
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn reads_orientation_in_both_byte_orders() {
        assert_eq!(orientation(&block(true, 6)), Some(6));
        assert_eq!(orientation(&block(false, 8)), Some(8));
    }

    #[test]
    fn out_of_range_or_truncated_orientation_is_none() {
        assert_eq!(orientation(&block(false, 9)), None);
        assert_eq!(orientation(&block(false, 0)), None);
        let b = block(true, 3);
        assert_eq!(orientation(&b[..12]), None);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\xff"), None);
    }

    #[test]
    fn an_orientation_of_another_type_or_count_is_none() {
        // Little-endian block: type at bytes 12..14, count at 14..18.
        let mut long = block(false, 6);
        long[12] = 4;
        assert_eq!(orientation(&long), None, "type LONG");
        let mut two = block(false, 6);
        two[14] = 2;
        assert_eq!(orientation(&two), None, "count 2");
        assert_eq!(orientation(&block(false, 6)), Some(6));
    }
}
