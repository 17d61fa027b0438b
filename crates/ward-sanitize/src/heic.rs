//! HEIC/HEIF still images: the container rebuilt without its metadata items, the coded image
//! data copied byte for byte, and the content check (libheif decodes the primary image).
//!
//! What is kept, by allow-list:
//! - the primary item and the items it is derived from (`dimg`: the tiles of a grid);
//! - thumbnails (`thmb`) and auxiliary images (`auxl`: alpha, depth) of the primary image, with
//!   their own tiles, when no metadata item describes any of them (`cdsc`); a described one is
//!   dropped whole, since its metadata is as personal as the primary image's;
//! - of those items' properties, only the ones a decoder needs to show them as they were
//!   taken: `hvcC`, `ispe`, `colr` (the ICC profile or colour description), `pixi`, `irot`,
//!   `imir` (HEIF keeps its orientation here, not in EXIF), `clap`, `pasp`, `auxC`, `clli`,
//!   `mdcv`, `rloc` and `lsel`;
//! - the references among kept items (`dimg`, `thmb`, `auxl`, `prem`).
//!
//! Everything else goes: the `Exif` item, `mime` items (XMP, `application/rdf+xml`), IPTC,
//! any other item, the `cdsc` references, item names, every property outside the list
//! (user descriptions `udes`, camera parameters), entity groups and boxes outside `ftyp`,
//! `meta` and `mdat`. The output is written fresh: `ftyp` as it was, one `meta` with rebuilt
//! tables, one `mdat` holding the kept items' bytes, every offset computed anew.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::heif_box::{self, Bmff, Boxes, FourCc, Item, Meta, Reader, Writer};
use crate::kind::FileKind;
use crate::limits::{Limits, check_dimensions};
use crate::permits::Deadline;
use crate::report::{Category, Report, Stripped};

const KIND: FileKind = FileKind::Heic;

/// The `ftyp` major brands accepted: HEVC still images and the structural HEIF brands.
pub(crate) const BRANDS: [&[u8; 4]; 4] = [b"heic", b"heix", b"mif1", b"msf1"];

/// Item types that are images ward can check: HEVC-coded, or derived from such images.
const IMAGE_TYPES: [&FourCc; 4] = [b"hvc1", b"grid", b"iden", b"iovl"];

/// Properties kept on kept items; any other is dropped (and refused when marked essential).
const KEPT_PROPERTIES: [&FourCc; 13] = [
    b"hvcC", b"ispe", b"colr", b"pixi", b"irot", b"imir", b"clap", b"pasp", b"auxC", b"clli",
    b"mdcv", b"rloc", b"lsel",
];

/// References kept between kept items.
const KEPT_REFERENCES: [&FourCc; 4] = [b"dimg", b"thmb", b"auxl", b"prem"];

/// Largest `ftyp` accepted (a major brand, a version and 1,000 compatible brands).
const MAX_FTYP: usize = 8 + 8 + 4 * 1_000;

fn malformed(reason: &'static str) -> Error {
    Error::malformed(KIND, reason)
}

/// The file's top level: `ftyp`, the one `meta`, and what else lies beside them.
struct TopLevel<'a> {
    ftyp: &'a [u8],
    meta: Bmff<'a>,
}

/// Rebuilds the file without its metadata; see the module docs for what is kept. The primary
/// image's `ispe` dimensions (and every kept image's) must pass the pixel limits.
pub(crate) fn strip(input: &[u8], limits: &Limits, deadline: &Deadline) -> Result<Stripped> {
    let mut report = Report::default();
    let top = read_top_level(input, &mut report)?;
    deadline.check()?;
    let meta = heif_box::read_meta(top.meta)?;
    for &(_, len) in &meta.other_boxes {
        report.add(Category::OtherChunk, len as u64);
    }
    let kept = keep(&meta, deadline)?;
    deadline.check()?;
    let properties = keep_properties(&meta, &kept, &mut report)?;
    let dimensions = dimensions_of(&meta, &properties, meta.primary)?
        .ok_or_else(|| malformed("primary image without ispe"))?;
    for item in &kept {
        if let Some((width, height)) = dimensions_of(&meta, &properties, *item)? {
            check_dimensions(width, height, limits)?;
        }
    }
    let data = item_data(input, &meta, &kept, &mut report)?;
    deadline.check()?;
    let bytes = write(top.ftyp, &meta, &kept, &properties, &data, input.len())?;
    Ok(Stripped {
        bytes,
        report,
        // Orientation lives in `irot`/`imir`, which are kept; an EXIF orientation in a HEIF
        // file is informative only, and goes with the EXIF item.
        orientation: None,
        animated: false,
        dimensions: Some(dimensions),
    })
}

fn read_top_level<'a>(input: &'a [u8], report: &mut Report) -> Result<TopLevel<'a>> {
    let mut boxes = Boxes::new(input);
    let ftyp = match boxes.next() {
        Some(Ok(b)) if &b.kind == b"ftyp" => b,
        Some(Err(e)) => return Err(e),
        _ => return Err(malformed("file does not start with ftyp")),
    };
    if ftyp.whole.len() > MAX_FTYP || ftyp.body.len() < 8 || (ftyp.body.len() - 8) % 4 != 0 {
        return Err(malformed("ftyp of an impossible size"));
    }
    if !BRANDS.iter().any(|b| &ftyp.body[..4] == *b) {
        return Err(malformed("ftyp major brand is not a heic brand"));
    }
    let mut meta = None;
    for b in boxes {
        let b = b?;
        match &b.kind {
            b"meta" => {
                if meta.replace(b).is_some() {
                    return Err(malformed("two meta boxes"));
                }
            }
            // The coded data is copied out of it by iloc's offsets.
            b"mdat" => {}
            b"ftyp" => return Err(malformed("two ftyp boxes")),
            // `free`, `skip`, `uuid` (vendor data, XMP in some writers), `moov` (an image
            // sequence beside the still image), anything else.
            _ => report.add(Category::OtherChunk, b.whole.len() as u64),
        }
    }
    Ok(TopLevel {
        ftyp: ftyp.whole,
        meta: meta.ok_or_else(|| malformed("no meta box (not a still image)"))?,
    })
}

