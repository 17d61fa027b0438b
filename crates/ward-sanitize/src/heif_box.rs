//! The HEIF container as a still image uses it (ISO/IEC 14496-12 boxes, ISO/IEC 23008-12
//! items): bounded reads of the box tree and of the `meta` box's item tables into a [`Meta`],
//! and the writing of those tables. Format only; which items and properties to keep is
//! decided in `heic.rs`.
//!
//! Every read is bounds-checked against the box it belongs to, every count is checked against
//! the bytes it claims before anything is allocated for it, and each table has a ceiling, so a
//! hostile file costs one linear walk of its own bytes.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::kind::FileKind;

const KIND: FileKind = FileKind::Heic;

/// Most items, properties, references or associations a file may declare (each table).
pub(crate) const MAX_ENTRIES: usize = 65_535;
/// Most extents one item's data may be split into.
pub(crate) const MAX_EXTENTS_PER_ITEM: usize = 4_096;
/// Most extents all items together may be split into.
pub(crate) const MAX_EXTENTS: usize = 2 * MAX_ENTRIES;

/// A four-character code.
pub(crate) type FourCc = [u8; 4];

fn malformed(reason: &'static str) -> Error {
    Error::malformed(KIND, reason)
}

/// A bounded big-endian reader over one box's body.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| malformed("box shorter than its fields"))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.data[self.at..];
        self.at = self.data.len();
        bytes
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// An unsigned field of `size` bytes (0, 4 or 8, as `iloc` declares them).
    fn sized(&mut self, size: u8) -> Result<u64> {
        match size {
            0 => Ok(0),
            4 => self.u32().map(u64::from),
            8 => self.u64(),
            _ => Err(malformed("iloc field size other than 0, 4 or 8")),
        }
    }

    /// An item id: 16 bits in the early versions of a table, 32 bits in the later ones.
    fn id(&mut self, wide: bool) -> Result<u32> {
        if wide {
            self.u32()
        } else {
            self.u16().map(u32::from)
        }
    }

    pub(crate) fn fourcc(&mut self) -> Result<FourCc> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// A NUL-terminated string; its bytes without the NUL. A string running to the end of the
    /// box without one is accepted (some writers omit the last NUL).
    fn cstring(&mut self) -> &'a [u8] {
        let rest = &self.data[self.at..];
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                self.at += n + 1;
                &rest[..n]
            }
            None => self.rest(),
        }
    }

    /// The version byte and 24 flag bits of a full box.
    fn full_header(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }

    /// A count of entries that each take at least `min_len` bytes: refused when the box cannot
    /// hold that many or when it passes [`MAX_ENTRIES`], before anything is allocated.
    fn count(&self, count: u64, min_len: usize) -> Result<usize> {
        let count = usize::try_from(count).map_err(|_| malformed("count too large"))?;
        if count > MAX_ENTRIES {
            return Err(malformed("more table entries than ward accepts"));
        }
        if count.saturating_mul(min_len) > self.remaining() {
            return Err(malformed("count larger than its box"));
        }
        Ok(count)
    }
}

/// One box: its type, and its bytes whole and after the header. (No file offsets: `iloc`
/// gives item data by absolute offset, `idat` by offset in its own body, and nothing else needs
/// one.)
#[derive(Clone, Copy)]
pub(crate) struct Bmff<'a> {
    pub(crate) kind: FourCc,
    /// The whole box, header included.
    pub(crate) whole: &'a [u8],
    /// The bytes after the header.
    pub(crate) body: &'a [u8],
}

/// The boxes laid end to end in `data`.
pub(crate) struct Boxes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Boxes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn next_box(&mut self) -> Result<Bmff<'a>> {
        let mut r = Reader::new(&self.data[self.at..]);
        let size32 = r.u32()?;
        let kind = r.fourcc()?;
        let size = match size32 {
            // To the end of the enclosing data.
            0 => (self.data.len() - self.at) as u64,
            1 => r.u64()?,
            n => u64::from(n),
        };
        if &kind == b"uuid" {
            r.take(16)?;
        }
        let header = r.at;
        let size = usize::try_from(size).map_err(|_| malformed("box size too large"))?;
        if size < header || size > self.data.len() - self.at {
            return Err(malformed("box size does not fit its container"));
        }
        let whole = &self.data[self.at..self.at + size];
        let b = Bmff {
            kind,
            whole,
            body: &whole[header..],
        };
        self.at += size;
        Ok(b)
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<Bmff<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.data.len() {
            return None;
        }
        let next = self.next_box();
        if next.is_err() {
            // One error ends the walk.
            self.at = self.data.len();
        }
        Some(next)
    }
}

/// An entry of `iinf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) id: u32,
    pub(crate) item_type: FourCc,
    /// `infe` flag 1: not meant to be shown on its own (tiles).
    pub(crate) hidden: bool,
    /// The MIME type of a `mime` item, empty otherwise.
    pub(crate) content_type: Vec<u8>,
}

/// Where an item's bytes are: `iloc`'s entry, with the base offset folded into each extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// 0: in the file; 1: in `idat`; 2: in other items (refused by the reader).
    pub(crate) construction: u8,
    /// (offset, length); a length of 0 means "to the end" of the file or of `idat`.
    pub(crate) extents: Vec<(u64, u64)>,
}

/// An entry of `iref`: `from` refers to each of `to` in the sense of `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) kind: FourCc,
    pub(crate) from: u32,
    pub(crate) to: Vec<u32>,
}

/// A property's association with an item: the 1-based index into `ipco`, and whether a
/// reader must understand the property to show the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Association {
    pub(crate) essential: bool,
    pub(crate) index: u16,
}

/// The `meta` box of a HEIF file, read.
pub(crate) struct Meta<'a> {
    /// `pitm`.
    pub(crate) primary: u32,
    /// `iinf`, in file order.
    pub(crate) items: Vec<Item>,
    /// `iloc`, by item id.
    pub(crate) locations: HashMap<u32, Location>,
    /// `iref`.
    pub(crate) references: Vec<Reference>,
    /// `ipco`: each property box whole, in order (index 1 is the first).
    pub(crate) properties: Vec<Bmff<'a>>,
    /// `ipma`, by item id.
    pub(crate) associations: HashMap<u32, Vec<Association>>,
    /// `idat`'s body.
    pub(crate) idat: &'a [u8],
    /// Boxes in `meta` outside the tables above (their type and size), which a rewrite drops.
    pub(crate) other_boxes: Vec<(FourCc, usize)>,
}

/// Reads a `meta` box's body (a full box: version and flags first).
pub(crate) fn read_meta(meta: Bmff<'_>) -> Result<Meta<'_>> {
    let mut r = Reader::new(meta.body);
    let (version, _) = r.full_header()?;
    if version != 0 {
        return Err(malformed("meta box version other than 0"));
    }
    let mut handler = None;
    let mut primary = None;
    let mut items = None;
    let mut locations = None;
    let mut references = None;
    let mut properties = None;
    let mut associations = None;
    let mut idat = None;
    let mut other_boxes = Vec::new();
    for b in Boxes::new(&meta.body[4..]) {
        let b = b?;
        match &b.kind {
            b"hdlr" => once(&mut handler, read_handler(b.body)?)?,
            b"pitm" => once(&mut primary, read_primary(b.body)?)?,
            b"iinf" => once(&mut items, read_items(b.body)?)?,
            b"iloc" => once(&mut locations, read_locations(b.body)?)?,
            b"iref" => once(&mut references, read_references(b)?)?,
            b"iprp" => {
                let (ipco, ipma) = read_item_properties(b)?;
                once(&mut properties, ipco)?;
                once(&mut associations, ipma)?;
            }
            b"idat" => once(&mut idat, b.body)?,
            // Data references: every item must have its data in this file (index 0, checked
            // with `iloc`), so a rewrite writes a `dinf` of its own.
            b"dinf" => {}
            _ => {
                if other_boxes.len() >= MAX_ENTRIES {
                    return Err(malformed("more boxes than ward accepts"));
                }
                other_boxes.push((b.kind, b.whole.len()));
            }
        }
    }
    if handler != Some(*b"pict") {
        return Err(malformed("meta box handler is not pict"));
    }
    let items = items.ok_or_else(|| malformed("no iinf box"))?;
    let mut seen = HashMap::with_capacity(items.len());
    for item in &items {
        if seen.insert(item.id, ()).is_some() {
            return Err(malformed("two items with one id"));
        }
    }
    Ok(Meta {
        primary: primary.ok_or_else(|| malformed("no pitm box"))?,
        items,
        locations: locations.unwrap_or_default(),
        references: references.unwrap_or_default(),
        properties: properties.unwrap_or_default(),
        associations: associations.unwrap_or_default(),
        idat: idat.unwrap_or_default(),
        other_boxes,
    })
}

/// Sets `slot`, refusing a second box of a kind the format allows once.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(malformed("a box that may appear once appears twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn read_handler(body: &[u8]) -> Result<FourCc> {
    let mut r = Reader::new(body);
    r.full_header()?;
    r.u32()?; // pre_defined
    r.fourcc()
}