/// Most steps the walks of the item graph may take in all (a step is one item taken from a
/// walk's stack): four times the largest item table, far above any real file's few hundred.
const MAX_GRAPH_STEPS: usize = 4 * heif_box::MAX_ENTRIES;

/// The items by id and the `dimg` edges (derived image → its inputs), with the step budget
/// every walk draws from.
struct Graph<'m> {
    items: HashMap<u32, &'m Item>,
    inputs: HashMap<u32, Vec<u32>>,
    steps: usize,
}

impl<'m> Graph<'m> {
    fn new(meta: &'m Meta<'_>) -> Self {
        let mut inputs: HashMap<u32, Vec<u32>> = HashMap::new();
        for r in meta.references.iter().filter(|r| &r.kind == b"dimg") {
            inputs.entry(r.from).or_default().extend_from_slice(&r.to);
        }
        Self {
            items: meta.items.iter().map(|i| (i.id, i)).collect(),
            inputs,
            steps: 0,
        }
    }

    /// Adds `id` and every item it is derived from (`dimg`, transitively) to `into`; each must
    /// be an image of a type in [`IMAGE_TYPES`]. `primary` says whether an unsupported type is
    /// the file's fault (refused) or a dependent image's (reported to the caller, which drops
    /// it). Refuses a graph that takes more than [`MAX_GRAPH_STEPS`] steps in all.
    fn inputs_of(&mut self, id: u32, into: &mut HashSet<u32>, primary: bool) -> Result<()> {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            self.steps += 1;
            if self.steps > MAX_GRAPH_STEPS {
                return Err(malformed("item references too many to follow"));
            }
            if !into.insert(id) {
                continue;
            }
            let item = self
                .items
                .get(&id)
                .ok_or_else(|| malformed("a reference names an item not in iinf"))?;
            if !IMAGE_TYPES.contains(&&item.item_type) {
                return Err(if primary {
                    Error::UnsupportedVariant {
                        kind: KIND,
                        variant: "image not coded in hevc",
                    }
                } else {
                    malformed("dependent image not coded in hevc")
                });
            }
            if let Some(inputs) = self.inputs.get(&id) {
                stack.extend_from_slice(inputs);
            }
        }
        Ok(())
    }
}

/// The items kept, in `iinf` order: the primary image with its inputs, then thumbnails and
/// auxiliary images of it that no metadata item describes.
fn keep(meta: &Meta<'_>, deadline: &Deadline) -> Result<Vec<u32>> {
    let mut graph = Graph::new(meta);
    let primary = graph
        .items
        .get(&meta.primary)
        .ok_or_else(|| malformed("the primary item is not in iinf"))?;
    if !IMAGE_TYPES.contains(&&primary.item_type) {
        return Err(Error::UnsupportedVariant {
            kind: KIND,
            variant: "primary image not coded in hevc",
        });
    }
    let described: HashSet<u32> = meta
        .references
        .iter()
        .filter(|r| &r.kind == b"cdsc")
        .flat_map(|r| r.to.iter().copied())
        .collect();
    let mut kept = HashSet::new();
    graph.inputs_of(meta.primary, &mut kept, true)?;
    for r in &meta.references {
        if !(&r.kind == b"thmb" || &r.kind == b"auxl") || !r.to.contains(&meta.primary) {
            continue;
        }
        deadline.check()?;
        let mut candidate = HashSet::new();
        // A thumbnail or auxiliary image that cannot be checked is dropped, not refused; a
        // graph too large to walk refuses the file.
        match graph.inputs_of(r.from, &mut candidate, false) {
            Err(e) if graph.steps > MAX_GRAPH_STEPS => return Err(e),
            Err(_) => continue,
            Ok(()) => {}
        }
        if candidate.contains(&meta.primary) || candidate.iter().any(|id| described.contains(id)) {
            continue;
        }
        kept.extend(candidate);
    }
    Ok(meta
        .items
        .iter()
        .map(|i| i.id)
        .filter(|id| kept.contains(id))
        .collect())
}

/// The kept properties: each property index (1-based, as `ipma` names them) mapped to its
/// index in the rewritten `ipco`. A property outside [`KEPT_PROPERTIES`] is dropped, and refused
/// when a kept item marks it essential (a reader may not show the item without it).
fn keep_properties(
    meta: &Meta<'_>,
    kept: &[u32],
    report: &mut Report,
) -> Result<HashMap<u16, u16>> {
    let mut used = HashSet::new();
    for id in kept {
        for a in meta.associations.get(id).into_iter().flatten() {
            if a.index == 0 {
                continue;
            }
            let property = meta
                .properties
                .get(usize::from(a.index) - 1)
                .ok_or_else(|| malformed("ipma names a property not in ipco"))?;
            if KEPT_PROPERTIES.contains(&&property.kind) {
                used.insert(a.index);
            } else if a.essential {
                return Err(Error::UnsupportedVariant {
                    kind: KIND,
                    variant: "essential property ward does not know",
                });
            }
        }
    }
    let mut map = HashMap::new();
    for (i, property) in meta.properties.iter().enumerate() {
        // `ipco` holds at most 32,767 properties (checked when read).
        let index = (i + 1) as u16;
        if used.contains(&index) {
            map.insert(index, (map.len() + 1) as u16);
        } else {
            report.add(Category::OtherChunk, property.whole.len() as u64);
        }
    }
    Ok(map)
}

/// The `ispe` width and height of a kept item, if it has one.
fn dimensions_of(
    meta: &Meta<'_>,
    kept_properties: &HashMap<u16, u16>,
    id: u32,
) -> Result<Option<(u32, u32)>> {
    for a in meta.associations.get(&id).into_iter().flatten() {
        if !kept_properties.contains_key(&a.index) {
            continue;
        }
        let property = &meta.properties[usize::from(a.index) - 1];
        if &property.kind == b"ispe" {
            let mut r = Reader::new(property.body);
            r.u32()?;
            return Ok(Some((r.u32()?, r.u32()?)));
        }
    }
    Ok(None)
}

/// One kept item's bytes, gathered from its extents, and where they go.
struct ItemData<'a> {
    id: u32,
    /// 0: written to `mdat`; 1: to `idat`.
    construction: u8,
    extents: Vec<&'a [u8]>,
    len: u64,
}

/// The bytes of every kept item, checked against the file (or `idat`); the removed items'
/// bytes are counted in the report by their category. Items may not share bytes: the kept
/// data together is never larger than the input.
fn item_data<'a>(
    input: &'a [u8],
    meta: &Meta<'a>,
    kept: &[u32],
    report: &mut Report,
) -> Result<Vec<ItemData<'a>>> {
    let kept_set: HashSet<u32> = kept.iter().copied().collect();
    let mut out = Vec::with_capacity(kept.len());
    let mut total = 0u64;
    for item in &meta.items {
        let Some(location) = meta.locations.get(&item.id) else {
            if kept_set.contains(&item.id) && &item.item_type != b"iden" {
                return Err(malformed("an image item without data"));
            }
            continue;
        };
        let source: &[u8] = if location.construction == 1 {
            meta.idat
        } else {
            input
        };
        let mut extents = Vec::with_capacity(location.extents.len());
        let mut len = 0u64;
        for &(offset, length) in &location.extents {
            let start = usize::try_from(offset).ok().filter(|&s| s <= source.len());
            let Some(start) = start else {
                return Err(malformed("item data outside the file"));
            };
            let end = if length == 0 {
                source.len()
            } else {
                usize::try_from(length)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .filter(|&e| e <= source.len())
                    .ok_or_else(|| malformed("item data outside the file"))?
            };
            extents.push(&source[start..end]);
            len += (end - start) as u64;
        }
        if kept_set.contains(&item.id) {
            total += len;
            if total > input.len() as u64 {
                return Err(malformed("items share their data"));
            }
            out.push(ItemData {
                id: item.id,
                construction: location.construction,
                extents,
                len,
            });
        } else {
            report.add(category_of(item), len);
        }
    }
    // Items in iinf without an iloc entry that are removed carry no bytes, but are removed.
    for item in &meta.items {
        if !kept_set.contains(&item.id) && !meta.locations.contains_key(&item.id) {
            report.add(category_of(item), 0);
        }
    }
    Ok(out)
}

/// The report category of a removed item.
fn category_of(item: &Item) -> Category {
    let content_type = item.content_type.to_ascii_lowercase();
    match &item.item_type {
        b"Exif" => Category::Exif,
        b"mime" if content_type.starts_with(b"application/rdf+xml") => Category::Xmp,
        b"iptc" => Category::Iptc,
        b"mime" if content_type.windows(4).any(|w| w == b"iptc") => Category::Iptc,
        _ => Category::OtherItem,
    }
}