fn read_primary(body: &[u8]) -> Result<u32> {
    let mut r = Reader::new(body);
    let (version, _) = r.full_header()?;
    r.id(version >= 1)
}

fn read_items(body: &[u8]) -> Result<Vec<Item>> {
    let mut r = Reader::new(body);
    let (version, _) = r.full_header()?;
    let count = if version == 0 {
        u64::from(r.u16()?)
    } else {
        u64::from(r.u32()?)
    };
    // An `infe` box takes at least 8 + 4 + 2 + 2 + 4 + 1 bytes.
    let count = r.count(count, 21)?;
    let entries = r.rest();
    let mut items = Vec::with_capacity(count);
    for b in Boxes::new(entries) {
        let b = b?;
        if &b.kind != b"infe" {
            return Err(malformed("iinf holds a box other than infe"));
        }
        if items.len() == count {
            return Err(malformed("iinf holds more entries than it counts"));
        }
        items.push(read_item(b.body)?);
    }
    if items.len() != count {
        return Err(malformed("iinf holds fewer entries than it counts"));
    }
    Ok(items)
}

fn read_item(body: &[u8]) -> Result<Item> {
    let mut r = Reader::new(body);
    let (version, flags) = r.full_header()?;
    if version < 2 {
        // Versions 0 and 1 carry no item type; HEIF requires 2 or 3.
        return Err(malformed("infe version below 2"));
    }
    let id = r.id(version >= 3)?;
    if r.u16()? != 0 {
        return Err(Error::UnsupportedVariant {
            kind: KIND,
            variant: "protected (encrypted) items",
        });
    }
    let item_type = r.fourcc()?;
    let _name = r.cstring();
    let content_type = if &item_type == b"mime" {
        r.cstring().to_vec()
    } else {
        Vec::new()
    };
    Ok(Item {
        id,
        item_type,
        hidden: flags & 1 == 1,
        content_type,
    })
}