/// Writes the rebuilt file: `ftyp` as read, a fresh `meta`, one `mdat`.
fn write(
    ftyp: &[u8],
    meta: &Meta<'_>,
    kept: &[u32],
    properties: &HashMap<u16, u16>,
    data: &[ItemData<'_>],
    input_len: usize,
) -> Result<Vec<u8>> {
    let in_mdat: u64 = data
        .iter()
        .filter(|d| d.construction == 0)
        .map(|d| d.len)
        .sum();
    // 64-bit offsets only for files past 1 GiB, far beyond any upload limit in practice.
    let wide_offsets = input_len > (1 << 30);
    let mdat_header = if in_mdat + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let probe = write_meta(meta, kept, properties, data, 0, wide_offsets)?;
    let mdat_start = (ftyp.len() + probe.len() + mdat_header) as u64;
    let meta_box = write_meta(meta, kept, properties, data, mdat_start, wide_offsets)?;
    let mut out = Vec::with_capacity(ftyp.len() + meta_box.len() + mdat_header + in_mdat as usize);
    out.extend_from_slice(ftyp);
    out.extend_from_slice(&meta_box);
    if mdat_header == 16 {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(in_mdat + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&((in_mdat + 8) as u32).to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
    for d in data.iter().filter(|d| d.construction == 0) {
        for extent in &d.extents {
            out.extend_from_slice(extent);
        }
    }
    Ok(out)
}

fn write_meta(
    meta: &Meta<'_>,
    kept: &[u32],
    properties: &HashMap<u16, u16>,
    data: &[ItemData<'_>],
    mdat_start: u64,
    wide_offsets: bool,
) -> Result<Vec<u8>> {
    let kept_set: HashSet<u32> = kept.iter().copied().collect();
    let wide_ids = kept.iter().any(|&id| id > u32::from(u16::MAX));
    let mut w = Writer::new();
    let meta_at = w.open_full(b"meta", 0, 0);

    let hdlr = w.open_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(b"pict");
    w.bytes(&[0; 12]);
    w.u8(0); // an empty name
    w.close(hdlr)?;

    // One data reference: this file.
    let dinf = w.open(b"dinf");
    let dref = w.open_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.open_full(b"url ", 0, 1);
    w.close(url)?;
    w.close(dref)?;
    w.close(dinf)?;

    let pitm = w.open_full(b"pitm", u8::from(wide_ids), 0);
    w.id(wide_ids, meta.primary);
    w.close(pitm)?;

    // iloc version 1 (construction methods) or 2 (32-bit ids); no base offset, no index.
    let iloc = w.open_full(b"iloc", if wide_ids { 2 } else { 1 }, 0);
    let field = if wide_offsets { 8u16 } else { 4 };
    w.u16((field << 12) | (field << 8));
    if wide_ids {
        w.u32(data.len() as u32);
    } else {
        w.u16(data.len() as u16);
    }
    let mut in_mdat = mdat_start;
    let mut in_idat = 0u64;
    for d in data {
        w.id(wide_ids, d.id);
        w.u16(u16::from(d.construction));
        w.u16(0);
        w.u16(1);
        let at = if d.construction == 1 {
            &mut in_idat
        } else {
            &mut in_mdat
        };
        if wide_offsets {
            w.u64(*at);
            w.u64(d.len);
        } else {
            let offset = u32::try_from(*at).map_err(|_| malformed("offset past 4 GiB"))?;
            let len = u32::try_from(d.len).map_err(|_| malformed("item of 4 GiB or more"))?;
            w.u32(offset);
            w.u32(len);
        }
        *at += d.len;
    }
    w.close(iloc)?;

    let iinf = w.open_full(b"iinf", 0, 0);
    w.u16(kept.len() as u16);
    for item in meta.items.iter().filter(|i| kept_set.contains(&i.id)) {
        let infe = w.open_full(
            b"infe",
            if wide_ids { 3 } else { 2 },
            u32::from(item.hidden),
        );
        w.id(wide_ids, item.id);
        w.u16(0);
        w.bytes(&item.item_type);
        w.u8(0); // the name goes
        w.close(infe)?;
    }
    w.close(iinf)?;

    let references: Vec<_> = meta
        .references
        .iter()
        .filter(|r| KEPT_REFERENCES.contains(&&r.kind) && kept_set.contains(&r.from))
        .filter_map(|r| {
            let to: Vec<u32> =
                r.to.iter()
                    .copied()
                    .filter(|t| kept_set.contains(t))
                    .collect();
            (!to.is_empty()).then_some((r.kind, r.from, to))
        })
        .collect();
    if !references.is_empty() {
        let iref = w.open_full(b"iref", u8::from(wide_ids), 0);
        for (kind, from, to) in &references {
            let b = w.open(kind);
            w.id(wide_ids, *from);
            w.u16(to.len() as u16);
            for &t in to {
                w.id(wide_ids, t);
            }
            w.close(b)?;
        }
        w.close(iref)?;
    }

    let iprp = w.open(b"iprp");
    let ipco = w.open(b"ipco");
    let mut order: Vec<(u16, u16)> = properties.iter().map(|(&old, &new)| (new, old)).collect();
    order.sort_unstable();
    for &(_, old) in &order {
        w.bytes(meta.properties[usize::from(old) - 1].whole);
    }
    w.close(ipco)?;
    let wide_index = order.len() > 127;
    let ipma = w.open_full(b"ipma", u8::from(wide_ids), u32::from(wide_index));
    let with_properties: Vec<u32> = kept
        .iter()
        .copied()
        .filter(|id| meta.associations.contains_key(id))
        .collect();
    w.u32(with_properties.len() as u32);
    for id in with_properties {
        let kept_associations: Vec<_> = meta.associations[&id]
            .iter()
            .filter_map(|a| properties.get(&a.index).map(|&new| (a.essential, new)))
            .collect();
        w.id(wide_ids, id);
        // At most 255 associations were read for the item.
        w.u8(kept_associations.len() as u8);
        for (essential, index) in kept_associations {
            if wide_index {
                w.u16(index | if essential { 0x8000 } else { 0 });
            } else {
                w.u8(index as u8 | if essential { 0x80 } else { 0 });
            }
        }
    }
    w.close(ipma)?;
    w.close(iprp)?;

    if data.iter().any(|d| d.construction == 1) {
        let idat = w.open(b"idat");
        for d in data.iter().filter(|d| d.construction == 1) {
            for extent in &d.extents {
                w.bytes(extent);
            }
        }
        w.close(idat)?;
    }
    w.close(meta_at)?;
    Ok(w.out)
}

/// The content check: libheif reads the stripped file within ward's limits and decodes the
/// primary image (every tile of a grid), after its dimensions pass the pixel limit.
pub(crate) fn check(stripped: &[u8], limits: &Limits) -> Result<()> {
    use libheif_rs::{ColorSpace, DecodingOptions, HeifContext, LibHeif, SecurityLimits};

    let lib = LibHeif::new();
    let mut context =
        HeifContext::new().map_err(|e| Error::decoder(KIND, "libheif did not start", e))?;
    let mut security = SecurityLimits::new();
    security.set_max_image_size_pixels(limits.max_pixels());
    security.set_max_memory_block_size(crate::raster::MAX_DECODE_ALLOC);
    security.set_max_total_memory(crate::raster::MAX_DECODE_ALLOC);
    security.set_max_items(heif_box::MAX_ENTRIES as u32);
    security.set_max_iloc_extents_per_item(heif_box::MAX_EXTENTS_PER_ITEM as u32);
    context
        .set_security_limits(&security)
        .map_err(|e| Error::decoder(KIND, "libheif refused ward's limits", e))?;
    context
        .read_bytes(stripped)
        .map_err(|e| Error::decoder(KIND, "libheif cannot read the file", e))?;
    let handle = context
        .primary_image_handle()
        .map_err(|e| Error::decoder(KIND, "libheif finds no primary image", e))?;
    check_dimensions(handle.width(), handle.height(), limits)?;
    let mut options = DecodingOptions::new();
    if let Some(options) = options.as_mut() {
        options.set_strict_decoding(true);
        // Rotation, mirroring and cropping are checked when libheif reads their properties;
        // applying them to the decoded planes checks nothing more and copies every pixel.
        options.set_ignore_transformations(true);
    }
    lib.decode(&handle, ColorSpace::Undefined, options)
        .map_err(|e| Error::decoder(KIND, "pixel data does not decode", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use libheif_rs::{CompressionFormat, LibHeif};

    use super::*;
    use crate::heif_box::{Association, Location, Reference};
    use crate::report::Removed;

    fn item(id: u32, item_type: &FourCc) -> Item {
        Item {
            id,
            item_type: *item_type,
            hidden: false,
            content_type: Vec::new(),
        }
    }

    fn reference(kind: &FourCc, from: u32, to: impl IntoIterator<Item = u32>) -> Reference {
        Reference {
            kind: *kind,
            from,
            to: to.into_iter().collect(),
        }
    }

    fn meta(items: Vec<Item>, references: Vec<Reference>) -> Meta<'static> {
        Meta {
            primary: 1,
            items,
            locations: HashMap::new(),
            references,
            properties: Vec::new(),
            associations: HashMap::new(),
            idat: &[],
            other_boxes: Vec::new(),
        }
    }

    fn deadline() -> Deadline {
        Deadline::new(Instant::now(), Duration::from_secs(60))
    }

    fn bmff(kind: &FourCc, body: &[u8]) -> Vec<u8> {
        let size = u32::try_from(8 + body.len()).unwrap();
        [&size.to_be_bytes()[..], kind, body].concat()
    }

    fn top_level(input: &[u8]) -> std::result::Result<(), String> {
        read_top_level(input, &mut Report::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_file_type_box_is_checked_before_anything_else_is_read() {
        let ftyp = |brand: &FourCc, compatible: usize| {
            bmff(
                b"ftyp",
                &[&brand[..], &[0; 4], &b"mif1".repeat(compatible)].concat(),
            )
        };
        let meta = bmff(b"meta", &[0; 4]);
        let file = |first: Vec<u8>| [first, meta.clone()].concat();
        let refused = |reason: &str| Err(format!("malformed heic: {reason}"));
        for brand in BRANDS {
            assert_eq!(top_level(&file(ftyp(brand, 0))), Ok(()));
        }
        assert_eq!(
            top_level(&file(ftyp(b"avif", 0))),
            refused("ftyp major brand is not a heic brand")
        );
        // At most 1,000 compatible brands: 8 + 8 + 4,000 bytes.
        assert_eq!(top_level(&file(ftyp(b"heic", 1_000))), Ok(()));
        assert_eq!(
            top_level(&file(ftyp(b"heic", 1_001))),
            refused("ftyp of an impossible size")
        );
        // A major brand and a version at least, then whole brands.
        for body in [&b"heic\0\0\0"[..], b"heic\0\0\0\0mi", b"heic\0\0\0\0mif1m"] {
            assert_eq!(
                top_level(&file(bmff(b"ftyp", body))),
                refused("ftyp of an impossible size"),
                "{body:?}"
            );
        }
        assert_eq!(
            top_level(
                &[
                    bmff(b"free", b"heic\0\0\0\0"),
                    ftyp(b"heic", 0),
                    meta.clone()
                ]
                .concat()
            ),
            refused("file does not start with ftyp")
        );
        // A first box that cannot be read is reported as such.
        assert_eq!(
            top_level(&[0, 0, 0]),
            refused("box shorter than its fields")
        );
        assert_eq!(
            top_level(&[ftyp(b"heic", 0), meta.clone(), ftyp(b"heic", 0)].concat()),
            refused("two ftyp boxes")
        );
        assert_eq!(
            top_level(&[ftyp(b"heic", 0), meta.clone(), meta.clone()].concat()),
            refused("two meta boxes")
        );
        assert_eq!(
            top_level(&ftyp(b"heic", 0)),
            refused("no meta box (not a still image)")
        );
    }

    #[test]
    fn thumbnails_and_auxiliary_images_are_kept_unless_metadata_describes_them() {
        // 1: a grid of tiles 2 and 3; 4: a thumbnail; 5: a depth map described by XMP item 7;
        // 6: the primary image's EXIF; 8: a second top-level image and 9, its thumbnail.
        let mut xmp = item(7, b"mime");
        xmp.content_type = b"application/rdf+xml".to_vec();
        let m = meta(
            vec![
                item(1, b"grid"),
                item(2, b"hvc1"),
                item(3, b"hvc1"),
                item(4, b"hvc1"),
                item(5, b"hvc1"),
                item(6, b"Exif"),
                xmp,
                item(8, b"hvc1"),
                item(9, b"hvc1"),
            ],
            vec![
                reference(b"dimg", 1, [2, 3]),
                reference(b"thmb", 4, [1]),
                reference(b"thmb", 9, [8]),
                reference(b"auxl", 5, [1]),
                reference(b"cdsc", 6, [1]),
                reference(b"cdsc", 7, [5]),
            ],
        );
        assert_eq!(keep(&m, &deadline()).unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_thumbnail_derived_from_the_primary_image_is_dropped() {
        let m = meta(
            vec![item(1, b"hvc1"), item(2, b"iden")],
            vec![reference(b"thmb", 2, [1]), reference(b"dimg", 2, [1])],
        );
        assert_eq!(keep(&m, &deadline()).unwrap(), vec![1]);
    }

    #[test]
    fn only_structural_references_among_kept_items_are_written() {
        // Kept: 1 (primary) and 2 (its thumbnail). Written: `thmb` 2 → 1 without 3, which goes;
        // not `cdsc` 3 → 1 (from a removed item) nor `xtra` 1 → 2 (a type outside the list).
        let m = meta(
            vec![item(1, b"hvc1"), item(2, b"hvc1"), item(3, b"Exif")],
            vec![
                reference(b"thmb", 2, [1, 3]),
                reference(b"cdsc", 3, [1]),
                reference(b"xtra", 1, [2]),
            ],
        );
        let kept = keep(&m, &deadline()).unwrap();
        assert_eq!(kept, vec![1, 2]);
        let written = write_meta(&m, &kept, &HashMap::new(), &[], 0, false).unwrap();
        let meta_box = Boxes::new(&written).next().unwrap().unwrap();
        let read = heif_box::read_meta(meta_box).unwrap();
        assert_eq!(read.references, vec![reference(b"thmb", 2, [1])]);
        assert_eq!(
            read.items.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(read.primary, 1);
    }

    #[test]
    fn a_primary_image_not_coded_in_hevc_is_refused() {
        let m = meta(
            vec![item(1, b"grid"), item(2, b"av01")],
            vec![reference(b"dimg", 1, [2])],
        );
        let err = keep(&m, &deadline()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported heic variant: image not coded in hevc"
        );
        let m = meta(vec![item(1, b"jpeg")], Vec::new());
        assert_eq!(
            keep(&m, &deadline()).unwrap_err().rule(),
            "unsupported_variant"
        );
        // A thumbnail that is not HEVC is dropped instead.
        let m = meta(
            vec![item(1, b"hvc1"), item(2, b"jpeg")],
            vec![reference(b"thmb", 2, [1])],
        );
        assert_eq!(keep(&m, &deadline()).unwrap(), vec![1]);
    }

    #[test]
    fn a_graph_that_takes_exactly_the_step_budget_is_walked() {
        // A grid of 1,019 tiles and 256 thumbnails each derived from every tile: 257 walks of
        // 1,020 steps, 262,140 in all, which is the budget; one step more is refused.
        let graph = |extra_step: bool| {
            let tiles = 2..1_021u32;
            let mut items = vec![item(1, b"grid")];
            items.extend(tiles.clone().map(|id| item(id, b"hvc1")));
            let mut grid: Vec<u32> = tiles.clone().collect();
            if extra_step {
                grid.push(2);
            }
            let mut references = vec![reference(b"dimg", 1, grid)];
            for thumb in 2_000..2_256 {
                items.push(item(thumb, b"grid"));
                references.push(reference(b"thmb", thumb, [1]));
                references.push(reference(b"dimg", thumb, tiles.clone()));
            }
            meta(items, references)
        };
        assert_eq!(MAX_GRAPH_STEPS, 257 * 1_020);
        assert_eq!(
            keep(&graph(false), &deadline()).unwrap().len(),
            1 + 1_019 + 256
        );
        assert_eq!(
            keep(&graph(true), &deadline()).unwrap_err().to_string(),
            "malformed heic: item references too many to follow"
        );
    }

    #[test]
    fn a_dependent_image_failing_on_the_last_step_of_the_budget_is_dropped_not_refused() {
        // 1,020 steps for the primary grid, 255 thumbnails of 1,020 steps, then a last
        // thumbnail whose 1,020th step, the budget's last, reaches an image that is not HEVC.
        let tiles = 2..1_021u32;
        let mut items = vec![item(1, b"grid"), item(3_000, b"jpeg")];
        items.extend(tiles.clone().map(|id| item(id, b"hvc1")));
        let mut references = vec![reference(b"dimg", 1, tiles.clone())];
        for thumb in 2_000..2_256 {
            items.push(item(thumb, b"grid"));
            references.push(reference(b"thmb", thumb, [1]));
            let inputs: Vec<u32> = if thumb == 2_255 {
                // Walked last to first: the JPEG item is the walk's last step.
                [3_000].into_iter().chain(2..1_020).collect()
            } else {
                tiles.clone().collect()
            };
            references.push(reference(b"dimg", thumb, inputs));
        }
        let kept = keep(&meta(items, references), &deadline()).unwrap();
        assert_eq!(kept.len(), 1 + 1_019 + 255);
        assert!(!kept.contains(&2_255) && !kept.contains(&3_000));
    }

    #[test]
    fn a_kept_image_without_data_is_refused_and_a_removed_item_without_data_is_reported() {
        let mut xmp = item(5, b"mime");
        xmp.content_type = b"application/rdf+xml".to_vec();
        let mut m = meta(
            vec![
                item(1, b"grid"),
                item(2, b"hvc1"),
                item(3, b"iden"),
                item(4, b"Exif"),
                xmp,
            ],
            Vec::new(),
        );
        let input = [0u8; 16];
        let at = |offset| Location {
            construction: 0,
            extents: vec![(offset, 4)],
        };
        m.locations.insert(1, at(0));
        m.locations.insert(2, at(4));
        m.locations.insert(5, at(8));
        let mut report = Report::default();
        // The derived `iden` image carries no data: fine. The removed EXIF item has none
        // either, and is reported once, as the removed XMP item is with its bytes.
        let data = item_data(&input, &m, &[1, 2, 3], &mut report).unwrap();
        assert_eq!(data.iter().map(|d| d.id).collect::<Vec<_>>(), vec![1, 2]);
        let removed = |category, bytes| Removed {
            category,
            count: 1,
            bytes,
        };
        assert_eq!(
            report.removed(),
            [removed(Category::Xmp, 4), removed(Category::Exif, 0)]
        );
        m.locations.remove(&2);
        assert_eq!(
            item_data(&input, &m, &[1, 2, 3], &mut Report::default())
                .err()
                .map(|e| e.to_string()),
            Some("malformed heic: an image item without data".to_owned())
        );
    }

    #[test]
    fn kept_items_may_fill_the_file_but_not_share_its_bytes() {
        let mut m = meta(vec![item(1, b"grid"), item(2, b"hvc1")], Vec::new());
        let input = [0u8; 16];
        let at = |offset, length| Location {
            construction: 0,
            extents: vec![(offset, length)],
        };
        m.locations.insert(1, at(0, 8));
        m.locations.insert(2, at(8, 8));
        assert!(item_data(&input, &m, &[1, 2], &mut Report::default()).is_ok());
        m.locations.insert(2, at(4, 12));
        assert_eq!(
            item_data(&input, &m, &[1, 2], &mut Report::default())
                .err()
                .map(|e| e.to_string()),
            Some("malformed heic: items share their data".to_owned())
        );
    }

    #[test]
    fn the_rewritten_tables_read_back_the_same_at_every_field_width() {
        // Small and large item ids, 32- and 64-bit offsets, 7- and 15-bit property indexes.
        for (base, wide_offsets, property_count) in [
            (1, false, 3),
            (70_000, true, 200),
            (1, true, 128),
            (65_533, false, 127),
        ] {
            let ids = [base, base + 1, base + 2];
            let mut tile = item(ids[1], b"hvc1");
            tile.hidden = true;
            let boxes: Vec<u8> = (0..property_count)
                .flat_map(|i: u32| bmff(b"colr", &i.to_be_bytes()))
                .collect();
            let properties: Vec<Bmff<'_>> = Boxes::new(&boxes).map(|b| b.unwrap()).collect();
            let last = property_count as u16;
            let associations = vec![
                Association {
                    essential: true,
                    index: last,
                },
                Association {
                    essential: false,
                    index: 1,
                },
            ];
            let m = Meta {
                primary: ids[0],
                properties,
                associations: [(ids[1], associations.clone())].into_iter().collect(),
                ..meta(
                    vec![item(ids[0], b"grid"), tile, item(ids[2], b"hvc1")],
                    vec![reference(b"dimg", ids[0], [ids[1], ids[2]])],
                )
            };
            let kept_properties: HashMap<u16, u16> = (1..=last).map(|i| (i, i)).collect();
            let coded = [7u8; 6];
            let grid = [9u8; 3];
            let data = [
                ItemData {
                    id: ids[0],
                    construction: 1,
                    extents: vec![&grid[..]],
                    len: 3,
                },
                ItemData {
                    id: ids[1],
                    construction: 0,
                    extents: vec![&coded[..2], &coded[2..]],
                    len: 6,
                },
                ItemData {
                    id: ids[2],
                    construction: 0,
                    extents: vec![&coded[..]],
                    len: 6,
                },
            ];
            let written =
                write_meta(&m, &ids, &kept_properties, &data, 1_000, wide_offsets).unwrap();
            let read = heif_box::read_meta(Boxes::new(&written).next().unwrap().unwrap()).unwrap();
            // 32-bit ids (pitm version 1) only when an id needs them.
            assert_eq!(table(&written, b"pitm")[0], u8::from(base > 65_535));
            // 15-bit property indexes (ipma flag 1) only past 127 properties.
            let iprp = table(&written, b"iprp");
            let ipma = Boxes::new(iprp).find(|b| b.as_ref().unwrap().kind == *b"ipma");
            assert_eq!(
                ipma.unwrap().unwrap().body[3],
                u8::from(property_count > 127)
            );
            assert_eq!(read.primary, ids[0]);
            assert_eq!(read.items, m.items);
            assert_eq!(read.references, m.references);
            assert_eq!(read.associations, m.associations);
            assert_eq!(read.properties.len(), m.properties.len());
            assert!(
                read.properties
                    .iter()
                    .zip(&m.properties)
                    .all(|(a, b)| a.whole == b.whole)
            );
            let location = |construction, offset, length| Location {
                construction,
                extents: vec![(offset, length)],
            };
            assert_eq!(read.locations[&ids[0]], location(1, 0, 3));
            assert_eq!(read.locations[&ids[1]], location(0, 1_000, 6));
            assert_eq!(read.locations[&ids[2]], location(0, 1_006, 6));
            assert_eq!(read.idat, grid);
            assert!(
                read.other_boxes
                    .iter()
                    .all(|(kind, _)| kind == b"hdlr" || kind == b"dinf")
            );
        }
    }

    #[test]
    fn removed_items_are_reported_by_what_they_hold() {
        let mime = |content_type: &[u8]| {
            let mut i = item(1, b"mime");
            i.content_type = content_type.to_vec();
            category_of(&i)
        };
        assert_eq!(category_of(&item(1, b"Exif")), Category::Exif);
        assert_eq!(category_of(&item(1, b"iptc")), Category::Iptc);
        assert_eq!(mime(b"application/rdf+xml"), Category::Xmp);
        assert_eq!(mime(b"Application/RDF+XML; charset=utf-8"), Category::Xmp);
        assert_eq!(mime(b"application/x-IPTC"), Category::Iptc);
        assert_eq!(mime(b"text/plain"), Category::OtherItem);
        assert_eq!(category_of(&item(1, b"hvc1")), Category::OtherItem);
    }

    /// The body of the box `kind` in a written `meta` box.
    fn table<'a>(meta: &'a [u8], kind: &FourCc) -> &'a [u8] {
        let meta = Boxes::new(meta).next().unwrap().unwrap();
        let found = Boxes::new(&meta.body[4..]).find(|b| b.as_ref().unwrap().kind == *kind);
        found.unwrap().unwrap().body
    }

    /// The iloc box of a written file: its version, and its offset and length field sizes.
    fn iloc_layout(file: &[u8]) -> (u8, u8) {
        let meta = Boxes::new(file).find(|b| b.as_ref().unwrap().kind == *b"meta");
        let body = table(meta.unwrap().unwrap().whole, b"iloc");
        (body[0], body[4])
    }

    #[test]
    fn the_rewrite_is_a_fixed_point_in_three_boxes_that_fill_the_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/heic");
        for name in [
            "L_exif_xmp_iptc.heic",
            "L_xmp.heif",
            "RGBA_8__29x100.heif",
            "arrow.heic",
            "entity_groups.heic",
            "pug.heic",
            "zPug_3.heic",
        ] {
            let input = std::fs::read(dir.join(name)).unwrap();
            let once = strip(&input, &Limits::default(), &deadline()).unwrap();
            let twice = strip(&once.bytes, &Limits::default(), &deadline()).unwrap();
            assert!(twice.bytes == once.bytes, "{name}: not a fixed point");
            let boxes: Vec<Bmff<'_>> = Boxes::new(&once.bytes).map(|b| b.unwrap()).collect();
            let kinds: Vec<FourCc> = boxes.iter().map(|b| b.kind).collect();
            assert_eq!(kinds, [*b"ftyp", *b"meta", *b"mdat"], "{name}");
            // Below 4 GiB of data the compact mdat header; below 1 GiB, 32-bit offsets and
            // lengths in iloc (version 1: small ids).
            assert_eq!(boxes[2].whole.len() - boxes[2].body.len(), 8, "{name}");
            assert_eq!(iloc_layout(&once.bytes), (1, 0x44), "{name}");
        }
    }

    #[test]
    fn the_content_check_decodes_the_coded_data_the_container_rewrite_only_copies() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/heic");
        let input = std::fs::read(dir.join("pug.heic")).unwrap();
        let stripped = strip(&input, &Limits::default(), &deadline())
            .unwrap()
            .bytes;
        assert!(check(&stripped, &Limits::default()).is_ok());
        // The same container with its coded data zeroed: the rewrite takes it as it is, the
        // decode does not.
        let mdat = Boxes::new(&stripped).find(|b| b.as_ref().unwrap().kind == *b"mdat");
        // The last box.
        let start = stripped.len() - mdat.unwrap().unwrap().body.len();
        let mut zeroed = stripped.clone();
        zeroed[start..].fill(0);
        let restripped = strip(&zeroed, &Limits::default(), &deadline())
            .unwrap()
            .bytes;
        assert!(restripped == zeroed);
        assert_eq!(
            check(&zeroed, &Limits::default()).unwrap_err().rule(),
            "parse"
        );
    }

    #[test]
    fn an_idat_box_is_written_only_for_items_stored_in_it() {
        let m = meta(vec![item(1, b"hvc1")], Vec::new());
        let coded = [7u8; 4];
        let data = [ItemData {
            id: 1,
            construction: 0,
            extents: vec![&coded[..]],
            len: 4,
        }];
        let written = write_meta(&m, &[1], &HashMap::new(), &data, 100, false).unwrap();
        let meta_box = Boxes::new(&written).next().unwrap().unwrap();
        let kinds: Vec<FourCc> = Boxes::new(&meta_box.body[4..])
            .map(|b| b.unwrap().kind)
            .collect();
        assert_eq!(
            kinds,
            [*b"hdlr", *b"dinf", *b"pitm", *b"iloc", *b"iinf", *b"iprp"]
        );
    }

    #[test]
    fn an_item_graph_too_large_to_walk_is_refused() {
        // A grid of 1,000 tiles and 300 "thumbnails" each derived from every tile: 300,000
        // steps to walk, past the budget, refused instead of walked.
        let tiles = 2..1_002u32;
        let mut items = vec![item(1, b"grid")];
        items.extend(tiles.clone().map(|id| item(id, b"hvc1")));
        let mut references = vec![reference(b"dimg", 1, tiles.clone())];
        for thumb in 2_000..2_300 {
            items.push(item(thumb, b"grid"));
            references.push(reference(b"thmb", thumb, [1]));
            references.push(reference(b"dimg", thumb, tiles.clone()));
        }
        let m = meta(items, references);
        let err = keep(&m, &deadline()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed heic: item references too many to follow"
        );
    }

    #[test]
    fn unknown_properties_are_dropped_and_refused_when_essential() {
        fn property(kind: &FourCc) -> Bmff<'static> {
            let whole: &'static [u8] = Box::leak(
                [&12u32.to_be_bytes()[..], &kind[..], &[0u8; 4][..]]
                    .concat()
                    .into_boxed_slice(),
            );
            Bmff {
                kind: *kind,
                whole,
                body: &whole[8..],
            }
        }
        let mut m = meta(vec![item(1, b"hvc1")], Vec::new());
        m.properties = vec![property(b"hvcC"), property(b"udes"), property(b"ispe")];
        let plain = |index| Association {
            essential: false,
            index,
        };
        m.associations.insert(1, vec![plain(1), plain(2), plain(3)]);
        let mut report = Report::default();
        let kept = keep_properties(&m, &[1], &mut report).unwrap();
        assert_eq!(kept, HashMap::from([(1, 1), (3, 2)]));
        assert!(report.has_removed(Category::OtherChunk));
        m.associations.insert(
            1,
            vec![Association {
                essential: true,
                index: 2,
            }],
        );
        let err = keep_properties(&m, &[1], &mut Report::default()).unwrap_err();
        assert_eq!(err.rule(), "unsupported_variant");
    }

    /// The build links libde265 (LGPL-3.0) for HEVC and nothing under the GPL: cmake picks up
    /// every codec whose development files are installed, so a machine with x265's or x264's
    /// would otherwise build a GPL encoder into the binary unnoticed.
    #[test]
    fn hevc_decodes_through_libde265_and_no_gpl_codec_is_built_in() {
        let lib = LibHeif::new();
        let hevc = lib.decoder_descriptors(16, Some(CompressionFormat::Hevc));
        assert!(
            hevc.iter().any(|d| d.id() == "libde265"),
            "no libde265 decoder: {:?}",
            hevc.iter().map(|d| d.id().to_owned()).collect::<Vec<_>>()
        );
        let gpl = ["x265", "x264", "kvazaar", "uvg266", "ffmpeg"];
        let decoders = lib.decoder_descriptors(64, None);
        let encoders = lib.encoder_descriptors(64, None, None);
        let ids = decoders
            .iter()
            .map(|d| d.id().to_ascii_lowercase())
            .chain(encoders.iter().map(|e| e.id().to_ascii_lowercase()));
        for id in ids {
            assert!(
                !gpl.iter().any(|g| id.contains(g)),
                "a GPL codec is built in: {id}"
            );
        }
    }
}