fn read_locations(body: &[u8]) -> Result<HashMap<u32, Location>> {
    let mut r = Reader::new(body);
    let (version, _) = r.full_header()?;
    if version > 2 {
        return Err(malformed("iloc version above 2"));
    }
    let sizes = r.u16()?;
    let offset_size = (sizes >> 12) as u8;
    let length_size = ((sizes >> 8) & 0xF) as u8;
    let base_offset_size = ((sizes >> 4) & 0xF) as u8;
    let index_size = if version >= 1 { (sizes & 0xF) as u8 } else { 0 };
    let count = if version < 2 {
        u64::from(r.u16()?)
    } else {
        u64::from(r.u32()?)
    };
    // An entry takes at least an id, a data reference index and an extent count.
    let count = r.count(count, 6)?;
    let mut locations = HashMap::with_capacity(count);
    let mut all_extents = 0usize;
    for _ in 0..count {
        let id = r.id(version == 2)?;
        let construction = if version >= 1 {
            (r.u16()? & 0xF) as u8
        } else {
            0
        };
        if construction > 1 {
            return Err(Error::UnsupportedVariant {
                kind: KIND,
                variant: "item data built from other items",
            });
        }
        if r.u16()? != 0 {
            return Err(Error::UnsupportedVariant {
                kind: KIND,
                variant: "item data in another file",
            });
        }
        let base = r.sized(base_offset_size)?;
        let extent_count = usize::from(r.u16()?);
        all_extents += extent_count;
        if extent_count > MAX_EXTENTS_PER_ITEM || all_extents > MAX_EXTENTS {
            return Err(malformed("more extents than ward accepts"));
        }
        let per_extent =
            usize::from(index_size) + usize::from(offset_size) + usize::from(length_size);
        if extent_count.saturating_mul(per_extent) > r.remaining() {
            return Err(malformed("count larger than its box"));
        }
        let mut extents = Vec::with_capacity(extent_count);
        for _ in 0..extent_count {
            if index_size > 0 && r.sized(index_size)? != 0 {
                return Err(Error::UnsupportedVariant {
                    kind: KIND,
                    variant: "item data built from other items",
                });
            }
            let offset = r
                .sized(offset_size)?
                .checked_add(base)
                .ok_or_else(|| malformed("extent offset overflows"))?;
            let length = r.sized(length_size)?;
            extents.push((offset, length));
        }
        // A length of 0 runs to the end of the file: only an item's one extent may say so
        // (with no length field, every length is 0).
        if extents.len() > 1 && extents.iter().any(|&(_, len)| len == 0) {
            return Err(malformed("an extent to the end among several"));
        }
        if locations
            .insert(
                id,
                Location {
                    construction,
                    extents,
                },
            )
            .is_some()
        {
            return Err(malformed("two iloc entries for one item"));
        }
    }
    Ok(locations)
}

fn read_references(iref: Bmff<'_>) -> Result<Vec<Reference>> {
    let mut r = Reader::new(iref.body);
    let (version, _) = r.full_header()?;
    let wide = version >= 1;
    let mut references = Vec::new();
    for b in Boxes::new(r.rest()) {
        let b = b?;
        let mut r = Reader::new(b.body);
        let from = r.id(wide)?;
        let count = r.u16()?;
        let count = r.count(u64::from(count), if wide { 4 } else { 2 })?;
        let mut to = Vec::with_capacity(count);
        for _ in 0..count {
            to.push(r.id(wide)?);
        }
        if references.len() >= MAX_ENTRIES {
            return Err(malformed("more references than ward accepts"));
        }
        references.push(Reference {
            kind: b.kind,
            from,
            to,
        });
    }
    Ok(references)
}

type Properties<'a> = (Vec<Bmff<'a>>, HashMap<u32, Vec<Association>>);

fn read_item_properties(iprp: Bmff<'_>) -> Result<Properties<'_>> {
    let mut properties = None;
    let mut associations: HashMap<u32, Vec<Association>> = HashMap::new();
    for b in Boxes::new(iprp.body) {
        let b = b?;
        match &b.kind {
            b"ipco" => {
                let mut list = Vec::new();
                for p in Boxes::new(b.body) {
                    if list.len() >= usize::from(u16::MAX >> 1) {
                        return Err(malformed("more properties than an index can name"));
                    }
                    list.push(p?);
                }
                once(&mut properties, list)?;
            }
            b"ipma" => read_associations(b.body, &mut associations)?,
            _ => return Err(malformed("iprp holds a box other than ipco and ipma")),
        }
    }
    Ok((properties.unwrap_or_default(), associations))
}

fn read_associations(body: &[u8], into: &mut HashMap<u32, Vec<Association>>) -> Result<()> {
    let mut r = Reader::new(body);
    let (version, flags) = r.full_header()?;
    let wide_index = flags & 1 == 1;
    let count = r.u32()?;
    let count = r.count(u64::from(count), if version >= 1 { 5 } else { 3 })?;
    for _ in 0..count {
        let item = r.id(version >= 1)?;
        let n = r.u8()?;
        let mut list = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let (essential, index) = if wide_index {
                let v = r.u16()?;
                (v & 0x8000 != 0, v & 0x7FFF)
            } else {
                let v = r.u8()?;
                (v & 0x80 != 0, u16::from(v & 0x7F))
            };
            list.push(Association { essential, index });
        }
        if into.len() >= MAX_ENTRIES {
            return Err(malformed("more associations than ward accepts"));
        }
        if into.insert(item, list).is_some() {
            return Err(malformed("two ipma entries for one item"));
        }
    }
    Ok(())
}

/// Appends boxes to a buffer: [`open`](Self::open) writes a header whose size
/// [`close`](Self::close) fills in.
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self { out: Vec::new() }
    }

    /// Opens a box of `kind`; returns where it starts, for [`close`](Self::close).
    pub(crate) fn open(&mut self, kind: &FourCc) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        self.out.extend_from_slice(kind);
        at
    }

    /// Opens a full box of `kind` with `version` and `flags`.
    pub(crate) fn open_full(&mut self, kind: &FourCc, version: u8, flags: u32) -> usize {
        let at = self.open(kind);
        self.u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        at
    }

    /// Writes the size of the box opened at `at`. Boxes written here are under 4 GiB: the
    /// whole output is bounded by the upload limit.
    pub(crate) fn close(&mut self, at: usize) -> Result<()> {
        let size =
            u32::try_from(self.out.len() - at).map_err(|_| malformed("box of 4 GiB or more"))?;
        self.out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// An item id, 16 or 32 bits wide as the table's version says.
    pub(crate) fn id(&mut self, wide: bool, id: u32) {
        if wide {
            self.u32(id);
        } else {
            // Callers choose `wide` when any id passes 16 bits.
            self.u16(id as u16);
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_larger_than_its_container_is_refused() {
        let mut data = Vec::new();
        data.extend_from_slice(&100u32.to_be_bytes());
        data.extend_from_slice(b"free");
        let err = Boxes::new(&data).next().unwrap().err().unwrap();
        assert_eq!(err.rule(), "parse");
        // A 64-bit size beyond the data, and one below its own header.
        let mut data = Vec::new();
        data.extend_from_slice(&1u32.to_be_bytes());
        data.extend_from_slice(b"free");
        data.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(Boxes::new(&data).next().unwrap().is_err());
        let mut data = Vec::new();
        data.extend_from_slice(&7u32.to_be_bytes());
        data.extend_from_slice(b"free");
        assert!(Boxes::new(&data).next().unwrap().is_err());
    }

    #[test]
    fn a_later_box_is_measured_against_what_is_left_of_its_container() {
        let mut data = Vec::new();
        data.extend_from_slice(&8u32.to_be_bytes());
        data.extend_from_slice(b"free");
        data.extend_from_slice(&12u32.to_be_bytes());
        data.extend_from_slice(b"mdat");
        let mut boxes = Boxes::new(&data);
        assert!(boxes.next().unwrap().is_ok());
        assert_eq!(
            boxes.next().unwrap().err().map(|e| e.to_string()),
            Some("malformed heic: box size does not fit its container".to_owned())
        );
        assert!(boxes.next().is_none());
    }

    #[test]
    fn a_table_may_hold_exactly_the_most_entries_ward_accepts() {
        let room = [0u8; MAX_ENTRIES + 1];
        assert_eq!(
            Reader::new(&room).count(MAX_ENTRIES as u64, 1).ok(),
            Some(MAX_ENTRIES)
        );
        assert_eq!(
            Reader::new(&room)
                .count(MAX_ENTRIES as u64 + 1, 1)
                .err()
                .map(|e| e.to_string()),
            Some("malformed heic: more table entries than ward accepts".to_owned())
        );
    }

    #[test]
    fn a_size_of_zero_runs_to_the_end() {
        let mut data = Vec::new();
        data.extend_from_slice(&8u32.to_be_bytes());
        data.extend_from_slice(b"free");
        data.extend_from_slice(&0u32.to_be_bytes());
        data.extend_from_slice(b"mdat");
        data.extend_from_slice(b"abc");
        let boxes: Vec<_> = Boxes::new(&data).collect::<Result<_>>().unwrap();
        assert_eq!(boxes.len(), 2);
        assert_eq!(boxes[1].body, b"abc");
        assert_eq!(boxes[1].whole.len(), 11);
    }

    #[test]
    fn a_count_larger_than_its_box_is_refused_before_allocating() {
        // iinf version 1 claiming four billion entries in a few bytes.
        let mut body = vec![1, 0, 0, 0];
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = read_items(&body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed heic: more table entries than ward accepts"
        );
        let mut body = vec![1, 0, 0, 0];
        body.extend_from_slice(&1000u32.to_be_bytes());
        let err = read_items(&body).unwrap_err();
        assert_eq!(err.to_string(), "malformed heic: count larger than its box");
        // Measured from where the count ends: one entry (21 bytes at least) in 10 bytes.
        let mut body = vec![1, 0, 0, 0];
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(&[0; 10]);
        let err = read_items(&body).unwrap_err();
        assert_eq!(err.to_string(), "malformed heic: count larger than its box");
    }

    #[test]
    fn iloc_reads_every_version_and_folds_the_base_offset_in() {
        // Version 1: offset 4, length 4, base 4, index 0; one item in idat, two extents.
        let mut w = Writer::new();
        w.u32(1 << 24);
        w.u16(0x4440);
        w.u16(1);
        w.u16(7); // id
        w.u16(1); // construction method: idat
        w.u16(0); // data reference
        w.u32(100); // base offset
        w.u16(2);
        w.u32(1);
        w.u32(10);
        w.u32(20);
        w.u32(5);
        let locations = read_locations(&w.out).unwrap();
        assert_eq!(
            locations[&7],
            Location {
                construction: 1,
                extents: vec![(101, 10), (120, 5)]
            }
        );
        // Version 1 with 4-byte extent indexes (each 0: this item's own data).
        let mut w = Writer::new();
        w.u32(1 << 24);
        w.u16(0x4444);
        w.u16(1);
        w.u16(7);
        w.u16(0);
        w.u16(0);
        w.u32(100);
        w.u16(1);
        w.u32(0); // index
        w.u32(10);
        w.u32(5);
        assert_eq!(
            read_locations(&w.out).unwrap()[&7],
            Location {
                construction: 0,
                extents: vec![(110, 5)]
            }
        );
        // A nonzero extent index: data built from other items.
        w.out.truncate(w.out.len() - 12);
        w.u32(1);
        w.u32(10);
        w.u32(5);
        assert_eq!(
            read_locations(&w.out).unwrap_err().to_string(),
            "unsupported heic variant: item data built from other items"
        );
        // Version 2 with 32-bit ids; construction from other items is refused.
        let mut w = Writer::new();
        w.u32(2 << 24);
        w.u16(0x4400);
        w.u32(1);
        w.u32(70_000);
        w.u16(2);
        w.u16(0);
        w.u16(0);
        let err = read_locations(&w.out).unwrap_err();
        assert_eq!(err.rule(), "unsupported_variant");
    }

    #[test]
    fn extents_without_lengths_or_past_the_ceiling_are_refused() {
        // Lengths of 0 bytes: each extent would be "to the end", so several are refused; one
        // is not. Without a length field, as with explicit lengths of 0.
        let iloc = |length_size: u16, lengths: &[u32]| {
            let mut w = Writer::new();
            w.u32(1 << 24);
            w.u16(0x4000 | length_size << 8);
            w.u16(1);
            w.u16(1);
            w.u16(0);
            w.u16(0);
            w.u16(lengths.len() as u16);
            for &length in lengths {
                w.u32(8);
                if length_size == 4 {
                    w.u32(length);
                }
            }
            read_locations(&w.out).map_err(|e| e.to_string())
        };
        let several = Err("malformed heic: an extent to the end among several".to_owned());
        assert_eq!(iloc(0, &[0; 4_000]), several);
        assert_eq!(iloc(4, &[5, 0]), several);
        assert_eq!(iloc(4, &[0, 5]), several);
        assert_eq!(iloc(0, &[0]).unwrap()[&1].extents, [(8, 0)]);
        assert_eq!(iloc(4, &[0]).unwrap()[&1].extents, [(8, 0)]);
        assert_eq!(iloc(4, &[5, 6]).unwrap()[&1].extents, [(8, 5), (8, 6)]);
        // Fewer bytes than the extents claim: refused before any is read.
        let mut w = Writer::new();
        w.u32(1 << 24);
        w.u16(0x4400);
        w.u16(1);
        w.u16(1);
        w.u16(0);
        w.u16(0);
        w.u16(2);
        w.bytes(&[0; 12]);
        assert_eq!(
            read_locations(&w.out).unwrap_err().to_string(),
            "malformed heic: count larger than its box"
        );
        // `extents` extents in all, 4,096 an item (the last item takes the rest).
        let spread = |extents: usize| {
            let mut w = Writer::new();
            w.u32(1 << 24);
            w.u16(0x4400);
            let items = extents.div_ceil(4_096);
            w.u16(items as u16);
            for id in 0..items {
                let here = (extents - id * 4_096).min(4_096);
                w.u16(id as u16);
                w.u16(0);
                w.u16(0);
                w.u16(here as u16);
                for _ in 0..here {
                    w.u32(0);
                    w.u32(1);
                }
            }
            read_locations(&w.out)
        };
        // Exactly the documented ceiling is accepted: 131,070 extents; one more is refused,
        // though no item passes its own ceiling.
        let locations = spread(131_070).unwrap();
        let total: usize = locations.values().map(|l| l.extents.len()).sum();
        assert_eq!(total, 131_070);
        assert_eq!(
            spread(131_071).unwrap_err().to_string(),
            "malformed heic: more extents than ward accepts"
        );
    }

    #[test]
    fn protected_items_and_old_item_entries_are_refused() {
        let infe = |version: u8, protection: u16| {
            let mut w = Writer::new();
            w.u32(u32::from(version) << 24);
            w.u16(1);
            w.u16(protection);
            w.bytes(b"hvc1\0");
            w.out
        };
        assert_eq!(read_item(&infe(2, 0)).unwrap().item_type, *b"hvc1");
        let err = read_item(&infe(2, 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported heic variant: protected (encrypted) items"
        );
        assert_eq!(read_item(&infe(1, 0)).unwrap_err().rule(), "parse");
    }

    #[test]
    fn ipco_holds_at_most_the_properties_a_15_bit_index_can_name() {
        let iprp = |count: usize| {
            let mut w = Writer::new();
            let ipco = w.open(b"ipco");
            for _ in 0..count {
                let p = w.open(b"free");
                w.close(p).unwrap();
            }
            w.close(ipco).unwrap();
            w.out
        };
        let most = iprp(32_767);
        let read = read_item_properties(Bmff {
            kind: *b"iprp",
            whole: &most,
            body: &most,
        });
        assert_eq!(read.unwrap().0.len(), 32_767);
        let more = iprp(32_768);
        let read = read_item_properties(Bmff {
            kind: *b"iprp",
            whole: &more,
            body: &more,
        });
        assert_eq!(
            read.err().map(|e| e.to_string()),
            Some("malformed heic: more properties than an index can name".to_owned())
        );
    }

    #[test]
    fn ipma_reads_both_index_widths() {
        let mut w = Writer::new();
        w.u32(1); // version 0, flags 1: 16-bit indexes
        w.u32(1);
        w.u16(3);
        w.u8(2);
        w.u16(0x8001);
        w.u16(300);
        let mut into = HashMap::new();
        read_associations(&w.out, &mut into).unwrap();
        assert_eq!(
            into[&3],
            vec![
                Association {
                    essential: true,
                    index: 1
                },
                Association {
                    essential: false,
                    index: 300
                }
            ]
        );
        let mut w = Writer::new();
        w.u32(0);
        w.u32(1);
        w.u16(3);
        w.u8(1);
        w.u8(0x85);
        let mut into = HashMap::new();
        read_associations(&w.out, &mut into).unwrap();
        assert_eq!(
            into[&3],
            vec![Association {
                essential: true,
                index: 5
            }]
        );
        // The same item twice.
        let mut w = Writer::new();
        w.u32(0);
        w.u32(2);
        for _ in 0..2 {
            w.u16(3);
            w.u8(0);
        }
        assert!(read_associations(&w.out, &mut HashMap::new()).is_err());
    }
}
